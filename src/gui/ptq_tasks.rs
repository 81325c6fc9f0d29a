//! The Quantize view's background work: inspect the model, run PTQ, run the
//! external toolchain, look for ONNX Runtime. Each hands the library's own
//! functions to a [`Task`](super::jobs::Task) whose [`QuantizeDone`] the app
//! hands back to [`take`]; nothing is computed here.

use std::path::{Path, PathBuf};

use super::command::Command;
use super::command::Commands;
use super::dataset::Dataset;
use super::dialogs::DesktopSupport;
use super::jobs::Kind;
use super::jobs::Tasks;
use super::quantize::{self, InspectError, Inspected, PtqOutcome, QuantizeDone, RuntimeStatus};
use super::quantize::{QuantizeSettings, QuantizeState, QuantizeView};
use super::state::{Level, Notice};
use super::view::ViewCtx;
use crate::export::{self, LinkMode};
use crate::preprocess::PreprocessError;
use crate::quantize::{inspect_model, run_ptq_with, PtqError, PtqOptions};
use crate::toolchain::{output_fidelity, output_is_onnx, run_toolchain};
use crate::toolchain::{OutputCheck, OutputFidelity, ToolchainRun};

/// What the Quantize view's functions work on: the view's own state and
/// what it reads of the rest (the open dataset, its settings kept between
/// runs, the running tasks, the Evaluate view's output decoding).
pub struct QuantizeCtx<'a> {
    pub ds: Option<&'a mut Dataset>,
    pub quantize: &'a mut QuantizeState,
    pub settings: &'a mut QuantizeSettings,
    pub tasks: &'a Tasks,
    pub cmds: &'a Commands,
    pub desktop: DesktopSupport,
    pub decoder: &'a crate::evaluate::Decoder,
}

impl QuantizeCtx<'_> {
    /// Runs a file dialog (see [`super::dialogs::pick`]); a missing dialog is reported.
    pub fn pick(&self, field: &str, dialog: impl FnOnce() -> Option<PathBuf>) -> Option<PathBuf> {
        super::dialogs::pick_or_say(self.desktop, self.cmds, field, dialog)
    }
}

impl QuantizeView {
    /// Draws the Quantize view; `decoder` is the Evaluate view's reading of the outputs.
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ViewCtx, decoder: &crate::evaluate::Decoder) {
        let mut v = QuantizeCtx {
            ds: Some(&mut *ctx.ds),
            quantize: &mut self.rt,
            settings: &mut self.settings,
            tasks: ctx.tasks,
            cmds: ctx.cmds,
            desktop: ctx.desktop,
            decoder,
        };
        super::quantize_view::show(&mut v, ui);
    }

    /// Takes a finished piece of the view's work in (see [`take`]).
    pub fn take(&mut self, done: QuantizeDone, ds: Option<&mut Dataset>, cmds: &Commands) {
        take(&mut self.rt, done, ds, &mut self.settings, cmds);
    }
}

/// Looks for ONNX Runtime once (a Python query: never on the UI thread).
pub fn check_runtime(v: &mut QuantizeCtx, ctx: &egui::Context) {
    let q = &mut v.quantize;
    if q.runtime.is_some() || q.runtime_rx.is_some() {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    q.runtime_rx = Some(rx);
    let ctx = ctx.clone();
    std::thread::spawn(move || {
        let paths = crate::runtime::SearchPaths::from_environment();
        let status = match crate::runtime::locate(&paths) {
            Ok(Some(loc)) => RuntimeStatus::Found(loc),
            Ok(None) => RuntimeStatus::Missing,
            Err(e) => RuntimeStatus::Broken(e.to_string()),
        };
        let _ = tx.send(status);
        ctx.request_repaint();
    });
}

/// Reads the model's summary and the preprocessing it implies.
pub fn inspect(v: &mut QuantizeCtx) {
    if v.tasks.is_running(Kind::Inspect) {
        return;
    }
    let text = v.settings.model.trim().to_owned();
    if text.is_empty() {
        v.quantize.inspected = None;
        return;
    }
    let model = PathBuf::from(text);
    let size = v.settings.input_size;
    v.cmds.run(Kind::Inspect, "read model", None, move |p| {
        p.begin("read model", 1);
        let result = inspect_model(&model, size).map_err(|e| InspectError {
            needs_size: matches!(e, PtqError::Preprocess(PreprocessError::DynamicSize { .. })),
            text: e.to_string(),
        });
        p.inc(1);
        Command::Quantize(Box::new(QuantizeDone::Inspected(Inspected {
            model,
            result,
        })))
    });
}

/// Takes an inspection in: prefills preprocessing (unless already edited for
/// this model) and the output paths when they are empty.
fn take_inspected(
    q: &mut QuantizeState,
    ins: Inspected,
    ds: Option<&Dataset>,
    s: &mut QuantizeSettings,
) {
    if let (Ok((_, pre)), Some(ds)) = (&ins.result, ds) {
        let key = ins.model.display().to_string();
        if s.preprocess.is_none() || s.preprocess_model != key {
            s.preprocess = Some(pre.clone());
            s.preprocess_model = key;
        }
        if s.output.trim().is_empty() {
            s.output = quantize::default_output(ds, &ins.model)
                .display()
                .to_string();
        }
        if s.toolchain_output.trim().is_empty() {
            let out = PathBuf::from(s.output.trim());
            s.toolchain_output = out
                .with_file_name("toolchain")
                .join(
                    ins.model
                        .file_name()
                        .unwrap_or_else(|| std::ffi::OsStr::new("model.onnx")),
                )
                .display()
                .to_string();
        }
    }
    q.inspected = Some(ins);
}

/// Runs PTQ on the chosen calibration set, or requantizes from a ranges.json.
pub fn start_ptq(v: &mut QuantizeCtx, reload: bool) {
    if v.tasks.is_running(Kind::Ptq) {
        return;
    }
    let Some(ds) = &v.ds else {
        return;
    };
    let s = v.settings.clone();
    let decoder = v.decoder.clone();
    let prepared = (|| {
        let pre = match &s.preprocess {
            Some(p) if s.preprocess_model == s.model.trim() => p.clone(),
            _ => {
                return Err(
                    "Load the model first (its preprocessing comes from its input).".to_owned(),
                )
            }
        };
        let base = quantize::check_output(ds, &s.output)?;
        let method = if reload {
            "reload".to_owned()
        } else {
            s.method.to_string()
        };
        let name = quantize::run_name(&s.run_name, &method, quantize::now_secs());
        let output = quantize::run_output(&base, &name);
        let run_name = output
            .parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(name);
        // The fidelity check's held-out samples, with the Evaluate view's decoder.
        let opts = PtqOptions {
            held_out: Some(quantize::held_out_inputs(ds)),
            decoder: Some(decoder.clone()),
            ..Default::default()
        };
        let (images, set, ranges_from) = if reload {
            let r = PathBuf::from(s.ranges_file.trim());
            if !r.is_file() {
                return Err(format!(
                    "No ranges file at {}; pick the .ranges.json of an earlier run.",
                    r.display()
                ));
            }
            let set = format!("ranges reloaded from {}", r.display());
            (Vec::new(), set, Some(r))
        } else {
            let (samples, set) = quantize::calibration_samples(ds, &s)?;
            (samples.into_iter().map(|x| x.image).collect(), set, None)
        };
        Ok((
            quantize::ptq_request(&s, pre, images, output, ranges_from),
            set,
            run_name,
            method,
            opts,
        ))
    })();
    let (req, set, run_name, method, opts) = match prepared {
        Ok(x) => x,
        Err(e) => {
            v.quantize.run_error = Some(e);
            return;
        }
    };
    v.quantize.run_error = None;
    v.quantize.outcome = None;
    v.cmds.run(Kind::Ptq, "quantize", None, move |p| {
        let run = move || -> Result<PtqOutcome, String> {
            let dir = req.output.parent().unwrap_or(Path::new(".")).to_path_buf();
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let report = run_ptq_with(&req, &opts, p).map_err(|e| {
                // A failed or cancelled run leaves no empty run folder behind
                // (remove_dir refuses a folder that holds anything).
                let _ = std::fs::remove_dir(&dir);
                e.to_string()
            })?;
            Ok(PtqOutcome {
                report,
                set,
                reloaded: reload,
                run_name,
                method,
            })
        };
        Command::Quantize(Box::new(QuantizeDone::Ptq(run())))
    });
}

/// Places the set's images and lists for the tool, then runs its command
/// (no shell), streaming the log; records the run beside its output.
pub fn start_toolchain(v: &mut QuantizeCtx) {
    if v.tasks.is_running(Kind::Toolchain) {
        return;
    }
    let Some(ds) = &v.ds else {
        return;
    };
    let s = v.settings.clone();
    let prepared = quantize::toolchain_job(ds, &s).and_then(|job| {
        crate::toolchain::expand_template(&s.toolchain_template, &job)
            .map_err(|e| e.to_string())?;
        let (samples, set) = quantize::calibration_samples(ds, &s)?;
        Ok((job, samples, set))
    });
    let (job, samples, set) = match prepared {
        Ok(x) => x,
        Err(e) => {
            v.quantize.toolchain_error = Some(e);
            return;
        }
    };
    // The fidelity check of an ONNX output: INT8 against FP32 on the
    // held-out inputs a PTQ run of this view would use, with the Evaluate
    // view's decoder.
    let check = OutputCheck {
        fp32: job.model.clone(),
        calibration: samples.iter().map(|x| x.image.clone()).collect(),
        held_out: Some(quantize::held_out_inputs(ds)),
        samples: PtqOptions::default().fidelity_samples,
        preprocess: super::quantize_view::current_preprocess(&s).cloned(),
        input_size: s.input_size,
        decoder: Some(v.decoder.clone()),
    };
    let root = ds.root.clone();
    let template = s.toolchain_template.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    v.quantize.log.clear();
    v.quantize.log_rx = Some(rx);
    v.quantize.toolchain_error = None;
    v.quantize.toolchain_run = None;
    v.quantize.toolchain_fidelity = None;
    v.cmds.run(Kind::Toolchain, "external toolchain", None, move |p| {
        let run = move || -> Result<(ToolchainRun, Option<OutputFidelity>), String> {
            let placed = export::copy_images(&root, &samples, &job.image_dir, LinkMode::Copy, p)
                .map_err(|e| e.to_string())?;
            if placed.cancelled {
                return Err("Cancelled while placing the calibration images.".into());
            }
            if !placed.skipped.is_empty() {
                let k = &placed.skipped[0];
                return Err(format!(
                    "{} calibration images could not be placed (first: {}: {}); the tool was not run.",
                    placed.skipped.len(),
                    k.key,
                    k.reason
                ));
            }
            let job = crate::toolchain::ToolchainJob {
                num_samples: placed.images.len(),
                ..job
            };
            if let Some(dir) = job.output.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            let note = tx.clone();
            let run = run_toolchain(&template, &job, tx, p).map_err(|e| e.to_string())?;
            if run.succeeded() && output_is_onnx(&run) {
                p.begin("fidelity check of the tool's output", 0);
                let _ = note.send(crate::toolchain::LogLine::Stdout(format!(
                    "[calibscope] the tool exited; checking its ONNX output against FP32 on up to {} held-out inputs (Cancel tool stops the check, keeping the output)",
                    check.samples
                )));
            }
            drop(note);
            let fidelity = output_fidelity(&run, &check, p);
            // The run's record: command, exit status, output file, calibration set, fidelity.
            let record = serde_json::json!({
                "run": run,
                "calibration_set": set,
                "image_list": job.image_list,
                "fidelity": fidelity,
            });
            let rec_path = job.output.with_file_name("toolchain_run.json");
            crate::fsutil::write_atomic(
                &rec_path,
                serde_json::to_string_pretty(&record)
                    .expect("serialisable")
                    .as_bytes(),
            )
            .map_err(|e| format!("cannot write {}: {e}", rec_path.display()))?;
            Ok((run, fidelity))
        };
        Command::Quantize(Box::new(QuantizeDone::Toolchain(run())))
    });
}

/// Takes a finished piece of the Quantize view's work in.
fn take(
    q: &mut QuantizeState,
    done: QuantizeDone,
    ds: Option<&mut Dataset>,
    settings: &mut QuantizeSettings,
    cmds: &Commands,
) {
    match done {
        QuantizeDone::Inspected(ins) => take_inspected(q, ins, ds.as_deref(), settings),
        QuantizeDone::Ptq(Ok(outcome)) => {
            let dir = outcome.report.output.parent().map(|d| d.to_path_buf());
            let text = format!(
                "Run {}: INT8 model written to {} ({} tensors ranged).",
                outcome.run_name,
                outcome.report.output.display(),
                outcome.report.ranges.len()
            );
            if let Some(ds) = ds {
                ds.project.ptq_runs.push(super::project::PtqRunRecord {
                    name: outcome.run_name.clone(),
                    model: outcome.report.output.clone(),
                    method: outcome.method.clone(),
                    set: outcome.set.clone(),
                    finished: quantize::now_secs(),
                });
                ds.mark_dirty();
            }
            // The next run gets a fresh name unless the user types one.
            settings.run_name.clear();
            cmds.send(Command::Notify(Notice {
                level: Level::Info,
                text,
                folder: dir,
            }));
            q.outcome = Some(outcome);
        }
        QuantizeDone::Ptq(Err(e)) => q.run_error = Some(e),
        QuantizeDone::Toolchain(r) => {
            q.drain();
            q.log_rx = None;
            match r {
                Ok((run, fidelity)) => {
                    q.toolchain_run = Some(run);
                    q.toolchain_fidelity = fidelity;
                }
                Err(e) => q.toolchain_error = Some(e),
            }
        }
    }
}

/// One line summing a finished tool run up.
pub fn describe_run(run: &ToolchainRun) -> String {
    let status = if run.cancelled {
        "cancelled".to_owned()
    } else {
        match run.exit_code {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".to_owned(),
        }
    };
    let out = match run.output_bytes {
        Some(b) => format!("{} ({b} bytes)", run.output.display()),
        None => format!("{} was not written", run.output.display()),
    };
    format!("{status} after {:.1}s; output {out}", run.seconds)
}
