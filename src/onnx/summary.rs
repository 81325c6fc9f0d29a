//! A model at a glance: inputs, outputs, opset, op counts, parameter count.

use std::collections::BTreeMap;

use serde::Serialize;

use super::proto::{
    tensor_shape_proto::dimension::Value as DimValue, type_proto, ModelProto, ValueInfoProto,
};
use super::tensor::numel;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Dim {
    Fixed(i64),
    /// A named dynamic dimension (e.g. "batch").
    Symbolic(String),
    Unknown,
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(v) => write!(f, "{v}"),
            Dim::Symbolic(s) => f.write_str(s),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

/// A shape as users read it: `[1, 3, 384, 640]`, `[batch, 3, 384, 640]`.
pub fn dims_text(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims.iter().map(Dim::to_string).collect();
    format!("[{}]", parts.join(", "))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IoInfo {
    pub name: String,
    /// ONNX element type number (1 = float32).
    pub elem_type: i32,
    pub dims: Vec<Dim>,
}

impl IoInfo {
    pub fn from_value_info(v: &ValueInfoProto) -> Self {
        let (elem_type, dims) = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(type_proto::Value::TensorType(t)) => (
                t.elem_type(),
                t.shape
                    .as_ref()
                    .map(|s| {
                        s.dim
                            .iter()
                            .map(|d| match &d.value {
                                Some(DimValue::DimValue(v)) if *v > 0 => Dim::Fixed(*v),
                                Some(DimValue::DimParam(p)) if !p.is_empty() => {
                                    Dim::Symbolic(p.clone())
                                }
                                _ => Dim::Unknown,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => (0, Vec::new()),
        };
        Self {
            name: v.name().to_string(),
            elem_type,
            dims,
        }
    }

    /// The shape if every dimension is fixed.
    pub fn fixed_shape(&self) -> Option<Vec<i64>> {
        self.dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(v) => Some(*v),
                _ => None,
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    pub ir_version: i64,
    pub opset: Option<i64>,
    pub producer: String,
    /// Graph inputs that are not initializers (the real inputs).
    pub inputs: Vec<IoInfo>,
    pub outputs: Vec<IoInfo>,
    pub op_counts: BTreeMap<String, usize>,
    pub node_count: usize,
    /// Number of elements in all initializers.
    pub parameter_count: u64,
}

pub fn summarize(model: &ModelProto) -> ModelSummary {
    let empty = Default::default();
    let g = model.graph.as_ref().unwrap_or(&empty);
    let inits: std::collections::HashSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
    let mut op_counts = BTreeMap::new();
    for n in &g.node {
        *op_counts.entry(n.op_type().to_string()).or_insert(0) += 1;
    }
    ModelSummary {
        ir_version: model.ir_version(),
        opset: super::opset_version(model),
        producer: format!("{} {}", model.producer_name(), model.producer_version())
            .trim()
            .to_string(),
        inputs: g
            .input
            .iter()
            .filter(|i| !inits.contains(i.name()))
            .map(IoInfo::from_value_info)
            .collect(),
        outputs: g.output.iter().map(IoInfo::from_value_info).collect(),
        op_counts,
        node_count: g.node.len(),
        parameter_count: g.initializer.iter().map(|t| numel(t) as u64).sum(),
    }
}

/// `name [1×3×H×W]`: symbolic dimensions by name, unknown ones as `?`.
impl std::fmt::Display for IoInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(v) => v.to_string(),
                Dim::Symbolic(s) => s.clone(),
                Dim::Unknown => "?".into(),
            })
            .collect();
        write!(f, "{} [{}]", self.name, dims.join("×"))
    }
}

impl std::fmt::Display for ModelSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "opset {} · IR {} · {}",
            self.opset.unwrap_or(0),
            self.ir_version,
            self.producer
        )?;
        for i in &self.inputs {
            writeln!(f, "input  {i}")?;
        }
        for o in &self.outputs {
            writeln!(f, "output {o}")?;
        }
        writeln!(
            f,
            "{} nodes, {} parameters",
            self.node_count, self.parameter_count
        )?;
        let ops: Vec<String> = self
            .op_counts
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect();
        write!(f, "ops: {}", ops.join(", "))
    }
}
