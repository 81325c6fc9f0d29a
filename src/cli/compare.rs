//! `calibscope compare`: the comparison table of saved evaluation runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::evaluate::compare::compare;
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
    Ok(())
}
