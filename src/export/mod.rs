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

pub use copy::{copy_images, CopyReport, LinkMode};
pub use split::{read_split, write_split, SplitEntry};
pub use stats::{calibration_statistics, write_statistics, CalibrationStatistics};
pub use tensors::{write_tensors, TensorOptions, TensorReport};

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

    /// From a split entry alone: the first existing
    /// `<root>/<dataset_root>/image_a6/<stem>.{png,jpg,jpeg,PNG,JPG,JPEG}`,
    /// or the `.png` path (reported missing later) when none exists. A
    /// numeric stem shorter than 10 digits (the seed's split loses the zero
    /// padding) is also tried padded to NCDB's 10 digits, and then keyed so.
    pub fn probe(root: &Path, key: &SampleKey) -> Self {
        let dir = root.join(&key.dataset_root).join("image_a6");
        let mut stems = vec![key.stem.clone()];
        if is_digits(&key.stem) && key.stem.len() < 10 {
            stems.push(format!("{:0>10}", key.stem));
        }
        for stem in &stems {
            for e in ["png", "jpg", "jpeg", "PNG", "JPG", "JPEG"] {
                let p = dir.join(format!("{stem}.{e}"));
                if p.is_file() {
                    return ExportSample {
                        key: SampleKey {
                            dataset_root: key.dataset_root.clone(),
                            stem: stem.clone(),
                        },
                        image: p,
                    };
                }
            }
        }
        ExportSample {
            key: key.clone(),
            image: dir.join(format!("{}.png", key.stem)),
        }
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
    use std::collections::HashMap;
    let mut exact: HashMap<(&str, &str), usize> = HashMap::with_capacity(rows.len());
    // None marks an ambiguous unpadded stem.
    let mut unpadded: HashMap<(&str, &str), Option<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        exact
            .entry((r.dataset_root.as_str(), r.filename.as_str()))
            .or_insert(i);
        if is_digits(&r.filename) {
            let short = strip_zeros(&r.filename);
            unpadded
                .entry((r.dataset_root.as_str(), short))
                .and_modify(|e| {
                    if *e != Some(i) {
                        *e = None
                    }
                })
                .or_insert(Some(i));
        }
    }
    keys.iter()
        .map(|k| {
            exact
                .get(&(k.dataset_root.as_str(), k.stem.as_str()))
                .copied()
                .or_else(|| {
                    if !is_digits(&k.stem) {
                        return None;
                    }
                    unpadded
                        .get(&(k.dataset_root.as_str(), strip_zeros(&k.stem)))
                        .copied()
                        .flatten()
                })
        })
        .collect()
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn strip_zeros(s: &str) -> &str {
    let t = s.trim_start_matches('0');
    if t.is_empty() {
        "0"
    } else {
        t
    }
}

/// Refuses to write inside the dataset folder (after resolving symlinks
/// of the parts that exist).
pub(crate) fn ensure_outside_dataset(root: &Path, out: &Path) -> Result<(), ExportError> {
    let canon = |p: &Path| -> PathBuf {
        // The output folder may not exist yet: resolve its nearest existing ancestor.
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
    };
    let (r, o) = (canon(root), canon(out));
    if o.starts_with(&r) {
        return Err(ExportError::OutputInsideDataset { out: o, root: r });
    }
    Ok(())
}

/// Checks every key before anything is written.
pub(crate) fn check_all(samples: &[ExportSample]) -> Result<(), ExportError> {
    for s in samples {
        names::check_key(&s.key).map_err(|reason| ExportError::UnsafeEntry {
            key: s.key.clone(),
            reason,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::tests::row;

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
    }
}
