//! Where a feed keeps its data, as an identity that can be compared: the store (backend, bucket,
//! container and account, or claim) and the prefix inside it as path segments. Two feeds whose locations are equal or nested would read, overwrite and (with
//! `deletionPolicy: Purge`) delete each other's packages, so `validate` refuses the younger one
//! and `purge` refuses to delete a location another live feed uses.
//!
//! Pure: the locations of the other feeds come from the controller's cache (and, at purge time,
//! from a fresh LIST), never from reading the bucket.

use std::fmt;
use std::sync::Arc;

use kube::{Resource, ResourceExt};

use crate::crd::{DeletionPolicy, NuGetFeed};
use crate::reconcile::names;

/// The store a feed's prefix lives in. Endpoints are left out on purpose: one server has many
/// spellings (none for AWS or `https://s3.amazonaws.com`, a proxy or the server itself), and
/// taking two spellings for two stores would let two feeds share, and purge, one bucket. Two
/// servers that happen to hold buckets of the same name are refused instead, which another
/// prefix fixes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Store {
    /// An S3 bucket.
    S3 { bucket: String },
    /// An Azure Blob container in `account` (account names are case-insensitive).
    Azure { account: String, container: String },
    /// A Google Cloud Storage bucket.
    Gcs { bucket: String },
    /// A PersistentVolumeClaim (namespaced). Every volume feed uses the whole claim.
    Volume { namespace: String, claim: String },
}

/// A feed's storage location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub store: Store,
    /// The prefix inside the store as path segments; empty for a whole volume.
    pub prefix: Vec<String>,
}

impl Location {
    /// The location `feed`'s spec names, or `None` when the spec does not name exactly one
    /// backend (`validate` reports that on its own).
    pub fn of(feed: &NuGetFeed) -> Option<Location> {
        let s = &feed.spec.storage;
        let prefix = |p: &Option<String>| {
            segments(
                &p.clone()
                    .unwrap_or_else(|| names::default_storage_prefix(feed)),
            )
        };
        let backends = [
            s.s3.is_some(),
            s.azure.is_some(),
            s.gcs.is_some(),
            s.volume.is_some(),
        ];
        if backends.iter().filter(|b| **b).count() != 1 {
            return None;
        }
        if let Some(s3) = &s.s3 {
            return Some(Location {
                store: Store::S3 {
                    bucket: s3.bucket.clone(),
                },
                prefix: prefix(&s3.prefix),
            });
        }
        if let Some(az) = &s.azure {
            return Some(Location {
                store: Store::Azure {
                    account: az.account.to_ascii_lowercase(),
                    container: az.container.clone(),
                },
                prefix: prefix(&az.prefix),
            });
        }
        if let Some(gcs) = &s.gcs {
            return Some(Location {
                store: Store::Gcs {
                    bucket: gcs.bucket.clone(),
                },
                prefix: prefix(&gcs.prefix),
            });
        }
        s.volume.as_ref().map(|v| Location {
            store: Store::Volume {
                namespace: feed.namespace().unwrap_or_default(),
                claim: v.claim_name.clone(),
            },
            prefix: Vec::new(),
        })
    }

    /// Equal, or one inside the other at a segment boundary (`team-p` holds `team-p/victim`;
    /// `team-p2` does not hold `team-p/x`).
    pub fn overlaps(&self, other: &Location) -> bool {
        self.store == other.store
            && (self.prefix.starts_with(&other.prefix) || other.prefix.starts_with(&self.prefix))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = self.prefix.join("/");
        match &self.store {
            Store::S3 { bucket } => write!(f, "s3://{bucket}/{prefix}"),
            Store::Azure { account, container } => {
                write!(f, "az://{container}/{prefix} in account {account}")
            }
            Store::Gcs { bucket } => write!(f, "gs://{bucket}/{prefix}"),
            Store::Volume { namespace, claim } => {
                write!(f, "PersistentVolumeClaim {namespace}/{claim}")
            }
        }
    }
}

/// Which of two feeds keeps a contested location or path: the older one, then the smaller
/// namespace/name, so the outcome is the same whichever feed is reconciled first and a later
/// arrival never takes it from the first. A feed without a creation time (one being rendered)
/// is the youngest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seniority {
    /// `None` sorts after every time.
    created: Youngest,
    namespace: String,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Youngest {
    Created(String),
    Unknown,
}

impl Seniority {
    pub fn new(created: Option<String>, namespace: String, name: String) -> Self {
        Seniority {
            created: created.map_or(Youngest::Unknown, Youngest::Created),
            namespace,
            name,
        }
    }

    pub fn of(feed: &NuGetFeed) -> Self {
        Seniority::new(
            feed.meta()
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string()),
            feed.namespace().unwrap_or_default(),
            feed.name_any(),
        )
    }

    /// `namespace/name`.
    pub fn feed(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Another feed's location, for the clash check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub seniority: Seniority,
    pub location: Location,
    /// The feed is being deleted with `deletionPolicy: Purge`: its data goes anyway.
    pub purging: bool,
}

/// The locations of every feed in `others` except `feed` itself. Feeds being deleted stay in
/// the list: until their finalizer is done their data is still theirs.
pub fn holders(feed: &NuGetFeed, others: &[Arc<NuGetFeed>]) -> Vec<Holder> {
    others
        .iter()
        .filter(|o| !is_same(o, feed))
        .filter_map(|o| {
            Location::of(o).map(|location| Holder {
                seniority: Seniority::of(o),
                location,
                purging: o.meta().deletion_timestamp.is_some()
                    && o.spec.deletion_policy == DeletionPolicy::Purge,
            })
        })
        .collect()
}

/// The first of `holders` that shares `mine` and is senior to `me`.
pub fn senior_clash<'a>(
    me: &Seniority,
    mine: &Location,
    holders: &'a [Holder],
) -> Option<&'a Holder> {
    holders
        .iter()
        .filter(|h| h.location.overlaps(mine) && h.seniority < *me)
        .min_by(|a, b| a.seniority.cmp(&b.seniority))
}

/// The first of `holders` still using (part of) `mine`, whatever its age: a purge of `mine`
/// would delete its data. Feeds that are being purged themselves do not count.
pub fn live_overlap<'a>(mine: &Location, holders: &'a [Holder]) -> Option<&'a Holder> {
    holders
        .iter()
        .filter(|h| !h.purging && h.location.overlaps(mine))
        .min_by(|a, b| a.seniority.cmp(&b.seniority))
}

fn is_same(a: &NuGetFeed, b: &NuGetFeed) -> bool {
    match (&a.meta().uid, &b.meta().uid) {
        (Some(x), Some(y)) => x == y,
        _ => a.namespace() == b.namespace() && a.name_any() == b.name_any(),
    }
}

fn segments(prefix: &str) -> Vec<String> {
    prefix
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(ns: &str, name: &str, created: &str, storage: &str) -> NuGetFeed {
        serde_yaml_ng::from_str(&format!(
            "apiVersion: nuget-operator.io/v1alpha1\nkind: NuGetFeed\nmetadata: {{name: {name}, namespace: {ns}, uid: {ns}-{name}, creationTimestamp: \"{created}\"}}\nspec: {{storage: {storage}}}\n"
        ))
        .unwrap()
    }

    fn at(storage: &str) -> Location {
        Location::of(&feed("team-p", "f", "2025-01-01T00:00:00Z", storage)).unwrap()
    }

    /// The cases: the same bucket and prefix; a prefix holding default-prefixed feeds.
    #[test]
    fn equal_and_nested_prefixes_overlap_segment_wise() {
        let dup = at("{s3: {bucket: feeds, prefix: shared}}");
        assert!(dup.overlaps(&at("{s3: {bucket: feeds, prefix: /shared/}}")));
        let team = at("{s3: {bucket: feeds, prefix: team-p}}");
        let victim = Location::of(&feed(
            "team-p",
            "victim",
            "2025-01-01T00:00:00Z",
            "{s3: {bucket: feeds}}",
        ))
        .unwrap();
        assert_eq!(victim.prefix, ["team-p", "victim"]);
        assert!(team.overlaps(&victim) && victim.overlaps(&team));
        // A sibling that merely starts with the same letters is another folder.
        assert!(
            !at("{s3: {bucket: feeds, prefix: team-p2}}")
                .overlaps(&at("{s3: {bucket: feeds, prefix: team-p/x}}"))
        );
        // Another bucket, backend or account is another store.
        assert!(!team.overlaps(&at("{s3: {bucket: other, prefix: team-p}}")));
        // An endpoint is not: AWS named and unnamed, or one server spelt two ways, is one store.
        assert!(team.overlaps(&at(
            "{s3: {bucket: feeds, prefix: team-p, endpoint: \"https://s3.amazonaws.com\"}}"
        )));
        assert!(
            at("{s3: {bucket: feeds, prefix: a, endpoint: \"http://minio:9000\"}}").overlaps(&at(
                "{s3: {bucket: feeds, prefix: a, endpoint: \"http://127.0.0.1:9000/\"}}"
            ))
        );
        assert!(!team.overlaps(&at("{gcs: {bucket: feeds, prefix: team-p}}")));
        assert!(
            !at("{azure: {account: a, container: feeds, prefix: x}}")
                .overlaps(&at("{azure: {account: b, container: feeds, prefix: x}}"))
        );
    }

    /// Every volume feed uses its whole claim, and claims are namespaced.
    #[test]
    fn one_claim_holds_one_feed() {
        let a = Location::of(&feed(
            "a",
            "one",
            "2025-01-01T00:00:00Z",
            "{volume: {claimName: data}}",
        ))
        .unwrap();
        let b = Location::of(&feed(
            "a",
            "two",
            "2025-01-01T00:00:00Z",
            "{volume: {claimName: data}}",
        ))
        .unwrap();
        let c = Location::of(&feed(
            "b",
            "one",
            "2025-01-01T00:00:00Z",
            "{volume: {claimName: data}}",
        ))
        .unwrap();
        assert!(a.overlaps(&b));
        assert!(!a.overlaps(&c));
    }

    /// The older feed wins, then namespace/name; whichever side asks, the answer agrees.
    #[test]
    fn the_senior_feed_keeps_the_location() {
        let old = Arc::new(feed(
            "z",
            "old",
            "2025-01-01T00:00:00Z",
            "{s3: {bucket: feeds, prefix: p}}",
        ));
        let new = Arc::new(feed(
            "a",
            "new",
            "2025-02-01T00:00:00Z",
            "{s3: {bucket: feeds, prefix: p/q}}",
        ));
        let all = [old.clone(), new.clone()];
        let clash = |f: &NuGetFeed| {
            let h = holders(f, &all);
            senior_clash(&Seniority::of(f), &Location::of(f).unwrap(), &h)
                .map(|h| h.seniority.feed())
        };
        assert_eq!(clash(&new), Some("z/old".to_owned()));
        assert_eq!(clash(&old), None);
        // Same creation time: namespace/name decides.
        let twin = Arc::new(feed(
            "a",
            "twin",
            "2025-01-01T00:00:00Z",
            "{s3: {bucket: feeds, prefix: p}}",
        ));
        let all = [old.clone(), twin.clone()];
        let h = holders(&old, &all);
        assert_eq!(
            senior_clash(&Seniority::of(&old), &Location::of(&old).unwrap(), &h)
                .map(|h| h.seniority.feed()),
            Some("a/twin".to_owned())
        );
        // A feed without a creation time (render) yields to everyone.
        assert!(Seniority::new(None, "a".into(), "a".into()) > Seniority::of(&new));
    }

    /// A purge must not reach a live feed of any age; a feed being purged itself does not count.
    #[test]
    fn purge_sees_every_live_overlap() {
        let team = feed(
            "team-p",
            "wide",
            "2025-03-01T00:00:00Z",
            "{s3: {bucket: feeds, prefix: team-p}}",
        );
        let mut victim = feed(
            "team-p",
            "victim",
            "2025-01-01T00:00:00Z",
            "{s3: {bucket: feeds}}",
        );
        let others = [Arc::new(victim.clone())];
        let h = holders(&team, &others);
        assert_eq!(
            live_overlap(&Location::of(&team).unwrap(), &h).map(|h| h.seniority.feed()),
            Some("team-p/victim".to_owned())
        );
        victim.metadata.deletion_timestamp = team.metadata.creation_timestamp.clone();
        victim.spec.deletion_policy = DeletionPolicy::Purge;
        let h = holders(&team, &[Arc::new(victim)]);
        assert_eq!(live_overlap(&Location::of(&team).unwrap(), &h), None);
        // The feed itself is never its own holder.
        assert!(holders(&team, &[Arc::new(team.clone())]).is_empty());
    }
}
