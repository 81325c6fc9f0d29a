//! The project file: one dataset's curation (where the data is, the settings,
//! pins, exclusions, the set) as JSON, written atomically. Reopening compares
//! a fingerprint of the samples with the dataset as it is now and says what
//! changed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::filters::Filter;
use crate::fsutil;
use crate::metadata::{SampleKey, SampleMeta};

pub const PROJECT_FORMAT: &str = "calibscope-project-v1";
pub const PROJECT_EXT: &str = "calibscope.json";

/// A sample as it was when the project was saved: enough to notice changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleStamp {
    pub key: SampleKey,
    pub mean_depth: f64,
    pub valid_pixels: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub format: String,
    pub calibscope_version: String,
    /// Dataset root folder.
    pub root: PathBuf,
    /// Split file (relative to the root when it lies inside it).
    #[serde(default)]
    pub split: Option<PathBuf>,
    /// Metadata file the rows came from, when opened from one instead of a scan.
    #[serde(default)]
    pub metadata: Option<PathBuf>,
    /// Dataset settings as the scan engine stores them (opaque here).
    #[serde(default)]
    pub dataset_settings: serde_json::Value,
    /// Selection strategy and parameters (opaque here).
    #[serde(default)]
    pub strategy: serde_json::Value,
    #[serde(default)]
    pub filter: Filter,
    #[serde(default)]
    pub pinned: Vec<SampleKey>,
    #[serde(default)]
    pub excluded: Vec<SampleKey>,
    #[serde(default)]
    pub selection: Vec<SampleKey>,
    /// The samples at save time.
    #[serde(default)]
    pub samples: Vec<SampleStamp>,
    /// The folder the calibration set was last exported to.
    #[serde(default)]
    pub export_dir: Option<PathBuf>,
    /// PTQ runs made for this project, oldest first.
    #[serde(default)]
    pub ptq_runs: Vec<PtqRunRecord>,
    /// Evaluation runs (their run.json files), oldest first.
    #[serde(default)]
    pub eval_runs: Vec<PathBuf>,
    /// Samples marked suspect (RGB and ground truth disagree): left out of
    /// evaluation and of the calibration set.
    #[serde(default)]
    pub suspects: Vec<Suspect>,
}

/// One PTQ run: its own folder, so runs never overwrite each other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PtqRunRecord {
    /// The folder's name: the user's, or the method and the time.
    pub name: String,
    /// The INT8 model written.
    pub model: PathBuf,
    pub method: String,
    /// Which samples it calibrated on, in words.
    pub set: String,
    /// Seconds since the Unix epoch when it finished.
    pub finished: u64,
}

/// A sample taken out of evaluation and calibration, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspect {
    pub key: SampleKey,
    pub reason: String,
}

impl Project {
    pub fn new(root: PathBuf) -> Self {
        Self {
            format: PROJECT_FORMAT.to_owned(),
            calibscope_version: env!("CARGO_PKG_VERSION").to_owned(),
            root,
            split: None,
            metadata: None,
            dataset_settings: serde_json::Value::Null,
            strategy: serde_json::Value::Null,
            filter: Filter::default(),
            pinned: Vec::new(),
            excluded: Vec::new(),
            selection: Vec::new(),
            samples: Vec::new(),
            export_dir: None,
            ptq_runs: Vec::new(),
            eval_runs: Vec::new(),
            suspects: Vec::new(),
        }
    }

    pub fn stamp(rows: &[SampleMeta]) -> Vec<SampleStamp> {
        rows.iter()
            .map(|r| SampleStamp {
                key: r.key(),
                mean_depth: r.mean_depth,
                valid_pixels: r.valid_pixels,
            })
            .collect()
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| format!("could not encode the project: {e}"))?;
        fsutil::write_atomic(path, &bytes).map_err(|e| {
            format!(
                "could not save the project to {}: {e}; choose a writable folder",
                path.display()
            )
        })
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("could not read project {}: {e}", path.display()))?;
        let p: Project = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{} is not a calibscope project file ({e}); open a *.{PROJECT_EXT} file",
                path.display()
            )
        })?;
        if p.format != PROJECT_FORMAT {
            return Err(format!(
                "{} has format {:?}, expected {PROJECT_FORMAT:?}",
                path.display(),
                p.format
            ));
        }
        Ok(p)
    }
}

/// What changed in the dataset since the project was saved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasetChanges {
    pub added: usize,
    pub removed: Vec<SampleKey>,
    pub changed: Vec<SampleKey>,
}

impl DatasetChanges {
    pub fn compare(saved: &[SampleStamp], now: &[SampleMeta]) -> Self {
        if saved.is_empty() {
            return Self::default();
        }
        let old: HashMap<&SampleKey, &SampleStamp> = saved.iter().map(|s| (&s.key, s)).collect();
        let mut seen = 0;
        let mut changed = Vec::new();
        let mut added = 0;
        for r in now {
            let k = r.key();
            match old.get(&k) {
                Some(s) => {
                    seen += 1;
                    let moved = (s.mean_depth - r.mean_depth).abs()
                        > 1e-9 * s.mean_depth.abs().max(1.0)
                        || s.valid_pixels != r.valid_pixels;
                    if moved {
                        changed.push(k);
                    }
                }
                None => added += 1,
            }
        }
        let mut removed = Vec::new();
        if seen < saved.len() {
            let now_keys: std::collections::HashSet<SampleKey> =
                now.iter().map(|r| r.key()).collect();
            removed = saved
                .iter()
                .filter(|s| !now_keys.contains(&s.key))
                .map(|s| s.key.clone())
                .collect();
        }
        Self {
            added,
            removed,
            changed,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added == 0 && self.removed.is_empty() && self.changed.is_empty()
    }

    /// One sentence for the UI.
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "The dataset is unchanged since the project was saved.".to_owned();
        }
        let mut parts = Vec::new();
        if self.added > 0 {
            parts.push(format!("{} new samples", self.added));
        }
        if !self.removed.is_empty() {
            let first: Vec<String> = self.removed.iter().take(3).map(|k| k.to_string()).collect();
            parts.push(format!(
                "{} samples gone (e.g. {})",
                self.removed.len(),
                first.join(", ")
            ));
        }
        if !self.changed.is_empty() {
            let first: Vec<String> = self.changed.iter().take(3).map(|k| k.to_string()).collect();
            parts.push(format!(
                "{} samples with different depth statistics (e.g. {})",
                self.changed.len(),
                first.join(", ")
            ));
        }
        format!(
            "The dataset changed since the project was saved: {}.",
            parts.join("; ")
        )
    }
}

/// Where a dataset's project autosaves when the user never chose a file.
pub fn default_project_path(projects_dir: &Path, root: &Path, split: Option<&Path>) -> PathBuf {
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".to_owned());
    let split_name = split
        .and_then(|s| s.file_stem())
        .map(|n| format!("-{}", n.to_string_lossy()))
        .unwrap_or_default();
    let h = crate::hash::fnv1a(format!("{}|{:?}", root.display(), split).as_bytes());
    projects_dir.join(format!("{name}{split_name}-{:08x}.{PROJECT_EXT}", h as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::metadata::tests::row;

    #[test]
    fn round_trip_and_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("p.{PROJECT_EXT}"));
        let rows = vec![row("a", "1", 2.0), row("b", "1", 3.0), row("b", "2", 4.0)];
        let mut p = Project::new(dir.path().to_path_buf());
        p.pinned = vec![rows[0].key()];
        p.samples = Project::stamp(&rows);
        p.save(&path).unwrap();
        let q = Project::load(&path).unwrap();
        assert_eq!(p, q);

        let now = vec![row("a", "1", 2.0), row("b", "1", 3.5), row("c", "9", 1.0)];
        let ch = DatasetChanges::compare(&q.samples, &now);
        assert_eq!(ch.added, 1);
        assert_eq!(ch.removed, vec![rows[2].key()]);
        assert_eq!(ch.changed, vec![rows[1].key()]);
        assert!(ch.describe().contains("1 new samples"));
        assert!(DatasetChanges::compare(&q.samples, &rows).is_empty());

        std::fs::write(&path, b"{}").unwrap();
        let err = Project::load(&path).unwrap_err();
        assert!(err.contains("not a calibscope project"), "{err}");
    }
}
