//! The vector code of the counting engine, all of it: packing a PNG's
//! big-endian samples and the sums of packed values with AVX2, and the
//! choice of path by what the CPU has. (An AVX-512 packing path measured
//! about 1% end to end over AVX2 by CPU time, inside run-to-run noise, and
//! was removed.)
//!
//! The safety rule, one for every function here: a `#[target_feature]`
//! function runs only on a CPU that has its features (each checks this
//! again in debug builds), and every vector store into the packed buffer
//! ends inside it (asserted before each store in debug builds).

use super::count::{packed_sums_plain, DepthCounts, MARGIN, PIECE};

/// `pshufb` controls that move the non-zero u16 lanes of eight (bit i of
/// the index set = lane i non-zero) to the front, in order.
#[cfg(target_arch = "x86_64")]
static PACK: [[u8; 16]; 256] = {
    let mut t = [[0x80u8; 16]; 256];
    let mut m = 0;
    while m < 256 {
        let (mut i, mut j) = (0, 0);
        while i < 8 {
            if m >> i & 1 == 1 {
                t[m][2 * j] = 2 * i as u8;
                t[m][2 * j + 1] = 2 * i as u8 + 1;
                j += 1;
            }
            i += 1;
        }
        m += 1;
    }
    t
};

/// Σv, Σv² and the maximum of `packed[..len]` (`len <= PIECE`), exact.
pub(super) fn packed_sums(packed: &[u16; PIECE + MARGIN], len: usize) -> (u64, u64, u16) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { packed_sums_avx2(packed, len) };
    }
    packed_sums_plain(&packed[..len])
}

/// [`packed_sums`] 16 values at a time.
///
/// With v = 256·h + l: Σv = 256·Σh + Σl and Σv² = 65536·Σh² + 512·Σh·l + Σl².
/// Bytes fit signed 16-bit lanes, so the multiply-add (`vpmaddwd`) forms
/// the products sixteen at a time and sums pairs into i32 lanes. Each lane
/// grows by at most 2·255² per 16 values, so PIECE values cannot carry it
/// past 2^31.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn packed_sums_avx2(packed: &[u16; PIECE + MARGIN], len: usize) -> (u64, u64, u16) {
    use std::arch::x86_64::*;
    debug_assert!(
        std::is_x86_feature_detected!("avx2"),
        "AVX2 code on a CPU without it"
    );
    const { assert!(PIECE / 16 * 2 * 255 * 255 < i32::MAX as usize) };
    let zero = _mm256_setzero_si256();
    let (ones, low_bytes) = (_mm256_set1_epi16(1), _mm256_set1_epi16(0xff));
    let lanes = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let (mut sh, mut sl, mut hh, mut hl, mut ll, mut top) = (zero, zero, zero, zero, zero, zero);
    for at in (0..len.min(PIECE)).step_by(16) {
        let sixteen: &[u16; 16] = packed[at..at + 16].try_into().expect("16 values");
        // SAFETY: reads exactly the 32 bytes of `sixteen`.
        let v = unsafe { _mm256_loadu_si256(sixteen.as_ptr().cast()) };
        // Lanes at `len` and past hold leftovers of earlier pieces: zeroed.
        let keep = _mm256_cmpgt_epi16(_mm256_set1_epi16((len - at).min(16) as i16), lanes);
        let v = _mm256_and_si256(v, keep);
        top = _mm256_max_epu16(top, v);
        let h = _mm256_srli_epi16::<8>(v);
        let l = _mm256_and_si256(v, low_bytes);
        sh = _mm256_add_epi32(sh, _mm256_madd_epi16(h, ones));
        sl = _mm256_add_epi32(sl, _mm256_madd_epi16(l, ones));
        hh = _mm256_add_epi32(hh, _mm256_madd_epi16(h, h));
        hl = _mm256_add_epi32(hl, _mm256_madd_epi16(h, l));
        ll = _mm256_add_epi32(ll, _mm256_madd_epi16(l, l));
    }
    let total = |w: __m256i| {
        let mut a = [0u32; 8];
        // SAFETY: `a` is exactly 32 bytes.
        unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), w) };
        a.iter().map(|&x| x as u64).sum::<u64>()
    };
    let [sh, sl, hh, hl, ll] = [sh, sl, hh, hl, ll].map(total);
    let top = _mm_max_epu16(
        _mm256_castsi256_si128(top),
        _mm256_extracti128_si256::<1>(top),
    );
    let flipped = _mm_xor_si128(top, _mm_set1_epi16(-1));
    let high = 0xffff - _mm_extract_epi16::<0>(_mm_minpos_epu16(flipped)) as u16;
    (256 * sh + sl, 65536 * hh + 512 * hl + ll, high)
}

/// The ways of adding big-endian samples, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(super) enum Be16Path {
    Avx2,
    Plain,
}

impl Be16Path {
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) const ALL: [Self; 2] = [Self::Avx2, Self::Plain];

    /// Whether this CPU can take the path.
    #[inline]
    pub(super) fn supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => {
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt")
            }
            Self::Plain => true,
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

impl DepthCounts {
    /// Adds big-endian 16-bit samples as a PNG stores them, by the fastest
    /// path this CPU has.
    pub(super) fn add_be16(&mut self, bytes: &[u8]) {
        #[cfg(target_arch = "x86_64")]
        if Be16Path::Avx2.supported() {
            // SAFETY: the CPU has the features, checked just above.
            return unsafe { self.add_be16_avx2(bytes) };
        }
        self.add_be16_plain(bytes)
    }

    /// [`Self::add_be16`] by the given path, which the CPU must have.
    #[cfg(test)]
    pub(super) fn add_be16_by(&mut self, path: Be16Path, bytes: &[u8]) {
        assert!(path.supported(), "{path:?} on this CPU");
        match path {
            // SAFETY: the CPU has the features, asserted just above.
            #[cfg(target_arch = "x86_64")]
            Be16Path::Avx2 => unsafe { self.add_be16_avx2(bytes) },
            _ => self.add_be16_plain(bytes),
        }
    }

    /// [`Self::add_be16`] 16 values at a time. Zero runs are tested 128
    /// bytes per branch; a non-zero 32-byte chunk is byte-swapped into its
    /// values with one shuffle and its non-zero values are packed with one
    /// shuffle per half (a mask of eight lanes picks the shuffle), so zeros
    /// are never counted and no branch is taken per pixel.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    fn add_be16_avx2(&mut self, bytes: &[u8]) {
        use std::arch::x86_64::*;
        debug_assert!(Be16Path::Avx2.supported(), "AVX2 code on a CPU without it");
        self.total += (bytes.len() / 2) as u64;
        let swap = _mm256_setr_epi8(
            1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11,
            10, 13, 12, 15, 14,
        );
        let zero = _mm256_setzero_si256();
        let load = |c: &[u8; 32]| {
            // SAFETY: reads exactly the 32 bytes of `c`.
            unsafe { _mm256_loadu_si256(c.as_ptr().cast()) }
        };
        let nonzero = |x: __m256i| _mm256_testz_si256(x, x) == 0;
        for piece in bytes.chunks(PIECE * 2) {
            self.make_room(piece.len() / 2);
            let mut len = self.pending;
            let packed = self.packed.as_mut_ptr();
            let mut pack_chunk = |x: __m256i| {
                let v = _mm256_shuffle_epi8(x, swap);
                // One bit per lane: packs turns each u16 mask into a byte,
                // the low half's eight in bits 0-7, the high half's in 16-23.
                let z = _mm256_cmpeq_epi16(v, zero);
                let valid = !(_mm256_movemask_epi8(_mm256_packs_epi16(z, z)) as u32);
                let (lo, hi) = ((valid & 0xff) as usize, (valid >> 16 & 0xff) as usize);
                let pick = |m: usize| {
                    // SAFETY: reads exactly the 16 bytes of one control.
                    unsafe { _mm_loadu_si128(PACK[m].as_ptr().cast()) }
                };
                let a = _mm_shuffle_epi8(_mm256_castsi256_si128(v), pick(lo));
                let b = _mm_shuffle_epi8(_mm256_extracti128_si256::<1>(v), pick(hi));
                debug_assert!(len + 16 <= PIECE + MARGIN, "store past the packed buffer");
                // SAFETY: `len` is at most the pending values plus this
                // piece's values before the chunk, and those with the
                // piece's rest come to at most PIECE (`make_room`); so the
                // two 8-value stores end by PIECE, or for a padded last
                // chunk of fewer values by PIECE + 16, inside `packed`.
                unsafe {
                    _mm_storeu_si128(packed.add(len).cast(), a);
                    len += lo.count_ones() as usize;
                    _mm_storeu_si128(packed.add(len).cast(), b);
                }
                len += hi.count_ones() as usize;
            };
            let mut groups = piece.chunks_exact(4 * 32);
            for group in &mut groups {
                let (group, _) = group.as_chunks::<32>();
                let [a, b, c, d] = [0, 1, 2, 3].map(|i| load(&group[i]));
                // Most of a sparse map is long zero runs: one test per group.
                let any = _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d));
                if !nonzero(any) {
                    continue;
                }
                for x in [a, b, c, d] {
                    pack_chunk(x);
                }
            }
            let (whole, rest) = groups.remainder().as_chunks::<32>();
            for c in whole {
                let x = load(c);
                if nonzero(x) {
                    pack_chunk(x);
                }
            }
            if !rest.is_empty() {
                // The last values, padded with zeros (never counted); an
                // odd last byte is no value and is dropped.
                let mut padded = [0u8; 32];
                let even = rest.len() & !1;
                padded[..even].copy_from_slice(&rest[..even]);
                let x = load(&padded);
                if nonzero(x) {
                    pack_chunk(x);
                }
            }
            self.pending = len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::depth::count::boxed;
    use crate::depth::count::tests::{close, reference};
    use crate::depth::DepthEncoding;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn png_byte_path_counts_like_the_plain_one() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut a = DepthCounts::new();
        let mut b: Vec<_> = supported_paths().map(|p| (p, DepthCounts::new())).collect();
        for len in [1usize, 31, 32, 33, 63, 64, 65, 127, 128, 129, 500, 4099] {
            // Runs of zeros with scattered values, as in a LiDAR map.
            let values: Vec<u16> = (0..len)
                .map(|i| {
                    if (i / 40) % 3 == 0 && rng.random_bool(0.9) {
                        rng.random_range(1..=40000)
                    } else {
                        0
                    }
                })
                .collect();
            let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
            a.add(&values);
            let want = a.finish(DepthEncoding::Auto, 1, 1);
            for (path, b) in &mut b {
                // Whole, and with an odd byte left over (no value).
                b.add_be16_by(*path, &be);
                assert_eq!(
                    b.finish(DepthEncoding::Auto, 1, 1),
                    want,
                    "{path:?} len {len}"
                );
                let mut odd = be.clone();
                odd.push(0xff);
                b.add_be16_by(*path, &odd);
                assert_eq!(
                    b.finish(DepthEncoding::Auto, 1, 1),
                    want,
                    "{path:?} len {len} + 1 byte"
                );
            }
        }
    }

    /// The ways of adding PNG bytes that this CPU can take.
    fn supported_paths() -> impl Iterator<Item = Be16Path> {
        Be16Path::ALL.into_iter().filter(|p| p.supported())
    }

    #[test]
    fn long_rows_of_large_values_count_exactly() {
        // Rows far longer than the packed buffer holds, of values whose
        // squares fill the sums' i32 lanes fastest (a full buffer of them
        // is the most one lane takes), repeated so counting batches cross
        // row ends; some rows end part-way into a chunk.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut a = DepthCounts::new();
        let mut b: Vec<_> = supported_paths().map(|p| (p, DepthCounts::new())).collect();
        for (i, len) in [600_000usize, 65_536, 65_537, 131_075, 9]
            .iter()
            .enumerate()
        {
            let values: Vec<u16> = (0..*len)
                .map(|_| match i % 2 {
                    0 => 0xffff,
                    _ => rng.random_range(0xff00..=0xffff),
                })
                .collect();
            let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
            for _ in 0..3 {
                a.add(&values);
                for (path, b) in &mut b {
                    b.add_be16_by(*path, &be);
                }
            }
        }
        let want = a.finish(DepthEncoding::Kitti, 1, 1);
        assert!(want.is_some());
        for (path, b) in &mut b {
            assert_eq!(b.finish(DepthEncoding::Kitti, 1, 1), want, "{path:?}");
        }
    }

    #[test]
    fn packed_sums_match_value_by_value() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut packed: Box<[u16; PIECE + MARGIN]> = boxed();
        // Leftovers past `len` must not count: fill the margin too.
        for len in [0, 1, 15, 16, 17, 700, PIECE - 1, PIECE] {
            for fill in [0xffffu16, 0x8080, 1] {
                packed.fill(fill);
                if fill == 1 {
                    for v in packed.iter_mut() {
                        *v = rng.random_range(1..=u16::MAX);
                    }
                }
                let want = packed_sums_plain(&packed[..len]);
                assert_eq!(packed_sums(&packed, len), want, "len {len}, fill {fill:#x}");
            }
        }
    }

    #[test]
    fn clustered_and_dense_maps_match_the_reference() {
        // Values packed into a few runs of stored values, so ranks and
        // histogram edges fall inside runs holding many counts, and maps
        // big enough to fill the packed buffer many times and to spill.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let mut a = DepthCounts::new();
        let mut b: Vec<_> = supported_paths().map(|p| (p, DepthCounts::new())).collect();
        for case in 0..24 {
            let len = [1000usize, 70_000, 245_760][case % 3];
            let centre: u16 = rng.random_range(200..60_000);
            let spread: u16 = [0, 3, 70, 900][case % 4];
            let valid = [1.0, 0.5, 0.08][case % 3];
            let values: Vec<u16> = (0..len)
                .map(|_| {
                    if rng.random_bool(valid) {
                        centre.saturating_add(rng.random_range(0..=spread)).max(1)
                    } else {
                        0
                    }
                })
                .collect();
            let enc = DepthEncoding::ALL[case % 4];
            a.add(&values);
            let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
            // In rows, as a decoder hands them over, by every path.
            let ga = a.finish(enc, 1, 1);
            for (path, b) in &mut b {
                for row in be.chunks(1280) {
                    b.add_be16_by(*path, row);
                }
                assert_eq!(b.finish(enc, 1, 1), ga, "{path:?} case {case}");
            }
            let (Some(r), Some(g)) = (reference(&values, enc), ga) else {
                assert!(reference(&values, enc).is_none(), "case {case}");
                continue;
            };
            let g8 = [g.mean, g.median, g.min, g.max, g.std, g.p50, g.p90, g.p95];
            for (k, (x, y)) in g8.iter().zip(r).enumerate() {
                assert!(close(*x, y), "case {case} stat {k}: {x} vs {y}");
            }
        }
    }
}
