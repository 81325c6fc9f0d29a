//! The numbers behind the app's Distribution view and the report figures,
//! computed from rows (the current view against the calibration set within
//! it). The app recomputes them only when the set or the filter changes and
//! draws them in `gui/plots.rs`; the report draws them in `figures.rs`.

use std::collections::BTreeMap;

use crate::metadata::SampleMeta;
use crate::select::Bins;

/// Whether a row is in the calibration set: the app's per-row flags, or a
/// plain `bool` per row.
pub trait InSet {
    fn in_set(&self) -> bool;
}

impl InSet for bool {
    fn in_set(&self) -> bool {
        *self
    }
}

/// One histogram over fixed edges: counts for the view and for the set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// `edges.len() == counts.len() + 1`.
    pub edges: Vec<f64>,
    pub full: Vec<u64>,
    pub set: Vec<u64>,
}

impl Histogram {
    pub fn new(edges: Vec<f64>) -> Self {
        let n = edges.len().saturating_sub(1);
        Self {
            edges,
            full: vec![0; n],
            set: vec![0; n],
        }
    }

    /// Bin of a value; values past the last edge land in the last bin, below the first in the first.
    pub fn bin(&self, v: f64) -> usize {
        let n = self.full.len();
        match self.edges[1..].iter().position(|&e| v < e) {
            Some(i) => i,
            None => n - 1,
        }
    }

    pub fn add(&mut self, v: f64, in_set: bool) {
        if self.full.is_empty() || !v.is_finite() {
            return;
        }
        let b = self.bin(v);
        self.full[b] += 1;
        if in_set {
            self.set[b] += 1;
        }
    }
}

/// Five-number summary for a box plot (whiskers at 1.5 IQR, clipped to the data).
#[derive(Debug, Clone, PartialEq)]
pub struct BoxStats {
    pub label: String,
    pub n: usize,
    pub lower: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub upper: f64,
}

/// Counts per category for the view and for the set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Categories {
    pub names: Vec<String>,
    pub full: Vec<u64>,
    pub set: Vec<u64>,
}

impl Categories {
    fn from_map(m: BTreeMap<&str, (u64, u64)>) -> Self {
        let mut c = Categories::default();
        for (k, (f, s)) in m {
            c.names.push(k.to_owned());
            c.full.push(f);
            c.set.push(s);
        }
        c
    }
}

/// Everything the Distribution view plots.
#[derive(Debug, Clone, Default)]
pub struct Charts {
    pub n_full: usize,
    pub n_set: usize,
    pub mean_hist: Histogram,
    pub valid_hist: Histogram,
    /// (mean depth, cumulative share) steps, at most ~512 points each.
    pub cdf_full: Vec<[f64; 2]>,
    pub cdf_set: Vec<[f64; 2]>,
    /// Overall first, then one per scene type; for the view and the set.
    pub boxes_full: Vec<BoxStats>,
    pub boxes_set: Vec<BoxStats>,
    pub ranges: Categories,
    pub scenes: Categories,
    pub folders: Categories,
    /// (mean, median) points; the view's thinned to at most 4,000 points.
    pub scatter_full: Vec<[f64; 2]>,
    pub scatter_set: Vec<[f64; 2]>,
}

const MAX_SCATTER: usize = 4000;
const MAX_CDF: usize = 512;

/// Percentile with numpy's default linear interpolation; `sorted` must be sorted.
/// NaN when there is nothing to take a percentile of.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    crate::depth::percentile_sorted(sorted, q)
}

pub fn box_stats(label: &str, mut v: Vec<f64>) -> Option<BoxStats> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let q1 = percentile(&v, 25.0);
    let q3 = percentile(&v, 75.0);
    let iqr = q3 - q1;
    let lo_fence = q1 - 1.5 * iqr;
    let hi_fence = q3 + 1.5 * iqr;
    let lower = v.iter().copied().find(|&x| x >= lo_fence).unwrap_or(v[0]);
    let upper = v
        .iter()
        .rev()
        .copied()
        .find(|&x| x <= hi_fence)
        .unwrap_or(v[v.len() - 1]);
    Some(BoxStats {
        label: label.to_owned(),
        n: v.len(),
        lower,
        q1,
        median: percentile(&v, 50.0),
        q3,
        upper,
    })
}

fn cdf(mut v: Vec<f64>) -> Vec<[f64; 2]> {
    if v.is_empty() {
        return Vec::new();
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let step = n.div_ceil(MAX_CDF).max(1);
    let mut out: Vec<[f64; 2]> = (0..n)
        .step_by(step)
        .map(|i| [v[i], (i + 1) as f64 / n as f64])
        .collect();
    if out.last().map(|p| p[1]) != Some(1.0) {
        out.push([v[n - 1], 1.0]);
    }
    out
}

/// Edges for the mean-depth histogram: whole metres (or wider steps) from 0
/// past the largest mean, at most 40 bins.
pub fn mean_depth_edges(rows: &[SampleMeta]) -> Vec<f64> {
    let max = rows
        .iter()
        .map(|r| r.mean_depth)
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let span = max.ceil().max(1.0);
    let width = (span / 40.0).ceil().max(0.5);
    let n = (span / width).ceil() as usize;
    (0..=n.max(1)).map(|i| i as f64 * width).collect()
}

/// Edges of the valid-pixel-ratio histogram: 20 bins over the range the
/// view's samples span (rounded outward to 0.01), so a LiDAR dataset at 5–10 %
/// is not one spike on a 0–1 axis; 0–1 when all samples share one value.
pub fn valid_ratio_edges(rows: &[SampleMeta], view: &[usize]) -> Vec<f64> {
    let (lo, hi) = view
        .iter()
        .map(|&i| rows[i].valid_ratio())
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    // NaN-safe: no finite value leaves lo = +inf, hi = -inf.
    if hi - lo <= 1e-9 || !lo.is_finite() || !hi.is_finite() {
        return (0..=20).map(|i| i as f64 / 20.0).collect();
    }
    let lo = (lo * 100.0).floor() / 100.0;
    let hi = ((hi * 100.0).ceil() / 100.0).max(lo + 0.01);
    (0..=20).map(|i| lo + (hi - lo) * i as f64 / 20.0).collect()
}

impl Charts {
    /// Computes every chart over `view` (row indices), splitting by set membership.
    pub fn compute(
        rows: &[SampleMeta],
        flags: &[impl InSet],
        view: &[usize],
        bins: &Bins,
        mean_edges: Vec<f64>,
    ) -> Self {
        let mut c = Charts {
            mean_hist: Histogram::new(mean_edges),
            valid_hist: Histogram::new(valid_ratio_edges(rows, view)),
            ..Default::default()
        };
        let mut means_full = Vec::with_capacity(view.len());
        let mut means_set = Vec::new();
        let mut by_scene_full: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut by_scene_set: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut range_counts: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
        let mut scenes: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        let mut folders: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        let thin = view.len().div_ceil(MAX_SCATTER).max(1);
        for (k, &i) in view.iter().enumerate() {
            let r = &rows[i];
            let s = flags[i].in_set();
            c.n_full += 1;
            c.mean_hist.add(r.mean_depth, s);
            c.valid_hist.add(r.valid_ratio(), s);
            means_full.push(r.mean_depth);
            by_scene_full
                .entry(&r.scene_type)
                .or_default()
                .push(r.mean_depth);
            let ri = bins.bin_of(bins.column.value(r)).unwrap_or(bins.len());
            let e = range_counts.entry(ri).or_default();
            e.0 += 1;
            let sc = scenes.entry(&r.scene_type).or_default();
            sc.0 += 1;
            let fo = folders.entry(&r.depth_variant).or_default();
            fo.0 += 1;
            if k % thin == 0 {
                c.scatter_full.push([r.mean_depth, r.median_depth]);
            }
            if s {
                c.n_set += 1;
                means_set.push(r.mean_depth);
                by_scene_set
                    .entry(&r.scene_type)
                    .or_default()
                    .push(r.mean_depth);
                e.1 += 1;
                sc.1 += 1;
                fo.1 += 1;
                c.scatter_set.push([r.mean_depth, r.median_depth]);
            }
        }
        c.boxes_full.extend(box_stats("all", means_full.clone()));
        c.boxes_set.extend(box_stats("all", means_set.clone()));
        for (scene, v) in by_scene_full {
            c.boxes_full.extend(box_stats(scene, v));
            if let Some(b) = by_scene_set.remove(scene).and_then(|v| box_stats(scene, v)) {
                c.boxes_set.push(b);
            }
        }
        c.cdf_full = cdf(means_full);
        c.cdf_set = cdf(means_set);
        for b in 0..=bins.len() {
            let (f, s) = range_counts.get(&b).copied().unwrap_or_default();
            if b < bins.len() || f > 0 {
                c.ranges.names.push(if b < bins.len() {
                    bins.describe(b)
                } else {
                    "outside bins".to_owned()
                });
                c.ranges.full.push(f);
                c.ranges.set.push(s);
            }
        }
        c.scenes = Categories::from_map(scenes);
        c.folders = Categories::from_map(folders);
        c
    }
}

impl Charts {
    /// Recomputes only the set's side (the view's side is unchanged): what a
    /// toggle costs. One pass over the view without sorting it.
    pub fn update_set(
        &mut self,
        rows: &[SampleMeta],
        flags: &[impl InSet],
        view: &[usize],
        bins: &Bins,
    ) {
        for v in [
            &mut self.mean_hist.set,
            &mut self.valid_hist.set,
            &mut self.ranges.set,
            &mut self.scenes.set,
            &mut self.folders.set,
        ] {
            v.iter_mut().for_each(|x| *x = 0);
        }
        self.n_set = 0;
        self.scatter_set.clear();
        let mut means_set = Vec::new();
        let mut by_scene_set: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let outside = self.ranges.names.iter().position(|n| n == "outside bins");
        for &i in view {
            if !flags[i].in_set() {
                continue;
            }
            let r = &rows[i];
            self.n_set += 1;
            if r.mean_depth.is_finite() && !self.mean_hist.set.is_empty() {
                let b = self.mean_hist.bin(r.mean_depth);
                self.mean_hist.set[b] += 1;
            }
            let vr = r.valid_ratio();
            if vr.is_finite() && !self.valid_hist.set.is_empty() {
                let b = self.valid_hist.bin(vr);
                self.valid_hist.set[b] += 1;
            }
            match bins.bin_of(bins.column.value(r)) {
                Some(b) if b < self.ranges.set.len() => self.ranges.set[b] += 1,
                _ => {
                    if let Some(o) = outside {
                        self.ranges.set[o] += 1;
                    }
                }
            }
            if let Some(k) = self.scenes.names.iter().position(|n| *n == r.scene_type) {
                self.scenes.set[k] += 1;
            }
            if let Some(k) = self
                .folders
                .names
                .iter()
                .position(|n| *n == r.depth_variant)
            {
                self.folders.set[k] += 1;
            }
            self.scatter_set.push([r.mean_depth, r.median_depth]);
            means_set.push(r.mean_depth);
            by_scene_set
                .entry(&r.scene_type)
                .or_default()
                .push(r.mean_depth);
        }
        self.boxes_set.clear();
        self.boxes_set.extend(box_stats("all", means_set.clone()));
        for b in &self.boxes_full[1.min(self.boxes_full.len())..] {
            if let Some(x) = by_scene_set
                .remove(b.label.as_str())
                .and_then(|v| box_stats(&b.label, v))
            {
                self.boxes_set.push(x);
            }
        }
        self.cdf_set = cdf(means_set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy_linear() {
        // numpy.percentile([1,2,3,4], [25,50,90]) == [1.75, 2.5, 3.7]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile(&v, 25.0) - 1.75).abs() < 1e-12);
        assert!((percentile(&v, 50.0) - 2.5).abs() < 1e-12);
        assert!((percentile(&v, 90.0) - 3.7).abs() < 1e-12);
    }

    #[test]
    fn counts_split_by_membership() {
        let mk = |mean: f64, scene: &str| SampleMeta {
            scene_type: scene.into(),
            valid_pixels: 1,
            total_pixels: 2,
            ..crate::metadata::tests::row("r", &format!("{mean}"), mean)
        };
        let rows = vec![
            mk(1.0, "indoor"),
            mk(4.0, "indoor"),
            mk(9.0, "outdoor_near"),
            mk(120.0, "outdoor_far"),
        ];
        let mut flags = vec![false; 4];
        flags[1] = true;
        flags[3] = true;
        let view: Vec<usize> = (0..4).collect();
        let edges = mean_depth_edges(&rows);
        let c = Charts::compute(&rows, &flags, &view, &Bins::default(), edges);
        assert_eq!((c.n_full, c.n_set), (4, 2));
        assert_eq!(c.mean_hist.full.iter().sum::<u64>(), 4);
        assert_eq!(c.mean_hist.set.iter().sum::<u64>(), 2);
        // near, mid, far, very_far, outside bins (120 m)
        assert_eq!(c.ranges.full, vec![1, 1, 1, 0, 1]);
        assert_eq!(c.ranges.set, vec![0, 1, 0, 0, 1]);
        assert_eq!(
            c.scenes.names,
            vec!["indoor", "outdoor_far", "outdoor_near"]
        );
        assert_eq!(c.scenes.set, vec![1, 1, 0]);
        assert_eq!(c.cdf_full.last().unwrap()[1], 1.0);
        assert_eq!(c.boxes_full[0].n, 4);
        assert_eq!(c.valid_hist.full[10], 4);

        // A toggle recomputes only the set's side, with the same result as a full pass.
        flags[0] = true;
        flags[3] = false;
        let mut quick = c.clone();
        quick.update_set(&rows, &flags, &view, &Bins::default());
        let full = Charts::compute(
            &rows,
            &flags,
            &view,
            &Bins::default(),
            mean_depth_edges(&rows),
        );
        assert_eq!(quick.mean_hist, full.mean_hist);
        assert_eq!(quick.ranges, full.ranges);
        assert_eq!(quick.scenes, full.scenes);
        assert_eq!(quick.cdf_set, full.cdf_set);
        assert_eq!(quick.boxes_set, full.boxes_set);
        assert_eq!(quick.scatter_set, full.scatter_set);
        assert_eq!(quick.n_set, 2);
    }
}
