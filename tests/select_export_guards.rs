//! The command line refuses what would silently go wrong: seed-format split
//! files must pin/exclude (numeric stems), a mistyped exclusion is
//! reported, an empty selection is no match and writes nothing, outputs
//! never land in the dataset, and a huge tensor size is refused before
//! anything is written.

mod export_support;

use std::fs;

use calibscope::export;
use calibscope::metadata::write_csv;
use export_support::*;

#[test]
fn seed_split_files_exclude_and_pin_by_unpadded_stems() {
    let tmp = tempfile::tempdir().unwrap();
    let rows: Vec<_> = (0..30)
        .map(|i| {
            row(
                "synced_data/seq_01",
                &format!("{i:010}"),
                "png",
                1.0 + i as f64,
            )
        })
        .collect();
    let meta = tmp.path().join("meta.csv");
    write_csv(&meta, &rows).unwrap();
    // As the seed's script writes them: "new_filename": 18.
    let ex = tmp.path().join("ex.json");
    fs::write(
        &ex,
        r#"[{"dataset_root": "synced_data/seq_01", "new_filename": 18},
            {"dataset_root": "synced_data/seq_01", "new_filename": 19}]"#,
    )
    .unwrap();
    let pin = tmp.path().join("pin.json");
    fs::write(
        &pin,
        r#"[{"dataset_root": "synced_data/seq_01", "new_filename": 3}]"#,
    )
    .unwrap();
    let out = tmp.path().join("sel/split.json");
    let o = calibscope(&[
        "select",
        "--metadata",
        meta.to_str().unwrap(),
        "--strategy",
        "random",
        "--target",
        "28",
        "--exclude-split",
        ex.to_str().unwrap(),
        "--pin-split",
        pin.to_str().unwrap(),
        "--exclude",
        "synced_data/seq_1/0000000005",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = out_err(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stdout.contains("1 excluded sample(s) are not in the metadata")
            && stdout.contains("synced_data/seq_1/0000000005"),
        "{stdout}"
    );
    let keys = export::read_split(&out).unwrap();
    let stems: Vec<&str> = keys.iter().map(|k| k.stem.as_str()).collect();
    assert_eq!(stems.len(), 28);
    assert!(!stems.contains(&"0000000018") && !stems.contains(&"0000000019"));
    assert!(stems.contains(&"0000000003"));
}

#[test]
fn empty_selection_is_no_match_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let rows: Vec<_> = (0..3)
        .map(|i| row("synced_data/seq_01", &format!("{i:010}"), "png", 2.0))
        .collect();
    let meta = tmp.path().join("meta.csv");
    write_csv(&meta, &rows).unwrap();
    let out = tmp.path().join("split.json");
    let m = meta.to_str().unwrap();
    let o = calibscope(&[
        "select",
        "--metadata",
        m,
        "--target",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (_, stderr) = out_err(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr.contains("target is 0"), "{stderr}");
    // Everything excluded: the check says there is no selection.
    let mut args = vec!["select", "--metadata", m, "--strategy", "random", "--out"];
    let o_path = out.to_str().unwrap().to_owned();
    args.push(&o_path);
    let ex: Vec<String> = rows.iter().map(|r| r.key().to_string()).collect();
    for k in &ex {
        args.extend(["--exclude", k.as_str()]);
    }
    let o = calibscope(&args);
    let (stdout, stderr) = out_err(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("no selection"), "{stdout}");
    assert!(!stdout.contains("KS 0.0000"), "{stdout}");
    assert!(stderr.contains("no sample could be chosen"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn outputs_inside_the_dataset_are_refused_before_any_write() {
    let fx = Fixture::new(1, 4);
    let root = &fx.root;
    fs::create_dir_all(root.join("splits")).unwrap();
    let own_split = root.join("splits/combined_train.json");
    fs::write(&own_split, b"[]").unwrap();
    let before = snapshot(root);
    let m = fx.meta.to_str().unwrap();
    // select --out onto the dataset's own split.
    let o = calibscope(&[
        "select",
        "--metadata",
        m,
        "--target",
        "2",
        "--out",
        own_split.to_str().unwrap(),
    ]);
    let (_, stderr) = out_err(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr.contains("inside the dataset folder"), "{stderr}");
    // export --statistics into the dataset, with and without --root.
    let inside = root.join("analysis");
    for extra in [vec![], vec!["--root", root.to_str().unwrap()]] {
        let o = fx.export(&inside, &[&["--statistics"], &extra[..]].concat());
        let (_, stderr) = out_err(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}");
        assert!(stderr.contains("inside the dataset folder"), "{stderr}");
    }
    assert_eq!(snapshot(root), before, "the dataset was modified");
}

#[test]
fn huge_tensor_size_is_refused_before_statistics_are_written() {
    let fx = Fixture::new(1, 2);
    let out = fx.path("analysis");
    let root = fx.root.to_str().unwrap();
    let huge = [
        "--root",
        root,
        "--statistics",
        "--tensors",
        "--size",
        "65536x65536",
    ];
    let o = fx.export(&out, &huge);
    let (_, stderr) = out_err(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr.contains("at most 8192"), "{stderr}");
    assert!(!out.exists(), "nothing written");
    // --tensors without --root: refused before the statistics are written.
    let o = fx.export(&out, &["--statistics", "--tensors"]);
    let (_, stderr) = out_err(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr.contains("--tensors needs --root"), "{stderr}");
    assert!(!out.exists(), "nothing written");
}

#[test]
fn repeated_split_entries_count_once_in_statistics() {
    let fx = Fixture::new(1, 3);
    let mut keys = fx.keys();
    let mut slash = keys[0].clone();
    slash.dataset_root.push('/');
    keys.extend([keys[1].clone(), slash]);
    fx.write_split(&keys);
    let out = fx.path("analysis");
    let o = fx.export(&out, &[]);
    let (stdout, stderr) = out_err(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(stdout.contains("2 split entr(ies) repeat"), "{stdout}");
    let stats: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("calibration_statistics.json")).unwrap())
            .unwrap();
    assert_eq!(stats["total_samples"], 3);
}
