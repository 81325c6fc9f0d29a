//! Running `copy` again: the folder keeps matching the selection, a wrong
//! `--root` or a skipped sample never shrinks the lists, files we did not
//! write stop the copy, repeated samples are placed once, absolute roots
//! need the flag, and one unplaceable sample is skipped, not fatal.

mod export_support;

use std::fs;
use std::path::Path;

use calibscope::export::{self, CopyOptions, ExportSample, LinkMode};
use calibscope::metadata::SampleKey;
use calibscope::progress::Progress;
use export_support::*;

fn images_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png") || n.ends_with(".jpg"))
        .collect();
    v.sort();
    v
}

fn lines(p: &Path) -> usize {
    fs::read_to_string(p).unwrap().lines().count()
}

fn copy(root: &Path, split: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "copy",
        "--root",
        root.to_str().unwrap(),
        "--split",
        split.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    calibscope(&args)
}

#[test]
fn rerun_with_another_selection_leaves_exactly_the_new_images() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ncdb");
    let rows = make_dataset(&root, 2, 10);
    let out = tmp.path().join("calib");
    let s = samples(&root, &rows);
    let first = export::copy_images(&root, &s, &out, LinkMode::Copy, &Progress::new()).unwrap();
    assert_eq!(first.images.len(), 20);
    // A new selection of 8, half of them new to the folder: 12 images go.
    let second =
        export::copy_images(&root, &s[6..14], &out, LinkMode::Copy, &Progress::new()).unwrap();
    assert_eq!(second.removed.len(), 12, "{:?}", second.removed);
    assert!(second.not_in_selection.is_empty());
    assert!(second.to_text().contains("removed 12 image(s)"));
    let want: Vec<String> = {
        let mut v: Vec<String> = second.images.iter().map(|i| i.filename.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(images_in(&out), want);
    assert_eq!(lines(&out.join("image_list.txt")), 8);
    assert_eq!(lines(&out.join("dataset.txt")), 8);
    // A folder written by the seed's script (or an older calibscope) is
    // known through its calibration_metadata.json.
    fs::remove_file(out.join(export::copy::WRITTEN_LIST)).unwrap();
    let third =
        export::copy_images(&root, &s[..2], &out, LinkMode::Copy, &Progress::new()).unwrap();
    assert_eq!(third.removed.len(), 8);
    assert_eq!(images_in(&out).len(), 2);
}

#[test]
fn files_we_did_not_write_stop_the_copy_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ncdb");
    let rows = make_dataset(&root, 1, 4);
    let out = tmp.path().join("calib");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("my_own.png"), b"not ours").unwrap();
    let s = samples(&root, &rows);
    let e = export::copy_images(&root, &s, &out, LinkMode::Copy, &Progress::new()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("my_own.png") && msg.contains("--allow-other-files"),
        "{msg}"
    );
    assert_eq!(images_in(&out), ["my_own.png"], "nothing written");
    let opts = CopyOptions {
        allow_other_files: true,
        ..CopyOptions::default()
    };
    let rep = export::copy_images(&root, &s, &out, opts, &Progress::new()).unwrap();
    assert_eq!(rep.images.len(), 4);
    assert_eq!(rep.not_in_selection, ["my_own.png"]);
    assert_eq!(fs::read(out.join("my_own.png")).unwrap(), b"not ours");
    // A rerun with fewer samples removes ours only.
    let rep = export::copy_images(&root, &s[..1], &out, opts, &Progress::new()).unwrap();
    assert_eq!(rep.removed.len(), 3);
    assert!(out.join("my_own.png").exists());
}

#[test]
fn wrong_root_or_skipped_samples_never_shrink_the_lists() {
    let fx = Fixture::new(1, 6);
    let (root, rows, split) = (&fx.root, &fx.rows, &fx.split);
    let tmp = &fx.tmp;
    let out = tmp.path().join("calib");
    let o = copy(root, split, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let good = fs::read(out.join("image_list.txt")).unwrap();
    let good_meta = fs::read(out.join("calibration_metadata.json")).unwrap();

    // A mistyped --root is refused before anything is touched.
    let o = copy(&tmp.path().join("nope"), split, &out, &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("does not exist") && err.contains("--root"),
        "{err}"
    );
    assert_eq!(fs::read(out.join("image_list.txt")).unwrap(), good);

    // A root that exists but lacks one image: that sample is skipped, the
    // others are checked, and the previous lists and images stay.
    let other = tmp.path().join("other");
    make_dataset(&other, 1, 6);
    fs::remove_file(other.join(&rows[2].image_path)).unwrap();
    let o = copy(&other, split, &out, &[]);
    assert!(!o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("list files not written"), "{text}");
    assert_eq!(fs::read(out.join("image_list.txt")).unwrap(), good);
    assert_eq!(
        fs::read(out.join("calibration_metadata.json")).unwrap(),
        good_meta
    );
    assert_eq!(
        images_in(&out).len(),
        6,
        "every listed image is still there"
    );
}

#[test]
fn repeated_samples_are_placed_once() {
    let fx = Fixture::new(1, 3);
    let (root, split, tmp) = (&fx.root, &fx.split, &fx.tmp);
    let mut keys = fx.keys();
    keys.push(keys[0].clone());
    let mut slash = keys[1].clone();
    slash.dataset_root.push('/');
    keys.push(slash);
    fx.write_split(&keys);
    let out = tmp.path().join("calib");
    let o = copy(root, split, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("2 sample(s) are listed more than once"),
        "{text}"
    );
    assert_eq!(images_in(&out).len(), 3);
    assert_eq!(lines(&out.join("image_list.txt")), 3);
}

#[test]
fn absolute_dataset_roots_need_the_flag() {
    let fx = Fixture::new(1, 2);
    let (root, rows, split, tmp) = (&fx.root, &fx.rows, &fx.split, &fx.tmp);
    let abs_root = root.join(&rows[0].dataset_root);
    fx.write_split(&[SampleKey {
        dataset_root: abs_root.to_str().unwrap().to_owned(),
        stem: rows[0].filename.clone(),
    }]);
    let out = tmp.path().join("calib");
    let o = copy(root, split, &out, &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--allow-absolute-roots"), "{err}");
    assert!(!out.exists(), "nothing written");
    let o = copy(root, split, &out, &["--allow-absolute-roots"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(images_in(&out).len(), 1);
}

#[test]
fn a_sample_that_cannot_be_placed_is_skipped_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ncdb");
    let rows = make_dataset(&root, 1, 2);
    // A 260-character stem: its output name exceeds the 255-byte limit.
    let long = "7".repeat(260);
    let seq = root.join(&rows[0].dataset_root).join("image_a6");
    let mut s = samples(&root, &rows);
    let img = seq.join("long.png");
    fs::copy(&s[0].image, &img).unwrap();
    s.push(ExportSample {
        key: SampleKey {
            dataset_root: rows[0].dataset_root.clone(),
            stem: long,
        },
        image: img,
    });
    let out = tmp.path().join("calib");
    let rep = export::copy_images(&root, &s, &out, LinkMode::Copy, &Progress::new()).unwrap();
    assert_eq!(rep.images.len(), 2);
    assert_eq!(rep.skipped.len(), 1, "{:?}", rep.skipped);
    assert!(
        rep.skipped[0].reason.contains("cannot place"),
        "{:?}",
        rep.skipped
    );
    assert!(rep.list_files.is_empty());
}
