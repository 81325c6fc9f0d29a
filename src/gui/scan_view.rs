//! The Scan view: live progress, the filter controls that define the current
//! view, the virtualised sortable table of samples, and the skipped list.

use egui_extras::{Column as TCol, TableBuilder};

use super::columns::{Column, Stat};
use super::command::Command;
use super::dataset::Dataset;
use super::view::ViewCtx;

/// The Scan view (all its state is the dataset's: filter, sort).
#[derive(Debug, Default)]
pub struct ScanView;

impl ScanView {
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewCtx) {
        show(ui, ctx);
    }
}

fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx) {
    if let Some(job) = ctx.tasks.get(super::jobs::Kind::Load) {
        let s = job.progress.snapshot();
        ui.horizontal(|ui| {
            ui.label(format!("{}…", s.stage));
            ui.add(
                egui::ProgressBar::new(s.fraction())
                    .show_percentage()
                    .desired_width(300.0),
            );
            ui.label(format!("{} of {} · {} skipped", s.done, s.total, s.skipped));
        });
    }
    let ds = &mut *ctx.ds;
    egui::CollapsingHeader::new(format!("Filters — {}", ds.filter.describe()))
        .id_salt("filters")
        .default_open(true)
        .show(ui, |ui| filters_ui(ds, ui));
    if !ds.skipped.is_empty() {
        egui::CollapsingHeader::new(format!("Skipped samples ({})", ds.skipped.len()))
            .id_salt("skipped")
            .show(ui, |ui| skipped_ui(ds, ui));
    }
    ui.separator();
    ui.label(format!(
        "{} of {} samples in view. Click a header to sort, a row to inspect.",
        ds.view.len(),
        ds.cur.rows.len()
    ));
    let open = table_ui(ds, ui);
    if let Some(i) = open {
        ctx.cmds.send(Command::Inspect(i));
    }
}

/// Scene-type and depth-folder toggles, and ranges on any statistic.
pub fn filters_ui(ds: &mut Dataset, ui: &mut egui::Ui) {
    let (scenes, folders) = ds.cur.categories();
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        ui.label("Scene type:");
        for s in &scenes {
            let mut shown = !ds.filter.hidden_scenes.contains(s);
            if ui.checkbox(&mut shown, s).changed() {
                if shown {
                    ds.filter.hidden_scenes.remove(s);
                } else {
                    ds.filter.hidden_scenes.insert(s.clone());
                }
                changed = true;
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label("Depth folder:");
        for f in &folders {
            let mut shown = !ds.filter.hidden_folders.contains(f);
            if ui.checkbox(&mut shown, f).changed() {
                if shown {
                    ds.filter.hidden_folders.remove(f);
                } else {
                    ds.filter.hidden_folders.insert(f.clone());
                }
                changed = true;
            }
        }
    });
    let mut remove = None;
    for (k, rf) in ds.filter.ranges.iter_mut().enumerate() {
        ui.horizontal(|ui| {
            egui::ComboBox::from_id_salt(("range_stat", k))
                .selected_text(rf.stat.name())
                .show_ui(ui, |ui| {
                    for s in Stat::ALL {
                        changed |= ui.selectable_value(&mut rf.stat, s, s.name()).changed();
                    }
                })
                .response
                .on_hover_text("statistic to filter on");
            let l = ui.label("from");
            changed |= ui
                .add(egui::DragValue::new(&mut rf.min).speed(0.1).max_decimals(3))
                .labelled_by(l.id)
                .changed();
            let l = ui.label("to");
            changed |= ui
                .add(egui::DragValue::new(&mut rf.max).speed(0.1).max_decimals(3))
                .labelled_by(l.id)
                .changed();
            if ui.button("Remove range").clicked() {
                remove = Some(k);
            }
        });
    }
    if let Some(k) = remove {
        ds.filter.ranges.remove(k);
        changed = true;
    }
    ui.horizontal(|ui| {
        if ui.button("Add range filter").clicked() {
            // Start from the full extent of mean depth, so adding changes nothing until edited.
            let (lo, hi) = extent(ds, Stat::MeanDepth);
            ds.filter.set_range(Stat::MeanDepth, lo, hi);
            changed = true;
        }
        if !ds.filter.is_empty() && ui.button("Clear filters").clicked() {
            ds.filter = Default::default();
            changed = true;
        }
    });
    if changed {
        ds.mark_dirty();
    }
}

fn extent(ds: &Dataset, stat: Stat) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for r in &ds.cur.rows {
        let v = stat.value(r);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo.is_finite() {
        (lo, hi)
    } else {
        (0.0, 0.0)
    }
}

fn skipped_ui(ds: &Dataset, ui: &mut egui::Ui) {
    let row_h = ui.text_style_height(&egui::TextStyle::Body);
    egui::ScrollArea::vertical()
        .id_salt("skipped_scroll")
        .max_height(160.0)
        .show_rows(ui, row_h, ds.skipped.len(), |ui, range| {
            for (sample, reason) in &ds.skipped[range] {
                ui.label(format!("{sample}: {reason}"));
            }
        });
}

/// The table; returns a row to open in the inspector.
fn table_ui(ds: &mut Dataset, ui: &mut egui::Ui) -> Option<usize> {
    let cols = Column::all();
    let mut clicked_header = None;
    let mut open = None;
    let row_h = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    let sort = ds.table.sort;
    let order = &ds.table.order;
    let rows = &ds.cur.rows;
    let flags = &ds.cur.flags;
    egui::ScrollArea::horizontal()
        .id_salt("table_h")
        .show(ui, |ui| {
            let mut tb = TableBuilder::new(ui)
                .id_salt("samples")
                .striped(true)
                .sense(egui::Sense::click())
                .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
                .column(TCol::exact(28.0));
            for c in &cols {
                let w = match c {
                    Column::DatasetRoot | Column::ImagePath | Column::DepthPath => 200.0,
                    Column::Filename | Column::DepthVariant => 120.0,
                    Column::SceneType => 100.0,
                    Column::Stat(_) => 86.0,
                };
                tb = tb.column(TCol::initial(w).resizable(true).clip(true));
            }
            tb.header(row_h + 2.0, |mut h| {
                h.col(|ui| {
                    ui.strong("set")
                        .on_hover_text("✔ in the calibration set, 📌 pinned, ✖ excluded");
                });
                for &c in &cols {
                    h.col(|ui| {
                        // The arrow goes first: a narrow column truncates the end.
                        let arrow = match sort {
                            Some((s, true)) if s == c => "⏶ ",
                            Some((s, false)) if s == c => "⏷ ",
                            _ => "",
                        };
                        if ui
                            .add(
                                egui::Button::new(
                                    egui::RichText::new(format!("{arrow}{}", c.name())).strong(),
                                )
                                .frame(false),
                            )
                            .on_hover_text(format!("sort by {}", c.name()))
                            .clicked()
                        {
                            clicked_header = Some(c);
                        }
                    });
                }
            })
            .body(|body| {
                body.rows(row_h, order.len(), |mut row| {
                    let i = order[row.index()];
                    let r = &rows[i];
                    let f = flags[i];
                    row.col(|ui| {
                        let mark = if f.pinned {
                            "📌"
                        } else if f.in_set {
                            "✔"
                        } else if f.excluded {
                            "✖"
                        } else {
                            ""
                        };
                        ui.label(mark);
                    });
                    for &c in &cols {
                        row.col(|ui| {
                            ui.add(egui::Label::new(c.text(r)).selectable(false).truncate());
                        });
                    }
                    if row.response().clicked() {
                        open = Some(i);
                    }
                });
            });
        });
    if let Some(c) = clicked_header {
        ds.table.sort = match ds.table.sort {
            Some((s, true)) if s == c => Some((c, false)),
            Some((s, false)) if s == c => None,
            _ => Some((c, true)),
        };
    }
    open
}
