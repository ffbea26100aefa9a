//! Every public URL of a feed, in one place (the URL layout is this one file).
//!
//! All resources live under the directory of `index.json` so that NuGet >= 6.7 pre-authenticates
//! every request (SI-5, PreAuthenticate). Ids and versions in URLs are lower-cased, and versions
//! normalized without build metadata (N-1, N-2, N-7). The http router matches the same layout;
//! building the base URL from config or request headers is left to it.

use crate::feed::record::VersionFilter;
use crate::package::{NuGetVersion, PackageId};

/// The absolute URLs of one feed, built from its public base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedUrls {
    /// Absolute, without a trailing slash: `http://localhost:5000/team-a/main`.
    base: String,
}

/// A registration hive: one set of registration documents for one class of client (REG-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hive {
    /// `RegistrationsBaseUrl`, `/3.0.0-beta`, `/3.0.0-rc`: identity encoding, no SemVer2.
    SemVer1,
    /// `RegistrationsBaseUrl/3.4.0`: gzip, no SemVer2.
    SemVer1Gz,
    /// `RegistrationsBaseUrl/3.6.0` and `/Versioned`: gzip, SemVer2 included.
    SemVer2Gz,
}

impl Hive {
    pub const ALL: [Hive; 3] = [Hive::SemVer1, Hive::SemVer1Gz, Hive::SemVer2Gz];

    /// The URL path segment below the feed base.
    pub fn segment(self) -> &'static str {
        match self {
            Hive::SemVer1 => "registration",
            Hive::SemVer1Gz => "registration-gz",
            Hive::SemVer2Gz => "registration-gz-semver2",
        }
    }

    /// The hive that search results link to: one that shows the versions they list (REG-1).
    pub fn for_listing(semver2: bool) -> Hive {
        if semver2 {
            Hive::SemVer2Gz
        } else {
            Hive::SemVer1
        }
    }

    /// The hive a path segment names (`None` for anything else).
    pub fn parse(segment: &str) -> Option<Hive> {
        Hive::ALL.into_iter().find(|h| h.segment() == segment)
    }

    /// Which versions the hive shows: SemVer1 hives hide SemVer2 versions (REG-1, N-4); every
    /// hive shows prereleases and unlisted versions (REG-14).
    pub fn filter(self) -> VersionFilter {
        VersionFilter {
            semver2: self == Hive::SemVer2Gz,
            prerelease: true,
            unlisted: true,
        }
    }

    /// Whether responses must be sent with `Content-Encoding: gzip` (REG-1: the 3.4.0 and 3.6.0
    /// hives are documented as gzipped; the client decompresses any response).
    pub fn gzip(self) -> bool {
        self != Hive::SemVer1
    }
}

impl FeedUrls {
    /// `base` is the feed's absolute public URL, e.g. `http://localhost:5000/team-a/main`; a
    /// trailing slash is tolerated and dropped.
    pub fn new(base: &str) -> FeedUrls {
        FeedUrls {
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// The base URL without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `{base}/index.json`
    pub fn service_index(&self) -> String {
        format!("{}/index.json", self.base)
    }

    /// `{base}/flatcontainer/`: the PackageBaseAddress `@id` (PBA-5: with the trailing slash).
    pub fn flat_container(&self) -> String {
        format!("{}/flatcontainer/", self.base)
    }

    /// `{base}/flatcontainer/{lower_id}/index.json` (PBA-1).
    pub fn flat_versions(&self, id: &PackageId) -> String {
        format!("{}{}/index.json", self.flat_container(), id.lower())
    }

    /// `{base}/flatcontainer/{lower_id}/{lower_version}/`: the folder of one version's blobs.
    fn flat_version_dir(&self, id: &PackageId, version: &NuGetVersion) -> String {
        format!(
            "{}{}/{}/",
            self.flat_container(),
            id.lower(),
            version.lower_normalized()
        )
    }

    /// `.../{lower_id}/{lower_version}/{lower_id}.{lower_version}.nupkg` (PBA-3).
    pub fn nupkg(&self, id: &PackageId, version: &NuGetVersion) -> String {
        format!(
            "{}{}.{}.nupkg",
            self.flat_version_dir(id, version),
            id.lower(),
            version.lower_normalized()
        )
    }

    /// `.../{lower_id}/{lower_version}/{lower_id}.nuspec` (PBA-4).
    pub fn nuspec(&self, id: &PackageId, version: &NuGetVersion) -> String {
        format!(
            "{}{}.nuspec",
            self.flat_version_dir(id, version),
            id.lower()
        )
    }

    /// `.../{lower_id}/{lower_version}/icon`: the embedded icon (REG-15).
    pub fn icon(&self, id: &PackageId, version: &NuGetVersion) -> String {
        format!("{}icon", self.flat_version_dir(id, version))
    }

    /// `.../{lower_id}/{lower_version}/readme`: the embedded readme (PBA-6, TPL-3).
    pub fn readme(&self, id: &PackageId, version: &NuGetVersion) -> String {
        format!("{}readme", self.flat_version_dir(id, version))
    }

    /// `.../{lower_id}/{lower_version}/license`: the embedded license file (REG-15).
    pub fn license(&self, id: &PackageId, version: &NuGetVersion) -> String {
        format!("{}license", self.flat_version_dir(id, version))
    }

    /// The `ReadmeUriTemplate/6.13.0` template (TPL-3): the client fills in `{lower_id}` and
    /// `{lower_version}`, giving exactly [`FeedUrls::readme`].
    pub fn readme_template(&self) -> String {
        format!(
            "{}{{lower_id}}/{{lower_version}}/readme",
            self.flat_container()
        )
    }

    /// The `PackageDetailsUriTemplate/5.1.0` template: the web page of a version
    /// (`{base}/packages/{id}/{version}`), which Visual Studio links as "View package details".
    pub fn package_details_template(&self) -> String {
        format!("{}/packages/{{id}}/{{version}}", self.base)
    }

    /// The path of the base URL (`/team-a/main`, empty at the root): what the web pages' own
    /// links start with, so that they stay on whatever host the browser used.
    pub fn path(&self) -> &str {
        self.base
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("")
    }

    /// `{base}/{hive}/`: the `RegistrationsBaseUrl` `@id` of a hive.
    pub fn registration_base(&self, hive: Hive) -> String {
        format!("{}/{}/", self.base, hive.segment())
    }

    /// `{base}/{hive}/{lower_id}/index.json` (REG-2).
    pub fn registration_index(&self, hive: Hive, id: &PackageId) -> String {
        format!("{}{}/index.json", self.registration_base(hive), id.lower())
    }

    /// `{base}/{hive}/{lower_id}/page/{lower}/{upper}.json` (REG-5, REG-6); `lower` and `upper`
    /// are normalized versions, lower-cased here like every version in a URL.
    pub fn registration_page(
        &self,
        hive: Hive,
        id: &PackageId,
        lower: &str,
        upper: &str,
    ) -> String {
        format!(
            "{}{}/page/{}/{}.json",
            self.registration_base(hive),
            id.lower(),
            lower.to_ascii_lowercase(),
            upper.to_ascii_lowercase()
        )
    }

    /// `{base}/{hive}/{lower_id}/{lower_version}.json`: where the client's
    /// `RegistrationResourceV3.GetUri` expects a leaf (REG-13).
    pub fn registration_leaf(&self, hive: Hive, id: &PackageId, version: &NuGetVersion) -> String {
        format!(
            "{}{}.json",
            self.registration_leaf_base(hive, id),
            version.lower_normalized()
        )
    }

    /// `{hive}/{lower_id}/`: what every leaf URL of the id starts with (followed by
    /// `{lower_version}.json`), for views that list many leaves.
    pub fn registration_leaf_base(&self, hive: Hive, id: &PackageId) -> String {
        format!("{}{}/", self.registration_base(hive), id.lower())
    }

    /// `{base}/query`: SearchQueryService.
    pub fn search(&self) -> String {
        format!("{}/query", self.base)
    }

    /// `{base}/autocomplete`: SearchAutocompleteService.
    pub fn autocomplete(&self) -> String {
        format!("{}/autocomplete", self.base)
    }

    /// `{base}/package`: PackagePublish (PUB-3: never an empty path).
    pub fn publish(&self) -> String {
        format!("{}/package", self.base)
    }

    /// `{base}/api/v2`: the V2 (OData) feed, `LegacyGallery` in the service index.
    pub fn v2(&self) -> String {
        format!("{}/api/v2", self.base)
    }

    /// `{base}/api/v2/`: the base V2 documents resolve their relative links against.
    pub fn v2_base(&self) -> String {
        format!("{}/api/v2/", self.base)
    }

    /// `{base}/api/v2/package/{id}/{version}`: a version's download in V2 (`content src`).
    pub fn v2_package(&self, id: &PackageId, version: &NuGetVersion) -> String {
        format!(
            "{}/api/v2/package/{}/{}",
            self.base,
            id.as_str(),
            version.to_normalized()
        )
    }

    /// `{base}/symbolpackage`: SymbolPackagePublish (SYM-1).
    pub fn symbol_publish(&self) -> String {
        format!("{}/symbolpackage", self.base)
    }

    /// `{base}/token`: the token service (`TokenService/1.0.0`), where a trusted publisher's
    /// OIDC token is exchanged for a temporary API key.
    pub fn token_service(&self) -> String {
        format!("{}/token", self.base)
    }

    /// `{base}/symbols/`: the symbol server, `{file}/{key}/{file}` below it (SYM-4).
    pub fn symbols(&self) -> String {
        format!("{}/symbols/", self.base)
    }

    /// `{base}/catalog/index.json` (CAT-1).
    pub fn catalog_index(&self) -> String {
        format!("{}/catalog/index.json", self.base)
    }

    /// `{base}/catalog/page{n}.json` (CAT-2), numbered from 0.
    pub fn catalog_page(&self, n: usize) -> String {
        format!("{}/catalog/page{n}.json", self.base)
    }

    /// `{base}/catalog/data/{seq}/{lower_id}.{lower_version}.json` (CAT-3): the leaf of event
    /// `seq`.
    pub fn catalog_leaf(&self, seq: u64, id: &PackageId, version: &NuGetVersion) -> String {
        format!(
            "{}/catalog/data/{seq}/{}.{}.json",
            self.base,
            id.lower(),
            version.lower_normalized()
        )
    }

    /// `{base}/vulnerabilities/index.json` (VUL-1).
    pub fn vulnerability_index(&self) -> String {
        format!("{}/vulnerabilities/index.json", self.base)
    }

    /// `{base}/vulnerabilities/{name}.json` (VUL-1).
    pub fn vulnerability_page(&self, name: &str) -> String {
        format!("{}/vulnerabilities/{name}.json", self.base)
    }

    /// `{base}/vulnerabilities/upstream/{upstream}/{page}.json`: a page mirrored from an
    /// upstream source.
    pub fn upstream_vulnerability_page(&self, upstream: &str, page: &str) -> String {
        format!(
            "{}/vulnerabilities/upstream/{upstream}/{page}.json",
            self.base
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> FeedUrls {
        FeedUrls::new("http://localhost:5000/team-a/main/")
    }

    #[test]
    fn every_url_is_absolute_and_under_the_feed_directory() {
        // SI-5: PreAuthenticate only covers the directory of index.json and below.
        let u = urls();
        let id = PackageId::parse("Contoso.Lib").unwrap();
        let v = NuGetVersion::parse("1.02.0-RC.1+Sha.5").unwrap();
        let all = [
            u.service_index(),
            u.flat_container(),
            u.flat_versions(&id),
            u.nupkg(&id, &v),
            u.nuspec(&id, &v),
            u.icon(&id, &v),
            u.readme(&id, &v),
            u.license(&id, &v),
            u.readme_template(),
            u.registration_base(Hive::SemVer1),
            u.registration_index(Hive::SemVer1Gz, &id),
            u.registration_page(Hive::SemVer2Gz, &id, "1.0.0", "2.0.0-Beta"),
            u.registration_leaf(Hive::SemVer2Gz, &id, &v),
            u.search(),
            u.autocomplete(),
            u.publish(),
            u.symbol_publish(),
            u.symbols(),
            u.catalog_index(),
            u.catalog_page(3),
            u.catalog_leaf(42, &id, &v),
            u.vulnerability_index(),
            u.vulnerability_page("base"),
        ];
        for url in all {
            assert!(
                url.starts_with("http://localhost:5000/team-a/main/"),
                "{url}"
            );
            assert!(!url.contains("//team") && !url[7..].contains("//"), "{url}");
        }
    }

    #[test]
    fn package_urls_are_lower_case_and_metadata_free() {
        // N-2, N-7, N-8: the client builds these from index.json strings verbatim.
        let u = urls();
        let id = PackageId::parse("Contoso.Lib").unwrap();
        let v = NuGetVersion::parse("1.02.0-RC.1+Sha.5").unwrap();
        assert_eq!(
            u.nupkg(&id, &v),
            "http://localhost:5000/team-a/main/flatcontainer/contoso.lib/1.2.0-rc.1/contoso.lib.1.2.0-rc.1.nupkg"
        );
        assert_eq!(
            u.nuspec(&id, &v),
            "http://localhost:5000/team-a/main/flatcontainer/contoso.lib/1.2.0-rc.1/contoso.lib.nuspec"
        );
        assert_eq!(
            u.registration_leaf(Hive::SemVer2Gz, &id, &v),
            "http://localhost:5000/team-a/main/registration-gz-semver2/contoso.lib/1.2.0-rc.1.json"
        );
        assert_eq!(
            u.registration_page(Hive::SemVer1, &id, "1.0.0", "2.0.0-Beta"),
            "http://localhost:5000/team-a/main/registration/contoso.lib/page/1.0.0/2.0.0-beta.json"
        );
        assert_eq!(
            u.catalog_leaf(42, &id, &v),
            "http://localhost:5000/team-a/main/catalog/data/42/contoso.lib.1.2.0-rc.1.json"
        );
    }

    #[test]
    fn readme_template_expands_to_the_readme_url() {
        // TPL-3: the client substitutes {lower_id} and {lower_version}.
        let u = urls();
        let id = PackageId::parse("Contoso.Lib").unwrap();
        let v = NuGetVersion::parse("1.0.0-Beta").unwrap();
        let expanded = u
            .readme_template()
            .replace("{lower_id}", &id.lower())
            .replace("{lower_version}", &v.lower_normalized());
        assert_eq!(expanded, u.readme(&id, &v));
    }

    #[test]
    fn hives_round_trip_and_filter() {
        for hive in Hive::ALL {
            assert_eq!(Hive::parse(hive.segment()), Some(hive));
            // REG-14: every hive shows unlisted versions.
            assert!(hive.filter().unlisted && hive.filter().prerelease);
        }
        assert_eq!(Hive::parse("registration5"), None);
        // REG-1: only the 3.6.0 hive shows SemVer2; only the bare hive is uncompressed.
        assert!(!Hive::SemVer1.filter().semver2 && !Hive::SemVer1Gz.filter().semver2);
        assert!(Hive::SemVer2Gz.filter().semver2);
        assert!(!Hive::SemVer1.gzip() && Hive::SemVer1Gz.gzip() && Hive::SemVer2Gz.gzip());
    }
}
