//! `calibscope toolchain`: the vendor's command runs (here calibscope's own
//! `ptq`, a real quantizer writing ONNX), and its ONNX output gets the
//! fidelity check `ptq` runs — stored in `<name>.fidelity.json`, with the
//! warning in words when it is far worse than MinMax; an output that is not
//! ONNX is recorded without a check.

mod ptq_support;

use std::path::Path;
use std::process::{Command, Output};

use ptq_support::*;

fn toolchain(list: &Path, out: &Path, command: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calibscope"))
        .args(["toolchain", "--model"])
        .arg(demo_model())
        .arg("--image-list")
        .arg(list)
        .arg("-o")
        .arg(out)
        .args([
            "--decoder",
            "sigmoid-inverse",
            "--decoder-max-depth",
            "100",
            "--command",
            command,
        ])
        .output()
        .unwrap()
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn toolchain_onnx_output_gets_the_fidelity_check() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let samples = demo_samples(&t.path().join("demo"), 12, 21);
    let list = image_list(t.path(), "image_list.txt", &samples[..5]);
    let exe = env!("CARGO_BIN_EXE_calibscope");

    // A MinMax quantizer: as good as calibscope's own MinMax, no warning.
    let out = t.path().join("tool/model_int8.onnx");
    let cmd = format!("{exe} ptq --model {{model}} --image-list {{image_list}} --fidelity-samples 0 -o {{output}}");
    let r = toolchain(&list, &out, &cmd);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(stdout.contains("held out from calibration"), "{stdout}");
    let f = json(&t.path().join("tool/model_int8.fidelity.json"));
    assert!(f["samples"].as_u64().unwrap() >= 1, "{f}");
    assert!(f["depth_abs_rel_vs_fp32"].as_f64().unwrap() < 0.05, "{f}");
    let (s, mm) = (
        f["sqnr_db"].as_f64().unwrap(),
        f["minmax_sqnr_db"].as_f64().unwrap(),
    );
    assert!(s > 20.0 && (s - mm).abs() < 0.01, "{f}");
    assert!(f["warning"].is_null(), "{f}");
    let rec = json(&t.path().join("tool/toolchain_run.json"));
    assert_eq!(rec["run"]["exit_code"], 0);
    assert_eq!(rec["fidelity"]["fidelity"], f);

    // A quantizer that collapses the normalised input's range: warned in words.
    let mut ranges = json(&t.path().join("tool/model_int8.ranges.json"));
    for row in ranges["tensors"].as_array_mut().unwrap() {
        if row["tensor"] == "x_norm" {
            let lo = row["min"].as_f64().unwrap();
            let hi = row["max"].as_f64().unwrap();
            row["max"] = serde_json::json!(lo + 0.06 * (hi - lo));
        }
    }
    let collapsed = t.path().join("collapsed.ranges.json");
    std::fs::write(&collapsed, ranges.to_string()).unwrap();
    let out2 = t.path().join("tool2/model_int8.onnx");
    let cmd = format!(
        "{exe} ptq --model {{model}} --ranges {} --fidelity-samples 0 -o {{output}}",
        collapsed.display()
    );
    let r = toolchain(&list, &out2, &cmd);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{stdout}");
    assert!(
        stdout.contains("warning: ") && stdout.contains("far worse than MinMax"),
        "{stdout}"
    );
    let f = json(&t.path().join("tool2/model_int8.fidelity.json"));
    assert!(
        f["warning"]
            .as_str()
            .unwrap()
            .contains("far worse than MinMax"),
        "{f}"
    );

    // A vendor format: the run is recorded, no fidelity check.
    let out3 = t.path().join("tool3/model.rknn");
    let r = toolchain(&list, &out3, "cp {model} {output}");
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{stdout}");
    assert!(stdout.contains("not an ONNX model"), "{stdout}");
    assert!(!t.path().join("tool3/model.fidelity.json").exists());
    assert!(json(&t.path().join("tool3/toolchain_run.json"))["fidelity"].is_null());
}
