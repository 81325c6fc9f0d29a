//! `calibration_split.json` in the seed's format: a JSON list of
//! `{"dataset_root": ..., "new_filename": ...}`, written as Python's
//! `json.dump(..., indent=2)` writes it, with `dataset_root` spelled exactly
//! as the metadata (and so the original split) spelled it.

use std::path::Path;

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

/// Reads a split file (ours, the seed's or the dataset's own) into keys,
/// strictly: an unusable entry is an error naming it. The dataset's one
/// split reader ([`crate::dataset::read_split_file`]) does the reading.
pub fn read_split(path: &Path) -> Result<Vec<SampleKey>, ExportError> {
    let split = crate::dataset::read_split_file(path)
        .and_then(|s| s.strict())
        .map_err(|e| ExportError::Invalid(e.to_string()))?;
    Ok(split.iter().map(|e| e.key()).collect())
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
