//! Sensitivity sweep: for each of the K worst activation tensors, keep it
//! float (requantized from the saved ranges, no new calibration), measure
//! abs_rel on the evaluation split, rank, and recommend the smallest set
//! of tensors to keep float to reach a target.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::evaluate::{self, Decoder, EvalRequest, EvalSettings, PredictionSource};
use crate::onnx::ModelProto;
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;
use crate::quantize::{qdq, QdqSettings, RangesFile};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepEntry {
    pub tensor: String,
    /// abs_rel with this tensor alone kept float.
    pub abs_rel: f64,
    /// INT8 abs_rel minus this (positive: keeping it float helps).
    pub improvement: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    pub int8_abs_rel: f64,
    pub fp32_abs_rel: f64,
    /// Best improvement first.
    pub entries: Vec<SweepEntry>,
    pub target_abs_rel: f64,
    /// The smallest prefix of `entries` (those that help) reaching the
    /// target, with its abs_rel; all helpful ones when none reaches it.
    pub recommended_float: Vec<String>,
    pub recommended_abs_rel: f64,
    pub reaches_target: bool,
}

pub struct SweepRequest<'a> {
    pub fp32: &'a ModelProto,
    pub fp32_path: &'a Path,
    pub ranges: &'a RangesFile,
    /// Candidate tensors, worst first (from the per-tensor comparison).
    pub candidates: Vec<String>,
    pub root: PathBuf,
    pub split: PathBuf,
    pub dataset: crate::dataset::DatasetSettings,
    pub preprocess: PreprocessSettings,
    pub decoder: Decoder,
    pub settings: EvalSettings,
    /// None: halfway from INT8's abs_rel to FP32's.
    pub target_abs_rel: Option<f64>,
}

fn abs_rel_of(req: &SweepRequest, model: &Path, progress: &Progress) -> Result<f64, String> {
    let split = EvalSplit {
        root: req.root.clone(),
        split: req.split.clone(),
        dataset: req.dataset.clone(),
        decoder: req.decoder.clone(),
        settings: req.settings.clone(),
    };
    abs_rel_on_split(&split, model, &req.preprocess, progress)
}

/// An evaluation split with the metric settings (for abs_rel of candidate models).
#[derive(Debug, Clone)]
pub struct EvalSplit {
    pub root: PathBuf,
    pub split: PathBuf,
    pub dataset: crate::dataset::DatasetSettings,
    pub decoder: Decoder,
    pub settings: EvalSettings,
}

/// abs_rel of `model` on the split (prediction cache off: candidates are temporary files).
pub fn abs_rel_on_split(
    split: &EvalSplit,
    model: &Path,
    preprocess: &PreprocessSettings,
    progress: &Progress,
) -> Result<f64, String> {
    let mut r = EvalRequest::new(
        split.root.clone(),
        split.split.clone(),
        PredictionSource::Model {
            path: model.to_path_buf(),
            preprocess: Some(preprocess.clone()),
        },
    );
    r.dataset = split.dataset.clone();
    r.decoder = split.decoder.clone();
    r.settings = split.settings.clone();
    r.use_cache = false;
    let run = evaluate::evaluate(&r, progress).map_err(|e| e.to_string())?;
    if run.cancelled {
        return Err("cancelled".into());
    }
    Ok(run.metrics.abs_rel)
}

/// Writes the model quantized from the saved ranges with `float` kept float; returns its abs_rel.
fn requantized_abs_rel(
    req: &SweepRequest,
    float: &[String],
    dir: &Path,
    progress: &Progress,
) -> Result<f64, String> {
    let settings = QdqSettings {
        activation_type: req.ranges.activation_type,
        exclude_tensors: float.to_vec(),
        ..Default::default()
    };
    let ranges: HashMap<String, (f32, f32)> = req.ranges.ranges();
    let (m, _) = qdq::write_qdq(req.fp32, &ranges, &settings).map_err(|e| e.to_string())?;
    let path = dir.join("sweep_candidate.onnx");
    crate::onnx::save(&m, &path).map_err(|e| e.to_string())?;
    abs_rel_of(req, &path, progress)
}

pub fn sweep(req: &SweepRequest, progress: &Progress) -> Result<Sweep, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let fp32_abs_rel = abs_rel_of(req, req.fp32_path, progress)?;
    let int8_abs_rel = requantized_abs_rel(req, &[], dir.path(), progress)?;
    let mut entries = Vec::new();
    for t in &req.candidates {
        let a = requantized_abs_rel(req, std::slice::from_ref(t), dir.path(), progress)?;
        entries.push(SweepEntry {
            tensor: t.clone(),
            abs_rel: a,
            improvement: int8_abs_rel - a,
        });
    }
    entries.sort_by(|a, b| b.improvement.total_cmp(&a.improvement));
    let target = req
        .target_abs_rel
        .unwrap_or((int8_abs_rel + fp32_abs_rel) / 2.0);
    let mut set: Vec<String> = Vec::new();
    let mut best = int8_abs_rel;
    for e in entries.iter().filter(|e| e.improvement > 0.0) {
        if best <= target {
            break;
        }
        set.push(e.tensor.clone());
        best = requantized_abs_rel(req, &set, dir.path(), progress)?;
    }
    Ok(Sweep {
        int8_abs_rel,
        fp32_abs_rel,
        entries,
        target_abs_rel: target,
        recommended_float: set,
        recommended_abs_rel: best,
        reaches_target: best <= target,
    })
}
