//! Platform-wide settings of one operator installation (flags or env of `nuget-operator run`
//! and `render`), and what the apiserver was found to support at start-up.

use crate::consts::DEFAULT_IMAGE_REPOSITORY;

/// Defaults a platform team sets once (the chart passes them as flags); a feed's spec overrides
/// each of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Feed server image when `spec.image` is not set.
    pub default_image: String,
    /// Ingress host when `spec.ingress.host` is not set; without either no Ingress is made.
    pub default_host: Option<String>,
    /// IngressClass when `spec.ingress.className` is not set.
    pub default_ingress_class: Option<String>,
    /// cert-manager ClusterIssuer when `spec.ingress.tls` is not set.
    pub default_tls_issuer: Option<String>,
    /// Whether the apiserver serves `policy/v1` PodDisruptionBudgets (Kubernetes >= 1.21).
    pub pdb_supported: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            default_image: default_image(),
            default_host: None,
            default_ingress_class: None,
            default_tls_issuer: None,
            pdb_supported: true,
        }
    }
}

/// `ghcr.io/nuget-operator/nuget-feed-server:<this crate's version>`: operator and feed server
/// are released together.
pub fn default_image() -> String {
    format!("{DEFAULT_IMAGE_REPOSITORY}:{}", env!("CARGO_PKG_VERSION"))
}
