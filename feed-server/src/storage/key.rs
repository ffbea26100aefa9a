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
}

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
        }
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
    fn event_paths_sort_in_log_order_and_round_trip() {
        let p9 = Key::Event(9).path();
        let p10 = Key::Event(10).path();
        assert!(p9.as_ref() < p10.as_ref());
        assert_eq!(event_seq(&p10), Some(10));
        assert_eq!(event_seq(&Key::Snapshot.path()), None);
    }
}
