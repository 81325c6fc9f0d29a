//! egui_plot drawing of the Distribution view's charts: the view (grey) against
//! the calibration set (orange). Shares, not counts, so the two compare; the
//! hover text gives both.

use egui::Color32;
use egui_plot::{Bar, BarChart, BoxElem, BoxPlot, BoxSpread, Legend, Line, Plot, Points};

use super::charts::{BoxStats, Categories, Charts, Histogram};

pub const FULL: Color32 = Color32::from_rgb(120, 144, 170);
pub const SET: Color32 = Color32::from_rgb(240, 140, 40);

/// Colours of the runs in the Evaluate view's charts, in run order.
pub fn series_color(i: usize) -> Color32 {
    const C: [Color32; 6] = [
        FULL,
        SET,
        Color32::from_rgb(90, 170, 90),
        Color32::from_rgb(200, 80, 160),
        Color32::from_rgb(230, 200, 60),
        Color32::from_rgb(80, 190, 200),
    ];
    C[i % C.len()]
}
/// Height of every Distribution plot.
pub const PLOT_H: f32 = 210.0;

fn share(n: u64, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * n as f64 / total as f64
    }
}

fn base_plot(id: &str) -> Plot<'static> {
    fixed_plot(id, PLOT_H)
}

/// A plot of `height` with a legend that does not pan or zoom: the app's
/// plots are read, not explored.
pub fn fixed_plot(id: &str, height: f32) -> Plot<'static> {
    Plot::new(id)
        .height(height)
        .legend(Legend::default())
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_boxed_zoom(false)
        .y_axis_min_width(36.0)
}

type BarFormatter = Box<dyn Fn(&Bar, &BarChart) -> String>;

fn name_formatter() -> BarFormatter {
    Box::new(|b: &Bar, _| b.name.clone())
}

/// Overlaid histogram; returns the bin clicked, if any.
pub fn histogram(
    ui: &mut egui::Ui,
    id: &str,
    h: &Histogram,
    c: &Charts,
    x_label: &str,
    unit: &str,
) -> Option<usize> {
    let w = h.edges.get(1).map_or(1.0, |e| e - h.edges[0]);
    let mk = |counts: &[u64], total: usize, who: &str, width: f64, color: Color32| {
        let bars: Vec<Bar> = counts
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let (lo, hi) = (h.edges[i], h.edges[i + 1]);
                Bar::new((lo + hi) / 2.0, share(n, total))
                    .width(width)
                    .fill(color.gamma_multiply(0.8))
                    .name(format!(
                        "{who}: {n} samples, {x_label} {lo:.2}–{hi:.2}{unit} ({:.1}%)",
                        share(n, total)
                    ))
            })
            .collect();
        BarChart::new(who, bars)
            .color(color)
            .element_formatter(name_formatter())
    };
    let full = mk(&h.full, c.n_full, "dataset", w * 0.95, FULL);
    let set = mk(&h.set, c.n_set, "calibration set", w * 0.5, SET);
    let top = tallest(&[(&h.full, c.n_full), (&h.set, c.n_set)]);
    let mut clicked_x = None;
    let resp = base_plot(id)
        // Room above the bars for the legend; the bars' own hover text only.
        .include_y(top * LEGEND_ROOM)
        .show_x(false)
        .show_y(false)
        .x_axis_label(if unit.is_empty() {
            x_label.to_owned()
        } else {
            format!("{x_label} ({})", unit.trim())
        })
        .y_axis_label("% of samples")
        .show(ui, |p| {
            p.bar_chart(full);
            p.bar_chart(set);
            if p.response().clicked() {
                clicked_x = p.pointer_coordinate().map(|pt| pt.x);
            }
        });
    resp.response
        .on_hover_text("Click a bar to see its samples in the Calibration set view.");
    let x = clicked_x?;
    if x < h.edges[0] || x > *h.edges.last()? {
        return None;
    }
    Some(h.bin(x))
}

/// The y range is stretched this much above the tallest bar, so the legend
/// in the top corner sits above the data.
const LEGEND_ROOM: f64 = 1.35;

/// The tallest bar, in % of samples, over several count series.
fn tallest(series: &[(&[u64], usize)]) -> f64 {
    series
        .iter()
        .flat_map(|(counts, total)| counts.iter().map(|&n| share(n, *total)))
        .fold(1.0, f64::max)
}

pub fn cdf(ui: &mut egui::Ui, c: &Charts) {
    // A CDF rises to the right: the bottom-right corner is empty.
    base_plot("cdf")
        .legend(Legend::default().position(egui_plot::Corner::RightBottom))
        .x_axis_label("mean depth (m)")
        .y_axis_label("share of samples ≤ x")
        .show(ui, |p| {
            p.line(
                Line::new("dataset", c.cdf_full.clone())
                    .color(FULL)
                    .width(2.0),
            );
            p.line(
                Line::new("calibration set", c.cdf_set.clone())
                    .color(SET)
                    .width(2.0),
            );
        });
}

fn box_elems(boxes: &[BoxStats], offset: f64, color: Color32, who: &str) -> Vec<BoxElem> {
    boxes
        .iter()
        .enumerate()
        .map(|(k, b)| {
            BoxElem::new(
                k as f64 + offset,
                BoxSpread::new(b.lower, b.q1, b.median, b.q3, b.upper),
            )
            .box_width(0.3)
            .fill(color.gamma_multiply(0.5))
            .stroke(egui::Stroke::new(1.5, color))
            .name(format!(
                "{who}, {}: n={}, median {:.2} m, quartiles {:.2}–{:.2} m, whiskers {:.2}–{:.2} m",
                b.label, b.n, b.median, b.q1, b.q3, b.lower, b.upper
            ))
        })
        .collect()
}

/// Box plots of mean depth: overall, then per scene type.
pub fn boxes(ui: &mut egui::Ui, c: &Charts) {
    let labels: Vec<String> = c.boxes_full.iter().map(|b| b.label.clone()).collect();
    // The set's boxes go beside the view's box of the same label.
    let set: Vec<BoxElem> = c
        .boxes_set
        .iter()
        .filter_map(|b| {
            let k = labels.iter().position(|l| *l == b.label)?;
            let mut e = box_elems(std::slice::from_ref(b), 0.18, SET, "calibration set");
            let mut e = e.pop()?;
            e.argument = k as f64 + 0.18;
            Some(e)
        })
        .collect();
    let fmt = |e: &BoxElem, _: &BoxPlot| e.name.clone();
    base_plot("boxes")
        .y_axis_label("mean depth (m)")
        .x_axis_formatter(move |m, _| {
            let k = m.value.round();
            if (m.value - k).abs() < 1e-6 && k >= 0.0 {
                labels.get(k as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .show(ui, |p| {
            p.box_plot(
                BoxPlot::new("dataset", box_elems(&c.boxes_full, -0.18, FULL, "dataset"))
                    .color(FULL)
                    .element_formatter(Box::new(fmt)),
            );
            p.box_plot(
                BoxPlot::new("calibration set", set)
                    .color(SET)
                    .element_formatter(Box::new(fmt)),
            );
        });
}

/// Side-by-side bars per category (shares of the view and of the set).
pub fn categories(ui: &mut egui::Ui, id: &str, cat: &Categories, c: &Charts, what: &str) {
    let mk = |counts: &[u64], total: usize, who: &str, off: f64, color: Color32| {
        let bars: Vec<Bar> = counts
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                Bar::new(k as f64 + off, share(n, total))
                    .width(0.38)
                    .fill(color.gamma_multiply(0.8))
                    .name(format!(
                        "{who}, {what} {}: {n} samples ({:.1}%)",
                        cat.names[k],
                        share(n, total)
                    ))
            })
            .collect();
        BarChart::new(who, bars)
            .color(color)
            .element_formatter(name_formatter())
    };
    let full = mk(&cat.full, c.n_full, "dataset", -0.2, FULL);
    let set = mk(&cat.set, c.n_set, "calibration set", 0.2, SET);
    let names = cat.names.clone();
    let top = tallest(&[(&cat.full, c.n_full), (&cat.set, c.n_set)]);
    base_plot(id)
        .include_y(top * LEGEND_ROOM)
        .show_x(false)
        .show_y(false)
        .y_axis_label("% of samples")
        .x_axis_formatter(move |m, _| {
            let k = m.value.round();
            if (m.value - k).abs() < 1e-6 && k >= 0.0 {
                names.get(k as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .show(ui, |p| {
            p.bar_chart(full);
            p.bar_chart(set);
        });
}

pub fn scatter(ui: &mut egui::Ui, c: &Charts) {
    let top = c
        .scatter_full
        .iter()
        .map(|p| p[1])
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    // Median depth tracks mean depth along the diagonal: the top-left is
    // empty, and the headroom keeps it so.
    base_plot("scatter")
        .legend(Legend::default().position(egui_plot::Corner::LeftTop))
        .include_y(top * LEGEND_ROOM)
        .x_axis_label("mean depth (m)")
        .y_axis_label("median depth (m)")
        .label_formatter(|hover| match hover {
            egui_plot::HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => Some(format!(
                "{plot_name}: mean {:.2} m, median {:.2} m",
                position.x, position.y
            )),
            egui_plot::HoverPosition::Elsewhere { .. } => None,
        })
        .show(ui, |p| {
            p.points(
                Points::new("dataset", c.scatter_full.clone())
                    .color(FULL.gamma_multiply(0.6))
                    .radius(1.5),
            );
            p.points(
                Points::new("calibration set", c.scatter_set.clone())
                    .color(SET)
                    .radius(2.5),
            );
        });
}
