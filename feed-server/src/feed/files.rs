//! Reading what the feed stores for the views: a version's package files, portable PDBs, a
//! pre-signed download URL, and whether the store answers at all. The feed decides what is
//! visible (a version without an event is not) and where it lives; handlers never name a key.

use std::time::Duration;

use super::{Feed, Result};
use crate::package::{NuGetVersion, PackageId};
use crate::storage::{self, Key, PackageFile};

impl Feed {
    /// Streams a stored file of a version the feed holds (listed or not). Blobs of versions
    /// without an event (an interrupted push) are never served.
    pub async fn open_file(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
    ) -> Result<Option<storage::Blob>> {
        let Some((id, version)) = self.stored(id, version, file) else {
            return Ok(None);
        };
        let key = Key::Package {
            id: &id,
            version: &version,
            file,
        };
        match self.inner.storage.get_stream(key).await {
            Ok(blob) => Ok(Some(blob)),
            // Deleted between the state check and the read (hard delete).
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams a stored portable PDB by its symbol-server key (SYM-4).
    pub async fn open_symbol(&self, file: &str, key: &str) -> Result<Option<storage::Blob>> {
        let file = file.to_ascii_lowercase();
        let key = key.to_ascii_lowercase();
        if !self.state().has_symbol(&file, &key) {
            return Ok(None);
        }
        match self
            .inner
            .storage
            .get_stream(Key::Symbol {
                file: &file,
                key: &key,
            })
            .await
        {
            Ok(blob) => Ok(Some(blob)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A URL anyone may download `file` of a version the feed holds from, for `expires_in` (the
    /// store serves the bytes), or `None` when there is no such version or file, or the backend
    /// cannot sign (a folder, memory).
    pub async fn signed_file_url(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
        expires_in: Duration,
    ) -> Result<Option<url::Url>> {
        let Some((id, version)) = self.stored(id, version, file) else {
            return Ok(None);
        };
        let key = Key::Package {
            id: &id,
            version: &version,
            file,
        };
        Ok(self.inner.storage.signed_get_url(key, expires_in).await?)
    }

    /// Whether the object store answers, for readiness probes: a HEAD of the snapshot, which
    /// may well be missing (that is an answer too).
    pub async fn check_storage(&self) -> Result<()> {
        match self.inner.storage.head(Key::Snapshot).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The spelling of a version the feed holds (listed or not) whose `file` is stored; `None`
    /// when there is no such version or it has no such file.
    fn stored(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        file: PackageFile,
    ) -> Option<(PackageId, NuGetVersion)> {
        let state = self.state();
        let v = state.version(id, version)?;
        let present = match file {
            PackageFile::Nupkg | PackageFile::Nuspec => true,
            PackageFile::Snupkg => !v.symbols.is_empty(),
            PackageFile::Icon => v.files.icon,
            PackageFile::Readme => v.files.readme,
            PackageFile::License => v.files.license,
        };
        if !present {
            return None;
        }
        Some((v.id().clone(), v.version().clone()))
    }
}
