//! The inspector: one sample up close — its RGB image, its statistics and
//! paths, and its curation buttons. Images load off the UI thread.

use egui::{ColorImage, TextureHandle, TextureOptions};

use super::dataset::Dataset;
use super::grid::GridAction;
use super::jobs::{self, Task};
use super::view::ViewCtx;
use crate::metadata::SampleKey;

/// What the background loader hands back.
pub struct Pictures {
    pub rgb: Result<ColorImage, String>,
    pub depth: Result<crate::depth::DepthMap, String>,
}

/// Histogram of one depth map's valid pixels: 0.5 m bins up to `max`.
pub fn depth_histogram(metres: &[f32], max: f32) -> (f32, Vec<u64>) {
    let w = 0.5;
    let n = ((max / w).ceil() as usize).max(1);
    let mut h = vec![0u64; n];
    for &d in metres {
        if d > 0.0 && d.is_finite() {
            h[((d / w) as usize).min(n - 1)] += 1;
        }
    }
    (w, h)
}

pub struct Inspector {
    pub row: usize,
    pub key: SampleKey,
    job: Option<Task<Pictures>>,
    rgb: Option<Result<TextureHandle, String>>,
    depth: Option<Result<crate::depth::DepthMap, String>>,
    depth_tex: Option<TextureHandle>,
    hist: (f32, Vec<u64>),
    /// Share of the depth overlay drawn over the RGB image.
    pub overlay: f32,
    /// Depth colours must be redone (a new map).
    pub recolor: bool,
    /// The colour range the depth texture was drawn with.
    colored: [f32; 2],
}

/// Opens (or retargets) the inspector on row `i`.
pub fn open(slot: &mut Option<Inspector>, ds: &Dataset, i: usize) {
    let r = &ds.cur.rows[i];
    let key = r.key();
    if slot.as_ref().is_some_and(|s| s.key == key) {
        return;
    }
    let rgb_path = ds.image_path(r);
    let depth_path = ds.depth_path(r);
    let encoding = ds.settings.depth_encoding;
    let overlay = slot.as_ref().map_or(0.0, |s| s.overlay);
    let job = Task::spawn("inspect", move |_| Pictures {
        rgb: image::open(&rgb_path)
            .map(|img| {
                let img = img.to_rgba8();
                ColorImage::from_rgba_unmultiplied(
                    [img.width() as usize, img.height() as usize],
                    img.as_raw(),
                )
            })
            .map_err(|e| format!("{}: {e}", rgb_path.display())),
        depth: crate::depth::load_depth(&depth_path, encoding).map_err(|e| e.to_string()),
    });
    *slot = Some(Inspector {
        row: i,
        key,
        job: Some(job),
        rgb: None,
        depth: None,
        depth_tex: None,
        hist: (0.5, Vec::new()),
        overlay,
        recolor: false,
        colored: [0.0; 2],
    });
}

/// The colour scale under the depth image.
fn colorbar(ui: &mut egui::Ui, lo: f32, hi: f32, w: f32) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(w, 12.0), egui::Sense::hover());
    let n = 64;
    for k in 0..n {
        let [r, g, b] = super::colormap::turbo(k as f32 / (n - 1) as f32);
        let x0 = rect.left() + rect.width() * k as f32 / n as f32;
        let x1 = rect.left() + rect.width() * (k + 1) as f32 / n as f32;
        ui.painter().rect_filled(
            egui::Rect::from_x_y_ranges(x0..=x1, rect.y_range()),
            0.0,
            egui::Color32::from_rgb(r, g, b),
        );
    }
    ui.horizontal(|ui| {
        ui.label(format!("{lo} m"));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.label(format!("{hi} m"))
                .on_hover_text("Set the colour range in Settings > Display");
        });
    });
}

impl Inspector {
    /// Draws the inspector; false once the user closed it.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewCtx) -> bool {
        !show(self, ui, ctx)
    }
}

/// Returns true when closed.
fn show(insp: &mut Inspector, ui: &mut egui::Ui, ctx: &mut ViewCtx) -> bool {
    let ds = &mut *ctx.ds;
    match jobs::take_done(&mut insp.job) {
        Some(Ok(p)) => {
            insp.rgb = Some(p.rgb.map(|img| {
                ui.ctx()
                    .load_texture("inspector-rgb", img, TextureOptions::LINEAR)
            }));
            insp.depth = Some(p.depth);
            insp.recolor = true;
        }
        Some(Err(e)) => insp.rgb = Some(Err(e)),
        None if insp.job.is_some() => {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(30));
        }
        None => {}
    }
    let [lo, hi] = ctx.persisted.depth_range;
    if insp.recolor || insp.colored != [lo, hi] {
        insp.recolor = false;
        insp.colored = [lo, hi];
        if let Some(Ok(d)) = &insp.depth {
            let px = super::colormap::colorize_depth(&d.metres, lo, hi);
            let img =
                ColorImage::from_rgba_unmultiplied([d.width as usize, d.height as usize], &px);
            // Nearest: sparse LiDAR points stay crisp instead of smearing.
            insp.depth_tex = Some(ui.ctx().load_texture(
                "inspector-depth",
                img,
                TextureOptions::NEAREST,
            ));
            insp.hist = depth_histogram(&d.metres, hi.max(15.0));
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
                let shown = size * (w / size.x);
                let resp = ui.add(egui::Image::new((tex.id(), shown)).alt_text("RGB image"));
                if let (Some(dt), true) = (&insp.depth_tex, insp.overlay > 0.0) {
                    ui.painter().image(
                        dt.id(),
                        resp.rect,
                        egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                        egui::Color32::WHITE.gamma_multiply(insp.overlay),
                    );
                }
            }
        }
        ui.horizontal(|ui| {
            let l = ui.label("Depth overlay");
            ui.add(egui::Slider::new(&mut insp.overlay, 0.0..=1.0))
                .labelled_by(l.id);
        });
        match &insp.depth {
            None => {}
            Some(Err(e)) => {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("Depth map unreadable: {e}"),
                );
            }
            Some(Ok(d)) => {
                if let Some(dt) = &insp.depth_tex {
                    let size = dt.size_vec2();
                    ui.add(egui::Image::new((dt.id(), size * (w / size.x))).alt_text("Depth map"));
                }
                colorbar(ui, lo, hi, w);
                let valid = d.valid_pixels();
                ui.label(format!(
                    "{} × {} depth map, {valid} valid pixels ({:.1}%)",
                    d.width,
                    d.height,
                    100.0 * valid as f64 / (d.width as f64 * d.height as f64).max(1.0)
                ));
                let (bw, h) = &insp.hist;
                let last = h.len().saturating_sub(1);
                let bars: Vec<egui_plot::Bar> = h
                    .iter()
                    .enumerate()
                    .map(|(k, &n)| {
                        let x0 = k as f64 * *bw as f64;
                        let what = if k == last {
                            format!("≥ {x0:.1} m")
                        } else {
                            format!("{x0:.1}–{:.1} m", x0 + *bw as f64)
                        };
                        egui_plot::Bar::new(x0 + *bw as f64 / 2.0, n as f64)
                            .width(*bw as f64 * 0.95)
                            .name(format!("{what}: {n} pixels"))
                    })
                    .collect();
                // The last bar holds everything beyond the colour range: say so on it.
                let overflow = (h.len() > 1).then(|| {
                    let x0 = last as f64 * *bw as f64;
                    (
                        egui_plot::PlotPoint::new(x0 + *bw as f64 / 2.0, h[last] as f64),
                        format!("≥ {x0:.1} m"),
                    )
                });
                let top = h.iter().copied().max().unwrap_or(1) as f64;
                egui_plot::Plot::new("inspector_hist")
                    .height(140.0)
                    // One tooltip: the bar's own text, no coordinate label.
                    .show_x(false)
                    .show_y(false)
                    .allow_drag(false)
                    .allow_zoom(false)
                    .allow_scroll(false)
                    .x_axis_label("depth (m)")
                    .y_axis_label("pixels")
                    .include_y(top * 1.2)
                    .show(ui, |p| {
                        if let Some((at, text)) = overflow {
                            p.text(
                                egui_plot::Text::new("beyond the range", at, text)
                                    .anchor(egui::Align2::CENTER_BOTTOM),
                            );
                        }
                        p.bar_chart(
                            egui_plot::BarChart::new("depth of this sample", bars)
                                .color(super::plots::SET)
                                .element_formatter(Box::new(|b, _| b.name.clone())),
                        )
                    });
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
            .num_columns(2)
            .min_col_width(100.0)
            .show(ui, |ui| {
                for c in super::columns::Column::all() {
                    ui.label(c.name());
                    let t = c.text(r);
                    ui.add(egui::Label::new(t.as_str()).truncate())
                        .on_hover_text(t);
                    ui.end_row();
                }
            });
        ui.separator();
        ui.label("Paths");
        for (what, p) in [("image", ds.image_path(r)), ("depth", ds.depth_path(r))] {
            ui.horizontal(|ui| {
                ui.label(what);
                if ui
                    .small_button("Copy")
                    .on_hover_text(format!("copy the {what} path"))
                    .accessible_name(format!("Copy the {what} path"))
                    .clicked()
                {
                    ui.ctx().copy_text(p.display().to_string());
                }
                ui.add(egui::Label::new(p.display().to_string()).truncate())
                    .on_hover_text(p.display().to_string());
            });
        }
    });
    if let Some(a) = action {
        super::calib_view::apply(ds, a);
    }
    close
}
