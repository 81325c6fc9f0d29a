//! Per-channel weights on every weighted op: Conv (axis 0), Gemm with
//! transB=1 (axis 0) and transB=0 (axis 1), MatMul with a constant [K,N]
//! weight (axis 1 = last). A small opset-13 model built with our own ONNX
//! writer goes through the whole pipeline; every weight scale must be
//! max(|w|)/127 of its channel, biases int32 at input scale × channel scale,
//! and ONNX Runtime must run the INT8 model close to FP32. On opset 11 a
//! per-channel request is refused before any calibration.

mod ptq_support;

use std::collections::HashMap;
use std::path::Path;

use calibscope::onnx::{
    self, make_attr_int, make_model, make_node, make_shaped_value_info, make_value_info,
    tensor_from_f32, tensor_to_f32, DataType, GraphProto, ModelProto, TensorProto,
};
use calibscope::preprocess::write_npy_f32;
use calibscope::progress::Progress;
use calibscope::quantize::{self, CalibrationSource, PtqRequest, PtqSettings};
use calibscope::runtime::infer::Model;
use ptq_support::setup;

/// A fixed linear congruential sequence in [-1, 1).
fn lcg(seed: u64) -> impl FnMut() -> f32 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// (name, dims, per-channel axis) of every weight, and the bias of each.
const WEIGHTS: &[(&str, &[i64], usize)] = &[
    ("conv_w", &[4, 3, 3, 3], 0),
    ("mm_w", &[64, 6], 1),
    ("fc1_w", &[5, 6], 0),
    ("fc2_w", &[5, 4], 1),
];
const BIASES: &[(&str, &str, usize)] = &[
    ("conv_b", "conv_w", 4),
    ("fc1_b", "fc1_w", 5),
    ("fc2_b", "fc2_w", 4),
];

/// x[1,3,4,4] → Conv → Relu → Flatten → MatMul → Relu → Gemm(transB=1) → Relu
/// → Gemm(transB=0) → Sigmoid → y[1,4].
fn model(opset: i64) -> ModelProto {
    let mut next = lcg(7);
    let mut inits: Vec<TensorProto> = Vec::new();
    for (name, dims, axis) in WEIGHTS {
        let n: i64 = dims.iter().product();
        // Channels of very different magnitude, so per-channel matters.
        let inner: i64 = dims[axis + 1..].iter().product();
        let data: Vec<f32> = (0..n)
            .map(|i| {
                let c = (i / inner) % dims[*axis];
                next() * 0.4 / (1.0 + 3.0 * c as f32)
            })
            .collect();
        inits.push(tensor_from_f32(name, dims, &data));
    }
    for (name, _, len) in BIASES {
        let data: Vec<f32> = (0..*len).map(|_| next() * 0.1).collect();
        inits.push(tensor_from_f32(name, &[*len as i64], &data));
    }
    let nodes = vec![
        make_node(
            "Conv",
            &["x", "conv_w", "conv_b"],
            &["c"],
            "conv",
            vec![onnx::make_attr_ints("pads", &[1, 1, 1, 1])],
        ),
        make_node("Relu", &["c"], &["cr"], "relu0", vec![]),
        make_node(
            "Flatten",
            &["cr"],
            &["f"],
            "flat",
            vec![make_attr_int("axis", 1)],
        ),
        make_node("MatMul", &["f", "mm_w"], &["m"], "proj", vec![]),
        make_node("Relu", &["m"], &["mr"], "relu1", vec![]),
        make_node(
            "Gemm",
            &["mr", "fc1_w", "fc1_b"],
            &["g1"],
            "fc1",
            vec![make_attr_int("transB", 1)],
        ),
        make_node("Relu", &["g1"], &["g1r"], "relu2", vec![]),
        make_node("Gemm", &["g1r", "fc2_w", "fc2_b"], &["g2"], "fc2", vec![]),
        make_node("Sigmoid", &["g2"], &["y"], "sig", vec![]),
    ];
    let inp = make_shaped_value_info("x", DataType::Float, &[1, 3, 4, 4]);
    let graph = GraphProto {
        node: nodes,
        name: Some("fc_zoo".into()),
        initializer: inits,
        input: vec![inp],
        output: vec![make_value_info("y", DataType::Float)],
        ..Default::default()
    };
    make_model(graph, opset)
}

fn write_inputs(dir: &Path, n: usize, seed: u64) -> Vec<Vec<f32>> {
    std::fs::create_dir_all(dir).unwrap();
    let mut next = lcg(seed);
    (0..n)
        .map(|i| {
            let v: Vec<f32> = (0..48).map(|_| (next() + 1.0) / 2.0).collect();
            std::fs::write(
                dir.join(format!("{i:03}.npy")),
                write_npy_f32(&[1, 3, 4, 4], &v),
            )
            .unwrap();
            v
        })
        .collect()
}

fn request(model: &Path, calib: &Path, out: &Path) -> PtqRequest {
    let mut settings = PtqSettings::default();
    settings.qdq.per_channel = true;
    PtqRequest {
        model: model.to_path_buf(),
        calibration: CalibrationSource::Folder(calib.to_path_buf()),
        settings,
        output: out.to_path_buf(),
        ranges_from: None,
    }
}

#[test]
fn gemm_matmul_and_conv_weights_get_one_scale_per_output_channel() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let fp32 = t.path().join("fc.onnx");
    let m = model(13);
    onnx::save(&m, &fp32).unwrap();
    let inputs = write_inputs(&t.path().join("calib"), 8, 99);
    let out = t.path().join("fc_int8.onnx");
    let report = quantize::run_ptq(
        &request(&fp32, &t.path().join("calib"), &out),
        &Progress::new(),
    )
    .unwrap();
    assert_eq!(report.weights_quantized, 4);
    assert_eq!(report.biases_quantized, 3);

    let q = onnx::load(&out).unwrap();
    let g = q.graph.as_ref().unwrap();
    let init: HashMap<&str, &TensorProto> = g.initializer.iter().map(|t| (t.name(), t)).collect();
    let fp_init: HashMap<&str, &TensorProto> = m
        .graph
        .as_ref()
        .unwrap()
        .initializer
        .iter()
        .map(|t| (t.name(), t))
        .collect();
    let mut wscales: HashMap<&str, Vec<f32>> = HashMap::new();
    for (name, dims, axis) in WEIGHTS {
        let w = tensor_to_f32(fp_init[name]).unwrap();
        let scales = tensor_to_f32(init[format!("{name}_scale").as_str()]).unwrap();
        let c = dims[*axis] as usize;
        assert_eq!(scales.len(), c, "{name}: one scale per channel");
        let inner: usize = dims[axis + 1..].iter().product::<i64>() as usize;
        let mut absmax = vec![0f32; c];
        for (i, v) in w.iter().enumerate() {
            let k = (i / inner) % c;
            absmax[k] = absmax[k].max(v.abs());
        }
        for k in 0..c {
            let want = absmax[k] / 127.0;
            assert!(
                (scales[k] - want).abs() <= want * 1e-6,
                "{name} channel {k}: scale {} vs max|w|/127 {want}",
                scales[k]
            );
        }
        // The DequantizeLinear carries the axis; values round-trip within half a step.
        let dq = g
            .node
            .iter()
            .find(|n| n.name() == format!("{name}_DequantizeLinear"))
            .unwrap();
        assert_eq!(onnx::attr_int(dq, "axis"), Some(*axis as i64), "{name}");
        let wq = tensor_to_f32(init[format!("{name}_quantized").as_str()]).unwrap();
        for (i, (&v, &qv)) in w.iter().zip(&wq).enumerate() {
            let s = scales[(i / inner) % c];
            assert!((qv * s - v).abs() <= s * 0.5 + 1e-9, "{name}[{i}]");
        }
        wscales.insert(name, scales);
    }
    // Biases: int32, one scale per channel = input scale × weight scale.
    let input_of = |b: &str| {
        let n = g
            .node
            .iter()
            .find(|n| {
                n.op_type() != "DequantizeLinear"
                    && n.input.get(2).is_some_and(|i| i.starts_with(b))
            })
            .unwrap();
        n.input[0]
            .trim_end_matches("_DequantizeLinear_Output")
            .to_string()
    };
    for (b, w, len) in BIASES {
        let s = tensor_to_f32(init[format!("{b}_quantized_scale").as_str()]).unwrap();
        assert_eq!(s.len(), *len, "{b}");
        let xs = tensor_to_f32(init[format!("{}_scale", input_of(b)).as_str()]).unwrap()[0];
        for (k, v) in s.iter().enumerate() {
            assert_eq!(*v, xs * wscales[w][k], "{b}[{k}]");
        }
    }

    // ONNX Runtime runs it, close to FP32.
    let mut m32 = Model::from_file(&fp32).unwrap();
    let mut m8 = Model::from_file(&out).unwrap();
    let mut worst = 0f32;
    for x in &inputs {
        let a = m32.run_one("x", &[1, 3, 4, 4], x.clone(), "y").unwrap();
        let b = m8.run_one("x", &[1, 3, 4, 4], x.clone(), "y").unwrap();
        assert_eq!(a.len(), 4);
        for (u, v) in a.iter().zip(&b) {
            worst = worst.max((u - v).abs());
        }
    }
    println!("per-channel INT8 vs FP32: max |diff| of the sigmoid {worst:.4}");
    assert!(worst < 0.02, "{worst}");
}

#[test]
fn per_channel_on_opset_11_is_refused_before_calibrating() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let fp32 = t.path().join("fc11.onnx");
    onnx::save(&model(11), &fp32).unwrap();
    let out = t.path().join("fc11_int8.onnx");
    // The calibration folder does not exist: the opset is checked first.
    let e = quantize::run_ptq(
        &request(&fp32, &t.path().join("nowhere"), &out),
        &Progress::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("opset 13") && e.contains("has 11"), "{e}");
    assert!(!out.exists());
    assert!(
        std::fs::read_dir(t.path()).unwrap().count() == 1,
        "nothing written"
    );
}
