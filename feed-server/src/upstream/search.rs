//! Search and autocomplete (id mode) over the upstreams: their results come after this feed's
//! own, page by page as if the sources were one list (local hits first, then each upstream's in
//! order), and `totalHits` is the sum of every source's.
//!
//! An upstream's hit is left out when its id is local (an id with a version here or matching
//! a local pattern: the local part shows it, or it is never served from upstream), when that
//! upstream's allow/deny does not admit it, or when an earlier source already listed it. Such
//! hits still count in the upstream's `totalHits`, so the total is an upper bound on a page
//! boundary, the same as nuget.org's own. Registration and package URLs in an upstream's
//! results are made this feed's. Answers are cached like metadata (per query URL, for the TTL).

use std::collections::HashSet;

use serde_json::Value;

use super::error::Unreachable;
use super::{Origin, Source, Upstreams, rewrite};
use crate::api::urls::{FeedUrls, Hive};
use crate::feed::Feed;
use crate::feed::search::SearchQuery;
use crate::package::{NuGetVersion, PackageId};

/// Which service is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// SearchQueryService: entries are objects with an `id`.
    Search,
    /// SearchAutocompleteService in id mode: entries are ids.
    Autocomplete,
}

/// The local part of a page: how many ids matched here, and the lower-cased ids shown.
pub struct LocalPart<'a> {
    pub total: usize,
    pub ids: &'a [String],
}

/// The upstreams' part of a page.
#[derive(Debug, Default)]
pub struct Merged {
    /// Entries to append after the local ones.
    pub data: Vec<Value>,
    /// Hits of every upstream.
    pub total: u64,
    /// Upstreams that could not be asked (their hits are missing).
    pub unreachable: Vec<String>,
}

impl Upstreams {
    /// The upstreams' entries of the page `query` asks for, after `local`.
    pub async fn search(
        &self,
        feed: &Feed,
        service: Service,
        query: &SearchQuery,
        local: LocalPart<'_>,
        urls: &FeedUrls,
    ) -> Merged {
        let mut merged = Merged::default();
        let mut seen: HashSet<String> = local.ids.iter().cloned().collect();
        let mut skip = query.skip.saturating_sub(local.total);
        let mut take = query.take.saturating_sub(local.ids.len());
        for source in &self.sources {
            let answer = match source.search(service, query, skip, take).await {
                Ok(Some(answer)) => answer,
                Ok(None) => continue,
                Err(e) => {
                    tracing::debug!(upstream = %source.name(), error = %e, "search skips an unreachable upstream");
                    merged.unreachable.push(source.name().to_owned());
                    continue;
                }
            };
            let total = answer.get("totalHits").and_then(Value::as_u64).unwrap_or(0);
            merged.total += total;
            let entries = answer
                .get("data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let endpoints = source.endpoints().await.ok().map(|(e, _)| e);
            for mut entry in entries {
                let id = match service {
                    Service::Search => entry.get("id").and_then(Value::as_str),
                    Service::Autocomplete => entry.as_str(),
                };
                let Some(id) = id.and_then(|id| PackageId::parse(id).ok()) else {
                    continue;
                };
                let shown = take > 0
                    && source.admits(&id)
                    && !self.is_local(feed, &id)
                    && seen.insert(id.lower());
                if !shown {
                    continue;
                }
                if let Some(endpoints) = &endpoints {
                    let hive = urls.registration_base(Hive::for_listing(query.semver2));
                    let flat = urls.flat_container();
                    let mut pairs: Vec<(&str, &str)> = endpoints
                        .registration_bases()
                        .map(|b| (b, hive.as_str()))
                        .collect();
                    pairs.push((&endpoints.package_base, &flat));
                    rewrite::rebase(&mut entry, &pairs);
                }
                if service == Service::Search {
                    let lower = id.lower();
                    add_downloads(&mut entry, |v| feed.downloads().versions(&lower, &[v])[0]);
                }
                merged.data.push(entry);
                take -= 1;
            }
            skip = skip.saturating_sub(usize::try_from(total).unwrap_or(usize::MAX));
        }
        merged
    }
}

/// Adds this feed's downloads of an upstream id (served from its cache, `ours` per version)
/// to the counts of the upstream's search `entry` (SQ-8 `totalDownloads`, `versions[].downloads`):
/// the upstream's count says how used a package is in the world, ours how used it is here, and
/// ranking by their sum keeps both.
fn add_downloads(entry: &mut Value, ours: impl Fn(&NuGetVersion) -> u64) {
    let mut added = 0;
    let versions = entry.get_mut("versions").and_then(Value::as_array_mut);
    for v in versions.into_iter().flatten() {
        let Some(version) = v
            .get("version")
            .and_then(Value::as_str)
            .and_then(|s| NuGetVersion::parse(s).ok())
        else {
            continue;
        };
        let n = ours(&version);
        if n == 0 {
            continue;
        }
        added += n;
        let theirs = v.get("downloads").and_then(Value::as_u64).unwrap_or(0);
        v["downloads"] = Value::from(theirs + n);
    }
    if added > 0 {
        let theirs = entry
            .get("totalDownloads")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        entry["totalDownloads"] = Value::from(theirs + added);
    }
}

impl Upstreams {
    /// Autocomplete in version mode (AC-2) for an id served by an upstream: that upstream's
    /// answer as it sent it; `None` when the id is local or no upstream has it.
    pub async fn autocomplete_versions(
        &self,
        feed: &Feed,
        id: &PackageId,
        query: &SearchQuery,
    ) -> Result<Option<Value>, Unreachable> {
        let Origin::Upstream { source, .. } = self.origin(feed, id).await? else {
            return Ok(None);
        };
        let (endpoints, _) = source.endpoints().await?;
        let Some(base) = endpoints.autocomplete.as_deref() else {
            return Ok(None);
        };
        let mut params = query_string(query, 0, 0);
        params.push_str("&id=");
        params.push_str(id.as_str());
        let answer = source.document(&format!("{base}?{params}")).await?;
        Ok(answer
            .entry
            .body
            .as_ref()
            .and_then(|b| serde_json::from_slice(b).ok()))
    }
}

impl Source {
    /// This upstream's answer to `query` with `skip` and `take` of its own; `None` when it has
    /// no such service.
    async fn search(
        &self,
        service: Service,
        query: &SearchQuery,
        skip: usize,
        take: usize,
    ) -> Result<Option<Value>, Unreachable> {
        let (endpoints, _) = self.endpoints().await?;
        let base = match service {
            Service::Search => endpoints.search.as_deref(),
            Service::Autocomplete => endpoints.autocomplete.as_deref(),
        };
        let Some(base) = base else {
            return Ok(None);
        };
        let url = format!("{base}?{}", query_string(query, skip, take));
        let answer = self.document(&url).await?;
        Ok(answer
            .entry
            .body
            .as_ref()
            .and_then(|b| serde_json::from_slice(b).ok()))
    }
}

/// The query string of an upstream search (SQ-1..5): the client's terms and filters, with
/// this source's `skip` and `take`.
fn query_string(query: &SearchQuery, skip: usize, take: usize) -> String {
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    params
        .append_pair("q", &query.q)
        .append_pair("skip", &skip.to_string())
        .append_pair("take", &take.to_string())
        .append_pair(
            "prerelease",
            if query.prerelease { "true" } else { "false" },
        )
        .append_pair("semVerLevel", if query.semver2 { "2.0.0" } else { "1.0.0" });
    if let Some(t) = &query.package_type {
        params.append_pair("packageType", t);
    }
    params.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This feed's downloads of cached upstream packages show in search (issue 13): each
    /// version's count and the total are the upstream's plus ours.
    #[test]
    fn search_entries_of_upstream_ids_add_this_feeds_downloads() {
        let mut entry = serde_json::json!({
            "id": "Dep.Lib",
            "totalDownloads": 100,
            "versions": [
                {"version": "1.0.0", "downloads": 60},
                {"version": "2.0.0", "downloads": 40},
                {"version": "not a version", "downloads": 1},
            ],
        });
        let ours = |v: &NuGetVersion| if v.to_string() == "2.0.0" { 3 } else { 0 };
        add_downloads(&mut entry, ours);
        assert_eq!(entry["totalDownloads"], 103);
        assert_eq!(entry["versions"][0]["downloads"], 60);
        assert_eq!(entry["versions"][1]["downloads"], 43);
        assert_eq!(entry["versions"][2]["downloads"], 1);
    }
}
