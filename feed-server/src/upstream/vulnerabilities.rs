//! An upstream's VulnerabilityInfo, mirrored into the feed's bucket (issue 13), so that this
//! feed's own VulnerabilityInfo index can list the upstream's pages under this feed's URLs and
//! a client audits with this one source, never talking to the upstream.
//!
//! Every `vulnerability_refresh` the upstream's index is read again; a page is fetched only
//! when its `@updated` differs from the mirrored one (VUL-2: a page changes only by being
//! rewritten, and `@updated` says when). Pages are stored under
//! `upstream/{name}/vulnerabilities/pages/`, then the mirrored index naming them, so the
//! stored index never names a page that is not stored. Every replica reads the stored copy
//! first and asks the upstream only when that copy is due, so replicas share one mirror, and
//! an outage (or a restart during one) keeps serving the last copy. Memory holds only the
//! index of the copy this replica last read.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::client::Client;
use super::error::Unreachable;
use super::flight::lock;
use crate::storage::{self, Key, Storage};

/// One mirrored page, as the upstream's index described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The upstream's `@name` (VUL-1: 1-32 of `[A-Za-z0-9_-]`).
    pub name: String,
    /// The upstream's `@updated`, as it wrote it.
    pub updated: String,
}

/// What the bucket holds of one upstream's VulnerabilityInfo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mirror {
    /// When the upstream's index was last read.
    pub checked: DateTime<Utc>,
    /// Its pages, in its order; empty when it has no VulnerabilityInfo.
    pub pages: Vec<Page>,
}

/// An entry of the upstream's index (VUL-1), as sent.
#[derive(Debug, Deserialize)]
struct IndexEntry {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@id")]
    url: String,
    #[serde(rename = "@updated")]
    updated: String,
}

/// Whether `name` is a VUL-1 page name, so safe in a storage key and a URL.
pub fn is_page_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Reads an upstream's vulnerability index; `Err` says what is wrong with it.
fn parse_index(body: &[u8]) -> Result<Vec<IndexEntry>, String> {
    let entries: Vec<IndexEntry> = serde_json::from_slice(body)
        .map_err(|e| format!("its vulnerability index is not a VUL-1 array of pages: {e}"))?;
    if let Some(bad) = entries.iter().find(|e| !is_page_name(&e.name)) {
        return Err(format!(
            "its vulnerability index names a page `{}`: VUL-1 names are 1 to 32 of A-Z, a-z, 0-9, '-' and '_'",
            bad.name.escape_debug()
        ));
    }
    Ok(entries)
}

/// Checks a page is what clients read (VUL-2: an object keyed by id) and returns the bytes to
/// store: as sent, except the `[]` the protocol documents for an empty page, stored as `{}`
/// because clients read every page as a dictionary.
fn checked_page(name: &str, body: Bytes) -> Result<Bytes, String> {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(_)) => Ok(body),
        Ok(serde_json::Value::Array(items)) if items.is_empty() => Ok(Bytes::from_static(b"{}")),
        _ => Err(format!(
            "its vulnerability page `{name}` is not a JSON object of advisories"
        )),
    }
}

/// The mirror of one upstream's VulnerabilityInfo.
#[derive(Debug)]
pub struct VulnerabilityMirror {
    upstream: String,
    storage: Storage,
    interval: Duration,
    /// The mirrored index this replica last read or wrote.
    current: Mutex<Option<Arc<Mirror>>>,
}

impl VulnerabilityMirror {
    pub fn new(upstream: &str, storage: Storage, interval: Duration) -> VulnerabilityMirror {
        VulnerabilityMirror {
            upstream: upstream.to_owned(),
            storage,
            interval,
            current: Mutex::default(),
        }
    }

    /// The mirrored index this replica serves (`None` before the first refresh).
    pub fn current(&self) -> Option<Arc<Mirror>> {
        lock(&self.current).clone()
    }

    /// The stored bytes of the mirrored page `name`, if the mirror has it.
    pub async fn page(&self, name: &str) -> Result<Option<Bytes>, storage::Error> {
        let listed = self
            .current()
            .is_some_and(|m| m.pages.iter().any(|p| p.name == name));
        if !listed {
            return Ok(None);
        }
        let key = Key::UpstreamVulnerabilities {
            upstream: &self.upstream,
            page: Some(name),
        };
        match self.storage.get(key).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Brings the mirror up to date: adopts the stored copy while it is younger than the
    /// interval, else reads the upstream's index at `index_url` (from its service index, only
    /// awaited when the upstream is asked;
    /// `None`: it has no VulnerabilityInfo) with `client` and stores what changed. Returns how
    /// long until the next refresh is due. A failing upstream keeps the stored copy and is
    /// asked again after a tenth of the interval.
    pub async fn refresh(
        &self,
        client: &Client,
        index_url: impl Future<Output = Result<Option<String>, Unreachable>>,
    ) -> Duration {
        let stored = self.load().await;
        if let Some(m) = &stored {
            let age = storage::age(m.checked);
            if age < self.interval {
                self.adopt(m.clone());
                return self.interval - age;
            }
        }
        let result = async {
            let url = index_url.await?;
            self.mirror(client, url.as_deref(), stored.as_ref()).await
        }
        .await;
        match result {
            Ok(mirror) => {
                self.adopt(mirror);
                self.interval
            }
            Err(e) => {
                tracing::warn!(upstream = %self.upstream, error = %e.reason, "cannot mirror the vulnerability data of upstream `{}`: the last copy is served", self.upstream);
                if let Some(m) = stored {
                    self.adopt(m);
                }
                self.interval / 10
            }
        }
    }

    fn adopt(&self, mirror: Mirror) {
        *lock(&self.current) = Some(Arc::new(mirror));
    }

    /// Reads the upstream's index and the pages that changed since `stored`, stores them, then
    /// the new index.
    async fn mirror(
        &self,
        client: &Client,
        index_url: Option<&str>,
        stored: Option<&Mirror>,
    ) -> Result<Mirror, Unreachable> {
        let unusable = |reason: String| Unreachable {
            upstream: self.upstream.clone(),
            reason,
        };
        let entries = match index_url {
            Some(url) => match client.get(url).await? {
                Some(body) => parse_index(&body).map_err(unusable)?,
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        let mut pages = Vec::with_capacity(entries.len());
        for entry in entries {
            let page = Page {
                name: entry.name,
                updated: entry.updated,
            };
            let unchanged = stored.is_some_and(|m| m.pages.contains(&page));
            if !unchanged {
                let body = client.get(&entry.url).await?.ok_or_else(|| {
                    unusable(format!("its vulnerability page {} is not found", entry.url))
                })?;
                let body = checked_page(&page.name, body).map_err(unusable)?;
                self.put(Some(&page.name), body).await?;
            }
            pages.push(page);
        }
        let mirror = Mirror {
            checked: Utc::now(),
            pages,
        };
        let json = serde_json::to_vec(&mirror)
            .map_err(|e| unusable(format!("cannot encode its mirrored index: {e}")))?;
        self.put(None, Bytes::from(json)).await?;
        Ok(mirror)
    }

    async fn put(&self, page: Option<&str>, body: Bytes) -> Result<(), Unreachable> {
        let key = Key::UpstreamVulnerabilities {
            upstream: &self.upstream,
            page,
        };
        self.storage.put(key, body).await.map_err(|e| Unreachable {
            upstream: self.upstream.clone(),
            reason: format!("cannot store its vulnerability data: {e}"),
        })
    }

    /// The stored mirrored index (a missing, unreadable or corrupt one counts as none: the
    /// upstream is asked).
    async fn load(&self) -> Option<Mirror> {
        let key = Key::UpstreamVulnerabilities {
            upstream: &self.upstream,
            page: None,
        };
        match self.storage.get(key).await {
            Ok(bytes) => serde_json::from_slice(&bytes).ok(),
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                tracing::warn!(upstream = %self.upstream, error = %e, "cannot read the mirrored vulnerability index");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_names_follow_vul_1() {
        for good in ["base", "update", "a_b-C9", &"x".repeat(32)] {
            assert!(is_page_name(good), "{good}");
        }
        for bad in ["", "../x", "a.b", "a/b", &"x".repeat(33), "é"] {
            assert!(!is_page_name(bad), "{bad}");
        }
    }

    #[test]
    fn an_index_with_a_name_unsafe_in_a_path_is_refused() {
        let ok = parse_index(
            br#"[{"@name":"base","@id":"https://up/v/base.json","@updated":"2025-01-01T00:00:00Z","comment":"x"}]"#,
        )
        .unwrap();
        assert_eq!(ok[0].name, "base");
        let err = parse_index(br#"[{"@name":"../../x","@id":"https://up/x","@updated":"1"}]"#)
            .unwrap_err();
        assert!(err.contains("`../../x`"), "{err}");
        assert!(parse_index(b"{}").is_err());
    }

    #[test]
    fn pages_must_be_objects_and_the_empty_array_becomes_an_empty_object() {
        let page = Bytes::from_static(br#"{"a":[]}"#);
        assert_eq!(checked_page("base", page.clone()).unwrap(), page);
        assert_eq!(
            checked_page("base", Bytes::from_static(b"[]")).unwrap(),
            Bytes::from_static(b"{}")
        );
        let err = checked_page("base", Bytes::from_static(b"[1]")).unwrap_err();
        assert!(err.contains("`base`"), "{err}");
    }
}
