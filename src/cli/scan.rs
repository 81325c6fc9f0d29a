//! `calibscope scan`: per-sample depth metadata for a split, like the seed's
//! `create_ncdb_metadata.py`, with a progress bar, a summary, the skipped
//! samples and their reasons, and an incremental cache.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::dataset::{read_split, DatasetSettings, DepthEncoding};
use crate::metadata::{self, SampleMeta};
use crate::paths::printable;
use crate::progress::Progress;
use crate::scan::{self, ScanOutcome, SkippedSample};

/// Skipped samples listed on the terminal; the rest go to the file only.
const SHOW_SKIPPED: usize = 30;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Dataset root: the folder holding the sequences (and usually the splits).
    #[arg(long)]
    pub root: PathBuf,
    /// Split JSON file; looked up as given, then relative to the root.
    #[arg(long)]
    pub split: PathBuf,
    /// Write the metadata CSV (the seed's columns) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the metadata as JSON (rows, depth histograms and settings) here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Depth folder to look in, in priority order (repeat the option);
    /// default: the seed's list.
    #[arg(long = "depth-folder", value_name = "NAME")]
    pub depth_folders: Vec<String>,
    /// Folder of RGB images inside each sequence.
    #[arg(long, default_value = "image_a6")]
    pub image_folder: String,
    /// Image extension to try, in order (repeat the option); default png, jpg, jpeg.
    #[arg(long = "image-ext", value_name = "EXT")]
    pub image_exts: Vec<String>,
    /// How stored depth values become metres: auto (seed: /256 only when the
    /// max > 255), kitti (/256), millimetres (/1000), metres-8bit.
    #[arg(long, default_value = "auto")]
    pub depth_encoding: DepthEncoding,
    /// Mean depth (m) below which a sample is "indoor".
    #[arg(long, default_value_t = 5.0)]
    pub indoor_below: f64,
    /// Mean depth (m) below which a sample is "outdoor_near".
    #[arg(long, default_value_t = 15.0)]
    pub near_below: f64,
    /// Accept split entries pointing outside the root (absolute paths elsewhere, `..`).
    #[arg(long)]
    pub allow_absolute_roots: bool,
    /// Ignore cached results and decode every sample again (the cache is refreshed).
    #[arg(long)]
    pub no_cache: bool,
}

impl ScanArgs {
    fn settings(&self) -> DatasetSettings {
        let mut s = DatasetSettings {
            depth_encoding: self.depth_encoding,
            indoor_below: self.indoor_below,
            near_below: self.near_below,
            ..super::dataset_settings(
                Some(&self.image_folder),
                &self.image_exts,
                self.allow_absolute_roots,
                None,
            )
        };
        if !self.depth_folders.is_empty() {
            s.depth_folders = self.depth_folders.clone();
        }
        s
    }
}

pub fn run(args: ScanArgs) -> ExitCode {
    match run_inner(&args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: &ScanArgs) -> Result<ExitCode, String> {
    if args.indoor_below > args.near_below {
        return Err(format!(
            "--indoor-below ({}) must not exceed --near-below ({})",
            args.indoor_below, args.near_below
        ));
    }
    let settings = args.settings();
    let split = read_split(&args.root, &args.split).map_err(|e| e.to_string())?;
    if split.is_empty() {
        return Err(format!(
            "split file {} holds no entries; nothing to scan",
            split.path.display()
        ));
    }

    // Every output checked before the scan starts (and before anything is written).
    let skipped_file = args
        .out
        .as_ref()
        .or(args.json.as_ref())
        .map(|p| skipped_path(p));
    let mut paths = crate::paths::RunPaths::new()
        .input("split", &split.path)
        .dataset(&args.root);
    // Entries outside the root (allowed with --allow-absolute-roots) are
    // datasets too; a few distinct folders cover them.
    let mut roots = std::collections::BTreeSet::new();
    for e in &split.entries {
        if roots.len() < 64 && Path::new(&e.dataset_root).is_absolute() {
            roots.insert(e.dataset_root.as_str());
        }
    }
    for r in roots {
        paths = paths.dataset(Path::new(r));
    }
    for (what, p) in [
        ("metadata CSV (--out)", args.out.as_ref()),
        ("metadata JSON (--json)", args.json.as_ref()),
        ("skipped-samples list", skipped_file.as_ref()),
    ] {
        if let Some(p) = p {
            paths = paths.output(what, p);
        }
    }
    paths.check().map_err(|e| e.to_string())?;

    let progress = Progress::new();
    super::ticking::cancel_on_ctrl_c(&progress);
    let bar = BarThread::start(&progress);

    let (outcome, warnings) = scan::scan_cached(
        &args.root,
        &split,
        &settings,
        scan::CacheAt::Default,
        args.no_cache,
        &progress,
    );
    bar.finish();
    for w in &warnings {
        eprintln!("warning: {w}");
    }

    if outcome.cancelled {
        eprintln!(
            "cancelled: {} of {} samples finished; no output written (finished samples are cached, a rerun resumes quickly)",
            outcome.rows.len() + outcome.skipped.len(),
            split.len()
        );
        return Ok(ExitCode::from(130));
    }

    let mut written = Vec::new();
    if let Some(out) = &args.out {
        metadata::write_csv(out, &outcome.rows)
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        written.push(out.clone());
    }
    if let Some(json) = &args.json {
        let meta = serde_json::json!({
            "dataset_root": args.root.display().to_string(),
            "split_file": split.path.display().to_string(),
            "dataset": settings,
        });
        metadata::write_json(json, meta, &outcome.rows)
            .map_err(|e| format!("cannot write {}: {e}", json.display()))?;
        written.push(json.clone());
    }
    if let Some(p) = &skipped_file {
        write_skipped(p, &outcome.skipped)
            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        written.push(p.clone());
    }

    print_summary(&split.path, &outcome, split.len());
    print_skipped(&outcome.skipped, skipped_file.as_deref());
    print_warnings(&outcome.warnings);
    if written.is_empty() {
        println!("\nNo --out or --json given: nothing written.");
    } else {
        for p in written {
            println!("Wrote {}", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `metadata.csv` → `metadata.skipped.csv`, beside it.
pub fn skipped_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "metadata".into());
    out.with_file_name(format!("{stem}.skipped.csv"))
}

fn write_skipped(path: &Path, skipped: &[SkippedSample]) -> std::io::Result<()> {
    crate::fsutil::write_atomic_with(path, |w| {
        let mut out = csv::Writer::from_writer(w);
        let e = std::io::Error::other;
        out.write_record(["index", "dataset_root", "stem", "reason", "detail", "entry"])
            .map_err(e)?;
        for s in skipped {
            let (root, stem) = s
                .key
                .as_ref()
                .map(|k| (k.dataset_root.as_str(), k.stem.as_str()))
                .unwrap_or(("", ""));
            let index = s.index.to_string();
            let raw = s.raw.as_deref().unwrap_or("");
            out.write_record([
                index.as_str(),
                &printable(root),
                &printable(stem),
                s.reason.code(),
                &printable(&s.detail),
                &printable(raw),
            ])
            .map_err(e)?;
        }
        out.flush()
    })
}

fn counts<'a>(items: impl Iterator<Item = &'a str>) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = Vec::new();
    for it in items {
        match v.iter_mut().find(|(k, _)| k == it) {
            Some((_, n)) => *n += 1,
            None => v.push((it.to_owned(), 1)),
        }
    }
    // Most frequent first, as pandas' value_counts prints.
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn print_summary(split: &Path, out: &ScanOutcome, entries: usize) {
    let rows: &[SampleMeta] = &out.rows;
    let line = "=".repeat(60);
    println!("{line}\nDepth statistics of {}\n{line}", split.display());
    let secs = out.elapsed.as_secs_f64();
    println!(
        "Samples: {} of {entries} entries   skipped: {}   ({:.2}s, {:.0} samples/s, {} from cache)",
        rows.len(),
        out.skipped.len(),
        secs,
        entries as f64 / secs.max(1e-9),
        out.from_cache
    );
    if !rows.is_empty() {
        let means: Vec<f64> = rows.iter().map(|r| r.mean_depth).collect();
        let n = means.len() as f64;
        let mean = means.iter().sum::<f64>() / n;
        // pandas' Series.std (ddof = 1), as the seed prints it.
        let std = if means.len() > 1 {
            (means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            f64::NAN
        };
        let lo = rows
            .iter()
            .map(|r| r.min_depth)
            .fold(f64::INFINITY, f64::min);
        let hi = rows
            .iter()
            .map(|r| r.max_depth)
            .fold(f64::NEG_INFINITY, f64::max);
        println!("\nMean depth per sample:");
        println!("  Mean: {mean:.2}m (std: {std:.2}m)");
        println!(
            "  Median: {:.2}m",
            median(rows.iter().map(|r| r.median_depth).collect())
        );
        println!("  Range: [{lo:.2}m, {hi:.2}m]");
        println!("\nScene types:");
        for (k, n) in counts(rows.iter().map(|r| r.scene_type.as_str())) {
            println!("  {k:<14} {n}");
        }
        println!("\nDepth variants:");
        for (k, n) in counts(rows.iter().map(|r| r.depth_variant.as_str())) {
            println!("  {k:<30} {n}");
        }
    }
    let by_reason = out.skipped_by_reason();
    if !by_reason.is_empty() {
        println!("\nSkipped by reason:");
        for (r, n) in by_reason {
            println!("  {:<28} {n}", r.label());
        }
    }
    println!("{line}");
}

fn print_skipped(skipped: &[SkippedSample], file: Option<&Path>) {
    if skipped.is_empty() {
        return;
    }
    let shown = skipped.len().min(SHOW_SKIPPED);
    println!("\nSkipped samples (first {shown} of {}):", skipped.len());
    for s in &skipped[..shown] {
        println!(
            "  #{} {}: {} — {}",
            s.index,
            printable(&s.what()),
            s.reason.label(),
            printable(&s.detail)
        );
    }
    match file {
        Some(p) => println!("All skipped samples with reasons: {}", p.display()),
        None if skipped.len() > shown => {
            println!("(give --out to get the full list in a file)")
        }
        None => {}
    }
}

fn print_warnings(warnings: &[scan::SampleWarning]) {
    if warnings.is_empty() {
        return;
    }
    let shown = warnings.len().min(SHOW_SKIPPED);
    println!(
        "\nSamples to check (kept; first {shown} of {}):",
        warnings.len()
    );
    for w in &warnings[..shown] {
        println!(
            "  #{} {}: {}",
            w.index,
            printable(&w.key.to_string()),
            printable(&w.detail)
        );
    }
}

/// Draws an indicatif bar from the progress handle, only on a terminal.
struct BarThread {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl BarThread {
    fn start(progress: &Progress) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            return Self { stop, handle: None };
        }
        let (p, s) = (progress.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} samples  {per_sec}  ETA {eta}  {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            while !s.load(Ordering::Relaxed) {
                let snap = p.snapshot();
                bar.set_length(snap.total);
                bar.set_position(snap.done);
                bar.set_message(if snap.cancelled {
                    "cancelling…".to_owned()
                } else {
                    format!("skipped {}", snap.skipped)
                });
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
            let _ = std::io::stderr().flush();
        });
        Self {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle {
            let _ = h.join();
        }
    }
}
