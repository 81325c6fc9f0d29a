//! The virtualised thumbnail grid: only visible rows are laid out; tiles a
//! few rows beyond the screen are prefetched. Tiles toggle membership, pin
//! and exclude; the keyboard moves a cursor (arrows), toggles (space),
//! excludes (x) and pins (p); shift/ctrl extend the selection.

use egui::{Color32, Key, Sense, Stroke, Vec2};

use super::curation::Flags;
use super::dataset::Dataset;
use super::thumbs::{Thumb, Thumbs};

/// Something the user asked of the grid this frame.
#[derive(Debug, Clone, PartialEq)]
pub enum GridAction {
    ToggleSet(Vec<usize>),
    Exclude(Vec<usize>),
    Pin(Vec<usize>),
    Inspect(usize),
}

/// Rows of tiles prefetched beyond each edge of the screen.
const PREFETCH_ROWS: usize = 2;

/// Colour of a depth-range badge.
pub fn range_color(k: usize) -> Color32 {
    const C: [Color32; 6] = [
        Color32::from_rgb(70, 130, 220),
        Color32::from_rgb(60, 170, 90),
        Color32::from_rgb(220, 160, 40),
        Color32::from_rgb(210, 70, 60),
        Color32::from_rgb(150, 90, 200),
        Color32::from_rgb(120, 120, 120),
    ];
    C[k.min(C.len() - 1)]
}

/// Grid geometry for a width: (columns, tile size, row height).
pub fn layout(avail_w: f32, tile_w: f32, text_h: f32, spacing: Vec2) -> (usize, Vec2, f32) {
    let cols = (((avail_w + spacing.x) / (tile_w + spacing.x)).floor() as usize).max(1);
    let img_h = (tile_w * 0.6).round();
    let tile = egui::vec2(tile_w, img_h + 2.0 * (text_h + 6.0) + 8.0);
    (cols, tile, tile.y)
}

/// Applies the keyboard to the grid's cursor and selection; returns actions.
pub fn keyboard(ds: &mut Dataset, ui: &egui::Ui, cols: usize) -> Vec<GridAction> {
    let mut out = Vec::new();
    if ui.ctx().egui_wants_keyboard_input() || ds.grid.list.is_empty() {
        return out;
    }
    let n = ds.grid.list.len();
    let (dx, shift, space, x, p, enter) = ui.input(|i| {
        let mut d: isize = 0;
        if i.key_pressed(Key::ArrowRight) {
            d += 1;
        }
        if i.key_pressed(Key::ArrowLeft) {
            d -= 1;
        }
        if i.key_pressed(Key::ArrowDown) {
            d += cols as isize;
        }
        if i.key_pressed(Key::ArrowUp) {
            d -= cols as isize;
        }
        (
            d,
            i.modifiers.shift,
            i.key_pressed(Key::Space),
            i.key_pressed(Key::X),
            i.key_pressed(Key::P),
            i.key_pressed(Key::Enter),
        )
    });
    if dx != 0 {
        let cur = ds
            .grid
            .cursor
            .map_or(0, |c| (c as isize + dx).clamp(0, n as isize - 1) as usize);
        ds.grid.cursor = Some(cur);
        if shift {
            let a = ds.grid.anchor.unwrap_or(cur);
            let (lo, hi) = (a.min(cur), a.max(cur));
            ds.grid.selected = ds.grid.list[lo..=hi].iter().copied().collect();
        } else {
            ds.grid.anchor = Some(cur);
            ds.grid.selected = std::iter::once(ds.grid.list[cur]).collect();
        }
        ds.grid.scroll_to_cursor = true;
        out.push(GridAction::Inspect(ds.grid.list[cur]));
    }
    let targets: Vec<usize> = if ds.grid.selected.is_empty() {
        ds.grid
            .cursor
            .map(|c| ds.grid.list[c])
            .into_iter()
            .collect()
    } else {
        ds.grid.selected.iter().copied().collect()
    };
    if !targets.is_empty() {
        if space {
            out.push(GridAction::ToggleSet(targets.clone()));
        }
        if x {
            out.push(GridAction::Exclude(targets.clone()));
        }
        if p {
            out.push(GridAction::Pin(targets.clone()));
        }
        if enter {
            out.push(GridAction::Inspect(targets[0]));
        }
    }
    out
}

/// Handles a click on the tile at list position `pos`.
fn click(ds: &mut Dataset, pos: usize, mods: egui::Modifiers) {
    let row = ds.grid.list[pos];
    if mods.shift {
        let a = ds.grid.anchor.unwrap_or(pos);
        let (lo, hi) = (a.min(pos), a.max(pos));
        ds.grid.selected = ds.grid.list[lo..=hi].iter().copied().collect();
    } else if mods.command || mods.ctrl {
        if !ds.grid.selected.remove(&row) {
            ds.grid.selected.insert(row);
        }
        ds.grid.anchor = Some(pos);
    } else {
        ds.grid.selected = std::iter::once(row).collect();
        ds.grid.anchor = Some(pos);
    }
    ds.grid.cursor = Some(pos);
}

/// Draws the grid; returns what the user asked for.
pub fn show(
    ds: &mut Dataset,
    thumbs: &mut Thumbs,
    ui: &mut egui::Ui,
    tile_w: f32,
) -> Vec<GridAction> {
    let text_h = ui.text_style_height(&egui::TextStyle::Body);
    let spacing = ui.spacing().item_spacing;
    let (cols, tile, row_h) = layout(ui.available_width() - 16.0, tile_w, text_h, spacing);
    let mut actions = keyboard(ds, ui, cols);
    let n = ds.grid.list.len();
    let n_rows = n.div_ceil(cols);
    let mut scroll = egui::ScrollArea::vertical()
        .id_salt("grid")
        .auto_shrink([false, false]);
    if std::mem::take(&mut ds.grid.scroll_to_cursor) {
        if let Some(c) = ds.grid.cursor {
            // Keep the cursor's row on screen: scroll only when it left the view.
            let y = (c / cols) as f32 * (row_h + spacing.y);
            let prev: Option<f32> = ui
                .ctx()
                .data(|d| d.get_temp(egui::Id::unique("grid_view_y")));
            let view_h = ui.available_height();
            if let Some(top) = prev {
                if y < top {
                    scroll = scroll.vertical_scroll_offset(y);
                } else if y + row_h > top + view_h {
                    scroll = scroll.vertical_scroll_offset(y + row_h - view_h + spacing.y);
                }
            }
        }
    }
    let mods = ui.input(|i| i.modifiers);
    let mut clicked = None;
    let out = scroll.show_rows(ui, row_h, n_rows, |ui, range| {
        // Prefetch a few rows on each side so scrolling shows ready tiles.
        let pre_lo = range.start.saturating_sub(PREFETCH_ROWS);
        let pre_hi = (range.end + PREFETCH_ROWS).min(n_rows);
        for r in (pre_lo..range.start).chain(range.end..pre_hi) {
            for pos in r * cols..((r + 1) * cols).min(n) {
                let row = &ds.cur.rows[ds.grid.list[pos]];
                thumbs.prefetch(&ds.image_path(row));
            }
        }
        for r in range {
            ui.horizontal(|ui| {
                for pos in r * cols..((r + 1) * cols).min(n) {
                    let i = ds.grid.list[pos];
                    let a = tile_ui(ds, thumbs, ui, pos, i, tile);
                    if let Some(a) = a {
                        match a {
                            TileEvent::Click => clicked = Some(pos),
                            TileEvent::Action(a) => actions.push(a),
                        }
                    }
                }
            });
        }
    });
    ui.ctx().data_mut(|d| {
        d.insert_temp(
            egui::Id::unique("grid_view_y"),
            out.state.clamped_offset().y,
        )
    });
    if let Some(pos) = clicked {
        click(ds, pos, mods);
        actions.push(GridAction::Inspect(ds.grid.list[pos]));
    }
    actions
}

enum TileEvent {
    Click,
    Action(GridAction),
}

fn tile_ui(
    ds: &Dataset,
    thumbs: &mut Thumbs,
    ui: &mut egui::Ui,
    pos: usize,
    i: usize,
    tile: Vec2,
) -> Option<TileEvent> {
    let r = &ds.cur.rows[i];
    let f: Flags = ds.cur.flags[i];
    let key = format!("{}/{}", r.dataset_root, r.filename);
    let selected = ds.grid.selected.contains(&i);
    let is_cursor = ds.grid.cursor == Some(pos);
    let mut event = None;
    let img_h = (tile.x * 0.6).round();
    ui.allocate_ui_with_layout(tile, egui::Layout::top_down(egui::Align::Min), |ui| {
        ui.set_min_size(tile);
        ui.set_max_size(tile);
        let stroke = if is_cursor {
            Stroke::new(2.0, ui.visuals().selection.stroke.color)
        } else if selected {
            Stroke::new(2.0, ui.visuals().selection.bg_fill)
        } else if f.in_set {
            Stroke::new(1.0, super::plots::SET)
        } else {
            Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color)
        };
        egui::Frame::new()
            .stroke(stroke)
            .inner_margin(2.0)
            .corner_radius(3.0)
            .fill(if selected {
                ui.visuals().selection.bg_fill.gamma_multiply(0.35)
            } else {
                Color32::TRANSPARENT
            })
            .show(ui, |ui| {
                ui.set_width(tile.x - 10.0);
                let img_size = egui::vec2(tile.x - 10.0, img_h);
                let (rect, resp) = ui.allocate_exact_size(img_size, Sense::click());
                let resp = resp.accessible_name(format!("Sample {key}"));
                match thumbs.get(&ds.image_path(r)) {
                    Thumb::Ready(id, size) => {
                        let fit = (img_size.x / size.x).min(img_size.y / size.y);
                        let draw = egui::Rect::from_center_size(rect.center(), size * fit);
                        ui.painter().image(
                            id,
                            draw,
                            egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                            if f.excluded {
                                Color32::from_gray(90)
                            } else {
                                Color32::WHITE
                            },
                        );
                    }
                    Thumb::Loading => {
                        ui.painter()
                            .rect_filled(rect, 2.0, ui.visuals().faint_bg_color);
                    }
                    Thumb::Failed(msg) => {
                        ui.painter()
                            .rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
                        ui.painter().text(
                            rect.center(),
                            egui::Align2::CENTER_CENTER,
                            "image unreadable",
                            egui::FontId::proportional(12.0),
                            ui.visuals().error_fg_color,
                        );
                        if resp.hovered() {
                            resp.clone().on_hover_text(msg);
                        }
                    }
                }
                let resp = resp.on_hover_text(format!(
                    "{key}\nmean {:.2} m, median {:.2} m, {}\n{}",
                    r.mean_depth, r.median_depth, r.scene_type, r.depth_variant
                ));
                if resp.clicked() {
                    event = Some(TileEvent::Click);
                }
                ui.horizontal(|ui| {
                    let bins = &ds.strategy.bins;
                    let k = bins.bin_of(bins.column.value(r)).unwrap_or(bins.len());
                    let name = bins.labels.get(k).map_or("outside", String::as_str);
                    ui.label(
                        egui::RichText::new(name)
                            .small()
                            .color(Color32::WHITE)
                            .background_color(range_color(k)),
                    );
                    ui.label(egui::RichText::new(format!("{:.2} m", r.mean_depth)).strong());
                    ui.add(
                        egui::Label::new(egui::RichText::new(&r.filename).small().weak())
                            .truncate(),
                    );
                });
                ui.horizontal(|ui| {
                    let set_label = if f.in_set { "Remove" } else { "Include" };
                    if ui
                        .add(egui::Button::selectable(f.in_set, "✔ set").small())
                        .accessible_name(format!("{set_label} {key}"))
                        .on_hover_text(if f.in_set {
                            "In the calibration set; click (or space) to take it out"
                        } else {
                            "Click (or space) to put it in the calibration set"
                        })
                        .clicked()
                    {
                        event = Some(TileEvent::Action(GridAction::ToggleSet(vec![i])));
                    }
                    if ui
                        .add(egui::Button::selectable(f.pinned, "📌 pin").small())
                        .accessible_name(format!(
                            "{} {key}",
                            if f.pinned { "Unpin" } else { "Pin" }
                        ))
                        .on_hover_text("Pinned samples stay in whatever the strategy picks (p)")
                        .clicked()
                    {
                        event = Some(TileEvent::Action(GridAction::Pin(vec![i])));
                    }
                    if ui
                        .add(egui::Button::selectable(f.excluded, "✖ excl").small())
                        .accessible_name(format!(
                            "{} {key}",
                            if f.excluded { "Restore" } else { "Exclude" }
                        ))
                        .on_hover_text("Excluded samples never come back into the set (x)")
                        .clicked()
                    {
                        event = Some(TileEvent::Action(GridAction::Exclude(vec![i])));
                    }
                });
            });
    });
    event
}
