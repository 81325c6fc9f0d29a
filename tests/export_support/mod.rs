//! Small generated datasets for the selection/export integration tests:
//! NCDB-style folders with tiny RGB images (one JPEG sequence) and the
//! metadata rows a scan would write for them. Stems repeat across sequences.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use calibscope::metadata::{scene_type, SampleKey, SampleMeta};

#[path = "../python_gate/mod.rs"]
pub mod python_gate;
pub use python_gate::skip_or_fail;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_calibscope")
}

/// Runs the binary; select/copy/export keep no cache, but in case a
/// command does, its home is a folder under the system temp dir.
pub fn calibscope(args: &[&str]) -> std::process::Output {
    calibscope_with_home(&std::env::temp_dir().join("calibscope-test-home"), args)
}

/// Runs the binary with `CALIBSCOPE_HOME` (cache, data, config) at `home`.
pub fn calibscope_with_home(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .env("CALIBSCOPE_HOME", home)
        .output()
        .expect("run calibscope")
}

/// A metadata row; `mean` drives every depth statistic.
pub fn row(root: &str, stem: &str, ext: &str, mean: f64) -> SampleMeta {
    SampleMeta {
        dataset_root: root.into(),
        filename: stem.into(),
        image_path: format!("{root}/image_a6/{stem}.{ext}"),
        depth_path: format!("{root}/newest_depth_maps/{stem}.png"),
        depth_variant: if stem.ends_with('3') {
            "depth_maps".into()
        } else {
            "newest_depth_maps".into()
        },
        mean_depth: mean,
        median_depth: mean * 0.95,
        min_depth: (mean * 0.1).max(0.1),
        max_depth: mean * 2.5,
        std_depth: mean * 0.3,
        p50: mean * 0.95,
        p90: mean * 1.8,
        p95: mean * 2.1,
        width: 16,
        height: 8,
        scene_type: scene_type(mean, 5.0, 15.0).into(),
        valid_pixels: 60,
        total_pixels: 128,
        depth_hist: vec![],
    }
}

/// Mean depth of sample `i` of `n`: spread over 0.5..40 m, most below 8 m.
pub fn mean_for(i: usize, n: usize) -> f64 {
    let u = (i as f64 + 0.5) / n as f64;
    0.5 + 39.5 * u.powi(2)
}

/// Writes `seqs` sequences of `per_seq` images under `root` (the last
/// sequence as JPEG) and returns their rows.
pub fn make_dataset(root: &Path, seqs: usize, per_seq: usize) -> Vec<SampleMeta> {
    let mut rows = Vec::new();
    let n = seqs * per_seq;
    for s in 0..seqs {
        let ds_root = format!("synced_data/seq_{s:02}");
        let ext = if s + 1 == seqs && seqs > 1 {
            "jpg"
        } else {
            "png"
        };
        let dir = root.join(&ds_root).join("image_a6");
        std::fs::create_dir_all(&dir).unwrap();
        for k in 0..per_seq {
            let stem = format!("{k:010}");
            let mut img = image::RgbImage::new(16, 8);
            for (x, y, p) in img.enumerate_pixels_mut() {
                *p = image::Rgb([
                    (x * 15) as u8,
                    (y * 30 + s as u32) as u8,
                    (k * 7 % 256) as u8,
                ]);
            }
            img.save(dir.join(format!("{stem}.{ext}"))).unwrap();
            rows.push(row(&ds_root, &stem, ext, mean_for(s * per_seq + k, n)));
        }
    }
    rows
}

/// A generated dataset in a temporary folder (`ncdb/`), with the metadata
/// CSV a scan would write (`meta.csv`) and a split of every sample
/// (`split.json`); the folder goes away when the fixture is dropped.
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub rows: Vec<SampleMeta>,
    pub meta: PathBuf,
    pub split: PathBuf,
}

impl Fixture {
    pub fn new(seqs: usize, per_seq: usize) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("ncdb");
        let rows = make_dataset(&root, seqs, per_seq);
        let meta = tmp.path().join("meta.csv");
        calibscope::metadata::write_csv(&meta, &rows).unwrap();
        let split = tmp.path().join("split.json");
        let fx = Self {
            tmp,
            root,
            rows,
            meta,
            split,
        };
        fx.write_split(&fx.keys());
        fx
    }

    /// Every sample's key, in row order.
    pub fn keys(&self) -> Vec<SampleKey> {
        self.rows.iter().map(|r| r.key()).collect()
    }

    /// Replaces `split.json` with these keys.
    pub fn write_split(&self, keys: &[SampleKey]) {
        calibscope::export::write_split(&self.split, keys).unwrap();
    }

    /// A path in the fixture's folder (beside, not inside, the dataset).
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Runs `calibscope export --split … --metadata … --out OUT` plus `extra`.
    pub fn export(&self, out: &Path, extra: &[&str]) -> std::process::Output {
        let mut args = vec![
            "export",
            "--split",
            self.split.to_str().unwrap(),
            "--metadata",
            self.meta.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        calibscope(&args)
    }
}

/// What `copy` takes for these rows (images resolved from each row's path).
pub fn samples(root: &Path, rows: &[SampleMeta]) -> Vec<calibscope::export::ExportSample> {
    rows.iter()
        .map(|r| calibscope::export::ExportSample::from_row(root, r))
        .collect()
}

/// A finished command's stdout and stderr as text.
pub fn out_err(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Every file under `dir` with its bytes, sorted by path.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else {
                let m = e.metadata().unwrap();
                out.push((
                    e.path(),
                    std::fs::read(e.path()).unwrap(),
                    m.modified().unwrap(),
                ));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `python3` with these modules importable, or None after printing why.
pub fn python_with(modules: &[&str], test: &str) -> Option<String> {
    let py = "python3";
    let probe = Command::new(py)
        .args(["-c", &format!("import {}", modules.join(", "))])
        .output();
    match probe {
        Ok(o) if o.status.success() => Some(py.to_owned()),
        Ok(o) => {
            skip_or_fail(&format!(
                "{test}: python3 lacks {} ({}); `pip install {}` to run it",
                modules.join(", "),
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or(""),
                modules.join(" ")
            ));
            None
        }
        Err(e) => {
            skip_or_fail(&format!("{test}: python3 not found ({e})"));
            None
        }
    }
}

pub fn seed_dir() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        here.join("../shared/seed"),
        PathBuf::from("/work/shared/seed"),
    ]
    .into_iter()
    .find(|p| p.join("create_calibration_split.py").is_file())
}

/// The seed's printed plan: per bin label (target, actual, available), and
/// its extra draws from "mid"; `None` (after printing why) without Python
/// or the seed script. Runs in `dir` (the seed writes a PNG there).
pub fn run_seed_split(
    meta: &Path,
    dir: &Path,
    target: usize,
) -> Option<(std::collections::BTreeMap<String, [usize; 3]>, usize)> {
    let py = python_with(&["numpy", "pandas", "matplotlib"], "seed parity")?;
    let Some(seed) = seed_dir() else {
        skip_or_fail("seed parity: ../shared/seed/create_calibration_split.py not found");
        return None;
    };
    let o = Command::new(py)
        .arg(seed.join("create_calibration_split.py"))
        .args(["--metadata", meta.to_str().unwrap()])
        .args(["--target_size", &target.to_string()])
        .args(["--output", "seed_split.json"])
        .current_dir(dir)
        .env("MPLBACKEND", "Agg")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "seed failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let nums = |s: &str| -> Vec<usize> {
        s.split(|c: char| !c.is_ascii_digit())
            .filter(|t| !t.is_empty())
            .map(|t| t.parse().unwrap())
            .collect()
    };
    let mut plan = std::collections::BTreeMap::new();
    let mut extra = 0;
    for line in text.lines() {
        if let Some((head, rest)) = line.split_once("m): ") {
            let label = head.split_whitespace().next().unwrap().to_owned();
            let n = nums(rest);
            plan.insert(label, [n[0], n[1], n[2]]);
        } else if line.contains("에서") && line.contains("추가") {
            extra = nums(line)[0];
        }
    }
    Some((plan, extra))
}
