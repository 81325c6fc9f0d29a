//! The Quantize view's state and logic: what the user set (persisted), what
//! the runs produced (runtime), and how the settings become the library's
//! [`PtqRequest`] and [`ToolchainJob`]. Drawing is in `quantize_view`, the
//! background jobs in `ptq_tasks`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use serde::{Deserialize, Serialize};

use super::dataset::Dataset;
use crate::export::ExportSample;
use crate::onnx::ModelSummary;
use crate::preprocess::PreprocessSettings;
use crate::quantize::{
    ActivationType, CalibrationSource, MethodOptions, PtqReport, PtqRequest, PtqSettings,
    QdqSettings, RangeMethod,
};
use crate::select::{self, SelectionRequest, Strategy};
use crate::toolchain::{LogLine, ToolchainRun};

/// Which images the quantizer sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SetSource {
    /// The calibration set of the Calibration set view.
    #[default]
    Curation,
    /// N samples drawn at random from the split (the "100 random" baseline).
    Random,
}

/// The view's settings, kept between runs in [`super::state::Persisted`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QuantizeSettings {
    /// The FP32 ONNX model, as typed or picked.
    pub model: String,
    /// Size given for a model whose input size is dynamic.
    pub input_size: Option<(u32, u32)>,
    /// Preprocessing as edited, and the model it was prefilled from.
    pub preprocess: Option<PreprocessSettings>,
    pub preprocess_model: String,
    pub method: RangeMethod,
    pub options: MethodOptions,
    pub activation: ActivationType,
    pub per_channel: bool,
    /// Tensors and nodes that stay float: one name per line (or comma separated).
    pub keep_float_tensors: String,
    pub keep_float_nodes: String,
    pub source: SetSource,
    pub random_n: usize,
    pub random_seed: u64,
    /// The INT8 model to write: each run puts it into its own folder
    /// between this path's folder and its file name (see [`run_output`]).
    pub output: String,
    /// The next run's folder name; empty: the method and the time.
    pub run_name: String,
    /// A ranges.json to requantize from without calibrating.
    pub ranges_file: String,
    /// The external toolchain's command line, with placeholders.
    pub toolchain_template: String,
    /// What the toolchain writes (its `{output}`).
    pub toolchain_output: String,
}

impl Default for QuantizeSettings {
    fn default() -> Self {
        Self {
            model: String::new(),
            input_size: None,
            preprocess: None,
            preprocess_model: String::new(),
            method: RangeMethod::MinMax,
            options: MethodOptions::default(),
            activation: ActivationType::Uint8,
            per_channel: false,
            keep_float_tensors: String::new(),
            keep_float_nodes: String::new(),
            source: SetSource::Curation,
            random_n: 100,
            random_seed: 42,
            output: String::new(),
            run_name: String::new(),
            ranges_file: String::new(),
            toolchain_template: String::new(),
            toolchain_output: String::new(),
        }
    }
}

/// What `inspect_model` said about the picked model.
/// What the Quantize view's background work hands back.
// Moved once, inside the box of `Command::Quantize`: boxing a variant buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum QuantizeDone {
    Inspected(Inspected),
    Ptq(Result<PtqOutcome, String>),
    /// The tool's run, and the fidelity check of its output when it is ONNX.
    Toolchain(
        Result<
            (
                crate::toolchain::ToolchainRun,
                Option<crate::toolchain::OutputFidelity>,
            ),
            String,
        >,
    ),
}

#[derive(Debug, Clone)]
pub struct Inspected {
    pub model: PathBuf,
    pub result: Result<(ModelSummary, PreprocessSettings), InspectError>,
}

#[derive(Debug, Clone)]
pub struct InspectError {
    /// The library's message.
    pub text: String,
    /// The input's size is dynamic: the view asks for W×H.
    pub needs_size: bool,
}

/// A finished PTQ run with the set it calibrated on.
#[derive(Debug, Clone)]
pub struct PtqOutcome {
    pub report: PtqReport,
    /// e.g. "the current curation (12 samples)".
    pub set: String,
    /// The ranges came from a ranges.json instead of calibration.
    pub reloaded: bool,
    /// The run's folder name.
    pub run_name: String,
    /// The method, as the run's folder and the project's list name it.
    pub method: String,
}

/// Whether ONNX Runtime can be found (checked once, off the UI thread).
#[derive(Debug, Clone)]
pub enum RuntimeStatus {
    Found(crate::runtime::OrtLocation),
    /// Not installed anywhere: a run will try to provision it.
    Missing,
    Broken(String),
}

/// The Quantize view: its settings, kept between runs under [`STORAGE_KEY`],
/// and its results and logs, which are not.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
pub struct QuantizeView {
    pub settings: QuantizeSettings,
    #[serde(skip)]
    pub rt: QuantizeState,
}

/// The key the view's settings are saved under in eframe's storage.
pub const STORAGE_KEY: &str = "quantize_view";

/// The view's runtime state: results and logs, never persisted.
#[derive(Default)]
pub struct QuantizeState {
    pub inspected: Option<Inspected>,
    pub outcome: Option<PtqOutcome>,
    pub run_error: Option<String>,
    pub log: Vec<LogLine>,
    pub log_rx: Option<Receiver<LogLine>>,
    pub toolchain_run: Option<ToolchainRun>,
    pub toolchain_error: Option<String>,
    /// The fidelity check of the tool's output (None: not ONNX, or not run).
    pub toolchain_fidelity: Option<crate::toolchain::OutputFidelity>,
    pub runtime: Option<RuntimeStatus>,
    pub runtime_rx: Option<Receiver<RuntimeStatus>>,
    /// Dataset root the model field was prefilled for.
    pub prefilled_for: Option<PathBuf>,
    /// Width and height typed for a dynamic input.
    pub size_text: [u32; 2],
}

impl QuantizeState {
    /// The INT8 model the Evaluate and Diagnose views work on: this
    /// session's last PTQ run, else the project's last recorded one.
    pub fn latest_int8(&self, project: &super::project::Project) -> Option<PathBuf> {
        (self.outcome.as_ref())
            .map(|o| o.report.output.clone())
            .or_else(|| project.ptq_runs.last().map(|r| r.model.clone()))
    }

    /// Takes streamed log lines and the runtime check in. Cheap; every frame.
    pub fn drain(&mut self) {
        if let Some(rx) = &self.log_rx {
            self.log.extend(rx.try_iter());
        }
        if let Some(rx) = &self.runtime_rx {
            if let Ok(s) = rx.try_recv() {
                self.runtime = Some(s);
                self.runtime_rx = None;
            }
        }
    }
}

/// Splits a list typed one per line or comma separated.
pub fn name_list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The demo model under a dataset root, when it is there.
pub fn demo_model_under(root: &Path) -> Option<PathBuf> {
    let p = root.join(crate::demo::DEMO_MODEL_PATH);
    p.is_file().then_some(p)
}

/// Where the INT8 model goes by default: `ptq/` in the calibration set's
/// output folder beside the project file (never the dataset).
pub fn default_output(ds: &Dataset, model: &Path) -> PathBuf {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    super::tasks::default_export_dir(&ds.project_path)
        .join("ptq")
        .join(format!("{stem}_int8.onnx"))
}

/// A run's folder name: the one typed (made safe as a file name) or the
/// method and the UTC time, e.g. `minmax_20261204-184502`.
pub fn run_name(typed: &str, method: &str, unix_secs: u64) -> String {
    let clean: String = typed
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_matches('.').to_owned();
    if !clean.is_empty() {
        return clean;
    }
    let (y, mo, d, h, mi, s) = utc(unix_secs);
    format!("{method}_{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

/// Calendar date and time of a Unix time (UTC; days to civil date after
/// H. Hinnant's algorithm).
fn utc(t: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (t / 86_400) as i64;
    let rem = t % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The model path of a run: `<output's folder>/<run name>/<output's file>`;
/// a folder that already exists gets `-2`, `-3`… so runs never overwrite
/// each other.
pub fn run_output(output: &Path, name: &str) -> PathBuf {
    let parent = output.parent().unwrap_or(Path::new("."));
    let file = output.file_name().unwrap_or_default();
    let mut dir = parent.join(name);
    let mut k = 2;
    while dir.exists() {
        dir = parent.join(format!("{name}-{k}"));
        k += 1;
    }
    dir.join(file)
}

/// Checks an output path: a file name, outside the dataset (the export's rule).
pub fn check_output(ds: &Dataset, text: &str) -> Result<PathBuf, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("Type the INT8 model's path.".into());
    }
    let p = PathBuf::from(t);
    if p.file_name().is_none() || t.ends_with('/') {
        return Err(format!(
            "{t} names a folder; give the model's file name (e.g. model_int8.onnx)."
        ));
    }
    crate::paths::check_output(&p, &[], &[&ds.root])?;
    Ok(p)
}

/// How many samples the chosen source gives, or why there are none.
pub fn set_count(ds: &Dataset, s: &QuantizeSettings) -> Result<usize, String> {
    match s.source {
        SetSource::Curation => match ds.cur.set_len() {
            0 => Err("The calibration set is empty: make one in the Calibration set view (Run strategy), or calibrate on random samples.".into()),
            n => Ok(n),
        },
        SetSource::Random => {
            // Counted from the flags: this runs every frame.
            let excluded = ds.cur.flags.iter().filter(|f| f.excluded).count();
            let avail = ds.cur.rows.len() - excluded;
            match s.random_n.min(avail) {
                0 => Err("No samples to draw from: the split is empty or all excluded.".into()),
                n => Ok(n),
            }
        }
    }
}

/// The samples to calibrate on, in set order, with a description.
pub fn calibration_samples(
    ds: &Dataset,
    s: &QuantizeSettings,
) -> Result<(Vec<ExportSample>, String), String> {
    set_count(ds, s)?;
    let (idx, what) = match s.source {
        SetSource::Curation => {
            let idx = ds.cur.set_indices();
            let what = format!("the current curation ({} samples)", idx.len());
            (idx, what)
        }
        SetSource::Random => {
            let req = SelectionRequest {
                strategy: Strategy::Random,
                target: s.random_n,
                seed: s.random_seed,
                pinned: Default::default(),
                excluded: ds.cur.excluded_keys().into_iter().collect(),
            };
            let sel = select::run(&ds.cur.rows, &req).map_err(|e| e.to_string())?;
            let what = format!(
                "{} random samples of the split (seed {})",
                sel.len(),
                s.random_seed
            );
            (sel.indices, what)
        }
    };
    let samples = idx
        .iter()
        .map(|&i| ExportSample::from_row(&ds.root, &ds.cur.rows[i]))
        .collect();
    Ok((samples, what))
}

/// The fidelity check's held-out inputs, as every run of the view picks
/// them: the split's others (not in the set, not excluded).
pub fn held_out_inputs(ds: &Dataset) -> Vec<PathBuf> {
    let in_set: std::collections::HashSet<usize> = ds.cur.set_indices().into_iter().collect();
    (0..ds.cur.rows.len())
        .filter(|i| !in_set.contains(i) && !ds.cur.flags[*i].excluded)
        .map(|i| ds.image_path(&ds.cur.rows[i]))
        .collect()
}

/// The library's request for these settings (`ranges_from` for a reload).
pub fn ptq_request(
    s: &QuantizeSettings,
    preprocess: PreprocessSettings,
    images: Vec<PathBuf>,
    output: PathBuf,
    ranges_from: Option<PathBuf>,
) -> PtqRequest {
    PtqRequest {
        model: PathBuf::from(s.model.trim()),
        calibration: CalibrationSource::Files(images),
        settings: PtqSettings {
            preprocess: Some(preprocess),
            input_size: s.input_size,
            method: s.method,
            method_options: s.options,
            qdq: QdqSettings {
                activation_type: s.activation,
                per_channel: s.per_channel,
                exclude_tensors: name_list(&s.keep_float_tensors),
                exclude_nodes: name_list(&s.keep_float_nodes),
                ..Default::default()
            },
            max_images: None,
            allow_external_data_outside: false,
        },
        output,
        ranges_from,
    }
}

/// Folder the toolchain's calibration images and lists go into: beside its output.
pub fn toolchain_image_dir(output: &Path) -> PathBuf {
    output
        .parent()
        .unwrap_or(Path::new("."))
        .join("calibration_images")
}

/// What the placeholders stand for (the image list is written by the run).
pub fn toolchain_job(
    ds: &Dataset,
    s: &QuantizeSettings,
) -> Result<crate::toolchain::ToolchainJob, String> {
    let model = s.model.trim();
    if model.is_empty() {
        return Err("Pick the model first.".into());
    }
    let output =
        check_output(ds, &s.toolchain_output).map_err(|e| format!("Toolchain output: {e}"))?;
    let image_dir = toolchain_image_dir(&output);
    Ok(crate::toolchain::ToolchainJob {
        model: PathBuf::from(model),
        image_list: image_dir.join("image_list.txt"),
        image_dir,
        num_samples: set_count(ds, s)?,
        output,
    })
}

/// A scale as the ranges table shows it (tests compare against ranges.json with it).
pub fn format_scale(s: Option<f32>) -> String {
    match s {
        Some(v) => format!("{v:.4e}"),
        None => "—".into(),
    }
}

/// A range bound as the ranges table shows it.
pub fn format_bound(v: f32) -> String {
    format!("{v:.4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_get_their_own_folders() {
        // 2026-12-04 18:45:02 UTC.
        assert_eq!(
            run_name("", "minmax", 1_796_409_902),
            "minmax_20261204-184502"
        );
        assert_eq!(run_name(" curated 100/a ", "minmax", 0), "curated_100_a");
        assert_eq!(run_name("", "entropy", 0), "entropy_19700101-000000");
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("ptq/m_int8.onnx");
        assert_eq!(run_output(&out, "a"), d.path().join("ptq/a/m_int8.onnx"));
        std::fs::create_dir_all(d.path().join("ptq/a")).unwrap();
        std::fs::create_dir_all(d.path().join("ptq/a-2")).unwrap();
        assert_eq!(run_output(&out, "a"), d.path().join("ptq/a-3/m_int8.onnx"));
    }

    #[test]
    fn names_split_on_lines_and_commas() {
        assert_eq!(
            name_list(" a, b\n\nc ,\n"),
            vec!["a".to_string(), "b".into(), "c".into()]
        );
        assert!(name_list("  \n").is_empty());
    }

    #[test]
    fn request_carries_every_setting() {
        let s = QuantizeSettings {
            model: " /m/x.onnx ".into(),
            method: RangeMethod::Percentile,
            activation: ActivationType::Int8,
            per_channel: true,
            keep_float_tensors: "t1\nt2".into(),
            keep_float_nodes: "n1".into(),
            ..Default::default()
        };
        let r = ptq_request(
            &s,
            PreprocessSettings::default(),
            vec!["/a.png".into()],
            "/o/x_int8.onnx".into(),
            None,
        );
        assert_eq!(r.model, PathBuf::from("/m/x.onnx"));
        assert_eq!(r.settings.method, RangeMethod::Percentile);
        assert_eq!(r.settings.qdq.activation_type, ActivationType::Int8);
        assert!(r.settings.qdq.per_channel);
        assert_eq!(r.settings.qdq.exclude_tensors, vec!["t1", "t2"]);
        assert_eq!(r.settings.qdq.exclude_nodes, vec!["n1"]);
        assert_eq!(
            r.settings.qdq.op_types,
            QdqSettings::default().op_types,
            "the library's op list"
        );
        assert_eq!(format_scale(Some(0.00392157)), "3.9216e-3");
    }
}
