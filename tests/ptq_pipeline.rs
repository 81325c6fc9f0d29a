//! PTQ end to end on the committed demo model and a generated demo dataset:
//! the INT8 model runs in ONNX Runtime from Rust, its optimised graph holds
//! int8 kernels, ranges.json requantizes identically, every method and option
//! gives a working model, and cancel writes nothing.

mod ptq_support;

use std::path::Path;

use calibscope::onnx;
use calibscope::progress::Progress;
use calibscope::quantize::{
    self, ActivationType, CalibrationSource, PtqError, PtqRequest, PtqSettings, RangeMethod,
};
use calibscope::runtime::infer::Model;
use ptq_support::*;

fn request(model: &Path, list: &Path, out: &Path) -> PtqRequest {
    PtqRequest {
        model: model.to_path_buf(),
        calibration: CalibrationSource::ImageList(list.to_path_buf()),
        settings: PtqSettings::default(),
        output: out.to_path_buf(),
        ranges_from: None,
    }
}

#[test]
fn int8_model_runs_fuses_to_int8_kernels_and_tracks_fp32() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let samples = demo_samples(&t.path().join("demo"), 24, 11);
    let (calib, eval) = samples.split_at(10);
    let list = image_list(t.path(), "image_list.txt", calib);
    let out = t.path().join("int8/demo_int8.onnx");
    let report = quantize::run_ptq(&request(&demo_model(), &list, &out), &Progress::new()).unwrap();

    assert_eq!(report.calibration_set.count, 10);
    assert_eq!(report.weights_quantized, 10, "every Conv weight is int8");
    assert_eq!(report.biases_quantized, 10);
    assert!(report.ranges_path.exists() && report.calibration_cache_path.exists());
    let int8 = onnx::summarize(&onnx::load(&out).unwrap());
    assert!(
        int8.op_counts["QuantizeLinear"] >= 10,
        "{:?}",
        int8.op_counts
    );
    assert_eq!(
        int8.op_counts.get("Relu"),
        None,
        "Relu folded into the Conv ranges"
    );

    // ONNX Runtime fuses the Q/DQ pairs into int8 kernels.
    let opt = t.path().join("optimized.onnx");
    Model::save_optimized(&std::fs::read(&out).unwrap(), &opt).unwrap();
    let ops = onnx::summarize(&onnx::load(&opt).unwrap()).op_counts;
    assert_eq!(ops.get("QLinearConv"), Some(&10), "{ops:?}");

    // INT8 depth stays close to FP32 depth and keeps the FP32 model's quality.
    let eval = &eval[..6];
    let fp = predict(&demo_model(), eval);
    let q = predict(&out, eval);
    let rel = rel_depth_error(&q, &fp);
    let (a32, a8) = (abs_rel(&fp, eval), abs_rel(&q, eval));
    println!("INT8 vs FP32 relative depth error {rel:.4}; abs_rel FP32 {a32:.4}, INT8 {a8:.4}");
    assert!(rel < 0.1, "{rel}");
    assert!(a8 < a32 * 1.5 + 0.02, "{a8} vs {a32}");

    // ranges.json reloads to requantize without calibrating, byte for byte.
    let again = t.path().join("again.onnx");
    let mut req = request(&demo_model(), &list, &again);
    req.calibration = CalibrationSource::Files(Vec::new());
    req.ranges_from = Some(report.ranges_path.clone());
    quantize::run_ptq(&req, &Progress::new()).unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&out).unwrap());

    // The TensorRT cache holds one scale per calibrated tensor.
    let cache = std::fs::read_to_string(&report.calibration_cache_path).unwrap();
    let scales = quantize::artefacts::parse_tensorrt_cache(&cache);
    assert_eq!(scales.len(), report.ranges.len());
    assert!(scales.values().all(|s| s.is_finite() && *s > 0.0));
}

#[test]
fn every_method_and_option_gives_a_model_ort_runs() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let samples = demo_samples(&t.path().join("demo"), 12, 5);
    let list = image_list(t.path(), "l.txt", &samples[..4]);
    // Per-channel weights need opset 13: the same graph declared at opset 13.
    let at_opset = |v: i64| {
        let mut m = onnx::load(&demo_model()).unwrap();
        m.opset_import[0].version = Some(v);
        let p = t.path().join(format!("demo{v}.onnx"));
        onnx::save(&m, &p).unwrap();
        p
    };
    let (model13, model17) = (at_opset(13), at_opset(17));
    let fp = predict(&demo_model(), &samples[4..6]);
    let cases: Vec<(&str, RangeMethod, ActivationType, bool)> = vec![
        (
            "percentile",
            RangeMethod::Percentile,
            ActivationType::Uint8,
            false,
        ),
        (
            "entropy",
            RangeMethod::Entropy,
            ActivationType::Uint8,
            false,
        ),
        ("mse", RangeMethod::Mse, ActivationType::Uint8, false),
        ("int8sym", RangeMethod::MinMax, ActivationType::Int8, false),
        (
            "perchannel",
            RangeMethod::MinMax,
            ActivationType::Uint8,
            true,
        ),
        ("opset17", RangeMethod::MinMax, ActivationType::Uint8, false),
    ];
    for (name, method, act, per_channel) in cases {
        let out = t.path().join(format!("{name}.onnx"));
        let model = match (per_channel, name) {
            (true, _) => model13.clone(),
            (_, "opset17") => model17.clone(),
            _ => demo_model(),
        };
        let mut req = request(&model, &list, &out);
        req.settings.method = method;
        req.settings.qdq.activation_type = act;
        req.settings.qdq.per_channel = per_channel;
        let r = quantize::run_ptq(&req, &Progress::new()).unwrap();
        let q = predict(&out, &samples[4..6]);
        let rel = rel_depth_error(&q, &fp);
        println!("{name}: INT8 vs FP32 relative depth error {rel:.4}");
        assert!(rel < 0.25, "{name}: {rel}");
        if act == ActivationType::Int8 {
            assert!(r.ranges.iter().filter_map(|x| x.zero_point).all(|z| z == 0));
        }
    }
    // Per-channel on an opset-11 model is refused with the fix, writing nothing.
    let out = t.path().join("refused.onnx");
    let mut req = request(&demo_model(), &list, &out);
    req.settings.qdq.per_channel = true;
    let e = quantize::run_ptq(&req, &Progress::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("opset 13"), "{e}");
    assert!(!out.exists());
}

#[test]
fn kept_float_tensors_and_nodes_stay_float() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let samples = demo_samples(&t.path().join("demo"), 6, 3);
    let list = image_list(t.path(), "l.txt", &samples[..2]);
    let out = t.path().join("partial.onnx");
    let mut req = request(&demo_model(), &list, &out);
    req.settings.qdq.exclude_nodes = vec!["conv9".into()];
    req.settings.qdq.exclude_tensors = vec!["depth_sigmoid".into()];
    quantize::run_ptq(&req, &Progress::new()).unwrap();
    let m = onnx::load(&out).unwrap();
    let g = m.graph.as_ref().unwrap();
    let conv9 = g.node.iter().find(|n| n.name() == "conv9").unwrap();
    assert_eq!(
        conv9.input[1], "conv9.weight",
        "excluded node keeps its float weight"
    );
    assert!(!g
        .node
        .iter()
        .any(|n| n.op_type() == "QuantizeLinear" && n.input[0].starts_with("depth_sigmoid")));
    let sig = g.node.iter().find(|n| n.op_type() == "Sigmoid").unwrap();
    assert_eq!(sig.output[0], "depth_sigmoid");
}

#[test]
fn cancel_stops_and_writes_nothing() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let samples = demo_samples(&t.path().join("demo"), 6, 2);
    let list = image_list(t.path(), "l.txt", &samples);
    let out = t.path().join("cancelled.onnx");
    let p = Progress::new();
    p.cancel();
    let e = quantize::run_ptq(&request(&demo_model(), &list, &out), &p).unwrap_err();
    assert!(matches!(e, PtqError::Cancelled(0)), "{e}");
    // Cancelled during the run, after the first image: stops at the next image.
    let p = Progress::new();
    let watcher = {
        let p = p.clone();
        std::thread::spawn(move || {
            while p.snapshot().done < 1 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            p.cancel();
        })
    };
    let e = quantize::run_ptq(&request(&demo_model(), &list, &out), &p).unwrap_err();
    watcher.join().unwrap();
    match e {
        PtqError::Cancelled(n) => assert!((1..6).contains(&n), "{n}"),
        other => panic!("{other}"),
    }
    let left: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        !out.exists()
            && left
                .iter()
                .all(|n| !n.to_string_lossy().contains("cancelled")),
        "{left:?}"
    );
}
