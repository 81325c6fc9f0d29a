//! The plan table as text, in the spirit of the seed's printout
//! (`near ( 0.0- 3.0m): target 75, actual 75 (available 1200)`), with the
//! columns the fixes add (pinned, excluded, refilled).

use super::{Bins, Selection};

/// Renders the plan table of a stratified selection; empty when there is none.
pub fn format_plan_table(sel: &Selection, bins: &Bins) -> String {
    if sel.plan.is_empty() {
        return String::new();
    }
    let unit = if bins.column == super::Column::ValidRatio {
        ""
    } else {
        "m"
    };
    let mut out = format!(
        "{:<10} {:>16} {:>6} {:>7} {:>10} {:>7} {:>9} {:>8} {:>7}\n",
        "bin",
        bins.column.name(),
        "ratio",
        "target",
        "available",
        "pinned",
        "excluded",
        "refill",
        "actual"
    );
    for p in &sel.plan {
        let range = format!("({}-{}{unit}]", edge(p.lower), edge(p.upper));
        out.push_str(&format!(
            "{:<10} {:>16} {:>5.0}% {:>7} {:>10} {:>7} {:>9} {:>8} {:>7}\n",
            p.label,
            range,
            p.ratio * 100.0,
            p.target,
            p.available,
            p.pinned,
            p.excluded,
            if p.refilled > 0 {
                format!("+{}", p.refilled)
            } else {
                "0".into()
            },
            p.actual
        ));
    }
    let t = |f: fn(&super::PlanRow) -> usize| sel.plan.iter().map(f).sum::<usize>();
    out.push_str(&format!(
        "{:<10} {:>16} {:>6} {:>7} {:>10} {:>7} {:>9} {:>8} {:>7}\n",
        "total",
        "",
        "",
        sel.target,
        t(|p| p.available),
        t(|p| p.pinned),
        t(|p| p.excluded),
        format!("+{}", t(|p| p.refilled)),
        t(|p| p.actual)
    ));
    if !sel.outside.is_empty() {
        out.push_str(&format!(
            "{} sample(s) outside every bin\n",
            sel.outside.len()
        ));
    }
    out
}

/// An edge as the seed prints it (`3.0`), with more digits when one
/// decimal would hide them (`0.15`, not `0.1`).
fn edge(v: f64) -> String {
    let one = format!("{v:.1}");
    if one.parse::<f64>() == Ok(v) {
        one
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::row;
    use super::super::*;
    use super::edge;

    #[test]
    fn table_lists_every_bin_and_total() {
        let rows: Vec<_> = (0..40)
            .map(|i| row("s", &i.to_string(), [1.0, 5.0, 10.0, 20.0][i % 4]))
            .collect();
        let req = SelectionRequest {
            target: 20,
            ..Default::default()
        };
        let sel = run(&rows, &req).unwrap();
        let t = format_plan_table(&sel, &Bins::default());
        assert_eq!(t.lines().count(), 6, "{t}");
        assert!(t.contains("very_far") && t.contains("(15.0-100.0m]"), "{t}");
        let total = t.lines().nth(5).unwrap();
        assert_eq!(edge(0.15), "0.15");
        assert_eq!(edge(0.1), "0.1");
        assert_eq!(edge(1.0 / 3.0), (1.0f64 / 3.0).to_string());
        assert!(
            total.starts_with("total") && total.trim_end().ends_with("20"),
            "{t}"
        );
    }

    #[test]
    fn valid_ratio_edges_keep_their_digits() {
        let rows: Vec<_> = (0..10).map(|i| row("s", &i.to_string(), 1.0)).collect();
        let bins = Bins {
            column: Column::ValidRatio,
            edges: vec![0.0, 0.05, 0.1, 0.15, 1.0],
            labels: ["a", "b", "c", "d"].map(String::from).to_vec(),
            ratios: vec![0.25; 4],
        };
        let req = SelectionRequest {
            strategy: Strategy::Stratified(bins.clone()),
            target: 4,
            ..Default::default()
        };
        let t = format_plan_table(&run(&rows, &req).unwrap(), &bins);
        assert!(t.contains("(0.1-0.15]") && t.contains("(0.0-0.05]"), "{t}");
    }
}
