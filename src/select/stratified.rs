//! The seed's depth-stratified sampling, with its defects fixed.
//!
//! Per bin the target is `int(target * ratio)` (the seed's arithmetic);
//! pinned rows in a bin count towards it, the rest is drawn from the bin's
//! free rows (stream = bin index, see [`super::rng`]). Whatever is still
//! missing — a bin with too few rows, or the flooring of the targets — is
//! refilled from bins that still have free rows, split in proportion to
//! their ratios by largest remainder (ties to the earlier bin), repeated
//! until the target is met or no bin with a positive ratio has rows left.

use super::rng::{self, LazyShuffle};
use super::{Bins, Eligibility, Origin, PlanRow, Selection, SelectionRequest};
use crate::metadata::SampleMeta;

pub(super) fn fill(
    rows: &[SampleMeta],
    req: &SelectionRequest,
    bins: &Bins,
    el: &Eligibility,
    picks: &mut Vec<(usize, Origin)>,
    sel: &mut Selection,
) {
    let nb = bins.len();
    let mut pools: Vec<Vec<usize>> = vec![Vec::new(); nb];
    let mut plan: Vec<PlanRow> = (0..nb)
        .map(|i| PlanRow {
            label: bins.labels[i].clone(),
            lower: bins.edges[i],
            upper: bins.edges[i + 1],
            ratio: bins.ratios[i],
            target: (req.target as f64 * bins.ratios[i]) as usize,
            available: 0,
            pinned: 0,
            excluded: 0,
            first_pass: 0,
            refilled: 0,
            actual: 0,
        })
        .collect();
    let mut pinned_outside = 0usize;
    for (i, r) in rows.iter().enumerate() {
        match bins.bin_of(bins.column.value(r)) {
            Some(b) => {
                if el.excluded[i] {
                    plan[b].excluded += 1;
                    continue;
                }
                if el.pinned[i] {
                    plan[b].pinned += 1;
                    plan[b].available += 1;
                } else if el.free[i] {
                    plan[b].available += 1;
                    pools[b].push(i);
                }
            }
            None => {
                sel.outside.push(i);
                if el.pinned[i] {
                    pinned_outside += 1;
                }
            }
        }
    }
    if !sel.outside.is_empty() {
        let lo = bins.edges[0];
        let hi = bins.edges[nb];
        sel.notes.push(format!(
            "{} sample(s) have {} outside every bin ({} < value <= {}): not drawn{}",
            sel.outside.len(),
            bins.column,
            short(lo),
            short(hi),
            if pinned_outside > 0 {
                format!(" ({pinned_outside} of them pinned, so kept)")
            } else {
                String::new()
            }
        ));
    }

    let mut shuffles: Vec<LazyShuffle> = pools
        .into_iter()
        .enumerate()
        .map(|(b, pool)| LazyShuffle::new(pool, rng::stream(req.seed, b as u64)))
        .collect();
    // Places left after the pins; when pins over-fill some bins, the other
    // bins' wants shrink in proportion so the total stays at the target.
    let places = req.target.saturating_sub(picks.len());
    let mut wants: Vec<usize> = plan
        .iter()
        .map(|p| p.target.saturating_sub(p.pinned))
        .collect();
    if wants.iter().sum::<usize>() > places {
        let weights: Vec<f64> = wants.iter().map(|&w| w as f64).collect();
        wants = largest_remainder(places, &weights, &wants);
    }
    for (b, p) in plan.iter_mut().enumerate() {
        let drawn = shuffles[b].take(wants[b]);
        p.first_pass = p.pinned + drawn.len();
        picks.extend(drawn.into_iter().map(|i| (i, Origin::Drawn)));
        if p.first_pass < p.target {
            sel.notes.push(format!(
                "{} has {} sample(s) for a target of {}",
                bins.describe(b),
                p.available,
                p.target
            ));
        }
    }

    let mut shortage = req.target.saturating_sub(picks.len());
    while shortage > 0 {
        let spare: Vec<usize> = shuffles.iter().map(LazyShuffle::remaining).collect();
        let alloc = largest_remainder(shortage, &bins.ratios, &spare);
        let given: usize = alloc.iter().sum();
        if given == 0 {
            break;
        }
        for (b, &k) in alloc.iter().enumerate() {
            let drawn = shuffles[b].take(k);
            plan[b].refilled += drawn.len();
            picks.extend(drawn.into_iter().map(|i| (i, Origin::Refill)));
        }
        shortage -= given;
    }
    let refills: Vec<String> = plan
        .iter()
        .filter(|p| p.refilled > 0)
        .map(|p| format!("{} +{}", p.label, p.refilled))
        .collect();
    if !refills.is_empty() {
        sel.notes.push(format!(
            "shortfall refilled in proportion to the ratios: {}",
            refills.join(", ")
        ));
    }
    for p in &mut plan {
        p.actual = p.first_pass + p.refilled;
    }
    sel.plan = plan;
}

/// Splits `k` places over bins with `spare[i] > 0` and `ratios[i] > 0` in
/// proportion to the ratios (Hamilton's largest-remainder method, ties to
/// the lower bin), each capped at its spare. The sum may fall short of `k`
/// because of the caps; the caller repeats.
pub(crate) fn largest_remainder(k: usize, ratios: &[f64], spare: &[usize]) -> Vec<usize> {
    let open: Vec<usize> = (0..ratios.len())
        .filter(|&i| spare[i] > 0 && ratios[i] > 0.0)
        .collect();
    let mut alloc = vec![0usize; ratios.len()];
    let total: f64 = open.iter().map(|&i| ratios[i]).sum();
    if open.is_empty() || total <= 0.0 {
        return alloc;
    }
    let mut fracs: Vec<(f64, usize)> = Vec::with_capacity(open.len());
    let mut given = 0usize;
    for &i in &open {
        let quota = k as f64 * ratios[i] / total;
        let whole = quota.floor() as usize;
        alloc[i] = whole;
        given += whole;
        fracs.push((quota - whole as f64, i));
    }
    fracs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in fracs.iter().take(k.saturating_sub(given)) {
        alloc[i] += 1;
    }
    for &i in &open {
        alloc[i] = alloc[i].min(spare[i]);
    }
    alloc
}

fn short(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::super::tests::row;
    use super::super::*;
    use super::largest_remainder;

    fn rows_with(counts: [usize; 4]) -> Vec<SampleMeta> {
        let means = [1.5, 5.0, 10.0, 30.0];
        let mut rows = Vec::new();
        for (b, &n) in counts.iter().enumerate() {
            for i in 0..n {
                rows.push(row(&format!("seq{b}"), &format!("{i:010}"), means[b]));
            }
        }
        rows
    }

    fn counts_by_bin(rows: &[SampleMeta], sel: &Selection) -> [usize; 4] {
        let b = Bins::default();
        let mut c = [0; 4];
        for &i in &sel.indices {
            c[b.bin_of(rows[i].mean_depth).unwrap()] += 1;
        }
        c
    }

    #[test]
    fn seed_plan_when_every_bin_is_full() {
        let rows = rows_with([200, 200, 200, 200]);
        let sel = run(&rows, &SelectionRequest::default()).unwrap();
        let targets: Vec<_> = sel.plan.iter().map(|p| p.target).collect();
        assert_eq!(targets, [75, 120, 75, 30]);
        assert_eq!(counts_by_bin(&rows, &sel), [75, 120, 75, 30]);
        assert_eq!(sel.len(), 300);
    }

    #[test]
    fn shortfall_is_refilled_in_proportion_to_ratios() {
        // very_far has 10 of its 30; the 20 missing go to near/mid/far as
        // 25:40:25 -> quotas 5.56, 8.89, 5.56: floors 5, 8, 5 (=18), the two
        // left go to the largest remainders: mid, then near (tie, lower bin).
        let rows = rows_with([200, 200, 200, 10]);
        let sel = run(&rows, &SelectionRequest::default()).unwrap();
        assert_eq!(sel.len(), 300);
        let refilled: Vec<_> = sel.plan.iter().map(|p| p.refilled).collect();
        assert_eq!(refilled, [6, 9, 5, 0]);
        assert_eq!(counts_by_bin(&rows, &sel), [81, 129, 80, 10]);
        assert!(
            sel.notes.iter().any(|n| n.contains("very_far")),
            "{:?}",
            sel.notes
        );
    }

    #[test]
    fn refill_respects_spare_and_repeats() {
        // near can give only 2 extra; the rest goes to mid and far.
        let rows = rows_with([77, 200, 200, 0]);
        let sel = run(&rows, &SelectionRequest::default()).unwrap();
        assert_eq!(sel.len(), 300);
        assert_eq!(counts_by_bin(&rows, &sel)[0], 77);
        assert_eq!(counts_by_bin(&rows, &sel)[3], 0);
    }

    #[test]
    fn excluded_never_returns_and_pins_count_towards_their_bin() {
        let rows = rows_with([100, 130, 100, 40]);
        let excluded: BTreeSet<_> = rows[100..120].iter().map(|r| r.key()).collect();
        let pinned: BTreeSet<_> = rows[330..335].iter().map(|r| r.key()).collect();
        for seed in 0..20 {
            let req = SelectionRequest {
                seed,
                excluded: excluded.clone(),
                pinned: pinned.clone(),
                ..SelectionRequest::default()
            };
            let sel = run(&rows, &req).unwrap();
            assert_eq!(sel.len(), 300);
            for &i in &sel.indices {
                assert!(!excluded.contains(&rows[i].key()), "seed {seed}: {i}");
            }
            for k in &pinned {
                assert!(sel.keys(&rows).contains(k));
            }
            // mid had 130 - 20 excluded = 110 < 120: short by 10, refilled.
            assert_eq!(sel.plan[1].available, 110);
            assert_eq!(sel.plan[1].excluded, 20);
            assert_eq!(sel.plan[3].pinned, 5);
            assert_eq!(sel.plan[3].first_pass, 30);
            assert_eq!(sel.plan[1].first_pass, 110);
            let refill: usize = sel.plan.iter().map(|p| p.refilled).sum();
            assert_eq!(refill, 10);
            assert_eq!(sel.plan[1].refilled, 0);
        }
    }

    #[test]
    fn rows_outside_the_bins_are_reported() {
        let mut rows = rows_with([10, 10, 10, 10]);
        rows.push(row("x", "1", 150.0));
        rows.push(row("x", "2", 0.0));
        let sel = run(&rows, &SelectionRequest::default()).unwrap();
        assert_eq!(sel.outside, vec![40, 41]);
        assert!(sel.notes.iter().any(|n| n.contains("2 sample(s)")));
        assert!(!sel.indices.contains(&40));
    }

    #[test]
    fn more_pins_than_target_keeps_them_all() {
        let rows = rows_with([10, 10, 10, 10]);
        let pinned: BTreeSet<_> = rows.iter().take(12).map(|r| r.key()).collect();
        let req = SelectionRequest {
            target: 5,
            pinned,
            ..SelectionRequest::default()
        };
        let sel = run(&rows, &req).unwrap();
        assert_eq!(sel.len(), 12);
        assert!(sel.origins.iter().all(|o| *o == Origin::Pinned));
    }

    #[test]
    fn pins_over_filling_a_bin_shrink_the_others() {
        let rows = rows_with([200, 200, 200, 200]);
        let pinned: BTreeSet<_> = rows[..100].iter().map(|r| r.key()).collect();
        let req = SelectionRequest {
            pinned,
            ..Default::default()
        };
        let sel = run(&rows, &req).unwrap();
        assert_eq!(sel.len(), 300);
        assert_eq!(sel.plan[0].actual, 100);
        // 200 places over wants 120:75:30.
        let rest: Vec<_> = sel.plan[1..].iter().map(|p| p.actual).collect();
        assert_eq!(rest, [107, 67, 26]);
    }

    #[test]
    fn raising_the_target_only_adds() {
        let rows = rows_with([300, 300, 300, 300]);
        let a = run(
            &rows,
            &SelectionRequest {
                target: 100,
                ..Default::default()
            },
        )
        .unwrap();
        let b = run(
            &rows,
            &SelectionRequest {
                target: 200,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(a.indices.iter().all(|i| b.indices.contains(i)));
    }

    #[test]
    fn largest_remainder_splits() {
        assert_eq!(
            largest_remainder(1, &[0.25, 0.4, 0.25, 0.1], &[9; 4]),
            [0, 1, 0, 0]
        );
        assert_eq!(largest_remainder(10, &[0.5, 0.5], &[3, 100]), [3, 5]);
        assert_eq!(largest_remainder(4, &[0.5, 0.0], &[0, 100]), [0, 0]);
    }
}
