//! Deprecating a version and removing its deprecation (REG-10): an event appended like an
//! unlist, so every replica and the catalog see it in log order. The document itself and its
//! checks are [`super::deprecation`].

use super::deprecation::Deprecation;
use super::error::{Result, not_found};
use super::event::Change;
use super::handle::Feed;
use crate::package::{NuGetVersion, PackageId};

impl Feed {
    /// Deprecates a version (`Some`, replacing an earlier deprecation) or removes its
    /// deprecation (`None`). Nothing is appended when the version already is exactly so.
    pub async fn set_deprecation(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        deprecation: Option<Deprecation>,
    ) -> Result<()> {
        self.append(id, version, |state| match state.version(id, version) {
            None => Err(not_found(id, version)),
            Some(v) if v.deprecation.as_deref() == deprecation.as_ref() => Ok(None),
            Some(_) => Ok(Some(match &deprecation {
                Some(d) => Change::Deprecate(Box::new(d.clone())),
                None => Change::Undeprecate,
            })),
        })
        .await?;
        Ok(())
    }
}
