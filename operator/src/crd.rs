//! The `NuGetFeed` custom resource (`nuget-operator.io/v1alpha1`): the Rust types are the source
//! of truth, `crds/nugetfeeds.nuget-operator.io.yaml` is generated from them (`nuget-operator crd`,
//! checked by a drift test), and every field's doc comment becomes its `kubectl explain` text.
//!
//! Schema checks the apiserver can do live here (patterns, ranges, CEL rules); checks that need
//! other objects or apply to old apiservers that drop CEL rules are repeated in
//! `reconcile::validate`, which is the authority.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use nuget_feed_config::Scope;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A NuGet V3 feed for one tenant: the operator runs a feed server for it (Deployment, Service,
/// Ingress under the feed's path prefix), generates its API keys, and reports its URL.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "nuget-operator.io",
    version = "v1alpha1",
    kind = "NuGetFeed",
    plural = "nugetfeeds",
    singular = "nugetfeed",
    shortname = "nf",
    category = "nuget",
    namespaced,
    status = "NuGetFeedStatus",
    derive = "PartialEq",
    printcolumn(
        name = "Ready",
        type_ = "string",
        description = "Whether the feed serves requests",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "URL",
        type_ = "string",
        description = "The feed's service index",
        json_path = ".status.url"
    ),
    printcolumn(
        name = "Web",
        type_ = "string",
        description = "The feed's web page, to browse its packages",
        json_path = ".status.webUrl"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("!has(self.spec.storage.volume) || self.spec.replicas <= 1")
        .message("storage.volume supports a single replica; use object storage (s3, azure, gcs) for more")
        .field_path(".spec.replicas"),
    validation = Rule::new("self.spec.deletionPolicy != 'Purge' || !has(self.spec.storage.volume)")
        .message("deletionPolicy Purge needs object storage; the data of a volume goes with its PersistentVolumeClaim")
        .field_path(".spec.deletionPolicy")
)]
#[serde(rename_all = "camelCase")]
pub struct NuGetFeedSpec {
    /// Number of feed server pods. Object storage lets replicas share one feed; volume storage
    /// allows at most 1. 0 stops the feed without deleting anything. Default 1.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 50))]
    pub replicas: i32,

    /// Feed server image, overriding the operator's default
    /// (`ghcr.io/nuget-operator/nuget-feed-server:<operator version>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Where the feed's packages and index live: exactly one of `s3`, `azure`, `gcs` or `volume`.
    pub storage: FeedStorage,

    /// How the feed is exposed outside the cluster. Without a host (here or the operator's
    /// `--default-host`) no Ingress is created and the feed is reachable in-cluster only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<FeedIngress>,

    /// Named API keys for pushing and for managing existing versions. The operator generates
    /// each key once, keeps it in the Secret named in `status.apiKeySecret` (one entry per key
    /// name), and gives the feed server only their SHA-256 hashes. Default: one key named
    /// `default` with every scope.
    #[serde(default = "default_api_keys")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    #[schemars(length(max = 64))]
    pub api_keys: Vec<ApiKeySpec>,

    /// Who may read (restore) packages. Default: anyone who can reach the feed.
    #[serde(default)]
    pub read_access: ReadAccess,

    /// Largest accepted package upload, as a Kubernetes quantity (`250Mi`, `1Gi`); larger
    /// pushes are refused with 413. Default 250Mi, nuget.org's limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_package_size: Option<Quantity>,

    /// What deleting a package version does: `Unlist` hides it from search and version ranges
    /// but keeps it downloadable (as nuget.org does); `Delete` removes it for good. Default Unlist.
    #[serde(default)]
    pub delete_mode: DeleteMode,

    /// CPU and memory for each feed server container. Default: requests 50m CPU and 128Mi,
    /// limit 512Mi memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Where the feed server pods may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<Scheduling>,

    /// The feed's ServiceAccount (no API token is mounted: the feed server never calls the
    /// Kubernetes API). Annotate it for cloud workload identity instead of a credentials Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ServiceAccountSpec>,

    /// An optional NetworkPolicy admitting traffic to the feed server only from the given peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicySpec>,

    /// What happens to the stored packages when this NuGetFeed is deleted: `Retain` (default)
    /// keeps them, so a feed re-created with the same storage comes back with its packages;
    /// `Purge` deletes every object under the feed's prefix (object storage with a
    /// `credentialsSecret` only: the operator never uses its own identity for a tenant's
    /// storage). A feed whose storage location equals, holds or lies inside another live
    /// feed's is refused (the older feed keeps it), and a purge never runs while another live
    /// feed uses part of the location. A new feed pointed at a location that still holds data
    /// (say, of a deleted Retain feed) adopts that data: this is how a retained feed is restored.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Package id patterns (as in `apiKeys[].packages`, e.g. `Contoso.*`) that belong to this
    /// feed alone: they are never looked up upstream, even before their first push here, so a
    /// public package with the name of an internal one can never be restored from this feed
    /// (dependency confusion).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[schemars(length(max = 256))]
    pub local_packages: Vec<String>,

    /// Other NuGet V3 feeds (nuget.org, another feed, Azure Artifacts, a static feed) whose
    /// packages this feed serves and caches in its own storage, for ids it does not have
    /// itself. Asked in order; the first that knows an id serves all of its versions. An id
    /// with any version on this feed, or matching `localPackages`, is never looked up upstream.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    #[schemars(length(max = 16))]
    pub upstreams: Vec<UpstreamSpec>,

    /// Who may push without an API key, with an OIDC token: a ServiceAccount of this cluster
    /// (its projected token), a GitHub Actions or GitLab CI job, or any OIDC issuer's token.
    /// The token goes in `X-NuGet-ApiKey` as it is, or is exchanged at the feed's
    /// TokenService for a short-lived API key. Each entry names exactly one of `kubernetes`,
    /// `github`, `gitlab` or `oidc`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    #[schemars(length(max = 64))]
    pub trusted_publishers: Vec<TrustedPublisherSpec>,

    /// Seconds an API key handed out by the TokenService (for a trusted publisher's token)
    /// works. Default 3600 (one hour, as on nuget.org), at most 86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 60, max = 86400))]
    pub temporary_key_lifetime_seconds: Option<u64>,
}

fn default_replicas() -> i32 {
    1
}

fn default_api_keys() -> Vec<ApiKeySpec> {
    vec![ApiKeySpec {
        name: "default".to_owned(),
        scopes: default_scopes(),
        packages: default_packages(),
    }]
}

/// Exactly one storage backend.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "(has(self.s3) ? 1 : 0) + (has(self.azure) ? 1 : 0) + (has(self.gcs) ? 1 : 0) + (has(self.volume) ? 1 : 0) == 1"
).message("set exactly one of s3, azure, gcs or volume"))]
pub struct FeedStorage {
    /// An S3 or S3-compatible bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Storage>,
    /// An Azure Blob Storage container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureStorage>,
    /// A Google Cloud Storage bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<GcsStorage>,
    /// An existing PersistentVolumeClaim (single replica only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeStorage>,
}

/// An S3 bucket. Credentials come from `credentialsSecret`, or from the pod's identity (for
/// example IRSA annotations on `serviceAccount`) when it is omitted.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct S3Storage {
    /// Bucket name.
    #[schemars(length(min = 3, max = 63))]
    pub bucket: String,
    /// Folder of this feed inside the bucket, so one bucket can hold many feeds.
    /// Default `<namespace>/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$"))]
    pub prefix: Option<String>,
    /// Region, e.g. `eu-west-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Endpoint of an S3-compatible service (e.g. `http://minio.storage:9000`); plain `http://`
    /// endpoints are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s/]+(/.*)?$"))]
    pub endpoint: Option<String>,
    /// Address objects as `endpoint/bucket/key` instead of `bucket.endpoint/key`, as most
    /// S3-compatible services need. Default false.
    #[serde(default)]
    pub path_style: bool,
    /// Name of a Secret in the feed's namespace with `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` (and optionally `AWS_SESSION_TOKEN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
}

/// An Azure Blob Storage container.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AzureStorage {
    /// Storage account name.
    #[schemars(length(min = 1))]
    pub account: String,
    /// Container name.
    #[schemars(length(min = 3, max = 63))]
    pub container: String,
    /// Folder of this feed inside the container. Default `<namespace>/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$"))]
    pub prefix: Option<String>,
    /// Blob endpoint, for Azurite or sovereign clouds (e.g. `http://azurite:10000/devstoreaccount1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s/]+(/.*)?$"))]
    pub endpoint: Option<String>,
    /// Name of a Secret in the feed's namespace with `AZURE_STORAGE_ACCOUNT_KEY`. Without it
    /// the pod's workload identity is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
}

/// A Google Cloud Storage bucket.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct GcsStorage {
    /// Bucket name.
    #[schemars(length(min = 3, max = 222))]
    pub bucket: String,
    /// Folder of this feed inside the bucket. Default `<namespace>/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$"))]
    pub prefix: Option<String>,
    /// Name of a Secret in the feed's namespace with a service-account key under
    /// `service-account.json`. Without it the pod's workload identity is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
}

/// A PersistentVolumeClaim the tenant created; the feed is stored at its root. The claim's
/// lifecycle (and so the data's) stays with the tenant.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct VolumeStorage {
    /// Name of the PersistentVolumeClaim in the feed's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub claim_name: String,
}

/// External access through an Ingress. The feed server serves everything under the path prefix
/// itself, so the Ingress forwards the prefix unchanged (no rewrite) and NuGet's
/// PreAuthenticate sees every URL under the service index's directory.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct FeedIngress {
    /// Host name, e.g. `nuget.example.com`. Default: the operator's `--default-host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
    ))]
    pub host: Option<String>,
    /// URL path under which the feed is served; the service index is
    /// `https://<host><pathPrefix>/index.json`. Default `/<namespace>/<name>`. Immutable, since
    /// every client's source URL contains it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(/[A-Za-z0-9._~-]+)+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("pathPrefix is immutable; create a new NuGetFeed to move a feed"))]
    pub path_prefix: Option<String>,
    /// IngressClass name. Default: the operator's `--default-ingress-class`, else the cluster's
    /// default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// TLS for the host. Default: the operator's `--default-tls-issuer` when set, else plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<FeedTls>,
    /// Extra annotations for the Ingress (for example rate limits of your ingress controller).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// TLS for the Ingress: a certificate in a Secret, obtained by cert-manager when an issuer is
/// named.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.issuer) && has(self.clusterIssuer))")
    .message("set at most one of issuer and clusterIssuer"))]
pub struct FeedTls {
    /// Secret with the certificate (`tls.crt`, `tls.key`). Default `<name>-tls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// cert-manager Issuer in the feed's namespace (sets `cert-manager.io/issuer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// cert-manager ClusterIssuer (sets `cert-manager.io/cluster-issuer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_issuer: Option<String>,
}

/// One API key. Its plaintext is the Secret entry of the same name.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeySpec {
    /// Key name: the Secret entry holding the key, and the owner shown for packages pushed with it.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"), length(max = 63))]
    pub name: String,
    /// What the key may do. `push`: push new versions and their symbol packages. `unlist`:
    /// manage existing versions (unlist, or delete with `deleteMode: Delete`; relist; deprecate
    /// and undeprecate). `take_over` (with `push`): push an id this feed has so far served only
    /// from an upstream, which makes the id local (logged; never a default). Default `push` and
    /// `unlist`.
    #[serde(default = "default_scopes")]
    #[schemars(length(min = 1))]
    pub scopes: Vec<Scope>,
    /// Package id patterns the key may push or manage, compared ignoring case. `*` matches any
    /// run of characters (none, or several, dots included) and may appear anywhere and any number
    /// of times; every other character must be a package-id character (letters, digits, `.`,
    /// `-`, `_`). E.g. `Contoso.*`, `*.Json`, `Contoso.*.Core`, `Newtonsoft.Json`, or `*` for
    /// every id. Default `["*"]`.
    #[serde(default = "default_packages")]
    #[schemars(length(min = 1))]
    pub packages: Vec<String>,
}

fn default_scopes() -> Vec<Scope> {
    vec![Scope::Push, Scope::Unlist]
}

fn default_packages() -> Vec<String> {
    vec!["*".to_owned()]
}

/// One upstream source.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UpstreamSpec {
    /// A DNS label, unique among the feed's upstreams: it names the upstream in the feed
    /// server's logs and metrics and keys its cache in the feed's storage.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"), length(max = 63))]
    pub name: String,
    /// URL of the upstream's V3 service index, e.g. `https://api.nuget.org/v3/index.json`.
    #[schemars(regex(pattern = r"^https?://\S+$"))]
    pub url: String,
    /// Seconds one request to the upstream may take before the feed serves from its cache.
    /// Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_seconds: Option<u32>,
    /// Seconds metadata fetched from the upstream is served before it is asked again.
    /// Default 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub metadata_ttl_seconds: Option<u64>,
    /// Most requests in flight to this upstream at once, per feed server pod. Default 16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1024))]
    pub max_concurrency: Option<u32>,
    /// Seconds between two reads of the upstream's VulnerabilityInfo, which the feed mirrors
    /// so that clients audit with this feed alone. Default 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub vulnerability_refresh_seconds: Option<u64>,
    /// Only ids matching one of these patterns are looked up here. Default: every id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// Ids matching one of these patterns are never looked up here, even if allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    /// How the feed server authenticates to the upstream. Default: anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<UpstreamCredentialsSpec>,
}

/// Credentials for an upstream. The secret stays in the referenced Secret: the operator mounts
/// that one key read-only into the feed server pods and never copies its value.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(self.scheme == 'Basic') == has(self.username)")
    .message("set username with scheme Basic, and only then"))]
pub struct UpstreamCredentialsSpec {
    /// `Basic` (`Authorization: Basic` with `username` and the secret as password), `Bearer`
    /// (`Authorization: Bearer <secret>`) or `ApiKey` (`X-NuGet-ApiKey: <secret>`).
    pub scheme: UpstreamCredentialScheme,
    /// The user name of scheme `Basic` (Azure Artifacts accepts any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub username: Option<String>,
    /// The Secret key holding the password, token or API key.
    pub secret_ref: SecretKeyRef,
}

/// A key of a Secret in the feed's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the Secret's data.
    #[schemars(regex(pattern = r"^[-._a-zA-Z0-9]+$"), length(max = 253))]
    pub key: String,
}

/// Where the upstream secret goes in each request.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamCredentialScheme {
    Basic,
    Bearer,
    ApiKey,
}

/// The feed server's config file spells the schemes in snake_case (`basic`, `api_key`), while
/// Kubernetes APIs use PascalCase values, so the CRD keeps its own enum.
impl From<UpstreamCredentialScheme> for nuget_feed_config::CredentialScheme {
    fn from(scheme: UpstreamCredentialScheme) -> Self {
        match scheme {
            UpstreamCredentialScheme::Basic => nuget_feed_config::CredentialScheme::Basic,
            UpstreamCredentialScheme::Bearer => nuget_feed_config::CredentialScheme::Bearer,
            UpstreamCredentialScheme::ApiKey => nuget_feed_config::CredentialScheme::ApiKey,
        }
    }
}

/// One trust policy: tokens of one issuer whose claims match may push (and manage) the ids
/// `packages` matches, as the owner `name`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "(has(self.kubernetes) ? 1 : 0) + (has(self.github) ? 1 : 0) + (has(self.gitlab) ? 1 : 0) + (has(self.oidc) ? 1 : 0) == 1"
).message("set exactly one of kubernetes, github, gitlab or oidc"))]
pub struct TrustedPublisherSpec {
    /// The policy's name: shown as the owner of the packages it pushes and in the feed's audit
    /// log. Letters, digits, `.`, `-`, `_`; unique in the feed.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._-]+$"), length(min = 1, max = 64))]
    pub name: String,
    /// A ServiceAccount of this cluster: pods that mount a projected token of it (with the
    /// feed's audience) may push. The operator gives the feed the cluster's issuer and keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesPublisher>,
    /// A GitHub Actions workflow (issuer `https://token.actions.githubusercontent.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<GitHubPublisher>,
    /// A GitLab CI job (issuer `https://gitlab.com`, or a self-managed GitLab's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab: Option<GitLabPublisher>,
    /// Any other OIDC issuer, with the claims its tokens must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcPublisher>,
    /// The `aud` the tokens must carry. Default: the feed's public URL (the service index's
    /// folder, e.g. `https://nuget.example.com/team-a/main`), as shown in `status.url`
    /// without `/index.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub audience: Option<String>,
    /// What the tokens may do, as for API keys (`push`, `unlist`, `take_over`). Default
    /// `push` and `unlist`.
    #[serde(default = "default_scopes")]
    #[schemars(length(min = 1))]
    pub scopes: Vec<Scope>,
    /// Package id patterns the tokens may push or manage, as for API keys (`Contoso.*`).
    /// Default `["*"]`.
    #[serde(default = "default_packages")]
    #[schemars(length(min = 1))]
    pub packages: Vec<String>,
    /// A token issued longer ago than this (by its `iat`) is refused, whatever its `exp`
    /// says. Default 86400 (one day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_token_age_seconds: Option<u64>,
}

/// A ServiceAccount of this cluster (token `sub` `system:serviceaccount:<namespace>:<name>`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesPublisher {
    /// Name of the ServiceAccount.
    #[schemars(
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
        length(max = 253)
    )]
    pub service_account: String,
    /// Its namespace. Default: the feed's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"), length(max = 63))]
    pub namespace: Option<String>,
}

/// A GitHub Actions workflow.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GitHubPublisher {
    /// `owner/name` of the repository (the token's `repository` claim).
    #[schemars(regex(pattern = r"^[^/\s]+/[^/\s]+$"))]
    pub repository: String,
    /// Only this workflow file of the repository, e.g. `release.yml` (matched in the token's
    /// `job_workflow_ref`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub workflow: Option<String>,
    /// Only this git ref, e.g. `refs/heads/main` or `refs/tags/v*` (`*` matches any run).
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub git_ref: Option<String>,
    /// Only jobs of this deployment environment, e.g. `release`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub environment: Option<String>,
}

/// A GitLab CI job.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GitLabPublisher {
    /// `group/project` (the token's `project_path` claim).
    #[schemars(length(min = 1))]
    pub project_path: String,
    /// Only this branch or tag name, e.g. `main` (`*` matches any run).
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub git_ref: Option<String>,
    /// Only jobs of this environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub environment: Option<String>,
    /// The GitLab instance's issuer URL. Default `https://gitlab.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https://\S+$"))]
    pub issuer: Option<String>,
}

/// Any OIDC issuer.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OidcPublisher {
    /// The tokens' `iss`, exactly; its keys are found by OIDC discovery
    /// (`<issuer>/.well-known/openid-configuration`) unless `jwksUrl` is set.
    #[schemars(regex(pattern = r"^https?://\S+$"))]
    pub issuer: String,
    /// Claim name to the value it must have; every one must match. Exact and case-sensitive,
    /// except that `*` matches any run of characters and `?` any one. At least one, e.g.
    /// `sub`. `iss`, `aud`, `exp`, `nbf` and `iat` are checked by the feed itself.
    pub claims: BTreeMap<String, String>,
    /// Where the issuer's keys (a JWK Set) are, when not found by discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://\S+$"))]
    pub jwks_url: Option<String>,
}

/// Read access to the feed.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.mode != 'Token' || size(self.tokens) > 0")
    .message("mode Token needs at least one entry in tokens"))]
pub struct ReadAccess {
    /// `Public`: anyone who reaches the feed may read. `Token`: reads need HTTP Basic
    /// authentication with one of the generated read tokens as the password.
    #[serde(default)]
    pub mode: ReadMode,
    /// Names of read tokens to generate (mode `Token`). Each is kept in the Secret named in
    /// `status.readTokenSecret` under its name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[schemars(
        length(max = 64),
        inner(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))
    )]
    pub tokens: Vec<String>,
}

/// Read access mode.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadMode {
    #[default]
    Public,
    Token,
}

/// What deleting a package version does.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeleteMode {
    #[default]
    Unlist,
    Delete,
}

/// The feed server's config file spells the same choice in snake_case (`unlist`, `delete`),
/// while Kubernetes APIs use PascalCase values, so the CRD keeps its own enum.
impl From<DeleteMode> for nuget_feed_config::DeleteMode {
    fn from(mode: DeleteMode) -> Self {
        match mode {
            DeleteMode::Unlist => nuget_feed_config::DeleteMode::Unlist,
            DeleteMode::Delete => nuget_feed_config::DeleteMode::Delete,
        }
    }
}

/// What happens to stored data when the feed is deleted.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeletionPolicy {
    #[default]
    Retain,
    Purge,
}

/// Pod placement.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Scheduling {
    /// Node labels a node must have to run the feed server.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Taints the feed server tolerates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Node and pod (anti-)affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
}

/// The feed's ServiceAccount.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountSpec {
    /// Annotations, e.g. `eks.amazonaws.com/role-arn` or `iam.gke.io/gcp-service-account`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A NetworkPolicy for the feed server pods.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// Create the NetworkPolicy. Default false.
    #[serde(default)]
    pub enabled: bool,
    /// Who may connect to the feed server's port, typically the ingress controller's namespace
    /// (`namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}`).
    /// Empty: pods in the feed's namespace only. Egress is not restricted (object storage,
    /// upstream sources).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_from: Vec<NetworkPolicyPeer>,
}

/// Observed state, written by the operator only when it changed.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NuGetFeedStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the feed serves requests), `Progressing` (a change is rolling out) and
    /// `Degraded` (the spec is invalid or the operator cannot apply it; see the message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The feed's service index, the URL to give NuGet clients as a package source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The feed's web page (`{public base}/`), where people browse, search and read its
    /// packages in a browser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_url: Option<String>,
    /// Secret in this namespace holding the API keys in plaintext, one entry per key name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret: Option<String>,
    /// Secret in this namespace holding the read tokens (read access mode `Token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_token_secret: Option<String>,
    /// Feed server pods that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
}

/// The CRD as YAML, exactly as committed in `crds/` and printed by `nuget-operator crd`.
pub fn crd_yaml() -> Result<String, serde_yaml_ng::Error> {
    serde_yaml_ng::to_string(&NuGetFeed::crd())
}

impl NuGetFeed {
    /// The condition of the given type, if the status has one.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
    }
}
