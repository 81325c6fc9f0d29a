//! Drives the real app through egui_kittest: open a dataset from a metadata
//! CSV, curate tiles by their labels, watch the plots follow, reopen the
//! project and see what changed; an unreadable folder is an error in the UI.

mod gui_support;

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use gui_support::settle;

use calibscope::fsutil::AppDirs;
use calibscope::gui::{CalibApp, Persisted, View};
use calibscope::metadata::{write_csv, SampleMeta};

/// A small dataset: `n` samples over two sequences with repeated stems.
fn dataset(root: &std::path::Path, n: usize) -> Vec<SampleMeta> {
    (0..n)
        .map(|i| {
            let seq = format!("seq{}", i % 2);
            let stem = format!("{:010}", i / 2);
            let rel = format!("{seq}/image_a6/{stem}.png");
            std::fs::create_dir_all(root.join(&seq).join("image_a6")).unwrap();
            image::RgbImage::from_pixel(32, 20, image::Rgb([(i * 20) as u8, 90, 200]))
                .save(root.join(&rel))
                .unwrap();
            let mean = 1.0 + i as f64 * 1.5;
            SampleMeta {
                dataset_root: seq.clone(),
                filename: stem.clone(),
                image_path: rel,
                depth_path: format!("{seq}/newest_depth_maps/{stem}.png"),
                depth_variant: "newest_depth_maps".into(),
                mean_depth: mean,
                median_depth: mean,
                min_depth: 0.5,
                max_depth: mean * 2.0,
                std_depth: 1.0,
                p50: mean,
                p90: mean * 1.4,
                p95: mean * 1.5,
                width: 32,
                height: 20,
                scene_type: calibscope::metadata::scene_type(mean, 5.0, 15.0).into(),
                valid_pixels: 300,
                total_pixels: 640,
                depth_hist: vec![],
            }
        })
        .collect()
}

fn dirs(home: &std::path::Path) -> Option<AppDirs> {
    Some(AppDirs {
        cache: home.join("cache"),
        data: home.join("data"),
        config: home.join("config"),
    })
}

fn harness(app: CalibApp) -> Harness<'static, CalibApp> {
    gui_support::harness(app, egui::vec2(1280.0, 800.0))
}

#[test]
fn unreadable_root_is_an_error_in_the_ui() {
    let home = tempfile::tempdir().unwrap();
    let mut h = harness(CalibApp::new_in(
        Persisted::default(),
        Default::default(),
        dirs(home.path()),
    ));
    h.get_by_label("Dataset folder").click();
    h.run();
    h.get_by_label("Dataset folder")
        .type_text(&home.path().join("no-such-folder").display().to_string());
    h.run();
    h.get_by_label("Metadata file").click();
    h.run();
    h.get_by_label("Metadata file").type_text("x.csv");
    h.run();
    h.get_by_label("Open metadata file").click();
    h.run();
    h.get_by_label_contains("Cannot read the dataset folder");
    assert!(h.state().ds.is_none());
}

#[test]
fn curate_from_metadata_then_reopen_the_project() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("ncdb");
    let rows = dataset(&root, 12);
    let csv = home.path().join("meta.csv");
    write_csv(&csv, &rows).unwrap();

    let mut app = CalibApp::new_in(Persisted::default(), Default::default(), dirs(home.path()));
    app.start.root_text = root.display().to_string();
    app.start.metadata_text = csv.display().to_string();
    let mut h = harness(app);
    h.run();
    h.get_by_label("Open metadata file").click();
    settle(&mut h);
    assert_eq!(h.state().ds.as_ref().unwrap().cur.rows.len(), 12);
    h.get_by_label_contains("Loaded 12 samples");

    // Calibration set view, every sample: include two, pin one, exclude one — by label.
    h.get_by_label("Calibration set").click();
    h.run();
    assert_eq!(h.state().view, View::Calibration);
    h.get_by_label("Filtered view (12)").click();
    settle(&mut h);
    h.get_by_label("Include seq0/0000000000").click();
    h.run();
    h.get_by_label("Include seq1/0000000000").click();
    h.run();
    h.get_by_label("Pin seq0/0000000002").click();
    h.run();
    h.get_by_label("Exclude seq1/0000000000").click();
    h.run();
    {
        let ds = h.state().ds.as_ref().unwrap();
        let set: Vec<String> = ds.cur.set_keys().iter().map(|k| k.to_string()).collect();
        assert_eq!(set, vec!["seq0/0000000000", "seq0/0000000002"]);
        assert_eq!(ds.cur.excluded_keys().len(), 1);
        // Plots follow the set at once.
        assert_eq!(ds.charts.n_set, 2);
        assert_eq!(ds.charts.mean_hist.set.iter().sum::<u64>(), 2);
        assert_eq!(ds.charts.n_full, 12);
    }
    // The buttons now read the other way.
    h.get_by_label("Restore seq1/0000000000");
    h.get_by_label("Unpin seq0/0000000002");

    // Keyboard: move to the first tile, x excludes it.
    h.key_press(egui::Key::ArrowRight);
    h.run();
    h.key_press(egui::Key::ArrowLeft);
    h.run();
    h.key_press(egui::Key::X);
    h.run();
    let first = h.state().ds.as_ref().unwrap().grid.list[0];
    assert!(h.state().ds.as_ref().unwrap().cur.flags[first].excluded);

    // Distribution view shows the counts.
    h.get_by_label("Distribution").click();
    h.run();
    h.get_by_label_contains("12 samples in view");
    h.get_by_label_contains("1 of them in the calibration set");

    h.get_by_label("Save project").click();
    h.run();
    let project = h.state().ds.as_ref().unwrap().project_path.clone();
    assert!(project.exists());
    let persisted = h.state().persisted.clone();
    drop(h);

    // The dataset changes: one sample gone, one new. Reopen from recent projects.
    let mut rows2 = rows.clone();
    rows2.remove(11);
    let mut extra = rows[3].clone();
    extra.dataset_root = "seq9".into();
    rows2.push(extra);
    write_csv(&csv, &rows2).unwrap();
    assert_eq!(persisted.recent_projects.first(), Some(&project));
    let mut h = harness(CalibApp::new_in(
        persisted,
        Default::default(),
        dirs(home.path()),
    ));
    h.run();
    let name = project.file_name().unwrap().to_string_lossy().into_owned();
    h.get_by_label(&name).click();
    settle(&mut h);
    let ds = h.state().ds.as_ref().unwrap();
    let set: Vec<String> = ds.cur.set_keys().iter().map(|k| k.to_string()).collect();
    assert_eq!(set, vec!["seq0/0000000002"]);
    assert_eq!(ds.cur.excluded_keys().len(), 2);
    h.get_by_label_contains("1 new samples");
    h.get_by_label_contains("1 samples gone (e.g. seq1/0000000005)");
}
