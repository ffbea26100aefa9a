//! Target frameworks as NuGet clients send them (`net45`, `net8.0-windows`, `netstandard2.0`)
//! and nuspecs write them (`.NETFramework4.5`, `.NETStandard,Version=v2.0`), and whether a
//! package built for one runs on another: the part of NuGet's compatibility rules that
//! `GetUpdates()?targetFrameworks=..` needs (.NET Framework, .NET Standard, .NET Core and
//! .NET 5+). Any other framework (`portable-*`, `uap10.0`, `monoandroid`, ...) is compatible
//! only with itself.

/// A framework family.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Family {
    /// `.NETFramework` (`net45`, `net472`).
    Framework,
    /// `.NETStandard` (`netstandard2.0`).
    Standard,
    /// `.NETCoreApp` (`netcoreapp3.1`) and .NET 5+ (`net8.0`).
    Core,
    /// Anything else, by its lower-cased name.
    Other(String),
}

/// A target framework: a family and a version (`major * 100 + minor * 10 + patch`, so
/// `4.7.2` is 472, as short names write it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framework {
    family: Family,
    version: u32,
}

impl Framework {
    /// Reads a short or long framework name; never fails (an unknown one is `Other`).
    pub fn parse(text: &str) -> Framework {
        let lower = text.trim().to_ascii_lowercase();
        // A platform suffix (`net8.0-windows`) does not change what runs where for our purpose.
        let name = lower.split('-').next().unwrap_or_default();
        let other = || Framework {
            family: Family::Other(lower.clone()),
            version: 0,
        };
        let long = [
            (".netframework", Family::Framework),
            (".netstandard", Family::Standard),
            (".netcoreapp", Family::Core),
        ];
        for (prefix, family) in long {
            if let Some(rest) = name.strip_prefix(prefix) {
                let rest = rest.trim_start_matches(",version=").trim_start_matches('v');
                return version(rest).map_or_else(other, |version| Framework { family, version });
            }
        }
        let short = [
            ("netstandard", Family::Standard),
            ("netcoreapp", Family::Core),
            ("net", Family::Framework),
        ];
        for (prefix, family) in short {
            if let Some(rest) = name.strip_prefix(prefix) {
                let Some(version) = version(rest) else {
                    return other();
                };
                // `net5.0` and above are .NET 5+, the successor of .NET Core.
                let family = if family == Family::Framework && version >= 500 {
                    Family::Core
                } else {
                    family
                };
                return Framework { family, version };
            }
        }
        other()
    }

    /// Whether a package built for `self` can be installed into a project targeting `project`.
    pub fn runs_on(&self, project: &Framework) -> bool {
        match (&self.family, &project.family) {
            (a, b) if a == b => self.version <= project.version,
            // What each .NET Standard version needs of the other families (the .NET Standard
            // table: 1.0-1.1 net45, 1.2 net451, 1.3 net46, 1.4-2.0 net461; .NET Core 1.0 up to
            // 1.6, 2.0 up to 2.0, 3.0 and .NET 5+ up to 2.1).
            (Family::Standard, Family::Framework) => {
                let needs = match self.version {
                    0..=110 => 450,
                    120 => 451,
                    130 => 460,
                    140..=200 => 461,
                    _ => return false,
                };
                project.version >= needs
            }
            (Family::Standard, Family::Core) => {
                let needs = match self.version {
                    0..=160 => 100,
                    170..=200 => 200,
                    210 => 300,
                    _ => return false,
                };
                project.version >= needs
            }
            _ => false,
        }
    }
}

/// `4.5`, `45`, `4.7.2`, `472`, `8.0` as `major * 100 + minor * 10 + patch`; `None` when it is
/// not a version.
fn version(text: &str) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    let parts: Vec<u32> = if text.contains('.') {
        text.split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?
    } else {
        // Short names write one digit per part.
        text.chars()
            .map(|c| c.to_digit(10))
            .collect::<Option<_>>()?
    };
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let digit = |i: usize| parts.get(i).copied().unwrap_or(0).min(9);
    Some(parts[0] * 100 + digit(1) * 10 + digit(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(text: &str) -> Framework {
        Framework::parse(text)
    }

    #[test]
    fn short_and_long_names_read_the_same() {
        for (a, b) in [
            ("net45", ".NETFramework4.5"),
            ("net472", ".NETFramework,Version=v4.7.2"),
            ("netstandard2.0", ".NETStandard2.0"),
            ("netstandard2.0", ".NETStandard,Version=v2.0"),
            ("netcoreapp3.1", ".NETCoreApp3.1"),
            ("net8.0-windows", "net8.0"),
            ("net8.0", ".NETCoreApp8.0"),
        ] {
            assert_eq!(f(a), f(b), "{a} {b}");
        }
        assert_eq!(f("portable-net45+win8"), f("Portable-Net45+Win8"));
        assert_ne!(f("uap10.0"), f("net45"));
    }

    #[test]
    fn compatibility_follows_the_dotnet_standard_table() {
        for (package, project, runs) in [
            ("net40", "net45", true),
            ("net45", "net40", false),
            ("netstandard2.0", "net461", true),
            ("netstandard2.0", "net46", false),
            ("netstandard1.3", "net46", true),
            ("netstandard2.1", "net48", false),
            ("netstandard2.1", "netcoreapp3.1", true),
            ("netstandard2.1", "netcoreapp2.2", false),
            ("netstandard2.0", "net8.0", true),
            ("netcoreapp3.1", "net8.0", true),
            ("net8.0", "netcoreapp3.1", false),
            ("net45", "net8.0", false),
            ("uap10.0", "uap10.0", true),
            ("uap10.0", "net8.0", false),
        ] {
            assert_eq!(
                f(package).runs_on(&f(project)),
                runs,
                "{package} on {project}"
            );
        }
    }
}
