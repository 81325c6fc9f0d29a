//! `diagnose`: an FP32 model and its INT8 QDQ model over N inputs — the
//! fidelity line and the per-tensor table — as one JSON report.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::fidelity::{self, Fidelity};
use super::floor::{output_floor, FloorRequest, OutputFloor};
use super::sweep::{sweep, Sweep, SweepRequest};
use super::tensors::TensorKind;
use super::tensors::{self, TensorComparison};
use crate::evaluate::{Decoder, EvalSettings};
use crate::onnx;
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;
use crate::quantize::CalibrationSource;

pub const REPORT_FORMAT: &str = "calibscope-diagnose/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnoseRequest {
    pub model: PathBuf,
    pub int8: PathBuf,
    /// The inputs compared on (a split with its root, or a folder).
    pub inputs: CalibrationSource,
    /// Use this many inputs, evenly spaced over the list.
    pub images: usize,
    /// None: prefilled from the model's input.
    pub preprocess: Option<PreprocessSettings>,
    pub input_size: Option<(u32, u32)>,
    /// Decodes outputs to depth (depth error, output floor).
    pub decoder: Option<Decoder>,
    /// Metric settings of the output floor and the sweep (split inputs only).
    pub eval_settings: EvalSettings,
    /// Sweep the K activations with the worst isolated SQNR (needs the
    /// INT8 model's `<stem>.ranges.json` and a split with depth maps).
    pub sweep: Option<usize>,
    /// The sweep's abs_rel target (default: halfway from INT8 to FP32).
    pub target_abs_rel: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnoseReport {
    pub format: String,
    pub model: String,
    pub int8: String,
    pub inputs: String,
    pub preprocess: PreprocessSettings,
    pub fidelity: Fidelity,
    /// Every quantized activation and weight, worst accumulated SQNR first.
    pub tensors: Vec<TensorComparison>,
    /// The output encoding's floor on the split (with a decoder and GT).
    pub floor: Option<OutputFloor>,
    /// Why there is no floor.
    pub floor_note: Option<String>,
    pub sweep: Option<Sweep>,
    pub sweep_note: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    #[error(transparent)]
    Onnx(#[from] onnx::OnnxError),
    #[error(transparent)]
    Preprocess(#[from] crate::preprocess::PreprocessError),
    #[error(transparent)]
    Fidelity(#[from] fidelity::FidelityError),
    #[error(transparent)]
    Compare(#[from] tensors::CompareError),
    #[error("{0}")]
    Inputs(String),
}

/// `n` entries evenly spaced over `all` (all of them when fewer).
pub fn evenly(all: Vec<PathBuf>, n: usize) -> Vec<PathBuf> {
    if all.len() <= n {
        return all;
    }
    (0..n).map(|i| all[i * all.len() / n].clone()).collect()
}

pub fn run_diagnose(
    req: &DiagnoseRequest,
    progress: &Progress,
) -> Result<DiagnoseReport, DiagnoseError> {
    let mut fp32 = onnx::load(&req.model)?;
    crate::quantize::graph::fold_constant_nodes(&mut fp32);
    let int8 = onnx::load(&req.int8)?;
    let pre = match &req.preprocess {
        Some(p) => p.clone(),
        None => PreprocessSettings::from_model(&onnx::summarize(&fp32), req.input_size)?,
    };
    let all = req.inputs.resolve().map_err(DiagnoseError::Inputs)?;
    let inputs = evenly(all, req.images.max(1));
    if inputs.is_empty() {
        return Err(DiagnoseError::Inputs(format!(
            "no inputs in {}: give a split with images or a folder of images or .npy",
            req.inputs.describe()
        )));
    }
    let fp32_bytes = onnx::encode(&fp32);
    let int8_bytes = onnx::encode(&int8);
    let acc = fidelity::compare_models(
        &fp32_bytes,
        &[&int8_bytes],
        &inputs,
        &pre,
        req.decoder.as_ref(),
        progress,
    )?;
    let fid = fidelity::fidelity_from(&inputs, &acc[0], None, None);
    let rows = tensors::compare_tensors(&fp32, &int8, &inputs, &pre, progress)?;
    let (floor, floor_note) = match (&req.inputs, &req.decoder) {
        (
            CalibrationSource::Split {
                split,
                root,
                dataset,
            },
            Some(decoder),
        ) => {
            let freq = FloorRequest {
                root: root.clone(),
                split: split.clone(),
                dataset: dataset.clone(),
                fp32: req.model.clone(),
                preprocess: Some(pre.clone()),
                decoder: decoder.clone(),
                settings: req.eval_settings.clone(),
            };
            match output_floor(&freq, &int8, progress) {
                Ok(f) => (Some(f), None),
                Err(e) => (None, Some(format!("no output floor: {e}"))),
            }
        }
        (CalibrationSource::Split { .. }, None) => (
            None,
            Some("no output floor: give the model's decoder".into()),
        ),
        _ => (
            None,
            Some("no output floor: it needs a split with depth maps (--split, --root)".into()),
        ),
    };
    let (sweep_result, sweep_note) = match (req.sweep, &req.inputs, &req.decoder) {
        (None, _, _) => (None, None),
        (
            Some(k),
            CalibrationSource::Split {
                split,
                root,
                dataset,
            },
            Some(decoder),
        ) => {
            let (ranges_path, _) = crate::quantize::artefact_paths(&req.int8);
            match crate::quantize::RangesFile::read(&ranges_path) {
                Err(e) => (
                    None,
                    Some(format!(
                        "no sweep: {e} (the sweep requantizes from the INT8 model's saved ranges)"
                    )),
                ),
                Ok(ranges) => {
                    let known = ranges.ranges();
                    let mut acts: Vec<&TensorComparison> = rows
                        .iter()
                        .filter(|r| {
                            r.kind == TensorKind::Activation && known.contains_key(&r.tensor)
                        })
                        .collect();
                    acts.sort_by(|a, b| a.isolated.sqnr_db.total_cmp(&b.isolated.sqnr_db));
                    let sreq = SweepRequest {
                        fp32: &fp32,
                        fp32_path: &req.model,
                        ranges: &ranges,
                        candidates: acts.iter().take(k).map(|r| r.tensor.clone()).collect(),
                        root: root.clone(),
                        split: split.clone(),
                        dataset: dataset.clone(),
                        preprocess: pre.clone(),
                        decoder: decoder.clone(),
                        settings: req.eval_settings.clone(),
                        target_abs_rel: req.target_abs_rel,
                    };
                    match sweep(&sreq, progress) {
                        Ok(s) => (Some(s), None),
                        Err(e) => (None, Some(format!("no sweep: {e}"))),
                    }
                }
            }
        }
        (Some(_), _, _) => (
            None,
            Some(
                "no sweep: it needs a split with depth maps (--split, --root) and the decoder"
                    .into(),
            ),
        ),
    };
    Ok(DiagnoseReport {
        format: REPORT_FORMAT.into(),
        model: req.model.display().to_string(),
        int8: req.int8.display().to_string(),
        inputs: format!("{} inputs from {}", inputs.len(), req.inputs.describe()),
        preprocess: pre,
        fidelity: fid,
        tensors: rows,
        floor,
        floor_note,
        sweep: sweep_result,
        sweep_note,
    })
}
