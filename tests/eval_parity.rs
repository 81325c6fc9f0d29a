//! Evaluation metrics against `scripts/eval_reference.py` (numpy): on fixed
//! generated inputs, every per-image metric, pixel count, median-scaling
//! ratio and per-range value, and the mean / std over images, agree within
//! 1e-6 relative, across the options the users' scripts disagree on
//! (strict / inclusive mask, validity mask, Garg crop, median scaling,
//! clamp, resize before / after decoding, align_corners, dual head).
//! Skips without Python + numpy unless CALIBSCOPE_REQUIRE_PYTHON=1.

mod python_gate;

use std::path::Path;
use std::process::Command;

use calibscope::depth::DepthMap;
use calibscope::evaluate::run::mean_std_sets;
use calibscope::evaluate::{
    score_prediction, Crop, Decoder, DecoderKind, EvalSettings, Head, ImageMetrics, MaskBounds,
    MetricSet, ResizeOrder, ValidityMask,
};
use calibscope::preprocess::write_npy_f32;
use calibscope::runtime::python_exe;
use serde_json::{json, Value};

/// A small deterministic generator (no dependency on rand's stream).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// GT like a 16-bit depth PNG: sparse, multiples of 1/256, including
/// values exactly at 0.5 and 15 m (where strict and inclusive differ).
fn gt_map(rng: &mut Lcg, w: usize, h: usize) -> DepthMap {
    let metres = (0..w * h)
        .map(|i| {
            let r = rng.next();
            if r < 0.35 {
                0.0
            } else if i % 17 == 0 {
                0.5
            } else if i % 19 == 0 {
                15.0
            } else {
                ((0.2 + 20.0 * rng.next() * rng.next()) * 256.0).round() as f32 / 256.0
            }
        })
        .collect();
    DepthMap {
        width: w as u32,
        height: h as u32,
        metres,
    }
}

fn head(rng: &mut Lcg, name: &str, w: usize, h: usize, lo: f64, hi: f64) -> Head {
    Head {
        name: name.into(),
        width: w,
        height: h,
        values: (0..w * h)
            .map(|_| (lo + (hi - lo) * rng.next()) as f32)
            .collect(),
    }
}

fn rel_close(a: f64, b: f64) -> bool {
    if a == b {
        return true;
    }
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-12)
}

fn check_set(ours: &MetricSet, theirs: &Value, what: &str) {
    for (k, name) in MetricSet::NAMES.iter().enumerate() {
        let t = theirs[name].as_f64().unwrap_or(f64::NAN);
        let o = ours.values()[k];
        assert!(rel_close(o, t), "{what} {name}: ours {o}, numpy {t}");
    }
}

fn python_ready() -> Result<(), String> {
    let out = Command::new(python_exe())
        .args(["-c", "import numpy"])
        .output()
        .map_err(|e| format!("python3 not found ({e})"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err("python3 lacks numpy".into())
    }
}

struct Case {
    group: String,
    gt: DepthMap,
    heads: Vec<Head>,
    mask: Option<ValidityMask>,
    settings: EvalSettings,
    decoder: Decoder,
}

#[test]
fn metrics_match_numpy_reference() {
    if let Err(why) = python_ready() {
        python_gate::skip_or_fail(&why);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Lcg(2024);
    let (gw, gh) = (37, 23);
    let mask = ValidityMask {
        width: gw,
        height: gh,
        valid: (0..gw * gh).map(|i| (i / gw + i % gw) % 5 != 0).collect(),
    };
    let base = EvalSettings::default();
    let variants: Vec<(&str, EvalSettings, DecoderKind, bool)> = vec![
        ("default", base.clone(), DecoderKind::SigmoidInverse, false),
        (
            "median_scaling",
            EvalSettings {
                median_scaling: true,
                ..base.clone()
            },
            DecoderKind::SigmoidInverse,
            false,
        ),
        (
            "inclusive_clamp_scaled",
            EvalSettings {
                bounds: MaskBounds::Inclusive,
                median_scaling: true,
                clamp: true,
                ..base.clone()
            },
            DecoderKind::Linear,
            false,
        ),
        (
            "garg_mask_align_corners",
            EvalSettings {
                crop: Crop::Garg,
                align_corners: true,
                range_edges: vec![0.5, 5.0, 10.0, 15.0],
                ..base.clone()
            },
            DecoderKind::SigmoidInverse,
            true,
        ),
        (
            "dual_head_before_decoding",
            EvalSettings {
                resize: ResizeOrder::BeforeDecoding,
                median_scaling: true,
                ..base.clone()
            },
            DecoderKind::DualHead,
            true,
        ),
        (
            "inverse_depth_wide",
            EvalSettings {
                min_depth: 1e-3,
                max_depth: 80.0,
                bounds: MaskBounds::Inclusive,
                range_edges: vec![0.0, 2.0, 8.0, 80.0],
                ..base.clone()
            },
            DecoderKind::InverseDepth,
            false,
        ),
    ];
    let mut cases = Vec::new();
    for (group, settings, kind, with_mask) in &variants {
        let decoder = Decoder {
            kind: *kind,
            min_depth: 0.5,
            max_depth: 20.0,
            ..Default::default()
        };
        for img in 0..4 {
            let gt = gt_map(&mut rng, gw, gh);
            // Predictions at another size (upsampled and downsampled), and at GT size.
            let (pw, ph) = [(16, 10), (50, 31), (gw, gh), (9, 6)][img];
            let heads = match kind {
                DecoderKind::DualHead => vec![
                    head(&mut rng, "integer_sigmoid", pw, ph, 0.0, 0.8),
                    head(&mut rng, "fractional_sigmoid", pw, ph, 0.0, 1.0),
                ],
                DecoderKind::InverseDepth => vec![head(&mut rng, "output", pw, ph, 0.05, 2.0)],
                _ => vec![head(&mut rng, "output", pw, ph, 0.02, 0.98)],
            };
            cases.push(Case {
                group: group.to_string(),
                gt,
                heads,
                mask: with_mask.then(|| mask.clone()),
                settings: settings.clone(),
                decoder: decoder.clone(),
            });
        }
    }
    // An image with no valid pixel: reported as such by both sides.
    let empty = DepthMap {
        width: 8,
        height: 4,
        metres: vec![0.0; 32],
    };
    cases.push(Case {
        group: "empty".into(),
        gt: empty,
        heads: vec![head(&mut rng, "output", 4, 2, 0.1, 0.9)],
        mask: None,
        settings: base.clone(),
        decoder: Decoder::default(),
    });

    let mut doc = Vec::new();
    for (c, case) in cases.iter().enumerate() {
        let d = dir.path();
        let gt_name = format!("gt{c}.npy");
        std::fs::write(
            d.join(&gt_name),
            write_npy_f32(
                &[case.gt.height as usize, case.gt.width as usize],
                &case.gt.metres,
            ),
        )
        .unwrap();
        let mut names = Vec::new();
        for (k, h) in case.heads.iter().enumerate() {
            let n = format!("pred{c}_{k}.npy");
            std::fs::write(
                d.join(&n),
                write_npy_f32(&[1, 1, h.height, h.width], &h.values),
            )
            .unwrap();
            names.push(n);
        }
        let mask_name = case.mask.as_ref().map(|m| {
            let n = format!("mask{c}.npy");
            let v: Vec<f32> = m
                .valid
                .iter()
                .map(|&b| if b { 255.0 } else { 0.0 })
                .collect();
            std::fs::write(d.join(&n), write_npy_f32(&[m.height, m.width], &v)).unwrap();
            n
        });
        let heads_npy: Vec<Value> = names.into_iter().map(Value::from).collect();
        doc.push(json!({
            "group": case.group,
            "gt": gt_name,
            "heads": heads_npy,
            "mask": mask_name,
            "settings": serde_json::to_value(&case.settings).unwrap(),
            "decoder": serde_json::to_value(&case.decoder).unwrap(),
        }));
    }
    let cases_path = dir.path().join("cases.json");
    std::fs::write(&cases_path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out_path = dir.path().join("out.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/eval_reference.py");
    let out = Command::new(python_exe())
        .arg(&script)
        .arg(&cases_path)
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Value = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();

    let mut ours_by_group: std::collections::BTreeMap<String, Vec<MetricSet>> = Default::default();
    let mut checked_ranges = 0;
    for (c, case) in cases.iter().enumerate() {
        let heads: Vec<&Head> = case.heads.iter().collect();
        let ours: ImageMetrics = score_prediction(
            &case.gt,
            &heads,
            &case.decoder,
            &case.settings,
            case.mask.as_ref(),
        )
        .unwrap();
        let t = &theirs["images"][c];
        let what = format!("case {c} ({})", case.group);
        assert_eq!(ours.pixels, t["pixels"].as_u64().unwrap(), "{what} pixels");
        match ours.metrics {
            None => assert!(t["metrics"].is_null(), "{what}: numpy found valid pixels"),
            Some(m) => {
                check_set(&m, &t["metrics"], &what);
                assert!(
                    rel_close(ours.scale, t["scale"].as_f64().unwrap()),
                    "{what} scale"
                );
                ours_by_group.entry(case.group.clone()).or_default().push(m);
            }
        }
        for (r, range) in ours.ranges.iter().enumerate() {
            let tr = &t["ranges"][r];
            match range {
                None => assert!(tr.is_null(), "{what} range {r}: numpy has pixels"),
                Some(v) => {
                    assert_eq!(v.pixels, tr["pixels"].as_u64().unwrap(), "{what} range {r}");
                    check_set(&v.metrics, &tr["metrics"], &format!("{what} range {r}"));
                    checked_ranges += 1;
                }
            }
        }
    }
    assert!(
        checked_ranges > 40,
        "too few ranges compared: {checked_ranges}"
    );
    // Strict and inclusive masks really differ on these inputs.
    let p0 = theirs["images"][0]["pixels"].as_u64().unwrap();
    assert!(p0 > 0);
    for (group, sets) in &ours_by_group {
        let (mean, std) = mean_std_sets(sets.iter().copied());
        let g = &theirs["groups"][group];
        check_set(&mean, &g["mean"], &format!("{group} mean"));
        check_set(&std, &g["std"], &format!("{group} std"));
        assert_eq!(sets.len() as u64, g["images"].as_u64().unwrap());
    }
    assert_eq!(ours_by_group.len(), variants.len(), "every variant scored");
    // The median-scaling variant applied a ratio different from 1.
    let scaled = &theirs["images"][4]["scale"];
    assert!((scaled.as_f64().unwrap() - 1.0).abs() > 1e-3);
}
