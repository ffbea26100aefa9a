//! Why a file, or a value in one, was refused. Messages name the value (never a secret) and say
//! what is allowed; the caller adds the file's path or the resource field.

use crate::key_hash::MIN_SECRET_CHARS;

/// Why a file or a value in it was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A package id pattern is empty, too long, or has a character that is neither a
    /// package-id character nor `*`.
    #[error(
        "package pattern `{pattern}` is invalid: {reason}; use letters, digits, '.', '-', '_' and `*` for any run of characters, e.g. `Contoso.*`, `*.Json` or `*`"
    )]
    InvalidPattern {
        /// The pattern, control characters escaped.
        pattern: String,
        reason: &'static str,
    },
    /// A key or token written in plain text is shorter than [`MIN_SECRET_CHARS`] (the secret
    /// itself is never part of the message).
    #[error("a key or token must be at least {MIN_SECRET_CHARS} characters")]
    ShortSecret,
    /// A `sha256` value is not 64 hex digits.
    #[error("a sha256 hash must be 64 hex digits")]
    BadHash,
    /// An API key entry has both or neither of `key` and `sha256`.
    #[error("key `{name}` needs exactly one of `key` or `sha256`")]
    KeySecret { name: String },
    /// A line of a file in the line format (read tokens, plain API keys) was refused.
    #[error("line {line}: {source}")]
    Line {
        /// 1-based line number.
        line: usize,
        #[source]
        source: Box<Error>,
    },
    /// A read-token file without a token would lock every reader out.
    #[error("the file holds no token")]
    NoToken,
    /// An upstream source's settings are refused.
    #[error("upstream `{name}`: {reason}")]
    InvalidUpstream { name: String, reason: String },
    /// A trusted publisher's policy is refused.
    #[error("trusted publisher `{name}`: {reason}")]
    InvalidPublisher { name: String, reason: String },
    /// The text is not YAML of the file's type (unknown fields are refused too).
    #[error(transparent)]
    Yaml(#[from] serde_yaml_ng::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid_pattern(pattern: &str, reason: &'static str) -> Error {
        Error::InvalidPattern {
            pattern: pattern.escape_debug().to_string(),
            reason,
        }
    }
}
