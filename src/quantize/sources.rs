//! Where the calibration inputs come from: an image list, a calibration
//! split JSON with its dataset root, a folder (of `.npy` tensors or images),
//! or explicit files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationSource {
    /// `image_list.txt`: one path per line (absolute, or relative to the list's folder).
    ImageList(PathBuf),
    /// A split JSON (`calibration_split.json`): entries `{dataset_root, new_filename}`
    /// or `{image_path}`, resolved under `root`.
    Split {
        split: PathBuf,
        root: PathBuf,
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
            Self::Split { split, root } => {
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
            Self::Split { split, root } => split_images(split, root)?,
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

/// Image paths of a split JSON's entries.
fn split_images(split: &Path, root: &Path) -> Result<Vec<PathBuf>, String> {
    let text = std::fs::read_to_string(split)
        .map_err(|e| format!("cannot read split {}: {e}", split.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", split.display()))?;
    let entries = v
        .as_array()
        .ok_or_else(|| format!("{}: expected a JSON list of samples", split.display()))?;
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let s = |k: &str| e.get(k).and_then(|x| x.as_str());
        let path = if let Some(p) = s("image_path").or(s("copied_path")) {
            root.join(p) // an absolute path replaces root
        } else if let (Some(dr), Some(stem)) = (s("dataset_root"), s("new_filename")) {
            let dir = root.join(dr).join("image_a6");
            let png = dir.join(format!("{stem}.png"));
            if png.is_file() {
                png
            } else {
                dir.join(format!("{stem}.jpg"))
            }
        } else {
            return Err(format!(
                "{}: entry {i} has neither image_path nor dataset_root + new_filename",
                split.display()
            ));
        };
        out.push(path);
    }
    Ok(out)
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
