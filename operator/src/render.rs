//! `nuget-operator render -f feed.yaml`: every child manifest of one or more NuGetFeeds,
//! built without a cluster by the same `validate` and `build` the controller uses.
//!
//! Referenced Secrets cannot be checked offline, and API keys and read tokens are generated
//! afresh on every run (the plaintext Secret is printed so the output is complete; keep it out
//! of version control, or let the operator generate keys in the cluster). Feeds that were never
//! created have no uid, so the output has no owner references.

use serde::Deserialize;

use crate::crd::NuGetFeed;
use crate::keys::SecretGenerator;
use crate::reconcile::{build, dereference, validate};
use crate::settings::Settings;

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not YAML of NuGetFeed objects.
    #[error("not a NuGetFeed manifest: {0}")]
    Parse(#[from] serde_yaml_ng::Error),
    /// A document is not of kind NuGetFeed.
    #[error("document {0} is a {1}, not a NuGetFeed")]
    WrongKind(usize, String),
    /// The feed is invalid.
    #[error("NuGetFeed {name}: {source}")]
    Invalid {
        name: String,
        #[source]
        source: validate::Error,
    },
    /// Building failed.
    #[error(transparent)]
    Build(#[from] build::Error),
}

/// Renders every NuGetFeed in `yaml` (one or more documents).
pub fn render(
    yaml: &str,
    settings: &Settings,
    generate: SecretGenerator<'_>,
) -> Result<String, Error> {
    let mut out = String::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(yaml).enumerate() {
        let value = serde_json::Value::deserialize(doc)?;
        if value.is_null() {
            continue;
        }
        let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        if kind != "NuGetFeed" {
            return Err(Error::WrongKind(i + 1, kind.to_owned()));
        }
        let mut feed: NuGetFeed =
            serde_json::from_value(value).map_err(|e| Error::Parse(serde::de::Error::custom(e)))?;
        if feed.metadata.namespace.is_none() {
            feed.metadata.namespace = Some("default".to_owned());
        }
        let deref = dereference::offline(&feed);
        let validated =
            validate::validate(&feed, &deref, settings, generate).map_err(|source| {
                Error::Invalid {
                    name: feed.metadata.name.clone().unwrap_or_default(),
                    source,
                }
            })?;
        out.push_str(&build::build(&validated)?.to_yaml()?);
    }
    Ok(out)
}
