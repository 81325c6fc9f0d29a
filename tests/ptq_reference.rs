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
use calibscope::quantize::{
    self, CalibrationSource, InputRange, PtqOptions, PtqRequest, PtqSettings, RangeMethod,
};
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

/// Runs the reference script and checks every "Done means" point on its report.
fn check_against_ort(
    fp32: &Path,
    ours: &Path,
    dir: &Path,
    min_qlinear_conv: u64,
    method: &str,
    per_channel: bool,
) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ptq_reference.py");
    let out = Command::new(python_exe())
        .arg(&script)
        .arg(fp32)
        .arg(ours)
        .arg(dir.join("calib"))
        .arg(dir.join("eval"))
        .arg(dir.join("work"))
        .arg(method)
        .arg(if per_channel {
            "per_channel"
        } else {
            "per_tensor"
        })
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
        ops["QLinearConv"].as_u64().unwrap_or(0) >= min_qlinear_conv,
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
    // Weights: the same scales (per channel: the same axis) as ORT's. Biases
    // (input scale × weight scale) inherit the activations' 1 % tolerance.
    let weights = r["weights"].as_array().unwrap();
    let mut worst_w: f64 = 0.0;
    let mut channels = 0;
    for row in weights {
        let name = row["weight"].as_str().unwrap();
        assert!(
            !row["ours"].is_null() && !row["ort"].is_null(),
            "weight quantized by one side only: {row}"
        );
        assert_eq!(row["ours"][1], row["ort"][1], "{name}: axis");
        let n = row["ours"][0].as_array().unwrap().len();
        assert_eq!(n, row["ort"][0].as_array().unwrap().len(), "{name}: scales");
        channels += n;
        let d = row["scale_rel_diff"].as_f64().unwrap();
        if row["ours"][2] == "weight" {
            worst_w = worst_w.max(d);
            assert!(d <= 1e-6, "{name}: weight scale differs by {d:.2e}: {row}");
        } else {
            assert!(d <= 0.01, "{name}: bias scale differs by {d:.2e}: {row}");
        }
    }
    println!(
        "{} weights/biases ({channels} scales) compared, worst weight scale difference {worst_w:.2e}",
        weights.len()
    );
    let (ours_err, ort_err) = (
        r["ours_mae_vs_fp32"].as_f64().unwrap(),
        r["ort_mae_vs_fp32"].as_f64().unwrap(),
    );
    println!(
        "{} ({method}): {} activations compared, worst scale difference {:.2e}; INT8 MAE vs FP32: calibscope {ours_err:.6}, ORT {ort_err:.6}; optimised ops {ops}",
        fp32.file_name().unwrap().to_string_lossy(),
        rows.len(),
        worst
    );
    // "No worse", allowing float noise of the last bit in a scale (1e-3 relative).
    assert!(
        ours_err <= ort_err * 1.001,
        "ours {ours_err} vs ORT {ort_err}"
    );
}

fn quantize(model: &Path, calib: &Path, out: &Path, method: RangeMethod, per_channel: bool) {
    let mut req = PtqRequest {
        model: model.to_path_buf(),
        calibration: CalibrationSource::Folder(calib.to_path_buf()),
        settings: PtqSettings::default(),
        output: out.to_path_buf(),
        ranges_from: None,
    };
    req.settings.method = method;
    req.settings.qdq.per_channel = per_channel;
    // ONNX Runtime calibrates the input like any tensor; calibscope takes
    // its range from the preprocessing by default (issue 16). The parity
    // check is of the methods themselves, so the input is calibrated here too.
    let opts = PtqOptions {
        input_range: InputRange::Calibrated,
        ..Default::default()
    };
    quantize::run_ptq_with(&req, &opts, &Progress::new()).unwrap();
}

#[test]
fn matches_onnxruntime_quantize_static() {
    setup();
    if let Err(why) = python_ready() {
        skip_or_fail(&why);
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let samples = demo_samples(&t.path().join("demo"), 16, 21);
    write_npys(&t.path().join("calib"), &samples[..8]);
    write_npys(&t.path().join("eval"), &samples[8..12]);
    let ours = t.path().join("ours_int8.onnx");
    quantize(
        &demo_model(),
        &t.path().join("calib"),
        &ours,
        RangeMethod::MinMax,
        false,
    );
    check_against_ort(&demo_model(), &ours, t.path(), 10, "minmax", false);
    // Percentile (99.999 over 2048 bins of |x|) lands on the same scales within 1 % too.
    let ours = t.path().join("ours_percentile.onnx");
    quantize(
        &demo_model(),
        &t.path().join("calib"),
        &ours,
        RangeMethod::Percentile,
        false,
    );
    check_against_ort(&demo_model(), &ours, t.path(), 10, "percentile", false);
}

/// The zoo model (built by the reference script) and its calibration and
/// evaluation inputs in `dir`.
fn zoo(dir: &Path) -> std::path::PathBuf {
    let model = dir.join("zoo.onnx");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ptq_reference.py");
    let st = Command::new(python_exe())
        .arg(&script)
        .arg("--build-zoo")
        .arg(&model)
        .status()
        .unwrap();
    assert!(st.success());
    // Inputs in [0, 1] from a fixed linear congruential sequence.
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    for (sub, n) in [("calib", 8), ("eval", 4)] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..n {
            let v: Vec<f32> = (0..3 * 32 * 32).map(|_| next()).collect();
            std::fs::write(
                d.join(format!("{i:03}.npy")),
                write_npy_f32(&[1, 3, 32, 32], &v),
            )
            .unwrap();
        }
    }
    model
}

/// Every op kind (Conv, Clip, MaxPool, Relu, Add, Mul, ConvTranspose,
/// AveragePool, GlobalAveragePool, Gemm, MatMul, Sigmoid) and a quantized
/// graph input, on a small opset-13 model the script builds.
#[test]
fn every_op_kind_matches_onnxruntime_quantize_static() {
    zoo_matches_onnxruntime(false);
}

/// Per-channel weights (Conv axis 0, ConvTranspose axis 1, Gemm transB=1
/// axis 0 and transB=0 axis 1, MatMul axis 1) and their int32 biases: the
/// same scales as `quantize_static(per_channel=True)`.
#[test]
fn per_channel_weight_scales_match_onnxruntime() {
    zoo_matches_onnxruntime(true);
}

/// The script's small all-ops model, MinMax, ours against ORT's.
fn zoo_matches_onnxruntime(per_channel: bool) {
    setup();
    if let Err(why) = python_ready() {
        skip_or_fail(&why);
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let model = zoo(t.path());
    let ours = t
        .path()
        .join(format!("zoo_int8_pc{}.onnx", u8::from(per_channel)));
    let calib = t.path().join("calib");
    quantize(&model, &calib, &ours, RangeMethod::MinMax, per_channel);
    check_against_ort(&model, &ours, t.path(), 2, "minmax", per_channel);
}
