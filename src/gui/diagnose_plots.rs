//! egui_plot drawing of the Diagnose view: SQNR along graph order (click a
//! point to pick the tensor) and the range inspector's histogram with each
//! method's clip thresholds.

use egui::Color32;
use egui_plot::{Bar, BarChart, Line, Points, VLine};

use crate::diagnose::inspect::RangeInspection;
use crate::diagnose::tensors::{TensorComparison, TensorKind};
use crate::quantize::RangeMethod;

use super::plots::{fixed_plot, series_color};

/// The method as the Quantize view names it.
pub fn method_name(m: RangeMethod) -> &'static str {
    match m {
        RangeMethod::MinMax => "MinMax",
        RangeMethod::Percentile => "Percentile",
        RangeMethod::Entropy => "Entropy",
        RangeMethod::Mse => "MSE",
    }
}

pub fn method_color(m: RangeMethod) -> Color32 {
    series_color(match m {
        RangeMethod::MinMax => 1,
        RangeMethod::Percentile => 2,
        RangeMethod::Entropy => 3,
        RangeMethod::Mse => 5,
    })
}

/// Accumulated and isolated SQNR of the activations along graph order;
/// returns the tensor whose point was clicked.
pub fn sqnr_along_graph(
    ui: &mut egui::Ui,
    rows: &[TensorComparison],
    selected: Option<&str>,
) -> Option<String> {
    let mut acts: Vec<&TensorComparison> = rows
        .iter()
        .filter(|r| r.kind == TensorKind::Activation)
        .collect();
    acts.sort_by_key(|r| r.graph_index);
    // An exact match has infinite SQNR: drawn at the top of the finite ones.
    let top = acts
        .iter()
        .flat_map(|r| [r.accumulated.sqnr_db, r.isolated.sqnr_db])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let bottom = acts
        .iter()
        .flat_map(|r| [r.accumulated.sqnr_db, r.isolated.sqnr_db])
        .filter(|v| v.is_finite())
        .fold(top, f64::min);
    let y = |v: f64| if v.is_finite() { v } else { top };
    let acc: Vec<[f64; 2]> = acts
        .iter()
        .map(|r| [r.graph_index as f64, y(r.accumulated.sqnr_db)])
        .collect();
    let iso: Vec<[f64; 2]> = acts
        .iter()
        .map(|r| [r.graph_index as f64, y(r.isolated.sqnr_db)])
        .collect();
    let sel: Vec<[f64; 2]> = acts
        .iter()
        .filter(|r| Some(r.tensor.as_str()) == selected)
        .map(|r| [r.graph_index as f64, y(r.accumulated.sqnr_db)])
        .collect();
    let mut clicked = None;
    fixed_plot("diagnose_sqnr", 220.0)
        // Room above the points for the legend's three rows (a third of
        // the plot's height).
        .include_y(top + (top - bottom).max(1.0))
        .x_axis_label("graph order (producing node)")
        .y_axis_label("SQNR (dB)")
        .show(ui, |p| {
            p.line(Line::new("accumulated", acc.clone()).color(series_color(0)));
            p.points(
                Points::new("accumulated", acc.clone())
                    .color(series_color(0))
                    .radius(2.5),
            );
            p.line(Line::new("isolated", iso.clone()).color(series_color(1)));
            p.points(
                Points::new("isolated", iso)
                    .color(series_color(1))
                    .radius(2.5),
            );
            if !sel.is_empty() {
                p.points(
                    Points::new("selected", sel)
                        .color(Color32::RED)
                        .radius(6.0)
                        .filled(false),
                );
            }
            if p.response().clicked() {
                if let Some(pt) = p.pointer_coordinate() {
                    clicked = acts
                        .iter()
                        .min_by(|a, b| {
                            let d = |r: &&TensorComparison| (r.graph_index as f64 - pt.x).abs();
                            d(a).total_cmp(&d(b))
                        })
                        .map(|r| r.tensor.clone());
                }
            }
        })
        .response
        .on_hover_text("Click a point to see the tensor's range below.");
    clicked
}

/// The histogram (log10(1 + count)) over the span where values are, and
/// each method's clip thresholds as vertical lines.
pub fn range_histogram(ui: &mut egui::Ui, r: &RangeInspection) {
    // Trim empty bins at both ends, keeping every threshold in view.
    let first = r.counts.iter().position(|&c| c > 0).unwrap_or(0);
    let last = r
        .counts
        .iter()
        .rposition(|&c| c > 0)
        .unwrap_or(r.counts.len().saturating_sub(1));
    let w = r
        .centres
        .get(1)
        .zip(r.centres.first())
        .map_or(1.0, |(b, a)| b - a);
    let bars: Vec<Bar> = (first..=last)
        .filter(|&i| r.counts[i] > 0)
        .map(|i| {
            Bar::new(r.centres[i], r.log_counts[i])
                .width(w)
                .name(format!("{:.4}: {} values", r.centres[i], r.counts[i]))
        })
        .collect();
    fixed_plot("diagnose_range", 200.0)
        .x_axis_label("value")
        .y_axis_label("log10(1 + count)")
        .show(ui, |p| {
            p.bar_chart(
                BarChart::new("calibration values", bars)
                    .color(series_color(0))
                    .element_formatter(Box::new(|b, _| b.name.clone())),
            );
            for m in &r.methods {
                let name = format!(
                    "{} (clips {:.3} %)",
                    method_name(m.method),
                    100.0 * m.clipped_share
                );
                for x in [m.min, m.max] {
                    p.vline(
                        VLine::new(name.clone(), x as f64)
                            .color(method_color(m.method))
                            .width(1.5),
                    );
                }
            }
        });
}
