//! Single flight: work done once per key however many callers want its
//! answer at the same time (a cache entry proven to the last byte while
//! several cells wait for the verdict).
//!
//! The first caller for a key takes a [`Ticket`] and does the work itself;
//! every later caller waits for the flight to land and then reads its
//! answer. No lock is held while the work runs: the map's lock is taken
//! only to look a key up or change its slot, never across an `await`, and
//! the waiters wait on a [`Shared`] signal, not on a lock the worker holds.
//! (The first design held a per-entry `tokio::sync::Mutex` while that
//! entry's environment was hashed, so a caller that only wanted to read a
//! settled answer queued behind a lock guarding seconds of blocking work.)
//!
//! A flight that is given up (its ticket dropped without landing: the work
//! failed, or its future was dropped) leaves the slot as it was before it
//! took off, and its waiters try again: the next one takes the ticket. A
//! caller that knows the landed answer is stale (the entry changed since)
//! asks [`Flights::turn`] for a fresh flight.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

use futures::FutureExt as _;
use futures::channel::oneshot;
use futures::future::Shared;

/// The answers by key, and the flights under way.
pub(super) struct Flights<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
}

enum Slot<V> {
    /// Someone is at work: resolves when that work lands or is given up.
    /// Nothing is ever sent: the sender's drop is the signal.
    Flying(Shared<oneshot::Receiver<()>>),
    Landed(V),
}

/// What [`Flights::turn`] hands a caller.
pub(super) enum Turn<'a, K: Eq + Hash, V> {
    /// The answer, landed already.
    Known(V),
    /// Nobody has the answer: this caller works it out and lands it.
    Mine(Ticket<'a, K, V>),
}

/// The right (and duty) to work out one key's answer. Dropped without
/// [`Ticket::land`], the flight is given up.
pub(super) struct Ticket<'a, K: Eq + Hash, V> {
    flights: &'a Flights<K, V>,
    key: K,
    /// The answer landed before this flight took off (a stale one).
    before: Option<V>,
    landed: bool,
    /// Wakes the waiters when dropped, after the slot was settled.
    _wake: oneshot::Sender<()>,
}

impl<K: Eq + Hash, V> Default for Flights<K, V> {
    fn default() -> Self {
        Flights {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Flights<K, V> {
    /// The answer for `key` if it has landed (and is not `stale`), else a
    /// ticket to work it out. While another caller's flight for `key` is
    /// under way this waits for it, holding no lock; a flight given up
    /// makes the first waiter to wake up the next worker.
    pub(super) async fn turn(&self, key: &K, stale: bool) -> Turn<'_, K, V> {
        self.turn_unless(key, |_| stale).await
    }

    /// [`Flights::turn`], where whether a landed answer is `stale` depends
    /// on the answer (one worked out too early for this caller): a stale
    /// one, landed before or by the flight this caller waited for, gets a
    /// fresh flight.
    pub(super) async fn turn_unless(&self, key: &K, stale: impl Fn(&V) -> bool) -> Turn<'_, K, V> {
        loop {
            let landing = {
                let mut slots = self.slots();
                match slots.get(key) {
                    Some(Slot::Flying(landing)) => landing.clone(),
                    Some(Slot::Landed(value)) if !stale(value) => {
                        return Turn::Known(value.clone());
                    }
                    _ => {
                        let (wake, landing) = oneshot::channel();
                        let before = match slots.insert(key.clone(), Slot::Flying(landing.shared()))
                        {
                            Some(Slot::Landed(value)) => Some(value),
                            _ => None,
                        };
                        return Turn::Mine(Ticket {
                            flights: self,
                            key: key.clone(),
                            before,
                            landed: false,
                            _wake: wake,
                        });
                    }
                }
            };
            // Landed or given up, the slot says which: look again. (A
            // stale caller that waited takes the next flight itself.)
            let _ = landing.await;
        }
    }
}

impl<K: Eq + Hash, V> Flights<K, V> {
    /// The map, for a look-up or a change (never held across an `await`).
    fn slots(&self) -> MutexGuard<'_, HashMap<K, Slot<V>>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Eq + Hash, V> Ticket<'_, K, V> {
    /// The answer landed before this flight took off, if one had (the
    /// stale one this flight replaces).
    pub(super) fn before(&self) -> Option<&V> {
        self.before.as_ref()
    }

    /// Lands the flight: `value` is the key's answer from now on, and every
    /// caller waiting for it reads it.
    pub(super) fn land(mut self, value: V) {
        let mut slots = self.flights.slots();
        if let Some(slot) = slots.get_mut(&self.key) {
            *slot = Slot::Landed(value);
        }
        drop(slots);
        self.landed = true;
    }
}

impl<K: Eq + Hash, V> Drop for Ticket<'_, K, V> {
    /// A flight given up: the slot goes back to what it was, before the
    /// sender (dropped after this) wakes the waiters to look again.
    fn drop(&mut self) {
        if self.landed {
            return;
        }
        let mut slots = self.flights.slots();
        match (self.before.take(), slots.get_mut(&self.key)) {
            (Some(value), Some(slot)) => *slot = Slot::Landed(value),
            _ => {
                slots.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;
    use tokio::sync::Semaphore;

    use super::{Flights, Turn};

    type Proofs = Flights<&'static str, u32>;

    /// Asks for `key`'s answer; when it is this caller's to work out, the
    /// work waits for `gate` to open, then lands `answer` (`None`: the work
    /// failed and the flight is given up). What the caller got, and whether
    /// it did the work.
    async fn ask(
        flights: &Proofs,
        key: &'static str,
        gate: &Semaphore,
        answer: Option<u32>,
    ) -> (Option<u32>, bool) {
        match flights.turn(&key, false).await {
            Turn::Known(value) => (Some(value), false),
            Turn::Mine(ticket) => {
                gate.acquire().await.expect("open").forget();
                if let Some(value) = answer {
                    ticket.land(value);
                }
                (answer, true)
            }
        }
    }

    /// Two callers of one entry at once: one does the work, the other
    /// waits for it and reads its answer; a later caller reads it too.
    #[tokio::test]
    async fn two_callers_of_one_entry_share_one_run() {
        let (flights, gate) = (Proofs::default(), Semaphore::new(0));
        let open = async {
            tokio::task::yield_now().await;
            gate.add_permits(2);
        };
        let (first, second, ()) = tokio::join!(
            ask(&flights, "env", &gate, Some(7)),
            ask(&flights, "env", &gate, Some(8)),
            open
        );
        assert_eq!((first, second), ((Some(7), true), (Some(7), false)));
        assert_eq!(ask(&flights, "env", &gate, Some(9)).await, (Some(7), false));
    }

    /// A run that fails is not an answer: the caller that waited for it
    /// runs the work again, and its answer is the one kept.
    #[tokio::test]
    async fn a_failed_run_is_run_again_by_the_next_caller() {
        let (flights, gate) = (Proofs::default(), Semaphore::new(0));
        let open = async {
            tokio::task::yield_now().await;
            gate.add_permits(2);
        };
        let (failed, retried, ()) = tokio::join!(
            ask(&flights, "env", &gate, None),
            ask(&flights, "env", &gate, Some(3)),
            open
        );
        assert_eq!((failed, retried), ((None, true), (Some(3), true)));
        assert_eq!(ask(&flights, "env", &gate, Some(4)).await, (Some(3), false));
    }

    /// An answer worked out too early for a caller (an environment checked
    /// before the caller's cell ended) is not taken, landed or awaited: the
    /// caller works it out again; one it is recent enough for reads it.
    #[tokio::test]
    async fn an_answer_too_old_for_a_caller_is_worked_out_again() {
        let flights = Proofs::default();
        let Turn::Mine(first) = flights.turn_unless(&"env", |_| true).await else {
            panic!("nobody had the answer");
        };
        let mut late = Box::pin(flights.turn_unless(&"env", |at| *at < 2));
        assert!(
            (&mut late).now_or_never().is_none(),
            "it waits for the flight"
        );
        first.land(1);
        assert!(matches!(
            flights.turn_unless(&"env", |at| *at < 1).await,
            Turn::Known(1)
        ));
        let Turn::Mine(again) = late.await else {
            panic!("an answer too old for the caller was taken");
        };
        again.land(2);
        assert!(matches!(flights.turn(&"env", false).await, Turn::Known(2)));
    }

    /// While an entry's work runs, nothing is locked: the map is free, an
    /// entry of another key takes off at once, and a caller of the same
    /// entry waits without a ticket of its own. A stale answer gets a fresh
    /// flight, and that flight given up leaves the answer it replaced.
    #[tokio::test]
    async fn no_lock_is_held_while_an_entry_is_worked_on() {
        let flights = Proofs::default();
        let Turn::Mine(ticket) = flights.turn(&"a", false).await else {
            panic!("the first caller works");
        };
        assert!(flights.slots.try_lock().is_ok(), "the map is locked");
        let Some(Turn::Mine(other)) = flights.turn(&"b", false).now_or_never() else {
            panic!("another entry waited for this one");
        };
        other.land(2);
        let mut same = Box::pin(flights.turn(&"a", false));
        assert!((&mut same).now_or_never().is_none(), "a second flight");
        assert!(flights.slots.try_lock().is_ok(), "the map is locked");
        ticket.land(1);
        assert!(matches!(same.await, Turn::Known(1)));

        let Turn::Mine(again) = flights.turn(&"a", true).await else {
            panic!("a stale answer was taken");
        };
        drop(again);
        assert!(matches!(flights.turn(&"a", false).await, Turn::Known(1)));
    }
}
