//! Finding a split entry's files on disk.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::{DatasetSettings, SkipReason, SplitEntry};
use crate::metadata::SampleKey;

/// Size and modification time of a file: what the scan cache compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FileStamp {
    pub size: u64,
    /// Nanoseconds since the Unix epoch (0 when the platform gives none).
    pub mtime_ns: i64,
}

impl FileStamp {
    fn of(meta: &fs::Metadata) -> Self {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| match t.duration_since(UNIX_EPOCH) {
                Ok(d) => i64::try_from(d.as_nanos()).ok(),
                Err(e) => i64::try_from(e.duration().as_nanos()).ok().map(|n| -n),
            })
            .unwrap_or(0);
        Self {
            size: meta.len(),
            mtime_ns,
        }
    }
}

/// An entry whose image and depth map both exist.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedSample {
    pub key: SampleKey,
    /// Position in the split.
    pub index: usize,
    pub image: PathBuf,
    /// Image path relative to the dataset root (absolute when outside it).
    pub image_rel: String,
    pub image_stamp: FileStamp,
    pub depth: PathBuf,
    pub depth_rel: String,
    /// The depth folder the map was found in.
    pub depth_variant: String,
    pub depth_stamp: FileStamp,
}

/// Why an entry was not resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Skip {
    pub reason: SkipReason,
    pub detail: String,
}

impl Skip {
    pub fn new(reason: SkipReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

/// A path from a split, placed under the root: the full path, and its
/// spelling relative to the root (`None` when it lies outside).
struct Placed {
    full: PathBuf,
    rel: Option<Vec<String>>,
}

/// Places `spelled` (relative to `root`, or absolute) without touching the
/// disk. `.` and empty parts are dropped, as Python's pathlib does; `..` is
/// kept in the spelling but may not climb above the root.
fn place(root_abs: &Path, spelled: &str) -> Placed {
    let p = Path::new(spelled);
    if p.is_absolute() {
        let mut norm = PathBuf::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    norm.pop();
                }
                other => norm.push(other.as_os_str()),
            }
        }
        let rel = norm.strip_prefix(root_abs).ok().map(|r| {
            r.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        });
        return Placed { full: norm, rel };
    }
    let mut parts = Vec::new();
    let mut depth: i64 = 0;
    let mut escapes = false;
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                escapes |= depth < 0;
                parts.push("..".to_owned());
            }
            other => {
                depth += 1;
                parts.push(other.as_os_str().to_string_lossy().into_owned());
            }
        }
    }
    Placed {
        full: root_abs.join(p),
        rel: (!escapes).then_some(parts),
    }
}

fn rel_string(base: &Option<Vec<String>>, tail: &[&str]) -> Option<String> {
    base.as_ref().map(|parts| {
        let mut all: Vec<&str> = parts.iter().map(String::as_str).collect();
        all.extend_from_slice(tail);
        all.join("/")
    })
}

fn is_plain_name(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\'])
}

/// Finds the RGB image (first existing extension in the image folder, or the
/// entry's own `image_path`) and the depth map (first depth folder holding
/// `<stem>.png`). Only `stat` calls; nothing is opened.
pub fn resolve_sample(
    root: &Path,
    entry: &SplitEntry,
    settings: &DatasetSettings,
) -> Result<ResolvedSample, Skip> {
    let root_abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let refused = |what: &str, spelled: &str| {
        Skip::new(
            SkipReason::RefusedPath,
            format!(
                "{what} {spelled:?} lies outside the dataset root {}; allow absolute roots to accept it",
                root.display()
            ),
        )
    };
    if !is_plain_name(&entry.stem) {
        return Err(Skip::new(
            SkipReason::RefusedPath,
            format!("stem {:?} is not a plain file name", entry.stem),
        ));
    }
    let base = place(&root_abs, &entry.dataset_root);
    if base.rel.is_none() && !settings.allow_absolute_roots {
        return Err(refused("dataset_root", &entry.dataset_root));
    }

    let (image, image_rel, image_meta) = match &entry.image_path {
        Some(spelled) => {
            let placed = place(&root_abs, spelled);
            if placed.rel.is_none() && !settings.allow_absolute_roots {
                return Err(refused("image_path", spelled));
            }
            let meta = fs::metadata(&placed.full)
                .ok()
                .filter(|m| m.is_file())
                .ok_or_else(|| {
                    Skip::new(
                        SkipReason::MissingImage,
                        format!("image {} does not exist", placed.full.display()),
                    )
                })?;
            let rel =
                rel_string(&placed.rel, &[]).unwrap_or_else(|| placed.full.display().to_string());
            (placed.full, rel, meta)
        }
        None => {
            let folder = base.full.join(&settings.image_folder);
            let found = settings.image_extensions.iter().find_map(|ext| {
                let name = format!("{}.{ext}", entry.stem);
                let p = folder.join(&name);
                fs::metadata(&p)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| (p, name, m))
            });
            let (p, name, meta) = found.ok_or_else(|| {
                Skip::new(
                    SkipReason::MissingImage,
                    format!(
                        "no {}/{}.{{{}}} in {}",
                        settings.image_folder,
                        entry.stem,
                        settings.image_extensions.join(","),
                        base.full.display()
                    ),
                )
            })?;
            let rel = rel_string(&base.rel, &[&settings.image_folder, &name])
                .unwrap_or_else(|| p.display().to_string());
            (p, rel, meta)
        }
    };

    let name = format!("{}.png", entry.stem);
    let depth = settings.depth_folders.iter().find_map(|folder| {
        let p = base.full.join(folder).join(&name);
        fs::metadata(&p)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| (p, folder, m))
    });
    let (depth, folder, depth_meta) = depth.ok_or_else(|| {
        Skip::new(
            SkipReason::MissingDepth,
            format!(
                "no {name} in any depth folder ({}) of {}",
                settings.depth_folders.join(", "),
                base.full.display()
            ),
        )
    })?;
    let depth_rel =
        rel_string(&base.rel, &[folder, &name]).unwrap_or_else(|| depth.display().to_string());
    Ok(ResolvedSample {
        key: entry.key(),
        index: entry.index,
        image,
        image_rel,
        image_stamp: FileStamp::of(&image_meta),
        depth,
        depth_rel,
        depth_variant: folder.clone(),
        depth_stamp: FileStamp::of(&depth_meta),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(root: &str, stem: &str) -> SplitEntry {
        SplitEntry {
            index: 0,
            dataset_root: root.into(),
            stem: stem.into(),
            image_path: None,
        }
    }

    fn touch(p: &Path) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"x").unwrap();
    }

    #[test]
    fn finds_files_in_priority_order_and_spells_paths_like_pathlib() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        touch(&r.join("s/a/image_a6/0001.jpg"));
        touch(&r.join("s/a/depth_maps/0001.png"));
        touch(&r.join("s/a/new_depth_maps/0001.png"));
        let set = DatasetSettings::default();
        let got = resolve_sample(r, &entry("./s//a/", "0001"), &set).unwrap();
        assert_eq!(got.image_rel, "s/a/image_a6/0001.jpg");
        assert_eq!(got.depth_variant, "new_depth_maps");
        assert_eq!(got.depth_rel, "s/a/new_depth_maps/0001.png");
        assert_eq!(got.key.dataset_root, "./s//a/");
        let abs = r.join("s/a").display().to_string();
        let got = resolve_sample(r, &entry(&abs, "0001"), &set).unwrap();
        assert_eq!(got.image_rel, "s/a/image_a6/0001.jpg");
        let e = resolve_sample(r, &entry("s/a", "0002"), &set).unwrap_err();
        assert_eq!(e.reason, SkipReason::MissingImage);
        touch(&r.join("s/a/image_a6/0002.png"));
        let e = resolve_sample(r, &entry("s/a", "0002"), &set).unwrap_err();
        assert_eq!(e.reason, SkipReason::MissingDepth);
    }

    #[test]
    fn refuses_paths_outside_root_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().join("root");
        touch(&dir.path().join("other/image_a6/1.png"));
        touch(&dir.path().join("other/depth_maps/1.png"));
        fs::create_dir_all(&r).unwrap();
        let mut set = DatasetSettings::default();
        for spelled in ["../other", &dir.path().join("other").display().to_string()] {
            let e = resolve_sample(&r, &entry(spelled, "1"), &set).unwrap_err();
            assert_eq!(e.reason, SkipReason::RefusedPath, "{spelled}");
        }
        let e = resolve_sample(&r, &entry("x", "../1"), &set).unwrap_err();
        assert_eq!(e.reason, SkipReason::RefusedPath);
        set.allow_absolute_roots = true;
        let got = resolve_sample(&r, &entry("../other", "1"), &set).unwrap();
        assert!(Path::new(&got.image_rel).is_absolute());
        // `..` that stays inside the root is fine and kept as spelled.
        touch(&r.join("b/image_a6/2.png"));
        touch(&r.join("b/depth_maps/2.png"));
        fs::create_dir_all(r.join("a")).unwrap();
        set.allow_absolute_roots = false;
        let got = resolve_sample(&r, &entry("a/../b", "2"), &set).unwrap();
        assert_eq!(got.image_rel, "a/../b/image_a6/2.png");
    }
}
