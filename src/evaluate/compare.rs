//! Comparison of saved runs against a baseline: the table users paste in
//! their reports (Metric | FP32 | INT8 … with Δ and Δ%), computed from the
//! runs' per-sample values on the samples common to all runs; the worst
//! samples by Δabs_rel; a per-depth-range table. Markdown and CSV writers.

use std::collections::HashMap;

use serde::Serialize;

use super::metrics::MetricSet;
use super::run::{csv_field, mean_std_sets, EvalRun, ExcludedSample};

/// Samples listed per run in the worst-N table.
pub const WORST_N: usize = 10;
/// Excluded samples named in the Markdown (the rest are counted).
pub const EXCLUDED_LISTED: usize = 20;
/// Δabs_rel above which a worst sample is flagged (the users' script).
pub const FLAG_DELTA_ABS_REL: f64 = 0.05;

/// One metric across runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricRow {
    pub metric: String,
    /// Per run (baseline included), mean over the common samples.
    pub values: Vec<f64>,
    /// Per run: value − baseline (`None` for the baseline).
    pub delta: Vec<Option<f64>>,
    /// Per run: 100·Δ/baseline.
    pub delta_pct: Vec<Option<f64>>,
}

/// A sample that got worse than the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorstSample {
    pub dataset_root: String,
    pub stem: String,
    pub baseline_abs_rel: f64,
    pub abs_rel: f64,
    pub delta_abs_rel: f64,
    /// Δabs_rel above [`FLAG_DELTA_ABS_REL`].
    pub flagged: bool,
}

/// The worst samples of one run against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorstList {
    pub run: usize,
    pub samples: Vec<WorstSample>,
}

/// One depth range across runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RangeRow {
    pub lo: f64,
    pub hi: f64,
    /// Per run: mean over the common samples with pixels in the range.
    pub metrics: Vec<Option<MetricSet>>,
    pub images: Vec<usize>,
    pub pixels: Vec<u64>,
}

/// Runs compared against a baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub labels: Vec<String>,
    pub baseline: usize,
    /// Samples common to all runs (what every number is computed on).
    pub common: usize,
    /// Samples per run before intersecting.
    pub run_samples: Vec<usize>,
    pub rows: Vec<MetricRow>,
    pub worst: Vec<WorstList>,
    pub ranges: Vec<RangeRow>,
    /// Samples the runs left out as suspect (union over runs, first
    /// run's reason), so the table says what it is not computed on.
    pub excluded: Vec<ExcludedSample>,
    /// Things a reader must know: sample sets differ, settings differ.
    pub notes: Vec<String>,
}

type Key<'a> = (&'a str, &'a str);

/// Compares `runs` (label, run) against `runs[baseline]`.
pub fn compare(runs: &[(String, EvalRun)], baseline: usize) -> Result<Comparison, String> {
    if runs.is_empty() {
        return Err("no runs to compare; give run JSON files written by `calibscope eval`".into());
    }
    if baseline >= runs.len() {
        return Err(format!(
            "baseline {baseline} is not one of the {} runs",
            runs.len()
        ));
    }
    let maps: Vec<HashMap<Key, usize>> = runs
        .iter()
        .map(|(_, r)| {
            r.per_sample
                .iter()
                .enumerate()
                .map(|(i, s)| ((s.dataset_root.as_str(), s.stem.as_str()), i))
                .collect()
        })
        .collect();
    // Common samples in the baseline's order.
    let base = &runs[baseline].1;
    let common: Vec<Key> = base
        .per_sample
        .iter()
        .map(|s| (s.dataset_root.as_str(), s.stem.as_str()))
        .filter(|k| maps.iter().all(|m| m.contains_key(k)))
        .collect();
    let mut notes = Vec::new();
    let run_samples: Vec<usize> = runs.iter().map(|(_, r)| r.per_sample.len()).collect();
    if run_samples.iter().any(|&n| n != common.len()) {
        let parts: Vec<String> = runs
            .iter()
            .zip(&run_samples)
            .map(|((l, _), n)| format!("{l}: {n}"))
            .collect();
        notes.push(format!(
            "the runs cover different samples ({}); every number here is on the {} samples common to all",
            parts.join(", "),
            common.len()
        ));
    }
    let mut excluded: Vec<ExcludedSample> = Vec::new();
    for (_, r) in runs {
        for x in &r.excluded {
            if !excluded
                .iter()
                .any(|y| (&y.dataset_root, &y.stem) == (&x.dataset_root, &x.stem))
            {
                excluded.push(x.clone());
            }
        }
    }
    if runs.iter().any(|(_, r)| r.excluded.len() != excluded.len()) {
        let parts: Vec<String> = runs
            .iter()
            .map(|(l, r)| format!("{l}: {}", r.excluded.len()))
            .collect();
        notes.push(format!(
            "the runs excluded different samples as suspect ({})",
            parts.join(", ")
        ));
    }
    if common.is_empty() {
        return Err(
            "the runs have no sample in common; evaluate the same split with each model".into(),
        );
    }
    for (l, r) in runs {
        if r.settings != base.settings {
            notes.push(format!(
                "{l} was evaluated with other settings than {} ({}); its numbers are not directly comparable",
                runs[baseline].0,
                settings_diff(&base.settings, &r.settings)
            ));
        }
        if r.cancelled {
            notes.push(format!("{l} was cancelled before the end of its split"));
        }
    }

    let means: Vec<MetricSet> = (0..runs.len())
        .map(|r| {
            let run = &runs[r].1;
            mean_std_sets(common.iter().map(|k| run.per_sample[maps[r][k]].metrics)).0
        })
        .collect();
    let rows = MetricSet::NAMES
        .iter()
        .enumerate()
        .map(|(m, name)| {
            let values: Vec<f64> = means.iter().map(|s| s.values()[m]).collect();
            let b = values[baseline];
            let delta = (0..runs.len())
                .map(|r| (r != baseline).then(|| values[r] - b))
                .collect::<Vec<_>>();
            let delta_pct = delta
                .iter()
                .map(|d| d.map(|d| if b != 0.0 { 100.0 * d / b } else { f64::NAN }))
                .collect();
            MetricRow {
                metric: name.to_string(),
                values,
                delta,
                delta_pct,
            }
        })
        .collect();

    let worst = (0..runs.len())
        .filter(|&r| r != baseline)
        .map(|r| {
            let mut list: Vec<WorstSample> = common
                .iter()
                .map(|k| {
                    let b = base.per_sample[maps[baseline][k]].metrics.abs_rel;
                    let v = runs[r].1.per_sample[maps[r][k]].metrics.abs_rel;
                    WorstSample {
                        dataset_root: k.0.to_string(),
                        stem: k.1.to_string(),
                        baseline_abs_rel: b,
                        abs_rel: v,
                        delta_abs_rel: v - b,
                        flagged: v - b > FLAG_DELTA_ABS_REL,
                    }
                })
                .collect();
            list.sort_by(|a, b| b.delta_abs_rel.total_cmp(&a.delta_abs_rel));
            list.truncate(WORST_N);
            WorstList {
                run: r,
                samples: list,
            }
        })
        .collect();

    let edges = &base.settings.range_edges;
    let same_edges = runs.iter().all(|(_, r)| &r.settings.range_edges == edges);
    let mut ranges = Vec::new();
    if !same_edges {
        notes.push("the runs use different depth-range edges; no per-range table".into());
    } else {
        for (i, e) in edges.windows(2).enumerate() {
            let mut row = RangeRow {
                lo: e[0],
                hi: e[1],
                metrics: Vec::new(),
                images: Vec::new(),
                pixels: Vec::new(),
            };
            for r in 0..runs.len() {
                let vals: Vec<_> = common
                    .iter()
                    .filter_map(|k| {
                        runs[r].1.per_sample[maps[r][k]]
                            .ranges
                            .get(i)
                            .copied()
                            .flatten()
                    })
                    .collect();
                row.images.push(vals.len());
                row.pixels.push(vals.iter().map(|v| v.pixels).sum());
                row.metrics.push(
                    (!vals.is_empty()).then(|| mean_std_sets(vals.iter().map(|v| v.metrics)).0),
                );
            }
            ranges.push(row);
        }
    }
    Ok(Comparison {
        labels: runs.iter().map(|(l, _)| l.clone()).collect(),
        baseline,
        common: common.len(),
        run_samples,
        rows,
        worst,
        ranges,
        excluded,
        notes,
    })
}

fn settings_diff(a: &super::EvalSettings, b: &super::EvalSettings) -> String {
    let (va, vb) = (
        serde_json::to_value(a).unwrap_or_default(),
        serde_json::to_value(b).unwrap_or_default(),
    );
    let (Some(ma), Some(mb)) = (va.as_object(), vb.as_object()) else {
        return String::new();
    };
    ma.iter()
        .filter(|(k, v)| mb.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: {v} vs {}", mb.get(k).cloned().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "n/a".into()
    }
}

fn signed(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:+.digits$}")
    } else {
        "n/a".into()
    }
}

impl Comparison {
    /// The Markdown report: main table, per-range abs_rel, worst samples, notes.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let mut head = vec!["Metric".to_string()];
        let mut rule = vec!["---".to_string()];
        for (r, l) in self.labels.iter().enumerate() {
            head.push(l.replace('|', "/"));
            rule.push("---:".into());
            if r != self.baseline {
                head.push("Δ".into());
                head.push("Δ%".into());
                rule.push("---:".into());
                rule.push("---:".into());
            }
        }
        out.push_str(&format!(
            "| {} |\n| {} |\n",
            head.join(" | "),
            rule.join(" | ")
        ));
        for row in &self.rows {
            let mut cells = vec![row.metric.clone()];
            for r in 0..self.labels.len() {
                cells.push(num(row.values[r]));
                if let (Some(d), Some(p)) = (row.delta[r], row.delta_pct[r]) {
                    cells.push(signed(d, 4));
                    cells.push(format!("{}%", signed(p, 1)));
                }
            }
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out.push_str(&format!(
            "\n{} samples common to all runs; baseline: {}.\n",
            self.common, self.labels[self.baseline]
        ));
        if !self.excluded.is_empty() {
            let shown: Vec<String> = self
                .excluded
                .iter()
                .take(EXCLUDED_LISTED)
                .map(|x| format!("{}/{} ({})", x.dataset_root, x.stem, x.reason))
                .collect();
            let more = self.excluded.len().saturating_sub(EXCLUDED_LISTED);
            out.push_str(&format!(
                "{} samples excluded as suspect: {}{}.\n",
                self.excluded.len(),
                shown.join("; "),
                if more > 0 {
                    format!("; and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        if !self.ranges.is_empty() {
            out.push_str("\nabs_rel per depth range (GT in [lo, hi) m; images with pixels in the range):\n\n");
            let mut head = vec!["Range (m)".to_string()];
            for l in &self.labels {
                head.push(l.replace('|', "/"));
            }
            head.push("Images".into());
            head.push("Pixels".into());
            out.push_str(&format!(
                "| {} |\n|{}\n",
                head.join(" | "),
                " ---: |".repeat(head.len())
            ));
            for row in &self.ranges {
                let mut cells = vec![format!("{}–{}", row.lo, row.hi)];
                for m in &row.metrics {
                    cells.push(m.map_or("–".into(), |m| num(m.abs_rel)));
                }
                cells.push(row.images[self.baseline].to_string());
                cells.push(row.pixels[self.baseline].to_string());
                out.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
        }
        for w in &self.worst {
            out.push_str(&format!(
                "\nWorst {} samples of {} by Δabs_rel (⚠ above {}):\n\n| Sample | {} | {} | Δabs_rel |\n| --- | ---: | ---: | ---: |\n",
                w.samples.len(),
                self.labels[w.run],
                FLAG_DELTA_ABS_REL,
                self.labels[self.baseline].replace('|', "/"),
                self.labels[w.run].replace('|', "/"),
            ));
            for s in &w.samples {
                out.push_str(&format!(
                    "| {}/{} | {} | {} | {}{} |\n",
                    s.dataset_root,
                    s.stem,
                    num(s.baseline_abs_rel),
                    num(s.abs_rel),
                    signed(s.delta_abs_rel, 4),
                    if s.flagged { " ⚠" } else { "" }
                ));
            }
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                out.push_str(&format!("Note: {n}\n"));
            }
        }
        out
    }

    /// CSV: one row per (table, metric or range, run) with value, Δ and Δ%.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("table,metric,range,run,value,delta,delta_pct,images,pixels\n");
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        for row in &self.rows {
            for (r, l) in self.labels.iter().enumerate() {
                out.push_str(&format!(
                    "overall,{},,{},{},{},{},{},\n",
                    row.metric,
                    csv_field(l),
                    row.values[r],
                    opt(row.delta[r]),
                    opt(row.delta_pct[r]),
                    self.common
                ));
            }
        }
        for row in &self.ranges {
            for (r, l) in self.labels.iter().enumerate() {
                let Some(m) = row.metrics[r] else { continue };
                let base = row.metrics[self.baseline];
                for (k, name) in MetricSet::NAMES.iter().enumerate() {
                    let v = m.values()[k];
                    let d = base
                        .filter(|_| r != self.baseline)
                        .map(|b| v - b.values()[k]);
                    let p = base
                        .filter(|_| r != self.baseline)
                        .map(|b| 100.0 * (v - b.values()[k]) / b.values()[k]);
                    out.push_str(&format!(
                        "range,{name},{}-{},{},{v},{},{},{},{}\n",
                        row.lo,
                        row.hi,
                        csv_field(l),
                        opt(d),
                        opt(p),
                        row.images[r],
                        row.pixels[r]
                    ));
                }
            }
        }
        out
    }
}
