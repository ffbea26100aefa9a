//! The texts people copy from the pages: how to install a package with each client, and how to
//! add this feed and push to it. Each is exactly what its tool takes, for the id and version
//! given; the templates only escape them.

/// One copyable text, shown as `<figure class="snippet" id="snippet-{kind}">`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// Stable name (the figure's id is `snippet-{kind}`).
    pub kind: &'static str,
    /// What it is, for people.
    pub label: &'static str,
    pub text: String,
}

/// How to install version `version` of `id` with each client. `source` is this feed's
/// service index URL, which Cake's directives need (they would look on nuget.org otherwise);
/// the other clients take their sources from nuget.config (the setup page says how).
pub fn install(id: &str, version: &str, prerelease: bool, source: &str) -> Vec<Snippet> {
    let cake_prerelease = if prerelease { "&prerelease" } else { "" };
    vec![
        Snippet {
            kind: "dotnet-cli",
            label: ".NET CLI",
            text: format!("dotnet add package {id} --version {version}"),
        },
        Snippet {
            kind: "package-reference",
            label: "PackageReference",
            text: format!("<PackageReference Include=\"{id}\" Version=\"{version}\" />"),
        },
        Snippet {
            kind: "cpm",
            label: "Central Package Management",
            text: format!(
                "<!-- Directory.Packages.props -->\n<PackageVersion Include=\"{id}\" Version=\"{version}\" />\n\
                 <!-- The project file -->\n<PackageReference Include=\"{id}\" />"
            ),
        },
        Snippet {
            kind: "paket",
            label: "Paket CLI",
            text: format!("paket add {id} --version {version}"),
        },
        Snippet {
            kind: "cake",
            label: "Cake",
            text: format!(
                "// Install {id} as a Cake Addin\n#addin nuget:{source}?package={id}&version={version}{cake_prerelease}\n\n\
                 // Install {id} as a Cake Tool\n#tool nuget:{source}?package={id}&version={version}{cake_prerelease}"
            ),
        },
        Snippet {
            kind: "nuget-exe",
            label: "NuGet.exe",
            text: format!("nuget install {id} -Version {version}"),
        },
    ]
}

/// How to use the feed at `source` (its service index URL) under the package source name
/// `name` (an XML element name: `packageSourceCredentials` uses it as one).
pub fn setup(source: &str, name: &str) -> Vec<Snippet> {
    let sources = format!(
        "  <packageSources>\n    <add key=\"{name}\" value=\"{source}\" protocolVersion=\"3\" />\n  </packageSources>\n"
    );
    let config = |inner: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n{sources}{inner}</configuration>"
        )
    };
    vec![
        Snippet {
            kind: "nuget-config",
            label: "nuget.config",
            text: config(""),
        },
        Snippet {
            kind: "nuget-config-credentials",
            label: "nuget.config with the read token (from the FEED_READ_TOKEN environment variable)",
            text: config(&format!(
                "  <packageSourceCredentials>\n    <{name}>\n      <add key=\"Username\" value=\"feed\" />\n      \
                 <add key=\"ClearTextPassword\" value=\"%FEED_READ_TOKEN%\" />\n    </{name}>\n  </packageSourceCredentials>\n"
            )),
        },
        Snippet {
            kind: "push-dotnet",
            label: ".NET CLI",
            text: format!(
                "dotnet nuget push MyPackage.1.0.0.nupkg --source {source} --api-key <your-api-key>"
            ),
        },
        Snippet {
            kind: "push-nuget-exe",
            label: "NuGet.exe",
            text: format!(
                "nuget push MyPackage.1.0.0.nupkg -Source {source} -ApiKey <your-api-key>"
            ),
        },
    ]
}

/// A package source name for the feed whose URL path is `path`: its last segment when that is
/// a usable XML element name, else `feed`.
pub fn source_name(path: &str) -> String {
    let last = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    let usable = last.starts_with(|c: char| c.is_ascii_alphabetic())
        && last
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if usable {
        last.to_owned()
    } else {
        "feed".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_are_xml_names() {
        assert_eq!(source_name("/team-a/main"), "main");
        assert_eq!(source_name(""), "feed");
        assert_eq!(source_name("/1st"), "feed");
        assert_eq!(source_name("/a%20b"), "feed");
    }

    #[test]
    fn cake_asks_for_prereleases_when_the_version_is_one() {
        let cake = |pre| {
            install("A", "1.0.0-beta", pre, "https://f/index.json")
                .into_iter()
                .find(|s| s.kind == "cake")
                .unwrap()
                .text
        };
        assert!(cake(true).contains(
            "#addin nuget:https://f/index.json?package=A&version=1.0.0-beta&prerelease\n"
        ));
        assert!(!cake(false).contains("prerelease"));
    }
}
