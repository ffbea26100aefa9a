//! Single flight: concurrent calls for one key run one at a time, so the first does the work
//! (a fetch from the upstream) and the rest, re-checking the cache when their turn comes, find
//! it done.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// A lock per key in flight; a key's lock is forgotten when its last caller is done.
#[derive(Debug, Default)]
pub struct Flights {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Flights {
    /// Runs `work` once no other call for `key` is running.
    pub async fn run<T, Fut: Future<Output = T>>(
        &self,
        key: &str,
        work: impl FnOnce() -> Fut,
    ) -> T {
        let flight = lock(&self.locks).entry(key.to_owned()).or_default().clone();
        let out = {
            let _turn = flight.lock().await;
            work().await
        };
        drop(flight);
        let mut locks = lock(&self.locks);
        if locks.get(key).is_some_and(|f| Arc::strong_count(f) == 1) {
            locks.remove(key);
        }
        out
    }

    /// Whether no key is in flight.
    #[cfg(test)]
    pub fn is_idle(&self) -> bool {
        lock(&self.locks).is_empty()
    }
}

/// Locks a std mutex; a poisoned one still holds consistent data here (maps of plain values).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
