//! Method comparison on the demo model: one calibration, four methods with
//! ONNX Runtime's defaults, each INT8 model's fidelity on held-out inputs.
//! Entropy's defaults keep the observed ranges (so it equals MinMax), and
//! every method's depth error stays within 1.5× of MinMax's.

mod ptq_support;

use calibscope::diagnose::methods::run_methods;
use calibscope::evaluate::Decoder;
use calibscope::preprocess::PreprocessSettings;
use calibscope::progress::Progress;
use calibscope::quantize::{QdqSettings, RangeMethod};
use ptq_support::*;

#[test]
fn every_default_method_is_close_to_minmax() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let samples = demo_samples(&t.path().join("demo"), 18, 12);
    let files: Vec<_> = samples.iter().map(|s| s.image.clone()).collect();
    let pre = PreprocessSettings {
        width: 320,
        height: 192,
        ..Default::default()
    };
    let decoder = Decoder {
        min_depth: MIN_DEPTH,
        max_depth: MAX_DEPTH,
        ..Default::default()
    };
    let c = run_methods(
        &demo_model(),
        &files[..10],
        &files[10..],
        &pre,
        &QdqSettings::default(),
        Some(&decoder),
        &Progress::new(),
    )
    .unwrap()
    .comparison;
    assert_eq!(c.methods.len(), 4);
    assert!(c.tensors.len() >= 15);
    let depth = |m: RangeMethod| {
        let i = c.methods.iter().position(|x| *x == m).unwrap();
        c.fidelity[i].depth_abs_rel_vs_fp32.unwrap()
    };
    let minmax = depth(RangeMethod::MinMax);
    for (m, f) in c.methods.iter().zip(&c.fidelity) {
        println!("{m}: {}", f.line());
        let d = f.depth_abs_rel_vs_fp32.unwrap();
        assert!(
            d <= 1.5 * minmax,
            "{m}: depth error {d} against MinMax {minmax}"
        );
    }
    assert_eq!(depth(RangeMethod::Entropy), minmax);
    let e = c
        .methods
        .iter()
        .position(|x| *x == RangeMethod::Entropy)
        .unwrap();
    for row in &c.tensors {
        assert_eq!(row.ranges[e], row.ranges[0], "{}", row.tensor);
    }
}
