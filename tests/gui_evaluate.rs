//! Drives the Evaluate view on the demo (issue 15 item 6): FP32 and the INT8
//! model the Quantize view just wrote, evaluated on the validation split;
//! the comparison table and the per-image table come from the stored runs;
//! one sample opens in the viewer; Mark suspect takes it out of the
//! comparison and the calibration set, with the reason, in the project, and
//! a new run leaves it out and records it as excluded.
//! Needs ONNX Runtime (found by calibscope from the onnxruntime wheel):
//! without it the test skips, or fails under CALIBSCOPE_REQUIRE_PYTHON=1.

mod gui_support;
#[path = "python_gate/mod.rs"]
mod python_gate;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use egui_kittest::kittest::Queryable;
use gui_support::{app_in, demo_with_int8, settle};

use calibscope::gui::eval_view::{EvalSource, SortKey};
use calibscope::gui::View;

fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn runtime_available() -> bool {
    match calibscope::runtime::environment() {
        Ok(_) => true,
        Err(e) => {
            python_gate::skip_or_fail(&format!("Evaluate view: ONNX Runtime is unavailable ({e})"));
            false
        }
    }
}

struct Loaded {
    path: PathBuf,
    run: calibscope::evaluate::EvalRun,
}

#[test]
fn evaluate_view_compares_fp32_and_int8_on_the_demo() {
    // The runtime's and the prediction cache's folder is never the user's home.
    std::env::set_var("CALIBSCOPE_HOME", home().join("calibscope-home"));
    if !runtime_available() {
        return;
    }
    let mut h = app_in(home(), egui::vec2(1280.0, 1600.0));
    // A calibration set and an INT8 model from the Quantize view.
    let int8 = demo_with_int8(&mut h, 12);

    // FP32 on the validation split.
    h.get_by_label("Evaluate").click();
    settle(&mut h);
    assert_eq!(h.state().view, View::Evaluate);
    h.get_by_label("No evaluation yet: run one above (FP32 first, it is the baseline).");
    h.get_by_label("Run evaluation").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(h.state().evaluate.rt.error, None);
    assert_eq!(h.state().evaluate.rt.runs.len(), 1);

    // The INT8 model just written.
    h.get_by_label("INT8 model (last PTQ run)").click();
    settle(&mut h);
    h.get_by_label_contains(&format!("model {}", int8.display()));
    h.get_by_label("Run evaluation").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(h.state().evaluate.rt.error, None);
    let ev = &h.state().evaluate;
    assert_eq!(ev.rt.runs.len(), 2);
    let own = |l: &calibscope::gui::eval_view::LoadedRun| Loaded {
        path: l.path.clone(),
        run: l.run.clone(),
    };
    let (fp32, q) = (own(&ev.rt.runs[0]), own(&ev.rt.runs[1]));
    let (fp32, q) = (&fp32, &q);
    assert_eq!(fp32.run.source.kind, "model");
    assert_eq!(
        PathBuf::from(&q.run.source.path),
        std::path::absolute(&int8).unwrap()
    );
    assert!(fp32.run.images > 0);
    // Saved, in the set's output folder, and listed in the project.
    let ds = h.state().ds.as_ref().unwrap();
    assert_eq!(
        ds.project.eval_runs,
        vec![fp32.path.clone(), q.path.clone()]
    );
    assert!(fp32
        .path
        .starts_with(calibscope::gui::eval_view::runs_dir(ds)));
    let stored = calibscope::evaluate::EvalRun::load(&q.path).unwrap();
    assert!(stored == q.run, "the view shows the stored run");

    // The table is computed from the stored runs.
    let label = q.run.label.clone();
    assert!(label.starts_with("INT8 "), "{label}");
    h.get_by_label("FP32 (baseline)");
    h.get_by_label(&format!("Δ {label}"));
    h.get_by_label(&format!("Δ% {label}"));
    let d = q.run.metrics.abs_rel - fp32.run.metrics.abs_rel;
    assert_eq!(fp32.run.per_sample.len(), q.run.per_sample.len());
    h.get_by_label(&format!("{:.4}", fp32.run.metrics.abs_rel));
    assert!(
        h.query_all_by_label(&format!("{d:+.4}")).next().is_some(),
        "Δabs_rel {d:+.4} shown"
    );
    h.get_by_label_contains(&format!(
        "on the {} samples common to all runs",
        fp32.run.per_sample.len()
    ));

    // Sort the per-image table by abs_rel: the worst sample is on top.
    // The per-image table's header is the lowest "abs_rel" button (the
    // comparison table and the chart's metric choice come first).
    h.query_all_by_role_and_label(egui::accesskit::Role::Button, "abs_rel")
        .max_by(|a, b| a.rect().min.y.total_cmp(&b.rect().min.y))
        .expect("the per-image table's header")
        .click();
    settle(&mut h);
    assert_eq!(h.state().evaluate.sort, SortKey::Metric(0));
    let worst = q
        .run
        .per_sample
        .iter()
        .max_by(|a, b| a.metrics.abs_rel.total_cmp(&b.metrics.abs_rel))
        .unwrap();
    let worst_name = format!("{}/{}", worst.dataset_root, worst.stem);
    h.get_by_label("abs_rel ⏷");
    let top = h.get_by_label(&worst_name).rect();
    let h2 = &h;
    for s in &q.run.per_sample {
        let name = format!("{}/{}", s.dataset_root, s.stem);
        if let Some(n) = h2.query_by_label(&name) {
            assert!(n.rect().min.y >= top.min.y, "{name} above the worst");
        }
    }

    // Open the worst sample in the viewer.
    h.get_by_label(&worst_name).click();
    settle(&mut h);
    settle(&mut h);
    let t = match h
        .state()
        .evaluate
        .rt
        .sample
        .as_ref()
        .expect("viewer filled")
    {
        Ok(t) => t,
        Err(e) => panic!("viewer: {e}"),
    };
    assert_eq!(t.runs.len(), 2);
    assert!(t.runs.iter().all(|(_, r)| r.is_ok()));
    // Both runs' outputs for it are in the prediction cache the view
    // evaluated into, which is where the viewer reads them from.
    {
        let ds = h.state().ds.as_ref().unwrap();
        let sp = calibscope::dataset::read_split(&ds.root, Path::new(&q.run.split)).unwrap();
        let entry = sp
            .entries
            .iter()
            .find(|e| e.dataset_root == worst.dataset_root && e.stem == worst.stem)
            .unwrap();
        let smp = calibscope::dataset::resolve_sample(&ds.root, entry, &ds.settings).unwrap();
        let cache = h.state().dirs.as_ref().unwrap().cache.join("predictions");
        for l in [fp32, q] {
            assert!(
                calibscope::gui::eval_sample::cached_heads(&l.run, &smp, Some(&cache)).is_some(),
                "{} has no cached outputs for the viewer",
                l.run.label
            );
        }
    }
    assert!(t.rgb.is_some());
    assert!(t.diff.is_some(), "INT8 − FP32 difference");
    h.get_by_label_contains("GT (points dilated)");
    assert_eq!(
        h.query_all_by_label_contains("|pred−gt|/gt, hot").count(),
        2,
        "an error map per run"
    );

    // Mark it suspect: out of the comparison, saved with its reason.
    let n_before = fp32.run.per_sample.len();
    h.get_by_label("Suspect reason").click();
    settle(&mut h);
    h.get_by_label("Suspect reason")
        .type_text("GT shifted against RGB");
    settle(&mut h);
    h.get_by_label("Mark suspect").click();
    settle(&mut h);
    let ds = h.state().ds.as_ref().unwrap();
    assert_eq!(ds.project.suspects.len(), 1);
    assert_eq!(ds.project.suspects[0].reason, "GT shifted against RGB");
    assert_eq!(ds.project.suspects[0].key.stem, worst.stem);
    h.get_by_label_contains(&format!(
        "on the {} samples common to all runs",
        n_before - 1
    ));
    h.get_by_label_contains("1 suspect sample(s) left out");
    h.get_by_label_contains("Suspect: GT shifted against RGB");
    let cmp = h
        .state()
        .evaluate
        .rt
        .comparison
        .as_ref()
        .unwrap()
        .as_ref()
        .unwrap();
    assert_eq!(cmp.common, n_before - 1);

    // A new run leaves the suspect out and its stored run says so, with the reason.
    h.get_by_label("Run evaluation").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(h.state().evaluate.rt.error, None);
    let third = h.state().evaluate.rt.runs[2].path.clone();
    let stored = calibscope::evaluate::EvalRun::load(&third).unwrap();
    assert_eq!(stored.per_sample.len(), n_before - 1);
    assert!(!stored
        .per_sample
        .iter()
        .any(|s| (&s.dataset_root, &s.stem) == (&worst.dataset_root, &worst.stem)));
    assert_eq!(
        stored.excluded,
        vec![calibscope::evaluate::ExcludedSample {
            dataset_root: worst.dataset_root.clone(),
            stem: worst.stem.clone(),
            reason: "GT shifted against RGB".into(),
        }]
    );
    let ds = h.state().ds.as_ref().unwrap();

    // The project keeps suspects and runs across a save.
    let path = ds.project_path.clone();
    h.state_mut().ds.as_mut().unwrap().save().unwrap();
    let p = calibscope::gui::project::Project::load(&path).unwrap();
    assert_eq!(p.suspects.len(), 1);
    assert_eq!(p.eval_runs.len(), 3);

    // The view's choices are what eframe stores.
    let v = serde_json::to_value(&h.state().evaluate).unwrap();
    assert_eq!(v["source"], serde_json::json!("Int8"));
    assert!(v.get("rt").is_none(), "runtime state is not persisted");
    let _ = EvalSource::Npu;

    if let Some(dir) = std::env::var_os("CALIBSCOPE_SCREENSHOTS") {
        for (size, name) in [
            (egui::vec2(1280.0, 800.0), "evaluate.png"),
            (egui::vec2(1024.0, 640.0), "evaluate-1024.png"),
        ] {
            h.set_size(size);
            settle(&mut h);
            let img = h.render().expect("wgpu renders headless");
            img.save(PathBuf::from(&dir).join(name)).unwrap();
        }
    }
}
