//! Evaluation: depth predictions against the dataset's ground truth, with
//! the metrics the users report (abs_rel, sq_rel, rmse, rmse_log, a1–a3).
//!
//! Public API, plain data in and out (the CLI and the app's Evaluate view
//! both drive it):
//!
//! - [`EvalRequest`] → [`evaluate`]`(&request, &progress)` → [`EvalRun`]:
//!   the dataset root and split, where predictions come from
//!   ([`PredictionSource`]: an ONNX model run by ONNX Runtime, or a folder
//!   of NPU `.npy`/`.npz` dumps or 16-bit PNG depth maps), the [`Decoder`]
//!   that turns network outputs into metres, and the metric
//!   [`EvalSettings`]. Long-running; honours [`Progress`] cancel (the run
//!   comes back with `cancelled: true` and the samples finished so far).
//! - [`EvalRun`] is the saved run (JSON, [`EvalRun::save`] / [`EvalRun::load`]):
//!   settings, decoder, model path and SHA-256, the INT8 model's calibration
//!   method and calibration-set identity (from its `.ranges.json`), a
//!   top-level `metrics` object (mean over images), `std` (population,
//!   ddof = 0, like `np.std`), image and pixel counts, `per_sample` entries
//!   ([`SampleMetrics`]: `dataset_root`, `stem`, the seven metrics, pixel
//!   count, per-range values), the images with no valid pixel (reported,
//!   left out of the means), skipped and unmatched samples, the samples
//!   excluded as suspect ([`EvalRequest::excluded`], with reasons), per-range
//!   summaries and prediction-cache counters.
//! - [`compare::compare`] builds the comparison of runs against a baseline
//!   on the samples common to all runs ([`compare::Comparison`], with
//!   Markdown and CSV writers).
//! - [`score_prediction`] scores one sample from arrays in hand (GT in
//!   metres and raw [`Head`]s); [`metrics`] holds the per-image computation
//!   (masks, Garg crop, median scaling, clamp, bilinear resize).
//!
//! Conventions (every one is recorded in the run):
//! - Bilinear resize with `align_corners=False` (half-pixel centres, as
//!   OpenCV and PyTorch's default) unless [`EvalSettings::align_corners`]
//!   (packnet-sfm's choice).
//! - Median scaling uses numpy's median (mean of the two middle values for
//!   an even count), over the masked pixels, before the optional clamp
//!   (monodepth2's order).
//! - Per depth range `[lo, hi)` by GT value: the metric is recomputed over
//!   the masked pixels in the range (after the image's median scaling), per
//!   image, then averaged over the images that have pixels in the range.

pub mod compare;
pub mod exclude;
pub mod metrics;
pub mod naming;
pub mod predict;
pub mod run;

mod engine;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::decoder::{Decoder, DecoderKind};
pub use crate::progress::Progress;
pub use engine::{evaluate, score_prediction};
pub use metrics::{Crop, ImageMetrics, MaskBounds, MetricSet, ResizeOrder, ValidityMask};
pub use predict::Head;
pub use run::{
    CacheCounters, CalibrationInfo, EvalRun, ExcludedSample, RangeSummary, SampleMetrics,
    SampleRangeMetrics, SourceInfo,
};

use crate::dataset::DatasetSettings;
use crate::preprocess::PreprocessSettings;

/// The default depth-range edges (metres) of the per-range table.
pub const DEFAULT_RANGE_EDGES: [f64; 5] = [0.5, 1.0, 3.0, 5.0, 15.0];

/// How predictions are compared with ground truth. `Default` is the
/// brief's evaluation: 0.5–15 m strict, no scaling, no clamp, no crop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvalSettings {
    /// Pixels with `min_depth < gt < max_depth` count (see `bounds`).
    pub min_depth: f64,
    pub max_depth: f64,
    pub bounds: MaskBounds,
    /// `pred *= median(gt) / median(pred)` per image over the masked pixels.
    pub median_scaling: bool,
    /// Clamp predictions to `[min_depth, max_depth]` after scaling.
    pub clamp: bool,
    pub crop: Crop,
    /// A validity mask PNG (the fisheye `binary_mask.png`; > 127 is valid),
    /// resized to the GT size by nearest neighbour when sizes differ.
    pub validity_mask: Option<PathBuf>,
    /// Whether raw network outputs are resized to the GT size before the
    /// decoder runs (the NPU script) or the decoded depth after.
    pub resize: ResizeOrder,
    /// Bilinear with `align_corners=True` (packnet-sfm) instead of half-pixel centres.
    pub align_corners: bool,
    /// Edges of the per-range table, increasing (metres).
    pub range_edges: Vec<f64>,
}

impl Default for EvalSettings {
    fn default() -> Self {
        Self {
            min_depth: 0.5,
            max_depth: 15.0,
            bounds: MaskBounds::Strict,
            median_scaling: false,
            clamp: false,
            crop: Crop::None,
            validity_mask: None,
            resize: ResizeOrder::AfterDecoding,
            align_corners: false,
            range_edges: DEFAULT_RANGE_EDGES.to_vec(),
        }
    }
}

impl EvalSettings {
    /// Checks the numbers make sense; the message names the option to fix.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.min_depth.is_finite() && self.max_depth.is_finite())
            || self.min_depth < 0.0
            || self.min_depth >= self.max_depth
        {
            return Err(format!(
                "min depth {} and max depth {} do not make a range; give 0 <= min < max (e.g. 0.5 and 15)",
                self.min_depth, self.max_depth
            ));
        }
        if self.range_edges.len() == 1
            || self.range_edges.windows(2).any(|w| w[0] >= w[1])
            || self.range_edges.iter().any(|e| !e.is_finite())
        {
            return Err(format!(
                "range edges {} must be at least two increasing numbers (e.g. 0.5,1,3,5,15)",
                self.range_edges
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
        Ok(())
    }
}

/// Where predictions come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PredictionSource {
    /// An ONNX model (FP32 or INT8 QDQ) run by ONNX Runtime on every
    /// sample's image, preprocessed like calibration. `preprocess: None`
    /// prefills from the model's input. Outputs are cached on disk.
    Model {
        path: PathBuf,
        preprocess: Option<PreprocessSettings>,
    },
    /// A folder of prediction files (layouts in [`predict`], names in [`naming`]).
    /// uint8 arrays are multiplied by `uint8_scale` (1/255 maps 0–255 to 0–1).
    Folder { path: PathBuf, uint8_scale: f64 },
}

/// Everything an evaluation needs.
#[derive(Debug, Clone)]
pub struct EvalRequest {
    pub root: PathBuf,
    /// The split file (absolute, or relative to the current folder or `root`).
    pub split: PathBuf,
    pub dataset: DatasetSettings,
    pub source: PredictionSource,
    pub decoder: Decoder,
    pub settings: EvalSettings,
    /// Prediction cache folder; `None` uses the app's cache folder
    /// (`CALIBSCOPE_HOME` or the platform's). Ignored for folder sources.
    pub cache_dir: Option<PathBuf>,
    /// Read and write the prediction cache (off: always run the network).
    pub use_cache: bool,
    /// A name for the run in comparison tables (e.g. "INT8 curated").
    pub label: String,
    /// Samples to leave out (suspects), matched to the split like `select`
    /// matches keys (`seq/` is `seq`; unpadded numeric stems find their
    /// sample). Those in the split are listed in the run's `excluded`;
    /// the others are ignored (a project's suspects span all its splits).
    pub excluded: Vec<ExcludedSample>,
}

impl EvalRequest {
    /// A request with default settings, the sigmoid-inverse decoder and the cache on.
    pub fn new(root: PathBuf, split: PathBuf, source: PredictionSource) -> Self {
        Self {
            root,
            split,
            dataset: DatasetSettings::default(),
            source,
            decoder: Decoder::default(),
            settings: EvalSettings::default(),
            cache_dir: None,
            use_cache: true,
            label: String::new(),
            excluded: Vec::new(),
        }
    }
}

/// Why an evaluation could not run at all (per-sample problems are
/// reported in the run instead).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Dataset(#[from] crate::dataset::DatasetError),
    #[error("{0}")]
    Settings(String),
    #[error("{0}")]
    Model(String),
    #[error("{0}")]
    Predictions(String),
    #[error("{0}")]
    Io(String),
    #[error("no sample of {split} could be evaluated: {why}")]
    NothingToEvaluate { split: String, why: String },
}
