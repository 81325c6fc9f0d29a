//! The settings panel on the left: where the data is and how it is read,
//! the depth ranges the plots and the stratified strategy bin by, and how
//! depth is coloured.

use super::app::CalibApp;

/// A labelled number field.
pub fn num(ui: &mut egui::Ui, label: &str, v: &mut f64, speed: f64) -> bool {
    ui.horizontal(|ui| {
        let l = ui.label(label);
        ui.add(egui::DragValue::new(v).speed(speed).max_decimals(3))
            .labelled_by(l.id)
            .changed()
    })
    .inner
}

pub fn show(app: &mut CalibApp, ui: &mut egui::Ui) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Settings");
        let Some(ds) = &mut app.ds else {
            return;
        };
        egui::CollapsingHeader::new("Dataset")
            .default_open(true)
            .show(ui, |ui| {
                ui.label(format!("Folder: {}", ds.root.display()));
                if let Some(s) = &ds.split {
                    ui.label(format!("Split: {}", s.display()));
                }
                if let Some(m) = &ds.metadata_file {
                    ui.label(format!("Metadata: {}", m.display()));
                }
                ui.label(format!("Project: {}", ds.project_path.display()));
            });

        egui::CollapsingHeader::new("Depth ranges (bins on mean depth)")
            .default_open(true)
            .show(ui, |ui| {
                ui.weak("Used by the depth-range bars and the stratified strategy.");
                let mut changed = false;
                let n = ds.ranges.labels.len();
                let mut remove = None;
                for i in 0..n {
                    ui.horizontal(|ui| {
                        let l = ui.label(format!("bin {}", i + 1));
                        changed |= ui
                            .add(
                                egui::TextEdit::singleline(&mut ds.ranges.labels[i])
                                    .desired_width(70.0),
                            )
                            .labelled_by(l.id)
                            .changed();
                        let lo = ds.ranges.edges[i];
                        let hi_label = ui.label(format!("{lo} m to"));
                        let mut hi = ds.ranges.edges[i + 1];
                        if ui
                            .add(egui::DragValue::new(&mut hi).speed(0.1).range(lo..=1000.0))
                            .labelled_by(hi_label.id)
                            .on_hover_text(format!("upper edge of bin {}", i + 1))
                            .changed()
                        {
                            ds.ranges.edges[i + 1] = hi;
                            // Keep edges increasing.
                            for k in i + 2..ds.ranges.edges.len() {
                                if ds.ranges.edges[k] < hi {
                                    ds.ranges.edges[k] = hi;
                                }
                            }
                            changed = true;
                        }
                        if n > 1
                            && ui
                                .small_button("✖")
                                .on_hover_text(format!("Remove bin {}", i + 1))
                                .clicked()
                        {
                            remove = Some(i);
                        }
                    });
                }
                if let Some(i) = remove {
                    ds.ranges.labels.remove(i);
                    ds.ranges.edges.remove(i + 1);
                    changed = true;
                }
                ui.horizontal(|ui| {
                    if ui.button("Add bin").clicked() {
                        let last = *ds.ranges.edges.last().unwrap_or(&0.0);
                        ds.ranges.edges.push(last + 10.0);
                        ds.ranges
                            .labels
                            .push(format!("bin{}", ds.ranges.labels.len() + 1));
                        changed = true;
                    }
                    if ui.button("Seed's bins").clicked() {
                        ds.ranges = Default::default();
                        changed = true;
                    }
                });
                if changed {
                    ds.invalidate_charts();
                    ds.mark_dirty();
                }
            });

        egui::CollapsingHeader::new("Display")
            .default_open(true)
            .show(ui, |ui| {
                let [mut lo, mut hi] = app.persisted.depth_range.map(f64::from);
                let a = num(ui, "Depth colours from (m)", &mut lo, 0.05);
                let b = num(ui, "to (m)", &mut hi, 0.1);
                if a || b {
                    lo = lo.max(0.0);
                    hi = hi.max(lo + 0.1);
                    app.persisted.depth_range = [lo as f32, hi as f32];
                    if let Some(insp) = &mut app.inspector {
                        insp.recolor = true;
                    }
                }
                ui.horizontal(|ui| {
                    let l = ui.label("Tile width");
                    ui.add(
                        egui::Slider::new(&mut app.persisted.tile_width, 96.0..=320.0)
                            .suffix(" pt"),
                    )
                    .labelled_by(l.id);
                });
            });
    });
}
