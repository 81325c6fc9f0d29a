//! A small NCDB-layout demo dataset, generated deterministically from a seed.
//!
//! [`generate`] writes, under `dir`:
//!
//! - six sequences: `synced_data/seq_00` … `seq_04` and `recordings/drive_b`
//!   (a sequence outside `synced_data`, still a relative `dataset_root`);
//!   each holds `image_a6/<stem>.png` RGB images (`seq_02` is JPEG) and a
//!   depth folder. Stems are 10-digit, zero-padded and restart at
//!   `0000000000` in every sequence, so they repeat across sequences.
//! - depth maps as 16-bit PNG, metres × 256, 0 = no measurement, sampled
//!   like a LiDAR (scan lines, ~5–10 % valid). Most sequences use
//!   `newest_depth_maps`; `seq_03` uses `new_depth_maps` and the second
//!   half of `drive_b` uses `depth_maps`, so the depth variant varies.
//! - scenes of four kinds (garage, street, suburb, highway) whose mean depth
//!   covers the selection bins [0,3), [3,8), [8,15) and [15,100) m. RGB and
//!   depth come from the same synthetic 3-D scene, so depth is visible in
//!   the image (see [`scene`]).
//! - `splits/combined_train.json`, `combined_val.json`, `combined_test.json`
//!   (80/10/10, shuffled) and a root `train_split.json` (same entries as
//!   `combined_train`). Entries carry the usual extra keys; every tenth
//!   `drive_b` entry uses the old `image_path`-only form.
//! - `binary_mask.png`: the valid fisheye area (255 inside).
//! - `models/demo_model.onnx`: the demo depth network (embedded in the
//!   binary from `assets/demo_model.onnx`; input `rgb` [1,3,192,320]), so
//!   the Quantize view and `calibscope ptq` have a model for the demo data.
//! - `calibscope-demo.json`: a marker naming what the generator wrote, so a
//!   later run may replace a previous demo but never touches a folder that
//!   holds anything else.

pub mod scene;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rand::{seq::SliceRandom, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::progress::Progress;
use scene::{SceneKind, World};

/// Name of the marker file a demo folder carries.
pub const MARKER: &str = "calibscope-demo.json";
const MARKER_FORMAT: &str = "calibscope-demo-v1";

/// Upper edges of the selection bins on mean depth (metres) the demo covers.
pub const MEAN_DEPTH_BINS: [f64; 5] = [0.0, 3.0, 8.0, 15.0, 100.0];

/// What to generate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoOptions {
    pub seed: u64,
    /// Total number of samples over all six sequences (at least 6).
    pub samples: usize,
    pub width: u32,
    pub height: u32,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            seed: 7,
            samples: 240,
            width: 640,
            height: 384,
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoSummary {
    pub root: PathBuf,
    pub samples: usize,
    /// `dataset_root` of each sequence, as the splits spell it.
    pub sequences: Vec<String>,
    /// Split files, relative to `root`.
    pub splits: Vec<String>,
    pub train: usize,
    pub val: usize,
    pub test: usize,
    pub jpeg_samples: usize,
    /// Entries written in the old `image_path`-only form (per split file).
    pub image_path_entries: usize,
    /// Samples per mean-depth bin of [`MEAN_DEPTH_BINS`].
    pub mean_depth_bins: [usize; 4],
    /// Mean fraction of valid depth pixels.
    pub valid_fraction: f64,
    /// True when the run stopped early on cancel (files may be incomplete).
    pub cancelled: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{dir} is not empty and is not a calibscope demo folder; choose an empty or new folder (nothing was written)")]
    NotEmpty { dir: String },
    #[error("cannot write {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("bad demo options: {0}")]
    Options(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[derive(Serialize, Deserialize)]
struct Marker {
    format: String,
    options: DemoOptions,
    /// Top-level entries the generator created, removed on regeneration.
    wrote: Vec<String>,
}

struct Sequence {
    root: &'static str,
    kinds: &'static [SceneKind],
    jpeg: bool,
}

const SEQUENCES: [Sequence; 6] = [
    Sequence {
        root: "synced_data/seq_00",
        kinds: &[SceneKind::Garage],
        jpeg: false,
    },
    Sequence {
        root: "synced_data/seq_01",
        kinds: &[SceneKind::Street],
        jpeg: false,
    },
    Sequence {
        root: "synced_data/seq_02",
        kinds: &[SceneKind::Street, SceneKind::Suburb],
        jpeg: true,
    },
    Sequence {
        root: "synced_data/seq_03",
        kinds: &[SceneKind::Suburb],
        jpeg: false,
    },
    Sequence {
        root: "synced_data/seq_04",
        kinds: &[SceneKind::Highway],
        jpeg: false,
    },
    Sequence {
        root: "recordings/drive_b",
        kinds: &[SceneKind::Garage, SceneKind::Highway],
        jpeg: false,
    },
];
const TOP_LEVEL: [&str; 7] = [
    "synced_data",
    "recordings",
    "splits",
    "train_split.json",
    "binary_mask.png",
    "models",
    MARKER,
];

/// The demo depth network (ONNX, input `rgb` [1,3,192,320] in [0,1], one
/// sigmoid output), built into the binary.
pub const DEMO_MODEL: &[u8] = include_bytes!("../../assets/demo_model.onnx");

/// Where [`generate`] puts [`DEMO_MODEL`], relative to the demo's root.
pub const DEMO_MODEL_PATH: &str = "models/demo_model.onnx";

/// Writes [`DEMO_MODEL`] to `<dir>/models/demo_model.onnx` (atomically).
pub fn write_model(dir: &Path) -> Result<PathBuf, DemoError> {
    let p = dir.join(DEMO_MODEL_PATH);
    let parent = p.parent().expect("a relative path with a folder");
    fs::create_dir_all(parent).map_err(io_err(parent))?;
    crate::fsutil::write_atomic(&p, DEMO_MODEL).map_err(io_err(&p))?;
    Ok(p)
}

/// Depth folder of frame `i` of `n` in sequence `s`.
fn depth_folder(s: usize, i: usize, n: usize) -> &'static str {
    match s {
        3 => "new_depth_maps",
        5 if i >= n / 2 => "depth_maps",
        _ => "newest_depth_maps",
    }
}

struct Job {
    seq: usize,
    frame: usize,
    segment: usize,
    seg_frame: usize,
}

/// Generates the demo dataset into `dir` (created if missing). Refuses a
/// non-empty folder unless it holds a previous demo, which is replaced.
pub fn generate(
    dir: &Path,
    opts: &DemoOptions,
    progress: &Progress,
) -> Result<DemoSummary, DemoError> {
    if opts.samples < SEQUENCES.len() {
        return Err(DemoError::Options(format!(
            "need at least {} samples (one per sequence), got {}",
            SEQUENCES.len(),
            opts.samples
        )));
    }
    for (what, v) in [("width", opts.width), ("height", opts.height)] {
        if !(32..=8192).contains(&v) {
            return Err(DemoError::Options(format!(
                "image {what} {v} is outside 32..8192 (size asked: {}x{}); give a {what} from 32 to 8192 pixels",
                opts.width, opts.height
            )));
        }
    }
    prepare_dir(dir)?;

    // Frames per sequence, and the worlds (one per segment) they drive through.
    let counts: Vec<usize> = (0..SEQUENCES.len())
        .map(|s| opts.samples / SEQUENCES.len() + usize::from(s < opts.samples % SEQUENCES.len()))
        .collect();
    let mut worlds: Vec<Vec<World>> = Vec::new();
    let mut jobs = Vec::new();
    for (s, seq) in SEQUENCES.iter().enumerate() {
        let n = counts[s];
        let segs = seq.kinds.len();
        let per = n.div_ceil(segs);
        worlds.push(
            seq.kinds
                .iter()
                .enumerate()
                .map(|(k, &kind)| {
                    World::new(
                        kind,
                        per,
                        opts.seed.wrapping_mul(31).wrapping_add((s * 8 + k) as u64),
                    )
                })
                .collect(),
        );
        for frame in 0..n {
            jobs.push(Job {
                seq: s,
                frame,
                segment: frame / per,
                seg_frame: frame % per,
            });
        }
    }
    for seq in &SEQUENCES {
        for sub in [
            "image_a6",
            "newest_depth_maps",
            "new_depth_maps",
            "depth_maps",
        ] {
            let p = dir.join(seq.root).join(sub);
            fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
    }

    progress.begin("demo", jobs.len() as u64);
    let results: Vec<Option<(f64, f64)>> = jobs
        .par_iter()
        .map(|job| {
            if progress.is_cancelled() {
                return Ok(None);
            }
            let seq = &SEQUENCES[job.seq];
            let world = &worlds[job.seq][job.segment];
            let fseed = opts.seed ^ ((job.seq as u64) << 32);
            let frame = scene::render(world, job.seg_frame, opts.width, opts.height, fseed);
            let depth = scene::lidar(&frame.depth, opts.width, opts.height, fseed, job.frame);
            let stem = format!("{:010}", job.frame);
            let base = dir.join(seq.root);
            let image = base
                .join("image_a6")
                .join(format!("{stem}.{}", if seq.jpeg { "jpg" } else { "png" }));
            write_rgb(&image, &frame.rgb, opts.width, opts.height, seq.jpeg)?;
            let folder = depth_folder(job.seq, job.frame, counts[job.seq]);
            let dpath = base.join(folder).join(format!("{stem}.png"));
            write_depth(&dpath, &depth, opts.width, opts.height)?;
            progress.inc(1);
            let valid: Vec<f64> = depth
                .iter()
                .filter(|&&d| d > 0)
                .map(|&d| d as f64 / 256.0)
                .collect();
            let mean = valid.iter().sum::<f64>() / valid.len().max(1) as f64;
            Ok(Some((mean, valid.len() as f64 / depth.len() as f64)))
        })
        .collect::<Result<_, DemoError>>()?;
    let cancelled = results.iter().any(Option::is_none);

    // Split entries in sequence order, then shuffled and cut 80/10/10.
    let mut entries: Vec<serde_json::Value> = Vec::new();
    let mut image_path_entries = 0;
    for (job, res) in jobs.iter().zip(&results) {
        if res.is_none() {
            continue;
        }
        let seq = &SEQUENCES[job.seq];
        let stem = format!("{:010}", job.frame);
        let ext = if seq.jpeg { "jpg" } else { "png" };
        if job.seq == 5 && job.frame % 10 == 3 {
            image_path_entries += 1;
            entries.push(serde_json::json!({
                "image_path": format!("{}/image_a6/{stem}.{ext}", seq.root),
            }));
        } else {
            entries.push(serde_json::json!({
                "dataset_root": seq.root,
                "new_filename": stem,
                "a5_original_path": format!("/data/raw/{}/a5/{stem}.png", seq.root),
                "a6_original_path": format!("/data/raw/{}/a6/{stem}.png", seq.root),
                "pcd_original_path": format!("/data/raw/{}/pcd/{stem}.pcd", seq.root),
            }));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    entries.shuffle(&mut rng);
    let n = entries.len();
    let n_train = (n * 8).div_ceil(10);
    let n_val = (n - n_train) / 2;
    let (train, rest) = entries.split_at(n_train);
    let (val, test) = rest.split_at(n_val);
    let splits = [
        ("splits/combined_train.json", train),
        ("splits/combined_val.json", val),
        ("splits/combined_test.json", test),
        ("train_split.json", train),
    ];
    let sp = dir.join("splits");
    fs::create_dir_all(&sp).map_err(io_err(&sp))?;
    for (name, list) in splits {
        let p = dir.join(name);
        let text = serde_json::to_string_pretty(list).expect("JSON values serialise");
        write_file(&p, text.as_bytes())?;
    }
    write_mask(&dir.join("binary_mask.png"), opts.width, opts.height)?;
    write_model(dir)?;
    let marker = Marker {
        format: MARKER_FORMAT.into(),
        options: opts.clone(),
        wrote: TOP_LEVEL.iter().map(|s| s.to_string()).collect(),
    };
    let p = dir.join(MARKER);
    write_file(
        &p,
        serde_json::to_string_pretty(&marker)
            .expect("serialisable")
            .as_bytes(),
    )?;

    let mut bins = [0usize; 4];
    let mut valid_sum = 0.0;
    let done: Vec<(f64, f64)> = results.iter().flatten().copied().collect();
    for &(mean, frac) in &done {
        valid_sum += frac;
        if let Some(b) =
            (0..4).find(|&b| mean >= MEAN_DEPTH_BINS[b] && mean < MEAN_DEPTH_BINS[b + 1])
        {
            bins[b] += 1;
        }
    }
    let jpeg_samples = jobs
        .iter()
        .zip(&results)
        .filter(|(j, r)| r.is_some() && SEQUENCES[j.seq].jpeg)
        .count();
    Ok(DemoSummary {
        root: dir.to_path_buf(),
        samples: done.len(),
        sequences: SEQUENCES.iter().map(|s| s.root.to_string()).collect(),
        splits: splits.iter().map(|(n, _)| n.to_string()).collect(),
        train: train.len(),
        val: val.len(),
        test: test.len(),
        jpeg_samples,
        image_path_entries,
        mean_depth_bins: bins,
        valid_fraction: valid_sum / done.len().max(1) as f64,
        cancelled,
    })
}

/// Creates `dir`, or checks it is empty or a previous demo (then removes
/// exactly what that demo wrote).
fn prepare_dir(dir: &Path) -> Result<(), DemoError> {
    if !dir.exists() {
        return fs::create_dir_all(dir).map_err(io_err(dir));
    }
    let mut names = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        names.push(
            e.map_err(io_err(dir))?
                .file_name()
                .to_string_lossy()
                .into_owned(),
        );
    }
    if names.is_empty() {
        return Ok(());
    }
    let marker: Option<Marker> = fs::read(dir.join(MARKER))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|m: &Marker| m.format == MARKER_FORMAT);
    let not_empty = || DemoError::NotEmpty {
        dir: dir.display().to_string(),
    };
    let marker = marker.ok_or_else(not_empty)?;
    // Only ever remove names a demo writes, and only if nothing foreign is beside them.
    let ours = |n: &str| TOP_LEVEL.contains(&n) && marker.wrote.iter().any(|w| w == n);
    if names.iter().any(|n| !ours(n)) {
        return Err(not_empty());
    }
    for n in names {
        let p = dir.join(&n);
        let r = if p.is_dir() {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
        r.map_err(io_err(&p))?;
    }
    Ok(())
}

/// Writes through a temporary name and renames, so no half-written file
/// ever carries a final name (no fsync: a demo can be regenerated).
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), DemoError> {
    let tmp = crate::fsutil::tmp_path_for(path);
    fs::write(&tmp, bytes)
        .and_then(|_| fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(path)(e)
        })
}

fn png_bytes(
    data: &[u8],
    w: u32,
    h: u32,
    colour: png::ColorType,
    depth: png::BitDepth,
    level: png::Compression,
) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(colour);
        enc.set_depth(depth);
        enc.set_compression(level);
        let mut wr = enc.write_header().expect("in-memory PNG header");
        wr.write_image_data(data)
            .expect("in-memory PNG data of the declared size");
    }
    out
}

fn write_rgb(path: &Path, rgb: &[u8], w: u32, h: u32, jpeg: bool) -> Result<(), DemoError> {
    let bytes = if jpeg {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
            .encode(rgb, w, h, image::ExtendedColorType::Rgb8)
            .map_err(|e| io_err(path)(io::Error::other(e)))?;
        out
    } else {
        png_bytes(
            rgb,
            w,
            h,
            png::ColorType::Rgb,
            png::BitDepth::Eight,
            png::Compression::Fast,
        )
    };
    write_file(path, &bytes)
}

fn write_depth(path: &Path, depth: &[u16], w: u32, h: u32) -> Result<(), DemoError> {
    let be: Vec<u8> = depth.iter().flat_map(|d| d.to_be_bytes()).collect();
    // Default zlib-like level, as depth maps written by common tools are.
    let bytes = png_bytes(
        &be,
        w,
        h,
        png::ColorType::Grayscale,
        png::BitDepth::Sixteen,
        png::Compression::Balanced,
    );
    write_file(path, &bytes)
}

/// The valid area of a fisheye frame: an ellipse slightly larger than the image.
fn write_mask(path: &Path, w: u32, h: u32) -> Result<(), DemoError> {
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (rx, ry) = (w as f32 * 0.56, h as f32 * 0.62);
    let mut m = vec![0u8; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = ((x as f32 + 0.5 - cx) / rx, (y as f32 + 0.5 - cy) / ry);
            if dx * dx + dy * dy <= 1.0 {
                m[(y * w + x) as usize] = 255;
            }
        }
    }
    write_file(
        path,
        &png_bytes(
            &m,
            w,
            h,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            png::Compression::Fast,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(samples: usize) -> DemoOptions {
        DemoOptions {
            seed: 3,
            samples,
            width: 96,
            height: 64,
        }
    }

    #[test]
    fn layout_splits_and_determinism() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let s = generate(a.path(), &small(30), &Progress::new()).unwrap();
        generate(b.path(), &small(30), &Progress::new()).unwrap();
        assert_eq!(s.samples, 30);
        assert_eq!(s.train + s.val + s.test, 30);
        assert_eq!(s.train, 24);
        assert!(s.jpeg_samples > 0 && s.image_path_entries > 0);
        for f in [
            "splits/combined_train.json",
            "train_split.json",
            "binary_mask.png",
        ] {
            assert_eq!(
                fs::read(a.path().join(f)).unwrap(),
                fs::read(b.path().join(f)).unwrap(),
                "{f}"
            );
        }
        let d = "synced_data/seq_01/newest_depth_maps/0000000002.png";
        assert_eq!(
            fs::read(a.path().join(d)).unwrap(),
            fs::read(b.path().join(d)).unwrap()
        );
        assert!(a
            .path()
            .join("synced_data/seq_02/image_a6/0000000000.jpg")
            .exists());
        assert!(a
            .path()
            .join("synced_data/seq_03/new_depth_maps/0000000000.png")
            .exists());
        assert_eq!(
            fs::read(a.path().join(DEMO_MODEL_PATH)).unwrap(),
            DEMO_MODEL
        );
        // Regenerating over a previous demo is allowed.
        generate(a.path(), &small(12), &Progress::new()).unwrap();
        assert!(!a
            .path()
            .join("synced_data/seq_00/image_a6/0000000004.png")
            .exists());
    }

    #[test]
    fn refuses_foreign_folder() {
        let a = tempfile::tempdir().unwrap();
        fs::write(a.path().join("thesis.tex"), "precious").unwrap();
        let err = generate(a.path(), &small(12), &Progress::new()).unwrap_err();
        assert!(matches!(err, DemoError::NotEmpty { .. }), "{err}");
        assert_eq!(
            fs::read_to_string(a.path().join("thesis.tex")).unwrap(),
            "precious"
        );
        assert_eq!(fs::read_dir(a.path()).unwrap().count(), 1);
        // A demo folder with a foreign file added is not wiped either.
        let b = tempfile::tempdir().unwrap();
        generate(b.path(), &small(12), &Progress::new()).unwrap();
        fs::write(b.path().join("notes.txt"), "mine").unwrap();
        assert!(generate(b.path(), &small(12), &Progress::new()).is_err());
        assert!(b.path().join("notes.txt").exists());
    }

    #[test]
    fn covers_all_mean_depth_bins_and_is_sparse() {
        let a = tempfile::tempdir().unwrap();
        let s = generate(
            a.path(),
            &DemoOptions {
                seed: 7,
                samples: 60,
                width: 160,
                height: 96,
            },
            &Progress::new(),
        )
        .unwrap();
        assert!(
            s.mean_depth_bins.iter().all(|&n| n > 0),
            "{:?}",
            s.mean_depth_bins
        );
        assert!(
            (0.04..0.12).contains(&s.valid_fraction),
            "{}",
            s.valid_fraction
        );
    }
}
