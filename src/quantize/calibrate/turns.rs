//! Items handed out to several workers and applied strictly in index order:
//! a worker takes a ticket (the next index), does its work in parallel with
//! the others, and hands the result in; results wait in a small buffer until
//! every earlier one is applied, so no worker waits for another's turn.
//! Calibration needs this because histogram statistics depend on the order
//! images are added.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};

pub(crate) struct Turns<S, T, A> {
    items: usize,
    /// How far a ticket may run ahead of the items applied: bounds the
    /// results waiting in the buffer.
    window: usize,
    apply: A,
    state: Mutex<State<S, T>>,
    changed: Condvar,
}

struct State<S, T> {
    /// Next index to hand out.
    issued: usize,
    /// Items applied so far: index `applied` is next.
    applied: usize,
    stopped: bool,
    /// Results handed in ahead of their turn.
    waiting: BTreeMap<usize, T>,
    shared: S,
}

/// The right (and the duty) to hand in the result of item `index`.
pub(crate) struct Ticket<'a, S, T, A> {
    turns: &'a Turns<S, T, A>,
    index: usize,
    used: bool,
}

impl<S, T, A: Fn(&mut S, T) -> bool> Turns<S, T, A> {
    /// `apply` adds one result to the shared state and returns whether the
    /// run goes on; it runs under the lock, so it should be quick.
    pub(crate) fn new(items: usize, window: usize, shared: S, apply: A) -> Self {
        Self {
            items,
            window: window.max(1),
            apply,
            state: Mutex::new(State {
                issued: 0,
                applied: 0,
                stopped: false,
                waiting: BTreeMap::new(),
                shared,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<S, T>> {
        // A panic while applying is re-raised when the workers are joined;
        // the state is only read again to stop the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next item, or None when all are handed out or the run stopped.
    /// Waits while the window is full (the item `window` places ahead of
    /// the next to apply is not handed out until that one is applied).
    pub(crate) fn ticket(&self) -> Option<Ticket<'_, S, T, A>> {
        let mut st = self
            .changed
            .wait_while(self.lock(), |st| {
                !st.stopped && st.issued < self.items && st.issued >= st.applied + self.window
            })
            .unwrap_or_else(|e| e.into_inner());
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

    /// Reads the shared state as it is now (some earlier items may not be
    /// applied yet).
    pub(crate) fn peek<R>(&self, f: impl FnOnce(&S) -> R) -> R {
        f(&self.lock().shared)
    }

    /// (items applied, shared state).
    pub(crate) fn finish(self) -> (usize, S) {
        let st = self.state.into_inner().unwrap_or_else(|e| e.into_inner());
        (st.applied, st.shared)
    }
}

impl<S, T, A: Fn(&mut S, T) -> bool> Ticket<'_, S, T, A> {
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// Waits until every earlier item is applied and reads the shared state
    /// then (for a result that depends on all of them). None when the run
    /// stopped first.
    pub(crate) fn at_turn<R>(&self, f: impl FnOnce(&S) -> R) -> Option<R> {
        let turns = self.turns;
        let st = turns
            .changed
            .wait_while(turns.lock(), |st| !st.stopped && st.applied != self.index)
            .unwrap_or_else(|e| e.into_inner());
        (!st.stopped).then(|| f(&st.shared))
    }

    /// Hands in this item's result and applies every result whose turn has
    /// come, in index order. Returns false when the run has stopped (this
    /// result or an earlier one said so).
    pub(crate) fn hand_in(mut self, result: T) -> bool {
        self.used = true;
        let turns = self.turns;
        let mut st = turns.lock();
        if st.stopped {
            return false;
        }
        st.waiting.insert(self.index, result);
        let before = st.applied;
        while let Some(next) = {
            let i = st.applied;
            st.waiting.remove(&i)
        } {
            if !(turns.apply)(&mut st.shared, next) {
                st.stopped = true;
                st.waiting.clear();
                break;
            }
            st.applied += 1;
        }
        let go_on = !st.stopped;
        if st.applied != before || !go_on {
            turns.changed.notify_all();
        }
        go_on
    }
}

impl<S, T, A> Drop for Ticket<'_, S, T, A> {
    /// A ticket dropped without a result (cancel, or a panicking worker)
    /// would leave every later item waiting forever, so it stops the run.
    fn drop(&mut self) {
        if !self.used {
            let mut st = self.turns.state.lock().unwrap_or_else(|e| e.into_inner());
            st.stopped = true;
            st.waiting.clear();
            self.turns.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(v: &mut Vec<usize>, i: usize) -> bool {
        v.push(i);
        true
    }

    /// Workers finishing out of order still apply in index order, and no
    /// ticket runs further ahead than the window.
    #[test]
    fn applies_in_index_order_whatever_the_finishing_order() {
        let turns = Turns::new(40, 3, Vec::new(), push);
        std::thread::scope(|s| {
            for w in 0..4u64 {
                let turns = &turns;
                s.spawn(move || {
                    while let Some(t) = turns.ticket() {
                        let applied = turns.peek(|v| v.len());
                        assert!(t.index() < applied + 3, "ticket ran past the window");
                        // Later workers and odd items finish first.
                        let i = t.index() as u64;
                        let ms = (4 - w) * 2 + (i % 3);
                        std::thread::sleep(std::time::Duration::from_millis(ms));
                        t.hand_in(i as usize);
                    }
                });
            }
        });
        let (applied, order) = turns.finish();
        assert_eq!(applied, 40);
        assert_eq!(order, (0..40).collect::<Vec<_>>());
    }

    /// `at_turn` sees every earlier item applied and none later.
    #[test]
    fn at_turn_sees_exactly_the_earlier_items() {
        let turns = Turns::new(30, 4, Vec::new(), push);
        std::thread::scope(|s| {
            for w in 0..3u64 {
                let turns = &turns;
                s.spawn(move || {
                    while let Some(t) = turns.ticket() {
                        std::thread::sleep(std::time::Duration::from_millis(3 - w));
                        let seen = t.at_turn(|v| v.clone()).unwrap();
                        assert_eq!(seen, (0..t.index()).collect::<Vec<_>>());
                        let i = t.index();
                        t.hand_in(i);
                    }
                });
            }
        });
        assert_eq!(turns.finish().0, 30);
    }

    /// A result that stops the run leaves exactly the items before it applied.
    #[test]
    fn stopping_keeps_the_prefix_before_the_stopping_item() {
        let turns = Turns::new(50, 4, Vec::new(), |v: &mut Vec<usize>, i: usize| {
            if i == 17 {
                return false;
            }
            v.push(i);
            true
        });
        std::thread::scope(|s| {
            for _ in 0..3 {
                let turns = &turns;
                s.spawn(move || {
                    while let Some(t) = turns.ticket() {
                        let i = t.index();
                        t.hand_in(i);
                    }
                });
            }
        });
        let (applied, order) = turns.finish();
        assert_eq!(applied, 17);
        assert_eq!(order, (0..17).collect::<Vec<_>>());
    }

    /// A worker that drops its ticket stops the others instead of leaving
    /// them waiting (in `ticket` for the window or in `at_turn`).
    #[test]
    fn a_dropped_ticket_stops_the_run() {
        let turns = Turns::new(10, 2, 0usize, |n: &mut usize, _: ()| {
            *n += 1;
            true
        });
        std::thread::scope(|s| {
            for _ in 0..2 {
                let turns = &turns;
                s.spawn(move || {
                    while let Some(t) = turns.ticket() {
                        if t.index() == 3 {
                            drop(t);
                            continue;
                        }
                        if t.at_turn(|_| ()).is_some() {
                            t.hand_in(());
                        }
                    }
                });
            }
        });
        let (applied, n) = turns.finish();
        assert_eq!((applied, n), (3, 3));
    }
}
