//! Ctrl-C during a long command (`scan`, `ptq`): exit status 130, a message
//! that says it was cancelled, no output file, no temporary file left behind.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A demo dataset of 48 samples at the demo model's size, and its train split.
fn demo(tmp: &Path) -> (PathBuf, Vec<serde_json::Value>) {
    let root = tmp.join("demo");
    let made = Command::new(env!("CARGO_BIN_EXE_calibscope"))
        .args(["demo", root.to_str().unwrap(), "--samples", "48"])
        .args(["--width", "320", "--height", "192"])
        .env("CALIBSCOPE_HOME", tmp.join("home"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let split = std::fs::read(root.join("splits/combined_train.json")).unwrap();
    (root, serde_json::from_slice(&split).unwrap())
}

/// Runs `command(repeat)` and sends it SIGINT after a short wait until one
/// run is caught while working (exit 130); returns that run's stderr. The
/// command must be running when the signal lands: if it finished first,
/// `repeat` (how many times over it does its work) grows; if the signal
/// came before the handler was installed, the wait grows.
fn interrupt(what: &str, mut command: impl FnMut(usize) -> Command) -> String {
    let (mut repeat, mut wait) = (200usize, Duration::from_millis(150));
    let start = Instant::now();
    for attempt in 0..6 {
        let child = command(repeat)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(wait);
        // SAFETY: kill only sends a signal to our own child process.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
        let got = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&got.stderr).into_owned();
        match got.status.code() {
            Some(130) => {
                eprintln!(
                    "{what} interrupted on attempt {attempt} (×{repeat}) after {:?}",
                    start.elapsed()
                );
                return stderr;
            }
            Some(0) => repeat *= 4,
            // Killed by the signal before the handler was in place.
            None => wait *= 2,
            Some(c) => panic!("unexpected exit status {c}: {stderr}"),
        }
    }
    panic!("could not interrupt a running {what} in 6 attempts");
}

#[test]
fn sigint_mid_scan_exits_130_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, base) = demo(tmp.path());
    let out_dir = tmp.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("meta.csv");
    let stderr = interrupt("scan", |repeat| {
        // The same entries many times over; each is scanned.
        let entries: Vec<_> = base.iter().cycle().take(base.len() * repeat).collect();
        std::fs::write(
            root.join("long.json"),
            serde_json::to_vec(&entries).unwrap(),
        )
        .unwrap();
        // A run that finished before the signal wrote its output.
        std::fs::remove_file(&out).ok();
        let mut c = Command::new(env!("CARGO_BIN_EXE_calibscope"));
        c.args(["scan", "--root", root.to_str().unwrap()])
            .args(["--split", "long.json", "--no-cache"])
            .args(["--out", out.to_str().unwrap()])
            .env("CALIBSCOPE_HOME", tmp.path().join("home"));
        c
    });
    assert!(stderr.contains("cancelled"), "{stderr}");
    assert!(!out.exists(), "output written after Ctrl-C");
    assert!(
        leftovers(&out_dir).is_empty(),
        "files left: {:?}",
        leftovers(&out_dir)
    );
}

#[test]
fn sigint_mid_calibration_exits_130_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = demo(tmp.path());
    let images: Vec<String> = (walkdir(&root.join("synced_data")).into_iter())
        .chain(walkdir(&root.join("recordings")))
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("image_a6")))
        .map(|p| p.display().to_string())
        .collect();
    assert!(images.len() >= 40, "{} images", images.len());
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_model.onnx");
    let out_dir = tmp.path().join("out");
    let out = out_dir.join("int8.onnx");
    let stderr = interrupt("ptq", |repeat| {
        // The same images many times over; each is calibrated on.
        let list: Vec<&str> = (images.iter().cycle().take(images.len() * repeat / 20))
            .map(String::as_str)
            .collect();
        std::fs::write(tmp.path().join("list.txt"), list.join("\n")).unwrap();
        std::fs::remove_dir_all(&out_dir).ok();
        let mut c = Command::new(env!("CARGO_BIN_EXE_calibscope"));
        c.args(["ptq", "--model", model.to_str().unwrap()])
            .args([
                "--image-list",
                tmp.path().join("list.txt").to_str().unwrap(),
            ])
            .args(["--method", "percentile", "-o", out.to_str().unwrap()])
            .env("CALIBSCOPE_HOME", tmp.path().join("home"));
        c
    });
    assert!(
        stderr.contains("cancelled after") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert!(
        leftovers(&out_dir).is_empty(),
        "files left: {:?}",
        leftovers(&out_dir)
    );
}

/// Every file under `dir`.
fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}
