//! Side by side with `onnxruntime.quantization.quantize_static` (QDQ, MinMax,
//! per-tensor, uint8 activations, int8 weights) on the demo model with the
//! same inputs: every activation scale and zero point within 1 %, our INT8
//! error against FP32 no worse than ORT's, `onnx.checker` passes, and ONNX
//! Runtime (Python) fuses our model into int8 kernels. Skips with a printed
//! reason when Python, onnx or onnxruntime are missing.

mod ptq_support;

use std::path::Path;
use std::process::Command;

use calibscope::preprocess::{write_npy_f32, PreprocessSettings};
use calibscope::progress::Progress;
use calibscope::quantize::{self, CalibrationSource, PtqRequest, PtqSettings};
use calibscope::runtime::python_exe;
use ptq_support::*;

fn python_ready() -> Result<(), String> {
    let out = Command::new(python_exe())
        .args(["-c", "import numpy, onnx, onnxruntime.quantization"])
        .output()
        .map_err(|e| format!("python3 not found ({e})"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "python3 lacks numpy/onnx/onnxruntime: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ))
    }
}

fn write_npys(dir: &Path, samples: &[Sample]) {
    std::fs::create_dir_all(dir).unwrap();
    let pre = PreprocessSettings {
        width: 320,
        height: 192,
        ..Default::default()
    };
    for (i, s) in samples.iter().enumerate() {
        let (t, _) = pre.load_input(&s.image).unwrap();
        std::fs::write(
            dir.join(format!("{i:04}.npy")),
            write_npy_f32(&[1, 3, 192, 320], &t),
        )
        .unwrap();
    }
}

#[test]
fn matches_onnxruntime_quantize_static() {
    setup();
    if let Err(why) = python_ready() {
        println!("skipped: {why}");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let samples = demo_samples(&t.path().join("demo"), 16, 21);
    write_npys(&t.path().join("calib"), &samples[..8]);
    write_npys(&t.path().join("eval"), &samples[8..12]);
    let ours = t.path().join("ours_int8.onnx");
    let req = PtqRequest {
        model: demo_model(),
        calibration: CalibrationSource::Folder(t.path().join("calib")),
        settings: PtqSettings::default(),
        output: ours.clone(),
        ranges_from: None,
    };
    quantize::run_ptq(&req, &Progress::new()).unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ptq_reference.py");
    let out = Command::new(python_exe())
        .arg(&script)
        .arg(demo_model())
        .arg(&ours)
        .arg(t.path().join("calib"))
        .arg(t.path().join("eval"))
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

    assert_eq!(r["checker"], "ok", "onnx.checker: {}", r["checker"]);
    let ops = &r["optimized_ops"];
    assert!(
        ops["QLinearConv"].as_u64().unwrap_or(0) >= 10,
        "optimised graph ops: {ops}"
    );

    let rows = r["tensors"].as_array().unwrap();
    assert!(rows.len() >= 10);
    let mut worst: f64 = 0.0;
    for row in rows {
        let name = row["tensor"].as_str().unwrap();
        assert!(
            !row["ours"].is_null() && !row["ort"].is_null(),
            "quantized by one side only: {row}"
        );
        let sd = row["scale_rel_diff"].as_f64().unwrap();
        let zd = row["zp_diff"].as_f64().unwrap();
        let ort_zp = row["ort"][1].as_f64().unwrap();
        worst = worst.max(sd);
        assert!(sd <= 0.01, "{name}: scale differs by {:.3} %", sd * 100.0);
        assert!(
            zd <= 0.01 * ort_zp.abs(),
            "{name}: zero point {} vs ORT {}",
            row["ours"][1],
            row["ort"][1]
        );
    }
    let (ours_err, ort_err) = (
        r["ours_mae_vs_fp32"].as_f64().unwrap(),
        r["ort_mae_vs_fp32"].as_f64().unwrap(),
    );
    println!(
        "{} activations compared, worst scale difference {:.2e}; INT8 MAE vs FP32: calibscope {ours_err:.6}, ORT {ort_err:.6}",
        rows.len(),
        worst
    );
    // "No worse", allowing float noise of the last bit in a scale (1e-3 relative).
    assert!(
        ours_err <= ort_err * 1.001,
        "ours {ours_err} vs ORT {ort_err}"
    );
}
