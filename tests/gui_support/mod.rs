//! What the app's kittest files share: the harness and a `settle` that steps
//! frames until every background job, the runtime check and the thumbnail
//! decoders are done and the UI needs no more frames.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

use calibscope::fsutil::AppDirs;
use calibscope::gui::{CalibApp, Persisted};

/// `run` may take a few more frames than egui_kittest's default of 4: a
/// scroll area that gets new content (rows a background job just loaded)
/// animates for up to ~6 frames, and whether the job lands inside a `run`
/// is a matter of timing.
pub fn harness(app: CalibApp, size: egui::Vec2) -> Harness<'static, CalibApp> {
    Harness::builder()
        .with_size(size)
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut CalibApp| app.show(ui), app)
}

/// Steps until background work is done. A job may start in a frame after the
/// click that asked for it, so "no job running" is checked after each frame,
/// not only once before the first.
pub fn settle(h: &mut Harness<'static, CalibApp>) {
    for _ in 0..6000 {
        h.state_mut().poll_jobs();
        h.step();
        let app = h.state();
        let busy = app.tasks.any_running()
            || app.quantize.rt.runtime_rx.is_some()
            || app.evaluate.busy()
            || app.diagnose.busy()
            || app.calibration.thumbs.as_ref().is_some_and(|t| t.busy());
        if !busy && h.try_run().is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("the app never settled");
}

/// A fresh app (default settings) whose cache, data and config folders are
/// under `home`, in a window of `size`.
pub fn app_in(home: &Path, size: egui::Vec2) -> Harness<'static, CalibApp> {
    let dirs = AppDirs {
        cache: home.join("cache"),
        data: home.join("data"),
        config: home.join("config"),
    };
    harness(
        CalibApp::new_in(Persisted::default(), Default::default(), Some(dirs)),
        size,
    )
}

/// Opens the demo dataset, fills the calibration set with `target` samples
/// by the default strategy and runs the Quantize view's PTQ as it stands;
/// returns the INT8 model's path.
pub fn demo_with_int8(h: &mut Harness<'static, CalibApp>, target: usize) -> PathBuf {
    settle(h);
    h.get_by_label("Open demo dataset").click();
    settle(h);
    settle(h);
    h.get_by_label("Calibration set").click();
    settle(h);
    h.state_mut().ds.as_mut().unwrap().strategy.target = target;
    settle(h);
    h.get_by_label("Run strategy").click();
    settle(h);
    settle(h);
    h.get_by_label("Quantize").click();
    settle(h);
    settle(h);
    h.get_by_label("Run PTQ").click();
    settle(h);
    settle(h);
    let q = &h.state().quantize.rt;
    q.outcome
        .as_ref()
        .unwrap_or_else(|| panic!("PTQ finished: {:?}", q.run_error))
        .report
        .output
        .clone()
}
