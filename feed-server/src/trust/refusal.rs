//! Why a token or a temporary key is refused: [`Refusal`], which the HTTP layer turns into a
//! status. A file of its own so the checks and the service that runs them do not import each
//! other.

use std::time::Duration;

use crate::storage;

/// Why a token or temporary key is refused.
#[derive(Debug)]
pub enum Refusal {
    /// 401: not a valid token of a trusted issuer for this feed (or an expired key); the
    /// message says what is wrong.
    Invalid(String),
    /// 403: a valid token that no policy trusts; the message names what did not match.
    NotTrusted(String),
    /// 429: too many exchanges for this subject.
    TooMany { retry_after: Duration },
    /// 503: the issuer's keys (or the bucket) cannot be reached; nothing was accepted.
    Unavailable(String),
}

impl From<storage::Error> for Refusal {
    fn from(e: storage::Error) -> Refusal {
        Refusal::Unavailable(e.to_string())
    }
}
