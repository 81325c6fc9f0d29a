//! `calibscope export`: `calibration_statistics.json` (seed keys, matched
//! by dataset_root and stem), optional preprocessed `.npy` tensors, and
//! with `--report DIR` the report figures (see `crate::report`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::copy::{read_split_entries, samples_for, with_bar};
use crate::export::{self, TensorOptions};
use crate::metadata;
use crate::preprocess::{ChannelOrder, Layout, ResizeFilter};
use crate::progress::Progress;
use crate::report::{self, ReportInputs};
use crate::select::Bins;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The calibration split (written by `calibscope select` or the seed script).
    /// Looked up as given, then relative to --root when given (as `scan` does).
    #[arg(long, default_value = "calibration_split.json")]
    pub split: PathBuf,
    /// Metadata from `calibscope scan` (.csv or .json).
    #[arg(long)]
    pub metadata: PathBuf,
    /// Output folder.
    #[arg(long, default_value = "calibration_analysis")]
    pub out: PathBuf,
    /// Write calibration_statistics.json (the default when nothing else is asked).
    #[arg(long)]
    pub statistics: bool,
    /// Write one preprocessed .npy tensor per sample ([1,3,H,W] float32 RGB in [0,1]) and tensor_list.txt,
    /// byte-identical to what `calibscope ptq` feeds the model with the same settings.
    #[arg(long)]
    pub tensors: bool,
    /// Tensor size WIDTHxHEIGHT.
    #[arg(long, default_value = "640x384")]
    pub size: String,
    /// Tensor resize filter: bilinear or lanczos (as `ptq --resize`).
    #[arg(long, default_value = "bilinear", value_parser = ["bilinear", "lanczos"])]
    pub resize: String,
    /// Tensors in BGR channel order instead of RGB (as `ptq --bgr`).
    #[arg(long)]
    pub bgr: bool,
    /// Tensor layout: nchw ([1,3,H,W]) or nhwc ([1,H,W,3]).
    #[arg(long, default_value = "nchw", value_parser = ["nchw", "nhwc"])]
    pub layout: String,
    /// Dataset root folder (needed for --tensors; with it, outputs inside the dataset are refused).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Accept split entries whose dataset_root (or image path) is absolute
    /// or outside --root, as `scan --allow-absolute-roots` does.
    #[arg(long)]
    pub allow_absolute_roots: bool,
    /// Folder of RGB images inside each sequence, for --tensors (default:
    /// the metadata JSON's, else image_a6).
    #[arg(long)]
    pub image_folder: Option<String>,
    /// Image extension to try, in order (repeat the option); default png, jpg, jpeg.
    #[arg(long = "image-ext", value_name = "EXT")]
    pub image_exts: Vec<String>,
    /// Write the report into DIR: calibration_statistics.json and the figures
    /// (PNG, 1200x800 at 150 DPI) of the dataset against the calibration set;
    /// with --root, also a grid of sample images.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

fn parse_size(s: &str) -> Result<TensorOptions, String> {
    let bad = || format!("--size {s:?}: expected WIDTHxHEIGHT, e.g. 640x384");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let opts = TensorOptions {
        width: w.trim().parse().map_err(|_| bad())?,
        height: h.trim().parse().map_err(|_| bad())?,
        ..TensorOptions::default()
    };
    opts.validate().map_err(|e| format!("--size {s:?}: {e}"))?;
    Ok(opts)
}

fn go(a: &ExportArgs) -> Result<(), String> {
    // Everything that can be refused is checked before the first write.
    let mut opts = if a.tensors {
        parse_size(&a.size)?
    } else {
        TensorOptions::default()
    };
    opts.allow_absolute_roots = a.allow_absolute_roots;
    let tensor_root = match (a.tensors, &a.root) {
        (false, _) => None,
        (true, Some(root)) => Some(root),
        (true, None) => return Err("--tensors needs --root DATASET_ROOT to find the images".into()),
    };
    let entries = match &a.root {
        Some(root) => read_split_entries(root, &a.split)?,
        None => crate::dataset::read_split_file(&a.split)
            .and_then(|s| s.strict())
            .map_err(|e| e.to_string())?,
    };
    let keys: Vec<_> = entries.iter().map(|e| e.key()).collect();
    let rows = metadata::read_any(&a.metadata).map_err(|e| e.to_string())?;
    match &a.root {
        Some(root) => export::ensure_outside_dataset(root, &a.out),
        None => export::ensure_outside_metadata_dataset(&rows, &a.out),
    }
    .map_err(|e| e.to_string())?;
    let mut paths = crate::paths::RunPaths::new()
        .input("split", &a.split)
        .input("metadata", &a.metadata)
        .output(
            "calibration statistics",
            &a.out.join("calibration_statistics.json"),
        );
    if let Some(root) = &a.root {
        paths = paths.dataset(root);
    }
    paths.check().map_err(|e| e.to_string())?;
    if let Some(dir) = &a.report {
        match &a.root {
            Some(root) => export::ensure_outside_dataset(root, dir),
            None => export::ensure_outside_metadata_dataset(&rows, dir),
        }
        .map_err(|e| e.to_string())?;
    }
    let (mut indices, missing) = export::match_rows(&rows, &keys);
    let before = indices.len();
    let mut seen = vec![false; rows.len()];
    indices.retain(|&i| !std::mem::replace(&mut seen[i], true));
    if indices.len() < before {
        println!(
            "note: {} split entr(ies) repeat a sample already listed (also `seq/` vs `seq`); each sample counts once",
            before - indices.len()
        );
    }
    if !missing.is_empty() {
        println!(
            "note: {} split entr(ies) are not in {} (first: {}); they are left out",
            missing.len(),
            a.metadata.display(),
            missing[0]
        );
    }
    let statistics = a.statistics || (!a.tensors && a.report.is_none());
    if statistics {
        let stats = export::calibration_statistics(&rows, &indices);
        let p = a.out.join("calibration_statistics.json");
        export::write_statistics(&p, &stats).map_err(|e| e.to_string())?;
        println!("wrote {} ({} samples)", p.display(), stats.total_samples);
    }
    if let Some(dir) = &a.report {
        let view: Vec<usize> = (0..rows.len()).collect();
        let bins = Bins::default();
        let input = ReportInputs {
            rows: &rows,
            view: &view,
            selected: &indices,
            bins: &bins,
            image_root: a.root.as_deref(),
        };
        let progress = Progress::new();
        let files = with_bar(&progress, || report::write_report(dir, &input, &progress))
            .map_err(|e| e.to_string())?;
        println!(
            "wrote {} and {} figure(s) to {}",
            files.statistics.display(),
            files.figures.len(),
            dir.display()
        );
    }
    if let Some(root) = tensor_root {
        let settings = super::dataset_settings(
            a.image_folder.as_deref(),
            &a.image_exts,
            a.allow_absolute_roots,
            Some(&a.metadata),
        );
        let samples = samples_for(root, &entries, Some(&a.metadata), &settings)?;
        let mut pre = opts.preprocess();
        if a.resize == "lanczos" {
            pre.filter = ResizeFilter::Lanczos;
        }
        if a.bgr {
            pre.channel_order = ChannelOrder::Bgr;
        }
        if a.layout == "nhwc" {
            pre.layout = Layout::Nhwc;
        }
        let progress = Progress::new();
        let report = with_bar(&progress, || {
            export::write_tensors_with(
                root,
                &samples,
                &a.out,
                &pre,
                opts.allow_absolute_roots,
                &progress,
            )
        })
        .map_err(|e| e.to_string())?;
        for s in &report.skipped {
            println!("skipped {}: {}", s.key, s.reason);
        }
        if !report.duplicates.is_empty() {
            println!(
                "note: {} sample(s) are listed more than once; one tensor each (first: {})",
                report.duplicates.len(),
                report.duplicates[0]
            );
        }
        println!(
            "wrote {} tensor(s) {:?} to {}",
            report.written.len(),
            pre.input_shape(),
            a.out.display()
        );
        if !report.skipped.is_empty() {
            return Err(format!(
                "{} image(s) could not be converted",
                report.skipped.len()
            ));
        }
    }
    Ok(())
}

pub fn run(a: ExportArgs) -> ExitCode {
    match go(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
