//! Calibration: run the FP32 model over the calibration set with every tensor
//! to quantize exposed as an extra output, and stream per-tensor statistics.
//! Nothing per image is kept, so memory does not grow with the set's size.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::stats::TensorStats;
use crate::onnx::{make_value_info, DataType, ModelProto};
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;
use crate::runtime::infer::Model;

/// What was calibrated on: enough to tell two runs' sets apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CalibrationSetId {
    /// Where the list came from (image list, split file, folder).
    pub source: String,
    pub count: usize,
    /// SHA-256 over the files' bytes in order.
    pub sha256: String,
    /// The first and last file, for a human reader.
    pub first: Option<String>,
    pub last: Option<String>,
}

pub struct Calibration {
    pub stats: BTreeMap<String, TensorStats>,
    pub set: CalibrationSetId,
    /// Images processed (fewer than the set when cancelled).
    pub images: usize,
    pub cancelled: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("the calibration set is empty: give images (an image list, a split + root, or a folder of .npy)")]
    Empty,
    #[error(transparent)]
    Preprocess(#[from] crate::preprocess::PreprocessError),
    #[error(transparent)]
    Infer(#[from] crate::runtime::infer::InferError),
}

/// The model with `tensors` added as graph outputs.
pub fn augment(model: &ModelProto, tensors: &[String]) -> ModelProto {
    let mut m = model.clone();
    if let Some(g) = m.graph.as_mut() {
        let existing: std::collections::HashSet<String> =
            g.output.iter().map(|o| o.name().to_string()).collect();
        for t in tensors {
            if !existing.contains(t) {
                g.output.push(make_value_info(t, DataType::Float));
            }
        }
    }
    m
}

/// A `.npy` tensor that must have exactly `shape` (a model input whose
/// every dimension is fixed): its values as they are.
fn load_npy_exact(
    path: &PathBuf,
    shape: [i64; 4],
) -> Result<(Vec<f32>, Vec<u8>), crate::preprocess::PreprocessError> {
    use crate::preprocess::PreprocessError;
    let npy_err = |reason: String| PreprocessError::Npy {
        path: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| PreprocessError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let (got, data) = crate::preprocess::parse_npy(&bytes).map_err(npy_err)?;
    if got.iter().map(|&d| d as i64).ne(shape) {
        let got: Vec<String> = got.iter().map(usize::to_string).collect();
        return Err(npy_err(format!(
            "shape [{}] does not match the model input [{}, {}, {}, {}]",
            got.join(", "),
            shape[0],
            shape[1],
            shape[2],
            shape[3]
        )));
    }
    Ok((data, bytes))
}

/// Calibrates `model` over `inputs` (images or `.npy` tensors). Checks for
/// cancel before every image; a cancelled run returns what it had.
pub fn calibrate(
    model: &ModelProto,
    tensors: &[String],
    inputs: &[PathBuf],
    source: &str,
    pre: &PreprocessSettings,
    bins: usize,
    progress: &Progress,
) -> Result<Calibration, CalibrationError> {
    let shape = pre.input_shape();
    calibrate_shaped(model, tensors, inputs, source, pre, shape, bins, progress)
}

/// [`calibrate`] feeding tensors of `shape`. A shape other than the
/// preprocessing's (a model with a fixed batch above 1) takes `.npy`
/// tensors of exactly that shape, as they are.
#[allow(clippy::too_many_arguments)]
pub fn calibrate_shaped(
    model: &ModelProto,
    tensors: &[String],
    inputs: &[PathBuf],
    source: &str,
    pre: &PreprocessSettings,
    shape: [i64; 4],
    bins: usize,
    progress: &Progress,
) -> Result<Calibration, CalibrationError> {
    if inputs.is_empty() {
        return Err(CalibrationError::Empty);
    }
    let aug = augment(model, tensors);
    let mut session = Model::from_bytes(&crate::onnx::encode(&aug))?;
    let mut stats: BTreeMap<String, TensorStats> = tensors
        .iter()
        .map(|t| (t.clone(), TensorStats::new(bins)))
        .collect();
    let mut hasher = Sha256::new();
    let load = |p: &PathBuf| {
        if shape == pre.input_shape() {
            pre.load_input(p)
        } else {
            load_npy_exact(p, shape)
        }
    };
    progress.begin("calibration", inputs.len() as u64);
    let mut images = 0;
    let mut cancelled = false;
    // Decode the next input on another thread while ONNX Runtime runs this one.
    let mut next = Some(load(&inputs[0]));
    for i in 0..inputs.len() {
        if progress.is_cancelled() {
            cancelled = true;
            break;
        }
        let (tensor, bytes) = next.take().expect("prefetched input")?;
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        drop(bytes);
        let following = inputs.get(i + 1);
        let mut run_result = Ok(());
        std::thread::scope(|s| {
            let load = &load;
            let pre_next = following.map(|p| s.spawn(move || load(p)));
            let mut by_name: BTreeMap<&str, &mut TensorStats> =
                stats.iter_mut().map(|(k, v)| (k.as_str(), v)).collect();
            run_result = session.run_with(&pre.input_name, &shape, tensor, |all| {
                let mut work: Vec<(&mut TensorStats, &[f32])> = Vec::new();
                for (name, _, vals) in all {
                    if let Some(st) = by_name.remove(name) {
                        work.push((st, vals));
                    }
                }
                work.par_iter_mut().for_each(|(st, v)| st.add(v));
            });
            if let Some(h) = pre_next {
                next = Some(h.join().expect("input decoding thread panicked"));
            }
        });
        run_result?;
        images += 1;
        progress.inc(1);
    }
    let name = |p: &PathBuf| p.display().to_string();
    Ok(Calibration {
        stats,
        set: CalibrationSetId {
            source: source.to_string(),
            count: images,
            sha256: format!("{:x}", hasher.finalize()),
            first: inputs.first().map(name),
            last: inputs.get(images.saturating_sub(1)).map(name),
        },
        images,
        cancelled,
    })
}
