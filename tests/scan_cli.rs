//! `calibscope demo` and `calibscope scan` as a user runs them.

use std::path::Path;
use std::process::{Command, Output};

fn calibscope(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calibscope"))
        .args(args)
        .env("CALIBSCOPE_HOME", home)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn demo_then_scan_writes_metadata_and_reuses_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let root = tmp.path().join("demo");
    let r = root.to_str().unwrap();
    let o = calibscope(
        &home,
        &[
            "demo",
            r,
            "--samples",
            "18",
            "--width",
            "64",
            "--height",
            "48",
        ],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("18 samples"));

    // A split with one bad entry appended: still exit 0, the skip listed.
    let mut entries: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(root.join("splits/combined_train.json")).unwrap())
            .unwrap();
    entries.push(
        serde_json::json!({"dataset_root": "synced_data/seq_00", "new_filename": "0000009999"}),
    );
    std::fs::write(
        root.join("with_bad.json"),
        serde_json::to_vec(&entries).unwrap(),
    )
    .unwrap();

    let out = tmp.path().join("out/meta.csv");
    let json = tmp.path().join("out/meta.json");
    let args = [
        "scan",
        "--root",
        r,
        "--split",
        "with_bad.json",
        "--out",
        out.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    let o = calibscope(&home, &args);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Scene types") && stdout.contains("Depth variants"),
        "{stdout}"
    );
    assert!(
        stdout.contains("missing image") && stdout.contains("0000009999"),
        "{stdout}"
    );
    assert!(stdout.contains("0 from cache"), "{stdout}");
    let rows = calibscope::metadata::read_csv(&out).unwrap();
    assert_eq!(rows.len(), entries.len() - 1);
    let file = calibscope::metadata::read_json(&json).unwrap();
    assert_eq!(file.samples.len(), rows.len());
    assert!(!file.samples[0].depth_hist.is_empty());
    assert_eq!(file.settings["dataset"]["depth_encoding"], "auto");
    let skipped = std::fs::read_to_string(tmp.path().join("out/meta.skipped.csv")).unwrap();
    assert_eq!(skipped.lines().count(), 2, "{skipped}");
    assert!(skipped.contains("missing_image"));

    // Second run: everything from the cache; --no-cache decodes again.
    let o = calibscope(&home, &args);
    assert!(
        text(&o)
            .0
            .contains(&format!("{} from cache", entries.len() - 1)),
        "{:?}",
        text(&o)
    );
    assert_eq!(calibscope::metadata::read_csv(&out).unwrap(), rows);
    let mut no_cache = args.to_vec();
    no_cache.push("--no-cache");
    let o = calibscope(&home, &no_cache);
    assert!(text(&o).0.contains("0 from cache"));
    // The cache lives in the app folder, not in the dataset.
    assert!(std::fs::read_dir(home.join("cache/scan")).unwrap().count() == 1);
}

#[test]
fn unusable_root_or_split_exits_non_zero_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let d = tmp.path().to_str().unwrap();
    std::fs::write(tmp.path().join("obj.json"), "{\"a\": 1}").unwrap();
    std::fs::write(tmp.path().join("empty.json"), "[]").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "scan",
                "--root",
                "/definitely/not/here",
                "--split",
                "x.json",
            ],
            "does not exist",
        ),
        (&["scan", "--root", d, "--split", "nope.json"], "not found"),
        (
            &["scan", "--root", d, "--split", "obj.json"],
            "expected a JSON list",
        ),
        (
            &["scan", "--root", d, "--split", "empty.json"],
            "no entries",
        ),
    ];
    for (args, needle) in cases {
        let o = calibscope(&home, args);
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let o = calibscope(
        &home,
        &[
            "scan",
            "--root",
            d,
            "--split",
            "empty.json",
            "--depth-encoding",
            "feet",
        ],
    );
    assert!(!o.status.success());
}

#[test]
fn demo_refuses_a_folder_with_other_files() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let o = calibscope(
        &tmp.path().join("home"),
        &["demo", tmp.path().to_str().unwrap(), "--samples", "6"],
    );
    assert!(!o.status.success());
    assert!(text(&o).1.contains("not empty"));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(),
        "mine"
    );
}

/// Peak memory grows with the rows only: scanning 5× more samples of the
/// same size costs far less than keeping their depth maps would.
#[test]
fn memory_stays_flat_with_dataset_size() {
    if !Path::new("/usr/bin/time").is_file() {
        println!("skipped: /usr/bin/time not installed (apt-get install time)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let root = tmp.path().join("demo");
    let r = root.to_str().unwrap();
    let (w, h) = (320u32, 192u32);
    let o = calibscope(
        &home,
        &[
            "demo",
            r,
            "--samples",
            "150",
            "--width",
            &w.to_string(),
            "--height",
            &h.to_string(),
        ],
    );
    assert!(o.status.success());
    let all: Vec<serde_json::Value> = ["combined_train", "combined_val", "combined_test"]
        .iter()
        .flat_map(|s| {
            let v: Vec<serde_json::Value> = serde_json::from_slice(
                &std::fs::read(root.join(format!("splits/{s}.json"))).unwrap(),
            )
            .unwrap();
            v
        })
        .collect();
    std::fs::write(root.join("all.json"), serde_json::to_vec(&all).unwrap()).unwrap();
    std::fs::write(
        root.join("fifth.json"),
        serde_json::to_vec(&all[..30]).unwrap(),
    )
    .unwrap();
    let peak = |split: &str| -> u64 {
        let o = Command::new("/usr/bin/time")
            .args([
                "-f",
                "PEAK_KB=%M",
                env!("CARGO_BIN_EXE_calibscope"),
                "scan",
                "--root",
                r,
                "--split",
                split,
                "--no-cache",
            ])
            .env("CALIBSCOPE_HOME", &home)
            .output()
            .unwrap();
        assert!(o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        err.lines()
            .find_map(|l| l.strip_prefix("PEAK_KB="))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let small = peak("fifth.json");
    let large = peak("all.json");
    // Holding the 120 extra depth maps as f32 would add ~29 MB.
    let maps_kb = 120 * (w * h) as u64 * 4 / 1024;
    println!("peak RSS: 30 samples {small} KB, 150 samples {large} KB");
    assert!(
        large < small + maps_kb / 4,
        "peak grew from {small} KB to {large} KB"
    );
}

#[test]
fn a_closed_stdout_pipe_stops_quietly_not_with_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("demo");
    // stdout is a pipe whose reading end is closed before anything is read.
    let mut child = Command::new(env!("CARGO_BIN_EXE_calibscope"))
        .args(["demo", root.to_str().unwrap(), "--samples", "12"])
        .env("CALIBSCOPE_HOME", tmp.path().join("home"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    use std::os::unix::process::ExitStatusExt;
    assert!(
        o.status.success() || o.status.signal() == Some(libc::SIGPIPE),
        "{:?} {stderr}",
        o.status
    );
}
