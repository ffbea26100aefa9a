//! Step 2 (pure): judge the spec together with what `dereference` found, and turn it into a
//! [`ValidatedFeed`] that `build` can use without checking anything again. Generated
//! credentials that are missing are made here, with the generator passed in.
//!
//! The CRD's schema and CEL rules repeat some of these checks at admission time; this module is
//! the authority, because old apiservers (such as 1.20) drop CEL rules and because some checks
//! (references, path and storage location clashes) need other objects.

pub mod trusted_publishers;
pub mod upstreams;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ResourceRequirements, SecretKeySelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

use crate::consts::{
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AZURE_STORAGE_ACCOUNT_KEY,
    CERT_MANAGER_CLUSTER_ISSUER, CERT_MANAGER_ISSUER, DATA_DIR, GCS_CREDENTIALS_DIR,
    GCS_CREDENTIALS_KEY, GOOGLE_SERVICE_ACCOUNT_PATH, REASON_INVALID_SPEC,
    REASON_MISSING_REFERENCE, REASON_PATH_CLASH, REASON_STORAGE_CLASH,
};
use crate::crd::{
    ApiKeySpec, DeleteMode, DeletionPolicy, FeedStorage, NetworkPolicySpec, NuGetFeed, ReadMode,
    Scheduling,
};
use crate::keys::{SecretGenerator, ValidatedApiKey};
use crate::quantity;
use crate::reconcile::dereference::{Dereferenced, GeneratedSecret, Lookup, Route};
use crate::reconcile::location::{self, Location, Seniority};
use crate::reconcile::names;
use crate::settings::Settings;
use trusted_publishers::PublisherPlan;
use upstreams::UpstreamPlan;

/// Longest feed name: children append up to `-read-tokens` (12 characters) and Services must
/// be 63-character DNS labels.
pub const MAX_FEED_NAME: usize = 51;

/// Why a feed cannot be provisioned as specified. Each becomes a `Degraded` condition and a
/// Warning event; none is retried until the feed (or, for references, the referenced object)
/// changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The feed's name cannot be used for its children (Service names are DNS labels).
    #[error(
        "name `{0}` must start with a letter, contain only lowercase letters, digits and '-', and be at most {MAX_FEED_NAME} characters"
    )]
    BadName(String),
    /// `spec.storage` does not set exactly one backend.
    #[error("spec.storage must set exactly one of s3, azure, gcs or volume")]
    StorageNotExactlyOne,
    /// Volume storage with more than one replica (a local folder has no cross-pod locking).
    #[error("spec.storage.volume supports a single replica, but spec.replicas is {0}")]
    VolumeReplicas(i32),
    /// `deletionPolicy: Purge` with volume storage.
    #[error(
        "spec.deletionPolicy Purge needs object storage; the data of a volume goes with its PersistentVolumeClaim"
    )]
    PurgeVolume,
    /// A negative replica count.
    #[error("spec.replicas must be 0 or more, not {0}")]
    NegativeReplicas(i32),
    /// `spec.image` is blank or contains whitespace.
    #[error("spec.image `{0}` is not an image reference")]
    BadImage(String),
    /// A malformed storage field.
    #[error("spec.storage: {0}")]
    BadStorage(String),
    /// A malformed ingress field.
    #[error("spec.ingress: {0}")]
    BadIngress(String),
    /// A malformed or duplicate API key or read token entry.
    #[error("{0}")]
    BadCredentials(String),
    /// A resource quantity the apiserver would refuse (the apply would fail with 422), or a
    /// request above its limit.
    #[error("{field} `{value}` {reason}")]
    BadQuantity {
        /// The field path, e.g. `spec.resources.requests.cpu`.
        field: String,
        value: String,
        reason: String,
    },
    /// `spec.maxPackageSize` is not a positive quantity.
    #[error("spec.maxPackageSize `{0}` must be a positive size such as 250Mi or 1Gi")]
    BadMaxPackageSize(String),
    /// The storage credentials Secret does not exist.
    #[error("storage credentials Secret `{0}` not found in the feed's namespace")]
    MissingCredentialsSecret(String),
    /// The storage credentials Secret lacks a required key.
    #[error("storage credentials Secret `{secret}` has no key `{key}`")]
    MissingCredentialsKey { secret: String, key: String },
    /// `spec.upstreams` or `spec.localPackages` is refused, or names a missing Secret or key.
    #[error(transparent)]
    Upstream(#[from] upstreams::Error),
    /// `spec.trustedPublishers` or `spec.temporaryKeyLifetimeSeconds` is refused.
    #[error(transparent)]
    TrustedPublisher(#[from] trusted_publishers::Error),
    /// A Secret with the name of a generated Secret exists but belongs to someone else.
    #[error(
        "Secret `{0}` exists but was not created by this NuGetFeed; delete or rename it so the operator can create its own"
    )]
    ForeignSecret(String),
    /// Another feed already serves this host and path prefix (or one nested in it).
    #[error(
        "path prefix {prefix} on host {host} clashes with NuGetFeed {other}, which serves {other_prefix}; choose another spec.ingress.pathPrefix"
    )]
    PathClash {
        host: String,
        prefix: String,
        other: String,
        other_prefix: String,
    },
    /// Another feed already stores its data at this location, or one nested in it: each
    /// would overwrite the other's packages, and a purge of either would delete both.
    #[error(
        "storage location {location} overlaps NuGetFeed {other}, which stores its data at {other_location}; choose another spec.storage prefix, bucket or claim (nothing of this feed was applied)"
    )]
    StorageClash {
        location: String,
        other: String,
        other_location: String,
    },
}

impl Error {
    /// The condition reason and metric label.
    pub fn category(&self) -> &'static str {
        match self {
            Error::MissingCredentialsSecret(_) | Error::MissingCredentialsKey { .. } => {
                REASON_MISSING_REFERENCE
            }
            Error::Upstream(e) if e.is_missing_reference() => REASON_MISSING_REFERENCE,
            Error::PathClash { .. } => REASON_PATH_CLASH,
            Error::StorageClash { .. } => REASON_STORAGE_CLASH,
            _ => REASON_INVALID_SPEC,
        }
    }

    /// Whether the cause lies in another object the controller does not watch (a tenant's
    /// Secret), so a slow periodic re-check is warranted; otherwise only a change of the feed
    /// can fix it.
    pub fn recheck_later(&self) -> bool {
        if let Error::Upstream(e) = self {
            return e.is_missing_reference();
        }
        matches!(
            self,
            Error::MissingCredentialsSecret(_)
                | Error::MissingCredentialsKey { .. }
                | Error::ForeignSecret(_)
                | Error::PathClash { .. }
                | Error::StorageClash { .. }
        )
    }
}

/// Where and how the feed stores its data, in the feed server's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct StoragePlan {
    /// `s3://bucket/prefix`, `az://container/prefix`, `gs://bucket/prefix` or a folder.
    pub url: String,
    /// `object_store` options.
    pub options: BTreeMap<String, String>,
    /// Credentials as environment variables taken from the credentials Secret.
    pub env: Vec<EnvVar>,
    /// A Secret to mount at [`GCS_CREDENTIALS_DIR`].
    pub gcs_secret: Option<String>,
    /// A PersistentVolumeClaim to mount at [`DATA_DIR`].
    pub claim: Option<String>,
    /// Hash of the credentials Secret's data, when there is one.
    pub credentials_hash: Option<String>,
}

/// The Ingress to create.
#[derive(Debug, Clone, PartialEq)]
pub struct IngressPlan {
    pub host: String,
    pub class_name: Option<String>,
    /// TLS Secret name, when TLS is on.
    pub tls_secret: Option<String>,
    pub annotations: BTreeMap<String, String>,
}

/// Generated credentials: the complete set (old and new) and what changes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CredentialSet {
    pub secret_name: String,
    /// Entry name to plaintext, after adding what was missing.
    pub entries: BTreeMap<String, String>,
    /// Entries generated in this reconcile (for events and the patch).
    pub created: Vec<String>,
    /// Entries present in the Secret but no longer in the spec (removed by the patch).
    pub stale: Vec<String>,
    /// The Secret exists already (so it is patched, not created).
    pub exists: bool,
    pub resource_version: Option<String>,
}

impl CredentialSet {
    /// Whether the Secret must be written.
    pub fn needs_write(&self) -> bool {
        !self.exists || !self.created.is_empty() || !self.stale.is_empty()
    }
}

/// A feed that passed every check, with every default resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedFeed {
    pub feed: NuGetFeed,
    pub name: String,
    pub namespace: String,
    /// The controller owner reference; `None` only when rendering a feed that was never
    /// created (no uid), where the manifests are printed without owner references.
    pub owner: Option<OwnerReference>,
    pub generation: Option<i64>,
    pub replicas: i32,
    pub image: String,
    /// `/team-a/main`.
    pub path_base: String,
    /// `https://nuget.example.com/team-a/main` (or the in-cluster Service URL).
    pub public_base_url: String,
    pub ingress: Option<IngressPlan>,
    pub storage: StoragePlan,
    pub upstreams: UpstreamPlan,
    pub trusted_publishers: PublisherPlan,
    pub api_keys: Vec<ValidatedApiKey>,
    pub api_key_secret: CredentialSet,
    pub read_tokens: Option<CredentialSet>,
    pub max_package_bytes: u64,
    pub delete_mode: DeleteMode,
    pub resources: ResourceRequirements,
    pub scheduling: Scheduling,
    pub service_account_annotations: BTreeMap<String, String>,
    pub network_policy: Option<NetworkPolicySpec>,
    pub deletion_policy: DeletionPolicy,
    pub pdb_supported: bool,
}

impl ValidatedFeed {
    /// The service index URL published in `status.url`.
    pub fn url(&self) -> String {
        format!("{}/index.json", self.public_base_url)
    }

    /// The feed's web page published in `status.webUrl`: the feed server serves it at its path
    /// base, next to the service index.
    pub fn web_url(&self) -> String {
        format!("{}/", self.public_base_url)
    }
}

/// Checks `feed` and resolves its defaults; `generate` makes any missing key or token.
pub fn validate(
    feed: &NuGetFeed,
    deref: &Dereferenced,
    settings: &Settings,
    generate: SecretGenerator<'_>,
) -> Result<ValidatedFeed, Error> {
    let name = feed.name_any();
    let namespace = feed.namespace().unwrap_or_default();
    if !is_feed_name(&name) {
        return Err(Error::BadName(name));
    }
    let spec = &feed.spec;
    if spec.replicas < 0 {
        return Err(Error::NegativeReplicas(spec.replicas));
    }
    let storage = storage_plan(feed, &spec.storage, &deref.credentials)?;
    if storage.claim.is_some() && spec.replicas > 1 {
        return Err(Error::VolumeReplicas(spec.replicas));
    }
    if storage.claim.is_some() && spec.deletion_policy == DeletionPolicy::Purge {
        return Err(Error::PurgeVolume);
    }
    check_location(feed, &deref.locations)?;
    let upstreams = upstreams::plan(spec, &deref.upstream_secrets)?;
    if let Some(image) = &spec.image
        && (image.trim().is_empty() || image.chars().any(char::is_whitespace))
    {
        return Err(Error::BadImage(image.clone()));
    }

    let path_base = names::path_prefix(feed);
    if !is_path_prefix(&path_base) {
        return Err(Error::BadIngress(format!(
            "pathPrefix `{path_base}` must be slash-separated segments of letters, digits, '-', '.', '_' or '~'"
        )));
    }
    let host = names::host(feed, settings);
    if let Some(h) = &host
        && !is_host(h)
    {
        return Err(Error::BadIngress(format!("host `{h}` is not a DNS name")));
    }
    if let Some(h) = &host {
        check_clash(feed, h, &path_base, &deref.routes)?;
    }
    let ingress = host.as_ref().map(|h| ingress_plan(feed, h, settings));
    let public_base_url = match (&ingress, &host) {
        (Some(plan), Some(h)) => {
            let scheme = if plan.tls_secret.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{h}{path_base}")
        }
        _ => format!(
            "http://{}.{namespace}.svc{path_base}",
            names::workload(feed)
        ),
    };

    let trusted_publishers = trusted_publishers::plan(
        spec,
        &namespace,
        &public_base_url,
        deref.cluster_keys.as_ref(),
    )?;
    let api_keys = check_api_keys(&spec.api_keys)?;
    let key_names: Vec<String> = api_keys.iter().map(|k| k.name.clone()).collect();
    let api_key_secret = credential_set(
        names::api_keys_secret(feed),
        &key_names,
        deref.api_keys.as_ref(),
        generate,
    )?;
    let read_tokens = match spec.read_access.mode {
        ReadMode::Public => None,
        ReadMode::Token => {
            let tokens = check_token_names(&spec.read_access.tokens)?;
            Some(credential_set(
                names::read_tokens_secret(feed),
                &tokens,
                deref.read_tokens.as_ref(),
                generate,
            )?)
        }
    };
    let max_package_bytes = match &spec.max_package_size {
        None => nuget_feed_config::DEFAULT_MAX_PACKAGE_BYTES,
        Some(q) => size_in_bytes(q)
            .filter(|b| *b > 0)
            .ok_or_else(|| Error::BadMaxPackageSize(q.0.clone()))?,
    };
    let resources = canonical_resources(spec.resources.as_ref().unwrap_or(&default_resources()))?;
    let owner = feed.controller_owner_ref(&()).map(|o| OwnerReference {
        // Foreground deletion of the feed waits for its children.
        block_owner_deletion: Some(true),
        ..o
    });

    Ok(ValidatedFeed {
        feed: feed.clone(),
        name,
        namespace,
        owner,
        generation: feed.meta().generation,
        replicas: spec.replicas,
        image: spec
            .image
            .clone()
            .unwrap_or_else(|| settings.default_image.clone()),
        path_base,
        public_base_url,
        ingress,
        storage,
        upstreams,
        trusted_publishers,
        api_keys,
        api_key_secret,
        read_tokens,
        max_package_bytes,
        delete_mode: spec.delete_mode,
        resources,
        scheduling: spec.scheduling.clone().unwrap_or_default(),
        service_account_annotations: spec
            .service_account
            .as_ref()
            .map(|s| s.annotations.clone())
            .unwrap_or_default(),
        network_policy: spec.network_policy.clone().filter(|n| n.enabled),
        deletion_policy: spec.deletion_policy,
        pdb_supported: settings.pdb_supported,
    })
}

/// requests 50m CPU / 128Mi, limit 512Mi: a feed server holds its index in memory.
fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity("50m".to_owned())),
            ("memory".to_owned(), Quantity("128Mi".to_owned())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_owned(),
            Quantity("512Mi".to_owned()),
        )])),
        ..ResourceRequirements::default()
    }
}

fn storage_plan(
    feed: &NuGetFeed,
    storage: &FeedStorage,
    credentials: &Lookup,
) -> Result<StoragePlan, Error> {
    let count = [
        storage.s3.is_some(),
        storage.azure.is_some(),
        storage.gcs.is_some(),
        storage.volume.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if count != 1 {
        return Err(Error::StorageNotExactlyOne);
    }
    let prefix = |p: &Option<String>| -> Result<String, Error> {
        let p = p
            .clone()
            .unwrap_or_else(|| names::default_storage_prefix(feed));
        let p = p.trim_matches('/').to_owned();
        if p.is_empty() || !is_path_prefix(&format!("/{p}")) {
            return Err(Error::BadStorage(format!(
                "prefix `{p}` must be slash-separated segments of letters, digits, '-', '.', '_' or '~'"
            )));
        }
        Ok(p)
    };
    let mut plan = StoragePlan {
        url: String::new(),
        options: BTreeMap::new(),
        env: Vec::new(),
        gcs_secret: None,
        claim: None,
        credentials_hash: None,
    };
    if let Some(s3) = &storage.s3 {
        if !is_bucket(&s3.bucket) {
            return Err(Error::BadStorage(format!(
                "s3.bucket `{}` is not a bucket name",
                s3.bucket
            )));
        }
        plan.url = format!("s3://{}/{}", s3.bucket, prefix(&s3.prefix)?);
        if let Some(region) = &s3.region {
            plan.options.insert("aws_region".to_owned(), region.clone());
        }
        match &s3.endpoint {
            None => {
                plan.options.insert(
                    "aws_virtual_hosted_style_request".to_owned(),
                    (!s3.path_style).to_string(),
                );
            }
            Some(endpoint) => {
                let (scheme, rest) = endpoint
                    .split_once("://")
                    .filter(|(s, r)| matches!(*s, "http" | "https") && !r.is_empty())
                    .ok_or_else(|| {
                        Error::BadStorage(format!(
                            "s3.endpoint `{endpoint}` must be an http(s) URL"
                        ))
                    })?;
                if scheme == "http" {
                    plan.options
                        .insert("aws_allow_http".to_owned(), "true".to_owned());
                }
                // object_store takes a custom endpoint as is: with virtual-hosted style it must
                // already name the bucket, so the operator builds that form itself.
                let endpoint = if s3.path_style {
                    endpoint.trim_end_matches('/').to_owned()
                } else {
                    format!("{scheme}://{}.{}", s3.bucket, rest.trim_end_matches('/'))
                };
                plan.options.insert(
                    "aws_virtual_hosted_style_request".to_owned(),
                    (!s3.path_style).to_string(),
                );
                plan.options.insert("aws_endpoint".to_owned(), endpoint);
            }
        }
        if let Some(secret) = &s3.credentials_secret {
            plan.credentials_hash = require_keys(
                credentials,
                secret,
                &[AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY],
            )?;
            plan.env = vec![
                secret_env(AWS_ACCESS_KEY_ID, secret, AWS_ACCESS_KEY_ID, false),
                secret_env(AWS_SECRET_ACCESS_KEY, secret, AWS_SECRET_ACCESS_KEY, false),
                secret_env(AWS_SESSION_TOKEN, secret, AWS_SESSION_TOKEN, true),
            ];
        }
    } else if let Some(az) = &storage.azure {
        plan.url = format!("az://{}/{}", az.container, prefix(&az.prefix)?);
        plan.options
            .insert("azure_storage_account_name".to_owned(), az.account.clone());
        if let Some(endpoint) = &az.endpoint {
            plan.options
                .insert("azure_storage_endpoint".to_owned(), endpoint.clone());
            if endpoint.starts_with("http://") {
                plan.options
                    .insert("azure_allow_http".to_owned(), "true".to_owned());
            }
        }
        if let Some(secret) = &az.credentials_secret {
            plan.credentials_hash =
                require_keys(credentials, secret, &[AZURE_STORAGE_ACCOUNT_KEY])?;
            plan.env = vec![secret_env(
                AZURE_STORAGE_ACCOUNT_KEY,
                secret,
                AZURE_STORAGE_ACCOUNT_KEY,
                false,
            )];
        }
    } else if let Some(gcs) = &storage.gcs {
        plan.url = format!("gs://{}/{}", gcs.bucket, prefix(&gcs.prefix)?);
        if let Some(secret) = &gcs.credentials_secret {
            plan.credentials_hash = require_keys(credentials, secret, &[GCS_CREDENTIALS_KEY])?;
            plan.gcs_secret = Some(secret.clone());
            plan.env = vec![EnvVar {
                name: GOOGLE_SERVICE_ACCOUNT_PATH.to_owned(),
                value: Some(format!("{GCS_CREDENTIALS_DIR}/{GCS_CREDENTIALS_KEY}")),
                ..EnvVar::default()
            }];
        }
    } else if let Some(volume) = &storage.volume {
        if !is_dns_subdomain(&volume.claim_name) {
            return Err(Error::BadStorage(format!(
                "volume.claimName `{}` is not an object name",
                volume.claim_name
            )));
        }
        plan.url = DATA_DIR.to_owned();
        plan.claim = Some(volume.claim_name.clone());
    }
    Ok(plan)
}

/// Checks the credentials Secret has `keys`; returns the hash of its data (None offline).
fn require_keys(
    credentials: &Lookup,
    secret: &str,
    keys: &[&str],
) -> Result<Option<String>, Error> {
    match credentials {
        Lookup::Found(summary) => {
            for key in keys {
                if !summary.keys.contains(*key) {
                    return Err(Error::MissingCredentialsKey {
                        secret: secret.to_owned(),
                        key: (*key).to_owned(),
                    });
                }
            }
            Ok(Some(summary.data_hash.clone()))
        }
        Lookup::Missing(name) => Err(Error::MissingCredentialsSecret(name.clone())),
        Lookup::Unchecked(_) | Lookup::NotReferenced => Ok(None),
    }
}

fn secret_env(var: &str, secret: &str, key: &str, optional: bool) -> EnvVar {
    EnvVar {
        name: var.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: optional.then_some(true),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

fn ingress_plan(feed: &NuGetFeed, host: &str, settings: &Settings) -> IngressPlan {
    let spec = feed.spec.ingress.clone().unwrap_or_default();
    let mut annotations = spec.annotations.clone();
    let tls_secret = match &spec.tls {
        Some(tls) => {
            if let Some(issuer) = &tls.issuer {
                annotations.insert(CERT_MANAGER_ISSUER.to_owned(), issuer.clone());
            }
            if let Some(issuer) = &tls.cluster_issuer {
                annotations.insert(CERT_MANAGER_CLUSTER_ISSUER.to_owned(), issuer.clone());
            }
            Some(
                tls.secret_name
                    .clone()
                    .unwrap_or_else(|| format!("{}-tls", feed.name_any())),
            )
        }
        None => settings.default_tls_issuer.as_ref().map(|issuer| {
            annotations.insert(CERT_MANAGER_CLUSTER_ISSUER.to_owned(), issuer.clone());
            format!("{}-tls", feed.name_any())
        }),
    };
    IngressPlan {
        host: host.to_owned(),
        class_name: spec
            .class_name
            .clone()
            .or_else(|| settings.default_ingress_class.clone()),
        tls_secret,
        annotations,
    }
}

/// Equal prefixes, or one nested in the other at a segment boundary, on the same host clash:
/// the Ingress controller would send one feed's URLs to the other. The older feed keeps the
/// prefix (ties broken by namespace/name).
fn check_clash(feed: &NuGetFeed, host: &str, prefix: &str, routes: &[Route]) -> Result<(), Error> {
    let me = Seniority::of(feed);
    for route in routes {
        if route.host.as_deref() != Some(host) || !nested(prefix, &route.path_prefix) {
            continue;
        }
        let theirs = Seniority::new(
            route.created.clone(),
            route.namespace.clone(),
            route.name.clone(),
        );
        if theirs < me {
            return Err(Error::PathClash {
                host: host.to_owned(),
                prefix: prefix.to_owned(),
                other: theirs.feed(),
                other_prefix: route.path_prefix.clone(),
            });
        }
    }
    Ok(())
}

/// Equal or nested storage locations clash, across all watched namespaces; the senior feed
/// keeps the location (see [`Seniority`]).
fn check_location(feed: &NuGetFeed, holders: &[location::Holder]) -> Result<(), Error> {
    let Some(mine) = Location::of(feed) else {
        return Ok(());
    };
    match location::senior_clash(&Seniority::of(feed), &mine, holders) {
        Some(holder) => Err(Error::StorageClash {
            location: mine.to_string(),
            other: holder.seniority.feed(),
            other_location: holder.location.to_string(),
        }),
        None => Ok(()),
    }
}

fn nested(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    let under = |x: &str, y: &str| x == y || x.starts_with(&format!("{y}/"));
    under(&a, &b) || under(&b, &a)
}

fn check_api_keys(keys: &[ApiKeySpec]) -> Result<Vec<ValidatedApiKey>, Error> {
    let mut seen = std::collections::BTreeSet::new();
    let mut validated = Vec::with_capacity(keys.len());
    for key in keys {
        if !is_entry_name(&key.name) {
            return Err(Error::BadCredentials(format!(
                "spec.apiKeys: name `{}` must be lowercase letters, digits and '-' (at most 63)",
                key.name
            )));
        }
        if !seen.insert(key.name.as_str()) {
            return Err(Error::BadCredentials(format!(
                "spec.apiKeys: name `{}` appears twice",
                key.name
            )));
        }
        if key.scopes.is_empty() {
            return Err(Error::BadCredentials(format!(
                "spec.apiKeys[{}].scopes must not be empty",
                key.name
            )));
        }
        if key.packages.is_empty() {
            return Err(Error::BadCredentials(format!(
                "spec.apiKeys[{}].packages must not be empty",
                key.name
            )));
        }
        // The feed server's own parser: a pattern it would refuse at start-up is refused here,
        // so the feed gets a condition naming it instead of crash-looping pods.
        let packages = key
            .packages
            .iter()
            .map(|p| nuget_feed_config::IdPattern::parse(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                Error::BadCredentials(format!("spec.apiKeys[{}].packages: {e}", key.name))
            })?;
        validated.push(ValidatedApiKey {
            name: key.name.clone(),
            scopes: key.scopes.clone(),
            packages,
        });
    }
    Ok(validated)
}

fn check_token_names(tokens: &[String]) -> Result<Vec<String>, Error> {
    if tokens.is_empty() {
        return Err(Error::BadCredentials(
            "spec.readAccess: mode Token needs at least one entry in tokens".to_owned(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for t in tokens {
        if !is_entry_name(t) || !seen.insert(t.as_str()) {
            return Err(Error::BadCredentials(format!(
                "spec.readAccess.tokens: `{t}` must be a unique lowercase name"
            )));
        }
    }
    Ok(tokens.to_vec())
}

/// Keeps existing entries (never rewritten), generates missing ones, marks stale ones.
fn credential_set(
    secret_name: String,
    wanted: &[String],
    existing: Option<&GeneratedSecret>,
    generate: SecretGenerator<'_>,
) -> Result<CredentialSet, Error> {
    if let Some(e) = existing
        && !e.controlled
    {
        return Err(Error::ForeignSecret(secret_name));
    }
    let mut set = CredentialSet {
        secret_name,
        exists: existing.is_some(),
        resource_version: existing.and_then(|e| e.resource_version.clone()),
        ..CredentialSet::default()
    };
    for name in wanted {
        match existing.and_then(|e| e.entries.get(name)) {
            Some(value) => {
                set.entries.insert(name.clone(), value.clone());
            }
            None => {
                set.entries.insert(name.clone(), generate());
                set.created.push(name.clone());
            }
        }
    }
    if let Some(e) = existing {
        set.stale = e
            .entries
            .keys()
            .filter(|k| !wanted.contains(k))
            .cloned()
            .collect();
    }
    Ok(set)
}

/// A size quantity in whole bytes (`250Mi`, `1G`, `1048576`, `1e6`); `None` when malformed
/// or negative.
pub fn size_in_bytes(q: &Quantity) -> Option<u64> {
    quantity::Quantity::parse(&q.0)
        .ok()
        .and_then(|q| u64::try_from(q.whole_units()).ok())
}

/// Checks every quantity of `spec.resources` and writes it in the apiserver's canonical form,
/// so the built Deployment equals the live one (`0.5` is stored as `500m`: compared as
/// written, every reconcile would apply again).
fn canonical_resources(resources: &ResourceRequirements) -> Result<ResourceRequirements, Error> {
    let requests = parse_quantities("requests", &resources.requests)?;
    let limits = parse_quantities("limits", &resources.limits)?;
    for (name, (value, request)) in &requests {
        if let Some((limit, limit_q)) = limits.get(name)
            && request.cmp_value(limit_q).is_gt()
        {
            return Err(bad_quantity(
                format!("spec.resources.requests.{name}"),
                value,
                format!("must not exceed spec.resources.limits.{name} `{}`", limit.0),
            ));
        }
    }
    let canonical = |parsed: &ParsedQuantities<'_>| {
        parsed
            .iter()
            .map(|(name, (_, q))| ((*name).to_owned(), Quantity(q.canonical())))
            .collect()
    };
    Ok(ResourceRequirements {
        requests: resources.requests.as_ref().map(|_| canonical(&requests)),
        limits: resources.limits.as_ref().map(|_| canonical(&limits)),
        ..resources.clone()
    })
}

/// Resource name to the quantity as written and parsed.
type ParsedQuantities<'a> = BTreeMap<&'a str, (&'a Quantity, quantity::Quantity)>;

/// Parses `spec.resources.{kind}`: every quantity well formed and not negative.
fn parse_quantities<'a>(
    kind: &str,
    map: &'a Option<BTreeMap<String, Quantity>>,
) -> Result<ParsedQuantities<'a>, Error> {
    let mut parsed = BTreeMap::new();
    for (name, value) in map.iter().flatten() {
        let field = format!("spec.resources.{kind}.{name}");
        let q = quantity::Quantity::parse(&value.0)
            .map_err(|e| bad_quantity(field.clone(), value, e.to_string()))?;
        if q.is_negative() {
            return Err(bad_quantity(
                field,
                value,
                "must not be negative".to_owned(),
            ));
        }
        parsed.insert(name.as_str(), (value, q));
    }
    Ok(parsed)
}

fn bad_quantity(field: String, value: &Quantity, reason: String) -> Error {
    Error::BadQuantity {
        field,
        value: value.0.clone(),
        reason,
    }
}

fn is_feed_name(s: &str) -> bool {
    s.len() <= MAX_FEED_NAME
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_entry_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_path_prefix(p: &str) -> bool {
    p.starts_with('/')
        && p[1..].split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        })
}

fn is_host(h: &str) -> bool {
    let h = h.strip_prefix("*.").unwrap_or(h);
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

fn is_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}
