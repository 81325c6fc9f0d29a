//! The current view: filters over the samples, FiftyOne-style. They drive the
//! table, the grid and the plots. Plain data, no drawing.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::columns::Stat;
use crate::metadata::SampleMeta;

/// A closed range on one statistic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeFilter {
    pub stat: Stat,
    pub min: f64,
    pub max: f64,
}

impl RangeFilter {
    pub fn contains(&self, r: &SampleMeta) -> bool {
        let v = self.stat.value(r);
        v >= self.min && v <= self.max
    }
}

/// Every active filter. Empty sets mean "no restriction".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// Scene types to hide.
    pub hidden_scenes: BTreeSet<String>,
    /// Depth folders to hide.
    pub hidden_folders: BTreeSet<String>,
    /// Ranges on statistics; all must hold.
    pub ranges: Vec<RangeFilter>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.hidden_scenes.is_empty() && self.hidden_folders.is_empty() && self.ranges.is_empty()
    }

    pub fn matches(&self, r: &SampleMeta) -> bool {
        !self.hidden_scenes.contains(&r.scene_type)
            && !self.hidden_folders.contains(&r.depth_variant)
            && self.ranges.iter().all(|f| f.contains(r))
    }

    /// Indices of the rows that pass, in row order.
    pub fn apply(&self, rows: &[SampleMeta]) -> Vec<usize> {
        if self.is_empty() {
            return (0..rows.len()).collect();
        }
        rows.iter()
            .enumerate()
            .filter(|(_, r)| self.matches(r))
            .map(|(i, _)| i)
            .collect()
    }

    /// Sets (or replaces) the range on one statistic.
    pub fn set_range(&mut self, stat: Stat, min: f64, max: f64) {
        self.ranges.retain(|f| f.stat != stat);
        self.ranges.push(RangeFilter { stat, min, max });
    }

    /// Human-readable summary for the status line ("mean_depth 3–8 m, hiding indoor").
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .ranges
            .iter()
            .map(|f| format!("{} {}–{}", f.stat.name(), trim(f.min), trim(f.max)))
            .collect();
        if !self.hidden_scenes.is_empty() {
            let v: Vec<&str> = self.hidden_scenes.iter().map(String::as_str).collect();
            parts.push(format!("hiding {}", v.join(", ")));
        }
        if !self.hidden_folders.is_empty() {
            let v: Vec<&str> = self.hidden_folders.iter().map(String::as_str).collect();
            parts.push(format!("hiding {}", v.join(", ")));
        }
        if parts.is_empty() {
            "no filter".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(root: &str, stem: &str, mean: f64, scene: &str, folder: &str) -> SampleMeta {
        SampleMeta {
            depth_variant: folder.into(),
            scene_type: scene.into(),
            max_depth: mean * 2.0,
            p90: mean,
            p95: mean,
            ..crate::metadata::tests::row(root, stem, mean)
        }
    }

    #[test]
    fn filters_combine() {
        let rows = vec![
            row("a", "1", 2.0, "indoor", "d1"),
            row("a", "2", 6.0, "outdoor_near", "d1"),
            row("b", "1", 9.0, "outdoor_near", "d2"),
            row("b", "2", 20.0, "outdoor_far", "d2"),
        ];
        let mut f = Filter::default();
        assert_eq!(f.apply(&rows), vec![0, 1, 2, 3]);
        f.set_range(Stat::MeanDepth, 3.0, 10.0);
        assert_eq!(f.apply(&rows), vec![1, 2]);
        f.hidden_folders.insert("d2".into());
        assert_eq!(f.apply(&rows), vec![1]);
        f.set_range(Stat::MeanDepth, 0.0, 100.0);
        assert_eq!(f.ranges.len(), 1);
        f.hidden_scenes.insert("indoor".into());
        assert_eq!(f.apply(&rows), vec![1]);
        assert!(f.describe().contains("mean_depth 0–100"));
    }
}
