//! Long commands run their work on a thread while the terminal follows its
//! progress; this is the one loop that does that, and the one place Ctrl-C
//! is turned into a cancel.

use std::sync::mpsc::{channel, RecvTimeoutError};
use std::time::Duration;

use crate::progress::Progress;

/// Makes Ctrl-C cancel `progress`: the work stops at its next check and
/// writes nothing, rather than the process dying halfway.
pub fn cancel_on_ctrl_c(progress: &Progress) {
    let p = progress.clone();
    // Already installed (a second run in one process) is harmless.
    let _ = ctrlc::set_handler(move || p.cancel());
}

/// How often the terminal is updated.
const TICK: Duration = Duration::from_millis(100);

/// Runs `work` on its own thread, calling `tick` every 100 ms while it runs,
/// and returns the moment it is done (not at the next tick). A panic in
/// `work` is raised again here.
pub fn run_ticking<T: Send>(work: impl FnOnce() -> T + Send, mut tick: impl FnMut()) -> T {
    let (done, finished) = channel::<()>();
    std::thread::scope(|s| {
        let worker = s.spawn(move || {
            // Dropped when `work` returns or unwinds, which ends the wait.
            let _done = done;
            work()
        });
        while let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(TICK) {
            tick();
        }
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_when_the_work_is_done_and_ticks_meanwhile() {
        let t0 = std::time::Instant::now();
        let mut ticks = 0;
        let v = run_ticking(
            || {
                std::thread::sleep(Duration::from_millis(250));
                7
            },
            || ticks += 1,
        );
        assert_eq!(v, 7);
        assert!((1..=3).contains(&ticks), "{ticks} ticks");
        // Quick work is not held up to the next tick.
        let t1 = std::time::Instant::now();
        assert_eq!(run_ticking(|| 1, || ()), 1);
        assert!(t1.elapsed() < TICK, "{:?}", t1.elapsed());
        assert!(t0.elapsed() >= Duration::from_millis(250));
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn a_panic_in_the_work_is_raised_again() {
        run_ticking(|| panic!("boom"), || ());
    }
}
