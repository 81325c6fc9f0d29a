//! `calibscope diagnose --methods / --inspect TENSOR`: the four range methods
//! from one calibration, side by side, and one tensor's histogram with each
//! method's clip thresholds.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::diagnose::inspect::RangeInspection;
use crate::diagnose::methods::{run_methods, MethodComparison, MethodsAbsRel, TensorRanges};
use crate::diagnose::run::evenly;
use crate::diagnose::sweep::EvalSplit;
use crate::evaluate::Decoder;
use crate::progress::Progress;
use crate::quantize::{CalibrationSource, QdqSettings};

/// What `--methods` / `--inspect` need beside the diagnose request.
pub struct MethodsJob {
    pub model: PathBuf,
    pub calibration: CalibrationSource,
    /// The diagnose inputs: held out from calibration, they measure fidelity.
    pub inputs: CalibrationSource,
    pub images: usize,
    pub input_size: Option<(u32, u32)>,
    pub decoder: Decoder,
    /// With a split as inputs: abs_rel per method on it.
    pub eval: Option<EvalSplit>,
    pub methods: bool,
    pub inspect: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MethodsOutcome {
    pub calibration: String,
    pub calibration_inputs: usize,
    pub held_out_inputs: usize,
    pub comparison: Option<MethodComparison>,
    pub abs_rel: Option<MethodsAbsRel>,
    pub abs_rel_note: Option<String>,
    pub inspect_tensor: Option<String>,
    pub inspection: Option<RangeInspection>,
}

pub fn run(job: &MethodsJob, progress: &Progress) -> Result<MethodsOutcome, String> {
    let (_, pre) =
        crate::quantize::inspect_model(&job.model, job.input_size).map_err(|e| e.to_string())?;
    let cal = job.calibration.resolve()?;
    if cal.is_empty() {
        return Err(format!(
            "no calibration inputs in {}: give a list, split or folder of images (or .npy)",
            job.calibration.describe()
        ));
    }
    let all = job.inputs.resolve()?;
    let held: Vec<PathBuf> = all.into_iter().filter(|p| !cal.contains(p)).collect();
    let held = evenly(held, job.images.max(1));
    if held.is_empty() {
        return Err(format!(
            "every input of {} is in the calibration set: give held-out inputs (another split or folder) to measure fidelity on",
            job.inputs.describe()
        ));
    }
    let run = run_methods(
        &job.model,
        &cal,
        &held,
        &pre,
        &QdqSettings::default(),
        Some(&job.decoder),
        progress,
    )
    .map_err(|e| e.to_string())?;
    let inspection = match &job.inspect {
        None => None,
        Some(t) => Some(
            run.inspect(t)
                .ok_or_else(|| unknown_tensor(t, &run.comparison))?,
        ),
    };
    let (abs_rel, abs_rel_note) = match (&job.eval, job.methods) {
        (Some(split), true) => match run.abs_rel(&job.model, split, &pre, progress) {
            Ok(a) => (Some(a), None),
            Err(e) => (None, Some(format!("no abs_rel per method: {e}"))),
        },
        (None, true) => (
            None,
            Some("no abs_rel per method: it needs an evaluation split (--split, --root)".into()),
        ),
        _ => (None, None),
    };
    Ok(MethodsOutcome {
        calibration: job.calibration.describe(),
        calibration_inputs: cal.len(),
        held_out_inputs: held.len(),
        comparison: job.methods.then_some(run.comparison),
        abs_rel,
        abs_rel_note,
        inspect_tensor: job.inspect.clone(),
        inspection,
    })
}

fn unknown_tensor(t: &str, c: &MethodComparison) -> String {
    let names: Vec<&str> = c.tensors.iter().map(|r| r.tensor.as_str()).collect();
    let close: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.contains(t) || t.contains(n))
        .take(10)
        .collect();
    let shown = if close.is_empty() {
        names.iter().copied().take(10).collect::<Vec<_>>()
    } else {
        close
    };
    format!(
        "--inspect {t}: no calibrated tensor of that name ({} tensors calibrated; e.g. {})",
        names.len(),
        shown.join(", ")
    )
}

/// Prints the comparison: fidelity (and abs_rel) per method, then the ranges
/// of the tensors where the methods disagree most.
pub fn print(o: &MethodsOutcome) {
    println!(
        "Methods calibrated on {} inputs ({}), compared on {} held-out inputs:",
        o.calibration_inputs, o.calibration, o.held_out_inputs
    );
    if let Some(c) = &o.comparison {
        for (i, (m, f)) in c.methods.iter().zip(&c.fidelity).enumerate() {
            let depth = f
                .depth_abs_rel_vs_fp32
                .map_or("-".into(), |d| format!("{:.2} %", d * 100.0));
            let ar = o
                .abs_rel
                .as_ref()
                .map_or(String::new(), |a| format!("  abs_rel {:.4}", a.abs_rel[i]));
            println!(
                "  {:<10} cosine {:.4}  SQNR {:>5.1} dB  depth off FP32 {depth}{ar}",
                m.to_string(),
                f.cosine,
                f.sqnr_db
            );
            if let Some(w) = &f.warning {
                println!("    warning: {w}");
            }
        }
        if let Some(a) = &o.abs_rel {
            println!("  FP32 abs_rel {:.4} on {}", a.fp32_abs_rel, a.split);
        }
        if let Some(n) = &o.abs_rel_note {
            println!("  {n}");
        }
        // Where the methods disagree most: the narrowest range relative to MinMax's.
        let narrowest = |t: &TensorRanges| {
            let w = |r: &(f32, f32)| (r.1 - r.0) as f64;
            let mm = w(&t.ranges[0]).max(f64::MIN_POSITIVE);
            t.ranges.iter().map(w).fold(f64::INFINITY, f64::min) / mm
        };
        let mut rows: Vec<&TensorRanges> = c.tensors.iter().collect();
        rows.sort_by(|a, b| narrowest(a).total_cmp(&narrowest(b)));
        let names: Vec<String> = c.methods.iter().map(|m| m.to_string()).collect();
        println!(
            "Ranges of the {} of {} tensors where the methods differ most ({}):",
            rows.len().min(10),
            rows.len(),
            names.join(" | ")
        );
        for row in rows.iter().take(10) {
            let cells: Vec<String> = row
                .ranges
                .iter()
                .map(|(lo, hi)| format!("[{lo:.3}, {hi:.3}]"))
                .collect();
            println!("  {}  {}", cells.join(" "), row.tensor);
        }
    }
    if let (Some(t), Some(i)) = (&o.inspect_tensor, &o.inspection) {
        print_inspection(t, i);
    }
}

fn print_inspection(t: &str, i: &RangeInspection) {
    let total: u64 = i.counts.iter().sum();
    let zeros: u64 = i
        .centres
        .iter()
        .zip(&i.counts)
        .filter(|(c, _)| c.abs() < (i.centres[1] - i.centres[0]))
        .map(|(_, n)| n)
        .sum();
    println!(
        "{t}: {total} values observed in [{:.4}, {:.4}]; {:.1} % in the two bins at 0",
        i.observed_min,
        i.observed_max,
        100.0 * zeros as f64 / total.max(1) as f64
    );
    for m in &i.methods {
        println!(
            "  {:<10} clips at [{:.4}, {:.4}]  {:.4} % of values clipped",
            m.method.to_string(),
            m.min,
            m.max,
            m.clipped_share * 100.0
        );
    }
}

/// Draws the inspection as a PNG (histogram, log counts, thresholds).
pub fn inspection_png(t: &str, i: &RangeInspection, path: &Path) -> Result<(), String> {
    let methods: Vec<crate::report::Thresholds> = i
        .methods
        .iter()
        .map(|m| crate::report::Thresholds {
            label: format!("{} clips {:.4} %", m.method, m.clipped_share * 100.0),
            min: m.min as f64,
            max: m.max as f64,
        })
        .collect();
    crate::report::range_histogram_png(
        &format!("Range of {t}"),
        &i.centres,
        &i.counts,
        (i.observed_min as f64, i.observed_max as f64),
        &methods,
        path,
    )
    .map_err(|e| e.to_string())
}
