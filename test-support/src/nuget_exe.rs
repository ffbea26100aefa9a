//! NuGet.exe 4.0.0 (npm `nuget-in-path@2.0.1`) and 5.8.0 (npm `nuget-exe@5.8.0`), installed by
//! `.ci/install-deps.sh`, on mono (Debian `mono-complete`): real NuGet clients, run hermetically.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

use crate::tools::{DEPS_HINT, ci_cache_dir, find_in_path, missing_or_skip, tool_path};

/// NuGet.exe run with mono, hermetically: every instance has its own temp root holding HOME,
/// the XDG config/data/cache folders, the user-level `NuGet.Config`, the global packages folder
/// (`NUGET_PACKAGES`), the HTTP cache (`NUGET_HTTP_CACHE_PATH`) and TMPDIR (NuGet puts
/// `NuGetScratch/` there). The child gets a cleared environment plus only those, `PATH`, `LANG`
/// and, when set, `http_proxy`, so nothing of the developer's own NuGet setup is read or written
/// and nuget.org is never an enabled source.
///
/// Without `-ConfigFile`, NuGet.exe also reads every `NuGet.Config`/`nuget.config` in the working
/// directory and all its parents; with `-ConfigFile` it reads only that file. The `push`,
/// `install` and `delete` helpers pass `-ConfigFile` and run in the temp root; give [`run`] a
/// `cwd` of your own temp folder.
///
/// A feed's real host name resolves through `http_proxy`, which NuGet.exe honours
/// ([`NuGetExe::set_http_proxy`]): requests for `http://nuget.example.com/...` go to an nginx
/// "ingress controller" in absolute form, and nginx picks the server by that host, so no DNS
/// entry is needed.
///
/// [`run`]: NuGetExe::run
pub struct NuGetExe {
    mono: PathBuf,
    exe: PathBuf,
    root: TempDir,
    http_proxy: Option<String>,
}

impl NuGetExe {
    /// Where mono and nuget.exe are: `$MONO` or `mono` on PATH; `$NUGET_EXE` or
    /// `.ci/cache/npm/nuget-in-path-2.0.1/bin/nuget.exe`.
    pub fn locate() -> Result<(PathBuf, PathBuf), String> {
        let mono = tool_path(
            "MONO",
            Some(find_in_path("mono").unwrap_or_else(|| PathBuf::from("/usr/bin/mono"))),
        )
        .map_err(|e| format!("{e}; mono comes from the Debian package mono-complete"))?;
        let exe = tool_path(
            "NUGET_EXE",
            Some(
                ci_cache_dir()
                    .join("npm")
                    .join("nuget-in-path-2.0.1")
                    .join("bin")
                    .join("nuget.exe"),
            ),
        )?;
        Ok((mono, exe))
    }

    /// NuGet.exe 4.0, or `None` when it or mono is missing and `NUGET_SKIP_EXTERNAL=1` (else a
    /// panic saying what to install).
    pub fn new_or_skip() -> Option<NuGetExe> {
        match Self::locate() {
            Ok((mono, exe)) => Some(Self::with_paths(mono, exe)),
            Err(why) => missing_or_skip("NuGet.exe", &why, DEPS_HINT),
        }
    }

    /// NuGet.exe 5.8 (`$NUGET_EXE_58` or `.ci/cache/npm/nuget-exe-5.8.0/nuget-5.8.0.exe`): the
    /// newest official build obtainable, with `search` and `list`. `None` as for
    /// [`Self::new_or_skip`].
    pub fn v5_8_or_skip() -> Option<NuGetExe> {
        let located = Self::locate().and_then(|(mono, _)| {
            let default = ci_cache_dir()
                .join("npm")
                .join("nuget-exe-5.8.0")
                .join("nuget-5.8.0.exe");
            Ok((mono, tool_path("NUGET_EXE_58", Some(default))?))
        });
        match located {
            Ok((mono, exe)) => Some(Self::with_paths(mono, exe)),
            Err(why) => missing_or_skip("NuGet.exe 5.8", &why, DEPS_HINT),
        }
    }

    fn with_paths(mono: PathBuf, exe: PathBuf) -> NuGetExe {
        let root = tempfile::Builder::new()
            .prefix("nuget-exe-")
            .tempdir()
            .expect("create temp dir for NuGet.exe");
        let this = NuGetExe {
            mono,
            exe,
            root,
            http_proxy: None,
        };
        for dir in [
            this.home(),
            this.root.path().join("xdg-config").join("NuGet"),
            this.root.path().join("xdg-data"),
            this.root.path().join("xdg-cache"),
            this.packages_dir(),
            this.http_cache_dir(),
            this.tmp_dir(),
        ] {
            std::fs::create_dir_all(&dir).expect("create NuGet.exe folders");
        }
        // NuGet.exe creates a user-level config listing nuget.org when there is none, and adds
        // nuget.org to one without sources: write ours first, with nuget.org disabled.
        this.write_config_xml(&nuget_config_xml(&[], None));
        this
    }

    /// The temp root holding everything this instance writes.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// The global packages folder (`NUGET_PACKAGES`): `install` extracts every package here too,
    /// and takes the .nupkg from here instead of the feed on the next install of the same
    /// version unless `-NoCache` is given (the [`NuGetExe::install`] helper gives it).
    fn packages_dir(&self) -> PathBuf {
        self.root.path().join("packages")
    }

    /// The HTTP cache (`NUGET_HTTP_CACHE_PATH`): NuGet.exe keeps the service index here across
    /// runs (keyed by source URL).
    fn http_cache_dir(&self) -> PathBuf {
        self.root.path().join("http-cache")
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.path().join("tmp")
    }

    /// The user-level config (`$XDG_CONFIG_HOME/NuGet/NuGet.Config`), read by every command;
    /// the helpers also pass it as `-ConfigFile`.
    pub fn config_path(&self) -> PathBuf {
        self.root
            .path()
            .join("xdg-config")
            .join("NuGet")
            .join("NuGet.Config")
    }

    /// Makes `source_url` (a V3 service index URL) the one package source, named `test`, and
    /// returns the config path (also usable as `-ConfigFile`).
    pub fn write_config(&self, source_url: &str) -> PathBuf {
        self.configure_source("test", source_url, None)
    }

    /// Makes `url` the one package source, named `name`, with HTTP Basic credentials when
    /// given (as `dotnet nuget add source --username --password` writes them); returns the
    /// config path.
    pub fn configure_source(
        &self,
        name: &str,
        url: &str,
        credentials: Option<(&str, &str)>,
    ) -> PathBuf {
        self.write_config_xml(&nuget_config_xml(
            &[(name, url)],
            credentials.map(|(user, password)| (name, user, password)),
        ))
    }

    fn write_config_xml(&self, xml: &str) -> PathBuf {
        let path = self.config_path();
        std::fs::write(&path, xml).expect("write NuGet.Config");
        path
    }

    /// Sends NuGet.exe's requests through the HTTP proxy on this loopback port from now on
    /// (`None`: directly).
    pub fn set_http_proxy(&mut self, port: Option<u16>) {
        self.http_proxy = port.map(|p| format!("http://127.0.0.1:{p}"));
    }

    /// The hermetic command: `mono nuget.exe <args>` in `cwd`.
    pub fn command(&self, args: &[&str], cwd: &Path) -> Command {
        let root = self.root.path();
        let mut cmd = Command::new(&self.mono);
        cmd.arg(&self.exe)
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin")),
            )
            .env("LANG", "C.UTF-8")
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", root.join("xdg-config"))
            .env("XDG_DATA_HOME", root.join("xdg-data"))
            .env("XDG_CACHE_HOME", root.join("xdg-cache"))
            .env("NUGET_PACKAGES", self.packages_dir())
            .env("NUGET_HTTP_CACHE_PATH", self.http_cache_dir())
            .env("TMPDIR", self.tmp_dir())
            .stdin(Stdio::null());
        if let Some(proxy) = &self.http_proxy {
            cmd.env("http_proxy", proxy);
        }
        cmd
    }

    /// Runs `mono nuget.exe <args>` in `cwd`; no check of the exit status.
    pub fn run(&self, args: &[&str], cwd: &Path) -> Output {
        self.command(args, cwd).output().unwrap_or_else(|e| {
            panic!(
                "cannot run {} {}: {e}",
                self.mono.display(),
                self.exe.display()
            )
        })
    }

    /// [`NuGetExe::run`], panicking with the command line, stdout and stderr unless it succeeded.
    pub fn run_ok(&self, args: &[&str], cwd: &Path) -> Output {
        let out = self.run(args, cwd);
        assert_success(&out, &args.join(" "));
        out
    }

    /// `pack <nuspec> -OutputDirectory <out_dir>`; asserts success and returns the .nupkg path.
    pub fn pack(&self, nuspec: &Path, out_dir: &Path) -> PathBuf {
        std::fs::create_dir_all(out_dir).expect("create pack output folder");
        let cwd = nuspec.parent().unwrap_or(Path::new("."));
        let nuspec_s = nuspec.to_string_lossy();
        let out_s = out_dir.to_string_lossy();
        let out = self.run_ok(
            &[
                "pack",
                &nuspec_s,
                "-OutputDirectory",
                &out_s,
                "-NonInteractive",
            ],
            cwd,
        );
        // "Successfully created package '/path/Id.Version.nupkg'."
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("Successfully created package '")
                    .and_then(|rest| rest.strip_suffix("'."))
            })
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("pack printed no package path:\n{stdout}"))
    }

    /// Packs `id` `version` (see [`write_nuspec_with_payload`]) in this instance's root; the
    /// .nupkg's path.
    pub fn pack_with_payload(&self, id: &str, version: &str, payload_bytes: usize) -> PathBuf {
        let src = self.root.path().join(format!("src-{id}-{version}"));
        let nuspec = write_nuspec_with_payload(&src, id, version, payload_bytes);
        self.pack(&nuspec, &self.root.path().join("nupkgs"))
    }

    /// `push <nupkg> -Source <index> -ApiKey <key> -NonInteractive -ConfigFile <ours>`.
    /// 201 prints "Your package was pushed." (exit 0); 409 prints "Conflict" (exit 1).
    pub fn push(&self, nupkg: &Path, source: &str, api_key: &str) -> Output {
        let nupkg = nupkg.to_string_lossy();
        self.run_configured(&["push", &nupkg, "-Source", source, "-ApiKey", api_key])
    }

    /// `install <id> -Version <v> -Source <index> -OutputDirectory <out> -NoCache ...`: fetches
    /// `{RegistrationsBaseUrl}{lower id}/index.json`, then the leaf's `packageContent`.
    /// `-NoCache` makes it download even when the global packages folder already has the package.
    pub fn install(&self, id: &str, version: &str, source: &str, out_dir: &Path) -> Output {
        let out_dir = out_dir.to_string_lossy();
        self.run_configured(&[
            "install",
            id,
            "-Version",
            version,
            "-Source",
            source,
            "-OutputDirectory",
            &out_dir,
            "-NoCache",
        ])
    }

    /// `delete <id> <version> -Source <index> -ApiKey <key> -NonInteractive ...` (sends
    /// `DELETE {PackagePublish}/{id as typed}/{version as typed}`).
    pub fn delete(&self, id: &str, version: &str, source: &str, api_key: &str) -> Output {
        self.run_configured(&["delete", id, version, "-Source", source, "-ApiKey", api_key])
    }

    /// `args -NonInteractive -ConfigFile <ours>` in the temp root.
    fn run_configured(&self, args: &[&str]) -> Output {
        let config = self.config_path();
        let config = config.to_string_lossy();
        let mut all = args.to_vec();
        all.extend(["-NonInteractive", "-ConfigFile", &config]);
        self.run(&all, self.root.path())
    }
}

/// A NuGet.Config with `<clear />`, then exactly these `(name, V3 index URL)` sources, nuget.org
/// disabled, and clear-text HTTP Basic credentials `(source, user, password)` when given.
pub fn nuget_config_xml(
    sources: &[(&str, &str)],
    credentials: Option<(&str, &str, &str)>,
) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n",
    );
    for (name, url) in sources {
        let _ = writeln!(
            xml,
            "    <add key=\"{}\" value=\"{}\" protocolVersion=\"3\" />",
            xml_escape(name),
            xml_escape(url)
        );
    }
    // NuGet.exe adds nuget.org to a user-level config whose source list is empty; keep it off.
    xml.push_str("  </packageSources>\n  <disabledPackageSources>\n    <add key=\"nuget.org\" value=\"true\" />\n  </disabledPackageSources>\n");
    if let Some((source, user, password)) = credentials {
        // The source's name is the element's name.
        let _ = write!(
            xml,
            "  <packageSourceCredentials>\n    <{source}>\n      <add key=\"Username\" value=\"{}\" />\n      <add key=\"ClearTextPassword\" value=\"{}\" />\n    </{source}>\n  </packageSourceCredentials>\n",
            xml_escape(user),
            xml_escape(password)
        );
    }
    xml.push_str("</configuration>\n");
    xml
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Panics with what ran (`what`: the arguments), the exit status, stdout and stderr unless
/// `out` succeeded.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "`nuget.exe {what}` failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `<dir>/<id>.nuspec` and one content file (`content/readme.txt`) for `nuget pack`;
/// returns the .nuspec path.
pub fn write_nuspec(dir: &Path, id: &str, version: &str) -> PathBuf {
    write_nuspec_with_payload(dir, id, version, 0)
}

/// [`write_nuspec`], plus, when `payload_bytes > 0`, an incompressible `content/payload.bin` of
/// that size (to push bodies larger than a proxy's buffers and than ingress-nginx's default 1m
/// limit).
pub fn write_nuspec_with_payload(
    dir: &Path,
    id: &str,
    version: &str,
    payload_bytes: usize,
) -> PathBuf {
    let content = dir.join("content");
    std::fs::create_dir_all(&content).expect("create nuspec folder");
    std::fs::write(content.join("readme.txt"), format!("{id} {version}\n"))
        .expect("write content file");
    if payload_bytes > 0 {
        std::fs::write(content.join("payload.bin"), incompressible(payload_bytes))
            .expect("write payload file");
    }
    let nuspec = dir.join(format!("{id}.nuspec"));
    std::fs::write(
        &nuspec,
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>{id}</id>
    <version>{version}</version>
    <authors>tests</authors>
    <description>Test package {id} {version}</description>
  </metadata>
  <files>
    <file src="content/*" target="content" />
  </files>
</package>
"#,
            id = xml_escape(id),
            version = xml_escape(version)
        ),
    )
    .expect("write nuspec");
    nuspec
}

/// `len` bytes that deflate cannot shrink (xorshift64: cheap, and the same every time).
fn incompressible(len: usize) -> Vec<u8> {
    let mut payload = Vec::with_capacity(len + 8);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while payload.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        payload.extend_from_slice(&x.to_le_bytes());
    }
    payload.truncate(len);
    payload
}
