//! Icons, readmes and license files of upstream packages (`{flat}/{id}/{version}/icon`,
//! `readme`, `license`, what the registration and search views point at): extracted from the
//! cached `.nupkg` (fetched and stored first when it is not cached) the way a push extracts
//! them from a local one, then stored beside it, so later reads are one object read.

use std::io::Cursor;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::Source;
use super::error::Unreachable;
use super::packages::{FileError, Served};
use super::read_limits::ReadLimits;
use crate::package::{Archive, LicenseKind, Limits, NuGetVersion, PackageId};
use crate::storage::{Blob, PackageFile};

impl Source {
    /// `file` (icon, readme or license) of `id` `version`: stored, else extracted from its
    /// `.nupkg`. `Ok(None)`: the upstream does not have the version, or its nuspec names no
    /// such file.
    pub(super) async fn embedded(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
        limits: ReadLimits<'_>,
    ) -> Result<Option<Served>, FileError> {
        if let Some(blob) = self.files.stored_file(id, version, file).await? {
            return Ok(Some(Served::Stored(blob)));
        }
        let Some(nupkg) = self.package_file(id, version, PackageFile::Nupkg).await? else {
            return Ok(None);
        };
        let nupkg = self.read_whole(nupkg, limits.max_package_bytes).await?;
        let package = limits.package.clone();
        let extracted = tokio::task::spawn_blocking(move || extract(nupkg, &package, file))
            .await
            .map_err(|e| self.broken(format!("reading its package failed: {e}")))?
            .map_err(|e| self.broken(format!("its package {id} {version} is unreadable: {e}")))?;
        let Some(bytes) = extracted else {
            return Ok(None);
        };
        self.files.keep(id, version, file, bytes.clone()).await;
        Ok(Some(Served::Stored(Blob {
            size: bytes.len() as u64,
            stream: futures::stream::once(async move { Ok(bytes) }).boxed(),
        })))
    }

    /// The whole of a package file being served, refused past `max_bytes`.
    async fn read_whole(&self, served: Served, max_bytes: u64) -> Result<Bytes, FileError> {
        let (size, mut stream) = match served {
            Served::Stored(blob) => (Some(blob.size), blob.stream),
            Served::Fetching { size, stream } => (size, stream),
        };
        let too_large = || self.broken(format!("its package is larger than {max_bytes} bytes"));
        if size.is_some_and(|s| s > max_bytes) {
            return Err(too_large());
        }
        let mut whole = Vec::with_capacity(size.unwrap_or_default() as usize);
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| self.broken(format!("its package could not be read: {e}")))?
        {
            if (whole.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_large());
            }
            whole.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(whole))
    }

    fn broken(&self, reason: String) -> FileError {
        FileError::Unreachable(Unreachable {
            upstream: self.name().to_owned(),
            reason,
        })
    }
}

/// The entry the nuspec of `nupkg` names as its icon, readme or license file (as a push reads
/// it); `None` when it names none or the package lacks it.
fn extract(
    nupkg: Bytes,
    limits: &Limits,
    file: PackageFile,
) -> crate::package::Result<Option<Bytes>> {
    let mut archive = Archive::open(Cursor::new(nupkg), limits)?;
    let nuspec = archive.nuspec();
    let path = match file {
        PackageFile::Icon => nuspec.icon.clone(),
        PackageFile::Readme => nuspec.readme.clone(),
        PackageFile::License => nuspec
            .license
            .as_ref()
            .filter(|l| l.kind == LicenseKind::File)
            .map(|l| l.value.clone()),
        PackageFile::Nupkg | PackageFile::Nuspec | PackageFile::Snupkg => None,
    };
    let Some(path) = path else {
        return Ok(None);
    };
    Ok(archive
        .read_entry(&path, limits.max_embedded_file_bytes)?
        .map(Bytes::from))
}
