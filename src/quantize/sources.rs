//! Where the calibration inputs come from: an image list, a calibration
//! split JSON with its dataset root, a folder (of `.npy` tensors or images),
//! or explicit files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataset::{self, DatasetSettings};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationSource {
    /// `image_list.txt`: one path per line (absolute, or relative to the list's folder).
    ImageList(PathBuf),
    /// A split JSON (`calibration_split.json`): entries `{dataset_root, new_filename}`
    /// or `{image_path}`, found under `root` as every command finds them
    /// ([`dataset::locate_split`], [`dataset::locate_image`]): the split
    /// as given or under the root, the image in `dataset.image_folder`,
    /// nothing outside the root unless `dataset.allow_absolute_roots`.
    Split {
        split: PathBuf,
        root: PathBuf,
        #[serde(default)]
        dataset: DatasetSettings,
    },
    /// All `.npy` files in a folder (sorted), or its images when it has no `.npy`.
    Folder(PathBuf),
    Files(Vec<PathBuf>),
}

const IMAGE_EXTS: &[&str] = &["png", "jpg", "jpeg"];

fn has_ext(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

impl CalibrationSource {
    pub fn describe(&self) -> String {
        match self {
            Self::ImageList(p) => format!("image list {}", p.display()),
            Self::Split { split, root, .. } => {
                format!("split {} under {}", split.display(), root.display())
            }
            Self::Folder(p) => format!("folder {}", p.display()),
            Self::Files(v) => format!("{} files", v.len()),
        }
    }

    /// The input files in order. Missing files are errors naming them.
    pub fn resolve(&self) -> Result<Vec<PathBuf>, String> {
        let files = match self {
            Self::Files(v) => v.clone(),
            Self::ImageList(list) => {
                let text = std::fs::read_to_string(list)
                    .map_err(|e| format!("cannot read image list {}: {e}", list.display()))?;
                let base = list.parent().unwrap_or(Path::new("."));
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(|l| base.join(l))
                    .collect()
            }
            Self::Folder(dir) => {
                let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
                    .map_err(|e| format!("cannot read folder {}: {e}", dir.display()))?
                    .flatten()
                    .map(|e| e.path())
                    .collect();
                all.sort();
                let npy: Vec<PathBuf> = all
                    .iter()
                    .filter(|p| has_ext(p, &["npy"]))
                    .cloned()
                    .collect();
                if npy.is_empty() {
                    all.into_iter().filter(|p| has_ext(p, IMAGE_EXTS)).collect()
                } else {
                    npy
                }
            }
            Self::Split {
                split,
                root,
                dataset,
            } => split_images(split, root, dataset)?,
        };
        for f in &files {
            if !f.is_file() {
                return Err(format!(
                    "calibration input {} does not exist ({})",
                    f.display(),
                    self.describe()
                ));
            }
        }
        Ok(files)
    }
}

/// Image paths of a split's entries, by the dataset's rules; an entry
/// that cannot be used (malformed, outside the root, no image) is an error
/// naming it: a calibration set is not silently smaller than asked.
fn split_images(
    split: &Path,
    root: &Path,
    settings: &DatasetSettings,
) -> Result<Vec<PathBuf>, String> {
    let sp = dataset::read_split(root, split)
        .and_then(|s| s.strict())
        .map_err(|e| e.to_string())?;
    sp.iter()
        .map(|e| {
            dataset::locate_image(root, e, settings)
                .map(|img| img.path)
                .map_err(|s| {
                    format!(
                        "split {}, entry {} ({}): {}",
                        split.display(),
                        e.index,
                        e.key(),
                        s.detail
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_list_and_folder_resolve() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("seq_a/image_a6")).unwrap();
        std::fs::create_dir_all(r.join("seq_b/image_a6")).unwrap();
        std::fs::write(r.join("seq_a/image_a6/0000000001.png"), b"x").unwrap();
        std::fs::write(r.join("seq_b/image_a6/0000000001.jpg"), b"x").unwrap();
        let split = r.join("calibration_split.json");
        std::fs::write(
            &split,
            r#"[{"dataset_root":"seq_a","new_filename":"0000000001"},
                {"dataset_root":"seq_b","new_filename":"0000000001","a6_original_path":"x"}]"#,
        )
        .unwrap();
        let got = CalibrationSource::Split {
            split: split.clone(),
            root: r.to_path_buf(),
            dataset: DatasetSettings::default(),
        }
        .resolve()
        .unwrap();
        assert_eq!(got[0], r.join("seq_a/image_a6/0000000001.png"));
        assert_eq!(got[1], r.join("seq_b/image_a6/0000000001.jpg"));

        let list = r.join("image_list.txt");
        std::fs::write(&list, "seq_a/image_a6/0000000001.png\n\n").unwrap();
        assert_eq!(
            CalibrationSource::ImageList(list).resolve().unwrap().len(),
            1
        );

        let missing = r.join("missing.txt");
        std::fs::write(&missing, "nope.png\n").unwrap();
        let e = CalibrationSource::ImageList(missing).resolve().unwrap_err();
        assert!(e.contains("nope.png"), "{e}");

        std::fs::write(r.join("b.npy"), b"").unwrap();
        std::fs::write(r.join("a.npy"), b"").unwrap();
        let got = CalibrationSource::Folder(r.to_path_buf())
            .resolve()
            .unwrap();
        assert_eq!(got, vec![r.join("a.npy"), r.join("b.npy")]);
    }
}
