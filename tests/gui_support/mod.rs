//! What the app's kittest files share: the harness and a `settle` that steps
//! frames until every background job, the runtime check and the thumbnail
//! decoders are done and the UI needs no more frames.
#![allow(dead_code)]

use egui_kittest::Harness;

use calibscope::gui::CalibApp;

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
