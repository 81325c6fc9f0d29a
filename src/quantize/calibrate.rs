//! Calibration: run the FP32 model over the calibration set with every tensor
//! to quantize exposed as an extra output, and stream per-tensor statistics.
//! Several sessions infer different images at once, each reducing its
//! image's activations to extents and histogram counts straight away; those
//! join the statistics in input order, and nothing per image is kept after
//! that, so memory does not grow with the set's size.

mod turns;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::stats::{Binned, Extent, TensorStats};
use crate::onnx::{make_value_info, DataType, ModelProto};
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;
use crate::runtime::infer::Model;
use turns::{Ticket, Turns};

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
    calibrate_shaped(
        model, tensors, inputs, source, pre, shape, bins, None, progress,
    )
}

/// How calibration shares the cores: ONNX Runtime sessions inferring
/// different images at once, and each one's intra-op threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPlan {
    pub threads: Vec<usize>,
}

/// Memory the sessions' activations may take together. Each session holds
/// one image's activations (and ONNX Runtime's working buffers, about twice
/// as much again, measured on the demo model).
const ACTIVATION_BUDGET: usize = 512 << 20;

impl SessionPlan {
    /// One single-threaded session per core: small networks scale poorly
    /// across intra-op threads, and images are independent. Fewer sessions
    /// (the cores shared among them) when there are fewer images, or when
    /// `image_bytes` (one image's calibrated activations) per session would
    /// pass [`ACTIVATION_BUDGET`]. `requested` (from
    /// `CALIBSCOPE_CALIBRATION_SESSIONS`) sets the number of sessions instead.
    pub fn new(cores: usize, images: usize, image_bytes: usize, requested: Option<usize>) -> Self {
        let by_memory = ACTIVATION_BUDGET / (3 * image_bytes).max(1);
        let sessions = requested
            .unwrap_or(cores.min(by_memory))
            .clamp(1, images.max(1));
        let threads = (0..sessions)
            .map(|i| (cores / sessions + usize::from(i < cores % sessions)).max(1))
            .collect();
        Self { threads }
    }
}

fn sessions_from_env() -> Option<usize> {
    std::env::var("CALIBSCOPE_CALIBRATION_SESSIONS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
}

/// Bytes of one image's float outputs from a session on all cores (the
/// plan's input when it may be more than one session).
fn activation_bytes(
    aug: &[u8],
    input: &str,
    shape: [i64; 4],
    tensor: Vec<f32>,
) -> Result<usize, CalibrationError> {
    let mut probe = Model::from_bytes_with_threads(aug, crate::runtime::infer::all_cores())?;
    let mut bytes = 0;
    probe.run_with(input, &shape, tensor, |all| {
        bytes = all.iter().map(|(_, _, v)| std::mem::size_of_val(*v)).sum();
    })?;
    Ok(bytes)
}

/// Statistics applied so far, in input order.
struct Applied {
    stats: BTreeMap<String, TensorStats>,
    hasher: Sha256,
    error: Option<CalibrationError>,
}

/// One image's contribution, computed beside other images' inference and
/// applied in input order.
enum ImageResult {
    Done {
        /// The input file's bytes, for the calibration set's hash.
        bytes: Vec<u8>,
        /// Each calibrated tensor's extent and, with a histogram, its counts.
        tensors: Vec<(String, Extent, Option<Binned>)>,
    },
    Failed(CalibrationError),
}

/// How many images may be done ahead of the next one to apply: enough that
/// no session waits for a slower one, few enough that waiting results
/// (input bytes and histograms, not activations) stay small.
fn window(sessions: usize) -> usize {
    4 * sessions
}

/// [`calibrate`] feeding tensors of `shape`, on `sessions` ONNX Runtime
/// sessions side by side (None: `CALIBSCOPE_CALIBRATION_SESSIONS`, else the
/// [`SessionPlan`] for this machine; the statistics do not depend on the
/// number). A shape other than the preprocessing's (a model with a fixed
/// batch above 1) takes `.npy` tensors of exactly that shape, as they are.
#[allow(clippy::too_many_arguments)]
pub fn calibrate_shaped(
    model: &ModelProto,
    tensors: &[String],
    inputs: &[PathBuf],
    source: &str,
    pre: &PreprocessSettings,
    shape: [i64; 4],
    bins: usize,
    sessions: Option<usize>,
    progress: &Progress,
) -> Result<Calibration, CalibrationError> {
    if inputs.is_empty() {
        return Err(CalibrationError::Empty);
    }
    let aug = crate::onnx::encode(&augment(model, tensors));
    let load = |p: &PathBuf| {
        if shape == pre.input_shape() {
            pre.load_input(p)
        } else {
            load_npy_exact(p, shape)
        }
    };
    let (cores, requested) = (
        crate::runtime::infer::all_cores(),
        sessions.or_else(sessions_from_env),
    );
    let image_bytes = if cores == 1 || requested.is_some() || progress.is_cancelled() {
        0
    } else {
        // Sized on the first image (run once more in the pipeline).
        activation_bytes(&aug, &pre.input_name, shape, load(&inputs[0])?.0)?
    };
    let plan = SessionPlan::new(cores, inputs.len(), image_bytes, requested);
    // Built side by side: a large graph takes a while to optimise.
    let sessions: Vec<Model> = std::thread::scope(|s| {
        let aug = &aug;
        let handles: Vec<_> = (plan.threads.iter())
            .map(|&n| s.spawn(move || Model::from_bytes_with_threads(aug, n)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("session building thread panicked"))
            .collect::<Result<_, _>>()
    })?;
    // With a session on every core, each worker's statistics stay on its
    // own core; a session on several cores leaves them to rayon.
    let parallel = sessions.len() < cores;
    let calibrated: &HashSet<&str> = &tensors.iter().map(String::as_str).collect();
    progress.begin("calibration", inputs.len() as u64);
    let turns = Turns::new(
        inputs.len(),
        window(sessions.len()),
        Applied {
            stats: tensors
                .iter()
                .map(|t| (t.clone(), TensorStats::new(bins)))
                .collect(),
            hasher: Sha256::new(),
            error: None,
        },
        |a: &mut Applied, r: ImageResult| apply_image(a, r, progress),
    );
    // Each worker loads, preprocesses and infers its own images and reduces
    // the activations to extents and counts while they are in its session's
    // buffers; only those wait for their turn, so memory holds one image's
    // activations per session.
    std::thread::scope(|s| {
        for mut session in sessions {
            let (turns, load) = (&turns, &load);
            s.spawn(move || {
                // Cancel is checked before each image and again at its turn.
                while let Some(ticket) = turns.ticket().filter(|_| !progress.is_cancelled()) {
                    let (tensor, bytes) = match load(&inputs[ticket.index()]) {
                        Ok(x) => x,
                        Err(e) => {
                            ticket.hand_in(ImageResult::Failed(e.into()));
                            break;
                        }
                    };
                    let mut reduced = None;
                    let run = session.run_with(&pre.input_name, &shape, tensor, |all| {
                        reduced = reduce_image(turns, &ticket, all, calibrated, bins, parallel);
                    });
                    let result = match (run, reduced) {
                        (Err(e), _) => ImageResult::Failed(e.into()),
                        (Ok(()), Some(tensors)) => ImageResult::Done { bytes, tensors },
                        // The run stopped while this image waited for its turn.
                        (Ok(()), None) => break,
                    };
                    if !ticket.hand_in(result) {
                        break;
                    }
                }
            });
        }
    });
    let (images, applied) = turns.finish();
    if let Some(e) = applied.error {
        return Err(e);
    }
    let Applied { stats, hasher, .. } = applied;
    let cancelled = images < inputs.len();
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

/// One image's activations reduced to what the statistics need: each
/// calibrated tensor's extent and, with a histogram, its counts at a range
/// read from the statistics so far (see [`TensorStats::early_range`]). Only
/// when that range cannot be known yet (before the first non-zero values)
/// does it wait for the image's turn. None when the run stopped meanwhile.
fn reduce_image<S>(
    turns: &Turns<Applied, ImageResult, S>,
    ticket: &Ticket<'_, Applied, ImageResult, S>,
    all: Vec<(&str, &[i64], &[f32])>,
    tensors: &HashSet<&str>,
    bins: usize,
    parallel: bool,
) -> Option<Vec<(String, Extent, Option<Binned>)>>
where
    S: Fn(&mut Applied, ImageResult) -> bool,
{
    // Outputs that are not calibrated (the model's own) are skipped.
    let calibrated: Vec<(&str, &[f32])> = (all.into_iter())
        .filter(|(name, _, _)| tensors.contains(name))
        .map(|(name, _, vals)| (name, vals))
        .collect();
    fn extent<'a>(&(name, vals): &(&'a str, &'a [f32])) -> Option<(&'a str, &'a [f32], Extent)> {
        Some((name, vals, Extent::of(vals)?))
    }
    let extents: Vec<(&str, &[f32], Extent)> = if parallel {
        calibrated.par_iter().filter_map(extent).collect()
    } else {
        calibrated.iter().filter_map(extent).collect()
    };
    if bins == 0 {
        let min_max = extents
            .into_iter()
            .map(|(n, _, e)| (n.to_string(), e, None));
        return Some(min_max.collect());
    }
    let early = |a: &Applied, at_turn: bool| -> Option<Vec<f32>> {
        (extents.iter())
            .map(|(name, _, e)| a.stats[*name].early_range(*e, at_turn))
            .collect()
    };
    let ranges = match turns.peek(|a| early(a, false)) {
        Some(r) => r,
        None => ticket.at_turn(|a| early(a, true).expect("known at the turn"))?,
    };
    let bin = |((name, vals, e), range): (&(&str, &[f32], Extent), f32)| {
        (name.to_string(), *e, Some(Binned::of(vals, range, bins)))
    };
    Some(if parallel {
        extents.par_iter().zip(ranges).map(bin).collect()
    } else {
        extents.iter().zip(ranges).map(bin).collect()
    })
}

/// Adds one image to the statistics, in input order; false stops the run
/// (a failure, recorded as the run's error, or cancel).
fn apply_image(a: &mut Applied, result: ImageResult, progress: &Progress) -> bool {
    let (bytes, tensors) = match result {
        ImageResult::Failed(e) => {
            a.error = Some(e);
            return false;
        }
        ImageResult::Done { bytes, tensors } => (bytes, tensors),
    };
    if progress.is_cancelled() {
        return false;
    }
    a.hasher.update((bytes.len() as u64).to_le_bytes());
    a.hasher.update(&bytes);
    for (name, extent, binned) in tensors {
        if let Some(st) = a.stats.get_mut(&name) {
            st.admit(extent);
            if let Some(b) = binned {
                st.add_binned(b);
            }
        }
    }
    progress.inc(1);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_session_per_core_within_the_memory_budget() {
        let mib = 1 << 20;
        // Demo model: 24 MiB of activations per image.
        assert_eq!(SessionPlan::new(2, 300, 24 * mib, None).threads, [1, 1]);
        // 16 cores: 7 sessions fit 512 MiB at 3 × 24 MiB; all cores still used.
        let p = SessionPlan::new(16, 300, 24 * mib, None);
        assert_eq!(p.threads, [3, 3, 2, 2, 2, 2, 2]);
        // A graph whose activations alone pass the budget: one session, every core.
        assert_eq!(SessionPlan::new(8, 300, 600 * mib, None).threads, [8]);
        // Fewer images than cores; an explicit number of sessions.
        assert_eq!(SessionPlan::new(4, 1, 0, None).threads, [4]);
        assert_eq!(SessionPlan::new(4, 300, 24 * mib, Some(1)).threads, [4]);
        assert_eq!(SessionPlan::new(2, 300, 0, Some(0)).threads, [2]);
    }
}
