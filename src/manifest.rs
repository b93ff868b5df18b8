//! The export directory's description of itself: `manifest.json` (what was exported, from
//! where, how, and every file's checksum) and `SHA256SUMS` (the same checksums in the format
//! `sha256sum -c` reads).
//!
//! The manifest carries `manifest_sha256`, the SHA-256 of the file with that field's value
//! blank, as Postgres' `backup_manifest` carries its `Manifest-Checksum`. It is computed on
//! the text, so an auditor can recompute it with standard tools:
//!
//! ```text
//! sed 's/"manifest_sha256": "[0-9a-f]*"/"manifest_sha256": ""/' manifest.json | sha256sum
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::Table;

pub const FORMAT: &str = "pg2lite-export";
pub const VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const SUMS_FILE: &str = "SHA256SUMS";
pub const TABLES_DIR: &str = "tables";
const CHECKSUM_KEY: &str = "\"manifest_sha256\": \"";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{path}: cannot read the manifest: {source}; is this an export directory \
         (migration_data/<id>, made by pg2lite export)?"
    )]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: the manifest is not valid JSON of this format: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("{path}: not a pg2lite export manifest (format {found:?}, expected {FORMAT:?})")]
    Format { path: PathBuf, found: String },
    #[error(
        "{path}: manifest version {found} is newer than this pg2lite understands ({VERSION}); \
         upgrade pg2lite"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("{path}: the manifest has no manifest_sha256 field")]
    NoChecksum { path: PathBuf },
    #[error(
        "{path}: the manifest was changed after export (manifest_sha256 is {recorded}, the \
         content hashes to {actual})"
    )]
    ChecksumMismatch { path: PathBuf, recorded: String, actual: String },
    #[error("{path}: cannot write: {source}")]
    Write { path: PathBuf, source: io::Error },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub export_id: String,
    pub tool: Tool,
    /// When the snapshot was taken, RFC 3339 UTC.
    pub created_at: String,
    pub source: SourceInfo,
    /// The exported snapshot id all workers read through.
    pub snapshot: Option<String>,
    /// Session settings the data was read under.
    pub settings: BTreeMap<String, String>,
    pub options: Options,
    pub tables: Vec<TableEntry>,
    /// SHA-256 of this file with this value blank; see the module documentation.
    pub manifest_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool { name: "pg2lite".into(), version: env!("CARGO_PKG_VERSION").into() }
    }
}

/// Where the data came from. Never holds a password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub server_version: String,
}

impl SourceInfo {
    /// `postgresql://user@host:port/db`, without a password.
    pub fn url(&self) -> String {
        format!("postgresql://{}@{}:{}/{}", self.user, self.host, self.port, self.database)
    }
}

/// The options that shaped what was exported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Options {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(default)]
    pub tables: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// The tenant filter, when the export holds one tenant's data.
    #[serde(default)]
    pub tenant: Option<serde_json::Value>,
}

/// One exported table: its data file and the catalog needed to rebuild it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableEntry {
    /// Path of the data file, relative to the export directory.
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    /// How the rows were selected; see [`Filter`].
    #[serde(default)]
    pub filter: Filter,
    /// Per json/jsonb column, the rows (1-based line numbers) whose value is the JSON `null`
    /// rather than SQL NULL. NDJSON writes both as `null`; this keeps the difference, so the
    /// export stays lossless. Absent when there are none, which is almost always.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub json_nulls: BTreeMap<String, Vec<u64>>,
    /// Per float or numeric column holding NaN, how many: SQLite cannot store NaN, so the
    /// schema needs to know before any row is loaded. Absent when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nan_values: BTreeMap<String, u64>,
    /// Per json/jsonb column holding values, how deeply they nest: SQLite's JSON functions
    /// (its `json_valid` CHECK among them) refuse JSON nested deeper than
    /// [`SQLITE_JSON_DEPTH`], so the schema needs to know before any row is loaded. Absent
    /// for exports made before pg2lite recorded it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub json_depth: BTreeMap<String, JsonDepth>,
    #[serde(flatten)]
    pub table: Table,
}

/// The deepest nesting SQLite's JSON functions accept (`JSON_MAX_DEPTH` in its json.c).
pub const SQLITE_JSON_DEPTH: u64 = 1000;

/// How deeply one json column's values nest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonDepth {
    /// The deepest value's nesting: 0 for a scalar, 1 for `[1]`, 2 for `{"a":[1]}`.
    pub deepest: u64,
    /// How many values nest deeper than [`SQLITE_JSON_DEPTH`].
    pub beyond_sqlite: u64,
}

/// How a table's rows were chosen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Filter {
    /// Every row.
    #[default]
    Whole,
    /// Rows whose tenant column holds the tenant's key.
    TenantColumn { column: String },
    /// The tenants table's own row for the tenant.
    TenantRow { columns: Vec<String> },
    /// Rows reaching a tenant-owned table through foreign keys, by `path`.
    Path { path: Vec<Hop>, condition: String },
}

/// One foreign-key step on a tenancy path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    pub from: String,
    pub columns: Vec<String>,
    pub to: String,
    pub to_columns: Vec<String>,
}

impl Manifest {
    /// Reads and checks a manifest: format, version and `manifest_sha256`.
    ///
    /// # Errors
    /// Any [`Error`] variant but `Write`.
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|source| Error::Read { path: path.clone(), source })?;
        check_seal(&text, &path)?;
        Self::parse(&text, &path)
    }

    /// Parses a manifest without checking its seal (for `verify`, which reports the seal
    /// separately).
    ///
    /// # Errors
    /// [`Error::Parse`], [`Error::Format`] or [`Error::Version`].
    pub fn parse(text: &str, path: &Path) -> Result<Manifest> {
        #[derive(Deserialize)]
        struct Head {
            format: String,
            version: u32,
        }
        let head: Head = serde_json::from_str(text)
            .map_err(|source| Error::Parse { path: path.into(), source })?;
        if head.format != FORMAT {
            return Err(Error::Format { path: path.into(), found: head.format });
        }
        if head.version > VERSION {
            return Err(Error::Version { path: path.into(), found: head.version });
        }
        serde_json::from_str(text).map_err(|source| Error::Parse { path: path.into(), source })
    }

    /// The manifest as written to disk, with `manifest_sha256` filled in.
    pub fn to_sealed_json(&self) -> String {
        let mut blank = self.clone();
        blank.manifest_sha256 = String::new();
        let mut text = serde_json::to_string_pretty(&blank).expect("a manifest always serializes");
        text.push('\n');
        let sum = sha256_hex(text.as_bytes());
        let at = text.rfind(CHECKSUM_KEY).expect("the field was just written") + CHECKSUM_KEY.len();
        text.insert_str(at, &sum);
        text
    }

    /// Writes `manifest.json` and `SHA256SUMS` into `dir`.
    ///
    /// # Errors
    /// [`Error::Write`].
    pub fn write(&self, dir: &Path) -> Result<()> {
        let text = self.to_sealed_json();
        let manifest_path = dir.join(MANIFEST_FILE);
        write_synced(&manifest_path, text.as_bytes())?;
        let mut sums = String::new();
        for t in &self.tables {
            let _ = writeln!(sums, "{}  {}", t.sha256, t.file);
        }
        let _ = writeln!(sums, "{}  {MANIFEST_FILE}", sha256_hex(text.as_bytes()));
        write_synced(&dir.join(SUMS_FILE), sums.as_bytes())
    }

    pub fn table(&self, schema: &str, name: &str) -> Option<&TableEntry> {
        self.tables.iter().find(|t| t.table.schema == schema && t.table.name == name)
    }
}

/// Checks `manifest_sha256` against the text it seals.
///
/// # Errors
/// [`Error::NoChecksum`] or [`Error::ChecksumMismatch`].
pub fn check_seal(text: &str, path: &Path) -> Result<()> {
    let Some(start) = text.rfind(CHECKSUM_KEY).map(|i| i + CHECKSUM_KEY.len()) else {
        return Err(Error::NoChecksum { path: path.into() });
    };
    let len = text[start..].find('"').ok_or_else(|| Error::NoChecksum { path: path.into() })?;
    let recorded = &text[start..start + len];
    let blanked = format!("{}{}", &text[..start], &text[start + len..]);
    let actual = sha256_hex(blanked.as_bytes());
    if actual != recorded {
        return Err(Error::ChecksumMismatch {
            path: path.into(),
            recorded: recorded.into(),
            actual,
        });
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |source| Error::Write { path: path.into(), source };
    let mut f = File::create(path).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

/// Where a table's data lives: `tables/<schema>.<table>.ndjson`, each byte outside
/// `[A-Za-z0-9_-]` percent-encoded, so that any name is a safe, unambiguous file name.
pub fn table_file(schema: &str, name: &str) -> String {
    format!("{TABLES_DIR}/{}.{}.ndjson", percent_encode(schema), percent_encode(name))
}

fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 and length of a file, streamed.
///
/// # Errors
/// Any I/O error reading the file.
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// A writer that hashes and counts what passes through it, so a file's checksum is known the
/// moment it is written, without reading it back.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), bytes: 0 }
    }

    /// The hex digest and byte count, and the inner writer.
    pub fn finish(self) -> (String, u64, W) {
        (hex::encode(self.hasher.finalize()), self.bytes, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            export_id: "x".into(),
            tool: Tool::default(),
            created_at: "2026-01-01T00:00:00Z".into(),
            source: SourceInfo {
                host: "h".into(),
                port: 5432,
                database: "d".into(),
                user: "u".into(),
                server_version: "15".into(),
            },
            snapshot: None,
            settings: BTreeMap::new(),
            options: Options::default(),
            tables: vec![],
            manifest_sha256: String::new(),
        }
    }

    #[test]
    fn a_sealed_manifest_checks_and_any_edit_breaks_the_seal() {
        let text = sample().to_sealed_json();
        check_seal(&text, Path::new("m")).unwrap();
        let edited = text.replace("\"d\"", "\"e\"");
        let err = check_seal(&edited, Path::new("m")).unwrap_err();
        assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
    }

    #[test]
    fn the_seal_is_the_hash_of_the_text_with_the_field_blank() {
        let text = sample().to_sealed_json();
        let parsed = Manifest::parse(&text, Path::new("m")).unwrap();
        let blank = text.replace(&parsed.manifest_sha256, "");
        assert_eq!(sha256_hex(blank.as_bytes()), parsed.manifest_sha256);
    }

    #[test]
    fn file_names_percent_encode_everything_but_letters_digits_dash_and_underscore() {
        assert_eq!(table_file("public", "actor"), "tables/public.actor.ndjson");
        assert_eq!(table_file("my.s", "We/ird na-me"), "tables/my%2Es.We%2Fird%20na-me.ndjson");
        assert_eq!(table_file("s", "é"), "tables/s.%C3%A9.ndjson");
    }

    #[test]
    fn another_format_or_a_newer_version_is_refused() {
        let err = Manifest::parse(r#"{"format":"other","version":1}"#, Path::new("m"));
        assert!(matches!(err, Err(Error::Format { .. })));
        let err = Manifest::parse(r#"{"format":"pg2lite-export","version":9}"#, Path::new("m"));
        assert!(matches!(err, Err(Error::Version { .. })));
    }
}
