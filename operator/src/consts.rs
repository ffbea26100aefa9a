//! Every Kubernetes string the operator writes or matches on, in one place: the field manager,
//! label and annotation keys, condition types and reasons, event reasons, file paths inside the
//! feed server's pod, and the defaults the CRD documents.

/// Field manager of every server-side apply the operator makes (one manager, always forced).
pub const FIELD_MANAGER: &str = "nuget-operator";
/// `app.kubernetes.io/managed-by` value on every child; orphan pruning and the label-selected
/// watches key on it.
pub const MANAGED_BY: &str = "nuget-operator";
/// `app.kubernetes.io/name` value of every child.
pub const APP_NAME: &str = "nuget-feed";

pub const LABEL_NAME: &str = "app.kubernetes.io/name";
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_COMPONENT: &str = "app.kubernetes.io/component";
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";

/// `app.kubernetes.io/component` of the feed server's workload objects.
pub const COMPONENT_SERVER: &str = "feed-server";
/// `app.kubernetes.io/component` of the Secret holding generated API keys in plaintext. It is
/// created once and only ever gains or loses whole entries (never server-side applied).
pub const COMPONENT_API_KEYS: &str = "api-keys";
/// `app.kubernetes.io/component` of the Secret holding generated read tokens in plaintext.
pub const COMPONENT_READ_TOKENS: &str = "read-tokens";

/// Pod-template annotation: hash of the config file, the hashed key files and the referenced
/// credentials, so any change rolls the pods.
pub const ANNOTATION_CONFIG_HASH: &str = "nuget-operator.io/config-hash";
/// Annotation on every applied child: hash of the manifest the operator applied. A change of
/// the desired manifest changes it, so fields the operator stopped setting are removed by the
/// next apply even when the live object still looks like a superset.
pub const ANNOTATION_APPLIED_HASH: &str = "nuget-operator.io/applied-hash";

/// Condition types on `NuGetFeed.status.conditions`.
pub const CONDITION_READY: &str = "Ready";
pub const CONDITION_PROGRESSING: &str = "Progressing";
pub const CONDITION_DEGRADED: &str = "Degraded";

/// Condition reasons (PascalCase, as `metav1.Condition` requires).
pub const REASON_AVAILABLE: &str = "Available";
pub const REASON_DEPLOYMENT_NOT_READY: &str = "DeploymentNotReady";
pub const REASON_ROLLING_OUT: &str = "RollingOut";
pub const REASON_RECONCILED: &str = "Reconciled";
pub const REASON_INVALID_SPEC: &str = "InvalidSpec";
pub const REASON_MISSING_REFERENCE: &str = "MissingReference";
pub const REASON_PATH_CLASH: &str = "PathPrefixClash";
pub const REASON_STORAGE_CLASH: &str = "StorageLocationClash";
pub const REASON_APPLY_FAILED: &str = "ApplyFailed";
pub const REASON_READ_FAILED: &str = "ReadFailed";
pub const REASON_BUILD_FAILED: &str = "BuildFailed";
pub const REASON_STATUS_FAILED: &str = "StatusFailed";
pub const REASON_FINALIZER_FAILED: &str = "FinalizerFailed";
pub const REASON_PURGE_FAILED: &str = "PurgeFailed";
pub const REASON_PURGE_REFUSED: &str = "PurgeRefused";
pub const REASON_AS_EXPECTED: &str = "AsExpected";

/// Event reasons.
pub const EVENT_PROVISIONED: &str = "Provisioned";
pub const EVENT_API_KEY_CREATED: &str = "ApiKeyCreated";
pub const EVENT_READ_TOKEN_CREATED: &str = "ReadTokenCreated";
pub const EVENT_CHILD_PRUNED: &str = "ChildPruned";
pub const EVENT_DATA_PURGED: &str = "DataPurged";

/// Finalizer added only when `spec.deletionPolicy: Purge` asks the operator to delete the
/// feed's stored data when the feed is deleted.
pub const FINALIZER_PURGE: &str = "nuget-operator.io/purge-data";

/// The feed server listens here; `/healthz`, `/readyz` and `/metrics` are at the root.
pub const SERVER_PORT: i32 = 5000;
pub const SERVER_PORT_NAME: &str = "http";
/// The Service's port (plain HTTP inside the cluster; TLS ends at the Ingress).
pub const SERVICE_PORT: i32 = 80;
pub const LIVENESS_PATH: &str = "/healthz";
pub const READINESS_PATH: &str = "/readyz";

/// Paths inside the feed server's container.
pub const CONFIG_DIR: &str = "/etc/nuget-feed/config";
pub const CONFIG_FILE_KEY: &str = "config.yaml";
/// The cluster's ServiceAccount token keys (a JWK Set) in the feed's ConfigMap, for
/// `kubernetes` trusted publishers; the feed server re-reads it when the kubelet updates it.
pub const CLUSTER_JWKS_FILE_KEY: &str = "cluster-jwks.json";
pub const AUTH_DIR: &str = "/etc/nuget-feed/auth";
pub const API_KEYS_FILE_KEY: &str = "api-keys.yaml";
pub const READ_TOKENS_FILE_KEY: &str = "read-tokens.txt";
pub const GCS_CREDENTIALS_DIR: &str = "/var/run/secrets/nuget-feed/gcs";
/// Upstream credentials, one file per upstream (named after it) projected from the tenant's
/// Secrets.
pub const UPSTREAM_CREDENTIALS_DIR: &str = "/var/run/secrets/nuget-feed/upstreams";
pub const DATA_DIR: &str = "/data";
pub const TMP_DIR: &str = "/tmp";
/// The feed server reads its config path from this variable (its `--config` flag's env).
pub const ENV_CONFIG: &str = "NUGET_FEED_CONFIG";

/// Default keys in a credentials Secret, named as the storage backends' own environment
/// variables so a Secret made for the AWS/Azure CLIs works as is.
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
pub const AZURE_STORAGE_ACCOUNT_KEY: &str = "AZURE_STORAGE_ACCOUNT_KEY";
pub const AZURE_STORAGE_ACCOUNT_NAME: &str = "AZURE_STORAGE_ACCOUNT_NAME";
pub const GOOGLE_SERVICE_ACCOUNT_PATH: &str = "GOOGLE_SERVICE_ACCOUNT_PATH";
/// Key of the service-account JSON in a GCS credentials Secret.
pub const GCS_CREDENTIALS_KEY: &str = "service-account.json";

/// Registry and name of the default feed server image; the tag is the operator's version.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "ghcr.io/nuget-operator/nuget-feed-server";
/// The user the feed server runs as (distroless `nonroot`).
pub const RUN_AS_USER: i64 = 65532;

/// cert-manager's ingress-shim annotations.
pub const CERT_MANAGER_ISSUER: &str = "cert-manager.io/issuer";
pub const CERT_MANAGER_CLUSTER_ISSUER: &str = "cert-manager.io/cluster-issuer";

/// Generated keys and tokens: 32 random bytes, hex encoded (64 characters).
pub const GENERATED_SECRET_BYTES: usize = 32;
