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
    /// admitted in input order. Their [`Binned`] counts may be computed
    /// earlier, at [`Self::early_range`], and must be added right after
    /// their own admission (see [`Self::add_binned`]).
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

    /// The range an image of extent `e` can be binned at before its turn to
    /// be admitted, when earlier images may still be missing: this
    /// histogram's range doubled until it covers the image. Ranges only
    /// double, so that is at most the range the image will be admitted at
    /// and a power-of-2 fraction of it. None when nothing non-zero has been
    /// admitted yet and the image has non-zero values, unless `at_turn`
    /// (every earlier image admitted): the image may then set the first
    /// range itself.
    pub fn early_range(&self, e: Extent, at_turn: bool) -> Option<f32> {
        let amax = e.lo.abs().max(e.hi.abs());
        if self.range == 0.0 && amax != 0.0 {
            return at_turn.then_some(amax);
        }
        let mut range = self.range;
        while range < amax {
            range *= 2.0;
        }
        Some(range)
    }

    /// Adds the counts of the image admitted last, binned at its admitted
    /// range or at an [`Self::early_range`] of it. Merging pairs of bins up
    /// to the admitted range gives the bins that range gives, since the
    /// ranges differ by a power of 2 (exact in f32); only values on the
    /// early range's top edge, kept aside, are binned again.
    pub fn add_binned(&mut self, mut b: Binned) {
        // Counts binned at range 0 are all in bin 0, which merging keeps there.
        if b.range > 0.0 {
            debug_assert!(b.range <= self.range, "binned above the admitted range");
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
        // At the admitted range an edge value lands where it would have been
        // binned directly: clamped into the last bin when that range is the
        // early one, inside the histogram when it is wider.
        let (inv, last) = (self.bins() as f32 / self.range, self.bins() - 1);
        for v in b.edge {
            let i = ((v.abs() * inv) as usize).min(last);
            if v < 0.0 {
                self.neg[i] += 1;
            } else {
                self.pos[i] += 1;
            }
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

/// One image's |x| histogram at a range that covers it.
#[derive(Debug, Clone)]
pub struct Binned {
    range: f32,
    neg: Vec<u64>,
    pos: Vec<u64>,
    /// Values on the range's top edge (past the last bin, clamped into it
    /// at this range but not at a wider one).
    edge: Vec<f32>,
}

impl Binned {
    pub fn of(values: &[f32], range: f32, bins: usize) -> Self {
        let (mut neg, mut pos, mut edge) = (vec![0; bins], vec![0; bins], Vec::new());
        if range <= 0.0 {
            // Every value so far is zero.
            pos[0] = values.iter().filter(|v| !v.is_nan()).count() as u64;
        } else {
            let inv = bins as f32 / range;
            for &v in values {
                if v.is_nan() {
                    continue;
                }
                let b = (v.abs() * inv) as usize;
                if b >= bins {
                    edge.push(v);
                } else if v < 0.0 {
                    neg[b] += 1;
                } else {
                    pos[b] += 1;
                }
            }
        }
        Self {
            range,
            neg,
            pos,
            edge,
        }
    }
}

/// Halves the resolution in place: bin i becomes bins 2i and 2i+1 (with an
/// odd number of bins the last one becomes bin n/2 alone), the top half
/// empties.
fn merge_pairs(h: &mut [u64]) {
    let n = h.len();
    for i in 0..n.div_ceil(2) {
        h[i] = h[2 * i] + h.get(2 * i + 1).copied().unwrap_or(0);
    }
    for v in &mut h[n.div_ceil(2)..] {
        *v = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    /// What calibration's workers do: bin each image at an early range read
    /// from the statistics while earlier images may still be missing (or at
    /// its turn when that cannot be known), then admit and add in input
    /// order. Gives exactly what `add` in order gives, across widenings,
    /// values on a range's edge, a zero-only start, NaNs and odd bin counts.
    fn early_binning_matches_adding_in_order(images: &[Vec<f32>], seen: &[usize], bins: usize) {
        let mut in_order = TensorStats::new(bins);
        // prefixes[j]: the statistics after images 0..j.
        let mut prefixes = vec![in_order.clone()];
        for v in images {
            in_order.add(v);
            prefixes.push(in_order.clone());
        }
        let mut split = TensorStats::new(bins);
        for (i, v) in images.iter().enumerate() {
            let Some(e) = Extent::of(v) else { continue };
            let known = seen[i].min(i);
            let range = (prefixes[known].early_range(e, known == i))
                .or_else(|| prefixes[i].early_range(e, true))
                .expect("known at the turn");
            let binned = Binned::of(v, range, bins);
            assert_eq!(split.admit(e), Some(split.range));
            split.add_binned(binned);
        }
        assert_eq!(split, in_order);
    }

    fn image() -> impl Strategy<Value = Vec<f32>> {
        // Powers of 2 times a base make values sit exactly on range edges.
        let value = prop_oneof![
            3 => -40.0f32..40.0,
            1 => (-3i32..6, prop::bool::ANY)
                .prop_map(|(p, neg)| 1.5f32 * 2f32.powi(p) * if neg { -1.0 } else { 1.0 }),
            1 => Just(0.0f32),
            1 => Just(f32::NAN),
        ];
        let scale = prop_oneof![Just(0.0f32), Just(1.0), Just(0.01), Just(100.0)];
        (prop::collection::vec(value, 0..60), scale)
            .prop_map(|(v, k)| v.into_iter().map(|x| x * k).collect())
    }

    proptest! {
        #[test]
        fn early_binning_is_exact(
            images in prop::collection::vec(image(), 1..25),
            seen in prop::collection::vec(0usize..25, 25),
            bins in prop_oneof![Just(8usize), Just(7), Just(64), Just(2048)],
        ) {
            early_binning_matches_adding_in_order(&images, &seen, bins);
        }
    }

    /// The cases the property test may not draw: the first range set by a
    /// value on it, then met exactly by later images, one and more
    /// doublings up, and an image binned early on an edge that a missing
    /// earlier image widens past.
    #[test]
    fn edge_values_at_one_and_several_doublings() {
        let images = vec![
            vec![0.0, 0.0],
            vec![1.5, -0.2],
            vec![-1.5, 3.0, 0.7],
            vec![f32::NAN, 24.0, -3.0],
            // Binned early at 12 (seeing images 0 and 1), admitted at 24.
            vec![6.0, -6.0, 12.0, 1.5],
        ];
        for bins in [4, 5, 2048] {
            for seen in [[0; 5], [0, 1, 2, 3, 4], [0, 1, 2, 2, 2]] {
                early_binning_matches_adding_in_order(&images, &seen, bins);
            }
        }
    }

    #[test]
    fn all_zero_then_data() {
        let mut s = TensorStats::new(4);
        s.add(&[0.0; 3]);
        s.add(&[2.0]);
        assert_eq!(s.pos, vec![3, 0, 0, 1]);
    }
}
