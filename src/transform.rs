//! Turns export values into SQLite values, in parallel across rows.
//!
//! Reads: NDJSON lines of one table (grouped into a [`Batch`] by a [`BatchReader`]) and the
//! table's [`TablePlan`](crate::schema::TablePlan), whose columns carry a [`Conversion`] each. Writes nothing: it yields
//! a [`ConvertedBatch`] whose rows bind straight into a prepared `INSERT`
//! ([`TablePlan::insert_sql`](crate::schema::TablePlan::insert_sql)) with `rusqlite::params_from_iter(row.values())`.
//!
//! Guarantees:
//! - each line is parsed once; keys must be the table's columns in table order (else an error
//!   naming table, line and column); values are read from their raw JSON text, never through
//!   a lossy intermediate (`serde_json::Value` would reorder nothing here but would round
//!   numbers beyond 64 bits);
//! - every value, stripped columns' included, is checked against its column's rule
//!   ([`crate::format::Rules`], the rules `verify --deep` applies) before it is converted:
//!   type, range, text form, enum label, shape, and `null` only where the column may be NULL
//!   (never in a primary key); the first value that breaks one is an error naming table,
//!   line and column, so an import accepts exactly what verify accepts;
//! - every file must end with a newline (else an error naming the last line): a cut file is
//!   refused, as verify refuses it;
//! - integers and whole numerics are exact or an error; json, jsonb, arrays and composites
//!   keep their text byte for byte (only insignificant whitespace is removed, so the result
//!   is compact JSON); text is unescaped and otherwise untouched, and borrowed from the line
//!   rather than copied where it has no escapes;
//! - every conversion that loses information is counted per column in [`Lossy`]: NaN stored
//!   as NULL, float `-0` stored as `0`, and a numeric whose REAL no longer prints back as the
//!   same number (see [`Loss::Rounded`]). Nothing else is ever lossy.
//!
//! ```no_run
//! use pg2lite::schema::TablePlan;
//! use pg2lite::transform::{BatchReader, Lossy, convert_batch};
//!
//! fn load(table: &TablePlan, conn: &rusqlite::Connection) -> anyhow::Result<Lossy> {
//!     let file = std::io::BufReader::new(std::fs::File::open("tables/public.users.ndjson")?);
//!     let mut stmt = conn.prepare(&table.insert_sql())?;
//!     let mut lossy = Lossy::new(table.columns.len());
//!     for batch in BatchReader::new(file) {
//!         let converted = convert_batch(batch?, table)?;
//!         for row in converted.rows() {
//!             stmt.execute(rusqlite::params_from_iter(row.values()))?;
//!         }
//!         lossy.merge(converted.lossy());
//!     }
//!     Ok(lossy)
//! }
//! ```

mod batch;
#[cfg(test)]
mod tests;
mod time_form;

use std::borrow::Cow;
use std::fmt;

use rusqlite::types::{ToSql, ToSqlOutput, Value, ValueRef};
use serde_json::value::RawValue;

use crate::format::decimal::{self, Decimal};
use crate::format::{self as rules, Misfit};
use crate::schema::ColumnPlan;

pub use batch::{Batch, BatchReader, ConvertedBatch, Error, Row, convert_batch};

/// The four storage classes a column is declared with. Nothing else is ever declared: a type
/// such as `UUID`, `DATE` or `NUMERIC` would get NUMERIC affinity, which turns digit-only text
/// into numbers behind the user's back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqliteType {
    Integer,
    Real,
    Text,
    Blob,
}

impl SqliteType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "INTEGER",
            Self::Real => "REAL",
            Self::Text => "TEXT",
            Self::Blob => "BLOB",
        }
    }
}

impl fmt::Display for SqliteType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a numeric column's values go, chosen by `--numeric` (see `schema::NumericPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumericTarget {
    /// Whole numbers that fit 64 bits (`numeric(p,s)` with s ≤ 0 and p − s ≤ 18): exact.
    Integer,
    /// A double: exact when it prints back as the same number, else counted as rounded.
    Real,
    /// The exported decimal text, verbatim (`'12.50'`, `'NaN'`): always exact.
    Text,
}

/// How one column's export values become SQLite values. The schema planner picks one per
/// column from its Postgres type; each expects the JSON shape DESIGN.md gives that type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conversion {
    /// int2, int4, int8, oid: a JSON integer → INTEGER.
    Integer,
    /// bool: `true` / `false` → INTEGER 1 / 0.
    Boolean,
    /// float4, float8: a JSON number or `"NaN"`, `"Infinity"`, `"-Infinity"` → REAL.
    Float,
    /// numeric and money: a string holding the decimal text, or `"NaN"`/`"Infinity"`.
    Numeric(NumericTarget),
    /// A JSON string → TEXT, unescaped (text, enum, uuid, timestamps, and every type exported
    /// as its Postgres text).
    Text,
    /// json, jsonb: the embedded JSON value → TEXT holding that JSON, compact.
    Json,
    /// Arrays and composites: a JSON array or object → TEXT holding that JSON, compact; or a
    /// string (an array whose lower bounds are not all 1, in Postgres' text form) → TEXT.
    Structured,
    /// bytea: a base64 string → BLOB.
    Bytea,
    /// Dates and times under `--datetime sqlite` (the default): a JSON string → TEXT in the
    /// form SQLite's date functions write, where the value has one ([`TimeForm`]).
    Datetime(TimeForm),
}

pub use time_form::TimeForm;

impl Conversion {
    pub fn sqlite_type(self) -> SqliteType {
        match self {
            Self::Integer | Self::Boolean | Self::Numeric(NumericTarget::Integer) => {
                SqliteType::Integer
            }
            Self::Float | Self::Numeric(NumericTarget::Real) => SqliteType::Real,
            Self::Bytea => SqliteType::Blob,
            Self::Numeric(NumericTarget::Text)
            | Self::Text
            | Self::Json
            | Self::Structured
            | Self::Datetime(_) => SqliteType::Text,
        }
    }

    /// A short name for the mapping, as recorded in `_pg2lite_columns.mapping` and reports.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Boolean => "boolean as 0/1",
            Self::Float => "float",
            Self::Numeric(NumericTarget::Integer) => "numeric as integer (exact)",
            Self::Numeric(NumericTarget::Real) => "numeric as real",
            Self::Numeric(NumericTarget::Text) => "numeric as decimal text (exact)",
            Self::Text => "text",
            Self::Json => "json text",
            Self::Structured => "json text (array or composite)",
            Self::Bytea => "base64 to blob",
            Self::Datetime(form) => form.describe(),
        }
    }

    /// What this mapping may lose, before any value is seen (for plans and dry runs).
    pub fn possible_loss(self) -> Option<&'static str> {
        match self {
            Self::Float => Some("NaN becomes NULL, -0 becomes 0"),
            Self::Numeric(NumericTarget::Real) => {
                Some("NaN becomes NULL; values beyond 15 significant digits are rounded")
            }
            Self::Numeric(NumericTarget::Integer) => Some("NaN becomes NULL"),
            _ => None,
        }
    }
}

/// A value made lossy by its conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Loss {
    /// A float or numeric NaN stored as NULL (SQLite has no NaN).
    NanToNull,
    /// A float `-0` stored as `0` (SQLite keeps no sign on zero).
    NegativeZero,
    /// A numeric stored as REAL whose shortest round-trip text is a different number:
    /// `"1234567890123456789"` becomes `1.2345678901234568e18`.
    Rounded,
    /// Not lost, but kept as exported because SQLite cannot order it as time (`infinity`, a
    /// year outside 0000–9999, timetz, interval): counted so that the report says so.
    NotTime,
}

/// How many values of one column each kind of [`Loss`] affected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColumnLoss {
    pub nan_to_null: u64,
    pub negative_zero: u64,
    pub rounded: u64,
    /// Values kept as exported text that do not compare as time ([`Loss::NotTime`]); not a
    /// loss, so not in [`ColumnLoss::total`].
    pub not_time: u64,
}

impl ColumnLoss {
    pub fn add(&mut self, loss: Loss) {
        match loss {
            Loss::NanToNull => self.nan_to_null += 1,
            Loss::NegativeZero => self.negative_zero += 1,
            Loss::Rounded => self.rounded += 1,
            Loss::NotTime => self.not_time += 1,
        }
    }

    pub fn merge(&mut self, other: &ColumnLoss) {
        self.nan_to_null += other.nan_to_null;
        self.negative_zero += other.negative_zero;
        self.rounded += other.rounded;
        self.not_time += other.not_time;
    }

    pub fn total(&self) -> u64 {
        self.nan_to_null + self.negative_zero + self.rounded
    }

    /// `"2 NaN stored as NULL, 1 -0 stored as 0"`, or `None` when nothing was lost.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            (self.nan_to_null, "NaN stored as NULL"),
            (self.negative_zero, "-0 stored as 0"),
            (self.rounded, "rounded to the nearest REAL"),
            (self.not_time, "do not compare as time (kept as exported)"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Losses of one table, per SQLite column (indexed like [`TablePlan::columns`](crate::schema::TablePlan::columns)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lossy {
    columns: Vec<ColumnLoss>,
}

impl Lossy {
    pub fn new(columns: usize) -> Self {
        Lossy { columns: vec![ColumnLoss::default(); columns] }
    }

    /// The losses of column `index` (none for an index out of range).
    pub fn column(&self, index: usize) -> ColumnLoss {
        self.columns.get(index).copied().unwrap_or_default()
    }

    pub fn add(&mut self, index: usize, loss: Loss) {
        if index >= self.columns.len() {
            self.columns.resize(index + 1, ColumnLoss::default());
        }
        self.columns[index].add(loss);
    }

    pub fn merge(&mut self, other: &Lossy) {
        if other.columns.len() > self.columns.len() {
            self.columns.resize(other.columns.len(), ColumnLoss::default());
        }
        for (mine, theirs) in self.columns.iter_mut().zip(&other.columns) {
            mine.merge(theirs);
        }
    }

    /// Values made lossy in all columns together.
    pub fn total(&self) -> u64 {
        self.columns.iter().map(ColumnLoss::total).sum()
    }
}

/// A value ready to bind into SQLite. Text and blobs borrow from the export line when they
/// can, so binding copies them once, into SQLite.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(Cow<'a, str>),
    Blob(Cow<'a, [u8]>),
}

impl SqlValue<'_> {
    /// An owned copy, for comparisons against values read back from SQLite.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Integer(i) => Value::Integer(*i),
            Self::Real(f) => Value::Real(*f),
            Self::Text(t) => Value::Text(t.to_string()),
            Self::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

impl ToSql for SqlValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Null => ValueRef::Null,
            Self::Integer(i) => ValueRef::Integer(*i),
            Self::Real(f) => ValueRef::Real(*f),
            Self::Text(t) => ValueRef::Text(t.as_bytes()),
            Self::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// One converted value, and what it lost, if anything.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted<'a> {
    pub value: SqlValue<'a>,
    pub loss: Option<Loss>,
}

impl<'a> Converted<'a> {
    fn exact(value: SqlValue<'a>) -> Self {
        Converted { value, loss: None }
    }

    fn lossy(value: SqlValue<'a>, loss: Loss) -> Self {
        Converted { value, loss: Some(loss) }
    }
}

/// Why one value could not be converted. Each means the export disagrees with its own
/// catalog (or was edited): the value is not what its column's type is exported as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The value breaks its column's rule (`crate::format`), which `verify --deep` reports
    /// too.
    #[error("{0}")]
    Misfit(Box<Misfit>),
    #[error("expected {expected}, found {found}")]
    Unexpected { expected: &'static str, found: String },
    #[error("{value} does not fit a 64-bit INTEGER")]
    OutOfRange { value: String },
    #[error("numeric {value} is not a whole number, but the column is INTEGER")]
    NotWhole { value: String },
    #[error("float {value} is beyond the range of a double")]
    FloatOverflow { value: String },
    #[error("not valid base64 ({reason}): {found}")]
    Base64 { reason: String, found: String },
    #[error("not a valid JSON string ({reason}): {found}")]
    BadString { reason: String, found: String },
    /// NaN, which SQLite stores as NULL, in a column the plan keeps NOT NULL: the manifest's
    /// `nan_values` (from which the plan relaxes such columns) does not count it.
    #[error(
        "NaN, which SQLite stores as NULL, in a NOT NULL column whose NaN values the manifest \
         does not record (nan_values)"
    )]
    UnrecordedNan,
}

/// Converts one raw JSON value by its column's conversion. `null` is SQL NULL for every
/// conversion; see [`convert_column`] for the one case where it is not.
///
/// # Errors
/// A [`ConvertError`] when the value does not have the shape its conversion expects, or an
/// integer or whole numeric does not fit 64 bits.
pub fn convert(raw: &RawValue, conv: Conversion) -> Result<Converted<'_>, ConvertError> {
    let text = raw.get();
    if text == "null" {
        return Ok(Converted::exact(SqlValue::Null));
    }
    match conv {
        Conversion::Integer => integer(text),
        Conversion::Boolean => boolean(text),
        Conversion::Float => float(text),
        Conversion::Numeric(target) => numeric(text, target),
        Conversion::Text => Ok(Converted::exact(SqlValue::Text(string(text, "a JSON string")?))),
        Conversion::Json => Ok(Converted::exact(SqlValue::Text(compact_json(text)))),
        Conversion::Structured => structured(text),
        Conversion::Bytea => bytea(text),
        Conversion::Datetime(form) => Ok(form.convert(string(text, "a JSON string")?)),
    }
}

/// Converts the text of one numeric value (`12.50`, `NaN`) as [`Conversion::Numeric`] does
/// the JSON string holding it: what a fed import uses to give a column loaded as decimal
/// text the type the finished export decides (see `schema::refit`).
///
/// # Errors
/// As [`convert`].
pub fn convert_decimal(text: &str, target: NumericTarget) -> Result<Converted<'_>, ConvertError> {
    numeric_value(Cow::Borrowed(text), text, target)
}

/// Whether `s` is plain decimal text (`12.50`, `-1`, `1e5`): what the schema planner takes
/// for a numeric constant.
pub(crate) fn is_decimal(s: &str) -> bool {
    Decimal::parse(s).is_some()
}

/// `s` as an `i64` when it is a whole number in range (`"12.00"` is 12).
pub(crate) fn parse_whole(s: &str) -> Option<i64> {
    Decimal::parse(s)?.to_i64().ok().flatten()
}

/// Converts one raw value of `column`, as import does. The export writes SQL NULL and a json
/// value `null` alike; in a NOT NULL json column it can only be the JSON `null`, so it is
/// stored as the text `null` there (a nullable column gets SQL NULL: the export cannot tell).
///
/// # Errors
/// As [`convert`].
pub fn convert_column<'a>(
    raw: &'a RawValue,
    column: &ColumnPlan,
) -> Result<Converted<'a>, ConvertError> {
    if column.not_null && column.conversion == Conversion::Json && raw.get() == "null" {
        return Ok(Converted::exact(SqlValue::Text(Cow::Borrowed(raw.get()))));
    }
    convert(raw, column.conversion)
}

/// At most 60 characters of a raw value, for messages.
fn shown(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

fn unexpected(expected: &'static str, text: &str) -> ConvertError {
    ConvertError::Unexpected { expected, found: shown(text) }
}

fn integer(text: &str) -> Result<Converted<'_>, ConvertError> {
    match text.parse::<i64>() {
        Ok(i) => Ok(Converted::exact(SqlValue::Integer(i))),
        Err(_) if Decimal::parse(text).is_some_and(|d| d.to_i64() == Err(())) => {
            Err(ConvertError::OutOfRange { value: shown(text) })
        }
        Err(_) => Err(unexpected("a JSON integer", text)),
    }
}

fn boolean(text: &str) -> Result<Converted<'_>, ConvertError> {
    match text {
        "true" => Ok(Converted::exact(SqlValue::Integer(1))),
        "false" => Ok(Converted::exact(SqlValue::Integer(0))),
        _ => Err(unexpected("true or false", text)),
    }
}

fn float(text: &str) -> Result<Converted<'_>, ConvertError> {
    if text.starts_with('"') {
        return match text {
            "\"NaN\"" => Ok(Converted::lossy(SqlValue::Null, Loss::NanToNull)),
            "\"Infinity\"" => Ok(Converted::exact(SqlValue::Real(f64::INFINITY))),
            "\"-Infinity\"" => Ok(Converted::exact(SqlValue::Real(f64::NEG_INFINITY))),
            _ => Err(unexpected("a number, \"NaN\", \"Infinity\" or \"-Infinity\"", text)),
        };
    }
    if Decimal::parse(text).is_none() {
        return Err(unexpected("a JSON number", text));
    }
    let f: f64 = text.parse().map_err(|_| unexpected("a JSON number", text))?;
    if f.is_infinite() {
        return Err(ConvertError::FloatOverflow { value: shown(text) });
    }
    if f == 0.0 && f.is_sign_negative() {
        return Ok(Converted::lossy(SqlValue::Real(0.0), Loss::NegativeZero));
    }
    Ok(Converted::exact(SqlValue::Real(f)))
}

const NUMERIC_SHAPE: &str = "a string holding a decimal number, \"NaN\" or \"Infinity\"";

fn numeric(text: &str, target: NumericTarget) -> Result<Converted<'_>, ConvertError> {
    numeric_value(string(text, NUMERIC_SHAPE)?, text, target)
}

fn numeric_value<'a>(
    s: Cow<'a, str>,
    text: &str,
    target: NumericTarget,
) -> Result<Converted<'a>, ConvertError> {
    if target == NumericTarget::Text {
        return Ok(Converted::exact(SqlValue::Text(s)));
    }
    match &*s {
        "NaN" => return Ok(Converted::lossy(SqlValue::Null, Loss::NanToNull)),
        "Infinity" | "-Infinity" if target == NumericTarget::Real => {
            let inf = if s.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY };
            return Ok(Converted::exact(SqlValue::Real(inf)));
        }
        _ => {}
    }
    let d = Decimal::parse(&s).ok_or_else(|| unexpected(NUMERIC_SHAPE, text))?;
    if target == NumericTarget::Integer {
        return match d.to_i64() {
            Ok(Some(i)) => Ok(Converted::exact(SqlValue::Integer(i))),
            Ok(None) => Err(ConvertError::NotWhole { value: shown(&s) }),
            Err(()) => Err(ConvertError::OutOfRange { value: shown(&s) }),
        };
    }
    Ok(numeric_real(&d, &s))
}

/// A decimal as REAL. Zero is stored as `0.0` (a decimal zero has no sign to lose).
fn numeric_real<'a>(d: &Decimal<'_>, s: &str) -> Converted<'a> {
    let f: f64 = if d.is_zero() { 0.0 } else { s.parse().unwrap_or(f64::NAN) };
    if decimal::round_trips(d, f) || d.is_zero() {
        Converted::exact(SqlValue::Real(f))
    } else {
        Converted::lossy(SqlValue::Real(f), Loss::Rounded)
    }
}

/// The content of a JSON string, borrowed when it holds no escapes.
fn string<'a>(text: &'a str, expected: &'static str) -> Result<Cow<'a, str>, ConvertError> {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|_| text.len() >= 2)
        .ok_or_else(|| unexpected(expected, text))?;
    if !inner.contains('\\') {
        return Ok(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text)
        .map(Cow::Owned)
        .map_err(|e| ConvertError::BadString { reason: e.to_string(), found: shown(text) })
}

fn structured(text: &str) -> Result<Converted<'_>, ConvertError> {
    let value = match text.as_bytes().first() {
        Some(b'"') => string(text, "a JSON array, object or string")?,
        Some(b'[' | b'{') => compact_json(text),
        _ => return Err(unexpected("a JSON array, object or string", text)),
    };
    Ok(Converted::exact(SqlValue::Text(value)))
}

fn bytea(text: &str) -> Result<Converted<'_>, ConvertError> {
    let b64 = string(text, "a base64 string")?;
    rules::decode_bytea(&b64)
        .map(|bytes| Converted::exact(SqlValue::Blob(Cow::Owned(bytes))))
        .map_err(|e| ConvertError::Base64 { reason: e.to_string(), found: shown(text) })
}

/// JSON text without insignificant whitespace; everything else (key order, duplicate keys,
/// the spelling of numbers and strings) byte for byte. Borrowed when already compact, as the
/// exporter writes json; jsonb may carry Postgres' spaces after `:` and `,`.
pub fn compact_json(text: &str) -> Cow<'_, str> {
    let Some(first) = first_insignificant_space(text) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..first]);
    let mut in_string = false;
    let mut escaped = false;
    for c in text[first..].chars() {
        if in_string {
            (in_string, escaped) = (escaped || c != '"', !escaped && c == '\\');
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        } else {
            in_string = c == '"';
        }
        out.push(c);
    }
    Cow::Owned(out)
}

fn first_insignificant_space(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => return Some(i),
            b'"' => i = string_end(bytes, i + 1)?,
            _ => i += 1,
        }
    }
    None
}

/// Where the string whose contents start at `from` ends, just past its closing quote. Most
/// of a JSON document is inside strings, so they are skipped with `memchr` (SIMD) rather
/// than byte by byte: at 2 million rows this scan took 3 % of the import's time.
fn string_end(bytes: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let at = from + memchr::memchr2(b'"', b'\\', bytes.get(from..)?)?;
        if bytes[at] == b'"' {
            return Some(at + 1);
        }
        from = at + 2;
    }
}

/// The rows of a table whose json/jsonb value is the JSON `null` rather than SQL NULL (the
/// manifest's `json_nulls`), by SQLite column: such a value is stored as the text `null`.
#[derive(Debug, Clone, Default)]
pub struct JsonNulls {
    /// By column index: the sorted line numbers, or empty.
    lines: Vec<Vec<u64>>,
}

impl JsonNulls {
    /// From the manifest entry's `json_nulls` (keyed by Postgres column name).
    pub fn new(
        table: &crate::schema::TablePlan,
        recorded: &std::collections::BTreeMap<String, Vec<u64>>,
    ) -> Self {
        let lines = table
            .columns
            .iter()
            .map(|c| {
                let mut l = recorded.get(&c.source).cloned().unwrap_or_default();
                l.sort_unstable();
                l
            })
            .collect();
        JsonNulls { lines }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(Vec::is_empty)
    }

    /// `value`, or the text `null` when column `index` of line `line` is a JSON null.
    pub fn apply<'a>(&self, index: usize, line: u64, value: SqlValue<'a>) -> SqlValue<'a> {
        match (&value, self.lines.get(index)) {
            (SqlValue::Null, Some(lines)) if lines.binary_search(&line).is_ok() => {
                SqlValue::Text(Cow::Borrowed("null"))
            }
            _ => value,
        }
    }
}
