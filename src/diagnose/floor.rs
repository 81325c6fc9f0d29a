//! The output quantization floor: FP32 predictions with only the output's
//! 8-bit encoding applied (the INT8 model's own scale and zero point on
//! each output, 256 levels) — the best abs_rel INT8 can reach with this
//! output head — per depth range, with the depth step in metres there.
//!
//! Built as the FP32 graph plus a QuantizeLinear/DequantizeLinear pair on
//! each output, evaluated by the evaluation engine exactly like any model.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::evaluate::{self, Decoder, DecoderKind, EvalRequest, EvalSettings, PredictionSource};
use crate::onnx::{
    make_node, tensor_from_f32, tensor_from_i8, tensor_from_u8, tensor_to_f32, ModelProto,
};
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;

/// One graph output's 8-bit encoding in the INT8 model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputEncoding {
    pub output: String,
    pub scale: f32,
    pub zero_point: i32,
    /// uint8 (0…255) unless the zero point is int8 (−128…127).
    pub signed: bool,
}

/// The Q→DQ pair producing each graph output of `int8`.
pub fn output_encodings(int8: &ModelProto) -> Vec<OutputEncoding> {
    let Some(g) = int8.graph.as_ref() else {
        return Vec::new();
    };
    let inits: HashMap<&str, _> = g.initializer.iter().map(|t| (t.name(), t)).collect();
    let q_by_output: HashMap<&str, _> = g
        .node
        .iter()
        .filter(|n| n.op_type() == "QuantizeLinear" && !n.output.is_empty())
        .map(|n| (n.output[0].as_str(), n))
        .collect();
    let mut out = Vec::new();
    for o in &g.output {
        let Some(dq) = g.node.iter().find(|n| {
            n.op_type() == "DequantizeLinear"
                && n.output.first().map(String::as_str) == Some(o.name())
        }) else {
            continue;
        };
        let Some(q) = dq.input.first().and_then(|i| q_by_output.get(i.as_str())) else {
            continue;
        };
        let Some(scale) = q
            .input
            .get(1)
            .and_then(|s| inits.get(s.as_str()))
            .and_then(|t| tensor_to_f32(t).ok())
            .filter(|v| v.len() == 1)
        else {
            continue;
        };
        let zp = q.input.get(2).and_then(|z| inits.get(z.as_str()));
        out.push(OutputEncoding {
            output: o.name().to_string(),
            scale: scale[0],
            zero_point: zp
                .and_then(|t| tensor_to_f32(t).ok())
                .and_then(|v| v.first().copied())
                .unwrap_or(0.0) as i32,
            signed: zp.is_some_and(|t| t.data_type() == 3),
        });
    }
    out
}

/// `fp32` with each encoded output passed through its Q/DQ pair.
pub fn output_quantized_model(fp32: &ModelProto, encodings: &[OutputEncoding]) -> ModelProto {
    let mut m = fp32.clone();
    let Some(g) = m.graph.as_mut() else {
        return m;
    };
    for e in encodings {
        let raw = format!("{}_before_output_quantization", e.output);
        let mut produced = false;
        for n in g.node.iter_mut() {
            for o in n.output.iter_mut() {
                if *o == e.output {
                    *o = raw.clone();
                    produced = true;
                }
            }
        }
        if !produced {
            continue;
        }
        // Later readers of the output (rare) keep reading the float value.
        for n in g.node.iter_mut() {
            for i in n.input.iter_mut() {
                if *i == e.output {
                    *i = raw.clone();
                }
            }
        }
        let (sn, zn, qn) = (
            format!("{}_floor_scale", e.output),
            format!("{}_floor_zero_point", e.output),
            format!("{}_floor_q", e.output),
        );
        g.initializer.push(tensor_from_f32(&sn, &[], &[e.scale]));
        g.initializer.push(if e.signed {
            tensor_from_i8(&zn, &[], &[e.zero_point as i8])
        } else {
            tensor_from_u8(&zn, &[], &[e.zero_point as u8])
        });
        g.node.push(make_node(
            "QuantizeLinear",
            &[&raw, &sn, &zn],
            &[&qn],
            &qn,
            vec![],
        ));
        g.node.push(make_node(
            "DequantizeLinear",
            &[&qn, &sn, &zn],
            &[&e.output],
            &format!("{}_floor_dq", e.output),
            vec![],
        ));
    }
    m
}

/// Depth step in metres of one output level at depth `d` (metres).
pub fn depth_step(decoder: &Decoder, head: usize, scale: f64, d: f64) -> f64 {
    let (min, max) = (decoder.min_depth, decoder.max_depth);
    match decoder.kind {
        // d = 1 / (1/max + (1/min − 1/max)·s) → |∂d/∂s| = (1/min − 1/max)·d²: the step grows with depth².
        DecoderKind::SigmoidInverse => scale * (1.0 / min - 1.0 / max) * d * d,
        DecoderKind::Linear => scale * (max - min),
        DecoderKind::DualHead if head == 0 => scale * max,
        DecoderKind::DualHead => scale,
        DecoderKind::Depth => scale,
        DecoderKind::InverseDepth => scale * d * d,
    }
}

/// Per depth range: FP32 and floor abs_rel, and the depth step at its edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloorRange {
    pub lo: f64,
    pub hi: f64,
    pub fp32_abs_rel: Option<f64>,
    pub floor_abs_rel: Option<f64>,
    /// Per output head: the depth step (m) of one level at `lo` and at `hi`.
    pub step_m_at_lo: Vec<f64>,
    pub step_m_at_hi: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFloor {
    pub encodings: Vec<OutputEncoding>,
    pub decoder: Decoder,
    pub images: usize,
    pub fp32_abs_rel: f64,
    /// The best abs_rel INT8 can reach with this output encoding.
    pub floor_abs_rel: f64,
    pub ranges: Vec<FloorRange>,
}

pub struct FloorRequest {
    pub root: PathBuf,
    pub split: PathBuf,
    pub dataset: crate::dataset::DatasetSettings,
    pub fp32: PathBuf,
    pub preprocess: Option<PreprocessSettings>,
    pub decoder: Decoder,
    pub settings: EvalSettings,
}

/// Evaluates FP32 and FP32-with-quantized-outputs on the split.
pub fn output_floor(
    req: &FloorRequest,
    int8: &ModelProto,
    progress: &Progress,
) -> Result<OutputFloor, String> {
    let encodings = output_encodings(int8);
    if encodings.is_empty() {
        return Err("the INT8 model's outputs are not quantized (no Q/DQ pair produces them): its output encoding is FP32, so there is no output floor".into());
    }
    let fp32 = crate::onnx::load(&req.fp32).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let floor_path = dir.path().join("output_floor.onnx");
    crate::onnx::save(&output_quantized_model(&fp32, &encodings), &floor_path)
        .map_err(|e| e.to_string())?;
    let eval = |path: PathBuf| {
        let mut r = EvalRequest::new(
            req.root.clone(),
            req.split.clone(),
            PredictionSource::Model {
                path,
                preprocess: req.preprocess.clone(),
            },
        );
        r.dataset = req.dataset.clone();
        r.decoder = req.decoder.clone();
        r.settings = req.settings.clone();
        r.use_cache = false;
        evaluate::evaluate(&r, progress).map_err(|e| e.to_string())
    };
    let base = eval(req.fp32.clone())?;
    let floor = eval(floor_path)?;
    // Heads in the decoder's order.
    let heads: Vec<&OutputEncoding> = match req.decoder.kind {
        DecoderKind::DualHead => [&req.decoder.integer_output, &req.decoder.fractional_output]
            .iter()
            .filter_map(|n| encodings.iter().find(|e| &e.output == *n))
            .collect(),
        _ => match &req.decoder.output {
            Some(n) => encodings.iter().filter(|e| &e.output == n).collect(),
            None => encodings.iter().take(1).collect(),
        },
    };
    let steps = |d: f64| -> Vec<f64> {
        heads
            .iter()
            .enumerate()
            .map(|(i, e)| depth_step(&req.decoder, i, e.scale as f64, d))
            .collect()
    };
    let ranges = base
        .per_range
        .iter()
        .map(|r| FloorRange {
            lo: r.lo,
            hi: r.hi,
            fp32_abs_rel: (r.images > 0).then_some(r.metrics.abs_rel),
            floor_abs_rel: floor
                .per_range
                .iter()
                .find(|f| f.lo == r.lo && f.hi == r.hi && f.images > 0)
                .map(|f| f.metrics.abs_rel),
            step_m_at_lo: steps(r.lo),
            step_m_at_hi: steps(r.hi),
        })
        .collect();
    Ok(OutputFloor {
        encodings,
        decoder: req.decoder.clone(),
        images: floor.images,
        fp32_abs_rel: base.metrics.abs_rel,
        floor_abs_rel: floor.metrics.abs_rel,
        ranges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_step_grows_with_depth_squared() {
        let d = Decoder {
            min_depth: 0.5,
            max_depth: 100.0,
            ..Default::default()
        };
        let s = 1.0 / 255.0;
        let near = depth_step(&d, 0, s, 1.0);
        let far = depth_step(&d, 0, s, 10.0);
        assert!((far / near - 100.0).abs() < 1e-9);
        // numpy: (1/0.5 - 1/100) / 255 * 10**2
        assert!((far - (2.0 - 0.01) / 255.0 * 100.0).abs() < 1e-12);
    }
}
