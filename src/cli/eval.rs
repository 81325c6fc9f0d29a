//! `calibscope eval`: evaluate a model or a folder of predictions on a split.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};

use crate::dataset::{DatasetSettings, DepthEncoding};
use crate::evaluate::{
    self, Crop, Decoder, DecoderKind, EvalRequest, EvalRun, EvalSettings, MaskBounds,
    PredictionSource, ResizeOrder,
};
use crate::progress::Progress;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CropArg {
    None,
    Garg,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Dataset root (the folder holding the sequences and split files).
    #[arg(long)]
    pub root: PathBuf,
    /// Split file to evaluate (e.g. splits/combined_val.json), relative to the root or absolute.
    #[arg(long)]
    pub split: PathBuf,
    /// ONNX model (FP32 or INT8 QDQ) to run on each sample's image.
    #[arg(long, group = "source", required_unless_present = "predictions")]
    pub model: Option<PathBuf>,
    /// Folder of predictions: <name>.npy, integer_sigmoid/ + fractional_sigmoid/, <name>.npz or 16-bit <name>.png.
    #[arg(long, group = "source")]
    pub predictions: Option<PathBuf>,
    /// How outputs become metres: sigmoid-inverse, dual-head, linear, depth, inverse-depth
    /// [default: from the prediction folder's layout, else sigmoid-inverse].
    #[arg(long)]
    pub decoder: Option<DecoderKind>,
    /// Evaluate pixels with GT above this depth (m).
    #[arg(long, default_value_t = 0.5)]
    pub min_depth: f64,
    /// Evaluate pixels with GT below this depth (m).
    #[arg(long, default_value_t = 15.0)]
    pub max_depth: f64,
    /// The network's depth bounds for the decoder [default: the model's metadata
    /// (min_depth/max_depth), else --min-depth/--max-depth].
    #[arg(long)]
    pub decoder_min_depth: Option<f64>,
    #[arg(long)]
    pub decoder_max_depth: Option<f64>,
    /// Inclusive GT mask (min <= gt <= max) instead of strict (min < gt < max).
    #[arg(long)]
    pub inclusive: bool,
    /// Per-image median scaling: pred *= median(gt) / median(pred).
    #[arg(long)]
    pub median_scaling: bool,
    /// Clamp predictions to [min-depth, max-depth] after scaling.
    #[arg(long)]
    pub clamp: bool,
    /// Image crop: none or garg.
    #[arg(long, value_enum, default_value_t = CropArg::None)]
    pub crop: CropArg,
    /// Validity mask PNG (e.g. binary_mask.png; > 127 is valid).
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Resize raw outputs to the GT size before decoding (default: decode, then resize).
    #[arg(long)]
    pub resize_before_decoding: bool,
    /// Bilinear resize with align_corners=True (packnet-sfm) instead of half-pixel centres.
    #[arg(long)]
    pub align_corners: bool,
    /// Edges of the per-range table (m).
    #[arg(long, value_delimiter = ',', default_value = "0.5,1,3,5,15")]
    pub range_edges: Vec<f64>,
    /// The model output to decode (single-head models with several outputs).
    #[arg(long)]
    pub output: Option<String>,
    /// Dual-head output names (also the prediction sub-folder names).
    #[arg(long, default_value = "integer_sigmoid")]
    pub integer_output: String,
    #[arg(long, default_value = "fractional_sigmoid")]
    pub fractional_output: String,
    /// uint8 predictions are multiplied by this.
    #[arg(long, default_value_t = 1.0 / 255.0)]
    pub uint8_scale: f64,
    #[command(flatten)]
    pub samples: super::SampleArgs,
    /// How GT depth PNGs map to metres: auto, kitti, millimetres, metres-8bit.
    #[arg(long, default_value = "auto")]
    pub depth_encoding: DepthEncoding,
    /// Name of the run in comparison tables [default: the model or folder name].
    #[arg(long)]
    pub label: Option<String>,
    /// Samples to leave out (suspects): a CSV with the header dataset_root,stem,reason.
    /// They are not scored and the run lists them under "excluded" with their reasons.
    #[arg(long)]
    pub exclude: Option<PathBuf>,
    /// Always run the network (neither read nor write the prediction cache).
    #[arg(long)]
    pub no_cache: bool,
    /// The run JSON to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Per-image metrics CSV to write.
    #[arg(long)]
    pub per_image: Option<PathBuf>,
}

pub fn run(a: EvalArgs) -> ExitCode {
    match run_inner(&a) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// The model's own depth bounds from its ONNX metadata (`min_depth`, `max_depth`).
fn model_bounds(path: &std::path::Path) -> Option<(f64, f64)> {
    let m = crate::onnx::load(path).ok()?;
    let get = |k: &str| {
        m.metadata_props
            .iter()
            .find(|p| p.key() == k)
            .and_then(|p| p.value().trim().parse::<f64>().ok())
    };
    Some((get("min_depth")?, get("max_depth")?))
}

fn run_inner(a: &EvalArgs) -> Result<ExitCode, String> {
    let settings = EvalSettings {
        min_depth: a.min_depth,
        max_depth: a.max_depth,
        bounds: if a.inclusive {
            MaskBounds::Inclusive
        } else {
            MaskBounds::Strict
        },
        median_scaling: a.median_scaling,
        clamp: a.clamp,
        crop: match a.crop {
            CropArg::None => Crop::None,
            CropArg::Garg => Crop::Garg,
        },
        validity_mask: a.mask.clone(),
        resize: if a.resize_before_decoding {
            ResizeOrder::BeforeDecoding
        } else {
            ResizeOrder::AfterDecoding
        },
        align_corners: a.align_corners,
        range_edges: a.range_edges.clone(),
    };
    settings.validate()?;
    let mut decoder = Decoder {
        kind: a.decoder.unwrap_or_default(),
        min_depth: a.min_depth,
        max_depth: a.max_depth,
        output: a.output.clone(),
        integer_output: a.integer_output.clone(),
        fractional_output: a.fractional_output.clone(),
    };
    let (source, default_label) = match (&a.model, &a.predictions) {
        (Some(m), _) => {
            if let Some((lo, hi)) = model_bounds(m) {
                (decoder.min_depth, decoder.max_depth) = (lo, hi);
            }
            (
                PredictionSource::Model {
                    path: m.clone(),
                    preprocess: None,
                },
                m.file_stem().map(|s| s.to_string_lossy().into_owned()),
            )
        }
        (None, Some(p)) => {
            if a.decoder.is_none() {
                if let Some(k) = crate::evaluate::predict::suggest_decoder(p, &decoder) {
                    decoder.kind = k;
                }
            }
            (
                PredictionSource::Folder {
                    path: p.clone(),
                    uint8_scale: a.uint8_scale,
                },
                p.file_name().map(|s| s.to_string_lossy().into_owned()),
            )
        }
        (None, None) => return Err("give --model M.onnx or --predictions DIR".into()),
    };
    if let Some(v) = a.decoder_min_depth {
        decoder.min_depth = v;
    }
    if let Some(v) = a.decoder_max_depth {
        decoder.max_depth = v;
    }
    let excluded = match &a.exclude {
        Some(p) => evaluate::exclude::read_excluded(p)?,
        None => Vec::new(),
    };
    let listed = excluded.len();
    let req = EvalRequest {
        root: a.root.clone(),
        split: a.split.clone(),
        dataset: DatasetSettings {
            depth_encoding: a.depth_encoding,
            ..a.samples.settings()
        },
        source,
        decoder,
        settings,
        cache_dir: None,
        use_cache: !a.no_cache,
        label: a
            .label
            .clone()
            .or(default_label)
            .unwrap_or_else(|| "run".into()),
        excluded,
    };
    eprintln!(
        "evaluating {} with decoder {}",
        req.label,
        req.decoder.describe()
    );

    let progress = Progress::new();
    super::ticking::cancel_on_ctrl_c(&progress);
    let run = with_progress(&progress, || evaluate::evaluate(&req, &progress))
        .map_err(|e| e.to_string())?;
    if run.cancelled {
        eprintln!(
            "cancelled after {} samples; no output written",
            run.per_sample.len()
        );
        return Ok(ExitCode::from(130));
    }
    // Files first: the printed summary may go to a closed pipe (`| head`).
    run.save(&a.out)?;
    if let Some(p) = &a.per_image {
        crate::fsutil::write_atomic(p, run.per_image_csv().as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    }
    print_run(&run);
    if let Some(p) = &a.exclude {
        // A typo in the list would silently score the sample: say how many matched.
        eprintln!(
            "{}: {listed} samples listed, {} split entries excluded",
            p.display(),
            run.excluded.len()
        );
    }
    eprintln!("wrote {}", a.out.display());
    if let Some(p) = &a.per_image {
        eprintln!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `work` with progress on stderr: a bar on a terminal, a status line
/// every few seconds otherwise.
fn with_progress<T: Send>(progress: &Progress, work: impl FnOnce() -> T + Send) -> T {
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} samples")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b
    });
    let mut last = Instant::now();
    let out = super::ticking::run_ticking(work, || {
        let snap = progress.snapshot();
        match &bar {
            Some(b) => {
                b.set_length(snap.total);
                b.set_position(snap.done);
                let line = snap.status_line("samples");
                let tail = line.split(" · ").skip(1).collect::<Vec<_>>().join(" · ");
                b.set_message(if snap.cancelled {
                    "cancelling…".to_string()
                } else {
                    format!("{} {tail}", snap.stage)
                });
            }
            None => {
                if last.elapsed() >= Duration::from_secs(5) {
                    eprintln!("{}", snap.status_line("samples"));
                    last = Instant::now();
                }
            }
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "n/a".into()
    }
}

fn print_run(run: &EvalRun) {
    println!(
        "{}: {} images, {} pixels ({}; {} m{}{}{})",
        run.label,
        run.images,
        run.pixels,
        run.decoder.describe(),
        format_args!("{}–{}", run.settings.min_depth, run.settings.max_depth),
        if run.settings.median_scaling {
            ", median scaling"
        } else {
            ""
        },
        if run.settings.clamp { ", clamp" } else { "" },
        if run.settings.crop == Crop::Garg {
            ", Garg crop"
        } else {
            ""
        },
    );
    println!("{:<10} {:>10} {:>10}", "metric", "mean", "std");
    let (m, s) = (run.metrics.values(), run.std.values());
    for (i, name) in evaluate::MetricSet::NAMES.iter().enumerate() {
        println!("{name:<10} {:>10} {:>10}", fmt(m[i]), fmt(s[i]));
    }
    if !run.per_range.is_empty() {
        println!(
            "\n{:<12} {:>10} {:>8} {:>10} {:>8}",
            "range (m)", "abs_rel", "a1", "pixels", "images"
        );
        for r in &run.per_range {
            println!(
                "{:<12} {:>10} {:>8} {:>10} {:>8}",
                format!("{}–{}", r.lo, r.hi),
                fmt(r.metrics.abs_rel),
                fmt(r.metrics.a1),
                r.pixels,
                r.images
            );
        }
    }
    if !run.no_valid_pixels.is_empty() {
        println!(
            "\n{} images have no valid pixel under the mask (left out of the means):",
            run.no_valid_pixels.len()
        );
        for p in run.no_valid_pixels.iter().take(10) {
            println!("  {}/{}", p.dataset_root, p.stem);
        }
    }
    if !run.excluded.is_empty() {
        println!(
            "\n{} samples excluded as suspect (not scored):",
            run.excluded.len()
        );
        for p in run.excluded.iter().take(10) {
            println!("  {}/{}: {}", p.dataset_root, p.stem, p.reason);
        }
    }
    if !run.skipped.is_empty() {
        println!("\n{} samples skipped:", run.skipped.len());
        for p in run.skipped.iter().take(10) {
            println!("  {}/{}: {}", p.dataset_root, p.stem, p.reason);
        }
    }
    if !run.unmatched_files.is_empty() {
        println!("\n{} prediction files not used:", run.unmatched_files.len());
        for p in run.unmatched_files.iter().take(10) {
            println!("  {p}");
        }
    }
    if run.source.kind == "model" {
        println!(
            "\nprediction cache: {} hits, {} misses, network ran on {} images",
            run.cache.hits, run.cache.misses, run.cache.network_runs
        );
    }
}
