//! The seeded random draws behind every strategy, spelled out so a selection
//! can be reproduced from its seed alone (and re-implemented elsewhere).
//!
//! Generator: ChaCha8 (`rand_chacha::ChaCha8Rng`) seeded with
//! `SeedableRng::seed_from_u64(seed)`, one ChaCha *stream* per bin
//! (`set_stream(bin_index)`), so the draws in one bin do not depend on how
//! many were made in another.
//!
//! Draw without replacement: a lazy Fisher–Yates shuffle over the candidate
//! row indices (kept in metadata order). Step `i` swaps position `i` with
//! position `i + u` where `u` is uniform in `0..len-i`, drawn with Lemire's
//! multiply-shift method with rejection (unbiased) from `next_u64`. Taking `k`
//! and then `m` more gives the same rows as taking `k + m` at once, so raising
//! the target only adds samples.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator for one stream (bin) of a seeded selection.
pub fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Uniform integer in `0..n` (n > 0), Lemire's unbiased multiply-shift.
pub fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    debug_assert!(n > 0);
    let mut m = rng.next_u64() as u128 * n as u128;
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = rng.next_u64() as u128 * n as u128;
        }
    }
    (m >> 64) as u64
}

/// A shuffle performed only as far as it is read.
pub struct LazyShuffle {
    items: Vec<usize>,
    taken: usize,
    rng: ChaCha8Rng,
}

impl LazyShuffle {
    pub fn new(items: Vec<usize>, rng: ChaCha8Rng) -> Self {
        Self {
            items,
            taken: 0,
            rng,
        }
    }

    /// Items not yet drawn.
    pub fn remaining(&self) -> usize {
        self.items.len() - self.taken
    }

    /// Draws up to `k` more items, in draw order.
    pub fn take(&mut self, k: usize) -> Vec<usize> {
        let k = k.min(self.remaining());
        let mut out = Vec::with_capacity(k);
        for _ in 0..k {
            let i = self.taken;
            let j = i + below(&mut self.rng, (self.items.len() - i) as u64) as usize;
            self.items.swap(i, j);
            out.push(self.items[i]);
            self.taken += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_property_and_determinism() {
        let items: Vec<usize> = (0..50).collect();
        let mut a = LazyShuffle::new(items.clone(), stream(42, 0));
        let mut first = a.take(10);
        first.extend(a.take(15));
        let mut b = LazyShuffle::new(items.clone(), stream(42, 0));
        assert_eq!(first, b.take(25));
        let mut c = LazyShuffle::new(items, stream(42, 1));
        assert_ne!(first, c.take(25), "streams differ");
        let mut sorted = first.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 25, "no repeats");
    }

    #[test]
    fn below_is_roughly_uniform() {
        let mut rng = stream(7, 0);
        let mut counts = [0u32; 6];
        for _ in 0..60_000 {
            counts[below(&mut rng, 6) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn take_more_than_left_stops() {
        let mut s = LazyShuffle::new(vec![3, 4], stream(1, 0));
        assert_eq!(s.take(5).len(), 2);
        assert!(s.take(1).is_empty());
    }
}
