//! Choosing the calibration set: the strategies and the user's manual decisions.
//!
//! One call, [`run`], takes the metadata rows and a [`SelectionRequest`] and
//! returns a [`Selection`]: the chosen rows in metadata order, the plan table
//! (per bin: target, available, actual) and notes. It is pure and cheap, so
//! the GUI can call it on every click; the same request on the same rows
//! always gives the same selection (see [`rng`] for the exact draws).
//!
//! Manual decisions always win: rows whose key is in `pinned` are always in
//! the selection (they count towards their bin's target), rows in `excluded`
//! are never chosen, and the strategy fills the remaining places.
//!
//! ```
//! use calibscope::distribution::Baseline;
//! use calibscope::select::{self, Bins, SelectionRequest, Strategy};
//! # fn rows() -> Vec<calibscope::metadata::SampleMeta> { Vec::new() }
//! let rows = rows(); // metadata::read_any(path)?
//! let mut req = SelectionRequest::default(); // stratified, 300, seed 42
//! req.excluded.insert(calibscope::metadata::SampleKey {
//!     dataset_root: "synced_data/seq_01".into(),
//!     stem: "0000000042".into(),
//! });
//! let sel = select::run(&rows, &req).expect("valid bins");
//! // Once per split, then on every click:
//! let baseline = Baseline::new(&rows, &Bins::default()).expect("valid bins");
//! let report = baseline.compare(&rows, &sel.indices);
//! println!("{}{}", select::format_plan_table(&sel, &Bins::default()), report.to_text());
//! ```

mod diverse;
mod plan;
pub mod rng;
mod stratified;

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::hash::{FxHashMap, FxHashSet};
use crate::metadata::{SampleKey, SampleMeta, Stat};

pub use diverse::{feature_matrix, FEATURE_NAMES};
pub use plan::format_plan_table;

/// A numeric column of the metadata that bins can be laid on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    MeanDepth,
    MedianDepth,
    MinDepth,
    MaxDepth,
    StdDepth,
    P50,
    P90,
    P95,
    /// valid_pixels / total_pixels.
    ValidRatio,
}

impl Column {
    pub const ALL: [Column; 9] = [
        Column::MeanDepth,
        Column::MedianDepth,
        Column::MinDepth,
        Column::MaxDepth,
        Column::StdDepth,
        Column::P50,
        Column::P90,
        Column::P95,
        Column::ValidRatio,
    ];

    /// The metadata's statistic this column is.
    pub fn stat(self) -> Stat {
        match self {
            Column::MeanDepth => Stat::MeanDepth,
            Column::MedianDepth => Stat::MedianDepth,
            Column::MinDepth => Stat::MinDepth,
            Column::MaxDepth => Stat::MaxDepth,
            Column::StdDepth => Stat::StdDepth,
            Column::P50 => Stat::P50,
            Column::P90 => Stat::P90,
            Column::P95 => Stat::P95,
            Column::ValidRatio => Stat::ValidRatio,
        }
    }

    /// The metadata CSV's column name (`valid_ratio` is derived).
    pub fn name(self) -> &'static str {
        self.stat().name()
    }

    pub fn from_name(name: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn value(self, r: &SampleMeta) -> f64 {
        self.stat().value(r)
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Bins on one column: `(edges[i], edges[i+1]]`, right-closed like the
/// seed's `pd.cut(..., right=True)` — so a value equal to the first edge is
/// outside every bin, as in the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    pub column: Column,
    pub edges: Vec<f64>,
    pub labels: Vec<String>,
    /// Share of the target per bin; must sum to 1.
    pub ratios: Vec<f64>,
}

impl Default for Bins {
    /// The seed's plan: mean depth [0,3,8,15,100] m, near/mid/far/very_far,
    /// 25/40/25/10 %.
    fn default() -> Self {
        Bins {
            column: Column::MeanDepth,
            edges: vec![0.0, 3.0, 8.0, 15.0, 100.0],
            labels: ["near", "mid", "far", "very_far"]
                .map(String::from)
                .to_vec(),
            ratios: vec![0.25, 0.40, 0.25, 0.10],
        }
    }
}

impl Bins {
    pub fn len(&self) -> usize {
        self.edges.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks edges, labels and ratios agree; ratios must sum to 1 (±1e-6).
    pub fn validate(&self) -> Result<(), SelectError> {
        self.validate_edges()?;
        let bad = |reason: String| Err(SelectError::BadBins(reason));
        let n = self.len();
        if self.ratios.len() != n {
            return bad(format!(
                "{} edges make {n} bins but {} ratios were given",
                self.edges.len(),
                self.ratios.len()
            ));
        }
        if self.ratios.iter().any(|r| !r.is_finite() || *r < 0.0) {
            return bad(format!(
                "ratios must be non-negative numbers, got {:?}",
                self.ratios
            ));
        }
        let sum: f64 = self.ratios.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(SelectError::RatiosDoNotSumToOne { sum });
        }
        Ok(())
    }

    /// What the distribution check needs: at least two finite, strictly
    /// increasing edges (fewer than 65,535 bins) and one label per bin.
    /// Ratios are not looked at.
    pub fn validate_edges(&self) -> Result<(), SelectError> {
        let bad = |reason: String| Err(SelectError::BadBins(reason));
        if self.edges.len() < 2 {
            return bad(format!(
                "need at least two bin edges, got {}",
                self.edges.len()
            ));
        }
        if self.edges.iter().any(|e| !e.is_finite()) {
            return bad("bin edges must be finite numbers".into());
        }
        if self.edges.windows(2).any(|w| w[0] >= w[1]) {
            return bad(format!(
                "bin edges must increase strictly, got {:?}",
                self.edges
            ));
        }
        let n = self.len();
        if self.labels.len() != n {
            return bad(format!(
                "{} edges make {n} bins but {} labels were given",
                self.edges.len(),
                self.labels.len()
            ));
        }
        if n >= u16::MAX as usize {
            return bad(format!("{n} bins are too many; use fewer than 65,535"));
        }
        Ok(())
    }

    /// The bin of a value, or `None` outside every bin (or NaN, or when
    /// there are fewer than two edges).
    pub fn bin_of(&self, v: f64) -> Option<usize> {
        let e = &self.edges;
        if e.len() < 2 || !(v > e[0] && v <= e[e.len() - 1]) {
            return None;
        }
        // First edge >= v closes the bin on the right.
        let i = e.partition_point(|&x| x < v);
        Some(i - 1)
    }

    /// `near (0-3 m)`-style name of bin `i`.
    pub fn describe(&self, i: usize) -> String {
        format!(
            "{} ({}-{})",
            self.labels[i],
            short(self.edges[i]),
            short(self.edges[i + 1])
        )
    }
}

fn short(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// How the remaining places are filled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Strategy {
    /// The seed's depth-stratified sampling, with its defects fixed: a bin's
    /// shortfall is refilled from bins with spare samples in proportion to
    /// their ratios, and rows outside every bin are reported.
    Stratified(Bins),
    /// Uniform random sample of the whole split (the users' "100 random").
    Random,
    /// Greedy k-center (farthest point) over normalised per-sample features,
    /// so rare scenes are covered; see [`FEATURE_NAMES`].
    Diverse,
}

impl Strategy {
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Stratified(_) => "stratified",
            Strategy::Random => "random",
            Strategy::Diverse => "diverse",
        }
    }
}

/// Everything a selection depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectionRequest {
    pub strategy: Strategy,
    /// Size of the calibration set (pinned samples included).
    pub target: usize,
    pub seed: u64,
    /// Always in the selection.
    #[serde(default)]
    pub pinned: BTreeSet<SampleKey>,
    /// Never in the selection.
    #[serde(default)]
    pub excluded: BTreeSet<SampleKey>,
}

impl Default for SelectionRequest {
    /// The seed's defaults: stratified, 300 samples, seed 42.
    fn default() -> Self {
        SelectionRequest {
            strategy: Strategy::Stratified(Bins::default()),
            target: 300,
            seed: 42,
            pinned: BTreeSet::new(),
            excluded: BTreeSet::new(),
        }
    }
}

/// Why a row is in the selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Pinned,
    /// Drawn by the strategy (first pass).
    Drawn,
    /// Drawn to make up another bin's shortfall.
    Refill,
}

/// One line of the stratified plan table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRow {
    pub label: String,
    pub lower: f64,
    pub upper: f64,
    pub ratio: f64,
    /// `int(target * ratio)`, as the seed computes it.
    pub target: usize,
    /// Rows in the bin that may be chosen (excluded ones not counted).
    pub available: usize,
    pub pinned: usize,
    pub excluded: usize,
    /// Pinned plus first-pass draws: the seed's "actual" column.
    pub first_pass: usize,
    /// Extra rows drawn here to make up other bins' shortfall.
    pub refilled: usize,
    /// Rows of this bin in the final selection.
    pub actual: usize,
}

/// The outcome of [`run`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Selection {
    /// Chosen row indices, ascending (metadata order).
    pub indices: Vec<usize>,
    /// Why each chosen row is there (parallel to `indices`).
    pub origins: Vec<Origin>,
    /// The requested size.
    pub target: usize,
    /// Per-bin plan (stratified only; empty otherwise).
    pub plan: Vec<PlanRow>,
    /// Rows whose column value lies outside every bin (stratified only).
    pub outside: Vec<usize>,
    /// Pinned keys that match no row.
    pub pinned_missing: Vec<SampleKey>,
    /// Excluded keys that match no row (a mistyped exclusion).
    #[serde(default)]
    pub excluded_missing: Vec<SampleKey>,
    /// Plain-words remarks: shortfalls, refills, rows outside the bins.
    pub notes: Vec<String>,
}

impl Selection {
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The chosen samples' keys, in selection order.
    pub fn keys(&self, rows: &[SampleMeta]) -> Vec<SampleKey> {
        self.indices.iter().map(|&i| rows[i].key()).collect()
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectError {
    #[error("bad bins: {0}")]
    BadBins(String),
    #[error("the bin ratios sum to {sum}, not 1; adjust them (e.g. 0.25,0.40,0.25,0.10)")]
    RatiosDoNotSumToOne { sum: f64 },
    #[error("{0} is both pinned and excluded; remove it from one of the two lists")]
    PinnedAndExcluded(SampleKey),
    #[error("the target is 0 and nothing is pinned, so the selection would be empty; ask for at least 1 sample")]
    EmptyTarget,
}

/// Rows sorted into what the user decided: pinned, excluded, free.
pub(crate) struct Eligibility {
    /// Per row: the user pinned it.
    pub pinned: Vec<bool>,
    /// Per row: may be drawn by a strategy (not pinned, not excluded, first
    /// row with its key).
    pub free: Vec<bool>,
    pub excluded: Vec<bool>,
}

/// A dataset_root as an identity (the dataset's rule, re-exported for
/// callers of `select`).
pub use crate::dataset::root_id;

fn eligibility(
    rows: &[SampleMeta],
    req: &SelectionRequest,
    sel: &mut Selection,
) -> Result<Eligibility, SelectError> {
    if let Some(k) = req.pinned.intersection(&req.excluded).next() {
        return Err(SelectError::PinnedAndExcluded(k.clone()));
    }
    // One 64-bit hash per row; duplicates are found by sorting the hashes
    // (confirmed on the strings), pins and exclusions by hash lookups —
    // several times faster at 100,000 rows than a map of string pairs.
    fn key_hash(root: &str, stem: &str) -> u64 {
        use std::hash::Hasher;
        let mut h = crate::hash::FxHasher::default();
        h.write(root_id(root).as_bytes());
        h.write_u8(0xff);
        h.write(stem.as_bytes());
        h.finish()
    }
    let n = rows.len();
    let hashes: Vec<u64> = rows
        .iter()
        .map(|r| key_hash(&r.dataset_root, &r.filename))
        .collect();
    let mut order: Vec<(u64, u32)> = hashes
        .iter()
        .enumerate()
        .map(|(i, &h)| (h, i as u32))
        .collect();
    order.sort_unstable();
    let same = |a: usize, b: usize| {
        rows[a].filename == rows[b].filename
            && root_id(&rows[a].dataset_root) == root_id(&rows[b].dataset_root)
    };
    let mut duplicate = vec![false; n];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && order[end].0 == order[start].0 {
            end += 1;
        }
        // Within a run indices ascend: a later row equal to an earlier one is the duplicate.
        for x in start..end {
            let a = order[x].1 as usize;
            if duplicate[a] {
                continue;
            }
            for &(_, b) in &order[x + 1..end] {
                let b = b as usize;
                if !duplicate[b] && same(a, b) {
                    duplicate[b] = true;
                }
            }
        }
        start = end;
    }
    type Lookup<'a> = FxHashMap<u64, Vec<(&'a str, &'a str)>>;
    fn lookup(set: &BTreeSet<SampleKey>) -> Lookup<'_> {
        let mut m: Lookup<'_> = FxHashMap::default();
        for k in set {
            m.entry(key_hash(&k.dataset_root, &k.stem))
                .or_default()
                .push((root_id(&k.dataset_root), k.stem.as_str()));
        }
        m
    }
    let pinned_set = lookup(&req.pinned);
    let excluded_set = lookup(&req.excluded);
    let hit = |set: &Lookup<'_>, i: usize| {
        !set.is_empty()
            && set.get(&hashes[i]).is_some_and(|v| {
                v.iter()
                    .any(|&(r, s)| r == root_id(&rows[i].dataset_root) && s == rows[i].filename)
            })
    };
    let mut pinned = vec![false; n];
    let mut excluded = vec![false; n];
    let mut pinned_found: FxHashSet<(&str, &str)> = FxHashSet::default();
    let mut excluded_found: FxHashSet<(&str, &str)> = FxHashSet::default();
    let mut duplicates = 0usize;
    for i in 0..n {
        if duplicate[i] {
            duplicates += 1;
            continue;
        }
        let id = (root_id(&rows[i].dataset_root), rows[i].filename.as_str());
        if hit(&pinned_set, i) {
            pinned[i] = true;
            pinned_found.insert(id);
        }
        if hit(&excluded_set, i) {
            excluded[i] = true;
            excluded_found.insert(id);
        }
    }
    // Keys with no exact row: a split written by the seed's script lost the
    // stems' zero padding (`"new_filename": 18`); resolve them by the
    // dataset's key rule, as copy and export do.
    let unmatched =
        |set: &BTreeSet<SampleKey>, found: &FxHashSet<(&str, &str)>| -> Vec<SampleKey> {
            set.iter()
                .filter(|k| !found.contains(&(root_id(&k.dataset_root), k.stem.as_str())))
                .cloned()
                .collect()
        };
    let resolve = |keys: Vec<SampleKey>, mark: &mut Vec<bool>| -> Vec<SampleKey> {
        if keys.is_empty() {
            return keys;
        }
        let index = crate::dataset::KeyIndex::new(
            rows.iter()
                .map(|r| (r.dataset_root.as_str(), r.filename.as_str())),
        );
        let mut missing = Vec::new();
        for k in &keys {
            match index.find(&k.dataset_root, &k.stem) {
                Some(i) if !duplicate[i] => mark[i] = true,
                _ => missing.push(k.clone()),
            }
        }
        missing
    };
    let pin_rest = unmatched(&req.pinned, &pinned_found);
    let exc_rest = unmatched(&req.excluded, &excluded_found);
    sel.pinned_missing = resolve(pin_rest, &mut pinned);
    sel.excluded_missing = resolve(exc_rest, &mut excluded);
    if let Some(i) = (0..n).find(|&i| pinned[i] && excluded[i]) {
        return Err(SelectError::PinnedAndExcluded(rows[i].key()));
    }
    let free: Vec<bool> = (0..n)
        .map(|i| !duplicate[i] && !pinned[i] && !excluded[i])
        .collect();
    if duplicates > 0 {
        sel.notes.push(format!(
            "{duplicates} row(s) repeat a (dataset_root, stem) already listed; only the first of each is used"
        ));
    }
    if !sel.pinned_missing.is_empty() {
        sel.notes.push(format!(
            "{} pinned sample(s) are not in the metadata and were ignored (first: {})",
            sel.pinned_missing.len(),
            sel.pinned_missing[0]
        ));
    }
    if !sel.excluded_missing.is_empty() {
        sel.notes.push(format!(
            "{} excluded sample(s) are not in the metadata, so they exclude nothing; check their spelling (first: {})",
            sel.excluded_missing.len(),
            sel.excluded_missing[0]
        ));
    }
    Ok(Eligibility {
        pinned,
        free,
        excluded,
    })
}

/// Chooses the calibration set. Deterministic for a given `rows` and `req`.
pub fn run(rows: &[SampleMeta], req: &SelectionRequest) -> Result<Selection, SelectError> {
    if let Strategy::Stratified(bins) = &req.strategy {
        bins.validate()?;
    }
    if req.target == 0 && req.pinned.is_empty() {
        return Err(SelectError::EmptyTarget);
    }
    let mut sel = Selection {
        target: req.target,
        ..Selection::default()
    };
    let el = eligibility(rows, req, &mut sel)?;
    let n_pinned = el.pinned.iter().filter(|&&p| p).count();
    if n_pinned > req.target {
        sel.notes.push(format!(
            "{n_pinned} samples are pinned, more than the target {}; all pinned samples are kept and nothing else is drawn",
            req.target
        ));
    }
    let mut picks: Vec<(usize, Origin)> = (0..rows.len())
        .filter(|&i| el.pinned[i])
        .map(|i| (i, Origin::Pinned))
        .collect();
    match &req.strategy {
        Strategy::Stratified(bins) => {
            stratified::fill(rows, req, bins, &el, &mut picks, &mut sel);
        }
        Strategy::Random => {
            let pool: Vec<usize> = (0..rows.len()).filter(|&i| el.free[i]).collect();
            let need = req.target.saturating_sub(picks.len());
            let mut shuffle = rng::LazyShuffle::new(pool, rng::stream(req.seed, 0));
            picks.extend(shuffle.take(need).into_iter().map(|i| (i, Origin::Drawn)));
        }
        Strategy::Diverse => {
            if !rows.is_empty() && !diverse::has_depth_hist(rows) {
                sel.notes.push(
                    "the metadata has no depth histograms (the seed-format CSV never has them), so diverse used the depth statistics and valid ratio only; scan with --json and select on that metadata to include them".into(),
                );
            }
            let bad = diverse::non_finite_rows(rows);
            if bad > 0 {
                sel.notes.push(format!(
                    "{bad} row(s) have depth statistics that are not finite numbers; diverse treats those values as the split's mean"
                ));
            }
            let need = req.target.saturating_sub(picks.len());
            let chosen = diverse::k_center(rows, &el, need, req.seed);
            picks.extend(chosen.into_iter().map(|i| (i, Origin::Drawn)));
        }
    }
    if picks.len() < req.target {
        sel.notes.push(format!(
            "only {} of the {} requested samples could be chosen",
            picks.len(),
            req.target
        ));
    }
    picks.sort_unstable_by_key(|p| p.0);
    sel.indices = picks.iter().map(|p| p.0).collect();
    sel.origins = picks.iter().map(|p| p.1).collect();
    Ok(sel)
}

/// Parses `dataset_root/stem` (split at the last `/`) into a key.
pub fn parse_key(s: &str) -> Option<SampleKey> {
    let (root, stem) = s.rsplit_once('/')?;
    if stem.is_empty() {
        return None;
    }
    Some(SampleKey {
        dataset_root: root.to_owned(),
        stem: stem.to_owned(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::metadata::scene_type;

    pub fn row(root: &str, stem: &str, mean: f64) -> SampleMeta {
        SampleMeta {
            dataset_root: root.into(),
            filename: stem.into(),
            image_path: format!("{root}/image_a6/{stem}.png"),
            depth_path: format!("{root}/newest_depth_maps/{stem}.png"),
            depth_variant: "newest_depth_maps".into(),
            mean_depth: mean,
            median_depth: mean * 0.9,
            min_depth: 0.5,
            max_depth: mean * 3.0,
            std_depth: mean * 0.3,
            p50: mean * 0.9,
            p90: mean * 2.0,
            p95: mean * 2.5,
            width: 640,
            height: 384,
            scene_type: scene_type(mean, 5.0, 15.0).into(),
            valid_pixels: 100,
            total_pixels: 245760,
            depth_hist: vec![],
        }
    }

    #[test]
    fn bins_are_right_closed_like_pandas_cut() {
        let b = Bins::default();
        assert_eq!(b.bin_of(0.0), None);
        assert_eq!(b.bin_of(0.001), Some(0));
        assert_eq!(b.bin_of(3.0), Some(0));
        assert_eq!(b.bin_of(3.0001), Some(1));
        assert_eq!(b.bin_of(100.0), Some(3));
        assert_eq!(b.bin_of(100.5), None);
        assert_eq!(b.bin_of(f64::NAN), None);
    }

    #[test]
    fn bad_bins_are_named() {
        let b = Bins {
            ratios: vec![0.25, 0.40, 0.25, 0.20],
            ..Bins::default()
        };
        let e = b.validate().unwrap_err();
        assert!(matches!(e, SelectError::RatiosDoNotSumToOne { .. }), "{e}");
        assert!(e.to_string().contains("1.1"), "{e}");
        let b = Bins {
            edges: vec![0.0, 3.0, 3.0, 15.0, 100.0],
            ..Bins::default()
        };
        assert!(b.validate().unwrap_err().to_string().contains("strictly"));
        let mut b = Bins::default();
        b.labels.pop();
        assert!(b.validate().unwrap_err().to_string().contains("labels"));
    }

    #[test]
    fn random_respects_pins_and_exclusions() {
        let rows: Vec<_> = (0..100)
            .map(|i| row("seq", &format!("{i:010}"), 1.0 + i as f64 * 0.1))
            .collect();
        let pinned: BTreeSet<_> = [rows[5].key()].into();
        let excluded: BTreeSet<_> = rows[..50].iter().skip(6).map(|r| r.key()).collect();
        let req = SelectionRequest {
            strategy: Strategy::Random,
            target: 40,
            seed: 3,
            pinned,
            excluded: excluded.clone(),
        };
        let sel = run(&rows, &req).unwrap();
        assert_eq!(sel.len(), 40);
        assert!(sel.indices.contains(&5));
        assert!(sel.indices.windows(2).all(|w| w[0] < w[1]));
        for &i in &sel.indices {
            assert!(!excluded.contains(&rows[i].key()));
        }
        assert_eq!(run(&rows, &req).unwrap(), sel);
    }

    #[test]
    fn pinned_and_excluded_conflict_is_an_error() {
        let rows = vec![row("a", "1", 1.0)];
        let k: BTreeSet<_> = [rows[0].key()].into();
        let req = SelectionRequest {
            pinned: k.clone(),
            excluded: k,
            ..SelectionRequest::default()
        };
        assert!(matches!(
            run(&rows, &req),
            Err(SelectError::PinnedAndExcluded(_))
        ));
    }

    #[test]
    fn duplicate_keys_are_used_once() {
        let rows = vec![
            row("a", "1", 1.0),
            row("b", "1", 1.0),
            row("a", "1", 2.0),
            row("a", "2", 2.0),
            row("a", "1", 3.0),
        ];
        let pinned: BTreeSet<_> = [rows[1].key(), parse_key("zz/9").unwrap()].into();
        let req = SelectionRequest {
            strategy: Strategy::Random,
            target: 10,
            pinned,
            ..SelectionRequest::default()
        };
        let sel = run(&rows, &req).unwrap();
        assert_eq!(sel.indices, [0, 1, 3]);
        assert_eq!(sel.origins[1], Origin::Pinned);
        assert_eq!(sel.pinned_missing, [parse_key("zz/9").unwrap()]);
        assert!(
            sel.notes.iter().any(|n| n.starts_with("2 row(s) repeat")),
            "{:?}",
            sel.notes
        );
    }

    fn key(r: &str, s: &str) -> SampleKey {
        SampleKey {
            dataset_root: r.into(),
            stem: s.into(),
        }
    }

    #[test]
    fn unpadded_pins_and_exclusions_resolve_and_misses_are_reported() {
        // The seed's split files write stems as integers: "new_filename": 18.
        let rows: Vec<_> = (0..30)
            .map(|i| row("synced_data/seq_01", &format!("{i:010}"), 1.0 + i as f64))
            .collect();
        let req = SelectionRequest {
            strategy: Strategy::Random,
            target: 29,
            seed: 1,
            pinned: [key("synced_data/seq_01", "3")].into(),
            excluded: [
                key("synced_data/seq_01", "18"),
                key("synced_data/seq_01/", "0000000019"),
                key("synced_data/seq_9", "18"),
            ]
            .into(),
        };
        let sel = run(&rows, &req).unwrap();
        assert!(sel.indices.contains(&3));
        assert_eq!(
            sel.origins[sel.indices.iter().position(|&i| i == 3).unwrap()],
            Origin::Pinned
        );
        assert!(
            !sel.indices.contains(&18) && !sel.indices.contains(&19),
            "{:?}",
            sel.indices
        );
        assert_eq!(sel.len(), 28);
        assert!(sel.pinned_missing.is_empty());
        assert_eq!(sel.excluded_missing, [key("synced_data/seq_9", "18")]);
        assert!(
            sel.notes
                .iter()
                .any(|n| n.contains("1 excluded sample(s) are not in the metadata")),
            "{:?}",
            sel.notes
        );
        // The same row pinned (unpadded) and excluded (padded) is a conflict.
        let req = SelectionRequest {
            pinned: [key("synced_data/seq_01", "5")].into(),
            excluded: [key("synced_data/seq_01", "0000000005")].into(),
            ..req
        };
        assert!(matches!(
            run(&rows, &req),
            Err(SelectError::PinnedAndExcluded(_))
        ));
    }

    #[test]
    fn trailing_slash_names_the_same_sample() {
        let rows = vec![row("seq_02", "1", 1.0), row("seq_02/", "1", 1.0)];
        let req = SelectionRequest {
            strategy: Strategy::Random,
            target: 5,
            ..SelectionRequest::default()
        };
        let sel = run(&rows, &req).unwrap();
        assert_eq!(sel.indices, [0]);
        assert!(sel.notes.iter().any(|n| n.starts_with("1 row(s) repeat")));
    }

    #[test]
    fn zero_target_with_no_pins_is_refused() {
        let rows = vec![row("a", "1", 1.0)];
        let req = SelectionRequest {
            target: 0,
            ..SelectionRequest::default()
        };
        assert_eq!(run(&rows, &req), Err(SelectError::EmptyTarget));
        let req = SelectionRequest {
            pinned: [rows[0].key()].into(),
            ..req
        };
        assert_eq!(run(&rows, &req).unwrap().indices, [0]);
    }

    #[test]
    fn bins_with_too_few_edges_are_errors_not_panics() {
        let b = Bins {
            edges: vec![],
            labels: vec![],
            ratios: vec![],
            column: Column::MeanDepth,
        };
        assert!(b.validate_edges().is_err());
        assert_eq!(b.bin_of(1.0), None);
    }

    #[test]
    fn parse_key_splits_at_last_slash() {
        let k = parse_key("/abs/synced_data/seq/0000000001").unwrap();
        assert_eq!(k.dataset_root, "/abs/synced_data/seq");
        assert_eq!(k.stem, "0000000001");
        assert!(parse_key("nostem").is_none());
    }
}
