//! Column defaults: Postgres' `DEFAULT` (as `pg_get_expr` prints it, with the export's
//! session settings: UTC, ISO dates, ISO 8601 intervals, empty search_path) translated to a
//! SQLite `DEFAULT` that produces the value *in the form the export gives it*, so that a row
//! inserted later looks like an imported one: `now()` in a timestamptz column gives
//! `2024-01-02T03:04:05.123000Z` (SQLite's clock has milliseconds; the six fraction digits are
//! kept), a `numeric(10,2)` default `0` stored as TEXT gives `'0.00'`.

use super::expr::{self, Expr};
use super::names::quote_literal;
use crate::format::decimal;
use crate::mapping::{Conversion, NumericTarget};
use crate::model::catalog::{Column, TypeKind};

/// A lowercase canonical version 4 UUID from 16 random bytes: version nibble 4, variant
/// nibble one of 8, 9, a, b. (`random() & 3` rather than `abs(random()) % 4`: `abs` of the
/// smallest integer is an overflow error in SQLite.)
pub(super) const UUID_V4: &str = "(lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' \
     || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (random() & 3), 1) \
     || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))))";

/// Postgres' largest `char(n)`/`varchar(n)` length (`MaxAttrSize`, 10 MiB).
const MAX_CHAR_LENGTH: usize = 10 * 1024 * 1024;

/// Postgres' largest numeric scale (`NUMERIC_MAX_SCALE`).
const MAX_NUMERIC_SCALE: usize = 1000;

const TIMESTAMPTZ_NOW: &str = "(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')";
const TIMESTAMP_NOW: &str = "(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000')";
const DATE_NOW: &str = "(date('now'))";
const TIME_NOW: &str = "(strftime('%H:%M:%f', 'now') || '000')";
const TIMETZ_NOW: &str = "(strftime('%H:%M:%f', 'now') || '000+00:00')";

/// A clock default under `--datetime sqlite`: SQLite's own `datetime('now')` and
/// `time('now')` (whole seconds, as SQLite writes time), not the export's RFC 3339 text.
fn sqlite_clock(sql: String) -> String {
    match sql.as_str() {
        TIMESTAMPTZ_NOW | TIMESTAMP_NOW => "(datetime('now'))".into(),
        TIME_NOW => "(time('now'))".into(),
        _ => sql,
    }
}

/// What becomes of a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// No `DEFAULT` clause: none in Postgres, `NULL`, or a sequence the INTEGER PRIMARY KEY
    /// replaces.
    None,
    /// The SQLite expression to write after `DEFAULT`.
    Sql(String),
    /// Dropped, with why (becomes a note).
    Dropped(String),
}

/// Translates `col`'s default, stored by `conv`. `rowid_key` says the column becomes the
/// table's `INTEGER PRIMARY KEY`, which numbers new rows itself.
pub(super) fn translate(col: &Column, conv: Conversion, rowid_key: bool) -> Outcome {
    let Some(text) = col.default.as_deref() else {
        return Outcome::None;
    };
    if text.starts_with("nextval(") {
        return if rowid_key {
            Outcome::None
        } else {
            Outcome::Dropped(
                "a sequence: SQLite numbers rows only through an INTEGER PRIMARY KEY, and this \
                 column is not the table's single integer key"
                    .into(),
            )
        };
    }
    let parsed = match expr::parse(text) {
        Ok(e) => e,
        Err(why) => return Outcome::Dropped(format!("not understood ({why})")),
    };
    match value(&parsed, col, conv) {
        Ok(Some(sql)) if matches!(conv, Conversion::Datetime(_)) => Outcome::Sql(sqlite_clock(sql)),
        Ok(Some(sql)) => Outcome::Sql(sql),
        Ok(None) => Outcome::None,
        Err(why) => Outcome::Dropped(why),
    }
}

fn value(e: &Expr, col: &Column, conv: Conversion) -> Result<Option<String>, String> {
    let (core, _) = e.uncast();
    match core {
        Expr::Null => Ok(None),
        Expr::Keyword(k) => clock(k, col).map(Some),
        Expr::Func(name, args) => function(name, args.is_empty(), col, conv).map(Some),
        Expr::Str(s) if is_clock_word(s, col) => clock("NOW", col).map(Some),
        Expr::Str(s) => string(s, col, conv).map(Some),
        Expr::Num(n) => number(n, col, conv).map(Some),
        Expr::Neg(inner) => match &**inner {
            Expr::Num(n) => number(&format!("-{n}"), col, conv).map(Some),
            _ => Err("an expression SQLite cannot evaluate the same way".into()),
        },
        Expr::Bool(b) if conv == Conversion::Boolean => Ok(Some(if *b { "1" } else { "0" }.into())),
        Expr::Array(items) if items.is_empty() && is_array(col) => Ok(Some("'[]'".into())),
        _ => Err("an expression SQLite cannot evaluate the same way".into()),
    }
}

fn base(col: &Column) -> &str {
    col.ty.base().unwrap_or("")
}

fn is_array(col: &Column) -> bool {
    matches!(col.ty.kind, TypeKind::Array { .. })
}

/// `'now'` (and `'today'` for a date) cast to a date/time type is evaluated at insert time.
fn is_clock_word(s: &str, col: &Column) -> bool {
    let temporal = matches!(base(col), "timestamptz" | "timestamp" | "date" | "time" | "timetz");
    temporal
        && (s.eq_ignore_ascii_case("now")
            || (s.eq_ignore_ascii_case("today") && base(col) == "date"))
}

/// `now()` and friends, in the column's export format. The clock is UTC, as the export's.
fn clock(keyword: &str, col: &Column) -> Result<String, String> {
    let sql = match (keyword, base(col)) {
        ("CURRENT_TIME" | "LOCALTIME", "time") => TIME_NOW,
        ("CURRENT_TIME" | "LOCALTIME", "timetz") => TIMETZ_NOW,
        ("CURRENT_DATE", "date") => DATE_NOW,
        ("NOW" | "CURRENT_TIMESTAMP" | "LOCALTIMESTAMP", b) => match b {
            "timestamptz" => TIMESTAMPTZ_NOW,
            "timestamp" => TIMESTAMP_NOW,
            "date" => DATE_NOW,
            "time" => TIME_NOW,
            "timetz" => TIMETZ_NOW,
            _ => return Err(format!("the current time into a {} column", col.ty.name)),
        },
        (k, _) => return Err(format!("{k} into a {} column", col.ty.name)),
    };
    Ok(sql.to_owned())
}

fn function(name: &str, no_args: bool, col: &Column, conv: Conversion) -> Result<String, String> {
    if !no_args {
        return Err(format!("function {name}() has no SQLite equivalent"));
    }
    let short = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
    match short.as_str() {
        "now" | "transaction_timestamp" | "statement_timestamp" | "clock_timestamp" => {
            clock("NOW", col)
        }
        "gen_random_uuid" | "uuid_generate_v4" if conv == Conversion::Text => Ok(UUID_V4.into()),
        _ => Err(format!("function {name}() has no SQLite equivalent")),
    }
}

/// A number constant (`0`, `-1.5`): kept for numeric storage, as its text for TEXT storage.
fn number(n: &str, col: &Column, conv: Conversion) -> Result<String, String> {
    match conv {
        Conversion::Text => Ok(quote_literal(n)),
        _ => string(n, col, conv),
    }
}

/// A string constant: Postgres printed it with the column type's output function, so it is
/// the exported text of the value, except where the export formats values itself.
fn string(s: &str, col: &Column, conv: Conversion) -> Result<String, String> {
    match conv {
        Conversion::Integer | Conversion::Numeric(NumericTarget::Integer) => whole(s),
        Conversion::Float | Conversion::Numeric(NumericTarget::Real) => real(s),
        Conversion::Numeric(NumericTarget::Text) => numeric_text(s, col).map(|t| quote_literal(&t)),
        Conversion::Boolean => match s {
            "true" | "t" => Ok("1".into()),
            "false" | "f" => Ok("0".into()),
            _ => Err(format!("boolean '{s}'")),
        },
        Conversion::Text => text(s, col).map(|t| quote_literal(&t)),
        Conversion::Datetime(form) => {
            let exported = text(s, col)?;
            let shown = form.sqlite_text(exported.as_str().into()).map(|t| t.into_owned());
            Ok(quote_literal(shown.as_deref().unwrap_or(&exported)))
        }
        Conversion::Json => json(s),
        Conversion::Structured if s == "{}" && is_array(col) => Ok("'[]'".into()),
        Conversion::Structured => {
            Err("an array or composite constant (only '{}' is translated)".into())
        }
        Conversion::Bytea => blob(s),
    }
}

fn whole(s: &str) -> Result<String, String> {
    match decimal::parse_whole(s) {
        Some(i) => Ok(i.to_string()),
        None => Err(format!("{s} is not a 64-bit integer")),
    }
}

fn real(s: &str) -> Result<String, String> {
    match s {
        "NaN" => Err("NaN, which SQLite stores as NULL".into()),
        "Infinity" => Ok("9e999".into()),
        "-Infinity" => Ok("-9e999".into()),
        _ if decimal::is_decimal(s.strip_prefix('-').unwrap_or(s)) => {
            let plain_integer = !s.contains(['.', 'e', 'E']);
            Ok(if plain_integer { format!("{s}.0") } else { s.to_owned() })
        }
        _ => Err(format!("{s} is not a number")),
    }
}

/// A decimal as the export writes values of this column: with as many fraction digits as
/// the column's scale.
fn numeric_text(s: &str, col: &Column) -> Result<String, String> {
    if s == "NaN" {
        return Ok(s.to_owned());
    }
    if !decimal::is_decimal(s.strip_prefix('-').unwrap_or(s)) || s.contains(['e', 'E']) {
        return Err(format!("{s} is not a plain decimal"));
    }
    let scale = match col.ty.kind {
        TypeKind::Base { scale: Some(sc), .. } => sc,
        _ => return Ok(s.to_owned()),
    };
    let digits = s.split_once('.').map_or(0, |(_, f)| f.len());
    let scale = usize::try_from(scale).unwrap_or(0);
    if scale > MAX_NUMERIC_SCALE {
        return Err(format!(
            "numeric scale {scale} is beyond Postgres' largest, {MAX_NUMERIC_SCALE}"
        ));
    }
    if digits > scale {
        return Err(format!("{s} has more fraction digits than the column's scale"));
    }
    let point = if digits == 0 && scale > 0 { "." } else { "" };
    Ok(format!("{s}{point}{}", "0".repeat(scale - digits)))
}

fn text(s: &str, col: &Column) -> Result<String, String> {
    match base(col) {
        "timestamptz" => timestamp(s, true),
        "timestamp" => timestamp(s, false),
        "date" if is_date(s) || is_infinity(s) => Ok(s.to_owned()),
        "date" => Err(format!("date '{s}' outside years 0001-9999")),
        "time" => time(s, false),
        "timetz" => time(s, true),
        "bpchar" => pad_char(s, &col.ty.name),
        _ => Ok(s.to_owned()),
    }
}

fn is_infinity(s: &str) -> bool {
    s == "infinity" || s == "-infinity"
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter()
            .enumerate()
            .all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
}

/// `2024-01-02 03:04:05.5+00` → `2024-01-02T03:04:05.500000Z`.
fn timestamp(s: &str, tz: bool) -> Result<String, String> {
    if is_infinity(s) {
        return Ok(s.to_owned());
    }
    let bad = || format!("timestamp '{s}' is not in a form pg2lite rewrites");
    let (date, rest) = s.split_once(' ').ok_or_else(bad)?;
    let clock = if tz { rest.strip_suffix("+00").ok_or_else(bad)? } else { rest };
    if !is_date(date) {
        return Err(bad());
    }
    let t = six_digits(clock).ok_or_else(bad)?;
    Ok(format!("{date}T{t}{}", if tz { "Z" } else { "" }))
}

/// `03:04:05.5+02` → `03:04:05.500000+02:00`.
fn time(s: &str, tz: bool) -> Result<String, String> {
    let bad = || format!("time '{s}' is not in a form pg2lite rewrites");
    let (clock, offset) = match s.find(['+', '-']) {
        Some(i) if tz => (&s[..i], &s[i..]),
        None if !tz => (s, ""),
        _ => return Err(bad()),
    };
    let t = six_digits(clock).ok_or_else(bad)?;
    let offset = if offset.len() == 3 { format!("{offset}:00") } else { offset.to_owned() };
    Ok(format!("{t}{offset}"))
}

/// `HH:MM:SS[.f]` with the fraction padded to six digits.
fn six_digits(clock: &str) -> Option<String> {
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let ok = hms.len() == 8
        && hms
            .as_bytes()
            .iter()
            .enumerate()
            .all(|(i, c)| if i == 2 || i == 5 { *c == b':' } else { c.is_ascii_digit() });
    (ok && frac.len() <= 6 && frac.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("{hms}.{frac:0<6}"))
}

/// `char(n)` keeps its padding in the export; so does its default. The padding is built by
/// repetition, not by a format width (which stops at 65,535), and `n` is bounded by what
/// Postgres allows, so a forged `character(2147483647)` cannot ask for gigabytes.
fn pad_char(s: &str, type_name: &str) -> Result<String, String> {
    let Some(modifier) = type_name.strip_prefix("character(").and_then(|r| r.strip_suffix(')'))
    else {
        return Ok(s.to_owned());
    };
    let n =
        modifier.parse::<usize>().ok().filter(|n| (1..=MAX_CHAR_LENGTH).contains(n)).ok_or_else(
            || format!("{type_name} is not a length Postgres allows (1 to {MAX_CHAR_LENGTH})"),
        )?;
    let mut padded = s.to_owned();
    let have = s.chars().count();
    if have < n {
        padded.push_str(&" ".repeat(n - have));
    }
    Ok(padded)
}

fn json(s: &str) -> Result<String, String> {
    serde_json::from_str::<serde::de::IgnoredAny>(s).map_err(|e| format!("invalid JSON ({e})"))?;
    Ok(quote_literal(&crate::format::json::compact(s)))
}

/// `\x0102` (bytea_output = hex, as the export sets it) → `X'0102'`.
fn blob(s: &str) -> Result<String, String> {
    let hex = s
        .strip_prefix("\\x")
        .filter(|h| h.len() % 2 == 0 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    hex.map(|h| format!("X'{}'", h.to_ascii_uppercase())).ok_or_else(|| format!("bytea '{s}'"))
}
