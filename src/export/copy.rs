//! The calibration image folder: images named as the seed names them,
//! plus `image_list.txt` (absolute paths), `image_filenames.txt`,
//! `calibration_metadata.json` (`original_path`, `copied_path`, `filename`)
//! and RKNN's `dataset.txt` (one absolute image path per line).
//!
//! Safety and resumption:
//! - every key is checked first; one that could escape the folder stops the
//!   export before anything is written;
//! - refuses an output folder inside the dataset folder;
//! - each image is written (copied / linked) to a temporary name in the
//!   output folder and renamed into place, so a final name never holds a
//!   partial file; temporaries left by an interrupted run are removed at
//!   the start of the next;
//! - a final file that is already complete is kept: for copies, equal size
//!   and equal modification time (copies get the source's mtime, like the
//!   seed's `shutil.copy2`); for hard links, the same inode; for symbolic
//!   links, the same target. Anything else is replaced;
//! - the list files are written only when every image is done.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::names;
use super::pyjson::PyJson;
use super::{check_all, ensure_outside_dataset, ExportError, ExportSample, Renamed, Skipped};
use crate::fsutil::{self, TMP_SUFFIX};
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
    /// Temporary files of an interrupted earlier run, removed.
    pub stale_temporaries_removed: usize,
    /// Image files in the folder that are not part of this selection (kept).
    pub not_in_selection: Vec<String>,
    /// List files written (none when cancelled).
    pub list_files: Vec<PathBuf>,
    pub cancelled: bool,
}

impl CopyReport {
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} image(s) in {} ({} written, {} already there), mode {:?}\n",
            self.images.len(),
            self.out_dir.display(),
            self.written,
            self.already_present,
            self.mode
        );
        for r in &self.renamed {
            s.push_str(&format!(
                "renamed {}: {} was taken, wrote {}\n",
                r.key, r.seed_name, r.name
            ));
        }
        for k in &self.skipped {
            s.push_str(&format!("skipped {}: {}\n", k.key, k.reason));
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
    mode: LinkMode,
    progress: &Progress,
) -> Result<CopyReport, ExportError> {
    check_all(samples)?;
    ensure_outside_dataset(dataset_root, out_dir)?;
    let mut report = CopyReport {
        out_dir: out_dir.to_path_buf(),
        mode,
        ..CopyReport::default()
    };
    // Names: the seed's, made unique in selection order.
    let mut bases = Vec::with_capacity(samples.len());
    for s in samples {
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

    fs::create_dir_all(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
    report.stale_temporaries_removed = remove_stale_temporaries(out_dir)?;
    let abs_out = std::path::absolute(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
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
            place(&abs_src, &src_meta, &dest, mode, hook.is_some()).map_err(|e| {
                ExportError::Io {
                    path: dest.clone(),
                    source: io::Error::new(
                        e.kind(),
                        format!(
                            "placing {} ({mode:?}): {e}{}",
                            s.image.display(),
                            hint(mode, &e)
                        ),
                    ),
                }
            })?;
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

    let chosen: std::collections::HashSet<&str> = unique.iter().map(|u| u.0.as_str()).collect();
    report.not_in_selection = list_images(out_dir)?
        .into_iter()
        .filter(|n| !chosen.contains(n.as_str()))
        .collect();
    if !report.cancelled {
        report.list_files = write_lists(out_dir, &abs_out, &report.images)?;
    }
    Ok(report)
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

fn remove_stale_temporaries(dir: &Path) -> Result<usize, ExportError> {
    let mut n = 0;
    for e in fs::read_dir(dir).map_err(|e| ExportError::io(dir, e))? {
        let e = e.map_err(|e| ExportError::io(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(TMP_SUFFIX) {
            fs::remove_file(e.path()).map_err(|err| ExportError::io(&e.path(), err))?;
            n += 1;
        }
    }
    Ok(n)
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
