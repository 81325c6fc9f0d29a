//! Each report figure, drawn with plotters onto a [`canvas::figure`] page.
//! Shares are percentages of each side's samples (as the app's views show
//! them), so a calibration set of 100 compares with a dataset of 10,000.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor;

use super::canvas::{self, Area, AXIS_DESC, FONT, FULL, INK, PALETTE, SET, TICKS};
use super::charts::{BoxStats, Categories, Charts, Histogram};
use super::ReportError;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn pct(n: u64, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * n as f64 / total as f64
    }
}

/// The two sides' legend entries, with their sizes.
fn sides(n_full: usize, n_set: usize) -> Vec<(String, RGBColor)> {
    vec![
        (format!("dataset (n = {n_full})"), FULL),
        (format!("calibration set (n = {n_set})"), SET),
    ]
}

/// Names on a category axis are cut so a long depth-folder name does not
/// run into its neighbour.
fn short(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_owned()
    } else {
        let mut s: String = name.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

/// A histogram of shares: the dataset's bars wide, the set's narrower in
/// front, as in the app.
pub fn histogram(
    path: &Path,
    title: &str,
    x_desc: &str,
    h: &Histogram,
    n_full: usize,
    n_set: usize,
) -> Result<(), ReportError> {
    canvas::figure(path, title, &sides(n_full, n_set), |area| {
        let (x0, x1) = (h.edges[0], *h.edges.last().unwrap_or(&1.0));
        let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
        let full: Vec<f64> = h.full.iter().map(|&n| pct(n, n_full)).collect();
        let set: Vec<f64> = h.set.iter().map(|&n| pct(n, n_set)).collect();
        let top = full.iter().chain(&set).fold(1.0f64, |a, &b| a.max(b)) * 1.08;
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, 0.0..top)
            .map_err(err)?;
        mesh(&mut chart, x_desc, "share of samples (%)")?;
        for (vals, colour, frac) in [(&full, FULL, 0.95), (&set, SET, 0.5)] {
            chart
                .draw_series(
                    vals.iter()
                        .enumerate()
                        .filter(|(_, &v)| v > 0.0)
                        .map(|(i, &v)| {
                            let (lo, hi) = (h.edges[i], h.edges[i + 1]);
                            let pad = (hi - lo) * (1.0 - frac) / 2.0;
                            Rectangle::new([(lo + pad, 0.0), (hi - pad, v)], colour.filled())
                        }),
                )
                .map_err(err)?;
        }
        Ok(())
    })
}

type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Grid, axes and their descriptions in the report's sizes.
fn mesh(chart: &mut Chart, x_desc: &str, y_desc: &str) -> Result<(), String> {
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style((FONT, AXIS_DESC).into_font().color(&INK))
        .label_style((FONT, TICKS).into_font().color(&INK))
        .x_max_light_lines(2)
        .y_max_light_lines(2)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(err)
}

/// Grid and axes for categories at x = 0, 1, …: the names as tick labels.
fn category_mesh(
    chart: &mut Chart,
    names: &[String],
    x_desc: &str,
    y_desc: &str,
) -> Result<(), String> {
    let max = (90 / names.len().max(1)).clamp(8, 28);
    let labels: Vec<String> = names.iter().map(|n| short(n, max)).collect();
    let fmt = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(names.len() + 1)
        .x_label_formatter(&fmt)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style((FONT, AXIS_DESC).into_font().color(&INK))
        .label_style((FONT, TICKS).into_font().color(&INK))
        .x_max_light_lines(2)
        .y_max_light_lines(2)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(err)
}

/// One series of a grouped bar chart: name, colour, a value per group and
/// optionally an error (± bar) per group.
struct Series<'a> {
    colour: RGBColor,
    values: &'a [f64],
    errors: Option<&'a [f64]>,
}

/// Bars grouped by category, one bar per series in each group, each
/// labelled with its value (`label` formats it; empty = no label).
fn grouped_bars(
    area: &Area,
    names: &[String],
    series: &[Series],
    x_desc: &str,
    y_desc: &str,
    label: &dyn Fn(usize, usize, f64) -> String,
) -> Result<(), String> {
    let finite = |v: &f64| v.is_finite();
    let top = series
        .iter()
        .flat_map(|s| {
            s.values.iter().enumerate().map(|(i, v)| {
                v + s
                    .errors
                    .and_then(|e| e.get(i))
                    .copied()
                    .filter(finite)
                    .unwrap_or(0.0)
            })
        })
        .filter(finite)
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.15 } else { 1.0 };
    let n = names.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..n - 0.5, 0.0..top)
        .map_err(err)?;
    category_mesh(&mut chart, names, x_desc, y_desc)?;
    let k = series.len().max(1) as f64;
    let width = 0.8 / k;
    let font_size = if names.len() * series.len() > 24 {
        14
    } else {
        18
    };
    for (j, s) in series.iter().enumerate() {
        let off = -0.4 + width * j as f64;
        let bars = s.values.iter().enumerate().filter(|(_, v)| v.is_finite());
        chart
            .draw_series(bars.clone().map(|(i, &v)| {
                let x = i as f64 + off;
                Rectangle::new([(x + 0.01, 0.0), (x + width - 0.01, v)], s.colour.filled())
            }))
            .map_err(err)?;
        if let Some(errors) = s.errors {
            chart
                .draw_series(bars.clone().filter_map(|(i, &v)| {
                    let e = *errors.get(i)?;
                    let x = i as f64 + off + width / 2.0;
                    e.is_finite().then(|| {
                        PathElement::new(
                            vec![(x, (v - e).max(0.0)), (x, v + e)],
                            INK.stroke_width(2),
                        )
                    })
                }))
                .map_err(err)?;
        }
        // A missing value (NaN) says so where its bar would stand.
        chart
            .draw_series(
                s.values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| !v.is_finite())
                    .map(|(i, _)| {
                        let x = i as f64 + off + width / 2.0;
                        Text::new("n/a".to_owned(), (x, 0.0), canvas::label_style(font_size))
                    }),
            )
            .map_err(err)?;
        chart
            .draw_series(bars.map(|(i, &v)| {
                let x = i as f64 + off + width / 2.0;
                let lift = s.errors.and_then(|e| e.get(i)).copied().filter(finite);
                Text::new(
                    label(j, i, v),
                    (x, v + lift.unwrap_or(0.0)),
                    canvas::label_style(font_size),
                )
            }))
            .map_err(err)?;
    }
    Ok(())
}

/// Categories as grouped bars of shares, dataset beside calibration set,
/// each bar labelled with its sample count.
pub fn categories(
    path: &Path,
    title: &str,
    x_desc: &str,
    cat: &Categories,
    n_full: usize,
    n_set: usize,
) -> Result<(), ReportError> {
    let full: Vec<f64> = cat.full.iter().map(|&n| pct(n, n_full)).collect();
    let set: Vec<f64> = cat.set.iter().map(|&n| pct(n, n_set)).collect();
    canvas::figure(path, title, &sides(n_full, n_set), |area| {
        let series = [
            Series {
                colour: FULL,
                values: &full,
                errors: None,
            },
            Series {
                colour: SET,
                values: &set,
                errors: None,
            },
        ];
        let counts = [&cat.full, &cat.set];
        grouped_bars(
            area,
            &cat.names,
            &series,
            x_desc,
            "share of samples (%)",
            &|j, i, _| counts[j][i].to_string(),
        )
    })
}

/// Per-run values of one metric in groups (e.g. depth ranges): the bars
/// of each group side by side, one colour per run, labelled with their
/// values. Groups a run has no value for (NaN) are left empty.
pub fn runs_by_group(
    range_labels: &[String],
    runs: &[(String, Vec<f64>)],
    metric_name: &str,
    path: &Path,
) -> Result<(), ReportError> {
    let legend: Vec<(String, RGBColor)> = runs
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.clone(), PALETTE[i % PALETTE.len()]))
        .collect();
    let title = format!("{metric_name} per depth range");
    canvas::figure(path, &title, &legend, |area| {
        let series: Vec<Series> = runs
            .iter()
            .enumerate()
            .map(|(i, (_, v))| Series {
                colour: PALETTE[i % PALETTE.len()],
                values: v,
                errors: None,
            })
            .collect();
        grouped_bars(
            area,
            range_labels,
            &series,
            "depth range",
            metric_name,
            &|_, _, v| format!("{v:.3}"),
        )
    })
}

/// Mean ± std of mean depth per scene type, dataset beside calibration set.
pub fn scene_means(
    path: &Path,
    names: &[String],
    full: (&[f64], &[f64]),
    set: (&[f64], &[f64]),
    n_full: usize,
    n_set: usize,
) -> Result<(), ReportError> {
    canvas::figure(
        path,
        "Average mean depth by scene type (± std)",
        &sides(n_full, n_set),
        |area| {
            let series = [
                Series {
                    colour: FULL,
                    values: full.0,
                    errors: Some(full.1),
                },
                Series {
                    colour: SET,
                    values: set.0,
                    errors: Some(set.1),
                },
            ];
            grouped_bars(
                area,
                names,
                &series,
                "scene type",
                "mean depth (m)",
                &|_, _, v| format!("{v:.1} m"),
            )
        },
    )
}

/// Box plots of mean depth, overall and per scene type: the dataset's box
/// left of the calibration set's (whiskers at 1.5 IQR, as the app draws).
pub fn boxes(path: &Path, c: &Charts) -> Result<(), ReportError> {
    let names: Vec<String> = c.boxes_full.iter().map(|b| b.label.clone()).collect();
    canvas::figure(
        path,
        "Mean depth: overall and per scene type",
        &sides(c.n_full, c.n_set),
        |area| {
            let top = c
                .boxes_full
                .iter()
                .chain(&c.boxes_set)
                .map(|b| b.upper)
                .fold(1.0f64, f64::max)
                * 1.08;
            let n = names.len().max(1) as f64;
            let mut chart = ChartBuilder::on(area)
                .margin(20)
                .x_label_area_size(60)
                .y_label_area_size(80)
                .build_cartesian_2d(-0.5..n - 0.5, 0.0..top)
                .map_err(err)?;
            category_mesh(&mut chart, &names, "", "mean depth (m)")?;
            let draw = |chart: &mut Chart, b: &BoxStats, x: f64, colour: RGBColor| {
                let w = 0.15;
                let line = INK.stroke_width(2);
                chart
                    .draw_series([
                        Rectangle::new([(x - w, b.q1), (x + w, b.q3)], colour.filled()),
                        Rectangle::new([(x - w, b.q1), (x + w, b.q3)], INK.stroke_width(1)),
                    ])
                    .map_err(err)?;
                chart
                    .draw_series([
                        PathElement::new(vec![(x - w, b.median), (x + w, b.median)], line),
                        PathElement::new(vec![(x, b.q3), (x, b.upper)], line),
                        PathElement::new(vec![(x, b.q1), (x, b.lower)], line),
                        PathElement::new(
                            vec![(x - w / 2.0, b.upper), (x + w / 2.0, b.upper)],
                            line,
                        ),
                        PathElement::new(
                            vec![(x - w / 2.0, b.lower), (x + w / 2.0, b.lower)],
                            line,
                        ),
                    ])
                    .map_err(err)
                    .map(|_| ())
            };
            for (i, b) in c.boxes_full.iter().enumerate() {
                draw(&mut chart, b, i as f64 - 0.18, FULL)?;
                if let Some(s) = c.boxes_set.iter().find(|s| s.label == b.label) {
                    draw(&mut chart, s, i as f64 + 0.18, SET)?;
                }
            }
            Ok(())
        },
    )
}

/// Cumulative share of samples by mean depth, both sides.
pub fn cdf(path: &Path, c: &Charts) -> Result<(), ReportError> {
    canvas::figure(
        path,
        "Cumulative distribution of mean depth",
        &sides(c.n_full, c.n_set),
        |area| {
            let x1 = c
                .cdf_full
                .iter()
                .chain(&c.cdf_set)
                .map(|p| p[0])
                .filter(|v| v.is_finite())
                .fold(1.0f64, f64::max)
                * 1.02;
            let mut chart = ChartBuilder::on(area)
                .margin(20)
                .x_label_area_size(60)
                .y_label_area_size(80)
                .build_cartesian_2d(0.0..x1, 0.0..1.02)
                .map_err(err)?;
            mesh(&mut chart, "mean depth (m)", "share of samples ≤ x")?;
            for (pts, colour) in [(&c.cdf_full, FULL), (&c.cdf_set, SET)] {
                // Steps: flat up to each value, then up.
                let mut steps = Vec::with_capacity(pts.len() * 2 + 1);
                let mut prev = 0.0;
                for p in pts.iter() {
                    steps.push((p[0], prev));
                    steps.push((p[0], p[1]));
                    prev = p[1];
                }
                chart
                    .draw_series(LineSeries::new(steps, colour.stroke_width(3)))
                    .map_err(err)?;
            }
            Ok(())
        },
    )
}

/// Mean against median depth per sample, with the y = x line.
pub fn scatter(path: &Path, c: &Charts) -> Result<(), ReportError> {
    let mut legend = sides(c.n_full, c.n_set);
    let diag = RGBColor(200, 40, 40);
    legend.push(("y = x".into(), diag));
    canvas::figure(path, "Mean vs median depth", &legend, |area| {
        let top = c
            .scatter_full
            .iter()
            .chain(&c.scatter_set)
            .flat_map(|p| [p[0], p[1]])
            .filter(|v| v.is_finite())
            .fold(1.0f64, f64::max)
            * 1.05;
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..top, 0.0..top)
            .map_err(err)?;
        mesh(&mut chart, "mean depth (m)", "median depth (m)")?;
        chart
            .draw_series(
                c.scatter_full
                    .iter()
                    .map(|p| Circle::new((p[0], p[1]), 3, FULL.filled())),
            )
            .map_err(err)?;
        chart
            .draw_series(
                c.scatter_set
                    .iter()
                    .map(|p| Circle::new((p[0], p[1]), 4, SET.filled())),
            )
            .map_err(err)?;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (top, top)],
                10,
                6,
                diag.stroke_width(2),
            ))
            .map_err(err)?;
        Ok(())
    })
}

/// Scene types as two pies, the dataset's and the calibration set's, with
/// each slice's percentage.
pub fn scene_pies(
    path: &Path,
    cat: &Categories,
    n_full: usize,
    n_set: usize,
) -> Result<(), ReportError> {
    let colours: Vec<RGBColor> = (0..cat.names.len())
        .map(|i| PALETTE[(i + 1) % PALETTE.len()])
        .collect();
    let legend: Vec<(String, RGBColor)> = cat.names.iter().cloned().zip(colours.clone()).collect();
    canvas::figure(path, "Scene types", &legend, |area| {
        let (left, right) = area.split_horizontally(canvas::WIDTH / 2);
        for (half, counts, what, n) in [
            (&left, &cat.full, "dataset", n_full),
            (&right, &cat.set, "calibration set", n_set),
        ] {
            let (w, h) = half.dim_in_pixel();
            let caption =
                TextStyle::from((FONT, 26).into_font())
                    .color(&INK)
                    .pos(text_anchor::Pos::new(
                        text_anchor::HPos::Center,
                        text_anchor::VPos::Top,
                    ));
            half.draw(&Text::new(
                format!("{what} (n = {n})"),
                (w as i32 / 2, 10),
                caption,
            ))
            .map_err(err)?;
            let sizes: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
            if sizes.iter().sum::<f64>() <= 0.0 {
                continue;
            }
            // Slices with no sample draw nothing and carry no label.
            let labels: Vec<String> = vec![String::new(); sizes.len()];
            // The pie is placed in the page's pixels, not the half's.
            let (bx, by) = half.get_base_pixel();
            let caption_h = 50;
            let centre = (
                bx + w as i32 / 2,
                by + caption_h + (h as i32 - caption_h) / 2,
            );
            let radius = ((w.min(h - caption_h as u32) as f64) / 2.0 - 30.0).max(40.0);
            let mut pie = Pie::new(&centre, &radius, &sizes, &colours, &labels);
            pie.start_angle(-90.0);
            pie.percentages((FONT, 24).into_font().color(&WHITE));
            half.draw(&pie).map_err(err)?;
        }
        Ok(())
    })
}

/// A grid of sample images, each titled with its file name; a file that
/// cannot be read shows why in its cell.
pub fn image_grid(
    path: &Path,
    title: &str,
    cells: &[(String, Result<image::RgbImage, String>)],
) -> Result<(), ReportError> {
    canvas::ensure_font()?;
    let (w, h) = (canvas::WIDTH, canvas::HEIGHT);
    let cols = 4u32;
    let rows = (cells.len() as u32).div_ceil(cols).max(1);
    let top = canvas::TITLE_H;
    let (cw, ch) = (w / cols, (h - top) / rows);
    let caption_h = 28;
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    // Thumbnails first, straight into the buffer; text on top.
    for (k, (_, img)) in cells.iter().enumerate() {
        let Ok(img) = img else { continue };
        let (cx, cy) = (
            (k as u32 % cols) * cw,
            top + (k as u32 / cols) * ch + caption_h,
        );
        let (bw, bh) = (cw - 12, ch - caption_h - 8);
        // Fitted inside the cell, aspect kept.
        let scale =
            (bw as f64 / img.width().max(1) as f64).min(bh as f64 / img.height().max(1) as f64);
        let tw = ((img.width() as f64 * scale).round() as u32).clamp(1, bw);
        let th = ((img.height() as f64 * scale).round() as u32).clamp(1, bh);
        let thumb = image::imageops::thumbnail(img, tw, th);
        let (ox, oy) = (
            cx + (cw - thumb.width()) / 2,
            cy + (bh - thumb.height()) / 2,
        );
        for (x, y, p) in thumb.enumerate_pixels() {
            let at = (((oy + y) * w + ox + x) * 3) as usize;
            rgb[at..at + 3].copy_from_slice(&p.0);
        }
    }
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        let title_style = TextStyle::from(
            (FONT, 34)
                .into_font()
                .style(plotters::style::FontStyle::Bold),
        )
        .color(&INK)
        .pos(text_anchor::Pos::new(
            text_anchor::HPos::Center,
            text_anchor::VPos::Center,
        ));
        root.draw(&Text::new(
            title.to_owned(),
            ((w / 2) as i32, (top / 2 + 4) as i32),
            title_style,
        ))
        .map_err(|e| ReportError::Draw(e.to_string()))?;
        let centred = |size: u32| {
            TextStyle::from((FONT, size).into_font())
                .color(&INK)
                .pos(text_anchor::Pos::new(
                    text_anchor::HPos::Center,
                    text_anchor::VPos::Top,
                ))
        };
        for (k, (name, img)) in cells.iter().enumerate() {
            let (cx, cy) = ((k as u32 % cols) * cw, top + (k as u32 / cols) * ch);
            let mid = (cx + cw / 2) as i32;
            let draw = |text: String, y: u32, size: u32| {
                root.draw(&Text::new(text, (mid, y as i32), centred(size)))
                    .map_err(|e| ReportError::Draw(e.to_string()))
            };
            draw(short(name, 30), cy + 4, 20)?;
            if let Err(why) = img {
                draw("cannot show this image:".into(), cy + ch / 2 - 12, 18)?;
                draw(short(why, 36), cy + ch / 2 + 10, 16)?;
            }
        }
        root.present()
            .map_err(|e| ReportError::Draw(e.to_string()))?;
    }
    canvas::write_png(path, &rgb)
}
