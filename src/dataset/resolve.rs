//! Finding a split entry's files on disk.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use rayon::prelude::*;

use super::SampleKey;
use super::{unpadded, DatasetSettings, SkipReason, SplitEntry};

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
        full: join(root_abs, p),
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

/// `base.join(part)`, allocated once at its final size (`join` grows the
/// buffer as it goes; a scan joins a few paths per sample).
fn join(base: &Path, part: impl AsRef<Path>) -> PathBuf {
    let part = part.as_ref();
    let mut p = PathBuf::with_capacity(base.as_os_str().len() + 1 + part.as_os_str().len());
    p.push(base);
    p.push(part);
    p
}

fn absolute_root(root: &Path) -> PathBuf {
    std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf())
}

/// One listed folder: its names, which of them are symbolic links, and
/// whether the folder itself (after resolving links) is inside the root.
#[derive(Debug, Default, Clone)]
struct Listed {
    names: HashSet<OsString>,
    /// Names whose directory entry is a symbolic link (the listing gives
    /// the type for free): only these need their target checked.
    links: HashSet<OsString>,
    /// The folder's real location is inside the root's real location.
    /// Computed once per folder, so a scan pays one `canonicalize` per
    /// listed folder, not per file.
    real_inside: bool,
}

/// The names in the folders a scan looks in, each folder listed once,
/// so resolving a sample needs no `stat` per candidate depth folder and
/// image extension: a name absent from a listed folder is absent, a present
/// one is still `stat`-ed (it must be a file, and its stamp is needed).
/// Folders that could not be listed (other than "does not exist") are
/// probed file by file, as without listings. Built before a scan; the
/// dataset is assumed not to change while it runs.
#[derive(Debug, Default, Clone)]
pub struct FolderListings {
    /// Keyed by the folder path's bytes, spelled as [`resolve_sample_listed`]
    /// joins it: hashing bytes is far cheaper than hashing path components.
    folders: HashMap<OsString, Listed>,
    /// The root the listings were made for, as given and made absolute
    /// (once per scan, not per sample: for a relative root that asks the
    /// system for the working directory).
    root: PathBuf,
    root_abs: PathBuf,
    /// The root with symbolic links resolved (`None` when it cannot be, or
    /// when entries may point anywhere).
    root_real: Option<PathBuf>,
    /// Built for settings that allow entries outside the root: the
    /// listings know nothing of links, so a resolve that refuses them
    /// probes file by file instead.
    built_allowing: bool,
}

/// Sequences used by fewer entries are probed file by file: listing a big
/// folder for a handful of samples would cost more than it saves.
const LIST_FROM_ENTRIES: usize = 8;

impl FolderListings {
    /// No listings: every candidate file is probed.
    pub fn none() -> Self {
        Self::default()
    }

    /// Lists the image folder and every depth folder of each sequence
    /// (`dataset_root`) that enough entries use.
    pub fn build(root: &Path, entries: &[SplitEntry], settings: &DatasetSettings) -> Self {
        let root_abs = absolute_root(root);
        let root_real = (!settings.allow_absolute_roots)
            .then(|| fs::canonicalize(&root_abs).ok())
            .flatten();
        let mut uses: HashMap<&str, usize> = HashMap::new();
        for e in entries {
            *uses.entry(e.dataset_root.as_str()).or_default() += 1;
        }
        let bases: Vec<PathBuf> = uses
            .into_iter()
            .filter(|&(_, n)| n >= LIST_FROM_ENTRIES)
            .filter_map(|(spelled, _)| {
                let placed = place(&root_abs, spelled);
                // Refused roots are never read, so never listed.
                (placed.rel.is_some() || settings.allow_absolute_roots).then_some(placed.full)
            })
            .collect();
        // Deduplicated as spelled (bytes), as they are looked up: two
        // spellings of one folder are both listed.
        let mut dirs: Vec<OsString> = bases
            .iter()
            .flat_map(|base| {
                std::iter::once(&settings.image_folder)
                    .chain(&settings.depth_folders)
                    .map(|folder| join(base, folder).into_os_string())
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        // Listed in parallel: a scan waits for all of them before starting.
        let folders = dirs
            .into_par_iter()
            .filter_map(|dir| match fs::read_dir(&dir) {
                Ok(it) => {
                    let mut listed = Listed {
                        real_inside: match &root_real {
                            Some(real) => fs::canonicalize(&dir).is_ok_and(|d| d.starts_with(real)),
                            None => true,
                        },
                        ..Listed::default()
                    };
                    for e in it.flatten() {
                        if e.file_type().is_ok_and(|t| t.is_symlink()) {
                            listed.links.insert(e.file_name());
                        }
                        listed.names.insert(e.file_name());
                    }
                    Some((dir, listed))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Some((dir, Listed::default()))
                }
                // Unreadable folder: leave it to per-file probes.
                Err(_) => None,
            })
            .collect();
        Self {
            folders,
            root: root.to_path_buf(),
            root_abs,
            root_real,
            built_allowing: settings.allow_absolute_roots,
        }
    }

    /// `root` made absolute, and with links resolved when that is needed:
    /// remembered when the listings are of `root`.
    fn roots<'a>(&'a self, root: &'a Path, settings: &DatasetSettings) -> Roots<'a> {
        if root.as_os_str() == self.root.as_os_str() && !self.root.as_os_str().is_empty() {
            Roots {
                given: root,
                abs: Cow::Borrowed(&self.root_abs),
                real: self.root_real.as_deref().map(Cow::Borrowed),
                allow_outside: settings.allow_absolute_roots,
            }
        } else {
            let abs = absolute_root(root);
            let real = (!settings.allow_absolute_roots)
                .then(|| fs::canonicalize(&abs).ok().map(Cow::Owned))
                .flatten();
            Roots {
                given: root,
                abs: Cow::Owned(abs),
                real,
                allow_outside: settings.allow_absolute_roots,
            }
        }
    }

    /// Number of folders listed.
    pub fn len(&self) -> usize {
        self.folders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.folders.is_empty()
    }

    /// `folder/name` with its metadata when it exists and is a file
    /// (symbolic links followed, like a plain `stat`), and whether its
    /// real location must be checked (a link, in a linked folder, or not
    /// listed).
    fn find_file(&self, folder: &Path, name: &str) -> Option<(PathBuf, fs::Metadata, bool)> {
        let listed = self.folders.get(folder.as_os_str());
        if let Some(l) = listed {
            if !l.names.contains(OsStr::new(name)) {
                return None;
            }
        }
        let p = join(folder, name);
        let meta = fs::metadata(&p).ok().filter(|m| m.is_file())?;
        let check = listed.is_none_or(|l| !l.real_inside || l.links.contains(OsStr::new(name)));
        Some((p, meta, check))
    }

    /// The one file in `folder` named `<digits with any zero padding>.<ext>`
    /// for an image extension: where an unpadded numeric stem's image is.
    fn find_padded(
        &self,
        folder: &Path,
        digits: &str,
        exts: &[String],
    ) -> Option<(PathBuf, fs::Metadata, bool)> {
        let matches = |name: &OsStr| -> Option<String> {
            let name = name.to_str()?;
            let (stem, ext) = name.rsplit_once('.')?;
            (unpadded(stem) == Some(digits) && exts.iter().any(|e| e == ext))
                .then(|| name.to_owned())
        };
        let mut found: Vec<String> = match self.folders.get(folder.as_os_str()) {
            Some(l) => l.names.iter().filter_map(|n| matches(n)).collect(),
            None => fs::read_dir(folder)
                .ok()?
                .flatten()
                .filter_map(|e| matches(&e.file_name()))
                .collect(),
        };
        found.sort();
        // One stem (several extensions of it are fine: the first in the
        // settings' order wins, as for exact stems).
        let stem = |n: &String| n.rsplit_once('.').map(|(s, _)| s.to_owned());
        let first = found.first().and_then(stem)?;
        if found.iter().any(|n| stem(n).as_ref() != Some(&first)) {
            return None;
        }
        exts.iter()
            .find_map(|ext| self.find_file(folder, &format!("{first}.{ext}")))
    }
}

/// The dataset root as the rules need it.
struct Roots<'a> {
    given: &'a Path,
    abs: Cow<'a, Path>,
    /// Set when files must stay inside the root after resolving links.
    real: Option<Cow<'a, Path>>,
    allow_outside: bool,
}

impl Roots<'_> {
    fn refused(&self, what: &str, spelled: &str) -> Skip {
        Skip::new(
            SkipReason::RefusedPath,
            format!(
                "{what} {spelled:?} lies outside the dataset root {}; allow absolute roots (--allow-absolute-roots) to accept it",
                self.given.display()
            ),
        )
    }

    fn check_real(&self, file: &Path) -> Result<(), Skip> {
        if self.allow_outside {
            return Ok(());
        }
        check_real_inside(self.given, self.real.as_deref(), file)
    }
}

/// The path-escape rule applied to a path's spelling: whether `path`
/// (absolute, or relative to the current folder like `root`) lies inside
/// `root` once `.` and `..` are resolved as text, without touching the
/// disk. [`check_real_inside`] is the rule's other half.
pub fn spelled_inside(root: &Path, path: &Path) -> bool {
    let abs = absolute_root(path);
    place(&absolute_root(root), &abs.to_string_lossy())
        .rel
        .is_some()
}

/// The path-escape rule applied to where `file` really is: a symbolic link
/// (the file's, or a folder's on its way) may not lead out of the dataset
/// root. `root_real` is the root with links resolved (`None` when it could
/// not be resolved: nothing is inside it). Callers skip this check when
/// the user allowed entries outside the root.
pub fn check_real_inside(root: &Path, root_real: Option<&Path>, file: &Path) -> Result<(), Skip> {
    let real = fs::canonicalize(file).map_err(|e| {
        Skip::new(
            SkipReason::RefusedPath,
            format!("cannot resolve where {} leads: {e}", file.display()),
        )
    })?;
    match root_real {
        Some(r) if real.starts_with(r) => Ok(()),
        _ => Err(Skip::new(
            SkipReason::RefusedPath,
            format!(
                "{} is a symbolic link (or lies in a linked folder) leading to {}, outside the dataset root {}; a dataset linked in from another disk is legitimate: allow absolute roots (--allow-absolute-roots) to read it",
                file.display(),
                real.display(),
                root.display()
            ),
        )),
    }
}

/// An entry's RGB image, found under the dataset root.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedImage {
    /// The sample's key; an unpadded numeric stem becomes the stem of the
    /// file found (`42` → `0000000042`).
    pub key: SampleKey,
    pub path: PathBuf,
    /// Relative to the dataset root (absolute when outside it).
    pub rel: String,
    pub stamp: FileStamp,
}

/// Finds an entry's RGB image: its own `image_path`, or the first image
/// extension holding `<stem>` in the sequence's image folder (for a numeric
/// stem without its zero padding, the one file with those digits). The
/// path-escape rule applies to the spelling and to where the file really
/// is. Only `stat` calls (and a folder listing for an unpadded stem).
pub fn locate_image(
    root: &Path,
    entry: &SplitEntry,
    settings: &DatasetSettings,
) -> Result<LocatedImage, Skip> {
    let listings = FolderListings::none();
    let roots = listings.roots(root, settings);
    find_image(&roots, entry, settings, &listings).map(|(_, image)| image)
}

/// The sequence folder placed under the root, and the image.
fn find_image(
    roots: &Roots<'_>,
    entry: &SplitEntry,
    settings: &DatasetSettings,
    listings: &FolderListings,
) -> Result<(Placed, LocatedImage), Skip> {
    if !is_plain_name(&entry.stem) {
        return Err(Skip::new(
            SkipReason::RefusedPath,
            format!("stem {:?} is not a plain file name", entry.stem),
        ));
    }
    let base = place(&roots.abs, &entry.dataset_root);
    if base.rel.is_none() && !roots.allow_outside {
        return Err(roots.refused("dataset_root", &entry.dataset_root));
    }
    let mut key = entry.key();
    let (path, rel, meta) = match &entry.image_path {
        Some(spelled) => {
            let placed = place(&roots.abs, spelled);
            if placed.rel.is_none() && !roots.allow_outside {
                return Err(roots.refused("image_path", spelled));
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
            roots.check_real(&placed.full)?;
            let rel =
                rel_string(&placed.rel, &[]).unwrap_or_else(|| placed.full.display().to_string());
            (placed.full, rel, meta)
        }
        None => {
            let folder = join(&base.full, &settings.image_folder);
            let exact = settings.image_extensions.iter().find_map(|ext| {
                let name = format!("{}.{ext}", entry.stem);
                listings.find_file(&folder, &name)
            });
            // The seed's split lost the zero padding of numeric stems.
            let found = exact.or_else(|| {
                let digits = unpadded(&entry.stem)?;
                listings.find_padded(&folder, digits, &settings.image_extensions)
            });
            let (p, meta, check) = found.ok_or_else(|| {
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
            if check {
                roots.check_real(&p)?;
            }
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some((stem, _)) = name.rsplit_once('.') {
                if stem != key.stem {
                    key.stem = stem.to_owned();
                }
            }
            let rel = rel_string(&base.rel, &[&settings.image_folder, &name])
                .unwrap_or_else(|| p.display().to_string());
            (p, rel, meta)
        }
    };
    Ok((
        base,
        LocatedImage {
            key,
            path,
            rel,
            stamp: FileStamp::of(&meta),
        },
    ))
}

/// Finds the RGB image (see [`locate_image`]) and the depth map (first
/// depth folder holding `<stem>.png`). Only `stat` calls; nothing is opened.
pub fn resolve_sample(
    root: &Path,
    entry: &SplitEntry,
    settings: &DatasetSettings,
) -> Result<ResolvedSample, Skip> {
    resolve_sample_listed(root, entry, settings, &FolderListings::none())
}

/// [`resolve_sample`] using folder listings made once per scan; the result
/// is the same as without them.
pub fn resolve_sample_listed(
    root: &Path,
    entry: &SplitEntry,
    settings: &DatasetSettings,
    listings: &FolderListings,
) -> Result<ResolvedSample, Skip> {
    let none;
    let listings = if listings.built_allowing && !settings.allow_absolute_roots {
        none = FolderListings::none();
        &none
    } else {
        listings
    };
    let roots = listings.roots(root, settings);
    let (base, image) = find_image(&roots, entry, settings, listings)?;
    let name = format!("{}.png", image.key.stem);
    let depth = settings.depth_folders.iter().find_map(|folder| {
        listings
            .find_file(&join(&base.full, folder), &name)
            .map(|(p, m, check)| (p, folder, m, check))
    });
    let (depth, folder, depth_meta, check) = depth.ok_or_else(|| {
        Skip::new(
            SkipReason::MissingDepth,
            format!(
                "no {name} in any depth folder ({}) of {}",
                settings.depth_folders.join(", "),
                base.full.display()
            ),
        )
    })?;
    if check {
        roots.check_real(&depth)?;
    }
    let depth_rel =
        rel_string(&base.rel, &[folder, &name]).unwrap_or_else(|| depth.display().to_string());
    Ok(ResolvedSample {
        key: image.key,
        index: entry.index,
        image: image.path,
        image_rel: image.rel,
        image_stamp: image.stamp,
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

    #[test]
    fn listings_resolve_exactly_like_per_file_probes() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let set = DatasetSettings::default();
        let mut entries = Vec::new();
        // Two sequences, enough entries each to be listed, every mix of
        // depth folders, images as png or jpg or missing.
        for seq in ["s/a", "s/b"] {
            for i in 0..24usize {
                let stem = format!("{i:04}");
                let ext = ["png", "jpg", "jpeg", "none"][i % 4];
                if ext != "none" {
                    touch(&r.join(format!("{seq}/image_a6/{stem}.{ext}")));
                }
                for (k, folder) in set.depth_folders.iter().enumerate() {
                    if (i >> k) & 1 == 1 {
                        touch(&r.join(format!("{seq}/{folder}/{stem}.png")));
                    }
                }
                entries.push(SplitEntry {
                    index: entries.len(),
                    dataset_root: seq.into(),
                    stem,
                    image_path: None,
                });
            }
        }
        // A directory named like a depth map in the first folder is not a map.
        fs::create_dir_all(r.join("s/a/newest_depth_maps/0002.png")).unwrap();
        // One sequence spelled two ways: each spelling is listed and
        // looked up as spelled.
        for i in 0..12usize {
            entries.push(entry("./s/b/", &format!("{i:04}")));
        }
        // A sequence without any depth folder.
        for i in 0..10 {
            touch(&r.join(format!("s/c/image_a6/{i}.png")));
            entries.push(entry("s/c", &i.to_string()));
        }
        let listings = FolderListings::build(r, &entries, &set);
        // image_a6 + 4 depth folders for each of the four spellings.
        assert_eq!(listings.len(), 20);
        let (mut found, mut missing) = (0, 0);
        for e in &entries {
            let probed = resolve_sample(r, e, &set);
            let listed = resolve_sample_listed(r, e, &set, &listings);
            assert_eq!(probed, listed, "{}/{}", e.dataset_root, e.stem);
            match probed {
                Ok(_) => found += 1,
                Err(_) => missing += 1,
            }
        }
        assert!(
            found > 20 && missing > 10,
            "{found} found, {missing} missing"
        );
        let got = resolve_sample_listed(r, &entries[2], &set, &listings).unwrap();
        assert_eq!(got.depth_variant, "newest_synthetic_depth_maps");
        // Few entries: no listing, probes as before.
        let few = FolderListings::build(r, &entries[..3], &set);
        assert!(few.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_root_are_refused_alike_with_and_without_listings() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().join("root");
        let outside = dir.path().join("outside");
        touch(&outside.join("x.png"));
        let mut entries = Vec::new();
        for i in 0..10usize {
            let stem = format!("{i:04}");
            touch(&r.join(format!("s/depth_maps/{stem}.png")));
            let img = r.join(format!("s/image_a6/{stem}.png"));
            match i {
                // Out of the root.
                1 => {
                    fs::create_dir_all(img.parent().unwrap()).unwrap();
                    symlink(outside.join("x.png"), &img).unwrap();
                }
                // A link that stays inside.
                2 => {
                    touch(&r.join("elsewhere/y.png"));
                    symlink(r.join("elsewhere/y.png"), &img).unwrap();
                }
                _ => touch(&img),
            }
            entries.push(entry("s", &stem));
        }
        let mut set = DatasetSettings::default();
        for allow in [false, true] {
            set.allow_absolute_roots = allow;
            let listings = FolderListings::build(&r, &entries, &set);
            assert!(!listings.is_empty());
            for e in &entries {
                let probed = resolve_sample(&r, e, &set);
                let listed = resolve_sample_listed(&r, e, &set, &listings);
                assert_eq!(probed, listed, "{}", e.stem);
                let refused = probed
                    .as_ref()
                    .err()
                    .is_some_and(|s| s.reason == SkipReason::RefusedPath);
                assert_eq!(refused, !allow && e.stem == "0001", "{}", e.stem);
            }
        }
        // The message says why and how to opt in.
        set.allow_absolute_roots = false;
        let e = resolve_sample(&r, &entries[1], &set).unwrap_err();
        assert!(
            e.detail.contains("linked in from another disk")
                && e.detail.contains("--allow-absolute-roots"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn spelled_inside_resolves_dots_as_text() {
        let r = Path::new("/data/ncdb");
        assert!(spelled_inside(r, Path::new("/data/ncdb/s/image_a6/1.png")));
        assert!(spelled_inside(r, Path::new("/data/ncdb/a/../s/1.png")));
        assert!(!spelled_inside(r, Path::new("/data/ncdb/../x/1.png")));
        assert!(!spelled_inside(r, Path::new("/etc/passwd")));
        assert!(spelled_inside(Path::new("rel"), Path::new("rel/s/1.png")));
        assert!(!spelled_inside(Path::new("rel"), Path::new("rel/../1.png")));
    }

    #[test]
    fn unpadded_numeric_stems_find_their_padded_files() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        touch(&r.join("s/image_a6/0000000042.jpg"));
        touch(&r.join("s/depth_maps/0000000042.png"));
        touch(&r.join("s/image_a6/01.png"));
        touch(&r.join("s/image_a6/001.png"));
        let set = DatasetSettings::default();
        let got = resolve_sample(r, &entry("s", "42"), &set).unwrap();
        assert_eq!(got.key.stem, "0000000042");
        assert_eq!(got.image_rel, "s/image_a6/0000000042.jpg");
        assert_eq!(got.depth_rel, "s/depth_maps/0000000042.png");
        // Two files with the digits 1: ambiguous, so not found.
        let e = locate_image(r, &entry("s", "1"), &set).unwrap_err();
        assert_eq!(e.reason, SkipReason::MissingImage);
    }
}
