//! Frame time of the desktop app with 100,000 samples: the Calibration set
//! view's grid scrolled by the mouse wheel and a tile toggled every few
//! frames. Each frame is a full egui pass of the real app (layout, plots
//! cache checks, thumbnail requests, texture uploads) plus tessellation —
//! everything a real frame does on the CPU before the GPU draws it.
//!
//! Run: `cargo bench --bench gui_frame` (prints median and p95 frame time).

use std::time::{Duration, Instant};

use calibscope::gui::curation::GridSource;
use calibscope::gui::dataset::Loaded;
use calibscope::gui::{CalibApp, Persisted, View};
use calibscope::metadata::SampleMeta;

const N: usize = 100_000;
const FRAMES: usize = 400;

fn synthetic(root: &std::path::Path) -> Vec<SampleMeta> {
    // Tiny images (8x5) so the benchmark measures the UI, not PNG decoding.
    let seq_dir = |s: usize| root.join(format!("seq{s:02}/image_a6"));
    for s in 0..20 {
        std::fs::create_dir_all(seq_dir(s)).unwrap();
    }
    (0..N)
        .map(|i| {
            let seq = i % 20;
            let stem = format!("{:010}", i / 20);
            let mean = 0.5 + (i as f64 * 0.618_033_988_7).fract() * 30.0;
            let rel = format!("seq{seq:02}/image_a6/{stem}.png");
            let shade = (mean * 8.0) as u8;
            image::RgbImage::from_pixel(8, 5, image::Rgb([shade, 255 - shade, 128]))
                .save(root.join(&rel))
                .unwrap();
            SampleMeta {
                dataset_root: format!("seq{seq:02}"),
                filename: stem,
                image_path: rel,
                depth_path: format!("seq{seq:02}/newest_depth_maps/{i}.png"),
                depth_variant: if i % 3 == 0 {
                    "newest_depth_maps"
                } else {
                    "depth_maps"
                }
                .into(),
                mean_depth: mean,
                median_depth: mean * 0.9,
                min_depth: 0.3,
                max_depth: mean * 2.0,
                std_depth: mean / 4.0,
                p50: mean * 0.9,
                p90: mean * 1.5,
                p95: mean * 1.7,
                width: 640,
                height: 384,
                scene_type: calibscope::metadata::scene_type(mean, 5.0, 15.0).into(),
                valid_pixels: 20_000 + (i as u64 % 5000),
                total_pixels: 245_760,
                depth_hist: vec![],
            }
        })
        .collect()
}

fn main() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data-root");
    let t = Instant::now();
    let rows = synthetic(&data);
    eprintln!(
        "made {N} synthetic samples in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let dirs = calibscope::fsutil::AppDirs {
        cache: home.path().join("cache"),
        data: home.path().join("data"),
        config: home.path().join("config"),
    };
    let mut app = CalibApp::new_in(Persisted::default(), Default::default(), Some(dirs));
    app.install(Loaded {
        root: data.clone(),
        split: None,
        metadata_file: None,
        rows,
        skipped: Vec::new(),
        cancelled: false,
        settings: Default::default(),
        warnings: Vec::new(),
        project: None,
    });
    app.view = View::Calibration;
    app.ds.as_mut().unwrap().grid.source = GridSource::All;

    let ctx = egui::Context::default();
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0));
    let over_grid = egui::pos2(700.0, 450.0);
    let frame = |events: Vec<egui::Event>, app: &mut CalibApp| -> Duration {
        let input = egui::RawInput {
            screen_rect: Some(screen),
            events,
            ..Default::default()
        };
        let t = Instant::now();
        let out = ctx.run_ui(input, |ui| app.show(ui));
        let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
        std::hint::black_box(prims);
        t.elapsed()
    };
    // Warm up: first layout, fonts, first thumbnails.
    for _ in 0..30 {
        frame(vec![egui::Event::PointerMoved(over_grid)], &mut app);
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut times = Vec::with_capacity(FRAMES);
    let mut toggle_times = Vec::new();
    let mut toggles = 0;
    for k in 0..FRAMES {
        let mut ev = vec![
            egui::Event::PointerMoved(over_grid),
            egui::Event::MouseWheel {
                unit: egui::MouseWheelUnit::Point,
                delta: egui::vec2(0.0, -120.0),
                phase: egui::TouchPhase::Move,
                source: egui::MouseWheelSource::Unknown,
                modifiers: Default::default(),
            },
        ];
        if k % 10 == 5 {
            // Toggle the tile under the cursor: arrow to select it, space to toggle.
            for key in [egui::Key::ArrowRight, egui::Key::Space] {
                ev.push(egui::Event::Key {
                    key,
                    physical_key: None,
                    pressed: true,
                    repeat: false,
                    modifiers: Default::default(),
                });
            }
            toggles += 1;
        }
        let toggled = ev.len() > 2;
        let t = frame(ev, &mut app);
        times.push(t);
        if toggled {
            toggle_times.push(t);
        }
    }
    let ds = app.ds.as_ref().unwrap();
    let offset: f32 = ctx.data(|d| d.get_temp(egui::Id::unique("grid_view_y")).unwrap_or(0.0));
    let thumbs = app.calibration.thumbs.as_ref().unwrap();
    times.sort();
    toggle_times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "gui_frame: {N} samples, {FRAMES} frames scrolling the grid ({offset:.0} pt scrolled), {toggles} toggles ({} in set)",
        ds.cur.set_len()
    );
    println!(
        "gui_frame: median {:.2} ms, p95 {:.2} ms, max {:.2} ms per frame (budget 16 ms); {} textures held, {} evicted",
        ms(times[FRAMES / 2]),
        ms(times[FRAMES * 95 / 100]),
        ms(times[FRAMES - 1]),
        thumbs.texture_count(),
        thumbs.evicted
    );
    println!(
        "gui_frame: frames with a toggle: median {:.2} ms, max {:.2} ms (plots and distribution check of 100,000 rows follow the set)",
        ms(toggle_times[toggle_times.len() / 2]),
        ms(toggle_times[toggle_times.len() - 1])
    );
}
