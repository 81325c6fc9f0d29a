//! Per-image metrics exactly as the brief writes them, with every option
//! the users' scripts disagree on: strict or inclusive GT mask, a validity
//! mask PNG, the Garg crop, median scaling, clamping, bilinear resize
//! (half-pixel centres or `align_corners=True`), and per depth range values.
//!
//! All arithmetic is in f64 (as numpy does on float64 arrays), so a numpy
//! implementation of the same formulas agrees to ~1e-12 relative.

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::EvalSettings;

/// Whether the GT range test is `min < gt < max` or `min <= gt <= max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskBounds {
    #[default]
    Strict,
    Inclusive,
}

/// Image crop applied to the mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crop {
    #[default]
    None,
    /// Garg/Eigen crop as in monodepth2 and packnet-sfm: rows
    /// 0.40810811–0.99189189 of H, columns 0.03594771–0.96405229 of W
    /// (truncated to integers like numpy's `astype(np.int32)`).
    Garg,
}

/// Whether the raw output or the decoded depth is resized to the GT size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeOrder {
    /// Each raw head is resized, then decoded (the users' NPU script;
    /// monodepth2 resizes the disparity, then inverts).
    BeforeDecoding,
    /// The decoded depth is resized.
    #[default]
    AfterDecoding,
}

/// The seven metrics. Non-finite values (a prediction ≤ 0 under rmse_log)
/// are stored as JSON `null` and read back as NaN.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct MetricSet {
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub abs_rel: f64,
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub sq_rel: f64,
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub rmse: f64,
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub rmse_log: f64,
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub a1: f64,
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub a2: f64,
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub a3: f64,
}

pub(crate) fn ser_f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        s.serialize_none()
    }
}

pub(crate) fn de_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl MetricSet {
    /// Metric names in table order (also the JSON keys).
    pub const NAMES: [&'static str; 7] =
        ["abs_rel", "sq_rel", "rmse", "rmse_log", "a1", "a2", "a3"];

    pub fn values(&self) -> [f64; 7] {
        [
            self.abs_rel,
            self.sq_rel,
            self.rmse,
            self.rmse_log,
            self.a1,
            self.a2,
            self.a3,
        ]
    }

    pub fn from_values(v: [f64; 7]) -> Self {
        Self {
            abs_rel: v[0],
            sq_rel: v[1],
            rmse: v[2],
            rmse_log: v[3],
            a1: v[4],
            a2: v[5],
            a3: v[6],
        }
    }

    /// The value of the metric called `name` (one of [`Self::NAMES`]).
    pub fn get(&self, name: &str) -> Option<f64> {
        Self::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| self.values()[i])
    }

    /// Whether larger is better (the accuracies a1–a3).
    pub fn higher_is_better(name: &str) -> bool {
        matches!(name, "a1" | "a2" | "a3")
    }
}

/// The seven metrics over paired values (GT, prediction), the brief's formulas.
pub fn compute(gt: &[f64], pred: &[f64]) -> MetricSet {
    let n = gt.len() as f64;
    let mut s = [0f64; 7];
    for (&g, &p) in gt.iter().zip(pred) {
        let d = g - p;
        s[0] += d.abs() / g;
        s[1] += d * d / g;
        s[2] += d * d;
        let l = g.ln() - p.ln();
        s[3] += l * l;
        let t = (g / p).max(p / g);
        s[4] += (t < 1.25) as u8 as f64;
        s[5] += (t < 1.25 * 1.25) as u8 as f64;
        s[6] += (t < 1.25 * 1.25 * 1.25) as u8 as f64;
    }
    MetricSet {
        abs_rel: s[0] / n,
        sq_rel: s[1] / n,
        rmse: (s[2] / n).sqrt(),
        rmse_log: (s[3] / n).sqrt(),
        a1: s[4] / n,
        a2: s[5] / n,
        a3: s[6] / n,
    }
}

/// numpy's median: the middle value, or the mean of the two middle values
/// for an even count. Reorders `v`. NaN for an empty slice.
pub fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let cmp = |a: &f64, b: &f64| a.total_cmp(b);
    let (lower, hi, _) = v.select_nth_unstable_by(n / 2, cmp);
    let hi = *hi;
    if n % 2 == 1 {
        hi
    } else {
        let lo = lower.iter().copied().max_by(cmp).unwrap_or(hi);
        (lo + hi) / 2.0
    }
}

/// Mean and population standard deviation (ddof = 0, `np.std`'s default).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Bilinear sampling of a `sw×sh` map at the pixels of a `dw×dh` grid.
/// `align_corners=False`: source coordinate `(d + 0.5)·in/out − 0.5`,
/// clamped at 0 (OpenCV's `INTER_LINEAR`, PyTorch's default);
/// `align_corners=True`: `d·(in − 1)/(out − 1)` (packnet-sfm).
/// Sampling only where needed (GT is sparse) gives exactly the values of
/// a full resize.
#[derive(Debug, Clone)]
pub struct Bilinear {
    sw: usize,
    xs: Vec<(usize, usize, f64)>,
    ys: Vec<(usize, usize, f64)>,
}

impl Bilinear {
    pub fn new(sw: usize, sh: usize, dw: usize, dh: usize, align_corners: bool) -> Self {
        let axis = |inp: usize, out: usize| -> Vec<(usize, usize, f64)> {
            (0..out)
                .map(|d| {
                    if inp == out {
                        return (d, d, 0.0);
                    }
                    let s = if align_corners {
                        if out > 1 {
                            d as f64 * (inp as f64 - 1.0) / (out as f64 - 1.0)
                        } else {
                            0.0
                        }
                    } else {
                        ((d as f64 + 0.5) * (inp as f64 / out as f64) - 0.5).max(0.0)
                    };
                    let i0 = (s.floor() as usize).min(inp - 1);
                    let i1 = (i0 + 1).min(inp - 1);
                    (i0, i1, s - i0 as f64)
                })
                .collect()
        };
        Self {
            sw,
            xs: axis(sw, dw),
            ys: axis(sh, dh),
        }
    }

    /// The resized map's value at `(x, y)`; `get(i)` reads the source.
    #[inline]
    pub fn at(&self, x: usize, y: usize, get: impl Fn(usize) -> f64) -> f64 {
        let (y0, y1, ly) = self.ys[y];
        let (x0, x1, lx) = self.xs[x];
        let (r0, r1) = (y0 * self.sw, y1 * self.sw);
        let top = (1.0 - lx) * get(r0 + x0) + lx * get(r0 + x1);
        let bottom = (1.0 - lx) * get(r1 + x0) + lx * get(r1 + x1);
        (1.0 - ly) * top + ly * bottom
    }
}

/// Bilinear resize of a row-major `sw×sh` map to `dw×dh` (see [`Bilinear`]).
pub fn resize_bilinear(
    src: &[f64],
    sw: usize,
    sh: usize,
    dw: usize,
    dh: usize,
    align_corners: bool,
) -> Vec<f64> {
    if (sw, sh) == (dw, dh) {
        return src.to_vec();
    }
    let b = Bilinear::new(sw, sh, dw, dh, align_corners);
    let mut out = Vec::with_capacity(dw * dh);
    for y in 0..dh {
        for x in 0..dw {
            out.push(b.at(x, y, |i| src[i]));
        }
    }
    out
}

/// A validity mask (true = valid).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidityMask {
    pub width: usize,
    pub height: usize,
    pub valid: Vec<bool>,
}

impl ValidityMask {
    /// Reads a mask PNG: grey value > 127 is valid (colour images are
    /// converted to grey first).
    pub fn load(path: &Path) -> Result<Self, String> {
        let img = image::open(path).map_err(|e| {
            format!(
                "validity mask {} cannot be read: {e}; give a greyscale PNG (> 127 = valid)",
                path.display()
            )
        })?;
        let g = img.to_luma8();
        Ok(Self {
            width: g.width() as usize,
            height: g.height() as usize,
            valid: g.pixels().map(|p| p.0[0] > 127).collect(),
        })
    }

    /// The mask at another size (nearest neighbour, half-pixel centres).
    pub fn resized(&self, w: usize, h: usize) -> Self {
        if (w, h) == (self.width, self.height) {
            return self.clone();
        }
        let pick = |d: usize, out: usize, inp: usize| {
            (((d as f64 + 0.5) * inp as f64 / out as f64) as usize).min(inp - 1)
        };
        let mut valid = Vec::with_capacity(w * h);
        for y in 0..h {
            let sy = pick(y, h, self.height);
            for x in 0..w {
                valid.push(self.valid[sy * self.width + pick(x, w, self.width)]);
            }
        }
        Self {
            width: w,
            height: h,
            valid,
        }
    }
}

/// The Garg crop's rows `y0..y1` and columns `x0..x1` for an `h×w` image.
pub fn garg_crop(h: usize, w: usize) -> (usize, usize, usize, usize) {
    let (h, w) = (h as f64, w as f64);
    (
        (0.40810811 * h) as usize,
        (0.99189189 * h) as usize,
        (0.03594771 * w) as usize,
        (0.96405229 * w) as usize,
    )
}

/// One image's metrics over one depth range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangeValue {
    pub metrics: MetricSet,
    pub pixels: u64,
}

/// One image's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageMetrics {
    /// `None` when no pixel passed the mask.
    pub metrics: Option<MetricSet>,
    /// Pixels behind the metrics.
    pub pixels: u64,
    /// The median-scaling ratio applied (1 when off).
    pub scale: f64,
    /// Per range `[edges[i], edges[i+1])`; `None` when the image has no pixel there.
    pub ranges: Vec<Option<RangeValue>>,
}

/// Metrics of one image: `gt` in metres (0 = no measurement) and `pred` in
/// metres, both row-major `w×h` (resize the prediction first).
pub fn image_metrics(
    gt: &[f32],
    pred: &[f64],
    w: usize,
    h: usize,
    settings: &EvalSettings,
    mask: Option<&ValidityMask>,
) -> ImageMetrics {
    image_metrics_at(gt, w, h, settings, mask, |x, y| pred[y * w + x])
}

/// [`image_metrics`] with the prediction given as a function of `(x, y)`,
/// evaluated only at the pixels that pass the mask.
pub fn image_metrics_at(
    gt: &[f32],
    w: usize,
    h: usize,
    settings: &EvalSettings,
    mask: Option<&ValidityMask>,
    mut pred_at: impl FnMut(usize, usize) -> f64,
) -> ImageMetrics {
    let (min, max) = (settings.min_depth, settings.max_depth);
    let (y0, y1, x0, x1) = match settings.crop {
        Crop::Garg => garg_crop(h, w),
        Crop::None => (0, h, 0, w),
    };
    let inclusive = settings.bounds == MaskBounds::Inclusive;
    let mut g = Vec::new();
    let mut p = Vec::new();
    for y in y0..y1.min(h) {
        for x in x0..x1.min(w) {
            let i = y * w + x;
            let d = gt[i] as f64;
            let inside = if inclusive {
                d >= min && d <= max
            } else {
                d > min && d < max
            };
            if inside && mask.is_none_or(|m| m.valid[i]) {
                g.push(d);
                p.push(pred_at(x, y));
            }
        }
    }
    let n_ranges = settings.range_edges.len().saturating_sub(1);
    if g.is_empty() {
        return ImageMetrics {
            metrics: None,
            pixels: 0,
            scale: 1.0,
            ranges: vec![None; n_ranges],
        };
    }
    let mut scale = 1.0;
    if settings.median_scaling {
        scale = median(&mut g.clone()) / median(&mut p.clone());
        for v in &mut p {
            *v *= scale;
        }
    }
    if settings.clamp {
        for v in &mut p {
            *v = v.clamp(min, max);
        }
    }
    let metrics = compute(&g, &p);
    let ranges = settings
        .range_edges
        .windows(2)
        .map(|e| {
            let (rg, rp): (Vec<f64>, Vec<f64>) = g
                .iter()
                .zip(&p)
                .filter(|(&d, _)| d >= e[0] && d < e[1])
                .map(|(&d, &q)| (d, q))
                .unzip();
            (!rg.is_empty()).then(|| RangeValue {
                metrics: compute(&rg, &rp),
                pixels: rg.len() as u64,
            })
        })
        .collect();
    ImageMetrics {
        metrics: Some(metrics),
        pixels: g.len() as u64,
        scale,
        ranges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_like_numpy() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn perfect_prediction_scores_zero_error() {
        let gt = [1.0f32, 2.0, 0.0, 20.0];
        let pred = [1.0, 2.0, 7.0, 3.0];
        let s = EvalSettings::default();
        let m = image_metrics(&gt, &pred, 2, 2, &s, None);
        let v = m.metrics.unwrap();
        assert_eq!(m.pixels, 2);
        assert_eq!((v.abs_rel, v.rmse, v.a1), (0.0, 0.0, 1.0));
        // [0.5,1) none, [1,3) two pixels, [3,5) none, [5,15) none.
        let counts: Vec<u64> = m.ranges.iter().map(|r| r.map_or(0, |r| r.pixels)).collect();
        assert_eq!(counts, [0, 2, 0, 0]);
    }

    #[test]
    fn resize_half_pixel_and_align_corners() {
        let src = [0.0, 1.0];
        let half = resize_bilinear(&src, 2, 1, 4, 1, false);
        assert_eq!(half, [0.0, 0.25, 0.75, 1.0]);
        let ac = resize_bilinear(&src, 2, 1, 3, 1, true);
        assert_eq!(ac, [0.0, 0.5, 1.0]);
    }

    #[test]
    fn garg_crop_truncates_like_numpy() {
        assert_eq!(garg_crop(375, 1242), (153, 371, 44, 1197));
    }
}
