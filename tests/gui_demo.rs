//! Drives the real app on the demo dataset through egui_kittest, as a user
//! would: open the demo, scan, run the stratified strategy, exclude one tile
//! and pin another by their labels, run again, and check that the set, the
//! plotted counts, the distribution check and the exported split all follow.
//! Also renders the four views (wgpu, Mesa llvmpipe) into PNG files.

mod gui_support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use gui_support::{harness, settle};

use calibscope::fsutil::AppDirs;
use calibscope::gui::{CalibApp, Persisted, View};
use calibscope::metadata::SampleKey;

/// One demo dataset for the whole file (generated once, in a temp folder).
fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn dirs(tag: &str) -> AppDirs {
    // Shared data folder (the demo), separate projects and caches per test.
    let h = home();
    AppDirs {
        cache: h.join(tag).join("cache"),
        data: h.join("data"),
        config: h.join(tag).join("config"),
    }
}

/// Opens the demo (generating it once; other tests wait on the lock).
fn open_demo(tag: &str, size: egui::Vec2) -> Harness<'static, CalibApp> {
    static GEN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = GEN.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = harness(
        CalibApp::new_in(Persisted::default(), Default::default(), Some(dirs(tag))),
        size,
    );
    settle(&mut h);
    h.get_by_label("Open demo dataset").click();
    settle(&mut h);
    settle(&mut h);
    h
}

fn key_label(k: &SampleKey) -> String {
    format!("{}/{}", k.dataset_root, k.stem)
}

#[test]
fn demo_scan_stratify_exclude_pin_export() {
    let mut h = open_demo("flow", egui::vec2(1280.0, 800.0));
    let n = h.state().ds.as_ref().expect("demo opened").cur.rows.len();
    assert!(n > 100, "demo train split scanned: {n} rows");
    h.get_by_label_contains(&format!("Loaded {n} samples"));

    // Stratified, 40 samples.
    h.get_by_label("Calibration set").click();
    settle(&mut h);
    h.state_mut().ds.as_mut().unwrap().strategy.target = 40;
    h.get_by_label("stratified").click();
    settle(&mut h);
    h.get_by_label("Run strategy").click();
    settle(&mut h);
    settle(&mut h);
    let first_set = h.state().ds.as_ref().unwrap().cur.set_keys();
    assert_eq!(first_set.len(), 40);

    // Exclude a tile of the set, pin a candidate — by their labels.
    h.get_by_label("Calibration set (40)").click();
    settle(&mut h);
    let ds = h.state().ds.as_ref().unwrap();
    let excluded = ds.cur.rows[ds.grid.list[0]].key();
    let label = format!("Exclude {}", key_label(&excluded));
    h.get_by_label(&label).click();
    settle(&mut h);
    h.get_by_label_contains("Candidates (").click();
    settle(&mut h);
    let ds = h.state().ds.as_ref().unwrap();
    let pinned = ds.cur.rows[ds.grid.list[0]].key();
    assert!(!first_set.contains(&pinned));
    h.get_by_label(&format!("Pin {}", key_label(&pinned)))
        .click();
    settle(&mut h);

    // Run again: the pin stays in, the exclusion stays out, the size holds.
    h.get_by_label("Run strategy").click();
    settle(&mut h);
    settle(&mut h);
    let ds = h.state().ds.as_ref().unwrap();
    let set = ds.cur.set_keys();
    assert_eq!(set.len(), 40);
    assert!(set.contains(&pinned));
    assert!(!set.contains(&excluded));

    // Plotted counts and the distribution check follow the set.
    assert_eq!(ds.charts.n_set, 40);
    assert_eq!(ds.charts.mean_hist.set.iter().sum::<u64>(), 40);
    assert_eq!(ds.charts.ranges.set.iter().sum::<u64>(), 40);
    assert_eq!(ds.charts.scenes.set.iter().sum::<u64>(), 40);
    let report = ds.report.as_ref().unwrap();
    let lib =
        calibscope::distribution::check(&ds.cur.rows, &ds.cur.set_indices(), &ds.strategy.bins)
            .expect("the demo's bins are valid");
    assert_eq!(report, &lib);
    assert_eq!(report.n_selected, 40);
    h.get_by_label("Distribution").click();
    settle(&mut h);
    h.get_by_label_contains("Distribution check (set vs whole split)");
    h.get_by_label_contains(&format!(
        "KS {:.3}",
        lib.ks.expect("a non-empty set has a KS statistic")
    ));
    h.get_by_label_contains("40 of them in the calibration set");

    // Export the split and the report from the Calibration set view.
    let out = home().join("flow-out");
    h.get_by_label("Calibration set").click();
    settle(&mut h);
    h.get_by_label("Export the calibration set").click();
    settle(&mut h);
    // The field starts with the set's default folder (beside the project); choose another.
    assert!(!h.state().calibration.export.dir.is_empty());
    h.state_mut().calibration.export.dir = out.display().to_string();
    settle(&mut h);
    h.get_by_label("Export split").click();
    settle(&mut h);
    settle(&mut h);
    let written = calibscope::export::read_split(&out.join("calibration_split.json")).unwrap();
    let mut written_sorted = written.clone();
    written_sorted.sort();
    assert_eq!(written_sorted, set);
    h.get_by_label_contains("calibration_split.json (40 samples)");
    h.get_by_label("Open folder");

    h.get_by_label("Export report").click();
    settle(&mut h);
    settle(&mut h);
    // The figures are drawn for the file (crate::report), not cut from the
    // window: the view stays where the user clicked.
    assert_eq!(h.state().view, View::Calibration);
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("calibration_statistics.json")).unwrap())
            .unwrap();
    assert_eq!(stats["total_samples"], 40);
    for f in [
        "mean_depth_histogram.png",
        "depth_ranges.png",
        "valid_pixel_ratio.png",
    ] {
        let img = image::open(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(img.width() > 100 && img.height() > 100, "{f}");
        assert_eq!(
            (img.width(), img.height()),
            (calibscope::report::WIDTH, calibscope::report::HEIGHT),
            "{f}"
        );
    }
}

#[test]
fn unreadable_demo_root_is_reported() {
    let mut h = harness(
        CalibApp::new_in(Persisted::default(), Default::default(), Some(dirs("bad"))),
        egui::vec2(1280.0, 800.0),
    );
    h.state_mut().start.root_text = "/proc/definitely/not/here".into();
    h.state_mut().start.split_text = "splits/combined_train.json".into();
    settle(&mut h);
    h.get_by_label("Open dataset").click();
    settle(&mut h);
    settle(&mut h);
    h.get_by_label_contains("Cannot read the dataset folder /proc/definitely/not/here");
    assert!(h.state().ds.is_none());
}

/// Renders the start screen and the three views into PNG files: into
/// `CALIBSCOPE_SCREENSHOTS` when set (the README's come from
/// `CALIBSCOPE_SCREENSHOTS=docs/screenshots cargo test --release --test gui_demo`),
/// else into a temporary folder, and checks each image shows something.
#[test]
fn rendered_snapshots_of_every_view() {
    let out: PathBuf = std::env::var_os("CALIBSCOPE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join("screenshots"));
    std::fs::create_dir_all(&out).unwrap();
    for (size, suffix) in [
        (egui::vec2(1280.0, 800.0), ""),
        (egui::vec2(1024.0, 640.0), "-1024"),
    ] {
        snapshots_at(&out, size, suffix);
    }
}

fn snapshots_at(out: &Path, size: egui::Vec2, suffix: &str) {
    let mut start = harness(
        CalibApp::new_in(
            Persisted::default(),
            Default::default(),
            Some(dirs(&format!("snap-start{suffix}"))),
        ),
        size,
    );
    start.run();
    save(&mut start, &out.join(format!("start{suffix}.png")));

    let mut h = open_demo(&format!("snap{suffix}"), size);
    h.state_mut().ds.as_mut().unwrap().strategy.target = 60;
    h.get_by_label("Calibration set").click();
    settle(&mut h);
    h.get_by_label("Run strategy").click();
    settle(&mut h);
    settle(&mut h);
    h.state_mut().view = View::Scan;
    settle(&mut h);
    save(&mut h, &out.join(format!("scan{suffix}.png")));
    h.state_mut().view = View::Distribution;
    settle(&mut h);
    save(&mut h, &out.join(format!("distribution{suffix}.png")));
    h.state_mut().view = View::Calibration;
    settle(&mut h);
    // Open the inspector on the first tile, as a click would.
    let first = h.state().ds.as_ref().unwrap().grid.list[0];
    h.state_mut()
        .cmds
        .send(calibscope::gui::command::Command::Inspect(first));
    settle(&mut h);
    save(&mut h, &out.join(format!("calibration{suffix}.png")));
}

fn save(h: &mut Harness<'static, CalibApp>, path: &Path) {
    let img = h.render().expect("wgpu renders headless with Mesa");
    // Something is drawn: many distinct colours, not one flat fill.
    let mut colours = std::collections::HashSet::new();
    for p in img.pixels().step_by(97) {
        colours.insert(p.0);
    }
    assert!(
        colours.len() > 20,
        "{}: only {} colours",
        path.display(),
        colours.len()
    );
    img.save(path).unwrap();
}
