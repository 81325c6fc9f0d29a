//! `calibscope diagnose`: where an INT8 model loses against its FP32 original.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::diagnose_methods;
use crate::diagnose::run::{run_diagnose, DiagnoseReport, DiagnoseRequest, REPORT_FORMAT};
use crate::diagnose::sweep::EvalSplit;
use crate::diagnose::tensors::TensorKind;
use crate::evaluate::{Decoder, DecoderKind, EvalSettings};
use crate::progress::Progress;
use crate::quantize::CalibrationSource;

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// The FP32 ONNX model.
    #[arg(long)]
    pub model: PathBuf,
    /// Its INT8 QDQ model (optional with --methods or --inspect).
    #[arg(long, required_unless_present_any = ["methods", "inspect"])]
    pub int8: Option<PathBuf>,
    /// Inputs: a split JSON; needs --root.
    #[arg(long, group = "source", requires = "root")]
    pub split: Option<PathBuf>,
    /// Dataset root the split's entries are relative to.
    #[arg(long)]
    pub root: Option<PathBuf>,
    #[command(flatten)]
    pub samples: super::SampleArgs,
    /// Inputs: a folder of images (or of .npy input tensors).
    #[arg(long, group = "source")]
    pub folder: Option<PathBuf>,
    /// Inputs to compare on, evenly spaced over the split or folder.
    #[arg(long, default_value_t = 16)]
    pub images: usize,
    /// Input size WxH for a model with a dynamic input size.
    #[arg(long, value_parser = super::ptq::parse_size)]
    pub input_size: Option<(u32, u32)>,
    /// The JSON report to write.
    #[arg(long)]
    pub out: PathBuf,
    /// How outputs become depth: sigmoid-inverse, dual-head, linear, depth, inverse-depth.
    #[arg(long, default_value = "sigmoid-inverse")]
    pub decoder: DecoderKind,
    /// The decoder's depth bounds (the network's min and max depth, metres).
    #[arg(long, default_value_t = 0.5)]
    pub decoder_min_depth: f64,
    #[arg(long, default_value_t = 15.0)]
    pub decoder_max_depth: f64,
    /// The output to decode when the model has several (single-head decoders).
    #[arg(long)]
    pub output: Option<String>,
    /// GT depths counted by the output floor: min and max (metres).
    #[arg(long, default_value_t = 0.5)]
    pub min_depth: f64,
    #[arg(long, default_value_t = 15.0)]
    pub max_depth: f64,
    /// Keep each of the K activations with the worst isolated SQNR float in
    /// turn (requantized from the INT8 model's .ranges.json) and measure abs_rel on the split.
    #[arg(long)]
    pub sweep: Option<usize>,
    /// abs_rel the sweep's recommendation should reach (default: halfway from INT8 to FP32).
    #[arg(long)]
    pub target_abs_rel: Option<f64>,
    /// Depth range edges for the output floor (metres).
    #[arg(long, value_delimiter = ',', default_value = "0.5,1,3,5,15")]
    pub range_edges: Vec<f64>,
    /// Compare MinMax, Percentile, Entropy and MSE (each with its defaults)
    /// from one calibration: ranges per tensor, fidelity on the inputs not
    /// calibrated on, and abs_rel on the split when one is given.
    #[arg(long)]
    pub methods: bool,
    /// Show a tensor's histogram with each method's clip thresholds and the
    /// share of values each clips.
    #[arg(long, value_name = "TENSOR")]
    pub inspect: Option<String>,
    /// Draw the --inspect histogram (log counts, thresholds) into this PNG.
    #[arg(long, value_name = "FILE", requires = "inspect")]
    pub inspect_png: Option<PathBuf>,
    /// Calibration set for --methods / --inspect: an image list (one path per line).
    #[arg(long, group = "calibration")]
    pub calibration_list: Option<PathBuf>,
    /// Calibration set for --methods / --inspect: a split JSON under --root.
    #[arg(long, group = "calibration", requires = "root")]
    pub calibration_split: Option<PathBuf>,
    /// Calibration set for --methods / --inspect: a folder of images or .npy tensors.
    #[arg(long, group = "calibration")]
    pub calibration_folder: Option<PathBuf>,
}

/// Runs `f` on a worker thread while a progress bar follows it. A failure
/// is printed and becomes the exit code: 130 when Ctrl-C cancelled the work.
fn with_progress<T: Send, E: std::fmt::Display + Send>(
    unit: &str,
    f: impl FnOnce(&Progress) -> Result<T, E> + Send,
) -> Result<T, ExitCode> {
    let progress = Progress::new();
    super::ticking::cancel_on_ctrl_c(&progress);
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{eta}})"
        ))
        .expect("template")
        .progress_chars("=> "),
    );
    let result = super::ticking::run_ticking(
        || f(&progress),
        || {
            let snap = progress.snapshot();
            bar.set_message(snap.stage.clone());
            bar.set_length(snap.total);
            bar.set_position(snap.done);
        },
    );
    bar.finish_and_clear();
    result.map_err(|e| {
        if progress.is_cancelled() {
            eprintln!("cancelled; nothing was written");
            ExitCode::from(130)
        } else {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    })
}

pub fn run(a: DiagnoseArgs) -> ExitCode {
    let inputs = match (&a.split, &a.folder) {
        (Some(s), _) => CalibrationSource::Split {
            split: s.clone(),
            root: a.root.clone().unwrap_or_default(),
            dataset: a.samples.settings(),
        },
        (_, Some(f)) => CalibrationSource::Folder(f.clone()),
        _ => {
            eprintln!("error: give the inputs: --split with --root, or --folder");
            return ExitCode::from(2);
        }
    };
    let decoder = Decoder {
        kind: a.decoder,
        min_depth: a.decoder_min_depth,
        max_depth: a.decoder_max_depth,
        output: a.output.clone(),
        ..Default::default()
    };
    if let Err(e) = decoder.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let eval_settings = EvalSettings {
        min_depth: a.min_depth,
        max_depth: a.max_depth,
        range_edges: a.range_edges.clone(),
        ..Default::default()
    };
    if let Err(e) = eval_settings.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let mut paths = crate::paths::RunPaths::new()
        .input("FP32 model (--model)", &a.model)
        .output("report (--out)", &a.out);
    if let Some(i) = &a.int8 {
        paths = paths.input("INT8 model (--int8)", i);
    }
    if let Some(p) = &a.inspect_png {
        paths = paths.output("histogram (--inspect-png)", p);
    }
    if let Some(r) = &a.root {
        paths = paths.dataset(r);
    }
    if let Err(e) = paths.check() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let methods_job = if a.methods || a.inspect.is_some() {
        let calibration = match (
            &a.calibration_list,
            &a.calibration_split,
            &a.calibration_folder,
        ) {
            (Some(l), _, _) => CalibrationSource::ImageList(l.clone()),
            (_, Some(s), _) => CalibrationSource::Split {
                split: s.clone(),
                root: a.root.clone().unwrap_or_default(),
                dataset: a.samples.settings(),
            },
            (_, _, Some(f)) => CalibrationSource::Folder(f.clone()),
            _ => {
                eprintln!("error: --methods and --inspect calibrate the model: give the calibration set with --calibration-list FILE, --calibration-split FILE (with --root) or --calibration-folder DIR");
                return ExitCode::from(2);
            }
        };
        let eval = match &inputs {
            CalibrationSource::Split {
                split,
                root,
                dataset,
            } => Some(EvalSplit {
                root: root.clone(),
                split: split.clone(),
                dataset: dataset.clone(),
                decoder: decoder.clone(),
                settings: eval_settings.clone(),
            }),
            _ => None,
        };
        Some(diagnose_methods::MethodsJob {
            model: a.model.clone(),
            calibration,
            inputs: inputs.clone(),
            images: a.images,
            input_size: a.input_size,
            decoder: decoder.clone(),
            eval,
            methods: a.methods,
            inspect: a.inspect.clone(),
        })
    } else {
        None
    };
    let mut json = serde_json::Map::new();
    let mut diagnosed = None;
    if let Some(int8) = a.int8.clone() {
        let req = DiagnoseRequest {
            model: a.model.clone(),
            int8,
            inputs,
            images: a.images,
            preprocess: None,
            input_size: a.input_size,
            decoder: Some(decoder),
            eval_settings,
            sweep: a.sweep,
            target_abs_rel: a.target_abs_rel,
        };
        match with_progress("inputs", |p| run_diagnose(&req, p)) {
            Ok(r) => {
                if let serde_json::Value::Object(m) =
                    serde_json::to_value(&r).expect("report serialises")
                {
                    json = m;
                }
                diagnosed = Some(r);
            }
            Err(code) => return code,
        }
    } else {
        json.insert("format".into(), REPORT_FORMAT.into());
        json.insert("model".into(), a.model.display().to_string().into());
    }
    let mut compared = None;
    if let Some(job) = &methods_job {
        match with_progress("inputs", |p| diagnose_methods::run(job, p)) {
            Ok(o) => {
                json.insert(
                    "methods".into(),
                    serde_json::to_value(&o).expect("comparison serialises"),
                );
                compared = Some(o);
            }
            Err(code) => return code,
        }
    }
    if let (Some(png), Some(o)) = (&a.inspect_png, &compared) {
        if let (Some(t), Some(i)) = (&o.inspect_tensor, &o.inspection) {
            if let Err(e) = diagnose_methods::inspection_png(t, i, png) {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let text = serde_json::to_string_pretty(&json).expect("report serialises");
    if let Err(e) = crate::fsutil::write_atomic(&a.out, text.as_bytes()) {
        eprintln!("error: cannot write {}: {e}", a.out.display());
        return ExitCode::FAILURE;
    }
    if let Some(r) = &diagnosed {
        print_diagnosis(r);
    }
    if let Some(o) = &compared {
        diagnose_methods::print(o);
    }
    if let Some(p) = &a.inspect_png {
        println!("Histogram: {}", p.display());
    }
    println!("Report: {}", a.out.display());
    ExitCode::SUCCESS
}

fn print_diagnosis(r: &DiagnoseReport) {
    println!("{}", r.fidelity.line());
    if let Some(w) = &r.fidelity.warning {
        println!("warning: {w}");
    }
    let acts = r
        .tensors
        .iter()
        .filter(|t| t.kind == TensorKind::Activation)
        .count();
    println!(
        "{} tensors compared ({acts} activations, {} weights); worst first (accumulated / isolated SQNR):",
        r.tensors.len(),
        r.tensors.len() - acts
    );
    for t in r.tensors.iter().take(10) {
        println!(
            "  {:>7.1} dB / {:>7.1} dB  cos {:.4}  {}",
            t.accumulated.sqnr_db, t.isolated.sqnr_db, t.accumulated.cosine, t.tensor
        );
    }
    match (&r.floor, &r.floor_note) {
        (Some(f), _) => {
            println!(
                "Output floor ({} images, output quantization only): abs_rel {:.4} against FP32 {:.4}",
                f.images, f.floor_abs_rel, f.fp32_abs_rel
            );
            for g in &f.ranges {
                let v = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
                let steps = |s: &[f64]| {
                    s.iter()
                        .map(|x| format!("{:.3}", x))
                        .collect::<Vec<_>>()
                        .join("/")
                };
                println!(
                    "  {:>5}–{:<5} m  floor {}  FP32 {}  depth step {} m at {} m, {} m at {} m",
                    g.lo,
                    g.hi,
                    v(g.floor_abs_rel),
                    v(g.fp32_abs_rel),
                    steps(&g.step_m_at_lo),
                    g.lo,
                    steps(&g.step_m_at_hi),
                    g.hi
                );
            }
        }
        (None, Some(n)) => println!("{n}"),
        _ => {}
    }
    match (&r.sweep, &r.sweep_note) {
        (Some(s), _) => {
            println!(
                "Sweep: INT8 abs_rel {:.4}, FP32 {:.4}; keeping one tensor float:",
                s.int8_abs_rel, s.fp32_abs_rel
            );
            for e in &s.entries {
                println!("  {:.4} ({:+.4})  {}", e.abs_rel, -e.improvement, e.tensor);
            }
            println!(
                "Recommended to keep float ({} tensors): {} → abs_rel {:.4} ({} the target {:.4})",
                s.recommended_float.len(),
                if s.recommended_float.is_empty() {
                    "none".to_string()
                } else {
                    s.recommended_float.join(", ")
                },
                s.recommended_abs_rel,
                if s.reaches_target {
                    "reaches"
                } else {
                    "misses"
                },
                s.target_abs_rel
            );
        }
        (None, Some(n)) => println!("{n}"),
        _ => {}
    }
}
