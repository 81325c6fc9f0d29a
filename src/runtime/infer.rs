//! A thin inference wrapper over ort: one float input in, named float outputs out.

use std::path::Path;

use ort::session::{builder::GraphOptimizationLevel, Session};
use ort::value::Tensor;

use super::{environment, RuntimeError};

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("ONNX Runtime rejected the model: {0}")]
    Session(String),
    #[error("inference failed: {0}")]
    Run(String),
}

/// An ONNX Runtime session on an in-memory or on-disk model.
pub struct Model {
    session: Session,
}

/// Cores this process may use (follows taskset and cgroup limits).
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn session_err(e: impl std::fmt::Display) -> InferError {
    InferError::Session(e.to_string())
}

impl Model {
    /// Builds a session from serialised model bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, InferError> {
        Self::build(bytes, all_cores(), true)
    }

    /// [`Self::from_bytes`] with ONNX Runtime's intra-op threads sleeping
    /// instead of busy-waiting between operators, so threads that read and
    /// score images beside inference (evaluation) get the cores.
    pub fn from_bytes_without_spinning(bytes: &[u8]) -> Result<Self, InferError> {
        Self::build(bytes, all_cores(), false)
    }

    /// A session with `intra_threads` ONNX Runtime threads (at least 1), not
    /// spinning: for several sessions side by side (calibration), each with
    /// its share of the cores, where a spinning thread would steal another
    /// session's core.
    pub fn from_bytes_with_threads(bytes: &[u8], intra_threads: usize) -> Result<Self, InferError> {
        Self::build(bytes, intra_threads.max(1), false)
    }

    fn build(bytes: &[u8], threads: usize, spinning: bool) -> Result<Self, InferError> {
        let env = environment()?;
        let session = Session::builder(env)
            .map_err(session_err)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(session_err)?
            .with_intra_threads(threads)
            .map_err(session_err)?
            .with_intra_op_spinning(spinning)
            .map_err(session_err)?
            .commit_from_memory(bytes)
            .map_err(session_err)?;
        Ok(Self { session })
    }

    pub fn from_file(path: &Path) -> Result<Self, InferError> {
        let bytes = std::fs::read(path)
            .map_err(|e| InferError::Session(format!("{}: {e}", path.display())))?;
        Self::from_bytes(&bytes)
    }

    /// Saves ONNX Runtime's optimised graph of `model_bytes` to `dest`
    /// (to check which kernels it fused the Q/DQ pairs into).
    pub fn save_optimized(model_bytes: &[u8], dest: &Path) -> Result<(), InferError> {
        let env = environment()?;
        let _session = Session::builder(env)
            .map_err(session_err)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(session_err)?
            .with_optimized_model_path(dest)
            .map_err(session_err)?
            .commit_from_memory(model_bytes)
            .map_err(session_err)?;
        Ok(())
    }

    pub fn input_names(&self) -> Vec<String> {
        self.session
            .inputs()
            .iter()
            .map(|i| i.name().to_string())
            .collect()
    }

    pub fn output_names(&self) -> Vec<String> {
        self.session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect()
    }

    /// Runs one input and hands all float outputs (name, shape, values) to
    /// `visit` at once, without copying them out of ONNX Runtime's buffers.
    pub fn run_with<F>(
        &mut self,
        input: &str,
        shape: &[i64],
        data: Vec<f32>,
        visit: F,
    ) -> Result<(), InferError>
    where
        F: FnOnce(Vec<(&str, &[i64], &[f32])>),
    {
        let t = Tensor::from_array((shape.to_vec(), data))
            .map_err(|e| InferError::Run(e.to_string()))?;
        // Passed by reference: an output that is also the graph input (a graph
        // input exposed for calibration) aliases this buffer, so it must
        // outlive the outputs.
        let outputs = self
            .session
            .run(ort::inputs![input => &t])
            .map_err(|e| InferError::Run(e.to_string()))?;
        let mut all = Vec::new();
        for name in outputs.keys() {
            let Some(v) = outputs.get(name) else { continue };
            if let Ok((shape, vals)) = v.try_extract_tensor::<f32>() {
                all.push((name, &**shape, vals));
            }
        }
        visit(all);
        Ok(())
    }

    /// Runs one input and returns the named output's values.
    pub fn run_one(
        &mut self,
        input: &str,
        shape: &[i64],
        data: Vec<f32>,
        output: &str,
    ) -> Result<Vec<f32>, InferError> {
        let mut got = None;
        self.run_with(input, shape, data, |all| {
            got = all
                .into_iter()
                .find(|(n, _, _)| *n == output)
                .map(|(_, _, v)| v.to_vec());
        })?;
        got.ok_or_else(|| InferError::Run(format!("model has no float output {output}")))
    }
}
