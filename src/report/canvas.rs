//! The page every report figure is drawn on: a fixed size and DPI, the
//! app's own font (no system font needed), a title and a legend strip above
//! the plot (so a legend never covers data), and the PNG written whole or
//! not at all.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor;
use plotters::style::FontStyle;

use super::ReportError;

/// Figure size in pixels: 8 × 5⅓ inches at [`DPI`].
pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 800;
/// Written into each PNG (its `pHYs` chunk).
pub const DPI: u32 = 150;
/// Height of the title band and of the legend strip below it.
pub const TITLE_H: u32 = 64;
pub const LEGEND_H: u32 = 40;

/// The font family every text uses, registered once.
pub const FONT: &str = "sans-serif";

/// The app's colours for the dataset and the calibration set (`gui/plots.rs`).
pub const FULL: RGBColor = RGBColor(120, 144, 170);
pub const SET: RGBColor = RGBColor(240, 140, 40);
/// Title and axis text.
pub const INK: RGBColor = RGBColor(30, 30, 30);
/// Colours of further series (runs, scene types), distinct from each other.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(240, 140, 40),
    RGBColor(60, 110, 180),
    RGBColor(80, 160, 90),
    RGBColor(200, 70, 80),
    RGBColor(140, 100, 180),
    RGBColor(150, 110, 70),
    RGBColor(220, 120, 180),
    RGBColor(110, 110, 110),
];

/// Registers the font with plotters (once per process). The font bytes are
/// the ones the app draws with (egui's bundled Ubuntu Light).
pub fn ensure_font() -> Result<(), ReportError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        let bytes = epaint_default_fonts::UBUNTU_LIGHT;
        [FontStyle::Normal, FontStyle::Bold]
            .into_iter()
            .all(|s| plotters::style::register_font(FONT, s, bytes).is_ok())
    });
    if ok {
        Ok(())
    } else {
        Err(ReportError::Draw(
            "the bundled font could not be loaded".into(),
        ))
    }
}

pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws one figure into an RGB buffer and writes it to `path` as a PNG.
/// `draw` gets the area below the title and legend strip.
pub fn figure(
    path: &Path,
    title: &str,
    legend: &[(String, RGBColor)],
    draw: impl FnOnce(&Area) -> Result<(), String>,
) -> Result<(), ReportError> {
    ensure_font()?;
    let mut rgb = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        let (head, body) = root.split_vertically(TITLE_H + LEGEND_H);
        let (title_area, legend_area) = head.split_vertically(TITLE_H);
        draw_title(&title_area, title).map_err(ReportError::Draw)?;
        draw_legend(&legend_area, legend).map_err(ReportError::Draw)?;
        draw(&body).map_err(ReportError::Draw)?;
        root.present()
            .map_err(|e| ReportError::Draw(e.to_string()))?;
    }
    write_png(path, &rgb)
}

fn draw_title(area: &Area, title: &str) -> Result<(), String> {
    let style = TextStyle::from((FONT, 34).into_font().style(FontStyle::Bold))
        .color(&INK)
        .pos(text_anchor::Pos::new(
            text_anchor::HPos::Center,
            text_anchor::VPos::Center,
        ));
    area.draw(&Text::new(
        title.to_owned(),
        ((WIDTH / 2) as i32, (TITLE_H / 2 + 4) as i32),
        style,
    ))
    .map_err(|e| e.to_string())
}

/// One row of swatches and labels, centred: the figure's legend, above the
/// plot so it covers nothing.
fn draw_legend(area: &Area, items: &[(String, RGBColor)]) -> Result<(), String> {
    if items.is_empty() {
        return Ok(());
    }
    let font = TextStyle::from((FONT, 22).into_font());
    let widths: Vec<i32> = items
        .iter()
        .map(|(l, _)| area.estimate_text_size(l, &font).map(|(w, _)| w as i32))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let (swatch, gap, between) = (22, 8, 32);
    let total: i32 =
        widths.iter().map(|w| swatch + gap + w).sum::<i32>() + between * (items.len() as i32 - 1);
    let mut x = (WIDTH as i32 - total).max(0) / 2;
    let y = (LEGEND_H / 2) as i32;
    for ((label, colour), w) in items.iter().zip(widths) {
        area.draw(&Rectangle::new(
            [(x, y - swatch / 2), (x + swatch, y + swatch / 2)],
            colour.filled(),
        ))
        .map_err(|e| e.to_string())?;
        let style = font.color(&INK).pos(text_anchor::Pos::new(
            text_anchor::HPos::Left,
            text_anchor::VPos::Center,
        ));
        area.draw(&Text::new(label.clone(), (x + swatch + gap, y), style))
            .map_err(|e| e.to_string())?;
        x += swatch + gap + w + between;
    }
    Ok(())
}

/// Encodes the RGB buffer with the figure's DPI and writes it through a
/// temporary file, so a failed write leaves no half-written PNG.
pub fn write_png(path: &Path, rgb: &[u8]) -> Result<(), ReportError> {
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, WIDTH, HEIGHT);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Pixels per metre: DPI / 0.0254, rounded.
        let ppm = (DPI as f64 / 0.0254).round() as u32;
        enc.set_pixel_dims(Some(png::PixelDimensions {
            xppu: ppm,
            yppu: ppm,
            unit: png::Unit::Meter,
        }));
        let encode = |e: png::EncodingError| ReportError::Draw(format!("PNG encoding: {e}"));
        let mut w = enc.write_header().map_err(encode)?;
        w.write_image_data(rgb).map_err(encode)?;
        w.finish().map_err(encode)?;
    }
    crate::fsutil::write_atomic(path, &bytes).map_err(|source| ReportError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Text drawn at data coordinates, centred above a point (bar labels).
pub fn label_style(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font())
        .color(&INK)
        .pos(text_anchor::Pos::new(
            text_anchor::HPos::Center,
            text_anchor::VPos::Bottom,
        ))
}

/// Axis description and tick label sizes shared by every chart.
pub const AXIS_DESC: u32 = 24;
pub const TICKS: u32 = 20;
