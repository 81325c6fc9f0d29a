//! What a view draws from: [`ViewCtx`]. Each view is a struct owning its
//! state (what persists, with serde; what does not, skipped) with a
//! `ui(&mut self, ui, &mut ViewCtx)` method. What changes the app's own
//! state (open a dataset, switch view, a message, background work) goes out
//! as a [`Command`](super::command::Command) the app applies in one place.
//!
//! Adding a view: its file with the struct, a field on the app, an entry in
//! [`super::state::View`] and one line of routing in the app's frame loop.

use std::path::PathBuf;

use super::command::Commands;
use super::dataset::Dataset;
use super::dialogs::DesktopSupport;
use super::jobs::Tasks;
use super::state::Persisted;
use crate::fsutil::AppDirs;

pub struct ViewCtx<'a> {
    /// The open dataset (the views below the tabs show only while one is open).
    pub ds: &'a mut Dataset,
    /// The background work running: its progress, or a button to disable.
    pub tasks: &'a Tasks,
    pub cmds: &'a Commands,
    pub dirs: Option<&'a AppDirs>,
    pub desktop: DesktopSupport,
    /// What the user keeps between runs (display choices, the Quantize settings).
    pub persisted: &'a mut Persisted,
    /// "Allow paths outside the root" as ticked on the start screen (guards the exports).
    pub allow_absolute_roots: bool,
}

impl ViewCtx<'_> {
    /// The scan cache's folder, when the app has one.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        self.dirs.map(|d| d.cache.clone())
    }

    /// Runs a file dialog (see [`super::dialogs::pick`]); a missing dialog is reported.
    pub fn pick(&self, field: &str, dialog: impl FnOnce() -> Option<PathBuf>) -> Option<PathBuf> {
        super::dialogs::pick_or_say(self.desktop, self.cmds, field, dialog)
    }
}
