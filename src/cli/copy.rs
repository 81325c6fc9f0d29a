//! `calibscope copy`: put the selected images into a folder named as the
//! seed names them, with the list files toolchains read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::dataset::{self, DatasetSettings, SplitEntry};
use crate::export::{self, ExportSample, LinkMode};
use crate::metadata;
use crate::progress::Progress;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Copy,
    Hardlink,
    Symlink,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The dataset root folder (the split's dataset_root entries are below it, or absolute).
    #[arg(long)]
    pub root: PathBuf,
    /// The calibration split (written by `calibscope select` or the seed script).
    /// Looked up as given, then relative to the root (as `scan` does).
    #[arg(long, default_value = "calibration_split.json")]
    pub split: PathBuf,
    /// Metadata from `calibscope scan`: gives each sample's exact image path
    /// (without it, `<dataset_root>/<image folder>/<stem>.<ext>` is looked
    /// for; a `--json` metadata file also gives the image folder).
    #[arg(long)]
    pub metadata: Option<PathBuf>,
    /// Folder of RGB images inside each sequence (default: the metadata
    /// JSON's, else image_a6).
    #[arg(long)]
    pub image_folder: Option<String>,
    /// Image extension to try, in order (repeat the option); default png, jpg, jpeg.
    #[arg(long = "image-ext", value_name = "EXT")]
    pub image_exts: Vec<String>,
    /// Output folder (created; must be outside the dataset).
    #[arg(long, default_value = "calibration_images")]
    pub out: PathBuf,
    /// copy (independent files), hardlink (same file system only) or symlink (absolute links).
    #[arg(long, value_enum, default_value_t = ModeArg::Copy)]
    pub mode: ModeArg,
    /// Proceed although the output folder holds files calibscope did not
    /// write (they are kept; toolchains reading the folder will see them).
    #[arg(long)]
    pub allow_other_files: bool,
    /// Accept split entries whose dataset_root (or image path) is absolute
    /// or outside --root, as `scan --allow-absolute-roots` does.
    #[arg(long)]
    pub allow_absolute_roots: bool,
}

/// The split's entries, strictly (a bad entry is an error naming it): the
/// split as given, then under the root, as every command finds it.
pub fn read_split_entries(root: &Path, split: &Path) -> Result<Vec<SplitEntry>, String> {
    let path = dataset::locate_split(root, split).map_err(|e| e.to_string())?;
    dataset::read_split_file(&path)
        .and_then(|s| s.strict())
        .map_err(|e| e.to_string())
}

/// Export samples for split entries: image paths from the metadata when
/// given, else found by the dataset's rules with `settings`. The escape
/// rule is applied when the samples are exported (refusing the whole run).
pub fn samples_for(
    root: &Path,
    entries: &[SplitEntry],
    metadata: Option<&Path>,
    settings: &DatasetSettings,
) -> Result<Vec<ExportSample>, String> {
    let rows = match metadata {
        Some(p) => metadata::read_any(p).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let index = dataset::KeyIndex::new(
        rows.iter()
            .map(|r| (r.dataset_root.as_str(), r.filename.as_str())),
    );
    Ok(entries
        .iter()
        .map(|e| match index.find(&e.dataset_root, &e.stem) {
            Some(i) => ExportSample::from_row(root, &rows[i]),
            None => ExportSample::locate(root, e, settings),
        })
        .collect())
}

/// Runs `f` while a terminal bar follows `progress` (hidden when not a terminal).
pub fn with_bar<T: Send>(progress: &Progress, f: impl FnOnce() -> T + Send) -> T {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::default_bar()
        .template("{msg:>8} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let out = super::ticking::run_ticking(f, || {
        let s = progress.snapshot();
        bar.set_length(s.total);
        bar.set_position(s.done);
        bar.set_message(s.stage);
    });
    bar.finish_and_clear();
    out
}

fn go(a: &CopyArgs) -> Result<(), String> {
    let mut paths = crate::paths::RunPaths::new()
        .input("split", &a.split)
        .dataset(&a.root);
    if let Some(m) = &a.metadata {
        paths = paths.input("metadata", m);
    }
    for name in export::copy::OUTPUT_FILES {
        paths = paths.output(name, &a.out.join(name));
    }
    paths.check().map_err(|e| e.to_string())?;
    let entries = read_split_entries(&a.root, &a.split)?;
    let settings = super::dataset_settings(
        a.image_folder.as_deref(),
        &a.image_exts,
        a.allow_absolute_roots,
        a.metadata.as_deref(),
    );
    let samples = samples_for(&a.root, &entries, a.metadata.as_deref(), &settings)?;
    let mode = match a.mode {
        ModeArg::Copy => LinkMode::Copy,
        ModeArg::Hardlink => LinkMode::Hardlink,
        ModeArg::Symlink => LinkMode::Symlink,
    };
    let opts = export::CopyOptions {
        mode,
        allow_other_files: a.allow_other_files,
        allow_absolute_roots: a.allow_absolute_roots,
    };
    let progress = Progress::new();
    let report = with_bar(&progress, || {
        export::copy_images(&a.root, &samples, &a.out, opts, &progress)
    })
    .map_err(|e| e.to_string())?;
    print!("{}", report.to_text());
    if !report.skipped.is_empty() {
        return Err(format!(
            "{} sample(s) could not be copied (listed above); the list files were not rewritten",
            report.skipped.len()
        ));
    }
    Ok(())
}

pub fn run(a: CopyArgs) -> ExitCode {
    match go(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
