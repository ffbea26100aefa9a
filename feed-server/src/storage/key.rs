//! Every object path of a feed, in one place (the bucket layout is this one `match`).
//!
//! Paths are relative to the feed's prefix in the bucket; [`super::Storage`] applies the prefix.
//! Ids and versions appear lower-cased and normalized (N-2, N-8: never with build metadata).

use object_store::path::Path;

use crate::package::{NuGetVersion, PackageId};

/// A blob belonging to one package version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageFile {
    /// The package, byte-identical to the push.
    Nupkg,
    /// The nuspec as found in the package.
    Nuspec,
    /// The symbols package (.snupkg).
    Snupkg,
    /// Embedded icon, readme and license file, extracted at push time.
    Icon,
    Readme,
    License,
}

impl PackageFile {
    pub const ALL: [PackageFile; 6] = [
        PackageFile::Nupkg,
        PackageFile::Nuspec,
        PackageFile::Snupkg,
        PackageFile::Icon,
        PackageFile::Readme,
        PackageFile::License,
    ];
}

/// Names one object of the feed.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    /// `packages/{id}/{version}/{file}`
    Package {
        id: &'a PackageId,
        version: &'a NuGetVersion,
        file: PackageFile,
    },
    /// `symbols/{file}/{key}/{file}`: a portable PDB, by its SSQP key (SYM-4).
    Symbol { file: &'a str, key: &'a str },
    /// `catalog/events/{seq}.json`: the append-only event log (numbered from 1).
    Event(u64),
    /// `catalog/snapshot.json`: the feed state up to some event, so start-up need not replay all.
    Snapshot,
    /// `downloads/{replica}.json`: one replica's cumulative download counts.
    Downloads(&'a str),
    /// `packages/{id}/{version}/.lock/{generation}`: the version's maintenance lock (see
    /// `feed::lock`), one object per generation, written create-only.
    Lock {
        id: &'a PackageId,
        version: &'a NuGetVersion,
        generation: u64,
    },
    /// `upstream/{upstream}/docs/{hash}`: a metadata document fetched from an upstream source
    /// (or the memory that it answered 404), named by the SHA-256 of its URL. Kept apart from
    /// the feed's own objects: fsck and gc never list `upstream/`.
    UpstreamDoc { upstream: &'a str, hash: &'a str },
    /// `upstream/{upstream}/packages/{id}/{version}/{file}`: a package file cached from an
    /// upstream source, byte-identical to what it served.
    UpstreamFile {
        upstream: &'a str,
        id: &'a PackageId,
        version: &'a NuGetVersion,
        file: PackageFile,
    },
    /// `trust/keys/{hash}.json`: a temporary API key handed out by the token service, by the
    /// SHA-256 (hex) of its secret. Written create-only; fsck and gc never list `trust/`
    /// (`trust::records` removes the expired ones).
    TemporaryKey(&'a str),
    /// `trust/exchanged/{hash}.json`: the record that an OIDC token (by the SHA-256 of its
    /// issuer and `jti`) was exchanged, written create-only so only one replica accepts it.
    Exchanged(&'a str),
    /// `upstream/{upstream}/packages/{id}/{version}/.used`: rewritten (empty) on the first
    /// download of a cached version each day on each replica, so its time is the version's
    /// last use to within a day, without a write per download (see `feed::upstream_cache`).
    UpstreamUse {
        upstream: &'a str,
        id: &'a PackageId,
        version: &'a NuGetVersion,
    },
    /// `upstream/{upstream}/vulnerabilities/index.json` (`page: None`): what this feed mirrored
    /// of an upstream's VulnerabilityInfo index; `.../pages/{page}.json`: one mirrored page, as
    /// the upstream sent it. `page` is a VUL-1 page name (`[A-Za-z0-9_-]`, checked by the
    /// mirror), so it is safe in a path.
    UpstreamVulnerabilities {
        upstream: &'a str,
        page: Option<&'a str>,
    },
}

/// Folder of the token service's records (see [`Key::TemporaryKey`]).
pub const TRUST_PREFIX: &str = "trust";

/// File name of [`Key::UpstreamUse`] in a cached version's folder.
pub const UPSTREAM_USE_MARKER: &str = ".used";

/// Folder of everything cached from upstream sources (see [`Key::UpstreamDoc`]).
pub const UPSTREAM_PREFIX: &str = "upstream";

/// Folder of the event log, for listing.
pub const EVENTS_PREFIX: &str = "catalog/events";
/// Folder of per-replica download counters, for listing.
pub const DOWNLOADS_PREFIX: &str = "downloads";
/// Folder of all package blobs, for listing (fsck, gc).
pub const PACKAGES_PREFIX: &str = "packages";

impl Key<'_> {
    pub fn path(&self) -> Path {
        match *self {
            Key::Package { id, version, file } => {
                let id = id.lower();
                let v = version.lower_normalized();
                let name = match file {
                    PackageFile::Nupkg => format!("{id}.{v}.nupkg"),
                    PackageFile::Nuspec => format!("{id}.nuspec"),
                    PackageFile::Snupkg => format!("{id}.{v}.snupkg"),
                    PackageFile::Icon => "icon".to_owned(),
                    PackageFile::Readme => "readme".to_owned(),
                    PackageFile::License => "license".to_owned(),
                };
                Path::from(format!("{PACKAGES_PREFIX}/{id}/{v}/{name}"))
            }
            Key::Symbol { file, key } => Path::from(format!("symbols/{file}/{key}/{file}")),
            // Zero-padded so that a listing sorts in log order.
            Key::Event(seq) => Path::from(format!("{EVENTS_PREFIX}/{seq:016}.json")),
            Key::Snapshot => Path::from("catalog/snapshot.json"),
            Key::Downloads(replica) => Path::from(format!("{DOWNLOADS_PREFIX}/{replica}.json")),
            Key::Lock {
                id,
                version,
                generation,
            } => Path::from(format!(
                "{}/{LOCK_FOLDER}/{generation:016}",
                version_folder(id, version)
            )),
            Key::UpstreamDoc { upstream, hash } => {
                Path::from(format!("{UPSTREAM_PREFIX}/{upstream}/docs/{hash}"))
            }
            Key::UpstreamFile {
                upstream,
                id,
                version,
                file,
            } => {
                let local = Key::Package { id, version, file }.path();
                Path::from(format!("{UPSTREAM_PREFIX}/{upstream}/{local}"))
            }
            Key::TemporaryKey(hash) => Path::from(format!("{TRUST_PREFIX}/keys/{hash}.json")),
            Key::Exchanged(hash) => Path::from(format!("{TRUST_PREFIX}/exchanged/{hash}.json")),
            Key::UpstreamUse {
                upstream,
                id,
                version,
            } => Path::from(format!(
                "{UPSTREAM_PREFIX}/{upstream}/{}/{UPSTREAM_USE_MARKER}",
                version_folder(id, version)
            )),
            Key::UpstreamVulnerabilities { upstream, page } => {
                let folder = format!("{UPSTREAM_PREFIX}/{upstream}/vulnerabilities");
                Path::from(match page {
                    None => format!("{folder}/index.json"),
                    Some(page) => format!("{folder}/pages/{page}.json"),
                })
            }
        }
    }
}

/// Folder of a version's lock generations, inside its version folder.
const LOCK_FOLDER: &str = ".lock";

/// `packages/{id}/{version}`: every object of one version lives under it.
pub fn version_folder(id: &PackageId, version: &NuGetVersion) -> String {
    format!(
        "{PACKAGES_PREFIX}/{}/{}",
        id.lower(),
        version.lower_normalized()
    )
}

/// `packages/{id}/{version}/.lock`: the folder of a version's lock generations.
pub fn lock_folder(id: &PackageId, version: &NuGetVersion) -> String {
    format!("{}/{LOCK_FOLDER}", version_folder(id, version))
}

/// What an object under `packages/` or `symbols/` is, from its path (fsck, gc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A file of a package version; `id` and `version` as the folder names them (lower case).
    Package {
        id: PackageId,
        version: NuGetVersion,
        file: PackageFile,
    },
    /// A generation of a version's lock.
    Lock {
        id: PackageId,
        version: NuGetVersion,
        generation: u64,
    },
    /// A portable PDB of the symbol server.
    Symbol { file: String, key: String },
    /// Anything else (not written by this server, or a layout it does not know).
    Unknown,
}

/// Classifies a stored object's path (the inverse of [`Key::path`] for package, lock and
/// symbol objects).
pub fn classify(path: &Path) -> Stored {
    let parts: Vec<&str> = path.as_ref().split('/').collect();
    match parts.as_slice() {
        [PACKAGES_PREFIX, id, version, name] => {
            let (Ok(pid), Ok(pv)) = (PackageId::parse(id), NuGetVersion::parse(version)) else {
                return Stored::Unknown;
            };
            // Only the canonical folder names: an id or version spelled otherwise is no key's.
            if pid.lower() != *id || pv.lower_normalized() != *version {
                return Stored::Unknown;
            }
            PackageFile::ALL
                .into_iter()
                .find(|&file| {
                    Key::Package {
                        id: &pid,
                        version: &pv,
                        file,
                    }
                    .path()
                    .filename()
                        == Some(*name)
                })
                .map_or(Stored::Unknown, |file| Stored::Package {
                    id: pid,
                    version: pv,
                    file,
                })
        }
        [PACKAGES_PREFIX, id, version, LOCK_FOLDER, generation] => {
            match (
                PackageId::parse(id),
                NuGetVersion::parse(version),
                generation.parse::<u64>(),
            ) {
                (Ok(id), Ok(version), Ok(generation)) => Stored::Lock {
                    id,
                    version,
                    generation,
                },
                _ => Stored::Unknown,
            }
        }
        ["symbols", file, key, file2] if file == file2 => Stored::Symbol {
            file: (*file).to_owned(),
            key: (*key).to_owned(),
        },
        _ => Stored::Unknown,
    }
}

/// The sequence number of an event object, from its path (`None` for anything else).
pub fn event_seq(path: &Path) -> Option<u64> {
    let name = path.filename()?;
    name.strip_suffix(".json")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_paths_are_lower_case_and_normalized() {
        // N-8: blobs live under the metadata-free normalized version.
        let id = PackageId::parse("Contoso.Lib").unwrap();
        let v = NuGetVersion::parse("1.01.0-RC.1+sha.5").unwrap();
        let key = Key::Package {
            id: &id,
            version: &v,
            file: PackageFile::Nupkg,
        };
        assert_eq!(
            key.path().as_ref(),
            "packages/contoso.lib/1.1.0-rc.1/contoso.lib.1.1.0-rc.1.nupkg"
        );
        let nuspec = Key::Package {
            id: &id,
            version: &v,
            file: PackageFile::Nuspec,
        };
        assert_eq!(
            nuspec.path().as_ref(),
            "packages/contoso.lib/1.1.0-rc.1/contoso.lib.nuspec"
        );
    }

    #[test]
    fn package_lock_and_symbol_paths_classify_back() {
        let id = PackageId::parse("Contoso.Lib").unwrap();
        let v = NuGetVersion::parse("1.0-RC").unwrap();
        for file in PackageFile::ALL {
            let path = Key::Package {
                id: &id,
                version: &v,
                file,
            }
            .path();
            assert_eq!(
                classify(&path),
                Stored::Package {
                    id: id.clone(),
                    version: v.clone(),
                    file
                },
                "{path}"
            );
        }
        let lock = Key::Lock {
            id: &id,
            version: &v,
            generation: 7,
        }
        .path();
        assert_eq!(
            lock.as_ref(),
            "packages/contoso.lib/1.0.0-rc/.lock/0000000000000007"
        );
        assert!(matches!(
            classify(&lock),
            Stored::Lock { generation: 7, .. }
        ));
        let pdb = Key::Symbol {
            file: "a.pdb",
            key: "0123ffffffff",
        }
        .path();
        assert_eq!(
            classify(&pdb),
            Stored::Symbol {
                file: "a.pdb".into(),
                key: "0123ffffffff".into()
            }
        );
        for other in [
            "packages/Contoso.Lib/1.0.0-rc/contoso.lib.nuspec",
            "packages/contoso.lib/1.0-rc/contoso.lib.nuspec",
            "packages/contoso.lib/1.0.0-rc/other.nuspec",
            "packages/contoso.lib/1.0.0-rc/.lock/x",
            "catalog/events/0000000000000001.json",
        ] {
            assert_eq!(classify(&Path::from(other)), Stored::Unknown, "{other}");
        }
    }

    #[test]
    fn upstream_cache_paths_live_apart_from_the_feeds_objects() {
        let id = PackageId::parse("Newtonsoft.Json").unwrap();
        let v = NuGetVersion::parse("13.0.3").unwrap();
        let file = Key::UpstreamFile {
            upstream: "nuget-org",
            id: &id,
            version: &v,
            file: PackageFile::Nupkg,
        }
        .path();
        assert_eq!(
            file.as_ref(),
            "upstream/nuget-org/packages/newtonsoft.json/13.0.3/newtonsoft.json.13.0.3.nupkg"
        );
        let doc = Key::UpstreamDoc {
            upstream: "nuget-org",
            hash: "ab12",
        }
        .path();
        assert_eq!(doc.as_ref(), "upstream/nuget-org/docs/ab12");
        let used = Key::UpstreamUse {
            upstream: "nuget-org",
            id: &id,
            version: &v,
        }
        .path();
        assert_eq!(
            used.as_ref(),
            "upstream/nuget-org/packages/newtonsoft.json/13.0.3/.used"
        );
        let vulns = |page| {
            Key::UpstreamVulnerabilities {
                upstream: "nuget-org",
                page,
            }
            .path()
        };
        assert_eq!(
            vulns(None).as_ref(),
            "upstream/nuget-org/vulnerabilities/index.json"
        );
        assert_eq!(
            vulns(Some("base")).as_ref(),
            "upstream/nuget-org/vulnerabilities/pages/base.json"
        );
        // fsck and gc classify only what they list (packages/, symbols/): never these.
        assert_eq!(classify(&file), Stored::Unknown);
        assert!(!file.as_ref().starts_with(PACKAGES_PREFIX));
    }

    #[test]
    fn event_paths_sort_in_log_order_and_round_trip() {
        let p9 = Key::Event(9).path();
        let p10 = Key::Event(10).path();
        assert!(p9.as_ref() < p10.as_ref());
        assert_eq!(event_seq(&p10), Some(10));
        assert_eq!(event_seq(&Key::Snapshot.path()), None);
    }
}
