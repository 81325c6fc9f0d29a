//! `calibscope compare`: the comparison table of saved evaluation runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::evaluate::compare::{compare, Comparison};
use crate::evaluate::EvalRun;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run JSON files written by `calibscope eval --out`.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The baseline run (one of the files, or a run label) [default: the first].
    #[arg(long)]
    pub baseline: Option<String>,
    /// Write the tables as Markdown.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write the tables as CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Draw the per-depth-range bars of --metric for every run as a PNG.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// The metric the PNG shows (abs_rel, sq_rel, rmse, rmse_log, a1, a2, a3).
    #[arg(long, default_value = "abs_rel")]
    pub metric: String,
}

pub fn run(a: CompareArgs) -> ExitCode {
    match run_inner(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(a: &CompareArgs) -> Result<(), String> {
    if crate::evaluate::MetricSet::default()
        .get(&a.metric)
        .is_none()
    {
        return Err(format!(
            "--metric {} is not one of abs_rel, sq_rel, rmse, rmse_log, a1, a2, a3",
            a.metric
        ));
    }
    let mut runs = Vec::new();
    for p in &a.runs {
        let run = EvalRun::load(p)?;
        let fallback = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        runs.push((run.label_or(&fallback), run));
    }
    let baseline = match &a.baseline {
        None => 0,
        Some(b) => a
            .runs
            .iter()
            .position(|p| p.as_os_str() == b.as_str())
            .or_else(|| runs.iter().position(|(l, _)| l == b))
            .ok_or_else(|| {
                format!("--baseline {b} is neither one of the run files nor a run label")
            })?,
    };
    // Two runs with one label would make the table ambiguous: add the file name.
    for i in 0..runs.len() {
        if runs.iter().filter(|(l, _)| *l == runs[i].0).count() > 1 {
            let name = a.runs[i].display().to_string();
            runs[i].0 = format!("{} ({name})", runs[i].0);
        }
    }
    let c = compare(&runs, baseline)?;
    let md = c.to_markdown();
    print!("{md}");
    if let Some(p) = &a.markdown {
        crate::fsutil::write_atomic(p, md.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        eprintln!("wrote {}", p.display());
    }
    if let Some(p) = &a.csv {
        crate::fsutil::write_atomic(p, c.to_csv().as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        eprintln!("wrote {}", p.display());
    }
    if let Some(p) = &a.png {
        let (labels, series) = range_series(&c, &a.metric);
        crate::report::runs_by_range_png(&labels, &series, &a.metric, p)
            .map_err(|e| e.to_string())?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}

/// The comparison's per-range values of `metric`: one label per range, one
/// series per run (NaN where a run has no pixel in the range).
fn range_series(c: &Comparison, metric: &str) -> (Vec<String>, Vec<(String, Vec<f64>)>) {
    let labels = c
        .ranges
        .iter()
        .map(|r| format!("{}–{} m", r.lo, r.hi))
        .collect();
    let series = c
        .labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let v = c
                .ranges
                .iter()
                .map(|r| {
                    r.metrics[i]
                        .as_ref()
                        .and_then(|m| m.get(metric))
                        .unwrap_or(f64::NAN)
                })
                .collect();
            (l.clone(), v)
        })
        .collect();
    (labels, series)
}
