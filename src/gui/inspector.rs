//! The inspector: one sample up close — its RGB image, its statistics and
//! paths, and its curation buttons. Images load off the UI thread.

use egui::{ColorImage, TextureHandle, TextureOptions};

use super::app::CalibApp;
use super::grid::GridAction;
use super::jobs::Job;
use crate::metadata::SampleKey;

/// What the background loader hands back.
pub struct Pictures {
    pub rgb: Result<ColorImage, String>,
}

pub struct Inspector {
    pub row: usize,
    pub key: SampleKey,
    job: Option<Job<Pictures>>,
    rgb: Option<Result<TextureHandle, String>>,
    /// Share of the depth overlay drawn over the RGB image.
    pub overlay: f32,
    /// Depth colours must be redone (range changed).
    pub recolor: bool,
}

/// Opens (or retargets) the inspector on row `i`.
pub fn open(app: &mut CalibApp, i: usize) {
    let Some(ds) = &app.ds else {
        return;
    };
    let r = &ds.cur.rows[i];
    let key = r.key();
    if app.inspector.as_ref().is_some_and(|s| s.key == key) {
        return;
    }
    let rgb_path = ds.image_path(r);
    let overlay = app.inspector.as_ref().map_or(0.0, |s| s.overlay);
    let job = Job::spawn(
        "inspect",
        move |_| Pictures {
            rgb: image::open(&rgb_path)
                .map(|img| {
                    let img = img.to_rgba8();
                    ColorImage::from_rgba_unmultiplied(
                        [img.width() as usize, img.height() as usize],
                        img.as_raw(),
                    )
                })
                .map_err(|e| format!("{}: {e}", rgb_path.display())),
        },
        || {},
    );
    app.inspector = Some(Inspector {
        row: i,
        key,
        job: Some(job),
        rgb: None,
        overlay,
        recolor: false,
    });
}

pub fn show(app: &mut CalibApp, ui: &mut egui::Ui) {
    let Some(insp) = &mut app.inspector else {
        return;
    };
    let Some(ds) = &mut app.ds else {
        return;
    };
    if let Some(job) = &mut insp.job {
        match job.poll() {
            Some(Ok(p)) => {
                insp.rgb = Some(p.rgb.map(|img| {
                    ui.ctx()
                        .load_texture("inspector-rgb", img, TextureOptions::LINEAR)
                }));
                insp.job = None;
            }
            Some(Err(e)) => {
                insp.rgb = Some(Err(e));
                insp.job = None;
            }
            None => {
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_millis(30));
            }
        }
    }
    let i = insp.row;
    let mut close = false;
    let mut action = None;
    ui.horizontal(|ui| {
        ui.heading("Inspector");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("Close inspector").clicked() {
                close = true;
            }
        });
    });
    ui.label(egui::RichText::new(insp.key.to_string()).strong());
    egui::ScrollArea::vertical().show(ui, |ui| {
        let w = ui.available_width();
        match &insp.rgb {
            None => {
                ui.add_sized([w, w * 0.6], egui::Spinner::new());
            }
            Some(Err(e)) => {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("RGB image unreadable: {e}"),
                );
            }
            Some(Ok(tex)) => {
                let size = tex.size_vec2();
                let scale = w / size.x;
                ui.add(egui::Image::new((tex.id(), size * scale)).alt_text("RGB image"));
            }
        }
        let f = ds.cur.flags[i];
        ui.horizontal(|ui| {
            if ui
                .add(egui::Button::selectable(f.in_set, "✔ in set"))
                .on_hover_text("space")
                .clicked()
            {
                action = Some(GridAction::ToggleSet(vec![i]));
            }
            if ui
                .add(egui::Button::selectable(f.pinned, "📌 pinned"))
                .clicked()
            {
                action = Some(GridAction::Pin(vec![i]));
            }
            if ui
                .add(egui::Button::selectable(f.excluded, "✖ excluded"))
                .clicked()
            {
                action = Some(GridAction::Exclude(vec![i]));
            }
        });
        let r = &ds.cur.rows[i];
        egui::Grid::new("inspector_stats")
            .striped(true)
            .show(ui, |ui| {
                for c in super::columns::Column::all() {
                    ui.label(c.name());
                    ui.add(egui::Label::new(c.text(r)).wrap());
                    ui.end_row();
                }
            });
        ui.separator();
        ui.label("Paths");
        for (what, p) in [("image", ds.image_path(r)), ("depth", ds.depth_path(r))] {
            ui.horizontal(|ui| {
                ui.label(what);
                ui.add(egui::Label::new(p.display().to_string()).wrap());
                if ui
                    .small_button("Copy")
                    .on_hover_text(format!("copy the {what} path"))
                    .clicked()
                {
                    ui.ctx().copy_text(p.display().to_string());
                }
            });
        }
    });
    if let Some(a) = action {
        super::calib_view::apply(ds, a);
    }
    if close {
        app.inspector = None;
    }
}
