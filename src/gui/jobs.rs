//! Background jobs as named promises polled each frame: the UI thread never
//! blocks; each job reports through its [`Progress`] and hands back a value.

use super::command::Command;
use crate::progress::Progress;

/// Runs `work` on its own thread as a [`poll_promise::Promise`]; a panic
/// comes back as an error message instead of taking the UI thread down
/// (a promise whose thread panicked would panic when polled).
pub fn promise<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> poll_promise::Promise<Result<T, String>> {
    let name = name.to_owned();
    poll_promise::Promise::spawn_thread(format!("calibscope-{name}"), move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|p| {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".into());
            Err(format!("{name} stopped unexpectedly: {why}"))
        })
    })
}

/// A named piece of background work: a [`poll_promise::Promise`] and the
/// [`Progress`] handle the work reports through (and is cancelled by).
pub struct Task<T: Send + 'static> {
    pub name: String,
    pub progress: Progress,
    promise: poll_promise::Promise<Result<T, String>>,
}

impl<T: Send + 'static> Task<T> {
    /// Starts `work` on its own thread (see [`promise`]).
    pub fn spawn(name: &str, work: impl FnOnce(&Progress) -> T + Send + 'static) -> Self {
        let progress = Progress::new();
        let p = progress.clone();
        Self {
            name: name.to_owned(),
            promise: promise(name, move || Ok(work(&p))),
            progress,
        }
    }

    pub fn cancel(&self) {
        self.progress.cancel();
    }

    pub fn is_done(&self) -> bool {
        self.promise.ready().is_some()
    }

    /// Blocks until the work is done (tests and shutdown only); `Err` carries a panic message.
    pub fn wait(self) -> Result<T, String> {
        self.promise.block_and_take()
    }
}

/// Takes a finished task's result out of its slot (leaving it empty);
/// `None` while it runs or when there is none.
pub fn take_done<T: Send + 'static>(slot: &mut Option<Task<T>>) -> Option<Result<T, String>> {
    if !slot.as_ref()?.is_done() {
        return None;
    }
    slot.take().map(Task::wait)
}

/// Which of the app's tasks: at most one of each runs at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Scanning a dataset or reading its metadata.
    Load,
    Select,
    Export,
    /// The Quantize view's: read the model, run PTQ, run the external toolchain.
    Inspect,
    Ptq,
    Toolchain,
}

impl Kind {
    /// What a task of this kind that stopped unexpectedly says, where its
    /// own errors show (the Quantize view's runs in the view, others in the status bar).
    fn stopped(self, why: String) -> Command {
        use super::quantize::QuantizeDone;
        match self {
            Kind::Ptq => Command::Quantize(Box::new(QuantizeDone::Ptq(Err(why)))),
            Kind::Toolchain => Command::Quantize(Box::new(QuantizeDone::Toolchain(Err(why)))),
            _ => Command::error(why),
        }
    }
}

/// The app's running tasks. Each hands back a [`Command`] that the app
/// applies like any view's, so finishing work needs no polling code of its own.
#[derive(Default)]
pub struct Tasks(Vec<(Kind, Task<Command>)>);

impl Tasks {
    pub fn get(&self, kind: Kind) -> Option<&Task<Command>> {
        self.0.iter().find(|(k, _)| *k == kind).map(|(_, t)| t)
    }

    pub fn is_running(&self, kind: Kind) -> bool {
        self.get(kind).is_some()
    }

    pub fn any_running(&self) -> bool {
        !self.0.is_empty()
    }

    /// The oldest running task, for the status bar.
    pub fn first(&self) -> Option<&Task<Command>> {
        self.0.first().map(|(_, t)| t)
    }

    /// Starts `work` unless a task of its kind runs; false when refused.
    pub fn start(
        &mut self,
        kind: Kind,
        name: &str,
        work: impl FnOnce(&Progress) -> Command + Send + 'static,
    ) -> bool {
        if self.is_running(kind) {
            return false;
        }
        self.0.push((kind, Task::spawn(name, work)));
        true
    }

    /// The commands of the tasks that finished since the last call; a task
    /// that panicked becomes an error message.
    pub fn finished(&mut self) -> Vec<Command> {
        let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|(_, t)| t.is_done());
        self.0 = running;
        done.into_iter()
            .map(|(kind, t)| t.wait().unwrap_or_else(|why| kind.stopped(why)))
            .collect()
    }
}

/// A running job's bar, its status line (see
/// [`crate::progress::ProgressSnapshot::status_line`]) and Cancel, laid out
/// in the caller's row.
pub fn progress_bar(ui: &mut egui::Ui, p: &Progress, unit: &str, width: f32) {
    let s = p.snapshot();
    ui.add(
        egui::ProgressBar::new(s.fraction())
            .desired_width(width)
            .text(s.status_line(unit)),
    );
    if s.cancelled {
        ui.label("cancelling…");
    } else if ui.button("Cancel").clicked() {
        p.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_promise_is_an_error() {
        let p = promise::<u8>("boom job", || panic!("bad input"));
        let r = p.block_and_take();
        assert_eq!(
            r,
            Err("boom job stopped unexpectedly: bad input".to_owned())
        );
        assert_eq!(promise("ok", || Ok(3)).block_and_take(), Ok(3));
    }

    #[test]
    fn tasks_hand_back_commands_and_refuse_a_second_of_a_kind() {
        let mut t = Tasks::default();
        assert!(t.start(Kind::Select, "select", |p| {
            p.begin("count", 3);
            p.inc(3);
            Command::error("seven")
        }));
        let done_progress = t.get(Kind::Select).unwrap().progress.clone();
        assert!(!t.start(Kind::Select, "again", |_| Command::error("no")));
        assert!(t.start(Kind::Export, "bad", |_| panic!("boom")));
        let mut got = Vec::new();
        while t.any_running() {
            got.extend(t.finished());
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let mut texts: Vec<String> = got
            .into_iter()
            .map(|c| match c {
                Command::Notify(n) => n.text,
                _ => panic!("only notices were sent"),
            })
            .collect();
        texts.sort();
        assert_eq!(texts, ["bad stopped unexpectedly: boom", "seven"]);
        assert_eq!(done_progress.snapshot().done, 3);

        // A quantization that panics says so in the Quantize view, like its other errors.
        assert!(t.start(Kind::Ptq, "quantize", |_| panic!("bad graph")));
        let mut got = Vec::new();
        while t.any_running() {
            got.extend(t.finished());
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        match got.pop() {
            Some(Command::Quantize(done)) => match *done {
                super::super::quantize::QuantizeDone::Ptq(Err(e)) => {
                    assert_eq!(e, "quantize stopped unexpectedly: bad graph")
                }
                _ => panic!("not a failed run"),
            },
            _ => panic!("not a Quantize command"),
        }
    }
}
