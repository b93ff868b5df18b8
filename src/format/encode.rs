//! From Postgres' binary COPY format to the NDJSON encoding (docs/FORMAT.md): the writing
//! half of the encoding whose reading half is [`super::Rules`]. The export stage runs it; it
//! lives here so that what it decides about a type (say, [`array_as_text`]) is known to
//! validate as well without asking the export.
//!
//! [`plan`] decides, per column, what the `COPY (SELECT ...)` selects and how the bytes that
//! come back are encoded: types with a binary decoder here are read as they are; money is
//! cast to numeric; every other type is cast to text so that Postgres' own output function
//! renders it (through `format('%s', ..)` for the few types whose cast to text is not their
//! output function). Arrays whose lower bounds are not all 1 must be written as Postgres' text
//! output, which binary COPY does not carry, so each top-level array gets a companion column
//! holding that text only for such rows.
//!
//! [`encode`] then writes one value as JSON into a reusable buffer, without allocating for
//! scalars.

use base64::Engine as _;
use fallible_iterator::FallibleIterator;
use postgres_protocol::types as wire;
use serde::Serialize;

use super::json;
use crate::model::catalog::{Column, PgType, TypeKind};
use crate::sql::quote_ident;

/// How one value's bytes become JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Codec {
    /// `int2`, as a JSON number.
    Int2,
    /// `int4`, as a JSON number.
    Int4,
    /// `int8`, as a JSON number.
    Int8,
    /// `oid`, as a JSON number.
    Oid,
    /// `float4`, as its shortest JSON number, or the string `NaN`, `Infinity` or `-Infinity`.
    Float4,
    /// `float8`, as its shortest JSON number, or the string `NaN`, `Infinity` or `-Infinity`.
    Float8,
    /// `numeric` (and money, cast to it), as a string of its exact digits and scale.
    Numeric,
    /// `bool`, as `true` or `false`.
    Bool,
    /// Any UTF-8 text: text types, enums, and types rendered by Postgres' output function.
    Text,
    /// `uuid`, as a string in lower-case hyphenated form.
    Uuid,
    /// `json`, as its JSON, compacted.
    Json,
    /// `jsonb`, as its JSON, compacted (after the binary format's version byte).
    Jsonb,
    /// `timestamptz`, as a string `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC (six fraction digits
    /// always), or `infinity`/`-infinity`.
    Timestamptz,
    /// `timestamp`, as a string `YYYY-MM-DDTHH:MM:SS.ffffff` (six fraction digits always), or
    /// `infinity`/`-infinity`.
    Timestamp,
    /// `date`, as a string `YYYY-MM-DD` (ISO 8601 expanded years outside 0000–9999), or
    /// `infinity`/`-infinity`.
    Date,
    /// `time`, as a string `HH:MM:SS.ffffff`.
    Time,
    /// `timetz`, as a string `HH:MM:SS.ffffff+HH:MM` (`:SS` added to the offset when it has
    /// seconds).
    Timetz,
    /// `bytea`, as a string of standard base64.
    Bytea,
    /// A binary array. `companion` is the select-list position of the column that holds the
    /// array's text output when its lower bounds are not all 1; `vector` marks int2vector and
    /// oidvector, whose lower bound is 0 by construction and which are plain arrays to a user.
    Array {
        /// The elements' codec.
        element: Box<Codec>,
        /// The select-list position of the column holding the array's text output for rows whose
        /// bounds are not all 1; `None` when there is none (int2vector, oidvector).
        companion: Option<usize>,
        /// Whether the type is int2vector or oidvector.
        vector: bool,
    },
    /// A binary record; each field with its JSON key (`"name":`, escaped) and codec.
    Composite {
        /// Each field's JSON key (`"name":`, escaped) and codec, in field order.
        fields: Vec<(Vec<u8>, Codec)>,
    },
    /// Postgres' array text output (`{a,"b c",NULL}`), turned into JSON arrays of strings;
    /// kept as one string when it starts with bounds (`[0:1]={a,b}`).
    TextArray {
        /// The element type's array delimiter (`,` for all but `box`, which uses `;`).
        delimiter: u8,
    },
}

/// What to select for a table's columns and how to encode each.
#[derive(Debug, Clone)]
pub struct SelectPlan {
    /// Select-list expressions: one per column, in column order, then the companions.
    pub exprs: Vec<String>,
    /// For each column: its JSON key (`"name":`, escaped) and codec.
    pub columns: Vec<(Vec<u8>, Codec)>,
}

/// Plans the select list for `columns`.
pub fn plan(columns: &[Column]) -> SelectPlan {
    plan_with(columns, |_| None)
}

/// [`plan`], with `replace` choosing the expression and codec of some columns instead (a
/// redacted column, see [`crate::redact`]): those get no companion, so nothing else of the
/// stored value is selected.
pub fn plan_with(
    columns: &[Column],
    replace: impl Fn(&Column) -> Option<(String, Codec)>,
) -> SelectPlan {
    let mut planner = Planner { companions: Vec::new(), first_companion: columns.len() };
    let mut exprs = Vec::with_capacity(columns.len());
    let mut planned = Vec::with_capacity(columns.len());
    for col in columns {
        let (expr, codec) =
            replace(col).unwrap_or_else(|| planner.value(&quote_ident(&col.name), &col.ty));
        exprs.push(expr);
        planned.push((json_key(&col.name), codec));
    }
    exprs.extend(planner.companions);
    SelectPlan { exprs, columns: planned }
}

/// `"name":` as JSON.
pub fn json_key(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 3);
    write_str(&mut key, name);
    key.push(b':');
    key
}

struct Planner {
    companions: Vec<String>,
    first_companion: usize,
}

/// Base types read straight from their binary form.
fn binary_codec(base: &str) -> Option<Codec> {
    Some(match base {
        "int2" => Codec::Int2,
        "int4" => Codec::Int4,
        "int8" => Codec::Int8,
        "oid" => Codec::Oid,
        "float4" => Codec::Float4,
        "float8" => Codec::Float8,
        "numeric" => Codec::Numeric,
        "bool" => Codec::Bool,
        "text" | "varchar" | "bpchar" | "name" => Codec::Text,
        "uuid" => Codec::Uuid,
        "json" => Codec::Json,
        "jsonb" => Codec::Jsonb,
        "timestamptz" => Codec::Timestamptz,
        "timestamp" => Codec::Timestamp,
        "date" => Codec::Date,
        "time" => Codec::Time,
        "timetz" => Codec::Timetz,
        "bytea" => Codec::Bytea,
        b if b.ends_with(".citext") => Codec::Text,
        _ => return None,
    })
}

/// Types whose cast to text is a function that differs from their output function (from
/// `pg_cast`: inet and cidr add the netmask, "char" does not escape), so they are rendered
/// with `format('%s', ..)`, which calls the output function. Types outside `pg_catalog` are
/// treated the same way, since an extension may define any cast.
fn needs_output_function(base: &str) -> bool {
    matches!(base, "inet" | "cidr" | "char") || base.contains('.')
}

impl Planner {
    fn value(&mut self, expr: &str, ty: &PgType) -> (String, Codec) {
        match &ty.kind {
            TypeKind::Base { base, .. } => base_value(expr, base),
            TypeKind::Enum { .. } => (expr.to_owned(), Codec::Text),
            TypeKind::Array { element } => self.array(expr, element, ty),
            TypeKind::Composite { .. } => self.composite(expr, ty),
        }
    }

    fn companion(&mut self, expr: &str) -> usize {
        self.companions.push(format!(
            "CASE WHEN pg_catalog.array_lower({expr}, 1) <> 1 OR pg_catalog.array_ndims({expr}) > 1 \
             THEN ({expr})::pg_catalog.text END"
        ));
        self.first_companion + self.companions.len() - 1
    }

    fn array(&mut self, expr: &str, element: &PgType, ty: &PgType) -> (String, Codec) {
        let vector = matches!(ty.base(), Some("int2vector" | "oidvector"))
            || matches!(ty.name.as_str(), "int2vector" | "oidvector");
        match element_codec(element) {
            ElementPlan::Binary(codec) => {
                let companion = (!vector).then(|| self.companion(expr));
                (expr.to_owned(), Codec::Array { element: Box::new(codec), companion, vector })
            }
            ElementPlan::Money => {
                let cast = format!("({expr})::pg_catalog.numeric[]");
                let companion = Some(self.companion(&cast));
                (cast, Codec::Array { element: Box::new(Codec::Numeric), companion, vector })
            }
            ElementPlan::OutputText => {
                let delimiter = if element.base() == Some("box") { b';' } else { b',' };
                (format!("({expr})::pg_catalog.text"), Codec::TextArray { delimiter })
            }
            ElementPlan::Opaque => (format!("({expr})::pg_catalog.text"), Codec::Text),
        }
    }

    /// A composite whose fields all decode from binary is selected as is; otherwise it is
    /// rebuilt with `ROW(...)` from converted fields (NULL stays NULL: `num_nulls` looks at the
    /// value itself, where `IS NULL` would look at every field).
    fn composite(&mut self, expr: &str, ty: &PgType) -> (String, Codec) {
        let TypeKind::Composite { fields } = &ty.kind else { unreachable!("checked by caller") };
        let mut exprs = Vec::with_capacity(fields.len());
        let mut codecs = Vec::with_capacity(fields.len());
        let mut rewritten = false;
        for f in fields {
            let field_expr = format!("({expr}).{}", quote_ident(&f.name));
            let (e, codec) = self.value(&field_expr, &f.ty);
            rewritten |= e != field_expr;
            exprs.push(e);
            codecs.push((json_key(&f.name), codec));
        }
        let codec = Codec::Composite { fields: codecs };
        if !rewritten {
            return (expr.to_owned(), codec);
        }
        let row = format!(
            "CASE WHEN pg_catalog.num_nulls({expr}) = 1 THEN NULL ELSE ROW({}) END",
            exprs.join(", ")
        );
        (row, codec)
    }
}

fn base_value(expr: &str, base: &str) -> (String, Codec) {
    if let Some(codec) = binary_codec(base) {
        return (expr.to_owned(), codec);
    }
    if base == "money" {
        return (format!("({expr})::pg_catalog.numeric"), Codec::Numeric);
    }
    if needs_output_function(base) {
        let e = format!(
            "CASE WHEN ({expr}) IS NULL THEN NULL ELSE pg_catalog.format('%s', {expr}) END"
        );
        return (e, Codec::Text);
    }
    (format!("({expr})::pg_catalog.text"), Codec::Text)
}

/// Whether the export writes this array's values as Postgres' text output
/// (`{"(1,\"{x,y}\")",NULL}`) instead of JSON: an array of composites with a field that
/// cannot be rebuilt inside an array.
pub fn array_as_text(ty: &PgType) -> bool {
    let TypeKind::Array { element } = &ty.kind else { return false };
    matches!(element_codec(element), ElementPlan::Opaque)
}

enum ElementPlan {
    Binary(Codec),
    Money,
    /// Elements rendered by their output function, through the array's text output.
    OutputText,
    /// Composites that need rewriting cannot be rebuilt inside an array: the array is kept
    /// as Postgres' text output, losing structure but no data.
    Opaque,
}

fn element_codec(element: &PgType) -> ElementPlan {
    match &element.kind {
        TypeKind::Base { base, .. } if base == "money" => ElementPlan::Money,
        TypeKind::Base { base, .. } => {
            binary_codec(base).map_or(ElementPlan::OutputText, ElementPlan::Binary)
        }
        TypeKind::Enum { .. } => ElementPlan::Binary(Codec::Text),
        TypeKind::Array { .. } => ElementPlan::OutputText,
        TypeKind::Composite { fields } => {
            let mut codecs = Vec::with_capacity(fields.len());
            for f in fields {
                match element_codec(&f.ty) {
                    ElementPlan::Binary(codec) => codecs.push((json_key(&f.name), codec)),
                    _ if matches!(f.ty.kind, TypeKind::Array { .. }) => {
                        return ElementPlan::Opaque;
                    }
                    _ => return ElementPlan::Opaque,
                }
            }
            ElementPlan::Binary(Codec::Composite { fields: codecs })
        }
    }
}

/// Access to one row's raw values by select-list position.
pub trait Fields {
    /// The raw bytes of field `i`, `None` for NULL.
    ///
    /// # Errors
    /// When the row has no such field.
    fn raw(&self, i: usize) -> Result<Option<&[u8]>>;
}

/// A value that could not be encoded: the row is malformed or holds what its type cannot.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EncodeError(pub String);

impl EncodeError {
    fn wire(e: impl std::fmt::Display) -> Self {
        EncodeError(format!("malformed binary value: {e}"))
    }
}

type Result<T> = std::result::Result<T, EncodeError>;

/// Writes one value as JSON. `raw` is `None` for NULL.
///
/// # Errors
/// [`EncodeError`] when the bytes are not a valid value of the codec's type.
pub fn encode(
    codec: &Codec,
    raw: Option<&[u8]>,
    row: &dyn Fields,
    out: &mut Vec<u8>,
) -> Result<()> {
    let Some(raw) = raw else {
        out.extend_from_slice(b"null");
        return Ok(());
    };
    match codec {
        Codec::Int2 => write_int(out, wire::int2_from_sql(raw).map_err(EncodeError::wire)?),
        Codec::Int4 => write_int(out, wire::int4_from_sql(raw).map_err(EncodeError::wire)?),
        Codec::Int8 => write_int(out, wire::int8_from_sql(raw).map_err(EncodeError::wire)?),
        Codec::Oid => write_int(out, wire::oid_from_sql(raw).map_err(EncodeError::wire)?),
        Codec::Float4 => write_float4(out, wire::float4_from_sql(raw).map_err(EncodeError::wire)?),
        Codec::Float8 => write_float8(out, wire::float8_from_sql(raw).map_err(EncodeError::wire)?),
        Codec::Numeric => write_numeric(out, raw)?,
        Codec::Bool => {
            let b = wire::bool_from_sql(raw).map_err(EncodeError::wire)?;
            out.extend_from_slice(if b { b"true" } else { b"false" });
        }
        Codec::Text => write_str(out, utf8(raw)?),
        Codec::Uuid => write_uuid(out, raw)?,
        Codec::Json => json::write_compact(out, raw),
        Codec::Jsonb => write_jsonb(out, raw)?,
        Codec::Timestamptz => write_timestamp(out, raw, true)?,
        Codec::Timestamp => write_timestamp(out, raw, false)?,
        Codec::Date => write_date_value(out, raw)?,
        Codec::Time => write_time_value(out, raw)?,
        Codec::Timetz => write_timetz(out, raw)?,
        Codec::Bytea => write_base64(out, raw),
        Codec::Array { element, companion, vector } => {
            write_array(out, raw, element, *companion, *vector, row)?;
        }
        Codec::Composite { fields } => write_composite(out, raw, fields, row)?,
        Codec::TextArray { delimiter } => write_text_array(out, utf8(raw)?, *delimiter)?,
    }
    Ok(())
}

fn utf8(raw: &[u8]) -> Result<&str> {
    std::str::from_utf8(raw).map_err(|e| EncodeError(format!("text is not valid UTF-8: {e}")))
}

fn write_int(out: &mut Vec<u8>, v: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// A JSON string, escaped as serde_json does.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    s.serialize(&mut serde_json::Serializer::new(&mut *out)).expect("writing to a Vec cannot fail");
}

fn write_nonfinite(out: &mut Vec<u8>, nan: bool, negative: bool) {
    out.extend_from_slice(match (nan, negative) {
        (true, _) => b"\"NaN\"",
        (false, false) => b"\"Infinity\"",
        (false, true) => b"\"-Infinity\"",
    });
}

/// The shortest decimal that reads back as the same float4 (ryu), e.g. `1.1`.
fn write_float4(out: &mut Vec<u8>, v: f32) {
    if v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else {
        write_nonfinite(out, v.is_nan(), v.is_sign_negative());
    }
}

fn write_float8(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else {
        write_nonfinite(out, v.is_nan(), v.is_sign_negative());
    }
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// Numeric's binary form is base-10000 digits with a weight and a display scale; this writes
/// exactly what `numeric_out` prints, as a JSON string.
fn write_numeric(out: &mut Vec<u8>, raw: &[u8]) -> Result<()> {
    let header = |i: usize| -> Result<u16> {
        raw.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| EncodeError("truncated numeric".into()))
    };
    let ndigits = header(0)? as usize;
    let weight = header(2)? as i16 as i64;
    let sign = header(4)?;
    let dscale = header(6)? as usize;
    if raw.len() != 8 + 2 * ndigits {
        return Err(EncodeError("numeric length does not match its digit count".into()));
    }
    let digit = |k: i64| -> u16 {
        if k < 0 || k as usize >= ndigits {
            return 0;
        }
        let at = 8 + 2 * k as usize;
        u16::from_be_bytes([raw[at], raw[at + 1]])
    };
    let special: Option<&[u8]> = match sign {
        NUMERIC_NAN => Some(b"\"NaN\""),
        NUMERIC_PINF => Some(b"\"Infinity\""),
        NUMERIC_NINF => Some(b"\"-Infinity\""),
        NUMERIC_POS | NUMERIC_NEG => None,
        other => return Err(EncodeError(format!("unknown numeric sign {other:#x}"))),
    };
    if let Some(s) = special {
        out.extend_from_slice(s);
        return Ok(());
    }
    out.push(b'"');
    if sign == NUMERIC_NEG {
        out.push(b'-');
    }
    if weight < 0 {
        out.push(b'0');
    } else {
        write_int(out, digit(0));
        for k in 1..=weight {
            write_padded(out, digit(k) as u64, 4);
        }
    }
    if dscale > 0 {
        out.push(b'.');
        let mut written = 0;
        let mut k = weight + 1;
        while written < dscale {
            let group = format!("{:04}", digit(k));
            let take = (dscale - written).min(4);
            out.extend_from_slice(&group.as_bytes()[..take]);
            written += take;
            k += 1;
        }
    }
    out.push(b'"');
    Ok(())
}

fn write_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = itoa::Buffer::new();
    let s = buf.format(v);
    out.extend(std::iter::repeat_n(b'0', width.saturating_sub(s.len())));
    out.extend_from_slice(s.as_bytes());
}

fn write_uuid(out: &mut Vec<u8>, raw: &[u8]) -> Result<()> {
    let bytes = wire::uuid_from_sql(raw).map_err(EncodeError::wire)?;
    let mut buf = uuid::Uuid::encode_buffer();
    out.push(b'"');
    out.extend_from_slice(
        uuid::Uuid::from_bytes(bytes).hyphenated().encode_lower(&mut buf).as_bytes(),
    );
    out.push(b'"');
    Ok(())
}

fn write_jsonb(out: &mut Vec<u8>, raw: &[u8]) -> Result<()> {
    match raw.split_first() {
        Some((1, text)) => {
            json::write_compact(out, text);
            Ok(())
        }
        Some((v, _)) => Err(EncodeError(format!("unknown jsonb version {v}"))),
        None => Err(EncodeError("empty jsonb value".into())),
    }
}

const USECS_PER_DAY: i64 = 86_400_000_000;
/// Days from 1970-01-01 to Postgres' epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;

fn write_timestamp(out: &mut Vec<u8>, raw: &[u8], utc: bool) -> Result<()> {
    let micros = wire::timestamp_from_sql(raw).map_err(EncodeError::wire)?;
    if let Some(word) = infinity(micros == i64::MAX, micros == i64::MIN) {
        out.extend_from_slice(word);
        return Ok(());
    }
    out.push(b'"');
    write_date(out, micros.div_euclid(USECS_PER_DAY));
    out.push(b'T');
    write_time(out, micros.rem_euclid(USECS_PER_DAY));
    if utc {
        out.push(b'Z');
    }
    out.push(b'"');
    Ok(())
}

fn infinity(pos: bool, neg: bool) -> Option<&'static [u8]> {
    match (pos, neg) {
        (true, _) => Some(b"\"infinity\""),
        (_, true) => Some(b"\"-infinity\""),
        _ => None,
    }
}

fn write_date_value(out: &mut Vec<u8>, raw: &[u8]) -> Result<()> {
    let days = wire::date_from_sql(raw).map_err(EncodeError::wire)?;
    if let Some(word) = infinity(days == i32::MAX, days == i32::MIN) {
        out.extend_from_slice(word);
        return Ok(());
    }
    out.push(b'"');
    write_date(out, days as i64);
    out.push(b'"');
    Ok(())
}

/// `YYYY-MM-DD` for days since 2000-01-01, in the proleptic Gregorian calendar Postgres uses;
/// years outside 0000–9999 as ISO 8601 expanded years (`-0043`, `+10000`).
fn write_date(out: &mut Vec<u8>, pg_days: i64) {
    let (year, month, day) = civil_from_days(pg_days + PG_EPOCH_DAYS);
    if year < 0 {
        out.push(b'-');
        write_padded(out, year.unsigned_abs(), 4);
    } else if year > 9999 {
        out.push(b'+');
        write_int(out, year);
    } else {
        write_padded(out, year as u64, 4);
    }
    out.push(b'-');
    write_padded(out, month as u64, 2);
    out.push(b'-');
    write_padded(out, day as u64, 2);
}

/// Howard Hinnant's `civil_from_days`: (year, month, day) for days since 1970-01-01. Exact for
/// every date Postgres can hold, which chrono's range does not cover.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `HH:MM:SS.ffffff`, always six fraction digits so that times sort as text.
fn write_time(out: &mut Vec<u8>, micros: i64) {
    let secs = micros / 1_000_000;
    write_padded(out, (secs / 3600) as u64, 2);
    out.push(b':');
    write_padded(out, (secs / 60 % 60) as u64, 2);
    out.push(b':');
    write_padded(out, (secs % 60) as u64, 2);
    out.push(b'.');
    write_padded(out, (micros % 1_000_000) as u64, 6);
}

fn write_time_value(out: &mut Vec<u8>, raw: &[u8]) -> Result<()> {
    let micros = wire::time_from_sql(raw).map_err(EncodeError::wire)?;
    out.push(b'"');
    write_time(out, micros);
    out.push(b'"');
    Ok(())
}

/// timetz is microseconds and a zone in seconds *west* of UTC; written `+HH:MM`, with `:SS`
/// only when the offset has seconds.
fn write_timetz(out: &mut Vec<u8>, raw: &[u8]) -> Result<()> {
    if raw.len() != 12 {
        return Err(EncodeError(format!("timetz value of {} bytes, expected 12", raw.len())));
    }
    let micros = i64::from_be_bytes(raw[..8].try_into().expect("length checked"));
    let west = i32::from_be_bytes(raw[8..].try_into().expect("length checked"));
    out.push(b'"');
    write_time(out, micros);
    let offset = -(west as i64);
    out.push(if offset < 0 { b'-' } else { b'+' });
    let abs = offset.unsigned_abs();
    write_padded(out, abs / 3600, 2);
    out.push(b':');
    write_padded(out, abs / 60 % 60, 2);
    if !abs.is_multiple_of(60) {
        out.push(b':');
        write_padded(out, abs % 60, 2);
    }
    out.push(b'"');
    Ok(())
}

fn write_base64(out: &mut Vec<u8>, raw: &[u8]) {
    out.push(b'"');
    let start = out.len();
    out.resize(start + raw.len().div_ceil(3) * 4, 0);
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(raw, &mut out[start..])
        .expect("the buffer was sized for the encoding");
    out.truncate(start + written);
    out.push(b'"');
}

const MAX_DIMS: usize = 6;

fn write_array(
    out: &mut Vec<u8>,
    raw: &[u8],
    element: &Codec,
    companion: Option<usize>,
    vector: bool,
    row: &dyn Fields,
) -> Result<()> {
    let array = wire::array_from_sql(raw).map_err(EncodeError::wire)?;
    let mut lens = [0i32; MAX_DIMS];
    let mut ndims = 0;
    let mut standard = true;
    let mut dims = array.dimensions();
    while let Some(d) = dims.next().map_err(EncodeError::wire)? {
        if ndims == MAX_DIMS {
            return Err(EncodeError("array with more than 6 dimensions".into()));
        }
        lens[ndims] = d.len;
        standard &= d.lower_bound == 1;
        ndims += 1;
    }
    if !standard && !vector {
        let text = companion.map(|i| row.raw(i)).transpose()?.flatten().ok_or_else(|| {
            EncodeError("array with lower bounds other than 1 inside an array or composite".into())
        })?;
        write_str(out, utf8(text)?);
        return Ok(());
    }
    if ndims == 0 {
        out.extend_from_slice(b"[]");
        return Ok(());
    }
    let mut values = array.values();
    write_level(out, &lens[..ndims], &mut values, element, row)?;
    if values.next().map_err(EncodeError::wire)?.is_some() {
        return Err(EncodeError("array holds more elements than its dimensions".into()));
    }
    Ok(())
}

fn write_level(
    out: &mut Vec<u8>,
    lens: &[i32],
    values: &mut wire::ArrayValues<'_>,
    element: &Codec,
    row: &dyn Fields,
) -> Result<()> {
    out.push(b'[');
    for i in 0..lens[0] {
        if i > 0 {
            out.push(b',');
        }
        if lens.len() > 1 {
            write_level(out, &lens[1..], values, element, row)?;
        } else {
            let value = values.next().map_err(EncodeError::wire)?.ok_or_else(|| {
                EncodeError("array holds fewer elements than its dimensions".into())
            })?;
            encode(element, value, row, out)?;
        }
    }
    out.push(b']');
    Ok(())
}

fn write_composite(
    out: &mut Vec<u8>,
    raw: &[u8],
    fields: &[(Vec<u8>, Codec)],
    row: &dyn Fields,
) -> Result<()> {
    let mut rest = raw;
    let count = take_i32(&mut rest)?;
    if count as usize != fields.len() {
        return Err(EncodeError(format!("record has {count} fields, expected {}", fields.len())));
    }
    out.push(b'{');
    for (i, (key, codec)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(key);
        let _oid = take_i32(&mut rest)?;
        let len = take_i32(&mut rest)?;
        let value = if len < 0 {
            None
        } else {
            let (v, tail) = rest
                .split_at_checked(len as usize)
                .ok_or_else(|| EncodeError("truncated record field".into()))?;
            rest = tail;
            Some(v)
        };
        encode(codec, value, row, out)?;
    }
    out.push(b'}');
    Ok(())
}

fn take_i32(buf: &mut &[u8]) -> Result<i32> {
    let (head, tail) =
        buf.split_at_checked(4).ok_or_else(|| EncodeError("truncated record".into()))?;
    *buf = tail;
    Ok(i32::from_be_bytes(head.try_into().expect("split at 4")))
}

/// Parses Postgres' array text output into nested JSON arrays of strings (`NULL` unquoted is
/// null). An array with explicit bounds (`[0:1]={..}`) is kept whole as one string.
fn write_text_array(out: &mut Vec<u8>, text: &str, delimiter: u8) -> Result<()> {
    if text.starts_with('[') {
        write_str(out, text);
        return Ok(());
    }
    let mut parser = ArrayText { bytes: text.as_bytes(), pos: 0, delimiter, item: String::new() };
    parser.array(out)?;
    if parser.pos != parser.bytes.len() {
        return Err(EncodeError(format!("trailing text after array: {text:?}")));
    }
    Ok(())
}

struct ArrayText<'a> {
    bytes: &'a [u8],
    pos: usize,
    delimiter: u8,
    item: String,
}

impl ArrayText<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, b: u8) -> Result<()> {
        if self.peek() != Some(b) {
            return Err(EncodeError(format!(
                "malformed array text at byte {}: expected {:?}",
                self.pos, b as char
            )));
        }
        self.pos += 1;
        Ok(())
    }

    fn array(&mut self, out: &mut Vec<u8>) -> Result<()> {
        self.expect(b'{')?;
        out.push(b'[');
        if self.peek() == Some(b'}') {
            self.pos += 1;
            out.push(b']');
            return Ok(());
        }
        loop {
            match self.peek() {
                Some(b'{') => self.array(out)?,
                Some(b'"') => self.quoted(out)?,
                _ => self.unquoted(out)?,
            }
            match self.peek() {
                Some(b'}') => break,
                Some(d) if d == self.delimiter => {
                    self.pos += 1;
                    out.push(b',');
                }
                _ => return Err(EncodeError(format!("malformed array text at byte {}", self.pos))),
            }
        }
        self.pos += 1;
        out.push(b']');
        Ok(())
    }

    fn quoted(&mut self, out: &mut Vec<u8>) -> Result<()> {
        self.pos += 1;
        let mut buf = Vec::new();
        loop {
            match self.peek() {
                None => return Err(EncodeError("unterminated quoted array element".into())),
                Some(b'"') => break,
                Some(b'\\') => {
                    self.pos += 1;
                    buf.push(self.peek().ok_or_else(|| EncodeError("dangling escape".into()))?);
                }
                Some(b) => buf.push(b),
            }
            self.pos += 1;
        }
        self.pos += 1;
        self.item = String::from_utf8(buf).map_err(|e| EncodeError(e.to_string()))?;
        write_str(out, &self.item);
        Ok(())
    }

    fn unquoted(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == self.delimiter || b == b'}' {
                break;
            }
            self.pos += 1;
        }
        let item = std::str::from_utf8(&self.bytes[start..self.pos])
            .map_err(|e| EncodeError(e.to_string()))?;
        if item.eq_ignore_ascii_case("NULL") {
            out.extend_from_slice(b"null");
        } else {
            write_str(out, item);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoFields;
    impl Fields for NoFields {
        fn raw(&self, _: usize) -> Result<Option<&[u8]>> {
            Ok(None)
        }
    }

    fn enc(codec: &Codec, raw: &[u8]) -> String {
        let mut out = Vec::new();
        encode(codec, Some(raw), &NoFields, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn numeric(ndigits: &[u16], weight: i16, sign: u16, dscale: u16) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(ndigits.len() as u16).to_be_bytes());
        v.extend_from_slice(&weight.to_be_bytes());
        v.extend_from_slice(&sign.to_be_bytes());
        v.extend_from_slice(&dscale.to_be_bytes());
        for d in ndigits {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numerics_print_as_numeric_out_does() {
        assert_eq!(enc(&Codec::Numeric, &numeric(&[12, 5000], 0, NUMERIC_POS, 2)), r#""12.50""#);
        assert_eq!(enc(&Codec::Numeric, &numeric(&[], 0, NUMERIC_POS, 0)), r#""0""#);
        assert_eq!(enc(&Codec::Numeric, &numeric(&[], 0, NUMERIC_POS, 3)), r#""0.000""#);
        assert_eq!(enc(&Codec::Numeric, &numeric(&[5], -2, NUMERIC_NEG, 8)), r#""-0.00000005""#);
        assert_eq!(enc(&Codec::Numeric, &numeric(&[1], 2, NUMERIC_POS, 0)), r#""100000000""#);
        assert_eq!(enc(&Codec::Numeric, &numeric(&[], 0, NUMERIC_NAN, 0)), r#""NaN""#);
        assert_eq!(enc(&Codec::Numeric, &numeric(&[], 0, NUMERIC_NINF, 0)), r#""-Infinity""#);
    }

    #[test]
    fn dates_use_astronomical_and_expanded_years() {
        let mut out = Vec::new();
        write_date(&mut out, 0);
        assert_eq!(out, b"2000-01-01");
        out.clear();
        // 44 BC, March 15 is astronomical year -43.
        let ides = days_from_civil(-43, 3, 15) - PG_EPOCH_DAYS;
        write_date(&mut out, ides);
        assert_eq!(out, b"-0043-03-15");
        out.clear();
        write_date(&mut out, days_from_civil(10000, 1, 1) - PG_EPOCH_DAYS);
        assert_eq!(out, b"+10000-01-01");
    }

    fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = (m as i64 + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    #[test]
    fn civil_from_days_inverts_days_from_civil_across_the_postgres_range() {
        for z in (-2_500_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn text_arrays_become_json_arrays_unless_they_carry_bounds() {
        let mut out = Vec::new();
        write_text_array(&mut out, r#"{{"a b",NULL},{"\"q\"",c}}"#, b',').unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"[["a b",null],["\"q\"","c"]]"#);
        let mut out = Vec::new();
        write_text_array(&mut out, "[0:1]={a,b}", b',').unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#""[0:1]={a,b}""#);
        let mut out = Vec::new();
        write_text_array(&mut out, "{}", b',').unwrap();
        assert_eq!(out, b"[]");
        let mut out = Vec::new();
        write_text_array(&mut out, r#"{"NULL",null}"#, b',').unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"["NULL",null]"#);
    }

    #[test]
    fn floats_are_shortest_round_trip_and_non_finite_are_strings() {
        assert_eq!(enc(&Codec::Float4, &1.1f32.to_be_bytes()), "1.1");
        assert_eq!(
            enc(&Codec::Float4, &14_200_000_512f32.to_be_bytes()).parse::<f32>().unwrap(),
            1.42e10
        );
        assert_eq!(enc(&Codec::Float8, &f64::NAN.to_be_bytes()), r#""NaN""#);
        assert_eq!(enc(&Codec::Float8, &f64::NEG_INFINITY.to_be_bytes()), r#""-Infinity""#);
        assert_eq!(enc(&Codec::Float8, &(-0.0f64).to_be_bytes()), "-0.0");
    }

    #[test]
    fn timetz_offsets_are_east_positive_with_seconds_only_when_present() {
        let mut raw = (3_600_000_000i64 * 3 + 4 * 60_000_000 + 5_000_000).to_be_bytes().to_vec();
        raw.extend_from_slice(&(-19_800i32).to_be_bytes());
        assert_eq!(enc(&Codec::Timetz, &raw), r#""03:04:05.000000+05:30""#);
        let mut raw = 0i64.to_be_bytes().to_vec();
        raw.extend_from_slice(&(3_723i32).to_be_bytes());
        assert_eq!(enc(&Codec::Timetz, &raw), r#""00:00:00.000000-01:02:03""#);
    }
}
