//! The saved run: one evaluation as JSON, read back by `compare` and the app.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::metrics::{de_f64, ser_f64, MetricSet};
use super::{Decoder, EvalSettings};
use crate::preprocess::PreprocessSettings;
use crate::quantize::{CalibrationSetId, MethodOptions, RangeMethod};

/// Format tag of run files.
pub const RUN_FORMAT: &str = "calibscope-eval-run/1";

/// The name bilinear resizing is recorded under.
pub const RESIZE_HALF_PIXEL: &str = "bilinear, align_corners=False (half-pixel centres)";
pub const RESIZE_ALIGN_CORNERS: &str = "bilinear, align_corners=True";

/// Where the predictions of a run came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// `model` or `predictions` (a folder of files).
    pub kind: String,
    pub path: String,
    /// SHA-256 of the model file (models only).
    pub sha256: Option<String>,
    pub preprocess: Option<PreprocessSettings>,
    /// The INT8 model's calibration, from its `.ranges.json` (when present).
    pub calibration: Option<CalibrationInfo>,
    /// For folders: the layout found (`single`, `dual-head`, `npz`, `png`).
    pub layout: Option<String>,
}

/// How an INT8 model was calibrated, from the `.ranges.json` beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationInfo {
    pub ranges_file: String,
    pub method: RangeMethod,
    pub method_options: MethodOptions,
    pub calibration_set: CalibrationSetId,
    /// SHA-256 of the FP32 model it was quantized from.
    pub fp32_model_sha256: String,
}

/// One range's values for one sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleRangeMetrics {
    #[serde(flatten)]
    pub metrics: MetricSet,
    pub pixels: u64,
}

/// One sample's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleMetrics {
    pub dataset_root: String,
    pub stem: String,
    /// Position in the split.
    pub index: usize,
    #[serde(flatten)]
    pub metrics: MetricSet,
    /// Pixels behind the metrics.
    pub pixels: u64,
    /// The median-scaling ratio (1 when off).
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub scale: f64,
    /// Per range of the run's edges; `null` where the sample has no pixel.
    pub ranges: Vec<Option<SampleRangeMetrics>>,
}

/// A sample left out, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleProblem {
    pub dataset_root: String,
    pub stem: String,
    pub reason: String,
}

/// A sample left out of the evaluation on purpose (marked suspect: its RGB
/// and GT disagree), with the reason given. Plain data, so the CLI's
/// `--exclude` file and the app's project suspects both become these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedSample {
    pub dataset_root: String,
    pub stem: String,
    pub reason: String,
}

/// One depth range over the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeSummary {
    pub lo: f64,
    pub hi: f64,
    /// Mean over the images with pixels in the range.
    pub metrics: MetricSet,
    pub std: MetricSet,
    pub images: usize,
    pub pixels: u64,
}

/// Prediction cache use during the run (model sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CacheCounters {
    pub hits: u64,
    pub misses: u64,
    /// Images the network actually ran on.
    pub network_runs: u64,
    /// Cache files that could not be written (the run still completed).
    pub write_errors: u64,
}

/// A saved evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRun {
    pub format: String,
    pub label: String,
    pub calibscope_version: String,
    /// Seconds since the Unix epoch when the run finished.
    pub created_unix: u64,
    pub root: String,
    pub split: String,
    pub source: SourceInfo,
    pub decoder: Decoder,
    pub settings: EvalSettings,
    /// How predictions were resized to the GT size.
    pub resize_method: String,
    /// How `std` is computed.
    pub std_convention: String,
    /// Mean over images of each metric.
    pub metrics: MetricSet,
    /// Population std over images (ddof = 0).
    pub std: MetricSet,
    /// Images behind `metrics`.
    pub images: usize,
    /// Pixels behind `metrics` (sum over images).
    pub pixels: u64,
    pub per_sample: Vec<SampleMetrics>,
    pub per_range: Vec<RangeSummary>,
    /// Images with no pixel passing the mask: reported, not in the means.
    pub no_valid_pixels: Vec<SampleProblem>,
    /// Samples without a prediction or GT, or whose files failed.
    pub skipped: Vec<SampleProblem>,
    /// Samples of the split left out as suspect (keys as in the split),
    /// with their reasons; never scored. Runs saved before this field read
    /// as none.
    #[serde(default)]
    pub excluded: Vec<ExcludedSample>,
    /// Prediction files that match no sample, or match several (ambiguous).
    pub unmatched_files: Vec<String>,
    pub cache: CacheCounters,
    /// True when the run was cancelled (per_sample holds what finished).
    pub cancelled: bool,
}

impl EvalRun {
    /// Writes the run JSON atomically.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| format!("cannot serialise the run: {e}"))?;
        crate::fsutil::write_atomic(path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Reads a run JSON written by [`Self::save`].
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read run {}: {e}", path.display()))?;
        let run: Self = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a calibscope evaluation run: {e}; write runs with `calibscope eval --out`",
                path.display()
            )
        })?;
        if run.format != RUN_FORMAT {
            return Err(format!(
                "{}: unknown run format {} (expected {RUN_FORMAT})",
                path.display(),
                run.format
            ));
        }
        Ok(run)
    }

    /// The run's label, or `fallback` (e.g. the file name) when it has none.
    pub fn label_or(&self, fallback: &str) -> String {
        if self.label.trim().is_empty() {
            fallback.to_string()
        } else {
            self.label.clone()
        }
    }

    /// The per-image table as CSV: dataset_root, stem, the seven metrics,
    /// pixels, scale.
    pub fn per_image_csv(&self) -> String {
        let mut out = String::from("dataset_root,stem,");
        out.push_str(&MetricSet::NAMES.join(","));
        out.push_str(",pixels,scale\n");
        for s in &self.per_sample {
            out.push_str(&csv_field(&s.dataset_root));
            out.push(',');
            out.push_str(&csv_field(&s.stem));
            for v in s.metrics.values() {
                out.push_str(&format!(",{v}"));
            }
            out.push_str(&format!(",{},{}\n", s.pixels, s.scale));
        }
        out
    }
}

/// A CSV field, quoted when it holds a comma, quote or newline.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Summarises per-sample values into the run's means, stds and per-range tables.
pub(crate) fn summarise(
    per_sample: &[SampleMetrics],
    edges: &[f64],
) -> (MetricSet, MetricSet, u64, Vec<RangeSummary>) {
    let (mean, std) = mean_std_sets(per_sample.iter().map(|s| s.metrics));
    let pixels = per_sample.iter().map(|s| s.pixels).sum();
    let per_range = edges
        .windows(2)
        .enumerate()
        .map(|(i, e)| {
            let vals: Vec<SampleRangeMetrics> = per_sample
                .iter()
                .filter_map(|s| s.ranges.get(i).copied().flatten())
                .collect();
            let (metrics, std) = mean_std_sets(vals.iter().map(|v| v.metrics));
            RangeSummary {
                lo: e[0],
                hi: e[1],
                metrics,
                std,
                images: vals.len(),
                pixels: vals.iter().map(|v| v.pixels).sum(),
            }
        })
        .collect();
    (mean, std, pixels, per_range)
}

/// Mean and population std of each metric over a list of sets.
pub fn mean_std_sets(sets: impl Iterator<Item = MetricSet>) -> (MetricSet, MetricSet) {
    let mut cols: [Vec<f64>; 7] = Default::default();
    for s in sets {
        for (c, v) in cols.iter_mut().zip(s.values()) {
            c.push(v);
        }
    }
    let mut mean = [0.0; 7];
    let mut std = [0.0; 7];
    for i in 0..7 {
        (mean[i], std[i]) = super::metrics::mean_std(&cols[i]);
    }
    (MetricSet::from_values(mean), MetricSet::from_values(std))
}

/// A file path as text for run files.
pub(crate) fn path_text(p: &Path) -> String {
    p.display().to_string()
}

/// The absolute form of a path when it can be found (for run records).
pub(crate) fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
