//! Post-training quantization: FP32 ONNX in, INT8 QDQ ONNX out.
//!
//! `run_ptq` is the whole pipeline — load, calibrate (streamed), choose
//! ranges, write the QDQ model and its artefacts — as plain data in and out,
//! for the command line and the app alike.

pub mod agreement;
pub mod artefacts;
pub mod calibrate;
pub mod fidelity;
pub mod graph;
pub mod heldout;
pub mod methods;
pub mod qdq;
pub mod ranges;
pub mod sources;
pub mod stats;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use artefacts::{RangeRow, RangesFile};
pub use calibrate::CalibrationSetId;
pub use methods::{ActivationType, MethodOptions, RangeMethod};
pub use qdq::QdqSettings;
pub use ranges::InputRange;
pub use sources::CalibrationSource;

use crate::onnx::{self, ModelSummary};
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;
use fidelity::Fidelity;

/// Everything that decides how a model is quantized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct PtqSettings {
    /// None: prefilled from the model's input.
    pub preprocess: Option<PreprocessSettings>,
    /// (W, H) for a model whose input size is dynamic.
    pub input_size: Option<(u32, u32)>,
    pub method: RangeMethod,
    pub method_options: MethodOptions,
    pub qdq: QdqSettings,
    /// Use at most this many calibration inputs (in list order).
    pub max_images: Option<usize>,
    /// Read the model's external data files even outside its folder (opt-in).
    pub allow_external_data_outside: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PtqRequest {
    pub model: PathBuf,
    pub calibration: CalibrationSource,
    pub settings: PtqSettings,
    /// The INT8 model to write; `ranges.json` and the calibration cache go beside it.
    pub output: PathBuf,
    /// Reuse the ranges of an earlier run instead of calibrating.
    pub ranges_from: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PtqReport {
    pub output: PathBuf,
    pub ranges_path: PathBuf,
    pub calibration_cache_path: PathBuf,
    pub calibration_set: CalibrationSetId,
    pub preprocess: PreprocessSettings,
    pub ranges: Vec<RangeRow>,
    pub weights_quantized: usize,
    pub biases_quantized: usize,
    pub weights_left_float: Vec<(String, String)>,
    pub fp32: ModelSummary,
    pub int8: ModelSummary,
    pub calibration_seconds: f64,
    pub total_seconds: f64,
    /// Set when ranges were reloaded from a file made for a different model file.
    pub ranges_model_mismatch: Option<String>,
    /// Ranges a method narrowed to a sliver of the observed one, in words.
    pub range_warnings: Vec<String>,
    /// INT8 against FP32 on held-out inputs (also in `<stem>.fidelity.json`).
    pub fidelity: Option<Fidelity>,
    /// Why there is no fidelity line (no held-out inputs, or it was turned off).
    pub fidelity_note: Option<String>,
    pub fidelity_path: Option<PathBuf>,
}

/// Choices beside [`PtqSettings`] (kept apart so existing settings forms
/// build unchanged); the defaults are what every run should do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PtqOptions {
    pub input_range: InputRange,
    /// Held-out inputs for the fidelity check (0 turns it off).
    pub fidelity_samples: usize,
    /// The held-out inputs; by default the calibration list's unused entries,
    /// then the calibration folders' other files.
    pub held_out: Option<Vec<PathBuf>>,
    /// The model's decoder, for the depth error in the fidelity check.
    pub decoder: Option<crate::decoder::Decoder>,
}

impl Default for PtqOptions {
    fn default() -> Self {
        Self {
            input_range: InputRange::default(),
            fidelity_samples: 16,
            held_out: None,
            decoder: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PtqError {
    #[error(transparent)]
    Onnx(#[from] onnx::OnnxError),
    #[error(transparent)]
    Preprocess(#[from] crate::preprocess::PreprocessError),
    #[error(transparent)]
    Calibration(#[from] calibrate::CalibrationError),
    #[error(transparent)]
    Qdq(#[from] qdq::QdqError),
    #[error("{0}")]
    Source(String),
    #[error("{0}")]
    Ranges(String),
    #[error("cancelled after {0} calibration images; nothing was written")]
    Cancelled(usize),
    #[error(transparent)]
    Output(#[from] crate::paths::OutputError),
    #[error("cancelled during the fidelity check; nothing was written")]
    CancelledFidelity,
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Paths of the artefacts written beside `output`.
pub fn artefact_paths(output: &Path) -> (PathBuf, PathBuf) {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = output.parent().unwrap_or(Path::new("."));
    (
        dir.join(format!("{stem}.ranges.json")),
        dir.join(format!("{stem}.calibration_cache.txt")),
    )
}

/// Where the fidelity check's JSON goes: `<stem>.fidelity.json` beside the INT8 model.
pub fn fidelity_path_for(output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    output
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("{stem}.fidelity.json"))
}

/// Loads a model for a settings form: its summary and the preprocessing
/// prefilled from its input (what the app shows when a model is picked).
pub fn inspect_model(
    path: &Path,
    input_size: Option<(u32, u32)>,
) -> Result<(ModelSummary, PreprocessSettings), PtqError> {
    let mut model = onnx::load(path)?;
    graph::fold_constant_nodes(&mut model);
    let summary = onnx::summarize(&model);
    let pre = PreprocessSettings::from_model(&summary, input_size)?;
    Ok((summary, pre))
}

/// The output rule (`crate::paths`) for a PTQ run: the INT8 model, its
/// ranges and its calibration cache are none of the files read (the FP32
/// model above all, in any spelling) and lie outside the calibration data.
pub fn check_outputs(req: &PtqRequest) -> Result<(), PtqError> {
    let mut paths = crate::paths::RunPaths::new().input("FP32 model (--model)", &req.model);
    if let Some(r) = &req.ranges_from {
        paths = paths.input("ranges file (--ranges)", r);
    }
    match &req.calibration {
        CalibrationSource::ImageList(l) => paths = paths.input("image list", l),
        CalibrationSource::Split { split, root, .. } => {
            paths = paths.input("split", split).dataset(root);
        }
        CalibrationSource::Folder(f) => paths = paths.dataset(f),
        CalibrationSource::Files(files) => {
            for f in files {
                paths = paths.input("calibration input", f);
            }
        }
    }
    let (ranges, cache) = artefact_paths(&req.output);
    paths
        .output("INT8 model", &req.output)
        .output("ranges file", &ranges)
        .output("calibration cache", &cache)
        .check()?;
    Ok(())
}

/// The whole PTQ pipeline with the default [`PtqOptions`]. Writes nothing unless it succeeds.
pub fn run_ptq(req: &PtqRequest, progress: &Progress) -> Result<PtqReport, PtqError> {
    run_ptq_with(req, &PtqOptions::default(), progress)
}

/// The whole PTQ pipeline. Writes nothing unless it succeeds.
pub fn run_ptq_with(
    req: &PtqRequest,
    opts: &PtqOptions,
    progress: &Progress,
) -> Result<PtqReport, PtqError> {
    let t0 = Instant::now();
    check_outputs(req)?;
    let s = &req.settings;
    let model_bytes = std::fs::read(&req.model).map_err(|source| onnx::OnnxError::Read {
        path: req.model.clone(),
        source,
    })?;
    let mut model = onnx::load_with(&req.model, s.allow_external_data_outside)?;
    graph::fold_constant_nodes(&mut model);
    let fp32 = onnx::summarize(&model);
    let pre = match &s.preprocess {
        Some(p) => p.clone(),
        None => PreprocessSettings::from_model(&fp32, s.input_size)?,
    };
    let Some(input) = fp32.inputs.iter().find(|i| i.name == pre.input_name) else {
        return Err(PtqError::Source(format!(
            "the model has no input named {}; its inputs are {}",
            pre.input_name,
            fp32.inputs
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    // A fixed model input must get exactly the tensor it is fed: what the
    // preprocessing makes, or (for `.npy` tensors) the model's own shape
    // when every dimension is fixed, e.g. a batch of 2.
    let want = pre.input_shape();
    let fits = |shape: [i64; 4]| {
        input.dims.len() == 4
            && input
                .dims
                .iter()
                .zip(shape)
                .all(|(d, w)| !matches!(d, onnx::Dim::Fixed(v) if *v != w))
    };
    let model_shape: Option<[i64; 4]> = input
        .dims
        .iter()
        .map(|d| match d {
            onnx::Dim::Fixed(v) => Some(*v),
            _ => None,
        })
        .collect::<Option<Vec<i64>>>()
        .and_then(|v| v.try_into().ok());
    let shape_text = |s: [i64; 4]| format!("[{}, {}, {}, {}]", s[0], s[1], s[2], s[3]);
    let mismatch = || {
        PtqError::Source(format!(
            "preprocessing makes {} but model input {} is {}; set the input size to the model's, or give .npy tensors of exactly the model's shape",
            shape_text(want),
            pre.input_name,
            onnx::dims_text(&input.dims)
        ))
    };
    let feed_shape = if fits(want) {
        want
    } else {
        model_shape.ok_or_else(mismatch)?
    };
    // Settings the opset cannot express are refused before calibrating.
    qdq::check_opset(&model, &s.qdq)?;
    let info = graph::analyse(&model);
    let tensors = graph::tensors_to_calibrate(
        &model,
        &info,
        &s.qdq.op_types,
        &s.qdq.exclude_nodes,
        &s.qdq.exclude_tensors,
    );

    let model_sha256 = format!("{:x}", Sha256::digest(&model_bytes));
    let mut ranges_model_mismatch = None;
    let t_cal = Instant::now();
    let mut from_images = false;
    let mut cal_inputs: Vec<PathBuf> = Vec::new();
    let mut unused: Vec<PathBuf> = Vec::new();
    let (mut ranges, observed, set) = if let Some(rp) = &req.ranges_from {
        let f = RangesFile::read(rp).map_err(PtqError::Ranges)?;
        if f.model_sha256 != model_sha256 {
            ranges_model_mismatch = Some(format!(
                "{} was calibrated on {} (another model file); tensors are matched by name",
                rp.display(),
                f.model
            ));
        }
        let observed = f
            .tensors
            .iter()
            .map(|r| (r.tensor.clone(), (r.observed_min, r.observed_max)))
            .collect::<HashMap<_, _>>();
        (f.ranges(), observed, f.calibration_set.clone())
    } else {
        let mut inputs = req.calibration.resolve().map_err(PtqError::Source)?;
        if let Some(n) = s.max_images {
            unused = inputs.split_off(n.min(inputs.len()));
        }
        let is_npy = |p: &PathBuf| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
        if feed_shape != want && !inputs.iter().all(is_npy) {
            return Err(mismatch());
        }
        from_images = inputs
            .iter()
            .all(|p| !p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy")));
        let cal = calibrate::calibrate_shaped(
            &model,
            &tensors,
            &inputs,
            &req.calibration.describe(),
            &pre,
            feed_shape,
            // MinMax needs no histogram: skipping it spares binning every value.
            if s.method == RangeMethod::MinMax {
                0
            } else {
                s.method_options.num_bins
            },
            None,
            progress,
        )?;
        if cal.cancelled {
            return Err(PtqError::Cancelled(cal.images));
        }
        cal_inputs = inputs;
        let ranges: HashMap<String, (f32, f32)> = cal
            .stats
            .iter()
            .filter(|(_, st)| st.count > 0)
            .map(|(k, st)| {
                (
                    k.clone(),
                    methods::tensor_range(st, s.method, &s.method_options, s.qdq.activation_type),
                )
            })
            .collect();
        let observed = cal
            .stats
            .iter()
            .map(|(k, st)| (k.clone(), (st.min, st.max)))
            .collect();
        (ranges, observed, cal.set)
    };
    let calibration_seconds = t_cal.elapsed().as_secs_f64();
    // Reloaded ranges are taken as they were written.
    if req.ranges_from.is_none() {
        let graph_inputs: Vec<String> = info.graph_inputs.iter().cloned().collect();
        ranges::set_input_ranges_from(
            &mut ranges,
            &observed,
            &model,
            &graph_inputs,
            opts.input_range,
            &pre,
            from_images,
        );
    }
    let range_warnings: Vec<String> = tensors
        .iter()
        .filter_map(|t| {
            let chosen = *ranges.get(t)?;
            let seen = *observed.get(t)?;
            ranges::sliver_warning(t, s.method, chosen, seen)
        })
        .collect();

    let (int8_model, outcome) = qdq::write_qdq(&model, &ranges, &s.qdq)?;
    let held_out = match &opts.held_out {
        Some(v) => v.iter().take(opts.fidelity_samples).cloned().collect(),
        None => heldout::held_out_inputs(&cal_inputs, &unused, opts.fidelity_samples),
    };
    let (fidelity, fidelity_note) = if opts.fidelity_samples == 0 {
        (None, Some("fidelity check turned off".to_string()))
    } else if held_out.is_empty() {
        (
            None,
            Some(
                "no fidelity check: no held-out inputs (the calibration folders hold no other files); give some to compare INT8 with FP32"
                    .to_string(),
            ),
        )
    } else {
        // MinMax ranges from the same statistics, for the "far worse than MinMax" check.
        let minmax_model = if s.method != RangeMethod::MinMax {
            let mut mm: HashMap<String, (f32, f32)> = ranges
                .keys()
                .filter_map(|t| Some((t.clone(), *observed.get(t)?)))
                .collect();
            let graph_inputs: Vec<String> = info.graph_inputs.iter().cloned().collect();
            ranges::set_input_ranges_from(
                &mut mm,
                &observed,
                &model,
                &graph_inputs,
                opts.input_range,
                &pre,
                from_images,
            );
            Some(onnx::encode(&qdq::write_qdq(&model, &mm, &s.qdq)?.0))
        } else {
            None
        };
        let int8_bytes = onnx::encode(&int8_model);
        let mut candidates: Vec<&[u8]> = vec![&int8_bytes];
        if let Some(b) = &minmax_model {
            candidates.push(b);
        }
        let decoder = opts.decoder.as_ref();
        match fidelity::compare_models(
            &model_bytes,
            &candidates,
            &held_out,
            &pre,
            decoder,
            progress,
        ) {
            Ok(acc) => {
                let input_warning = range_warnings
                    .iter()
                    .find(|w| w.contains(&format!(" of {}'s ", pre.input_name)))
                    .map(String::as_str);
                (
                    Some(fidelity::fidelity_from(
                        &held_out,
                        &acc[0],
                        acc.get(1),
                        input_warning,
                    )),
                    None,
                )
            }
            Err(fidelity::FidelityError::Cancelled) => return Err(PtqError::CancelledFidelity),
            Err(e) => (None, Some(format!("no fidelity check: {e}"))),
        }
    };
    let params: HashMap<&str, &qdq::ActivationParams> = outcome
        .activations
        .iter()
        .map(|a| (a.tensor.as_str(), a))
        .collect();
    let mut rows: Vec<RangeRow> = tensors
        .iter()
        .chain(
            outcome
                .activations
                .iter()
                .map(|a| &a.tensor)
                .filter(|t| !tensors.contains(t)),
        )
        .filter_map(|t| {
            let (min, max) = match ranges.get(t) {
                Some(r) => *r,
                None => {
                    let shared = params.get(t.as_str())?.shared_with.as_ref()?;
                    *ranges.get(shared)?
                }
            };
            let (omin, omax) = observed.get(t).copied().unwrap_or((min, max));
            let p = params.get(t.as_str());
            Some(RangeRow {
                tensor: t.clone(),
                min,
                max,
                scale: p.map(|p| p.scale),
                zero_point: p.map(|p| p.zero_point),
                shared_with: p.and_then(|p| p.shared_with.clone()),
                method: s.method,
                observed_min: omin,
                observed_max: omax,
            })
        })
        .collect();
    rows.dedup_by(|a, b| a.tensor == b.tensor);
    let ranges_file = RangesFile {
        format: artefacts::RANGES_FORMAT.into(),
        model: req.model.display().to_string(),
        model_sha256,
        method: s.method,
        method_options: s.method_options,
        activation_type: s.qdq.activation_type,
        calibration_set: set.clone(),
        tensors: rows.clone(),
    };
    let (ranges_path, cache_path) = artefact_paths(&req.output);
    let write = |p: &Path, bytes: &[u8]| {
        crate::fsutil::write_atomic(p, bytes).map_err(|source| PtqError::Write {
            path: p.to_path_buf(),
            source,
        })
    };
    write(&ranges_path, ranges_file.to_json().as_bytes())?;
    write(&cache_path, ranges_file.tensorrt_cache().as_bytes())?;
    let fidelity_path = match &fidelity {
        Some(f) => {
            let p = fidelity_path_for(&req.output);
            let json = serde_json::to_string_pretty(f).expect("fidelity serialises");
            if let Err(e) = write(&p, json.as_bytes()) {
                let _ = std::fs::remove_file(&ranges_path);
                let _ = std::fs::remove_file(&cache_path);
                return Err(e);
            }
            Some(p)
        }
        None => None,
    };
    if let Err(e) = onnx::save(&int8_model, &req.output) {
        let _ = std::fs::remove_file(&ranges_path);
        let _ = std::fs::remove_file(&cache_path);
        if let Some(p) = &fidelity_path {
            let _ = std::fs::remove_file(p);
        }
        return Err(e.into());
    }
    Ok(PtqReport {
        output: req.output.clone(),
        ranges_path,
        calibration_cache_path: cache_path,
        calibration_set: set,
        preprocess: pre,
        ranges: rows,
        weights_quantized: outcome.weights_quantized.len(),
        biases_quantized: outcome.biases_quantized.len(),
        weights_left_float: outcome.left_float,
        fp32,
        int8: onnx::summarize(&int8_model),
        calibration_seconds,
        total_seconds: t0.elapsed().as_secs_f64(),
        ranges_model_mismatch,
        range_warnings,
        fidelity,
        fidelity_note,
        fidelity_path,
    })
}
