//! NuGet V2 (OData) reads, for `nuget list`, Chocolatey, PowerShellGet and NuGet 2.x: the
//! request ([`query`]: the resource, `$filter` ([`filter`]), `$orderby`, paging, function
//! parameters), which versions it returns ([`rows`]), and the XML it gets ([`atom`] entries
//! and feeds, [`edm`] service document and `$metadata`).
//!
//! Pure like the rest of `api`: records and push facts in, bytes out. What exists and what is
//! visible is the feed's (the same records, search index and [`VersionFilter`] as V3);
//! reading storage, caching and status codes are the http layer's
//! (`http::handlers::odata`).
//!
//! [`VersionFilter`]: crate::feed::record::VersionFilter

pub mod atom;
pub mod edm;
pub mod filter;
pub mod query;
pub mod rows;

/// Bad V2 input: the message names the value and the fix; the http layer answers 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }
}
