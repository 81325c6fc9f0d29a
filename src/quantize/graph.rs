//! Graph analysis for quantization: which tensors are float, which are
//! constant, and which activations the QDQ writer will quantize (and so must
//! be calibrated). Mirrors `onnxruntime.quantization`'s QDQ rules.

use std::collections::{HashMap, HashSet};

use crate::onnx::{attr_int, proto::attribute_proto::AttributeType, ModelProto, NodeProto};

/// Ops whose inputs and outputs get their own Q/DQ pairs.
pub const FULL_OPS: &[&str] = &[
    "Conv",
    "ConvTranspose",
    "Gemm",
    "MatMul",
    "Add",
    "Mul",
    "Concat",
    "Sigmoid",
    "GlobalAveragePool",
    "Relu",
    "Clip",
];

/// Ops whose output reuses the input's quantization (8-bit data movement).
pub const DIRECT_OPS: &[&str] = &["MaxPool", "AveragePool", "Resize", "Upsample"];

/// Default op types to quantize: everything calibscope knows.
pub fn default_op_types() -> Vec<String> {
    FULL_OPS
        .iter()
        .chain(DIRECT_OPS)
        .map(|s| s.to_string())
        .collect()
}

/// Folds `Constant` nodes that carry a tensor into initializers, so constant
/// weights fed by Constant nodes quantize like any initializer.
pub fn fold_constant_nodes(model: &mut ModelProto) {
    let Some(g) = model.graph.as_mut() else {
        return;
    };
    let mut kept = Vec::with_capacity(g.node.len());
    for n in std::mem::take(&mut g.node) {
        if n.op_type() == "Constant" && n.output.len() == 1 {
            if let Some(t) = n
                .attribute
                .iter()
                .find(|a| a.name() == "value" && a.r#type == Some(AttributeType::Tensor as i32))
                .and_then(|a| a.t.clone())
            {
                let mut t = t;
                t.name = Some(n.output[0].clone());
                g.initializer.push(t);
                continue;
            }
        }
        kept.push(n);
    }
    g.node = kept;
}

/// Facts about the graph's tensors.
pub struct GraphInfo {
    pub float: HashSet<String>,
    pub constant: HashSet<String>,
    pub initializers: HashSet<String>,
    pub consumers: HashMap<String, Vec<usize>>,
    pub producer: HashMap<String, usize>,
    pub graph_inputs: HashSet<String>,
    pub graph_outputs: HashSet<String>,
}

/// Ops whose outputs are never float whatever their inputs.
const NON_FLOAT_OPS: &[&str] = &[
    "Shape",
    "Size",
    "NonZero",
    "ArgMax",
    "ArgMin",
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
    "Not",
    "And",
    "Or",
    "Xor",
    "IsNaN",
    "IsInf",
];

pub fn analyse(model: &ModelProto) -> GraphInfo {
    let empty = Default::default();
    let g = model.graph.as_ref().unwrap_or(&empty);
    let initializers: HashSet<String> =
        g.initializer.iter().map(|t| t.name().to_string()).collect();
    let graph_inputs: HashSet<String> = g
        .input
        .iter()
        .map(|i| i.name().to_string())
        .filter(|n| !initializers.contains(n))
        .collect();
    let mut float: HashSet<String> = HashSet::new();
    for t in &g.initializer {
        if t.data_type() == 1 {
            float.insert(t.name().to_string());
        }
    }
    for i in &g.input {
        if crate::onnx::IoInfo::from_value_info(i).elem_type == 1 {
            float.insert(i.name().to_string());
        }
    }
    let mut constant: HashSet<String> = initializers
        .iter()
        .filter(|n| !graph_inputs.contains(*n))
        .cloned()
        .collect();
    let mut consumers: HashMap<String, Vec<usize>> = HashMap::new();
    let mut producer = HashMap::new();
    for (idx, n) in g.node.iter().enumerate() {
        for i in &n.input {
            if !i.is_empty() {
                consumers.entry(i.clone()).or_default().push(idx);
            }
        }
        for o in &n.output {
            producer.insert(o.clone(), idx);
        }
        let op = n.op_type();
        let out_float = if NON_FLOAT_OPS.contains(&op) {
            false
        } else if op == "Cast" {
            attr_int(n, "to") == Some(1)
        } else if op == "Constant" || op == "ConstantOfShape" {
            n.attribute
                .iter()
                .find_map(|a| a.t.as_ref())
                .is_some_and(|t| t.data_type() == 1)
                || (op == "ConstantOfShape" && n.attribute.is_empty())
        } else {
            n.input.first().is_some_and(|i| float.contains(i))
        };
        let is_const = op == "Constant"
            || (!n.input.is_empty()
                && n.input.iter().all(|i| i.is_empty() || constant.contains(i))
                && !op.starts_with("Random"));
        for o in &n.output {
            if out_float {
                float.insert(o.clone());
            }
            if is_const {
                constant.insert(o.clone());
            }
        }
    }
    GraphInfo {
        float,
        constant,
        initializers,
        consumers,
        producer,
        graph_inputs,
        graph_outputs: g.output.iter().map(|o| o.name().to_string()).collect(),
    }
}

impl GraphInfo {
    /// A float tensor computed at run time (not a weight).
    pub fn is_activation(&self, t: &str) -> bool {
        !t.is_empty() && self.float.contains(t) && !self.constant.contains(t)
    }
    pub fn consumer_count(&self, t: &str) -> usize {
        self.consumers.get(t).map_or(0, Vec::len)
    }
}

/// Indices of a node's inputs that are activations to quantize.
pub fn activation_inputs(n: &NodeProto, info: &GraphInfo) -> Vec<usize> {
    let idx: Vec<usize> = match n.op_type() {
        "Conv" | "ConvTranspose" | "Sigmoid" | "GlobalAveragePool" | "Relu" | "Clip"
        | "MaxPool" | "AveragePool" | "Resize" | "Upsample" => vec![0],
        "Gemm" | "MatMul" => vec![0, 1],
        _ => (0..n.input.len()).collect(),
    };
    idx.into_iter()
        .filter(|&i| n.input.get(i).is_some_and(|t| info.is_activation(t)))
        .collect()
}

/// Every tensor the QDQ writer may need a range for: float activation inputs
/// and first outputs of the ops to quantize (not excluded), in graph order.
pub fn tensors_to_calibrate(
    model: &ModelProto,
    info: &GraphInfo,
    op_types: &[String],
    exclude_nodes: &[String],
    exclude_tensors: &[String],
) -> Vec<String> {
    let empty = Default::default();
    let g = model.graph.as_ref().unwrap_or(&empty);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for n in &g.node {
        let op = n.op_type();
        if !op_types.iter().any(|o| o == op) || exclude_nodes.iter().any(|x| x == n.name()) {
            continue;
        }
        let mut names: Vec<&String> = activation_inputs(n, info)
            .into_iter()
            .map(|i| &n.input[i])
            .collect();
        if FULL_OPS.contains(&op) {
            if let Some(o) = n.output.first().filter(|o| info.is_activation(o)) {
                names.push(o);
            }
        }
        for t in names {
            if !exclude_tensors.contains(t) && seen.insert(t.clone()) {
                out.push(t.clone());
            }
        }
    }
    out
}
