//! What views and background work ask of the app: views send commands while
//! drawing (even while holding a borrow of their own state), finished tasks
//! hand one back, and the app applies them in one place
//! ([`super::app::CalibApp::apply_commands`]).

use std::cell::RefCell;
use std::path::PathBuf;

use super::dataset::Loaded;
use super::jobs::Kind;
use super::quantize::QuantizeDone;
use super::state::{Level, Notice, View};
use crate::progress::Progress;
use crate::select::Selection;

pub enum Command {
    /// A message for the status bar and its history.
    Notify(Notice),
    /// Open a folder in the file manager (or say why not).
    OpenFolder(PathBuf),
    /// Switch to a view, saying why the page changed.
    ShowView(View, String),
    /// Add these tensors to the Quantize view's keep-float list and show it (from the Diagnose view's sweep).
    KeepFloat(Vec<String>),
    /// Background work for the app to run (see [`Run`]).
    Run(Run),
    /// Open a saved project (reloading its dataset).
    OpenProject(PathBuf),
    /// Open (or retarget) the inspector on a row of the open dataset.
    Inspect(usize),
    /// A finished load: make its rows the open dataset.
    Install(Box<Loaded>),
    /// A finished selection: the set becomes it.
    TakeSelection(Box<Selection>),
    /// A finished piece of the Quantize view's work.
    Quantize(Box<QuantizeDone>),
}

/// Work for the app's [`super::jobs::Tasks`]: at most one of each kind runs.
pub struct Run {
    pub kind: Kind,
    pub name: String,
    /// Said when one of its kind already runs (nothing said when `None`).
    pub busy: Option<String>,
    pub work: Box<dyn FnOnce(&Progress) -> Command + Send>,
}

impl Command {
    pub fn error(text: impl Into<String>) -> Self {
        Command::Notify(Notice {
            level: Level::Error,
            text: text.into(),
            folder: None,
        })
    }
}

/// The queue views send into; interior mutability so that sending needs
/// only `&self` beside a `&mut` borrow of another field of the app.
#[derive(Default)]
pub struct Commands(RefCell<Vec<Command>>);

impl Commands {
    pub fn send(&self, c: Command) {
        self.0.borrow_mut().push(c);
    }

    pub fn error(&self, text: impl Into<String>) {
        self.send(Command::error(text));
    }

    pub fn info(&self, text: impl Into<String>) {
        self.send(Command::Notify(Notice {
            level: Level::Info,
            text: text.into(),
            folder: None,
        }));
    }

    /// Asks the app to run `work` in the background (see [`Run`]).
    pub fn run(
        &self,
        kind: Kind,
        name: &str,
        busy: Option<&str>,
        work: impl FnOnce(&Progress) -> Command + Send + 'static,
    ) {
        self.send(Command::Run(Run {
            kind,
            name: name.to_owned(),
            busy: busy.map(str::to_owned),
            work: Box::new(work),
        }));
    }

    /// The oldest command not yet applied.
    pub fn pop(&self) -> Option<Command> {
        let mut q = self.0.borrow_mut();
        (!q.is_empty()).then(|| q.remove(0))
    }
}
