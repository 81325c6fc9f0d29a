//! Regression (issue 16): Entropy over 2048 bins (TensorRT's setting) used
//! to clip the network input to a sliver ([0, 0.063] instead of [0, 1]),
//! because 8-bit pixels fill only every eighth bin and the KL search then
//! prefers the shortest candidate. The input's range now comes from the
//! preprocessing, and a sliver chosen anywhere is reported in words.
//! The demo model normalises inside (`(rgb − 0.45) / 0.225`), so its first
//! quantized tensor is `x_norm`, whose range follows from [0, 1] through
//! the graph's own constants.

mod ptq_support;

use calibscope::progress::Progress;
use calibscope::quantize::{
    self, CalibrationSource, InputRange, MethodOptions, PtqOptions, PtqRequest, PtqSettings,
    RangeMethod,
};
use ptq_support::*;

/// rgb [1,3,192,320] → Conv 3→4 (3×3) → Relu → Conv 4→1 → Sigmoid: the
/// input feeds a Conv directly, as in the ResNet-18.
fn direct_input_model(path: &std::path::Path) {
    use calibscope::onnx::*;
    let w: Vec<f32> = (0..4 * 3 * 9)
        .map(|i| ((i * 37 % 17) as f32 - 8.0) / 40.0)
        .collect();
    let w2: Vec<f32> = (0..4).map(|i| 0.3 - 0.2 * i as f32).collect();
    let g = GraphProto {
        node: vec![
            make_node(
                "Conv",
                &["rgb", "w1", "b1"],
                &["c1"],
                "conv1",
                vec![make_attr_ints("pads", &[1, 1, 1, 1])],
            ),
            make_node("Relu", &["c1"], &["r1"], "relu1", vec![]),
            make_node("Conv", &["r1", "w2"], &["c2"], "conv2", vec![]),
            make_node("Sigmoid", &["c2"], &["depth_sigmoid"], "sig", vec![]),
        ],
        initializer: vec![
            tensor_from_f32("w1", &[4, 3, 3, 3], &w),
            tensor_from_f32("b1", &[4], &[0.1, -0.1, 0.05, 0.0]),
            tensor_from_f32("w2", &[1, 4, 1, 1], &w2),
        ],
        input: vec![make_shaped_value_info(
            "rgb",
            DataType::Float,
            &[1, 3, 192, 320],
        )],
        output: vec![make_value_info("depth_sigmoid", DataType::Float)],
        ..Default::default()
    };
    save(&make_model(g, 13), path).unwrap();
}

fn entropy_2048(files: Vec<std::path::PathBuf>, out: std::path::PathBuf) -> PtqRequest {
    PtqRequest {
        model: demo_model(),
        calibration: CalibrationSource::Files(files),
        settings: PtqSettings {
            method: RangeMethod::Entropy,
            method_options: MethodOptions {
                num_bins: 2048,
                ..Default::default()
            },
            ..Default::default()
        },
        output: out,
        ranges_from: None,
    }
}

#[test]
fn entropy_cannot_collapse_the_network_input() {
    setup();
    let t = tempfile::tempdir().unwrap();
    // Night scenes: most pixels dark, a few lamps at full brightness. The
    // KL search keeps the dark mass and clips the lamps.
    let mut files: Vec<_> = (0..5)
        .map(|k| {
            let img = image::RgbImage::from_fn(320, 192, |x, y| {
                let i = y * 320 + x;
                if (i + k * 7) % 211 == 0 {
                    image::Rgb([255, 250, 240])
                } else {
                    let v = ((x * 7 + y * 13 + k) % 16) as u8;
                    image::Rgb([v, v / 2 + 3, v])
                }
            });
            let p = t.path().join(format!("night_{k}.png"));
            img.save(&p).unwrap();
            p
        })
        .collect();
    let held_out = files.split_off(4);
    let model = t.path().join("direct.onnx");
    direct_input_model(&model);
    let rgb = |r: &quantize::PtqReport| {
        r.ranges
            .iter()
            .find(|x| x.tensor == "rgb")
            .cloned()
            .unwrap()
    };
    let mut req = entropy_2048(files, t.path().join("calibrated_int8.onnx"));
    req.model = model;
    // Calibrated like any tensor, the KL search keeps a sliver of [0, 1] — and says so.
    let mut opts = PtqOptions {
        input_range: InputRange::Calibrated,
        held_out: Some(held_out),
        ..Default::default()
    };
    let r = quantize::run_ptq_with(&req, &opts, &Progress::new()).unwrap();
    let row = rgb(&r);
    assert!(
        row.max < 0.25 * row.observed_max,
        "expected the collapse, got {row:?}"
    );
    assert!(
        r.range_warnings.iter().any(|w| w.contains("of rgb's")),
        "no warning for the collapsed input: {:?}",
        r.range_warnings
    );
    // The fidelity check on a held-out night scene says it in words, with the cause.
    let f = r.fidelity.clone().unwrap();
    println!("collapsed: {}", f.line());
    let w = f.warning.clone().unwrap_or_default();
    assert!(
        w.contains("far worse than MinMax") && w.contains("of rgb's"),
        "{f:?}"
    );
    assert!(r.fidelity_path.unwrap().is_file());
    // By default the input's range is the preprocessing's [0, 1]: scale 1/255, zero point 0.
    req.output = t.path().join("default_int8.onnx");
    opts.input_range = InputRange::Preprocessing;
    let r = quantize::run_ptq_with(&req, &opts, &Progress::new()).unwrap();
    let f = r.fidelity.clone().unwrap();
    println!("input from preprocessing: {}", f.line());
    assert!(!f.warning.unwrap_or_default().contains("of rgb's"));
    let row = rgb(&r);
    assert_eq!((row.min, row.max), (0.0, 1.0));
    assert!((row.scale.unwrap() - 1.0 / 255.0).abs() < 1e-9);
    assert_eq!(row.zero_point, Some(0));
    assert!(!r.range_warnings.iter().any(|w| w.contains("of rgb's")));
    // Entropy with every default (ONNX Runtime's 128 bins): no warning, as close to FP32 as MinMax.
    req.output = t.path().join("all_defaults_int8.onnx");
    req.settings.method_options = MethodOptions::for_method(RangeMethod::Entropy);
    let r = quantize::run_ptq_with(&req, &opts, &Progress::new()).unwrap();
    let f = r.fidelity.clone().unwrap();
    println!("all defaults: {}", f.line());
    assert!(f.warning.is_none() && r.range_warnings.is_empty(), "{f:?}");
    assert!(f.sqnr_db >= f.minmax_sqnr_db.unwrap() - 0.01, "{f:?}");
}

#[test]
fn entropy_keeps_the_input_range_of_the_preprocessing() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let samples = demo_samples(&t.path().join("demo"), 6, 5);
    let files: Vec<_> = samples.iter().map(|s| s.image.clone()).collect();
    let input = |r: &quantize::PtqReport| {
        r.ranges
            .iter()
            .find(|row| row.tensor == "x_norm")
            .cloned()
            .unwrap()
    };

    // By default the range is what [0, 1] becomes: [(0 − 0.45) / 0.225, (1 − 0.45) / 0.225].
    let req = entropy_2048(files.clone(), t.path().join("default_int8.onnx"));
    let r = quantize::run_ptq(&req, &Progress::new()).unwrap();
    let row = input(&r);
    let (m, s) = (0.45f32, 0.225f32);
    assert_eq!((row.min, row.max), ((0.0 - m) / s, (1.0 - m) / s));
    assert!((row.scale.unwrap() - 1.0 / (0.225 * 255.0)).abs() < 1e-6);
    assert!(!r.range_warnings.iter().any(|w| w.contains("of x_norm's")));

    // Entropy with ONNX Runtime's defaults (128 bins) keeps every observed range.
    let mut req = entropy_2048(files, t.path().join("ort_default_int8.onnx"));
    req.settings.method_options = MethodOptions::for_method(RangeMethod::Entropy);
    let r = quantize::run_ptq(&req, &Progress::new()).unwrap();
    for row in &r.ranges {
        if row.tensor != "x_norm" && row.shared_with.is_none() {
            assert_eq!(
                (row.min, row.max),
                (row.observed_min, row.observed_max),
                "{}",
                row.tensor
            );
        }
    }
    assert!(r.range_warnings.is_empty(), "{:?}", r.range_warnings);
}
