//! The counting engine: a count per stored depth value over one map, fed
//! plain values, bytes or a PNG's big-endian samples. The vector code of
//! the big-endian path and of the sums lives in `simd.rs`.

use super::simd::packed_sums;
use super::stats::read_counts;
use super::{DepthEncoding, DepthStats};

/// A count of each stored depth value over one map (zeros, no measurement,
/// are never counted: the valid values added are first packed together,
/// then counted a few thousand at a time).
pub struct DepthCounts {
    /// Counts since the last spill. Fixed size, so indexing by a u16 needs
    /// no bounds check; u16 bins halve the table's cache footprint, which
    /// the decoder running alongside shares.
    pub(super) counts: Box<[u16; 65536]>,
    /// Counts moved out of `counts` before a bin could pass `u16::MAX`
    /// (only maps of more than 65,535 valid pixels spill).
    pub(super) spilled: Box<[u32; 65536]>,
    /// Whether `spilled` holds counts of this map.
    pub(super) spills: bool,
    /// Values counted into `counts` since the last spill: no bin holds more.
    pub(super) since_spill: u32,
    /// Runs of [`CHUNK`] stored values that may hold a count: every run
    /// below this (each piece marks the runs up to its highest value), so
    /// `finish` and `discard` visit only those and a map of near depths
    /// does not sweep (and evict from cache) the whole table.
    pub(super) runs: usize,
    /// Valid values packed together, waiting to be counted: those of
    /// `packed[..pending]`. Vector stores and loads may pass `PIECE` by up
    /// to [`MARGIN`] values.
    pub(super) packed: Box<[u16; PIECE + MARGIN]>,
    pub(super) pending: usize,
    /// Every pixel seen, valid or not.
    pub(super) total: u64,
    /// Valid pixels counted.
    pub(super) counted: u64,
    /// Sum and sum of squares of the values counted, formed as they are
    /// counted: there the values are at hand, while `finish` would
    /// multiply every bin of every run.
    pub(super) sum: u64,
    pub(super) sumsq: u64,
}

impl Default for DepthCounts {
    fn default() -> Self {
        Self::new()
    }
}

pub(super) fn boxed<T: Copy + Default, const N: usize>() -> Box<[T; N]> {
    vec![T::default(); N]
        .into_boxed_slice()
        .try_into()
        .unwrap_or_else(|_| unreachable!("a vector of N elements"))
}

/// Values packed per piece of what is added (a decoded row of a few
/// thousand pixels is one piece), and the most waiting to be counted.
pub(super) const PIECE: usize = 2048;
/// Values a vector store of packed values may write past `PIECE`: the
/// AVX2 path's padded last chunk of 16.
pub(super) const MARGIN: usize = 16;
/// Sparse maps are mostly zeros: blocks of this many bytes holding only
/// zeros are skipped with one test (plain path).
const BLOCK: usize = 16;
/// Stored values per run (see [`DepthCounts::runs`]).
pub(super) const CHUNK: usize = 64;

/// True when any byte is non-zero; `bytes.len()` a multiple of 16.
#[inline(always)]
fn any_nonzero(bytes: &[u8]) -> bool {
    bytes.chunks_exact(16).fold(0u128, |a, w| {
        a | u128::from_ne_bytes(w.try_into().expect("16-byte word"))
    }) != 0
}

/// [`packed_sums`] value by value: the code without AVX2, and the
/// reference the AVX2 code is tested against.
pub(super) fn packed_sums_plain(values: &[u16]) -> (u64, u64, u16) {
    values.iter().fold((0, 0, 0), |(s, q, m), &v| {
        let w = v as u64;
        (s + w, q + w * w, m.max(v))
    })
}

/// Packs one value: it is written either way and kept only when valid, so
/// packing needs no branch per pixel.
#[inline(always)]
fn pack(packed: &mut [u16; PIECE + MARGIN], len: &mut usize, v: u16) {
    packed[*len] = v;
    *len += (v != 0) as usize;
}

impl DepthCounts {
    pub fn new() -> Self {
        Self {
            counts: boxed(),
            spilled: boxed(),
            spills: false,
            since_spill: 0,
            runs: 0,
            packed: boxed(),
            pending: 0,
            total: 0,
            counted: 0,
            sum: 0,
            sumsq: 0,
        }
    }

    /// Adds stored values (0 = invalid, counted only in the total).
    pub fn add(&mut self, values: &[u16]) {
        self.add_plain(values)
    }

    pub(super) fn add_u8(&mut self, bytes: &[u8]) {
        self.add_plain(bytes)
    }

    fn add_plain<T: Copy + Into<u16>>(&mut self, values: &[T]) {
        self.total += values.len() as u64;
        for piece in values.chunks(PIECE) {
            self.make_room(piece.len());
            let mut len = self.pending;
            for &v in piece {
                pack(&mut self.packed, &mut len, v.into());
            }
            self.pending = len;
        }
    }

    /// [`Self::add_be16`] without AVX2: zero blocks skipped, values packed
    /// one by one.
    pub(super) fn add_be16_plain(&mut self, bytes: &[u8]) {
        self.total += (bytes.len() / 2) as u64;
        for piece in bytes.chunks(PIECE * 2) {
            self.make_room(piece.len() / 2);
            let mut len = self.pending;
            let mut blocks = piece.chunks_exact(BLOCK);
            for block in &mut blocks {
                if !any_nonzero(block) {
                    continue;
                }
                for b in block.chunks_exact(2) {
                    pack(&mut self.packed, &mut len, u16::from_be_bytes([b[0], b[1]]));
                }
            }
            // An odd last byte is no value and is dropped.
            for b in blocks.remainder().chunks_exact(2) {
                pack(&mut self.packed, &mut len, u16::from_be_bytes([b[0], b[1]]));
            }
            self.pending = len;
        }
    }

    /// Counts the packed values first if `values` more might not fit.
    #[inline]
    pub(super) fn make_room(&mut self, values: usize) {
        if self.pending + values > PIECE {
            self.flush();
        }
    }

    /// Counts the values waiting in `packed`, and adds their sums. Rows of
    /// a sparse map pack a few dozen values each, so many rows are counted
    /// at once: fewer, longer loops.
    fn flush(&mut self) {
        let len = std::mem::take(&mut self.pending);
        if len == 0 {
            return;
        }
        let (sum, sumsq, high) = packed_sums(&self.packed, len);
        self.sum += sum;
        self.sumsq += sumsq;
        self.runs = self.runs.max(high as usize / CHUNK + 1);
        if self.since_spill as usize + len > u16::MAX as usize {
            self.spill();
        }
        let counts = &mut *self.counts;
        for &v in &self.packed[..len] {
            counts[v as usize] += 1;
        }
        self.since_spill += len as u32;
        self.counted += len as u64;
    }

    /// Moves every count into `spilled`, so `counts` takes 65,535 more.
    fn spill(&mut self) {
        let end = self.runs * CHUNK;
        for (wide, narrow) in self.spilled[..end].iter_mut().zip(&mut self.counts[..end]) {
            *wide += *narrow as u32;
            *narrow = 0;
        }
        self.spills = true;
        self.since_spill = 0;
    }

    /// Forgets what was added (after a decode error part-way).
    pub fn discard(&mut self) {
        let end = self.runs * CHUNK;
        self.counts[..end].fill(0);
        if self.spills {
            self.spilled[..end].fill(0);
        }
        self.runs = 0;
        self.spills = false;
        self.since_spill = 0;
        self.pending = 0;
        self.total = 0;
        self.counted = 0;
        self.sum = 0;
        self.sumsq = 0;
    }

    /// Computes the statistics and clears the counts for the next map.
    /// `None` when no value was valid.
    pub fn finish(
        &mut self,
        encoding: DepthEncoding,
        width: u32,
        height: u32,
    ) -> Option<DepthStats> {
        self.flush();
        let (total, n, end) = (self.total, self.counted, self.runs * CHUNK);
        let (sum, sumsq) = (self.sum, self.sumsq);
        self.total = 0;
        self.counted = 0;
        self.sum = 0;
        self.sumsq = 0;
        if n == 0 {
            // Nothing was counted, so no run was marked either.
            return None;
        }
        let ranked = if self.spills {
            self.spill();
            self.spills = false;
            read_counts(&mut self.spilled[..end], n, encoding)
        } else {
            read_counts(&mut self.counts[..end], n, encoding)
        };
        self.runs = 0;
        self.since_spill = 0;
        let div = ranked.div;
        let lerp = |i: usize| {
            let (a, b) = (ranked.ranks[2 * i] as f64, ranked.ranks[2 * i + 1] as f64);
            (a + (b - a) * ranked.gammas[i]) / div
        };
        let nf = n as f64;
        // n·Σv² - (Σv)² in u128: exact, then one rounding to f64. n < 2^32
        // values below 2^16 keep Σv² below 2^64.
        let (sum, sumsq) = (sum as u128, sumsq as u128);
        let var_num = (n as u128 * sumsq - sum * sum) as f64;
        Some(DepthStats {
            mean: sum as f64 / nf / div,
            median: lerp(0),
            min: ranked.min as f64 / div,
            max: ranked.max as f64 / div,
            std: var_num.sqrt() / nf / div,
            p50: lerp(0),
            p90: lerp(1),
            p95: lerp(2),
            valid_pixels: n,
            total_pixels: total,
            width,
            height,
            hist: ranked
                .hist
                .iter()
                .map(|&h| (h as f64 / nf) as f32)
                .collect(),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::depth::stats::percentile_sorted;
    use crate::metadata::DEPTH_HIST_BINS;
    use rand::{RngExt, SeedableRng};

    pub(in crate::depth) fn reference(values: &[u16], enc: DepthEncoding) -> Option<[f64; 8]> {
        let max = values.iter().copied().max()?;
        let div = enc.divisor(max);
        let mut v: Vec<f64> = values
            .iter()
            .filter(|&&x| x > 0)
            .map(|&x| x as f64 / div)
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let median = if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        };
        Some([
            mean,
            median,
            v[0],
            v[v.len() - 1],
            std,
            percentile_sorted(&v, 50.0),
            percentile_sorted(&v, 90.0),
            percentile_sorted(&v, 95.0),
        ])
    }

    pub(in crate::depth) fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn counts_match_sorted_reference() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut c = DepthCounts::new();
        for case in 0..200 {
            let len = rng.random_range(1..400usize);
            let hi = if case % 3 == 0 { 255 } else { 65535 };
            let values: Vec<u16> = (0..len)
                .map(|_| {
                    if rng.random_bool(0.6) {
                        0
                    } else {
                        rng.random_range(1..=hi)
                    }
                })
                .collect();
            let enc = DepthEncoding::ALL[case % 4];
            c.add(&values);
            let got = c.finish(enc, len as u32, 1);
            match (reference(&values, enc), got) {
                (None, None) => {}
                (Some(r), Some(g)) => {
                    let g8 = [g.mean, g.median, g.min, g.max, g.std, g.p50, g.p90, g.p95];
                    for (k, (a, b)) in g8.iter().zip(r).enumerate() {
                        assert!(
                            close(*a, b),
                            "case {case} stat {k}: {a} vs {b} ({values:?})"
                        );
                    }
                    assert_eq!(g.total_pixels, len as u64);
                    // The histogram, bin by bin, against binning each value in metres.
                    let valid: Vec<u16> = values.iter().copied().filter(|&v| v != 0).collect();
                    let div = enc.divisor(*valid.iter().max().unwrap());
                    let mut want = [0u64; DEPTH_HIST_BINS];
                    for &v in &valid {
                        want[crate::metadata::depth_hist_bin(v as f64 / div)] += 1;
                    }
                    let want: Vec<f32> = want
                        .iter()
                        .map(|&c| (c as f64 / valid.len() as f64) as f32)
                        .collect();
                    assert_eq!(g.hist, want, "case {case}");
                }
                (r, g) => panic!("case {case}: {r:?} vs {g:?}"),
            }
        }
    }

    #[test]
    fn discard_and_finish_leave_no_count_behind() {
        let mut c = DepthCounts::new();
        // Values in many 64-value runs, through the PNG byte path, then dropped.
        // Every third value 0: zeros inside counted chunks are packed away.
        let spread: Vec<u16> = (0..6000u32)
            .map(|i| if i % 3 == 2 { 0 } else { (i * 11 + 1) as u16 })
            .collect();
        let be: Vec<u8> = spread.iter().flat_map(|v| v.to_be_bytes()).collect();
        c.add_be16(&be);
        c.discard();
        c.add(&[300, 600]);
        let s = c.finish(DepthEncoding::Auto, 2, 1).unwrap();
        assert_eq!(
            (s.valid_pixels, s.min, s.max),
            (2, 300.0 / 256.0, 600.0 / 256.0)
        );
        // After a finish the tables are clean too.
        c.add_be16(&be);
        let all = c.finish(DepthEncoding::Kitti, 1, 1).unwrap();
        assert_eq!(all.valid_pixels, 4000);
        c.add(&[7]);
        let s = c.finish(DepthEncoding::Metres8bit, 1, 1).unwrap();
        assert_eq!((s.valid_pixels, s.mean, s.max), (1, 7.0, 7.0));
    }

    #[test]
    fn counts_past_u16_spill_exactly_and_leave_nothing_behind() {
        // More than 65,535 of one value: the narrow bins spill, mid-row too.
        let mut c = DepthCounts::new();
        let many = |v: u16, n: usize| -> Vec<u8> { (0..n).flat_map(|_| v.to_be_bytes()).collect() };
        c.add_be16(&many(500, 70_000));
        c.discard();
        c.add(&[300]);
        let s = c.finish(DepthEncoding::Kitti, 1, 1).unwrap();
        assert_eq!(
            (s.valid_pixels, s.min, s.max),
            (1, 300.0 / 256.0, 300.0 / 256.0)
        );
        for row in many(9, 200_001).chunks(1282) {
            c.add_be16(row);
        }
        c.add_u8(&[9; 70_000]);
        // Above the discarded 500s: their runs are read again.
        c.add(&[600]);
        let s = c.finish(DepthEncoding::Metres8bit, 1, 1).unwrap();
        assert_eq!(s.valid_pixels, 270_002);
        assert_eq!((s.min, s.p95, s.max), (9.0, 9.0, 600.0));
        assert_eq!(s.mean, (9.0 * 270_001.0 + 600.0) / 270_002.0);
        assert_eq!(s.hist[DEPTH_HIST_BINS - 1], (1.0 / 270_002.0f64) as f32);
        // And after a finish that spilled, both tables are clean.
        c.add_be16(&many(7, 3));
        c.add(&[900]);
        let s = c.finish(DepthEncoding::Metres8bit, 1, 1).unwrap();
        assert_eq!((s.valid_pixels, s.min, s.p50, s.max), (4, 7.0, 7.0, 900.0));
    }

    #[test]
    fn known_values_and_encodings() {
        let mut c = DepthCounts::new();
        // 1,2,3,4 m stored ×256; numpy: percentile([1,2,3,4], 90) = 3.7.
        c.add(&[0, 256, 512, 768, 1024, 0]);
        let s = c.finish(DepthEncoding::Auto, 6, 1).unwrap();
        assert_eq!((s.mean, s.median, s.min, s.max), (2.5, 2.5, 1.0, 4.0));
        assert!(close(s.p90, 3.7) && close(s.p95, 3.85));
        assert!(close(s.std, 1.25f64.sqrt()));
        assert_eq!((s.valid_pixels, s.total_pixels), (4, 6));
        // Bins [1,2), [2,3), [3,5), [5,8).
        assert_eq!(s.hist[1..5], [0.25, 0.25, 0.5, 0.0]);
        // Max ≤ 255: the seed's rule leaves values as metres.
        c.add(&[10, 20]);
        assert_eq!(c.finish(DepthEncoding::Auto, 2, 1).unwrap().mean, 15.0);
        c.add(&[10, 20]);
        assert_eq!(
            c.finish(DepthEncoding::Kitti, 2, 1).unwrap().mean,
            15.0 / 256.0
        );
        c.add(&[1000, 3000]);
        assert_eq!(
            c.finish(DepthEncoding::Millimetres, 2, 1).unwrap().mean,
            2.0
        );
        c.add(&[0, 0]);
        assert!(c.finish(DepthEncoding::Auto, 2, 1).is_none());
        assert_eq!(
            "metres-8bit".parse::<DepthEncoding>().unwrap(),
            DepthEncoding::Metres8bit
        );
        assert_eq!(
            serde_json::to_string(&DepthEncoding::Metres8bit).unwrap(),
            "\"metres-8bit\""
        );
    }
}
