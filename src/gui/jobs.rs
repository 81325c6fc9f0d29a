//! Background jobs as named promises polled each frame: the UI thread never
//! blocks; each job reports through its [`Progress`] and hands back a value.

use std::thread::JoinHandle;

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

/// A job running on its own thread.
pub struct Job<T> {
    pub name: String,
    pub progress: Progress,
    handle: Option<JoinHandle<T>>,
}

impl<T: Send + 'static> Job<T> {
    /// Starts `work` on a new thread; `on_done` (e.g. a repaint request) runs after it finishes.
    pub fn spawn(
        name: &str,
        work: impl FnOnce(&Progress) -> T + Send + 'static,
        on_done: impl FnOnce() + Send + 'static,
    ) -> Self {
        let progress = Progress::new();
        let p = progress.clone();
        let handle = std::thread::Builder::new()
            .name(format!("calibscope-{name}"))
            .spawn(move || {
                let out = work(&p);
                on_done();
                out
            })
            .expect("spawning a thread failed: the system is out of resources");
        Self {
            name: name.to_owned(),
            progress,
            handle: Some(handle),
        }
    }

    /// The result once finished; `Err` carries a panic message.
    pub fn poll(&mut self) -> Option<Result<T, String>> {
        if !self.handle.as_ref()?.is_finished() {
            return None;
        }
        let h = self.handle.take()?;
        Some(h.join().map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "the job stopped unexpectedly".to_owned())
        }))
    }

    /// Blocks until the job is done (tests and shutdown only).
    pub fn wait(&mut self) -> Option<Result<T, String>> {
        let h = self.handle.take()?;
        Some(
            h.join()
                .map_err(|_| "the job stopped unexpectedly".to_owned()),
        )
    }

    pub fn cancel(&self) {
        self.progress.cancel();
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
    fn polls_to_a_value_and_reports_panics() {
        let mut j = Job::spawn(
            "t",
            |p| {
                p.begin("count", 3);
                p.inc(3);
                7
            },
            || {},
        );
        let v = loop {
            if let Some(v) = j.poll() {
                break v;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert_eq!(v, Ok(7));
        assert_eq!(j.progress.snapshot().done, 3);
        let mut bad: Job<()> = Job::spawn("bad", |_| panic!("boom"), || {});
        assert_eq!(bad.wait(), Some(Err("the job stopped unexpectedly".into())));
    }
}
