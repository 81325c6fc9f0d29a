//! How well a selection represents its split: per-bin shares, the
//! Kolmogorov–Smirnov statistic and the Wasserstein-1 distance on mean
//! depth, coverage of scene types and depth folders, and the largest gap
//! in words ("very_far is 4% of the set but 11% of the data").
//!
//! Cheap enough for every click: [`Baseline::new`] does the O(n log n)
//! work on the whole split once (sorting mean depths, counting bins and
//! categories); [`Baseline::compare`] is then O(n + m log m) for a
//! selection of m rows, with no allocation proportional to n except the
//! merge walk. [`check`] does both in one call.

use serde::{Deserialize, Serialize};

use crate::metadata::SampleMeta;
use crate::select::{Bins, Column, SelectError};

/// Counts and shares of one bin or category, in the data and in the set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub name: String,
    pub data_count: usize,
    pub data_share: f64,
    pub selected_count: usize,
    pub selected_share: f64,
}

impl Share {
    /// Selected share minus data share (positive: over-represented).
    pub fn gap(&self) -> f64 {
        self.selected_share - self.data_share
    }
}

/// The biggest difference between set and data, with its sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gap {
    /// "depth bin", "scene type" or "depth folder".
    pub kind: String,
    pub name: String,
    pub selected_share: f64,
    pub data_share: f64,
    pub sentence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistributionReport {
    pub column: Column,
    pub n_data: usize,
    pub n_selected: usize,
    /// One per bin, then an `outside` entry when any row is outside the bins.
    pub bins: Vec<Share>,
    /// Two-sample KS statistic on mean depth, selection vs whole split
    /// (0..1); `None` when the selection (or the split) has no finite mean
    /// depth to compare — an empty selection is no match at all.
    pub ks: Option<f64>,
    /// Wasserstein-1 (earth mover's) distance on mean depth, in metres;
    /// `None` like `ks`.
    pub wasserstein1: Option<f64>,
    /// Scene types, most frequent in the data first.
    pub scene_types: Vec<Share>,
    /// Depth folders, most frequent in the data first.
    pub depth_folders: Vec<Share>,
    /// Scene types / depth folders present in the data but not in the set.
    pub missing_scene_types: Vec<String>,
    pub missing_depth_folders: Vec<String>,
    pub largest_gap: Option<Gap>,
    /// Rows whose mean depth is not a finite number (left out of KS and W1).
    pub non_finite: usize,
}

impl DistributionReport {
    /// A short multi-line summary for the terminal.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "distribution check: {} selected of {} samples\n{:<14} {:>8} {:>8} {:>8} {:>8}\n",
            self.n_selected, self.n_data, "bin", "data", "share", "set", "share"
        );
        for b in &self.bins {
            s.push_str(&format!(
                "{:<14} {:>8} {:>7.1}% {:>8} {:>7.1}%\n",
                b.name,
                b.data_count,
                b.data_share * 100.0,
                b.selected_count,
                b.selected_share * 100.0
            ));
        }
        match (self.ks, self.wasserstein1) {
            (Some(ks), Some(w1)) => s.push_str(&format!(
                "mean depth: KS {ks:.4}, Wasserstein-1 {w1:.4} m\n"
            )),
            _ if self.n_selected == 0 => {
                s.push_str("mean depth: no selection, nothing to compare\n")
            }
            _ => s.push_str("mean depth: no finite mean depth to compare\n"),
        }
        let cov = |v: &[Share], missing: &[String]| {
            let present = v.len() - missing.len();
            let mut t = format!("{present}/{} covered", v.len());
            if !missing.is_empty() {
                t.push_str(&format!(" (missing: {})", missing.join(", ")));
            }
            t
        };
        s.push_str(&format!(
            "scene types: {}; depth folders: {}\n",
            cov(&self.scene_types, &self.missing_scene_types),
            cov(&self.depth_folders, &self.missing_depth_folders)
        ));
        if let Some(g) = &self.largest_gap {
            s.push_str(&format!("largest gap: {}\n", g.sentence));
        }
        s
    }
}

/// Per-category ids of every row plus the category names.
#[derive(Debug, Clone, Default)]
struct Categories {
    names: Vec<String>,
    of_row: Vec<u32>,
    counts: Vec<usize>,
    last: usize,
}

impl Categories {
    /// Few distinct values (scene types, depth folders): the last hit and a
    /// linear scan beat hashing every row.
    fn push(&mut self, v: &str) {
        let id = if self.last < self.names.len() && self.names[self.last] == v {
            self.last
        } else {
            match self.names.iter().position(|n| n == v) {
                Some(p) => p,
                None => {
                    self.names.push(v.to_owned());
                    self.counts.push(0);
                    self.names.len() - 1
                }
            }
        };
        self.last = id;
        self.counts[id] += 1;
        self.of_row.push(id as u32);
    }

    fn shares(&self, selected: &[usize], n: usize, m: usize) -> Vec<Share> {
        let mut sel = vec![0usize; self.names.len()];
        for &i in selected {
            sel[self.of_row[i] as usize] += 1;
        }
        let mut order: Vec<usize> = (0..self.names.len()).collect();
        // Most frequent first; ties in order of first appearance.
        order.sort_by(|&a, &b| self.counts[b].cmp(&self.counts[a]).then(a.cmp(&b)));
        order
            .into_iter()
            .map(|c| share(&self.names[c], self.counts[c], n, sel[c], m))
            .collect()
    }
}

fn share(name: &str, data: usize, n: usize, selected: usize, m: usize) -> Share {
    let frac = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Share {
        name: name.to_owned(),
        data_count: data,
        data_share: frac(data, n),
        selected_count: selected,
        selected_share: frac(selected, m),
    }
}

/// The whole split's side of the comparison, computed once per split.
#[derive(Debug, Clone)]
pub struct Baseline {
    bins: Bins,
    n: usize,
    /// Bin of each row (`bins.len()` = outside).
    bin_of_row: Vec<u16>,
    bin_counts: Vec<usize>,
    /// Finite mean depths of the whole split, ascending.
    sorted_mean: Vec<f64>,
    non_finite: usize,
    scenes: Categories,
    folders: Categories,
}

impl Baseline {
    /// Bins with fewer than two edges, unordered edges or a label count
    /// that does not match are an error (ratios are not looked at).
    pub fn new(rows: &[SampleMeta], bins: &Bins) -> Result<Self, SelectError> {
        bins.validate_edges()?;
        // One pass over the rows: at 100,000 rows the walk over the row
        // structs costs more than the work done on each.
        let nb = bins.len();
        let n = rows.len();
        let mut bin_counts = vec![0usize; nb + 1];
        let mut bin_of_row = Vec::with_capacity(n);
        let mut sorted_mean = Vec::with_capacity(n);
        let mut scenes = Categories::default();
        let mut folders = Categories::default();
        scenes.of_row.reserve(n);
        folders.of_row.reserve(n);
        for r in rows {
            let b = bins.bin_of(bins.column.value(r)).unwrap_or(nb);
            bin_counts[b] += 1;
            bin_of_row.push(b as u16);
            if r.mean_depth.is_finite() {
                sorted_mean.push(r.mean_depth);
            }
            scenes.push(&r.scene_type);
            folders.push(&r.depth_variant);
        }
        radix_sort(&mut sorted_mean);
        Ok(Baseline {
            bins: bins.clone(),
            n,
            bin_of_row,
            bin_counts,
            non_finite: n - sorted_mean.len(),
            sorted_mean,
            scenes,
            folders,
        })
    }

    /// Compares a selection (row indices into the same `rows`) with the split.
    /// Indices out of range are ignored.
    pub fn compare(&self, rows: &[SampleMeta], selected: &[usize]) -> DistributionReport {
        let selected: Vec<usize> = selected
            .iter()
            .copied()
            .filter(|&i| i < self.n && i < rows.len())
            .collect();
        let (n, m) = (self.n, selected.len());
        let nb = self.bins.len();
        let mut sel_bins = vec![0usize; nb + 1];
        for &i in &selected {
            sel_bins[self.bin_of_row[i] as usize] += 1;
        }
        let mut bins: Vec<Share> = (0..nb)
            .map(|b| share(&self.bins.labels[b], self.bin_counts[b], n, sel_bins[b], m))
            .collect();
        if self.bin_counts[nb] > 0 || sel_bins[nb] > 0 {
            bins.push(share("outside", self.bin_counts[nb], n, sel_bins[nb], m));
        }
        let mut sel_mean: Vec<f64> = selected
            .iter()
            .map(|&i| rows[i].mean_depth)
            .filter(|v| v.is_finite())
            .collect();
        sel_mean.sort_unstable_by(f64::total_cmp);
        let (ks, wasserstein1) = match ks_and_w1(&self.sorted_mean, &sel_mean) {
            Some((k, w)) => (Some(k), Some(w)),
            None => (None, None),
        };
        let scene_types = self.scenes.shares(&selected, n, m);
        let depth_folders = self.folders.shares(&selected, n, m);
        let missing = |v: &[Share]| -> Vec<String> {
            v.iter()
                .filter(|s| s.data_count > 0 && s.selected_count == 0)
                .map(|s| s.name.clone())
                .collect()
        };
        let largest_gap = if m == 0 {
            None
        } else {
            [
                ("depth bin", &bins),
                ("scene type", &scene_types),
                ("depth folder", &depth_folders),
            ]
            .into_iter()
            .flat_map(|(kind, v)| v.iter().map(move |s| (kind, s)))
            .fold(None::<(&str, &Share)>, |best, cur| match best {
                Some(b) if b.1.gap().abs() >= cur.1.gap().abs() => Some(b),
                _ => Some(cur),
            })
            .filter(|(_, s)| s.gap().abs() > 0.0)
            .map(|(kind, s)| Gap {
                kind: kind.to_owned(),
                name: s.name.clone(),
                selected_share: s.selected_share,
                data_share: s.data_share,
                sentence: gap_sentence(kind, s),
            })
        };
        DistributionReport {
            column: self.bins.column,
            n_data: n,
            n_selected: m,
            missing_scene_types: missing(&scene_types),
            missing_depth_folders: missing(&depth_folders),
            bins,
            ks,
            wasserstein1,
            scene_types,
            depth_folders,
            largest_gap,
            non_finite: self.non_finite,
        }
    }
}

fn gap_sentence(kind: &str, s: &Share) -> String {
    let (a, b) = (s.selected_share * 100.0, s.data_share * 100.0);
    let (sa, sb) = if format!("{a:.0}") == format!("{b:.0}") {
        (format!("{a:.1}"), format!("{b:.1}"))
    } else {
        (format!("{a:.0}"), format!("{b:.0}"))
    };
    let what = if kind == "depth bin" {
        s.name.clone()
    } else {
        format!("{kind} {}", s.name)
    };
    format!("{what} is {sa}% of the set but {sb}% of the data")
}

/// Compares a selection with its split in one call (see [`Baseline`] to
/// reuse the split's side across calls).
pub fn check(
    rows: &[SampleMeta],
    selected: &[usize],
    bins: &Bins,
) -> Result<DistributionReport, SelectError> {
    Ok(Baseline::new(rows, bins)?.compare(rows, selected))
}

/// Sorts finite floats ascending with an LSD radix sort on their bits
/// (11-bit digits, passes where every key shares the digit skipped);
/// several times faster than a comparison sort at 100,000 values.
pub fn radix_sort(v: &mut [f64]) {
    if v.len() < 256 {
        v.sort_unstable_by(f64::total_cmp);
        return;
    }
    // Order-preserving map f64 -> u64: flip all bits of negatives, the sign bit of positives.
    let key = |x: f64| {
        let b = x.to_bits();
        if b >> 63 == 1 {
            !b
        } else {
            b | (1 << 63)
        }
    };
    let mut a: Vec<u64> = v.iter().map(|&x| key(x)).collect();
    let mut b = vec![0u64; a.len()];
    for pass in 0..6 {
        let shift = pass * 11;
        let mut counts = [0usize; 2048];
        for &k in &a {
            counts[((k >> shift) & 2047) as usize] += 1;
        }
        if counts.contains(&a.len()) {
            continue;
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let t = *c;
            *c = sum;
            sum += t;
        }
        for &k in &a {
            let d = ((k >> shift) & 2047) as usize;
            b[counts[d]] = k;
            counts[d] += 1;
        }
        std::mem::swap(&mut a, &mut b);
    }
    for (out, k) in v.iter_mut().zip(a) {
        let bits = if k >> 63 == 1 { k & !(1 << 63) } else { !k };
        *out = f64::from_bits(bits);
    }
}

/// KS statistic sup|Fa−Fb| and W1 = ∫|Fa−Fb| dx of two ascending samples,
/// by one merge walk over their empirical CDFs. Either empty → `None`
/// (there is nothing to compare, which is not a perfect match).
pub fn ks_and_w1(a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut ks = 0.0f64;
    let mut w1 = 0.0f64;
    let mut x = a[0].min(b[0]);
    while i < a.len() || j < b.len() {
        // Advance both past every value equal to the current x.
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        let diff = (i as f64 / na - j as f64 / nb).abs();
        ks = ks.max(diff);
        let next = match (a.get(i), b.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => break,
        };
        w1 += diff * (next - x);
        x = next;
    }
    Some((ks, w1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::tests::row;

    /// KS by brute force: ECDFs evaluated at every data point.
    fn ks_naive(a: &[f64], b: &[f64]) -> f64 {
        let ecdf =
            |s: &[f64], x: f64| s.iter().filter(|&&v| v <= x).count() as f64 / s.len() as f64;
        a.iter()
            .chain(b)
            .map(|&x| (ecdf(a, x) - ecdf(b, x)).abs())
            .fold(0.0, f64::max)
    }

    /// W1 through quantile functions: ∫₀¹ |Qa(u) − Qb(u)| du on a fine grid
    /// of u (exact for piecewise-constant quantiles at the grid's resolution).
    fn w1_quantiles(a: &[f64], b: &[f64]) -> f64 {
        let steps = a.len() * b.len() * 4;
        let q = |s: &[f64], u: f64| s[((u * s.len() as f64) as usize).min(s.len() - 1)];
        (0..steps)
            .map(|k| {
                let u = (k as f64 + 0.5) / steps as f64;
                (q(a, u) - q(b, u)).abs()
            })
            .sum::<f64>()
            / steps as f64
    }

    #[test]
    fn ks_and_w1_match_independent_formulas() {
        let a = vec![0.5, 1.0, 1.0, 2.0, 3.5, 4.0, 7.0, 9.5, 12.0, 30.0];
        let b = vec![1.0, 2.5, 4.0, 30.0];
        let (ks, w1) = ks_and_w1(&a, &b).unwrap();
        assert!((ks - ks_naive(&a, &b)).abs() < 1e-12, "{ks}");
        assert!((w1 - w1_quantiles(&a, &b)).abs() < 1e-9, "{w1}");
        assert_eq!(ks_and_w1(&a, &a), Some((0.0, 0.0)));
        assert_eq!(ks_and_w1(&a, &[]), None);
        // Shifting every value by 2 m moves W1 by exactly 2.
        let c: Vec<f64> = a.iter().map(|v| v + 2.0).collect();
        let (ks2, w2) = ks_and_w1(&a, &c).unwrap();
        assert!((w2 - 2.0).abs() < 1e-12 && ks2 > 0.0);
    }

    #[test]
    fn radix_sort_sorts() {
        let mut x: u64 = 12345;
        let mut v: Vec<f64> = (0..5000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 40) as f64 - 1000.0
            })
            .chain([0.0, -0.0, 1e-300, -1e300, 42.0, 42.0])
            .collect();
        let mut want = v.clone();
        want.sort_by(f64::total_cmp);
        radix_sort(&mut v);
        assert_eq!(v, want);
    }

    #[test]
    fn shares_coverage_and_gap_sentence() {
        // 89 mid rows, 11 very_far rows; the set has 24 mid and 1 very_far.
        let mut rows: Vec<_> = (0..89).map(|i| row("a", &i.to_string(), 5.0)).collect();
        rows.extend((0..11).map(|i| row("b", &i.to_string(), 20.0)));
        rows[0].depth_variant = "depth_maps".into();
        let sel: Vec<usize> = (1..25).chain([89]).collect();
        let r = check(&rows, &sel, &Bins::default()).unwrap();
        assert_eq!(r.n_selected, 25);
        let vf = r.bins.iter().find(|b| b.name == "very_far").unwrap();
        assert_eq!((vf.data_count, vf.selected_count), (11, 1));
        let g = r.largest_gap.as_ref().unwrap();
        assert_eq!(g.sentence, "very_far is 4% of the set but 11% of the data");
        assert_eq!(r.missing_depth_folders, vec!["depth_maps".to_string()]);
        assert_eq!(r.depth_folders[0].name, "newest_depth_maps");
        assert!(r.missing_scene_types.is_empty(), "{:?}", r.scene_types);
        assert!(r.to_text().contains("largest gap: very_far"));
    }

    #[test]
    fn outside_rows_get_their_own_line_and_empty_selection_is_no_match() {
        let rows = vec![row("a", "1", 200.0), row("a", "2", 1.0)];
        let r = check(&rows, &[], &Bins::default()).unwrap();
        assert_eq!(r.bins.last().unwrap().name, "outside");
        assert!(r.largest_gap.is_none());
        // An empty selection is not a perfect match (KS 0, W1 0): there is none.
        assert_eq!((r.ks, r.wasserstein1), (None, None));
        assert!(r.to_text().contains("no selection"), "{}", r.to_text());
        let r = check(&rows, &[0, 1, 7], &Bins::default()).unwrap();
        assert_eq!(r.n_selected, 2);
    }

    #[test]
    fn unvalidated_bins_are_errors_not_panics() {
        let rows = vec![row("a", "1", 2.0)];
        let mut b = Bins::default();
        b.edges.clear();
        assert!(Baseline::new(&rows, &b).is_err());
        let mut b = Bins::default();
        b.labels.truncate(1);
        assert!(check(&rows, &[0], &b).is_err());
        // Ratios play no part in the check.
        let b = Bins {
            ratios: vec![9.0],
            ..Bins::default()
        };
        assert!(check(&rows, &[0], &b).is_ok());
    }
}
