//! Diverse selection: greedy k-center (farthest-point) sampling.
//!
//! Each sample becomes a feature vector: the logarithm of its depth
//! statistics (min, p50, mean, p90, p95, max — logarithm because depth
//! errors and scene differences are relative), its valid-pixel ratio and,
//! when every row has one, its small depth histogram. Each feature is
//! z-scored over the split (a constant feature becomes 0); the histogram
//! bins are then scaled so the histogram as a whole weighs as much as two
//! scalar features. Distance is Euclidean.
//!
//! Greedy k-center: the pinned samples are the first centres (without pins
//! the first centre is drawn uniformly with the seed, stream 0); then, until
//! the target is met, the free sample farthest from its nearest centre is
//! added (ties to the lower row index). This covers rare scenes first: it is
//! a 2-approximation of the smallest covering radius.

use rayon::prelude::*;

use super::rng;
use super::Eligibility;
use crate::metadata::{SampleMeta, DEPTH_HIST_BINS};

/// Names of the scalar features, in matrix column order (the histogram
/// bins, when present, follow as `hist_0..`).
pub const FEATURE_NAMES: [&str; 7] = [
    "log_min_depth",
    "log_p50",
    "log_mean_depth",
    "log_p90",
    "log_p95",
    "log_max_depth",
    "valid_ratio",
];

/// Whether the depth histogram is part of the features: only when every
/// row has one (the scan's JSON metadata; the seed-format CSV has none).
pub fn has_depth_hist(rows: &[SampleMeta]) -> bool {
    !rows.is_empty() && rows.iter().all(|r| r.depth_hist.len() == DEPTH_HIST_BINS)
}

/// Rows with a depth statistic or valid ratio that is not a finite number.
pub(super) fn non_finite_rows(rows: &[SampleMeta]) -> usize {
    rows.iter()
        .filter(|r| {
            ![
                r.min_depth,
                r.p50,
                r.mean_depth,
                r.p90,
                r.p95,
                r.max_depth,
                r.valid_ratio(),
            ]
            .iter()
            .all(|v| v.is_finite())
                || r.depth_hist.iter().any(|h| !h.is_finite())
        })
        .count()
}

/// The normalised feature matrix, row-major: `(values, dims)`. A feature
/// that is not a finite number (NaN depths, an empty depth map) counts as
/// missing: it sits at the split's mean (z = 0), so it never makes a row
/// look like an outlier.
pub fn feature_matrix(rows: &[SampleMeta]) -> (Vec<f32>, usize) {
    let with_hist = has_depth_hist(rows);
    let dims = FEATURE_NAMES.len() + if with_hist { DEPTH_HIST_BINS } else { 0 };
    // `f64::max` would turn NaN into 1e-3 (an extreme log depth): keep it NaN.
    let ln = |v: f64| {
        if v.is_finite() {
            v.max(1e-3).ln()
        } else {
            f64::NAN
        }
    };
    let mut cols: Vec<Vec<f64>> = vec![Vec::with_capacity(rows.len()); dims];
    for r in rows {
        let scalars = [
            ln(r.min_depth),
            ln(r.p50),
            ln(r.mean_depth),
            ln(r.p90),
            ln(r.p95),
            ln(r.max_depth),
            r.valid_ratio(),
        ];
        for (c, v) in scalars.into_iter().enumerate() {
            cols[c].push(v);
        }
        if with_hist {
            for (b, &h) in r.depth_hist.iter().enumerate() {
                cols[FEATURE_NAMES.len() + b].push(h as f64);
            }
        }
    }
    let hist_weight = (2.0 / DEPTH_HIST_BINS as f64).sqrt();
    let n = rows.len();
    let mut out = vec![0f32; n * dims];
    for (c, col) in cols.iter().enumerate() {
        let finite: Vec<f64> = col.iter().copied().filter(|v| v.is_finite()).collect();
        let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
        let var =
            finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / finite.len().max(1) as f64;
        let sd = var.sqrt();
        let w = if c >= FEATURE_NAMES.len() {
            hist_weight
        } else {
            1.0
        };
        for (i, &v) in col.iter().enumerate() {
            let z = if v.is_finite() && sd > 1e-12 {
                (v - mean) / sd
            } else {
                0.0
            };
            out[i * dims + c] = (z * w) as f32;
        }
    }
    (out, dims)
}

fn dist2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Picks `need` free rows by farthest-point sampling around the pinned rows.
pub(super) fn k_center(
    rows: &[SampleMeta],
    el: &Eligibility,
    need: usize,
    seed: u64,
) -> Vec<usize> {
    let free_count = el.free.iter().filter(|&&f| f).count();
    let need = need.min(free_count);
    if need == 0 {
        return Vec::new();
    }
    let (x, dims) = feature_matrix(rows);
    let n = rows.len();
    // Only free rows are candidates; everything else sits at distance -1.
    let mut mind: Vec<f32> = (0..n)
        .map(|i| if el.free[i] { f32::INFINITY } else { -1.0 })
        .collect();
    let update = |mind: &mut Vec<f32>, c: usize| {
        let center = &x[c * dims..(c + 1) * dims];
        mind.par_chunks_mut(4096)
            .enumerate()
            .for_each(|(chunk, m)| {
                let base = chunk * 4096;
                for (j, v) in m.iter_mut().enumerate() {
                    if *v > 0.0 {
                        let i = base + j;
                        let d = dist2(&x[i * dims..(i + 1) * dims], center);
                        if d < *v {
                            *v = d;
                        }
                    }
                }
            });
    };
    let mut chosen = Vec::with_capacity(need);
    let mut any_center = false;
    for i in (0..n).filter(|&i| el.pinned[i]) {
        update(&mut mind, i);
        any_center = true;
    }
    if !any_center {
        let free: Vec<usize> = (0..n).filter(|&i| el.free[i]).collect();
        let mut r = rng::stream(seed, 0);
        let first = free[rng::below(&mut r, free.len() as u64) as usize];
        chosen.push(first);
        mind[first] = -1.0;
        update(&mut mind, first);
    }
    while chosen.len() < need {
        // Farthest free row; ties to the lower index. A row identical to a
        // centre has distance 0 and is still eligible.
        let mut best = usize::MAX;
        let mut best_d = -0.5f32;
        for (i, &d) in mind.iter().enumerate() {
            if d > best_d {
                best_d = d;
                best = i;
            }
        }
        if best == usize::MAX {
            break;
        }
        chosen.push(best);
        mind[best] = -1.0;
        update(&mut mind, best);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::super::tests::row;
    use super::super::*;

    #[test]
    fn rare_scenes_are_covered() {
        // 500 near-identical indoor rows and 3 far outliers: a diverse set of
        // 5 must contain all 3 outliers; random would almost never.
        let mut rows: Vec<_> = (0..500)
            .map(|i| row("indoor", &format!("{i:010}"), 2.0 + (i % 7) as f64 * 0.01))
            .collect();
        for (k, m) in [40.0, 60.0, 80.0].into_iter().enumerate() {
            rows.push(row("far", &format!("{k:010}"), m));
        }
        let req = SelectionRequest {
            strategy: Strategy::Diverse,
            target: 5,
            ..SelectionRequest::default()
        };
        let sel = run(&rows, &req).unwrap();
        assert_eq!(sel.len(), 5);
        for i in 500..503 {
            assert!(sel.indices.contains(&i), "{:?}", sel.indices);
        }
        assert_eq!(run(&rows, &req).unwrap(), sel);
    }

    #[test]
    fn pins_are_centres_and_exclusions_never_return() {
        let rows: Vec<_> = (0..200)
            .map(|i| row("s", &format!("{i:010}"), 0.5 + i as f64 * 0.2))
            .collect();
        let excluded: BTreeSet<_> = [rows[199].key(), rows[0].key()].into();
        let pinned: BTreeSet<_> = [rows[100].key()].into();
        let req = SelectionRequest {
            strategy: Strategy::Diverse,
            target: 10,
            seed: 9,
            pinned,
            excluded,
        };
        let sel = run(&rows, &req).unwrap();
        assert_eq!(sel.len(), 10);
        assert!(sel.indices.contains(&100));
        assert!(!sel.indices.contains(&199) && !sel.indices.contains(&0));
        // The farthest from the pinned centre at 100 are the free extremes.
        assert!(sel.indices.contains(&198) && sel.indices.contains(&1));
    }

    #[test]
    fn nan_depths_do_not_make_a_row_an_outlier() {
        // 50 rows spread over 1-50 m and one row whose depths are all NaN.
        let mut rows: Vec<_> = (0..50)
            .map(|i| row("s", &format!("{i:010}"), 1.0 + i as f64))
            .collect();
        let mut nan = row("s", "nan", f64::NAN);
        nan.min_depth = f64::NAN;
        rows.push(nan);
        // A pinned first centre keeps the seed's first draw out of it.
        let req = SelectionRequest {
            strategy: Strategy::Diverse,
            target: 3,
            seed: 4,
            pinned: [rows[0].key()].into(),
            ..SelectionRequest::default()
        };
        let sel = run(&rows, &req).unwrap();
        assert!(!sel.indices.contains(&50), "{:?}", sel.indices);
        assert!(
            sel.notes.iter().any(|n| n.contains("not finite")),
            "{:?}",
            sel.notes
        );
        // No histogram in these rows: the selection says so.
        assert!(
            sel.notes.iter().any(|n| n.contains("--json")),
            "{:?}",
            sel.notes
        );
        let (x, dims) = feature_matrix(&rows);
        assert!(x[50 * dims..51 * dims].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn target_larger_than_split_takes_all_free() {
        let rows: Vec<_> = (0..7).map(|i| row("s", &i.to_string(), 1.0)).collect();
        let req = SelectionRequest {
            strategy: Strategy::Diverse,
            target: 50,
            ..SelectionRequest::default()
        };
        assert_eq!(run(&rows, &req).unwrap().len(), 7);
    }
}
