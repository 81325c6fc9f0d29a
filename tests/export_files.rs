//! `calibscope export`: calibration_statistics.json checked against pandas
//! (joined by dataset_root and stem), .npy tensors checked with numpy, and
//! the split file's seed format.

mod export_support;

use std::fs;
use std::process::Command;

use calibscope::export;
use export_support::*;

#[test]
fn statistics_match_pandas_on_the_keyed_join() {
    let fx = Fixture::new(3, 6);
    let (meta, split) = (&fx.meta, &fx.split);
    // Every stem of sequence 0 plus two of sequence 2: stems repeat, so a
    // join by stem alone (the seed's) would also count sequence 1 and 2.
    let keys: Vec<_> = fx.rows[..6]
        .iter()
        .chain(&fx.rows[12..14])
        .map(|r| r.key())
        .collect();
    fx.write_split(&keys);
    let out = fx.path("analysis");
    let o = fx.export(&out, &["--statistics"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let path = out.join("calibration_statistics.json");
    let ours: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(ours["total_samples"], 8);
    let Some(py) = python_with(&["numpy", "pandas"], "statistics parity") else {
        return;
    };
    let script = r#"
import json, sys
import pandas as pd
full = pd.read_csv(sys.argv[1], dtype={'filename': str})
keys = pd.DataFrame(json.load(open(sys.argv[2])))
calib = full.merge(keys, left_on=['dataset_root', 'filename'], right_on=['dataset_root', 'new_filename'])
stats = {
    'mean': calib['mean_depth'].mean(), 'median': calib['median_depth'].median(),
    'std': calib['mean_depth'].std(), 'min': calib['min_depth'].min(), 'max': calib['max_depth'].max(),
    'p25': calib['mean_depth'].quantile(0.25), 'p50': calib['mean_depth'].quantile(0.50),
    'p75': calib['mean_depth'].quantile(0.75), 'p90': calib['mean_depth'].quantile(0.90),
    'p95': calib['mean_depth'].quantile(0.95),
}
by_stem = full[full['filename'].isin(set(keys['new_filename']))]
print(json.dumps({
    'total_samples': len(calib), 'depth_statistics': {k: float(v) for k, v in stats.items()},
    'scene_type_distribution': {k: int(v) for k, v in calib['scene_type'].value_counts().items()},
    'depth_variant_distribution': {k: int(v) for k, v in calib['depth_variant'].value_counts().items()},
    'stem_only_join_rows': len(by_stem),
}))
"#;
    let o = Command::new(py)
        .args([
            "-c",
            script,
            meta.to_str().unwrap(),
            split.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ours["total_samples"], want["total_samples"]);
    assert_eq!(
        want["stem_only_join_rows"], 18,
        "the seed's stem join over-counts"
    );
    for k in [
        "mean", "median", "std", "min", "max", "p25", "p50", "p75", "p90", "p95",
    ] {
        let (a, b) = (
            ours["depth_statistics"][k].as_f64().unwrap(),
            want["depth_statistics"][k].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() <= 1e-12 * b.abs().max(1.0),
            "{k}: ours {a}, pandas {b}"
        );
    }
    assert_eq!(
        ours["scene_type_distribution"],
        want["scene_type_distribution"]
    );
    assert_eq!(
        ours["depth_variant_distribution"],
        want["depth_variant_distribution"]
    );
}

#[test]
fn tensors_are_valid_npy_nchw_rgb_in_unit_range() {
    let fx = Fixture::new(2, 2);
    let out = fx.path("tensors");
    let root = fx.root.to_str().unwrap();
    let o = fx.export(&out, &["--tensors", "--size", "16x8", "--root", root]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let list = fs::read_to_string(out.join("tensor_list.txt")).unwrap();
    assert_eq!(list.lines().count(), 4);
    let first = out.join("seq_00_0000000000.npy");
    let bytes = fs::read(&first).unwrap();
    let header = export::tensors::npy_header(&[1, 3, 8, 16]);
    assert_eq!(&bytes[..header.len()], &header[..]);
    assert_eq!(bytes.len(), header.len() + 3 * 8 * 16 * 4);
    // The PNG is exactly 16x8, so values are the pixels / 255: pixel (x=3, y=2)
    // of sequence 0, sample 0 is (45, 60, 0).
    let at = |c: usize, y: usize, x: usize| {
        let o = header.len() + 4 * (c * 128 + y * 16 + x);
        f32::from_le_bytes(bytes[o..o + 4].try_into().unwrap())
    };
    assert_eq!(
        [at(0, 2, 3), at(1, 2, 3), at(2, 2, 3)],
        [45.0 / 255.0, 60.0 / 255.0, 0.0]
    );
    let Some(py) = python_with(&["numpy"], "npy check") else {
        return;
    };
    let script = r#"
import sys, numpy as np
a = np.load(sys.argv[1])
assert a.dtype == np.float32 and a.shape == (1, 3, 8, 16), (a.dtype, a.shape)
assert 0.0 <= a.min() and a.max() <= 1.0
print(repr(float(a[0, 0, 2, 3])), repr(float(a[0, 1, 2, 3])))
"#;
    let o = Command::new(py)
        .args(["-c", script, first.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        printed.trim(),
        format!(
            "{:?} {:?}",
            (45.0f32 / 255.0) as f64,
            (60.0f32 / 255.0) as f64
        )
    );
}

/// `--bgr --layout nhwc` reach the tensors: shape [1,H,W,3], channels B,G,R.
#[test]
fn tensor_flags_set_channel_order_and_layout() {
    let fx = Fixture::new(1, 1);
    let out = fx.path("tensors");
    let root = fx.root.to_str().unwrap();
    let o = fx.export(
        &out,
        &[
            "--tensors",
            "--size",
            "16x8",
            "--bgr",
            "--layout",
            "nhwc",
            "--root",
            root,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("[1, 8, 16, 3]"));
    let bytes = fs::read(out.join("seq_00_0000000000.npy")).unwrap();
    let header = export::tensors::npy_header(&[1, 8, 16, 3]);
    assert_eq!(&bytes[..header.len()], &header[..]);
    // Pixel (x=3, y=2) is RGB (45, 60, 0): stored B, G, R.
    let at = |i: usize| {
        let o = header.len() + 4 * i;
        f32::from_le_bytes(bytes[o..o + 4].try_into().unwrap())
    };
    let px = (2 * 16 + 3) * 3;
    assert_eq!(
        [at(px), at(px + 1), at(px + 2)],
        [0.0, 60.0 / 255.0, 45.0 / 255.0]
    );
}

#[test]
fn split_file_is_the_seed_format_and_reads_the_seeds_numeric_stems() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ncdb");
    let rows = make_dataset(&root, 2, 2);
    let p = tmp.path().join("calibration_split.json");
    export::write_split(&p, &[rows[0].key()]).unwrap();
    assert_eq!(
        fs::read_to_string(&p).unwrap(),
        "[\n  {\n    \"dataset_root\": \"synced_data/seq_00\",\n    \"new_filename\": \"0000000000\"\n  }\n]"
    );
    // The seed writes stems read by pandas as integers: 1 for 0000000001.
    fs::write(
        &p,
        r#"[{"dataset_root": "synced_data/seq_01", "new_filename": 1}]"#,
    )
    .unwrap();
    let keys = export::read_split(&p).unwrap();
    let (idx, missing) = export::match_rows(&rows, &keys);
    assert!(missing.is_empty());
    assert_eq!(rows[idx[0]].key(), rows[3].key());
    // Without metadata the image is probed, padded to 10 digits, JPEG found.
    let probed = export::ExportSample::probe(&root, &keys[0]);
    assert_eq!(probed.key, rows[3].key());
    assert_eq!(
        probed.image,
        root.join("synced_data/seq_01/image_a6/0000000001.jpg")
    );
}
