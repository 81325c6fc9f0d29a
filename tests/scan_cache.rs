//! The incremental cache and cancellation.

use std::fs;
use std::path::{Path, PathBuf};

use calibscope::dataset::{read_split, DatasetSettings, DepthEncoding};
use calibscope::demo::{self, DemoOptions};
use calibscope::progress::Progress;
use calibscope::scan::{scan, ScanCache};

fn demo_root(dir: &Path, samples: usize) -> PathBuf {
    let root = dir.join("demo");
    let opts = DemoOptions {
        seed: 5,
        samples,
        width: 96,
        height: 64,
    };
    demo::generate(&root, &opts, &Progress::new()).unwrap();
    root
}

fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), m.len()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn rescan_reuses_unchanged_and_redoes_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = demo_root(tmp.path(), 24);
    let before = listing(&root);
    let split = read_split(&root, Path::new("splits/combined_train.json")).unwrap();
    let settings = DatasetSettings::default();
    let cache_file = tmp.path().join("cache/scan.json");

    let mut cache = ScanCache::open_at(&cache_file, &root);
    assert!(cache.take_warning().is_none());
    let first = scan(&root, &split, &settings, Some(&mut cache), &Progress::new());
    assert_eq!(first.from_cache, 0);
    cache.save().unwrap();
    assert!(cache_file.is_file());
    // The dataset is read-only to us: nothing added or changed in it.
    assert_eq!(listing(&root), before);

    let mut cache = ScanCache::open_at(&cache_file, &root);
    let second = scan(&root, &split, &settings, Some(&mut cache), &Progress::new());
    assert_eq!(second.from_cache, split.entries.len());
    assert!(
        second.rows == first.rows,
        "cached rows differ from fresh ones"
    );

    // Change one depth map: that sample alone is measured again.
    let changed = &first.rows[0];
    let path = root.join(&changed.depth_path);
    let map = calibscope::depth::load_depth(&path, DepthEncoding::Auto).unwrap();
    let halved: Vec<u8> = map
        .metres
        .iter()
        .flat_map(|m| ((m * 128.0) as u16).to_be_bytes())
        .collect();
    let mut bytes = Vec::new();
    let mut enc = png::Encoder::new(&mut bytes, map.width, map.height);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Sixteen);
    enc.write_header()
        .unwrap()
        .write_image_data(&halved)
        .unwrap();
    fs::write(&path, bytes).unwrap();
    let third = scan(&root, &split, &settings, Some(&mut cache), &Progress::new());
    assert_eq!(third.from_cache, split.entries.len() - 1);
    let mean = third.rows[0].mean_depth;
    assert!(
        (mean - changed.mean_depth / 2.0).abs() < 0.01 * changed.mean_depth,
        "{mean}"
    );
    assert!(third.rows[1..] == first.rows[1..]);

    // Another encoding is another measurement.
    let kitti = DatasetSettings {
        depth_encoding: DepthEncoding::Millimetres,
        ..settings.clone()
    };
    let fourth = scan(&root, &split, &kitti, Some(&mut cache), &Progress::new());
    assert_eq!(fourth.from_cache, 0);
}

#[test]
fn corrupt_cache_is_ignored_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let root = demo_root(tmp.path(), 12);
    let split = read_split(&root, Path::new("splits/combined_train.json")).unwrap();
    let cache_file = tmp.path().join("c.json");
    for junk in [
        &b"{\"format\": \"calibscope-scan-cache-v1\", \"entr"[..],
        b"\xff\xfe garbage",
        b"[]",
    ] {
        fs::write(&cache_file, junk).unwrap();
        let mut cache = ScanCache::open_at(&cache_file, &root);
        assert!(cache.take_warning().unwrap().contains("c.json"));
        let out = scan(
            &root,
            &split,
            &DatasetSettings::default(),
            Some(&mut cache),
            &Progress::new(),
        );
        assert_eq!(out.rows.len(), split.entries.len());
        cache.save().unwrap();
        let mut again = ScanCache::open_at(&cache_file, &root);
        assert!(again.take_warning().is_none());
        assert_eq!(again.len(), split.entries.len());
    }
}

#[test]
fn cancel_returns_what_was_finished() {
    let tmp = tempfile::tempdir().unwrap();
    let root = demo_root(tmp.path(), 24);
    let split = read_split(&root, Path::new("splits/combined_train.json")).unwrap();
    let settings = DatasetSettings::default();

    let p = Progress::new();
    p.cancel();
    let out = scan(&root, &split, &settings, None, &p);
    assert!(out.cancelled && out.rows.is_empty());

    // Cancelled from another thread mid-way: finished rows keep split order.
    let full = scan(&root, &split, &settings, None, &Progress::new());
    let p = Progress::new();
    let watcher = {
        let p = p.clone();
        std::thread::spawn(move || {
            while p.snapshot().done == 0 {
                std::thread::yield_now();
            }
            p.cancel();
        })
    };
    let out = scan(&root, &split, &settings, None, &p);
    watcher.join().unwrap();
    assert!(out.rows.len() <= full.rows.len());
    let mut it = full.rows.iter();
    for r in &out.rows {
        assert!(it.any(|f| f == r), "row out of order or changed: {r:?}");
    }
    assert_eq!(p.snapshot().total, split.len() as u64);
}
