//! The size limits of reading an upstream package ([`ReadLimits`]): data apart from the
//! operations that use them (`source` hands them to `embedded`).

use crate::package::Limits;

/// The size limits of reading an upstream package: the ones of a push.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits<'a> {
    /// Largest `.nupkg` read into memory to extract from.
    pub max_package_bytes: u64,
    pub package: &'a Limits,
}
