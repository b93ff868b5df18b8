//! Turns export values into SQLite values, in parallel across rows.
//!
//! Reads: NDJSON lines of one table (grouped into a [`Batch`] by a [`BatchReader`]) and the
//! table's [`TablePlan`](crate::mapping::TablePlan), whose columns carry a [`Conversion`] each. Writes nothing: it yields
//! a [`ConvertedBatch`] whose rows bind straight into a prepared `INSERT`
//! ([`TablePlan::insert_sql`](crate::mapping::TablePlan::insert_sql)) with `rusqlite::params_from_iter(row.values())`.
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
//! use pg2lite::mapping::{Lossy, TablePlan};
//! use pg2lite::transform::{BatchReader, convert_batch};
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
pub mod feed;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use rusqlite::types::{ToSql, ToSqlOutput, Value, ValueRef};
use serde_json::value::RawValue;

use crate::format::decimal::{self, Decimal};
use crate::format::{self as rules, Misfit, json};
use crate::mapping::{ColumnPlan, Conversion, Loss, Lossy, NumericTarget, TimeForm};

pub use batch::{Batch, BatchReader, ConvertedBatch, Error, Row, convert_batch};

/// A value ready to bind into SQLite. Text and blobs borrow from the export line when they
/// can, so binding copies them once, into SQLite.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue<'a> {
    /// SQL NULL.
    Null,
    /// A 64-bit INTEGER.
    Integer(i64),
    /// A REAL (an `f64`, never NaN: NaN becomes `Null`).
    Real(f64),
    /// TEXT, borrowed from the line when no unescaping was needed.
    Text(Cow<'a, str>),
    /// A BLOB: bytea decoded from the line's base64 (owned), or a cell of a converted batch.
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
    /// The value to bind.
    pub value: SqlValue<'a>,
    /// What the conversion lost (a rounded numeric, a time zone), or `None` when it is exact.
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
    /// The JSON value has another kind than the column's conversion takes (a string where a number
    /// belongs).
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the conversion takes, in words (`a JSON number`).
        expected: &'static str,
        /// The value's JSON text, cut after 60 characters.
        found: String,
    },
    /// An integer or whole numeric beyond the 64-bit range, for an INTEGER column.
    #[error("{value} does not fit a 64-bit INTEGER")]
    OutOfRange {
        /// The value as written in the export, cut after 60 characters.
        value: String,
    },
    /// A numeric with a fractional part, for an INTEGER column.
    #[error("numeric {value} is not a whole number, but the column is INTEGER")]
    NotWhole {
        /// The value as written in the export, cut after 60 characters.
        value: String,
    },
    /// A float whose text is beyond the range of an `f64`.
    #[error("float {value} is beyond the range of a double")]
    FloatOverflow {
        /// The value as written in the export, cut after 60 characters.
        value: String,
    },
    /// A bytea value that is not base64.
    #[error("not valid base64 ({reason}): {found}")]
    Base64 {
        /// The decoder's message.
        reason: String,
        /// The value's JSON text, cut after 60 characters.
        found: String,
    },
    /// A JSON string with a bad escape or invalid UTF-8.
    #[error("not a valid JSON string ({reason}): {found}")]
    BadString {
        /// The JSON parser's message.
        reason: String,
        /// The value's JSON text, cut after 60 characters.
        found: String,
    },
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
        Conversion::Json => Ok(Converted::exact(SqlValue::Text(json::compact(text)))),
        Conversion::Structured => structured(text),
        Conversion::Bytea => bytea(text),
        Conversion::Datetime(form) => Ok(datetime(form, string(text, "a JSON string")?)),
    }
}

/// A date or time in SQLite's form ([`TimeForm::sqlite_text`]); one SQLite cannot order as
/// time is kept as exported and counted as [`Loss::NotTime`].
fn datetime(form: TimeForm, text: Cow<'_, str>) -> Converted<'_> {
    match form.sqlite_text(text.clone()) {
        Some(t) => Converted::exact(SqlValue::Text(t)),
        None => Converted::lossy(SqlValue::Text(text), Loss::NotTime),
    }
}

/// Converts the text of one numeric value (`12.50`, `NaN`) as [`Conversion::Numeric`] does
/// the JSON string holding it: what a fed import uses to give a column loaded as decimal
/// text the type the finished export decides (see `mapping::refit`).
///
/// # Errors
/// As [`convert`].
pub fn convert_decimal(text: &str, target: NumericTarget) -> Result<Converted<'_>, ConvertError> {
    numeric_value(Cow::Borrowed(text), text, target)
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
        Some(b'[' | b'{') => json::compact(text),
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
        table: &crate::mapping::TablePlan,
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

    /// Whether no column holds a JSON `null`, so no value needs checking.
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
