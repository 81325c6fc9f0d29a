//! The Diagnose view: where the Quantize view's last INT8 model loses
//! against FP32. One run gives the fidelity line, the per-tensor table and
//! SQNR plot, the output quantization floor and (optionally) the keep-float
//! sweep, plus the calibration histograms of the activations for the range
//! inspector; the method comparison is a second, optional run. The sweep's
//! recommended set goes to the Quantize view's keep-float list in one click.
//!
//! Like the Evaluate view: settings saved (serde), runs and jobs runtime only;
//! drawn from a [`DiagCtx`]; app-level requests go through commands.

use std::collections::BTreeMap;
use std::path::PathBuf;

use poll_promise::Promise;
use serde::{Deserialize, Serialize};

use super::command::Commands;
use super::dataset::Dataset;
use super::diagnose_plots::{self as plots, method_name};
use super::quantize::QuantizeSettings;
use crate::diagnose::histograms::{calibration_histograms, inspect_with_method_defaults};
use crate::diagnose::inspect::RangeInspection;
use crate::diagnose::methods::{run_methods, MethodComparison};
use crate::diagnose::run::{evenly, run_diagnose, DiagnoseReport, DiagnoseRequest};
use crate::diagnose::sweep::EvalSplit;
use crate::diagnose::tensors::{TensorComparison, TensorKind};
use crate::evaluate::{Decoder, EvalSettings};
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;
use crate::quantize::stats::TensorStats;
use crate::quantize::{ActivationType, CalibrationSource, QdqSettings, RangesFile};

/// The view's key in the app's storage.
pub const STORAGE_KEY: &str = "diagnose";

/// The per-tensor table's sort column (worst first, or graph order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TensorSort {
    #[default]
    Accumulated,
    Isolated,
    Cosine,
    MaxError,
    MeanError,
    GraphOrder,
}

/// A finished diagnosis with what the range inspector reads.
pub struct DiagResult {
    pub report: DiagnoseReport,
    /// Calibration histograms of the activations (empty when not collected).
    pub stats: BTreeMap<String, TensorStats>,
    /// Why there are no histograms, or which images they come from.
    pub stats_note: String,
    pub activation: ActivationType,
    /// What the method comparison needs, as the diagnosis ran.
    model: PathBuf,
    calibration: Vec<PathBuf>,
    held_out: Vec<PathBuf>,
    qdq: QdqSettings,
    /// The split compared on, with the settings its abs_rel is measured with.
    split: (PathBuf, PathBuf, crate::dataset::DatasetSettings),
    eval: (Decoder, EvalSettings),
}

/// The four methods side by side, with abs_rel on the split per method.
pub struct MethodsResult {
    pub comparison: MethodComparison,
    pub abs_rel: Vec<f64>,
}

type Pending<T> = (Progress, Promise<Result<Option<T>, String>>);

/// What the view holds only while the app runs.
#[derive(Default)]
pub struct DiagRuntime {
    job: Option<Pending<DiagResult>>,
    pub(super) methods_job: Option<Pending<MethodsResult>>,
    pub result: Option<DiagResult>,
    pub error: Option<String>,
    pub selected: Option<String>,
    /// The selected tensor's inspection, computed once per selection.
    pub inspection: Option<(String, RangeInspection)>,
    pub methods: Option<MethodsResult>,
    pub methods_error: Option<String>,
}

/// The view's state: settings saved between sessions, the rest runtime.
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct DiagnoseView {
    /// The split compared on (relative to the dataset folder, or absolute).
    pub split: String,
    /// Inputs, evenly spaced over the split.
    pub images: usize,
    pub decoder: Decoder,
    pub settings: EvalSettings,
    /// Run the keep-float sweep over this many worst activations.
    pub sweep: bool,
    pub sweep_k: usize,
    /// A target abs_rel for the sweep; off: halfway from INT8 to FP32.
    pub set_target: bool,
    pub target_abs_rel: f64,
    pub sort: TensorSort,
    /// Weights in the table beside activations.
    pub weights: bool,
    #[serde(skip)]
    pub rt: DiagRuntime,
}

impl Default for DiagnoseView {
    fn default() -> Self {
        Self {
            split: "splits/combined_val.json".into(),
            images: 16,
            decoder: Decoder::default(),
            settings: EvalSettings::default(),
            sweep: false,
            sweep_k: 4,
            set_target: false,
            target_abs_rel: 0.05,
            sort: TensorSort::default(),
            weights: false,
            rt: DiagRuntime::default(),
        }
    }
}

/// What the view reads from the rest of the app each frame.
pub struct DiagCtx<'a> {
    pub ds: &'a Dataset,
    /// The Quantize view's settings: FP32 model, preprocessing, calibration set, Q/DQ options.
    pub quantize: &'a QuantizeSettings,
    /// The INT8 model written last (this session or the project's last run).
    pub int8: Option<PathBuf>,
    pub cmds: &'a Commands,
}

/// Adds `names` to a keep-float list (one per line), skipping those already
/// there; returns the status message. Applied by the app for [`super::command::Command::KeepFloat`].
pub fn keep_float(list: &mut String, names: &[String]) -> String {
    let mut have = super::quantize::name_list(list);
    let before = have.len();
    for n in names {
        if !have.contains(n) {
            have.push(n.clone());
        }
    }
    *list = have.join("\n");
    format!(
        "{} tensor(s) will stay float in the next PTQ run ({} added from the diagnosis sweep): {}.",
        have.len(),
        have.len() - before,
        names.join(", ")
    )
}

fn err_text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl DiagnoseView {
    /// Whether background work is running (tests wait for it).
    pub fn busy(&self) -> bool {
        self.rt.job.is_some() || self.rt.methods_job.is_some()
    }

    fn poll(&mut self) {
        if let Some((_, p)) = &self.rt.job {
            if p.ready().is_some() {
                let (_, p) = self.rt.job.take().expect("checked above");
                match p.block_and_take() {
                    Ok(Some(r)) => {
                        let worst = worst_activation(&r.report.tensors);
                        self.rt.result = Some(r);
                        self.rt.methods = None;
                        self.rt.methods_error = None;
                        self.rt.inspection = None;
                        self.rt.selected = worst;
                    }
                    Ok(None) => self.rt.error = Some("Diagnosis cancelled.".into()),
                    Err(e) => self.rt.error = Some(e),
                }
            }
        }
        if let Some((_, p)) = &self.rt.methods_job {
            if p.ready().is_some() {
                let (_, p) = self.rt.methods_job.take().expect("checked above");
                match p.block_and_take() {
                    Ok(Some(m)) => self.rt.methods = Some(m),
                    Ok(None) => self.rt.methods_error = Some("Method comparison cancelled.".into()),
                    Err(e) => self.rt.methods_error = Some(e),
                }
            }
        }
    }

    /// The FP32 model and its edited preprocessing, as the Evaluate view takes them.
    fn fp32(q: &QuantizeSettings) -> Result<(PathBuf, Option<PreprocessSettings>), String> {
        let m = q.model.trim();
        if m.is_empty() {
            return Err(
                "Pick the FP32 model in the Quantize view first (Model file, then Load model)."
                    .into(),
            );
        }
        let pre = q.preprocess.clone().filter(|_| q.preprocess_model == m);
        Ok((PathBuf::from(m), pre))
    }

    /// Starts a diagnosis from the view's settings.
    pub fn start(&mut self, ctx: &DiagCtx) {
        if self.rt.job.is_some() {
            return;
        }
        match self.request(ctx) {
            Ok((req, calibration, note)) => {
                let progress = Progress::new();
                let p = progress.clone();
                let q = ctx.quantize;
                let act = RangesFile::read(&crate::quantize::artefact_paths(&req.int8).0)
                    .map(|r| r.activation_type)
                    .unwrap_or(q.activation);
                let qdq = QdqSettings {
                    activation_type: act,
                    per_channel: q.per_channel,
                    exclude_tensors: super::quantize::name_list(&q.keep_float_tensors),
                    exclude_nodes: super::quantize::name_list(&q.keep_float_nodes),
                    ..Default::default()
                };
                let promise = super::jobs::promise("diagnosis", move || {
                    let report = match run_diagnose(&req, &p) {
                        Err(_) if p.is_cancelled() => return Ok(None),
                        r => r.map_err(err_text)?,
                    };
                    // The floor and the sweep turn a cancel into a note, not an error.
                    if p.is_cancelled() {
                        return Ok(None);
                    }
                    let acts: Vec<String> = report
                        .tensors
                        .iter()
                        .filter(|r| r.kind == TensorKind::Activation)
                        .map(|r| r.tensor.clone())
                        .collect();
                    let (stats, stats_note) = if calibration.is_empty() {
                        (BTreeMap::new(), note)
                    } else {
                        let pre = report.preprocess.clone();
                        match calibration_histograms(&req.model, &acts, &calibration, &pre, &p)? {
                            Some(s) => (s, note),
                            None => return Ok(None),
                        }
                    };
                    let held_out = evenly(req.inputs.resolve()?, req.images.max(1));
                    let CalibrationSource::Split {
                        split,
                        root,
                        dataset,
                    } = req.inputs
                    else {
                        return Err("the diagnosis compares on a split".into());
                    };
                    Ok(Some(DiagResult {
                        report,
                        stats,
                        stats_note,
                        activation: act,
                        model: req.model,
                        calibration,
                        held_out,
                        qdq,
                        split: (root, split, dataset),
                        eval: (req.decoder.unwrap_or_default(), req.eval_settings),
                    }))
                });
                self.rt.job = Some((progress, promise));
                self.rt.error = None;
            }
            Err(e) => self.rt.error = Some(e),
        }
    }

    /// The library's request, the calibration images for the histograms and where they come from.
    fn request(&self, ctx: &DiagCtx) -> Result<(DiagnoseRequest, Vec<PathBuf>, String), String> {
        let (model, preprocess) = Self::fp32(ctx.quantize)?;
        let int8 = ctx
            .int8
            .clone()
            .ok_or("No INT8 model yet: run PTQ in the Quantize view, then diagnose it here.")?;
        let split = self.split.trim();
        if split.is_empty() {
            return Err("Type the split to compare on (e.g. splits/combined_val.json).".into());
        }
        let (calibration, note) = match super::quantize::calibration_samples(ctx.ds, ctx.quantize) {
            Ok((s, what)) => (
                s.into_iter().map(|s| s.image).collect(),
                format!("calibration histograms of {what}"),
            ),
            Err(e) => (Vec::new(), format!("No calibration histograms: {e}")),
        };
        let req = DiagnoseRequest {
            model,
            int8,
            inputs: CalibrationSource::Split {
                split: PathBuf::from(split),
                root: ctx.ds.root.clone(),
                dataset: ctx.ds.settings.clone(),
            },
            images: self.images.max(1),
            preprocess,
            input_size: ctx.quantize.input_size,
            decoder: Some(self.decoder.clone()),
            eval_settings: self.settings.clone(),
            sweep: self.sweep.then_some(self.sweep_k.max(1)),
            target_abs_rel: self.set_target.then_some(self.target_abs_rel),
        };
        Ok((req, calibration, note))
    }

    /// Runs the four methods on the diagnosis's calibration images and inputs.
    pub(super) fn start_methods(&mut self) {
        let Some(r) = &self.rt.result else { return };
        if self.rt.methods_job.is_some() {
            return;
        }
        if r.calibration.is_empty() {
            self.rt.methods_error = Some(r.stats_note.clone());
            return;
        }
        let (model, cal, held, pre, qdq) = (
            r.model.clone(),
            r.calibration.clone(),
            r.held_out.clone(),
            r.report.preprocess.clone(),
            r.qdq.clone(),
        );
        let ((root, split, dataset), (decoder, settings)) = (r.split.clone(), r.eval.clone());
        let progress = Progress::new();
        let p = progress.clone();
        let promise = super::jobs::promise("method comparison", move || {
            let run = match run_methods(&model, &cal, &held, &pre, &qdq, Some(&decoder), &p) {
                Err(_) if p.is_cancelled() => return Ok(None),
                r => r.map_err(err_text)?,
            };
            let split = EvalSplit {
                root,
                split,
                dataset,
                decoder,
                settings,
            };
            match run.abs_rel(&model, &split, &pre, &p) {
                Err(_) if p.is_cancelled() => Ok(None),
                Err(e) => Err(e),
                Ok(a) => Ok(Some(MethodsResult {
                    comparison: run.comparison,
                    abs_rel: a.abs_rel,
                })),
            }
        });
        self.rt.methods_job = Some((progress, promise));
        self.rt.methods_error = None;
    }

    /// The selected tensor's inspection, (re)computed when the selection changes.
    fn refresh_inspection(&mut self) {
        let Some(sel) = &self.rt.selected else {
            self.rt.inspection = None;
            return;
        };
        if self.rt.inspection.as_ref().is_some_and(|(t, _)| t == sel) {
            return;
        }
        self.rt.inspection = self.rt.result.as_ref().and_then(|r| {
            let s = r.stats.get(sel)?;
            Some((sel.clone(), inspect_with_method_defaults(s, r.activation)))
        });
    }

    /// Draws the view.
    pub fn show(&mut self, ui: &mut egui::Ui, ctx: &mut DiagCtx) {
        self.poll();
        self.refresh_inspection();
        if self.busy() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
        egui::ScrollArea::vertical()
            .id_salt("diagnose")
            .show(ui, |ui| {
                self.setup_ui(ui, ctx);
                ui.separator();
                self.results_ui(ui, ctx);
            });
    }

    fn setup_ui(&mut self, ui: &mut egui::Ui, ctx: &mut DiagCtx) {
        ui.group(|ui| {
            ui.strong("Diagnose INT8 loss");
            match (Self::fp32(ctx.quantize), &ctx.int8) {
                (Ok((m, _)), Some(i)) => ui.weak(format!(
                    "FP32 {} against INT8 {}",
                    m.display(),
                    i.display()
                )),
                (Err(e), _) => ui.weak(e),
                (_, None) => ui.weak("No INT8 model yet: run PTQ in the Quantize view."),
            };
            super::start::path_field(
                ui,
                "Split",
                &mut self.split,
                "splits/combined_val.json",
            );
            ui.horizontal_wrapped(|ui| {
                let l = ui.label("Images");
                ui.add(egui::DragValue::new(&mut self.images).range(1..=10_000))
                    .labelled_by(l.id)
                    .on_hover_text("Inputs compared, evenly spaced over the split.");
                super::widgets::decoder_fields(ui, "diagnose_decoder", &mut self.decoder);
                let l = ui.label("GT max (m)");
                ui.add(
                    egui::DragValue::new(&mut self.settings.max_depth)
                        .speed(0.5)
                        .range(0.0..=10000.0),
                )
                .labelled_by(l.id);
            });
            ui.horizontal_wrapped(|ui| {
                ui.checkbox(&mut self.sweep, "Keep-float sweep")
                    .on_hover_text("Requantizes from the INT8 model's ranges.json with each tensor kept float and measures abs_rel on the split.");
                let l = ui.label("over the worst");
                ui.add_enabled(
                    self.sweep,
                    egui::DragValue::new(&mut self.sweep_k).range(1..=200),
                )
                .labelled_by(l.id);
                ui.label("activations;");
                let t = ui.add_enabled(
                    self.sweep,
                    egui::Checkbox::new(&mut self.set_target, "target abs_rel"),
                );
                ui.add_enabled(
                    self.sweep && self.set_target,
                    egui::DragValue::new(&mut self.target_abs_rel)
                        .speed(0.001)
                        .range(0.0..=10.0)
                        .max_decimals(4),
                )
                .labelled_by(t.id);
                if !self.set_target {
                    ui.weak("(default: halfway from INT8 to FP32)");
                }
            });
            ui.horizontal(|ui| match &self.rt.job {
                Some((p, _)) => super::jobs::progress_bar(ui, p, "images", 320.0),
                None => {
                    if ui.button("Run diagnosis").clicked() {
                        self.start(ctx);
                    }
                }
            });
            if let Some(e) = &self.rt.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        });
    }

    fn results_ui(&mut self, ui: &mut egui::Ui, ctx: &mut DiagCtx) {
        let Some(r) = &self.rt.result else {
            ui.weak("No diagnosis yet: run one above.");
            return;
        };
        let rep = &r.report;
        super::widgets::fidelity_ui(ui, Some(&rep.fidelity), None);
        ui.weak(format!("{}; {}.", rep.inputs, r.stats_note));
        ui.add_space(6.0);
        // Wide windows: the table beside its range inspector, both in view.
        if ui.available_width() >= 1000.0 {
            ui.columns(2, |c| {
                self.tensors_ui(&mut c[0]);
                self.refresh_inspection();
                self.inspector_ui(&mut c[1]);
            });
        } else {
            self.tensors_ui(ui);
            self.refresh_inspection();
            ui.add_space(6.0);
            self.inspector_ui(ui);
        }
        ui.add_space(6.0);
        self.floor_ui(ui);
        ui.add_space(6.0);
        self.methods_ui(ui);
        ui.add_space(6.0);
        self.sweep_ui(ui, ctx);
    }

    /// The SQNR plot and the table; a click on either selects the tensor.
    fn tensors_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Per-tensor comparison");
        let Some(r) = &self.rt.result else { return };
        if let Some(t) = plots::sqnr_along_graph(ui, &r.report.tensors, self.rt.selected.as_deref())
        {
            self.rt.selected = Some(t);
        }
        if let Some(t) = self.tensor_table(ui) {
            self.rt.selected = Some(t);
        }
    }

    /// The sortable table; returns the tensor clicked.
    fn tensor_table(&mut self, ui: &mut egui::Ui) -> Option<String> {
        let r = self.rt.result.as_ref()?;
        let mut rows: Vec<&TensorComparison> = r
            .report
            .tensors
            .iter()
            .filter(|t| self.weights || t.kind == TensorKind::Activation)
            .collect();
        sort_rows(&mut rows, self.sort);
        let mut clicked = None;
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.weights, "show weights");
            ui.weak(format!(
                "{} rows; click a header to sort (worst first), a tensor to inspect its range",
                rows.len()
            ));
        });
        egui::ScrollArea::vertical()
            .id_salt("diagnose_tensors")
            .max_height(240.0)
            .show(ui, |ui| {
                egui::Grid::new("diagnose_tensor_grid")
                    .striped(true)
                    .show(ui, |ui| {
                        let sort = &mut self.sort;
                        let mut head = |ui: &mut egui::Ui, label: &str, key: TensorSort| {
                            let text = if *sort == key {
                                format!("{label} ⏷")
                            } else {
                                label.to_owned()
                            };
                            if ui.button(text).clicked() {
                                *sort = key;
                            }
                        };
                        head(ui, "node", TensorSort::GraphOrder);
                        ui.label("tensor");
                        head(ui, "SQNR acc. (dB)", TensorSort::Accumulated);
                        head(ui, "SQNR iso. (dB)", TensorSort::Isolated);
                        head(ui, "cosine", TensorSort::Cosine);
                        head(ui, "max |err|", TensorSort::MaxError);
                        head(ui, "mean |err|", TensorSort::MeanError);
                        ui.end_row();
                        for t in rows {
                            ui.label(t.graph_index.to_string());
                            let on = self.rt.selected.as_deref() == Some(t.tensor.as_str());
                            let name = match t.kind {
                                TensorKind::Activation => t.tensor.clone(),
                                TensorKind::Weight => format!("{} (weight)", t.tensor),
                            };
                            if ui.selectable_label(on, name).clicked() {
                                clicked = Some(t.tensor.clone());
                            }
                            ui.label(format!("{:.1}", t.accumulated.sqnr_db));
                            ui.label(format!("{:.1}", t.isolated.sqnr_db));
                            ui.label(format!("{:.5}", t.accumulated.cosine));
                            ui.label(format!("{:.4}", t.accumulated.max_abs_error));
                            ui.label(format!("{:.5}", t.accumulated.mean_abs_error));
                            ui.end_row();
                        }
                    });
            });
        clicked
    }

    fn inspector_ui(&self, ui: &mut egui::Ui) {
        let Some(sel) = &self.rt.selected else {
            return;
        };
        ui.heading(format!("Range inspector: {sel}"));
        let Some((_, ins)) = &self.rt.inspection else {
            let why = match &self.rt.result {
                Some(r) if r.stats.is_empty() => r.stats_note.clone(),
                _ => "No calibration histogram for this tensor (weights and tensors left float have none).".into(),
            };
            ui.weak(why);
            return;
        };
        ui.weak(format!(
            "Observed {:.4} to {:.4} over the calibration set; each method with ONNX Runtime's defaults (Entropy on 128 bins, the others on 2048).",
            ins.observed_min, ins.observed_max
        ));
        plots::range_histogram(ui, ins);
        egui::Grid::new("diagnose_clip_grid")
            .striped(true)
            .show(ui, |ui| {
                for h in ["method", "min", "max", "values clipped"] {
                    ui.strong(h);
                }
                ui.end_row();
                for m in &ins.methods {
                    ui.colored_label(plots::method_color(m.method), method_name(m.method));
                    ui.label(format!("{:.4}", m.min));
                    ui.label(format!("{:.4}", m.max));
                    ui.label(format!("{:.4} %", 100.0 * m.clipped_share));
                    ui.end_row();
                }
            });
    }
}

/// The activation with the worst accumulated SQNR.
fn worst_activation(rows: &[TensorComparison]) -> Option<String> {
    rows.iter()
        .filter(|t| t.kind == TensorKind::Activation)
        .min_by(|a, b| a.accumulated.sqnr_db.total_cmp(&b.accumulated.sqnr_db))
        .map(|t| t.tensor.clone())
}

/// Worst first (graph order ascending).
pub(super) fn sort_rows(rows: &mut [&TensorComparison], key: TensorSort) {
    match key {
        TensorSort::Accumulated => {
            rows.sort_by(|a, b| a.accumulated.sqnr_db.total_cmp(&b.accumulated.sqnr_db))
        }
        TensorSort::Isolated => {
            rows.sort_by(|a, b| a.isolated.sqnr_db.total_cmp(&b.isolated.sqnr_db))
        }
        TensorSort::Cosine => {
            rows.sort_by(|a, b| a.accumulated.cosine.total_cmp(&b.accumulated.cosine))
        }
        TensorSort::MaxError => rows.sort_by(|a, b| {
            b.accumulated
                .max_abs_error
                .total_cmp(&a.accumulated.max_abs_error)
        }),
        TensorSort::MeanError => rows.sort_by(|a, b| {
            b.accumulated
                .mean_abs_error
                .total_cmp(&a.accumulated.mean_abs_error)
        }),
        TensorSort::GraphOrder => rows.sort_by_key(|t| t.graph_index),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_float_adds_new_names_once() {
        let mut list = "a\nb".to_owned();
        let msg = keep_float(&mut list, &["b".into(), "c".into()]);
        assert_eq!(list, "a\nb\nc");
        assert!(msg.starts_with("3 tensor(s) will stay float"), "{msg}");
        assert!(msg.contains("1 added"), "{msg}");
        let mut empty = String::new();
        keep_float(&mut empty, &["x".into()]);
        assert_eq!(empty, "x");
    }
}
