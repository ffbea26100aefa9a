//! The NuGet V3 protocol views: pure functions from the feed state to the JSON documents the
//! protocol defines (`reference/nuget-protocol.md` §1).
//!
//! Each module owns one resource: [`service_index`] (SI-*), [`flat_container`] (PBA-*),
//! [`registration`] (REG-*), [`search`] (SQ-*, AC-*), [`catalog`] (CAT-*), [`vulnerabilities`]
//! (VUL-*), [`odata`] (the V2 feed, Atom XML), with every URL built in [`urls`]. Values in,
//! `serde_json::Value` out (search results, rendered on every request, as JSON text from a
//! `JsonWriter`; the V2 feed as XML bytes): no IO, no clock, no tokio. Deciding what exists and what is visible is the feed's job
//! ([`crate::feed`]); routing, status codes, caching and compression are the http layer's.

pub mod catalog;
pub mod flat_container;
mod json_writer;
pub(crate) mod metadata;
pub mod odata;
pub mod registration;
pub mod search;
pub mod service_index;
pub mod urls;
pub mod vulnerabilities;

#[cfg(test)]
pub(crate) mod test_support;

use chrono::{DateTime, SecondsFormat, Utc};

pub use registration::RegistrationContext;
pub use urls::{FeedUrls, Hive};
pub use vulnerabilities::{Advisory, Vulnerability};

/// `published` of an unlisted version: nuget.org shows year 1900 (REG-8, CAT-3).
pub const UNLISTED_PUBLISHED: &str = "1900-01-01T00:00:00+00:00";

/// A timestamp as every view writes it: RFC 3339 in UTC (G-4), sub-seconds only when present.
pub(crate) fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(timestamp(&t), "2026-01-02T03:04:05+00:00");
        let t = t + chrono::Duration::milliseconds(120);
        assert_eq!(timestamp(&t), "2026-01-02T03:04:05.120+00:00");
    }
}
