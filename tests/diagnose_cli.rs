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

/// `--methods --inspect`: the four methods from one calibration into the
/// report (ranges, fidelity, abs_rel on the split), one tensor's histogram
/// with each method's thresholds, and its PNG; without a calibration set,
/// a clear error and no report.
#[test]
fn diagnose_methods_and_inspect() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("demo");
    let samples = demo_samples(&root, 12, 4);
    let list = image_list(t.path(), "cal.txt", &samples[..5]);
    let exe = env!("CARGO_BIN_EXE_calibscope");
    let report = t.path().join("methods.json");
    let png = t.path().join("enc2.png");
    let r = Command::new(exe)
        .args(["diagnose", "--model"])
        .arg(demo_model())
        .arg("--split")
        .arg(root.join("splits/combined_val.json"))
        .arg("--root")
        .arg(&root)
        .arg("--calibration-list")
        .arg(&list)
        .args(["--methods", "--inspect", "enc2", "--inspect-png"])
        .arg(&png)
        .args(["--decoder-max-depth", "100", "--max-depth", "100", "--out"])
        .arg(&report)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    println!("{stdout}");
    for m in ["minmax", "percentile", "entropy", "mse"] {
        assert!(stdout.contains(m), "{stdout}");
    }
    assert!(
        stdout.contains("abs_rel") && stdout.contains("clipped"),
        "{stdout}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let m = &v["methods"];
    let c = &m["comparison"];
    assert_eq!(c["methods"].as_array().unwrap().len(), 4);
    assert_eq!(c["fidelity"].as_array().unwrap().len(), 4);
    let abs_rel = m["abs_rel"]["abs_rel"].as_array().unwrap();
    assert_eq!(abs_rel.len(), 4);
    let fp32 = m["abs_rel"]["fp32_abs_rel"].as_f64().unwrap();
    for a in abs_rel {
        // A real evaluation of each INT8 model: near FP32's on this small
        // split (one or two images), not equal to it.
        let a = a.as_f64().unwrap();
        assert!(
            a != fp32 && (a - fp32).abs() < 0.25 * fp32,
            "{a} against FP32 {fp32}"
        );
    }
    // The inspector's thresholds are the comparison's ranges for that tensor.
    let row = c["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["tensor"] == "enc2")
        .unwrap();
    let insp = &m["inspection"];
    let counts: u64 = insp["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .sum();
    // 5 images × enc2's values per image.
    assert!(counts > 0 && counts.is_multiple_of(5), "{counts}");
    for (i, meth) in insp["methods"].as_array().unwrap().iter().enumerate() {
        assert_eq!(meth["min"], row["ranges"][i][0], "{meth}");
        assert_eq!(meth["max"], row["ranges"][i][1], "{meth}");
        let share = meth["clipped_share"].as_f64().unwrap();
        assert!((0.0..0.01).contains(&share), "{meth}");
    }
    assert_eq!(insp["methods"][0]["clipped_share"].as_f64(), Some(0.0));
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (1200, 800));

    // No calibration set: the error names the options, nothing is written.
    let report2 = t.path().join("methods2.json");
    let r = Command::new(exe)
        .args(["diagnose", "--model"])
        .arg(demo_model())
        .arg("--folder")
        .arg(samples[0].image.parent().unwrap())
        .args(["--methods", "--out"])
        .arg(&report2)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("--calibration-list"), "{err}");
    assert!(!report2.exists());
}
