//! The Calibration set view: the grid of the set, the candidates, the
//! excluded or the filtered view, with bulk actions.

use super::app::{CalibApp, Dataset};
use super::curation::GridSource;
use super::grid::{self, GridAction};

pub fn show(app: &mut CalibApp, ui: &mut egui::Ui) {
    let ppp = ui.ctx().pixels_per_point();
    let tile_w = app.persisted.tile_width;
    app.thumbs(ppp);
    let Some(ds) = &mut app.ds else {
        return;
    };
    let thumbs = app.thumbs.as_mut().expect("created above");

    egui::CollapsingHeader::new(format!("Filters — {}", ds.filter.describe()))
        .id_salt("calib_filters")
        .default_open(false)
        .show(ui, |ui| super::scan_view::filters_ui(ds, ui));

    ui.horizontal_wrapped(|ui| {
        ui.label("Show:");
        let counts = source_counts(ds);
        for (k, s) in GridSource::ALL.into_iter().enumerate() {
            if ui
                .selectable_label(
                    ds.grid.source == s,
                    format!("{} ({})", s.label(), counts[k]),
                )
                .clicked()
            {
                ds.grid.source = s;
                ds.grid.selected.clear();
                ds.grid.cursor = None;
            }
        }
    });
    let mut actions = Vec::new();
    ui.horizontal_wrapped(|ui| {
        let list = ds.grid.list.clone();
        if ui
            .add_enabled(!list.is_empty(), egui::Button::new("Include all in view"))
            .on_hover_text("Put every tile shown below into the calibration set")
            .clicked()
        {
            ds.cur.include_all(&list);
            ds.mark_dirty();
        }
        if ui
            .add_enabled(!list.is_empty(), egui::Button::new("Exclude all in view"))
            .on_hover_text("Exclude every tile shown below for good")
            .clicked()
        {
            ds.cur.exclude_all(&list);
            ds.mark_dirty();
        }
        ui.separator();
        let sel: Vec<usize> = ds.grid.selected.iter().copied().collect();
        ui.label(format!("{} selected", sel.len()));
        if !sel.is_empty() {
            if ui.button("Toggle selected").clicked() {
                actions.push(GridAction::ToggleSet(sel.clone()));
            }
            if ui.button("Exclude selected").clicked() {
                actions.push(GridAction::Exclude(sel.clone()));
            }
            if ui.button("Pin selected").clicked() {
                actions.push(GridAction::Pin(sel));
            }
            if ui.button("Clear selection").clicked() {
                ds.grid.selected.clear();
            }
        }
        ui.weak("Keys: arrows move, shift+arrows extend, space toggles, x excludes, p pins.");
    });
    ui.separator();
    if ds.grid.list.is_empty() {
        ui.label(match ds.grid.source {
            GridSource::Set => "The calibration set is empty: include tiles from the candidates, or change the filter.",
            GridSource::Excluded => "Nothing is excluded.",
            _ => "No samples match the filter.",
        });
    }
    actions.extend(grid::show(ds, thumbs, ui, tile_w));
    let mut inspect = None;
    for a in actions {
        match a {
            GridAction::Inspect(i) => inspect = Some(i),
            other => apply(ds, other),
        }
    }
    if let Some(i) = inspect {
        super::inspector::open(app, i);
    }
}

fn source_counts(ds: &Dataset) -> [usize; 4] {
    let mut c = [0; 4];
    for &i in &ds.view {
        let f = ds.cur.flags[i];
        for (k, s) in GridSource::ALL.into_iter().enumerate() {
            if s.admits(f) {
                c[k] += 1;
            }
        }
    }
    c
}

/// Applies a grid action to the curation. For several samples: if all already
/// have the state, it is taken back from all; otherwise all get it.
pub fn apply(ds: &mut Dataset, a: GridAction) {
    let cur = &mut ds.cur;
    match a {
        GridAction::ToggleSet(v) => {
            let all = v.iter().all(|&i| cur.flags[i].in_set);
            for i in v {
                if cur.flags[i].in_set == all {
                    cur.toggle_in_set(i);
                }
            }
        }
        GridAction::Exclude(v) => {
            let all = v.iter().all(|&i| cur.flags[i].excluded);
            for i in v {
                if cur.flags[i].excluded == all {
                    cur.toggle_excluded(i);
                }
            }
        }
        GridAction::Pin(v) => {
            let all = v.iter().all(|&i| cur.flags[i].pinned);
            for i in v {
                if cur.flags[i].pinned == all {
                    cur.toggle_pinned(i);
                }
            }
        }
        GridAction::Inspect(_) => return,
    }
    ds.mark_dirty();
}
