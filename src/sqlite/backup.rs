//! Backups of a SQLite target: made by import (before it replaces a target) and by rollback
//! (before it puts an older file back), found, checked and copied. The `pg2lite rollback`
//! command itself, which steps through them, is `crate::rollback`.
//!
//! Reads: the target database (through SQLite, so a WAL file's changes are included) and the
//! backup directory. Writes: `<dir>/<stem>-<UTC time>.db` with a `sha256sum`-format
//! `.sha256` beside it ([`backup`]). Never touches Postgres.
//!
//! Guarantees:
//! - a backup is complete before it has its final name: it is written under a temporary name
//!   in the backup directory with SQLite's online backup API (consistent even while a WAL
//!   file holds un-checkpointed changes), fsynced, then renamed without overwriting anything;
//!   `cd backups && sha256sum -c <name>.db.sha256` verifies it with standard tools;
//! - backup names sort by time (`YYYYMMDDTHHMMSS.ffffffZ`, microseconds), so "the newest
//!   backup" is read from the names alone;
//! - backups and their `.sha256` files are read only as regular files, never through a
//!   symbolic link ([`crate::fsio`]), and the restored copy is hashed again as it is written;
//! - rollback refuses a backup whose `.sha256` is missing or does not match, and a target
//!   another program is using, before changing anything; it backs up the current target
//!   first (so a rollback can be undone by another rollback), then swaps the backup in with
//!   one `rename`, so the target is always either the old file or the restored one.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags};
use sha2::{Digest, Sha256};

use crate::fsio;
use crate::model::manifest::sha256_file;
use crate::partial;
use crate::progress::Progress;

/// Where backups go unless `--backup-dir` says otherwise (DESIGN "Layout").
pub const DEFAULT_BACKUP_DIR: &str = "backups";

/// The suffix of the checksum file written beside each backup.
pub const SUM_SUFFIX: &str = ".sha256";

/// The most a `.sha256` file or a rollback record may hold before it is refused unread.
pub(crate) const SMALL_FILE_LIMIT: u64 = 1 << 20;

/// How a backup's temporary file's name begins.
pub(crate) const TEMP_PREFIX: &str = ".pg2lite-backup-";

/// The side files SQLite keeps beside a database while it is open (or after a crash).
pub(crate) const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// What went wrong, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system call failed on a backup, its `.sha256`, the directory or the target.
    #[error("{path}: cannot {action}: {cause}")]
    Io {
        /// What was being done, as a verb phrase ("create the backup directory", "fsync").
        action: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// The operating system's error.
        cause: io::Error,
    },
    /// SQLite could not open, read or copy a database (the target, or a backup being restored).
    #[error("{path}: {action}: {cause}")]
    Sqlite {
        /// What was being done ("open", "back up").
        action: &'static str,
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        cause: rusqlite::Error,
    },
    #[error("{path} is in use by another program ({why}); close the program using it and retry")]
    /// Another program has the target open, so replacing it now could lose that program's
    /// writes.
    InUse {
        /// The target database.
        path: PathBuf,
        /// How that was seen: a lock held, or `-wal`/`-shm` files that stay after closing.
        why: &'static str,
    },
    #[error(
        "no backup of {target} found in {dir} (looked for {pattern}); import and migrate \
         create backups there when they replace a target (or give --backup-dir / --to)"
    )]
    /// Rollback found no backup of the target in the backup directory.
    NoBackup {
        /// The target database.
        target: PathBuf,
        /// The backup directory searched.
        dir: PathBuf,
        /// The file name pattern searched for (`<stem>-*.db`).
        pattern: String,
    },
    #[error(
        "{target} came from the backup {from}, and no backup of it in {dir} is older (the oldest \
         is {oldest}): there is nothing older to roll back to; nothing was changed \
         (`pg2lite rollback --list` shows the backups, `--to` puts back any of them)"
    )]
    /// The target was restored from the oldest backup already: a plain rollback has no
    /// earlier step to take.
    NothingOlder {
        /// The target database.
        target: PathBuf,
        /// The backup directory.
        dir: PathBuf,
        /// File name of the backup the rollback record says the target came from.
        from: String,
        /// File name of the oldest backup in `dir`.
        oldest: String,
    },
    #[error("{backup}: no such backup file")]
    /// The backup given with `rollback --to` does not exist.
    BackupMissing {
        /// The path as given.
        backup: PathBuf,
    },
    #[error(
        "{path}: refused, it is {what}, not a regular file; backups and their .sha256 files \
         are read only as regular files (a link is not followed); nothing was changed"
    )]
    /// A backup, `.sha256` or rollback record is a link, directory or other non-regular file.
    NotRegular {
        /// The file refused.
        path: PathBuf,
        /// What it is instead ("a symbolic link", "a directory").
        what: String,
    },
    /// A backup-side file could not be read for another reason (too large, permissions, I/O).
    #[error("{0}; nothing was changed")]
    Unreadable(Box<fsio::Error>),
    #[error(
        "{path}: the rollback record is not valid ({why}); remove it to roll back to the \
         newest backup, or use --to; nothing was changed"
    )]
    /// The rollback record (which backup the target was last restored from) is not valid JSON
    /// of the expected shape.
    RecordMalformed {
        /// The record file.
        path: PathBuf,
        /// serde_json's description of the problem.
        why: String,
    },
    #[error(
        "{backup}: refused, its checksum file {sums} is missing, so the backup cannot be \
         proven intact; nothing was changed"
    )]
    /// The backup has no `.sha256` beside it, so its integrity cannot be checked.
    SumMissing {
        /// The backup file.
        backup: PathBuf,
        /// The checksum file looked for.
        sums: PathBuf,
    },
    #[error(
        "{backup}: refused, {sums} is not a sha256sum line for this file ({why}); nothing \
         was changed"
    )]
    /// The `.sha256` is not one `sha256sum` line naming this backup.
    SumMalformed {
        /// The backup file.
        backup: PathBuf,
        /// The checksum file.
        sums: PathBuf,
        /// What is wrong with the line.
        why: String,
    },
    #[error(
        "{backup}: refused, the backup was changed or damaged (sha256 is {actual}, {sums} \
         records {recorded}); nothing was changed"
    )]
    /// The backup's SHA-256 differs from its `.sha256`: it was changed or damaged.
    SumMismatch {
        /// The backup file.
        backup: PathBuf,
        /// The checksum file.
        sums: PathBuf,
        /// The hex digest the `.sha256` holds.
        recorded: String,
        /// The hex digest of the file as read now.
        actual: String,
    },
    #[error(
        "{backup}: refused, it changed while it was being restored (sha256 {actual}, checked \
         as {recorded}); the target was not replaced"
    )]
    /// The backup matched its `.sha256` when checked, but the bytes copied into place hash
    /// differently: it changed between the check and the copy.
    ChangedDuringRestore {
        /// The backup file.
        backup: PathBuf,
        /// The hex digest checked before the copy.
        recorded: String,
        /// The hex digest of the bytes copied.
        actual: String,
    },
    /// Claiming or cleaning up a temporary file failed (see [`partial::Error`]).
    #[error(transparent)]
    Partial(Box<partial::Error>),
}

/// A backup file as written or checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// Where the backup is (`<dir>/<stem>-<UTC time>.db`).
    pub path: PathBuf,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    /// The file's size in bytes.
    pub bytes: u64,
}

/// Copies `target` into `dir` (created if missing) as `<file stem>-<UTC time>.db`, with
/// `<backup>.sha256` beside it in `sha256sum` format, and returns its path, sum and size.
///
/// The copy is made with SQLite's online backup API, so it is a consistent database even when
/// the target is in WAL mode with changes not yet checkpointed. The file takes the target's
/// permissions, so a restored target keeps them.
///
/// # Errors
/// [`Error::Io`] for the directory or the files, [`Error::Sqlite`] when the target cannot be
/// read as a database.
pub fn backup(target: &Path, dir: &Path, progress: &dyn Progress) -> Result<Backup, Error> {
    fs::create_dir_all(dir).map_err(io_err("create the backup directory", dir))?;
    let tmp = locked_temp_file(dir, progress)?;
    copy_database(target, tmp.path())?;
    remove_side_files(tmp.path())?;
    let perms = fs::metadata(target).map_err(io_err("read the metadata of", target))?;
    fs::set_permissions(tmp.path(), perms.permissions())
        .map_err(io_err("set the permissions of", tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_err("fsync", tmp.path()))?;
    let (sha256, bytes) = sha256_file(tmp.path()).map_err(io_err("read", tmp.path()))?;
    let path = persist_unique(tmp, &backup_stem(target)?, dir)?;
    write_sum(&path, &sha256)?;
    sync_dir(dir)?;
    Ok(Backup { path, sha256, bytes })
}

/// The backup's temporary file, `.pg2lite-backup-*.partial`, locked for as long as it
/// exists ([`crate::partial`]), after removing (and naming) those that interrupted backups
/// left in `dir`.
pub(crate) fn locked_temp_file(
    dir: &Path,
    progress: &dyn Progress,
) -> Result<tempfile::NamedTempFile, Error> {
    let create =
        || tempfile::Builder::new().prefix(TEMP_PREFIX).suffix(".partial").tempfile_in(dir);
    let file_of: fn(&tempfile::NamedTempFile) -> &File = tempfile::NamedTempFile::as_file;
    let (tmp, removed) = partial::create_locked(dir, is_temp_name, create, file_of)
        .map_err(|e| Error::Partial(Box::new(e)))?;
    for path in removed {
        progress
            .message(&format!("removed {}, left by a backup that was interrupted", path.display()));
    }
    Ok(tmp)
}

/// The name of a backup's temporary file.
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(".partial")
}

/// Refuses a target another process is using.
///
/// Takes SQLite's write lock with no busy wait (`BEGIN EXCLUSIVE`: in WAL mode the same as
/// `IMMEDIATE`; in rollback-journal mode it also fails while another connection is reading),
/// releases it, closes, and then checks that `<target>-wal` and `<target>-shm` are gone: the
/// last connection to close a WAL database removes them, so if they remain, another
/// connection still has it open. A target that does not exist is not in use.
///
/// # Errors
/// [`Error::InUse`] naming the file, or [`Error::Sqlite`] when it cannot be opened as a
/// database.
pub fn ensure_not_in_use(target: &Path) -> Result<(), Error> {
    if !target.exists() {
        return Ok(());
    }
    let conn = open_existing(target)?;
    let sql_err = |cause| Error::Sqlite { action: "cannot lock it", path: target.into(), cause };
    conn.busy_timeout(std::time::Duration::ZERO).map_err(sql_err)?;
    match conn.execute_batch("BEGIN EXCLUSIVE; ROLLBACK;") {
        Ok(()) => {}
        Err(e) if is_busy(&e) => {
            return Err(Error::InUse { path: target.into(), why: "it holds a lock" });
        }
        Err(e) => return Err(sql_err(e)),
    }
    close(conn, target)?;
    if side_file(target, "-wal").exists() || side_file(target, "-shm").exists() {
        return Err(Error::InUse {
            path: target.into(),
            why: "another connection keeps it open: its -wal/-shm files remain",
        });
    }
    Ok(())
}

/// A directory entry named as a backup of the target (not necessarily a regular file).
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) key: (String, u32),
    pub(crate) name: String,
    pub(crate) path: PathBuf,
}

/// The entries of `dir` named `<stem>-<time>[-N].db` for `target`, oldest first; none when
/// the directory does not exist. Nothing is opened or followed.
pub(crate) fn backups_of(target: &Path, dir: &Path) -> Result<Vec<Found>, Error> {
    let stem = backup_stem(target)?;
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::Io { action: "list", path: dir.into(), cause: e }),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if let Some(key) = backup_key(&name, &stem) {
            found.push(Found { key, path: entry.path(), name });
        }
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}

/// The newest `<stem>-<time>[-N].db` in `dir` for `target`.
///
/// # Errors
/// [`Error::NoBackup`] when there is none (or no such directory).
pub fn newest_backup(target: &Path, dir: &Path) -> Result<PathBuf, Error> {
    let stem = backup_stem(target)?;
    let found = backups_of(target, dir)?;
    found.last().map(|f| f.path.clone()).ok_or_else(|| no_backup(target, dir, &stem))
}

/// Checks a backup against its `.sha256` file, reading both only as regular files (no
/// symbolic link is followed, nothing that could block is opened).
///
/// # Errors
/// [`Error::BackupMissing`], [`Error::SumMissing`], [`Error::SumMalformed`],
/// [`Error::SumMismatch`] or [`Error::NotRegular`], each naming the file.
pub fn check_backup(path: &Path) -> Result<Backup, Error> {
    let (dir, name) = split(path)?;
    let file = fsio::open(&dir, &name).map_err(|e| match e.kind {
        fsio::Kind::NotFound => Error::BackupMissing { backup: path.into() },
        _ => refused(e),
    })?;
    let sums = sum_path(path);
    let sum_name = format!("{name}{SUM_SUFFIX}");
    let text = fsio::read(&dir, &sum_name, SMALL_FILE_LIMIT).map_err(|e| match e.kind {
        fsio::Kind::NotFound => Error::SumMissing { backup: path.into(), sums: sums.clone() },
        _ => refused(e),
    })?;
    let text = String::from_utf8_lossy(&text);
    let recorded = parse_sum_line(&text, path).map_err(|why| Error::SumMalformed {
        backup: path.into(),
        sums: sums.clone(),
        why,
    })?;
    let (actual, bytes) = Hashing::new(file).drain().map_err(io_err("read", path))?;
    if actual != recorded {
        return Err(Error::SumMismatch { backup: path.into(), sums, recorded, actual });
    }
    Ok(Backup { path: path.into(), sha256: actual, bytes })
}

/// A file [`fsio`] would not read, as this module's error.
pub(crate) fn refused(e: fsio::Error) -> Error {
    match e.kind {
        fsio::Kind::NotRegular { what } => Error::NotRegular { path: e.path, what },
        _ => Error::Unreadable(Box::new(e)),
    }
}

/// A path as the directory that holds it and its (UTF-8) file name, as [`fsio`] takes them.
pub(crate) fn split(path: &Path) -> Result<(PathBuf, String), Error> {
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| Error::Io {
        action: "read",
        path: path.into(),
        cause: io::Error::new(io::ErrorKind::InvalidInput, "not a UTF-8 file name"),
    })?;
    Ok((parent_dir(path), name.to_owned()))
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A reader that hashes what passes through it, so a file is hashed from the one handle that
/// was checked (and, on restore, hashed again as it is copied).
pub(crate) struct Hashing<R> {
    pub(crate) inner: R,
    pub(crate) hasher: Sha256,
    pub(crate) bytes: u64,
}

impl<R: Read> Hashing<R> {
    pub(crate) fn new(inner: R) -> Self {
        Hashing { inner, hasher: Sha256::new(), bytes: 0 }
    }

    /// Reads to the end, returning the hex SHA-256 and the length.
    fn drain(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(self.finish())
    }

    pub(crate) fn finish(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.bytes)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// The recorded sum from `<64 hex>  <file name>\n` (`*` before the name, binary mode, too).
pub(crate) fn parse_sum_line(text: &str, backup: &Path) -> Result<String, String> {
    let line = text.lines().next().unwrap_or("");
    let (hex, rest) = line.split_once(' ').ok_or("expected '<sha256>  <file name>'")?;
    let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*')).unwrap_or(rest);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{hex:?} is not a SHA-256 in hex"));
    }
    let expected = backup.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    if name != expected {
        return Err(format!("it names {name:?}, not {expected:?}"));
    }
    Ok(hex.to_ascii_lowercase())
}

/// The online backup of `target` into the (empty) database file `dest`.
pub(crate) fn copy_database(target: &Path, dest: &Path) -> Result<(), Error> {
    let conn = open_existing(target)?;
    conn.backup(rusqlite::MAIN_DB, dest, None::<fn(rusqlite::backup::Progress)>).map_err(
        |cause| Error::Sqlite { action: "cannot back it up", path: target.into(), cause },
    )?;
    close(conn, target)
}

/// Opens an existing database read-write (never creating one): read-write so that, as the
/// last connection, closing checkpoints the WAL and removes the side files.
pub(crate) fn open_existing(path: &Path) -> Result<Connection, Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(path, flags).map_err(|cause| Error::Sqlite {
        action: "cannot open as a SQLite database",
        path: path.into(),
        cause,
    })
}

pub(crate) fn close(conn: Connection, path: &Path) -> Result<(), Error> {
    conn.close().map_err(|(_, cause)| Error::Sqlite {
        action: "cannot close",
        path: path.into(),
        cause,
    })
}

pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

/// Gives the finished temporary file its name, `<stem>-<time>.db`, or `-2`, `-3`, ... when
/// that exists; never overwrites a file.
pub(crate) fn persist_unique(
    mut tmp: tempfile::NamedTempFile,
    stem: &str,
    dir: &Path,
) -> Result<PathBuf, Error> {
    let time = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ").to_string();
    for n in 1u32.. {
        let name =
            if n == 1 { format!("{stem}-{time}.db") } else { format!("{stem}-{time}-{n}.db") };
        let path = dir.join(name);
        match tmp.persist_noclobber(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => tmp = e.file,
            Err(e) => return Err(Error::Io { action: "name the backup", path, cause: e.error }),
        }
    }
    unreachable!("u32 suffixes do not run out before a free name is found")
}

/// `<hex>  <file name>\n`, so that `sha256sum -c` run in the backup directory checks it.
pub(crate) fn write_sum(backup: &Path, sha256: &str) -> Result<(), Error> {
    let name = backup.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let path = sum_path(backup);
    let write = || -> io::Result<()> {
        let f = File::create(&path)?;
        io::Write::write_all(&mut &f, format!("{sha256}  {name}\n").as_bytes())?;
        f.sync_all()
    };
    write().map_err(io_err("write", &path))
}

/// The part of backup names that says which target they belong to: the file stem.
pub(crate) fn backup_stem(target: &Path) -> Result<String, Error> {
    target.file_stem().map(|s| s.to_string_lossy().into_owned()).ok_or_else(|| Error::Io {
        action: "use as a database file",
        path: target.into(),
        cause: io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"),
    })
}

/// The sort key (time, counter) of `name` when it is `<stem>-<time>[-N].db`.
pub(crate) fn backup_key(name: &str, stem: &str) -> Option<(String, u32)> {
    let rest = name.strip_prefix(stem)?.strip_prefix('-')?.strip_suffix(".db")?;
    let (time, n) = match rest.split_at_checked(23)? {
        (t, "") => (t, 1),
        (t, suffix) => (t, suffix.strip_prefix('-')?.parse::<u32>().ok().filter(|&n| n >= 2)?),
    };
    is_backup_time(time).then(|| (time.to_owned(), n))
}

/// `YYYYMMDDTHHMMSS.ffffffZ`.
pub(crate) fn is_backup_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 23
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 => c == b'T',
            15 => c == b'.',
            22 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

pub(crate) fn remove_side_files(db: &Path) -> Result<(), Error> {
    for suffix in SIDE_FILES {
        let path = side_file(db, suffix);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::Io { action: "remove", path, cause: e }),
        }
    }
    Ok(())
}

pub(crate) fn side_file(db: &Path, suffix: &str) -> PathBuf {
    with_suffix(db, suffix)
}

/// `<backup>.sha256`.
pub fn sum_path(backup: &Path) -> PathBuf {
    with_suffix(backup, SUM_SUFFIX)
}

pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Makes a rename or a new file in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    partial::sync_dir(dir).map_err(io_err("fsync the directory", dir))
}

pub(crate) fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error + use<> {
    let path = path.to_owned();
    move |cause| Error::Io { action, path, cause }
}

pub(crate) fn no_backup(target: &Path, dir: &Path, stem: &str) -> Error {
    Error::NoBackup {
        target: target.into(),
        dir: dir.into(),
        pattern: format!("{stem}-YYYYMMDDTHHMMSS.ffffffZ.db"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_of_the_target_are_recognised_and_others_are_not() {
        let t = "20240102T030405.123456Z";
        assert_eq!(backup_key(&format!("app-{t}.db"), "app"), Some((t.into(), 1)));
        assert_eq!(backup_key(&format!("app-{t}-3.db"), "app"), Some((t.into(), 3)));
        assert_eq!(backup_key(&format!("app-2-{t}.db"), "app"), None);
        assert_eq!(backup_key(&format!("app-{t}.db.sha256"), "app"), None);
        assert_eq!(backup_key(&format!("app-{t}-1.db"), "app"), None);
        assert_eq!(backup_key("app-20240102T030405Z.db", "app"), None);
        assert_eq!(backup_key(&format!("app-2-{t}.db"), "app-2"), Some((t.into(), 1)));
    }

    #[test]
    fn a_sum_line_must_be_hex_and_name_the_backup() {
        let hex = "a".repeat(64);
        let p = Path::new("/b/app-x.db");
        assert_eq!(parse_sum_line(&format!("{hex}  app-x.db\n"), p), Ok(hex.clone()));
        assert_eq!(parse_sum_line(&format!("{hex} *app-x.db\n"), p), Ok(hex.clone()));
        assert!(parse_sum_line(&format!("{hex}  other.db\n"), p).is_err());
        assert!(parse_sum_line("xyz  app-x.db\n", p).is_err());
        assert!(parse_sum_line("", p).is_err());
    }
}
