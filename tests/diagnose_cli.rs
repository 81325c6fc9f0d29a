//! `calibscope ptq` prints the fidelity line, and `calibscope diagnose`
//! writes its JSON report (fidelity, per-tensor rows, output floor); a
//! missing INT8 model is a clear error that writes nothing.

mod ptq_support;

use std::process::Command;

use ptq_support::*;

#[test]
fn ptq_fidelity_line_and_diagnose_report() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("demo");
    let samples = demo_samples(&root, 12, 9);
    let list = t.path().join("image_list.txt");
    let lines: Vec<String> = samples[..5]
        .iter()
        .map(|s| s.image.display().to_string())
        .collect();
    std::fs::write(&list, lines.join("\n")).unwrap();
    let exe = env!("CARGO_BIN_EXE_calibscope");
    let int8 = t.path().join("q/demo_int8.onnx");
    let r = Command::new(exe)
        .args(["ptq", "--model"])
        .arg(demo_model())
        .arg("--image-list")
        .arg(&list)
        .args([
            "--decoder",
            "sigmoid-inverse",
            "--decoder-max-depth",
            "100",
            "-o",
        ])
        .arg(&int8)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        stdout.contains("held-out") || stdout.contains("held out from calibration"),
        "{stdout}"
    );
    assert!(stdout.contains("depth off FP32"), "{stdout}");
    let fid: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.path().join("q/demo_int8.fidelity.json")).unwrap(),
    )
    .unwrap();
    assert!(fid["samples"].as_u64().unwrap() >= 1);
    assert!(fid["sqnr_db"].as_f64().unwrap() > 10.0, "{fid}");

    let report = t.path().join("diag.json");
    let r = Command::new(exe)
        .args(["diagnose", "--model"])
        .arg(demo_model())
        .arg("--int8")
        .arg(&int8)
        .arg("--split")
        .arg(root.join("splits/combined_val.json"))
        .arg("--root")
        .arg(&root)
        .args([
            "--images",
            "3",
            "--decoder-max-depth",
            "100",
            "--max-depth",
            "100",
            "--out",
        ])
        .arg(&report)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["format"], "calibscope-diagnose/1");
    assert!(v["tensors"].as_array().unwrap().len() >= 20);
    assert!(
        v["floor"]["floor_abs_rel"].as_f64().is_some(),
        "{}",
        v["floor_note"]
    );

    // A missing INT8 model: the error names it, no report.
    let missing = t.path().join("nope_int8.onnx");
    let report2 = t.path().join("diag2.json");
    let r = Command::new(exe)
        .args(["diagnose", "--model"])
        .arg(demo_model())
        .arg("--int8")
        .arg(&missing)
        .arg("--folder")
        .arg(samples[0].image.parent().unwrap())
        .arg("--out")
        .arg(&report2)
        .output()
        .unwrap();
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("nope_int8.onnx"), "{err}");
    assert!(!report2.exists());
}
