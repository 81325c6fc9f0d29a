//! Writing a calibration set out in the forms the users' toolchains read:
//! the seed's `calibration_split.json`, a folder of images (copies, hard
//! links or symbolic links) with its list files, optional preprocessed
//! `.npy` tensors, and `calibration_statistics.json`.
//!
//! Every file goes to a temporary name and is renamed into place; every
//! export can be run again (it completes or refreshes what is there). The
//! dataset itself is only ever read.

pub mod copy;
pub mod names;
pub mod pyjson;
pub mod split;
pub mod stats;
pub mod tensors;

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::metadata::{SampleKey, SampleMeta};

pub use copy::{copy_images, CopyOptions, CopyReport, LinkMode};
pub use split::{read_split, write_split};
pub use stats::{calibration_statistics, write_statistics, CalibrationStatistics};
pub use tensors::{write_tensors, write_tensors_with, TensorOptions, TensorReport};

/// Errors that stop an export before or while writing.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("refusing split entry {key}: {reason}. Nothing was written; fix or remove the entry")]
    UnsafeEntry { key: SampleKey, reason: String },
    #[error("refusing to write into {out}: it is inside the dataset folder {root}, and the dataset is never modified; choose an output folder outside it")]
    OutputInsideDataset { out: PathBuf, root: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Invalid(String),
}

impl ExportError {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        ExportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// One sample to export: its identity and where its image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSample {
    pub key: SampleKey,
    /// The RGB image, as found (dataset root joined with the row's
    /// `image_path`, or probed under `<dataset_root>/image_a6/`).
    pub image: PathBuf,
}

impl ExportSample {
    /// From a metadata row: `root / image_path`.
    pub fn from_row(root: &Path, row: &SampleMeta) -> Self {
        ExportSample {
            key: row.key(),
            image: root.join(&row.image_path),
        }
    }

    /// From a split entry alone, found by the dataset's rules
    /// ([`crate::dataset::locate_image`]: the image folder and extensions
    /// of `settings`, an unpadded numeric stem finding its zero-padded
    /// file, then keyed so). When no image is found, the `.png` path in
    /// the image folder, reported missing when exported. Whether the entry
    /// may be read (the escape rule) is decided when exporting, so that
    /// one refused entry refuses the whole run.
    pub fn locate(
        root: &Path,
        entry: &crate::dataset::SplitEntry,
        settings: &crate::dataset::DatasetSettings,
    ) -> Self {
        let anywhere = crate::dataset::DatasetSettings {
            allow_absolute_roots: true,
            ..settings.clone()
        };
        match crate::dataset::locate_image(root, entry, &anywhere) {
            Ok(img) => ExportSample {
                key: img.key,
                image: img.path,
            },
            Err(_) => ExportSample {
                key: entry.key(),
                image: match &entry.image_path {
                    Some(p) => root.join(p),
                    None => root
                        .join(&entry.dataset_root)
                        .join(&settings.image_folder)
                        .join(format!("{}.png", entry.stem)),
                },
            },
        }
    }

    /// [`ExportSample::locate`] for a key, with the default dataset
    /// settings (`image_a6`, png/jpg/jpeg).
    pub fn probe(root: &Path, key: &SampleKey) -> Self {
        let entry = crate::dataset::SplitEntry {
            index: 0,
            dataset_root: key.dataset_root.clone(),
            stem: key.stem.clone(),
            image_path: None,
        };
        Self::locate(root, &entry, &crate::dataset::DatasetSettings::default())
    }
}

/// A sample an export left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub key: SampleKey,
    pub reason: String,
}

/// Two samples that would share a file name: the later one was renamed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Renamed {
    pub key: SampleKey,
    pub seed_name: String,
    pub name: String,
}

/// Row indices of the split's entries, matched by (dataset_root, stem);
/// entries with no row come back as missing keys.
pub fn match_rows(rows: &[SampleMeta], keys: &[SampleKey]) -> (Vec<usize>, Vec<SampleKey>) {
    let mut found = Vec::with_capacity(keys.len());
    let mut missing = Vec::new();
    for (k, m) in keys.iter().zip(match_rows_aligned(rows, keys)) {
        match m {
            Some(i) => found.push(i),
            None => missing.push(k.clone()),
        }
    }
    (found, missing)
}

/// For each key, its row. A numeric stem that lost its zero padding (the
/// seed's script reads stems with pandas as integers and writes
/// `"new_filename": 42`) matches the one row of the same dataset_root whose
/// stem has the same digits after leading zeros.
pub fn match_rows_aligned(rows: &[SampleMeta], keys: &[SampleKey]) -> Vec<Option<usize>> {
    let index = crate::dataset::KeyIndex::new(
        rows.iter()
            .map(|r| (r.dataset_root.as_str(), r.filename.as_str())),
    );
    keys.iter()
        .map(|k| index.find(&k.dataset_root, &k.stem))
        .collect()
}

/// `p` made absolute with symlinks resolved for the part that exists (an
/// output folder may not exist yet).
fn resolve(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut existing = abs.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(n), Some(parent)) => {
                rest.push(n.to_owned());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut c = existing.canonicalize().unwrap_or(existing);
    for n in rest.into_iter().rev() {
        c.push(n);
    }
    c
}

/// Refuses to write inside the dataset folder (after resolving symlinks
/// of the parts that exist).
pub fn ensure_outside_dataset(root: &Path, out: &Path) -> Result<(), ExportError> {
    let (r, o) = (resolve(root), resolve(out));
    if o.starts_with(&r) {
        return Err(ExportError::OutputInsideDataset { out: o, root: r });
    }
    Ok(())
}

/// When the dataset root is not given: refuses an output path that lies in
/// a folder holding the metadata's dataset — an absolute dataset_root that
/// contains it, or an ancestor `A` of it with `A/<dataset_root>` present
/// (so `select --out <dataset>/splits/combined_train.json` cannot overwrite
/// the dataset's own split).
pub fn ensure_outside_metadata_dataset(rows: &[SampleMeta], out: &Path) -> Result<(), ExportError> {
    let mut roots: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in rows {
        let id = crate::dataset::root_id(&r.dataset_root);
        if seen.insert(id) {
            roots.push(id);
            if roots.len() >= 64 {
                break;
            }
        }
    }
    let o = resolve(out);
    for r in roots {
        let rp = Path::new(r);
        if rp.is_absolute() {
            let rr = resolve(rp);
            if rp.is_dir() && o.starts_with(&rr) {
                return Err(ExportError::OutputInsideDataset { out: o, root: rr });
            }
            continue;
        }
        if r.is_empty() {
            continue;
        }
        for a in o.ancestors() {
            if a.join(rp).is_dir() {
                return Err(ExportError::OutputInsideDataset {
                    out: o.clone(),
                    root: a.to_path_buf(),
                });
            }
        }
    }
    Ok(())
}

/// Checks every key before anything is written. Unless `allow_absolute`,
/// a sample whose dataset_root is absolute, whose image path is not
/// below `root`, or whose image is a symbolic link (or in a linked folder)
/// leading out of `root`, is refused like `calibscope scan` refuses them
/// (a split could otherwise make us read `/etc`).
pub(crate) fn check_all(
    root: &Path,
    samples: &[ExportSample],
    allow_absolute: bool,
) -> Result<(), ExportError> {
    let root_real = if allow_absolute {
        None
    } else {
        std::fs::canonicalize(root).ok()
    };
    for s in samples {
        names::check_key(&s.key).map_err(|reason| ExportError::UnsafeEntry {
            key: s.key.clone(),
            reason,
        })?;
        if allow_absolute {
            continue;
        }
        let below = crate::dataset::spelled_inside(root, &s.image);
        if Path::new(&s.key.dataset_root).is_absolute() || !below {
            return Err(ExportError::UnsafeEntry {
                key: s.key.clone(),
                reason: format!(
                    "its image {} is not below the dataset root {} (absolute dataset_root or image path); pass --allow-absolute-roots if that is intended",
                    s.image.display(),
                    root.display()
                ),
            });
        }
        // A missing image is reported when it is exported.
        if std::fs::symlink_metadata(&s.image).is_ok() {
            crate::dataset::check_real_inside(root, root_real.as_deref(), &s.image).map_err(
                |skip| ExportError::UnsafeEntry {
                    key: s.key.clone(),
                    reason: skip.detail,
                },
            )?;
        }
    }
    Ok(())
}

/// Refuses a dataset root that is not an existing folder, before anything
/// is written: a mistyped `--root` must not turn every sample into a skip.
pub(crate) fn check_root(root: &Path) -> Result<(), ExportError> {
    if root.is_dir() {
        Ok(())
    } else {
        Err(ExportError::Invalid(format!(
            "the dataset root {} does not exist or is not a folder; check --root (nothing was written)",
            root.display()
        )))
    }
}

/// The samples with repeats removed (first kept), and the repeated keys.
/// `seq_02` and `seq_02/` are the same dataset_root.
pub fn dedup_samples(samples: &[ExportSample]) -> (Vec<ExportSample>, Vec<SampleKey>) {
    let mut seen = std::collections::HashSet::with_capacity(samples.len());
    let mut unique = Vec::with_capacity(samples.len());
    let mut repeated = Vec::new();
    for s in samples {
        if seen.insert(s.key.id()) {
            unique.push(s.clone());
        } else {
            repeated.push(s.key.clone());
        }
    }
    (unique, repeated)
}

/// Removes the temporary files (`.<name>.<pid>.calibscope-tmp`) that a
/// killed run left in `dir`. A temporary whose process is still running
/// (another export into the same folder) is left alone. Returns how many
/// were removed.
pub(crate) fn remove_stale_temporaries(dir: &Path) -> Result<usize, ExportError> {
    let mut n = 0;
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(ExportError::io(dir, e)),
    };
    for e in rd {
        let e = e.map_err(|e| ExportError::io(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = temporary_pid(&name) else {
            continue;
        };
        if process_is_running(pid) {
            continue;
        }
        std::fs::remove_file(e.path()).map_err(|err| ExportError::io(&e.path(), err))?;
        n += 1;
    }
    Ok(n)
}

/// The process id in a temporary's name, if the name is one of ours.
fn temporary_pid(name: &str) -> Option<u32> {
    let body = name
        .strip_prefix('.')?
        .strip_suffix(crate::fsutil::TMP_SUFFIX)?;
    body.rsplit_once('.')?.1.parse().ok()
}

/// Whether a process with this id exists. Our own id never counts (no
/// write of ours is in flight when a run starts); without `/proc` we cannot
/// tell, so every other id counts as running and its files are kept.
fn process_is_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    if Path::new("/proc/self").exists() {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::row;

    #[test]
    fn unpadded_numeric_stems_match_their_row() {
        let rows = vec![
            row("a", "0000000042", 1.0),
            row("b", "0000000042", 1.0),
            row("c", "01", 1.0),
            row("c", "001", 1.0),
        ];
        let k = |r: &str, s: &str| SampleKey {
            dataset_root: r.into(),
            stem: s.into(),
        };
        let m = match_rows_aligned(
            &rows,
            &[k("b", "42"), k("a", "0000000042"), k("c", "1"), k("a", "x")],
        );
        assert_eq!(m, [Some(1), Some(0), None, None]);
        // A trailing '/' names the same folder.
        assert_eq!(match_rows_aligned(&rows, &[k("b/", "42")]), [Some(1)]);
    }

    #[test]
    fn repeated_samples_are_dropped_once_each() {
        let s = |r: &str, st: &str| ExportSample {
            key: SampleKey {
                dataset_root: r.into(),
                stem: st.into(),
            },
            image: PathBuf::from(format!("/x/{r}/{st}.png")),
        };
        let (u, rep) = dedup_samples(&[
            s("seq_02", "1"),
            s("seq_02/", "1"),
            s("seq_02", "2"),
            s("seq_02", "1"),
        ]);
        assert_eq!(u.len(), 2);
        assert_eq!(rep.len(), 2);
        assert_eq!(rep[0].dataset_root, "seq_02/");
    }

    #[test]
    fn outputs_inside_the_metadatas_dataset_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("ncdb");
        std::fs::create_dir_all(data.join("synced_data/seq_01")).unwrap();
        let rows = vec![row("synced_data/seq_01", "1", 1.0)];
        let inside = data.join("splits/combined_train.json");
        let e = ensure_outside_metadata_dataset(&rows, &inside).unwrap_err();
        assert!(matches!(e, ExportError::OutputInsideDataset { .. }), "{e}");
        assert!(ensure_outside_metadata_dataset(&rows, &d.path().join("out/split.json")).is_ok());
        // The dataset folder itself as the output folder.
        assert!(ensure_outside_metadata_dataset(&rows, &data).is_err());
        let abs = vec![row(
            data.join("synced_data/seq_01").to_str().unwrap(),
            "1",
            1.0,
        )];
        assert!(
            ensure_outside_metadata_dataset(&abs, &data.join("synced_data/seq_01/x.json")).is_err()
        );
        assert!(ensure_outside_metadata_dataset(&abs, &d.path().join("x.json")).is_ok());
    }

    #[test]
    fn only_dead_processes_temporaries_are_swept() {
        let d = tempfile::tempdir().unwrap();
        let mine = crate::fsutil::tmp_path_for(&d.path().join("a.png"));
        // PID 1 is always running; a huge PID is not.
        let live = d
            .path()
            .join(format!(".b.png.1{}", crate::fsutil::TMP_SUFFIX));
        let dead = d
            .path()
            .join(format!(".c.png.4000000000{}", crate::fsutil::TMP_SUFFIX));
        let other = d.path().join("notes.calibscope-tmp");
        for p in [&mine, &live, &dead, &other] {
            std::fs::write(p, b"x").unwrap();
        }
        assert_eq!(remove_stale_temporaries(d.path()).unwrap(), 2);
        assert!(!mine.exists() && !dead.exists());
        assert!(live.exists() && other.exists());
        assert_eq!(temporary_pid(".a.png.123.calibscope-tmp"), Some(123));
        assert_eq!(temporary_pid("a.png.123.calibscope-tmp"), None);
    }
}
