//! `GET {base}/packages/{id}[/{version}]`: a version's page (README, versions, dependencies,
//! license, links, owners, install snippets), rendered from its record and push event and
//! cached until the package changes.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::TryStreamExt;

use super::layout::Layout;
use super::snippets::{self, Snippet};
use super::{page, readme};
use crate::api::metadata;
use crate::api::urls::FeedUrls;
use crate::api::vulnerabilities::{self, Vulnerability};
use crate::feed::event::Pushed;
use crate::feed::record::{PackageRecord, VersionRecord};
use crate::http::AppState;
use crate::http::base_url::Urls;
use crate::http::cache;
use crate::http::error::{ApiError, ApiResult};
use crate::package::{LicenseKind, NuGetVersion, PackageId};
use crate::storage::PackageFile;

/// Longest summary shown in a search result, in characters.
const MAX_SUMMARY_CHARS: usize = 300;

/// One row of the versions table.
#[derive(Debug)]
pub struct VersionRow {
    pub version: String,
    pub href: String,
    pub published: String,
    pub downloads: u64,
    pub listed: bool,
    pub deprecated: bool,
    pub vulnerable: bool,
    pub current: bool,
}

/// One dependency of a framework group.
#[derive(Debug)]
pub struct DependencyView {
    pub id: String,
    pub range: String,
    pub href: String,
}

/// The dependencies of one target framework (`None`: every framework).
#[derive(Debug)]
pub struct DependencyGroupView {
    pub framework: Option<String>,
    pub dependencies: Vec<DependencyView>,
}

/// A link out (only http and https are shown as links).
#[derive(Debug)]
pub struct Link {
    pub label: &'static str,
    pub href: String,
}

/// The version's deprecation, as shown.
#[derive(Debug)]
pub struct DeprecationView {
    pub reasons: String,
    pub message: Option<String>,
    pub alternate: Option<(String, String)>,
}

/// A known vulnerability of the version.
#[derive(Debug)]
pub struct AdvisoryView {
    pub url: String,
    pub severity: &'static str,
}

impl AdvisoryView {
    fn new(v: Vulnerability) -> AdvisoryView {
        let severity = match v.severity {
            0 => "low",
            1 => "moderate",
            2 => "high",
            _ => "critical",
        };
        AdvisoryView {
            url: v.advisory_url,
            severity,
        }
    }
}

/// The data of `templates/package.html`.
#[derive(Template)]
#[template(path = "package.html")]
struct PackagePage {
    layout: Layout,
    id: String,
    version: String,
    title: Option<String>,
    description: Option<String>,
    authors: String,
    icon: Option<String>,
    listed: bool,
    prerelease: bool,
    semver2: bool,
    published: String,
    total_downloads: u64,
    tags: Vec<String>,
    owners: Vec<String>,
    deprecation: Option<DeprecationView>,
    vulnerabilities: Vec<AdvisoryView>,
    license_expression: Option<String>,
    license: Option<String>,
    links: Vec<Link>,
    /// Sanitized HTML ([`readme`]).
    readme: Option<String>,
    readme_cut: bool,
    versions: Vec<VersionRow>,
    dependencies: Vec<DependencyGroupView>,
    snippets: Vec<Snippet>,
}

/// `GET {base}/packages/{id}`: the latest version's page.
pub async fn latest(
    State(s): State<AppState>,
    Urls(urls): Urls,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &urls, &headers, &id, None).await
}

/// `GET {base}/packages/{id}/{version}`
pub async fn version(
    State(s): State<AppState>,
    Urls(urls): Urls,
    Path((id, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&s, &urls, &headers, &id, Some(&version)).await
}

/// The version a page shows: the one asked for, else the latest listed stable, else the latest
/// listed prerelease, else the latest.
fn pick<'a>(
    record: &'a PackageRecord,
    version: Option<&NuGetVersion>,
) -> Option<&'a VersionRecord> {
    if let Some(v) = version {
        return record.get(v);
    }
    let all = record.versions.as_slice();
    all.iter()
        .rev()
        .find(|v| v.listed && !v.is_prerelease())
        .or_else(|| all.iter().rev().find(|v| v.listed))
        .or_else(|| all.last())
}

async fn serve(
    s: &AppState,
    urls: &FeedUrls,
    headers: &HeaderMap,
    id: &str,
    version: Option<&str>,
) -> Response {
    let not_found = |what: String| {
        page::error(
            Layout::new(urls, "Not found"),
            StatusCode::NOT_FOUND,
            &format!("{what} is not on this feed. Search for it on the feed page."),
        )
    };
    let Ok(pid) = PackageId::parse(id) else {
        return not_found(format!("The package {id}"));
    };
    let parsed = match version.map(NuGetVersion::parse).transpose() {
        Ok(parsed) => parsed,
        Err(_) => return not_found(format!("Version {} of {id}", version.unwrap_or(""))),
    };
    let lower = pid.lower();
    let Some(record) = s.feed.state().package(&lower).cloned() else {
        return not_found(format!("The package {id}"));
    };
    let Some(current) = pick(&record, parsed.as_ref()) else {
        return not_found(format!("Version {} of {id}", version.unwrap_or("")));
    };
    let layout = Layout::new(
        urls,
        format!("{} {}", current.id(), current.version().to_full()),
    );
    let key = cache::key(&[
        "web-package",
        urls.base(),
        &lower,
        &parsed.map(|v| v.lower_normalized()).unwrap_or_default(),
    ]);
    let stamp = page::stamp(s, record.last_seq);
    let render = async {
        let view = view(s, urls, &layout, &record, current).await?;
        page::render(&view)
    };
    page::serve(s, headers, &layout, key, stamp, render).await
}

async fn view(
    s: &AppState,
    urls: &FeedUrls,
    layout: &Layout,
    record: &Arc<PackageRecord>,
    current: &VersionRecord,
) -> ApiResult<PackagePage> {
    let pushed = s.feed.pushed(current.push_seq).await?;
    let (id, version) = (current.id(), current.version());
    let nuspec = &pushed.nuspec;
    let readme = match pushed.files.readme {
        true => read_readme(s, id, version).await?,
        false => None,
    };
    let (readme, readme_cut) = match readme {
        Some(text) => {
            let (html, cut) = readme::render(&text, urls.base());
            (Some(html), cut)
        }
        None => (None, false),
    };
    let all: Vec<&VersionRecord> = record.versions.values().collect();
    let counts = s.feed.downloads().versions(
        &id.lower(),
        &all.iter().map(|v| v.version()).collect::<Vec<_>>(),
    );
    let versions: Vec<VersionRow> = all
        .iter()
        .zip(&counts)
        .rev()
        .map(|(v, &downloads)| {
            let text = v.version().to_full();
            VersionRow {
                href: layout.package_href(id.as_str(), Some(&text)),
                published: date(v),
                downloads,
                listed: v.listed,
                deprecated: v.deprecation.is_some(),
                vulnerable: !vulnerabilities::for_version(&s.advisories, v.id(), v.version())
                    .is_empty(),
                current: v.version() == version,
                version: text,
            }
        })
        .collect();
    let version_text = version.to_full();
    let license = nuspec.license.as_ref();
    let license_link = metadata::license_url(
        urls,
        id,
        version,
        license,
        nuspec.license_url.as_deref(),
        pushed.files,
    );
    let mut links = Vec::new();
    let mut link = |label, url: Option<&str>| {
        if let Some(href) = url.and_then(web_link) {
            links.push(Link { label, href });
        }
    };
    link("Project website", nuspec.project_url.as_deref());
    link(
        "Source repository",
        nuspec.repository.as_ref().and_then(|r| r.url.as_deref()),
    );
    if license.is_none_or(|l| l.kind == LicenseKind::File) {
        link("License", license_link.as_deref());
    }
    let icon = metadata::icon_url(urls, id, version, nuspec.icon_url.as_deref(), pushed.files);
    Ok(PackagePage {
        layout: layout.clone(),
        id: id.as_str().to_owned(),
        title: nuspec.title.clone().filter(|t| !t.trim().is_empty()),
        description: nuspec.description.clone(),
        authors: nuspec.authors.join(", "),
        icon: icon.filter(|u| shown_image(u, urls)),
        listed: current.listed,
        prerelease: current.is_prerelease(),
        semver2: current.semver2,
        published: date(current),
        total_downloads: counts.iter().fold(0, |sum: u64, &c| sum.saturating_add(c)),
        tags: nuspec.tags.clone(),
        owners: s.api_keys.owners(id),
        deprecation: current.deprecation.as_deref().map(|d| DeprecationView {
            reasons: d
                .reasons
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            message: d.message.clone(),
            alternate: d.alternate.as_ref().map(|a| {
                (
                    a.id.as_str().to_owned(),
                    layout.package_href(a.id.as_str(), None),
                )
            }),
        }),
        vulnerabilities: vulnerabilities::for_version(&s.advisories, id, version)
            .into_iter()
            .map(AdvisoryView::new)
            .collect(),
        license_expression: metadata::license_expression(license).map(str::to_owned),
        license: license_link
            .filter(|_| license.is_some_and(|l| l.kind == LicenseKind::Expression)),
        links,
        readme,
        readme_cut,
        versions,
        dependencies: dependencies(&pushed, layout),
        snippets: snippets::install(
            id.as_str(),
            &version_text,
            current.is_prerelease(),
            &urls.service_index(),
        ),
        version: version_text,
    })
}

/// The dependency groups, each dependency linking to its page on this feed.
fn dependencies(pushed: &Pushed, layout: &Layout) -> Vec<DependencyGroupView> {
    pushed
        .nuspec
        .dependency_groups
        .iter()
        .map(|g| DependencyGroupView {
            framework: g.target_framework.clone(),
            dependencies: g
                .dependencies
                .iter()
                .map(|d| DependencyView {
                    id: d.id.as_str().to_owned(),
                    range: d.range.to_normalized(),
                    href: layout.package_href(d.id.as_str(), None),
                })
                .collect(),
        })
        .collect()
}

/// The embedded README as text (at most [`readme::MAX_README_BYTES`] and a little more are
/// read; invalid UTF-8 is replaced).
async fn read_readme(
    s: &AppState,
    id: &PackageId,
    version: &NuGetVersion,
) -> ApiResult<Option<String>> {
    let Some(blob) = s.feed.open_file(id, version, PackageFile::Readme).await? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    let mut stream = blob.stream;
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| ApiError::Unavailable(format!("cannot read a readme: {e}")))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > readme::MAX_README_BYTES {
            break;
        }
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// When a version was published, as a date (unlisted versions' dates are kept as pushed).
fn date(v: &VersionRecord) -> String {
    v.published.format("%Y-%m-%d").to_string()
}

/// `url` as a link target, when it is an absolute http or https URL.
fn web_link(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

/// Whether an icon URL may be shown: the feed's own, or https (what the CSP allows besides
/// data, which nuspecs do not carry).
pub fn shown_image(url: &str, urls: &FeedUrls) -> bool {
    url.starts_with("https://") || url.starts_with(&format!("{}/", urls.base()))
}

/// `text` cut to [`MAX_SUMMARY_CHARS`] characters (with an ellipsis when cut).
pub fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_SUMMARY_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_links_are_links() {
        assert_eq!(
            web_link("https://x.test/a").as_deref(),
            Some("https://x.test/a")
        );
        assert_eq!(
            web_link(" http://x.test ").as_deref(),
            Some("http://x.test/")
        );
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,x",
            "/relative",
            "file:///etc",
        ] {
            assert_eq!(web_link(bad), None, "{bad}");
        }
    }

    #[test]
    fn summaries_are_cut_on_characters() {
        assert_eq!(shorten("short"), "short");
        let long = "é".repeat(MAX_SUMMARY_CHARS + 5);
        assert_eq!(shorten(&long).chars().count(), MAX_SUMMARY_CHARS + 1);
    }
}
