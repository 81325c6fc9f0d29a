//! What the range inspector needs beside the per-tensor table: the
//! calibration histograms of chosen tensors (the saved ranges.json keeps
//! only the ranges), and each method's range over one histogram with the
//! method's own ONNX Runtime defaults, as [`super::methods::run_methods`]
//! computes them (Entropy on 128 bins, the others on 2048).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::inspect::{clipped_share, inspect, MethodRange, RangeInspection};
use super::methods::{default_range, METHODS};
use crate::onnx;
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;
use crate::quantize::methods::{ActivationType, MethodOptions};
use crate::quantize::stats::TensorStats;
use crate::quantize::{calibrate, graph};

/// Histogram bins collected: enough for every method's default (merged down for Entropy).
pub const BINS: usize = 2048;

/// Calibrates `tensors` of the FP32 model (constants folded, as the
/// per-tensor table names them) over `inputs`; `Ok(None)` when cancelled.
pub fn calibration_histograms(
    model_path: &Path,
    tensors: &[String],
    inputs: &[PathBuf],
    pre: &PreprocessSettings,
    progress: &Progress,
) -> Result<Option<BTreeMap<String, TensorStats>>, String> {
    let mut model = onnx::load(model_path).map_err(|e| e.to_string())?;
    graph::fold_constant_nodes(&mut model);
    let cal = calibrate::calibrate(
        &model,
        tensors,
        inputs,
        "range inspector",
        pre,
        BINS,
        progress,
    )
    .map_err(|e| e.to_string())?;
    if cal.cancelled {
        return Ok(None);
    }
    Ok(Some(
        cal.stats.into_iter().filter(|(_, s)| s.count > 0).collect(),
    ))
}

/// The histogram of `s` (at its own resolution) with each method's range
/// and clipped share computed on that method's default number of bins.
pub fn inspect_with_method_defaults(s: &TensorStats, act: ActivationType) -> RangeInspection {
    let mut out = inspect(s, &MethodOptions::default(), act);
    for (slot, m) in out.methods.iter_mut().zip(METHODS) {
        let (min, max) = default_range(s, m, act);
        *slot = MethodRange {
            method: m,
            min,
            max,
            clipped_share: clipped_share(s, min, max),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::methods::merged;
    use crate::quantize::methods::{tensor_range, RangeMethod};

    #[test]
    fn each_method_uses_its_own_bin_count() {
        // A long tail: Entropy on 128 bins and on 2048 bins choose differently.
        let mut v: Vec<f32> = (0..20_000).map(|i| (i % 1000) as f32 / 1000.0).collect();
        v.extend((0..50).map(|i| 5.0 + i as f32 * 0.1));
        let mut s = TensorStats::new(BINS);
        s.add(&v);
        let r = inspect_with_method_defaults(&s, ActivationType::Uint8);
        assert_eq!(
            r.counts.len(),
            2 * BINS,
            "the histogram keeps full resolution"
        );
        for (mr, m) in r.methods.iter().zip(METHODS) {
            assert_eq!(mr.method, m);
            let opts = MethodOptions::for_method(m);
            let want = tensor_range(&merged(&s, opts.num_bins), m, &opts, ActivationType::Uint8);
            assert_eq!((mr.min, mr.max), want, "{m:?}");
        }
        let mm = &r.methods[0];
        assert_eq!(mm.method, RangeMethod::MinMax);
        assert_eq!((mm.min, mm.max, mm.clipped_share), (0.0, 9.9, 0.0));
    }
}
