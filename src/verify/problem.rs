//! What verify found, as data: each [`Problem`] says where (file, line, column) and what
//! ([`ProblemKind`]). The human line and the JSON object are both rendered from it.

use std::fmt;

use serde::ser::{Serialize, SerializeStruct, Serializer};

/// Why a value does not fit its column: the format's rules, which import converts by too.
pub use crate::format::Reason;

/// One thing wrong with an export, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Path relative to the export directory: `tables/public.actor.ndjson`, `SHA256SUMS`.
    pub file: String,
    /// 1-based line number, for problems inside `SHA256SUMS` or a data file.
    pub line: Option<u64>,
    /// The column, for problems inside a data file's row.
    pub column: Option<String>,
    /// What is wrong; [`ProblemKind::name`] is its stable name for scripts.
    pub kind: ProblemKind,
}

/// What is wrong. Each variant is one kind of problem (see [`ProblemKind::name`]).
#[derive(Debug, Clone, PartialEq)]
pub enum ProblemKind {
    /// `manifest.json` does not exist.
    ManifestMissing,
    /// `manifest.json` cannot be read, parsed, or is not a manifest this version understands.
    ManifestInvalid {
        /// The reader's or parser's message, naming what is wrong.
        error: String,
    },
    /// The manifest has no `manifest_sha256`, so edits to it cannot be detected.
    ManifestUnsealed,
    /// The manifest's content does not hash to its recorded `manifest_sha256`.
    ManifestChecksum {
        /// The `manifest_sha256` the manifest holds.
        recorded: String,
        /// The hex SHA-256 of the manifest's content as read.
        actual: String,
    },
    /// The manifest names a data file outside the export directory, or not in plain form.
    UnsafePath {
        /// The table (`schema.name`) whose entry names the path.
        table: String,
    },
    /// The manifest names the same data file for several tables.
    ListedTwice {
        /// Every table (`schema.name`) whose entry names it.
        tables: Vec<String>,
    },
    /// `SHA256SUMS` does not exist.
    SumsMissing,
    /// A line of `SHA256SUMS` is not `<64 hex digits>  <path>`.
    SumsMalformed {
        /// The line as read.
        text: String,
    },
    /// A file of the manifest (or `manifest.json` itself) is not in `SHA256SUMS`.
    NotInSums {
        /// The missing file, relative to the export directory.
        path: String,
    },
    /// `SHA256SUMS` lists a file the manifest does not.
    NotInManifest {
        /// The listed file, as `SHA256SUMS` names it.
        path: String,
    },
    /// `SHA256SUMS` lists a file a second time.
    SumsDuplicate {
        /// The file listed again.
        path: String,
    },
    /// `SHA256SUMS` and the manifest give a data file different checksums.
    SumsDisagree {
        /// The data file, relative to the export directory.
        path: String,
        /// The hex digest `SHA256SUMS` gives.
        listed: String,
        /// The hex digest the manifest gives.
        manifest: String,
    },
    /// `SHA256SUMS`'s line for `manifest.json` does not match the file.
    SumsManifestHash {
        /// The hex digest `SHA256SUMS` gives for `manifest.json`.
        listed: String,
        /// The hex SHA-256 of `manifest.json` as read.
        actual: String,
    },
    /// A listed file does not exist.
    Missing,
    /// A listed path (or `manifest.json`, `SHA256SUMS`) exists but is not a regular file inside
    /// the export: a symbolic link, a directory, a FIFO, a socket or a device, as `what` says.
    /// It is neither followed nor read.
    NotAFile {
        /// What it is instead ("a symbolic link", "a directory").
        what: String,
    },
    /// `manifest.json` or `SHA256SUMS` is larger than pg2lite reads ([`crate::fsio`]).
    TooLarge {
        /// The file's size in bytes.
        size: u64,
        /// The most pg2lite reads of such a file, in bytes.
        limit: u64,
    },
    /// A listed file is smaller than the manifest says.
    Truncated {
        /// The file's size in bytes.
        size: u64,
        /// The size the manifest records, in bytes.
        expected: u64,
    },
    /// A listed file is larger than the manifest says.
    SizeChanged {
        /// The file's size in bytes.
        size: u64,
        /// The size the manifest records, in bytes.
        expected: u64,
    },
    /// A file in the directory tree that the manifest does not list.
    Extra,
    /// A file or directory cannot be read.
    Unreadable {
        /// The operating system's error, as text.
        error: String,
    },
    /// A data file's content does not hash to the manifest's sha256.
    Changed {
        /// The hex SHA-256 of the file as read.
        actual: String,
        /// The hex digest the manifest records.
        expected: String,
    },
    /// A line is not a JSON object.
    MalformedLine {
        /// Why: `not valid UTF-8`, or the JSON parser's message with the character position.
        error: String,
    },
    /// A row's keys are not the table's columns in order.
    Columns {
        /// The column expected at the first differing position; `None` when the row has a key after
        /// the last column.
        expected: Option<String>,
        /// The key found there; `None` when the row ends before that column.
        found: Option<String>,
    },
    /// The file's line count differs from the manifest's `rows`.
    RowCount {
        /// The lines counted in the file.
        counted: u64,
        /// The manifest's `rows` for the table.
        recorded: u64,
    },
    /// The last line has no newline.
    NoFinalNewline,
    /// A value does not fit its column's type. `path` leads into arrays and composites.
    Value {
        /// The way into the value, such as `element [2], field "zip"`; empty for the column's value
        /// itself.
        path: String,
        /// The value's JSON text, shortened for display.
        value: String,
        /// The type checked against: the column's, or an element's or field's inside it.
        type_name: String,
        /// Which of the format's rules the value breaks.
        reason: Reason,
    },
    /// `null` in a NOT NULL column.
    Null,
    /// More line problems in this file than are listed.
    More {
        /// How many line problems were found but not listed.
        count: u64,
    },
    /// `manifest.json.sig` is missing (when signers were given), or does not sign this
    /// manifest, or its key is not one the allowed signers accept.
    Signature {
        /// Why the signature is refused.
        refusal: crate::sign::Refusal,
    },
}

impl Problem {
    /// A problem with `file` as a whole (no line or column yet: see [`Problem::at_line`],
    /// [`Problem::in_column`]).
    pub fn new(file: impl Into<String>, kind: ProblemKind) -> Self {
        Problem { file: file.into(), line: None, column: None, kind }
    }

    /// The same problem, placed at 1-based `line` of the file.
    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// The same problem, placed in `column` of the row.
    pub fn in_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

impl ProblemKind {
    /// The kind's stable name, for `--json` and scripts.
    pub fn name(&self) -> &'static str {
        use ProblemKind::*;
        match self {
            ManifestMissing => "manifest_missing",
            ManifestInvalid { .. } => "manifest_invalid",
            ManifestUnsealed => "manifest_unsealed",
            ManifestChecksum { .. } => "manifest_checksum",
            UnsafePath { .. } => "unsafe_path",
            ListedTwice { .. } => "listed_twice",
            SumsMissing => "sums_missing",
            SumsMalformed { .. } => "sums_malformed",
            NotInSums { .. } => "not_in_sums",
            NotInManifest { .. } => "not_in_manifest",
            SumsDuplicate { .. } => "sums_duplicate",
            SumsDisagree { .. } => "sums_disagree",
            SumsManifestHash { .. } => "sums_manifest_hash",
            Missing => "missing",
            NotAFile { .. } => "not_a_file",
            TooLarge { .. } => "too_large",
            Truncated { .. } => "truncated",
            SizeChanged { .. } => "size_changed",
            Extra => "extra",
            Unreadable { .. } => "unreadable",
            Changed { .. } => "changed",
            MalformedLine { .. } => "malformed_line",
            Columns { .. } => "columns",
            RowCount { .. } => "row_count",
            NoFinalNewline => "no_final_newline",
            Value { .. } => "value",
            Null => "null",
            More { .. } => "more",
            Signature { .. } => "signature",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column {column:?}")?;
        }
        if let ProblemKind::Value { path, .. } = &self.kind
            && !path.is_empty()
        {
            write!(f, ", {path}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProblemKind::*;
        match self {
            ManifestMissing => f.write_str(
                "missing (this is not an export directory, or its manifest was removed)",
            ),
            ManifestInvalid { error } => f.write_str(error),
            ManifestUnsealed => {
                f.write_str("has no manifest_sha256 field, so edits to it cannot be detected")
            }
            ManifestChecksum { recorded, actual } => write!(
                f,
                "manifest checksum mismatch: manifest_sha256 is {recorded}, the content hashes \
                 to {actual} (the manifest was edited after export)"
            ),
            UnsafePath { table } => write!(
                f,
                "the manifest names this file for table {table}, but it is not a plain relative \
                 path inside the export directory; not checked"
            ),
            ListedTwice { tables } => {
                write!(f, "named by the manifest for several tables: {}", tables.join(", "))
            }
            Signature { refusal } => write!(f, "{refusal}"),
            _ => self.fmt_sums(f),
        }
    }
}

impl ProblemKind {
    fn fmt_sums(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProblemKind::*;
        match self {
            SumsMissing => {
                f.write_str("missing (`sha256sum -c SHA256SUMS` cannot check this export)")
            }
            SumsMalformed { text } => {
                write!(f, "malformed line (expected \"<64 hex digits>  <path>\"): {text:?}")
            }
            NotInSums { path } => write!(f, "does not list {path}, which the manifest lists"),
            NotInManifest { path } => write!(f, "lists {path}, which the manifest does not"),
            SumsDuplicate { path } => write!(f, "lists {path} a second time"),
            SumsDisagree { path, listed, manifest } => {
                write!(f, "gives {path} the sha256 {listed}, the manifest says {manifest}")
            }
            SumsManifestHash { listed, actual } => write!(
                f,
                "gives manifest.json the sha256 {listed}, but manifest.json hashes to {actual}"
            ),
            _ => self.fmt_files(f),
        }
    }

    fn fmt_files(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProblemKind::*;
        match self {
            Missing => f.write_str("missing"),
            NotAFile { what } => write!(
                f,
                "is {what}, not a regular file; an export holds only regular files, and this one \
                 was neither followed nor read"
            ),
            TooLarge { size, limit } => write!(
                f,
                "is {size} bytes, more than the limit of {limit} bytes ({} MiB); not read",
                limit >> 20
            ),
            Truncated { size, expected } => {
                write!(f, "truncated: {size} bytes, the manifest says {expected}")
            }
            SizeChanged { size, expected } => {
                write!(f, "size changed: {size} bytes, the manifest says {expected}")
            }
            Extra => f.write_str("extra file (not in the manifest)"),
            Unreadable { error } => write!(f, "cannot be read: {error}"),
            Changed { actual, expected } => {
                write!(f, "changed: sha256 is {actual}, the manifest says {expected}")
            }
            _ => self.fmt_lines(f),
        }
    }

    fn fmt_lines(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProblemKind::*;
        match self {
            MalformedLine { error } => write!(f, "malformed line: {error}"),
            Columns { expected: Some(c), found: Some(k) } => write!(
                f,
                "key {k:?} where column {c:?} was expected (keys must be the table's columns, \
                 in order)"
            ),
            Columns { expected: Some(c), .. } => write!(f, "no key for column {c:?}"),
            Columns { found, .. } => {
                write!(f, "key {:?} after the last column", found.as_deref().unwrap_or(""))
            }
            RowCount { counted, recorded } => {
                write!(f, "row count {counted}, manifest says {recorded}")
            }
            NoFinalNewline => f.write_str("does not end with a newline (the last line is cut)"),
            Value { value, type_name, reason, .. } => {
                write!(f, "{value} {}", reason.describe(type_name))
            }
            Null => f.write_str("null in a NOT NULL column"),
            More { count } => write!(f, "and {count} more problems in this file"),
            _ => unreachable!("every other kind is written by an earlier match"),
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Problem", 5)?;
        st.serialize_field("kind", self.kind.name())?;
        st.serialize_field("file", &self.file)?;
        st.serialize_field("line", &self.line)?;
        st.serialize_field("column", &self.column)?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}
