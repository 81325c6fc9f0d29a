//! Shared fixtures of the PTQ integration tests: the committed demo model and
//! a small demo dataset generated at the model's resolution.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use calibscope::demo::{self, DemoOptions};
use calibscope::preprocess::PreprocessSettings;
use calibscope::progress::Progress;
use calibscope::runtime::infer::Model;

#[path = "../python_gate/mod.rs"]
pub mod python_gate;
#[allow(unused_imports)]
pub use python_gate::skip_or_fail;

pub const MIN_DEPTH: f64 = 0.5;
pub const MAX_DEPTH: f64 = 100.0;
const DEPTH_FOLDERS: &[&str] = &[
    "newest_depth_maps",
    "newest_synthetic_depth_maps",
    "new_depth_maps",
    "depth_maps",
];

pub fn demo_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_model.onnx")
}

/// Points the app's folders (ONNX Runtime cache) at a per-process temporary
/// folder, never the user's home. Call first in every test.
pub fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let home =
            std::env::temp_dir().join(format!("calibscope-test-home-{}", std::process::id()));
        std::env::set_var("CALIBSCOPE_HOME", home);
    });
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub image: PathBuf,
    pub depth: Vec<f32>,
    pub mean_depth: f64,
}

/// A demo dataset of `n` samples at 320×192 (the model's input size).
pub fn demo_samples(dir: &Path, n: usize, seed: u64) -> Vec<Sample> {
    let opts = DemoOptions {
        seed,
        samples: n,
        width: 320,
        height: 192,
    };
    demo::generate(dir, &opts, &Progress::new()).unwrap();
    let mut out = Vec::new();
    for split in [
        "splits/combined_train.json",
        "splits/combined_val.json",
        "splits/combined_test.json",
    ] {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(split)).unwrap()).unwrap();
        for e in v.as_array().unwrap() {
            let (seq, stem) = if let Some(p) = e.get("image_path").and_then(|x| x.as_str()) {
                let p = dir.join(p);
                (
                    p.parent().unwrap().parent().unwrap().to_path_buf(),
                    p.file_stem().unwrap().to_string_lossy().into_owned(),
                )
            } else {
                (
                    dir.join(e["dataset_root"].as_str().unwrap()),
                    e["new_filename"].as_str().unwrap().to_string(),
                )
            };
            let png = seq.join("image_a6").join(format!("{stem}.png"));
            let image = if png.exists() {
                png
            } else {
                seq.join("image_a6").join(format!("{stem}.jpg"))
            };
            let dpath = DEPTH_FOLDERS
                .iter()
                .map(|f| seq.join(f).join(format!("{stem}.png")))
                .find(|p| p.exists())
                .unwrap();
            let d = image::open(&dpath).unwrap().to_luma16();
            let maxv = d.pixels().map(|p| p.0[0]).max().unwrap_or(0);
            let div = if maxv > 255 { 256.0 } else { 1.0 };
            let depth: Vec<f32> = d.pixels().map(|p| p.0[0] as f32 / div).collect();
            let valid: Vec<f64> = depth
                .iter()
                .filter(|&&v| v > 0.0)
                .map(|&v| v as f64)
                .collect();
            let mean_depth = valid.iter().sum::<f64>() / valid.len().max(1) as f64;
            out.push(Sample {
                image,
                depth,
                mean_depth,
            });
        }
    }
    out
}

/// monodepth2's disp_to_depth.
pub fn sigmoid_to_depth(s: f32) -> f64 {
    1.0 / (1.0 / MAX_DEPTH + (1.0 / MIN_DEPTH - 1.0 / MAX_DEPTH) * s as f64)
}

/// Sigmoid outputs of a model on the samples (input preprocessed as for calibration).
pub fn predict(model: &Path, samples: &[Sample]) -> Vec<Vec<f32>> {
    let mut m = Model::from_file(model).unwrap();
    let pre = PreprocessSettings {
        width: 320,
        height: 192,
        ..Default::default()
    };
    let out = m.output_names()[0].clone();
    samples
        .iter()
        .map(|s| {
            let (t, _) = pre.load_input(&s.image).unwrap();
            m.run_one("rgb", &pre.input_shape(), t, &out).unwrap()
        })
        .collect()
}

/// The brief's abs_rel over pixels MIN < gt < MAX, averaged over images.
pub fn abs_rel(preds: &[Vec<f32>], samples: &[Sample]) -> f64 {
    let per: Vec<f64> = preds
        .iter()
        .zip(samples)
        .filter_map(|(p, s)| {
            let (mut sum, mut n) = (0.0, 0usize);
            for (&sg, &gt) in p.iter().zip(&s.depth) {
                let gt = gt as f64;
                if gt > MIN_DEPTH && gt < MAX_DEPTH {
                    sum += (gt - sigmoid_to_depth(sg)).abs() / gt;
                    n += 1;
                }
            }
            (n > 0).then(|| sum / n as f64)
        })
        .collect();
    per.iter().sum::<f64>() / per.len() as f64
}

/// Mean |a − b| of the decoded depth, relative to FP32 depth.
pub fn rel_depth_error(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    let mut sum = 0.0;
    let mut n = 0usize;
    for (x, y) in a.iter().zip(b) {
        for (&p, &q) in x.iter().zip(y) {
            let (dp, dq) = (sigmoid_to_depth(p), sigmoid_to_depth(q));
            sum += (dp - dq).abs() / dq;
            n += 1;
        }
    }
    sum / n as f64
}

/// Writes a calibration_split-style image list file.
pub fn image_list(dir: &Path, name: &str, samples: &[Sample]) -> PathBuf {
    let p = dir.join(name);
    let text: String = samples
        .iter()
        .map(|s| format!("{}\n", s.image.display()))
        .collect();
    std::fs::write(&p, text).unwrap();
    p
}
