//! `calibscope eval` end to end on the demo dataset with the demo model,
//! the prediction cache (a second run with other metric settings does not
//! run the network), and `calibscope compare` computing its table from the
//! stored runs (edit a stored run, the table changes); `--exclude` leaves
//! suspects out and records them.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn bin(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calibscope"))
        .args(args)
        .env("CALIBSCOPE_HOME", home)
        .output()
        .unwrap()
}

fn ok(home: &Path, args: &[&str]) -> String {
    let out = bin(home, args);
    assert!(
        out.status.success(),
        "calibscope {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn load(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// The value cell of `row` for run column `col` (0 = baseline) in the Markdown table.
fn cell(md: &str, row: &str, col: usize) -> f64 {
    let line = md
        .lines()
        .find(|l| l.starts_with(&format!("| {row} |")))
        .unwrap_or_else(|| panic!("no row {row} in\n{md}"));
    let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
    // Metric | base | run1 | Δ | Δ% | …
    let idx = if col == 0 { 1 } else { 2 + (col - 1) * 3 };
    cells[idx].parse().unwrap()
}

#[test]
fn eval_demo_model_uses_the_cache_and_compare_reads_stored_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let root = tmp.path().join("demo");
    let r = root.to_str().unwrap();
    ok(
        &home,
        &[
            "demo",
            r,
            "--samples",
            "60",
            "--width",
            "320",
            "--height",
            "192",
        ],
    );
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_model.onnx");
    let m = model.to_str().unwrap();
    let run1 = tmp.path().join("fp32.json");
    let csv = tmp.path().join("per_image.csv");
    let split = "splits/combined_train.json";
    let text = ok(
        &home,
        &[
            "eval",
            "--root",
            r,
            "--split",
            split,
            "--model",
            m,
            "--out",
            run1.to_str().unwrap(),
            "--per-image",
            csv.to_str().unwrap(),
            "--label",
            "FP32",
        ],
    );
    assert!(text.contains("abs_rel"), "{text}");
    let j1 = load(&run1);
    let n = j1["images"].as_u64().unwrap();
    assert!(n >= 40, "{n} images");
    for k in ["abs_rel", "sq_rel", "rmse", "rmse_log", "a1", "a2", "a3"] {
        assert!(j1["metrics"][k].as_f64().is_some(), "metrics.{k}");
        assert!(j1["per_sample"][0][k].as_f64().is_some(), "per_sample.{k}");
    }
    assert!(j1["per_sample"][0]["dataset_root"].is_string());
    assert!(j1["per_sample"][0]["stem"].is_string());
    // The demo model decodes with its own bounds (ONNX metadata: 0.5–100 m).
    assert_eq!(j1["decoder"]["kind"], "sigmoid-inverse");
    assert_eq!(j1["decoder"]["max_depth"].as_f64(), Some(100.0));
    assert_eq!(j1["source"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(j1["cache"]["network_runs"].as_u64(), Some(n));
    assert_eq!(j1["cache"]["hits"].as_u64(), Some(0));
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() as u64;
    assert_eq!(rows, n + 1);

    // Other metric settings: every prediction comes from the cache.
    let run2 = tmp.path().join("fp32_scaled.json");
    ok(
        &home,
        &[
            "eval",
            "--root",
            r,
            "--split",
            split,
            "--model",
            m,
            "--out",
            run2.to_str().unwrap(),
            "--median-scaling",
            "--label",
            "FP32 scaled",
        ],
    );
    let j2 = load(&run2);
    assert_eq!(
        j2["cache"]["network_runs"].as_u64(),
        Some(0),
        "{}",
        j2["cache"]
    );
    assert_eq!(j2["cache"]["hits"].as_u64(), Some(n));
    assert_ne!(j1["metrics"]["abs_rel"], j2["metrics"]["abs_rel"]);
    // Same settings again from the cache: the same numbers as the first run.
    let run3 = tmp.path().join("fp32_again.json");
    ok(
        &home,
        &[
            "eval",
            "--root",
            r,
            "--split",
            split,
            "--model",
            m,
            "--out",
            run3.to_str().unwrap(),
        ],
    );
    let j3 = load(&run3);
    assert_eq!(j3["cache"]["network_runs"].as_u64(), Some(0));
    assert_eq!(j1["metrics"], j3["metrics"]);
    assert_eq!(j1["per_sample"], j3["per_sample"]);

    // compare: the table comes from the stored per-sample values.
    let md_path = tmp.path().join("table.md");
    let csv_path = tmp.path().join("table.csv");
    let args = [
        "compare",
        run1.to_str().unwrap(),
        run3.to_str().unwrap(),
        "--markdown",
        md_path.to_str().unwrap(),
        "--csv",
        csv_path.to_str().unwrap(),
    ];
    let md = ok(&home, &args);
    assert_eq!(md, std::fs::read_to_string(&md_path).unwrap());
    let base = cell(&md, "abs_rel", 0);
    assert!((base - j1["metrics"]["abs_rel"].as_f64().unwrap()).abs() < 1e-4);
    assert!((cell(&md, "abs_rel", 1) - base).abs() < 1e-9);
    assert!(std::fs::read_to_string(&csv_path)
        .unwrap()
        .starts_with("table,metric,range,run,value,delta,delta_pct"));
    // The per-range bars as a PNG drawn for the file (the report's size).
    let png_path = tmp.path().join("ranges.png");
    ok(
        &home,
        &[
            "compare",
            run1.to_str().unwrap(),
            run3.to_str().unwrap(),
            "--png",
            png_path.to_str().unwrap(),
        ],
    );
    let png = image::open(&png_path).unwrap();
    assert_eq!((png.width(), png.height()), (1200, 800));

    // Edit one sample of the stored second run: the table follows.
    let mut edited = j3.clone();
    let victim = edited["per_sample"][3]["stem"]
        .as_str()
        .unwrap()
        .to_string();
    let old = edited["per_sample"][3]["abs_rel"].as_f64().unwrap();
    edited["per_sample"][3]["abs_rel"] = Value::from(old + 1.0);
    std::fs::write(&run3, serde_json::to_vec_pretty(&edited).unwrap()).unwrap();
    let md2 = ok(&home, &args[..3]);
    let want = base + 1.0 / n as f64;
    assert!(
        (cell(&md2, "abs_rel", 1) - want).abs() < 2e-4,
        "edited run: {} vs {want}\n{md2}",
        cell(&md2, "abs_rel", 1)
    );
    assert_eq!(cell(&md2, "rmse", 1), cell(&md, "rmse", 1));
    let worst = md2.lines().find(|l| l.ends_with("⚠ |")).unwrap_or_default();
    assert!(
        worst.contains(&victim),
        "worst sample should be {victim}:\n{md2}"
    );

    // A run covering fewer samples: the table says so.
    let mut fewer = j1.clone();
    fewer["per_sample"].as_array_mut().unwrap().truncate(10);
    std::fs::write(&run3, serde_json::to_vec_pretty(&fewer).unwrap()).unwrap();
    let md3 = ok(&home, &args[..3]);
    assert!(md3.contains("10 samples common to all runs"), "{md3}");
    assert!(md3.contains("cover different samples"), "{md3}");

    // --exclude: the listed sample is not scored, the run lists it with its
    // reason, and the mean is the mean over the others.
    let gone = &j1["per_sample"][5];
    let (g_root, g_stem) = (
        gone["dataset_root"].as_str().unwrap(),
        gone["stem"].as_str().unwrap(),
    );
    let list = tmp.path().join("suspects.csv");
    std::fs::write(
        &list,
        format!(
            "dataset_root,stem,reason\n{g_root}/,{g_stem},\"GT shifted, 3 px\"\nnot_in_split,1,other split\n"
        ),
    )
    .unwrap();
    let run4 = tmp.path().join("fp32_excluded.json");
    let eval_excluding = |list: &Path, out: &Path| {
        bin(
            &home,
            &[
                "eval",
                "--root",
                r,
                "--split",
                split,
                "--model",
                m,
                "--label",
                "FP32 excl",
                "--exclude",
                list.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        )
    };
    let out = eval_excluding(&list, &run4);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 samples excluded as suspect"));
    let j4 = load(&run4);
    let kept: Vec<&Value> = j1["per_sample"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["stem"] != gone["stem"] || s["dataset_root"] != gone["dataset_root"])
        .collect();
    assert_eq!(kept.len() as u64, n - 1);
    assert_eq!(j4["images"].as_u64(), Some(n - 1));
    assert!(!j4["per_sample"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["stem"] == gone["stem"] && s["dataset_root"] == gone["dataset_root"]));
    assert_eq!(
        j4["excluded"],
        serde_json::json!([{"dataset_root": g_root, "stem": g_stem, "reason": "GT shifted, 3 px"}])
    );
    let mean: f64 = kept
        .iter()
        .map(|s| s["abs_rel"].as_f64().unwrap())
        .sum::<f64>()
        / (n - 1) as f64;
    let got = j4["metrics"]["abs_rel"].as_f64().unwrap();
    assert!((got - mean).abs() < 1e-12, "{got} vs {mean}");
    assert_ne!(j4["metrics"]["abs_rel"], j1["metrics"]["abs_rel"]);
    // compare says what the table is not computed on.
    let md4 = ok(&home, &["compare", run4.to_str().unwrap()]);
    assert!(
        md4.contains(&format!(
            "1 samples excluded as suspect: {g_root}/{g_stem} (GT shifted, 3 px)"
        )),
        "{md4}"
    );
    // A malformed list: the file and line named, nothing written.
    std::fs::write(&list, "dataset_root,stem,reason\nseq,1,fine\nseq,2\n").unwrap();
    let never = tmp.path().join("never_excl.json");
    let out = eval_excluding(&list, &never);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}: line 3", list.display())) && err.contains("no reason"),
        "{err}"
    );
    assert!(!never.exists());

    // Bad input: a clear error, no output file.
    let bad = bin(
        &home,
        &[
            "eval",
            "--root",
            r,
            "--split",
            "splits/nope.json",
            "--model",
            m,
            "--out",
            tmp.path().join("never.json").to_str().unwrap(),
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("split file not found"));
    assert!(!tmp.path().join("never.json").exists());
}
