//! Range methods (MinMax, Percentile, Entropy, MSE) and the scale / zero-point
//! formulas, matching `onnxruntime.quantization` (`quant_utils.compute_scale_zp`).

use serde::{Deserialize, Serialize};

use super::stats::TensorStats;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RangeMethod {
    /// Observed min and max (ONNX Runtime's default).
    #[default]
    MinMax,
    /// |x| threshold at a percentile of the histogram (default 99.999).
    Percentile,
    /// KL-divergence threshold search, TensorRT style (2048 → 128 bins).
    Entropy,
    /// The threshold that minimises the expected squared quantization error.
    Mse,
}

impl std::str::FromStr for RangeMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "minmax" | "min-max" => Ok(Self::MinMax),
            "percentile" => Ok(Self::Percentile),
            "entropy" | "kl" => Ok(Self::Entropy),
            "mse" => Ok(Self::Mse),
            _ => Err(format!(
                "unknown method {s}: use minmax, percentile, entropy or mse"
            )),
        }
    }
}

impl std::fmt::Display for RangeMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::MinMax => "minmax",
            Self::Percentile => "percentile",
            Self::Entropy => "entropy",
            Self::Mse => "mse",
        })
    }
}

/// Activation integer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ActivationType {
    /// uint8, asymmetric (zero point free): the default.
    #[default]
    Uint8,
    /// int8, symmetric (zero point 0, range −127…127).
    Int8,
}

impl ActivationType {
    pub fn symmetric(self) -> bool {
        self == Self::Int8
    }
    /// (qmin, qmax) as ORT's `get_qmin_qmax_for_qType` gives them.
    pub fn qrange(self) -> (i32, i32) {
        match self {
            Self::Uint8 => (0, 255),
            Self::Int8 => (-127, 127),
        }
    }
}

/// Scale and zero point for [rmin, rmax], as `compute_scale_zp` computes them:
/// the range is widened to include 0, made symmetric when asked, scale is
/// (rmax − rmin)/(qmax − qmin) in f64 then stored as f32, and the zero point is
/// round-half-to-even(qmin − rmin/scale) (numpy's rounding).
pub fn compute_scale_zp(rmin: f32, rmax: f32, qmin: i32, qmax: i32, symmetric: bool) -> (f32, i32) {
    let mut rmin = rmin.min(0.0);
    let mut rmax = rmax.max(0.0);
    if symmetric {
        let a = rmin.abs().max(rmax.abs());
        rmin = -a;
        rmax = a;
    }
    let scale = (rmax as f64 - rmin as f64) / (qmax as f64 - qmin as f64);
    if scale < f32::MIN_POSITIVE as f64 {
        return (1.0, 0);
    }
    let zp = if symmetric {
        ((qmin + qmax) as f64 / 2.0).round_ties_even() as i32
    } else {
        (qmin as f64 - rmin as f64 / scale).round_ties_even() as i32
    };
    (scale as f32, zp.clamp(qmin, qmax))
}

/// Settings of the histogram methods.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MethodOptions {
    /// Percentile kept by `Percentile` (of |x|).
    pub percentile: f64,
    /// Histogram bins over [0, max|x|].
    pub num_bins: usize,
    /// Target bins of the KL search (128 for 8 bits).
    pub num_quantized_bins: usize,
}

impl Default for MethodOptions {
    fn default() -> Self {
        Self {
            percentile: 99.999,
            num_bins: 2048,
            num_quantized_bins: 128,
        }
    }
}

impl RangeMethod {
    /// ONNX Runtime's histogram size for the method: 128 bins for Entropy
    /// (so with 128 quantized bins its KL search keeps the observed range),
    /// 2048 for Percentile and the rest.
    pub fn default_bins(self) -> usize {
        match self {
            Self::Entropy => 128,
            _ => 2048,
        }
    }
}

impl MethodOptions {
    /// ONNX Runtime's defaults for `method` (see [`RangeMethod::default_bins`]).
    /// Callers that switch method should start from these: 2048 bins under
    /// Entropy is TensorRT's setting, whose KL search can keep a sliver of a
    /// tensor whose values are discrete (such as 8-bit pixels).
    pub fn for_method(method: RangeMethod) -> Self {
        Self {
            num_bins: method.default_bins(),
            ..Self::default()
        }
    }
}

/// The calibrated range [rmin, rmax] of a tensor under a method. Histogram
/// methods find a threshold T on |x| and clip it to the observed min/max, as
/// ONNX Runtime's histogram calibrators do.
pub fn tensor_range(
    s: &TensorStats,
    method: RangeMethod,
    opts: &MethodOptions,
    act: ActivationType,
) -> (f32, f32) {
    if s.count == 0 || s.min > s.max {
        return (0.0, 0.0);
    }
    let t = match method {
        RangeMethod::MinMax => return (s.min, s.max),
        _ if s.range <= 0.0 => return (s.min, s.max),
        RangeMethod::Percentile => percentile_threshold(s, opts.percentile),
        RangeMethod::Entropy => {
            entropy_threshold(&s.abs_hist(), opts.num_quantized_bins) as f64 * s.width()
        }
        RangeMethod::Mse => mse_threshold(s, act),
    } as f32;
    (s.min.max(-t), s.max.min(t))
}

/// The edge at the first bin where the |x| CDF reaches `p` percent, as ORT's
/// symmetric percentile takes it: `idx = searchsorted(cdf, p/100)` →
/// `edges[idx]` (the lower edge of that bin).
fn percentile_threshold(s: &TensorStats, p: f64) -> f64 {
    let h = s.abs_hist();
    let total: u64 = h.iter().sum();
    let target = p / 100.0;
    let mut cum = 0u64;
    for (i, &c) in h.iter().enumerate() {
        cum += c;
        if cum as f64 / total as f64 >= target {
            return i as f64 * s.width();
        }
    }
    s.range as f64
}

/// TensorRT's entropy calibration: for each candidate end bin i in
/// [nq, bins], compare the clipped reference distribution P (outliers folded
/// into the last bin) with Q, P merged into `nq` bins and spread back over the
/// non-empty bins; return the i with the least KL(P‖Q) (the last of equals).
#[allow(clippy::needless_range_loop)] // index arithmetic mirrors the reference algorithm
pub fn entropy_threshold(hist: &[u64], nq: usize) -> usize {
    let n = hist.len();
    if n <= nq {
        return n;
    }
    let mut bins: Vec<f64> = hist.iter().map(|&c| c as f64).collect();
    // TensorRT ignores the spike of exact zeros (e.g. after ReLU).
    bins[0] = bins[1];
    let suffix: Vec<f64> = {
        let mut s = vec![0.0; n + 1];
        for i in (0..n).rev() {
            s[i] = s[i + 1] + bins[i];
        }
        s
    };
    let mut best = (f64::INFINITY, n);
    let mut q = vec![0.0f64; n];
    for i in nq..=n {
        // Chunk boundaries as numpy.digitize(range(i), linspace(0, i, nq+1)) - 1.
        let mut counts = vec![0.0f64; nq];
        let mut nonzero = vec![0usize; nq];
        let chunk_of = |j: usize| ((j * nq) / i).min(nq - 1);
        for j in 0..i {
            if bins[j] != 0.0 {
                let c = chunk_of(j);
                counts[c] += bins[j];
                nonzero[c] += 1;
            }
        }
        let mut q_sum = 0.0;
        for j in 0..i {
            q[j] = if bins[j] != 0.0 {
                let c = chunk_of(j);
                counts[c] / nonzero[c] as f64
            } else {
                0.0
            };
            q_sum += q[j];
        }
        let p_sum: f64 = suffix[0];
        if q_sum == 0.0 || p_sum == 0.0 {
            continue;
        }
        // Smooth Q as ONNX Runtime does (`smooth_distribution`, eps 1e-4), so a
        // lone outlier folded into P's last bin does not make KL infinite.
        let eps = 1e-4;
        let zeros = (0..i).filter(|&j| q[j] == 0.0).count();
        let eps1 = eps * zeros as f64 / (i - zeros).max(1) as f64;
        let mut kl = 0.0;
        for j in 0..i {
            let mut p = bins[j];
            if j == i - 1 {
                p += suffix[i];
            }
            if p == 0.0 {
                continue;
            }
            let pn = p / p_sum;
            let qn = if q[j] == 0.0 {
                eps
            } else {
                q[j] / q_sum - eps1
            };
            if qn <= 0.0 {
                kl = f64::INFINITY;
                break;
            }
            kl += pn * (pn / qn).ln();
        }
        if kl <= best.0 {
            best = (kl, i);
        }
    }
    best.1
}

/// The |x| threshold (a bin edge) minimising the expected squared error of
/// quantize-dequantize over the signed histogram (bin centres as values).
fn mse_threshold(s: &TensorStats, act: ActivationType) -> f64 {
    let n = s.bins();
    let w = s.width();
    let (qmin, qmax) = act.qrange();
    let centres: Vec<(f64, f64)> = (0..n)
        .flat_map(|i| {
            let c = (i as f64 + 0.5) * w;
            [(c, s.pos[i] as f64), (-c, s.neg[i] as f64)]
        })
        .filter(|&(_, cnt)| cnt > 0.0)
        .collect();
    let step = (n / 256).max(1);
    let mut best = (f64::INFINITY, s.range as f64);
    let mut i = step;
    while i <= n {
        let t = i as f64 * w;
        let lo = (s.min as f64).max(-t) as f32;
        let hi = (s.max as f64).min(t) as f32;
        let (scale, zp) = compute_scale_zp(lo, hi, qmin, qmax, act.symmetric());
        let scale = scale as f64;
        let err: f64 = centres
            .iter()
            .map(|&(x, cnt)| {
                let q = ((x / scale).round_ties_even() + zp as f64).clamp(qmin as f64, qmax as f64);
                let d = x - (q - zp as f64) * scale;
                cnt * d * d
            })
            .sum();
        if err < best.0 {
            best = (err, t);
        }
        i += step;
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_zp_matches_ort_formula() {
        // Hand-computed with numpy: rmin=-1, rmax=3 → scale 4/255, zp round(0 + 1/(4/255)) = round(63.75) = 64
        let (s, z) = compute_scale_zp(-1.0, 3.0, 0, 255, false);
        assert!((s - 4.0 / 255.0).abs() < 1e-9);
        assert_eq!(z, 64);
        // range without zero is widened to include it
        let (s, z) = compute_scale_zp(0.5, 2.55, 0, 255, false);
        assert!((s - 0.01).abs() < 1e-7);
        assert_eq!(z, 0);
        // symmetric int8
        let (s, z) = compute_scale_zp(-0.2, 1.27, -127, 127, true);
        assert!((s - 0.01).abs() < 1e-7);
        assert_eq!(z, 0);
        // degenerate
        assert_eq!(compute_scale_zp(0.0, 0.0, 0, 255, false), (1.0, 0));
        // half-to-even: rmin = -0.5*scale exactly → zp = round(0.5) = 0
        let (_, z) = compute_scale_zp(-1.0, 509.0, 0, 255, false);
        assert_eq!(z, 0); // 0 - (-1)/2 = 0.5 → 0 (ties to even)
    }

    fn stats_of(values: &[f32]) -> TensorStats {
        let mut s = TensorStats::new(2048);
        s.add(values);
        s
    }

    #[test]
    fn percentile_cuts_outliers_and_minmax_keeps_them() {
        let mut v: Vec<f32> = (0..100_000).map(|i| (i % 1000) as f32 / 1000.0).collect();
        v.push(50.0);
        let s = stats_of(&v);
        let o = MethodOptions {
            percentile: 99.99,
            ..Default::default()
        };
        assert_eq!(
            tensor_range(&s, RangeMethod::MinMax, &o, ActivationType::Uint8),
            (0.0, 50.0)
        );
        let (lo, hi) = tensor_range(&s, RangeMethod::Percentile, &o, ActivationType::Uint8);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.95 && hi < 1.05, "{hi}");
        let (_, hi) = tensor_range(&s, RangeMethod::Entropy, &o, ActivationType::Uint8);
        assert!(hi < 10.0, "{hi}");
        // MSE keeps a lone far outlier (clipping it costs more than coarser steps)…
        let (_, hi) = tensor_range(&s, RangeMethod::Mse, &o, ActivationType::Uint8);
        assert!(hi > 40.0, "{hi}");
        // …but clips the thin tail of an exponential distribution.
        let n = 200_000;
        let v: Vec<f32> = (0..n)
            .map(|k| -(1.0 - (k as f64 + 0.5) / n as f64).ln() as f32)
            .collect();
        let s = stats_of(&v);
        let (_, hi) = tensor_range(&s, RangeMethod::Mse, &o, ActivationType::Uint8);
        assert!(hi < s.max * 0.9 && hi > 3.0, "{hi} of {}", s.max);
    }

    #[test]
    fn entropy_of_uniform_data_keeps_the_full_range() {
        let h = vec![100u64; 2048];
        assert_eq!(entropy_threshold(&h, 128), 2048);
    }
}
