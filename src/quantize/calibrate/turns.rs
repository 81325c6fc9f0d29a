//! Items handed out to several workers and applied strictly in index order:
//! a worker takes a ticket (the next index), does its work in parallel with
//! the others, then waits for its turn to apply the result to shared state.
//! Calibration needs this because histogram statistics depend on the order
//! images are added; while one worker applies, the others keep inferring.

use std::sync::{Condvar, Mutex, MutexGuard};

pub(crate) struct Turns<S> {
    items: usize,
    state: Mutex<State<S>>,
    turn_changed: Condvar,
}

struct State<S> {
    /// Next index to hand out.
    issued: usize,
    /// Items applied so far: index `applied` has the turn.
    applied: usize,
    stopped: bool,
    shared: S,
}

/// The right to apply item `index`, once every earlier item has been applied.
pub(crate) struct Ticket<'a, S> {
    turns: &'a Turns<S>,
    index: usize,
    used: bool,
}

impl<S> Turns<S> {
    pub(crate) fn new(items: usize, shared: S) -> Self {
        Self {
            items,
            state: Mutex::new(State {
                issued: 0,
                applied: 0,
                stopped: false,
                shared,
            }),
            turn_changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<S>> {
        // A panic while applying is re-raised when the workers are joined;
        // the state is only read again to stop the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next item, or None when all are handed out or the run stopped.
    pub(crate) fn ticket(&self) -> Option<Ticket<'_, S>> {
        let mut st = self.lock();
        if st.stopped || st.issued >= self.items {
            return None;
        }
        st.issued += 1;
        Some(Ticket {
            turns: self,
            index: st.issued - 1,
            used: false,
        })
    }

    /// Runs `f` on the shared state now, outside the turns (for work whose
    /// order does not matter).
    pub(crate) fn with_shared<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        f(&mut self.lock().shared)
    }

    /// (items applied, shared state).
    pub(crate) fn finish(self) -> (usize, S) {
        let st = self.state.into_inner().unwrap_or_else(|e| e.into_inner());
        (st.applied, st.shared)
    }
}

impl<S> Ticket<'_, S> {
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// Waits for this item's turn and runs `apply`, which returns whether
    /// the run goes on. Returns false (without running `apply`) when an
    /// earlier item stopped the run.
    pub(crate) fn apply(mut self, apply: impl FnOnce(&mut S) -> bool) -> bool {
        self.used = true;
        let turns = self.turns;
        let mut st = turns
            .turn_changed
            .wait_while(turns.lock(), |st| !st.stopped && st.applied != self.index)
            .unwrap_or_else(|e| e.into_inner());
        if st.stopped {
            return false;
        }
        let go_on = apply(&mut st.shared);
        if go_on {
            st.applied += 1;
        } else {
            st.stopped = true;
        }
        turns.turn_changed.notify_all();
        go_on
    }
}

impl<S> Drop for Ticket<'_, S> {
    /// A ticket dropped unapplied (a panicking worker) would leave every
    /// later item waiting forever, so it stops the run.
    fn drop(&mut self) {
        if !self.used {
            self.turns.lock().stopped = true;
            self.turns.turn_changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Workers finishing out of order still apply in index order.
    #[test]
    fn applies_in_index_order_whatever_the_finishing_order() {
        let turns = Turns::new(40, Vec::new());
        std::thread::scope(|s| {
            for w in 0..4u64 {
                let turns = &turns;
                s.spawn(move || {
                    while let Some(t) = turns.ticket() {
                        // Later workers and odd items finish first.
                        let i = t.index() as u64;
                        let ms = (4 - w) * 2 + (i % 3);
                        std::thread::sleep(std::time::Duration::from_millis(ms));
                        t.apply(|v: &mut Vec<usize>| {
                            v.push(i as usize);
                            true
                        });
                    }
                });
            }
        });
        let (applied, order) = turns.finish();
        assert_eq!(applied, 40);
        assert_eq!(order, (0..40).collect::<Vec<_>>());
    }

    /// An item that stops the run leaves exactly the items before it applied.
    #[test]
    fn stopping_keeps_the_prefix_before_the_stopping_item() {
        let turns = Turns::new(50, Vec::new());
        std::thread::scope(|s| {
            for _ in 0..3 {
                let turns = &turns;
                s.spawn(move || {
                    while let Some(t) = turns.ticket() {
                        let i = t.index();
                        t.apply(|v: &mut Vec<usize>| {
                            if i == 17 {
                                return false;
                            }
                            v.push(i);
                            true
                        });
                    }
                });
            }
        });
        let (applied, order) = turns.finish();
        assert_eq!(applied, 17);
        assert_eq!(order, (0..17).collect::<Vec<_>>());
    }

    /// A worker that dies holding a ticket stops the others instead of
    /// leaving them waiting.
    #[test]
    fn a_dropped_ticket_stops_the_run() {
        let turns = Turns::new(10, 0usize);
        std::thread::scope(|s| {
            for _ in 0..2 {
                let turns = &turns;
                s.spawn(move || {
                    while let Some(t) = turns.ticket() {
                        if t.index() == 3 {
                            drop(t);
                            continue;
                        }
                        t.apply(|n| {
                            *n += 1;
                            true
                        });
                    }
                });
            }
        });
        let (applied, n) = turns.finish();
        assert_eq!((applied, n), (3, 3));
    }
}
