//! Hostile data: every kind of bad sample is reported with the right reason,
//! the good samples are unaffected, and nothing panics.

use std::fs;
use std::path::Path;

use calibscope::dataset::{read_split, DatasetError, DatasetSettings, SkipReason};
use calibscope::progress::Progress;
use calibscope::scan::{scan, ScanCache};

const W: u32 = 16;
const H: u32 = 8;

fn png(path: &Path, colour: png::ColorType, bits: png::BitDepth, data: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, W, H);
    enc.set_color(colour);
    enc.set_depth(bits);
    enc.write_header().unwrap().write_image_data(data).unwrap();
    fs::write(path, out).unwrap();
}

fn rgb(path: &Path) {
    png(
        path,
        png::ColorType::Rgb,
        png::BitDepth::Eight,
        &vec![90u8; (W * H * 3) as usize],
    );
}

/// A sparse 16-bit depth map: every third pixel valid, metres × 256.
fn depth16(path: &Path, base: f32) -> Vec<u8> {
    let vals: Vec<u16> = (0..W * H)
        .map(|i| {
            if i % 3 == 0 {
                ((base + i as f32 * 0.1) * 256.0) as u16
            } else {
                0
            }
        })
        .collect();
    let be: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
    png(path, png::ColorType::Grayscale, png::BitDepth::Sixteen, &be);
    fs::read(path).unwrap()
}

fn build(root: &Path) {
    let a = root.join("seq_a");
    let s = |i: u32| format!("{i:010}");
    for i in [0, 1] {
        rgb(&a.join(format!("image_a6/{}.png", s(i))));
        depth16(
            &a.join(format!("newest_depth_maps/{}.png", s(i))),
            2.0 + i as f32,
        );
    }
    // 2: missing image
    depth16(&a.join(format!("newest_depth_maps/{}.png", s(2))), 3.0);
    // 3: missing depth
    rgb(&a.join(format!("image_a6/{}.png", s(3))));
    // 4: all-zero depth
    rgb(&a.join(format!("image_a6/{}.png", s(4))));
    png(
        &a.join(format!("depth_maps/{}.png", s(4))),
        png::ColorType::Grayscale,
        png::BitDepth::Sixteen,
        &vec![0u8; (W * H * 2) as usize],
    );
    // 5: 8-bit depth (loads: values are metres under the seed's rule)
    rgb(&a.join(format!("image_a6/{}.png", s(5))));
    let v8: Vec<u8> = (0..W * H).map(|i| (i % 7) as u8 * 3).collect();
    png(
        &a.join(format!("new_depth_maps/{}.png", s(5))),
        png::ColorType::Grayscale,
        png::BitDepth::Eight,
        &v8,
    );
    // 6: corrupt depth PNG
    rgb(&a.join(format!("image_a6/{}.png", s(6))));
    let mut bad = depth16(&a.join(format!("newest_depth_maps/{}.png", s(6))), 5.0);
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 4] {
        *b ^= 0x5a;
    }
    fs::write(a.join(format!("newest_depth_maps/{}.png", s(6))), &bad).unwrap();
    // 7: truncated depth PNG
    rgb(&a.join(format!("image_a6/{}.png", s(7))));
    let full = depth16(&a.join("scratch.png"), 4.0);
    fs::write(
        a.join(format!("newest_depth_maps/{}.png", s(7))),
        &full[..full.len() / 2],
    )
    .unwrap();
    // 8: JPEG image
    let img = image::RgbImage::from_pixel(W, H, image::Rgb([10, 200, 30]));
    img.save(a.join(format!("image_a6/{}.jpg", s(8)))).unwrap();
    depth16(&a.join(format!("newest_depth_maps/{}.png", s(8))), 6.0);
    // 9: unreadable RGB image
    fs::write(a.join(format!("image_a6/{}.png", s(9))), b"not an image").unwrap();
    depth16(&a.join(format!("newest_depth_maps/{}.png", s(9))), 6.0);
    // 10: colour PNG as depth
    rgb(&a.join(format!("image_a6/{}.png", s(10))));
    rgb(&a.join(format!("newest_depth_maps/{}.png", s(10))));
    // The same stem in another sequence is another sample.
    rgb(&root.join("seq_b/image_a6/0000000000.png"));
    depth16(&root.join("seq_b/newest_depth_maps/0000000000.png"), 9.0);
}

const SPLIT: &str = r#"[
  {"dataset_root": "seq_a", "new_filename": "0000000000", "a5_original_path": "/x"},
  {"dataset_root": "seq_a", "new_filename": "0000000001"},
  {"dataset_root": "seq_a", "new_filename": "0000000002"},
  {"dataset_root": "seq_a", "new_filename": "0000000003"},
  {"dataset_root": "seq_a", "new_filename": "0000000004"},
  {"dataset_root": "seq_a", "new_filename": "0000000005"},
  {"dataset_root": "seq_a", "new_filename": "0000000006"},
  {"dataset_root": "seq_a", "new_filename": "0000000007"},
  {"dataset_root": "seq_a", "new_filename": "0000000008"},
  {"dataset_root": "seq_a"},
  {"dataset_root": "../outside", "new_filename": "0000000000"},
  {"dataset_root": "seq_a", "new_filename": "0000000009"},
  {"dataset_root": "seq_a", "new_filename": "0000000010"},
  {"dataset_root": "seq_b", "new_filename": "0000000000"},
  42
]"#;

#[test]
fn every_bad_sample_reported_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    build(&root);
    // A real sample outside the root, reached with `..`.
    rgb(&dir.path().join("outside/image_a6/0000000000.png"));
    depth16(
        &dir.path().join("outside/newest_depth_maps/0000000000.png"),
        1.0,
    );
    fs::write(root.join("split.json"), SPLIT).unwrap();

    let settings = DatasetSettings::default();
    let split = read_split(&root, Path::new("split.json")).unwrap();
    let out = scan(&root, &split, &settings, None, &Progress::new());
    assert!(!out.cancelled);

    let reasons: Vec<(usize, SkipReason)> =
        out.skipped.iter().map(|s| (s.index, s.reason)).collect();
    assert_eq!(
        reasons,
        [
            (2, SkipReason::MissingImage),
            (3, SkipReason::MissingDepth),
            (4, SkipReason::NoValidPixels),
            (6, SkipReason::CorruptDepth),
            (7, SkipReason::TruncatedDepth),
            (9, SkipReason::MalformedEntry),
            (10, SkipReason::RefusedPath),
            (11, SkipReason::UnreadableImage),
            (12, SkipReason::UnsupportedDepth),
            (14, SkipReason::MalformedEntry),
        ]
    );
    for s in &out.skipped {
        assert!(!s.detail.is_empty(), "{s:?}");
    }
    assert!(
        out.skipped[4].detail.contains("0000000007.png"),
        "{}",
        out.skipped[4].detail
    );

    let keys: Vec<String> = out
        .rows
        .iter()
        .map(|r| format!("{}/{}", r.dataset_root, r.filename))
        .collect();
    assert_eq!(
        keys,
        [
            "seq_a/0000000000",
            "seq_a/0000000001",
            "seq_a/0000000005",
            "seq_a/0000000008",
            "seq_b/0000000000"
        ]
    );
    let r8 = &out.rows[3];
    assert_eq!(r8.image_path, "seq_a/image_a6/0000000008.jpg");
    assert_eq!((r8.width, r8.height), (W, H));
    // 8-bit depth: values 3..18 stored as metres (max ≤ 255: no division).
    let r5 = &out.rows[2];
    assert_eq!(
        (r5.min_depth, r5.max_depth, r5.depth_variant.as_str()),
        (3.0, 18.0, "new_depth_maps")
    );

    // Good samples are unaffected by the bad ones around them.
    fs::write(
        root.join("good.json"),
        r#"[{"dataset_root": "seq_a", "new_filename": "0000000000"},
            {"dataset_root": "seq_a", "new_filename": "0000000001"},
            {"dataset_root": "seq_a", "new_filename": "0000000005"},
            {"dataset_root": "seq_a", "new_filename": "0000000008"},
            {"dataset_root": "seq_b", "new_filename": "0000000000"}]"#,
    )
    .unwrap();
    let good = read_split(&root, Path::new("good.json")).unwrap();
    let clean = scan(&root, &good, &settings, None, &Progress::new());
    assert_eq!(clean.rows, out.rows);
    assert!(clean.skipped.is_empty());

    // Allowing absolute roots admits the `..` entry.
    let mut lax = settings.clone();
    lax.allow_absolute_roots = true;
    let cache = &mut ScanCache::in_memory();
    let out2 = scan(&root, &split, &lax, Some(cache), &Progress::new());
    assert!(out2.rows.iter().any(|r| r.dataset_root == "../outside"));
}

#[test]
fn unusable_split_files_are_errors_and_empty_split_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join("obj.json"),
        r#"{"dataset_root": "a", "new_filename": "1"}"#,
    )
    .unwrap();
    fs::write(root.join("empty.json"), "[]").unwrap();
    fs::write(root.join("broken.json"), "[{\"a\": ").unwrap();
    match read_split(root, Path::new("obj.json")) {
        Err(e @ DatasetError::NotAList { .. }) => assert!(e.to_string().contains("obj.json")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        read_split(root, Path::new("broken.json")),
        Err(DatasetError::NotJson { .. })
    ));
    let empty = read_split(root, Path::new("empty.json")).unwrap();
    let out = scan(
        root,
        &empty,
        &DatasetSettings::default(),
        None,
        &Progress::new(),
    );
    assert!(out.rows.is_empty() && out.skipped.is_empty() && !out.cancelled);
}
