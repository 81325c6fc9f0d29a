//! Distribution check (and selection) on 100,000 synthetic rows: the GUI
//! recomputes these on every click. Run: `cargo bench --bench distribution`.
//! Prints the median and best of repeated runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use calibscope::distribution::{self, Baseline};
use calibscope::metadata::{scene_type, SampleMeta};
use calibscope::select::{self, Bins, SelectionRequest, Strategy};

fn rows(n: usize) -> Vec<SampleMeta> {
    // A deterministic spread of mean depths (0.3..60 m, most below 8 m).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            let mean = 0.3 + 60.0 * u.powi(3);
            SampleMeta {
                dataset_root: format!("synced_data/seq_{:03}", i % 250),
                filename: format!("{:010}", i / 250),
                image_path: String::new(),
                depth_path: String::new(),
                depth_variant: ["newest_depth_maps", "depth_maps"][i % 7 / 6].into(),
                mean_depth: mean,
                median_depth: mean * 0.9,
                min_depth: 0.2,
                max_depth: mean * 3.0,
                std_depth: mean * 0.3,
                p50: mean * 0.9,
                p90: mean * 1.8,
                p95: mean * 2.1,
                width: 640,
                height: 384,
                scene_type: scene_type(mean, 5.0, 15.0).into(),
                valid_pixels: 10_000 + (i as u64 % 5000),
                total_pixels: 245_760,
                depth_hist: vec![],
            }
        })
        .collect()
}

fn time<T>(name: &str, reps: usize, mut f: impl FnMut() -> T) -> Duration {
    black_box(f());
    let mut t: Vec<Duration> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            black_box(f());
            s.elapsed()
        })
        .collect();
    t.sort();
    let med = t[reps / 2];
    println!(
        "{name:<58} median {:>9.3} ms   best {:>9.3} ms   ({reps} runs)",
        med.as_secs_f64() * 1e3,
        t[0].as_secs_f64() * 1e3
    );
    med
}

fn main() {
    let n = 100_000;
    let data = rows(n);
    let bins = Bins::default();
    let sel = select::run(&data, &SelectionRequest::default()).unwrap();
    let big: Vec<usize> = (0..n).step_by(10).collect();
    println!(
        "{n} synthetic rows, {} selected by the seed's plan",
        sel.len()
    );

    time(
        "distribution::check (split side + compare), 300 selected",
        50,
        || distribution::check(&data, &sel.indices, &bins).unwrap(),
    );
    let base = Baseline::new(&data, &bins).unwrap();
    time("Baseline::compare (per click), 300 selected", 200, || {
        base.compare(&data, &sel.indices)
    });
    time(
        "Baseline::compare (per click), 10,000 selected",
        100,
        || base.compare(&data, &big),
    );
    time("Baseline::new (once per split)", 50, || {
        Baseline::new(&data, &bins).unwrap()
    });
    time("select::run stratified, target 300", 50, || {
        select::run(&data, &SelectionRequest::default()).unwrap()
    });
    time("select::run random, target 300", 50, || {
        select::run(
            &data,
            &SelectionRequest {
                strategy: Strategy::Random,
                ..SelectionRequest::default()
            },
        )
        .unwrap()
    });
    time("select::run diverse (k-center), target 300", 5, || {
        select::run(
            &data,
            &SelectionRequest {
                strategy: Strategy::Diverse,
                ..SelectionRequest::default()
            },
        )
        .unwrap()
    });
}
