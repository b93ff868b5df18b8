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

use crate::fsio;
use crate::model::catalog::{Column, QualifiedName, Table};

/// The `format` every pg2lite manifest carries; a manifest with another is refused
/// ([`Error::Format`]).
pub const FORMAT: &str = "pg2lite-export";
/// The manifest version this pg2lite writes, and the newest it reads ([`Error::Version`]).
pub const VERSION: u32 = 1;
/// The manifest's file name inside an export directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The checksum list's file name inside an export directory, in `sha256sum -c` format.
pub const SUMS_FILE: &str = "SHA256SUMS";
/// The folder of an export directory that holds the tables' NDJSON files.
pub const TABLES_DIR: &str = "tables";
const CHECKSUM_KEY: &str = "\"manifest_sha256\": \"";

/// Why a manifest could not be read, trusted or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The manifest file cannot be opened or read (most often: the directory is not an export).
    #[error(
        "{path}: cannot read the manifest: {cause}; is this an export directory \
         (migration_data/<id>, made by pg2lite export)?"
    )]
    Read {
        /// The manifest's path.
        path: PathBuf,
        /// The I/O error.
        cause: io::Error,
    },
    /// The manifest is not JSON, or its JSON does not have this format's fields and types.
    #[error("{path}: the manifest is not valid JSON of this format: {cause}")]
    Parse {
        /// The manifest's path.
        path: PathBuf,
        /// serde_json's error, with line and column.
        cause: serde_json::Error,
    },
    /// The manifest's `format` is not [`FORMAT`]: another tool's file.
    #[error("{path}: not a pg2lite export manifest (format {found:?}, expected {FORMAT:?})")]
    Format {
        /// The manifest's path.
        path: PathBuf,
        /// The `format` it holds.
        found: String,
    },
    /// The manifest's `version` is newer than [`VERSION`], so fields may mean what this pg2lite
    /// does not know.
    #[error(
        "{path}: manifest version {found} is newer than this pg2lite understands ({VERSION}); \
         upgrade pg2lite"
    )]
    Version {
        /// The manifest's path.
        path: PathBuf,
        /// The `version` it holds.
        found: u32,
    },
    /// The manifest text has no `manifest_sha256` field, so it cannot be checked.
    #[error("{path}: the manifest has no manifest_sha256 field")]
    NoChecksum {
        /// The manifest's path.
        path: PathBuf,
    },
    /// `manifest_sha256` does not match the text: the manifest was edited after export.
    #[error(
        "{path}: the manifest was changed after export (manifest_sha256 is {recorded}, the \
         content hashes to {actual})"
    )]
    ChecksumMismatch {
        /// The manifest's path.
        path: PathBuf,
        /// The hex SHA-256 the manifest records.
        recorded: String,
        /// The hex SHA-256 its text (field blanked) hashes to.
        actual: String,
    },
    /// `manifest.json` or `SHA256SUMS` could not be created, written or synced.
    #[error("{path}: cannot write: {cause}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        cause: io::Error,
    },
    /// The manifest is not a regular file inside the export, or is too large (see
    /// [`crate::fsio`]).
    #[error(transparent)]
    File(#[from] fsio::Error),
    /// The manifest's bytes are not UTF-8.
    #[error("{path}: the manifest is not UTF-8 text, so it is not a manifest pg2lite wrote")]
    NotText {
        /// The manifest's path.
        path: PathBuf,
    },
}

/// A result whose error is the manifest's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The parsed `manifest.json`: everything an export directory says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The manifest version it was written in; at most [`VERSION`].
    pub version: u32,
    /// The export's id, also the name of its directory under `migration_data/`.
    pub export_id: String,
    /// The pg2lite that wrote it.
    pub tool: Tool,
    /// When the snapshot was taken, RFC 3339 UTC.
    pub created_at: String,
    /// The server and database the data was read from.
    pub source: SourceInfo,
    /// The exported snapshot id all workers read through.
    pub snapshot: Option<String>,
    /// Session settings the data was read under.
    pub settings: BTreeMap<String, String>,
    /// The options that chose what was exported.
    pub options: Options,
    /// Every exported table, each with its data file.
    pub tables: Vec<TableEntry>,
    /// The database's objects that are not tables (views, triggers, functions, ...); empty in
    /// an export made before they were recorded.
    #[serde(default)]
    pub objects: crate::model::objects::Objects,
    /// SHA-256 of this file with this value blank; see the module documentation.
    pub manifest_sha256: String,
}

/// The program that wrote a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Always `pg2lite`.
    pub name: String,
    /// Its version (`CARGO_PKG_VERSION`).
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
    /// The host name or socket directory connected to.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// The database name.
    pub database: String,
    /// The user the export connected as.
    pub user: String,
    /// The server's `server_version` setting, as Postgres reports it (`16.4`).
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
    /// The `--schema` names given; empty when none was (all schemas).
    #[serde(default)]
    pub schemas: Vec<String>,
    /// The `--table` patterns given; empty when none was (every table).
    #[serde(default)]
    pub tables: Vec<String>,
    /// The `--exclude` patterns given; empty when none was.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// The tenant filter, when the export holds one tenant's data.
    #[serde(default)]
    pub tenant: Option<Tenant>,
    /// What `--redact` and `--exclude-column` did, when they were given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction: Option<Redaction>,
}

/// The redaction of an export (see [`crate::redact`]): every column whose values were
/// replaced or left out, and the fingerprint of the key pseudonyms were made with. Never the
/// key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Redaction {
    /// Hex HMAC-SHA-256 of `pg2lite redaction key fingerprint v1` under the key: equal in two
    /// exports exactly when they share a key, so their pseudonyms agree.
    pub key_fingerprint: String,
    /// `file`, `env` or `random`.
    pub key_source: String,
    /// Whether the key was drawn for this export only, so its pseudonyms match no other's.
    pub export_local: bool,
    /// Every redacted or excluded column, one entry each.
    pub columns: Vec<RedactedColumn>,
}

/// One redacted or excluded column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactedColumn {
    /// The column's schema.
    pub schema: String,
    /// The column's table.
    pub table: String,
    /// The column's name.
    pub column: String,
    /// What was done to its values.
    pub mode: RedactMode,
    /// For `hash`: `hex`, `email`, `uuid`, `integer` or `bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rendered_as: Option<String>,
    /// For a hash brought by a foreign key: that key's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows_foreign_key: Option<String>,
}

/// How a column was redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedactMode {
    /// The values were replaced by NULL.
    Null,
    /// The values were replaced by a fixed mask of their type.
    Mask,
    /// The values were replaced by keyed pseudonyms (HMAC), equal for equal values.
    Hash,
    /// The column was left out of the export altogether.
    Excluded,
}

impl RedactMode {
    /// The word the manifest and `_pg2lite_columns` use.
    pub fn as_str(self) -> &'static str {
        match self {
            RedactMode::Null => "null",
            RedactMode::Mask => "mask",
            RedactMode::Hash => "hash",
            RedactMode::Excluded => "excluded",
        }
    }
}

/// Whose data a tenant-scoped export holds, as typed facts: every guard downstream (import's
/// other-tenant check, validate's tenancy check and its Postgres re-count) works from these,
/// so a value of the wrong JSON type is refused when the manifest is read, not skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    /// The column that marks a tenant's rows (`user_id`).
    pub column: String,
    /// The tenant's key as Postgres prints it (`key::text`). The NDJSON writes it as a bare
    /// number in integer columns and as this string elsewhere.
    #[serde(deserialize_with = "tenant_value")]
    pub value: String,
    /// The table holding the tenants.
    pub tenants_table: QualifiedName,
    /// The tenants table's column that the tenant column holds.
    pub key_column: String,
    /// How the user named the tenant (`--tenant-key email=...`), for people.
    #[serde(default)]
    pub named_by: Option<NamedBy>,
}

/// `--tenant-key COLUMN=VALUE` as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedBy {
    /// The column named on the command line.
    pub column: String,
    /// The value given for it, as typed.
    pub value: String,
}

/// Accepts only a JSON string, with a message that says what the value is for.
fn tenant_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    match value {
        serde_json::Value::String(s) if !s.is_empty() => Ok(s),
        other => Err(serde::de::Error::custom(format!(
            "options.tenant.value must be a non-empty string (the tenant's key as Postgres \
             prints it), not {}",
            json_kind(&other)
        ))),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "an empty string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// One exported table: its data file and the catalog needed to rebuild it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableEntry {
    /// Path of the data file, relative to the export directory.
    pub file: String,
    /// How many rows the file holds (lines).
    pub rows: u64,
    /// The file's size in bytes.
    pub bytes: u64,
    /// The file's hex SHA-256, as also listed in `SHA256SUMS`.
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
    /// Per numeric or money column, what the SQLite mapping needs of its values (see
    /// [`NumericFacts`]), so that import decides INTEGER, REAL or TEXT without a second pass.
    /// Absent for exports made before pg2lite recorded it: import then reads the column once
    /// first.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub numeric_facts: BTreeMap<String, NumericFacts>,
    /// The table's catalog (name, columns, keys), flattened into this entry in the JSON.
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

/// The facts of one numeric or money column (`numeric_facts` in the manifest), counted by
/// `format::numeric_facts` with the rules transform applies when it stores a value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NumericFacts {
    /// Values seen, NULL and NaN not counted (NaN becomes NULL in INTEGER and REAL, as ever).
    pub values: u64,
    /// Values that are not whole numbers in the 64-bit range (`±Infinity` included).
    pub not_integer: u64,
    /// Values a double does not hold exactly (their shortest `f64` text is another number).
    /// `±Infinity` is held exactly.
    pub not_double: u64,
    /// The most significant digits of any value (`12.50` has 3).
    pub max_digits: u64,
    /// Learnt by reading an export that does not record facts, not from the manifest.
    #[serde(skip)]
    pub scanned: bool,
}

/// How a table's rows were chosen, as typed facts (DESIGN "Tenancy", "Trust"). Nothing here
/// is SQL: `validate --source` rebuilds each condition from these facts against the live
/// catalog ([`crate::pg::filter`]). Manifests written before these kinds existed carried a
/// `condition` text on `path` filters; it is ignored when read (never executed), and their
/// `whole` tables in a tenant-scoped export are refused ([`Manifest::check_tenancy`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Filter {
    /// Every row, in an export that is not tenant-scoped.
    #[default]
    Whole,
    /// Rows whose tenant column holds the tenant's key.
    TenantColumn {
        /// The tenant column, which should be [`Tenant::column`].
        column: String,
    },
    /// The tenants table's own row for the tenant; `columns` is the key column.
    TenantRow {
        /// The key column, which should be [`Tenant::key_column`].
        columns: Vec<String>,
    },
    /// Rows reaching a tenant-owned table through foreign keys, first hop first.
    Path {
        /// The foreign-key steps from this table to a table with the tenant column; never empty in
        /// a trusted manifest.
        path: Vec<Hop>,
    },
    /// A table with no path to the tenant that exported rows reference (a lookup such as
    /// countries): only the rows referenced through one of these foreign keys, each from a
    /// table whose own filter says which of its rows were exported.
    Lookup {
        /// The foreign keys into this table, each from an exported table.
        referenced_by: Vec<Hop>,
    },
    /// Every row, because `--whole-table` asked for it.
    WholeTable,
    /// No row: the table has no path to the tenant and nothing exported references it, so it
    /// may hold anyone's data. Its (empty) file keeps the table in the SQLite schema.
    LeftOut,
}

impl Filter {
    /// The manifest's name for this kind of filter (`tenant_column`, `left_out`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Filter::Whole => "whole",
            Filter::TenantColumn { .. } => "tenant_column",
            Filter::TenantRow { .. } => "tenant_row",
            Filter::Path { .. } => "path",
            Filter::Lookup { .. } => "lookup",
            Filter::WholeTable => "whole_table",
            Filter::LeftOut => "left_out",
        }
    }
}

/// One foreign-key step: `from(columns)` references `to(to_columns)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    /// The referencing table.
    #[serde(deserialize_with = "qualified_name")]
    pub from: QualifiedName,
    /// Its foreign-key columns, in key order.
    pub columns: Vec<String>,
    /// The referenced table.
    #[serde(deserialize_with = "qualified_name")]
    pub to: QualifiedName,
    /// The referenced columns, paired with `columns` in order.
    pub to_columns: Vec<String>,
}

/// `{"schema": .., "name": ..}`, or the `"schema.name"` text of manifests before it (split at
/// the first dot; a name that does not then match the live catalog is refused there).
fn qualified_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<QualifiedName, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Name(QualifiedName),
        Text(String),
    }
    match Either::deserialize(d)? {
        Either::Name(q) => Ok(q),
        Either::Text(t) => match t.split_once('.') {
            Some((schema, name)) => Ok(QualifiedName { schema: schema.into(), name: name.into() }),
            None => Err(serde::de::Error::custom(format!("{t:?} is not schema.table"))),
        },
    }
}

/// Why a manifest's tenancy cannot be trusted; import and validate refuse such an export.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TenancyError {
    /// A table has a tenant filter but the manifest names no tenant.
    #[error(
        "table {table} is filtered by tenant ({kind}) but the manifest names no tenant \
         (options.tenant); the export cannot be checked, make it again"
    )]
    NoTenant {
        /// The table, `schema.name`.
        table: String,
        /// Its filter's kind ([`Filter::kind`]).
        kind: &'static str,
    },
    /// A tenant-scoped export has a table whose filter does not limit it to the tenant (`whole`, or
    /// a `path` with no hop).
    #[error(
        "tenant-scoped export, but table {table} has filter {kind:?}, which says nothing about \
         whose rows it holds (exports made before pg2lite filtered such tables, or forged); \
         make the export again (with --whole-table for reference data)"
    )]
    Unfiltered {
        /// The table, `schema.name`.
        table: String,
        /// Its filter's kind ([`Filter::kind`]).
        kind: &'static str,
    },
    /// The tenants table named by the tenant is missing, lacks the key column, or is not filtered
    /// to the tenant's row.
    #[error(
        "the tenants table {table} named by options.tenant is not in the export with a \
         tenant_row filter on {key:?}"
    )]
    NoTenantsTable {
        /// The tenants table, `schema.name`.
        table: String,
        /// The key column it should be filtered by.
        key: String,
    },
    /// A table's filter names another tenant column or key than the manifest's tenant.
    #[error("table {table}: its {kind} filter names {found:?}, but the tenant is {expected:?}")]
    Mismatch {
        /// The table, `schema.name`.
        table: String,
        /// Its filter's kind ([`Filter::kind`]).
        kind: &'static str,
        /// The column(s) its filter names.
        found: String,
        /// What the tenant says it should name.
        expected: String,
    },
    /// The tenant value is not an integer although the tenants table's key column is.
    #[error(
        "the tenant value {value:?} is not an integer, but the key column {table}.{column} \
         is {ty}"
    )]
    ValueType {
        /// The tenant value as recorded.
        value: String,
        /// The tenants table, `schema.name`.
        table: String,
        /// Its key column.
        column: String,
        /// The key column's Postgres type name.
        ty: String,
    },
    /// A filter names a column the table does not have.
    #[error("table {table}: column {column:?} named by its filter is not a column of the table")]
    NoColumn {
        /// The table, `schema.name`.
        table: String,
        /// The column named.
        column: String,
    },
}

impl Manifest {
    /// Reads and checks a manifest: format, version and `manifest_sha256`.
    ///
    /// # Errors
    /// Any [`Error`] variant but `Write`.
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let text = read_text(dir)?;
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
            .map_err(|source| Error::Parse { path: path.into(), cause: source })?;
        if head.format != FORMAT {
            return Err(Error::Format { path: path.into(), found: head.format });
        }
        if head.version > VERSION {
            return Err(Error::Version { path: path.into(), found: head.version });
        }
        serde_json::from_str(text)
            .map_err(|source| Error::Parse { path: path.into(), cause: source })
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

    /// The entry of table `name` in `schema`, if it was exported.
    pub fn table(&self, schema: &str, name: &str) -> Option<&TableEntry> {
        self.tables.iter().find(|t| t.table.schema == schema && t.table.name == name)
    }
    /// Checks that the manifest's tenancy can be trusted before anything relies on it: a
    /// tenant-scoped manifest names its tenant with a well-typed value, its tenants table
    /// holds the tenant's row by the key column, and every table carries a tenant filter
    /// that agrees with the tenant; a manifest without a tenant filters nothing by tenant.
    /// Import and validate refuse a manifest that fails this.
    ///
    /// # Errors
    /// The first [`TenancyError`] found.
    pub fn check_tenancy(&self) -> Result<(), TenancyError> {
        let Some(tenant) = &self.options.tenant else {
            return match self.tables.iter().find(|t| t.filter != Filter::Whole) {
                Some(t) => Err(TenancyError::NoTenant {
                    table: t.table.display_name(),
                    kind: t.filter.kind(),
                }),
                None => Ok(()),
            };
        };
        for t in &self.tables {
            check_filter(t, tenant)?;
        }
        let q = &tenant.tenants_table;
        let row = Filter::TenantRow { columns: vec![tenant.key_column.clone()] };
        let tenants = self.table(&q.schema, &q.name).filter(|t| t.filter == row);
        let no_table = || TenancyError::NoTenantsTable {
            table: format!("{}.{}", q.schema, q.name),
            key: tenant.key_column.clone(),
        };
        let tenants = tenants.ok_or_else(no_table)?;
        let key = tenants.table.column(&tenant.key_column).ok_or_else(no_table)?;
        if is_integer(key) && tenant.value.parse::<i64>().is_err() {
            return Err(TenancyError::ValueType {
                value: tenant.value.clone(),
                table: tenants.table.display_name(),
                column: key.name.clone(),
                ty: key.ty.name.clone(),
            });
        }
        Ok(())
    }
}

impl Tenant {
    /// The JSON text the export writes for the tenant's key in `column`: a bare number in
    /// integer columns, a JSON string otherwise (uuid, text, and numeric, which the export
    /// writes as a string).
    pub fn ndjson_value(&self, column: &Column) -> String {
        if is_integer(column) && self.value.parse::<i64>().is_ok() {
            return self.value.clone();
        }
        serde_json::Value::String(self.value.clone()).to_string()
    }
}

fn is_integer(column: &Column) -> bool {
    matches!(column.ty.base(), Some("int2" | "int4" | "int8" | "oid"))
}

/// One table's filter against the manifest's tenant.
fn check_filter(entry: &TableEntry, tenant: &Tenant) -> Result<(), TenancyError> {
    let table = || entry.table.display_name();
    let kind = entry.filter.kind();
    let has = |column: &str| match entry.table.column(column) {
        Some(_) => Ok(()),
        None => Err(TenancyError::NoColumn { table: table(), column: column.to_owned() }),
    };
    let is_tenants = entry.table.schema == tenant.tenants_table.schema
        && entry.table.name == tenant.tenants_table.name;
    match &entry.filter {
        Filter::Whole => Err(TenancyError::Unfiltered { table: table(), kind }),
        Filter::TenantColumn { column } if *column != tenant.column => {
            Err(TenancyError::Mismatch {
                table: table(),
                kind,
                found: column.clone(),
                expected: tenant.column.clone(),
            })
        }
        Filter::TenantColumn { column } => has(column),
        Filter::TenantRow { columns } if !is_tenants || *columns != [tenant.key_column.clone()] => {
            Err(TenancyError::Mismatch {
                table: table(),
                kind,
                found: columns.join(", "),
                expected: format!("{} of the tenants table", tenant.key_column),
            })
        }
        Filter::TenantRow { columns } => columns.iter().try_for_each(|c| has(c)),
        Filter::Path { path, .. } if path.is_empty() => {
            Err(TenancyError::Unfiltered { table: table(), kind })
        }
        Filter::Path { .. } | Filter::Lookup { .. } | Filter::WholeTable | Filter::LeftOut => {
            Ok(())
        }
    }
}

/// The text of `dir/manifest.json`, read as every file of an export is ([`fsio::read`]): a
/// regular file inside the directory, never a link, FIFO or device, at most
/// [`fsio::METADATA_LIMIT`] bytes. Parsing it is bounded too: serde_json refuses nesting
/// deeper than 128 levels (its default recursion limit, which pg2lite never turns off), so a
/// hostile manifest of nested arrays is an error, not a stack overflow.
///
/// # Errors
/// [`Error::Read`] when there is no manifest, [`Error::File`] when it is not a regular file
/// inside the directory or is too large, [`Error::NotText`] when it is not UTF-8.
pub fn read_text(dir: &Path) -> Result<String> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = match fsio::read(dir, MANIFEST_FILE, fsio::METADATA_LIMIT) {
        Ok(bytes) => bytes,
        Err(fsio::Error { kind: fsio::Kind::NotFound, .. }) => {
            let source = io::Error::new(io::ErrorKind::NotFound, "no such file");
            return Err(Error::Read { path, cause: source });
        }
        Err(e) => return Err(e.into()),
    };
    String::from_utf8(bytes).map_err(|_| Error::NotText { path })
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
    let err = |source| Error::Write { path: path.into(), cause: source };
    let mut f = File::create(path).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

/// Where a table's data lives: `tables/<schema>.<table>.ndjson`, each byte outside
/// `[A-Za-z0-9_-]` percent-encoded, so that any name is a safe, unambiguous file name.
pub fn table_file(schema: &str, name: &str) -> String {
    format!("{TABLES_DIR}/{}.{}.ndjson", percent_encode(schema), percent_encode(name))
}

/// `name` made safe as a file name, as table files are: ASCII letters, digits, `_` and `-`
/// kept, every other byte `%XX`. So no name is hidden, `..`, or holds a path separator.
pub fn safe_name(name: &str) -> String {
    percent_encode(name)
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

/// The lower-case hex SHA-256 of `bytes`.
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
    /// Wraps `inner`, with nothing hashed or counted yet.
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
            objects: Default::default(),
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

    fn with_tenant(value: &str) -> String {
        let mut m = serde_json::to_value(sample()).unwrap();
        m["options"]["tenant"] = serde_json::from_str(&format!(
            r#"{{"column": "user_id", "value": {value}, "key_column": "id",
                "tenants_table": {{"schema": "public", "name": "users"}}}}"#
        ))
        .unwrap();
        m.to_string()
    }

    #[test]
    fn a_tenant_value_that_is_not_a_string_does_not_load() {
        assert!(Manifest::parse(&with_tenant("\"7\""), Path::new("m")).is_ok());
        for bad in ["7", "null", "[\"7\"]", "{\"v\": \"7\"}", "\"\""] {
            let err = Manifest::parse(&with_tenant(bad), Path::new("m")).unwrap_err().to_string();
            assert!(
                err.contains("options.tenant.value must be a non-empty string"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn old_path_filters_load_with_their_condition_ignored_and_their_hops_as_names() {
        let old = r#"{"kind": "path", "condition": "pg_sleep(9) IS NULL",
                      "path": [{"from": "public.b", "columns": ["a_id"], "to": "public.a",
                                "to_columns": ["id"]}]}"#;
        let Filter::Path { path } = serde_json::from_str(old).unwrap() else { panic!("a path") };
        assert_eq!(path[0].from, QualifiedName { schema: "public".into(), name: "b".into() });
        let text = serde_json::to_string(&Filter::Path { path }).unwrap();
        assert!(!text.contains("condition") && text.contains(r#""schema":"public""#), "{text}");
    }

    #[test]
    fn a_tenant_value_must_fit_an_integer_key_and_every_table_needs_a_tenant_filter() {
        use crate::model::catalog::{PgType, TypeKind};
        let id = Column {
            name: "id".into(),
            ty: PgType {
                name: "bigint".into(),
                domain: None,
                kind: TypeKind::Base { base: "int8".into(), precision: None, scale: None },
            },
            nullable: false,
            default: None,
            identity: None,
            generated: None,
        };
        let entry = |name: &str, filter: Filter| TableEntry {
            file: table_file("public", name),
            rows: 1,
            bytes: 1,
            sha256: String::new(),
            filter,
            json_nulls: BTreeMap::new(),
            json_depth: BTreeMap::new(),
            numeric_facts: BTreeMap::new(),
            nan_values: BTreeMap::new(),
            table: Table::new("public", name, vec![id.clone()]),
        };
        let mut m = sample();
        m.tables = vec![entry("users", Filter::TenantRow { columns: vec!["id".into()] })];
        m.options.tenant = Some(Tenant {
            column: "user_id".into(),
            value: "42".into(),
            tenants_table: QualifiedName { schema: "public".into(), name: "users".into() },
            key_column: "id".into(),
            named_by: None,
        });
        m.check_tenancy().unwrap();
        m.options.tenant.as_mut().unwrap().value = "42 OR true".into();
        assert!(matches!(m.check_tenancy(), Err(TenancyError::ValueType { .. })));
        m.options.tenant.as_mut().unwrap().value = "42".into();
        m.tables.push(entry("sessions", Filter::Whole));
        assert!(matches!(m.check_tenancy(), Err(TenancyError::Unfiltered { .. })));
        m.tables[1].filter = Filter::LeftOut;
        m.check_tenancy().unwrap();
        m.options.tenant = None;
        assert!(matches!(m.check_tenancy(), Err(TenancyError::NoTenant { .. })));
    }
}
