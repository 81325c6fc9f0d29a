//! Per-tensor comparison of an INT8 QDQ model with its FP32 original, for
//! every quantized activation and weight, in two modes:
//! - accumulated: the INT8 graph's dequantized tensor against FP32's (all
//!   earlier quantization included; ONNX Runtime's `xmodel_err`, RKNN's "entire");
//! - isolated: FP32's tensor against itself quantized with the same scale
//!   and zero point (only that tensor quantized; RKNN's "single").
//!
//! Weights are compared once (dequantized against float): both modes agree.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::agreement::{fake_quantize, Agreement, AgreementSummary};
use crate::onnx::{attr_int, tensor_to_f32, ModelProto, TensorProto};
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;
use crate::quantize::calibrate::augment;
use crate::runtime::infer::Model;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TensorKind {
    Activation,
    Weight,
}

/// One Q/DQ pair of the INT8 graph, matched to its FP32 tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationPair {
    /// The FP32 model's tensor.
    pub tensor: String,
    /// The INT8 model's DequantizeLinear output.
    pub post: String,
    pub scale: f32,
    pub zero_point: i32,
    pub qmin: i32,
    pub qmax: i32,
}

/// One row of the per-tensor table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorComparison {
    pub tensor: String,
    pub kind: TensorKind,
    /// Position along the FP32 graph: the producing node's index + 1 (0 for
    /// graph inputs); for weights, the first consuming node's index + 1.
    pub graph_index: usize,
    /// Activation scale and zero point (weights: the first channel's scale).
    pub scale: f32,
    pub zero_point: i32,
    pub accumulated: AgreementSummary,
    pub isolated: AgreementSummary,
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Preprocess(#[from] crate::preprocess::PreprocessError),
    #[error(transparent)]
    Infer(#[from] crate::runtime::infer::InferError),
    #[error("{0}")]
    Model(String),
    #[error("cancelled")]
    Cancelled,
}

fn inits(m: &ModelProto) -> HashMap<&str, &TensorProto> {
    m.graph
        .iter()
        .flat_map(|g| g.initializer.iter())
        .map(|t| (t.name(), t))
        .collect()
}

/// Every activation Q→DQ pair of `int8` with a scalar scale, matched to a
/// tensor of the FP32 graph (`float_tensors`) by name: the Q input itself,
/// or that name without the writer's suffix for quantized graph outputs
/// (`_QuantizeInput`, ONNX Runtime's `_QuantizeLinear_Input`).
pub fn activation_pairs(int8: &ModelProto, float_tensors: &HashSet<String>) -> Vec<ActivationPair> {
    let Some(g) = int8.graph.as_ref() else {
        return Vec::new();
    };
    let inits = inits(int8);
    let mut dq_of: HashMap<&str, &str> = HashMap::new();
    for n in &g.node {
        if n.op_type() == "DequantizeLinear" && !n.output.is_empty() {
            if let Some(i) = n.input.first() {
                dq_of.entry(i.as_str()).or_insert(n.output[0].as_str());
            }
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for n in &g.node {
        if n.op_type() != "QuantizeLinear" || n.input.len() < 2 || n.output.is_empty() {
            continue;
        }
        let x = n.input[0].as_str();
        let tensor = [x, x.trim_end_matches("_QuantizeInput")]
            .into_iter()
            .chain(x.strip_suffix("_QuantizeLinear_Input"))
            .find(|t| float_tensors.contains(*t));
        let (Some(tensor), Some(post)) = (tensor, dq_of.get(n.output[0].as_str())) else {
            continue;
        };
        let Some(scale) = inits
            .get(n.input[1].as_str())
            .and_then(|t| tensor_to_f32(t).ok())
            .filter(|v| v.len() == 1)
        else {
            continue;
        };
        let zp_t = n.input.get(2).and_then(|z| inits.get(z.as_str()));
        let zero_point = zp_t
            .and_then(|t| tensor_to_f32(t).ok())
            .and_then(|v| v.first().copied())
            .unwrap_or(0.0) as i32;
        // uint8 unless the zero point says int8 (data type 3).
        let (qmin, qmax) = match zp_t.map(|t| t.data_type()) {
            Some(3) => (-128, 127),
            _ => (0, 255),
        };
        if seen.insert(tensor.to_string()) {
            out.push(ActivationPair {
                tensor: tensor.to_string(),
                post: post.to_string(),
                scale: scale[0],
                zero_point,
                qmin,
                qmax,
            });
        }
    }
    out
}

/// Every constant dequantized in `int8` (`<w>_quantized` → DequantizeLinear)
/// against the FP32 initializer `<w>`, as ONNX Runtime's `create_weight_matching`.
pub fn weight_rows(
    fp32: &ModelProto,
    int8: &ModelProto,
    order: &HashMap<String, usize>,
) -> Vec<TensorComparison> {
    let Some(g) = int8.graph.as_ref() else {
        return Vec::new();
    };
    let q_inits = inits(int8);
    let f_inits = inits(fp32);
    let mut rows = Vec::new();
    for n in &g.node {
        if n.op_type() != "DequantizeLinear" || n.input.len() < 2 {
            continue;
        }
        let Some(qt) = q_inits.get(n.input[0].as_str()) else {
            continue;
        };
        let Some(w) = n.input[0].strip_suffix("_quantized") else {
            continue;
        };
        let Some(ft) = f_inits.get(w) else { continue };
        let (Ok(q), Ok(f)) = (tensor_to_f32(qt), tensor_to_f32(ft)) else {
            continue;
        };
        let Some(scales) = q_inits
            .get(n.input[1].as_str())
            .and_then(|t| tensor_to_f32(t).ok())
        else {
            continue;
        };
        let zps = n
            .input
            .get(2)
            .and_then(|z| q_inits.get(z.as_str()))
            .and_then(|t| tensor_to_f32(t).ok())
            .unwrap_or_else(|| vec![0.0; scales.len()]);
        if q.len() != f.len() || scales.is_empty() || zps.len() != scales.len() {
            continue;
        }
        let deq: Vec<f32> = if scales.len() == 1 {
            q.iter().map(|&v| (v - zps[0]) * scales[0]).collect()
        } else {
            let rank = qt.dims.len() as i64;
            let axis = attr_int(n, "axis").unwrap_or(1);
            let axis = if axis < 0 { axis + rank } else { axis } as usize;
            let inner: usize = qt
                .dims
                .get(axis + 1..)
                .map_or(1, |d| d.iter().product::<i64>() as usize);
            let c = scales.len();
            q.iter()
                .enumerate()
                .map(|(i, &v)| {
                    let k = (i / inner.max(1)) % c;
                    (v - zps[k]) * scales[k]
                })
                .collect()
        };
        let mut a = Agreement::default();
        a.add(&f, &deq);
        let s = a.summary();
        rows.push(TensorComparison {
            tensor: w.to_string(),
            kind: TensorKind::Weight,
            graph_index: order.get(w).copied().unwrap_or(0),
            scale: scales[0],
            zero_point: zps[0] as i32,
            accumulated: s.clone(),
            isolated: s,
        });
    }
    rows
}

/// Graph position of every tensor of `fp32` (see [`TensorComparison::graph_index`]).
pub fn graph_order(fp32: &ModelProto) -> HashMap<String, usize> {
    let mut order = HashMap::new();
    if let Some(g) = fp32.graph.as_ref() {
        for (i, n) in g.node.iter().enumerate() {
            for t in n.input.iter().chain(&n.output) {
                order.entry(t.clone()).or_insert(i + 1);
            }
        }
        for inp in &g.input {
            order.insert(inp.name().to_string(), 0);
        }
    }
    order
}

/// Compares every quantized tensor of `int8` with `fp32` over `inputs`.
/// Rows are sorted worst first (accumulated SQNR ascending).
pub fn compare_tensors(
    fp32: &ModelProto,
    int8: &ModelProto,
    inputs: &[PathBuf],
    pre: &PreprocessSettings,
    progress: &Progress,
) -> Result<Vec<TensorComparison>, CompareError> {
    let fg = fp32
        .graph
        .as_ref()
        .ok_or_else(|| CompareError::Model("the FP32 model has no graph".into()))?;
    let float_tensors: HashSet<String> = fg
        .node
        .iter()
        .flat_map(|n| n.output.iter())
        .chain(fg.input.iter().map(|i| &i.name).flatten())
        .cloned()
        .collect();
    let pairs = activation_pairs(int8, &float_tensors);
    let order = graph_order(fp32);
    let float_names: Vec<String> = pairs.iter().map(|p| p.tensor.clone()).collect();
    let post_names: Vec<String> = pairs.iter().map(|p| p.post.clone()).collect();
    let mut fm = Model::from_bytes(&crate::onnx::encode(&augment(fp32, &float_names)))?;
    let mut qm = Model::from_bytes(&crate::onnx::encode(&augment(int8, &post_names)))?;
    let mut acc: Vec<(Agreement, Agreement)> = vec![Default::default(); pairs.len()];
    let shape = pre.input_shape();
    progress.begin("per-tensor comparison", inputs.len() as u64);
    for p in inputs {
        if progress.is_cancelled() {
            return Err(CompareError::Cancelled);
        }
        let (x, _) = pre.load_input(p)?;
        let mut float_vals: BTreeMap<String, Vec<f32>> = BTreeMap::new();
        let wanted: HashSet<&str> = float_names.iter().map(String::as_str).collect();
        fm.run_with(&pre.input_name, &shape, x.clone(), |all| {
            for (n, _, v) in all {
                if wanted.contains(n) {
                    float_vals.insert(n.to_string(), v.to_vec());
                }
            }
        })?;
        qm.run_with(&pre.input_name, &shape, x, |all| {
            let by_name: HashMap<&str, &[f32]> = all.into_iter().map(|(n, _, v)| (n, v)).collect();
            pairs
                .par_iter()
                .zip(acc.par_iter_mut())
                .for_each(|(pair, (accum, iso))| {
                    let Some(f) = float_vals.get(&pair.tensor) else {
                        return;
                    };
                    if let Some(q) = by_name.get(pair.post.as_str()) {
                        accum.add(f, q);
                    }
                    let fq: Vec<f32> = f
                        .iter()
                        .map(|&v| {
                            fake_quantize(v, pair.scale, pair.zero_point, pair.qmin, pair.qmax)
                        })
                        .collect();
                    iso.add(f, &fq);
                });
        })?;
        progress.inc(1);
    }
    let mut rows: Vec<TensorComparison> = pairs
        .iter()
        .zip(acc)
        .filter(|(_, (a, _))| a.summary().values > 0)
        .map(|(p, (a, i))| TensorComparison {
            tensor: p.tensor.clone(),
            kind: TensorKind::Activation,
            graph_index: order.get(&p.tensor).copied().unwrap_or(0),
            scale: p.scale,
            zero_point: p.zero_point,
            accumulated: a.summary(),
            isolated: i.summary(),
        })
        .collect();
    rows.extend(weight_rows(fp32, int8, &order));
    rows.sort_by(|a, b| a.accumulated.sqnr_db.total_cmp(&b.accumulated.sqnr_db));
    Ok(rows)
}
