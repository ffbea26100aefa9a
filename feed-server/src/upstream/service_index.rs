//! What this server uses of an upstream's V3 service index: its PackageBaseAddress, its
//! RegistrationsBaseUrl hives, its SearchQueryService and its VulnerabilityInfo, read from the
//! `resources` array
//! (the index itself is cached like any metadata document).

use crate::api::urls::Hive;

/// The upstream's resources, every URL ending with `/` where it is a base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `PackageBaseAddress/3.0.0`: the flat container.
    pub package_base: String,
    /// `RegistrationsBaseUrl` (and `/3.0.0-rc`, `/3.0.0-beta`): identity, SemVer1.
    pub registration: Option<String>,
    /// `RegistrationsBaseUrl/3.4.0`: gzip, SemVer1.
    pub registration_gz: Option<String>,
    /// `RegistrationsBaseUrl/3.6.0` (and `/Versioned`): gzip, SemVer2.
    pub registration_semver2: Option<String>,
    /// `SearchQueryService` (any version).
    pub search: Option<String>,
    /// `SearchAutocompleteService` (any version).
    pub autocomplete: Option<String>,
    /// `VulnerabilityInfo/6.7.0`: the index of its vulnerability pages (VUL-1).
    pub vulnerability_info: Option<String>,
}

impl Endpoints {
    /// Reads the resources of a service index; `Err` says what is missing or malformed.
    pub fn parse(index: &[u8]) -> Result<Endpoints, String> {
        let doc: serde_json::Value = serde_json::from_slice(index)
            .map_err(|e| format!("its service index is not JSON: {e}"))?;
        let resources = doc
            .get("resources")
            .and_then(|r| r.as_array())
            .ok_or("its service index has no resources array")?;
        let find = |types: &[&str]| {
            types.iter().find_map(|wanted| {
                resources.iter().find_map(|r| {
                    let types = r.get("@type")?;
                    let matches = match types {
                        serde_json::Value::String(t) => t == wanted,
                        serde_json::Value::Array(ts) => ts.iter().any(|t| t == wanted),
                        _ => false,
                    };
                    let id = r.get("@id")?.as_str()?;
                    matches.then(|| id.to_owned())
                })
            })
        };
        let base = |url: String| {
            if url.ends_with('/') {
                url
            } else {
                format!("{url}/")
            }
        };
        let package_base = find(&["PackageBaseAddress/3.0.0"])
            .map(base)
            .ok_or("its service index has no PackageBaseAddress/3.0.0")?;
        Ok(Endpoints {
            package_base,
            registration: find(&[
                "RegistrationsBaseUrl",
                "RegistrationsBaseUrl/3.0.0-rc",
                "RegistrationsBaseUrl/3.0.0-beta",
            ])
            .map(base),
            registration_gz: find(&["RegistrationsBaseUrl/3.4.0"]).map(base),
            registration_semver2: find(&[
                "RegistrationsBaseUrl/3.6.0",
                "RegistrationsBaseUrl/Versioned",
            ])
            .map(base),
            search: find(&[
                "SearchQueryService/3.5.0",
                "SearchQueryService/3.0.0-rc",
                "SearchQueryService/3.0.0-beta",
                "SearchQueryService",
            ]),
            autocomplete: find(&[
                "SearchAutocompleteService/3.5.0",
                "SearchAutocompleteService/3.0.0-rc",
                "SearchAutocompleteService/3.0.0-beta",
                "SearchAutocompleteService",
            ]),
            vulnerability_info: find(&["VulnerabilityInfo/6.7.0"]),
        })
    }

    /// The upstream hive that serves our `hive`: the same kind when it has one, else the
    /// nearest (a SemVer1 hive of ours prefers the upstream's SemVer1 hives, SemVer2 the
    /// SemVer2 one); `None` when it has no registration at all.
    pub fn registration_for(&self, hive: Hive) -> Option<&str> {
        let order = match hive {
            Hive::SemVer1 => [
                &self.registration,
                &self.registration_gz,
                &self.registration_semver2,
            ],
            Hive::SemVer1Gz => [
                &self.registration_gz,
                &self.registration,
                &self.registration_semver2,
            ],
            Hive::SemVer2Gz => [
                &self.registration_semver2,
                &self.registration_gz,
                &self.registration,
            ],
        };
        order.into_iter().find_map(|u| u.as_deref())
    }

    /// Every registration base the upstream has (to rewrite any of them to ours).
    pub fn registration_bases(&self) -> impl Iterator<Item = &str> {
        [
            &self.registration,
            &self.registration_gz,
            &self.registration_semver2,
        ]
        .into_iter()
        .filter_map(|u| u.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nuget_orgs_shape_is_read_and_hives_prefer_their_kind() {
        let index = br#"{"version":"3.0.0","resources":[
            {"@id":"https://api.nuget.org/v3-flatcontainer/","@type":"PackageBaseAddress/3.0.0"},
            {"@id":"https://api.nuget.org/v3/registration5-semver1/","@type":"RegistrationsBaseUrl"},
            {"@id":"https://api.nuget.org/v3/registration5-gz-semver1/","@type":"RegistrationsBaseUrl/3.4.0"},
            {"@id":"https://api.nuget.org/v3/registration5-gz-semver2/","@type":"RegistrationsBaseUrl/3.6.0"},
            {"@id":"https://azuresearch-usnc.nuget.org/query","@type":"SearchQueryService/3.5.0"},
            {"@id":"https://api.nuget.org/v3/vulnerabilities/index.json","@type":"VulnerabilityInfo/6.7.0"}]}"#;
        let e = Endpoints::parse(index).unwrap();
        assert_eq!(e.package_base, "https://api.nuget.org/v3-flatcontainer/");
        assert_eq!(
            e.registration_for(Hive::SemVer2Gz),
            Some("https://api.nuget.org/v3/registration5-gz-semver2/")
        );
        assert_eq!(
            e.registration_for(Hive::SemVer1),
            Some("https://api.nuget.org/v3/registration5-semver1/")
        );
        assert_eq!(e.registration_bases().count(), 3);
        assert_eq!(
            e.search.as_deref(),
            Some("https://azuresearch-usnc.nuget.org/query")
        );
        assert_eq!(
            e.vulnerability_info.as_deref(),
            Some("https://api.nuget.org/v3/vulnerabilities/index.json")
        );
    }

    #[test]
    fn a_static_feed_with_one_hive_serves_every_hive_and_bases_get_a_slash() {
        let index = br#"{"resources":[
            {"@id":"http://static/flat","@type":["PackageBaseAddress/3.0.0"]},
            {"@id":"http://static/reg","@type":"RegistrationsBaseUrl/3.6.0"}]}"#;
        let e = Endpoints::parse(index).unwrap();
        assert_eq!(e.package_base, "http://static/flat/");
        assert_eq!(e.vulnerability_info, None);
        for hive in Hive::ALL {
            assert_eq!(e.registration_for(hive), Some("http://static/reg/"));
        }
        let err = Endpoints::parse(br#"{"resources":[]}"#).unwrap_err();
        assert!(err.contains("PackageBaseAddress"), "{err}");
        assert!(Endpoints::parse(b"<html>").is_err());
    }
}
