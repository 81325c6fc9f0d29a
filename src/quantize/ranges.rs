//! Sane ranges by construction: the graph input's range comes from the
//! preprocessing (not from a histogram search over discrete pixel values),
//! and a method that keeps only a sliver of a tensor's observed range says so.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::methods::RangeMethod;
use crate::onnx::{tensor_to_f32, ModelProto};
use crate::preprocess::PreprocessSettings;

/// Where the graph input's range comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InputRange {
    /// What the preprocessing can produce: [0, 1] after /255, or what
    /// mean/std make of it. For `.npy` inputs (made elsewhere) the observed
    /// min/max, never clipped by a histogram method.
    #[default]
    Preprocessing,
    /// Calibrated like any other tensor, with the chosen method.
    Calibrated,
}

/// A chosen range narrower than this share of the observed one is reported.
pub const SLIVER_SHARE: f64 = 0.25;

type Channels = [(f32, f32); 3];

/// Per channel, the range the preprocessing can produce: pixels in [0, 1]
/// times `scale × 255`, then `(v − mean) / std`.
pub fn preprocessing_channel_ranges(pre: &PreprocessSettings) -> Channels {
    let gain = pre.scale * 255.0;
    std::array::from_fn(|c| {
        let ends = [0.0f32, gain].map(|v| {
            let mut v = v;
            if let Some(m) = pre.mean {
                v -= m[c];
            }
            if let Some(s) = pre.std {
                v /= s[c];
            }
            v
        });
        (ends[0].min(ends[1]), ends[0].max(ends[1]))
    })
}

fn union(ch: &Channels) -> (f32, f32) {
    ch.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &(lo, hi)| {
            (a.min(lo), b.max(hi))
        })
}

/// One per-tensor range covering every channel of [`preprocessing_channel_ranges`].
pub fn preprocessing_range(pre: &PreprocessSettings) -> (f32, f32) {
    union(&preprocessing_channel_ranges(pre))
}

/// Ranges of the tensors a network computes from its input with constants
/// only (a normalisation inside the graph: `Sub` mean, `Div` std, `Mul`,
/// `Add`), by interval arithmetic per channel in f32, as the graph computes
/// them. A constant must hold one value or one per channel.
pub fn derived_input_ranges(
    model: &ModelProto,
    input: &str,
    start: Channels,
) -> HashMap<String, (f32, f32)> {
    let mut known: HashMap<String, Channels> = HashMap::from([(input.to_string(), start)]);
    let Some(g) = model.graph.as_ref() else {
        return HashMap::new();
    };
    let consts: HashMap<&str, Vec<f32>> = g
        .initializer
        .iter()
        .filter(|t| matches!(t.dims.iter().product::<i64>(), 1 | 3))
        .filter_map(|t| Some((t.name(), tensor_to_f32(t).ok()?)))
        .collect();
    for n in &g.node {
        let op = n.op_type();
        if !matches!(op, "Add" | "Sub" | "Mul" | "Div") || n.input.len() != 2 {
            continue;
        }
        let (a, b) = (n.input[0].as_str(), n.input[1].as_str());
        let (x, c, x_first) = match (known.get(a), consts.get(b), known.get(b), consts.get(a)) {
            (Some(x), Some(c), _, _) => (*x, c, true),
            (_, _, Some(x), Some(c)) => (*x, c, false),
            _ => continue,
        };
        let cv = |i: usize| if c.len() == 1 { c[0] } else { c[i] };
        let mut out = x;
        let mut ok = true;
        for (i, (lo, hi)) in x.iter().enumerate() {
            let k = cv(i);
            let f = |v: f32| match (op, x_first) {
                ("Add", _) => v + k,
                ("Sub", true) => v - k,
                ("Sub", false) => k - v,
                ("Mul", _) => v * k,
                ("Div", true) => v / k,
                _ => f32::NAN, // constant / x: not an interval of its ends
            };
            let (p, q) = (f(*lo), f(*hi));
            if !p.is_finite() || !q.is_finite() {
                ok = false;
                break;
            }
            out[i] = (p.min(q), p.max(q));
        }
        if ok {
            if let Some(o) = n.output.first() {
                known.insert(o.clone(), out);
            }
        }
    }
    known.iter().map(|(k, v)| (k.clone(), union(v))).collect()
}

/// Overrides the ranges of the graph inputs and of the tensors computed from
/// the image input by constants alone, as `how` asks. `from_images`: the
/// calibration inputs went through `pre` (not `.npy` tensors made elsewhere),
/// so the preprocessing's range holds; otherwise the observed min/max.
pub fn set_input_ranges(
    ranges: &mut HashMap<String, (f32, f32)>,
    observed: &HashMap<String, (f32, f32)>,
    model: &ModelProto,
    graph_inputs: &[String],
    how: InputRange,
    pre: &PreprocessSettings,
) {
    set_input_ranges_from(ranges, observed, model, graph_inputs, how, pre, true)
}

/// [`set_input_ranges`] with the inputs' provenance given.
pub fn set_input_ranges_from(
    ranges: &mut HashMap<String, (f32, f32)>,
    observed: &HashMap<String, (f32, f32)>,
    model: &ModelProto,
    graph_inputs: &[String],
    how: InputRange,
    pre: &PreprocessSettings,
    from_images: bool,
) {
    if how == InputRange::Calibrated {
        return;
    }
    let derived = derived_input_ranges(model, &pre.input_name, preprocessing_channel_ranges(pre));
    let targets = graph_inputs.iter().chain(derived.keys());
    for t in targets {
        if !ranges.contains_key(t) {
            continue;
        }
        let r = match (from_images, derived.get(t), observed.get(t)) {
            (true, Some(d), _) => *d,
            (_, _, Some(o)) => *o,
            _ => continue,
        };
        ranges.insert(t.clone(), r);
    }
}

/// A warning in words when `chosen` keeps less than [`SLIVER_SHARE`] of
/// the observed range's width (e.g. the KL search on a tensor of discrete values).
pub fn sliver_warning(
    tensor: &str,
    method: RangeMethod,
    chosen: (f32, f32),
    observed: (f32, f32),
) -> Option<String> {
    let ow = observed.1 as f64 - observed.0 as f64;
    let cw = chosen.1 as f64 - chosen.0 as f64;
    if method == RangeMethod::MinMax || ow <= 0.0 || cw >= SLIVER_SHARE * ow {
        return None;
    }
    Some(format!(
        "{method} keeps [{:.4}, {:.4}] of {tensor}'s observed [{:.4}, {:.4}] ({:.1} % of it): values outside are clipped; check the fidelity line, or use minmax for this tensor",
        chosen.0,
        chosen.1,
        observed.0,
        observed.1,
        100.0 * cw / ow
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_range_follows_preprocessing() {
        let mut pre = PreprocessSettings::default();
        assert_eq!(preprocessing_range(&pre), (0.0, 1.0));
        pre.mean = Some([0.485, 0.456, 0.406]);
        pre.std = Some([0.229, 0.224, 0.225]);
        let (lo, hi) = preprocessing_range(&pre);
        // numpy: min((0-m)/s) = -0.485/0.229, max((1-m)/s) = (1-0.406)/0.225
        assert!((lo - (-0.485f32 / 0.229)).abs() < 1e-6, "{lo}");
        assert!((hi - (1.0f32 - 0.406) / 0.225).abs() < 1e-6, "{hi}");
        pre.mean = None;
        pre.std = None;
        pre.scale = 1.0;
        assert_eq!(preprocessing_range(&pre), (0.0, 255.0));
    }

    /// rgb → Sub(mean [3]) → Div(std scalar) → x_norm → Conv.
    fn normalising_model() -> ModelProto {
        use crate::onnx::{make_model, make_node, make_value_info, tensor_from_f32, DataType};
        let g = crate::onnx::GraphProto {
            node: vec![
                make_node("Sub", &["rgb", "mean"], &["xc"], "sub", vec![]),
                make_node("Div", &["xc", "std"], &["x_norm"], "div", vec![]),
                make_node("Conv", &["x_norm", "w"], &["c"], "conv", vec![]),
            ],
            initializer: vec![
                tensor_from_f32("mean", &[1, 3, 1, 1], &[0.4, 0.5, 0.6]),
                tensor_from_f32("std", &[1], &[0.25]),
                tensor_from_f32("w", &[1, 3, 1, 1], &[1.0, 1.0, 1.0]),
            ],
            input: vec![make_value_info("rgb", DataType::Float)],
            output: vec![make_value_info("c", DataType::Float)],
            ..Default::default()
        };
        make_model(g, 13)
    }

    #[test]
    fn input_override_and_sliver_warning() {
        let pre = PreprocessSettings::default();
        let m = normalising_model();
        let d = derived_input_ranges(&m, "rgb", preprocessing_channel_ranges(&pre));
        // numpy: min((0 - mean) / 0.25) = -0.6/0.25, max((1 - mean) / 0.25) = 0.6/0.25
        assert_eq!(d["x_norm"], ((0.0f32 - 0.6) / 0.25, (1.0f32 - 0.4) / 0.25));
        assert!(!d.contains_key("c"));
        let mut r: HashMap<String, (f32, f32)> = [
            ("rgb".to_string(), (0.0, 0.063)),
            ("x_norm".to_string(), (-2.4, -2.0)),
            ("c".to_string(), (0.0, 2.0)),
        ]
        .into();
        let obs: HashMap<String, (f32, f32)> = [
            ("rgb".to_string(), (0.0, 0.99)),
            ("x_norm".to_string(), (-2.4, 2.3)),
        ]
        .into();
        let inputs = vec!["rgb".to_string()];
        let how = InputRange::Preprocessing;
        set_input_ranges_from(&mut r, &obs, &m, &inputs, how, &pre, true);
        assert_eq!(r["rgb"], (0.0, 1.0));
        assert_eq!(r["x_norm"], d["x_norm"]);
        set_input_ranges_from(&mut r, &obs, &m, &inputs, how, &pre, false);
        assert_eq!(r["rgb"], (0.0, 0.99));
        assert_eq!(r["x_norm"], (-2.4, 2.3));
        r.insert("rgb".into(), (0.0, 0.063));
        set_input_ranges(&mut r, &obs, &m, &inputs, InputRange::Calibrated, &pre);
        assert_eq!(r["rgb"], (0.0, 0.063));
        assert_eq!(r["c"], (0.0, 2.0));

        let w = sliver_warning("rgb", RangeMethod::Entropy, (0.0, 0.063), (0.0, 1.0)).unwrap();
        assert!(w.contains("6.3 %") && w.contains("rgb"), "{w}");
        assert!(sliver_warning("rgb", RangeMethod::Entropy, (0.0, 0.5), (0.0, 1.0)).is_none());
        assert!(sliver_warning("rgb", RangeMethod::MinMax, (0.0, 0.1), (0.0, 1.0)).is_none());
    }
}
