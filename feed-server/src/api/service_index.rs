//! The service index (`GET {base}/index.json`): the list of resources a client discovers
//! everything else from, each an absolute URL under the feed base.
//!
//! The official client looks `@type`s up ordinally (case-sensitive) in hard-coded lists, and
//! several of the documented names are not in those lists: a feed that only advertises
//! `SearchQueryService/3.0.0-rc` has no search in Visual Studio. So every name either the docs
//! or the client use is advertised, each pointing at the same URL.

use serde_json::{Value, json};

use super::urls::{FeedUrls, Hive};

/// The service index document.
///
/// `vulnerabilities`: advertise `VulnerabilityInfo/6.7.0`. Only when the feed serves at least
/// one vulnerability page: the protocol says that with zero pages the resource must be absent.
pub fn render(urls: &FeedUrls, vulnerabilities: bool) -> Value {
    let mut resources = Vec::new();
    let mut add = |types: &[&str], id: String, comment: &str| {
        resources.extend(
            types
                .iter()
                .map(|t| json!({ "@id": id, "@type": t, "comment": comment })),
        );
    };

    // The official client finds search only under /Versioned, /3.4.0 or /3.0.0-beta; the bare
    // name, /3.0.0-rc and /3.5.0 (the packageType filter) are for other tools.
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
        "Query endpoint of the search service",
    );
    // The official client finds autocomplete only under /Versioned or /3.0.0-beta.
    add(
        &[
            "SearchAutocompleteService",
            "SearchAutocompleteService/3.0.0-beta",
            "SearchAutocompleteService/3.0.0-rc",
            "SearchAutocompleteService/3.5.0",
            "SearchAutocompleteService/Versioned",
        ],
        urls.autocomplete(),
        "Autocomplete endpoint of the search service: package ids, or the versions of one",
    );
    // Three hives, laid out as nuget.org's: plain and gzip without SemVer 2.0.0 packages, and
    // gzip with them.
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
        "Package content: version lists, .nupkg and .nuspec files",
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
        "URI template of a package's embedded readme",
    );
    add(
        &["PackageDetailsUriTemplate/5.1.0"],
        urls.package_details_template(),
        "URI template of a package version's web page",
    );
    // `nuget list` and the V2-only clients find the OData feed only here (issue 16).
    add(
        &["LegacyGallery", "LegacyGallery/2.0.0"],
        urls.v2(),
        "NuGet V2 (OData) feed: nuget list, Chocolatey, PowerShellGet, NuGet 2.x",
    );
    add(
        &["Catalog/3.0.0"],
        urls.catalog_index(),
        "Append-only log of package changes",
    );
    if vulnerabilities {
        add(
            &["VulnerabilityInfo/6.7.0"],
            urls.vulnerability_index(),
            "Known vulnerabilities of packages in this feed",
        );
    }

    // nuget.org marks the Versioned entry with clientVersion 4.3.0-alpha, so only clients
    // that understand SemVer2 pick it (a client takes the entries with the highest
    // clientVersion not above its own).
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

    /// The official client looks these exact strings up: without them it has no search,
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
        // The client skips relative @ids, and since NuGet 6.7 it sends credentials ahead
        // (PreAuthenticate) only to URLs under the directory of index.json.
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
        // Zero vulnerability pages: the protocol says the resource must not be advertised.
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
