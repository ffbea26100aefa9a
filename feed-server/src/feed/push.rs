//! Push, symbol push, unlist, relist and delete.
//!
//! A push first reads and checks the whole package ([`Feed::prepare`]), then claims the version
//! by creating its .nupkg create-only: of two concurrent pushes of one version only one can, and
//! the other gets 409 (DESIGN invariant 2). The winner stores the derived files, checks that the
//! claim is still its own, then appends the event that makes the version visible (invariant 3).
//!
//! A claim without an event is an orphan: a push that is still running, or one that died. Which
//! is which can only be told by age, so every step has a deadline and every rule a margin:
//! - A push appends its event within [`COMMIT_DEADLINE`] of its claim, or gives up (503).
//! - A push of the same bytes finishes an orphan younger than that deadline as it is; an older
//!   one it first rewrites (under the version's [`lock`]), which restarts its age.
//! - A push of other bytes takes an orphan over (under the lock) only once it is older than
//!   [`storage::CLAIM_GRACE`], long after its own push had to give up; before that it gets 409.
//! - A hard delete holds the lock from before its Delete event until the version's files are
//!   gone, the claim last; a push that claims the version meanwhile waits for the lock before it
//!   writes anything else, so the deleter never removes a file of the new push (and `gc`, which
//!   also holds the lock and removes only files older than the grace, never either).

use std::io::Cursor;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use sha2::{Digest, Sha512};

use super::error::{already_exists, busy, deleted, not_found};
use super::event::{Change, EmbeddedFiles, Pushed, SymbolFile};
use super::lock::{self, VersionLock};
use super::state::FeedState;
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

    pub fn version(&self) -> &NuGetVersion {
        &self.version
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

    /// Adds a prepared package to the feed (PUB-4: [`Error::AlreadyExists`] for a known version,
    /// [`Error::Deleted`] for a hard-deleted one).
    pub async fn push(&self, p: &Prepared) -> Result<()> {
        let (id, version) = (p.id(), p.version());
        self.check_free(&self.state(), id, version)?;
        let claim = self.claim(p).await?;
        let derived = [
            (PackageFile::Nuspec, Some(&p.nuspec_bytes)),
            (PackageFile::Icon, p.icon.as_ref()),
            (PackageFile::Readme, p.readme.as_ref()),
            (PackageFile::License, p.license.as_ref()),
        ];
        for (file, bytes) in derived {
            if let Some(bytes) = bytes {
                claim.check_deadline()?;
                let key = Key::Package { id, version, file };
                self.inner.storage.put(key, bytes.clone()).await?;
            }
        }
        self.verify_claim(p, &claim).await?;
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
            // The compare-and-swap: of a push and a delete racing, whichever event lands
            // first decides what the other sees here.
            self.check_free(state, id, version)?;
            claim.check_deadline()?;
            Ok(Some(Change::Push(Box::new(pushed.clone()))))
        })
        .await?;
        Ok(())
    }

    /// Whether `state` lets the version be pushed: it is not in the feed, and was not
    /// hard-deleted unless the feed allows reuse (clients may have cached the old bytes).
    fn check_free(&self, state: &FeedState, id: &PackageId, version: &NuGetVersion) -> Result<()> {
        if state.version(id, version).is_some() {
            return Err(already_exists(id, version));
        }
        if !self.inner.options.allow_deleted_version_reuse && state.was_deleted(id, version) {
            return Err(deleted(id, version));
        }
        Ok(())
    }

    /// Claims the version for `p`: afterwards its .nupkg at the version's path is `p`'s bytes,
    /// and nobody holds the version's lock, so nobody removes what this push writes next.
    async fn claim(&self, p: &Prepared) -> Result<Claim> {
        let (id, version) = (p.id(), p.version());
        // Each round ends in a claim, an error, or a change that someone else made (a claim
        // removed by a hard delete that finished, a takeover); a few are plenty.
        for _ in 0..8 {
            let Some(claim) = self.claim_round(p).await? else {
                continue;
            };
            // A fresh claim can follow a hard delete that is still removing the version's
            // other files; wait for it (and for anyone else who holds the lock) to finish.
            if !lock::wait_unlocked(&self.inner.storage, id, version).await? {
                return Err(busy(id, version));
            }
            // The holder we waited for may have removed the orphan we meant to finish.
            match self.inner.storage.head(nupkg_key(p)).await {
                Ok(meta) if claim.is(&meta, p) => return Ok(claim),
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(busy(id, version))
    }

    /// One attempt at a claim; `None` when the store changed under it and it should be retried.
    async fn claim_round(&self, p: &Prepared) -> Result<Option<Claim>> {
        let (id, version) = (p.id(), p.version());
        let key = nupkg_key(p);
        let since = Instant::now();
        match self.inner.storage.create_tagged(key, p.nupkg.clone()).await {
            Ok(e_tag) => return Ok(Some(Claim { since, e_tag })),
            Err(storage::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        // An orphan, or a version pushed by another replica since we last looked.
        self.catch_up().await?;
        self.check_free(&self.state(), id, version)?;
        let Some((meta, identical)) = self.inspect_claim(p).await? else {
            return Ok(None);
        };
        let age = storage::age(meta.last_modified);
        if identical && age < COMMIT_DEADLINE {
            // An interrupted or concurrent push of these very bytes: finish it. Its deadline
            // runs from its own claim, so `gc` and takeovers still leave it alone.
            let since = Instant::now().checked_sub(age).unwrap_or(since);
            return Ok(Some(Claim {
                since,
                e_tag: meta.e_tag,
            }));
        }
        if !identical && age < storage::CLAIM_GRACE {
            // Another push of other bytes holds the claim and may still commit.
            return Err(already_exists(id, version));
        }
        // An old orphan: rewrite it (same bytes) or take it over (other bytes), under the lock
        // so that no hard delete, `gc` or other push acts on it meanwhile. Whoever holds it now
        // may be removing the orphan (then the next round claims afresh) or taking it over
        // (then the next round finds a young claim of other bytes: 409).
        let Some(lock) = lock::lock(&self.inner.storage, id, version).await? else {
            return Err(busy(id, version));
        };
        let result = self.replace_orphan(p, &meta, identical).await;
        if result.is_ok() {
            lock::unlock(&self.inner.storage, lock).await;
        }
        // On a store error the lock is left to go stale: a write that failed may still be
        // carried out, and nobody should act on the version before that is certain.
        result
    }

    /// Under the version's lock: rewrites an old orphan of the same bytes, or takes over one
    /// of other bytes older than the grace. `None` when the orphan changed since `seen`.
    async fn replace_orphan(
        &self,
        p: &Prepared,
        seen: &storage::Meta,
        identical: bool,
    ) -> Result<Option<Claim>> {
        let (id, version) = (p.id(), p.version());
        let key = nupkg_key(p);
        self.catch_up().await?;
        self.check_free(&self.state(), id, version)?;
        match self.inner.storage.head(key).await {
            Ok(meta) if meta.e_tag == seen.e_tag && meta.size == seen.size => {}
            Ok(_) => return Ok(None),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let since = Instant::now();
        if identical {
            let e_tag = self.inner.storage.put_tagged(key, p.nupkg.clone()).await?;
            return Ok(Some(Claim { since, e_tag }));
        }
        tracing::warn!(package.id = %id, package.version = %version, "taking over an expired orphaned push");
        self.inner.storage.delete(key).await?;
        match self.inner.storage.create_tagged(key, p.nupkg.clone()).await {
            Ok(e_tag) => Ok(Some(Claim { since, e_tag })),
            // A fresh claim by another push got in between: it wins.
            Err(storage::Error::AlreadyExists { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The existing claim's metadata and whether it holds `p`'s bytes; `None` if it is gone.
    async fn inspect_claim(&self, p: &Prepared) -> Result<Option<(storage::Meta, bool)>> {
        let key = nupkg_key(p);
        let meta = match self.inner.storage.head(key).await {
            Ok(meta) => meta,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if meta.size != p.nupkg.len() as u64 {
            return Ok(Some((meta, false)));
        }
        match self.inner.storage.get(key).await {
            Ok(bytes) => Ok(Some((meta, bytes == p.nupkg))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks, just before the event is appended, that the claim still holds `p`'s bytes: if
    /// someone took it over or removed it, publishing would point at their bytes or at nothing.
    async fn verify_claim(&self, p: &Prepared, claim: &Claim) -> Result<()> {
        let (id, version) = (p.id(), p.version());
        match self.inner.storage.head(nupkg_key(p)).await {
            Ok(meta) if claim.is(&meta, p) => Ok(()),
            Ok(_) => Err(already_exists(id, version)),
            Err(e) if e.is_not_found() => Err(Error::Busy(format!(
                "the upload of {id} {} was removed while it was being stored; nothing was published: push again",
                version.to_full()
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores a symbols package for a version in the feed (SYM-2: 404 when there is none).
    pub async fn push_symbols(&self, p: &PreparedSymbols) -> Result<()> {
        let (id, version) = (&p.id, &p.version);
        // The package may have been pushed through another replica a moment ago.
        self.catch_up().await?;
        if self.state().version(id, version).is_none() {
            return Err(not_found(id, version));
        }
        // The .snupkg goes into the version's folder, where a hard delete or `gc` may be
        // removing files: take the lock, as they do.
        let Some(lock) = lock::lock(&self.inner.storage, id, version).await? else {
            return Err(busy(id, version));
        };
        let result = self.push_symbols_locked(p, &lock).await;
        if !matches!(result, Err(Error::Storage(_))) {
            lock::unlock(&self.inner.storage, lock).await;
        }
        result?;
        // PDBs live outside the version's folder, where only `gc` removes those that no event
        // references; if it did so just as this push rewrote one, put it back.
        for (f, bytes) in &p.pdbs {
            let key = Key::Symbol {
                file: &f.file,
                key: &f.key,
            };
            match self.inner.storage.head(key).await {
                Err(e) if e.is_not_found() => self.inner.storage.put(key, bytes.clone()).await?,
                _ => {}
            }
        }
        Ok(())
    }

    async fn push_symbols_locked(&self, p: &PreparedSymbols, lock: &VersionLock) -> Result<()> {
        let (id, version) = (&p.id, &p.version);
        let key = Key::Package {
            id,
            version,
            file: PackageFile::Snupkg,
        };
        let too_slow = || {
            Error::Busy(format!(
                "storing the symbols of {id} {} took too long; nothing was published: push again",
                version.to_full()
            ))
        };
        if !lock.may_write() {
            return Err(too_slow());
        }
        self.inner.storage.put(key, p.snupkg.clone()).await?;
        for (f, bytes) in &p.pdbs {
            if !lock.may_write() {
                return Err(too_slow());
            }
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

    /// Appends the Delete event, then removes the version's files. The lock is taken before
    /// the event, so from the moment the version disappears until its last file is gone nobody
    /// else removes or writes its files: a push claiming the version again (possible once the
    /// .nupkg, removed last, is gone) waits for the lock before it writes anything else.
    async fn hard_delete(&self, id: &PackageId, version: &NuGetVersion) -> Result<()> {
        // The version may have been pushed through another replica a moment ago.
        self.catch_up().await?;
        if self.state().version(id, version).is_none() {
            return Err(not_found(id, version));
        }
        let Some(lock) = lock::lock(&self.inner.storage, id, version).await? else {
            return Err(busy(id, version));
        };
        let appended = self
            .append(id, version, |state| match state.version(id, version) {
                None => Err(not_found(id, version)),
                Some(_) => Ok(Some(Change::Delete)),
            })
            .await;
        if let Err(e) = appended {
            if !matches!(e, Error::Storage(_)) {
                lock::unlock(&self.inner.storage, lock).await;
            }
            return Err(e);
        }
        // The event made the version invisible; its files are now unreferenced. If removing
        // them fails or takes too long, the rest are orphans for `gc` and the lock is left to
        // go stale, in case a failed delete is still carried out later.
        const ORDER: [PackageFile; 6] = [
            PackageFile::Nuspec,
            PackageFile::Snupkg,
            PackageFile::Icon,
            PackageFile::Readme,
            PackageFile::License,
            // The claim last: once it is gone, the version may be pushed again.
            PackageFile::Nupkg,
        ];
        for file in ORDER {
            if !lock.may_write() {
                tracing::warn!(package.id = %id, package.version = %version, "removing a deleted package's files took too long; gc will remove the rest");
                return Ok(());
            }
            let key = Key::Package { id, version, file };
            if let Err(e) = self.inner.storage.delete(key).await {
                tracing::warn!(package.id = %id, package.version = %version, error = %e, "deleted package left files behind for gc");
                return Ok(());
            }
        }
        lock::unlock(&self.inner.storage, lock).await;
        Ok(())
    }
}

/// How long a push may take from its claim to its event. Half the claim grace: a claim that
/// someone else may take over (or `gc` remove) is one whose push has given up long before.
pub const COMMIT_DEADLINE: Duration = Duration::from_secs(storage::CLAIM_GRACE.as_secs() / 2);

/// A push's hold on its version's .nupkg path.
#[derive(Debug)]
struct Claim {
    /// When the claim was made (or its orphan last written): the push's deadline runs from it.
    since: Instant,
    /// The claim's version tag, to recognise it later (when the backend has one).
    e_tag: Option<String>,
}

impl Claim {
    /// Whether `meta` (the object at the claim's path) is still this claim with `p`'s bytes.
    fn is(&self, meta: &storage::Meta, p: &Prepared) -> bool {
        meta.size == p.nupkg.len() as u64
            && match (&self.e_tag, &meta.e_tag) {
                (Some(ours), Some(theirs)) => ours == theirs,
                _ => true,
            }
    }

    fn check_deadline(&self) -> Result<()> {
        if self.since.elapsed() < COMMIT_DEADLINE {
            return Ok(());
        }
        Err(Error::Busy(format!(
            "storing the package took longer than {} s, so it was not published: push again",
            COMMIT_DEADLINE.as_secs()
        )))
    }
}

fn nupkg_key(p: &Prepared) -> Key<'_> {
    Key::Package {
        id: p.id(),
        version: p.version(),
        file: PackageFile::Nupkg,
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
