//! The calibration image folder: images named as the seed names them,
//! plus `image_list.txt` (absolute paths), `image_filenames.txt`,
//! `calibration_metadata.json` (`original_path`, `copied_path`, `filename`)
//! and RKNN's `dataset.txt` (one absolute image path per line).
//!
//! Safety and resumption:
//! - every key is checked first; one that could escape the folder stops the
//!   export before anything is written;
//! - refuses an output folder inside the dataset folder;
//! - holds a lock on the output folder (`.calibscope.lock`) for the whole
//!   run: a second run into the same folder stops and says who holds it;
//! - each image is written (copied / linked) to a temporary name in the
//!   output folder and renamed into place, so a final name never holds a
//!   partial file; temporaries left by an interrupted run are removed at
//!   the start of the next;
//! - a final file that is already complete is kept: for copies, equal size
//!   and equal modification time (copies get the source's mtime, like the
//!   seed's `shutil.copy2`); the content is not compared (that would read
//!   both files, as costly as copying again), so a copy edited in place
//!   without changing its size or mtime is kept; for hard links, the same
//!   inode; for symbolic links, the same target. Anything else is replaced;
//! - the folder matches the selection: `.calibscope_written.txt` lists every
//!   image calibscope placed there (written before placing any); an image
//!   we placed (or that the previous `calibration_metadata.json` lists) and
//!   that is not in the new selection is removed and reported. A file we
//!   did not write stops the copy before anything is written, unless
//!   `allow_other_files` (`--allow-other-files`) is set; then it is kept;
//! - the list files are written only when every image is in place: a
//!   cancelled run, or one where samples were skipped, leaves the previous
//!   lists (and the previous images) as they were, so the lists always name
//!   exactly images that are there;
//! - a sample whose image cannot be read or placed is skipped and reported;
//!   the others are still placed;
//! - a repeated sample (also `seq/` vs `seq`) is placed once and reported.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::names;
use super::pyjson::PyJson;
use super::{
    check_all, check_root, dedup_samples, ensure_outside_dataset, remove_stale_temporaries,
    ExportError, ExportSample, Renamed, Skipped,
};
use crate::fsutil::{self, TMP_SUFFIX};
use crate::paths::printable;
use crate::progress::Progress;

/// How an image gets into the output folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LinkMode {
    #[default]
    Copy,
    Hardlink,
    Symlink,
}

impl LinkMode {
    /// The name the command line takes (`--mode`).
    pub fn name(self) -> &'static str {
        match self {
            LinkMode::Copy => "copy",
            LinkMode::Hardlink => "hardlink",
            LinkMode::Symlink => "symlink",
        }
    }

    pub fn from_name(s: &str) -> Option<LinkMode> {
        match s {
            "copy" => Some(LinkMode::Copy),
            "hardlink" | "hard-link" => Some(LinkMode::Hardlink),
            "symlink" | "symbolic-link" => Some(LinkMode::Symlink),
            _ => None,
        }
    }
}

/// Test hook: end the process at once after this many images are placed,
/// with the next image's temporary file written but not renamed (as a kill
/// would leave it).
pub const ABORT_HOOK_ENV: &str = "CALIBSCOPE_TEST_ABORT_AFTER_FILES";

/// Options of [`copy_images`]; a bare [`LinkMode`] converts into the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CopyOptions {
    pub mode: LinkMode,
    /// Proceed although the folder holds files calibscope did not write
    /// (they are kept).
    pub allow_other_files: bool,
    /// Accept absolute dataset_roots / image paths outside the dataset root.
    pub allow_absolute_roots: bool,
}

impl From<LinkMode> for CopyOptions {
    fn from(mode: LinkMode) -> Self {
        CopyOptions {
            mode,
            ..CopyOptions::default()
        }
    }
}

/// Our record of the images placed in the folder, one file name a line.
pub const WRITTEN_LIST: &str = ".calibscope_written.txt";

/// The files a copy writes besides images.
const LIST_FILES: [&str; 4] = [
    "image_list.txt",
    "image_filenames.txt",
    "calibration_metadata.json",
    "dataset.txt",
];

/// Every file besides images a copy writes into its folder (for the output rule).
pub const OUTPUT_FILES: [&str; 5] = [
    LIST_FILES[0],
    LIST_FILES[1],
    LIST_FILES[2],
    LIST_FILES[3],
    WRITTEN_LIST,
];

/// One image in the output folder, as `calibration_metadata.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopiedImage {
    pub key: crate::metadata::SampleKey,
    pub original_path: PathBuf,
    pub copied_path: PathBuf,
    pub filename: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CopyReport {
    pub out_dir: PathBuf,
    pub mode: LinkMode,
    /// Every image now in the folder for this selection, in selection order.
    pub images: Vec<CopiedImage>,
    /// How many of `images` were written by this run.
    pub written: usize,
    /// How many were already complete and kept.
    pub already_present: usize,
    pub renamed: Vec<Renamed>,
    pub skipped: Vec<Skipped>,
    /// Samples listed more than once (placed once).
    pub duplicates: Vec<crate::metadata::SampleKey>,
    /// Temporary files of an interrupted earlier run, removed.
    pub stale_temporaries_removed: usize,
    /// Images an earlier run placed that are not in this selection, removed.
    pub removed: Vec<String>,
    /// Image files in the folder that are not part of this selection and
    /// were kept (files we did not write, or everything from an earlier
    /// selection when this run was cancelled or skipped samples).
    pub not_in_selection: Vec<String>,
    /// List files written (none when cancelled).
    pub list_files: Vec<PathBuf>,
    pub cancelled: bool,
}

impl CopyReport {
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} image(s) in {} ({} written, {} already there), mode {}\n",
            self.images.len(),
            self.out_dir.display(),
            self.written,
            self.already_present,
            self.mode.name()
        );
        for r in &self.renamed {
            s.push_str(&format!(
                "renamed {}: {} was taken, wrote {}\n",
                printable(&r.key.to_string()),
                printable(&r.seed_name),
                printable(&r.name)
            ));
        }
        for k in &self.skipped {
            s.push_str(&format!(
                "skipped {}: {}\n",
                printable(&k.key.to_string()),
                printable(&k.reason)
            ));
        }
        if !self.duplicates.is_empty() {
            s.push_str(&format!(
                "{} sample(s) are listed more than once and were placed once (first: {})\n",
                self.duplicates.len(),
                printable(&self.duplicates[0].to_string())
            ));
        }
        if !self.removed.is_empty() {
            s.push_str(&format!(
                "removed {} image(s) of an earlier selection that are not in this one (e.g. {})\n",
                self.removed.len(),
                self.removed[0]
            ));
        }
        if self.stale_temporaries_removed > 0 {
            s.push_str(&format!(
                "removed {} temporary file(s) left by an interrupted run\n",
                self.stale_temporaries_removed
            ));
        }
        if !self.not_in_selection.is_empty() {
            s.push_str(&format!(
                "{} image(s) in the folder are not in this selection and were left as they are (e.g. {})\n",
                self.not_in_selection.len(),
                self.not_in_selection[0]
            ));
        }
        if self.cancelled {
            s.push_str("cancelled: list files not written; run again to complete\n");
        } else if !self.skipped.is_empty() {
            s.push_str("list files not written (samples were skipped): the previous lists and images are as they were; fix the skipped samples and run again\n");
        }
        for f in &self.list_files {
            s.push_str(&format!("wrote {}\n", f.display()));
        }
        s
    }
}

/// Copies (or links) the samples' images into `out_dir`; see the module docs.
pub fn copy_images(
    dataset_root: &Path,
    samples: &[ExportSample],
    out_dir: &Path,
    opts: impl Into<CopyOptions>,
    progress: &Progress,
) -> Result<CopyReport, ExportError> {
    let opts = opts.into();
    let mode = opts.mode;
    check_all(dataset_root, samples, opts.allow_absolute_roots)?;
    check_root(dataset_root)?;
    ensure_outside_dataset(dataset_root, out_dir)?;
    let (samples, duplicates) = dedup_samples(samples);
    let mut report = CopyReport {
        out_dir: out_dir.to_path_buf(),
        mode,
        duplicates,
        ..CopyReport::default()
    };
    // Names: the seed's, made unique in selection order.
    let mut bases = Vec::with_capacity(samples.len());
    for s in &samples {
        let ext = s
            .image
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_else(|| "png".into());
        bases.push(names::seed_name(&s.key.dataset_root, &s.key.stem, &ext));
    }
    let unique = names::unique_names(&bases);
    for ((s, base), (name, renamed)) in samples.iter().zip(&bases).zip(&unique) {
        if !names::is_plain_file_name(name) {
            return Err(ExportError::UnsafeEntry {
                key: s.key.clone(),
                reason: format!("its output name {name:?} is not a plain file name"),
            });
        }
        if *renamed {
            report.renamed.push(Renamed {
                key: s.key.clone(),
                seed_name: base.clone(),
                name: name.clone(),
            });
        }
    }

    // One run at a time per folder: two copies with different selections
    // would otherwise write lists naming each other's removed images.
    fs::create_dir_all(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
    let _lock = fsutil::FolderLock::acquire(out_dir, "copy").map_err(|e| {
        if e.kind() == io::ErrorKind::WouldBlock {
            ExportError::Invalid(e.to_string())
        } else {
            ExportError::io(out_dir, e)
        }
    })?;
    // What is in the folder, and which of it we wrote, before writing anything.
    let previous = ours_in(out_dir);
    let others = other_files(out_dir, &previous)?;
    if !others.is_empty() && !opts.allow_other_files {
        return Err(ExportError::Invalid(format!(
            "{} holds {} file(s) calibscope did not write (e.g. {}); toolchains that read the whole folder would calibrate on them. Choose an empty or new folder, or pass --allow-other-files to keep them there",
            out_dir.display(),
            others.len(),
            others[0]
        )));
    }

    report.stale_temporaries_removed = remove_stale_temporaries(out_dir)?;
    let abs_out = std::path::absolute(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
    // Record every name we may place before placing any, so a killed run
    // never leaves an image we would later call foreign.
    let mut tracked: std::collections::BTreeSet<String> = previous.clone();
    tracked.extend(unique.iter().map(|u| u.0.clone()));
    write_tracked(out_dir, &tracked)?;
    let abort_after: Option<usize> = std::env::var(ABORT_HOOK_ENV)
        .ok()
        .and_then(|v| v.parse().ok());

    progress.begin("copy", samples.len() as u64);
    for (s, (name, _)) in samples.iter().zip(&unique) {
        if progress.is_cancelled() {
            report.cancelled = true;
            break;
        }
        let dest = out_dir.join(name);
        let src_meta = match fs::metadata(&s.image) {
            Ok(m) if m.is_file() => m,
            Ok(_) => {
                skip(
                    &mut report,
                    progress,
                    s,
                    format!("{} is not a file", s.image.display()),
                );
                continue;
            }
            Err(e) => {
                skip(
                    &mut report,
                    progress,
                    s,
                    format!("image not readable: {}: {e}", s.image.display()),
                );
                continue;
            }
        };
        let abs_src = std::path::absolute(&s.image).map_err(|e| ExportError::io(&s.image, e))?;
        if is_complete(&dest, &abs_src, &src_meta, mode) {
            report.already_present += 1;
            progress.inc(1);
        } else {
            let placed = report.written + report.already_present;
            let hook = abort_after.filter(|&n| placed >= n);
            if let Err(e) = place(&abs_src, &src_meta, &dest, mode, hook.is_some()) {
                // One sample that cannot be placed (a name too long for
                // the file system, a full disk) is reported, not fatal.
                let reason = format!(
                    "cannot place {} as {} ({}): {e}{}",
                    s.image.display(),
                    dest.display(),
                    mode.name(),
                    hint(mode, &e)
                );
                skip(&mut report, progress, s, reason);
                continue;
            }
            report.written += 1;
            progress.inc(1);
        }
        report.images.push(CopiedImage {
            key: s.key.clone(),
            original_path: s.image.clone(),
            copied_path: dest,
            filename: name.clone(),
        });
    }

    let chosen: std::collections::BTreeSet<&str> =
        report.images.iter().map(|i| i.filename.as_str()).collect();
    if !report.cancelled && report.skipped.is_empty() {
        report.list_files = write_lists(out_dir, &abs_out, &report.images)?;
        // Lists first, then removal: a crash in between leaves extra
        // images that are still tracked, so the next run removes them.
        for name in &tracked {
            if chosen.contains(name.as_str()) {
                continue;
            }
            let p = out_dir.join(name);
            match fs::symlink_metadata(&p) {
                Ok(m) if !m.is_dir() => {
                    fs::remove_file(&p).map_err(|e| ExportError::io(&p, e))?;
                    report.removed.push(name.clone());
                }
                _ => {}
            }
        }
        let now: std::collections::BTreeSet<String> =
            chosen.iter().map(|n| n.to_string()).collect();
        write_tracked(out_dir, &now)?;
    }
    report.not_in_selection = list_images(out_dir)?
        .into_iter()
        .filter(|n| !chosen.contains(n.as_str()))
        .collect();
    Ok(report)
}

/// Image names calibscope placed in `dir`: our record plus the file names
/// the previous `calibration_metadata.json` lists (folders written before
/// the record existed, or by the seed's script). Only plain file names.
fn ours_in(dir: &Path) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    if let Ok(text) = fs::read_to_string(dir.join(WRITTEN_LIST)) {
        out.extend(text.lines().map(str::to_owned));
    }
    if let Ok(text) = fs::read_to_string(dir.join("calibration_metadata.json")) {
        if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(&text) {
            for it in items {
                if let Some(f) = it.get("filename").and_then(|f| f.as_str()) {
                    out.insert(f.to_owned());
                }
            }
        }
    }
    out.retain(|n| names::is_plain_file_name(n) && !n.ends_with(TMP_SUFFIX));
    out
}

/// Entries of `dir` that we did not write (sorted).
fn other_files(
    dir: &Path,
    ours: &std::collections::BTreeSet<String>,
) -> Result<Vec<String>, ExportError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ExportError::io(dir, e)),
    };
    let mut v = Vec::new();
    for e in rd {
        let e = e.map_err(|e| ExportError::io(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let known = ours.contains(&name)
            || LIST_FILES.contains(&name.as_str())
            || name == WRITTEN_LIST
            || name == fsutil::LOCK_FILE
            || (name.starts_with('.') && name.ends_with(TMP_SUFFIX));
        if !known {
            v.push(name);
        }
    }
    v.sort();
    Ok(v)
}

fn write_tracked(
    dir: &Path,
    names: &std::collections::BTreeSet<String>,
) -> Result<(), ExportError> {
    let text: String = names.iter().map(|n| format!("{n}\n")).collect();
    let p = dir.join(WRITTEN_LIST);
    fsutil::write_atomic(&p, text.as_bytes()).map_err(|e| ExportError::io(&p, e))
}

fn hint(mode: LinkMode, e: &io::Error) -> &'static str {
    match (mode, e.raw_os_error()) {
        // EXDEV: hard links cannot cross file systems.
        (LinkMode::Hardlink, Some(18)) => {
            " (hard links need the output folder on the dataset's file system; use --mode copy or symlink)"
        }
        _ => "",
    }
}

fn skip(report: &mut CopyReport, progress: &Progress, s: &ExportSample, reason: String) {
    report.skipped.push(Skipped {
        key: s.key.clone(),
        reason,
    });
    progress.inc_skipped(1);
}

fn is_complete(dest: &Path, abs_src: &Path, src: &fs::Metadata, mode: LinkMode) -> bool {
    let Ok(d) = fs::symlink_metadata(dest) else {
        return false;
    };
    use std::os::unix::fs::MetadataExt;
    let same_inode = d.dev() == src.dev() && d.ino() == src.ino();
    match mode {
        // A hard link left by an earlier run is not a copy: replace it, so
        // editing the copy can never edit the dataset.
        LinkMode::Copy => {
            d.file_type().is_file()
                && !same_inode
                && d.len() == src.len()
                && matches!((d.modified(), src.modified()), (Ok(a), Ok(b)) if a == b)
        }
        LinkMode::Hardlink => d.file_type().is_file() && same_inode,
        LinkMode::Symlink => {
            d.file_type().is_symlink() && fs::read_link(dest).is_ok_and(|t| t == abs_src)
        }
    }
}

/// Puts one image at `dest` through a temporary name in the same folder.
fn place(
    abs_src: &Path,
    src_meta: &fs::Metadata,
    dest: &Path,
    mode: LinkMode,
    abort_before_rename: bool,
) -> io::Result<()> {
    let tmp = fsutil::tmp_path_for(dest);
    // A leftover temporary (even a symlink into the dataset) must never be
    // written through: remove it and create the new one exclusively.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let result = (|| {
        match mode {
            LinkMode::Copy => {
                let mut from = fs::File::open(abs_src)?;
                let mut to = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&tmp)?;
                io::copy(&mut from, &mut to)?;
                if let Ok(t) = src_meta.modified() {
                    to.set_modified(t)?;
                }
                to.sync_all()?;
            }
            LinkMode::Hardlink => fs::hard_link(abs_src, &tmp)?,
            LinkMode::Symlink => std::os::unix::fs::symlink(abs_src, &tmp)?,
        }
        if abort_before_rename {
            // Like a SIGKILL: no destructor or clean-up runs (137 = 128 + 9).
            std::process::exit(137);
        }
        fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn list_images(dir: &Path) -> Result<Vec<String>, ExportError> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| ExportError::io(dir, e))? {
        let e = e.map_err(|e| ExportError::io(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let lower = name.to_ascii_lowercase();
        if [".png", ".jpg", ".jpeg"].iter().any(|x| lower.ends_with(x)) {
            v.push(name);
        }
    }
    v.sort();
    Ok(v)
}

/// The seed's three list files plus RKNN's `dataset.txt`.
fn write_lists(
    out_dir: &Path,
    abs_out: &Path,
    images: &[CopiedImage],
) -> Result<Vec<PathBuf>, ExportError> {
    let abs_lines: String = images
        .iter()
        .map(|i| format!("{}\n", abs_out.join(&i.filename).display()))
        .collect();
    let names: String = images.iter().map(|i| format!("{}\n", i.filename)).collect();
    let meta = PyJson::List(
        images
            .iter()
            .map(|i| {
                PyJson::dict([
                    (
                        "original_path",
                        PyJson::str(i.original_path.display().to_string()),
                    ),
                    (
                        "copied_path",
                        PyJson::str(i.copied_path.display().to_string()),
                    ),
                    ("filename", PyJson::str(&i.filename)),
                ])
            })
            .collect(),
    )
    .dump();
    let files = [
        ("image_list.txt", abs_lines.clone()),
        ("image_filenames.txt", names),
        ("calibration_metadata.json", meta),
        ("dataset.txt", abs_lines),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let p = out_dir.join(name);
        fsutil::write_atomic(&p, text.as_bytes()).map_err(|e| ExportError::io(&p, e))?;
        written.push(p);
    }
    Ok(written)
}
