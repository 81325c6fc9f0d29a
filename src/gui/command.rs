//! What views ask of the app: they send commands while drawing (even while
//! holding a borrow of their own state) and the app applies them in one
//! place at the end of the frame ([`super::app::CalibApp::apply_commands`]).

use std::cell::RefCell;
use std::path::PathBuf;

use super::app::{Level, Notice, View};

#[derive(Debug, Clone)]
pub enum Command {
    /// A message for the status bar and its history.
    Notify(Notice),
    /// Open a folder in the file manager (or say why not).
    OpenFolder(PathBuf),
    /// Switch to a view, saying why the page changed.
    ShowView(View, String),
    /// Add these tensors to the Quantize view's keep-float list and show it (from the Diagnose view's sweep).
    KeepFloat(Vec<String>),
}

/// The queue views send into; interior mutability so that sending needs
/// only `&self` beside a `&mut` borrow of another field of the app.
#[derive(Debug, Default)]
pub struct Commands(RefCell<Vec<Command>>);

impl Commands {
    pub fn send(&self, c: Command) {
        self.0.borrow_mut().push(c);
    }

    pub fn error(&self, text: impl Into<String>) {
        self.send(Command::Notify(Notice {
            level: Level::Error,
            text: text.into(),
            folder: None,
        }));
    }

    pub fn info(&self, text: impl Into<String>) {
        self.send(Command::Notify(Notice {
            level: Level::Info,
            text: text.into(),
            folder: None,
        }));
    }

    pub fn take(&self) -> Vec<Command> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}
