//! abs_rel on an evaluation split for each method of a
//! [`MethodComparison`]: each method's INT8 model is rebuilt from the ranges
//! the comparison reports (the same ranges `compare_methods` quantized
//! with) and evaluated against the ground truth.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::methods::MethodComparison;
use crate::evaluate::{self, Decoder, EvalRequest, EvalSettings, PredictionSource};
use crate::onnx;
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;
use crate::quantize::{graph, qdq, QdqSettings};

pub struct MethodsEvalRequest<'a> {
    pub fp32: &'a Path,
    pub comparison: &'a MethodComparison,
    /// The Q/DQ settings the comparison was made with.
    pub qdq: &'a QdqSettings,
    pub root: PathBuf,
    pub split: PathBuf,
    pub dataset: crate::dataset::DatasetSettings,
    pub preprocess: PreprocessSettings,
    pub decoder: Decoder,
    pub settings: EvalSettings,
}

/// Per method of the comparison (same order), abs_rel on the split;
/// `Ok(None)` when cancelled.
pub fn methods_abs_rel(
    req: &MethodsEvalRequest,
    progress: &Progress,
) -> Result<Option<Vec<f64>>, String> {
    let mut model = onnx::load(req.fp32).map_err(|e| e.to_string())?;
    graph::fold_constant_nodes(&mut model);
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let mut out = Vec::new();
    for (k, m) in req.comparison.methods.iter().enumerate() {
        // Tensors never seen (no values) had no range and stayed float.
        let ranges: HashMap<String, (f32, f32)> = req
            .comparison
            .tensors
            .iter()
            .filter(|t| t.observed_min <= t.observed_max)
            .filter_map(|t| Some((t.tensor.clone(), *t.ranges.get(k)?)))
            .collect();
        let (q, _) = qdq::write_qdq(&model, &ranges, req.qdq).map_err(|e| e.to_string())?;
        let path = dir.path().join(format!("{m:?}.onnx").to_lowercase());
        onnx::save(&q, &path).map_err(|e| e.to_string())?;
        let mut r = EvalRequest::new(
            req.root.clone(),
            req.split.clone(),
            PredictionSource::Model {
                path,
                preprocess: Some(req.preprocess.clone()),
            },
        );
        r.dataset = req.dataset.clone();
        r.decoder = req.decoder.clone();
        r.settings = req.settings.clone();
        r.use_cache = false;
        let run = evaluate::evaluate(&r, progress).map_err(|e| e.to_string())?;
        if run.cancelled {
            return Ok(None);
        }
        out.push(run.metrics.abs_rel);
    }
    Ok(Some(out))
}
