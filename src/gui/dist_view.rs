//! The Distribution view: the current view of the dataset against the
//! calibration set, in every chart the seed's analysis draws, and the
//! distribution check (KS, Wasserstein-1, the largest gap in words).

use super::charts::Charts;
use super::columns::Stat;
use super::curation::GridSource;
use super::plots;
use super::state::View;
use super::view::ViewCtx;
use crate::distribution::DistributionReport;

/// Chart titles, in drawing order.
const CHARTS: [&str; 8] = [
    "Mean depth histogram (click a bar to filter)",
    "Cumulative distribution of mean depth",
    "Mean depth: overall and per scene type",
    "Depth ranges",
    "Scene types",
    "Depth folders",
    "Mean vs median depth",
    "Valid-pixel ratio (click a bar to filter)",
];

/// The Distribution view (its state is the dataset's charts).
#[derive(Debug, Default)]
pub struct DistView;

impl DistView {
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewCtx) {
        show(ui, ctx);
    }
}

fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx) {
    let ds = &mut *ctx.ds;
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
    if let Some(r) = &ds.report {
        check_ui(ui, r);
    }
    ui.separator();
    let mut filter_to: Option<(Stat, f64, f64)> = None;
    let c = &ds.charts;
    egui::ScrollArea::vertical().show(ui, |ui| {
        let two = ui.available_width() > 760.0;
        let w = ((ui.available_width() - 16.0) / 2.0).max(200.0);
        for pair in 0..4 {
            let mut cell = |ui: &mut egui::Ui, k: usize| {
                ui.vertical(|ui| {
                    if two {
                        ui.set_width(w);
                    }
                    ui.strong(CHARTS[k]);
                    draw(ui, k, c, &mut filter_to);
                });
            };
            if two {
                ui.horizontal_top(|ui| {
                    cell(ui, 2 * pair);
                    cell(ui, 2 * pair + 1);
                });
            } else {
                cell(ui, 2 * pair);
                cell(ui, 2 * pair + 1);
            }
            ui.add_space(8.0);
        }
    });
    if let Some((stat, lo, hi)) = filter_to {
        ds.filter.set_range(stat, lo, hi);
        ds.grid.source = GridSource::All;
        ds.mark_dirty();
        // Say why the page changed under the pointer, and how to go back.
        ctx.cmds.send(super::command::Command::ShowView(
            View::Calibration,
            format!(
                "You clicked a bar: showing the samples with {} from {lo:.2} to {hi:.2} in the Calibration set view (filter set; clear it in Filters, or go back with the Distribution tab).",
                stat.name(),
            ),
        ));
    }
}

fn draw(ui: &mut egui::Ui, k: usize, c: &Charts, filter_to: &mut Option<(Stat, f64, f64)>) {
    match k {
        0 => {
            if let Some(b) = plots::histogram(ui, "mean_hist", &c.mean_hist, c, "mean depth", " m")
            {
                *filter_to = Some((
                    Stat::MeanDepth,
                    c.mean_hist.edges[b],
                    c.mean_hist.edges[b + 1],
                ));
            }
        }
        1 => plots::cdf(ui, c),
        2 => plots::boxes(ui, c),
        3 => plots::categories(ui, "ranges", &c.ranges, c, "depth range"),
        4 => plots::categories(ui, "scenes", &c.scenes, c, "scene type"),
        5 => plots::categories(ui, "folders", &c.folders, c, "depth folder"),
        6 => plots::scatter(ui, c),
        _ => {
            if let Some(b) =
                plots::histogram(ui, "valid_hist", &c.valid_hist, c, "valid-pixel ratio", "")
            {
                *filter_to = Some((
                    Stat::ValidRatio,
                    c.valid_hist.edges[b],
                    c.valid_hist.edges[b + 1],
                ));
            }
        }
    }
}

/// The distribution check of the set against the whole split.
pub fn check_ui(ui: &mut egui::Ui, r: &DistributionReport) {
    ui.horizontal_wrapped(|ui| {
        ui.strong("Distribution check (set vs whole split):");
        if r.n_selected == 0 {
            ui.label("the calibration set is empty.");
            return;
        }
        ui.label(format!(
            "KS {} · Wasserstein-1 {} m on {} · {} of {} samples.",
            r.ks.map_or("–".to_owned(), |v| format!("{v:.3}")),
            r.wasserstein1.map_or("–".to_owned(), |v| format!("{v:.2}")),
            r.column.name(),
            r.n_selected,
            r.n_data
        ))
        .on_hover_text("KS: largest gap between the two cumulative distributions (0 = identical). Wasserstein-1: average distance mean depth must move to turn one distribution into the other.");
        if let Some(g) = &r.largest_gap {
            ui.label(format!("Largest gap: {}.", g.sentence));
        }
        if !r.missing_scene_types.is_empty() {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("Scene types missing from the set: {}.", r.missing_scene_types.join(", ")),
            );
        }
        if !r.missing_depth_folders.is_empty() {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("Depth folders missing from the set: {}.", r.missing_depth_folders.join(", ")),
            );
        }
    });
}
