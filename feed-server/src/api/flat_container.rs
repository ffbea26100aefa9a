//! The PackageBaseAddress version list (`GET {base}/flatcontainer/{lower_id}/index.json`,
//! PBA-1, PBA-2). Serving the blobs themselves (.nupkg, .nuspec, icon, readme, license) is the
//! http layer's job; their URLs are in [`super::urls`].

use serde_json::{Value, json};

use crate::feed::record::{PackageRecord, VersionFilter};

/// `{"versions": [...]}`, or `None` when the id has no versions (PBA-2: answer 404, which the
/// client reads as "no versions").
///
/// PBA-1: every version including unlisted ones (restores of pinned versions must keep
/// working), lower-cased and normalized without build metadata (N-2, N-7: the client builds
/// download URLs from these strings verbatim), ascending as nuget.org does.
pub fn render_versions(record: &PackageRecord) -> Option<Value> {
    let versions: Vec<String> = record
        .visible(VersionFilter::ALL)
        .map(|v| v.version().lower_normalized())
        .collect();
    if versions.is_empty() {
        return None;
    }
    Some(json!({ "versions": versions }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_support::{record, version};

    #[test]
    fn lists_every_version_lower_case_ascending_without_metadata() {
        // PBA-1, N-2, N-8: "1.0.0-RC.1+sha" is listed as "1.0.0-rc.1"; unlisted stays.
        let mut r = record(&[
            version("Contoso.Lib", "2.0.0"),
            version("Contoso.Lib", "1.0.0-RC.1+sha.1"),
            version("Contoso.Lib", "1.0.0"),
            version("Contoso.Lib", "1.0.1.0"),
        ]);
        crate::api::test_support::unlist(&mut r, "1.0.0");
        assert_eq!(
            render_versions(&r.record).unwrap(),
            json!({ "versions": ["1.0.0-rc.1", "1.0.0", "1.0.1", "2.0.0"] })
        );
    }

    #[test]
    fn no_versions_is_not_found() {
        // PBA-2
        assert_eq!(render_versions(&PackageRecord::default()), None);
    }
}
