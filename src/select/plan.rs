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
        let range = format!("({:.1}-{:.1}{unit}]", p.lower, p.upper);
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

#[cfg(test)]
mod tests {
    use super::super::tests::row;
    use super::super::*;

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
        assert!(
            total.starts_with("total") && total.trim_end().ends_with("20"),
            "{t}"
        );
    }
}
