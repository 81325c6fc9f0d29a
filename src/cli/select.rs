//! `calibscope select`: choose a calibration set from the scan's metadata,
//! print the plan table and the distribution check, write the seed-format
//! `calibration_split.json`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::distribution;
use crate::export;
use crate::metadata::{self, SampleKey};
use crate::select::{self, Bins, Column, SelectionRequest, Strategy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// The seed's depth bins and ratios, shortfalls refilled proportionally.
    Stratified,
    /// Uniform random sample (the "100 random" baseline).
    Random,
    /// Greedy k-center over depth percentiles, valid ratio and histogram.
    Diverse,
}

#[derive(Debug, Args)]
pub struct SelectArgs {
    /// Metadata written by `calibscope scan` (.csv in the seed's format, or .json).
    #[arg(long)]
    pub metadata: PathBuf,
    /// Where to write the selection (seed format).
    #[arg(long, default_value = "calibration_split.json")]
    pub out: PathBuf,
    /// How the places not pinned are filled.
    #[arg(long, value_enum, default_value_t = StrategyArg::Stratified)]
    pub strategy: StrategyArg,
    /// Number of samples in the calibration set (pinned ones included).
    #[arg(long, default_value_t = 300)]
    pub target: usize,
    /// Random seed (ChaCha8); the same seed and metadata give the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Column the bins are laid on (stratified); also used for the check's bins.
    #[arg(long, default_value = "mean_depth")]
    pub column: String,
    /// Bin edges, comma separated; bins are (a, b] like pandas.cut.
    #[arg(long, value_delimiter = ',', default_value = "0,3,8,15,100")]
    pub edges: Vec<f64>,
    /// One name per bin, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "near,mid,far,very_far")]
    pub labels: Vec<String>,
    /// Share of the target per bin; must sum to 1.
    #[arg(long, value_delimiter = ',', default_value = "0.25,0.40,0.25,0.10")]
    pub ratios: Vec<f64>,
    /// Always include this sample: `DATASET_ROOT/STEM` (repeatable).
    #[arg(long = "pin", value_name = "DATASET_ROOT/STEM")]
    pub pin: Vec<String>,
    /// Always include every sample of this split file.
    #[arg(long, value_name = "SPLIT.json")]
    pub pin_split: Option<PathBuf>,
    /// Never include this sample: `DATASET_ROOT/STEM` (repeatable).
    #[arg(long = "exclude", value_name = "DATASET_ROOT/STEM")]
    pub exclude: Vec<String>,
    /// Never include any sample of this split file.
    #[arg(long, value_name = "SPLIT.json")]
    pub exclude_split: Option<PathBuf>,
    /// Also write the plan, notes and distribution check as JSON here.
    #[arg(long, value_name = "REPORT.json")]
    pub report: Option<PathBuf>,
}

fn keys(
    list: &[String],
    file: &Option<PathBuf>,
    what: &str,
) -> Result<BTreeSet<SampleKey>, String> {
    let mut out = BTreeSet::new();
    for s in list {
        out.insert(select::parse_key(s).ok_or_else(|| {
            format!(
                "--{what} {s:?}: expected DATASET_ROOT/STEM, e.g. synced_data/seq_01/0000000042"
            )
        })?);
    }
    if let Some(f) = file {
        out.extend(export::read_split(f).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

pub fn bins_from(
    column: &str,
    edges: &[f64],
    labels: &[String],
    ratios: &[f64],
) -> Result<Bins, String> {
    let column = Column::from_name(column).ok_or_else(|| {
        let names: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
        format!(
            "unknown column {column:?}; choose one of {}",
            names.join(", ")
        )
    })?;
    let bins = Bins {
        column,
        edges: edges.to_vec(),
        labels: labels.to_vec(),
        ratios: ratios.to_vec(),
    };
    bins.validate().map_err(|e| e.to_string())?;
    Ok(bins)
}

fn go(a: &SelectArgs) -> Result<(), String> {
    let rows = metadata::read_any(&a.metadata).map_err(|e| e.to_string())?;
    // The dataset is read-only: never write a split (or report) into it.
    for p in std::iter::once(&a.out).chain(&a.report) {
        export::ensure_outside_metadata_dataset(&rows, p).map_err(|e| e.to_string())?;
    }
    let mut paths = crate::paths::RunPaths::new().input("metadata", &a.metadata);
    for (what, p) in [
        ("pin split", a.pin_split.as_ref()),
        ("exclude split", a.exclude_split.as_ref()),
    ] {
        if let Some(p) = p {
            paths = paths.input(what, p);
        }
    }
    paths = paths.output("split (--out)", &a.out);
    if let Some(p) = &a.report {
        paths = paths.output("report (--report)", p);
    }
    paths.check().map_err(|e| e.to_string())?;
    let bins = bins_from(&a.column, &a.edges, &a.labels, &a.ratios)?;
    let strategy = match a.strategy {
        StrategyArg::Stratified => Strategy::Stratified(bins.clone()),
        StrategyArg::Random => Strategy::Random,
        StrategyArg::Diverse => Strategy::Diverse,
    };
    let req = SelectionRequest {
        strategy,
        target: a.target,
        seed: a.seed,
        pinned: keys(&a.pin, &a.pin_split, "pin")?,
        excluded: keys(&a.exclude, &a.exclude_split, "exclude")?,
    };
    let sel = select::run(&rows, &req).map_err(|e| e.to_string())?;
    println!(
        "{} samples in {}; strategy {}, target {}, seed {}",
        rows.len(),
        a.metadata.display(),
        req.strategy.name(),
        req.target,
        req.seed
    );
    let table = select::format_plan_table(&sel, &bins);
    if !table.is_empty() {
        println!("\n{table}");
    }
    for n in &sel.notes {
        println!("note: {n}");
    }
    let report = distribution::check(&rows, &sel.indices, &bins).map_err(|e| e.to_string())?;
    println!("\n{}", report.to_text());
    if sel.is_empty() {
        return Err(format!(
            "no sample could be chosen (see the notes above); {} was not written",
            a.out.display()
        ));
    }
    export::write_split(&a.out, &sel.keys(&rows)).map_err(|e| e.to_string())?;
    println!("wrote {} ({} samples)", a.out.display(), sel.len());
    if let Some(p) = &a.report {
        let json = serde_json::json!({
            "request": req,
            "selection": sel,
            "distribution": report,
        });
        let text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
        crate::fsutil::write_atomic(p, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        println!("wrote {}", p.display());
    }
    Ok(())
}

pub fn run(a: SelectArgs) -> ExitCode {
    match go(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
