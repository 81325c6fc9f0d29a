//! The Diagnose view's result tables below the per-tensor part: the output
//! quantization floor, the method comparison and the keep-float sweep.

use super::command::Command;
use super::diagnose_plots::{self as plots, method_name};
use super::diagnose_view::{sort_rows, DiagCtx, DiagnoseView, TensorSort};
use crate::diagnose::tensors::{TensorComparison, TensorKind};

impl DiagnoseView {
    pub(super) fn floor_ui(&self, ui: &mut egui::Ui) {
        let Some(r) = &self.rt.result else { return };
        ui.heading("Output quantization floor");
        let Some(f) = &r.report.floor else {
            ui.weak(r.report.floor_note.as_deref().unwrap_or("No output floor."));
            return;
        };
        ui.label(format!(
            "FP32 with only the output's 8-bit encoding, on {} images: abs_rel {:.4} (FP32 {:.4}) — INT8 cannot do better than this.",
            f.images, f.floor_abs_rel, f.fp32_abs_rel
        ));
        let fmt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.4}"));
        let steps = |v: &[f64]| {
            v.iter()
                .map(|s| format!("{s:.3}"))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        egui::Grid::new("diagnose_floor_grid")
            .striped(true)
            .show(ui, |ui| {
                for h in [
                    "depth range (m)",
                    "abs_rel FP32",
                    "floor abs_rel",
                    "depth step at low edge (m)",
                    "at high edge (m)",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for g in &f.ranges {
                    ui.label(format!("{:.1}–{:.1}", g.lo, g.hi));
                    ui.label(fmt(g.fp32_abs_rel));
                    ui.label(fmt(g.floor_abs_rel));
                    ui.label(steps(&g.step_m_at_lo));
                    ui.label(steps(&g.step_m_at_hi));
                    ui.end_row();
                }
            });
    }

    pub(super) fn methods_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Method comparison");
        ui.horizontal(|ui| match &self.rt.methods_job {
            Some((p, _)) => super::jobs::progress_bar(ui, p, "images", 320.0),
            None => {
                if ui
                    .button("Compare methods")
                    .on_hover_text("Calibrates once on the calibration set, then quantizes with MinMax, Percentile, Entropy and MSE and compares each with FP32 on the diagnosis inputs.")
                    .clicked()
                {
                    self.start_methods();
                }
            }
        });
        if let Some(e) = &self.rt.methods_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        let (Some(mr), Some(r)) = (&self.rt.methods, &self.rt.result) else {
            return;
        };
        let m = &mr.comparison;
        egui::Grid::new("diagnose_method_fidelity")
            .striped(true)
            .show(ui, |ui| {
                for h in [
                    "method",
                    "output cosine",
                    "SQNR (dB)",
                    "depth off FP32 (abs_rel)",
                    "abs_rel on the split",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for ((meth, f), a) in m.methods.iter().zip(&m.fidelity).zip(&mr.abs_rel) {
                    ui.colored_label(plots::method_color(*meth), method_name(*meth));
                    ui.label(format!("{:.5}", f.cosine));
                    ui.label(format!("{:.1}", f.sqnr_db));
                    ui.label(
                        f.depth_abs_rel_vs_fp32
                            .map_or("–".into(), |d| format!("{:.3} %", 100.0 * d)),
                    );
                    ui.label(format!("{a:.4}"));
                    ui.end_row();
                }
            });
        // Ranges side by side: the selected tensor, then the worst by accumulated SQNR.
        let mut names: Vec<String> = self.rt.selected.iter().cloned().collect();
        let mut acts: Vec<&TensorComparison> = r
            .report
            .tensors
            .iter()
            .filter(|t| t.kind == TensorKind::Activation)
            .collect();
        sort_rows(&mut acts, TensorSort::Accumulated);
        for t in acts {
            if names.len() >= 8 {
                break;
            }
            if !names.contains(&t.tensor) {
                names.push(t.tensor.clone());
            }
        }
        ui.weak("Ranges (min … max) of the selected tensor and the worst ones:");
        egui::Grid::new("diagnose_method_ranges")
            .striped(true)
            .show(ui, |ui| {
                ui.strong("tensor");
                ui.strong("observed");
                for meth in &m.methods {
                    ui.colored_label(plots::method_color(*meth), method_name(*meth));
                }
                ui.end_row();
                for n in &names {
                    let Some(t) = m.tensors.iter().find(|t| &t.tensor == n) else {
                        continue;
                    };
                    ui.label(n);
                    ui.label(format!("{:.3} … {:.3}", t.observed_min, t.observed_max));
                    for (lo, hi) in &t.ranges {
                        ui.label(format!("{lo:.3} … {hi:.3}"));
                    }
                    ui.end_row();
                }
            });
    }

    pub(super) fn sweep_ui(&self, ui: &mut egui::Ui, ctx: &DiagCtx) {
        let Some(r) = &self.rt.result else { return };
        ui.heading("Keep-float sweep");
        let Some(s) = &r.report.sweep else {
            ui.weak(
                r.report
                    .sweep_note
                    .as_deref()
                    .unwrap_or("Not run: tick the keep-float sweep above and run again."),
            );
            return;
        };
        ui.label(format!(
            "abs_rel INT8 {:.6}, FP32 {:.6}, target {:.6}.",
            s.int8_abs_rel, s.fp32_abs_rel, s.target_abs_rel
        ));
        egui::Grid::new("diagnose_sweep_grid")
            .striped(true)
            .show(ui, |ui| {
                for h in ["rank", "kept float", "abs_rel", "improvement"] {
                    ui.strong(h);
                }
                ui.end_row();
                for (i, e) in s.entries.iter().enumerate() {
                    ui.label((i + 1).to_string());
                    ui.label(&e.tensor);
                    // Single tensors often move abs_rel in the 5th decimal.
                    ui.label(format!("{:.6}", e.abs_rel));
                    ui.label(format!("{:+.6}", e.improvement));
                    ui.end_row();
                }
            });
        if s.recommended_float.is_empty() {
            ui.weak("No tensor of the sweep helps: nothing to keep float.");
            return;
        }
        ui.label(format!(
            "Recommended: keep {} tensor(s) float ({}): abs_rel {:.6}, {}.",
            s.recommended_float.len(),
            s.recommended_float.join(", "),
            s.recommended_abs_rel,
            if s.reaches_target {
                "reaches the target"
            } else {
                "short of the target (all helpful tensors)"
            }
        ));
        if ui
            .button("Keep these float in Quantize")
            .on_hover_text("Adds them to the Quantize view's keep-float tensors; the next PTQ run leaves them unquantized.")
            .clicked()
        {
            ctx.cmds
                .send(Command::KeepFloat(s.recommended_float.clone()));
        }
    }
}
