//! Work in progress under a `.partial` name: an export's hidden directory, an import's
//! `FILE.db.partial`, a backup's `.pg2lite-backup-*.partial`. Each run holds an advisory lock
//! (`flock`) on its own partial, on the partial itself (the file, or the directory), for as
//! long as it runs; the kernel drops it when the process ends, however it ends. So a later run
//! can tell a partial that a killed run left (its lock is free: removed, and said so) from one
//! that a run still in progress is writing (locked: left alone, or, for an import to the same
//! target, refused).
//!
//! Claiming a partial (removing a stale one, creating one's own and locking it) and sweeping
//! a directory's stale partials are done under a short exclusive lock on the directory that
//! holds them, so that a sweep never sees a partial between its creation and its lock.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// What stops a partial from being claimed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process holds the partial's lock: a run is writing it now.
    #[error(
        "{path} is locked: another pg2lite run is writing it now; wait for that run to finish \
         (or stop it), then try again"
    )]
    Busy {
        /// The partial file.
        path: PathBuf,
    },
    /// Creating, locking, removing or syncing a file failed.
    #[error("{path}: cannot {action}: {cause}")]
    Io {
        /// What was being done, as a verb phrase.
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        cause: io::Error,
    },
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error + use<> {
    let path = path.to_owned();
    move |source| Error::Io { action, path, cause: source }
}

/// A partial this run owns: locked until dropped.
#[derive(Debug)]
pub struct Claimed {
    /// The open partial (file or directory) that holds the lock.
    lock: File,
    /// The stale partial that was removed to make room, if there was one.
    pub removed: Option<PathBuf>,
}

impl Claimed {
    /// The open partial file (for an import, the file SQLite will write through its own
    /// handle; this one only holds the lock).
    pub fn file(&self) -> &File {
        &self.lock
    }
}

/// The exclusive lock on the directory that holds partials, for the few system calls of a
/// claim or a sweep.
struct DirLock(#[allow(dead_code, reason = "held for its lock, never read")] File);

impl DirLock {
    fn acquire(dir: &Path) -> Result<DirLock, Error> {
        let file = File::open(dir).map_err(io_err("open the directory", dir))?;
        file.lock().map_err(io_err("lock the directory", dir))?;
        Ok(DirLock(file))
    }
}

/// The directory a path's partial lives in (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Claims the partial file `path` (with SQLite's side files `path<suffix>`): when a stale
/// one is there it is removed (reported in [`Claimed::removed`]); then an empty file is
/// created and locked. The directory must exist.
///
/// # Errors
/// [`Error::Busy`] when another run holds `path`; nothing is removed then. [`Error::Io`]
/// otherwise.
pub fn claim_file(path: &Path, side_suffixes: &[&str]) -> Result<Claimed, Error> {
    let _dir = DirLock::acquire(parent(path))?;
    let removed = remove_if_free(path, side_suffixes)?;
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io_err("create", path))?;
    try_lock(&lock, path)?;
    Ok(Claimed { lock, removed })
}

/// Claims a new partial directory `path` inside an existing directory, as
/// [`claim_file`] does a file. Returns `None` when a directory of that name exists and is
/// locked (the caller picks another name).
///
/// # Errors
/// [`Error::Io`].
pub fn claim_dir(path: &Path) -> Result<Option<Claimed>, Error> {
    let _dir = DirLock::acquire(parent(path))?;
    let removed = match remove_if_free(path, &[]) {
        Ok(removed) => removed,
        Err(Error::Busy { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    fs::create_dir(path).map_err(io_err("create the directory", path))?;
    let lock = File::open(path).map_err(io_err("open the directory", path))?;
    try_lock(&lock, path)?;
    Ok(Some(Claimed { lock, removed }))
}

/// Removes every partial in `dir` whose name `is_partial` accepts and whose lock is free;
/// returns what it removed. Partials other runs hold, symbolic links and anything that
/// cannot be opened are left alone. A missing directory holds nothing.
///
/// # Errors
/// [`Error::Io`] when the directory cannot be locked or listed, or a stale partial cannot
/// be removed.
pub fn sweep(dir: &Path, is_partial: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, Error> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let _dir = DirLock::acquire(dir)?;
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name();
        let ours = entry.file_type().is_ok_and(|t| t.is_dir() || t.is_file());
        if !ours || !name.to_str().is_some_and(&is_partial) {
            continue;
        }
        match remove_if_free(&entry.path(), &[]) {
            Ok(Some(path)) => removed.push(path),
            Ok(None) | Err(Error::Busy { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// Removes `path` (a file or a directory tree, never following a link) and its side files
/// when no run holds its lock; anything else of that name (a link, a FIFO) is unlinked,
/// never followed or opened. Returns the path when something was removed.
fn remove_if_free(path: &Path, side_suffixes: &[&str]) -> Result<Option<PathBuf>, Error> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err("inspect", path)(e)),
    };
    let removed = match meta {
        Some(m) if m.is_dir() || m.is_file() => {
            let open = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)
                .map_err(io_err("open", path))?;
            try_lock(&open, path)?;
            let gone = if m.is_dir() { fs::remove_dir_all(path) } else { fs::remove_file(path) };
            gone.map_err(io_err("remove", path))?;
            Some(path.to_owned())
        }
        Some(_) => {
            fs::remove_file(path).map_err(io_err("remove", path))?;
            Some(path.to_owned())
        }
        None => None,
    };
    for suffix in side_suffixes {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        match fs::remove_file(&side) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io_err("remove", Path::new(&side))(e));
            }
            _ => {}
        }
    }
    Ok(removed)
}

fn try_lock(file: &File, path: &Path) -> Result<(), Error> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(fs::TryLockError::WouldBlock) => Err(Error::Busy { path: path.to_owned() }),
        Err(fs::TryLockError::Error(e)) => Err(io_err("lock", path)(e)),
    }
}

/// Sweeps `dir` of stale partials, then has `create` make a new one there and locks it, all
/// under the directory's lock: for a caller that names its partial itself (tempfile).
/// Returns what `create` made and what the sweep removed.
///
/// # Errors
/// [`Error::Io`], or what `create` returns.
pub fn create_locked<T>(
    dir: &Path,
    is_partial: impl Fn(&str) -> bool,
    create: impl FnOnce() -> io::Result<T>,
    file_of: fn(&T) -> &File,
) -> Result<(T, Vec<PathBuf>), Error> {
    let removed = sweep(dir, is_partial)?;
    let _dir = DirLock::acquire(dir)?;
    let made = create().map_err(io_err("create a file in", dir))?;
    try_lock(file_of(&made), dir)?;
    Ok((made, removed))
}

/// Makes a directory's entries (new files, renames) durable, as a database would. An empty
/// path is the current directory.
///
/// # Errors
/// When the directory cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    File::open(dir)?.sync_all()
}

/// Renames a finished, synced partial (file or directory) onto `target` and makes the rename
/// durable: the one last step of every write pg2lite makes, so a reader sees the old file or
/// the new one, never a half-written one, even after a crash.
///
/// # Errors
/// When the rename or the directory sync fails (the partial is then left for the caller).
pub fn rename_durably(partial: &Path, target: &Path) -> io::Result<()> {
    fs::rename(partial, target)?;
    sync_dir(target.parent().unwrap_or(Path::new("")))
}

/// Writes `bytes` to `<path>.partial`, syncs it, and renames it onto `path` durably; the
/// partial is removed on failure. For small files written whole (a schema, a record).
///
/// # Errors
/// When any step fails; `path` is then unchanged.
pub fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = File::create(&partial)
        .and_then(|mut f| io::Write::write_all(&mut f, bytes).and_then(|()| f.sync_all()))
        .and_then(|()| rename_durably(&partial, path));
    if written.is_err() {
        let _ = fs::remove_file(&partial);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimed_file_is_busy_for_a_second_claim_and_free_once_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db.partial");
        let first = claim_file(&path, &["-journal"]).unwrap();
        assert_eq!(first.removed, None);
        let err = claim_file(&path, &["-journal"]).unwrap_err();
        assert!(matches!(err, Error::Busy { .. }), "{err}");
        assert!(path.exists(), "a busy partial is left alone");
        drop(first);
        fs::write(dir.path().join("t.db.partial-journal"), "j").unwrap();
        let second = claim_file(&path, &["-journal"]).unwrap();
        assert_eq!(second.removed.as_deref(), Some(path.as_path()));
        assert!(!dir.path().join("t.db.partial-journal").exists());
    }

    #[test]
    fn a_sweep_removes_free_partials_and_keeps_held_ones() {
        let dir = tempfile::tempdir().unwrap();
        let held = claim_dir(&dir.path().join(".a.partial")).unwrap().unwrap();
        fs::create_dir_all(dir.path().join(".b.partial/tables")).unwrap();
        fs::write(dir.path().join(".b.partial/tables/x"), "x").unwrap();
        fs::create_dir(dir.path().join("kept")).unwrap();
        let removed = sweep(dir.path(), |n| n.ends_with(".partial")).unwrap();
        assert_eq!(removed, vec![dir.path().join(".b.partial")]);
        assert!(dir.path().join(".a.partial").is_dir() && dir.path().join("kept").is_dir());
        assert!(claim_dir(&dir.path().join(".a.partial")).unwrap().is_none());
        drop(held);
    }
}
