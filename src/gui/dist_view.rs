//! The Distribution view: the current view of the dataset against the
//! calibration set, in every chart the seed's analysis draws.

use super::app::{CalibApp, View};
use super::columns::Stat;
use super::curation::GridSource;
use super::plots;

pub fn show(app: &mut CalibApp, ui: &mut egui::Ui) {
    let Some(ds) = &mut app.ds else {
        return;
    };
    let c = &ds.charts;
    ui.horizontal_wrapped(|ui| {
        ui.label(format!(
            "{} samples in view{}, {} of them in the calibration set.",
            c.n_full,
            if ds.filter.is_empty() {
                String::new()
            } else {
                format!(" ({})", ds.filter.describe())
            },
            c.n_set
        ));
        ui.colored_label(plots::FULL, "■ dataset");
        ui.colored_label(plots::SET, "■ calibration set");
    });
    let mut filter_to: Option<(Stat, f64, f64)> = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        let c = &ds.charts;
        let w = ((ui.available_width() - 16.0) / 2.0).max(200.0);
        let two = ui.available_width() > 760.0;
        row(
            ui,
            (two, w),
            &mut |ui| {
                cell(ui, (two, w), "Mean depth histogram", &mut |ui| {
                    if let Some(b) =
                        plots::histogram(ui, "mean_hist", &c.mean_hist, c, "mean depth", " m")
                    {
                        filter_to = Some((
                            Stat::MeanDepth,
                            c.mean_hist.edges[b],
                            c.mean_hist.edges[b + 1],
                        ));
                    }
                })
            },
            &mut |ui| {
                cell(
                    ui,
                    (two, w),
                    "Cumulative distribution of mean depth",
                    &mut |ui| plots::cdf(ui, c),
                )
            },
        );
        row(
            ui,
            (two, w),
            &mut |ui| {
                cell(
                    ui,
                    (two, w),
                    "Mean depth: overall and per scene type",
                    &mut |ui| plots::boxes(ui, c),
                )
            },
            &mut |ui| {
                cell(ui, (two, w), "Depth ranges", &mut |ui| {
                    plots::categories(ui, "ranges", &c.ranges, c, "depth range")
                })
            },
        );
        row(
            ui,
            (two, w),
            &mut |ui| {
                cell(ui, (two, w), "Scene types", &mut |ui| {
                    plots::categories(ui, "scenes", &c.scenes, c, "scene type")
                })
            },
            &mut |ui| {
                cell(ui, (two, w), "Depth folders", &mut |ui| {
                    plots::categories(ui, "folders", &c.folders, c, "depth folder")
                })
            },
        );
        row(
            ui,
            (two, w),
            &mut |ui| {
                cell(ui, (two, w), "Mean vs median depth", &mut |ui| {
                    plots::scatter(ui, c)
                })
            },
            &mut |ui| {
                cell(ui, (two, w), "Valid-pixel ratio", &mut |ui| {
                    if let Some(b) = plots::histogram(
                        ui,
                        "valid_hist",
                        &c.valid_hist,
                        c,
                        "valid-pixel ratio",
                        "",
                    ) {
                        filter_to = Some((
                            Stat::ValidRatio,
                            c.valid_hist.edges[b],
                            c.valid_hist.edges[b + 1],
                        ));
                    }
                })
            },
        );
    });
    if let Some((stat, lo, hi)) = filter_to {
        ds.filter.set_range(stat, lo, hi);
        ds.grid.source = GridSource::All;
        ds.mark_dirty();
        app.view = View::Calibration;
    }
}

type Lay = (bool, f32);

fn cell(ui: &mut egui::Ui, (two, w): Lay, title: &str, f: &mut dyn FnMut(&mut egui::Ui)) {
    ui.vertical(|ui| {
        if two {
            ui.set_width(w);
        }
        ui.strong(title);
        f(ui);
    });
}

fn row(
    ui: &mut egui::Ui,
    (two, _): Lay,
    a: &mut dyn FnMut(&mut egui::Ui),
    b: &mut dyn FnMut(&mut egui::Ui),
) {
    if two {
        ui.horizontal_top(|ui| {
            a(ui);
            b(ui);
        });
    } else {
        a(ui);
        b(ui);
    }
    ui.add_space(8.0);
}
