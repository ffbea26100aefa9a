//! Single flight: concurrent calls for one key run one at a time, so the first does the work
//! (a fetch from the upstream) and the rest, re-checking the cache when their turn comes, find
//! it done. A turn is a value, so work that outlives its caller (a first download streaming to
//! the client while it is stored) keeps the turn until it is done.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

type Locks = Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;

/// A lock per key in flight; a key's lock is forgotten when its last caller is done.
#[derive(Debug, Default)]
pub struct Flights {
    locks: Locks,
}

/// The turn of one call for a key: no other turn for the key runs until it is dropped.
#[derive(Debug)]
pub struct Turn {
    key: String,
    locks: Locks,
    /// `Some` until dropped (taken in `Drop` to release the lock after the map is tidied).
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Flights {
    /// Waits until no other turn for `key` is held.
    pub async fn turn(&self, key: &str) -> Turn {
        let flight = lock(&self.locks).entry(key.to_owned()).or_default().clone();
        Turn {
            key: key.to_owned(),
            locks: self.locks.clone(),
            guard: Some(flight.lock_owned().await),
        }
    }

    /// Runs `work` once no other call for `key` is running.
    pub async fn run<T, Fut: Future<Output = T>>(
        &self,
        key: &str,
        work: impl FnOnce() -> Fut,
    ) -> T {
        let _turn = self.turn(key).await;
        work().await
    }

    /// Whether no key is in flight.
    #[cfg(test)]
    pub fn is_idle(&self) -> bool {
        lock(&self.locks).is_empty()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut locks = lock(&self.locks);
        // Waiters hold a clone of the key's lock: with none (the map's and this turn's guard's
        // are the only ones), the key is forgotten. A new caller clones it only under `locks`.
        if locks
            .get(&self.key)
            .is_some_and(|f| Arc::strong_count(f) == 2)
        {
            locks.remove(&self.key);
        }
        drop(locks);
        self.guard.take();
    }
}

/// Locks a std mutex; a poisoned one still holds consistent data here (maps of plain values).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
