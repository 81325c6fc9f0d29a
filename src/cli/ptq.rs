//! `calibscope ptq`: quantize an FP32 ONNX model to INT8 QDQ from a calibration set.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::preprocess::{ChannelOrder, PreprocessSettings, ResizeFilter};
use crate::progress::Progress;
use crate::quantize::{
    self, ActivationType, CalibrationSource, InputRange, MethodOptions, PtqOptions, PtqRequest,
    PtqSettings, RangeMethod,
};

/// How the fidelity check after quantizing turns outputs into depth
/// (`ptq`, `toolchain`).
#[derive(Debug, Args)]
pub struct FidelityDecoderArgs {
    /// Decoder for the depth error of the fidelity check: sigmoid-inverse, dual-head, linear, depth, inverse-depth.
    #[arg(long)]
    pub decoder: Option<crate::evaluate::DecoderKind>,
    /// The decoder's depth bounds (the network's min and max depth, metres).
    #[arg(long, default_value_t = 0.5)]
    pub decoder_min_depth: f64,
    #[arg(long, default_value_t = 15.0)]
    pub decoder_max_depth: f64,
}

impl FidelityDecoderArgs {
    /// None without `--decoder` (the check then compares outputs only).
    pub fn decoder(&self) -> Option<crate::evaluate::Decoder> {
        self.decoder.map(|kind| crate::evaluate::Decoder {
            kind,
            min_depth: self.decoder_min_depth,
            max_depth: self.decoder_max_depth,
            ..Default::default()
        })
    }
}

#[derive(Debug, Args)]
pub struct PtqArgs {
    /// The FP32 ONNX model.
    #[arg(long)]
    pub model: PathBuf,
    /// The INT8 QDQ model to write (ranges.json and the calibration cache go beside it).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Calibration images: an image list (one path per line).
    #[arg(long, group = "source")]
    pub image_list: Option<PathBuf>,
    /// Calibration images: a split JSON (e.g. calibration_split.json); needs --root.
    /// Looked up as given, then relative to the root (as `scan` does).
    #[arg(long, group = "source", requires = "root")]
    pub split: Option<PathBuf>,
    /// Dataset root the split's entries are relative to.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// With --split: folder of RGB images inside each sequence (as `scan --image-folder`).
    #[arg(long, default_value = "image_a6")]
    pub image_folder: String,
    /// With --split: image extension to try, in order (repeat the option); default png, jpg, jpeg.
    #[arg(long = "image-ext", value_name = "EXT")]
    pub image_exts: Vec<String>,
    /// With --split: accept entries outside --root (absolute paths elsewhere, `..`,
    /// symbolic links leading out, e.g. a dataset linked in from another disk).
    #[arg(long)]
    pub allow_absolute_roots: bool,
    /// Calibration inputs: a folder of .npy input tensors (or of images).
    #[arg(long, group = "source")]
    pub folder: Option<PathBuf>,
    /// Reuse the ranges of an earlier run (its .ranges.json) instead of calibrating.
    #[arg(long, group = "source")]
    pub ranges: Option<PathBuf>,
    /// Range method: minmax, percentile, entropy, mse.
    #[arg(long, default_value = "minmax")]
    pub method: RangeMethod,
    /// Percentile for --method percentile.
    #[arg(long, default_value_t = 99.999)]
    pub percentile: f64,
    /// Histogram bins for percentile / entropy / mse (default: ONNX Runtime's, 128 for entropy, 2048 otherwise).
    #[arg(long)]
    pub bins: Option<usize>,
    /// Calibrate the graph input like other tensors instead of taking its range from the preprocessing.
    #[arg(long)]
    pub calibrate_input_range: bool,
    #[command(flatten)]
    pub fidelity_decoder: FidelityDecoderArgs,
    /// Held-out inputs for the fidelity check after quantizing (0: no check).
    #[arg(long, default_value_t = 16)]
    pub fidelity_samples: usize,
    /// Activations as int8 symmetric instead of uint8 asymmetric.
    #[arg(long)]
    pub int8_activations: bool,
    /// Per-channel weight scales (opset 13+; the users' NPU is per-tensor).
    #[arg(long)]
    pub per_channel: bool,
    /// Tensors to keep float (repeatable).
    #[arg(long = "keep-float-tensor")]
    pub keep_float_tensors: Vec<String>,
    /// Nodes (by name) to keep float (repeatable).
    #[arg(long = "keep-float-node")]
    pub keep_float_nodes: Vec<String>,
    /// Input size WxH for a model with a dynamic input size.
    #[arg(long, value_parser = parse_size)]
    pub input_size: Option<(u32, u32)>,
    /// Resize filter: bilinear or lanczos.
    #[arg(long, default_value = "bilinear", value_parser = ["bilinear", "lanczos"])]
    pub resize: String,
    /// Feed BGR instead of RGB.
    #[arg(long)]
    pub bgr: bool,
    /// Use at most this many calibration inputs.
    #[arg(long)]
    pub max_images: Option<usize>,
    /// Read the model's external data files even when they lie outside its
    /// folder (absolute paths, `..`, links out): for weights kept on another disk.
    #[arg(long)]
    pub allow_external_data_outside: bool,
}

pub(crate) fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or("size is WxH, e.g. 640x384")?;
    Ok((
        w.parse().map_err(|_| "bad width")?,
        h.parse().map_err(|_| "bad height")?,
    ))
}

pub fn run(a: PtqArgs) -> ExitCode {
    let calibration = if let Some(l) = &a.image_list {
        CalibrationSource::ImageList(l.clone())
    } else if let Some(s) = &a.split {
        CalibrationSource::Split {
            split: s.clone(),
            root: a.root.clone().unwrap_or_default(),
            dataset: super::dataset_settings(
                Some(&a.image_folder),
                &a.image_exts,
                a.allow_absolute_roots,
                None,
            ),
        }
    } else if let Some(f) = &a.folder {
        CalibrationSource::Folder(f.clone())
    } else if a.ranges.is_some() {
        CalibrationSource::Files(Vec::new())
    } else {
        eprintln!("error: give the calibration set: --image-list, --split with --root, --folder, or --ranges");
        return ExitCode::from(2);
    };
    let mut settings = PtqSettings {
        input_size: a.input_size,
        method: a.method,
        method_options: MethodOptions::for_method(a.method),
        max_images: a.max_images,
        allow_external_data_outside: a.allow_external_data_outside,
        ..Default::default()
    };
    let options = PtqOptions {
        input_range: if a.calibrate_input_range {
            InputRange::Calibrated
        } else {
            InputRange::Preprocessing
        },
        fidelity_samples: a.fidelity_samples,
        held_out: None,
        decoder: a.fidelity_decoder.decoder(),
    };
    settings.method_options.percentile = a.percentile;
    settings.method_options.num_bins = a.bins.unwrap_or(a.method.default_bins());
    settings.qdq.per_channel = a.per_channel;
    settings.qdq.exclude_tensors = a.keep_float_tensors;
    settings.qdq.exclude_nodes = a.keep_float_nodes;
    if a.int8_activations {
        settings.qdq.activation_type = ActivationType::Int8;
    }
    if a.resize != "bilinear" || a.bgr {
        // Prefill from the model, then apply the overrides.
        match crate::onnx::load_with(&a.model, a.allow_external_data_outside)
            .map_err(|e| e.to_string())
            .and_then(|m| {
                PreprocessSettings::from_model(&crate::onnx::summarize(&m), a.input_size)
                    .map_err(|e| e.to_string())
            }) {
            Ok(mut p) => {
                if a.resize == "lanczos" {
                    p.filter = ResizeFilter::Lanczos;
                }
                if a.bgr {
                    p.channel_order = ChannelOrder::Bgr;
                }
                settings.preprocess = Some(p);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let req = PtqRequest {
        model: a.model,
        calibration,
        settings,
        output: a.output,
        ranges_from: a.ranges,
    };
    let progress = Progress::new();
    super::ticking::cancel_on_ctrl_c(&progress);
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} images ({eta})")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_message("calibrating");
    let result = super::ticking::run_ticking(
        || quantize::run_ptq_with(&req, &options, &progress),
        || {
            let snap = progress.snapshot();
            bar.set_length(snap.total);
            bar.set_position(snap.done);
        },
    );
    bar.finish_and_clear();
    match result {
        Ok(r) => {
            println!(
                "INT8 model written to {} ({} activations quantized, {} weights, {} biases)",
                r.output.display(),
                r.ranges.iter().filter(|x| x.scale.is_some()).count(),
                r.weights_quantized,
                r.biases_quantized
            );
            println!(
                "Calibration: {} inputs from {} (sha256 {}…), method {}, {:.1}s of {:.1}s",
                r.calibration_set.count,
                r.calibration_set.source,
                &r.calibration_set.sha256.get(..12).unwrap_or(""),
                req.settings.method,
                r.calibration_seconds,
                r.total_seconds
            );
            if let Some(w) = &r.ranges_model_mismatch {
                println!("warning: {w}");
            }
            for w in &r.range_warnings {
                println!("warning: {w}");
            }
            match (&r.fidelity, &r.fidelity_note) {
                (Some(f), _) => {
                    println!("{} (held out from calibration)", f.line());
                    if let Some(w) = &f.warning {
                        println!("warning: {w}");
                    }
                    if let Some(p) = &r.fidelity_path {
                        println!("Fidelity: {}", p.display());
                    }
                }
                (None, Some(note)) => println!("{note}"),
                (None, None) => {}
            }
            for (w, why) in &r.weights_left_float {
                println!("kept float: {w} ({why})");
            }
            println!("Ranges: {}", r.ranges_path.display());
            println!(
                "TensorRT-style calibration cache: {}",
                r.calibration_cache_path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e @ (quantize::PtqError::Cancelled(_) | quantize::PtqError::CancelledFidelity)) => {
            eprintln!("{e}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
