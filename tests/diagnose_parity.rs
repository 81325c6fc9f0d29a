//! Per-tensor SQNR against ONNX Runtime's `qdq_loss_debug` on the demo
//! model: the accumulated mode equals its `xmodel_err` and the weights its
//! `compute_weight_error`, within 0.01 dB. Python side: scripts/qdq_loss_reference.py.

mod ptq_support;

use std::path::Path;
use std::process::Command;

use calibscope::diagnose::tensors::{compare_tensors, TensorKind};
use calibscope::onnx;
use calibscope::preprocess::{write_npy_f32, PreprocessSettings};
use calibscope::progress::Progress;
use calibscope::quantize::{self, CalibrationSource, PtqRequest, PtqSettings};
use calibscope::runtime::python_exe;
use ptq_support::*;

fn python_ready() -> Result<(), String> {
    let ok = Command::new(python_exe())
        .args([
            "-c",
            "import numpy, onnx, onnxruntime.quantization.qdq_loss_debug",
        ])
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    if ok.status.success() {
        Ok(())
    } else {
        Err("python3 lacks numpy, onnx or onnxruntime".into())
    }
}

#[test]
fn per_tensor_sqnr_matches_onnxruntime_qdq_loss_debug() {
    setup();
    if let Err(why) = python_ready() {
        skip_or_fail(&why);
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let samples = demo_samples(&t.path().join("demo"), 8, 31);
    let int8 = t.path().join("demo_int8.onnx");
    let req = PtqRequest {
        model: demo_model(),
        calibration: CalibrationSource::Files(
            samples[..4].iter().map(|s| s.image.clone()).collect(),
        ),
        settings: PtqSettings::default(),
        output: int8.clone(),
        ranges_from: None,
    };
    quantize::run_ptq(&req, &Progress::new()).unwrap();

    // The comparison inputs as .npy, so both sides read identical tensors.
    let pre = PreprocessSettings {
        width: 320,
        height: 192,
        ..Default::default()
    };
    let npy = t.path().join("npy");
    std::fs::create_dir_all(&npy).unwrap();
    let mut files = Vec::new();
    for (i, s) in samples[4..].iter().enumerate() {
        let (x, _) = pre.load_input(&s.image).unwrap();
        let p = npy.join(format!("{i:02}.npy"));
        std::fs::write(&p, write_npy_f32(&[1, 3, 192, 320], &x)).unwrap();
        files.push(p);
    }
    let mut fp32 = onnx::load(&demo_model()).unwrap();
    quantize::graph::fold_constant_nodes(&mut fp32);
    let rows = compare_tensors(
        &fp32,
        &onnx::load(&int8).unwrap(),
        &files,
        &pre,
        &Progress::new(),
    )
    .unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/qdq_loss_reference.py");
    let out = Command::new(python_exe())
        .arg(&script)
        .arg(demo_model())
        .arg(&int8)
        .arg(&npy)
        .arg(t.path().join("work"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let r: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();

    let mut compared = 0;
    let mut worst: f64 = 0.0;
    for (name, errs) in r["activations"].as_object().unwrap() {
        let Some(ort) = errs.get("xmodel_err").and_then(|v| v.as_f64()) else {
            continue;
        };
        let ours = rows
            .iter()
            .find(|row| row.kind == TensorKind::Activation && row.tensor == *name)
            .unwrap_or_else(|| panic!("{name}: compared by ONNX Runtime, not by calibscope"));
        let d = (ours.accumulated.sqnr_db - ort).abs();
        worst = worst.max(d);
        assert!(
            d <= 0.01,
            "{name}: {} dB vs ORT {ort} dB",
            ours.accumulated.sqnr_db
        );
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} activations compared");
    let mut weights = 0;
    for (name, ort) in r["weights"].as_object().unwrap() {
        let ort = ort.as_f64().unwrap();
        let ours = rows
            .iter()
            .find(|row| row.kind == TensorKind::Weight && row.tensor == *name)
            .unwrap_or_else(|| panic!("weight {name}: compared by ONNX Runtime only"));
        let d = (ours.accumulated.sqnr_db - ort).abs();
        worst = worst.max(d);
        assert!(
            d <= 0.01,
            "{name}: {} dB vs ORT {ort} dB",
            ours.accumulated.sqnr_db
        );
        weights += 1;
    }
    assert!(weights >= 10, "only {weights} weights compared");
    // The first quantized tensor has no quantization before it: both modes agree.
    let first = rows
        .iter()
        .filter(|r| r.kind == TensorKind::Activation)
        .min_by_key(|r| r.graph_index)
        .unwrap();
    assert!(
        (first.isolated.sqnr_db - first.accumulated.sqnr_db).abs() < 0.01,
        "{first:?}"
    );
    println!("{compared} activations and {weights} weights within {worst:.4} dB of ONNX Runtime");
}
