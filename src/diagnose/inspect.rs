//! Range inspector data: a tensor's histogram (signed, with log counts for
//! plotting) and each method's range over it with the share of values it
//! clips — plain data for a plot, computed from the calibration statistics.

use serde::{Deserialize, Serialize};

use crate::quantize::methods::{tensor_range, ActivationType, MethodOptions, RangeMethod};
use crate::quantize::stats::TensorStats;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodRange {
    pub method: RangeMethod,
    pub min: f32,
    pub max: f32,
    /// Share of the values outside [min, max], at bin resolution (a bin
    /// counts as clipped when it lies wholly outside).
    pub clipped_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeInspection {
    pub observed_min: f32,
    pub observed_max: f32,
    /// Bin centres from −range to +range (negative bins first).
    pub centres: Vec<f64>,
    pub counts: Vec<u64>,
    /// log10(1 + count), for a log-scaled plot.
    pub log_counts: Vec<f64>,
    pub methods: Vec<MethodRange>,
}

/// The histogram of `s` and the range of every method over it.
pub fn inspect(s: &TensorStats, opts: &MethodOptions, act: ActivationType) -> RangeInspection {
    let n = s.bins();
    let w = s.width();
    let mut centres = Vec::with_capacity(2 * n);
    let mut counts = Vec::with_capacity(2 * n);
    for i in (0..n).rev() {
        centres.push(-(i as f64 + 0.5) * w);
        counts.push(s.neg[i]);
    }
    for i in 0..n {
        centres.push((i as f64 + 0.5) * w);
        counts.push(s.pos[i]);
    }
    let methods = [
        RangeMethod::MinMax,
        RangeMethod::Percentile,
        RangeMethod::Entropy,
        RangeMethod::Mse,
    ]
    .into_iter()
    .map(|m| {
        let (lo, hi) = tensor_range(s, m, opts, act);
        MethodRange {
            method: m,
            min: lo,
            max: hi,
            clipped_share: clipped_share(s, lo, hi),
        }
    })
    .collect();
    RangeInspection {
        observed_min: s.min,
        observed_max: s.max,
        log_counts: counts.iter().map(|&c| (1.0 + c as f64).log10()).collect(),
        centres,
        counts,
        methods,
    }
}

/// Share of the values of `s` outside [lo, hi], at bin resolution (a bin
/// counts as clipped when it lies wholly outside).
pub fn clipped_share(s: &TensorStats, lo: f32, hi: f32) -> f64 {
    let w = s.width();
    let (mut clipped, mut total) = (0u64, 0u64);
    for i in 0..s.bins() {
        // Bin i holds |x| in [a, a + w): wholly outside when its value
        // nearest zero already is.
        let a = i as f64 * w;
        if -a < lo as f64 {
            clipped += s.neg[i];
        }
        if a > hi as f64 {
            clipped += s.pos[i];
        }
        total += s.neg[i] + s.pos[i];
    }
    if total == 0 {
        0.0
    } else {
        clipped as f64 / total as f64
    }
}

/// The histogram of `s` with the ranges the methods chose (e.g. a method
/// comparison's, where the graph input's range is the preprocessing's).
pub fn inspect_ranges(s: &TensorStats, ranges: &[(RangeMethod, (f32, f32))]) -> RangeInspection {
    let mut r = inspect(s, &MethodOptions::default(), ActivationType::default());
    r.methods = ranges
        .iter()
        .map(|&(method, (min, max))| MethodRange {
            method,
            min,
            max,
            clipped_share: clipped_share(s, min, max),
        })
        .collect();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minmax_clips_nothing_and_percentile_clips_the_outlier() {
        let mut v: Vec<f32> = (0..10_000).map(|i| (i % 100) as f32 / 100.0).collect();
        v.push(-40.0);
        let mut s = TensorStats::new(2048);
        s.add(&v);
        let opts = MethodOptions {
            percentile: 99.9,
            ..Default::default()
        };
        let r = inspect(&s, &opts, ActivationType::Uint8);
        assert_eq!(r.counts.iter().sum::<u64>(), 10_001);
        assert_eq!(r.centres.len(), 4096);
        assert!(r.centres.windows(2).all(|w| w[0] < w[1]));
        let mm = &r.methods[0];
        assert_eq!((mm.min, mm.max, mm.clipped_share), (-40.0, 0.99, 0.0));
        let p = &r.methods[1];
        assert!(p.min > -2.0, "{p:?}");
        // Exactly the one outlier of 10 001 values.
        assert!((p.clipped_share - 1.0 / 10_001.0).abs() < 1e-12, "{p:?}");
        // Given ranges: [0, 0.5] clips the outlier and the values ≥ 0.5
        // (bins wholly above 0.5: 0.51 … 0.99, 49 of every 100).
        let g = inspect_ranges(&s, &[(RangeMethod::Entropy, (0.0, 0.5))]);
        assert_eq!(g.methods.len(), 1);
        let want = (1.0 + 49.0 * 100.0) / 10_001.0;
        assert!((g.methods[0].clipped_share - want).abs() < 1e-9, "{g:?}");
        assert_eq!(g.counts, r.counts);
    }
}
