//! The Quantize view driven through egui_kittest as a user would: open the
//! demo, make a small stratified set, open Quantize (the demo model is
//! prefilled and summarised), run MinMax PTQ, and check the INT8 model and
//! ranges.json exist and that the ranges table on screen is the file's; then
//! run the external-toolchain panel with a real command (no shell) and check
//! its log, exit status and output. Renders the view after the run.
//!
//! Needs ONNX Runtime, found the app's way (python `onnxruntime` here and in
//! CI); without it the test skips, or fails under CALIBSCOPE_REQUIRE_PYTHON=1.

mod gui_support;
mod python_gate;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use gui_support::{app_in, harness, settle};

use calibscope::fsutil::AppDirs;
use calibscope::gui::quantize::{format_scale, RuntimeStatus};
use calibscope::gui::{CalibApp, Persisted, View};
use calibscope::onnx::proto;
use calibscope::quantize::RangesFile;

fn demo_model_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo_model.onnx")
}

fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// Opens the demo (generated once into the shared data folder; tests take turns).
fn open_demo(h: &mut Harness<'static, CalibApp>) {
    static GEN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = GEN.lock().unwrap_or_else(|e| e.into_inner());
    settle(h);
    h.get_by_label("Open demo dataset").click();
    settle(h);
    settle(h);
}

/// The runtime's cache folder must never be the user's home (both tests look for it).
fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::env::set_var("CALIBSCOPE_HOME", home().join("calibscope-home")));
}

/// ONNX Runtime through the app's own discovery; None (after the gate) when absent.
fn runtime_available() -> bool {
    match calibscope::runtime::environment() {
        Ok(_) => true,
        Err(e) => {
            python_gate::skip_or_fail(&format!(
                "Quantize view PTQ run: ONNX Runtime is unavailable ({e})"
            ));
            false
        }
    }
}

#[test]
fn quantize_view_runs_ptq_and_the_toolchain_on_the_demo() {
    setup();
    if !runtime_available() {
        return;
    }
    let mut h = app_in(home(), egui::vec2(1280.0, 1500.0));
    open_demo(&mut h);
    let root = h.state().ds.as_ref().expect("demo opened").root.clone();
    let demo_model = root.join("models/demo_model.onnx");
    assert_eq!(
        std::fs::read(&demo_model).unwrap(),
        calibscope::demo::DEMO_MODEL,
        "the demo writes its model"
    );

    // A small stratified set.
    h.get_by_label("Calibration set").click();
    settle(&mut h);
    h.state_mut().ds.as_mut().unwrap().strategy.target = 12;
    h.get_by_label("stratified").click();
    settle(&mut h);
    h.get_by_label("Run strategy").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(
        h.state().ds.as_ref().unwrap().cur.set_len(),
        12,
        "{:?}",
        h.state()
            .messages
            .notices
            .iter()
            .map(|n| &n.text)
            .collect::<Vec<_>>()
    );

    // Quantize: the demo model is prefilled and summarised.
    h.get_by_label("Quantize").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(h.state().view, View::Quantize);
    assert_eq!(
        PathBuf::from(&h.state().quantize.settings.model),
        demo_model
    );
    h.get_by_label("rgb [1×3×192×320]");
    h.get_by_label_contains("opset ");
    h.get_by_label_contains("Conv ");
    h.get_by_label("The current curation (12 samples)");
    assert!(matches!(
        h.state().quantize.rt.runtime,
        Some(RuntimeStatus::Found(_))
    ));
    let pre = calibscope::gui::quantize_view::current_preprocess(&h.state().quantize.settings)
        .expect("preprocessing prefilled")
        .clone();
    assert_eq!(
        (pre.input_name.as_str(), pre.width, pre.height),
        ("rgb", 320, 192)
    );
    let out = PathBuf::from(h.state().quantize.settings.output.trim());
    assert!(
        !out.starts_with(&root),
        "default output {} is outside the dataset",
        out.display()
    );

    // Run MinMax PTQ and wait for it.
    h.get_by_label("Run PTQ").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(h.state().quantize.rt.run_error, None);
    let outcome = h
        .state()
        .quantize
        .rt
        .outcome
        .as_ref()
        .expect("PTQ finished");
    // Each run writes into its own folder, named by method and time.
    let first = outcome.report.output.clone();
    let run_dir = first.parent().unwrap().to_path_buf();
    assert_eq!(first.file_name(), out.file_name());
    assert_eq!(run_dir.parent(), out.parent());
    let run_name = run_dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(run_name.starts_with("minmax_"), "{run_name}");
    assert_eq!(outcome.report.calibration_set.count, 12);
    assert!(first.is_file(), "INT8 model written");
    let (ranges_path, cache_path) = calibscope::quantize::artefact_paths(&first);
    assert!(cache_path.is_file());
    let file = RangesFile::read(&ranges_path).expect("ranges.json written");
    assert_eq!(file.calibration_set.count, 12);
    assert!(!file.tensors.is_empty());
    h.get_by_label(&format!("Ranges ({} tensors)", file.tensors.len()));
    // Row by row: the tensor's name and its scale sit on the same table line.
    for row in &file.tensors {
        let scale = format_scale(row.scale);
        let names: Vec<f32> = h
            .query_all_by_label(&row.tensor)
            .map(|n| n.rect().center().y)
            .collect();
        let scales: Vec<f32> = h
            .query_all_by_label(&scale)
            .map(|n| n.rect().center().y)
            .collect();
        assert!(
            names
                .iter()
                .any(|y| scales.iter().any(|s| (y - s).abs() < 2.0)),
            "row {}: scale {scale} not shown beside it (names at {names:?}, scales at {scales:?})",
            row.tensor
        );
    }
    h.get_by_label_contains("12 inputs · sha256 ");
    // The fidelity line: INT8 against FP32 on 16 held-out samples of the split.
    let fid = outcome.report.fidelity.clone().expect("fidelity checked");
    assert_eq!(fid.samples, 16);
    assert!(
        fid.cosine > 0.5 && fid.cosine <= 1.0 + 1e-9,
        "{}",
        fid.line()
    );
    assert!(
        fid.depth_abs_rel_vs_fp32.is_some(),
        "the decoder gives a depth error"
    );
    h.get_by_label(&fid.line());

    // Reloading the written ranges requantizes without calibrating.
    h.state_mut().quantize.settings.ranges_file = ranges_path.display().to_string();
    h.state_mut().quantize.settings.output = out
        .with_file_name("reloaded_int8.onnx")
        .display()
        .to_string();
    settle(&mut h);
    h.get_by_label("Reload ranges").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(h.state().quantize.rt.run_error, None);
    let re = h
        .state()
        .quantize
        .rt
        .outcome
        .as_ref()
        .expect("reload finished");
    assert!(re.reloaded);
    assert_eq!(re.report.ranges, outcome_ranges(&file));
    h.get_by_label("Result (ranges reloaded)");

    // Calibrate again with the same settings and a name of our own: a new
    // folder, the first run's model untouched (the snapshot shows a calibrated run).
    let first_bytes = std::fs::read(&first).unwrap();
    h.state_mut().quantize.settings.output = out.display().to_string();
    h.state_mut().quantize.settings.run_name = "again".into();
    settle(&mut h);
    h.get_by_label("Run PTQ").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(h.state().quantize.rt.run_error, None);
    let again = h.state().quantize.rt.outcome.as_ref().unwrap();
    assert!(!again.reloaded);
    assert_eq!(
        again.report.output,
        out.parent()
            .unwrap()
            .join("again")
            .join(out.file_name().unwrap())
    );
    assert_eq!(std::fs::read(&first).unwrap(), first_bytes);
    // The project lists its runs, newest first.
    let runs = &h.state().ds.as_ref().unwrap().project.ptq_runs;
    assert_eq!(runs.len(), 3, "minmax, reload, again");
    assert_eq!(runs[0].name, run_name);
    assert_eq!(runs[2].name, "again");
    h.get_by_label("Runs of this project (3)");
    h.get_by_label(&run_name);

    // The external toolchain: a real command, no shell, standing in for a
    // vendor's quantizer by copying the first run's INT8 model to {output}.
    let tool_out = home().join("tool").join("npu_model.onnx");
    let template = format!("cp -v {} {{output}}", first.display());
    {
        let q = &mut h.state_mut().quantize.settings;
        q.toolchain_template = template;
        q.toolchain_output = tool_out.display().to_string();
    }
    settle(&mut h);
    // The preview of the expanded argv.
    h.get_by_label(&format!("cp -v {} {}", first.display(), tool_out.display()));
    h.get_by_label("Run tool").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(h.state().quantize.rt.toolchain_error, None);
    let run = h
        .state()
        .quantize
        .rt
        .toolchain_run
        .clone()
        .expect("tool ran");
    assert_eq!(run.exit_code, Some(0));
    assert_eq!(std::fs::read(&tool_out).unwrap(), first_bytes);
    h.get_by_label_contains("Tool finished: exit status 0");
    h.get_by_label_contains(&format!("{} bytes", first_bytes.len()));
    // The tool's ONNX output is checked as a PTQ run is: INT8 against FP32
    // on the view's held-out samples with the Evaluate view's decoder,
    // against MinMax ranges from the same set, shown the same way and stored.
    let tool_fid = h
        .state()
        .quantize
        .rt
        .toolchain_fidelity
        .clone()
        .expect("an ONNX output is checked");
    assert_eq!(tool_fid.note, None);
    let tf = tool_fid.fidelity.expect("fidelity measured");
    assert_eq!(tf.samples, 16);
    assert!(tf.cosine > 0.5 && tf.cosine <= 1.0 + 1e-9, "{}", tf.line());
    assert!(tf.sqnr_db.is_finite(), "{}", tf.line());
    assert!(tf.depth_abs_rel_vs_fp32.is_some(), "{}", tf.line());
    assert!(tf.minmax_sqnr_db.is_some(), "{}", tf.line());
    // The same model on the same held-out samples as the first run's check.
    assert!(
        (tf.sqnr_db - fid.sqnr_db).abs() < 1e-6,
        "{} vs {}",
        tf.line(),
        fid.line()
    );
    h.get_by_label(&tf.line());
    let fid_path = calibscope::quantize::fidelity_path_for(&tool_out);
    assert_eq!(tool_fid.path.as_deref(), Some(fid_path.as_path()));
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&fid_path).unwrap()).unwrap();
    assert_eq!(stored["samples"], 16);
    // cp -v's own line, streamed into the log.
    h.get_by_label_contains(&format!("-> '{}'", tool_out.display()));
    let list =
        std::fs::read_to_string(tool_out.with_file_name("calibration_images/image_list.txt"))
            .unwrap();
    assert_eq!(list.lines().count(), 12);
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tool_out.with_file_name("toolchain_run.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["run"]["exit_code"], 0);
    assert_eq!(record["fidelity"]["fidelity"]["samples"], 16);
    h.get_by_label_contains("[calibscope] the tool exited; checking its ONNX output");

    snapshot(&mut h);

    // For comparison: 6 random samples of the split, drawn by the library's random strategy.
    {
        let q = &mut h.state_mut().quantize.settings;
        q.random_n = 6;
        q.random_seed = 5;
        q.output = out
            .with_file_name("random6_int8.onnx")
            .display()
            .to_string();
    }
    h.get_by_label("Random samples of the split").click();
    settle(&mut h);
    h.get_by_label("Run PTQ").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(h.state().quantize.rt.run_error, None);
    let ds = h.state().ds.as_ref().unwrap();
    let want = calibscope::select::run(
        &ds.cur.rows,
        &calibscope::select::SelectionRequest {
            strategy: calibscope::select::Strategy::Random,
            target: 6,
            seed: 5,
            pinned: Default::default(),
            excluded: Default::default(),
        },
    )
    .unwrap();
    let first = ds.image_path(&ds.cur.rows[want.indices[0]]);
    let set = &h
        .state()
        .quantize
        .rt
        .outcome
        .as_ref()
        .unwrap()
        .report
        .calibration_set;
    assert_eq!(set.count, 6);
    assert_eq!(
        set.first.as_deref(),
        Some(first.display().to_string().as_str())
    );
    h.get_by_label_contains("6 random samples of the split (seed 5) · 6 inputs");

    // Cancel part-way through a longer run: it stops, says so, writes no model.
    let cancelled = out
        .parent()
        .unwrap()
        .join("cancelled")
        .join("cancelled_int8.onnx");
    {
        let q = &mut h.state_mut().quantize.settings;
        q.random_n = 150;
        q.output = out
            .with_file_name("cancelled_int8.onnx")
            .display()
            .to_string();
        q.run_name = "cancelled".into();
    }
    settle(&mut h);
    h.get_by_label("Run PTQ").click();
    h.step();
    h.step();
    assert!(h.state().tasks.any_running(), "the run started");
    h.query_all_by_label("Cancel").next().unwrap().click();
    h.step();
    settle(&mut h);
    let err = h.state().quantize.rt.run_error.clone().unwrap_or_default();
    assert!(err.contains("cancelled"), "{err}");
    h.get_by_label_contains("cancelled after");
    assert!(!cancelled.exists(), "no model from a cancelled run");
    assert!(
        !cancelled.parent().unwrap().exists(),
        "no empty run folder left"
    );
    assert!(!calibscope::quantize::artefact_paths(&cancelled).0.exists());

    // Cancel during the fidelity check (on the 150 random samples, so its
    // MinMax yardstick takes a while): the tool's run stands, the check says it stopped.
    let tool_out2 = home().join("tool2").join("npu_model.onnx");
    h.state_mut().quantize.settings.toolchain_output = tool_out2.display().to_string();
    settle(&mut h);
    h.get_by_label("Run tool").click();
    // The click's frame still shows the last run's log; the next clears it.
    h.step();
    h.step();
    assert!(h.state().tasks.any_running(), "the tool started");
    let mut checking = false;
    for _ in 0..4000 {
        h.step();
        if h.query_by_label_contains("[calibscope] the tool exited")
            .is_some()
        {
            checking = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(checking, "the log says the check began");
    h.get_by_label("Cancel tool").click();
    h.step();
    settle(&mut h);
    let rt = &h.state().quantize.rt;
    assert_eq!(rt.toolchain_error, None);
    assert_eq!(rt.toolchain_run.as_ref().unwrap().exit_code, Some(0));
    let note = rt.toolchain_fidelity.as_ref().unwrap().note.clone();
    assert!(
        note.as_deref().is_some_and(|n| n.contains("cancelled")),
        "{note:?}"
    );
    h.get_by_label_contains("no fidelity check: cancelled");
    assert!(tool_out2.exists());
    assert!(!calibscope::quantize::fidelity_path_for(&tool_out2).exists());

    // A failing command shows its exit status, not success.
    h.state_mut().quantize.settings.toolchain_template = "false {model}".into();
    settle(&mut h);
    h.get_by_label("Run tool").click();
    settle(&mut h);
    settle(&mut h);
    h.get_by_label_contains("Tool finished: exit status 1");
}

fn outcome_ranges(file: &RangesFile) -> Vec<calibscope::quantize::RangeRow> {
    file.tensors.clone()
}

/// Not ONNX, truncated: the library's error is shown, nothing panics, Run
/// stays off; an output inside the dataset is refused before any run.
#[test]
fn bad_models_and_outputs_inside_the_dataset_are_refused_in_the_view() {
    setup();
    let dirs = AppDirs {
        cache: home().join("bad-cache"),
        data: home().join("data"),
        config: home().join("bad-config"),
    };
    let mut h = harness(
        CalibApp::new_in(Persisted::default(), Default::default(), Some(dirs)),
        egui::vec2(1280.0, 1000.0),
    );
    open_demo(&mut h);
    let bogus = home().join("not_a_model.onnx");
    std::fs::write(&bogus, b"this is text, not a protobuf").unwrap();
    h.state_mut().quantize.settings.model = bogus.display().to_string();
    h.get_by_label("Quantize").click();
    settle(&mut h);
    h.get_by_label("Load model").click();
    settle(&mut h);
    settle(&mut h);
    h.get_by_label_contains("is not an ONNX model");
    assert!(h.get_by_label("Run PTQ").accesskit_node().is_disabled());

    // A truncated model: the library's own message.
    let cut = home().join("truncated.onnx");
    std::fs::write(&cut, &calibscope::demo::DEMO_MODEL[..5000]).unwrap();
    let want = calibscope::quantize::inspect_model(&cut, None)
        .unwrap_err()
        .to_string();
    h.state_mut().quantize.settings.model = cut.display().to_string();
    h.get_by_label("Load model").click();
    settle(&mut h);
    settle(&mut h);
    h.get_by_label(&want);
    assert!(h.get_by_label("Run PTQ").accesskit_node().is_disabled());

    // A dynamic input size: the library's message, then W×H asked for and used.
    let dynamic = home().join("dynamic.onnx");
    let mut m = calibscope::onnx::load(&demo_model_path()).unwrap();
    let inp = &mut m.graph.as_mut().unwrap().input[0];
    if let Some(proto::type_proto::Value::TensorType(t)) =
        inp.r#type.as_mut().unwrap().value.as_mut()
    {
        for k in [2, 3] {
            t.shape.as_mut().unwrap().dim[k].value = Some(
                proto::tensor_shape_proto::dimension::Value::DimParam(format!("d{k}")),
            );
        }
    }
    calibscope::onnx::save(&m, &dynamic).unwrap();
    h.state_mut().quantize.settings.model = dynamic.display().to_string();
    h.get_by_label("Load model").click();
    settle(&mut h);
    settle(&mut h);
    h.get_by_label_contains("has a dynamic size");
    assert!(h.get_by_label("Run PTQ").accesskit_node().is_disabled());
    h.get_by_label("Use this size").click();
    settle(&mut h);
    settle(&mut h);
    h.get_by_label("rgb [1×3×d2×d3]");
    let pre =
        calibscope::gui::quantize_view::current_preprocess(&h.state().quantize.settings).unwrap();
    assert_eq!((pre.width, pre.height), (640, 384));
    assert_eq!(h.state().quantize.settings.input_size, Some((640, 384)));

    // The demo model, but an output inside the dataset folder.
    let root = h.state().ds.as_ref().unwrap().root.clone();
    h.state_mut().quantize.settings.model =
        root.join("models/demo_model.onnx").display().to_string();
    h.get_by_label("Load model").click();
    settle(&mut h);
    settle(&mut h);
    h.get_by_label("rgb [1×3×192×320]");
    h.state_mut().quantize.settings.output = root.join("int8/model.onnx").display().to_string();
    settle(&mut h);
    h.get_by_label_contains("inside the dataset folder");
    assert!(h.get_by_label("Run PTQ").accesskit_node().is_disabled());
    assert!(!root.join("int8").exists());

    // Every option widget is named (kittest checks each frame): histogram
    // methods' fields and the per-channel mean/std.
    h.get_by_label("Percentile").click();
    h.get_by_label("use a Mean per channel").click();
    h.get_by_label("use a Std per channel").click();
    settle(&mut h);
    h.get_by_label("Mean of the first channel");
    h.get_by_label("Histogram bins");
    let pre =
        calibscope::gui::quantize_view::current_preprocess(&h.state().quantize.settings).unwrap();
    assert_eq!(pre.mean, Some([0.485, 0.456, 0.406]));
    assert!(pre.std.is_some());
}

/// The Quantize view after the run, into `CALIBSCOPE_SCREENSHOTS` (the
/// README's docs/screenshots/quantize.png) or a temporary folder.
fn snapshot(h: &mut Harness<'static, CalibApp>) {
    let dir: PathBuf = std::env::var_os("CALIBSCOPE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join("screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    // The README's size, and the small window of issue 19 (one column there).
    for (size, name) in [
        (egui::vec2(1280.0, 800.0), "quantize.png"),
        (egui::vec2(1024.0, 640.0), "quantize-1024.png"),
    ] {
        h.set_size(size);
        settle(h);
        let img = h.render().expect("wgpu renders headless with Mesa");
        let mut colours = std::collections::HashSet::new();
        for p in img.pixels().step_by(97) {
            colours.insert(p.0);
        }
        assert!(colours.len() > 20, "only {} colours", colours.len());
        img.save(dir.join(name)).unwrap();
    }
    h.set_size(egui::vec2(1280.0, 1500.0));
    settle(h);
}
