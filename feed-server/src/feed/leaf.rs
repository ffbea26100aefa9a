//! A package version as one of its events left it, which is what that event's catalog leaf
//! shows (CAT-3, PUB-13): the walk back along the version's events is the catalog's
//! ([`super::catalog`]); the push facts and the deprecation in force are read from the log.

use super::catalog::VersionAt;
use super::deprecation::Deprecation;
use super::event::Change;
use super::{Error, Feed, Result};

impl Feed {
    /// The version that event `seq` is about, as it was right after that event (CAT-3,
    /// PUB-13); `None` for a delete and for an event that changed nothing. The answer for a
    /// given `seq` never changes.
    pub async fn version_at(&self, seq: u64) -> Result<Option<VersionAt>> {
        let Some(walk) = self.state().events().walk(seq) else {
            return Ok(None);
        };
        let pushed = self.pushed(walk.push_seq).await?;
        let deprecation = match walk.deprecated_by {
            Some(seq) => Some(self.deprecation_by(seq).await?),
            None => None,
        };
        Ok(Some(VersionAt {
            pushed,
            published: walk.pushed_at,
            listed: walk.listed,
            deprecation,
        }))
    }

    /// The deprecation that event `seq` made.
    async fn deprecation_by(&self, seq: u64) -> Result<Deprecation> {
        match self.read_event(seq).await?.change {
            Change::Deprecate(d) => Ok(*d),
            _ => Err(Error::CorruptLog {
                seq,
                message: "the catalog has it as a deprecation, but it is not one".into(),
            }),
        }
    }
}
