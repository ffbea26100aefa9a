//! The scratch space of a query: the best tier each entry matched at, per thread.

use std::cell::RefCell;

use super::tier;

/// A tier for every entry (`tier::NONE` when unmatched) and the entries that have one.
#[derive(Debug, Default)]
pub struct Marks {
    tiers: Vec<u8>,
    touched: Vec<u32>,
}

thread_local! {
    static MARKS: RefCell<Marks> = RefCell::new(Marks::default());
}

impl Marks {
    /// Runs `f` with no entry of `entries` marked. The space is the thread's own and is
    /// reused, so a query neither allocates nor clears a byte for every entry of the feed
    /// (a megabyte for a million ids), only for the entries it matched.
    pub fn with<R>(entries: usize, f: impl FnOnce(&mut Marks) -> R) -> R {
        MARKS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut marks) => {
                // Cleared before rather than after use: also after a panic in `f`.
                marks.clear();
                if marks.tiers.len() < entries {
                    marks.tiers.resize(entries, tier::NONE);
                }
                f(&mut marks)
            }
            Err(_) => f(&mut Marks {
                tiers: vec![tier::NONE; entries],
                touched: Vec::new(),
            }),
        })
    }

    /// Records that entry `e` matched at tier `found`, keeping its best tier.
    pub fn note(&mut self, e: u32, found: u8) {
        if let Some(t) = self.tiers.get_mut(e as usize) {
            if *t == tier::NONE {
                self.touched.push(e);
            }
            *t = (*t).min(found);
        }
    }

    /// The tier entry `e` matched at, `tier::NONE` when it did not.
    pub fn tier(&self, e: u32) -> u8 {
        self.tiers.get(e as usize).copied().unwrap_or(tier::NONE)
    }

    /// The matched entries with their tiers, in the order they were first matched.
    pub fn matched(&self) -> impl Iterator<Item = (u8, u32)> + '_ {
        self.touched.iter().map(|&e| (self.tier(e), e))
    }

    /// Unmarks every entry.
    pub fn clear(&mut self) {
        for &e in &self.touched {
            if let Some(t) = self.tiers.get_mut(e as usize) {
                *t = tier::NONE;
            }
        }
        self.touched.clear();
    }
}
