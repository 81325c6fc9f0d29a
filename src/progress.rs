//! A progress-and-cancel handle shared by every long pipeline stage.
//!
//! The stage updates atomics; the GUI polls them each frame, the CLI draws a
//! bar from them and tests read them. Cloning is cheap (one `Arc`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Inner {
    done: AtomicU64,
    total: AtomicU64,
    skipped: AtomicU64,
    cancel: AtomicBool,
    started: Mutex<Instant>,
    stage: Mutex<String>,
}

/// Shared progress counters plus a cancel flag.
#[derive(Debug, Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

/// A consistent reading of a [`Progress`] at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressSnapshot {
    pub stage: String,
    pub done: u64,
    pub total: u64,
    pub skipped: u64,
    pub elapsed: Duration,
    pub cancelled: bool,
}

impl ProgressSnapshot {
    /// Items per second since the stage started.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs <= 0.0 {
            0.0
        } else {
            self.done as f64 / secs
        }
    }

    /// Estimated time left, once there is a rate to extrapolate from.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rate();
        if rate <= 0.0 || self.done == 0 {
            return None;
        }
        let left = self.total.saturating_sub(self.done) as f64;
        Some(Duration::from_secs_f64(left / rate))
    }

    /// Fraction finished in `0.0..=1.0` (0 when the total is unknown).
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            0.0
        } else {
            (self.done as f64 / self.total as f64).min(1.0) as f32
        }
    }

    /// `stage: done / total unit (n skipped) · rate/s · ETA 12s` for a
    /// status line; the rate once something is done, with a decimal while
    /// it is below 10 per second.
    pub fn status_line(&self, unit: &str) -> String {
        let mut text = format!("{}: {} / {}", self.stage, self.done, self.total);
        if !unit.is_empty() {
            text.push(' ');
            text.push_str(unit);
        }
        if self.skipped > 0 {
            text.push_str(&format!(" ({} skipped)", self.skipped));
        }
        if self.done > 0 {
            let rate = self.rate();
            let digits = if rate < 10.0 { 1 } else { 0 };
            text.push_str(&format!(" · {rate:.digits$}/s"));
        }
        if let Some(eta) = self.eta() {
            text.push_str(&format!(" · ETA {}", format_eta(eta)));
        }
        text
    }
}

impl Progress {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                done: AtomicU64::new(0),
                total: AtomicU64::new(0),
                skipped: AtomicU64::new(0),
                cancel: AtomicBool::new(false),
                started: Mutex::new(Instant::now()),
                stage: Mutex::new(String::new()),
            }),
        }
    }

    /// Starts (or restarts) a stage: resets counters and the clock, keeps the cancel flag.
    pub fn begin(&self, stage: &str, total: u64) {
        self.inner.done.store(0, Ordering::Relaxed);
        self.inner.skipped.store(0, Ordering::Relaxed);
        self.inner.total.store(total, Ordering::Relaxed);
        *lock(&self.inner.started) = Instant::now();
        *lock(&self.inner.stage) = stage.to_owned();
    }

    pub fn set_total(&self, total: u64) {
        self.inner.total.store(total, Ordering::Relaxed);
    }

    /// One more item finished (successfully or not).
    pub fn inc(&self, n: u64) {
        self.inner.done.fetch_add(n, Ordering::Relaxed);
    }

    /// One more item finished by being skipped; counts towards `done` too.
    pub fn inc_skipped(&self, n: u64) {
        self.inner.skipped.fetch_add(n, Ordering::Relaxed);
        self.inner.done.fetch_add(n, Ordering::Relaxed);
    }

    pub fn cancel(&self) {
        self.inner.cancel.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            stage: lock(&self.inner.stage).clone(),
            done: self.inner.done.load(Ordering::Relaxed),
            total: self.inner.total.load(Ordering::Relaxed),
            skipped: self.inner.skipped.load(Ordering::Relaxed),
            elapsed: lock(&self.inner.started).elapsed(),
            cancelled: self.is_cancelled(),
        }
    }
}

/// A poisoned lock only means another thread panicked mid-update of a
/// plain value; the value is still usable for progress display.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Formats a duration as `1h02m`, `3m05s` or `12s` for status lines.
pub fn format_eta(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rate_and_cancel() {
        let p = Progress::new();
        p.begin("scan", 10);
        p.inc(3);
        p.inc_skipped(1);
        let s = p.snapshot();
        assert_eq!((s.done, s.skipped, s.total), (4, 1, 10));
        assert!((s.fraction() - 0.4).abs() < 1e-6);
        assert!(!s.cancelled);
        let q = p.clone();
        q.cancel();
        assert!(p.is_cancelled());
    }

    #[test]
    fn status_line_parts() {
        let mut s = ProgressSnapshot {
            stage: "scan".into(),
            done: 0,
            total: 300,
            skipped: 0,
            elapsed: Duration::from_secs(2),
            cancelled: false,
        };
        assert_eq!(s.status_line(""), "scan: 0 / 300");
        s.done = 9;
        assert_eq!(
            s.status_line("images"),
            "scan: 9 / 300 images · 4.5/s · ETA 1m04s"
        );
        s.done = 100;
        s.skipped = 3;
        assert_eq!(
            s.status_line(""),
            "scan: 100 / 300 (3 skipped) · 50/s · ETA 4s"
        );
    }

    #[test]
    fn eta_format() {
        assert_eq!(format_eta(Duration::from_secs(12)), "12s");
        assert_eq!(format_eta(Duration::from_secs(185)), "3m05s");
        assert_eq!(format_eta(Duration::from_secs(3720)), "1h02m");
    }
}
