//! Issue 18 on the command line, as a hostile but realistic user runs it:
//! outputs that would overwrite inputs, the dataset or each other are
//! refused before anything is written; bad calibration tensors, reversed
//! ranges, a busy copy folder and odd stems are refused or reported.

mod ptq_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ptq_support::*;

fn run(args: &[&std::ffi::OsStr]) -> Output {
    setup();
    Command::new(env!("CARGO_BIN_EXE_calibscope"))
        .args(args)
        .env(
            "CALIBSCOPE_HOME",
            std::env::var_os("CALIBSCOPE_HOME").unwrap(),
        )
        .output()
        .unwrap()
}

macro_rules! cs {
    ($($a:expr),* $(,)?) => { run(&[$(std::ffi::OsStr::new(&$a)),*]) };
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn refused(o: &Output, needle: &str) {
    let t = text(o);
    assert!(!o.status.success(), "expected a refusal: {t}");
    assert!(t.contains(needle), "expected {needle:?} in: {t}");
}

/// A small demo dataset at the demo model's size (shared by the tests of one run).
fn dataset(dir: &Path) -> (PathBuf, Vec<Sample>) {
    let root = dir.join("demo");
    let samples = demo_samples(&root, 6, 3);
    (root, samples)
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// Item 1: `ptq -o` naming the FP32 model, in any spelling, is refused and
/// the model is untouched.
#[test]
fn ptq_output_never_overwrites_the_model() {
    let t = tempfile::tempdir().unwrap();
    let (_, samples) = dataset(t.path());
    let list = image_list(t.path(), "list.txt", &samples[..2]);
    let dir = t.path().join("dir");
    std::fs::create_dir(&dir).unwrap();
    let model = dir.join("model.onnx");
    std::fs::copy(demo_model(), &model).unwrap();
    let before = std::fs::read(&model).unwrap();
    std::os::unix::fs::symlink(&model, t.path().join("link.onnx")).unwrap();
    let spellings = [
        s(&model),
        s(&dir.join("../dir/./model.onnx")),
        s(&t.path().join("link.onnx")),
    ];
    for out in spellings {
        let o = cs!("ptq", "--model", model, "--image-list", list, "-o", out);
        refused(&o, "is the FP32 model (--model) this run reads");
        assert_eq!(std::fs::read(&model).unwrap(), before, "{out}");
    }
    // The ranges written beside the output must not be the --ranges read.
    let ok = t.path().join("q/int8.onnx");
    let o = cs!("ptq", "--model", model, "--image-list", list, "-o", ok);
    assert!(o.status.success(), "{}", text(&o));
    let ranges = t.path().join("q/int8.ranges.json");
    let o = cs!("ptq", "--model", model, "--ranges", ranges, "-o", ok);
    refused(&o, "is the ranges file (--ranges) this run reads");
}

/// Item 2: scan and ptq outputs inside the dataset are refused; the split,
/// a depth map and the model inside it stay as they were.
#[test]
fn outputs_inside_the_dataset_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let (root, _) = dataset(t.path());
    let split = root.join("splits/combined_train.json");
    let split_bytes = std::fs::read(&split).unwrap();
    let model = root.join("models/demo_model.onnx");
    let model_bytes = std::fs::read(&model).unwrap();
    let r = s(&root);
    for (flag, out) in [
        ("--out", s(&split)),
        ("--json", s(&model)),
        ("--out", format!("{r}/synced_data/../x.csv")),
    ] {
        let o = cs!(
            "scan",
            "--root",
            r,
            "--split",
            "splits/combined_train.json",
            flag,
            out
        );
        assert!(!o.status.success(), "{flag} {out}: {}", text(&o));
        let t = text(&o);
        assert!(
            t.contains("this run reads") || t.contains("inside the dataset folder"),
            "{t}"
        );
    }
    assert_eq!(std::fs::read(&split).unwrap(), split_bytes);
    assert_eq!(std::fs::read(&model).unwrap(), model_bytes);
    assert!(!root.join("x.csv").exists());
    let o = cs!(
        "ptq",
        "--model",
        s(&demo_model()),
        "--split",
        s(&split),
        "--root",
        r,
        "-o",
        s(&model)
    );
    refused(&o, "inside the dataset folder");
    assert_eq!(std::fs::read(&model).unwrap(), model_bytes);
}

/// Item 9: one output given twice is refused before either is written.
#[test]
fn one_path_for_two_outputs_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let (root, _) = dataset(t.path());
    let r = s(&root);
    let x = s(&t.path().join("x.csv"));
    let y = s(&t.path().join("y.csv"));
    let y_skipped = s(&t.path().join("y.skipped.csv"));
    let split = "splits/combined_train.json";
    for (a, b) in [(&x, &x), (&y, &y_skipped)] {
        let o = cs!("scan", "--root", r, "--split", split, "--out", a, "--json", b);
        refused(&o, "to the same file");
    }
    assert!(!t.path().join("x.csv").exists() && !t.path().join("y.csv").exists());
    let o = cs!("scan", "--root", r, "--split", split, "--out", x);
    assert!(o.status.success(), "{}", text(&o));
    let plan = s(&t.path().join("plan.json"));
    let o = cs!(
        "select",
        "--metadata",
        x,
        "--target",
        "2",
        "--out",
        plan,
        "--report",
        s(&t.path().join("./plan.json"))
    );
    refused(&o, "to the same file");
    let o = cs!("select", "--metadata", x, "--target", "2", "--out", x);
    refused(&o, "is the metadata this run reads");
}

/// A float32 `.npy` of the demo model's input shape with the given header descr.
fn npy(descr: &str, data: &[u8]) -> Vec<u8> {
    let mut out = calibscope::preprocess::npy_header(descr, &[1, 3, 192, 320]);
    out.extend_from_slice(data);
    out
}

/// Item 8: uint8 and NaN calibration tensors are refused, naming the file.
#[test]
fn eight_bit_and_nan_tensors_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let n = 3 * 192 * 320;
    let cases = [
        ("u8", npy("|u1", &vec![200u8; n]), "raw 8-bit values"),
        (
            "nan",
            npy(
                "<f4",
                &std::iter::repeat_n(f32::NAN.to_le_bytes(), n)
                    .flatten()
                    .collect::<Vec<u8>>(),
            ),
            "NaN or infinite",
        ),
    ];
    for (name, bytes, needle) in cases {
        let folder = t.path().join(name);
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("0001.npy"), &bytes).unwrap();
        let out = t.path().join(format!("{name}.onnx"));
        let o = cs!(
            "ptq",
            "--model",
            s(&demo_model()),
            "--folder",
            s(&folder),
            "-o",
            s(&out)
        );
        refused(&o, needle);
        assert!(text(&o).contains("0001.npy"), "{}", text(&o));
        assert!(!out.exists());
    }
    // Big-endian float32 is read like little-endian.
    let folder = t.path().join("be");
    std::fs::create_dir(&folder).unwrap();
    let be: Vec<u8> = (0..n)
        .flat_map(|i| ((i % 7) as f32 * 0.1).to_be_bytes())
        .collect();
    std::fs::write(folder.join("0001.npy"), npy(">f4", &be)).unwrap();
    let out = t.path().join("be.onnx");
    let o = cs!(
        "ptq",
        "--model",
        s(&demo_model()),
        "--folder",
        s(&folder),
        "-o",
        s(&out)
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// Item 9: a ranges file with min > max is refused.
#[test]
fn reversed_ranges_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let (_, samples) = dataset(t.path());
    let list = image_list(t.path(), "list.txt", &samples[..1]);
    let out = t.path().join("a.onnx");
    let o = cs!(
        "ptq",
        "--model",
        s(&demo_model()),
        "--image-list",
        s(&list),
        "-o",
        s(&out)
    );
    assert!(o.status.success(), "{}", text(&o));
    let ranges = t.path().join("a.ranges.json");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ranges).unwrap()).unwrap();
    let row = &mut v["tensors"][0];
    let (lo, hi) = (row["min"].clone(), row["max"].clone());
    row["min"] = serde_json::json!(hi.as_f64().unwrap() + 1.0);
    row["max"] = lo;
    let bad = t.path().join("bad.ranges.json");
    std::fs::write(&bad, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = cs!(
        "ptq",
        "--model",
        s(&demo_model()),
        "--ranges",
        s(&bad),
        "-o",
        s(&t.path().join("b.onnx"))
    );
    refused(&o, "min <= max");
}

/// Item 7: a copy into a folder another run holds stops and says who holds it.
#[test]
fn copy_into_a_locked_folder_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let (root, _) = dataset(t.path());
    let out = t.path().join("calib");
    std::fs::create_dir(&out).unwrap();
    let lock = calibscope::fsutil::FolderLock::acquire(&out, "test").unwrap();
    let split = s(&root.join("splits/combined_val.json"));
    let o = cs!(
        "copy",
        "--root",
        s(&root),
        "--split",
        split,
        "--out",
        s(&out)
    );
    refused(
        &o,
        &format!("in use by calibscope test (process {}", std::process::id()),
    );
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        1,
        "only the lock file"
    );
    drop(lock);
    let o = cs!(
        "copy",
        "--root",
        s(&root),
        "--split",
        split,
        "--out",
        s(&out)
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(!out.join(calibscope::fsutil::LOCK_FILE).exists());
}

/// Item 9: a 1x1 depth map is reported; NUL bytes and newlines in stems are
/// escaped in skipped.csv and on the terminal; the demo's size message.
#[test]
fn scan_reports_odd_depth_sizes_and_escapes_stems() {
    let t = tempfile::tempdir().unwrap();
    let (root, _) = dataset(t.path());
    let entries: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(root.join("splits/combined_train.json")).unwrap())
            .unwrap();
    let first = entries
        .iter()
        .find(|e| e.get("dataset_root").is_some())
        .unwrap()
        .clone();
    let seq = root.join(first["dataset_root"].as_str().unwrap());
    let stem = first["new_filename"].as_str().unwrap();
    let depth = std::fs::read_dir(&seq)
        .unwrap()
        .map(|e| e.unwrap().path().join(format!("{stem}.png")))
        .find(|p| p.exists() && !p.starts_with(seq.join("image_a6")))
        .unwrap();
    image::GrayImage::from_pixel(1, 1, image::Luma([200u8]))
        .save(&depth)
        .unwrap();
    let split = vec![
        first.clone(),
        serde_json::json!({"dataset_root": first["dataset_root"], "new_filename": "a\u{0}b\nc\u{1b}[31m"}),
    ];
    let sp = t.path().join("split.json");
    std::fs::write(&sp, serde_json::to_vec(&split).unwrap()).unwrap();
    let out = t.path().join("m.csv");
    let o = cs!(
        "scan",
        "--root",
        s(&root),
        "--split",
        s(&sp),
        "--out",
        s(&out)
    );
    let txt = text(&o);
    assert!(o.status.success(), "{txt}");
    assert!(
        txt.contains("depth map is 1x1 but its image is 320x192"),
        "{txt}"
    );
    assert!(txt.contains("a\\0b\\nc\\u{1b}[31m"), "{txt}");
    assert!(!txt.contains('\u{0}') && !txt.contains('\u{1b}'), "{txt}");
    let skipped = std::fs::read(t.path().join("m.skipped.csv")).unwrap();
    assert!(
        !skipped.contains(&0u8) && !skipped.contains(&0x1b),
        "{skipped:?}"
    );
    assert_eq!(String::from_utf8_lossy(&skipped).lines().count(), 2);

    let o = cs!(
        "demo",
        s(&t.path().join("d2")),
        "--width",
        "32",
        "--height",
        "16"
    );
    refused(&o, "image height 16 is outside 32..8192");
}

/// Item 3: external data outside the model's folder is not read into the
/// INT8 model, unless the user opts in.
#[test]
fn external_data_outside_the_model_folder_needs_the_opt_in() {
    use calibscope::onnx;
    let t = tempfile::tempdir().unwrap();
    let (_, samples) = dataset(t.path());
    let list = image_list(t.path(), "list.txt", &samples[..1]);
    let mut m = onnx::load(&demo_model()).unwrap();
    let w = m
        .graph
        .as_mut()
        .unwrap()
        .initializer
        .iter_mut()
        .find(|w| w.raw_data.as_ref().is_some_and(|r| r.len() >= 64))
        .unwrap();
    let raw = w.raw_data.take().unwrap();
    std::fs::write(t.path().join("outside.bin"), &raw).unwrap();
    w.data_location = Some(1); // EXTERNAL
    w.external_data = vec![onnx::proto::StringStringEntryProto {
        key: Some("location".into()),
        value: Some("../outside.bin".into()),
    }];
    let dir = t.path().join("models");
    let model = dir.join("m.onnx");
    std::fs::create_dir(&dir).unwrap();
    onnx::save(&m, &model).unwrap();
    let out = t.path().join("q.onnx");
    let o = cs!(
        "ptq",
        "--model",
        s(&model),
        "--image-list",
        s(&list),
        "-o",
        s(&out)
    );
    refused(&o, "leaves the model's folder");
    assert!(!out.exists());
    let o = cs!(
        "ptq",
        "--model",
        s(&model),
        "--image-list",
        s(&list),
        "--allow-external-data-outside",
        "-o",
        s(&out)
    );
    assert!(o.status.success(), "{}", text(&o));
}
