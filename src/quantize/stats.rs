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
        let Some(extent) = Extent::of(values) else {
            return; // empty or all NaN
        };
        if let Some(range) = self.admit(extent) {
            self.add_binned(Binned::of(values, range, self.bins()));
        }
    }

    /// The ordered half of [`Self::add`]: takes one image's extent into
    /// min/max, the count and the histogram range, and returns the range its
    /// values are to be binned at (None without a histogram). Images must be
    /// admitted in input order; their [`Binned`] counts may then be computed
    /// and added in any order, with the same result as `add` in input order:
    /// widening only sums pairs of bins, which commutes with adding counts.
    pub fn admit(&mut self, e: Extent) -> Option<f32> {
        self.min = self.min.min(e.lo);
        self.max = self.max.max(e.hi);
        self.count += e.len;
        if self.pos.is_empty() {
            return None; // Min/max only (MinMax needs no histogram).
        }
        let amax = e.lo.abs().max(e.hi.abs());
        if amax > self.range && amax != 0.0 {
            if self.range == 0.0 {
                // First non-zero data: counts so far are all exact zeros, in bin 0.
                self.range = amax;
            } else {
                while self.range < amax {
                    merge_pairs(&mut self.neg);
                    merge_pairs(&mut self.pos);
                    self.range *= 2.0;
                }
            }
        }
        Some(self.range)
    }

    /// Adds counts binned at a range this histogram has reached (admitted
    /// earlier), merging them up to the current range first.
    pub fn add_binned(&mut self, mut b: Binned) {
        // Ranges only ever double from the first, so the ratio is a power of 2;
        // counts binned at range 0 are all in bin 0, which merging keeps there.
        if b.range > 0.0 {
            while b.range < self.range {
                merge_pairs(&mut b.neg);
                merge_pairs(&mut b.pos);
                b.range *= 2.0;
            }
        }
        for (a, b) in self.neg.iter_mut().zip(&b.neg) {
            *a += b;
        }
        for (a, b) in self.pos.iter_mut().zip(&b.pos) {
            *a += b;
        }
    }

    /// Histogram of |x|.
    pub fn abs_hist(&self) -> Vec<u64> {
        self.neg.iter().zip(&self.pos).map(|(a, b)| a + b).collect()
    }
}

/// One image's values' min, max and number (NaN ignored), computed on any
/// thread before the image's turn to be admitted.
#[derive(Debug, Clone, Copy)]
pub struct Extent {
    lo: f32,
    hi: f32,
    len: u64,
}

impl Extent {
    /// None for no values or all NaN (such an image leaves the stats as they are).
    pub fn of(values: &[f32]) -> Option<Self> {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in values {
            if v < lo {
                lo = v;
            }
            if v > hi {
                hi = v;
            }
        }
        (lo <= hi).then_some(Self {
            lo,
            hi,
            len: values.len() as u64,
        })
    }
}

/// One image's |x| histogram at the range it was admitted at.
#[derive(Debug, Clone)]
pub struct Binned {
    range: f32,
    neg: Vec<u64>,
    pos: Vec<u64>,
}

impl Binned {
    pub fn of(values: &[f32], range: f32, bins: usize) -> Self {
        let (mut neg, mut pos) = (vec![0; bins], vec![0; bins]);
        if range <= 0.0 {
            // Every value so far is zero.
            pos[0] = values.iter().filter(|v| !v.is_nan()).count() as u64;
        } else {
            let inv = bins as f32 / range;
            let last = bins - 1;
            for &v in values {
                if v.is_nan() {
                    continue;
                }
                let b = ((v.abs() * inv) as usize).min(last);
                if v < 0.0 {
                    neg[b] += 1;
                } else {
                    pos[b] += 1;
                }
            }
        }
        Self { range, neg, pos }
    }
}

/// Halves the resolution in place: bin i becomes bins 2i and 2i+1, the top
/// half empties.
fn merge_pairs(h: &mut [u64]) {
    let n = h.len();
    for i in 0..n / 2 {
        h[i] = h[2 * i] + h[2 * i + 1];
    }
    for v in &mut h[n / 2..] {
        *v = 0;
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

    /// Admitting in order and adding the binned counts in another order (as
    /// calibration's workers do) gives exactly what `add` in order gives,
    /// across widenings, a zero-only start and NaNs.
    #[test]
    fn binning_out_of_order_matches_adding_in_order() {
        let mut images: Vec<Vec<f32>> = vec![vec![0.0; 5], vec![0.0, f32::NAN]];
        let mut x = 0x2545_f491u32;
        for i in 0..30 {
            let scale = [0.3f32, 1.0, 7.0, 0.01, 100.0][i % 5] * (1 + i / 10) as f32;
            images.push(
                (0..500)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        (x as f32 / u32::MAX as f32 - 0.4) * scale
                    })
                    .collect(),
            );
        }
        images.push(vec![f32::NAN; 3]);
        let mut in_order = TensorStats::new(64);
        for v in &images {
            in_order.add(v);
        }
        let mut split = TensorStats::new(64);
        let mut pending = Vec::new();
        for v in &images {
            if let Some(e) = Extent::of(v) {
                let r = split.admit(e).expect("histogram");
                pending.push(Binned::of(v, r, 64));
            }
        }
        // Binned counts arrive late and reversed.
        for b in pending.into_iter().rev() {
            split.add_binned(b);
        }
        assert!(in_order.range > 100.0);
        assert_eq!(split, in_order);
    }

    #[test]
    fn all_zero_then_data() {
        let mut s = TensorStats::new(4);
        s.add(&[0.0; 3]);
        s.add(&[2.0]);
        assert_eq!(s.pos, vec![3, 0, 0, 1]);
    }
}
