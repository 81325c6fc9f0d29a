//! The output quantization floor (FP32 with only the output's 8-bit
//! encoding) against a direct NumPy computation on the demo model, overall
//! and per depth range, with the depth step at each edge.

mod ptq_support;

use std::path::Path;
use std::process::Command;

use calibscope::diagnose::floor::{output_encodings, output_floor, FloorRequest};
use calibscope::evaluate::{Decoder, EvalSettings};
use calibscope::onnx;
use calibscope::preprocess::{write_npy_f32, PreprocessSettings};
use calibscope::progress::Progress;
use calibscope::quantize::{self, CalibrationSource, PtqRequest, PtqSettings};
use calibscope::runtime::python_exe;
use ptq_support::*;

#[test]
fn output_floor_equals_numpy() {
    setup();
    let ready = Command::new(python_exe())
        .args(["-c", "import numpy, onnxruntime"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        skip_or_fail("python3 with numpy and onnxruntime is needed for the floor reference");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let demo = t.path().join("demo");
    let samples = demo_samples(&demo, 12, 41);
    let split = demo.join("splits/combined_train.json");
    let n_split =
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&split).unwrap())
            .unwrap()
            .as_array()
            .unwrap()
            .len();
    let int8 = t.path().join("demo_int8.onnx");
    let req = PtqRequest {
        model: demo_model(),
        calibration: CalibrationSource::Files(
            samples[..6].iter().map(|s| s.image.clone()).collect(),
        ),
        settings: PtqSettings::default(),
        output: int8.clone(),
        ranges_from: None,
    };
    quantize::run_ptq(&req, &Progress::new()).unwrap();
    let int8_model = onnx::load(&int8).unwrap();
    let enc = output_encodings(&int8_model);
    assert_eq!(enc.len(), 1, "{enc:?}");
    assert_eq!(enc[0].output, "depth_sigmoid");

    let decoder = Decoder {
        min_depth: MIN_DEPTH,
        max_depth: MAX_DEPTH,
        ..Default::default()
    };
    let settings = EvalSettings {
        min_depth: 0.5,
        max_depth: 100.0,
        range_edges: vec![0.5, 5.0, 10.0, 20.0, 100.0],
        ..Default::default()
    };
    let floor = output_floor(
        &FloorRequest {
            root: demo.clone(),
            split,
            dataset: Default::default(),
            fp32: demo_model(),
            preprocess: None,
            decoder,
            settings: settings.clone(),
        },
        &int8_model,
        &Progress::new(),
    )
    .unwrap();
    assert_eq!(floor.images, n_split);

    // The same samples (the train split comes first in demo_samples) as .npy for NumPy.
    let pre = PreprocessSettings {
        width: 320,
        height: 192,
        ..Default::default()
    };
    let (mut inputs, mut gts) = (Vec::new(), Vec::new());
    for (i, s) in samples[..n_split].iter().enumerate() {
        let (x, _) = pre.load_input(&s.image).unwrap();
        let xp = t.path().join(format!("x{i:02}.npy"));
        std::fs::write(&xp, write_npy_f32(&[1, 3, 192, 320], &x)).unwrap();
        let gp = t.path().join(format!("gt{i:02}.npy"));
        std::fs::write(&gp, write_npy_f32(&[192, 320], &s.depth)).unwrap();
        inputs.push(xp);
        gts.push(gp);
    }
    let spec = serde_json::json!({
        "model": demo_model(),
        "inputs": inputs,
        "gts": gts,
        "scale": enc[0].scale,
        "zero_point": enc[0].zero_point,
        "decoder_min": MIN_DEPTH,
        "decoder_max": MAX_DEPTH,
        "min_depth": settings.min_depth,
        "max_depth": settings.max_depth,
        "edges": settings.range_edges,
    });
    let spec_path = t.path().join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/floor_reference.py");
    let out = Command::new(python_exe())
        .arg(&script)
        .arg(&spec_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();

    // A sigmoid value on a rounding edge may land one level apart between
    // the two ONNX Runtime builds' float paths: 1e-4 covers a few pixels.
    let close =
        |a: f64, b: f64, what: &str| assert!((a - b).abs() < 1e-4, "{what}: {a} vs numpy {b}");
    close(
        floor.floor_abs_rel,
        r["abs_rel"].as_f64().unwrap(),
        "floor abs_rel",
    );
    close(
        floor.fp32_abs_rel,
        r["fp32_abs_rel"].as_f64().unwrap(),
        "FP32 abs_rel",
    );
    let ranges = r["ranges"].as_array().unwrap();
    assert_eq!(ranges.len(), floor.ranges.len());
    for (ours, np) in floor.ranges.iter().zip(ranges) {
        assert_eq!(ours.lo, np[0].as_f64().unwrap());
        match (ours.floor_abs_rel, np[2].as_f64()) {
            (Some(a), Some(b)) => close(a, b, &format!("floor {}–{} m", ours.lo, ours.hi)),
            (a, b) => assert_eq!(
                a, b,
                "range {}–{} m present on one side only",
                ours.lo, ours.hi
            ),
        }
        if let (Some(a), Some(b)) = (ours.fp32_abs_rel, np[3].as_f64()) {
            close(a, b, &format!("FP32 {}–{} m", ours.lo, ours.hi));
        }
    }
    for (i, st) in r["steps"].as_array().unwrap().iter().enumerate() {
        let want = st[1].as_f64().unwrap();
        let ours = if i < floor.ranges.len() {
            floor.ranges[i].step_m_at_lo[0]
        } else {
            floor.ranges[i - 1].step_m_at_hi[0]
        };
        assert!(
            (ours - want).abs() <= 1e-9 * want.max(1.0),
            "step at {}: {ours} vs {want}",
            st[0]
        );
    }
    println!(
        "floor abs_rel {:.5} (FP32 {:.5}); numpy {:.5}",
        floor.floor_abs_rel, floor.fp32_abs_rel, r["abs_rel"]
    );
}
