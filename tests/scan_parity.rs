//! Parity with the seed script: on the demo dataset, `calibscope scan` and
//! `python3 create_ncdb_metadata.py` give the same rows in the same order
//! and every statistic within 1e-5 relative. Our extra rows (JPEG images,
//! old `image_path` entries, which the seed skips) are exactly the expected ones.
//!
//! Needs python3 with numpy, pandas, pillow and tqdm, and the seed folder at
//! `../shared/seed` beside the crate (or CALIBSCOPE_SEED_DIR); otherwise the
//! test prints why it was skipped and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use calibscope::dataset::{read_split, DatasetSettings};
use calibscope::demo::{self, DemoOptions};
use calibscope::metadata::{read_csv, write_csv, CSV_COLUMNS};
use calibscope::progress::Progress;
use calibscope::scan::scan;

fn seed_script() -> Result<PathBuf, String> {
    let dir = std::env::var_os("CALIBSCOPE_SEED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed"));
    let script = dir.join("create_ncdb_metadata.py");
    if !script.is_file() {
        return Err(format!(
            "{} not found (set CALIBSCOPE_SEED_DIR)",
            script.display()
        ));
    }
    let ok = Command::new("python3")
        .args(["-c", "import numpy, pandas, PIL, tqdm"])
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    if !ok.status.success() {
        return Err(format!(
            "python packages missing (pip install numpy pandas pillow tqdm): {}",
            String::from_utf8_lossy(&ok.stderr).trim()
        ));
    }
    Ok(script)
}

fn rel_close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * b.abs().max(1e-12)
}

#[test]
fn scan_matches_seed_script_row_for_row() {
    let script = match seed_script() {
        Ok(s) => s,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("demo");
    let opts = DemoOptions {
        seed: 11,
        samples: 72,
        width: 320,
        height: 192,
    };
    demo::generate(&root, &opts, &Progress::new()).unwrap();

    for split_name in ["splits/combined_train.json", "splits/combined_test.json"] {
        let split = read_split(&root, Path::new(split_name)).unwrap();
        let out = scan(
            &root,
            &split,
            &DatasetSettings::default(),
            None,
            &Progress::new(),
        );
        assert!(out.skipped.is_empty(), "{:?}", out.skipped);
        let ours_csv = tmp.path().join("ours.csv");
        write_csv(&ours_csv, &out.rows).unwrap();
        let ours = read_csv(&ours_csv).unwrap();

        let seed_csv = tmp.path().join("seed.csv");
        let run = Command::new("python3")
            .arg(&script)
            .arg("--dataset_root")
            .arg(&root)
            .arg("--split_file")
            .arg(split_name)
            .arg("--output")
            .arg(&seed_csv)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "seed failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let header = std::fs::read_to_string(&seed_csv).unwrap();
        assert_eq!(header.lines().next().unwrap(), CSV_COLUMNS.join(","));
        let seed = read_csv(&seed_csv).unwrap();

        // Rows the seed cannot produce: JPEG images and image_path-only entries.
        let raw: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(root.join(split_name)).unwrap()).unwrap();
        let old_form = raw
            .iter()
            .filter(|e| e.get("new_filename").is_none())
            .count();
        let (expected_extra, comparable): (Vec<_>, Vec<_>) = ours
            .iter()
            .zip(&split.entries)
            .partition(|(r, e)| r.image_path.ends_with(".jpg") || e.image_path.is_some());
        assert!(old_form > 0 || split_name.contains("test"));
        assert_eq!(
            expected_extra
                .iter()
                .filter(|(_, e)| e.image_path.is_some())
                .count(),
            old_form
        );
        assert_eq!(
            comparable.len(),
            seed.len(),
            "{split_name}: rows the seed should have"
        );
        for ((a, _), b) in comparable.iter().zip(&seed) {
            let what = format!("{split_name} {}/{}", b.dataset_root, b.filename);
            assert_eq!(
                (
                    &a.dataset_root,
                    &a.filename,
                    &a.image_path,
                    &a.depth_path,
                    &a.depth_variant,
                    &a.scene_type
                ),
                (
                    &b.dataset_root,
                    &b.filename,
                    &b.image_path,
                    &b.depth_path,
                    &b.depth_variant,
                    &b.scene_type
                ),
                "{what}"
            );
            assert_eq!(
                (a.width, a.height, a.valid_pixels, a.total_pixels),
                (b.width, b.height, b.valid_pixels, b.total_pixels),
                "{what}"
            );
            let pairs = [
                ("mean", a.mean_depth, b.mean_depth),
                ("median", a.median_depth, b.median_depth),
                ("min", a.min_depth, b.min_depth),
                ("max", a.max_depth, b.max_depth),
                ("std", a.std_depth, b.std_depth),
                ("p50", a.p50, b.p50),
                ("p90", a.p90, b.p90),
                ("p95", a.p95, b.p95),
            ];
            for (name, x, y) in pairs {
                assert!(rel_close(x, y), "{what} {name}: ours {x} seed {y}");
            }
        }
        println!(
            "{split_name}: {} rows equal to the seed's, {} extra (JPEG / image_path entries)",
            seed.len(),
            expected_extra.len()
        );
    }
}
