//! Redaction (`--redact PATTERN[=MODE]`, `--exclude-column PATTERN`): which columns of an
//! export lose their values, and how, decided from the catalog before anything is read.
//!
//! Modes: `null` (the value becomes NULL), `mask` (a fixed value of the column's type, `***`
//! for text) and `hash` (a keyed pseudonym: HMAC-SHA-256 of the value's Postgres text under
//! the redaction key, written in the column's type). `null` and `mask` are applied in the
//! export's SELECT, so the value never leaves Postgres; `hash` is applied by the export's
//! encoder before the line is written. Equal values get equal pseudonyms whatever column they
//! are in, and a hashed column drags every column a foreign key ties to it along (both ways,
//! composite keys by position), so joins keep working. An excluded column is not selected at
//! all, and the keys, indexes and checks that need it leave the catalog with it.
//!
//! The key comes from a file or `PG2LITE_REDACT_KEY`, or is drawn at random for one export.
//! It is never written or printed: the manifest records only its fingerprint, an HMAC of
//! [`FINGERPRINT_LABEL`], so two exports can be shown to share a key without revealing it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::model::catalog::{Column, Table, TypeKind};
use crate::model::manifest::{RedactMode, RedactedColumn, Redaction};
use crate::model::select::Pattern;

/// What the key's fingerprint is the HMAC of.
pub const FINGERPRINT_LABEL: &[u8] = b"pg2lite redaction key fingerprint v1";
/// The environment variable the command line reads a key from.
pub const KEY_ENV: &str = "PG2LITE_REDACT_KEY";
/// The shortest key accepted: shorter keys can be guessed from the pseudonyms.
pub const MIN_KEY_BYTES: usize = 16;
/// The domain of e-mail-shaped pseudonyms: `.invalid` can never be delivered to (RFC 2606).
pub const EMAIL_DOMAIN: &str = "@redacted.invalid";

type HmacSha256 = Hmac<Sha256>;

/// How `--redact` treats a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The value becomes NULL.
    Null,
    /// A fixed value of the column's type.
    Mask,
    /// A keyed pseudonym, rendered as asked.
    Hash(HashAs),
}

/// How a hashed text column's pseudonyms look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAs {
    /// E-mail shaped when the column's name says it holds addresses, else hex.
    Auto,
    /// `h…@redacted.invalid` (`hash:email`).
    Email,
    /// Hex digits (`hash:hex`).
    Hex,
}

/// One `--redact PATTERN[=MODE]`, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `table.column` or `schema.table.column`, with `*` and `?` as in `--table`.
    pub pattern: String,
    /// What happens to the matching columns' values.
    pub mode: Mode,
}

impl Rule {
    /// Reads `PATTERN[=MODE]`; the mode is split off at the last `=` outside double quotes.
    ///
    /// # Errors
    /// [`Error::BadMode`] for a mode that is not `null`, `mask`, `hash`, `hash:email` or
    /// `hash:hex`.
    pub fn parse(text: &str) -> Result<Rule, Error> {
        let Some(at) = last_unquoted(text, '=') else {
            return Ok(Rule { pattern: text.to_owned(), mode: Mode::Null });
        };
        let (pattern, mode) = (&text[..at], &text[at + 1..]);
        let mode = match mode.to_ascii_lowercase().as_str() {
            "null" => Mode::Null,
            "mask" => Mode::Mask,
            "hash" => Mode::Hash(HashAs::Auto),
            "hash:email" => Mode::Hash(HashAs::Email),
            "hash:hex" => Mode::Hash(HashAs::Hex),
            _ => return Err(Error::BadMode { spec: text.to_owned(), mode: mode.to_owned() }),
        };
        Ok(Rule { pattern: pattern.to_owned(), mode })
    }
}

/// The position of the last `c` outside double quotes.
fn last_unquoted(text: &str, c: char) -> Option<usize> {
    let mut quoted = false;
    let mut found = None;
    for (i, ch) in text.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            _ if ch == c && !quoted => found = Some(i),
            _ => {}
        }
    }
    found
}

/// A redaction key. Its bytes never appear in `Debug` output, messages or files.
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<secret>)")
    }
}

impl Key {
    /// A key from given bytes (`PG2LITE_REDACT_KEY`); trailing whitespace is not part of it.
    ///
    /// # Errors
    /// [`Error::KeyTooShort`] under [`MIN_KEY_BYTES`].
    pub fn new(bytes: &[u8], from: &str) -> Result<Key, Error> {
        let trimmed = bytes.trim_ascii_end();
        if trimmed.len() < MIN_KEY_BYTES {
            return Err(Error::KeyTooShort { from: from.to_owned(), len: trimmed.len() });
        }
        Ok(Key(trimmed.to_vec()))
    }

    fn random() -> Result<Key, Error> {
        let mut bytes = vec![0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
        Ok(Key(bytes))
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }

    /// The hex HMAC of [`FINGERPRINT_LABEL`]: names the key without revealing it.
    pub fn fingerprint(&self) -> String {
        let mut mac = self.mac();
        mac.update(FINGERPRINT_LABEL);
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Where the redaction key comes from.
#[derive(Debug, Clone, Default)]
pub enum KeySource {
    /// Drawn at random for this export: its pseudonyms match no other export's.
    #[default]
    Random,
    /// `--redact-key-file FILE`.
    File(PathBuf),
    /// `PG2LITE_REDACT_KEY`, read by the command line.
    Env(Key),
}

impl KeySource {
    fn load(&self) -> Result<(Key, &'static str), Error> {
        match self {
            KeySource::Random => Ok((Key::random()?, "random")),
            KeySource::Env(key) => Ok((key.clone(), "env")),
            KeySource::File(path) => {
                let bytes = read_key_file(path)
                    .map_err(|source| Error::KeyFile { path: path.clone(), source })?;
                Ok((Key::new(&bytes, &format!("file {}", path.display()))?, "file"))
            }
        }
    }
}

/// A key file's bytes, at most 64 KiB of them (a pipe such as `<(pass show key)` works too).
fn read_key_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(1 << 16).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The redaction an export was asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The `--redact` rules, in the order given; a column matched by several takes the last,
    /// and `--exclude-column` wins over them all.
    pub redact: Vec<Rule>,
    /// `--exclude-column` patterns.
    pub exclude_columns: Vec<String>,
    /// Where the key comes from: loaded whenever anything is redacted, used by `hash` only.
    pub key: KeySource,
}

impl Options {
    /// Whether nothing is to be redacted.
    pub fn is_empty(&self) -> bool {
        self.redact.is_empty() && self.exclude_columns.is_empty()
    }
}

/// A redaction that cannot be what the user meant, or cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `--redact` mode is not one of the known words.
    #[error(
        "--redact {spec:?}: unknown mode {mode:?}; use null (the default), mask, hash, \
         hash:email or hash:hex"
    )]
    BadMode {
        /// The whole `PATTERN=MODE` argument.
        spec: String,
        /// The part after the `=`.
        mode: String,
    },
    /// A pattern does not have two or three dot-separated parts.
    #[error(
        "{flag} {pattern:?} must name columns as table.column or schema.table.column (with * \
         and ? as in --table)"
    )]
    BadPattern {
        /// `--redact` or `--exclude-column`.
        flag: &'static str,
        /// The pattern as given.
        pattern: String,
    },
    /// A pattern matches no column of any exported table (most often a typo).
    #[error(
        "no column matches {flag} {pattern:?} in the exported tables; list a table's columns \
         with: psql -c '\\d TABLE'"
    )]
    NoMatch {
        /// `--redact` or `--exclude-column`.
        flag: &'static str,
        /// The pattern as given.
        pattern: String,
    },
    /// `=null` was asked of a NOT NULL column, which the import could not load.
    #[error(
        "--redact {column}=null: the column is NOT NULL, so it cannot become NULL; use \
         =mask (a fixed value), =hash (a keyed pseudonym) or --exclude-column {column}"
    )]
    NotNull {
        /// The column, `schema.table.column`.
        column: String,
    },
    /// The mode is not defined for the column's type (mask of an array, hash of a date).
    #[error(
        "cannot {mode} {column} (type {ty}): {mode} is defined for {supported}; use {other}, \
         or --exclude-column {column}"
    )]
    Type {
        /// `mask` or `hash`.
        mode: &'static str,
        /// The column, `schema.table.column`.
        column: String,
        /// Its Postgres type name.
        ty: String,
        /// The types the mode is defined for, in words.
        supported: &'static str,
        /// The modes to use instead, in words.
        other: &'static str,
    },
    /// A varchar(n) or char(n) is too short to hold a distinguishable pseudonym.
    #[error(
        "cannot hash {column}: it holds at most {len} characters, too few for a pseudonym \
         ({need} needed); use =mask or =null"
    )]
    TooShort {
        /// The column, `schema.table.column`.
        column: String,
        /// Its declared length in characters.
        len: usize,
        /// The fewest characters a pseudonym takes in its render.
        need: usize,
    },
    /// Two columns a foreign key ties together would be redacted in ways that no longer join (one
    /// masked, or rendered differently).
    #[error(
        "cannot hash {column} and {other} alike, which a foreign key ties together ({why}); \
         redact them with the same mode"
    )]
    Tied {
        /// The column whose hash spreads along the key, `schema.table.column`.
        column: String,
        /// The column at the key's other end, `schema.table.column`.
        other: String,
        /// The key and how the two differ.
        why: String,
    },
    /// A referenced column is redacted without `hash`, but a referencing column is left as it was,
    /// so it would keep the original values.
    #[error(
        "{column} is redacted, but foreign key {fk} from {other} references it, so {other} \
         would keep the original values (and the key would break); redact {other} too, or use \
         =hash, which follows foreign keys"
    )]
    Unfollowed {
        /// The redacted referenced column, `schema.table.column`.
        column: String,
        /// The referencing column left unredacted, `schema.table.column`.
        other: String,
        /// The foreign key's name.
        fk: String,
    },
    /// A stored generated column is computed from a redacted column and is not itself redacted.
    #[error(
        "{column} is generated from {from}, which is redacted, so it would carry what it was \
         computed from; redact or --exclude-column {column} too"
    )]
    Derived {
        /// The generated column, `schema.table.column`.
        column: String,
        /// The redacted column it is computed from, `schema.table.column`.
        from: String,
    },
    /// The tenant column would be redacted or excluded, directly or through a foreign key.
    #[error(
        "{column} is the tenant column{how}: the tenant filter and validate's proof rely on \
         its values, so it cannot be redacted or excluded"
    )]
    TenantColumn {
        /// The tenant column, `schema.table.column`.
        column: String,
        /// Empty when redacted directly; else which foreign key's hash reached it.
        how: String,
    },
    /// `--redact-key-file` could not be opened or read.
    #[error(
        "cannot read the redaction key file {path}: {source}; give a readable file with \
         --redact-key-file, or the key in PG2LITE_REDACT_KEY"
    )]
    KeyFile {
        /// The file given.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key (from a file or `PG2LITE_REDACT_KEY`) has fewer than [`MIN_KEY_BYTES`] bytes after
    /// trailing whitespace is removed.
    #[error(
        "the redaction key from {from} is {len} bytes; use at least {MIN_KEY_BYTES} random \
         bytes (for example: head -c 32 /dev/urandom | base64 > redact.key)"
    )]
    KeyTooShort {
        /// Where the key came from (`file PATH`, `PG2LITE_REDACT_KEY`).
        from: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The operating system's random source failed while drawing a key for [`KeySource::Random`];
    /// holds its message.
    #[error("cannot draw a random redaction key: {0}")]
    Random(String),
}

/// How a hashed column's pseudonym is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    /// Lowercase hex digits, at most `max` of them (a varchar's length).
    Hex {
        /// The most hex digits the column holds (its varchar length, else 64, the whole MAC).
        max: usize,
    },
    /// `h<hex>@redacted.invalid`, at most `max` characters in all.
    Email {
        /// The most characters the column holds (its varchar length, else unbounded; 50 used at
        /// most).
        max: usize,
    },
    /// A version-4-shaped UUID.
    Uuid,
    /// A non-negative integer below `2^bits`.
    Int {
        /// The integer type's width less the sign bit (15, 31 or 63).
        bits: u32,
    },
    /// The 32 MAC bytes, as bytea.
    Bytes,
}

impl Render {
    fn word(self) -> &'static str {
        match self {
            Render::Hex { .. } => "hex",
            Render::Email { .. } => "email",
            Render::Uuid => "uuid",
            Render::Int { .. } => "integer",
            Render::Bytes => "bytes",
        }
    }

    /// The render both sides of a foreign key can share, if any.
    fn join(self, other: Render) -> Option<Render> {
        use Render::{Email, Hex, Int};
        Some(match (self, other) {
            (a, b) if a == b => a,
            (Hex { max: a }, Hex { max: b }) => Hex { max: a.min(b) },
            (Email { max: a } | Hex { max: a }, Email { max: b } | Hex { max: b }) => {
                Email { max: a.min(b) }
            }
            (Int { bits: a }, Int { bits: b }) => Int { bits: a.min(b) },
            _ => return None,
        })
    }
}

/// Hex digits of a pseudonym at most (the whole MAC).
const HEX_DIGITS: usize = 64;
/// Hex digits an e-mail pseudonym carries at most: `h` + 32 + domain = 50 characters.
const EMAIL_HEX: usize = 32;
/// The fewest hex digits a pseudonym may have (32 bits: collisions start near 65 000 values).
const MIN_HEX: usize = 8;

/// What happens to one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `--exclude-column`: the column is not selected, and leaves the catalog with what needs it.
    Exclude,
    /// The value becomes NULL, in the export's SELECT.
    Null,
    /// The value becomes a fixed value of its type, in the export's SELECT.
    Mask,
    /// The value becomes its keyed pseudonym, written as the [`Render`] says, by the export's
    /// encoder.
    Hash(Render),
}

#[derive(Debug, Clone)]
struct Decision {
    action: Action,
    /// The foreign key that brought a hash here, and the column at its other end.
    follows: Option<(String, String)>,
}

/// `(schema, table, column)`.
type ColumnId = (String, String, String);

fn id(schema: &str, table: &str, column: &str) -> ColumnId {
    (schema.to_owned(), table.to_owned(), column.to_owned())
}

fn show(c: &ColumnId) -> String {
    format!("{}.{}.{}", c.0, c.1, c.2)
}

/// The decided redaction of one export, with its key.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    columns: BTreeMap<ColumnId, Decision>,
    key: Option<(Key, &'static str)>,
}

/// Decides what happens to every column of `tables` (the export's selection). `tenant_column`
/// is the `--tenant-column`, which must keep its values.
///
/// # Errors
/// [`Error`] for a pattern matching nothing, a mode the column cannot take, a tie through a
/// foreign key that cannot hold, the tenant column, or a key that cannot be had.
pub fn plan(tables: &[Table], opts: &Options, tenant_column: Option<&str>) -> Result<Plan, Error> {
    if opts.is_empty() {
        return Ok(Plan::default());
    }
    let mut columns = BTreeMap::new();
    for rule in &opts.redact {
        for (t, c) in matching(tables, "--redact", &rule.pattern)? {
            let action = explicit_action(t, c, rule.mode)?;
            columns.insert(id(&t.schema, &t.name, &c.name), Decision { action, follows: None });
        }
    }
    for pattern in &opts.exclude_columns {
        for (t, c) in matching(tables, "--exclude-column", pattern)? {
            let decision = Decision { action: Action::Exclude, follows: None };
            columns.insert(id(&t.schema, &t.name, &c.name), decision);
        }
    }
    follow_foreign_keys(tables, &mut columns)?;
    check_generated(tables, &columns)?;
    if let Some(tenant) = tenant_column {
        check_tenant(&columns, tenant)?;
    }
    Ok(Plan { columns, key: Some(opts.key.load()?) })
}

/// Every (table, column) a `table.column` / `schema.table.column` pattern matches.
fn matching<'t>(
    tables: &'t [Table],
    flag: &'static str,
    pattern: &str,
) -> Result<Vec<(&'t Table, &'t Column)>, Error> {
    let bad = || Error::BadPattern { flag, pattern: pattern.to_owned() };
    let dot = last_unquoted(pattern, '.').ok_or_else(bad)?;
    let (table_part, column_part) = (&pattern[..dot], &pattern[dot + 1..]);
    if table_part.is_empty() || column_part.is_empty() {
        return Err(bad());
    }
    let (table_pat, column_pat) = (Pattern::parse(table_part), Pattern::parse(column_part));
    // A pattern without a schema matches on the name alone, so a bare column name is matched
    // as the name of a stand-in table: the one matcher `--table` uses, quoting and all.
    let column_matches = |c: &Column| column_pat.matches(&Table::new("", c.name.clone(), vec![]));
    let found: Vec<_> = tables
        .iter()
        .filter(|t| table_pat.matches(t))
        .flat_map(|t| t.columns.iter().filter(|c| column_matches(c)).map(move |c| (t, c)))
        .collect();
    if found.is_empty() {
        return Err(Error::NoMatch { flag, pattern: pattern.to_owned() });
    }
    Ok(found)
}

fn explicit_action(t: &Table, c: &Column, mode: Mode) -> Result<Action, Error> {
    let column = format!("{}.{}", t.display_name(), c.name);
    match mode {
        Mode::Null if !c.nullable => Err(Error::NotNull { column }),
        Mode::Null => Ok(Action::Null),
        Mode::Mask => maskable(c).then_some(Action::Mask).ok_or_else(|| Error::Type {
            mode: "mask",
            column,
            ty: c.ty.name.clone(),
            supported: "scalar types and enums (not arrays or composites)",
            other: "=null or =hash",
        }),
        Mode::Hash(how) => render_for(c, how, &column).map(Action::Hash),
    }
}

fn maskable(c: &Column) -> bool {
    matches!(c.ty.kind, TypeKind::Base { .. } | TypeKind::Enum { .. })
}

/// How a hashed column's pseudonyms are written, from its type.
fn render_for(c: &Column, how: HashAs, column: &str) -> Result<Render, Error> {
    let unsupported = || Error::Type {
        mode: "hash",
        column: column.to_owned(),
        ty: c.ty.name.clone(),
        supported: if how == HashAs::Email {
            "text columns"
        } else {
            "text, varchar, char, citext, uuid, smallint, integer, bigint and bytea"
        },
        other: "=null or =mask",
    };
    let base = c.ty.base_name().ok_or_else(unsupported)?;
    let textual = matches!(base, "text" | "varchar" | "bpchar" | "name" | "citext");
    if how == HashAs::Email && !textual {
        return Err(unsupported());
    }
    let render = match base {
        "uuid" => Render::Uuid,
        "int2" => Render::Int { bits: 15 },
        "int4" => Render::Int { bits: 31 },
        "int8" => Render::Int { bits: 63 },
        "bytea" => Render::Bytes,
        _ if textual => {
            let max = text_length(c).unwrap_or(usize::MAX);
            let email = how == HashAs::Email
                || (how == HashAs::Auto && c.name.to_lowercase().contains("email"));
            if email { Render::Email { max } } else { Render::Hex { max } }
        }
        _ => return Err(unsupported()),
    };
    check_fits(render, column)?;
    Ok(render)
}

fn check_fits(render: Render, column: &str) -> Result<(), Error> {
    let (len, need) = match render {
        Render::Hex { max } => (max, MIN_HEX),
        Render::Email { max } => (max, 1 + MIN_HEX + EMAIL_DOMAIN.len()),
        _ => return Ok(()),
    };
    if len < need {
        return Err(Error::TooShort { column: column.to_owned(), len, need });
    }
    Ok(())
}

/// The declared length of `varchar(n)` / `char(n)` (`name` holds 63 bytes).
fn text_length(c: &Column) -> Option<usize> {
    if c.ty.base_name() == Some("name") {
        return Some(63);
    }
    let open = c.ty.name.rfind('(')?;
    let close = c.ty.name[open..].find(')')? + open;
    c.ty.name[open + 1..close].trim().parse().ok()
}

/// Spreads every hash across the foreign keys that tie its column to others (referencing and
/// referenced, by position in composite keys), until nothing changes: so both ends of a key
/// hold the same pseudonyms. A column the user nulled or excluded keeps that.
fn follow_foreign_keys(
    tables: &[Table],
    columns: &mut BTreeMap<ColumnId, Decision>,
) -> Result<(), Error> {
    let ties: Vec<(ColumnId, ColumnId, String)> = tables
        .iter()
        .flat_map(|t| {
            t.foreign_keys.iter().flat_map(move |fk| {
                fk.columns.iter().zip(&fk.referenced_columns).map(move |(c, r)| {
                    let from = id(&t.schema, &t.name, c);
                    let to = id(&fk.references.schema, &fk.references.name, r);
                    (from, to, fk.name.clone())
                })
            })
        })
        .filter(|(_, to, _)| tables.iter().any(|t| t.schema == to.0 && t.name == to.1))
        .collect();
    // Each pass either adds a column or narrows a render, so this ends; the bound is a guard.
    for _ in 0..=ties.len() * 4 + 1 {
        let mut changed = false;
        for (a, b, fk) in &ties {
            changed |= tie(tables, columns, a, b, fk)? | tie(tables, columns, b, a, fk)?;
        }
        if !changed {
            break;
        }
    }
    check_unfollowed(&ties, columns)
}

/// A nulled or masked column that a foreign key references, from a column kept as it is,
/// would leave the original values in the referencing table (and break the key): refused.
fn check_unfollowed(
    ties: &[(ColumnId, ColumnId, String)],
    columns: &BTreeMap<ColumnId, Decision>,
) -> Result<(), Error> {
    for (from, to, fk) in ties {
        let gone =
            matches!(columns.get(to), Some(d) if matches!(d.action, Action::Null | Action::Mask));
        if gone && !columns.contains_key(from) {
            return Err(Error::Unfollowed { column: show(to), other: show(from), fk: fk.clone() });
        }
    }
    Ok(())
}

/// Brings `from`'s hash to `to`; whether anything changed.
fn tie(
    tables: &[Table],
    columns: &mut BTreeMap<ColumnId, Decision>,
    from: &ColumnId,
    to: &ColumnId,
    fk: &str,
) -> Result<bool, Error> {
    let Some(Decision { action: Action::Hash(render), .. }) = columns.get(from).cloned() else {
        return Ok(false);
    };
    let why = format!("foreign key {fk}");
    let conflict =
        |other: &str| Error::Tied { column: show(from), other: show(to), why: other.to_owned() };
    match columns.get_mut(to) {
        None => {
            // The render must also fit this column's own type (a shorter varchar).
            let own = match column_of(tables, to) {
                Some(c) => render_for(c, HashAs::Auto, &show(to))?,
                None => render,
            };
            let joined = render.join(own).ok_or_else(|| {
                conflict(&format!(
                    "{why}; one is written as {}, the other as {}",
                    render.word(),
                    own.word()
                ))
            })?;
            let follows = Some((fk.to_owned(), show(from)));
            columns.insert(to.clone(), Decision { action: Action::Hash(joined), follows });
            Ok(true)
        }
        Some(Decision { action: Action::Exclude | Action::Null, .. }) => Ok(false),
        Some(Decision { action: Action::Mask, .. }) => {
            Err(conflict(&format!("{why}; one is masked")))
        }
        Some(Decision { action: Action::Hash(there), .. }) => {
            let joined = render.join(*there).ok_or_else(|| {
                conflict(&format!(
                    "{why}; one is written as {}, the other as {}",
                    render.word(),
                    there.word()
                ))
            })?;
            let changed = joined != *there;
            *there = joined;
            Ok(changed)
        }
    }
}

/// A stored generated column computed from a redacted one carries what it was computed
/// from (`split_part(email, '@', 2)`): it must be redacted or excluded too.
fn check_generated(tables: &[Table], columns: &BTreeMap<ColumnId, Decision>) -> Result<(), Error> {
    for t in tables {
        let decided = |c: &str| columns.contains_key(&id(&t.schema, &t.name, c));
        for g in t.columns.iter().filter(|c| !decided(&c.name)) {
            let Some(expr) = &g.generated else { continue };
            let source =
                t.columns.iter().find(|c| decided(&c.name) && mentions_identifier(expr, &c.name));
            if let Some(source) = source {
                return Err(Error::Derived {
                    column: format!("{}.{}", t.display_name(), g.name),
                    from: format!("{}.{}", t.display_name(), source.name),
                });
            }
        }
    }
    Ok(())
}

fn column_of<'t>(tables: &'t [Table], c: &ColumnId) -> Option<&'t Column> {
    let t = tables.iter().find(|t| t.schema == c.0 && t.name == c.1)?;
    t.column(&c.2)
}

fn check_tenant(columns: &BTreeMap<ColumnId, Decision>, tenant: &str) -> Result<(), Error> {
    let Some((c, d)) = columns.iter().find(|(c, _)| c.2 == tenant) else { return Ok(()) };
    let how = match &d.follows {
        Some((fk, other)) => format!(" (hashed because foreign key {fk} ties it to {other})"),
        None => String::new(),
    };
    Err(Error::TenantColumn { column: show(c), how })
}

impl Plan {
    /// Whether the export is redacted at all.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// What happens to `column` of `table`, `None` when it is exported as it is.
    pub fn action(&self, table: &Table, column: &str) -> Option<Action> {
        self.columns.get(&id(&table.schema, &table.name, column)).map(|d| d.action)
    }

    /// Whether the values of `column` of `table` are redacted or left out.
    pub fn hides(&self, table: &crate::model::catalog::QualifiedName, column: &str) -> bool {
        self.columns.contains_key(&id(&table.schema, &table.name, column))
    }

    /// The pseudonym writer, when some column is hashed.
    pub fn hasher(&self) -> Option<Hasher> {
        let hashed = self.columns.values().any(|d| matches!(d.action, Action::Hash(_)));
        let (key, _) = self.key.as_ref()?;
        hashed.then(|| Hasher { mac: key.mac() })
    }

    /// The manifest's record: every column and its mode, and the key's fingerprint.
    pub fn record(&self) -> Option<Redaction> {
        let (key, source) = self.key.as_ref()?;
        let columns = self
            .columns
            .iter()
            .map(|((schema, table, column), d)| RedactedColumn {
                schema: schema.clone(),
                table: table.clone(),
                column: column.clone(),
                mode: match d.action {
                    Action::Exclude => RedactMode::Excluded,
                    Action::Null => RedactMode::Null,
                    Action::Mask => RedactMode::Mask,
                    Action::Hash(_) => RedactMode::Hash,
                },
                rendered_as: match d.action {
                    Action::Hash(r) => Some(r.word().to_owned()),
                    _ => None,
                },
                follows_foreign_key: d.follows.as_ref().map(|(fk, _)| fk.clone()),
            })
            .collect();
        Some(Redaction {
            key_fingerprint: key.fingerprint(),
            key_source: (*source).to_owned(),
            export_local: *source == "random",
            columns,
        })
    }

    /// One line per redacted column, for `migrate --dry-run`.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|(c, d)| {
                let what = match d.action {
                    Action::Exclude => "excluded (left out, with the keys, indexes and checks \
                                        that need it)"
                        .to_owned(),
                    Action::Null => "null".to_owned(),
                    Action::Mask => "mask (a fixed value)".to_owned(),
                    Action::Hash(r) => format!("hash (keyed pseudonym, as {})", r.word()),
                };
                let follows = match &d.follows {
                    Some((fk, other)) => format!(", because foreign key {fk} ties it to {other}"),
                    None => String::new(),
                };
                format!("{}: {what}{follows}", show(c))
            })
            .collect();
        if let Some((_, source)) = &self.key {
            let key = match *source {
                "random" => "a random key for this export only (pseudonyms match no other export)",
                "env" => "the key in PG2LITE_REDACT_KEY",
                _ => "the key in --redact-key-file",
            };
            lines.push(format!("pseudonyms under {key}"));
        }
        lines
    }

    /// `table` as the manifest records it: excluded columns left out, with every key, index,
    /// foreign key and check that names one, and the checks on masked or hashed columns
    /// (their values no longer hold to them). Foreign keys into an excluded column of
    /// another table go too.
    pub fn prune(&self, table: &Table) -> Table {
        if self.is_empty() {
            return table.clone();
        }
        let gone = |c: &str| self.action(table, c) == Some(Action::Exclude);
        let changed = |c: &str| matches!(self.action(table, c), Some(a) if a != Action::Null);
        let mut t = table.clone();
        t.columns.retain(|c| !gone(&c.name));
        if t.primary_key.as_ref().is_some_and(|k| k.columns.iter().any(|c| gone(c))) {
            t.primary_key = None;
        }
        t.unique.retain(|k| !k.columns.iter().any(|c| gone(c)));
        t.foreign_keys.retain(|fk| {
            let into = |c: &String| {
                let to = id(&fk.references.schema, &fk.references.name, c);
                matches!(self.columns.get(&to), Some(d) if d.action == Action::Exclude)
            };
            !fk.columns.iter().any(|c| gone(c)) && !fk.referenced_columns.iter().any(into)
        });
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        let mentions = |text: &str, pick: &dyn Fn(&str) -> bool| {
            names.iter().any(|n| pick(n) && mentions_identifier(text, n))
        };
        t.indexes.retain(|i| {
            let cols = i.columns.iter().filter_map(|c| c.column.as_deref());
            !cols.chain(i.include.iter().map(String::as_str)).any(gone)
                && !i.columns.iter().any(|c| c.column.is_none() && mentions(&c.definition, &gone))
                && !i.predicate.as_deref().is_some_and(|p| mentions(p, &gone))
        });
        t.checks.retain(|c| !mentions(&c.definition, &|n| gone(n) || changed(n)));
        if t.order_by.iter().any(|c| gone(c)) {
            t.order_by.clear();
        }
        t
    }
}

/// Whether `name` appears in SQL text as an identifier (bare, or double-quoted).
fn mentions_identifier(text: &str, name: &str) -> bool {
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    if text.contains(&quoted) {
        return true;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// Writes pseudonyms: the key's HMAC state, set up once and cloned per value.
#[derive(Clone)]
pub struct Hasher {
    mac: HmacSha256,
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hasher(<secret>)")
    }
}

impl Hasher {
    /// The HMAC-SHA-256 of `value` (a value's Postgres text).
    pub fn digest(&self, value: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    /// Appends the pseudonym of `value` as the JSON the column's type takes.
    pub fn write_json(&self, render: Render, value: &[u8], out: &mut Vec<u8>) {
        let d = self.digest(value);
        match render {
            Render::Hex { max } => {
                out.push(b'"');
                push_hex(out, &d, max.min(HEX_DIGITS));
                out.push(b'"');
            }
            Render::Email { max } => {
                let digits = max.saturating_sub(1 + EMAIL_DOMAIN.len()).min(EMAIL_HEX);
                out.extend_from_slice(b"\"h");
                push_hex(out, &d, digits);
                out.extend_from_slice(EMAIL_DOMAIN.as_bytes());
                out.push(b'"');
            }
            Render::Uuid => {
                let mut u = [0u8; 16];
                u.copy_from_slice(&d[..16]);
                u[6] = (u[6] & 0x0f) | 0x40;
                u[8] = (u[8] & 0x3f) | 0x80;
                out.push(b'"');
                let mut buf = uuid::Uuid::encode_buffer();
                out.extend_from_slice(
                    uuid::Uuid::from_bytes(u).hyphenated().encode_lower(&mut buf).as_bytes(),
                );
                out.push(b'"');
            }
            Render::Int { bits } => {
                let n = u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) >> (64 - bits);
                out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
            }
            Render::Bytes => {
                use base64::Engine as _;
                out.push(b'"');
                out.extend_from_slice(
                    base64::engine::general_purpose::STANDARD.encode(d).as_bytes(),
                );
                out.push(b'"');
            }
        }
    }
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8], digits: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in 0..digits {
        let b = bytes[i / 2];
        out.push(HEX[usize::from(if i % 2 == 0 { b >> 4 } else { b & 0x0f })]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog::PgType;

    fn col(name: &str, ty: &str, base: &str, nullable: bool) -> Column {
        Column {
            name: name.into(),
            ty: PgType {
                name: ty.into(),
                domain: None,
                kind: TypeKind::Base { base: base.into(), precision: None, scale: None },
            },
            nullable,
            default: None,
            identity: None,
            generated: None,
        }
    }

    fn hasher() -> Hasher {
        Hasher { mac: Key::new(b"0123456789abcdef-key", "test").unwrap().mac() }
    }

    fn json(render: Render, value: &str) -> String {
        let mut out = Vec::new();
        hasher().write_json(render, value.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn modes_parse_and_a_bad_mode_is_named() {
        assert_eq!(Rule::parse("users.email").unwrap().mode, Mode::Null);
        assert_eq!(Rule::parse("users.email=hash").unwrap().mode, Mode::Hash(HashAs::Auto));
        assert_eq!(Rule::parse("\"a=b\".c=mask").unwrap().pattern, "\"a=b\".c");
        let err = Rule::parse("users.email=scramble").unwrap_err().to_string();
        assert!(err.contains("\"scramble\"") && err.contains("hash:email"), "{err}");
    }

    #[test]
    fn pseudonyms_fit_their_types_and_equal_values_stay_equal() {
        assert_eq!(json(Render::Hex { max: 64 }, "a"), json(Render::Hex { max: 64 }, "a"));
        assert_ne!(json(Render::Hex { max: 64 }, "a"), json(Render::Hex { max: 64 }, "b"));
        assert_eq!(json(Render::Hex { max: 10 }, "a").len(), 12);
        let email = json(Render::Email { max: usize::MAX }, "x@example.com");
        assert!(email.starts_with("\"h") && email.ends_with("@redacted.invalid\""), "{email}");
        let uuid = json(Render::Uuid, "u");
        assert!(uuid::Uuid::parse_str(uuid.trim_matches('"')).is_ok(), "{uuid}");
        let small: u64 = json(Render::Int { bits: 15 }, "7").parse().unwrap();
        assert!(small <= i16::MAX as u64);
    }

    #[test]
    fn the_key_never_shows_and_its_fingerprint_is_stable() {
        let key = Key::new(b"0123456789abcdef-key\n", "test").unwrap();
        assert!(!format!("{key:?}").contains("0123"));
        assert_eq!(
            key.fingerprint(),
            Key::new(b"0123456789abcdef-key", "t").unwrap().fingerprint()
        );
        assert!(Key::new(b"short", "test").is_err());
    }

    #[test]
    fn hashing_follows_foreign_keys_both_ways() {
        let mut users = Table::new("public", "users", vec![col("email", "text", "text", false)]);
        users.unique.push(crate::model::catalog::KeyConstraint {
            name: "u".into(),
            columns: vec!["email".into()],
        });
        let mut logins = Table::new(
            "public",
            "logins",
            vec![col("who", "character varying(40)", "varchar", true)],
        );
        logins.foreign_keys.push(crate::model::catalog::ForeignKey {
            name: "logins_who_fkey".into(),
            columns: vec!["who".into()],
            references: crate::model::catalog::QualifiedName {
                schema: "public".into(),
                name: "users".into(),
            },
            referenced_columns: vec!["email".into()],
            on_update: crate::model::catalog::FkAction::NoAction,
            on_delete: crate::model::catalog::FkAction::NoAction,
            deferrable: false,
            initially_deferred: false,
            definition: String::new(),
        });
        let tables = [users, logins];
        let opts = Options {
            redact: vec![Rule::parse("users.email=hash").unwrap()],
            ..Options::default()
        };
        let plan = plan(&tables, &opts, None).unwrap();
        let want = Some(Action::Hash(Render::Email { max: 40 }));
        assert_eq!(plan.action(&tables[0], "email"), want);
        assert_eq!(plan.action(&tables[1], "who"), want);
        let err = super::plan(&tables, &opts, Some("who")).unwrap_err().to_string();
        assert!(err.contains("tenant column") && err.contains("logins_who_fkey"), "{err}");
    }

    #[test]
    fn identifiers_are_found_as_words_only() {
        assert!(mentions_identifier("CHECK ((ip <> '0.0.0.0'::inet))", "ip"));
        assert!(!mentions_identifier("CHECK ((zip <> ''))", "ip"));
        assert!(mentions_identifier("CHECK ((\"Ip\" IS NOT NULL))", "Ip"));
    }
}
