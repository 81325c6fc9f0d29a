//! Prediction folders: dual-head `.npy` sub-folders and `.npz` files named
//! the `copy` way round-trip (every sample gets its own prediction back, so
//! perfect predictions score abs_rel 0), on the demo dataset whose stems
//! repeat across sequences; a stem-named folder reports repeated stems as
//! ambiguous instead of guessing; float16 / uint8 arrays decode exactly.

use std::fs;
use std::io::Write;
use std::path::Path;

use calibscope::dataset::{self, DatasetSettings};
use calibscope::demo::{self, DemoOptions};
use calibscope::evaluate::naming::copy_name;
use calibscope::evaluate::predict::read_npy_head;
use calibscope::evaluate::{
    evaluate, Decoder, DecoderKind, EvalRequest, EvalRun, PredictionSource, Progress,
};
use calibscope::preprocess::write_npy_f32;

const MAX_DEPTH: f64 = 15.0;

struct Sample {
    copy: String,
    stem: String,
    w: usize,
    h: usize,
    /// GT in metres with holes filled (5 m), so every pixel has a value.
    depth: Vec<f32>,
}

fn samples(root: &Path, split: &str) -> Vec<Sample> {
    let s = dataset::read_split(root, Path::new(split)).unwrap();
    s.entries
        .iter()
        .map(|e| {
            let r = dataset::resolve_sample(root, e, &DatasetSettings::default()).unwrap();
            let d = calibscope::depth::load_depth(&r.depth, Default::default()).unwrap();
            Sample {
                copy: copy_name(&r.key),
                stem: r.key.stem.clone(),
                w: d.width as usize,
                h: d.height as usize,
                depth: d
                    .metres
                    .iter()
                    .map(|&v| if v > 0.0 { v } else { 5.0 })
                    .collect(),
            }
        })
        .collect()
}

/// Heads whose dual-head decoding `integer·max + fractional` gives back `depth`.
fn dual_heads(s: &Sample) -> (Vec<f32>, Vec<f32>) {
    let int = s
        .depth
        .iter()
        .map(|&d| (0.5 * d as f64 / MAX_DEPTH) as f32)
        .collect();
    let frac = s.depth.iter().map(|&d| 0.5 * d).collect();
    (int, frac)
}

fn shape(i: usize, s: &Sample) -> Vec<usize> {
    match i % 3 {
        0 => vec![1, 1, s.h, s.w],
        1 => vec![1, s.h, s.w],
        _ => vec![s.h, s.w],
    }
}

fn run(root: &Path, split: &str, dir: &Path, kind: DecoderKind) -> EvalRun {
    evaluate(&request(root, split, dir, kind), &Progress::new()).unwrap()
}

fn request(root: &Path, split: &str, dir: &Path, kind: DecoderKind) -> EvalRequest {
    let mut req = EvalRequest::new(
        root.to_path_buf(),
        split.into(),
        PredictionSource::Folder {
            path: dir.to_path_buf(),
            uint8_scale: 1.0 / 255.0,
        },
    );
    req.decoder = Decoder {
        kind,
        min_depth: 0.5,
        max_depth: MAX_DEPTH,
        ..Default::default()
    };
    req
}

fn assert_perfect(run: &EvalRun, expected: usize) {
    assert_eq!(
        run.images + run.no_valid_pixels.len(),
        expected,
        "{:?}",
        run.skipped
    );
    assert!(run.skipped.is_empty(), "{:?}", run.skipped);
    for s in &run.per_sample {
        assert!(
            s.metrics.abs_rel < 1e-6 && s.metrics.a1 == 1.0,
            "{}/{}: abs_rel {} — a prediction went to the wrong sample",
            s.dataset_root,
            s.stem,
            s.metrics.abs_rel
        );
    }
}

#[test]
fn dual_head_npy_and_npz_round_trip_and_ambiguous_stems_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("demo");
    let opts = DemoOptions {
        seed: 11,
        samples: 120,
        width: 64,
        height: 40,
    };
    demo::generate(&root, &opts, &Progress::new()).unwrap();
    let split = "splits/combined_train.json";
    let all = samples(&root, split);
    let mut stems: std::collections::HashMap<&str, usize> = Default::default();
    for s in &all {
        *stems.entry(&s.stem).or_default() += 1;
    }
    let repeated = all.iter().filter(|s| stems[s.stem.as_str()] > 1).count();
    assert!(
        repeated >= 10,
        "the demo split should repeat stems ({repeated})"
    );

    // 1. Dual head: integer_sigmoid/ + fractional_sigmoid/, copy names.
    let dual = tmp.path().join("npu_dual");
    fs::create_dir_all(dual.join("integer_sigmoid")).unwrap();
    fs::create_dir_all(dual.join("fractional_sigmoid")).unwrap();
    for (i, s) in all.iter().enumerate() {
        let (a, b) = dual_heads(s);
        let n = format!("{}.npy", s.copy);
        fs::write(
            dual.join("integer_sigmoid").join(&n),
            write_npy_f32(&shape(i, s), &a),
        )
        .unwrap();
        fs::write(
            dual.join("fractional_sigmoid").join(&n),
            write_npy_f32(&shape(i, s), &b),
        )
        .unwrap();
    }
    // A stray file is listed, not used.
    fs::write(
        dual.join("integer_sigmoid/stray.npy"),
        write_npy_f32(&[2, 2], &[0.0; 4]),
    )
    .unwrap();
    let r = run(&root, split, &dual, DecoderKind::DualHead);
    assert_eq!(r.source.layout.as_deref(), Some("dual-head"));
    assert_perfect(&r, all.len());
    assert!(
        r.unmatched_files.iter().any(|f| f.contains("stray")),
        "{:?}",
        r.unmatched_files
    );
    // The suggested decoder for this layout is dual head.
    assert_eq!(
        calibscope::evaluate::predict::suggest_decoder(&dual, &Decoder::default()),
        Some(DecoderKind::DualHead)
    );

    // Cancelled (Ctrl-C / the app's Cancel): a run marked cancelled, not an error.
    let p = Progress::new();
    p.cancel();
    let c = evaluate(&request(&root, split, &dual, DecoderKind::DualHead), &p).unwrap();
    assert!(c.cancelled && c.per_sample.len() < all.len());

    // 2. .npz with both keys, copy names.
    let npz = tmp.path().join("npu_npz");
    fs::create_dir_all(&npz).unwrap();
    for (i, s) in all.iter().enumerate() {
        let (a, b) = dual_heads(s);
        let f = fs::File::create(npz.join(format!("{}.npz", s.copy))).unwrap();
        let mut z = zip::ZipWriter::new(f);
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("integer_sigmoid.npy", o).unwrap();
        z.write_all(&write_npy_f32(&shape(i, s), &a)).unwrap();
        z.start_file("fractional_sigmoid.npy", o).unwrap();
        z.write_all(&write_npy_f32(&shape(i + 1, s), &b)).unwrap();
        z.finish().unwrap();
    }
    let r2 = run(&root, split, &npz, DecoderKind::DualHead);
    assert_eq!(r2.source.layout.as_deref(), Some("npz"));
    assert_perfect(&r2, all.len());
    let keys = |r: &EvalRun| -> Vec<(String, String)> {
        r.per_sample
            .iter()
            .map(|s| (s.dataset_root.clone(), s.stem.clone()))
            .collect()
    };
    assert_eq!(keys(&r), keys(&r2));

    // 3. Single head named by stem, on a split of one whole sequence plus
    // the even stems of another: unique stems match, repeated ones are
    // ambiguous. (In the full split every stem repeats.)
    let entries: Vec<serde_json::Value> =
        serde_json::from_slice(&fs::read(root.join(split)).unwrap()).unwrap();
    let roots: Vec<String> = {
        let mut r: Vec<String> = entries
            .iter()
            .filter_map(|e| e["dataset_root"].as_str().map(String::from))
            .collect();
        r.sort();
        r.dedup();
        r
    };
    let mixed: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| {
            let (r, s) = (e["dataset_root"].as_str(), e["new_filename"].as_str());
            match (r, s) {
                (Some(r), _) if r == roots[0] => true,
                (Some(r), Some(s)) if r == roots[1] => s.parse::<u64>().unwrap() % 2 == 0,
                _ => false,
            }
        })
        .collect();
    fs::write(
        root.join("splits/mixed.json"),
        serde_json::to_vec(&mixed).unwrap(),
    )
    .unwrap();
    let mixed_split = "splits/mixed.json";
    let all = samples(&root, mixed_split);
    let mut stems: std::collections::HashMap<&str, usize> = Default::default();
    for s in &all {
        *stems.entry(&s.stem).or_default() += 1;
    }
    let repeated = all.iter().filter(|s| stems[s.stem.as_str()] > 1).count();
    let unique = all.len() - repeated;
    assert!(
        repeated >= 2 && unique >= 2,
        "{repeated} repeated, {unique} unique"
    );
    let by_stem = tmp.path().join("by_stem");
    fs::create_dir_all(&by_stem).unwrap();
    for s in &all {
        fs::write(
            by_stem.join(format!("{}.npy", s.stem)),
            write_npy_f32(&[s.h, s.w], &s.depth),
        )
        .unwrap();
    }
    let r3 = run(&root, mixed_split, &by_stem, DecoderKind::Depth);
    assert_eq!(r3.images + r3.no_valid_pixels.len(), unique);
    assert_eq!(r3.skipped.len(), repeated, "repeated stems are not guessed");
    assert!(r3
        .skipped
        .iter()
        .all(|p| p.reason.contains("no prediction file")));
    for s in &r3.per_sample {
        assert!(stems[s.stem.as_str()] == 1 && s.metrics.abs_rel < 1e-6);
    }
    let ambiguous: Vec<&String> = r3
        .unmatched_files
        .iter()
        .filter(|f| f.contains("ambiguous"))
        .collect();
    assert!(!ambiguous.is_empty(), "{:?}", r3.unmatched_files);
    assert!(ambiguous[0].contains("samples ("), "{}", ambiguous[0]);
}

#[test]
fn float16_and_uint8_arrays_decode() {
    // float16: 0.5, -2, 65504 (max), 2^-24 (smallest subnormal), 0.
    let halves: [u16; 5] = [0x3800, 0xC000, 0x7BFF, 0x0001, 0x0000];
    let mut npy = npy_header("<f2", &[1, 1, 1, 5]);
    for h in halves {
        npy.extend_from_slice(&h.to_le_bytes());
    }
    let head = read_npy_head(&npy, "x", 1.0 / 255.0).unwrap();
    assert_eq!((head.height, head.width), (1, 5));
    assert_eq!(head.values, vec![0.5, -2.0, 65504.0, 2f32.powi(-24), 0.0]);

    let mut npy = npy_header("|u1", &[3]);
    npy.extend_from_slice(&[0, 51, 255]);
    let e = read_npy_head(&npy, "x", 1.0 / 255.0).unwrap_err();
    assert!(e.contains("shape"), "{e}");
    let mut npy = npy_header("|u1", &[1, 3]);
    npy.extend_from_slice(&[0, 51, 255]);
    let head = read_npy_head(&npy, "x", 1.0 / 255.0).unwrap();
    assert_eq!(head.values, vec![0.0, 0.2, 1.0]);
}

fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    calibscope::preprocess::npy_header(descr, shape)
}
