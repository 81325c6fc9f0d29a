//! The status bar (the newest message, then progress or counts) and the
//! history of messages behind it.

use super::command::{Command, Commands};
use super::dataset::Dataset;
use super::jobs::{self, Tasks};
use super::state::{app_words, Level, Notice};

/// Messages kept in the history.
const MAX_NOTICES: usize = 200;

/// The session's messages, oldest first, and whether their window is open.
#[derive(Debug, Default)]
pub struct Messages {
    pub notices: Vec<Notice>,
    pub open: bool,
}

impl Messages {
    /// Adds a message in the app's words (the newest shows, older ones are
    /// in the history; a later success replaces an old error there).
    pub fn push(&mut self, mut n: Notice) {
        n.text = app_words(&n.text);
        self.notices.push(n);
        if self.notices.len() > MAX_NOTICES {
            let extra = self.notices.len() - MAX_NOTICES;
            self.notices.drain(..extra);
        }
    }

    /// The newest message when it is an error.
    pub fn last_error(&self) -> Option<&str> {
        self.notices
            .last()
            .filter(|n| n.level == Level::Error)
            .map(|n| n.text.as_str())
    }

    /// The message history, newest first, in a window over the page.
    pub fn window(&mut self, ctx: &egui::Context, cmds: &Commands) {
        if !self.open {
            return;
        }
        let mut open = true;
        let mut clear = false;
        let mut folder = None;
        egui::Window::new("Messages")
            .open(&mut open)
            .default_size([560.0, 300.0])
            .vscroll(true)
            .show(ctx, |ui| {
                if ui.button("Clear messages").clicked() {
                    clear = true;
                }
                for n in self.notices.iter().rev() {
                    ui.separator();
                    ui.horizontal_wrapped(|ui| {
                        if n.level == Level::Error {
                            ui.colored_label(ui.visuals().error_fg_color, "Error:");
                        }
                        ui.label(&n.text);
                        if let Some(dir) = &n.folder {
                            if ui.small_button("Open folder").clicked() {
                                folder = Some(dir.clone());
                            }
                        }
                    });
                }
            });
        if clear {
            self.notices.clear();
            open = false;
        }
        self.open = open;
        if let Some(dir) = folder {
            cmds.send(Command::OpenFolder(dir));
        }
    }
}

/// Two fixed rows at the bottom: the newest message (with the history
/// behind a button), then progress or counts. Messages never push the
/// page down, so buttons stay where the pointer is.
pub fn status_bar(
    ui: &mut egui::Ui,
    messages: &mut Messages,
    tasks: &Tasks,
    ds: Option<&Dataset>,
    cmds: &Commands,
) {
    egui::Panel::bottom("status_bar").show(ui, |ui| {
        ui.horizontal(|ui| {
            let n = messages.notices.len();
            if ui
                .add_enabled(n > 0, egui::Button::new(format!("Messages ({n})")).small())
                .on_hover_text("Every message of this session, newest first")
                .clicked()
            {
                messages.open = !messages.open;
            }
            let mut open = None;
            match messages.notices.last() {
                Some(note) => {
                    if let Some(dir) = &note.folder {
                        if ui.small_button("Open folder").clicked() {
                            open = Some(dir.clone());
                        }
                    }
                    let color = match note.level {
                        Level::Error => ui.visuals().error_fg_color,
                        Level::Info => ui.visuals().text_color(),
                    };
                    let text = match note.level {
                        Level::Error => format!("Error: {}", note.text),
                        Level::Info => note.text.clone(),
                    };
                    ui.add(egui::Label::new(egui::RichText::new(&text).color(color)).truncate())
                        .on_hover_text(&text);
                }
                None => {
                    ui.weak("No messages yet.");
                }
            }
            if let Some(dir) = open {
                cmds.send(Command::OpenFolder(dir));
            }
        });
        ui.horizontal(|ui| {
            let mut running = false;
            if let Some(task) = tasks.first() {
                running = true;
                jobs::progress_bar(ui, &task.progress, "", 260.0);
            }
            if !running {
                match ds {
                    Some(ds) => {
                        ui.label(format!(
                            "{} samples · {} in view · {} in the calibration set",
                            ds.cur.rows.len(),
                            ds.view.len(),
                            ds.cur.set_len()
                        ));
                        if !ds.filter.is_empty() {
                            ui.add(
                                egui::Label::new(format!("· filter: {}", ds.filter.describe()))
                                    .truncate(),
                            );
                        }
                        if ds.dirty_since.is_some() {
                            ui.weak("· unsaved");
                        } else if ds.last_saved.is_some() {
                            ui.weak("· saved");
                        }
                    }
                    None => {
                        ui.label("No dataset open.");
                    }
                }
            }
        });
    });
}
