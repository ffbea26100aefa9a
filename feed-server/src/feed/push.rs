//! Push, symbol push, unlist, relist and delete.
//!
//! A push first reads and checks the whole package ([`Feed::prepare`]), then claims the version
//! by creating its .nupkg create-only: of two concurrent pushes of one version only one can, and
//! the other gets 409 (DESIGN invariant 2). The winner stores the derived files, then appends the
//! event that makes the version visible (invariant 3). A claim whose push died before its event
//! is an orphan: a later push of the same bytes finishes it, and one of other bytes may take it
//! over once it is older than [`storage::CLAIM_GRACE`].

use std::io::Cursor;
use std::path::PathBuf;

use base64::Engine;
use bytes::Bytes;
use chrono::Utc;
use sha2::{Digest, Sha512};

use super::event::{Change, EmbeddedFiles, Pushed, SymbolFile};
use super::{Error, Feed, Result};
use crate::config::DeleteMode;
use crate::package::{Archive, NuGetVersion, Nuspec, PackageId, pdb};
use crate::storage::{self, Key, PackageFile};

/// A package that was read and checked, ready to be pushed.
#[derive(Debug)]
pub struct Prepared {
    nuspec: Nuspec,
    nuspec_bytes: Bytes,
    nupkg: Bytes,
    icon: Option<Bytes>,
    readme: Option<Bytes>,
    license: Option<Bytes>,
    sha512: String,
}

impl Prepared {
    pub fn id(&self) -> &PackageId {
        &self.nuspec.id
    }

    pub fn version(&self) -> &NuGetVersion {
        &self.nuspec.version
    }
}

/// A symbols package that was read and checked.
#[derive(Debug)]
pub struct PreparedSymbols {
    id: PackageId,
    version: NuGetVersion,
    snupkg: Bytes,
    pdbs: Vec<(SymbolFile, Bytes)>,
}

impl PreparedSymbols {
    pub fn id(&self) -> &PackageId {
        &self.id
    }
}

impl Feed {
    /// Reads and checks an uploaded .nupkg (in a temp file). Nothing is stored.
    pub async fn prepare(&self, upload: PathBuf) -> Result<Prepared> {
        let limits = self.inner.options.limits.clone();
        tokio::task::spawn_blocking(move || prepare_blocking(&upload, &limits))
            .await
            .map_err(|e| Error::Rejected(format!("package check failed: {e}")))?
    }

    /// Reads and checks an uploaded .snupkg (in a temp file). Nothing is stored.
    pub async fn prepare_symbols(&self, upload: PathBuf) -> Result<PreparedSymbols> {
        let limits = self.inner.options.limits.clone();
        tokio::task::spawn_blocking(move || prepare_symbols_blocking(&upload, &limits))
            .await
            .map_err(|e| Error::Rejected(format!("symbols package check failed: {e}")))?
    }

    /// Adds a prepared package to the feed (PUB-4: [`Error::AlreadyExists`] for a known version).
    pub async fn push(&self, p: &Prepared) -> Result<()> {
        let (id, version) = (p.id(), p.version());
        let exists = |state: &super::state::FeedState| state.version(id, version).is_some();
        if exists(&self.state()) {
            return Err(already_exists(id, version));
        }
        self.claim(p).await?;
        let derived = [
            (PackageFile::Nuspec, Some(&p.nuspec_bytes)),
            (PackageFile::Icon, p.icon.as_ref()),
            (PackageFile::Readme, p.readme.as_ref()),
            (PackageFile::License, p.license.as_ref()),
        ];
        for (file, bytes) in derived {
            if let Some(bytes) = bytes {
                let key = Key::Package { id, version, file };
                self.inner.storage.put(key, bytes.clone()).await?;
            }
        }
        let pushed = Pushed {
            nuspec: p.nuspec.clone(),
            size: p.nupkg.len() as u64,
            sha512: p.sha512.clone(),
            files: EmbeddedFiles {
                icon: p.icon.is_some(),
                readme: p.readme.is_some(),
                license: p.license.is_some(),
            },
        };
        self.append(id, version, |state| {
            if exists(state) {
                return Err(already_exists(id, version));
            }
            Ok(Some(Change::Push(Box::new(pushed.clone()))))
        })
        .await?;
        tracing::info!(package.id = %id, package.version = %version, "package pushed");
        Ok(())
    }

    /// Creates the version's .nupkg create-only: the one push that manages it may go on.
    async fn claim(&self, p: &Prepared) -> Result<()> {
        let (id, version) = (p.id(), p.version());
        let key = Key::Package {
            id,
            version,
            file: PackageFile::Nupkg,
        };
        // Two rounds: the second follows the removal of an expired orphan.
        for _ in 0..2 {
            match self.inner.storage.create(key, p.nupkg.clone()).await {
                Ok(()) => return Ok(()),
                Err(storage::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            self.catch_up().await?;
            if self.state().version(id, version).is_some() {
                return Err(already_exists(id, version));
            }
            let existing = match self.inner.storage.get(key).await {
                Ok(bytes) => bytes,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            if existing == p.nupkg {
                // The same bytes: an interrupted push of this very package, or a concurrent
                // identical one. Finishing it is safe; the append lets only one succeed.
                return Ok(());
            }
            let meta = self.inner.storage.head(key).await?;
            let age = Utc::now().signed_duration_since(meta.last_modified);
            if age.to_std().unwrap_or_default() < storage::CLAIM_GRACE {
                // Another push of different bytes holds the claim and may still commit.
                return Err(already_exists(id, version));
            }
            tracing::warn!(package.id = %id, package.version = %version, "taking over an expired orphaned push");
            self.inner.storage.delete(key).await?;
        }
        Err(already_exists(id, version))
    }

    /// Stores a symbols package for a version in the feed (SYM-2: 404 when there is none).
    pub async fn push_symbols(&self, p: &PreparedSymbols) -> Result<()> {
        let (id, version) = (&p.id, &p.version);
        if self.state().version(id, version).is_none() {
            return Err(not_found(id, version));
        }
        let key = Key::Package {
            id,
            version,
            file: PackageFile::Snupkg,
        };
        self.inner.storage.put(key, p.snupkg.clone()).await?;
        for (f, bytes) in &p.pdbs {
            let key = Key::Symbol {
                file: &f.file,
                key: &f.key,
            };
            self.inner.storage.put(key, bytes.clone()).await?;
        }
        let files: Vec<SymbolFile> = p.pdbs.iter().map(|(f, _)| f.clone()).collect();
        self.append(id, version, |state| {
            if state.version(id, version).is_none() {
                return Err(not_found(id, version));
            }
            Ok(Some(Change::Symbols {
                files: files.clone(),
            }))
        })
        .await?;
        Ok(())
    }

    /// `DELETE {publish}/{id}/{version}` (PUB-9): unlists, or deletes in `delete` mode.
    pub async fn delete(&self, id: &PackageId, version: &NuGetVersion) -> Result<()> {
        match self.inner.options.delete_mode {
            DeleteMode::Unlist => self.set_listed(id, version, false).await,
            DeleteMode::Delete => self.hard_delete(id, version).await,
        }
    }

    /// Unlists (`false`) or relists (`true`, PUB-10) a version; a no-op when already so.
    pub async fn set_listed(
        &self,
        id: &PackageId,
        version: &NuGetVersion,
        listed: bool,
    ) -> Result<()> {
        self.append(id, version, |state| match state.version(id, version) {
            None => Err(not_found(id, version)),
            Some(v) if v.listed == listed => Ok(None),
            Some(_) if listed => Ok(Some(Change::Relist)),
            Some(_) => Ok(Some(Change::Unlist)),
        })
        .await?;
        Ok(())
    }

    async fn hard_delete(&self, id: &PackageId, version: &NuGetVersion) -> Result<()> {
        let mut failure = None;
        self.append(id, version, |state| match state.version(id, version) {
            None => Err(not_found(id, version)),
            Some(_) => Ok(Some(Change::Delete)),
        })
        .await?;
        // The event made the version invisible; its blobs are now unreferenced. A failure here
        // leaves orphans for `gc`, never a visible version without its files.
        for file in PackageFile::ALL {
            let key = Key::Package { id, version, file };
            if let Err(e) = self.inner.storage.delete(key).await {
                failure = Some(e);
            }
        }
        if let Some(e) = failure {
            tracing::warn!(package.id = %id, package.version = %version, error = %e, "deleted package left files behind");
        }
        Ok(())
    }
}

fn already_exists(id: &PackageId, version: &NuGetVersion) -> Error {
    Error::AlreadyExists {
        id: id.to_string(),
        version: version.to_full(),
    }
}

fn not_found(id: &PackageId, version: &NuGetVersion) -> Error {
    Error::NotFound {
        id: id.to_string(),
        version: version.to_full(),
    }
}

fn prepare_blocking(upload: &std::path::Path, limits: &crate::package::Limits) -> Result<Prepared> {
    let nupkg = Bytes::from(
        std::fs::read(upload)
            .map_err(|e| Error::Rejected(format!("cannot read the uploaded package: {e}")))?,
    );
    let mut archive = Archive::open(Cursor::new(nupkg.clone()), limits)?;
    archive.verify()?;
    let nuspec = archive.nuspec().clone();
    if nuspec.is_symbols_package() {
        return Err(Error::Rejected(
            "this is a symbols package (.snupkg): push it to the symbol package endpoint".into(),
        ));
    }
    let nuspec_bytes = Bytes::copy_from_slice(archive.nuspec_bytes());
    let max = limits.max_embedded_file_bytes;
    let mut embedded = |path: Option<&String>, what: &str| -> Result<Option<Bytes>> {
        let Some(path) = path else { return Ok(None) };
        match archive.read_entry(path, max)? {
            Some(bytes) => Ok(Some(Bytes::from(bytes))),
            None => Err(Error::Rejected(format!(
                "the nuspec names {what} file `{path}` but the package does not contain it"
            ))),
        }
    };
    let icon = embedded(nuspec.icon.as_ref(), "an icon")?;
    let readme = embedded(nuspec.readme.as_ref(), "a readme")?;
    let license_file = nuspec
        .license
        .as_ref()
        .filter(|l| l.kind == crate::package::LicenseKind::File)
        .map(|l| &l.value);
    let license = embedded(license_file, "a license")?;
    let sha512 = base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&nupkg));
    Ok(Prepared {
        nuspec,
        nuspec_bytes,
        nupkg,
        icon,
        readme,
        license,
        sha512,
    })
}

fn prepare_symbols_blocking(
    upload: &std::path::Path,
    limits: &crate::package::Limits,
) -> Result<PreparedSymbols> {
    let snupkg =
        Bytes::from(std::fs::read(upload).map_err(|e| {
            Error::Rejected(format!("cannot read the uploaded symbols package: {e}"))
        })?);
    let mut archive = Archive::open(Cursor::new(snupkg.clone()), limits)?;
    archive.verify()?;
    let nuspec = archive.nuspec().clone();
    // SYM-3: symbol_files checks the package type, the file types and that PDBs are portable.
    let mut pdbs = Vec::new();
    for (path, bytes) in archive.symbol_files()? {
        let pdb_id = pdb::read_portable_pdb_id(&bytes)?;
        let file = path
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(&path)
            .to_ascii_lowercase();
        pdbs.push((
            SymbolFile {
                file,
                key: pdb_id.symbol_key(),
            },
            Bytes::from(bytes),
        ));
    }
    Ok(PreparedSymbols {
        id: nuspec.id,
        version: nuspec.version,
        snupkg,
        pdbs,
    })
}
