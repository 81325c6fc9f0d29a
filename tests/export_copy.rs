//! The calibration image folder: seed naming, list files, link modes,
//! resumption after a kill, refusal of escaping entries, dataset untouched.

mod export_support;

use std::fs;
use std::path::Path;

use calibscope::export::{self, copy::ABORT_HOOK_ENV, LinkMode};
use calibscope::progress::Progress;
use export_support::*;

fn no_temporaries(dir: &Path) -> bool {
    fs::read_dir(dir).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(calibscope::fsutil::TMP_SUFFIX)
    })
}

#[test]
fn copy_names_like_the_seed_writes_lists_and_reruns_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ncdb");
    let rows = make_dataset(&root, 3, 4);
    let before = snapshot(&root);
    let out = tmp.path().join("calibration_images");
    let s = samples(&root, &rows);
    let rep = export::copy_images(&root, &s, &out, LinkMode::Copy, &Progress::new()).unwrap();
    assert_eq!((rep.written, rep.already_present), (12, 0));
    assert!(rep.renamed.is_empty() && rep.skipped.is_empty());
    // Seed naming, JPEG kept as JPEG.
    assert_eq!(rep.images[0].filename, "seq_00_0000000000.png");
    assert_eq!(rep.images[11].filename, "seq_02_0000000003.jpg");
    for img in &rep.images {
        assert_eq!(
            fs::read(&img.copied_path).unwrap(),
            fs::read(&img.original_path).unwrap()
        );
    }
    let list = fs::read_to_string(out.join("image_list.txt")).unwrap();
    let abs_out = std::path::absolute(&out).unwrap();
    assert_eq!(list.lines().count(), 12);
    assert_eq!(
        list.lines().next().unwrap(),
        abs_out.join("seq_00_0000000000.png").display().to_string()
    );
    assert_eq!(fs::read_to_string(out.join("dataset.txt")).unwrap(), list);
    let names = fs::read_to_string(out.join("image_filenames.txt")).unwrap();
    assert_eq!(names.lines().nth(11), Some("seq_02_0000000003.jpg"));
    let meta: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("calibration_metadata.json")).unwrap())
            .unwrap();
    assert_eq!(meta[0]["filename"], "seq_00_0000000000.png");
    assert_eq!(
        meta[0]["original_path"],
        root.join("synced_data/seq_00/image_a6/0000000000.png")
            .display()
            .to_string()
    );
    assert_eq!(
        meta[0]["copied_path"],
        out.join("seq_00_0000000000.png").display().to_string()
    );
    // Rerun: everything is already complete; nothing rewritten.
    let rep2 = export::copy_images(&root, &s, &out, LinkMode::Copy, &Progress::new()).unwrap();
    assert_eq!((rep2.written, rep2.already_present), (0, 12));
    assert!(no_temporaries(&out));
    assert_eq!(snapshot(&root), before, "the dataset was modified");
}

#[test]
fn killed_copy_leaves_no_partial_file_and_a_rerun_completes_it() {
    let fx = Fixture::new(2, 10);
    let (root, rows) = (&fx.root, &fx.rows);
    let before = snapshot(root);
    let out = fx.path("out");
    let args = [
        "copy",
        "--root",
        root.to_str().unwrap(),
        "--split",
        fx.split.to_str().unwrap(),
        "--metadata",
        fx.meta.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    // The child aborts (like a kill) after 7 files, mid-way through the 8th.
    let killed = std::process::Command::new(bin())
        .args(args)
        .env(ABORT_HOOK_ENV, "7")
        .output()
        .unwrap();
    assert!(!killed.status.success());
    let names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let finals: Vec<&String> = names.iter().filter(|n| !n.starts_with('.')).collect();
    assert_eq!(finals.len(), 7, "{names:?}");
    let temporaries = names
        .iter()
        .filter(|n| n.ends_with(".calibscope-tmp"))
        .count();
    assert_eq!(temporaries, 1, "one temporary left by the kill: {names:?}");
    // Our record names every image before any is placed.
    let tracked = fs::read_to_string(out.join(export::copy::WRITTEN_LIST)).unwrap();
    assert_eq!(tracked.lines().count(), 20, "{tracked}");
    assert!(
        !out.join("image_list.txt").exists(),
        "lists only after a complete run"
    );
    // Rerun completes, keeps the 7, removes the temporary.
    let o = calibscope(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("13 written, 7 already there"), "{text}");
    assert!(text.contains("removed 1 temporary"), "{text}");
    assert!(no_temporaries(&out));
    for r in rows {
        let name = format!(
            "{}_{}.{}",
            r.dataset_root.replace('/', "_").replace("synced_data_", ""),
            r.filename,
            if r.image_path.ends_with("jpg") {
                "jpg"
            } else {
                "png"
            }
        );
        assert_eq!(
            fs::read(out.join(&name)).unwrap(),
            fs::read(root.join(&r.image_path)).unwrap()
        );
    }
    assert_eq!(
        fs::read_to_string(out.join("image_list.txt"))
            .unwrap()
            .lines()
            .count(),
        20
    );
    assert_eq!(snapshot(root), before, "the dataset was modified");
}

#[test]
fn escaping_split_entries_are_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ncdb");
    make_dataset(&root, 1, 2);
    for (ds_root, stem, word) in [
        ("../../x", "0000000000", "dataset_root"),
        ("synced_data/seq_00", "../../x", "new_filename"),
    ] {
        let split = tmp.path().join("evil.json");
        fs::write(
            &split,
            format!(
                r#"[{{"dataset_root": "synced_data/seq_00", "new_filename": "0000000001"}},
                    {{"dataset_root": "{ds_root}", "new_filename": "{stem}"}}]"#
            ),
        )
        .unwrap();
        let out = tmp.path().join("out");
        let o = calibscope(&[
            "copy",
            "--root",
            root.to_str().unwrap(),
            "--split",
            split.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("refusing split entry") && err.contains(word),
            "{err}"
        );
        assert!(err.contains("Nothing was written"), "{err}");
        assert!(!out.exists(), "output folder created for a refused split");
        assert!(!tmp.path().join("x").exists());
    }
}

#[test]
fn colliding_names_are_both_kept_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ncdb");
    // "synced_data/a_b" and "synced_data/a/b" both name to a_b_0000000001.png.
    let mut rows = Vec::new();
    for (k, ds) in ["synced_data/a_b", "synced_data/a/b"].iter().enumerate() {
        let dir = root.join(ds).join("image_a6");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("0000000001.png"), format!("image {k}")).unwrap();
        rows.push(row(ds, "0000000001", "png", 2.0));
    }
    let out = tmp.path().join("out");
    let rep = export::copy_images(
        &root,
        &samples(&root, &rows),
        &out,
        LinkMode::Copy,
        &Progress::new(),
    )
    .unwrap();
    assert_eq!(rep.renamed.len(), 1);
    assert_eq!(rep.renamed[0].seed_name, "a_b_0000000001.png");
    assert_eq!(rep.renamed[0].name, "a_b_0000000001_2.png");
    assert_eq!(
        fs::read(out.join("a_b_0000000001.png")).unwrap(),
        b"image 0"
    );
    assert_eq!(
        fs::read(out.join("a_b_0000000001_2.png")).unwrap(),
        b"image 1"
    );
    assert!(rep.to_text().contains("renamed synced_data/a/b/0000000001"));
}

#[test]
fn hardlink_and_symlink_modes_and_missing_images() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ncdb");
    let mut rows = make_dataset(&root, 1, 3);
    rows.push(row("synced_data/seq_00", "0000000099", "png", 3.0));
    let s = samples(&root, &rows);
    let hard = tmp.path().join("hard");
    let rep = export::copy_images(&root, &s, &hard, LinkMode::Hardlink, &Progress::new()).unwrap();
    assert_eq!(rep.written, 3);
    assert_eq!(rep.skipped.len(), 1);
    assert!(
        rep.skipped[0].reason.contains("0000000099.png"),
        "{:?}",
        rep.skipped
    );
    let a = fs::metadata(&rep.images[0].copied_path).unwrap();
    let b = fs::metadata(&rep.images[0].original_path).unwrap();
    assert_eq!(a.ino(), b.ino());
    let again =
        export::copy_images(&root, &s, &hard, LinkMode::Hardlink, &Progress::new()).unwrap();
    assert_eq!(again.already_present, 3);
    // Asking for copies in the same folder replaces the links with copies.
    let copies = export::copy_images(&root, &s, &hard, LinkMode::Copy, &Progress::new()).unwrap();
    assert_eq!(copies.written, 3);
    let c = fs::metadata(&copies.images[0].copied_path).unwrap();
    assert_ne!(c.ino(), b.ino());
    assert_eq!(
        fs::read(&copies.images[0].copied_path).unwrap(),
        fs::read(&copies.images[0].original_path).unwrap()
    );

    let soft = tmp.path().join("soft");
    let rep = export::copy_images(&root, &s, &soft, LinkMode::Symlink, &Progress::new()).unwrap();
    let target = fs::read_link(&rep.images[1].copied_path).unwrap();
    assert!(target.is_absolute());
    assert_eq!(
        fs::read(&rep.images[1].copied_path).unwrap(),
        fs::read(&rep.images[1].original_path).unwrap()
    );
    // Switching an existing folder to copies replaces the links, never
    // writing through them into the dataset.
    let before = snapshot(&root);
    let rep = export::copy_images(&root, &s, &soft, LinkMode::Copy, &Progress::new()).unwrap();
    assert_eq!(rep.written, 3);
    assert!(fs::symlink_metadata(&rep.images[1].copied_path)
        .unwrap()
        .file_type()
        .is_file());
    assert_eq!(snapshot(&root), before);
}

#[test]
fn output_inside_the_dataset_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ncdb");
    let rows = make_dataset(&root, 1, 1);
    let err = export::copy_images(
        &root,
        &samples(&root, &rows),
        &root.join("calib"),
        LinkMode::Copy,
        &Progress::new(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("inside the dataset folder"),
        "{err}"
    );
    assert!(!root.join("calib").exists());
}

#[test]
fn cancel_stops_and_writes_no_lists() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ncdb");
    let rows = make_dataset(&root, 1, 5);
    let p = Progress::new();
    p.cancel();
    let out = tmp.path().join("out");
    let rep = export::copy_images(&root, &samples(&root, &rows), &out, LinkMode::Copy, &p).unwrap();
    assert!(rep.cancelled);
    assert!(rep.list_files.is_empty() && !out.join("image_list.txt").exists());
}
