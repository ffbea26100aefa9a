//! Why a configuration was refused: [`ConfigError`], with the file or field at fault.

use std::path::PathBuf;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid YAML for [`nuget_feed_config::FileConfig`].
    #[error("config file {path} is invalid: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: nuget_feed_config::Error,
    },
    /// A value is out of range or malformed.
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

/// A value of `field` is out of range or malformed.
pub(super) fn invalid(field: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        message: message.into(),
    }
}
