//! `calibscope ptq` on the command line: a split + root as the calibration
//! set, requantizing from ranges.json, and a clear failure on a bad model.

mod ptq_support;

use std::process::Command;

use ptq_support::*;

#[test]
fn ptq_command_line() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("demo");
    demo_samples(&root, 8, 4);
    // A calibration split in the seed's format, under the dataset root.
    let split = t.path().join("calibration_split.json");
    let all: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("splits/combined_train.json")).unwrap(),
    )
    .unwrap();
    let entries: Vec<_> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("dataset_root").is_some())
        .take(3)
        .collect();
    std::fs::write(&split, serde_json::to_string(&entries).unwrap()).unwrap();

    let exe = env!("CARGO_BIN_EXE_calibscope");
    let out = t.path().join("q/demo_int8.onnx");
    let model = demo_model();
    let r = Command::new(exe)
        .args(["ptq", "--model"])
        .arg(&model)
        .arg("--split")
        .arg(&split)
        .arg("--root")
        .arg(&root)
        .args(["--method", "percentile", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(
        stdout.contains("3 inputs") && stdout.contains("method percentile"),
        "{stdout}"
    );
    assert!(out.exists() && t.path().join("q/demo_int8.ranges.json").exists());
    assert!(t.path().join("q/demo_int8.calibration_cache.txt").exists());

    let again = t.path().join("q/again.onnx");
    let r = Command::new(exe)
        .args(["ptq", "--model"])
        .arg(&model)
        .arg("--ranges")
        .arg(t.path().join("q/demo_int8.ranges.json"))
        .arg("-o")
        .arg(&again)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&out).unwrap());

    let bad = t.path().join("bad.onnx");
    std::fs::write(&bad, b"nope").unwrap();
    let r = Command::new(exe)
        .args(["ptq", "--model"])
        .arg(&bad)
        .arg("--split")
        .arg(&split)
        .arg("--root")
        .arg(&root)
        .arg("-o")
        .arg(t.path().join("q/bad_int8.onnx"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        !r.status.success() && stderr.contains("bad.onnx") && stderr.contains("not an ONNX model"),
        "{stderr}"
    );
    assert!(!t.path().join("q/bad_int8.onnx").exists());
}
