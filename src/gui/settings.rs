//! The settings panel on the left: how the dataset is read (image folder,
//! the ordered depth-folder list, depth encoding, scene thresholds), the
//! bins and ratios the plots and the stratified strategy use, and how depth
//! is coloured.

use super::view::ViewCtx;
use crate::dataset::DatasetSettings;
use crate::depth::DepthEncoding;
use crate::select::Bins;

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

/// Editor of the scan settings; returns true when something changed.
pub fn dataset_settings_ui(
    ui: &mut egui::Ui,
    s: &mut DatasetSettings,
    new_folder: &mut String,
) -> bool {
    let mut changed = false;
    ui.horizontal(|ui| {
        let l = ui.label("Image folder");
        changed |= ui
            .add(egui::TextEdit::singleline(&mut s.image_folder).desired_width(110.0))
            .labelled_by(l.id)
            .changed();
    });
    ui.label("Depth folders, first found wins:");
    let n = s.depth_folders.len();
    let mut op: Option<(usize, i32)> = None;
    for (i, f) in s.depth_folders.iter().enumerate() {
        ui.horizontal(|ui| {
            // Buttons first, always in the same place; the name takes what is left.
            let up = ui
                .add_enabled(i > 0, egui::Button::new("⏶").small())
                .on_hover_text("higher priority")
                .accessible_name(format!("Move {f} up"));
            if up.clicked() {
                op = Some((i, -1));
            }
            let down = ui
                .add_enabled(i + 1 < n, egui::Button::new("⏷").small())
                .on_hover_text("lower priority")
                .accessible_name(format!("Move {f} down"));
            if down.clicked() {
                op = Some((i, 1));
            }
            if ui
                .small_button("✖")
                .on_hover_text(format!("remove {f}"))
                .accessible_name(format!("Remove {f}"))
                .clicked()
            {
                op = Some((i, 0));
            }
            ui.add(egui::Label::new(format!("{}. {f}", i + 1)).truncate())
                .on_hover_text(f.as_str());
        });
    }
    match op {
        Some((i, 0)) => {
            s.depth_folders.remove(i);
            changed = true;
        }
        Some((i, d)) => {
            s.depth_folders.swap(i, (i as i32 + d) as usize);
            changed = true;
        }
        None => {}
    }
    ui.horizontal(|ui| {
        let l = ui.label("Add folder");
        ui.add(
            egui::TextEdit::singleline(new_folder)
                .desired_width(120.0)
                .hint_text("newest_original_depth_maps"),
        )
        .labelled_by(l.id);
        if ui.button("Add").clicked() && !new_folder.trim().is_empty() {
            s.depth_folders.push(new_folder.trim().to_owned());
            new_folder.clear();
            changed = true;
        }
    });
    egui::ComboBox::from_label("Depth encoding")
        .selected_text(s.depth_encoding.name())
        .show_ui(ui, |ui| {
            for e in DepthEncoding::ALL {
                changed |= ui
                    .selectable_value(&mut s.depth_encoding, e, e.name())
                    .on_hover_text(e.describe())
                    .changed();
            }
        });
    ui.weak(s.depth_encoding.describe());
    changed |= num(ui, "Indoor below (m)", &mut s.indoor_below, 0.1);
    changed |= num(ui, "Outdoor near below (m)", &mut s.near_below, 0.1);
    changed |= ui
        .checkbox(&mut s.allow_absolute_roots, "Allow paths outside the root")
        .changed();
    changed
}

/// Editor of the bins and their target ratios.
pub fn bins_ui(ui: &mut egui::Ui, b: &mut Bins) -> bool {
    let mut changed = false;
    let n = b.labels.len();
    let mut remove = None;
    // Wide enough for the longest name (e.g. "very_far"): a grid cell alone
    // would squeeze the field to last frame's column width and cut the name.
    let font = egui::TextStyle::Body.resolve(ui.style());
    let name_w = b
        .labels
        .iter()
        .map(|l| {
            ui.fonts_mut(|f| {
                f.layout_no_wrap(l.clone(), font.clone(), egui::Color32::WHITE)
                    .size()
                    .x
            })
        })
        .fold(40.0_f32, f32::max)
        + 2.0 * ui.spacing().button_padding.x
        + 4.0;
    egui::Grid::new("bins_grid").show(ui, |ui| {
        ui.weak("name");
        ui.weak("up to (m)");
        ui.weak("ratio %");
        ui.end_row();
        for i in 0..n {
            changed |= ui
                .add(
                    egui::TextEdit::singleline(&mut b.labels[i])
                        .desired_width(name_w)
                        .min_size(egui::vec2(name_w, 0.0)),
                )
                .on_hover_text(format!("name of bin {}", i + 1))
                .accessible_name(format!("Name of bin {}", i + 1))
                .changed();
            let lo = b.edges[i];
            let mut hi = b.edges[i + 1];
            if ui
                .add(
                    egui::DragValue::new(&mut hi)
                        .speed(0.1)
                        .range(lo + 0.01..=10_000.0),
                )
                .on_hover_text(format!("bin {} covers ({lo}, this] m", i + 1))
                .accessible_name(format!("Upper edge of bin {}", i + 1))
                .changed()
            {
                b.edges[i + 1] = hi;
                for k in i + 2..b.edges.len() {
                    if b.edges[k] <= b.edges[k - 1] {
                        b.edges[k] = b.edges[k - 1] + 0.01;
                    }
                }
                changed = true;
            }
            let mut pct = b.ratios[i] * 100.0;
            if ui
                .add(
                    egui::DragValue::new(&mut pct)
                        .speed(0.5)
                        .range(0.0..=100.0)
                        .max_decimals(2),
                )
                .accessible_name(format!("Ratio of bin {}", i + 1))
                .changed()
            {
                b.ratios[i] = pct / 100.0;
                changed = true;
            }
            if n > 1
                && ui
                    .small_button("✖")
                    .accessible_name(format!("Remove bin {}", i + 1))
                    .clicked()
            {
                remove = Some(i);
            }
            ui.end_row();
        }
    });
    if let Some(i) = remove {
        b.labels.remove(i);
        b.edges.remove(i + 1);
        b.ratios.remove(i);
        changed = true;
    }
    let sum: f64 = b.ratios.iter().sum();
    if (sum - 1.0).abs() > 1e-6 {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "Ratios add up to {:.1}%, not 100%: the stratified strategy will refuse them.",
                sum * 100.0
            ),
        );
    }
    ui.horizontal(|ui| {
        if ui.button("Add bin").clicked() {
            let last = *b.edges.last().unwrap_or(&0.0);
            b.edges.push(last + 10.0);
            b.labels.push(format!("bin{}", b.labels.len() + 1));
            b.ratios.push(0.0);
            changed = true;
        }
        if ui
            .button("Seed's bins")
            .on_hover_text("0/3/8/15/100 m, 25/40/25/10 %")
            .clicked()
        {
            *b = Bins::default();
            changed = true;
        }
    });
    changed
}

/// The left panel: how the dataset is read, the bins, display choices.
#[derive(Debug, Default)]
pub struct SettingsPanel {
    /// The "add depth folder" field.
    pub new_folder: String,
}

impl SettingsPanel {
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewCtx) {
        show(&mut self.new_folder, ui, ctx);
    }
}

fn show(new_folder: &mut String, ui: &mut egui::Ui, ctx: &mut ViewCtx) {
    let mut rescan = false;
    let persisted = &mut *ctx.persisted;
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Settings");
        let ds = &mut *ctx.ds;
        egui::CollapsingHeader::new("Dataset")
            .default_open(true)
            .show(ui, |ui| {
                ui.add(egui::Label::new(format!("Folder: {}", ds.root.display())).wrap());
                if let Some(s) = &ds.split {
                    ui.label(format!("Split: {}", s.display()));
                }
                if let Some(m) = &ds.metadata_file {
                    ui.add(egui::Label::new(format!("Metadata: {}", m.display())).wrap());
                }
            });
        egui::CollapsingHeader::new("How the dataset is read")
            .default_open(true)
            .show(ui, |ui| {
                if dataset_settings_ui(ui, &mut ds.settings, new_folder) {
                    ds.mark_dirty();
                }
                if ds.split.is_some() {
                    if ui
                        .button("Rescan with these settings")
                        .on_hover_text("Unchanged files come from the scan cache; your curation is kept")
                        .clicked()
                    {
                        rescan = true;
                    }
                } else {
                    ui.weak("Opened from a metadata file: open the split to rescan.");
                }
            });
        egui::CollapsingHeader::new("Bins and ratios")
            .default_open(true)
            .show(ui, |ui| {
                ui.weak("On mean depth; used by the depth-range bars, the tile badges and the stratified strategy.");
                if bins_ui(ui, &mut ds.strategy.bins) {
                    ds.invalidate_charts();
                    ds.mark_dirty();
                }
            });
        egui::CollapsingHeader::new("Display")
            .default_open(true)
            .show(ui, |ui| {
                // The inspector sees the new range and recolours.
                let [mut lo, mut hi] = persisted.depth_range.map(f64::from);
                let a = num(ui, "Depth colours from (m)", &mut lo, 0.05);
                let b = num(ui, "to (m)", &mut hi, 0.1);
                if a || b {
                    lo = lo.max(0.0);
                    hi = hi.max(lo + 0.1);
                    persisted.depth_range = [lo as f32, hi as f32];
                }
                ui.horizontal(|ui| {
                    let l = ui.label("Tile width");
                    ui.add(egui::Slider::new(&mut persisted.tile_width, 96.0..=320.0).suffix(" pt"))
                        .labelled_by(l.id);
                });
            });
    });
    if rescan {
        super::tasks::rescan(ctx.ds, ctx.cache_dir(), ctx.cmds);
    }
}
