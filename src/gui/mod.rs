//! The desktop app (eframe/egui): open a dataset, watch it scan, see its
//! depth distribution, curate the calibration set, quantize, evaluate.
//!
//! Shape: each view is a struct owning its state (what persists with serde,
//! runtime state skipped) with a `ui` method drawing from a small context
//! (`view::ViewCtx`; `start::StartCtx` before a dataset is open,
//! `eval_view::EvalCtx`, `ptq_tasks::QuantizeCtx`). What changes the app's
//! own state (open a dataset or project, switch view, a message, background
//! work) goes out as a `command::Command`; `app` applies commands in one
//! place and is otherwise the frame loop (top bar, status bar, routing) and
//! persistence. Background work is a `jobs::Task` (a `poll_promise` promise
//! with its `Progress` handle); the app's `jobs::Tasks` hand back commands.
//!
//! Files: `state` (persisted settings, view names, messages), `dataset` (the
//! open dataset and what derives from it), `status` (status bar and message
//! history), `start` (first screen), `settings` (left panel), `scan_view` /
//! `dist_view` / `calib_view` / `quantize_view` / `eval_view` /
//! `diagnose_view` (the pipeline's views; `diagnose_tables` and `diagnose_plots`
//! draw the Diagnose view's parts; `quantize` holds the Quantize view's state and `ptq_tasks` its
//! work, `eval_sample` the Evaluate view's sample viewer), `grid` and
//! `thumbs` (the thumbnail grid), `inspector` (one sample up close), `tasks`
//! (load, select, export), `plots` (egui_plot drawing of `charts`),
//! `project` (the project file), `curation`, `filters`, `columns` (plain data
//! and logic).
//!
//! Adding a view: its file with the struct, a field on `CalibApp`, an entry
//! in `state::View`, a line of routing in `app`, and a `Command` variant for
//! anything it asks of another view.

pub mod app;
pub mod calib_view;
pub mod charts;
pub mod colormap;
pub mod columns;
pub mod command;
pub mod curation;
pub mod dataset;
pub mod diagnose_plots;
pub mod diagnose_tables;
pub mod diagnose_view;
pub mod dialogs;
pub mod dist_view;
pub mod eval_sample;
pub mod eval_view;
pub mod filters;
pub mod grid;
pub mod inspector;
pub mod jobs;
pub mod plots;
pub mod project;
pub mod ptq_tasks;
pub mod quantize;
pub mod quantize_view;
pub mod scan_view;
pub mod settings;
pub mod start;
pub mod state;
pub mod status;
pub mod tasks;
pub mod thumbs;
pub mod view;
pub mod widgets;

pub use app::CalibApp;
pub use state::{Launch, Persisted, View};

/// Opens the app's window and runs until it is closed.
pub fn run(launch: Launch) -> Result<(), String> {
    let persistence_path = crate::fsutil::AppDirs::discover()
        .ok()
        .map(|d| d.config.join("app.ron"));
    let mut viewport = egui::ViewportBuilder::default();
    if let Ok(img) = image::load_from_memory(include_bytes!("../../assets/calibscope.png")) {
        let img = img.to_rgba8();
        viewport = viewport.with_icon(egui::IconData {
            width: img.width(),
            height: img.height(),
            rgba: img.into_raw(),
        });
    }
    let options = eframe::NativeOptions {
        viewport: viewport
            .with_title("calibscope")
            .with_app_id("calibscope")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([900.0, 600.0]),
        renderer: eframe::Renderer::Glow,
        persistence_path,
        ..Default::default()
    };
    eframe::run_native(
        "calibscope",
        options,
        Box::new(move |cc| {
            let persisted: Persisted = cc
                .storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default();
            let mut app = CalibApp::new(persisted, launch);
            // The Evaluate view keeps its own settings under its own key.
            if let Some(v) = cc
                .storage
                .and_then(|s| eframe::get_value(s, eval_view::STORAGE_KEY))
            {
                app.evaluate = v;
            }
            // So does the Quantize view.
            if let Some(v) = cc
                .storage
                .and_then(|s| eframe::get_value(s, quantize::STORAGE_KEY))
            {
                app.quantize = v;
            }
            if let Some(v) = cc
                .storage
                .and_then(|s| eframe::get_value(s, diagnose_view::STORAGE_KEY))
            {
                app.diagnose = v;
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| {
        format!(
            "could not open the window: {e}. Is a display available (DISPLAY or WAYLAND_DISPLAY)?"
        )
    })
}
