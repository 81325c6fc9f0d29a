//! Bad input gets a clear error and no output file: not ONNX, truncated,
//! dynamic input without a size, two image inputs, empty calibration set,
//! an image that does not decode.

mod ptq_support;

use std::path::{Path, PathBuf};

use calibscope::onnx::{self, proto};
use calibscope::progress::Progress;
use calibscope::quantize::{self, CalibrationSource, PtqRequest, PtqSettings};
use ptq_support::*;

fn run(model: &Path, source: CalibrationSource, out: &Path) -> String {
    let req = PtqRequest {
        model: model.to_path_buf(),
        calibration: source,
        settings: PtqSettings::default(),
        output: out.to_path_buf(),
        ranges_from: None,
    };
    let e = quantize::run_ptq(&req, &Progress::new()).expect_err("bad input must fail");
    // Nothing at the output, nor beside it (no ranges.json, no temp files).
    let dir = out.parent().unwrap();
    let left: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.iter().all(|n| !n.starts_with("out")),
        "left behind: {left:?}"
    );
    e.to_string()
}

fn with_model_edit(dir: &Path, name: &str, edit: impl FnOnce(&mut proto::ModelProto)) -> PathBuf {
    let mut m = onnx::load(&demo_model()).unwrap();
    edit(&mut m);
    let p = dir.join(name);
    onnx::save(&m, &p).unwrap();
    p
}

fn dims(v: &mut proto::ValueInfoProto) -> &mut Vec<proto::tensor_shape_proto::Dimension> {
    match v.r#type.as_mut().unwrap().value.as_mut().unwrap() {
        proto::type_proto::Value::TensorType(t) => &mut t.shape.as_mut().unwrap().dim,
        _ => unreachable!(),
    }
}

#[test]
fn bad_inputs_get_clear_errors_and_no_output() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let samples = demo_samples(&d.join("demo"), 6, 9);
    let good_list = image_list(d, "good.txt", &samples[..2]);
    let out_dir = d.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("out_int8.onnx");
    let list = || CalibrationSource::ImageList(good_list.clone());

    // Not ONNX.
    let text = d.join("notes.onnx");
    std::fs::write(&text, "this is not a model\n").unwrap();
    let e = run(&text, list(), &out);
    assert!(
        e.contains("notes.onnx") && e.contains("not an ONNX model"),
        "{e}"
    );

    // Truncated model.
    let bytes = std::fs::read(demo_model()).unwrap();
    let trunc = d.join("truncated.onnx");
    std::fs::write(&trunc, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let e = run(&trunc, list(), &out);
    assert!(
        e.contains("truncated.onnx") && e.contains("truncated"),
        "{e}"
    );

    // Dynamic input size without a given size.
    let dynamic = with_model_edit(d, "dynamic.onnx", |m| {
        let inp = &mut m.graph.as_mut().unwrap().input[0];
        for k in [2, 3] {
            dims(inp)[k].value = Some(proto::tensor_shape_proto::dimension::Value::DimParam(
                format!("d{k}"),
            ));
        }
    });
    let e = run(&dynamic, list(), &out);
    assert!(
        e.contains("dynamic size") && e.contains("--input-size"),
        "{e}"
    );

    // Two image inputs.
    let two = with_model_edit(d, "two_inputs.onnx", |m| {
        let g = m.graph.as_mut().unwrap();
        let mut second = g.input[0].clone();
        second.name = Some("rgb_right".into());
        g.input.push(second);
    });
    let e = run(&two, list(), &out);
    assert!(
        e.contains("2 image inputs") && e.contains("rgb_right"),
        "{e}"
    );

    // Empty calibration set.
    let empty = d.join("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    let e = run(&demo_model(), CalibrationSource::ImageList(empty), &out);
    assert!(e.contains("calibration set is empty"), "{e}");

    // An image that does not decode (after a good one: nothing partial is written).
    let broken = d.join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\n garbage").unwrap();
    let e = run(
        &demo_model(),
        CalibrationSource::Files(vec![samples[0].image.clone(), broken.clone()]),
        &out,
    );
    assert!(
        e.contains("broken.png") && e.contains("does not decode"),
        "{e}"
    );

    // A missing image in the list names the file before any work.
    let missing = d.join("missing.txt");
    std::fs::write(&missing, "/nowhere/0000000001.png\n").unwrap();
    let e = run(&demo_model(), CalibrationSource::ImageList(missing), &out);
    assert!(e.contains("/nowhere/0000000001.png"), "{e}");
}

#[test]
fn inspect_prefills_preprocessing_from_the_model() {
    setup();
    let (summary, pre) = quantize::inspect_model(&demo_model(), None).unwrap();
    assert_eq!(summary.op_counts["Conv"], 10);
    assert_eq!(
        (pre.input_name.as_str(), pre.width, pre.height),
        ("rgb", 320, 192)
    );
    assert_eq!(pre.mean, None, "the users' network normalises inside");
}

#[test]
fn preprocessing_that_does_not_fit_the_model_is_refused() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let samples = demo_samples(&t.path().join("demo"), 6, 8);
    let out = t.path().join("out_int8.onnx");
    let settings = PtqSettings {
        preprocess: Some(calibscope::preprocess::PreprocessSettings {
            width: 640,
            height: 384,
            ..Default::default()
        }),
        ..Default::default()
    };
    let req = PtqRequest {
        model: demo_model(),
        calibration: CalibrationSource::Files(vec![samples[0].image.clone()]),
        settings,
        output: out.clone(),
        ranges_from: None,
    };
    let e = quantize::run_ptq(&req, &Progress::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("[1, 3, 384, 640]") && e.contains("input size"),
        "{e}"
    );
    assert!(!out.exists());
}
