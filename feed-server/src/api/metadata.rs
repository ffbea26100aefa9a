//! Package metadata fields that several views render the same way: hosted URLs of embedded
//! files (REG-15), license expressions, dependency groups (REG-9), package types and
//! deprecation (REG-10).
//!
//! Registration `catalogEntry`, catalog leaves and search results take these from here so an
//! icon URL or a dependency range can never differ between them.

use serde_json::{Map, Value, json};

use super::urls::{FeedUrls, Hive};
use crate::feed::deprecation::Deprecation;
use crate::feed::event::EmbeddedFiles;
use crate::package::{License, LicenseKind, NuGetVersion, Nuspec, PackageId, PackageType};

/// Where license expressions are rendered as a page (REG-15, nuget.org's convention).
const LICENSES_BASE: &str = "https://licenses.nuget.org/";

/// Inserts `key` only when there is a value: absent beats `null` or `""` for clients that
/// would otherwise try to parse an empty URL.
pub(crate) fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value.into());
    }
}

/// `iconUrl`: the hosted icon when the package embeds one (REG-15), else the nuspec's
/// deprecated `<iconUrl>`.
pub(crate) fn icon_url(
    urls: &FeedUrls,
    id: &PackageId,
    version: &NuGetVersion,
    nuspec_icon_url: Option<&str>,
    files: EmbeddedFiles,
) -> Option<String> {
    if files.icon {
        return Some(urls.icon(id, version));
    }
    nuspec_icon_url.map(str::to_owned)
}

/// `licenseUrl`: the hosted license file (REG-15), or `https://licenses.nuget.org/{expr}` for
/// a license expression, else the nuspec's `<licenseUrl>`. Packages with a `<license>` carry
/// the placeholder `https://aka.ms/deprecateLicenseUrl` there, so the license wins.
pub(crate) fn license_url(
    urls: &FeedUrls,
    id: &PackageId,
    version: &NuGetVersion,
    license: Option<&License>,
    nuspec_license_url: Option<&str>,
    files: EmbeddedFiles,
) -> Option<String> {
    match license {
        Some(l) if l.kind == LicenseKind::File && files.license => Some(urls.license(id, version)),
        Some(l) if l.kind == LicenseKind::Expression => {
            Some(format!("{LICENSES_BASE}{}", encode_path_segment(&l.value)))
        }
        _ => nuspec_license_url.map(str::to_owned),
    }
}

/// `licenseExpression`: the SPDX expression, when the license is one.
pub(crate) fn license_expression(license: Option<&License>) -> Option<&str> {
    license
        .filter(|l| l.kind == LicenseKind::Expression)
        .map(|l| l.value.as_str())
}

/// `licenseExpressionVersion`: read by the client (`PackageSearchMetadata`) to decide whether
/// it can parse the expression.
pub(crate) fn license_expression_version(license: Option<&License>) -> Option<&str> {
    license
        .filter(|l| l.kind == LicenseKind::Expression)
        .and_then(|l| l.version.as_deref())
}

/// `readmeUrl`: the hosted readme when the package embeds one (REG-15, TPL-3).
pub(crate) fn readme_url(
    urls: &FeedUrls,
    id: &PackageId,
    version: &NuGetVersion,
    files: EmbeddedFiles,
) -> Option<String> {
    files.readme.then(|| urls.readme(id, version))
}

/// `dependencyGroups` (REG-9), or `None` when the nuspec declares none. Ranges are normalized;
/// `targetFramework` only when the group has one (absent = every framework); a group without
/// dependencies is kept with `"dependencies": []` (it still says the framework is supported).
/// With `registration`, each dependency links to its registration index in that hive.
pub(crate) fn dependency_groups(
    nuspec: &Nuspec,
    registration: Option<(&FeedUrls, Hive)>,
) -> Option<Value> {
    if nuspec.dependency_groups.is_empty() {
        return None;
    }
    let groups = nuspec
        .dependency_groups
        .iter()
        .map(|g| {
            let deps: Vec<Value> = g
                .dependencies
                .iter()
                .map(|d| {
                    let mut dep = Map::new();
                    dep.insert("id".into(), d.id.as_str().into());
                    dep.insert("range".into(), d.range.to_normalized().into());
                    put(
                        &mut dep,
                        "registration",
                        registration.map(|(urls, hive)| urls.registration_index(hive, &d.id)),
                    );
                    Value::Object(dep)
                })
                .collect();
            let mut group = Map::new();
            put(&mut group, "targetFramework", g.target_framework.clone());
            group.insert("dependencies".into(), Value::Array(deps));
            Value::Object(group)
        })
        .collect();
    Some(Value::Array(groups))
}

/// `packageTypes` as the catalog and registration write them (`[{name, version?}]`), or
/// `None` when the nuspec declares none.
pub(crate) fn package_types(types: &[PackageType]) -> Option<Value> {
    if types.is_empty() {
        return None;
    }
    let types = types.iter().map(package_type).collect();
    Some(Value::Array(types))
}

fn package_type(t: &PackageType) -> Value {
    let mut v = Map::new();
    v.insert("name".into(), t.name.clone().into());
    put(&mut v, "version", t.version.clone());
    Value::Object(v)
}

/// `authors` as registration and catalog write them: one string, joined as NuGet joins them.
pub(crate) fn authors_joined(authors: &[String]) -> Option<String> {
    (!authors.is_empty()).then(|| authors.join(", "))
}

/// `deprecation` (REG-10): `reasons`, `message` when there is one, `alternatePackage` with
/// `range` `*` for any version. `leaf` is the catalog leaf the object belongs to: registration
/// and catalog give it, and the object then has nuget.org's `@id`s (`{leaf}#deprecation`,
/// `{leaf}#deprecation/alternatePackage`); search results have none.
pub(crate) fn deprecation(d: &Deprecation, leaf: Option<&str>) -> Value {
    let mut object = Map::new();
    put(&mut object, "@id", leaf.map(|l| format!("{l}#deprecation")));
    if let Some(a) = &d.alternate {
        let mut alternate = Map::new();
        put(
            &mut alternate,
            "@id",
            leaf.map(|l| format!("{l}#deprecation/alternatePackage")),
        );
        alternate.insert("id".into(), a.id.as_str().into());
        alternate.insert("range".into(), a.range_text().into());
        object.insert("alternatePackage".into(), Value::Object(alternate));
    }
    put(&mut object, "message", d.message.clone());
    let reasons: Vec<&str> = d.reasons.iter().map(|r| r.as_str()).collect();
    object.insert("reasons".into(), reasons.into());
    Value::Object(object)
}

/// The `vulnerabilities` array of registration (`severity` a string, REG-11) or search (an
/// integer, SQ-9).
pub(crate) fn vulnerabilities(list: &[super::Vulnerability], severity_as_string: bool) -> Value {
    list.iter()
        .map(|v| {
            let severity = if severity_as_string {
                Value::from(v.severity.to_string())
            } else {
                Value::from(v.severity)
            };
            json!({ "advisoryUrl": v.advisory_url, "severity": severity })
        })
        .collect()
}

/// Percent-encodes a license expression for a URL path: everything except RFC 3986
/// unreserved characters and `+ ( )`, which SPDX uses (`GPL-2.0+`, `(MIT OR X)`).
fn encode_path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~+()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::test_support::{deprecation as parse_deprecation, nuspec};

    const BASE: &str = "http://localhost:5000/team-a/main";

    #[test]
    fn license_expression_links_to_licenses_nuget_org() {
        // REG-15
        let n = nuspec(
            "Contoso.Lib",
            "1.0.0",
            r#"<license type="expression">MIT OR Apache-2.0</license><licenseUrl>https://aka.ms/deprecateLicenseUrl</licenseUrl>"#,
        );
        let urls = FeedUrls::new(BASE);
        let url = license_url(
            &urls,
            &n.id,
            &n.version,
            n.license.as_ref(),
            n.license_url.as_deref(),
            EmbeddedFiles::default(),
        );
        assert_eq!(
            url.as_deref(),
            Some("https://licenses.nuget.org/MIT%20OR%20Apache-2.0")
        );
        assert_eq!(
            license_expression(n.license.as_ref()),
            Some("MIT OR Apache-2.0")
        );
    }

    #[test]
    fn embedded_files_get_hosted_urls() {
        // REG-15: never the path inside the package.
        let n = nuspec(
            "Contoso.Lib",
            "1.0.0-Beta",
            r#"<license type="file">LICENSE.txt</license><icon>icon.png</icon><iconUrl>http://old/icon.png</iconUrl><readme>README.md</readme>"#,
        );
        let urls = FeedUrls::new(BASE);
        let files = EmbeddedFiles {
            icon: true,
            readme: true,
            license: true,
        };
        let dir = format!("{BASE}/flatcontainer/contoso.lib/1.0.0-beta");
        let (id, v) = (&n.id, &n.version);
        let icon = |files| icon_url(&urls, id, v, n.icon_url.as_deref(), files);
        assert_eq!(icon(files), Some(format!("{dir}/icon")));
        assert_eq!(
            license_url(&urls, id, v, n.license.as_ref(), None, files),
            Some(format!("{dir}/license"))
        );
        assert_eq!(
            readme_url(&urls, id, v, files),
            Some(format!("{dir}/readme"))
        );
        assert_eq!(license_expression(n.license.as_ref()), None);
        let none = EmbeddedFiles::default();
        assert_eq!(icon(none).as_deref(), Some("http://old/icon.png"));
        assert_eq!(readme_url(&urls, id, v, none), None);
    }

    #[test]
    fn dependency_groups_normalize_ranges_and_link_registrations() {
        // REG-9
        let n = nuspec(
            "Contoso.Lib",
            "1.0.0",
            r#"<dependencies>
                 <group targetFramework="net8.0"><dependency id="Newtonsoft.Json" version="13.0"/></group>
                 <group targetFramework="netstandard2.0"/>
                 <group><dependency id="Contoso.Core" version="[1.0, 2.0)"/><dependency id="Any"/></group>
               </dependencies>"#,
        );
        let urls = FeedUrls::new(BASE);
        let groups = dependency_groups(&n, Some((&urls, Hive::SemVer1))).unwrap();
        assert_eq!(
            groups,
            json!([
                {"targetFramework": "net8.0", "dependencies": [{
                    "id": "Newtonsoft.Json", "range": "[13.0.0, )",
                    "registration": format!("{BASE}/registration/newtonsoft.json/index.json")}]},
                {"targetFramework": "netstandard2.0", "dependencies": []},
                {"dependencies": [
                    {"id": "Contoso.Core", "range": "[1.0.0, 2.0.0)",
                     "registration": format!("{BASE}/registration/contoso.core/index.json")},
                    {"id": "Any", "range": "(, )",
                     "registration": format!("{BASE}/registration/any/index.json")}]}
            ])
        );
        let bare = dependency_groups(&n, None).unwrap();
        assert!(bare[0]["dependencies"][0].get("registration").is_none());
    }

    #[test]
    fn package_types_only_when_declared() {
        assert_eq!(package_types(&nuspec("A", "1.0.0", "").package_types), None);
        let tool = nuspec(
            "A",
            "1.0.0",
            r#"<packageTypes><packageType name="DotnetTool" version="1.0"/></packageTypes>"#,
        );
        assert_eq!(
            package_types(&tool.package_types),
            Some(json!([{"name": "DotnetTool", "version": "1.0"}]))
        );
    }

    #[test]
    fn deprecation_has_nuget_org_ids_where_a_catalog_leaf_owns_it() {
        // REG-10: reasons always; message and alternatePackage only when set; `*` = any.
        let d = parse_deprecation(
            r#"{"reasons": ["Other", "legacy"], "message": "Use B.", "alternatePackage": {"id": "B"}}"#,
        );
        let leaf = "http://localhost:5000/catalog/data/7/a.1.0.0.json";
        assert_eq!(
            deprecation(&d, Some(leaf)),
            json!({
                "@id": format!("{leaf}#deprecation"),
                "alternatePackage": {
                    "@id": format!("{leaf}#deprecation/alternatePackage"),
                    "id": "B",
                    "range": "*",
                },
                "message": "Use B.",
                "reasons": ["Legacy", "Other"],
            })
        );
        let bare = parse_deprecation(r#"{"reasons": ["CriticalBugs"]}"#);
        assert_eq!(
            deprecation(&bare, None),
            json!({"reasons": ["CriticalBugs"]})
        );
    }
}
