//! Property tests (issue 18): every reader of user files, fed random bytes
//! and mutated valid files, returns a result or an error, never panics.
//! Case counts are bounded so the whole file runs in seconds in release.

use std::path::Path;

use calibscope::dataset::{read_split, DepthEncoding};
use calibscope::{depth, metadata, onnx, preprocess};
use proptest::prelude::*;

const CASES: u32 = 500;

/// A valid file damaged: bytes overwritten, then cut at a point, then
/// (sometimes) a random tail appended.
fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let n = base.len();
    (
        prop::collection::vec((0..n.max(1), any::<u8>()), 0..8),
        0..=n,
        prop::collection::vec(any::<u8>(), 0..32),
    )
        .prop_map(move |(edits, cut, tail)| {
            let mut b = base.clone();
            for (i, v) in edits {
                if i < b.len() {
                    b[i] = v;
                }
            }
            b.truncate(cut.max(b.len() / 2));
            if cut < n / 2 {
                b.truncate(cut);
                b.extend(tail);
            }
            b
        })
}

fn bytes_or_mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..512), mutated(base),]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn split_json() -> Vec<u8> {
    br#"[{"dataset_root": "synced_data/seq_01", "new_filename": "0000000001"},
        {"image_path": "synced_data/seq_02/image_a6/0000000002.png"},
        {"dataset_root": "", "new_filename": "x"}]"#
        .to_vec()
}

fn metadata_csv() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.csv");
    let row = metadata::SampleMeta {
        dataset_root: "synced_data/seq_01".into(),
        filename: "0000000001".into(),
        image_path: "synced_data/seq_01/image_a6/0000000001.png".into(),
        depth_path: "synced_data/seq_01/depth/0000000001.png".into(),
        depth_variant: "depth".into(),
        mean_depth: 7.5,
        median_depth: 7.0,
        min_depth: 1.0,
        max_depth: 40.0,
        std_depth: 3.0,
        p50: 7.0,
        p90: 20.0,
        p95: 30.0,
        width: 64,
        height: 32,
        scene_type: "outdoor_near".into(),
        valid_pixels: 100,
        total_pixels: 2048,
        depth_hist: vec![0.1; metadata::DEPTH_HIST_BINS],
    };
    metadata::write_csv(&p, &[row]).unwrap();
    std::fs::read(&p).unwrap()
}

fn depth_png() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 8, 4);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Sixteen);
        let mut w = enc.write_header().unwrap();
        let data: Vec<u8> = (0..32u16).flat_map(|v| (v * 300).to_be_bytes()).collect();
        w.write_image_data(&data).unwrap();
    }
    out
}

fn npy() -> Vec<u8> {
    let data: Vec<f32> = (0..12).map(|v| v as f32 * 0.25).collect();
    preprocess::write_npy_f32(&[1, 3, 2, 2], &data)
}

fn onnx_model() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/demo_model.onnx"
    ))
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn split_reader_never_panics(bytes in bytes_or_mutated(split_json())) {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "split.json", &bytes);
        let _ = read_split(dir.path(), &p);
    }

    #[test]
    fn metadata_reader_never_panics(bytes in bytes_or_mutated(metadata_csv())) {
        let dir = tempfile::tempdir().unwrap();
        let _ = metadata::read_any(&write(dir.path(), "m.csv", &bytes));
        let _ = metadata::read_any(&write(dir.path(), "m.json", &bytes));
    }

    #[test]
    fn depth_reader_never_panics(bytes in bytes_or_mutated(depth_png())) {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "d.png", &bytes);
        let _ = depth::analyse_file(&p, DepthEncoding::Auto);
        let _ = depth::load_depth(&p, DepthEncoding::Kitti);
    }

    #[test]
    fn npy_reader_never_panics(bytes in bytes_or_mutated(npy())) {
        if let Ok((shape, values)) = preprocess::parse_npy(&bytes) {
            // A result is consistent: as many finite values as the shape says.
            prop_assert_eq!(shape.iter().product::<usize>(), values.len());
            prop_assert!(values.iter().all(|v| v.is_finite()));
        }
    }
}

proptest! {
    // The demo model is 100 KB: fewer cases keep this one quick.
    #![proptest_config(ProptestConfig { cases: CASES / 2, ..ProptestConfig::default() })]

    #[test]
    fn onnx_reader_never_panics(bytes in bytes_or_mutated(onnx_model())) {
        if let Ok(m) = onnx::decode(&bytes) {
            let _ = onnx::summarize(&m);
        }
        let dir = tempfile::tempdir().unwrap();
        if let Ok(m) = onnx::load(&write(dir.path(), "m.onnx", &bytes)) {
            let _ = onnx::summarize(&m);
        }
    }
}
