//! Streamed per-tensor statistics: exact running min/max and a fixed-size
//! histogram of |x| that widens (by merging bins) when a later image exceeds
//! its range. Memory per tensor is constant, whatever the number of images.

use serde::{Deserialize, Serialize};

/// Running statistics of one activation tensor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TensorStats {
    pub min: f32,
    pub max: f32,
    /// Histogram upper edge: bins cover [0, range] in `bins` equal steps.
    pub range: f32,
    /// Counts of negative values by |x| bin.
    pub neg: Vec<u64>,
    /// Counts of non-negative values by |x| bin.
    pub pos: Vec<u64>,
    pub count: u64,
}

impl TensorStats {
    /// `bins` = 0 keeps min/max only (all MinMax needs).
    pub fn new(bins: usize) -> Self {
        Self {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            range: 0.0,
            neg: vec![0; bins],
            pos: vec![0; bins],
            count: 0,
        }
    }

    pub fn bins(&self) -> usize {
        self.pos.len()
    }

    /// Bin width.
    pub fn width(&self) -> f64 {
        self.range as f64 / self.bins() as f64
    }

    /// Adds one image's values (NaNs are ignored, as numpy's nanmin/nanmax do).
    pub fn add(&mut self, values: &[f32]) {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in values {
            if v < lo {
                lo = v;
            }
            if v > hi {
                hi = v;
            }
        }
        if lo > hi {
            return; // empty or all NaN
        }
        self.min = self.min.min(lo);
        self.max = self.max.max(hi);
        if self.pos.is_empty() {
            // Min/max only (MinMax needs no histogram): one pass over the values.
            self.count += values.len() as u64;
            return;
        }
        let amax = lo.abs().max(hi.abs());
        self.widen_to(amax);
        let n = self.bins();
        if self.range <= 0.0 {
            // Every value so far is zero.
            self.pos[0] += values.iter().filter(|v| !v.is_nan()).count() as u64;
        } else {
            let inv = n as f32 / self.range;
            let last = n - 1;
            for &v in values {
                if v.is_nan() {
                    continue;
                }
                let b = ((v.abs() * inv) as usize).min(last);
                if v < 0.0 {
                    self.neg[b] += 1;
                } else {
                    self.pos[b] += 1;
                }
            }
        }
        self.count += values.len() as u64;
    }

    /// Doubles the range (merging pairs of bins) until `amax` fits.
    fn widen_to(&mut self, amax: f32) {
        if amax <= self.range || amax == 0.0 {
            return;
        }
        if self.range == 0.0 {
            // First non-zero data: counts so far are all exact zeros, in bin 0.
            self.range = amax;
            return;
        }
        while self.range < amax {
            for h in [&mut self.neg, &mut self.pos] {
                let n = h.len();
                for i in 0..n / 2 {
                    h[i] = h[2 * i] + h[2 * i + 1];
                }
                for v in &mut h[n / 2..] {
                    *v = 0;
                }
            }
            self.range *= 2.0;
        }
    }

    /// Histogram of |x|.
    pub fn abs_hist(&self) -> Vec<u64> {
        self.neg.iter().zip(&self.pos).map(|(a, b)| a + b).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_keeps_counts_and_min_max() {
        let mut s = TensorStats::new(8);
        s.add(&[0.0, 0.5, -1.0, 0.9]);
        assert_eq!(s.range, 1.0);
        assert_eq!(s.abs_hist().iter().sum::<u64>(), 4);
        s.add(&[3.5, f32::NAN]);
        assert_eq!(s.range, 4.0);
        assert_eq!((s.min, s.max), (-1.0, 3.5));
        let h = s.abs_hist();
        assert_eq!(h.iter().sum::<u64>(), 5);
        // width 0.5: 0.0 → bin 0, 0.5 → 1, 0.9 → 1, 3.5 → 7
        assert_eq!(s.pos, vec![1, 2, 0, 0, 0, 0, 0, 1]);
        // -1.0 sat on the first range's top edge, so it stays in the top half-bin.
        assert_eq!(s.neg, vec![0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(s.bins(), 8);
    }

    #[test]
    fn min_max_only_without_bins() {
        let mut s = TensorStats::new(0);
        s.add(&[0.5, -2.0, f32::NAN]);
        s.add(&[3.0]);
        assert_eq!((s.min, s.max, s.count), (-2.0, 3.0, 4));
        assert!(s.abs_hist().is_empty());
    }

    #[test]
    fn all_zero_then_data() {
        let mut s = TensorStats::new(4);
        s.add(&[0.0; 3]);
        s.add(&[2.0]);
        assert_eq!(s.pos, vec![3, 0, 0, 1]);
    }
}
