//! The QDQ writer: QuantizeLinear/DequantizeLinear pairs around the ops to
//! quantize, int8 weights, int32 biases — the layout ONNX Runtime fuses into
//! int8 kernels (QLinearConv, …). Follows `onnxruntime.quantization`'s QDQ
//! rules: one Q/DQ pair per tensor shared by all consumers; Relu/Clip after a
//! quantized op folded into it (asymmetric activations); pooling and Resize
//! reuse their input's parameters; names `<t>_scale`, `<t>_zero_point`,
//! `<t>_QuantizeLinear_Output`, `<t>_DequantizeLinear_Output`, `<w>_quantized`.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::graph::{activation_inputs, analyse, fold_constant_nodes, DIRECT_OPS, FULL_OPS};
use super::methods::{compute_scale_zp, ActivationType};
use crate::onnx::{
    attr_int, make_attr_int, make_node, opset_version, tensor_from_f32, tensor_from_i32,
    tensor_from_i8, tensor_from_u8, tensor_to_f32, ModelProto, NodeProto, TensorProto,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QdqSettings {
    pub activation_type: ActivationType,
    /// Per-channel weight scales (needs opset ≥ 13); the users' NPU is per-tensor only.
    pub per_channel: bool,
    pub op_types: Vec<String>,
    /// Tensors that stay float.
    pub exclude_tensors: Vec<String>,
    /// Nodes (by name) that stay float.
    pub exclude_nodes: Vec<String>,
}

impl Default for QdqSettings {
    fn default() -> Self {
        Self {
            activation_type: ActivationType::Uint8,
            per_channel: false,
            op_types: super::graph::default_op_types(),
            exclude_tensors: Vec::new(),
            exclude_nodes: Vec::new(),
        }
    }
}

/// Quantization parameters chosen for one activation tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivationParams {
    pub tensor: String,
    pub scale: f32,
    pub zero_point: i32,
    /// The tensor whose parameters this one reuses (pooling, Resize), if any.
    pub shared_with: Option<String>,
}

/// What the writer did.
#[derive(Debug, Clone, Default)]
pub struct QdqOutcome {
    pub activations: Vec<ActivationParams>,
    pub weights_quantized: Vec<String>,
    pub biases_quantized: Vec<String>,
    /// Weights left float (e.g. computed by a constant subgraph), with the reason.
    pub left_float: Vec<(String, String)>,
    pub removed_activations: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum QdqError {
    #[error("the model's opset {0} is below 10, where QuantizeLinear does not exist; re-export with opset 10–17")]
    OpsetTooOld(i64),
    #[error("per-channel weights need opset 13 or later (the model has {0}); use per-tensor or re-export")]
    PerChannelOpset(i64),
    #[error("model has no graph")]
    NoGraph,
    #[error("weight {0}: {1}")]
    Weight(String, String),
}

#[derive(Clone)]
enum Source {
    Own,
    SameAs(String),
}

/// Refuses settings the model's opset cannot express: Q/DQ needs opset 10,
/// per-channel weights need 13 (DequantizeLinear's `axis`). Per-channel on an
/// older opset is an error rather than a silent per-tensor fallback: a
/// per-channel request is usually a comparison, and quietly getting per-tensor
/// would make it a false one. Checked before calibration, so nothing is wasted.
pub fn check_opset(model: &ModelProto, s: &QdqSettings) -> Result<i64, QdqError> {
    let opset = opset_version(model).unwrap_or(0);
    if opset < 10 {
        return Err(QdqError::OpsetTooOld(opset));
    }
    if s.per_channel && opset < 13 {
        return Err(QdqError::PerChannelOpset(opset));
    }
    Ok(opset)
}

/// The output-channel axis of a weight for per-channel scales (ORT's choice):
/// Conv weight [M,C,kH,kW] axis 0; ConvTranspose [C,M/g,kH,kW] axis 1; Gemm B
/// axis 0 when `transB` = 1 ([N,K]) else 1 ([K,N]); MatMul's constant right
/// operand [..,K,N] its last axis. `None` for 0-D/1-D weights (per tensor).
pub fn weight_channel_axis(node: &NodeProto, rank: usize) -> Option<usize> {
    if rank < 2 {
        return None;
    }
    match node.op_type() {
        "Conv" => Some(0),
        "ConvTranspose" => Some(1),
        "Gemm" if rank == 2 => Some(if attr_int(node, "transB") == Some(1) {
            0
        } else {
            1
        }),
        "MatMul" => Some(rank - 1),
        _ => None,
    }
}

/// Writes the QDQ model. `ranges` holds calibrated [min, max] per activation.
pub fn write_qdq(
    model: &ModelProto,
    ranges: &HashMap<String, (f32, f32)>,
    s: &QdqSettings,
) -> Result<(ModelProto, QdqOutcome), QdqError> {
    let opset = check_opset(model, s)?;
    let mut model = model.clone();
    fold_constant_nodes(&mut model);
    let info = analyse(&model);
    let g = model.graph.as_ref().ok_or(QdqError::NoGraph)?;
    let op_enabled = |n: &NodeProto| {
        s.op_types.iter().any(|o| o == n.op_type())
            && !s.exclude_nodes.iter().any(|x| x == n.name())
    };
    let tensor_ok = |t: &str| !s.exclude_tensors.iter().any(|x| x == t) && ranges.contains_key(t);

    // 1. Decide which activations get Q/DQ, in graph order as ORT does.
    let mut marked: HashMap<String, Source> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut rename_output: HashMap<String, String> = HashMap::new(); // producer output → new name
    let mut removed_nodes: HashSet<usize> = HashSet::new();
    let mut range_of: HashMap<String, (f32, f32)> = ranges.clone();
    let mut outcome = QdqOutcome::default();
    let mark =
        |t: &str, src: Source, marked: &mut HashMap<String, Source>, order: &mut Vec<String>| {
            if !marked.contains_key(t) {
                marked.insert(t.to_string(), src);
                order.push(t.to_string());
            }
        };
    for (idx, n) in g.node.iter().enumerate() {
        if !op_enabled(n) {
            continue;
        }
        let op = n.op_type();
        let inputs: Vec<String> = activation_inputs(n, &info)
            .into_iter()
            .map(|i| n.input[i].clone())
            .collect();
        if op == "Relu" || op == "Clip" {
            let (x, y) = (&n.input[0], &n.output[0]);
            // ORT's adjust_tensor_ranges: a single-consumer input takes the output's range.
            if info.consumer_count(x) == 1 {
                if let Some(r) = ranges.get(y) {
                    range_of.insert(x.clone(), *r);
                }
            }
            if !marked.contains_key(x) {
                continue; // input not quantized: keep the node as it is
            }
            let removable = !s.activation_type.symmetric()
                && info.consumer_count(x) == 1
                && !info.graph_outputs.contains(x)
                && !info.graph_inputs.contains(x)
                && info.producer.contains_key(x)
                && tensor_ok(y);
            if removable {
                marked.remove(x);
                order.retain(|t| t != x);
                rename_output.insert(x.clone(), y.clone());
                removed_nodes.insert(idx);
                outcome.removed_activations.push(n.name().to_string());
            }
            if tensor_ok(y) {
                mark(y, Source::Own, &mut marked, &mut order);
            }
            continue;
        }
        if FULL_OPS.contains(&op) {
            for t in inputs
                .iter()
                .chain(n.output.first().filter(|o| info.is_activation(o)))
            {
                if tensor_ok(t) {
                    mark(t, Source::Own, &mut marked, &mut order);
                }
            }
        } else if DIRECT_OPS.contains(&op) {
            let too_old = (op == "Resize" && opset < 11) || (op == "MaxPool" && opset < 12);
            let x = &n.input[0];
            let y = &n.output[0];
            if !too_old
                && marked.contains_key(x)
                && !s.exclude_tensors.contains(y)
                && info.is_activation(y)
            {
                let root = match &marked[x] {
                    Source::SameAs(r) => r.clone(),
                    Source::Own => x.clone(),
                };
                mark(y, Source::SameAs(root), &mut marked, &mut order);
            }
        }
    }

    // 2. Parameters per activation.
    let (qmin, qmax) = s.activation_type.qrange();
    let mut params: HashMap<String, (f32, i32)> = HashMap::new();
    for t in &order {
        if let Source::Own = marked[t] {
            let (lo, hi) = range_of[t];
            params.insert(
                t.clone(),
                compute_scale_zp(lo, hi, qmin, qmax, s.activation_type.symmetric()),
            );
        }
    }
    for t in &order {
        let (scale, zero_point, shared_with) = match &marked[t] {
            Source::Own => (params[t].0, params[t].1, None),
            Source::SameAs(r) => (params[r].0, params[r].1, Some(r.clone())),
        };
        outcome.activations.push(ActivationParams {
            tensor: t.clone(),
            scale,
            zero_point,
            shared_with,
        });
    }

    // 3. Weights and biases of Conv / ConvTranspose / Gemm / MatMul.
    let inits: HashMap<&str, &TensorProto> = g.initializer.iter().map(|t| (t.name(), t)).collect();
    let mut new_inits: Vec<TensorProto> = Vec::new();
    let mut front_nodes: Vec<NodeProto> = Vec::new();
    let mut input_rewrite: HashMap<(usize, usize), String> = HashMap::new();
    let mut weight_scales: HashMap<String, Vec<f32>> = HashMap::new();
    let mut done_weights: HashMap<String, String> = HashMap::new();
    let dq_name = |t: &str| format!("{t}_DequantizeLinear_Output");
    let act_param = |t: &str| -> Option<(f32, i32)> {
        let src = marked.get(t)?;
        match src {
            Source::Own => params.get(t).copied(),
            Source::SameAs(r) => params.get(r).copied(),
        }
    };
    for (idx, n) in g.node.iter().enumerate() {
        let op = n.op_type();
        if !op_enabled(n) || !matches!(op, "Conv" | "ConvTranspose" | "Gemm" | "MatMul") {
            continue;
        }
        let Some(w) = n.input.get(1) else { continue };
        if s.exclude_tensors.contains(w) || info.is_activation(w) || !info.float.contains(w) {
            continue;
        }
        let Some(wt) = inits.get(w.as_str()) else {
            outcome.left_float.push((
                w.clone(),
                "computed by a constant subgraph; left float".into(),
            ));
            continue;
        };
        if let Some(prev) = done_weights.get(w) {
            input_rewrite.insert((idx, 1), prev.clone());
        } else {
            let data = tensor_to_f32(wt).map_err(|e| QdqError::Weight(w.clone(), e))?;
            let axis = weight_channel_axis(n, wt.dims.len());
            let per_channel = s.per_channel && axis.is_some();
            let axis = axis.unwrap_or(0);
            let (q, scales) = quantize_weight(&data, &wt.dims, per_channel, axis);
            let qname = format!("{w}_quantized");
            new_inits.push(tensor_from_i8(&qname, &wt.dims, &q));
            let sdims: Vec<i64> = if per_channel {
                vec![scales.len() as i64]
            } else {
                vec![]
            };
            new_inits.push(tensor_from_f32(&format!("{w}_scale"), &sdims, &scales));
            new_inits.push(tensor_from_i8(
                &format!("{w}_zero_point"),
                &sdims,
                &vec![0; scales.len()],
            ));
            let attrs = if per_channel {
                vec![make_attr_int("axis", axis as i64)]
            } else {
                vec![]
            };
            front_nodes.push(make_node(
                "DequantizeLinear",
                &[&qname, &format!("{w}_scale"), &format!("{w}_zero_point")],
                &[&dq_name(w)],
                &format!("{w}_DequantizeLinear"),
                attrs,
            ));
            weight_scales.insert(w.clone(), scales);
            done_weights.insert(w.clone(), dq_name(w));
            input_rewrite.insert((idx, 1), dq_name(w));
            outcome.weights_quantized.push(w.clone());
        }
        // Bias: int32 with scale = input scale × weight scale.
        if op == "MatMul" {
            continue;
        }
        let Some(b) = n.input.get(2).filter(|b| !b.is_empty()) else {
            continue;
        };
        let Some(bt) = inits.get(b.as_str()) else {
            continue;
        };
        let Some((xs, _)) = act_param(&n.input[0]) else {
            continue;
        };
        if s.exclude_tensors.contains(b) || bt.dims.len() != 1 || done_weights.contains_key(b) {
            continue;
        }
        let bias = tensor_to_f32(bt).map_err(|e| QdqError::Weight(b.clone(), e))?;
        let ws = &weight_scales[w];
        if ws.len() > 1 && ws.len() != bias.len() {
            // E.g. a Gemm bias [1] broadcast over per-channel weights: no one scale per value.
            outcome.left_float.push((
                b.clone(),
                format!(
                    "bias has {} values for {} weight channels; left float",
                    bias.len(),
                    ws.len()
                ),
            ));
            continue;
        }
        let bscales: Vec<f32> = (0..bias.len())
            .map(|i| xs * ws[if ws.len() == 1 { 0 } else { i }])
            .collect();
        let per_ch = ws.len() > 1;
        let q: Vec<i32> = bias
            .iter()
            .zip(&bscales)
            .map(|(&v, &sc)| {
                (v / sc)
                    .round_ties_even()
                    .clamp(i32::MIN as f32, i32::MAX as f32) as i32
            })
            .collect();
        let qname = format!("{b}_quantized");
        new_inits.push(tensor_from_i32(&qname, &bt.dims, &q));
        let (sdims, svals): (Vec<i64>, Vec<f32>) = if per_ch {
            (vec![bscales.len() as i64], bscales.clone())
        } else {
            (vec![], vec![bscales[0]])
        };
        new_inits.push(tensor_from_f32(
            &format!("{b}_quantized_scale"),
            &sdims,
            &svals,
        ));
        new_inits.push(tensor_from_i32(
            &format!("{b}_quantized_zero_point"),
            &sdims,
            &vec![0; svals.len()],
        ));
        let attrs = if per_ch {
            vec![make_attr_int("axis", 0)]
        } else {
            vec![]
        };
        front_nodes.push(make_node(
            "DequantizeLinear",
            &[
                &qname,
                &format!("{b}_quantized_scale"),
                &format!("{b}_quantized_zero_point"),
            ],
            &[&dq_name(b)],
            &format!("{b}_DequantizeLinear"),
            attrs,
        ));
        done_weights.insert(b.clone(), dq_name(b));
        input_rewrite.insert((idx, 2), dq_name(b));
        outcome.biases_quantized.push(b.clone());
    }

    // 4. Emit the graph.
    let mut scale_names: HashMap<String, (String, String)> = HashMap::new();
    for t in &order {
        let root = match &marked[t] {
            Source::SameAs(r) => r.clone(),
            Source::Own => t.clone(),
        };
        if !scale_names.contains_key(&root) {
            let (sc, zp) = params[&root];
            new_inits.push(tensor_from_f32(&format!("{root}_scale"), &[], &[sc]));
            new_inits.push(match s.activation_type {
                ActivationType::Uint8 => {
                    tensor_from_u8(&format!("{root}_zero_point"), &[], &[zp as u8])
                }
                ActivationType::Int8 => {
                    tensor_from_i8(&format!("{root}_zero_point"), &[], &[zp as i8])
                }
            });
            scale_names.insert(
                root.clone(),
                (format!("{root}_scale"), format!("{root}_zero_point")),
            );
        }
        let names = scale_names[&root].clone();
        scale_names.insert(t.clone(), names);
    }
    let graph_outputs = info.graph_outputs.clone();
    // A quantized graph output keeps its name on the DQ output; its producer writes `<t>_QuantizeInput`.
    let q_input = |t: &str| -> String {
        if graph_outputs.contains(t) {
            format!("{t}_QuantizeInput")
        } else {
            t.to_string()
        }
    };
    let dq_out = |t: &str| -> String {
        if graph_outputs.contains(t) {
            t.to_string()
        } else {
            dq_name(t)
        }
    };
    let qdq_pair = |t: &str| -> [NodeProto; 2] {
        let (sc, zp) = &scale_names[t];
        let qo = format!("{t}_QuantizeLinear_Output");
        [
            make_node(
                "QuantizeLinear",
                &[&q_input(t), sc, zp],
                &[&qo],
                &format!("{t}_QuantizeLinear"),
                vec![],
            ),
            make_node(
                "DequantizeLinear",
                &[&qo, sc, zp],
                &[&dq_out(t)],
                &format!("{t}_DequantizeLinear"),
                vec![],
            ),
        ]
    };
    let mut nodes: Vec<NodeProto> = front_nodes;
    for t in &order {
        if info.graph_inputs.contains(t) {
            nodes.extend(qdq_pair(t));
        }
    }
    for (idx, n) in g.node.iter().enumerate() {
        if removed_nodes.contains(&idx) {
            continue;
        }
        let mut n = n.clone();
        for (i, inp) in n.input.iter_mut().enumerate() {
            if let Some(r) = input_rewrite.get(&(idx, i)) {
                *inp = r.clone();
            } else if marked.contains_key(inp.as_str()) {
                *inp = dq_out(inp);
            }
        }
        let mut produced = Vec::new();
        for o in n.output.iter_mut() {
            if let Some(newname) = rename_output.get(o.as_str()) {
                *o = newname.clone();
            }
            if marked.contains_key(o.as_str()) {
                produced.push(o.clone());
                *o = q_input(o);
            }
        }
        nodes.push(n);
        for t in produced {
            nodes.extend(qdq_pair(&t));
        }
    }
    let mut g = g.clone();
    g.node = nodes;
    // Drop float weights no node reads any more, then add the new tensors.
    let used: HashSet<&str> = g
        .node
        .iter()
        .flat_map(|n| n.input.iter().map(String::as_str))
        .collect();
    let keep: Vec<TensorProto> = g
        .initializer
        .iter()
        .filter(|t| used.contains(t.name()) || info.graph_inputs.contains(t.name()))
        .cloned()
        .collect();
    g.initializer = keep;
    g.initializer.extend(new_inits);
    // Shapes recorded for renamed / removed tensors would now be stale.
    g.value_info.clear();
    model.graph = Some(g);
    Ok((model, outcome))
}

/// Symmetric int8 weights (range −127…127, zero point 0), per tensor or per
/// output channel along `axis`. Returns the int8 data and the scale(s).
pub fn quantize_weight(
    data: &[f32],
    dims: &[i64],
    per_channel: bool,
    axis: usize,
) -> (Vec<i8>, Vec<f32>) {
    let q = |v: f32, s: f32| (v / s).round_ties_even().clamp(-127.0, 127.0) as i8;
    if !per_channel {
        let (lo, hi) = data
            .iter()
            .fold((0f32, 0f32), |(a, b), &v| (a.min(v), b.max(v)));
        let (s, _) = compute_scale_zp(lo, hi, -127, 127, true);
        return (data.iter().map(|&v| q(v, s)).collect(), vec![s]);
    }
    let c = dims[axis] as usize;
    let inner: usize = dims[axis + 1..].iter().product::<i64>() as usize;
    let chan = |i: usize| (i / inner) % c;
    let mut lo = vec![0f32; c];
    let mut hi = vec![0f32; c];
    for (i, &v) in data.iter().enumerate() {
        let k = chan(i);
        lo[k] = lo[k].min(v);
        hi[k] = hi[k].max(v);
    }
    let scales: Vec<f32> = (0..c)
        .map(|k| compute_scale_zp(lo[k], hi[k], -127, 127, true).0)
        .collect();
    let out = data
        .iter()
        .enumerate()
        .map(|(i, &v)| q(v, scales[chan(i)]))
        .collect();
    (out, scales)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::{make_model, make_value_info, proto, DataType, GraphProto};

    /// x → Conv(w from `weight_node`) → Relu → y, opset `opset`.
    fn conv_model(opset: i64, weight: Vec<NodeProto>, inits: Vec<TensorProto>) -> ModelProto {
        let mut nodes = weight;
        nodes.push(make_node("Conv", &["x", "w", "b"], &["c"], "conv", vec![]));
        nodes.push(make_node("Relu", &["c"], &["y"], "relu", vec![]));
        let graph = GraphProto {
            node: nodes,
            initializer: inits,
            input: vec![make_value_info("x", DataType::Float)],
            output: vec![make_value_info("y", DataType::Float)],
            ..Default::default()
        };
        make_model(graph, opset)
    }

    fn ranges() -> HashMap<String, (f32, f32)> {
        [("x", (-1.0, 1.0)), ("c", (-2.0, 3.0)), ("y", (0.0, 3.0))]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    fn b() -> TensorProto {
        tensor_from_f32("b", &[2], &[0.1, -0.2])
    }

    #[test]
    fn weights_biases_and_relu_folding() {
        let w = tensor_from_f32("w", &[2, 1, 1, 1], &[0.5, -1.27]);
        let m = conv_model(13, vec![], vec![w, b()]);
        let (q, out) = write_qdq(&m, &ranges(), &QdqSettings::default()).unwrap();
        assert_eq!(out.weights_quantized, vec!["w"]);
        assert_eq!(out.biases_quantized, vec!["b"]);
        assert_eq!(out.removed_activations, vec!["relu"]);
        let g = q.graph.unwrap();
        let init = |n: &str| {
            g.initializer
                .iter()
                .find(|t| t.name() == n)
                .unwrap()
                .clone()
        };
        // Weight: symmetric int8, scale = 1.27 / 127 = 0.01.
        let ws = tensor_to_f32(&init("w_scale")).unwrap()[0];
        assert!((ws - 0.01).abs() < 1e-7);
        assert_eq!(
            tensor_to_f32(&init("w_quantized")).unwrap(),
            vec![50.0, -127.0]
        );
        // Bias: int32 at input scale × weight scale.
        let xs = tensor_to_f32(&init("x_scale")).unwrap()[0];
        let bq = tensor_to_f32(&init("b_quantized")).unwrap();
        assert_eq!(bq[0], (0.1f32 / (xs * ws)).round_ties_even());
        // Relu removed: the Conv writes y's pre-quantization name, y keeps its name on the DQ output.
        assert!(!g.node.iter().any(|n| n.op_type() == "Relu"));
        let conv = g.node.iter().find(|n| n.op_type() == "Conv").unwrap();
        assert_eq!(conv.output[0], "y_QuantizeInput");
        assert!(g
            .node
            .iter()
            .any(|n| n.op_type() == "DequantizeLinear" && n.output[0] == "y"));
        // y's scale is its own range [0, 3] → 3/255, zero point 0.
        let ys = tensor_to_f32(&init("y_scale")).unwrap()[0];
        assert!((ys - 3.0 / 255.0).abs() < 1e-7);
    }

    #[test]
    fn constant_node_weights_fold_and_constant_subgraphs_stay_float() {
        // Weight from a Constant node: folded into an initializer and quantized.
        let mut cnode = make_node("Constant", &[], &["w"], "wconst", vec![]);
        cnode.attribute.push(proto::AttributeProto {
            name: Some("value".into()),
            r#type: Some(proto::attribute_proto::AttributeType::Tensor as i32),
            t: Some(tensor_from_f32("", &[2, 1, 1, 1], &[0.5, 0.25])),
            ..Default::default()
        });
        let m = conv_model(11, vec![cnode], vec![b()]);
        let (_, out) = write_qdq(&m, &ranges(), &QdqSettings::default()).unwrap();
        assert_eq!(out.weights_quantized, vec!["w"]);

        // Weight computed by Mul of two constants: left float, with the reason.
        let mul = make_node("Mul", &["w0", "k"], &["w"], "wmul", vec![]);
        let inits = vec![
            tensor_from_f32("w0", &[2, 1, 1, 1], &[1.0, 2.0]),
            tensor_from_f32("k", &[], &[0.5]),
            b(),
        ];
        let m = conv_model(11, vec![mul], inits);
        let (q, out) = write_qdq(&m, &ranges(), &QdqSettings::default()).unwrap();
        assert!(out.weights_quantized.is_empty());
        assert_eq!(out.left_float[0].0, "w");
        let g = q.graph.unwrap();
        assert!(g
            .node
            .iter()
            .any(|n| n.op_type() == "Mul" && n.output[0] == "w"));
    }

    #[test]
    fn opsets_below_10_and_per_channel_below_13_are_refused() {
        let w = tensor_from_f32("w", &[2, 1, 1, 1], &[0.5, -1.0]);
        let m = conv_model(9, vec![], vec![w.clone(), b()]);
        let e = write_qdq(&m, &ranges(), &QdqSettings::default()).unwrap_err();
        assert!(e.to_string().contains("opset 9"));
        let m = conv_model(12, vec![], vec![w.clone(), b()]);
        let s = QdqSettings {
            per_channel: true,
            ..Default::default()
        };
        assert!(write_qdq(&m, &ranges(), &s)
            .unwrap_err()
            .to_string()
            .contains("opset 13"));
        let m = conv_model(13, vec![], vec![w, b()]);
        let (q, _) = write_qdq(&m, &ranges(), &s).unwrap();
        let g = q.graph.unwrap();
        let ws = g
            .initializer
            .iter()
            .find(|t| t.name() == "w_scale")
            .unwrap();
        assert_eq!(ws.dims, vec![2]);
        let scales = tensor_to_f32(ws).unwrap();
        assert!((scales[0] - 0.5 / 127.0).abs() < 1e-8 && (scales[1] - 1.0 / 127.0).abs() < 1e-8);
    }

    #[test]
    fn channel_axis_follows_each_ops_weight_layout() {
        let n = |op: &str, attrs| make_node(op, &["x", "w"], &["y"], "n", attrs);
        assert_eq!(weight_channel_axis(&n("Conv", vec![]), 4), Some(0));
        assert_eq!(weight_channel_axis(&n("ConvTranspose", vec![]), 4), Some(1));
        let gemm_t = n("Gemm", vec![make_attr_int("transB", 1)]);
        assert_eq!(weight_channel_axis(&gemm_t, 2), Some(0));
        assert_eq!(weight_channel_axis(&n("Gemm", vec![]), 2), Some(1));
        let gemm_0 = n("Gemm", vec![make_attr_int("transB", 0)]);
        assert_eq!(weight_channel_axis(&gemm_0, 2), Some(1));
        assert_eq!(weight_channel_axis(&n("MatMul", vec![]), 2), Some(1));
        assert_eq!(weight_channel_axis(&n("MatMul", vec![]), 3), Some(2));
        // A vector weight has no channels: per tensor.
        assert_eq!(weight_channel_axis(&n("MatMul", vec![]), 1), None);
    }

    /// x → Gemm(w, b) → y with the given weight / bias, opset 13.
    fn gemm_model(w: TensorProto, b: TensorProto, trans_b: i64) -> ModelProto {
        let mut m = conv_model(13, vec![], vec![w, b]);
        let g = m.graph.as_mut().unwrap();
        g.node = vec![make_node(
            "Gemm",
            &["x", "w", "b"],
            &["y"],
            "fc",
            vec![make_attr_int("transB", trans_b)],
        )];
        m
    }

    #[test]
    fn gemm_weights_and_biases_per_channel() {
        let s = QdqSettings {
            per_channel: true,
            ..Default::default()
        };
        let r: HashMap<String, (f32, f32)> = [("x", (-1.0, 1.0)), ("y", (-2.0, 2.0))]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let init = |g: &GraphProto, n: &str| {
            tensor_to_f32(g.initializer.iter().find(|t| t.name() == n).unwrap()).unwrap()
        };
        // transB=0: B is [K=2, N=3], channels along axis 1.
        let w = tensor_from_f32("w", &[2, 3], &[0.1, -0.2, 0.3, -0.4, 0.05, 0.6]);
        let b = tensor_from_f32("b", &[3], &[0.01, 0.02, 0.03]);
        let (q, out) = write_qdq(&gemm_model(w, b, 0), &r, &s).unwrap();
        assert_eq!(out.biases_quantized, vec!["b"]);
        let g = q.graph.unwrap();
        let ws = init(&g, "w_scale");
        let want = [0.4 / 127.0, 0.2 / 127.0, 0.6 / 127.0];
        assert!(
            ws.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-8),
            "{ws:?}"
        );
        let xs = init(&g, "x_scale")[0];
        let bs = init(&g, "b_quantized_scale");
        assert_eq!(bs, ws.iter().map(|w| xs * w).collect::<Vec<_>>());
        // transB=1: B is [N=2, K=3], channels along axis 0.
        let w = tensor_from_f32("w", &[2, 3], &[0.1, -0.2, 0.3, -0.4, 0.05, 0.6]);
        let b = tensor_from_f32("b", &[2], &[0.01, 0.02]);
        let (q, _) = write_qdq(&gemm_model(w, b, 1), &r, &s).unwrap();
        let ws = init(q.graph.as_ref().unwrap(), "w_scale");
        assert!((ws[0] - 0.3 / 127.0).abs() < 1e-8 && (ws[1] - 0.6 / 127.0).abs() < 1e-8);
        // A bias broadcast from one value cannot take per-channel scales: left float.
        let w = tensor_from_f32("w", &[2, 3], &[0.1, -0.2, 0.3, -0.4, 0.05, 0.6]);
        let b = tensor_from_f32("b", &[1], &[0.01]);
        let (_, out) = write_qdq(&gemm_model(w, b, 1), &r, &s).unwrap();
        assert!(out.biases_quantized.is_empty());
        assert_eq!(out.left_float[0].0, "b");
    }
}
