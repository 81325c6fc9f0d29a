//! Exact order statistics and the depth histogram read off a count per
//! stored value, and numpy's percentile for already sorted values.

use super::count::CHUNK;
use super::DepthEncoding;
use crate::metadata::{DEPTH_HIST_BINS, DEPTH_HIST_EDGES};

/// What [`read_counts`] finds: stored values, before the divisor.
pub(super) struct Ranked {
    pub min: usize,
    pub max: usize,
    pub div: f64,
    /// The stored values at ranks floor(h) and floor(h)+1 of each wanted
    /// percentile (50, 90, 95), and each one's interpolation weight.
    pub ranks: [usize; 6],
    pub gammas: [f64; 3],
    pub hist: [u64; DEPTH_HIST_BINS],
}

/// Order statistics and histogram of the `n > 0` values counted in
/// `table` (a count per stored value, whole runs of [`CHUNK`]), clearing
/// the table on the way.
///
/// One pass over the runs: a run that holds no wanted rank, no histogram
/// edge and not the minimum adds its count (a vectorised sum) to one
/// histogram bin, and only the few others are read bin by bin.
pub(super) fn read_counts<T: Copy + Default + Into<u32>>(
    table: &mut [T],
    n: u64,
    encoding: DepthEncoding,
) -> Ranked {
    // u32 lanes cannot overflow: a run's count is at most n < 2^32.
    let run_count = |run: &[T]| run.iter().map(|&c| c.into()).sum::<u32>() as u64;
    // The last marked run holds the highest value added, so this search
    // stops inside it.
    let max = table
        .iter()
        .rposition(|&c| c.into() != 0)
        .expect("n > 0 values are counted in the marked runs");
    let top = max / CHUNK;
    let div = encoding.divisor(max as u16);

    // numpy's linear method reads ranks floor(h) and floor(h)+1 with
    // h = (n-1)·q; the median is the 50th percentile.
    let qs = [0.5f64, 0.9, 0.95];
    let mut ranks = [0u64; 6];
    let mut gammas = [0f64; 3];
    for (i, q) in qs.iter().enumerate() {
        let h = (n - 1) as f64 * q;
        let lo = h.floor();
        gammas[i] = h - lo;
        ranks[2 * i] = (lo as u64).min(n - 1);
        ranks[2 * i + 1] = (lo as u64 + 1).min(n - 1);
    }
    let mut order: [usize; 6] = [0, 1, 2, 3, 4, 5];
    order.sort_by_key(|&i| ranks[i]);
    let mut values = [0usize; 6];
    // Histogram bins as ranges of stored values: v/div >= m <=> v >= ceil(m·div).
    // `bounds[b]` is the first stored value past bin b; the last bin is open.
    let mut bounds = [usize::MAX; DEPTH_HIST_BINS];
    for (b, m) in bounds.iter_mut().zip(DEPTH_HIST_EDGES) {
        *b = ((m * div).ceil() as usize).clamp(1, max + 1);
    }
    let mut hist = [0u64; DEPTH_HIST_BINS];
    let mut bin = 0usize;
    let (mut seen, mut next) = (0u64, 0usize);
    let mut next_rank = ranks[order[0]];
    let mut min = 0usize;
    for (c, run) in table[..(top + 1) * CHUNK]
        .chunks_exact_mut(CHUNK)
        .enumerate()
    {
        let count = run_count(run);
        if count == 0 {
            // Below a piece's highest value but holding no value.
            continue;
        }
        let base = c * CHUNK;
        while base >= bounds[bin] {
            bin += 1;
        }
        let edge_inside = bounds[bin] < base + CHUNK;
        if min != 0 && !edge_inside && seen + count <= next_rank {
            hist[bin] += count;
            seen += count;
        } else {
            for (j, &cnt) in run.iter().enumerate() {
                let cnt = cnt.into() as u64;
                if cnt == 0 {
                    continue;
                }
                let v = base + j;
                if min == 0 {
                    min = v;
                }
                while v >= bounds[bin] {
                    bin += 1;
                }
                hist[bin] += cnt;
                seen += cnt;
                if seen > next_rank {
                    while next < order.len() && ranks[order[next]] < seen {
                        values[order[next]] = v;
                        next += 1;
                    }
                    next_rank = order.get(next).map_or(u64::MAX, |&i| ranks[i]);
                }
            }
        }
        run.fill(T::default());
    }
    Ranked {
        min,
        max,
        div,
        ranks: values,
        gammas,
        hist,
    }
}

/// numpy's default percentile (linear interpolation) of already sorted
/// values; the reference the count-based statistics are tested against.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * (q / 100.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let g = h - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * g
}
