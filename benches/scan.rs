//! Scan throughput, measured in one run against two references on the same
//! depth PNGs and the same cores:
//!
//! 1. a decode-only loop (read + PNG decode, rayon, nothing else): the
//!    physical limit of a scan. Timed two ways, whole frame into a reused
//!    buffer and row by row into a reused row (the png crate's two output
//!    paths, default decoder options as the scan uses); the ratio is taken
//!    against whichever is faster in the run: best wall time of each, total
//!    CPU time of each, and the median of the rounds' paired ratios. The
//!    three loops run in turn, in reverse order every other round;
//! 2. the seed script `create_ncdb_metadata.py` (its `analyze_split` timed
//!    in-process, so Python's start-up is not counted against it).
//!
//! Then the cached rescan of a 10,000-sample split and the peak memory of
//! `calibscope scan` on a small and a 5× larger split of the same images.
//!
//! Run: `cargo bench --bench scan` (env: BENCH_SAMPLES, default 300;
//! CALIBSCOPE_SEED_DIR if the seed is not at ../shared/seed).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use calibscope::dataset::{read_split, DatasetSettings};
use calibscope::demo::{self, DemoOptions};
use calibscope::progress::Progress;
use calibscope::scan::{self, ScanCache};
use rayon::prelude::*;

/// CPU seconds (user + system) used by this process so far, all threads:
/// unlike wall time, barely inflated when other processes share the cores.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        last = Some(v);
    }
    (best, last.expect("at least one run"))
}

fn depth_files(root: &Path, settings: &DatasetSettings, split: &Path) -> Vec<PathBuf> {
    let split = read_split(root, split).expect("demo split");
    split
        .entries
        .iter()
        .filter_map(|e| calibscope::dataset::resolve_sample(root, e, settings).ok())
        .map(|r| r.depth)
        .collect()
}

/// Reads `p` whole into `file` (reused) and reads the PNG header.
fn read_png<'a>(p: &Path, file: &'a mut Vec<u8>) -> png::Reader<std::io::Cursor<&'a [u8]>> {
    file.clear();
    std::fs::File::open(p)
        .and_then(|mut f| f.read_to_end(file))
        .expect("read depth");
    png::Decoder::new(std::io::Cursor::new(&file[..]))
        .read_info()
        .expect("png header")
}

/// Read + decode every depth PNG row by row into one reused row buffer
/// (the decoded rows stay in the CPU cache), nothing else.
fn decode_only_rows(files: &[PathBuf]) -> usize {
    files
        .par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(file, row): &mut (Vec<u8>, Vec<u8>), p| {
                let mut r = read_png(p, file);
                let line = r.output_line_size(r.info().width).expect("size");
                row.resize(line, 0);
                let mut touched = 0usize;
                while r.read_row(row).expect("png data").is_some() {
                    touched += row[line / 2] as usize;
                }
                touched
            },
        )
        .sum()
}

/// Read + decode every depth PNG as a whole frame, nothing else.
fn decode_only(files: &[PathBuf]) -> usize {
    files
        .par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(file, pixels): &mut (Vec<u8>, Vec<u8>), p| {
                let mut r = read_png(p, file);
                pixels.resize(r.output_buffer_size().expect("size"), 0);
                r.next_frame(pixels).expect("png data");
                pixels[pixels.len() / 2] as usize
            },
        )
        .sum()
}

/// One round's (wall seconds, CPU seconds) of the whole-frame loop, the
/// row-by-row loop and the scan.
type Round = [(f64, f64); 3];

fn seed_dir() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed");
    let p = std::env::var_os("CALIBSCOPE_SEED_DIR")
        .map(PathBuf::from)
        .unwrap_or(here);
    p.join("create_ncdb_metadata.py").is_file().then_some(p)
}

/// Seconds the seed's `analyze_split` takes (wall, best of 2), the rows it
/// produced and its CPU seconds.
fn seed_time(seed: &Path, root: &Path, split: &str) -> Option<(f64, usize, f64)> {
    let code = format!(
        r#"
import sys, time, io, contextlib
sys.path.insert(0, {seed:?})
from create_ncdb_metadata import NcdbMetadataGenerator
g = NcdbMetadataGenerator({root:?})
best = None
cpu = None
for _ in range(2):
    t = time.perf_counter()
    c = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        df = g.analyze_split({split:?})
    el = time.perf_counter() - t
    cp = time.process_time() - c
    best = el if best is None else min(best, el)
    cpu = cp if cpu is None else min(cpu, cp)
print(best, len(df), cpu)
"#,
        seed = seed.display().to_string(),
        root = root.display().to_string(),
    );
    let out = Command::new("python3").arg("-c").arg(code).output().ok()?;
    if !out.status.success() {
        eprintln!(
            "seed run failed (numpy/pandas/pillow/tqdm missing?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

fn peak_rss_kb(args: &[&str]) -> Option<u64> {
    let exe = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/calibscope");
    if !exe.is_file() || !Path::new("/usr/bin/time").is_file() {
        return None;
    }
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("RSS_KB=%M")
        .arg(&exe)
        .args(args)
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find_map(|l| l.strip_prefix("RSS_KB="))
        .and_then(|v| v.trim().parse().ok())
}

fn main() {
    let samples: usize = std::env::var("BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let tmp = tempfile::tempdir().expect("temp dir");
    std::env::set_var("CALIBSCOPE_HOME", tmp.path().join("home"));
    let root = tmp.path().join("demo");
    let opts = DemoOptions {
        samples,
        ..DemoOptions::default()
    };
    eprintln!(
        "generating {samples} demo samples at {}x{}…",
        opts.width, opts.height
    );
    demo::generate(&root, &opts, &Progress::new()).expect("demo");
    // All samples in one split so every depth map is scanned.
    let split_name = "bench_all.json";
    let mut all: Vec<serde_json::Value> = Vec::new();
    for f in [
        "splits/combined_train.json",
        "splits/combined_val.json",
        "splits/combined_test.json",
    ] {
        let v: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(root.join(f)).unwrap()).unwrap();
        all.extend(v);
    }
    std::fs::write(root.join(split_name), serde_json::to_vec(&all).unwrap()).unwrap();

    let settings = DatasetSettings::default();
    let files = depth_files(&root, &settings, Path::new(split_name));
    let split = read_split(&root, Path::new(split_name)).unwrap();
    let threads = rayon::current_num_threads();

    // Warm the page cache, then interleave the three loops.
    decode_only(&files);
    decode_only_rows(&files);
    let rounds = 12;
    let (mut frame, mut rows_t, mut scn) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let (mut frame_cpu, mut rows_cpu, mut scn_cpu) = (0.0, 0.0, 0.0);
    // Decode + statistics only (no path resolution, no image header, no
    // rows): splits the scan's overhead into counting and the rest.
    let (mut stats_t, mut stats_cpu) = (Duration::MAX, 0.0);
    let enc = settings.depth_encoding;
    let stats_only = || {
        files
            .par_iter()
            .filter(|f| calibscope::depth::analyse_file(f, enc).is_ok_and(|s| s.is_some()))
            .count()
    };
    let mut rows = 0;
    // Per round, (wall, CPU) of whole frame, row by row and scan: the
    // paired ratios' median is barely moved by a noisy moment on a shared
    // machine, which can hit one loop of a round and not the other.
    let mut paired: Vec<Round> = Vec::new();
    let timed = |f: &mut dyn FnMut()| {
        let (c, t) = (cpu_seconds(), Instant::now());
        f();
        (t.elapsed(), cpu_seconds() - c)
    };
    for round in 0..rounds {
        // Loops 0, 1, 2 = whole frame, row by row, scan; every other round
        // in reverse, so a machine speeding up or slowing down during a
        // round favours no loop.
        let mut order = [0, 1, 2];
        if round % 2 == 1 {
            order.reverse();
        }
        let mut this = [(Duration::ZERO, 0.0); 3];
        for &k in &order {
            this[k] = match k {
                0 => timed(&mut || {
                    decode_only(&files);
                }),
                1 => timed(&mut || {
                    decode_only_rows(&files);
                }),
                _ => timed(&mut || {
                    rows = scan::scan(&root, &split, &settings, None, &Progress::new())
                        .rows
                        .len();
                }),
            };
        }
        let [(t_frame, c_frame), (t_rows, c_rows), (t, c_scan)] = this;
        frame = frame.min(t_frame);
        frame_cpu += c_frame;
        rows_t = rows_t.min(t_rows);
        rows_cpu += c_rows;
        scn = scn.min(t);
        scn_cpu += c_scan;
        let (t_stats, c_stats) = timed(&mut || {
            stats_only();
        });
        stats_t = stats_t.min(t_stats);
        stats_cpu += c_stats;
        paired.push([
            (t_frame.as_secs_f64(), c_frame),
            (t_rows.as_secs_f64(), c_rows),
            (t.as_secs_f64(), c_scan),
        ]);
    }
    let (dec, dec_cpu, dec_name, dec_at) = if rows_cpu <= frame_cpu {
        (rows_t, rows_cpu, "row by row", 1)
    } else {
        (frame, frame_cpu, "whole frame", 0)
    };
    let scan_rate = split.len() as f64 / scn.as_secs_f64();
    let dec_rate = files.len() as f64 / dec.as_secs_f64();
    let per = |cpu: f64, n: usize| cpu / rounds as f64 / n as f64 * 1e6;
    println!(
        "threads: {threads}; samples in split: {}; rows: {rows}",
        split.len()
    );
    for (name, t, cpu) in [
        ("whole frame", frame, frame_cpu),
        ("row by row ", rows_t, rows_cpu),
    ] {
        println!(
            "decode-only loop, {name}: {} depth PNGs in {:.3}s = {:.0}/s; CPU {:.0} µs/sample",
            files.len(),
            t.as_secs_f64(),
            files.len() as f64 / t.as_secs_f64(),
            per(cpu, files.len())
        );
    }
    println!(
        "decode + statistics only:   {} depth PNGs in {:.3}s; CPU {:.0} µs/sample",
        files.len(),
        stats_t.as_secs_f64(),
        per(stats_cpu, files.len())
    );
    println!(
        "calibscope scan:  {} samples in {:.3}s = {scan_rate:.0}/s",
        split.len(),
        scn.as_secs_f64()
    );
    println!(
        "RATIO scan / decode-only ({dec_name}, the faster) = {:.3} (wall clock, best of {rounds})",
        scan_rate / dec_rate
    );
    let (dc, sc) = (per(dec_cpu, files.len()), per(scn_cpu, split.len()));
    println!(
        "CPU time per sample: decode-only ({dec_name}) {dc:.0} µs, scan {sc:.0} µs; RATIO (CPU) = {:.3}",
        dc / sc
    );
    let median = |f: &dyn Fn(&Round) -> f64| {
        let mut v: Vec<f64> = paired.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // Time per sample of each loop in a round; ratio = decode time / scan time.
    let (nd, ns) = (files.len() as f64, split.len() as f64);
    let wall = median(&|r| (r[dec_at].0 / nd) / (r[2].0 / ns));
    let cpu = median(&|r| (r[dec_at].1 / nd) / (r[2].1 / ns));
    println!(
        "RATIO scan / decode-only ({dec_name}), median of {rounds} paired rounds: wall {wall:.3}, CPU {cpu:.3}"
    );

    match seed_dir() {
        None => {
            println!("seed: skipped (create_ncdb_metadata.py not found; set CALIBSCOPE_SEED_DIR)")
        }
        Some(seed) => match seed_time(&seed, &root, split_name) {
            None => println!("seed: skipped (python3 or its packages missing)"),
            Some((secs, seed_rows, seed_cpu)) => {
                let seed_rate = seed_rows as f64 / secs;
                println!("seed script:      {seed_rows} samples in {secs:.3}s = {seed_rate:.0}/s (PNG rows only)");
                println!(
                    "RATIO scan / seed = {:.1} (wall clock)",
                    scan_rate / seed_rate
                );
                let seed_per = seed_cpu / seed_rows as f64 * 1e6;
                println!(
                    "CPU time per sample: seed {seed_per:.0} µs (1 core), scan {sc:.0} µs ({threads} threads); RATIO (CPU) = {:.1}",
                    seed_per / sc
                );
            }
        },
    }

    // Cached rescan of 10,000 samples (small images: a cache hit never
    // decodes, so image size does not matter here).
    let big = tmp.path().join("big");
    let n_big = 10_000;
    eprintln!("generating {n_big} small samples for the cache test…");
    demo::generate(
        &big,
        &DemoOptions {
            samples: n_big,
            width: 64,
            height: 40,
            ..DemoOptions::default()
        },
        &Progress::new(),
    )
    .unwrap();
    let mut all: Vec<serde_json::Value> = Vec::new();
    for f in [
        "splits/combined_train.json",
        "splits/combined_val.json",
        "splits/combined_test.json",
    ] {
        let v: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(big.join(f)).unwrap()).unwrap();
        all.extend(v);
    }
    std::fs::write(big.join(split_name), serde_json::to_vec(&all).unwrap()).unwrap();
    let big_split = read_split(&big, Path::new(split_name)).unwrap();
    let (first, _) = best_of(1, || {
        scan::scan_with_default_cache(&big, &big_split, &settings, &Progress::new())
    });
    let (again, (out, _)) = best_of(3, || {
        // Open the cache file, scan, save: what a rerun of the CLI does.
        let mut c = ScanCache::open_default(&big).unwrap();
        let out = scan::scan(&big, &big_split, &settings, Some(&mut c), &Progress::new());
        c.save().unwrap();
        (out, c.len())
    });
    println!(
        "cached rescan of {} samples: {:.3}s ({} from cache; first scan {:.2}s)",
        big_split.len(),
        again.as_secs_f64(),
        out.from_cache,
        first.as_secs_f64()
    );

    // Peak memory of the CLI: a fifth of the split vs all of it, same images.
    let fifth: Vec<_> = all_entries(&root, split_name)
        .into_iter()
        .take(samples / 5)
        .collect();
    std::fs::write(
        root.join("bench_fifth.json"),
        serde_json::to_vec(&fifth).unwrap(),
    )
    .unwrap();
    let r = root.display().to_string();
    let small = peak_rss_kb(&[
        "scan",
        "--root",
        &r,
        "--split",
        "bench_fifth.json",
        "--no-cache",
    ]);
    let large = peak_rss_kb(&["scan", "--root", &r, "--split", split_name, "--no-cache"]);
    match (small, large) {
        (Some(s), Some(l)) => println!(
            "peak RSS of `calibscope scan`: {} samples {s} KB, {} samples {l} KB (growth {} KB)",
            fifth.len(),
            split.len(),
            l as i64 - s as i64
        ),
        _ => println!("peak RSS: skipped (needs target/release/calibscope and /usr/bin/time)"),
    }
}

fn all_entries(root: &Path, split: &str) -> Vec<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(root.join(split)).unwrap()).unwrap()
}
