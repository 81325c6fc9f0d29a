//! The Quantize view: pick the FP32 model, check its preprocessing and the
//! range method, calibrate on the current curation (or random samples for
//! comparison), run PTQ with progress, read the ranges table, and drive the
//! vendor's toolchain with the same set.

use super::command::Command;
use super::jobs;
use super::ptq_tasks;
use super::ptq_tasks::QuantizeCtx;
use super::quantize::{self, RuntimeStatus, SetSource};
use crate::onnx::ModelSummary;
use crate::preprocess::{ChannelOrder, PreprocessSettings, ResizeFilter};
use crate::quantize::{ActivationType, RangeMethod};
use crate::toolchain::{LogLine, PLACEHOLDERS};

pub(super) fn show(v: &mut QuantizeCtx, ui: &mut egui::Ui) {
    ptq_tasks::check_runtime(v, ui.ctx());
    prefill_model(v);
    // Settings on the left, what the runs produced on the right: the ranges
    // table and the tool's log stay in sight while the settings change.
    // Below ~1100 points the two columns would overlap: one column, the
    // results under the settings.
    if ui.available_width() < 1100.0 {
        egui::ScrollArea::vertical()
            .id_salt("quantize_one_column")
            .show(ui, |ui| {
                settings_column(v, ui);
                ui.add_space(8.0);
                results_column(v, ui);
            });
        return;
    }
    let half = (ui.available_width() * 0.5).max(380.0);
    egui::Panel::right("quantize_results")
        .resizable(true)
        .default_size(half)
        .size_range(360.0..=1200.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("quantize_right")
                .show(ui, |ui| results_column(v, ui));
        });
    egui::ScrollArea::vertical()
        .id_salt("quantize_left")
        .show(ui, |ui| settings_column(v, ui));
}

/// Runtime, model, preprocessing, method, calibration set and Run.
fn settings_column(v: &mut QuantizeCtx, ui: &mut egui::Ui) {
    runtime_ui(v, ui);
    ui.add_space(4.0);
    model_ui(v, ui);
    ui.add_space(4.0);
    ui.group(|ui| preprocess_ui(v, ui));
    ui.add_space(4.0);
    ui.group(|ui| method_ui(v, ui));
    ui.add_space(4.0);
    set_ui(v, ui);
    ui.add_space(4.0);
    run_ui(v, ui);
}

/// What the runs produced, and the external toolchain.
fn results_column(v: &mut QuantizeCtx, ui: &mut egui::Ui) {
    result_ui(v, ui);
    ui.add_space(8.0);
    toolchain_ui(v, ui);
}

/// The demo (or any dataset with `models/demo_model.onnx`) brings its model.
fn prefill_model(v: &mut QuantizeCtx) {
    let Some(ds) = &v.ds else {
        return;
    };
    if v.quantize.prefilled_for.as_ref() == Some(&ds.root) {
        return;
    }
    v.quantize.prefilled_for = Some(ds.root.clone());
    let current = v.settings.model.trim().to_owned();
    if !current.is_empty() && std::path::Path::new(&current).is_file() {
        if v.quantize.inspected.is_none() {
            ptq_tasks::inspect(v);
        }
        return;
    }
    if let Some(p) = quantize::demo_model_under(&ds.root) {
        v.settings.model = p.display().to_string();
        ptq_tasks::inspect(v);
    }
}

fn runtime_ui(v: &QuantizeCtx, ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        ui.strong("ONNX Runtime:");
        match &v.quantize.runtime {
            None => {
                ui.weak("looking for it…");
            }
            Some(RuntimeStatus::Found(loc)) => {
                ui.label(format!("{} ({:?})", loc.path.display(), loc.source));
            }
            Some(RuntimeStatus::Missing) => {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!(
                        "not installed. Run PTQ will try to fetch onnxruntime=={} with pip into the app's cache; if that fails (offline, no Python), set ORT_DYLIB_PATH to a libonnxruntime.so or run `python3 -m pip install onnxruntime`. Everything else in the app works without it.",
                        crate::runtime::PINNED_ORT_VERSION
                    ),
                );
            }
            Some(RuntimeStatus::Broken(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        }
    });
}

fn model_ui(v: &mut QuantizeCtx, ui: &mut egui::Ui) {
    ui.group(|ui| {
        ui.strong("Model (FP32 ONNX)");
        let mut load = false;
        ui.horizontal_wrapped(|ui| {
            let r = super::start::path_field(
                ui,
                "Model file",
                &mut v.settings.model,
                "/models/resnetsan01_fp32.onnx",
            );
            // Leaving the field (Enter or a click elsewhere) on a new path reads it.
            if r.lost_focus() {
                let typed = v.settings.model.trim().to_owned();
                let shown = v
                    .quantize
                    .inspected
                    .as_ref()
                    .map(|i| i.model.display().to_string());
                load |= !typed.is_empty() && shown.as_deref() != Some(typed.as_str());
            }
            if ui.button("Browse model…").clicked() {
                if let Some(p) = v.pick("Model file", || {
                    rfd::FileDialog::new()
                        .add_filter("ONNX model", &["onnx"])
                        .pick_file()
                }) {
                    v.settings.model = p.display().to_string();
                    load = true;
                }
            }
            if ui
                .add_enabled(
                    !v.tasks.is_running(jobs::Kind::Inspect),
                    egui::Button::new("Load model"),
                )
                .clicked()
            {
                load = true;
            }
        });
        if load {
            ptq_tasks::inspect(v);
        }
        if v.tasks.is_running(jobs::Kind::Inspect) {
            ui.weak("Reading the model…");
            return;
        }
        let Some(ins) = &v.quantize.inspected else {
            ui.weak("Pick the model to quantize: its inputs, outputs and operators show here.");
            return;
        };
        match &ins.result {
            Ok((summary, _)) => summary_ui(ui, summary),
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, &e.text);
                if e.needs_size {
                    let mut use_size = false;
                    ui.horizontal(|ui| {
                        ui.label("Input size for the dynamic input: W");
                        let sz = &mut v.quantize.size_text;
                        if sz[0] == 0 {
                            *sz = [640, 384];
                        }
                        ui.add(egui::DragValue::new(&mut sz[0]).range(8..=8192))
                            .accessible_name("Dynamic input width");
                        ui.label("H");
                        ui.add(egui::DragValue::new(&mut sz[1]).range(8..=8192))
                            .accessible_name("Dynamic input height");
                        use_size = ui.button("Use this size").clicked();
                    });
                    if use_size {
                        let [w, h] = v.quantize.size_text;
                        v.settings.input_size = Some((w, h));
                        ptq_tasks::inspect(v);
                    }
                }
            }
        }
    });
}

fn summary_ui(ui: &mut egui::Ui, s: &ModelSummary) {
    egui::Grid::new("model_summary")
        .num_columns(2)
        .spacing([12.0, 2.0])
        .show(ui, |ui| {
            for i in &s.inputs {
                ui.weak("input");
                ui.label(i.to_string());
                ui.end_row();
            }
            for o in &s.outputs {
                ui.weak("output");
                ui.label(o.to_string());
                ui.end_row();
            }
            ui.weak("graph");
            ui.label(format!(
                "opset {} · IR {} · {} nodes · {} parameters{}",
                s.opset.map(|o| o.to_string()).unwrap_or_else(|| "?".into()),
                s.ir_version,
                s.node_count,
                s.parameter_count,
                if s.producer.is_empty() {
                    String::new()
                } else {
                    format!(" · {}", s.producer)
                }
            ));
            ui.end_row();
            ui.weak("operators");
            ui.label(
                s.op_counts
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            ui.end_row();
        });
}

fn preprocess_ui(v: &mut QuantizeCtx, ui: &mut egui::Ui) {
    ui.strong("Preprocessing");
    let s = &mut v.settings;
    let model_pre = v
        .quantize
        .inspected
        .as_ref()
        .and_then(|i| i.result.as_ref().ok())
        .map(|(_, p)| p.clone());
    let Some(p) = s
        .preprocess
        .as_mut()
        .filter(|_| s.preprocess_model == s.model.trim())
    else {
        ui.weak("Prefilled from the model's input once it is loaded.");
        return;
    };
    egui::Grid::new("preprocess_grid")
        .num_columns(2)
        .spacing([8.0, 4.0])
        .show(ui, |ui| {
            let l = ui.label("Input name");
            ui.add(egui::TextEdit::singleline(&mut p.input_name).desired_width(120.0))
                .labelled_by(l.id);
            ui.end_row();
            ui.label("Size W × H");
            ui.horizontal(|ui| {
                ui.add(egui::DragValue::new(&mut p.width).range(8..=8192))
                    .accessible_name("Input width");
                ui.label("×");
                ui.add(egui::DragValue::new(&mut p.height).range(8..=8192))
                    .accessible_name("Input height");
                ui.weak(format!("{:?}", p.layout).to_uppercase());
            });
            ui.end_row();
            ui.label("Resize filter");
            ui.horizontal(|ui| {
                ui.selectable_value(&mut p.filter, ResizeFilter::Bilinear, "bilinear");
                ui.selectable_value(&mut p.filter, ResizeFilter::Lanczos, "Lanczos");
            });
            ui.end_row();
            ui.label("Channels");
            ui.horizontal(|ui| {
                ui.selectable_value(&mut p.channel_order, ChannelOrder::Rgb, "RGB");
                ui.selectable_value(&mut p.channel_order, ChannelOrder::Bgr, "BGR");
            });
            ui.end_row();
            let l = ui.label("Scale");
            ui.horizontal(|ui| {
                ui.add(
                    egui::DragValue::new(&mut p.scale)
                        .speed(0.0001)
                        .max_decimals(6),
                )
                .labelled_by(l.id);
                if ui.small_button("1/255").clicked() {
                    p.scale = 1.0 / 255.0;
                }
                if ui.small_button("1").clicked() {
                    p.scale = 1.0;
                }
            });
            ui.end_row();
            norm_row(ui, "Mean", &mut p.mean, [0.485, 0.456, 0.406]);
            norm_row(ui, "Std", &mut p.std, [0.229, 0.224, 0.225]);
        });
    if let Some(m) = model_pre {
        if *p != m && ui.small_button("Reset to the model's").clicked() {
            *p = m;
        }
    }
    ui.weak("The users' network normalises inside: mean/std stay off unless the export differs.");
}

/// A per-channel normalisation row: off, or three values.
fn norm_row(ui: &mut egui::Ui, name: &str, v: &mut Option<[f32; 3]>, imagenet: [f32; 3]) {
    ui.label(name);
    ui.horizontal(|ui| {
        let mut on = v.is_some();
        if ui
            .checkbox(&mut on, "")
            .on_hover_text(format!("use a {name} per channel"))
            .changed()
        {
            *v = on.then_some(imagenet);
        }
        if let Some(x) = v {
            for (c, ch) in x.iter_mut().zip(["first", "second", "third"]) {
                ui.add(egui::DragValue::new(c).speed(0.001).max_decimals(4))
                    .accessible_name(format!("{name} of the {ch} channel"));
            }
        } else {
            ui.weak("none");
        }
    });
    ui.end_row();
}

fn method_ui(v: &mut QuantizeCtx, ui: &mut egui::Ui) {
    let opset = v
        .quantize
        .inspected
        .as_ref()
        .and_then(|i| i.result.as_ref().ok())
        .and_then(|(m, _)| m.opset);
    let s = &mut v.settings;
    ui.strong("Range method");
    ui.horizontal_wrapped(|ui| {
        for (m, label) in [
            (RangeMethod::MinMax, "MinMax"),
            (RangeMethod::Percentile, "Percentile"),
            (RangeMethod::Entropy, "Entropy"),
            (RangeMethod::Mse, "MSE"),
        ] {
            ui.selectable_value(&mut s.method, m, label);
        }
    });
    ui.weak(match s.method {
        RangeMethod::MinMax => {
            "observed min and max (ONNX Runtime's default; what the NPU toolchain uses)"
        }
        RangeMethod::Percentile => "|x| threshold at a percentile of the histogram",
        RangeMethod::Entropy => "KL-divergence threshold search, TensorRT style",
        RangeMethod::Mse => "the threshold that minimises the quantization error on the histogram",
    });
    egui::Grid::new("method_grid")
        .num_columns(2)
        .spacing([8.0, 4.0])
        .show(ui, |ui| {
            if s.method == RangeMethod::Percentile {
                let l = ui.label("Percentile");
                ui.add(
                    egui::DragValue::new(&mut s.options.percentile)
                        .range(90.0..=100.0)
                        .speed(0.001)
                        .max_decimals(4),
                )
                .labelled_by(l.id);
                ui.end_row();
            }
            if s.method != RangeMethod::MinMax {
                let l = ui.label("Histogram bins");
                ui.add(egui::DragValue::new(&mut s.options.num_bins).range(128..=65536))
                    .labelled_by(l.id);
                ui.end_row();
            }
            ui.label("Activations");
            ui.horizontal(|ui| {
                ui.selectable_value(&mut s.activation, ActivationType::Uint8, "uint8 asymmetric");
                ui.selectable_value(&mut s.activation, ActivationType::Int8, "int8 symmetric");
            });
            ui.end_row();
            ui.label("Weights");
            ui.horizontal_wrapped(|ui| {
                ui.checkbox(&mut s.per_channel, "per-channel scales")
                    .on_hover_text(
                    "Needs opset 13+. The users' NPU is per-tensor only: leave it off for the NPU.",
                );
                if let Some(o) = opset.filter(|&o| o < 13 && s.per_channel) {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        format!("this model is opset {o}: per-channel needs 13+"),
                    );
                }
            });
            ui.end_row();
            let l = ui.label("Keep float: tensors");
            ui.add(
                egui::TextEdit::multiline(&mut s.keep_float_tensors)
                    .desired_rows(2)
                    .desired_width(220.0)
                    .hint_text("one tensor name per line"),
            )
            .labelled_by(l.id);
            ui.end_row();
            let l = ui.label("Keep float: nodes");
            ui.add(
                egui::TextEdit::multiline(&mut s.keep_float_nodes)
                    .desired_rows(2)
                    .desired_width(220.0)
                    .hint_text("one node name per line"),
            )
            .labelled_by(l.id);
            ui.end_row();
        });
}

fn set_ui(v: &mut QuantizeCtx, ui: &mut egui::Ui) {
    let Some(ds) = &v.ds else {
        return;
    };
    let s = &mut v.settings;
    ui.group(|ui| {
        ui.strong("Calibration set");
        ui.horizontal_wrapped(|ui| {
            ui.radio_value(
                &mut s.source,
                SetSource::Curation,
                format!("The current curation ({} samples)", ds.cur.set_len()),
            );
            ui.radio_value(&mut s.source, SetSource::Random, "Random samples of the split");
            let l = ui.label("N");
            ui.add(egui::DragValue::new(&mut s.random_n).range(1..=100_000))
                .labelled_by(l.id);
            let l = ui.label("seed");
            ui.add(egui::DragValue::new(&mut s.random_seed))
                .labelled_by(l.id);
        });
        match quantize::set_count(ds, s) {
            Ok(n) => {
                ui.weak(match s.source {
                    SetSource::Curation => format!("{n} images of the Calibration set view, in set order."),
                    SetSource::Random => format!("{n} images drawn by the random strategy (excluded samples left out), for comparison with the curation."),
                });
            }
            Err(e) => {
                ui.colored_label(ui.visuals().warn_fg_color, e);
            }
        }
    });
}

/// The project's PTQ runs, newest first, each with its folder.
fn runs_list(ds: &super::dataset::Dataset, cmds: &super::command::Commands, ui: &mut egui::Ui) {
    let runs = &ds.project.ptq_runs;
    if runs.is_empty() {
        return;
    }
    egui::CollapsingHeader::new(format!("Runs of this project ({})", runs.len()))
        .id_salt("ptq_runs")
        .default_open(true)
        .show(ui, |ui| {
            egui::Grid::new("ptq_runs_table")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for h in ["run", "method", "calibrated on", ""] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for r in runs.iter().rev() {
                        ui.label(&r.name)
                            .on_hover_text(r.model.display().to_string());
                        ui.label(&r.method);
                        ui.add(egui::Label::new(&r.set).wrap());
                        if let Some(dir) = r.model.parent() {
                            if ui
                                .small_button("Open")
                                .on_hover_text(format!("open {}", dir.display()))
                                .clicked()
                            {
                                cmds.send(Command::OpenFolder(dir.to_path_buf()));
                            }
                        }
                        ui.end_row();
                    }
                });
        });
}

fn run_ui(v: &mut QuantizeCtx, ui: &mut egui::Ui) {
    let Some(ds) = &v.ds else {
        return;
    };
    let s = &v.settings;
    let model_ok = v
        .quantize
        .inspected
        .as_ref()
        .is_some_and(|i| i.result.is_ok() && i.model.display().to_string() == s.model.trim());
    let out = quantize::check_output(ds, &s.output);
    let set = quantize::set_count(ds, s);
    let mut run = false;
    let mut reload = false;
    let desktop = v.desktop;
    let cmds = &v.cmds;
    ui.group(|ui| {
        ui.strong("Run");
        let s = &mut v.settings;
        ui.horizontal_wrapped(|ui| {
            super::start::path_field(ui, "INT8 model", &mut s.output, "/work/out/model_int8.onnx");
            if ui.button("Browse output…").clicked() {
                let picked = super::dialogs::pick(desktop, "INT8 model", || {
                    rfd::FileDialog::new()
                        .add_filter("ONNX model", &["onnx"])
                        .save_file()
                });
                match picked {
                    Ok(Some(p)) => s.output = p.display().to_string(),
                    Ok(None) => {}
                    Err(e) => cmds.error(e),
                }
            }
        });
        super::start::path_field(
            ui,
            "Run name",
            &mut s.run_name,
            &format!("{}_<date-time>", s.method),
        );
        match &out {
            Err(e) => {
                ui.colored_label(ui.visuals().warn_fg_color, e);
            }
            Ok(base) => {
                let name = quantize::run_name(&s.run_name, &s.method.to_string(), quantize::now_secs());
                let folder = base.parent().unwrap_or(std::path::Path::new(".")).join(name);
                ui.add(
                    egui::Label::new(format!(
                        "Each run writes into its own folder, e.g. {}: the model, its ranges.json and a TensorRT-style calibration cache.",
                        folder.display()
                    ))
                    .wrap(),
                );
            }
        }
        let busy = v.tasks.is_running(jobs::Kind::Ptq);
        let why = if !model_ok {
            Some("load a model first".to_owned())
        } else if let Err(e) = &set {
            Some(e.clone())
        } else {
            out.as_ref().err().cloned()
        };
        ui.horizontal_wrapped(|ui| {
            let b = ui.add_enabled(why.is_none() && !busy, egui::Button::new("Run PTQ"));
            if let Some(w) = &why {
                ui.weak(format!("({w})"));
            } else if b.clicked() {
                run = true;
            }
        });
        ui.horizontal_wrapped(|ui| {
            super::start::path_field(
                ui,
                "Ranges file",
                &mut s.ranges_file,
                "model_int8.ranges.json",
            );
            if ui.button("Browse ranges…").clicked() {
                let picked = super::dialogs::pick(desktop, "Ranges file", || {
                    rfd::FileDialog::new()
                        .add_filter("ranges", &["json"])
                        .pick_file()
                });
                match picked {
                    Ok(Some(p)) => s.ranges_file = p.display().to_string(),
                    Ok(None) => {}
                    Err(e) => cmds.error(e),
                }
            }
            let can_reload = model_ok && out.is_ok() && !busy && !s.ranges_file.trim().is_empty();
            if ui
                .add_enabled(can_reload, egui::Button::new("Reload ranges"))
                .on_hover_text("Requantize with the ranges of an earlier run, without calibrating")
                .clicked()
            {
                reload = true;
            }
        });
        if let Some(job) = v.tasks.get(jobs::Kind::Ptq) {
            ui.horizontal(|ui| jobs::progress_bar(ui, &job.progress, "images", 360.0));
        }
        runs_list(ds, cmds, ui);
    });
    if run {
        ptq_tasks::start_ptq(v, false);
    }
    if reload {
        ptq_tasks::start_ptq(v, true);
    }
}

fn result_ui(v: &mut QuantizeCtx, ui: &mut egui::Ui) {
    if let Some(e) = &v.quantize.run_error {
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(ui.visuals().error_fg_color, "PTQ failed:");
            ui.colored_label(ui.visuals().error_fg_color, e);
        });
    }
    let Some(o) = &v.quantize.outcome else {
        return;
    };
    let r = &o.report;
    ui.group(|ui| {
        ui.strong(if o.reloaded {
            "Result (ranges reloaded)"
        } else {
            "Result"
        });
        // INT8 against FP32 on held-out samples, after every run.
        super::widgets::fidelity_ui(ui, r.fidelity.as_ref(), r.fidelity_note.as_deref());
        for w in &r.range_warnings {
            ui.colored_label(ui.visuals().warn_fg_color, w);
        }
        egui::Grid::new("ptq_result")
            .num_columns(2)
            .spacing([12.0, 2.0])
            .show(ui, |ui| {
                ui.weak("INT8 model");
                path_label(ui, &r.output);
                ui.end_row();
                ui.weak("ranges");
                path_label(ui, &r.ranges_path);
                ui.end_row();
                ui.weak("calibration cache");
                path_label(ui, &r.calibration_cache_path);
                ui.end_row();
                ui.weak("calibration set");
                let c = &r.calibration_set;
                ui.add(
                    egui::Label::new(format!(
                        "{} · {} inputs · sha256 {}…",
                        o.set,
                        c.count,
                        c.sha256.get(..16).unwrap_or(&c.sha256)
                    ))
                    .truncate(),
                )
                .on_hover_text(format!(
                    "{}\nfirst: {}\nlast: {}\nsha256 {}",
                    c.source,
                    c.first.as_deref().unwrap_or("-"),
                    c.last.as_deref().unwrap_or("-"),
                    c.sha256
                ));
                ui.end_row();
                ui.weak("weights");
                ui.label(format!(
                    "{} quantized (int8), {} biases (int32), {} left float",
                    r.weights_quantized,
                    r.biases_quantized,
                    r.weights_left_float.len()
                ));
                ui.end_row();
                if !r.weights_left_float.is_empty() {
                    ui.weak("left float");
                    ui.add(
                        egui::Label::new(
                            r.weights_left_float
                                .iter()
                                .map(|(w, why)| format!("{w} ({why})"))
                                .collect::<Vec<_>>()
                                .join("; "),
                        )
                        .wrap(),
                    );
                    ui.end_row();
                }
                ui.weak("time");
                ui.label(format!(
                    "calibration {:.2} s · total {:.2} s",
                    r.calibration_seconds, r.total_seconds
                ));
                ui.end_row();
                ui.weak("INT8 graph");
                ui.label(format!(
                    "{} nodes ({} QuantizeLinear, {} DequantizeLinear)",
                    r.int8.node_count,
                    r.int8.op_counts.get("QuantizeLinear").copied().unwrap_or(0),
                    r.int8
                        .op_counts
                        .get("DequantizeLinear")
                        .copied()
                        .unwrap_or(0)
                ));
                ui.end_row();
            });
        if let Some(dir) = r.output.parent() {
            if ui.button("Open output folder").clicked() {
                v.cmds.send(Command::OpenFolder(dir.to_path_buf()));
            }
        }
        if let Some(w) = &r.ranges_model_mismatch {
            ui.colored_label(ui.visuals().warn_fg_color, w);
        }
        ui.add_space(4.0);
        ui.strong(format!("Ranges ({} tensors)", r.ranges.len()));
        // Long tensor names scroll sideways instead of pushing the panel wider.
        egui::ScrollArea::both()
            .id_salt("ranges_table")
            .max_height(300.0)
            .show(ui, |ui| {
                egui::Grid::new("ranges_grid")
                    .striped(true)
                    .num_columns(6)
                    .spacing([16.0, 2.0])
                    .show(ui, |ui| {
                        for h in ["tensor", "min", "max", "scale", "zero point", "method"] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for row in &r.ranges {
                            ui.label(&row.tensor);
                            ui.monospace(quantize::format_bound(row.min));
                            ui.monospace(quantize::format_bound(row.max));
                            let scale = quantize::format_scale(row.scale);
                            ui.monospace(scale);
                            ui.monospace(
                                row.zero_point
                                    .map(|z| z.to_string())
                                    .unwrap_or_else(|| "—".into()),
                            );
                            match &row.shared_with {
                                Some(t) => ui.label(format!("{} (shares {t})", row.method)),
                                None => ui.label(row.method.to_string()),
                            };
                            ui.end_row();
                        }
                    });
            });
    });
}

/// A path cut to the space there is, in full on hover.
fn path_label(ui: &mut egui::Ui, p: &std::path::Path) {
    let text = p.display().to_string();
    ui.add(egui::Label::new(&text).truncate())
        .on_hover_text(text);
}

fn toolchain_ui(v: &mut QuantizeCtx, ui: &mut egui::Ui) {
    let Some(ds) = &v.ds else {
        return;
    };
    let mut run = false;
    egui::CollapsingHeader::new("External toolchain")
        .id_salt("toolchain")
        .default_open(true)
        .show(ui, |ui| {
            ui.weak(format!(
                "The vendor's quantizer, run on the same calibration set without a shell. Placeholders: {}.",
                PLACEHOLDERS.join(" ")
            ));
            let s = &mut v.settings;
            ui.horizontal(|ui| {
                let l = ui.add_sized([120.0, 20.0], egui::Label::new("Command"));
                ui.add(
                    egui::TextEdit::singleline(&mut s.toolchain_template)
                        .font(egui::TextStyle::Monospace)
                        .desired_width(ui.available_width().max(200.0))
                        .hint_text("vendor_quant --model {model} --dataset {image_list} --output {output}"),
                )
                .labelled_by(l.id);
            });
            super::start::path_field(ui, "Tool output", &mut s.toolchain_output, "/work/out/npu_model.bin");
            let job = quantize::toolchain_job(ds, s);
            let argv = job.as_ref().map_err(Clone::clone).and_then(|j| {
                crate::toolchain::expand_template(&s.toolchain_template, j)
                    .map_err(|e| e.to_string())
            });
            match &argv {
                Ok(v) => {
                    ui.horizontal_wrapped(|ui| {
                        ui.weak("Runs:");
                        ui.monospace(
                            v.iter()
                                .map(|a| {
                                    if a.contains(' ') || a.is_empty() {
                                        format!("'{a}'")
                                    } else {
                                        a.clone()
                                    }
                                })
                                .collect::<Vec<_>>()
                                .join(" "),
                        );
                    });
                    if let Ok(j) = &job {
                        ui.weak(format!(
                            "The set's {} images and image_list.txt are placed in {} first.",
                            j.num_samples,
                            j.image_dir.display()
                        ));
                    }
                }
                // Nothing typed yet is not a mistake: say what to do, quietly.
                Err(_) if s.toolchain_template.trim().is_empty() => {
                    ui.weak("Type the tool's command line to run it.");
                }
                Err(e) => {
                    ui.colored_label(ui.visuals().warn_fg_color, e);
                }
            }
            ui.horizontal(|ui| {
                let busy = v.tasks.is_running(jobs::Kind::Toolchain);
                if ui
                    .add_enabled(argv.is_ok() && !busy, egui::Button::new("Run tool"))
                    .clicked()
                {
                    run = true;
                }
                if let Some(j) = v.tasks.get(jobs::Kind::Toolchain) {
                    let st = j.progress.snapshot();
                    ui.label(format!("running ({})…", st.stage));
                    if st.cancelled {
                        ui.label("cancelling…");
                    } else if ui.button("Cancel tool").clicked() {
                        j.cancel();
                    }
                }
            });
            let q = &v.quantize;
            if !q.log.is_empty() || v.tasks.is_running(jobs::Kind::Toolchain) {
                // Only the visible lines are laid out: vendor tools can log a lot.
                let row_h = ui.text_style_height(&egui::TextStyle::Monospace);
                egui::Frame::group(ui.style())
                    .fill(ui.visuals().extreme_bg_color)
                    .show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        egui::ScrollArea::both()
                            .id_salt("toolchain_log")
                            .max_height(180.0)
                            .auto_shrink([false, true])
                            .stick_to_bottom(true)
                            .show_rows(ui, row_h, q.log.len(), |ui, rows| {
                                for l in &q.log[rows] {
                                    let (t, warn) = match l {
                                        LogLine::Stdout(t) => (t, false),
                                        LogLine::Stderr(t) => (t, true),
                                    };
                                    let mut text = egui::RichText::new(t).monospace();
                                    if warn {
                                        text = text.color(ui.visuals().warn_fg_color);
                                    }
                                    ui.add(egui::Label::new(text).extend());
                                }
                            });
                    });
            }
            if let Some(r) = &q.toolchain_run {
                let text = format!("Tool finished: {}", ptq_tasks::describe_run(r));
                if r.succeeded() {
                    ui.label(text);
                } else {
                    ui.colored_label(ui.visuals().error_fg_color, text);
                }
                if let Some(o) = &q.toolchain_fidelity {
                    super::widgets::fidelity_ui(ui, o.fidelity.as_ref(), o.note.as_deref());
                    if let Some(p) = &o.path {
                        path_label(ui, p);
                    }
                }
                if let Some(dir) = r.output.parent() {
                    if ui.button("Open the tool's output folder").clicked() {
                        v.cmds.send(Command::OpenFolder(dir.to_path_buf()));
                    }
                }
            }
            if let Some(e) = &q.toolchain_error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        });
    if run {
        ptq_tasks::start_toolchain(v);
    }
}

/// The preprocessing the runs will use, if the model is loaded.
pub fn current_preprocess(s: &quantize::QuantizeSettings) -> Option<&PreprocessSettings> {
    s.preprocess
        .as_ref()
        .filter(|_| s.preprocess_model == s.model.trim())
}
