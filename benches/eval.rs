//! Evaluation throughput against bare ONNX Runtime inference over the same
//! images, in one run, the CPU time of each stage evaluation does, and the
//! peak memory of `calibscope eval` on a small and a 5× larger split.
//!
//! - stages: per image, CPU time of reading, decoding and preprocessing the
//!   image, the network (all of ONNX Runtime's threads), reading the GT and
//!   scoring; from them the best ratio any overlap can give on this many
//!   cores: the network's CPU time over all CPU time evaluation needs.
//! - bare: the model run by ONNX Runtime on input tensors already in memory
//!   (preprocessed before the clock starts): the network alone, with ONNX
//!   Runtime's threads spinning (its default) and sleeping (what evaluation
//!   uses); the ratio is against the faster.
//! - eval: `evaluate` with the prediction cache off, so it reads every image
//!   and depth map, preprocesses, runs the same network, decodes, resizes
//!   and scores. Ratio = eval images/s ÷ bare images/s (target ≥ 0.9).
//!   Both are timed in alternation, best of the rounds.
//! - also against read + preprocess + infer done one after the other (what
//!   any evaluation must do at least), to show what the pipeline overlaps;
//! - peak RSS of the CLI (`--no-cache`) on N and 5·N samples (`/usr/bin/time`).
//!
//! Run: `cargo bench --bench eval` (env: BENCH_SAMPLES, default 40 — the
//! small split; the demo images are 640×384 like the users', the demo
//! model's input 320×192). BENCH_MODEL=FILE times another single-input
//! model instead, e.g. the ResNet-18 depth network of
//! `scripts/make_resnet18_depth.py OUT --width 640 --height 384` (where the
//! network dominates as in the users' case).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use calibscope::dataset::{read_split, resolve_sample, DatasetSettings};
use calibscope::demo::{self, DemoOptions};
use calibscope::evaluate::{evaluate, score_prediction, EvalRequest, Head, PredictionSource};
use calibscope::preprocess::PreprocessSettings;
use calibscope::progress::Progress;
use calibscope::runtime::infer::Model;

/// Peak resident set (KB) of one `calibscope` run, measured by
/// `/usr/bin/time` (a child forked from this large process would inherit its
/// high-water mark, so the child is started from `time`).
fn peak_rss_kb(exe: &Path, args: &[&str], home: &Path) -> Option<u64> {
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("RSS_KB=%M")
        .arg(exe)
        .args(args)
        .env("CALIBSCOPE_HOME", home)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("RSS_KB="))
        .and_then(|v| v.trim().parse().ok())
}

/// CPU seconds of this thread, or of the whole process (all threads).
fn cpu_seconds(process: bool) -> f64 {
    let clock = if process {
        libc::CLOCK_PROCESS_CPUTIME_ID
    } else {
        libc::CLOCK_THREAD_CPUTIME_ID
    };
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// The model's names and shape, as the bench feeds it.
struct Io {
    input: String,
    output: String,
    shape: [i64; 4],
}

/// Runs the model on one tensor; its output as a head ([.., H, W]).
fn run_head(model: &mut Model, io: &Io, x: Vec<f32>) -> Head {
    let mut head = None;
    model
        .run_with(&io.input, &io.shape, x, |outs| {
            let (_, shape, v) = outs
                .into_iter()
                .find(|(n, _, _)| *n == io.output)
                .expect("the output");
            let d = shape.len();
            head = Some(Head {
                name: io.output.clone(),
                width: shape[d - 1] as usize,
                height: shape[d - 2] as usize,
                values: v.to_vec(),
            });
        })
        .expect("inference");
    head.expect("the output")
}

/// CPU milliseconds per image of each stage of evaluation, one after the
/// other on this thread (the network's over all its threads); returns
/// (network, everything else).
fn stage_profile(
    root: &Path,
    split: &calibscope::dataset::Split,
    settings: &DatasetSettings,
    pre: &PreprocessSettings,
    model: &mut Model,
    io: &Io,
    req: &EvalRequest,
) -> (f64, f64) {
    let mut t = [0f64; 6];
    let n = split.entries.len();
    for e in &split.entries {
        let r = resolve_sample(root, e, settings).expect("sample");
        // Adds this thread's CPU time since the last mark to stage `i`.
        let mut last = cpu_seconds(false);
        let mut mark = |i: usize, t: &mut [f64; 6]| {
            let now = cpu_seconds(false);
            t[i] += now - last;
            last = now;
        };
        let bytes = std::fs::read(&r.image).expect("image");
        mark(0, &mut t);
        let img = image::load_from_memory(&bytes).expect("decode");
        mark(1, &mut t);
        let x = pre.tensor_from_image(&img);
        mark(2, &mut t);
        let before = cpu_seconds(true);
        let head = run_head(model, io, x);
        t[3] += cpu_seconds(true) - before;
        // The network's own thread time is in t[3]: not counted again.
        let skip = cpu_seconds(false);
        let gt = calibscope::depth::load_depth(&r.depth, settings.depth_encoding).expect("gt");
        t[4] += cpu_seconds(false) - skip;
        let skip = cpu_seconds(false);
        let m = score_prediction(&gt, &[&head], &req.decoder, &req.settings, None).expect("score");
        std::hint::black_box(m);
        t[5] += cpu_seconds(false) - skip;
    }
    let ms = |v: f64| v * 1000.0 / n as f64;
    println!("CPU time per image of each stage, one after the other ({n} images):");
    for (i, name) in [
        "read image file",
        "decode image (PNG/JPEG)",
        "preprocess (to float, resize, layout)",
        "network (all ONNX Runtime threads)",
        "read + decode GT depth PNG",
        "decode output, resize to GT, metrics",
    ]
    .iter()
    .enumerate()
    {
        println!("  {name:<40} {:7.2} ms", ms(t[i]));
    }
    let other = t.iter().sum::<f64>() - t[3];
    (ms(t[3]), ms(other))
}

fn write_split(root: &Path, name: &str, entries: &[serde_json::Value]) -> PathBuf {
    let p = root.join(name);
    std::fs::write(&p, serde_json::to_vec(entries).expect("json")).expect("write split");
    p
}

fn main() {
    let n: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let tmp = tempfile::tempdir().expect("temp dir");
    let home = tmp.path().join("home");
    std::env::set_var("CALIBSCOPE_HOME", &home);
    let root = tmp.path().join("demo");
    let opts = DemoOptions {
        seed: 5,
        samples: (5 * n * 10 / 8).max(60),
        ..Default::default()
    };
    demo::generate(&root, &opts, &Progress::new()).expect("demo");
    let train: Vec<serde_json::Value> = serde_json::from_slice(
        &std::fs::read(root.join("splits/combined_train.json")).expect("split"),
    )
    .expect("split json");
    assert!(train.len() >= 5 * n, "demo too small for 5x{n}");
    let small = write_split(&root, "bench_small.json", &train[..n]);
    let large = write_split(&root, "bench_large.json", &train[..5 * n]);
    let model_path = std::env::var_os("BENCH_MODEL").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_model.onnx"),
        PathBuf::from,
    );

    // Bare inference: tensors prepared before the clock starts.
    let settings = DatasetSettings::default();
    let split = read_split(&root, &small).expect("split");
    let proto = calibscope::onnx::load(&model_path).expect("model");
    let pre = PreprocessSettings::from_model(&calibscope::onnx::summarize(&proto), None)
        .expect("an image input");
    let tensors: Vec<Vec<f32>> = split
        .entries
        .iter()
        .map(|e| {
            let r = resolve_sample(&root, e, &settings).expect("sample");
            let bytes = std::fs::read(&r.image).expect("image");
            pre.tensor_from_image_bytes(&bytes, &r.image)
                .expect("tensor")
        })
        .collect();
    // Bare inference both ways ONNX Runtime can wait between operators
    // (spinning, its default, and sleeping, which evaluation uses); the
    // ratio is taken against the faster of the two in this run.
    let model_bytes = std::fs::read(&model_path).expect("model");
    let mut spinning = Model::from_bytes(&model_bytes).expect("model");
    let mut sleeping = Model::from_bytes_without_spinning(&model_bytes).expect("model");
    let io = Io {
        input: pre.input_name.clone(),
        output: sleeping.output_names()[0].clone(),
        shape: pre.input_shape(),
    };
    for model in [&mut spinning, &mut sleeping] {
        for t in tensors.iter().take(3) {
            model
                .run_one(&io.input, &io.shape, t.clone(), &io.output)
                .expect("warm-up");
        }
    }
    let mut req = EvalRequest::new(
        root.clone(),
        small.clone(),
        PredictionSource::Model {
            path: model_path.clone(),
            preprocess: None,
        },
    );
    req.use_cache = false;
    req.decoder.max_depth = 100.0;

    let images: Vec<PathBuf> = split
        .entries
        .iter()
        .map(|e| resolve_sample(&root, e, &settings).expect("sample").image)
        .collect();
    // What each `evaluate` call spends before its first image (inside its
    // time below): hashing the model and building its session.
    let t = Instant::now();
    calibscope::evaluate::predict::file_sha256(&model_path).expect("hash");
    calibscope::evaluate::predict::Network::load(&model_path, None).expect("session");
    let setup = t.elapsed();
    let (net_cpu, other_cpu) =
        stage_profile(&root, &split, &settings, &pre, &mut sleeping, &io, &req);

    let rounds = 3;
    let (mut spin_best, mut sleep_best, mut eval_best, mut seq_best) =
        (Duration::MAX, Duration::MAX, Duration::MAX, Duration::MAX);
    // Per round, bare (the faster) and eval side by side in time: wall
    // ratio, and CPU ratio (process CPU time of sleeping bare over eval's),
    // which other work on a shared host disturbs much less.
    let (mut wall_ratios, mut cpu_ratios) = (Vec::new(), Vec::new());
    let mut last_run = None;
    for _ in 0..rounds {
        let mut round_bare = Duration::MAX;
        let mut bare_cpu = 0.0;
        for (model, best) in [
            (&mut spinning, &mut spin_best),
            (&mut sleeping, &mut sleep_best),
        ] {
            let c = cpu_seconds(true);
            let t = Instant::now();
            for x in &tensors {
                let out = model
                    .run_one(&io.input, &io.shape, x.clone(), &io.output)
                    .expect("inference");
                std::hint::black_box(out);
            }
            *best = (*best).min(t.elapsed());
            round_bare = round_bare.min(t.elapsed());
            // The sleeping session's CPU time (the loop ends with it).
            bare_cpu = cpu_seconds(true) - c;
        }
        let model = &mut sleeping;
        let t = Instant::now();
        for p in &images {
            let bytes = std::fs::read(p).expect("image");
            let x = pre.tensor_from_image_bytes(&bytes, p).expect("tensor");
            let out = model
                .run_one(&io.input, &io.shape, x, &io.output)
                .expect("inference");
            std::hint::black_box(out);
        }
        seq_best = seq_best.min(t.elapsed());
        let c = cpu_seconds(true);
        let t = Instant::now();
        let run = evaluate(&req, &Progress::new()).expect("evaluate");
        eval_best = eval_best.min(t.elapsed());
        wall_ratios.push(round_bare.as_secs_f64() / t.elapsed().as_secs_f64());
        cpu_ratios.push(bare_cpu / (cpu_seconds(true) - c));
        assert_eq!(run.cache.network_runs as usize, n);
        last_run = Some(run);
    }
    let run = last_run.expect("a round");
    let spin = n as f64 / spin_best.as_secs_f64();
    let sleep = n as f64 / sleep_best.as_secs_f64();
    let bare = spin.max(sleep);
    let eval = n as f64 / eval_best.as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!(
        "evaluation of {n} demo images (640x384 GT) by {} (input {}x{}), best of {rounds} rounds on {cores} cores",
        model_path.file_name().map_or(String::new(), |f| f.to_string_lossy().into_owned()),
        pre.width,
        pre.height
    );
    println!(
        "  bare ONNX Runtime inference (tensors in memory): {spin:.1} images/s spinning, {sleep:.1} sleeping"
    );
    println!("  calibscope evaluate (read, preprocess, infer, decode, score): {eval:.1} images/s");
    println!(
        "    (its time includes {:.0} ms of setup: model SHA-256 and session)",
        setup.as_secs_f64() * 1000.0
    );
    let seq = n as f64 / seq_best.as_secs_f64();
    println!("  read + preprocess + infer, one after the other: {seq:.1} images/s");
    println!(
        "  ratio eval / bare (the faster bare): {:.2} (target >= 0.9)",
        eval / bare
    );
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "  per round, eval / bare side by side: median {:.2} by wall time, {:.2} by CPU time (bare sleeping)",
        median(&mut wall_ratios),
        median(&mut cpu_ratios)
    );
    println!(
        "  ratio eval / (read + preprocess + infer): {:.2}",
        eval / seq
    );
    // When bare inference keeps every core busy (ONNX Runtime runs one
    // thread per core), evaluation's extra CPU time cannot hide in idle
    // cores: the network's share of all the CPU time is the best ratio.
    println!(
        "  CPU per image: network {net_cpu:.2} ms, everything else {other_cpu:.2} ms; \
         best ratio when bare inference keeps all {cores} cores busy: {:.2}",
        net_cpu / (net_cpu + other_cpu)
    );
    println!(
        "  abs_rel {:.4} over {} images",
        run.metrics.abs_rel, run.images
    );

    // Cached re-evaluation (other metric settings): no network at all.
    let mut cached = req.clone();
    cached.use_cache = true;
    evaluate(&cached, &Progress::new()).expect("fill cache");
    cached.settings.median_scaling = true;
    let t = Instant::now();
    let r = evaluate(&cached, &Progress::new()).expect("cached");
    assert_eq!(r.cache.network_runs, 0);
    println!(
        "  re-evaluation from the prediction cache: {:.1} images/s",
        n as f64 / t.elapsed().as_secs_f64()
    );

    let exe = Path::new(env!("CARGO_BIN_EXE_calibscope"));
    let r = root.display().to_string();
    let m = model_path.display().to_string();
    let rss = |split: &Path| {
        let out = tmp.path().join("rss.json");
        peak_rss_kb(
            exe,
            &[
                "eval",
                "--root",
                &r,
                "--split",
                &split.display().to_string(),
                "--model",
                &m,
                "--no-cache",
                "--out",
                &out.display().to_string(),
            ],
            &home,
        )
    };
    match (rss(&small), rss(&large)) {
        (Some(s), Some(l)) => println!(
            "peak RSS of `calibscope eval`: {n} samples {s} KB, {} samples {l} KB (growth {} KB)",
            5 * n,
            l as i64 - s as i64
        ),
        _ => println!("peak RSS: skipped (needs /usr/bin/time, or the eval command failed)"),
    }
}
