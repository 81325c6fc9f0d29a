//! `calibration_statistics.json` with the seed's keys (from
//! `analyze_calibration_dataset.py`), computed on the selected rows
//! themselves — matched by (dataset_root, stem), never by stem alone, so a
//! stem repeated across sequences is counted once.
//!
//! As in the seed: `mean`, `std` (sample, ddof 1) and the percentiles are of
//! `mean_depth`; `median` is the median of `median_depth`; `min`/`max` are of
//! `min_depth`/`max_depth`; percentiles use linear interpolation (numpy's
//! default). Counts are most frequent first. A value that cannot be computed
//! (no rows, or std of one row) is written as `null` where the seed wrote `NaN`.

use std::path::Path;

use serde::Serialize;

use super::pyjson::PyJson;
use super::ExportError;
use crate::fsutil;
use crate::metadata::SampleMeta;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepthStatistics {
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub p25: Option<f64>,
    pub p50: Option<f64>,
    pub p75: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationStatistics {
    pub total_samples: usize,
    pub depth_statistics: DepthStatistics,
    pub scene_type_distribution: Vec<(String, usize)>,
    pub depth_variant_distribution: Vec<(String, usize)>,
}

/// numpy's `percentile(..., method="linear")` of an ascending slice; `None`
/// for no values (the formula lives in `depth`).
pub fn percentile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| crate::depth::percentile_sorted(sorted, q))
}

fn counts<'a>(values: impl Iterator<Item = &'a str>) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = Vec::new();
    for x in values {
        match v.iter_mut().find(|(k, _)| k == x) {
            Some(e) => e.1 += 1,
            None => v.push((x.to_owned(), 1)),
        }
    }
    // Stable: ties keep their order of first appearance.
    v.sort_by_key(|e| std::cmp::Reverse(e.1));
    v
}

/// Statistics of the selected rows (indices into `rows`); a row listed
/// more than once counts once.
pub fn calibration_statistics(rows: &[SampleMeta], selected: &[usize]) -> CalibrationStatistics {
    let mut seen = vec![false; rows.len()];
    let sel: Vec<&SampleMeta> = selected
        .iter()
        .filter(|&&i| i < rows.len() && !std::mem::replace(&mut seen[i], true))
        .map(|&i| &rows[i])
        .collect();
    let finite = |f: fn(&SampleMeta) -> f64| -> Vec<f64> {
        let mut v: Vec<f64> = sel.iter().map(|r| f(r)).filter(|x| x.is_finite()).collect();
        v.sort_unstable_by(f64::total_cmp);
        v
    };
    let mean_d = finite(|r| r.mean_depth);
    let median_d = finite(|r| r.median_depth);
    let n = mean_d.len() as f64;
    let mean = (!mean_d.is_empty()).then(|| mean_d.iter().sum::<f64>() / n);
    let std = mean
        .filter(|_| mean_d.len() > 1)
        .map(|m| (mean_d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    let p = |q| percentile_sorted(&mean_d, q);
    CalibrationStatistics {
        total_samples: sel.len(),
        depth_statistics: DepthStatistics {
            mean,
            median: percentile_sorted(&median_d, 50.0),
            std,
            min: finite(|r| r.min_depth).first().copied(),
            max: finite(|r| r.max_depth).last().copied(),
            p25: p(25.0),
            p50: p(50.0),
            p75: p(75.0),
            p90: p(90.0),
            p95: p(95.0),
        },
        scene_type_distribution: counts(sel.iter().map(|r| r.scene_type.as_str())),
        depth_variant_distribution: counts(sel.iter().map(|r| r.depth_variant.as_str())),
    }
}

impl CalibrationStatistics {
    /// The seed's JSON layout (`json.dump(report, f, indent=2)`).
    pub fn to_json(&self) -> String {
        let f = |v: Option<f64>| v.map_or(PyJson::Null, PyJson::Float);
        let d = &self.depth_statistics;
        let dist = |v: &[(String, usize)]| {
            PyJson::dict(v.iter().map(|(k, c)| (k.clone(), PyJson::Int(*c as i64))))
        };
        PyJson::dict([
            ("total_samples", PyJson::Int(self.total_samples as i64)),
            (
                "depth_statistics",
                PyJson::dict([
                    ("mean", f(d.mean)),
                    ("median", f(d.median)),
                    ("std", f(d.std)),
                    ("min", f(d.min)),
                    ("max", f(d.max)),
                    ("p25", f(d.p25)),
                    ("p50", f(d.p50)),
                    ("p75", f(d.p75)),
                    ("p90", f(d.p90)),
                    ("p95", f(d.p95)),
                ]),
            ),
            (
                "scene_type_distribution",
                dist(&self.scene_type_distribution),
            ),
            (
                "depth_variant_distribution",
                dist(&self.depth_variant_distribution),
            ),
        ])
        .dump()
    }
}

/// Writes `calibration_statistics.json` atomically.
pub fn write_statistics(path: &Path, stats: &CalibrationStatistics) -> Result<(), ExportError> {
    fsutil::write_atomic(path, stats.to_json().as_bytes()).map_err(|e| ExportError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::tests::row;

    #[test]
    fn percentiles_like_numpy_linear() {
        let v = [1.0, 2.0, 4.0, 8.0];
        // numpy.percentile([1,2,4,8], [25,50,90]) = 1.75, 3.0, 6.8
        assert!((percentile_sorted(&v, 25.0).unwrap() - 1.75).abs() < 1e-12);
        assert!((percentile_sorted(&v, 50.0).unwrap() - 3.0).abs() < 1e-12);
        assert!((percentile_sorted(&v, 90.0).unwrap() - 6.8).abs() < 1e-12);
        assert_eq!(percentile_sorted(&[], 50.0), None);
    }

    #[test]
    fn repeated_stems_are_counted_once() {
        // Two sequences share stem 0000000001; only seq a's is selected.
        let rows = vec![
            row("a", "0000000001", 2.0),
            row("b", "0000000001", 20.0),
            row("a", "0000000002", 4.0),
        ];
        let s = calibration_statistics(&rows, &[0, 2]);
        assert_eq!(s.total_samples, 2);
        assert_eq!(s.depth_statistics.mean, Some(3.0));
        assert_eq!(s.scene_type_distribution, vec![("indoor".to_string(), 2)]);
        let j = s.to_json();
        assert!(
            j.starts_with(
                "{\n  \"total_samples\": 2,\n  \"depth_statistics\": {\n    \"mean\": 3.0,"
            ),
            "{j}"
        );
        let one = calibration_statistics(&rows, &[1]);
        assert_eq!(one.depth_statistics.std, None);
        assert!(one.to_json().contains("\"std\": null"));
    }
}
