//! Split files: JSON lists of `{"dataset_root": ..., "new_filename": ...}`
//! entries, or the older `{"image_path": ...}` form.
//!
//! One reader for every command and the app. It is tolerant (bad entries
//! are kept with their reasons, [`Split::problems`]) and [`Split::strict`]
//! turns it strict for the commands that must not silently drop a sample.
//! A `new_filename` written as a JSON number (the seed's
//! `calibration_split.json`: pandas read the stems as integers) is that
//! number's digits; [`super::KeyIndex`] and the image search find the
//! zero-padded file it stands for.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::SkipReason;

/// One usable split entry.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitEntry {
    /// Position in the split's JSON list (0-based).
    pub index: usize,
    /// `dataset_root` exactly as spelled in the JSON (for `image_path`
    /// entries: the parent of the image folder, as spelled).
    pub dataset_root: String,
    pub stem: String,
    /// For old-form entries: the image path as spelled in the JSON; the scan
    /// uses this file instead of searching the image folder.
    pub image_path: Option<String>,
}

impl SplitEntry {
    pub fn key(&self) -> super::SampleKey {
        super::SampleKey {
            dataset_root: self.dataset_root.clone(),
            stem: self.stem.clone(),
        }
    }
}

/// A split entry that cannot be used, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryProblem {
    pub index: usize,
    /// The entry's JSON text (shortened when long).
    pub raw: String,
    pub reason: SkipReason,
    pub detail: String,
}

/// A read split file.
#[derive(Debug, Clone, Default)]
pub struct Split {
    /// The file that was read.
    pub path: PathBuf,
    /// Usable entries in file order.
    pub entries: Vec<SplitEntry>,
    /// Unusable entries in file order.
    pub problems: Vec<EntryProblem>,
}

impl Split {
    /// Number of entries in the JSON list.
    pub fn len(&self) -> usize {
        self.entries.len() + self.problems.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries, or an error naming the first unusable one: for the
    /// commands that write what the split lists (copy, export, select's
    /// pin and exclude lists), where dropping an entry would be silent.
    pub fn strict(self) -> Result<Vec<SplitEntry>, DatasetError> {
        match self.problems.first() {
            None => Ok(self.entries),
            Some(p) => Err(DatasetError::BadEntry {
                path: self.path.display().to_string(),
                index: p.index,
                detail: p.detail.clone(),
                raw: p.raw.clone(),
            }),
        }
    }

    /// The usable entries' keys, in file order.
    pub fn keys(&self) -> Vec<super::SampleKey> {
        self.entries.iter().map(SplitEntry::key).collect()
    }
}

/// Why a dataset or split cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("dataset root {0} does not exist or is not a folder; pass the folder that holds the split files and sequences")]
    RootNotFound(String),
    #[error("split file not found: tried {0}; give a path to an existing JSON file (absolute, or relative to the current folder or the dataset root)")]
    SplitNotFound(String),
    #[error("cannot read split file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("split file {path} is not valid JSON: {reason}")]
    NotJson { path: String, reason: String },
    #[error("{path} is not a split file: it holds {found}, expected a JSON list of entries like {{\"dataset_root\": \"...\", \"new_filename\": \"...\"}}")]
    NotAList { path: String, found: &'static str },
    #[error("split file {path}, entry {index} ({raw}): {detail}; fix or remove that entry")]
    BadEntry {
        path: String,
        index: usize,
        raw: String,
        detail: String,
    },
}

/// Where `split_file` is: as given (absolute or relative to the current
/// folder) if it exists, else relative to the dataset root (as the seed
/// script reads it). Every command taking `--split` and `--root` finds the
/// split this way.
pub fn locate_split(root: &Path, split_file: &Path) -> Result<PathBuf, DatasetError> {
    if split_file.is_file() {
        return Ok(split_file.to_path_buf());
    }
    let under_root = root.join(split_file);
    if under_root.is_file() {
        return Ok(under_root);
    }
    let tried = if split_file.is_absolute() {
        split_file.display().to_string()
    } else {
        format!("{} and {}", split_file.display(), under_root.display())
    };
    Err(DatasetError::SplitNotFound(tried))
}

/// Reads a split file (see [`locate_split`]). Malformed entries are kept in
/// [`Split::problems`]; only a missing root or file, invalid JSON or a
/// non-list document is an error.
pub fn read_split(root: &Path, split_file: &Path) -> Result<Split, DatasetError> {
    if !root.is_dir() {
        return Err(DatasetError::RootNotFound(root.display().to_string()));
    }
    read_split_file(&locate_split(root, split_file)?)
}

/// Reads the split file at `path` (no dataset root to look under: for
/// splits given alone, e.g. `select --pin-split`).
pub fn read_split_file(path: &Path) -> Result<Split, DatasetError> {
    let path = path.to_path_buf();
    let p = path.display().to_string();
    let bytes = std::fs::read(&path).map_err(|source| DatasetError::Io {
        path: p.clone(),
        source,
    })?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| DatasetError::NotJson {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    let list = match doc {
        Value::Array(list) => list,
        other => {
            return Err(DatasetError::NotAList {
                path: p,
                found: kind(&other),
            })
        }
    };
    let mut split = Split {
        path,
        ..Split::default()
    };
    for (index, v) in list.into_iter().enumerate() {
        match parse_entry(index, &v) {
            Ok(e) => split.entries.push(e),
            Err(detail) => split.problems.push(EntryProblem {
                index,
                raw: short_json(&v),
                reason: SkipReason::MalformedEntry,
                detail,
            }),
        }
    }
    Ok(split)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn short_json(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 200 {
        let cut: String = s.chars().take(200).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn string_field<'a>(
    obj: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("\"{name}\" is {}, expected a string", kind(other))),
    }
}

/// `new_filename` as text; a whole non-negative JSON number (the seed's
/// split) as its digits.
fn stem_field(obj: &serde_json::Map<String, Value>) -> Result<Option<String>, String> {
    match obj.get("new_filename") {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) => Ok(Some(v.to_string())),
            None => Err(format!(
                "\"new_filename\" is the number {n}, expected a string or a whole number"
            )),
        },
        _ => Ok(string_field(obj, "new_filename")?.map(str::to_owned)),
    }
}

fn parse_entry(index: usize, v: &Value) -> Result<SplitEntry, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| format!("entry is {}, expected an object", kind(v)))?;
    let root = string_field(obj, "dataset_root")?;
    if let Some(stem) = stem_field(obj)?.filter(|s| !s.is_empty()) {
        return Ok(SplitEntry {
            index,
            // As the seed does, a missing dataset_root means the root itself.
            dataset_root: root.unwrap_or("").to_owned(),
            stem,
            image_path: None,
        });
    }
    // `copied_path`: the seed's copy manifest (calibration_metadata.json)
    // names each image by it; read like `image_path`.
    let image_path = match string_field(obj, "image_path")?.filter(|s| !s.is_empty()) {
        Some(p) => Some(p),
        None => string_field(obj, "copied_path")?.filter(|s| !s.is_empty()),
    };
    if let Some(ip) = image_path {
        // Old form: <dataset_root>/<image folder>/<stem>.<ext>.
        let p = Path::new(ip);
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("\"image_path\" {ip:?} names no file"))?;
        let root = match root {
            Some(r) => r.to_owned(),
            None => p
                .parent()
                .and_then(Path::parent)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        return Ok(SplitEntry {
            index,
            dataset_root: root,
            stem,
            image_path: Some(ip.to_owned()),
        });
    }
    Err("entry has neither \"new_filename\" nor \"image_path\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_of(json: &str) -> Result<Split, DatasetError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.json"), json).unwrap();
        read_split(dir.path(), Path::new("s.json"))
    }

    #[test]
    fn entries_problems_and_old_form() {
        let s = split_of(
            r#"[
            {"dataset_root": "synced_data/seq_a", "new_filename": "0000000001", "a5_original_path": "x"},
            {"image_path": "recordings/b/image_a6/0000000002.jpg"},
            {"dataset_root": "seq"},
            {"dataset_root": 3, "new_filename": "1"},
            "0000000003",
            {"new_filename": "0000000004"},
            {"dataset_root": "seq", "new_filename": 42},
            {"dataset_root": "seq", "new_filename": -1}
        ]"#,
        )
        .unwrap();
        assert_eq!(s.len(), 8);
        assert_eq!(s.entries.len(), 4);
        assert_eq!(s.entries[3].stem, "42");
        assert_eq!(s.entries[0].dataset_root, "synced_data/seq_a");
        assert_eq!(s.entries[1].dataset_root, "recordings/b");
        assert_eq!(s.entries[1].stem, "0000000002");
        assert_eq!(s.entries[1].index, 1);
        assert_eq!(s.entries[2].dataset_root, "");
        let idx: Vec<usize> = s.problems.iter().map(|p| p.index).collect();
        assert_eq!(idx, [2, 3, 4, 7]);
        assert!(s.problems[0].detail.contains("neither"));
        assert!(s.problems[1].detail.contains("dataset_root"));
        assert!(s.problems[2].detail.contains("a string"));
        let e = s.strict().unwrap_err().to_string();
        assert!(e.contains("entry 2") && e.contains("s.json"), "{e}");
    }

    #[test]
    fn whole_file_errors() {
        assert!(matches!(
            split_of("{\"a\": 1}"),
            Err(DatasetError::NotAList { .. })
        ));
        assert!(matches!(split_of("[{"), Err(DatasetError::NotJson { .. })));
        assert!(split_of("[]").unwrap().is_empty());
        let dir = tempfile::tempdir().unwrap();
        let e = read_split(dir.path(), Path::new("nope.json")).unwrap_err();
        assert!(e.to_string().contains("nope.json"), "{e}");
        let e = read_split(&dir.path().join("missing"), Path::new("s.json")).unwrap_err();
        assert!(matches!(e, DatasetError::RootNotFound(_)));
    }
}
