//! Reading files out of an export directory, which is untrusted input (DESIGN "Trust"): the
//! one way verify, import, validate, schema and migrate open what an export holds.
//!
//! Only regular files inside the directory are read. A path must be plain and relative
//! (no root, `.` or `..`); every component below the export directory is checked with
//! `symlink_metadata`, so no symbolic link is followed anywhere on the way; FIFOs, sockets and
//! devices are refused before they are opened, so nothing can make a reader block; the file
//! is opened with `O_NOFOLLOW | O_NONBLOCK`, and the opened file is checked again (`fstat`)
//! to be the same regular file, in case it was swapped between the check and the open.
//! Small files read whole (the manifest, `SHA256SUMS`) are read up to a size limit.
//!
//! A directory component swapped for a symbolic link in the instant between its check and
//! the open could still redirect the open; closing that window needs `openat` component by
//! component, which std does not offer without `unsafe`. The final component, the one an
//! attacker controls by writing the export, is covered by `O_NOFOLLOW` and the re-check.

use std::fmt;
use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// The most `manifest.json` or `SHA256SUMS` may hold: 256 MiB, far beyond what pg2lite writes
/// (a few KiB per table), and small enough that parsing it cannot exhaust memory.
pub const METADATA_LIMIT: u64 = 256 << 20;

/// A file of the export that cannot be read, and why.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct Error {
    /// The path as given: the export directory joined with the relative path.
    pub path: PathBuf,
    /// Why it is not read.
    pub kind: Kind,
}

/// Why a file of the export is not read.
#[derive(Debug)]
pub enum Kind {
    /// The relative path has a root, `.`, `..` or an empty component.
    UnsafePath,
    /// The file (or a directory on its path) does not exist.
    NotFound,
    /// Something other than a regular file: what it is, in words.
    NotRegular {
        /// In words: `a directory`, `a FIFO (named pipe)`, `a symbolic link to /etc/x`.
        what: String,
    },
    /// Larger than the limit for this file.
    TooLarge {
        /// The file's size in bytes.
        size: u64,
        /// The most read of such a file, in bytes.
        limit: u64,
    },
    /// The opened file is not the one checked: it was replaced in between.
    Replaced,
    /// The operating system refused.
    Io(io::Error),
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::UnsafePath => {
                f.write_str("not a plain relative path inside the export directory")
            }
            Kind::NotFound => f.write_str("no such file"),
            Kind::NotRegular { what } => write!(
                f,
                "is {what}, not a regular file; an export holds only regular files, and \
                 pg2lite reads nothing else from one (not followed, not read)"
            ),
            Kind::TooLarge { size, limit } => write!(
                f,
                "is {size} bytes ({} MiB), more than the limit of {limit} bytes ({} MiB) for \
                 this file; pg2lite never writes one this large, so it was not read",
                size >> 20,
                limit >> 20
            ),
            Kind::Replaced => f.write_str(
                "was replaced while it was being opened; not read (is something changing the \
                 export?)",
            ),
            Kind::Io(e) => write!(f, "cannot be read: {e}"),
        }
    }
}

impl Error {
    fn new(path: &Path, kind: Kind) -> Self {
        Error { path: path.to_owned(), kind }
    }

    fn io(path: &Path, e: io::Error) -> Self {
        let kind = if e.kind() == io::ErrorKind::NotFound { Kind::NotFound } else { Kind::Io(e) };
        Error::new(path, kind)
    }
}

/// Whether writing `path` would put something inside the directory `dir` (an export, which
/// must hold only what export wrote). Both are resolved first (relative paths, `.`, `..`,
/// symbolic links of the directories that exist), so `--from .` run inside the export and
/// `../<id>/x` are caught as well as the plain case.
///
/// # Errors
/// When `dir` cannot be resolved (it does not exist), or `path` cannot be (see [`resolve`]).
pub fn is_inside(dir: &Path, path: &Path) -> io::Result<bool> {
    let dir = std::fs::canonicalize(dir)?;
    Ok(resolve(path)?.starts_with(dir))
}

/// `path` made absolute, with its longest existing ancestor canonicalized and the rest (which
/// does not exist yet, so holds no links) appended as written.
///
/// # Errors
/// When `path` is empty, or is relative and the current directory cannot be read.
pub fn resolve(path: &Path) -> io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            return Ok(rest.iter().rev().fold(real, |p: PathBuf, c| p.join(c)));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return Ok(absolute),
        }
    }
}

/// `a/b/c`: no root, no `.` or `..`, no empty component, `/` separators only.
pub fn is_plain_relative(rel: &str) -> bool {
    let components: Vec<_> = Path::new(rel).components().collect();
    let normal = components.iter().all(|c| matches!(c, Component::Normal(_)));
    normal && !components.is_empty() && rel.split('/').count() == components.len()
}

/// The metadata of `dir/rel` after checking that it is a regular file and that no component
/// below `dir` is a symbolic link or anything but a directory. Nothing is opened.
///
/// # Errors
/// [`Kind::UnsafePath`], [`Kind::NotFound`], [`Kind::NotRegular`] (naming what it is, or
/// which directory on the path is not one), or [`Kind::Io`].
pub fn inspect(dir: &Path, rel: &str) -> Result<Metadata, Error> {
    let full = dir.join(rel);
    if !is_plain_relative(rel) {
        return Err(Error::new(&full, Kind::UnsafePath));
    }
    let mut at = dir.to_owned();
    let mut components = rel.split('/').peekable();
    while let Some(name) = components.next() {
        at.push(name);
        let meta = std::fs::symlink_metadata(&at).map_err(|e| Error::io(&full, e))?;
        let last = components.peek().is_none();
        let ft = meta.file_type();
        match () {
            _ if last && ft.is_file() => return Ok(meta),
            _ if !last && ft.is_dir() => {}
            _ if last => return Err(Error::new(&full, Kind::NotRegular { what: what(ft, &at) })),
            _ => {
                let what = format!("inside {}, which is {}", at.display(), what(ft, &at));
                return Err(Error::new(&full, Kind::NotRegular { what }));
            }
        }
    }
    Err(Error::new(&full, Kind::UnsafePath))
}

/// Opens `dir/rel` for reading after [`inspect`], never following a symbolic link and never
/// blocking, and checks that the file opened is the regular file inspected.
///
/// # Errors
/// As [`inspect`], and [`Kind::Replaced`] when the file changed in between.
pub fn open(dir: &Path, rel: &str) -> Result<File, Error> {
    let checked = inspect(dir, rel)?;
    let full = dir.join(rel);
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&full)
        .map_err(|e| refused_open(&full, e))?;
    let opened = file.metadata().map_err(|e| Error::io(&full, e))?;
    if !opened.file_type().is_file() {
        let what = what(opened.file_type(), &full);
        return Err(Error::new(&full, Kind::NotRegular { what }));
    }
    if (opened.dev(), opened.ino()) != (checked.dev(), checked.ino()) {
        return Err(Error::new(&full, Kind::Replaced));
    }
    Ok(file)
}

/// `O_NOFOLLOW` on a link fails with `ELOOP`: the file became a link after the check.
fn refused_open(path: &Path, e: io::Error) -> Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return Error::new(path, Kind::NotRegular { what: "a symbolic link".into() });
    }
    Error::io(path, e)
}

/// The whole of `dir/rel`, opened as [`open`] does, when it is at most `limit` bytes. The read
/// goes through `take(limit + 1)`, so a file that grows after the size check is refused too,
/// and memory never exceeds the limit.
///
/// # Errors
/// As [`open`], and [`Kind::TooLarge`] naming the size and the limit.
pub fn read(dir: &Path, rel: &str, limit: u64) -> Result<Vec<u8>, Error> {
    let file = open(dir, rel)?;
    let full = dir.join(rel);
    let size = file.metadata().map_err(|e| Error::io(&full, e))?.len();
    if size > limit {
        return Err(Error::new(&full, Kind::TooLarge { size, limit }));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| Error::io(&full, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::new(&full, Kind::TooLarge { size: bytes.len() as u64, limit }));
    }
    Ok(bytes)
}

/// What a non-regular file is, in words: "a FIFO (named pipe)", "a symbolic link to /etc/x".
/// A link's text is read (never followed), so the message shows where it points.
fn what(ft: FileType, path: &Path) -> String {
    match () {
        _ if ft.is_symlink() => match std::fs::read_link(path) {
            Ok(to) => format!("a symbolic link to {}", to.display()),
            Err(_) => "a symbolic link".into(),
        },
        _ if ft.is_dir() => "a directory".into(),
        _ if ft.is_fifo() => "a FIFO (named pipe)".into(),
        _ if ft.is_socket() => "a socket".into(),
        _ if ft.is_block_device() => "a block device".into(),
        _ if ft.is_char_device() => "a character device".into(),
        _ => "not a regular file".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_regular_file_inside_is_read() {
        let dir = dir_with(&[("tables/a.ndjson", "{}\n")]);
        assert_eq!(read(dir.path(), "tables/a.ndjson", 10).unwrap(), b"{}\n");
    }

    #[test]
    fn paths_that_leave_the_directory_are_refused_before_any_lookup() {
        let dir = dir_with(&[]);
        for rel in ["../x", "/etc/passwd", "a/../b", "./a", "a//b", ""] {
            let err = open(dir.path(), rel).unwrap_err();
            assert!(matches!(err.kind, Kind::UnsafePath), "{rel}: {err}");
        }
    }

    #[test]
    fn a_symlink_is_refused_as_the_file_or_anywhere_on_its_path() {
        let outside = dir_with(&[("secret", "s"), ("t/a.ndjson", "x")]);
        let dir = dir_with(&[]);
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("m")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("t"), dir.path().join("tables")).unwrap();
        let err = open(dir.path(), "m").unwrap_err();
        assert!(err.to_string().contains("a symbolic link to"), "{err}");
        let err = open(dir.path(), "tables/a.ndjson").unwrap_err();
        assert!(matches!(err.kind, Kind::NotRegular { .. }), "{err}");
        assert!(err.to_string().contains("which is a symbolic link"), "{err}");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = dir_with(&[]);
        let fifo = dir.path().join("p");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let err = read(dir.path(), "p", 10).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_naming_size_and_limit() {
        let dir = dir_with(&[("m", "12345")]);
        let err = read(dir.path(), "m", 4).unwrap_err();
        assert!(matches!(err.kind, Kind::TooLarge { size: 5, limit: 4 }), "{err}");
        assert!(err.to_string().contains("5 bytes"), "{err}");
        assert_eq!(read(dir.path(), "m", 5).unwrap(), b"12345");
    }

    #[test]
    fn a_path_inside_the_directory_is_found_however_it_is_written() {
        let dir = dir_with(&[("tables/a.ndjson", "")]);
        let d = dir.path();
        assert!(is_inside(d, &d.join("r.json")).unwrap());
        assert!(is_inside(d, &d.join("tables/../new/deeper/r.json")).unwrap());
        assert!(!is_inside(d, &d.join("../r.json")).unwrap());
        assert!(!is_inside(&d.join("tables"), &d.join("tables.json")).unwrap());
        let link = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(d, link.path().join("via")).unwrap();
        assert!(is_inside(d, &link.path().join("via/x.db")).unwrap());
    }

    #[test]
    fn a_missing_file_is_not_found() {
        let dir = dir_with(&[]);
        assert!(matches!(open(dir.path(), "tables/x").unwrap_err().kind, Kind::NotFound));
    }
}
