//! Ctrl-C during `calibscope scan`: exit status 130, no output file, no
//! temporary file left behind.
#![cfg(unix)]

use std::path::Path;
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

#[test]
fn sigint_mid_scan_exits_130_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let root = tmp.path().join("demo");
    let exe = env!("CARGO_BIN_EXE_calibscope");
    let made = Command::new(exe)
        .args(["demo", root.to_str().unwrap(), "--samples", "48"])
        .args(["--width", "320", "--height", "192"])
        .env("CALIBSCOPE_HOME", &home)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let base: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(root.join("splits/combined_train.json")).unwrap())
            .unwrap();
    let out_dir = tmp.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("meta.csv");

    // The scan must be running when the signal lands: a long split (the
    // same entries many times over; each is scanned) and a short wait. If
    // the scan finished first, lengthen the split; if the signal came
    // before the handler was installed, wait longer.
    let (mut repeat, mut wait) = (200usize, Duration::from_millis(150));
    let start = Instant::now();
    for attempt in 0..6 {
        let entries: Vec<_> = base.iter().cycle().take(base.len() * repeat).collect();
        std::fs::write(
            root.join("long.json"),
            serde_json::to_vec(&entries).unwrap(),
        )
        .unwrap();
        let child = Command::new(exe)
            .args([
                "scan",
                "--root",
                root.to_str().unwrap(),
                "--split",
                "long.json",
            ])
            .args(["--out", out.to_str().unwrap(), "--no-cache"])
            .env("CALIBSCOPE_HOME", &home)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(wait);
        // SAFETY: kill only sends a signal to our own child process.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
        let got = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&got.stderr);
        match got.status.code() {
            Some(130) => {
                assert!(stderr.contains("cancelled"), "{stderr}");
                assert!(!out.exists(), "output written after Ctrl-C");
                assert!(
                    leftovers(&out_dir).is_empty(),
                    "files left: {:?}",
                    leftovers(&out_dir)
                );
                eprintln!(
                    "interrupted on attempt {attempt} ({} entries) after {:?}",
                    entries.len(),
                    start.elapsed()
                );
                return;
            }
            // Finished before the signal: a longer split next time.
            Some(0) => {
                std::fs::remove_file(&out).ok();
                repeat *= 4;
            }
            // Killed by the signal before the handler was in place.
            None => wait *= 2,
            Some(c) => panic!("unexpected exit status {c}: {stderr}"),
        }
    }
    panic!("could not interrupt a running scan in 6 attempts");
}
