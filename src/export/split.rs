//! `calibration_split.json` in the seed's format: a JSON list of
//! `{"dataset_root": ..., "new_filename": ...}`, written as Python's
//! `json.dump(..., indent=2)` writes it, with `dataset_root` spelled exactly
//! as the metadata (and so the original split) spelled it.

use std::path::Path;

use serde::Deserialize;

use super::pyjson::PyJson;
use super::ExportError;
use crate::fsutil;
use crate::metadata::SampleKey;

/// The split file's text for these samples, in the given order.
pub fn split_json(keys: &[SampleKey]) -> String {
    PyJson::List(
        keys.iter()
            .map(|k| {
                PyJson::dict([
                    ("dataset_root", PyJson::str(&k.dataset_root)),
                    ("new_filename", PyJson::str(&k.stem)),
                ])
            })
            .collect(),
    )
    .dump()
}

/// Writes `calibration_split.json` atomically.
pub fn write_split(path: &Path, keys: &[SampleKey]) -> Result<(), ExportError> {
    fsutil::write_atomic(path, split_json(keys).as_bytes()).map_err(|e| ExportError::io(path, e))
}

/// One entry of a split file as read: extra keys are tolerated; older
/// entries with only `image_path` take `dataset_root` from the folder above
/// `image_a6` and the stem from the file name.
#[derive(Debug, Clone, Deserialize)]
pub struct SplitEntry {
    #[serde(default)]
    pub dataset_root: Option<String>,
    #[serde(default)]
    pub new_filename: Option<serde_json::Value>,
    #[serde(default)]
    pub image_path: Option<String>,
}

impl SplitEntry {
    fn key(&self) -> Option<SampleKey> {
        let stem = match &self.new_filename {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        match (&self.dataset_root, stem) {
            (Some(root), Some(stem)) => Some(SampleKey {
                dataset_root: root.clone(),
                stem,
            }),
            _ => {
                let p = Path::new(self.image_path.as_ref()?);
                let stem = p.file_stem()?.to_string_lossy().into_owned();
                let mut dir = p.parent()?;
                if dir.file_name().is_some_and(|n| n == "image_a6") {
                    dir = dir.parent()?;
                }
                Some(SampleKey {
                    dataset_root: dir.to_string_lossy().into_owned(),
                    stem,
                })
            }
        }
    }
}

/// Reads a split file (ours, the seed's or the dataset's own) into keys.
pub fn read_split(path: &Path) -> Result<Vec<SampleKey>, ExportError> {
    let bytes = std::fs::read(path).map_err(|e| ExportError::io(path, e))?;
    let entries: Vec<SplitEntry> = serde_json::from_slice(&bytes).map_err(|e| {
        ExportError::Invalid(format!(
            "{} is not a split file (a JSON list of {{\"dataset_root\", \"new_filename\"}}): {e}",
            path.display()
        ))
    })?;
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.key().ok_or_else(|| {
                ExportError::Invalid(format!(
                    "{}: entry {i} has neither dataset_root + new_filename nor image_path",
                    path.display()
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tolerant_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("calibration_split.json");
        let keys = vec![
            SampleKey {
                dataset_root: "synced_data/a".into(),
                stem: "0000000001".into(),
            },
            SampleKey {
                dataset_root: "/abs/b".into(),
                stem: "0000000001".into(),
            },
        ];
        write_split(&p, &keys).unwrap();
        assert_eq!(read_split(&p).unwrap(), keys);
        std::fs::write(
            &p,
            r#"[{"dataset_root":"x","new_filename":"7","a6_original_path":"q"},
                {"image_path":"synced_data/y/image_a6/0000000003.png"}]"#,
        )
        .unwrap();
        let k = read_split(&p).unwrap();
        assert_eq!(k[0].stem, "7");
        assert_eq!(k[1].dataset_root, "synced_data/y");
        assert_eq!(k[1].stem, "0000000003");
        std::fs::write(&p, "{}").unwrap();
        assert!(read_split(&p)
            .unwrap_err()
            .to_string()
            .contains("not a split file"));
    }
}
