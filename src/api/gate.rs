//! A counting limit on how many requests of one class run at once.
//!
//! Public lists, feeds and pages run on the HTTP layer's pool of `workers` threads, one pool
//! in front of one queue (see `api::dispatch`): were every pool thread building a list, a
//! login would wait behind them all. Public content reads therefore pass a [`Gate`] that
//! admits at most `max_concurrent_public_reads` of them at once (three quarters of the
//! workers by default). Entry is a try, never a wait: a request over the limit is answered at
//! once (503 with `Retry-After: 1`), so it frees its thread immediately instead of holding it
//! in a second queue, and the other threads stay free for logins and writes. Health and
//! authenticated reads run on the event loops and need no pool thread.

use std::sync::atomic::{AtomicUsize, Ordering};

/// At most `limit` holders of a [`Pass`] at any moment.
#[derive(Debug)]
pub struct Gate {
    limit: usize,
    inside: AtomicUsize,
}

/// Proof of admission through a [`Gate`]; leaving (dropping it) frees the place, so a
/// request that fails or panics gives its place back too.
#[derive(Debug)]
#[must_use = "the place is given back as soon as the pass is dropped"]
pub struct Pass<'g> {
    gate: &'g Gate,
}

impl Gate {
    /// A gate for at most `limit` at once (a limit of 0 is taken as 1: a gate that admits
    /// no one would turn a whole class of routes off).
    pub fn new(limit: usize) -> Gate {
        Gate {
            limit: limit.max(1),
            inside: AtomicUsize::new(0),
        }
    }

    /// The most admitted at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// How many hold a pass now.
    pub fn inside(&self) -> usize {
        self.inside.load(Ordering::Acquire)
    }

    /// A pass if fewer than `limit` are inside, else `None`; never blocks.
    pub fn try_enter(&self) -> Option<Pass<'_>> {
        self.inside
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |inside| {
                (inside < self.limit).then_some(inside + 1)
            })
            .ok()
            .map(|_| Pass { gate: self })
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.gate.inside.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_and_frees_a_place_on_drop() {
        let gate = Gate::new(2);
        let first = gate.try_enter().unwrap();
        let second = gate.try_enter().unwrap();
        assert_eq!(gate.inside(), 2);
        assert!(gate.try_enter().is_none());
        assert_eq!(gate.inside(), 2, "a refused entry takes no place");
        drop(first);
        let third = gate.try_enter().unwrap();
        assert!(gate.try_enter().is_none());
        drop((second, third));
        assert_eq!(gate.inside(), 0);
    }

    #[test]
    fn a_zero_limit_admits_one() {
        let gate = Gate::new(0);
        assert_eq!(gate.limit(), 1);
        let pass = gate.try_enter().unwrap();
        assert!(gate.try_enter().is_none());
        drop(pass);
        assert!(gate.try_enter().is_some());
    }

    #[test]
    fn threads_never_exceed_the_limit() {
        let gate = Gate::new(3);
        let most = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..2000 {
                        if let Some(pass) = gate.try_enter() {
                            most.fetch_max(gate.inside(), Ordering::AcqRel);
                            drop(pass);
                        }
                    }
                });
            }
        });
        assert!(most.load(Ordering::Acquire) <= 3);
        assert_eq!(gate.inside(), 0);
    }
}
