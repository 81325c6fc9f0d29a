//! One rule for where a sample is and what it is called (issue 17), and
//! for reading nothing outside the dataset root (issue 18 items 5 and 6):
//! `scan`, `copy`, `export` and `ptq` accept the same split paths, stems and
//! image folders; `ptq` refuses entries outside the root; symbolic links
//! leading out of the root are refused unless the user opts in; `.npy`
//! tensors of exactly the model's input shape are fed as they are.

mod ptq_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use calibscope::onnx::{self, proto};
use ptq_support::{demo_model, setup};

fn exe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_calibscope"))
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write_image(p: &Path, seed: u32) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    let img = image::RgbImage::from_fn(40, 24, |x, y| {
        image::Rgb([
            (x * 6 + seed * 17) as u8,
            (y * 9 + seed * 5) as u8,
            ((x + y) * 3) as u8,
        ])
    });
    img.save(p).unwrap();
}

fn write_depth(p: &Path) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    let d = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(40, 24, |x, y| {
        image::Luma([256 * (2 + (x + y) as u16 % 20)])
    });
    d.save(p).unwrap();
}

/// `seq/<image folder>/<10-digit stem>.png` and its depth map, for stems 1..=n.
fn make_sequence(seq: &Path, image_folder: &str, n: u32) {
    for i in 1..=n {
        let stem = format!("{i:010}");
        write_image(&seq.join(image_folder).join(format!("{stem}.png")), i);
        write_depth(&seq.join("depth_maps").join(format!("{stem}.png")));
    }
}

fn write_split(p: &Path, json: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, json).unwrap();
}

fn ptq(cwd: &Path, out: &Path, args: &[&str]) -> Output {
    exe()
        .current_dir(cwd)
        .arg("ptq")
        .arg("--model")
        .arg(demo_model())
        .args(args)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

const SPLIT3: &str = r#"[{"dataset_root": "synced_data/seq_a", "new_filename": "0000000001"},
 {"dataset_root": "synced_data/seq_a", "new_filename": "0000000002"},
 {"dataset_root": "synced_data/seq_a", "new_filename": "0000000003"}]"#;

#[test]
fn ptq_finds_the_split_under_the_root_like_scan() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("ncdb");
    make_sequence(&root.join("synced_data/seq_a"), "image_a6", 3);
    write_split(&root.join("splits/train_split.json"), SPLIT3);
    let elsewhere = t.path().join("work");
    fs::create_dir_all(&elsewhere).unwrap();
    let root_s = root.to_str().unwrap();
    let r = exe()
        .current_dir(&elsewhere)
        .args([
            "scan",
            "--root",
            root_s,
            "--split",
            "splits/train_split.json",
        ])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", text(&r));
    let out = elsewhere.join("q/m_int8.onnx");
    let r = ptq(
        &elsewhere,
        &out,
        &["--split", "splits/train_split.json", "--root", root_s],
    );
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("3 inputs"), "{}", text(&r));
    assert!(out.exists());
}

#[test]
fn ptq_honours_the_image_folder() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("ncdb");
    make_sequence(&root.join("synced_data/seq_a"), "rgb", 3);
    let split = root.join("splits/train_split.json");
    write_split(&split, SPLIT3);
    let out = t.path().join("q/m_int8.onnx");
    let args = [
        "--split",
        split.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ];
    // Without the folder the images are not where the seed's layout says.
    let r = ptq(t.path(), &out, &args);
    assert!(!r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("image_a6"), "{}", text(&r));
    let mut with_folder = args.to_vec();
    with_folder.extend(["--image-folder", "rgb"]);
    let r = ptq(t.path(), &out, &with_folder);
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("3 inputs"), "{}", text(&r));
}

/// The seed's own `calibration_split.json` (stems as numbers without their
/// zero padding, `seq/` spelled with a slash), given relative to the root,
/// images in a non-default folder: every command reads it alike.
#[test]
fn scan_copy_export_and_ptq_accept_the_same_split() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("ncdb");
    make_sequence(&root.join("synced_data/seq_a"), "rgb", 4);
    write_split(
        &root.join("splits/calibration_split.json"),
        r#"[{"dataset_root": "synced_data/seq_a/", "new_filename": 1},
            {"dataset_root": "synced_data/seq_a", "new_filename": 3},
            {"dataset_root": "synced_data/seq_a", "new_filename": "0000000004"}]"#,
    );
    let work = t.path().join("work");
    fs::create_dir_all(&work).unwrap();
    let root_s = root.to_str().unwrap();
    let common = ["--root", root_s, "--split", "splits/calibration_split.json"];

    let r = exe()
        .current_dir(&work)
        .arg("scan")
        .args(common)
        .args(["--image-folder", "rgb", "--json", "meta.json"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", text(&r));
    let meta: serde_json::Value =
        serde_json::from_slice(&fs::read(work.join("meta.json")).unwrap()).unwrap();
    let rows = meta["samples"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{}", text(&r));
    assert_eq!(
        rows[1]["image_path"],
        "synced_data/seq_a/rgb/0000000003.png"
    );

    let r = exe()
        .current_dir(&work)
        .arg("copy")
        .args(common)
        .args(["--image-folder", "rgb", "--out", "copied"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", text(&r));
    let list = fs::read_to_string(work.join("copied/image_list.txt")).unwrap();
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(list.contains("seq_a_0000000003.png"), "{list}");

    // The image folder comes from the metadata JSON the scan wrote.
    let r = exe()
        .current_dir(&work)
        .arg("export")
        .args(common)
        .args([
            "--metadata",
            "meta.json",
            "--tensors",
            "--size",
            "32x16",
            "--out",
            "tensors",
        ])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", text(&r));
    let npy = fs::read_dir(work.join("tensors"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "npy"))
        .count();
    assert_eq!(npy, 3);

    let out = work.join("q/m_int8.onnx");
    let mut args = common.to_vec();
    args.extend(["--image-folder", "rgb"]);
    let r = ptq(&work, &out, &args);
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("3 inputs"), "{}", text(&r));

    // eval reads the same split with the same options, and takes the
    // depth-folder list as scan does.
    let eval = |extra: &[&str], out: &str| {
        let r = exe()
            .current_dir(&work)
            .env("CALIBSCOPE_HOME", work.join("home"))
            .arg("eval")
            .args(common)
            .args(["--model", demo_model().to_str().unwrap(), "--out", out])
            .args(extra)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", text(&r));
        let run: serde_json::Value =
            serde_json::from_slice(&fs::read(work.join(out)).unwrap()).unwrap();
        run["per_sample"].as_array().unwrap().len()
    };
    assert_eq!(eval(&["--image-folder", "rgb"], "run.json"), 3);
    fs::rename(
        root.join("synced_data/seq_a/depth_maps"),
        root.join("synced_data/seq_a/newest_original_depth_maps"),
    )
    .unwrap();
    assert_eq!(
        eval(
            &[
                "--image-folder",
                "rgb",
                "--depth-folder",
                "newest_original_depth_maps"
            ],
            "run2.json"
        ),
        3
    );
}

#[test]
fn ptq_refuses_entries_outside_the_root_unless_allowed() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("ncdb");
    make_sequence(&root.join("synced_data/seq_a"), "image_a6", 1);
    make_sequence(&t.path().join("outside/seq"), "image_a6", 1);
    let root_s = root.to_str().unwrap();
    let out = t.path().join("q/m_int8.onnx");
    for (name, json) in [
        (
            "root.json",
            r#"[{"dataset_root": "../outside/seq", "new_filename": "0000000001"}]"#,
        ),
        (
            "stem.json",
            r#"[{"dataset_root": "synced_data/seq_a", "new_filename": "../../../outside/seq/image_a6/0000000001"}]"#,
        ),
    ] {
        let split = root.join(name);
        write_split(&split, json);
        let r = ptq(t.path(), &out, &["--split", name, "--root", root_s]);
        assert!(!r.status.success(), "{name}: {}", text(&r));
        let e = text(&r);
        assert!(
            e.contains("outside the dataset root") || e.contains("not a plain file name"),
            "{name}: {e}"
        );
        assert!(!out.exists());
    }
    let r = ptq(
        t.path(),
        &out,
        &[
            "--split",
            "root.json",
            "--root",
            root_s,
            "--allow-absolute-roots",
        ],
    );
    assert!(r.status.success(), "{}", text(&r));
}

#[cfg(unix)]
#[test]
fn symbolic_links_out_of_the_root_are_refused_unless_allowed() {
    setup();
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("ncdb");
    // Ten samples, so the scan lists the folder (the fast path) too.
    make_sequence(&root.join("synced_data/seq_a"), "image_a6", 10);
    let secret = t.path().join("elsewhere/secret.png");
    write_image(&secret, 99);
    let linked = root.join("synced_data/seq_a/image_a6/0000000002.png");
    fs::remove_file(&linked).unwrap();
    std::os::unix::fs::symlink(&secret, &linked).unwrap();
    // A link that stays inside the dataset is fine.
    let inside = root.join("synced_data/seq_a/image_a6/0000000003.png");
    let copy3 = root.join("synced_data/seq_a/image_a6/original_3.png");
    fs::rename(&inside, &copy3).unwrap();
    std::os::unix::fs::symlink(&copy3, &inside).unwrap();
    // A whole sequence linked in from another disk.
    make_sequence(&t.path().join("other_disk/seq_b"), "image_a6", 9);
    std::os::unix::fs::symlink(
        t.path().join("other_disk/seq_b"),
        root.join("synced_data/seq_b"),
    )
    .unwrap();
    let mut entries: Vec<String> = (1..=10)
        .map(|i| format!(r#"{{"dataset_root": "synced_data/seq_a", "new_filename": "{i:010}"}}"#))
        .collect();
    entries.extend(
        (1..=9).map(|i| {
            format!(r#"{{"dataset_root": "synced_data/seq_b", "new_filename": "{i:010}"}}"#)
        }),
    );
    write_split(
        &root.join("train.json"),
        &format!("[{}]", entries.join(",")),
    );
    let root_s = root.to_str().unwrap();
    let work = t.path().join("work");
    fs::create_dir_all(&work).unwrap();

    // scan: the two escaping kinds are skipped as refused paths.
    let scan = |extra: &[&str]| {
        let r = exe()
            .current_dir(&work)
            .args(["scan", "--root", root_s, "--split", "train.json"])
            .args(["--json", "meta.json", "--no-cache"])
            .args(extra)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", text(&r));
        let m: serde_json::Value =
            serde_json::from_slice(&fs::read(work.join("meta.json")).unwrap()).unwrap();
        let skipped = fs::read_to_string(work.join("meta.skipped.csv")).unwrap_or_default();
        (m["samples"].as_array().unwrap().len(), skipped)
    };
    let (rows, skipped) = scan(&[]);
    assert_eq!(rows, 9, "{skipped}");
    assert!(skipped.contains("refused_path"), "{skipped}");
    assert!(skipped.contains("0000000002"), "{skipped}");
    assert_eq!(skipped.matches("refused_path").count(), 10, "{skipped}");
    let (rows, _) = scan(&["--allow-absolute-roots"]);
    assert_eq!(rows, 19);

    // copy and ptq refuse the run, saying how to opt in.
    let copy = |extra: &[&str]| {
        exe()
            .current_dir(&work)
            .args(["copy", "--root", root_s, "--split", "train.json"])
            .args(["--out", "copied"])
            .args(extra)
            .output()
            .unwrap()
    };
    let r = copy(&[]);
    assert!(!r.status.success(), "{}", text(&r));
    let e = text(&r);
    assert!(
        e.contains("linked in from another disk") && e.contains("--allow-absolute-roots"),
        "{e}"
    );
    assert!(!work.join("copied/image_list.txt").exists());
    let out = work.join("q/m_int8.onnx");
    let r = ptq(&work, &out, &["--split", "train.json", "--root", root_s]);
    assert!(!r.status.success(), "{}", text(&r));
    assert!(
        text(&r).contains("linked in from another disk"),
        "{}",
        text(&r)
    );
    assert!(!out.exists());

    let r = copy(&["--allow-absolute-roots"]);
    assert!(r.status.success(), "{}", text(&r));
    assert_eq!(
        fs::read(work.join("copied/seq_a_0000000002.png")).unwrap(),
        fs::read(&secret).unwrap()
    );
    let r = ptq(
        &work,
        &out,
        &[
            "--split",
            "train.json",
            "--root",
            root_s,
            "--allow-absolute-roots",
        ],
    );
    assert!(r.status.success(), "{}", text(&r));
}

fn npy(shape: &[usize], values: impl Iterator<Item = f32>) -> Vec<u8> {
    let mut b = calibscope::preprocess::npy_header("<f4", shape);
    for v in values {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

#[test]
fn npy_tensors_of_the_models_exact_input_shape_are_accepted() {
    setup();
    let t = tempfile::tempdir().unwrap();
    // The demo model with a fixed batch of 2: input [2, 3, 192, 320].
    let mut m = onnx::load(&demo_model()).unwrap();
    for v in [&mut m.graph.as_mut().unwrap().input[0]] {
        if let Some(proto::type_proto::Value::TensorType(tt)) =
            v.r#type.as_mut().unwrap().value.as_mut()
        {
            tt.shape.as_mut().unwrap().dim[0].value =
                Some(proto::tensor_shape_proto::dimension::Value::DimValue(2));
        }
    }
    let model = t.path().join("batch2.onnx");
    onnx::save(&m, &model).unwrap();
    let shape = [2usize, 3, 192, 320];
    let n: usize = shape.iter().product();
    let dir = t.path().join("tensors");
    fs::create_dir_all(&dir).unwrap();
    for k in 0..2 {
        let vals = (0..n).map(move |i| ((i * 7 + k * 13) % 101) as f32 / 100.0);
        fs::write(dir.join(format!("t{k}.npy")), npy(&shape, vals)).unwrap();
    }
    let out = t.path().join("q/b2_int8.onnx");
    let run = |dir: &Path| {
        exe()
            .arg("ptq")
            .arg("--model")
            .arg(&model)
            .arg("--folder")
            .arg(dir)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap()
    };
    let r = run(&dir);
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("2 inputs"), "{}", text(&r));

    // A tensor of another shape is refused in plain words.
    fs::remove_file(&out).unwrap();
    let bad: PathBuf = t.path().join("bad");
    fs::create_dir_all(&bad).unwrap();
    let one = [1usize, 3, 192, 320];
    let vals = (0..one.iter().product::<usize>()).map(|_| 0.5f32);
    fs::write(bad.join("t.npy"), npy(&one, vals)).unwrap();
    let r = run(&bad);
    assert!(!r.status.success());
    let e = text(&r);
    assert!(
        e.contains("[1, 3, 192, 320]") && e.contains("[2, 3, 192, 320]"),
        "{e}"
    );
    assert!(!e.contains("Fixed("), "{e}");
    assert!(!out.exists());
}
