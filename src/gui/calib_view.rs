//! The Calibration set view: the grid of the set, the candidates, the
//! excluded or the filtered view, with bulk actions.

use super::command::Command;
use super::curation::GridSource;
use super::dataset::{Dataset, StrategyKind};
use super::grid::{self, GridAction};
use super::thumbs::Thumbs;
use super::view::ViewCtx;

/// The Calibration set view: its export form and the grid's thumbnail loader.
#[derive(Default)]
pub struct CalibView {
    pub export: ExportForm,
    /// Created on first use with its disk cache; made again when the tile size changes.
    pub thumbs: Option<Thumbs>,
}

impl CalibView {
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewCtx) {
        let ppp = ui.ctx().pixels_per_point();
        let w = (ctx.persisted.tile_width * ppp).round() as u32;
        let size = [w, (w as f32 * 0.6).round() as u32];
        if self.thumbs.as_ref().is_some_and(|t| t.size() != size) {
            self.thumbs = None;
        }
        let cache = ctx.dirs.map(|d| d.cache.join("thumbs"));
        let thumbs = self.thumbs.get_or_insert_with(|| Thumbs::new(size, cache));
        show(&mut self.export, thumbs, ui, ctx);
    }
}

fn show(form: &mut ExportForm, thumbs: &mut Thumbs, ui: &mut egui::Ui, ctx: &mut ViewCtx) {
    let tile_w = ctx.persisted.tile_width;
    let ds = &mut *ctx.ds;
    let mut run = false;
    strategy_ui(
        ds,
        ui,
        &mut run,
        ctx.tasks.is_running(super::jobs::Kind::Select),
    );
    if let Some(r) = &ds.report {
        super::dist_view::check_ui(ui, r);
    }
    let mut export = None;
    let desktop = ctx.desktop;
    let cmds = ctx.cmds;
    egui::CollapsingHeader::new("Export the calibration set")
        .id_salt("export")
        .show(ui, |ui| {
            export = export_ui(form, ds.cur.set_len(), ui, desktop, cmds)
        });
    egui::CollapsingHeader::new(format!("Filters — {}", ds.filter.describe()))
        .id_salt("calib_filters")
        .default_open(false)
        .show(ui, |ui| super::scan_view::filters_ui(ds, ui));

    ui.horizontal_wrapped(|ui| {
        ui.label("Show:");
        let counts = source_counts(ds, &ds.view);
        let filtered = !ds.filter.is_empty();
        let totals = if filtered {
            let all: Vec<usize> = (0..ds.cur.rows.len()).collect();
            source_counts(ds, &all)
        } else {
            counts
        };
        for (k, s) in GridSource::ALL.into_iter().enumerate() {
            // The tab counts the whole set; the filter's share is said beside it.
            let text = if filtered {
                format!("{} ({}, {} in the filter)", s.label(), totals[k], counts[k])
            } else {
                format!("{} ({})", s.label(), counts[k])
            };
            if ui.selectable_label(ds.grid.source == s, text).clicked() {
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
        cmds.send(Command::Inspect(i));
    }
    if run && !ctx.tasks.is_running(super::jobs::Kind::Select) {
        super::tasks::run_selection(ds, cmds);
    }
    if let Some(e) = export {
        let dir = std::path::PathBuf::from(form.dir.trim());
        // The project remembers where its set goes.
        if ds.project.export_dir.as_ref() != Some(&dir) {
            ds.project.export_dir = Some(dir.clone());
            ds.mark_dirty();
        }
        let allow_absolute_roots = ctx.allow_absolute_roots;
        match e {
            Export::Split => super::tasks::export_split(ds, cmds, dir),
            Export::Copy => {
                let opts = crate::export::CopyOptions {
                    mode: form.mode,
                    allow_other_files: form.keep_other_files,
                    allow_absolute_roots,
                };
                super::tasks::copy_images(ds, cmds, super::tasks::images_dir(&dir), opts)
            }
            Export::Tensors => {
                let opts = crate::export::TensorOptions {
                    width: form.tensor_w,
                    height: form.tensor_h,
                    allow_absolute_roots,
                };
                super::tasks::export_tensors(ds, cmds, super::tasks::tensors_dir(&dir), opts)
            }
            Export::Report => super::tasks::export_report(ds, cmds, dir),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Export {
    Split,
    Copy,
    Tensors,
    Report,
}

fn strategy_ui(ds: &mut Dataset, ui: &mut egui::Ui, run: &mut bool, running: bool) {
    let st = &mut ds.strategy;
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        ui.strong("Strategy");
        for k in StrategyKind::ALL {
            changed |= ui
                .selectable_value(&mut st.kind, k, k.label())
                .on_hover_text(k.describe())
                .changed();
        }
        ui.separator();
        let l = ui.label("Target size");
        changed |= ui
            .add(egui::DragValue::new(&mut st.target).range(1..=100_000))
            .labelled_by(l.id)
            .changed();
        let usable = ds.cur.flags.iter().filter(|f| !f.excluded).count();
        if st.target > usable {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!("more than the {usable} usable samples: all of them will be taken"),
            );
        }
        let l = ui.label("Seed");
        changed |= ui
            .add(egui::DragValue::new(&mut st.seed))
            .labelled_by(l.id)
            .changed();
        let pins = ds.cur.flags.iter().filter(|f| f.pinned).count();
        let excl = ds.cur.flags.iter().filter(|f| f.excluded).count();
        if ui
            .add_enabled(!running, egui::Button::new("Run strategy"))
            .on_hover_text(format!(
                "Fills the set to the target around your {pins} pinned and {excl} excluded samples"
            ))
            .clicked()
        {
            *run = true;
        }
        if running {
            ui.spinner();
        }
    });
    if changed {
        ds.mark_dirty();
    }
    if let Some(sel) = &ds.selection {
        if !sel.plan.is_empty() {
            egui::CollapsingHeader::new(format!(
                "Plan of the last run ({} of {} samples)",
                sel.len(),
                sel.target
            ))
            .id_salt("plan")
            .show(ui, |ui| {
                egui::Grid::new("plan_table").striped(true).show(ui, |ui| {
                    for h in [
                        "bin",
                        "range",
                        "ratio",
                        "target",
                        "available",
                        "pinned",
                        "first pass",
                        "refilled",
                        "actual",
                    ] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for r in &sel.plan {
                        ui.label(&r.label);
                        ui.label(format!("{}–{}", r.lower, r.upper));
                        ui.label(format!("{:.0}%", r.ratio * 100.0));
                        ui.label(r.target.to_string());
                        ui.label(r.available.to_string());
                        ui.label(r.pinned.to_string());
                        ui.label(r.first_pass.to_string());
                        ui.label(r.refilled.to_string());
                        ui.label(r.actual.to_string());
                        ui.end_row();
                    }
                });
                for line in super::tasks::readable_notes(&sel.notes).lines() {
                    ui.label(line);
                }
            });
        }
    }
}

fn export_ui(
    form: &mut ExportForm,
    n: usize,
    ui: &mut egui::Ui,
    desktop: super::dialogs::DesktopSupport,
    cmds: &super::command::Commands,
) -> Option<Export> {
    let mut out = None;
    ui.horizontal(|ui| {
        super::start::path_field(ui, "Output folder", &mut form.dir, "/data/calibration_set");
        if ui.button("Browse output…").clicked() {
            match super::dialogs::pick(desktop, "Output folder", || {
                rfd::FileDialog::new().pick_folder()
            }) {
                Ok(Some(p)) => form.dir = p.display().to_string(),
                Ok(None) => {}
                Err(e) => cmds.error(e),
            }
        }
    });
    let ok = !form.dir.trim().is_empty() && n > 0;
    if form.dir.trim().is_empty() {
        ui.weak("Type or choose an output folder (outside the dataset).");
    } else {
        ui.weak(format!(
            "One folder for this set: the split and report at its top, the images and lists in {}, the tensors in {}.",
            super::tasks::IMAGES_SUBDIR,
            super::tasks::TENSORS_SUBDIR
        ));
    }
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(ok, egui::Button::new("Export split"))
            .on_hover_text("calibration_split.json in the seed's format")
            .clicked()
        {
            out = Some(Export::Split);
        }
        ui.separator();
        egui::ComboBox::from_label("Copy mode")
            .selected_text(format!("{:?}", form.mode).to_lowercase())
            .show_ui(ui, |ui| {
                use crate::export::LinkMode;
                for m in [LinkMode::Copy, LinkMode::Hardlink, LinkMode::Symlink] {
                    ui.selectable_value(&mut form.mode, m, format!("{m:?}").to_lowercase());
                }
            });
        ui.checkbox(&mut form.keep_other_files, "Keep other files")
            .on_hover_text("Copy although the images folder holds files calibscope did not write (they stay)");
        if ui
            .add_enabled(ok, egui::Button::new("Copy images"))
            .on_hover_text("The images named as the seed names them, with image_list.txt, image_filenames.txt, calibration_metadata.json and dataset.txt")
            .clicked()
        {
            out = Some(Export::Copy);
        }
        ui.separator();
        let l = ui.label("Tensor size");
        ui.add(egui::DragValue::new(&mut form.tensor_w).range(1..=8192))
            .labelled_by(l.id);
        let l = ui.label("×");
        ui.add(egui::DragValue::new(&mut form.tensor_h).range(1..=8192))
            .labelled_by(l.id);
        if ui
            .add_enabled(ok, egui::Button::new("Export tensors"))
            .on_hover_text("One .npy per image: float32 [1,3,H,W], RGB in [0,1], plus tensor_list.txt")
            .clicked()
        {
            out = Some(Export::Tensors);
        }
        ui.separator();
        if ui
            .add_enabled(ok, egui::Button::new("Export report"))
            .on_hover_text("calibration_statistics.json and the Distribution view's plots as PNG files")
            .clicked()
        {
            out = Some(Export::Report);
        }
    });
    out
}

fn source_counts(ds: &Dataset, rows: &[usize]) -> [usize; 4] {
    let mut c = [0; 4];
    for &i in rows {
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

/// What the export section's fields hold.
#[derive(Debug, Clone)]
pub struct ExportForm {
    pub dir: String,
    pub mode: crate::export::LinkMode,
    /// Copy beside files calibscope did not write.
    pub keep_other_files: bool,
    pub tensor_w: u32,
    pub tensor_h: u32,
}

impl Default for ExportForm {
    fn default() -> Self {
        Self {
            dir: String::new(),
            mode: crate::export::LinkMode::Copy,
            keep_other_files: false,
            tensor_w: 640,
            tensor_h: 384,
        }
    }
}
