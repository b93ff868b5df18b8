//! `pg2lite rollback`: puts a backup of a SQLite target back (backups themselves are
//! [`crate::sqlite::backup`]).
//!
//! Reads: the target database (through SQLite, so a WAL file's changes are included) and the
//! backup directory. Writes: `<dir>/<stem>-<UTC time>.db` with a `sha256sum`-format
//! `.sha256` beside it ([`backup`]); on rollback, the target itself ([`run`]) and the target's
//! rollback record `<dir>/<stem>.pg2lite-rollback.json`. Never touches Postgres, and never
//! writes into a SQLite file to record anything.
//!
//! Stepping: the record names the backup the target was last restored from, with the
//! target's SHA-256 as restored, and the backups that a rollback wrote (of the target it
//! replaced). When the target's SHA-256 still matches, the target came from that backup, and
//! the next rollback restores the newest backup older than it (by the time in the names), so
//! rollback after rollback walks the target's history backwards and never lands on the file
//! it just replaced (that backup is the newest of all). When it does not match (an import
//! replaced the target since, or it was edited), or there is no record, the current file is
//! newer than every backup, and the newest backup is restored. [`list`] shows the same facts.
//! Two rollbacks of one target started at the same instant are not ordered against each
//! other: the swap is (the target's `.partial` is claimed), the record is last-writer-wins.
//!

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::fsio;
use crate::model::manifest::sha256_file;
use crate::partial;
use crate::progress::Progress;

use crate::sqlite::backup::*;
pub use crate::sqlite::backup::{Backup, DEFAULT_BACKUP_DIR, Error, SUM_SUFFIX};

/// How the name of a target's rollback record ends: `<stem>.pg2lite-rollback.json`.
pub const RECORD_SUFFIX: &str = ".pg2lite-rollback.json";

/// What `pg2lite rollback` is asked to do.
#[derive(Debug, Clone)]
pub struct RollbackOptions {
    /// The SQLite database to put a backup back into; it need not exist.
    pub target: PathBuf,
    /// Where the backups are, and where the current target's backup goes.
    pub backup_dir: PathBuf,
    /// A given backup to restore, instead of stepping one back; stepping continues from it.
    pub to: Option<PathBuf>,
}

/// What a rollback did.
#[derive(Debug, Clone)]
pub struct RollbackSummary {
    /// The target that was replaced.
    pub target: PathBuf,
    /// The backup put back, as checked.
    pub restored: Backup,
    /// The backup of the target as it was before the rollback; `None` when there was no
    /// target.
    pub previous: Option<Backup>,
}

/// Puts a backup back in place of `opts.target`: the one given with `to`, or else one step
/// back in the target's history (see the module's "Stepping"): the newest backup older than
/// the one the target was restored from, or the newest backup when the target did not come
/// from a rollback. The choice is made before the current target is itself backed up, and the
/// rollback record is updated before the swap, so an interrupted rollback never leaves a
/// record that matches a target it did not restore.
///
/// # Errors
/// [`Error::NoBackup`], [`Error::NothingOlder`], [`Error::BackupMissing`], the checksum
/// errors, [`Error::NotRegular`], [`Error::InUse`], [`Error::RecordMalformed`], and I/O or
/// SQLite errors naming the file. On any error before the final rename the target is
/// unchanged.
pub fn run(opts: &RollbackOptions, progress: &dyn Progress) -> Result<RollbackSummary, Error> {
    let stem = backup_stem(&opts.target)?;
    let mut record = Record::read(&opts.backup_dir, &stem)?;
    ensure_not_in_use(&opts.target)?;
    let chosen = match &opts.to {
        Some(p) => p.clone(),
        None => step_back(&opts.target, &opts.backup_dir, &record)?,
    };
    let restored = check_backup(&chosen)?;
    let previous = if opts.target.exists() {
        Some(backup(&opts.target, &opts.backup_dir, progress)?)
    } else {
        None
    };
    if let Some(p) = &previous {
        record.made_by_rollback.insert(file_name(&p.path));
    }
    let restored_name = file_name(&restored.path);
    record.current = Some(Restored { backup: restored_name, sha256: restored.sha256.clone() });
    record.write(&opts.backup_dir, &stem)?;
    swap_in(&restored, &opts.target)?;
    Ok(RollbackSummary { target: opts.target.clone(), restored, previous })
}

/// The backup one step back from the current target (see the module's "Stepping").
fn step_back(target: &Path, dir: &Path, record: &Record) -> Result<PathBuf, Error> {
    let stem = backup_stem(target)?;
    let found = backups_of(target, dir)?;
    let (Some(oldest), Some(newest)) = (found.first(), found.last()) else {
        return Err(no_backup(target, dir, &stem));
    };
    let Some(from) = came_from(target, record)? else { return Ok(newest.path.clone()) };
    let Some(from_key) = backup_key(&from, &stem) else { return Ok(newest.path.clone()) };
    match found.iter().rev().find(|f| f.key < from_key) {
        Some(f) => Ok(f.path.clone()),
        None => Err(Error::NothingOlder {
            target: target.into(),
            dir: dir.into(),
            from,
            oldest: oldest.name.clone(),
        }),
    }
}

/// The name of the backup the target was last restored from, when the target is still
/// byte-for-byte what that rollback put there.
fn came_from(target: &Path, record: &Record) -> Result<Option<String>, Error> {
    let Some(current) = &record.current else { return Ok(None) };
    if !target.is_file() {
        return Ok(None);
    }
    let (sha256, _) = sha256_file(target).map_err(io_err("read", target))?;
    Ok((sha256 == current.sha256).then(|| current.backup.clone()))
}

/// A target's rollback record, `<backup dir>/<stem>.pg2lite-rollback.json`: what the last
/// rollback restored, and which backups a rollback wrote. Kept beside the backups, never in
/// the SQLite file.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    /// The record's format, 1.
    version: u32,
    /// The backup the last rollback restored, and the target's SHA-256 as restored.
    current: Option<Restored>,
    /// File names of the backups written by a rollback, of the target it replaced.
    made_by_rollback: BTreeSet<String>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Restored {
    backup: String,
    sha256: String,
}

impl Record {
    fn name(stem: &str) -> String {
        format!("{stem}{RECORD_SUFFIX}")
    }

    /// The record, or an empty one when there is none; read only as a regular file.
    fn read(dir: &Path, stem: &str) -> Result<Record, Error> {
        let name = Record::name(stem);
        let bytes = match fsio::read(dir, &name, SMALL_FILE_LIMIT) {
            Ok(b) => b,
            Err(e) if matches!(e.kind, fsio::Kind::NotFound) => return Ok(Record::default()),
            Err(e) => return Err(refused(e)),
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::RecordMalformed { path: dir.join(&name), why: e.to_string() })
    }

    /// Replaces the record with one rename (never writing through a link).
    fn write(&mut self, dir: &Path, stem: &str) -> Result<(), Error> {
        self.version = 1;
        fs::create_dir_all(dir).map_err(io_err("create the backup directory", dir))?;
        let path = dir.join(Record::name(stem));
        let write = || -> io::Result<()> {
            let mut tmp = tempfile::Builder::new().prefix(".pg2lite-record-").tempfile_in(dir)?;
            serde_json::to_writer_pretty(&mut tmp, self)?;
            io::Write::write_all(&mut tmp, b"\n")?;
            tmp.as_file().sync_all()?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        write().map_err(io_err("write", &path))?;
        sync_dir(dir)
    }
}

/// What a backup's `.sha256` says about it, as `rollback --list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// The file matches its `.sha256`.
    Ok,
    /// The file does not match: changed or damaged since it was written.
    Changed,
    /// There is no `.sha256` beside it.
    Missing,
    /// It, or its `.sha256`, cannot be checked (a link, not a sha256sum line, ...): why.
    Refused(String),
}

impl Checksum {
    /// `ok`, `changed`, `no .sha256`, `refused`.
    pub fn label(&self) -> &'static str {
        match self {
            Checksum::Ok => "ok",
            Checksum::Changed => "changed",
            Checksum::Missing => "no .sha256",
            Checksum::Refused(_) => "refused",
        }
    }
}

/// One backup of a target, as `rollback --list` shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The backup file, in the backup directory.
    pub path: PathBuf,
    /// The UTC time in its name (`None` when the digits are not a real time).
    pub time: Option<chrono::NaiveDateTime>,
    /// Its size; `None` when it is not a regular file (a link is not followed).
    pub bytes: Option<u64>,
    /// Whether it matches its `.sha256`, read when listing.
    pub checksum: Checksum,
    /// The current target is, byte for byte, what the last rollback restored from this one.
    pub current: bool,
    /// Written by a rollback, of the target that rollback replaced.
    pub made_by_rollback: bool,
}

/// Every backup of `target` in `dir`, newest first, each checked against its `.sha256` (read
/// as [`check_backup`] reads it: regular files only). Empty when there is none.
///
/// # Errors
/// I/O errors listing the directory or hashing the target, and a rollback record that is a
/// link or not valid.
pub fn list(target: &Path, dir: &Path) -> Result<Vec<Listed>, Error> {
    let record = Record::read(dir, &backup_stem(target)?)?;
    let from = came_from(target, &record)?;
    let mut listed: Vec<Listed> = backups_of(target, dir)?
        .into_iter()
        .map(|f| Listed {
            time: chrono::NaiveDateTime::parse_from_str(&f.key.0, "%Y%m%dT%H%M%S%.6fZ").ok(),
            bytes: fs::symlink_metadata(&f.path).ok().filter(|m| m.is_file()).map(|m| m.len()),
            checksum: checksum_of(&f.path),
            current: from.as_deref() == Some(f.name.as_str()),
            made_by_rollback: record.made_by_rollback.contains(&f.name),
            path: f.path,
        })
        .collect();
    listed.reverse();
    Ok(listed)
}

fn checksum_of(path: &Path) -> Checksum {
    match check_backup(path) {
        Ok(_) => Checksum::Ok,
        Err(Error::SumMismatch { .. }) => Checksum::Changed,
        Err(Error::SumMissing { .. }) => Checksum::Missing,
        Err(e) => Checksum::Refused(e.to_string()),
    }
}

/// Copies the checked backup beside the target, hashing it again as it is copied, then
/// renames it over the target.
///
/// Only called after [`ensure_not_in_use`], so the side files left are stale and would
/// otherwise be replayed into the restored database on its next open.
fn swap_in(restored: &Backup, target: &Path) -> Result<(), Error> {
    let dir = parent_dir(target);
    fs::create_dir_all(&dir).map_err(io_err("create the directory", &dir))?;
    let partial = with_suffix(target, ".partial");
    // The name an import of this target uses too: claimed, so neither removes the other's.
    let claimed =
        partial::claim_file(&partial, &SIDE_FILES).map_err(|e| Error::Partial(Box::new(e)))?;
    if let Err(e) = copy_checked(restored, &partial) {
        fs::remove_file(&partial).map_err(io_err("remove", &partial))?;
        return Err(e);
    }
    remove_side_files(target)?;
    fs::rename(&partial, target).map_err(io_err("rename the restored file over", target))?;
    drop(claimed);
    sync_dir(&dir)
}

/// Writes the backup into `dest` (with its permissions) from a handle opened as
/// [`check_backup`] opens it, and refuses it unless it still has the checked SHA-256.
fn copy_checked(restored: &Backup, dest: &Path) -> Result<(), Error> {
    let (dir, name) = split(&restored.path)?;
    let file = fsio::open(&dir, &name).map_err(refused)?;
    let perms = file.metadata().map_err(io_err("read the metadata of", &restored.path))?;
    let mut out = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(dest)
        .map_err(io_err("open", dest))?;
    let mut reader = Hashing::new(file);
    io::copy(&mut reader, &mut out).map_err(io_err("copy the backup to", dest))?;
    let (actual, _) = reader.finish();
    if actual != restored.sha256 {
        return Err(Error::ChangedDuringRestore {
            backup: restored.path.clone(),
            recorded: restored.sha256.clone(),
            actual,
        });
    }
    fs::set_permissions(dest, perms.permissions())
        .map_err(io_err("set the permissions of", dest))?;
    out.sync_all().map_err(io_err("fsync", dest))
}
