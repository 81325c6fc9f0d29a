//! The Evaluate view: pick a split and what to evaluate (the FP32 model, the
//! INT8 model the Quantize view wrote, a folder of NPU dumps), run it in the
//! background, and read the comparison table, the per-range chart, the
//! per-image table and one sample up close. Samples marked suspect leave
//! the evaluation and the calibration set, with the reason, in the project.
//!
//! The view owns its state: the part the user sets is saved (serde), the
//! runs, jobs and textures are runtime only (`#[serde(skip)]`). It draws
//! from an [`EvalCtx`] the app hands it and asks for app-level things
//! (messages, folders) through commands.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use poll_promise::Promise;
use serde::{Deserialize, Serialize};

use super::command::{Command, Commands};
use super::dataset::Dataset;
use super::eval_sample::{self, SampleMaps};
use super::project::Suspect;
use crate::evaluate::compare::{self, Comparison};
use crate::evaluate::{
    Decoder, EvalRequest, EvalRun, EvalSettings, ExcludedSample, MetricSet, PredictionSource,
};
use crate::metadata::SampleKey;
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;

/// The view's key in the app's storage.
pub const STORAGE_KEY: &str = "evaluate";

/// What a run evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum EvalSource {
    /// The FP32 model of the Quantize view.
    #[default]
    Fp32,
    /// The INT8 model the Quantize view wrote last.
    Int8,
    /// A folder of the NPU toolchain's `.npy`/`.npz` dumps or PNG depth maps.
    Npu,
}

impl EvalSource {
    pub const ALL: [EvalSource; 3] = [EvalSource::Fp32, EvalSource::Int8, EvalSource::Npu];
    pub fn label(self) -> &'static str {
        match self {
            EvalSource::Fp32 => "FP32 model",
            EvalSource::Int8 => "INT8 model (last PTQ run)",
            EvalSource::Npu => "NPU dump folder",
        }
    }
}

/// Which rows of the per-image table show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum RowPick {
    /// The N worst by the sort column.
    #[default]
    Worst,
    Best,
    All,
}

/// The per-image table's sort column: a metric of the compared run, or its Δ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    Metric(usize),
    Delta(usize),
}

impl Default for SortKey {
    fn default() -> Self {
        SortKey::Delta(0)
    }
}

/// A finished run in memory, with the file it was saved to.
pub struct LoadedRun {
    pub path: PathBuf,
    pub run: EvalRun,
}

/// A running evaluation.
pub struct EvalJob {
    pub progress: Progress,
    pub promise: Promise<Result<Option<(PathBuf, EvalRun)>, String>>,
}

/// What the view holds only while the app runs.
#[derive(Default)]
pub struct EvalRuntime {
    pub job: Option<EvalJob>,
    pub runs: Vec<LoadedRun>,
    /// The project the runs were read for.
    loaded_for: Option<PathBuf>,
    pub error: Option<String>,
    pub comparison: Option<Result<Comparison, String>>,
    comparison_key: Option<(usize, usize, usize)>,
    /// Bumped when the runs change.
    runs_gen: usize,
    /// The sample in the viewer.
    pub selected: Option<SampleKey>,
    sample_job: Option<Promise<Result<SampleMaps, String>>>,
    pub sample: Option<Result<SampleTextures, String>>,
    pub suspect_reason: String,
}

/// One run's depth and error-map textures.
pub type RunImages = (egui::TextureHandle, egui::TextureHandle);

/// The viewer's images, uploaded.
pub struct SampleTextures {
    pub key: SampleKey,
    pub rgb: Option<egui::TextureHandle>,
    pub gt: egui::TextureHandle,
    /// Per run: (label, depth, error map) or why it could not be shown.
    pub runs: Vec<(String, Result<RunImages, String>)>,
    /// The compared run minus the baseline, with its colour range (± metres).
    pub diff: Option<(String, egui::TextureHandle, f32)>,
    pub range: (f32, f32),
    pub aspect: f32,
}

/// The view's state: settings saved between sessions, the rest runtime.
#[derive(Serialize, Deserialize)]
#[serde(default)]
pub struct EvalView {
    /// The split to evaluate on (relative to the dataset folder, or absolute).
    pub split: String,
    pub source: EvalSource,
    pub npu_dir: String,
    /// The run's name in tables; empty: from the source.
    pub label: String,
    pub decoder: Decoder,
    pub settings: EvalSettings,
    /// Index of the baseline among the runs (normally the FP32 run).
    pub baseline: usize,
    /// The run the per-image table and the difference image compare.
    pub compared: usize,
    /// The metric of the range chart (index into [`MetricSet::NAMES`]).
    pub chart_metric: usize,
    pub sort: SortKey,
    pub rows: RowPick,
    pub n: usize,
    #[serde(skip)]
    pub rt: EvalRuntime,
}

impl Default for EvalView {
    fn default() -> Self {
        Self {
            split: "splits/combined_val.json".into(),
            source: EvalSource::Fp32,
            npu_dir: String::new(),
            label: String::new(),
            decoder: Decoder::default(),
            settings: EvalSettings::default(),
            baseline: 0,
            compared: 1,
            chart_metric: 0,
            sort: SortKey::default(),
            rows: RowPick::Worst,
            n: 10,
            rt: EvalRuntime::default(),
        }
    }
}

/// What the view reads from the rest of the app each frame.
pub struct EvalCtx<'a> {
    pub ds: &'a mut Dataset,
    /// The Quantize view's FP32 model and its edited preprocessing.
    pub fp32: Option<(PathBuf, Option<PreprocessSettings>)>,
    /// The INT8 model written last (this session or the project's last run).
    pub int8: Option<PathBuf>,
    /// Where predictions are cached.
    pub cache_dir: Option<PathBuf>,
    pub cmds: &'a Commands,
}

/// Folder the runs of a project are saved in: `eval/` in the set's output folder.
pub fn runs_dir(ds: &Dataset) -> PathBuf {
    ds.project
        .export_dir
        .clone()
        .unwrap_or_else(|| super::tasks::default_export_dir(&ds.project_path))
        .join("eval")
}

impl EvalView {
    /// Whether background work is running (tests wait for it).
    pub fn busy(&self) -> bool {
        self.rt.job.is_some() || self.rt.sample_job.is_some()
    }

    /// The suspect samples' keys of the open project.
    fn suspects(ds: &Dataset) -> std::collections::HashSet<(String, String)> {
        ds.project
            .suspects
            .iter()
            .map(|s| (s.key.dataset_root.clone(), s.key.stem.clone()))
            .collect()
    }

    /// Reads the project's saved runs when the project changes.
    fn load_runs(&mut self, ds: &Dataset, cmds: &Commands) {
        if self.rt.loaded_for.as_ref() == Some(&ds.project_path) {
            return;
        }
        self.rt.loaded_for = Some(ds.project_path.clone());
        self.rt.runs.clear();
        self.rt.selected = None;
        self.rt.sample = None;
        for p in &ds.project.eval_runs {
            match EvalRun::load(p) {
                Ok(run) => self.rt.runs.push(LoadedRun {
                    path: p.clone(),
                    run,
                }),
                Err(e) => cmds.error(format!("An evaluation run of this project: {e}")),
            }
        }
        self.rt.runs_gen += 1;
    }

    /// Takes a finished job in.
    fn poll(&mut self, ds: &mut Dataset, cmds: &Commands, ctx: &egui::Context) {
        if let Some(job) = &self.rt.job {
            if let Some(r) = job.promise.ready() {
                match r {
                    Ok(Some((path, _))) => {
                        // The tables read the stored run, as a reopened project will.
                        let run = match EvalRun::load(path) {
                            Ok(r) => r,
                            Err(e) => {
                                self.rt.error = Some(e);
                                self.rt.job = None;
                                return;
                            }
                        };
                        cmds.send(Command::Notify(super::state::Notice {
                            level: super::state::Level::Info,
                            text: format!(
                                "Evaluated {}: abs_rel {:.4} over {} images; run saved to {}.",
                                run.label,
                                run.metrics.abs_rel,
                                run.images,
                                path.display()
                            ),
                            folder: path.parent().map(Path::to_path_buf),
                        }));
                        ds.project.eval_runs.push(path.clone());
                        ds.mark_dirty();
                        self.rt.runs.push(LoadedRun {
                            path: path.clone(),
                            run,
                        });
                        self.rt.runs_gen += 1;
                        self.rt.error = None;
                    }
                    Ok(None) => {
                        self.rt.error = Some("Evaluation cancelled: nothing was saved.".to_owned());
                    }
                    Err(e) => self.rt.error = Some(e.clone()),
                }
                self.rt.job = None;
            }
        }
        if let Some(p) = &self.rt.sample_job {
            if p.ready().is_some() {
                let p = self.rt.sample_job.take().expect("checked above");
                let maps = p.block_and_take();
                self.rt.sample = Some(maps.map(|m| self.upload(m, ctx)));
            }
        }
    }

    /// Starts an evaluation run from the view's settings.
    pub fn start(&mut self, ctx: &EvalCtx) {
        if self.rt.job.is_some() {
            return;
        }
        match self.request(ctx) {
            Ok((req, out)) => {
                let progress = Progress::new();
                let p = progress.clone();
                let promise = super::jobs::promise("evaluation", move || {
                    let run = crate::evaluate::evaluate(&req, &p).map_err(|e| e.to_string())?;
                    if run.cancelled {
                        return Ok(None);
                    }
                    if let Some(dir) = out.parent() {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                    }
                    run.save(&out)?;
                    Ok(Some((out, run)))
                });
                self.rt.job = Some(EvalJob { progress, promise });
                self.rt.error = None;
            }
            Err(e) => self.rt.error = Some(e),
        }
    }

    /// The library's request and the run file it goes to.
    fn request(&self, ctx: &EvalCtx) -> Result<(EvalRequest, PathBuf), String> {
        let ds = &*ctx.ds;
        let split = self.split.trim();
        if split.is_empty() {
            return Err("Type the split to evaluate on (e.g. splits/combined_val.json).".into());
        }
        let (source, label) = match self.source {
            EvalSource::Fp32 => {
                let (model, pre) = ctx.fp32.clone().ok_or(
                    "Pick the FP32 model in the Quantize view first (Model file, then Load model).",
                )?;
                (
                    PredictionSource::Model {
                        path: model,
                        preprocess: pre,
                    },
                    "FP32".to_owned(),
                )
            }
            EvalSource::Int8 => {
                let model = ctx.int8.clone().ok_or(
                    "No INT8 model yet: run PTQ in the Quantize view, then evaluate it here.",
                )?;
                let pre = ctx.fp32.as_ref().and_then(|(_, p)| p.clone());
                let run = model
                    .parent()
                    .and_then(|d| d.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (
                    PredictionSource::Model {
                        path: model,
                        preprocess: pre,
                    },
                    format!("INT8 {run}"),
                )
            }
            EvalSource::Npu => {
                let dir = self.npu_dir.trim();
                if dir.is_empty() {
                    return Err("Type the folder of the NPU's .npy/.npz dumps.".into());
                }
                let p = PathBuf::from(dir);
                if !p.is_dir() {
                    return Err(format!(
                        "{dir} is not a folder; give the folder the NPU toolchain wrote its dumps into."
                    ));
                }
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (
                    PredictionSource::Folder {
                        path: p,
                        uint8_scale: 1.0 / 255.0,
                    },
                    format!("NPU {name}"),
                )
            }
        };
        let label = if self.label.trim().is_empty() {
            label
        } else {
            self.label.trim().to_owned()
        };
        let name = super::quantize::run_name(&label, "eval", super::quantize::now_secs());
        let stamp = super::quantize::run_name("", "", super::quantize::now_secs());
        let mut out = runs_dir(ds).join(format!("{name}{stamp}.json"));
        let mut k = 2;
        while out.exists() {
            out = runs_dir(ds).join(format!("{name}{stamp}-{k}.json"));
            k += 1;
        }
        let mut req = EvalRequest::new(ds.root.clone(), PathBuf::from(split), source);
        req.dataset = ds.settings.clone();
        req.decoder = self.decoder.clone();
        req.settings = self.settings.clone();
        req.cache_dir = ctx.cache_dir.clone();
        req.label = label;
        // Suspects are left out of the run itself, so the stored run says so.
        req.excluded = ds
            .project
            .suspects
            .iter()
            .map(|s| ExcludedSample {
                dataset_root: s.key.dataset_root.clone(),
                stem: s.key.stem.clone(),
                reason: s.reason.clone(),
            })
            .collect();
        Ok((req, out))
    }

    /// The runs with the suspect samples left out, labelled uniquely.
    fn runs_for_comparison(&self, ds: &Dataset) -> Vec<(String, EvalRun)> {
        let suspects = Self::suspects(ds);
        let mut seen: HashMap<String, usize> = HashMap::new();
        self.rt
            .runs
            .iter()
            .map(|l| {
                let mut run = l.run.clone();
                run.per_sample
                    .retain(|s| !suspects.contains(&(s.dataset_root.clone(), s.stem.clone())));
                let base = run.label_or("run");
                let k = seen.entry(base.clone()).or_insert(0);
                *k += 1;
                let label = if *k > 1 {
                    format!("{base} ({k})")
                } else {
                    base
                };
                (label, run)
            })
            .collect()
    }

    fn refresh_comparison(&mut self, ds: &Dataset) {
        let key = (self.rt.runs_gen, self.baseline, ds.project.suspects.len());
        if self.rt.comparison_key == Some(key) {
            return;
        }
        self.rt.comparison_key = Some(key);
        let runs = self.runs_for_comparison(ds);
        self.rt.comparison = if runs.is_empty() {
            None
        } else {
            self.baseline = self.baseline.min(runs.len() - 1);
            Some(compare::compare(&runs, self.baseline))
        };
    }

    /// Draws the view.
    pub fn show(&mut self, ui: &mut egui::Ui, ctx: &mut EvalCtx) {
        self.load_runs(ctx.ds, ctx.cmds);
        self.poll(ctx.ds, ctx.cmds, ui.ctx());
        self.refresh_comparison(ctx.ds);
        if self.busy() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
        egui::ScrollArea::vertical()
            .id_salt("evaluate")
            .show(ui, |ui| {
                self.setup_ui(ui, ctx);
                ui.separator();
                self.results_ui(ui, ctx);
            });
    }

    fn setup_ui(&mut self, ui: &mut egui::Ui, ctx: &mut EvalCtx) {
        ui.group(|ui| {
            ui.strong("Evaluate");
            super::start::path_field(
                ui,
                "Evaluation split",
                &mut self.split,
                "splits/combined_val.json",
            );
            ui.horizontal_wrapped(|ui| {
                ui.label("Predictions from:");
                for s in EvalSource::ALL {
                    ui.selectable_value(&mut self.source, s, s.label());
                }
            });
            match self.source {
                EvalSource::Fp32 => match &ctx.fp32 {
                    Some((m, _)) => ui.weak(format!("model {}", m.display())),
                    None => ui.weak("Pick the FP32 model in the Quantize view first."),
                },
                EvalSource::Int8 => match &ctx.int8 {
                    Some(m) => ui.weak(format!("model {}", m.display())),
                    None => ui.weak("No INT8 model yet: run PTQ in the Quantize view."),
                },
                EvalSource::Npu => {
                    super::start::path_field(ui, "Dump folder", &mut self.npu_dir, "/npu/out")
                }
            };
            ui.horizontal_wrapped(|ui| {
                super::widgets::decoder_fields(ui, "decoder", &mut self.decoder);
            });
            ui.horizontal_wrapped(|ui| {
                let s = &mut self.settings;
                let l = ui.label("GT range (m)");
                ui.add(
                    egui::DragValue::new(&mut s.min_depth)
                        .speed(0.1)
                        .range(0.0..=1000.0),
                )
                .labelled_by(l.id);
                let l = ui.label("to");
                ui.add(
                    egui::DragValue::new(&mut s.max_depth)
                        .speed(0.5)
                        .range(0.0..=10000.0),
                )
                .labelled_by(l.id);
                ui.checkbox(&mut s.median_scaling, "median scaling");
                ui.checkbox(&mut s.clamp, "clamp");
            });
            super::start::path_field(ui, "Run label", &mut self.label, "e.g. INT8 curated");
            let busy = self.rt.job.is_some();
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(!busy, egui::Button::new("Run evaluation"))
                    .clicked()
                {
                    self.start(ctx);
                }
                if let Some(job) = &self.rt.job {
                    super::jobs::progress_bar(ui, &job.progress, "images", 300.0);
                }
            });
            if let Some(e) = &self.rt.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
        });
    }

    fn results_ui(&mut self, ui: &mut egui::Ui, ctx: &mut EvalCtx) {
        let Some(cmp) = &self.rt.comparison else {
            ui.label("No evaluation yet: run one above (FP32 first, it is the baseline).");
            return;
        };
        let cmp = match cmp {
            Ok(c) => c.clone(),
            Err(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
                return;
            }
        };
        let n = cmp.labels.len();
        ui.horizontal_wrapped(|ui| {
            ui.strong("Comparison");
            let l = ui.label("Baseline");
            let mut b = self.baseline;
            egui::ComboBox::from_id_salt("baseline")
                .selected_text(&cmp.labels[b.min(n - 1)])
                .show_ui(ui, |ui| {
                    for (i, name) in cmp.labels.iter().enumerate() {
                        ui.selectable_value(&mut b, i, name);
                    }
                })
                .response
                .labelled_by(l.id);
            if b != self.baseline {
                self.baseline = b;
                self.rt.comparison_key = None;
            }
            ui.weak(format!("on the {} samples common to all runs", cmp.common));
            let suspects = ctx.ds.project.suspects.len();
            if suspects > 0 {
                ui.weak(format!("· {suspects} suspect sample(s) left out"));
            }
        });
        for note in &cmp.notes {
            ui.colored_label(ui.visuals().warn_fg_color, note);
        }
        comparison_table(ui, &cmp);
        ui.add_space(6.0);
        self.range_chart(ui, &cmp);
        ui.add_space(6.0);
        self.compared = self.compared.min(n - 1);
        if n > 1 && self.compared == cmp.baseline {
            self.compared = (cmp.baseline + 1) % n;
        }
        ui.columns(2, |cols| {
            self.per_image_ui(&mut cols[0], &cmp, ctx);
            self.viewer_ui(&mut cols[1], ctx);
        });
    }

    fn range_chart(&mut self, ui: &mut egui::Ui, cmp: &Comparison) {
        ui.horizontal(|ui| {
            ui.strong("Per depth range");
            let l = ui.label("metric");
            egui::ComboBox::from_id_salt("range_metric")
                .selected_text(MetricSet::NAMES[self.chart_metric])
                .show_ui(ui, |ui| {
                    for (i, m) in MetricSet::NAMES.iter().enumerate() {
                        ui.selectable_value(&mut self.chart_metric, i, *m);
                    }
                })
                .response
                .labelled_by(l.id);
        });
        let m = self.chart_metric;
        let k = cmp.labels.len() as f64;
        let width = 0.8 / k;
        let mut charts = Vec::new();
        let mut top: f64 = 0.0;
        for (j, label) in cmp.labels.iter().enumerate() {
            let bars: Vec<egui_plot::Bar> = cmp
                .ranges
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let v = r.metrics[j]?.values()[m];
                    v.is_finite().then(|| {
                        top = top.max(v);
                        egui_plot::Bar::new(i as f64 - 0.4 + width * (j as f64 + 0.5), v)
                            .width(width * 0.95)
                            .name(format!("{label}, {:.1}–{:.1} m", r.lo, r.hi))
                    })
                })
                .collect();
            charts.push(
                egui_plot::BarChart::new(label.clone(), bars).color(super::plots::series_color(j)),
            );
        }
        let labels: Vec<String> = cmp
            .ranges
            .iter()
            .map(|r| format!("{:.1}–{:.1} m", r.lo, r.hi))
            .collect();
        egui_plot::Plot::new("eval_ranges")
            .height(200.0)
            .legend(egui_plot::Legend::default().position(egui_plot::Corner::LeftTop))
            // Room above the bars for the legend.
            .include_y(top * 1.35)
            .include_y(0.0)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .x_axis_formatter(move |mark, _| {
                let i = mark.value.round();
                if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_axis_label(MetricSet::NAMES[m])
            .show(ui, |p| {
                for c in charts {
                    p.bar_chart(c);
                }
            });
    }

    fn per_image_ui(&mut self, ui: &mut egui::Ui, cmp: &Comparison, ctx: &mut EvalCtx) {
        let runs = self.runs_for_comparison(ctx.ds);
        let n = runs.len();
        let (b, c) = (cmp.baseline, self.compared.min(n - 1));
        ui.horizontal_wrapped(|ui| {
            ui.strong("Per image");
            let l = ui.label("run");
            egui::ComboBox::from_id_salt("compared")
                .selected_text(&cmp.labels[c])
                .show_ui(ui, |ui| {
                    for (i, name) in cmp.labels.iter().enumerate() {
                        ui.selectable_value(&mut self.compared, i, name);
                    }
                })
                .response
                .labelled_by(l.id);
            ui.selectable_value(&mut self.rows, RowPick::Worst, "worst");
            ui.selectable_value(&mut self.rows, RowPick::Best, "best");
            ui.selectable_value(&mut self.rows, RowPick::All, "all");
            let l = ui.label("N");
            ui.add(egui::DragValue::new(&mut self.n).range(1..=10_000))
                .labelled_by(l.id);
        });
        let rows = per_image_rows(&runs, b, c);
        let sorted = sort_rows(rows, self.sort, self.rows, self.n);
        // Header: a click sorts; the arrow shows the column and its direction.
        let mut clicked_sort = None;
        let mut clicked_row = None;
        egui::ScrollArea::both()
            .id_salt("per_image")
            .max_height(320.0)
            .show(ui, |ui| {
                egui::Grid::new("per_image_table")
                    .striped(true)
                    .show(ui, |ui| {
                        ui.strong("sample");
                        let on = matches!(self.sort, SortKey::Delta(_));
                        // Δ of the metric the table is sorted by.
                        let dm = match self.sort {
                            SortKey::Delta(i) | SortKey::Metric(i) => i,
                        };
                        let t = format!("Δ{}{}", MetricSet::NAMES[dm], if on { " ⏷" } else { "" });
                        if ui
                            .selectable_label(on, t)
                            .on_hover_text("the run's value minus the baseline's")
                            .clicked()
                        {
                            clicked_sort = Some(SortKey::Delta(dm));
                        }
                        for (i, m) in MetricSet::NAMES.iter().enumerate() {
                            let on = self.sort == SortKey::Metric(i);
                            let t = if on {
                                format!("{m} ⏷")
                            } else {
                                (*m).to_owned()
                            };
                            if ui.selectable_label(on, t).clicked() {
                                clicked_sort = Some(SortKey::Metric(i));
                            }
                        }
                        ui.end_row();
                        for r in &sorted {
                            let name = format!("{}/{}", r.key.dataset_root, r.key.stem);
                            let sel = self.rt.selected.as_ref() == Some(&r.key);
                            if ui.selectable_label(sel, &name).clicked() {
                                clicked_row = Some(r.key.clone());
                            }
                            ui.label(match r.delta {
                                Some(d) => format!("{:+.4}", d[dm]),
                                None => "—".into(),
                            });
                            for v in r.values {
                                ui.label(format!("{v:.4}"));
                            }
                            ui.end_row();
                        }
                    });
            });
        if let Some(s) = clicked_sort {
            self.sort = s;
        }
        if let Some(k) = clicked_row {
            self.select(k, ctx);
        }
    }

    /// Shows a sample in the viewer (computed in the background).
    pub fn select(&mut self, key: SampleKey, ctx: &EvalCtx) {
        self.rt.selected = Some(key.clone());
        self.rt.sample = None;
        let ds = &*ctx.ds;
        let Some(first) = self.rt.runs.first() else {
            return;
        };
        let root = ds.root.clone();
        let split = PathBuf::from(&first.run.split);
        let settings = ds.settings.clone();
        let runs: Vec<EvalRun> = self.rt.runs.iter().map(|l| l.run.clone()).collect();
        let cache_dir = ctx.cache_dir.clone();
        self.rt.sample_job = Some(super::jobs::promise("the sample viewer", move || {
            let refs: Vec<&EvalRun> = runs.iter().collect();
            eval_sample::compute(&root, &split, &settings, &key, &refs, cache_dir.as_deref())
        }));
    }

    /// Builds the viewer's textures from the computed maps.
    fn upload(&self, m: SampleMaps, ctx: &egui::Context) -> SampleTextures {
        let (w, h) = (m.width, m.height);
        let valid: Vec<f32> =
            m.gt.iter()
                .copied()
                .filter(|d| *d > 0.0 && d.is_finite())
                .collect();
        let lo = self.settings.min_depth as f32;
        let hi = valid
            .iter()
            .copied()
            .fold(lo + 1.0, f32::max)
            .min(self.settings.max_depth as f32);
        let shown = |d: f32| {
            if d > 0.0 && d.is_finite() {
                d
            } else {
                f32::NAN
            }
        };
        let turbo = move |d: f32| super::colormap::turbo((d - lo) / (hi - lo).max(1e-3));
        let gt_big: Vec<f32> = eval_sample::dilate(&m.gt, w, h, 2)
            .into_iter()
            .map(shown)
            .collect();
        let opt = egui::TextureOptions::LINEAR;
        let gt = ctx.load_texture("eval-gt", eval_sample::paint(&gt_big, w, h, turbo), opt);
        let labels: Vec<String> = self.runs_for_labels();
        let mut runs = Vec::new();
        for (i, p) in m.preds.iter().enumerate() {
            let label = labels.get(i).cloned().unwrap_or_default();
            let t = match p {
                Ok(pred) => {
                    let depth = ctx.load_texture(
                        format!("eval-depth-{i}"),
                        eval_sample::paint(pred, w, h, turbo),
                        opt,
                    );
                    let err = eval_sample::relative_error(pred, &m.gt);
                    let err = eval_sample::dilate(
                        &err.iter()
                            .map(|e| if e.is_nan() { 0.0 } else { e.max(1e-6) })
                            .collect::<Vec<_>>(),
                        w,
                        h,
                        2,
                    )
                    .into_iter()
                    .map(|e| if e > 0.0 { e } else { f32::NAN })
                    .collect::<Vec<_>>();
                    let errt = ctx.load_texture(
                        format!("eval-err-{i}"),
                        eval_sample::paint(&err, w, h, |e| super::colormap::hot(e / ERR_MAX)),
                        opt,
                    );
                    Ok((depth, errt))
                }
                Err(e) => Err(e.clone()),
            };
            runs.push((label, t));
        }
        let b = self.baseline;
        let c = self.compared;
        let diff = match (m.preds.get(c), m.preds.get(b)) {
            (Some(Ok(pc)), Some(Ok(pb))) if c != b => {
                let d: Vec<f32> = pc.iter().zip(pb).map(|(x, y)| x - y).collect();
                let span = d
                    .iter()
                    .filter(|v| v.is_finite())
                    .fold(0.0f32, |a, v| a.max(v.abs()))
                    .max(1e-3);
                let img = eval_sample::paint(&d, w, h, |v| super::colormap::diverging(v / span));
                Some((
                    format!(
                        "{} − {}",
                        labels.get(c).cloned().unwrap_or_default(),
                        labels.get(b).cloned().unwrap_or_default()
                    ),
                    ctx.load_texture("eval-diff", img, opt),
                    span,
                ))
            }
            _ => None,
        };
        let rgb = m.rgb.ok().map(|img| ctx.load_texture("eval-rgb", img, opt));
        SampleTextures {
            key: m.key,
            rgb,
            gt,
            runs,
            diff,
            range: (lo, hi),
            aspect: h as f32 / w.max(1) as f32,
        }
    }

    fn runs_for_labels(&self) -> Vec<String> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        self.rt
            .runs
            .iter()
            .map(|l| {
                let base = l.run.label_or("run");
                let k = seen.entry(base.clone()).or_insert(0);
                *k += 1;
                if *k > 1 {
                    format!("{base} ({k})")
                } else {
                    base
                }
            })
            .collect()
    }

    fn viewer_ui(&mut self, ui: &mut egui::Ui, ctx: &mut EvalCtx) {
        let Some(key) = self.rt.selected.clone() else {
            ui.weak("Click a sample in the table to see it: RGB, ground truth, each run's depth and error.");
            return;
        };
        ui.strong(format!("{}/{}", key.dataset_root, key.stem));
        // The sample's metrics in every run.
        egui::Grid::new("sample_metrics")
            .striped(true)
            .show(ui, |ui| {
                ui.label("");
                for m in MetricSet::NAMES {
                    ui.strong(m);
                }
                ui.end_row();
                for (label, l) in self.runs_for_labels().iter().zip(&self.rt.runs) {
                    ui.label(label);
                    match l
                        .run
                        .per_sample
                        .iter()
                        .find(|s| s.dataset_root == key.dataset_root && s.stem == key.stem)
                    {
                        Some(s) => {
                            for v in s.metrics.values() {
                                ui.label(format!("{v:.4}"));
                            }
                        }
                        None => {
                            ui.weak("not in this run");
                        }
                    }
                    ui.end_row();
                }
            });
        self.suspect_ui(ui, &key, ctx);
        match &self.rt.sample {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("predicting this sample…");
                });
            }
            Some(Err(e)) => {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            Some(Ok(t)) => {
                let w = ((ui.available_width() - 8.0) / 2.0).max(80.0);
                let size = egui::vec2(w, w * t.aspect);
                let image = |ui: &mut egui::Ui, tex: &egui::TextureHandle, caption: &str| {
                    ui.vertical(|ui| {
                        ui.add(egui::Image::new(tex).fit_to_exact_size(size));
                        ui.small(caption);
                    });
                };
                // Two images a row: RGB | GT, then each run's depth | error,
                // then the difference (a grid: nothing runs off the column).
                egui::Grid::new("sample_images").show(ui, |ui| {
                    if let Some(rgb) = &t.rgb {
                        image(ui, rgb, "RGB");
                    } else {
                        ui.weak("RGB could not be read");
                    }
                    image(
                        ui,
                        &t.gt,
                        &format!(
                            "GT (points dilated), turbo {:.1}–{:.1} m",
                            t.range.0, t.range.1
                        ),
                    );
                    ui.end_row();
                    for (label, r) in &t.runs {
                        match r {
                            Ok((depth, err)) => {
                                image(ui, depth, &format!("{label}: depth, same range"));
                                image(ui, err, &format!("{label}: |pred−gt|/gt, hot 0–{ERR_MAX}"));
                            }
                            Err(e) => {
                                ui.colored_label(
                                    ui.visuals().error_fg_color,
                                    format!("{label}: {e}"),
                                );
                            }
                        }
                        ui.end_row();
                    }
                    if let Some((label, tex, span)) = &t.diff {
                        image(
                            ui,
                            tex,
                            &format!("{label}: blue −{span:.2} m … red +{span:.2} m"),
                        );
                        ui.end_row();
                    }
                });
            }
        }
    }

    fn suspect_ui(&mut self, ui: &mut egui::Ui, key: &SampleKey, ctx: &mut EvalCtx) {
        let ds = &mut *ctx.ds;
        if let Some(s) = ds.project.suspects.iter().find(|s| &s.key == key) {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "Suspect: {} (left out of evaluation and calibration)",
                    s.reason
                ),
            );
            if ui.button("Unmark suspect").clicked() {
                ds.project.suspects.retain(|s| &s.key != key);
                ds.mark_dirty();
            }
            return;
        }
        ui.horizontal_wrapped(|ui| {
            super::start::path_field(
                ui,
                "Suspect reason",
                &mut self.rt.suspect_reason,
                "RGB and GT disagree",
            );
            if ui
                .button("Mark suspect")
                .on_hover_text("Leave this sample out of the evaluation and the calibration set; the reason is saved in the project")
                .clicked()
            {
                let reason = match self.rt.suspect_reason.trim() {
                    "" => "RGB and GT disagree".to_owned(),
                    r => r.to_owned(),
                };
                mark_suspect(ds, key.clone(), reason, ctx.cmds);
                self.rt.suspect_reason.clear();
            }
        });
    }
}

/// Largest relative error the `hot` map resolves (brighter is clipped).
const ERR_MAX: f32 = 0.5;

/// Marks a sample suspect: saved with its reason in the project, left out of
/// every comparison, and excluded from the calibration set when the open
/// dataset holds it.
pub fn mark_suspect(ds: &mut Dataset, key: SampleKey, reason: String, cmds: &Commands) {
    if ds.project.suspects.iter().any(|s| s.key == key) {
        return;
    }
    let row = ds.cur.rows.iter().position(|r| r.key() == key);
    let mut text = format!("{key} marked suspect ({reason}): left out of evaluation");
    if let Some(i) = row {
        if !ds.cur.flags[i].excluded {
            ds.cur.toggle_excluded(i);
        }
        text.push_str(" and excluded from the calibration set");
    }
    text.push('.');
    ds.project.suspects.push(Suspect { key, reason });
    ds.mark_dirty();
    cmds.info(text);
}

/// One sample of the per-image table.
#[derive(Debug, Clone)]
pub struct PerImageRow {
    pub key: SampleKey,
    /// The compared run's seven metrics.
    pub values: [f64; 7],
    /// Compared minus baseline, per metric (absent when the baseline lacks it).
    pub delta: Option<[f64; 7]>,
}

/// The compared run's samples with their Δ against the baseline.
pub fn per_image_rows(
    runs: &[(String, EvalRun)],
    baseline: usize,
    compared: usize,
) -> Vec<PerImageRow> {
    let Some((_, base)) = runs.get(baseline) else {
        return Vec::new();
    };
    let Some((_, run)) = runs.get(compared) else {
        return Vec::new();
    };
    let b: HashMap<(&str, &str), [f64; 7]> = base
        .per_sample
        .iter()
        .map(|s| {
            (
                (s.dataset_root.as_str(), s.stem.as_str()),
                s.metrics.values(),
            )
        })
        .collect();
    run.per_sample
        .iter()
        .map(|s| {
            let v = s.metrics.values();
            let delta = b
                .get(&(s.dataset_root.as_str(), s.stem.as_str()))
                .map(|bv| std::array::from_fn(|i| v[i] - bv[i]));
            PerImageRow {
                key: SampleKey {
                    dataset_root: s.dataset_root.clone(),
                    stem: s.stem.clone(),
                },
                values: v,
                delta,
            }
        })
        .collect()
}

/// Sorts the rows worst first by `key` (higher is worse except for the
/// accuracies a1–a3) and keeps the worst or best `n`, or all.
pub fn sort_rows(
    mut rows: Vec<PerImageRow>,
    key: SortKey,
    pick: RowPick,
    n: usize,
) -> Vec<PerImageRow> {
    let metric = match key {
        SortKey::Metric(i) | SortKey::Delta(i) => i,
    };
    let value = move |r: &PerImageRow| match key {
        SortKey::Metric(i) => r.values[i],
        SortKey::Delta(i) => r.delta.map_or(f64::NAN, |d| d[i]),
    };
    let higher_better = MetricSet::higher_is_better(MetricSet::NAMES[metric]);
    // Worst first; NaN (no baseline value) last.
    rows.sort_by(|a, b| {
        let (x, y) = (value(a), value(b));
        match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ if higher_better => x.total_cmp(&y),
            _ => y.total_cmp(&x),
        }
    });
    match pick {
        RowPick::Worst => rows.truncate(n),
        RowPick::Best => {
            rows.reverse();
            rows.retain(|r| !value(r).is_nan());
            rows.truncate(n);
        }
        RowPick::All => {}
    }
    rows
}

/// The table users paste into reports: Metric | runs… | Δ | Δ% per run.
fn comparison_table(ui: &mut egui::Ui, cmp: &Comparison) {
    egui::ScrollArea::horizontal()
        .id_salt("comparison_scroll")
        .show(ui, |ui| {
            egui::Grid::new("comparison_table")
                .striped(true)
                .show(ui, |ui| {
                    ui.strong("Metric");
                    for (j, l) in cmp.labels.iter().enumerate() {
                        if j == cmp.baseline {
                            ui.strong(format!("{l} (baseline)"));
                        } else {
                            ui.strong(l);
                        }
                    }
                    for (j, l) in cmp.labels.iter().enumerate() {
                        if j != cmp.baseline {
                            ui.strong(format!("Δ {l}"));
                            ui.strong(format!("Δ% {l}"));
                        }
                    }
                    ui.end_row();
                    for row in &cmp.rows {
                        ui.label(&row.metric);
                        for v in &row.values {
                            ui.label(format!("{v:.4}"));
                        }
                        let better_up = MetricSet::higher_is_better(&row.metric);
                        for j in 0..cmp.labels.len() {
                            if j == cmp.baseline {
                                continue;
                            }
                            let d = row.delta[j];
                            let color = match d {
                                Some(d) if (d > 0.0) == better_up && d != 0.0 => {
                                    egui::Color32::from_rgb(60, 160, 60)
                                }
                                Some(d) if d != 0.0 => ui.visuals().error_fg_color,
                                _ => ui.visuals().text_color(),
                            };
                            ui.colored_label(color, d.map_or("—".into(), |d| format!("{d:+.4}")));
                            ui.colored_label(
                                color,
                                row.delta_pct[j].map_or("—".into(), |p| format!("{p:+.1}%")),
                            );
                        }
                        ui.end_row();
                    }
                });
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stem: &str, abs_rel: f64, delta: Option<f64>) -> PerImageRow {
        let mut v = [0.0; 7];
        v[0] = abs_rel;
        v[4] = 1.0 - abs_rel;
        PerImageRow {
            key: SampleKey {
                dataset_root: "s".into(),
                stem: stem.into(),
            },
            values: v,
            delta: delta.map(|d| {
                let mut x = [0.0; 7];
                x[0] = d;
                x[4] = -d;
                x
            }),
        }
    }

    #[test]
    fn worst_and_best_follow_the_metric_direction() {
        let rows = vec![
            row("a", 0.1, Some(0.0)),
            row("b", 0.3, Some(0.2)),
            row("c", 0.2, None),
        ];
        let stems = |v: Vec<PerImageRow>| v.into_iter().map(|r| r.key.stem).collect::<Vec<_>>();
        assert_eq!(
            stems(sort_rows(
                rows.clone(),
                SortKey::Metric(0),
                RowPick::Worst,
                2
            )),
            ["b", "c"]
        );
        // a1: higher is better, so the worst is the lowest.
        assert_eq!(
            stems(sort_rows(
                rows.clone(),
                SortKey::Metric(4),
                RowPick::Worst,
                1
            )),
            ["b"]
        );
        assert_eq!(
            stems(sort_rows(
                rows.clone(),
                SortKey::Delta(0),
                RowPick::Worst,
                3
            )),
            ["b", "a", "c"]
        );
        assert_eq!(
            stems(sort_rows(rows, SortKey::Delta(0), RowPick::Best, 3)),
            ["a", "b"]
        );
    }
}
