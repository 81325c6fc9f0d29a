//! The sensitivity sweep on the demo model: keeping the tensor the sweep
//! ranks first float improves INT8 abs_rel on the split (pinned), and the
//! report holds fidelity, per-tensor rows, the floor and the sweep.

mod ptq_support;

use calibscope::diagnose::run::{run_diagnose, DiagnoseRequest};
use calibscope::evaluate::{Decoder, EvalSettings};
use calibscope::progress::Progress;
use calibscope::quantize::{self, CalibrationSource, PtqRequest, PtqSettings, RangeMethod};
use ptq_support::*;

#[test]
fn sweep_finds_a_tensor_whose_float_keeping_improves_abs_rel() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let demo = t.path().join("demo");
    let samples = demo_samples(&demo, 18, 3);
    let int8 = t.path().join("demo_int8.onnx");
    let mut settings = PtqSettings {
        method: RangeMethod::Entropy,
        ..Default::default()
    };
    settings.method_options.num_bins = 2048;
    let req = PtqRequest {
        model: demo_model(),
        calibration: CalibrationSource::Files(
            samples[..8].iter().map(|s| s.image.clone()).collect(),
        ),
        settings,
        output: int8.clone(),
        ranges_from: None,
    };
    quantize::run_ptq(&req, &Progress::new()).unwrap();
    let req = DiagnoseRequest {
        model: demo_model(),
        int8,
        inputs: CalibrationSource::Split {
            split: demo.join("splits/combined_train.json"),
            root: demo.clone(),
            dataset: Default::default(),
        },
        images: 4,
        preprocess: None,
        input_size: None,
        decoder: Some(Decoder {
            min_depth: MIN_DEPTH,
            max_depth: MAX_DEPTH,
            ..Default::default()
        }),
        eval_settings: EvalSettings {
            min_depth: 0.5,
            max_depth: 100.0,
            range_edges: vec![0.5, 10.0, 100.0],
            ..Default::default()
        },
        sweep: Some(3),
        target_abs_rel: Some(0.0),
    };
    let r = run_diagnose(&req, &Progress::new()).unwrap();
    assert!(r.floor.is_some(), "{:?}", r.floor_note);
    assert!(r.tensors.len() >= 20);
    let s = r.sweep.expect("sweep ran");
    for e in &s.entries {
        println!("{:.5} ({:+.5}) {}", e.abs_rel, -e.improvement, e.tensor);
    }
    println!(
        "INT8 {:.5} FP32 {:.5} recommended {:?} → {:.5}",
        s.int8_abs_rel, s.fp32_abs_rel, s.recommended_float, s.recommended_abs_rel
    );
    assert_eq!(s.entries.len(), 3);
    let best = &s.entries[0];
    // The sigmoid output: its 8-bit step is coarsest where depth is far (step ∝ depth²).
    assert_eq!(best.tensor, "depth_sigmoid");
    assert!(best.improvement > 0.0, "{best:?}");
    // An unreachable target: every helpful tensor is recommended, and it says it misses.
    assert!(!s.reaches_target);
    assert_eq!(s.recommended_float[0], best.tensor);
    assert!(s.recommended_abs_rel < s.int8_abs_rel);
}
