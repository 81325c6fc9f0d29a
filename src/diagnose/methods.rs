//! Method comparison in one run: one calibration pass, then MinMax,
//! Percentile, Entropy and MSE ranges (each with ONNX Runtime's defaults)
//! side by side, with each INT8 model's fidelity on held-out inputs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fidelity::{self, Fidelity};
use super::inspect::{inspect_ranges, RangeInspection};
use super::sweep::{abs_rel_on_split, EvalSplit};
use crate::evaluate::Decoder;
use crate::onnx;
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;
use crate::quantize::stats::TensorStats;
use crate::quantize::{
    calibrate, graph, methods, qdq, ranges, ActivationType, MethodOptions, PtqError, QdqSettings,
    RangeMethod,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorRanges {
    pub tensor: String,
    pub observed_min: f32,
    pub observed_max: f32,
    /// (min, max) per method, in [`MethodComparison::methods`] order.
    pub ranges: Vec<(f32, f32)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodComparison {
    pub methods: Vec<RangeMethod>,
    pub tensors: Vec<TensorRanges>,
    /// Per method, INT8 against FP32 on the held-out inputs.
    pub fidelity: Vec<Fidelity>,
}

pub const METHODS: [RangeMethod; 4] = [
    RangeMethod::MinMax,
    RangeMethod::Percentile,
    RangeMethod::Entropy,
    RangeMethod::Mse,
];

/// Method `m`'s range with its ONNX Runtime defaults (Entropy on 128
/// bins, the others on 2048) from statistics collected on 2048 bins.
pub fn default_range(s: &TensorStats, m: RangeMethod, act: ActivationType) -> (f32, f32) {
    let opts = MethodOptions::for_method(m);
    methods::tensor_range(&merged(s, opts.num_bins), m, &opts, act)
}

/// `s` with every `factor` adjacent bins merged (same range): a 2048-bin
/// histogram gives Entropy's 128 bins exactly.
pub(crate) fn merged(s: &TensorStats, bins: usize) -> TensorStats {
    let factor = (s.bins() / bins.max(1)).max(1);
    let fold = |h: &[u64]| {
        h.chunks(factor)
            .map(|c| c.iter().sum())
            .collect::<Vec<u64>>()
    };
    TensorStats {
        neg: fold(&s.neg),
        pos: fold(&s.pos),
        ..s.clone()
    }
}

/// A method comparison with what it was made from: each method's INT8
/// model (to evaluate on a split) and the calibration statistics (for the
/// range inspector).
pub struct MethodRun {
    pub comparison: MethodComparison,
    /// Encoded INT8 QDQ models, in [`MethodComparison::methods`] order.
    pub models: Vec<Vec<u8>>,
    /// Per calibrated tensor, its histogram (2048 bins).
    pub stats: HashMap<String, TensorStats>,
}

impl MethodRun {
    /// A tensor's histogram with the range each method gave it (the graph
    /// input's from the preprocessing, as in the INT8 models); None for a
    /// tensor that was not calibrated.
    pub fn inspect(&self, tensor: &str) -> Option<RangeInspection> {
        let s = self.stats.get(tensor)?;
        let row = self
            .comparison
            .tensors
            .iter()
            .find(|t| t.tensor == tensor)?;
        let ranges: Vec<(RangeMethod, (f32, f32))> = self
            .comparison
            .methods
            .iter()
            .copied()
            .zip(row.ranges.iter().copied())
            .collect();
        Some(inspect_ranges(s, &ranges))
    }

    /// abs_rel of FP32 and of each method's INT8 model on an evaluation split.
    pub fn abs_rel(
        &self,
        fp32: &Path,
        split: &EvalSplit,
        pre: &PreprocessSettings,
        progress: &Progress,
    ) -> Result<MethodsAbsRel, String> {
        let dir =
            tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
        let fp32_abs_rel = abs_rel_on_split(split, fp32, pre, progress)?;
        let mut abs_rel = Vec::new();
        for (m, bytes) in self.comparison.methods.iter().zip(&self.models) {
            let p = dir.path().join(format!("{m}_int8.onnx"));
            crate::fsutil::write_atomic(&p, bytes)
                .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
            abs_rel.push(abs_rel_on_split(split, &p, pre, progress)?);
        }
        Ok(MethodsAbsRel {
            split: split.split.display().to_string(),
            fp32_abs_rel,
            abs_rel,
        })
    }
}

/// abs_rel per method on an evaluation split, beside FP32's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodsAbsRel {
    pub split: String,
    pub fp32_abs_rel: f64,
    /// In [`MethodComparison::methods`] order.
    pub abs_rel: Vec<f64>,
}

/// Calibrates once on `inputs` and compares the four methods on `held_out`
/// ([`MethodRun::comparison`]), keeping the models and the statistics.
#[allow(clippy::too_many_arguments)] // the pieces of a PTQ request, as plain data
pub fn run_methods(
    model_path: &Path,
    inputs: &[PathBuf],
    held_out: &[PathBuf],
    pre: &PreprocessSettings,
    qdq_settings: &QdqSettings,
    decoder: Option<&Decoder>,
    progress: &Progress,
) -> Result<MethodRun, PtqError> {
    let model_bytes = std::fs::read(model_path).map_err(|source| onnx::OnnxError::Read {
        path: model_path.to_path_buf(),
        source,
    })?;
    let mut model = onnx::load(model_path)?;
    graph::fold_constant_nodes(&mut model);
    let info = graph::analyse(&model);
    let tensors = graph::tensors_to_calibrate(
        &model,
        &info,
        &qdq_settings.op_types,
        &qdq_settings.exclude_nodes,
        &qdq_settings.exclude_tensors,
    );
    let cal = calibrate::calibrate(
        &model,
        &tensors,
        inputs,
        "method comparison",
        pre,
        2048,
        progress,
    )?;
    if cal.cancelled {
        return Err(PtqError::Cancelled(cal.images));
    }
    let observed: HashMap<String, (f32, f32)> = cal
        .stats
        .iter()
        .map(|(k, s)| (k.clone(), (s.min, s.max)))
        .collect();
    let from_images = inputs
        .iter()
        .all(|p| !p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy")));
    let graph_inputs: Vec<String> = info.graph_inputs.iter().cloned().collect();
    let mut per_method: Vec<HashMap<String, (f32, f32)>> = Vec::new();
    let mut models: Vec<Vec<u8>> = Vec::new();
    for m in METHODS {
        let mut r: HashMap<String, (f32, f32)> = cal
            .stats
            .iter()
            .filter(|(_, s)| s.count > 0)
            .map(|(k, s)| (k.clone(), default_range(s, m, qdq_settings.activation_type)))
            .collect();
        ranges::set_input_ranges_from(
            &mut r,
            &observed,
            &model,
            &graph_inputs,
            ranges::InputRange::Preprocessing,
            pre,
            from_images,
        );
        models.push(onnx::encode(&qdq::write_qdq(&model, &r, qdq_settings)?.0));
        per_method.push(r);
    }
    let candidates: Vec<&[u8]> = models.iter().map(Vec::as_slice).collect();
    let acc = fidelity::compare_models(&model_bytes, &candidates, held_out, pre, decoder, progress)
        .map_err(|e| match e {
            fidelity::FidelityError::Cancelled => PtqError::CancelledFidelity,
            e => PtqError::Source(format!("fidelity check: {e}")),
        })?;
    let fidelity = acc
        .iter()
        .map(|a| fidelity::fidelity_from(held_out, a, Some(&acc[0]), None))
        .collect();
    let tensors = tensors
        .iter()
        .filter_map(|t| {
            let (omin, omax) = *observed.get(t)?;
            Some(TensorRanges {
                tensor: t.clone(),
                observed_min: omin,
                observed_max: omax,
                ranges: per_method
                    .iter()
                    .map(|r| r.get(t).copied().unwrap_or((omin, omax)))
                    .collect(),
            })
        })
        .collect();
    Ok(MethodRun {
        comparison: MethodComparison {
            methods: METHODS.to_vec(),
            tensors,
            fidelity,
        },
        models,
        stats: cal.stats.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_bins_keeps_counts_and_range() {
        let mut s = TensorStats::new(2048);
        s.add(&[0.0, 0.1, -0.5, 0.99, 1.0]);
        let m = merged(&s, 128);
        assert_eq!(m.bins(), 128);
        assert_eq!(m.range, s.range);
        assert_eq!(m.abs_hist().iter().sum::<u64>(), 5);
        // 0.99 → bin ⌊0.99·128⌋ = 126; 1.0 (the top edge) stays in the last bin.
        assert_eq!((m.pos[126], m.pos[127]), (1, 1));
        assert_eq!(m.neg[64], 1); // 0.5·128 = 64
    }
}
