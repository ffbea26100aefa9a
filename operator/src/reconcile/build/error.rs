//! Why building the children failed.

/// Why the children could not be built. Only serialization can fail, on values no valid spec
/// produces.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A child or the config file could not be serialized.
    #[error("cannot serialize {what}: {message}")]
    Serialize { what: &'static str, message: String },
}
