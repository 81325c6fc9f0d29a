//! Drives the Diagnose view on the demo (issue 16 items 3, 4, 6, 7): PTQ in
//! the Quantize view, then diagnosis of that INT8 model — fidelity line,
//! per-tensor table, a tensor clicked into the range inspector, the output
//! floor, the method comparison and a K = 2 keep-float sweep whose
//! recommendation goes to the Quantize view's keep-float list in one click.
//! Needs ONNX Runtime: without it the test skips, or fails under
//! CALIBSCOPE_REQUIRE_PYTHON=1.

mod gui_support;
#[path = "python_gate/mod.rs"]
mod python_gate;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use egui_kittest::kittest::Queryable;
use gui_support::{app_in, demo_with_int8, settle};

use calibscope::diagnose::tensors::TensorKind;
use calibscope::gui::quantize::name_list;
use calibscope::gui::View;

fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

#[test]
fn diagnose_view_finds_the_loss_and_sends_the_keep_float_set_to_quantize() {
    std::env::set_var("CALIBSCOPE_HOME", home().join("calibscope-home"));
    if let Err(e) = calibscope::runtime::environment() {
        python_gate::skip_or_fail(&format!("Diagnose view: ONNX Runtime is unavailable ({e})"));
        return;
    }
    let mut h = app_in(home(), egui::vec2(1280.0, 2400.0));
    let int8 = demo_with_int8(&mut h, 12);

    h.get_by_label("Diagnose").click();
    settle(&mut h);
    assert_eq!(h.state().view, View::Diagnose);
    h.get_by_label("No diagnosis yet: run one above.");
    h.get_by_label_contains(&format!("against INT8 {}", int8.display()));
    {
        // The demo network decodes 0.5–100 m; a small run keeps the test short.
        let d = &mut h.state_mut().diagnose;
        d.decoder.max_depth = 100.0;
        d.settings.max_depth = 100.0;
        d.settings.range_edges = vec![0.5, 10.0, 100.0];
        d.images = 4;
        d.sweep = true;
        d.sweep_k = 2;
        // Unreachable: every tensor that helps is recommended.
        d.set_target = true;
        d.target_abs_rel = 0.0;
    }
    // Cancel stops a run and keeps nothing.
    h.get_by_label("Run diagnosis").click();
    h.run();
    assert!(h.state().diagnose.busy());
    h.get_by_label("Cancel").click();
    settle(&mut h);
    assert_eq!(
        h.state().diagnose.rt.error.as_deref(),
        Some("Diagnosis cancelled.")
    );
    assert!(h.state().diagnose.rt.result.is_none());

    h.get_by_label("Run diagnosis").click();
    settle(&mut h);
    let d = &h.state().diagnose;
    assert_eq!(d.rt.error, None);
    let r = d.rt.result.as_ref().expect("diagnosis finished");
    let rep = &r.report;
    let rep_line = rep.fidelity.line();
    h.get_by_label(&rep_line);
    assert_eq!(rep.fidelity.samples, 4);
    let acts: Vec<_> = rep
        .tensors
        .iter()
        .filter(|t| t.kind == TensorKind::Activation)
        .collect();
    assert!(acts.len() >= 10, "{} activations", acts.len());
    // Every activation of the table has its calibration histogram.
    for t in &acts {
        assert!(
            r.stats.contains_key(&t.tensor),
            "no histogram for {}",
            t.tensor
        );
    }
    // The table lists every activation (weights hidden by default).
    for t in &acts {
        assert!(
            h.query_all_by_label(&t.tensor).next().is_some(),
            "{} not in the table",
            t.tensor
        );
    }
    let worst = acts
        .iter()
        .min_by(|a, b| a.accumulated.sqnr_db.total_cmp(&b.accumulated.sqnr_db))
        .unwrap();
    let w = format!("{:.1}", worst.accumulated.sqnr_db);
    assert!(h.query_all_by_label(&w).next().is_some(), "{w}");
    assert_eq!(d.rt.selected.as_deref(), Some(worst.tensor.as_str()));

    // Click another tensor: the inspector shows its histogram and the methods' clipping.
    let other = acts
        .iter()
        .find(|t| t.tensor != worst.tensor)
        .unwrap()
        .tensor
        .clone();
    h.query_all_by_label(&other).next().unwrap().click();
    settle(&mut h);
    let d = &h.state().diagnose;
    assert_eq!(d.rt.selected.as_deref(), Some(other.as_str()));
    let (t, ins) = d.rt.inspection.as_ref().expect("inspector filled");
    assert_eq!(t, &other);
    let s = &d.rt.result.as_ref().unwrap().stats[&other];
    assert_eq!(ins.counts.iter().sum::<u64>(), s.count);
    assert_eq!((ins.observed_min, ins.observed_max), (s.min, s.max));
    h.get_by_label(&format!("Range inspector: {other}"));
    for m in &ins.methods {
        let share = format!("{:.4} %", 100.0 * m.clipped_share);
        assert!(h.query_all_by_label(&share).next().is_some(), "{share}");
    }
    assert_eq!(ins.methods[0].clipped_share, 0.0, "MinMax clips nothing");

    // The output floor per depth range.
    let f =
        d.rt.result
            .as_ref()
            .unwrap()
            .report
            .floor
            .clone()
            .expect("output floor");
    assert_eq!(f.ranges.len(), 2);
    h.get_by_label("0.5–10.0");
    h.get_by_label("10.0–100.0");
    h.get_by_label_contains(&format!(
        "abs_rel {:.4} (FP32 {:.4})",
        f.floor_abs_rel, f.fp32_abs_rel
    ));

    // The four methods on the same calibration.
    h.get_by_label("Compare methods").click();
    settle(&mut h);
    let d = &h.state().diagnose;
    assert_eq!(d.rt.methods_error, None);
    let mr = d.rt.methods.as_ref().expect("method comparison");
    let m = &mr.comparison;
    assert_eq!(m.fidelity.len(), 4);
    assert_eq!(mr.abs_rel.len(), 4);
    for (f, a) in m.fidelity.iter().zip(&mr.abs_rel) {
        for text in [format!("{:.5}", f.cosine), format!("{a:.4}")] {
            assert!(h.query_all_by_label(&text).next().is_some(), "{text}");
        }
    }
    // MinMax's model rebuilt from the comparison's ranges is the Quantize
    // view's MinMax model: the same abs_rel as the sweep's INT8 (requantized
    // from the run's ranges.json) on the same split.
    let s =
        d.rt.result
            .as_ref()
            .unwrap()
            .report
            .sweep
            .clone()
            .expect("sweep ran");
    assert_eq!(m.methods[0], calibscope::quantize::RangeMethod::MinMax);
    assert!(
        (mr.abs_rel[0] - s.int8_abs_rel).abs() < 1e-9,
        "MinMax {} against INT8 {}",
        mr.abs_rel[0],
        s.int8_abs_rel
    );

    // The sweep's recommendation goes to the Quantize view's keep-float list.
    println!(
        "{}\nfloor {:.4} (FP32 {:.4}); methods abs_rel {:?}; sweep INT8 {:.4} FP32 {:.4} {:?} -> {:?} {:.4}",
        rep_line,
        f.floor_abs_rel,
        f.fp32_abs_rel,
        mr.abs_rel,
        s.int8_abs_rel,
        s.fp32_abs_rel,
        s.entries,
        s.recommended_float,
        s.recommended_abs_rel
    );
    assert_eq!(s.entries.len(), 2);
    assert!(!s.recommended_float.is_empty(), "{s:?}");
    h.get_by_label_contains(&format!(
        "Recommended: keep {} tensor(s) float",
        s.recommended_float.len()
    ));

    if let Some(dir) = std::env::var_os("CALIBSCOPE_SCREENSHOTS") {
        for (size, name) in [
            (egui::vec2(1280.0, 800.0), "diagnose.png"),
            (egui::vec2(1024.0, 640.0), "diagnose-1024.png"),
        ] {
            h.set_size(size);
            settle(&mut h);
            h.get_by_label("Per-tensor comparison").scroll_to_me();
            settle(&mut h);
            let img = h.render().expect("wgpu renders headless");
            img.save(PathBuf::from(&dir).join(name)).unwrap();
        }
        h.set_size(egui::vec2(1280.0, 2400.0));
        settle(&mut h);
    }

    h.get_by_label("Keep these float in Quantize").click();
    settle(&mut h);
    assert_eq!(h.state().view, View::Quantize);
    let kept = name_list(&h.state().quantize.settings.keep_float_tensors);
    assert_eq!(kept, s.recommended_float);
    // …and the Quantize view's field shows them.
    assert_eq!(
        h.get_by_label("Keep float: tensors").value().as_deref(),
        Some(s.recommended_float.join("\n").as_str())
    );
    h.get_by_label_contains(&format!(
        "{} tensor(s) will stay float in the next PTQ run",
        s.recommended_float.len()
    ));

    // The view's choices are what eframe stores; results are not.
    let v = serde_json::to_value(&h.state().diagnose).unwrap();
    assert_eq!(v["sweep_k"], serde_json::json!(2));
    assert!(v.get("rt").is_none());
}
