//! The range inspector's figure: a tensor's histogram with log counts and
//! each method's clip thresholds as vertical lines.

use std::path::Path;

use plotters::prelude::*;

use super::canvas::{self, AXIS_DESC, FONT, FULL, INK, PALETTE, TICKS};
use super::ReportError;

/// One method's thresholds, for the legend and the lines.
pub struct Thresholds {
    pub label: String,
    pub min: f64,
    pub max: f64,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Draws the histogram (bin centres, equal-width bins, counts on a log
/// axis) over the observed range widened to every threshold, with each
/// method's min and max as vertical lines in its colour.
pub fn draw(
    path: &Path,
    title: &str,
    centres: &[f64],
    counts: &[u64],
    observed: (f64, f64),
    methods: &[Thresholds],
) -> Result<(), ReportError> {
    let legend: Vec<(String, RGBColor)> = methods
        .iter()
        .enumerate()
        .map(|(i, m)| (m.label.clone(), PALETTE[(i + 1) % PALETTE.len()]))
        .collect();
    let width = match centres {
        [a, b, ..] => b - a,
        _ => 1.0,
    };
    canvas::figure(path, title, &legend, |area| {
        let lo = methods.iter().map(|m| m.min).fold(observed.0, f64::min);
        let hi = methods.iter().map(|m| m.max).fold(observed.1, f64::max);
        let pad = ((hi - lo) * 0.03).max(width);
        let (x0, x1) = (lo - pad, hi + pad);
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 2.0;
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(x0..x1, (0.5f64..top).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("value")
            .y_desc("values per bin (log scale)")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .axis_desc_style((FONT, AXIS_DESC).into_font().color(&INK))
            .label_style((FONT, TICKS).into_font().color(&INK))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(err)?;
        // Lines under the bars (a spike at a threshold stays visible), wider
        // first, so a method sharing another's threshold still shows.
        for (i, m) in methods.iter().enumerate() {
            let colour = PALETTE[(i + 1) % PALETTE.len()];
            let stroke = (methods.len() - i) as u32 + 1;
            for x in [m.min, m.max] {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x, 0.5), (x, top)],
                        colour.stroke_width(stroke),
                    )))
                    .map_err(err)?;
            }
        }
        chart
            .draw_series(
                centres
                    .iter()
                    .zip(counts)
                    .filter(|(&c, &n)| n > 0 && c >= x0 && c <= x1)
                    .map(|(&c, &n)| {
                        Rectangle::new(
                            [(c - width / 2.0, 0.5), (c + width / 2.0, n as f64)],
                            FULL.mix(0.85).filled(),
                        )
                    }),
            )
            .map_err(err)?;
        Ok(())
    })
}
