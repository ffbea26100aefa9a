//! Request handlers, one file per resource. Each extracts and checks its input, calls one feed
//! operation or renderer, and returns the response.

pub mod catalog;
pub mod deprecation;
pub mod flat_container;
pub mod health;
pub mod odata;
pub mod publish;
pub mod registration;
pub mod search;
pub mod service_index;
pub mod symbols;
pub mod token;
pub mod upstream;
pub mod vulnerabilities;

use super::error::ApiError;
use crate::package::{NuGetVersion, PackageId};

/// Parses `{id}/{version}` of a read URL. What cannot be a valid id or version cannot exist,
/// so it is a plain 404, and the invalid input never reaches storage.
pub fn read_path(id: &str, version: &str) -> Result<(PackageId, NuGetVersion), ApiError> {
    match (PackageId::parse(id), NuGetVersion::parse(version)) {
        (Ok(id), Ok(version)) => Ok((id, version)),
        _ => Err(ApiError::not_found()),
    }
}

/// Parses `{id}/{version}` of a write URL: invalid input is a 400 that says what is wrong.
pub fn write_path(id: &str, version: &str) -> Result<(PackageId, NuGetVersion), ApiError> {
    let id = PackageId::parse(id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let version = NuGetVersion::parse(version).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok((id, version))
}
