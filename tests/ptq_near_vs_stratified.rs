//! The effect calibscope exists for: on the demo model, calibrating on
//! near-range samples only gives a measurably worse INT8 model than
//! calibrating on a depth-stratified set of the same size.

mod ptq_support;

use calibscope::progress::Progress;
use calibscope::quantize::{self, CalibrationSource, PtqRequest, PtqSettings};
use ptq_support::*;

const BINS: [f64; 5] = [0.0, 3.0, 8.0, 15.0, 100.0];

fn bin_of(s: &Sample) -> usize {
    (0..4)
        .find(|&b| s.mean_depth >= BINS[b] && s.mean_depth < BINS[b + 1])
        .unwrap_or(3)
}

#[test]
fn near_only_calibration_is_worse_than_stratified() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let samples = demo_samples(&t.path().join("demo"), 48, 31);
    let mut by_bin: Vec<Vec<Sample>> = vec![Vec::new(); 4];
    for s in samples {
        by_bin[bin_of(&s)].push(s);
    }
    let counts: Vec<usize> = by_bin.iter().map(Vec::len).collect();
    assert!(
        counts.iter().all(|&c| c >= 4),
        "demo covers every bin: {counts:?}"
    );
    let n = 8;
    // Calibration sets of equal size: near only, and two per depth bin.
    let near: Vec<Sample> = by_bin[0].iter().take(n).cloned().collect();
    let stratified: Vec<Sample> = by_bin
        .iter()
        .flat_map(|b| b.iter().take(2).cloned())
        .collect();
    // Evaluation on the samples neither set used, over all bins.
    let used: Vec<_> = near
        .iter()
        .chain(&stratified)
        .map(|s| s.image.clone())
        .collect();
    let eval: Vec<Sample> = by_bin
        .iter()
        .flat_map(|b| {
            b.iter()
                .filter(|s| !used.contains(&s.image))
                .take(3)
                .cloned()
        })
        .collect();
    let fp = predict(&demo_model(), &eval);
    let mut results = Vec::new();
    for (name, set) in [("near-only", &near), ("stratified", &stratified)] {
        let list = image_list(t.path(), &format!("{name}.txt"), set);
        let out = t.path().join(format!("{name}.onnx"));
        let req = PtqRequest {
            model: demo_model(),
            calibration: CalibrationSource::ImageList(list),
            settings: PtqSettings::default(),
            output: out.clone(),
            ranges_from: None,
        };
        quantize::run_ptq(&req, &Progress::new()).unwrap();
        let q = predict(&out, &eval);
        let err = rel_depth_error(&q, &fp);
        let ar = abs_rel(&q, &eval);
        println!("{name}: INT8 vs FP32 relative depth error {err:.4}, abs_rel {ar:.4}");
        results.push((err, ar));
    }
    println!(
        "FP32 abs_rel {:.4} on {} evaluation samples",
        abs_rel(&fp, &eval),
        eval.len()
    );
    let (near_err, strat_err) = (results[0].0, results[1].0);
    assert!(
        near_err > strat_err * 1.2,
        "near-only error {near_err:.4} should clearly exceed stratified {strat_err:.4}"
    );
    assert!(
        results[0].1 > results[1].1,
        "abs_rel near-only {:.4} vs stratified {:.4}",
        results[0].1,
        results[1].1
    );
}
