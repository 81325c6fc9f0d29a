//! The report of a calibration set: `calibration_statistics.json` and the
//! figures the reference analysis script (`analyze_calibration_dataset.py`)
//! drew with matplotlib, drawn off screen with plotters at a fixed size and
//! DPI. `calibscope export --report DIR` and the app's Export report both
//! call [`write_report`], so the files are the same from either.
//!
//! - `charts.rs`: the numbers behind the app's Distribution view (shared).
//! - `canvas.rs`: page size, font, title, legend strip, PNG writing.
//! - `figures.rs`: one function per figure.
//! - `range_figure.rs`: the range inspector's histogram with clip thresholds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::metadata::SampleMeta;
use crate::progress::Progress;
use crate::select::Bins;

mod canvas;
pub mod charts;
mod figures;
mod range_figure;

pub use range_figure::Thresholds;

pub use canvas::{DPI, FULL, HEIGHT, LEGEND_H, PALETTE, SET, TITLE_H, WIDTH};

use charts::{Charts, Histogram};

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}; check that the folder exists and is writable")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("could not draw a report figure: {0}")]
    Draw(String),
    #[error("{0}")]
    Statistics(String),
    #[error("the report was cancelled; the files written so far are complete")]
    Cancelled,
}

/// What a report is drawn from.
pub struct ReportInputs<'a> {
    pub rows: &'a [SampleMeta],
    /// The dataset side of every figure: row indices (the app's current
    /// view; the command line passes every row).
    pub view: &'a [usize],
    /// The calibration set: row indices (each once).
    pub selected: &'a [usize],
    /// Depth ranges, as the selection used them.
    pub bins: &'a Bins,
    /// Where the rows' image paths start (the dataset root); `None` leaves
    /// the sample-image grid out.
    pub image_root: Option<&'a Path>,
}

/// The files a report wrote, in order.
#[derive(Debug, Clone, Default)]
pub struct ReportFiles {
    pub statistics: PathBuf,
    pub figures: Vec<PathBuf>,
}

/// One figure to draw: writes its PNG at the path given.
type Figure<'a> = Box<dyn Fn(&Path) -> Result<(), ReportError> + 'a>;

/// Sample images shown in the grid.
const GRID_IMAGES: usize = 12;

/// Writes `calibration_statistics.json` and every figure into `dir`
/// (created if missing). Each file is written whole or not at all; a
/// cancel stops between figures.
pub fn write_report(
    dir: &Path,
    input: &ReportInputs,
    progress: &Progress,
) -> Result<ReportFiles, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let rows = input.rows;
    let mut in_set = vec![false; rows.len()];
    for &i in input.selected {
        in_set[i] = true;
    }
    let charts = Charts::compute(
        rows,
        &in_set,
        input.view,
        input.bins,
        charts::mean_depth_edges(rows),
    );
    let set_in_view: Vec<usize> = input.view.iter().copied().filter(|&i| in_set[i]).collect();
    let (nf, ns) = (charts.n_full, charts.n_set);

    let mut figures: Vec<(&str, Figure)> = vec![
        (
            "mean_depth_histogram.png",
            Box::new(|p| {
                figures::histogram(
                    p,
                    "Mean depth distribution",
                    "mean depth (m)",
                    &charts.mean_hist,
                    nf,
                    ns,
                )
            }),
        ),
        (
            "mean_depth_boxplot.png",
            Box::new(|p| figures::boxes(p, &charts)),
        ),
        (
            "scene_types.png",
            Box::new(|p| figures::scene_pies(p, &charts.scenes, nf, ns)),
        ),
        (
            "depth_folders.png",
            Box::new(|p| {
                figures::categories(p, "Depth folders", "depth folder", &charts.folders, nf, ns)
            }),
        ),
        (
            "depth_ranges.png",
            Box::new(|p| {
                figures::categories(
                    p,
                    "Depth ranges",
                    &format!("{} range", input.bins.column.name().replace('_', " ")),
                    &charts.ranges,
                    nf,
                    ns,
                )
            }),
        ),
        ("mean_depth_cdf.png", Box::new(|p| figures::cdf(p, &charts))),
        (
            "mean_vs_median.png",
            Box::new(|p| figures::scatter(p, &charts)),
        ),
        (
            "depth_std_histogram.png",
            Box::new(|p| {
                let h = spread_histogram(rows, input.view, &in_set, |r| r.std_depth, 1.0);
                figures::histogram(
                    p,
                    "Depth variation (std of valid depth per sample)",
                    "depth std (m)",
                    &h,
                    nf,
                    ns,
                )
            }),
        ),
        (
            "valid_pixel_ratio.png",
            Box::new(|p| {
                let h = spread_histogram(rows, input.view, &in_set, |r| r.valid_ratio(), 100.0);
                figures::histogram(
                    p,
                    "Depth coverage (valid pixels per sample)",
                    "valid depth pixels (%)",
                    &h,
                    nf,
                    ns,
                )
            }),
        ),
        (
            "mean_depth_by_scene.png",
            Box::new(|p| {
                let (names, full, set) = scene_means(rows, input.view, &in_set);
                figures::scene_means(p, &names, (&full.0, &full.1), (&set.0, &set.1), nf, ns)
            }),
        ),
    ];
    if let Some(root) = input.image_root {
        figures.push((
            "sample_images.png",
            Box::new(move |p| {
                let cells = grid_cells(root, rows, &set_in_view);
                let title = format!(
                    "Calibration set: {} of {} samples, evenly spaced",
                    cells.len(),
                    set_in_view.len()
                );
                figures::image_grid(p, &title, &cells)
            }),
        ));
    }

    progress.begin("report", figures.len() as u64 + 1);
    let stats = crate::export::calibration_statistics(rows, input.selected);
    let statistics = dir.join("calibration_statistics.json");
    crate::export::write_statistics(&statistics, &stats)
        .map_err(|e| ReportError::Statistics(e.to_string()))?;
    progress.inc(1);
    let mut written = Vec::with_capacity(figures.len());
    for (name, draw) in &figures {
        if progress.is_cancelled() {
            return Err(ReportError::Cancelled);
        }
        let path = dir.join(name);
        draw(&path)?;
        written.push(path);
        progress.inc(1);
    }
    Ok(ReportFiles {
        statistics,
        figures: written,
    })
}

/// A histogram of one per-sample value (times `scale`) over 30 equal bins
/// spanning the values in view, as the reference script bins them: a
/// fixed range would squeeze a narrow spread into one bar.
fn spread_histogram(
    rows: &[SampleMeta],
    view: &[usize],
    in_set: &[bool],
    value: impl Fn(&SampleMeta) -> f64,
    scale: f64,
) -> Histogram {
    let vals: Vec<(f64, bool)> = view
        .iter()
        .map(|&i| (value(&rows[i]) * scale, in_set[i]))
        .filter(|(v, _)| v.is_finite())
        .collect();
    let lo = vals.iter().map(|v| v.0).fold(f64::INFINITY, f64::min);
    let hi = vals.iter().map(|v| v.0).fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else if lo.is_finite() {
        (lo - 0.5, lo + 0.5)
    } else {
        (0.0, 1.0)
    };
    let bins = 30;
    let edges = (0..=bins)
        .map(|k| lo + (hi - lo) * k as f64 / bins as f64)
        .collect();
    let mut h = Histogram::new(edges);
    for (v, s) in vals {
        h.add(v, s);
    }
    h
}

/// Per scene type: names, and (means, stds) of mean depth for the view
/// and for the set in it (NaN where a side has no sample of the scene).
#[allow(clippy::type_complexity)]
fn scene_means(
    rows: &[SampleMeta],
    view: &[usize],
    in_set: &[bool],
) -> (Vec<String>, (Vec<f64>, Vec<f64>), (Vec<f64>, Vec<f64>)) {
    let mut by: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for &i in view {
        let r = &rows[i];
        if !r.mean_depth.is_finite() {
            continue;
        }
        let e = by.entry(&r.scene_type).or_default();
        e.0.push(r.mean_depth);
        if in_set[i] {
            e.1.push(r.mean_depth);
        }
    }
    // Mean and sample std (ddof 1, as pandas' `std`); NaN when undefined.
    let mean_std = |v: &[f64]| {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        (m, if v.len() > 1 { s } else { f64::NAN })
    };
    let mut names = Vec::new();
    let (mut full, mut set) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for (name, (f, s)) in by {
        names.push(name.to_owned());
        for (side, v) in [(&mut full, f), (&mut set, s)] {
            let (m, sd) = mean_std(&v);
            side.0.push(m);
            side.1.push(sd);
        }
    }
    (names, full, set)
}

/// Up to [`GRID_IMAGES`] samples of the set, evenly spaced through it (the
/// same picks every time, unlike the reference script's random ones).
fn grid_cells(
    root: &Path,
    rows: &[SampleMeta],
    set: &[usize],
) -> Vec<(String, Result<image::RgbImage, String>)> {
    let n = set.len().min(GRID_IMAGES);
    (0..n)
        .map(|k| {
            let r = &rows[set[k * set.len() / n]];
            let p = Path::new(&r.image_path);
            let path = if p.is_absolute() {
                p.to_path_buf()
            } else {
                root.join(p)
            };
            let img = image::open(&path)
                .map(|i| i.to_rgb8())
                .map_err(|e| format!("{}: {e}", path.display()));
            // Stems repeat across sequences: the sequence folder names it.
            let seq = Path::new(&r.dataset_root)
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = if seq.is_empty() {
                r.filename.clone()
            } else {
                format!("{seq}/{}", r.filename)
            };
            (name, img)
        })
        .collect()
}

/// A grouped bar chart of one metric per depth range for several runs
/// (series = runs, groups = ranges), e.g. abs_rel of an FP32 and two INT8
/// models; written as a PNG like the report figures. A NaN value leaves
/// its bar out.
pub fn runs_by_range_png(
    range_labels: &[String],
    runs: &[(String, Vec<f64>)],
    metric_name: &str,
    path: &Path,
) -> Result<(), ReportError> {
    figures::runs_by_group(range_labels, runs, metric_name, path)
}

/// The range inspector's figure: a tensor's histogram (bin centres of
/// equal-width bins, counts drawn on a log axis) with each method's clip
/// thresholds as vertical lines; written as a PNG like the report figures.
pub fn range_histogram_png(
    title: &str,
    centres: &[f64],
    counts: &[u64],
    observed: (f64, f64),
    methods: &[Thresholds],
    path: &Path,
) -> Result<(), ReportError> {
    range_figure::draw(path, title, centres, counts, observed, methods)
}
