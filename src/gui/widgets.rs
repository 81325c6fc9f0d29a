//! Small widgets more than one view draws the same way.

use crate::decoder::{Decoder, DecoderKind};
use crate::quantize::fidelity::Fidelity;

/// The decoder's kind and its depth bounds (the network's, not the GT's).
/// `id` keeps the combo boxes of different views apart.
pub fn decoder_fields(ui: &mut egui::Ui, id: &str, decoder: &mut Decoder) {
    let l = ui.label("Decoder");
    egui::ComboBox::from_id_salt(id)
        .selected_text(decoder.kind.name())
        .show_ui(ui, |ui| {
            for k in DecoderKind::ALL {
                ui.selectable_value(&mut decoder.kind, k, k.name())
                    .on_hover_text(k.formula());
            }
        })
        .response
        .labelled_by(l.id);
    let l = ui.label("network min (m)");
    ui.add(
        egui::DragValue::new(&mut decoder.min_depth)
            .speed(0.1)
            .range(0.0..=1000.0),
    )
    .labelled_by(l.id);
    let l = ui.label("max (m)");
    ui.add(
        egui::DragValue::new(&mut decoder.max_depth)
            .speed(0.5)
            .range(0.0..=10000.0),
    )
    .labelled_by(l.id);
}

/// A fidelity line (INT8 against FP32 on held-out samples), its warning in
/// words, or the note saying why there is none: the same for PTQ runs, the
/// tool's ONNX output and a diagnosis.
pub fn fidelity_ui(ui: &mut egui::Ui, fidelity: Option<&Fidelity>, note: Option<&str>) {
    if let Some(f) = fidelity {
        ui.add(egui::Label::new(egui::RichText::new(f.line()).strong()).wrap());
        if let Some(w) = &f.warning {
            ui.colored_label(ui.visuals().warn_fg_color, w);
        }
    }
    if let Some(note) = note {
        ui.colored_label(ui.visuals().warn_fg_color, note);
    }
}
