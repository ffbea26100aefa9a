//! Why an upstream could not answer.

/// An upstream could not answer (timeout, reset, refused connection, a 5xx or other status,
/// a malformed service index) and nothing was cached to answer instead.
#[derive(Debug, Clone, thiserror::Error)]
#[error("upstream source `{upstream}` is unreachable ({reason})")]
pub struct Unreachable {
    pub upstream: String,
    pub reason: String,
}
