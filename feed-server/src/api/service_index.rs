//! The service index (`GET {base}/index.json`, SI-1..SI-5): the list of resources a client
//! discovers everything else from.
//!
//! The official client looks `@type`s up ordinally in hard-coded lists (SI-3), and several of
//! the documented names are not in those lists (finding 1 in `nuget-protocol.md`: a feed that
//! only advertises `SearchQueryService/3.0.0-rc` has no search in Visual Studio). So every name
//! either the docs or the client use is advertised, each pointing at the same URL.

use serde_json::{Value, json};

use super::urls::{FeedUrls, Hive};

/// The service index document.
///
/// `vulnerabilities`: advertise `VulnerabilityInfo/6.7.0`. VUL-1: only when the feed serves at
/// least one vulnerability page; with zero pages the resource must be absent.
pub fn render(urls: &FeedUrls, vulnerabilities: bool) -> Value {
    let mut resources = Vec::new();
    let mut add = |types: &[&str], id: String, comment: &str| {
        resources.extend(
            types
                .iter()
                .map(|t| json!({ "@id": id, "@type": t, "comment": comment })),
        );
    };

    // SI-3 / finding 1: the client finds search only under /Versioned, /3.4.0 or /3.0.0-beta;
    // the bare name, /3.0.0-rc and /3.5.0 (packageType, SQ-5) are for other tools.
    add(
        &[
            "SearchQueryService",
            "SearchQueryService/3.0.0-beta",
            "SearchQueryService/3.0.0-rc",
            "SearchQueryService/3.4.0",
            "SearchQueryService/3.5.0",
            "SearchQueryService/Versioned",
        ],
        urls.search(),
        "Query endpoint of the search service (SQ-1)",
    );
    // The client finds autocomplete only under /Versioned or /3.0.0-beta (AC-4).
    add(
        &[
            "SearchAutocompleteService",
            "SearchAutocompleteService/3.0.0-beta",
            "SearchAutocompleteService/3.0.0-rc",
            "SearchAutocompleteService/3.5.0",
            "SearchAutocompleteService/Versioned",
        ],
        urls.autocomplete(),
        "Autocomplete endpoint of the search service (AC-1, AC-2)",
    );
    // REG-1 and nuget.org's layout (finding 8): three hives.
    add(
        &[
            "RegistrationsBaseUrl",
            "RegistrationsBaseUrl/3.0.0-beta",
            "RegistrationsBaseUrl/3.0.0-rc",
        ],
        urls.registration_base(Hive::SemVer1),
        "Package metadata; SemVer 2.0.0 packages are excluded",
    );
    add(
        &["RegistrationsBaseUrl/3.4.0"],
        urls.registration_base(Hive::SemVer1Gz),
        "Package metadata, gzip-compressed; SemVer 2.0.0 packages are excluded",
    );
    add(
        &["RegistrationsBaseUrl/3.6.0"],
        urls.registration_base(Hive::SemVer2Gz),
        "Package metadata, gzip-compressed; SemVer 2.0.0 packages are included",
    );
    add(
        &["PackageBaseAddress/3.0.0"],
        urls.flat_container(),
        "Package content: version lists, .nupkg and .nuspec files (PBA-1..PBA-4)",
    );
    add(
        &["PackagePublish/2.0.0"],
        urls.publish(),
        "Push, delete (unlist) and relist packages",
    );
    add(
        &["SymbolPackagePublish/4.9.0"],
        urls.symbol_publish(),
        "Push symbol packages (.snupkg)",
    );
    add(
        &["ReadmeUriTemplate/6.13.0", "ReadmeUriTemplate/Versioned"],
        urls.readme_template(),
        "URI template of a package's embedded readme (TPL-3)",
    );
    add(
        &["Catalog/3.0.0"],
        urls.catalog_index(),
        "Append-only log of package changes (CAT-1)",
    );
    if vulnerabilities {
        add(
            &["VulnerabilityInfo/6.7.0"],
            urls.vulnerability_index(),
            "Known vulnerabilities of packages in this feed (VUL-1)",
        );
    }

    // nuget.org marks the Versioned entry with clientVersion 4.3.0-alpha, so only clients
    // that understand SemVer2 pick it (SI-3).
    resources.push(json!({
        "@id": urls.registration_base(Hive::SemVer2Gz),
        "@type": "RegistrationsBaseUrl/Versioned",
        "clientVersion": "4.3.0-alpha",
        "comment": "Package metadata, gzip-compressed; SemVer 2.0.0 packages are included",
    }));

    json!({ "version": "3.0.0", "resources": resources })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://localhost:5000/team-a/main";

    fn types(index: &Value) -> Vec<&str> {
        index["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["@type"].as_str().unwrap())
            .collect()
    }

    /// Finding 1 / SI-3: without these exact strings the official client has no search,
    /// autocomplete, metadata, restore, push or readme.
    #[test]
    fn advertises_every_type_the_official_client_looks_up() {
        let index = render(&FeedUrls::new(BASE), true);
        let types = types(&index);
        for wanted in [
            "SearchQueryService/Versioned",
            "SearchQueryService/3.4.0",
            "SearchQueryService/3.0.0-beta",
            "SearchAutocompleteService/Versioned",
            "SearchAutocompleteService/3.0.0-beta",
            "RegistrationsBaseUrl/Versioned",
            "RegistrationsBaseUrl/3.6.0",
            "RegistrationsBaseUrl/3.4.0",
            "RegistrationsBaseUrl/3.0.0-rc",
            "RegistrationsBaseUrl/3.0.0-beta",
            "RegistrationsBaseUrl",
            "PackageBaseAddress/3.0.0",
            "PackagePublish/2.0.0",
            "SymbolPackagePublish/4.9.0",
            "ReadmeUriTemplate/6.13.0",
            "VulnerabilityInfo/6.7.0",
        ] {
            assert!(types.contains(&wanted), "{wanted} missing");
        }
    }

    #[test]
    fn every_id_is_absolute_and_under_the_feed_directory() {
        // SI-2: relative @ids are skipped by the client; SI-5: PreAuthenticate.
        let index = render(&FeedUrls::new(BASE), true);
        assert_eq!(index["version"], "3.0.0");
        for r in index["resources"].as_array().unwrap() {
            let id = r["@id"].as_str().unwrap();
            assert!(id.starts_with(&format!("{BASE}/")), "{id}");
            assert!(r["comment"].is_string());
        }
    }

    #[test]
    fn vulnerability_info_only_when_pages_exist() {
        // VUL-1: zero pages means the resource must not be advertised.
        let index = render(&FeedUrls::new(BASE), false);
        assert!(!types(&index).contains(&"VulnerabilityInfo/6.7.0"));
    }

    #[test]
    fn semver2_hive_is_the_versioned_one() {
        let index = render(&FeedUrls::new(BASE), true);
        let versioned = index["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["@type"] == "RegistrationsBaseUrl/Versioned")
            .unwrap();
        assert_eq!(versioned["clientVersion"], "4.3.0-alpha");
        assert_eq!(versioned["@id"], format!("{BASE}/registration-gz-semver2/"));
    }

    #[test]
    fn snapshot() {
        insta::assert_json_snapshot!("service_index", render(&FeedUrls::new(BASE), true));
    }
}
