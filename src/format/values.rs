//! Whether one NDJSON value fits its column, per DESIGN.md's encoding table: numbers for
//! integers (within range) and floats, exact decimal strings for numeric (within the column's
//! precision and scale), RFC 3339 strings for timestamps, base64 for bytea, an enum's labels,
//! nested rectangular arrays, composites as objects, and the Postgres text (a string) for
//! everything else; `null` only where the column may be NULL.
//!
//! Values are checked as their raw JSON text, as the line holds them, never through a lossy
//! intermediate: a number beyond 64 bits or beyond a double is seen as written. Each type is
//! compiled once into a [`ColumnRule`], so checking a value is a match on a small enum.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::datetime;
use super::decimal::Decimal;
use crate::model::catalog::{PgType, Table, TypeKind};

/// The rules of every key of a table's lines, in file order (the table's column order).
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    columns: Vec<ColumnRule>,
}

impl Rules {
    /// One rule per column of `table`. A primary-key column may never be null, whatever the
    /// manifest says of its nullability: Postgres makes every key column NOT NULL, so a null
    /// there is a forgery (and SQLite would invent a rowid for it).
    pub fn new(table: &Table) -> Rules {
        let key: &[String] = table.primary_key.as_ref().map_or(&[], |k| &k.columns);
        let columns = table
            .columns
            .iter()
            .map(|c| ColumnRule::new(&c.ty, c.nullable && !key.contains(&c.name)))
            .collect();
        Rules { columns }
    }

    /// The rule of the key at `position` (0-based) of each line.
    pub fn column(&self, position: usize) -> Option<&ColumnRule> {
        self.columns.get(position)
    }

    /// The rules in file order, one per key of each line.
    pub fn iter(&self) -> impl Iterator<Item = &ColumnRule> {
        self.columns.iter()
    }
}

/// What one column's values may be.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRule {
    nullable: bool,
    rule: Rule,
}

impl ColumnRule {
    /// The rule for values of `ty`; `null` is accepted when `nullable`, and always for json
    /// and jsonb (where it may be the JSON value `null`: the export writes both alike).
    pub fn new(ty: &PgType, nullable: bool) -> ColumnRule {
        ColumnRule { nullable, rule: Rule::new(ty) }
    }

    /// Whether the column may hold SQL NULL.
    pub fn nullable(&self) -> bool {
        self.nullable
    }

    /// Whether the column is bytea, whose rule (standard base64) is [`decode_bytea`]: a
    /// converter that decodes the value anyway need not check it twice.
    pub fn is_bytea(&self) -> bool {
        self.rule.kind == Kind::Text(Form::Bytea)
    }

    /// Checks one value, given as the text of one valid JSON value (`null`, `12`, `"x"`,
    /// `[1,2]`), as a parsed line holds it.
    ///
    /// # Errors
    /// The first [`Misfit`] found, depth first.
    pub fn check(&self, raw: &str) -> Result<(), Misfit> {
        if raw != "null" {
            return self.rule.check(raw);
        }
        if self.nullable || self.rule.kind == Kind::Json {
            return Ok(());
        }
        Err(Misfit {
            path: String::new(),
            value: "null".into(),
            type_name: self.rule.name.clone(),
            reason: Reason::Null,
        })
    }
}

/// Decodes a bytea value's text (standard base64, padded), as the export writes it.
///
/// # Errors
/// The decoder's complaint, when the text is not standard base64.
pub fn decode_bytea(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text.as_bytes())
}

/// A value that does not fit, with the way into it (for arrays and composites).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    /// `element [2], field "zip"`, or empty for the column's value itself.
    pub path: String,
    /// The value's JSON text, shortened.
    pub value: String,
    /// The type the value was checked against (an element's or a field's inside arrays and
    /// composites).
    pub type_name: String,
    /// Which rule the value breaks.
    pub reason: Reason,
}

/// The problem, without the path (which a message puts after the column, as verify does:
/// `column "tags", element [2]: 1 is not a text ...`).
impl fmt::Display for Misfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Reason::Null => f.write_str(&self.reason.describe(&self.type_name)),
            _ => write!(f, "{} {}", self.value, self.reason.describe(&self.type_name)),
        }
    }
}

/// Why a value does not fit its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `null` where the column is NOT NULL or part of the primary key.
    Null,
    /// The wrong JSON type or text form; `expected` shows the right one.
    Format {
        /// The form the type takes, in words (`true or false`, `a JSON array`).
        expected: &'static str,
    },
    /// A number outside the type's range.
    OutOfRange,
    /// A numeric beyond the column's precision or scale.
    DoesNotFit,
    /// An enum value that is not one of the labels.
    NotALabel {
        /// The enum's labels, in sort order.
        labels: Vec<String>,
    },
    /// A composite whose keys are not its fields in order.
    Fields {
        /// The composite's field names, in order.
        fields: Vec<String>,
    },
    /// A multi-dimensional array whose sub-arrays differ in length or depth.
    Ragged,
}

impl Reason {
    /// The predicate after the value: `is not a timestamptz (expected ...)`.
    pub fn describe(&self, ty: &str) -> String {
        match self {
            Reason::Null => "null in a NOT NULL column".to_owned(),
            Reason::Format { expected } => {
                format!("is not {} {ty} (expected {expected})", article(ty))
            }
            Reason::OutOfRange => format!("is out of range for {ty}"),
            Reason::DoesNotFit => format!("does not fit {ty}"),
            Reason::NotALabel { labels } => {
                format!("is not a label of {ty} ({})", abbreviate(labels))
            }
            Reason::Fields { fields } => {
                format!("does not have the fields of {ty} in order ({})", abbreviate(fields))
            }
            Reason::Ragged => format!("is not a rectangular {ty}"),
        }
    }
}

fn article(ty: &str) -> &'static str {
    match ty.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o') => "an",
        _ => "a",
    }
}

/// A list for a message, cut after a few items.
fn abbreviate(items: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text: Vec<String> = items.iter().take(SHOWN).map(|i| format!("{i:?}")).collect();
    if items.len() > SHOWN {
        text.push(format!("... {} in all", items.len()));
    }
    text.join(", ")
}

/// A raw value's text, cut at about 80 characters.
fn shorten(raw: &str) -> String {
    const MAX: usize = 80;
    match raw.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &raw[..cut]),
        None => raw.to_owned(),
    }
}

const UUID: &str = "lowercase canonical form, like 123e4567-e89b-12d3-a456-426614174000";
const FLOAT: &str = "a number, or \"NaN\", \"Infinity\" or \"-Infinity\"";
const NUMERIC: &str = "a string of exact decimal text, like \"12.50\", or \"NaN\"";
const INTEGER: &str = "an integer";

/// Postgres arrays have at most 6 dimensions (`MAXDIM`); deeper nesting is no export's.
const MAX_DIMENSIONS: usize = 6;

/// A type, compiled for checking.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    /// The type's name, for messages.
    name: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Integer {
        min: i64,
        max: i64,
    },
    Float {
        single: bool,
    },
    Numeric {
        precision: Option<u32>,
        scale: Option<i32>,
    },
    Bool,
    Json,
    Text(Form),
    /// The labels in declaration order (for messages) and sorted (for lookup).
    Enum {
        labels: Vec<String>,
        sorted: Vec<String>,
    },
    Composite {
        fields: Vec<(String, Rule)>,
    },
    Array {
        element: Box<Rule>,
    },
}

/// The text forms of types carried as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Any,
    Uuid,
    Timestamp,
    Timestamptz,
    Date,
    Time,
    Timetz,
    Interval,
    Bytea,
}

impl Form {
    fn valid(self, s: &str) -> bool {
        match self {
            Form::Any => true,
            Form::Uuid => is_uuid(s),
            Form::Timestamp => datetime::is_timestamp(s, false),
            Form::Timestamptz => datetime::is_timestamp(s, true),
            Form::Date => datetime::is_date(s),
            Form::Time => datetime::is_time(s),
            Form::Timetz => datetime::is_timetz(s),
            Form::Interval => datetime::is_interval(s),
            Form::Bytea => decode_bytea(s).is_ok(),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Form::Any => "a string",
            Form::Uuid => UUID,
            Form::Timestamp => "2024-01-02T03:04:05.000000",
            Form::Timestamptz => "2024-01-02T03:04:05.000000Z",
            Form::Date => "2024-01-02",
            Form::Time => "03:04:05.000000",
            Form::Timetz => "03:04:05.000000+00:00",
            Form::Interval => "Postgres iso_8601 output, like P1DT2H3M4.5S",
            Form::Bytea => "standard base64",
        }
    }
}

impl Rule {
    fn new(ty: &PgType) -> Rule {
        let kind = match &ty.kind {
            TypeKind::Base { base, precision, scale } => base_kind(base, *precision, *scale),
            TypeKind::Enum { labels } => {
                let mut sorted = labels.clone();
                sorted.sort_unstable();
                Kind::Enum { labels: labels.clone(), sorted }
            }
            TypeKind::Composite { fields } => Kind::Composite {
                fields: fields.iter().map(|f| (f.name.clone(), Rule::new(&f.ty))).collect(),
            },
            TypeKind::Array { element } => Kind::Array { element: Box::new(Rule::new(element)) },
        };
        Rule { name: ty.name.clone(), kind }
    }

    fn misfit(&self, raw: &str, reason: Reason) -> Misfit {
        Misfit { path: String::new(), value: shorten(raw), type_name: self.name.clone(), reason }
    }

    /// Checks a value that is not `null`.
    fn check(&self, raw: &str) -> Result<(), Misfit> {
        let reason = match &self.kind {
            Kind::Integer { min, max } => integer(raw, *min, *max),
            Kind::Float { single } => float(raw, *single),
            Kind::Numeric { precision, scale } => numeric(raw, *precision, *scale),
            Kind::Bool => matches!(raw, "true" | "false")
                .then_some(())
                .ok_or(Reason::Format { expected: "true or false" }),
            Kind::Json => Ok(()),
            Kind::Text(form) => text(raw, *form),
            Kind::Enum { labels, sorted } => label(raw, labels, sorted),
            Kind::Composite { fields } => return self.check_composite(raw, fields),
            Kind::Array { element } => return self.check_array(raw, element),
        };
        reason.map_err(|r| self.misfit(raw, r))
    }

    /// An object with exactly the fields, in order; each non-null field fits its type.
    fn check_composite(&self, raw: &str, fields: &[(String, Rule)]) -> Result<(), Misfit> {
        let names = || Reason::Fields { fields: fields.iter().map(|(n, _)| n.clone()).collect() };
        let pairs = match raw.starts_with('{').then(|| parse_pairs(raw)) {
            Some(Ok(pairs)) => pairs,
            _ => return Err(self.misfit(raw, names())),
        };
        let same_keys =
            pairs.len() == fields.len() && pairs.iter().zip(fields).all(|((k, _), (f, _))| k == f);
        if !same_keys {
            return Err(self.misfit(raw, names()));
        }
        for ((_, value), (name, rule)) in pairs.iter().zip(fields) {
            if value.get() != "null" {
                rule.check(value.get()).map_err(|m| inside(m, &format!("field {name:?}")))?;
            }
        }
        Ok(())
    }

    /// A nested JSON array (rectangular, elements null or fitting `element`), or the Postgres
    /// text of an array whose lower bounds are not all 1 (a string starting with `[`). An
    /// array of composites may also be its plain Postgres text (`{"(1,x)",NULL}`): the export
    /// keeps it so when a field cannot be rebuilt inside an array.
    fn check_array(&self, raw: &str, element: &Rule) -> Result<(), Misfit> {
        let not_array = || self.misfit(raw, Reason::Format { expected: "a JSON array" });
        if raw.starts_with('"') {
            let composite = matches!(element.kind, Kind::Composite { .. });
            return match string(raw) {
                Some(s) if s.starts_with('[') => Ok(()),
                Some(s) if composite && s.starts_with('{') && s.ends_with('}') => Ok(()),
                _ => Err(not_array()),
            };
        }
        if !raw.starts_with('[') {
            return Err(not_array());
        }
        if element.kind == Kind::Json {
            return Ok(());
        }
        self.check_items(raw, element, 1).map(|_| ())
    }

    /// Checks one level of a nested array and returns its shape (the length of each
    /// dimension, outermost first): every item is an array of one shape, or none is. The
    /// items are read one by one as the text is parsed, nothing collected.
    fn check_items(&self, raw: &str, element: &Rule, depth: usize) -> Result<Shape, Misfit> {
        if depth > MAX_DIMENSIONS {
            let expected = "an array of at most 6 dimensions";
            return Err(self.misfit(raw, Reason::Format { expected }));
        }
        let mut de = serde_json::Deserializer::from_str(raw);
        let level = Level { array: self, element, raw, depth };
        match (&mut de).deserialize_seq(level).and_then(|r| de.end().map(|()| r)) {
            Ok(checked) => checked,
            Err(_) => Err(self.misfit(raw, Reason::Format { expected: "a JSON array" })),
        }
    }

    /// One item of a nested array: its shape when it is an array itself, `None` otherwise.
    fn check_item(
        &self,
        text: &str,
        element: &Rule,
        depth: usize,
        i: usize,
    ) -> Result<Option<Shape>, Misfit> {
        if text.starts_with('[') {
            return self
                .check_items(text, element, depth + 1)
                .map(Some)
                .map_err(|m| at_index(m, i));
        }
        if text != "null" {
            element.check(text).map_err(|m| at_index(m, i))?;
        }
        Ok(None)
    }
}

/// The lengths of an array's dimensions, outermost first (at most [`MAX_DIMENSIONS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    dims: [usize; MAX_DIMENSIONS],
    count: usize,
}

impl Shape {
    /// `len` items, each of shape `inner` (none when they are not arrays).
    fn new(len: usize, inner: Option<Shape>) -> Shape {
        let mut shape = Shape { dims: [0; MAX_DIMENSIONS], count: 1 };
        shape.dims[0] = len;
        if let Some(inner) = inner {
            let n = inner.count.min(MAX_DIMENSIONS - 1);
            shape.dims[1..=n].copy_from_slice(&inner.dims[..n]);
            shape.count += n;
        }
        shape
    }
}

/// Reads one level of a nested array for [`Rule::check_items`].
struct Level<'r> {
    array: &'r Rule,
    element: &'r Rule,
    raw: &'r str,
    depth: usize,
}

impl<'de> Visitor<'de> for Level<'_> {
    type Value = Result<Shape, Misfit>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut inner: Option<Option<Shape>> = None;
        let mut len = 0;
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            let shape = match self.array.check_item(item.get(), self.element, self.depth, len) {
                Ok(shape) => shape,
                Err(m) => return Ok(Err(m)),
            };
            match inner {
                None => inner = Some(shape),
                Some(first) if first == shape => {}
                Some(_) => return Ok(Err(self.array.misfit(self.raw, Reason::Ragged))),
            }
            len += 1;
        }
        Ok(Ok(Shape::new(len, inner.flatten())))
    }
}

fn base_kind(base: &str, precision: Option<u32>, scale: Option<i32>) -> Kind {
    let form = match base {
        "int2" => return Kind::Integer { min: i16::MIN.into(), max: i16::MAX.into() },
        "int4" => return Kind::Integer { min: i32::MIN.into(), max: i32::MAX.into() },
        "int8" => return Kind::Integer { min: i64::MIN, max: i64::MAX },
        "oid" => return Kind::Integer { min: 0, max: u32::MAX.into() },
        "float4" => return Kind::Float { single: true },
        "float8" => return Kind::Float { single: false },
        "numeric" => return Kind::Numeric { precision, scale },
        // Exported as its numeric value, free of locale (`"1000.00"`).
        "money" => return Kind::Numeric { precision: None, scale: None },
        "bool" => return Kind::Bool,
        "json" | "jsonb" => return Kind::Json,
        "uuid" => Form::Uuid,
        "timestamptz" => Form::Timestamptz,
        "timestamp" => Form::Timestamp,
        "date" => Form::Date,
        "time" => Form::Time,
        "timetz" => Form::Timetz,
        "interval" => Form::Interval,
        "bytea" => Form::Bytea,
        _ => Form::Any,
    };
    Kind::Text(form)
}

/// The content of a JSON string, borrowed when it holds no escapes; `None` for any other
/// JSON value.
fn string(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
}

/// Types carried as strings, with the form each must have. Any string will do for most
/// (text, inet, ...): a JSON string's text starts with a quote, and its content need not be
/// unescaped to know that.
fn text(raw: &str, form: Form) -> Result<(), Reason> {
    let expected = form.expected();
    if form == Form::Any {
        return if raw.starts_with('"') { Ok(()) } else { Err(Reason::Format { expected }) };
    }
    match string(raw) {
        Some(s) if form.valid(&s) => Ok(()),
        _ => Err(Reason::Format { expected }),
    }
}

/// A JSON integer within `min..=max`. A number with a fraction or exponent is not an
/// integer, unless it is beyond 64 bits anyway (then it is out of range).
fn integer(raw: &str, min: i64, max: i64) -> Result<(), Reason> {
    if let Ok(i) = raw.parse::<i64>() {
        let plain = !raw.starts_with('+');
        return match (plain, (min..=max).contains(&i)) {
            (true, true) => Ok(()),
            (true, false) => Err(Reason::OutOfRange),
            (false, _) => Err(Reason::Format { expected: INTEGER }),
        };
    }
    match Decimal::parse(raw).map(Decimal::to_i64) {
        Some(Err(())) => Err(Reason::OutOfRange),
        _ => Err(Reason::Format { expected: INTEGER }),
    }
}

/// A JSON number within the type's range, or one of the three special strings.
fn float(raw: &str, single: bool) -> Result<(), Reason> {
    if raw.starts_with('"') {
        return match string(raw).as_deref() {
            Some("NaN" | "Infinity" | "-Infinity") => Ok(()),
            _ => Err(Reason::Format { expected: FLOAT }),
        };
    }
    if Decimal::parse(raw).is_none() {
        return Err(Reason::Format { expected: FLOAT });
    }
    let x: f64 = raw.parse().map_err(|_| Reason::Format { expected: FLOAT })?;
    let finite = if single { (x as f32).is_finite() } else { x.is_finite() };
    finite.then_some(()).ok_or(Reason::OutOfRange)
}

/// Exact decimal text (`-?\d+(\.\d+)?`), `NaN`, or (unconstrained only) `Infinity` and
/// `-Infinity`, as Postgres refuses infinity in a numeric with a precision.
fn numeric(raw: &str, precision: Option<u32>, scale: Option<i32>) -> Result<(), Reason> {
    let Some(s) = string(raw) else { return Err(Reason::Format { expected: NUMERIC }) };
    if s == "NaN" {
        return Ok(());
    }
    if s == "Infinity" || s == "-Infinity" {
        return if precision.is_some() { Err(Reason::DoesNotFit) } else { Ok(()) };
    }
    let Some((int, frac)) = split_decimal(&s) else {
        return Err(Reason::Format { expected: NUMERIC });
    };
    match precision {
        Some(p) if !fits(int, frac, p, scale.unwrap_or(0)) => Err(Reason::DoesNotFit),
        _ => Ok(()),
    }
}

/// The integer and fraction digits of `-?\d+(\.\d+)?`.
fn split_decimal(s: &str) -> Option<(&str, &str)> {
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let frac_ok = !unsigned.contains('.') || !frac.is_empty();
    (!int.is_empty() && all_digits(int) && all_digits(frac) && frac_ok).then_some((int, frac))
}

/// Whether a decimal is unchanged by rounding to `scale` digits and below 10^(p − s) in
/// magnitude, which is what `numeric(p, s)` holds (scale may be negative, or above p).
fn fits(int: &str, frac: &str, precision: u32, scale: i32) -> bool {
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let rounded = if scale >= 0 {
        frac.len() <= scale as usize
    } else {
        frac.is_empty() && int.bytes().rev().take(scale.unsigned_abs() as usize).all(|b| b == b'0')
    };
    let room = i64::from(precision) - i64::from(scale);
    let magnitude = if int.is_empty() {
        room > 0 || frac.bytes().take(room.unsigned_abs() as usize).all(|b| b == b'0')
    } else {
        int.len() as i64 <= room
    };
    rounded && magnitude
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

fn label(raw: &str, labels: &[String], sorted: &[String]) -> Result<(), Reason> {
    match string(raw) {
        Some(s) if sorted.binary_search_by(|l| l.as_str().cmp(&s)).is_ok() => Ok(()),
        Some(_) => Err(Reason::NotALabel { labels: labels.to_vec() }),
        None => Err(Reason::Format { expected: "a string" }),
    }
}

/// An object's keys and raw values in order, duplicates kept (so that they show).
fn parse_pairs(raw: &str) -> Result<Vec<(String, &RawValue)>, serde_json::Error> {
    struct Pairs;
    impl<'de> Visitor<'de> for Pairs {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            let mut pairs = Vec::new();
            while let Some(pair) = map.next_entry::<String, &'de RawValue>()? {
                pairs.push(pair);
            }
            Ok(pairs)
        }
    }
    let mut de = serde_json::Deserializer::from_str(raw);
    let pairs = (&mut de).deserialize_map(Pairs)?;
    de.end()?;
    Ok(pairs)
}

fn at_index(m: Misfit, i: usize) -> Misfit {
    inside(m, &format!("[{}]", i + 1))
}

/// Prefixes a step to a misfit's path: `[2]` then `[1]` join as `element [2][1]`.
fn inside(mut m: Misfit, step: &str) -> Misfit {
    let rest = m.path.strip_prefix("element ").unwrap_or(&m.path);
    m.path = match (step.starts_with('['), m.path.is_empty()) {
        (true, true) => format!("element {step}"),
        (true, false) if m.path.starts_with("element [") => format!("element {step}{rest}"),
        (true, false) => format!("element {step}, {}", m.path),
        (false, true) => step.to_owned(),
        (false, false) => format!("{step}, {}", m.path),
    };
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog::Field;
    use serde_json::{Value, json};

    fn base(name: &str) -> PgType {
        PgType {
            name: name.into(),
            domain: None,
            kind: TypeKind::Base { base: name.into(), precision: None, scale: None },
        }
    }

    fn numeric_ty(p: u32, s: i32) -> PgType {
        PgType {
            name: format!("numeric({p},{s})"),
            domain: None,
            kind: TypeKind::Base { base: "numeric".into(), precision: Some(p), scale: Some(s) },
        }
    }

    fn array(element: PgType) -> PgType {
        PgType {
            name: format!("{}[]", element.name),
            domain: None,
            kind: TypeKind::Array { element: Box::new(element) },
        }
    }

    fn check(v: &Value, ty: &PgType) -> Result<(), Misfit> {
        ColumnRule::new(ty, true).check(&v.to_string())
    }

    fn reason(v: Value, ty: &PgType) -> Option<Reason> {
        check(&v, ty).err().map(|m| m.reason)
    }

    fn raw_reason(raw: &str, ty: &PgType) -> Option<Reason> {
        ColumnRule::new(ty, true).check(raw).err().map(|m| m.reason)
    }

    #[test]
    fn integers_must_be_whole_numbers_within_the_type() {
        assert_eq!(reason(json!(32767), &base("int2")), None);
        assert_eq!(reason(json!(32768), &base("int2")), Some(Reason::OutOfRange));
        assert_eq!(reason(json!(2147483648_i64), &base("int4")), Some(Reason::OutOfRange));
        assert_eq!(reason(json!(-1), &base("oid")), Some(Reason::OutOfRange));
        assert_eq!(reason(json!(u64::MAX), &base("int8")), Some(Reason::OutOfRange));
        assert_eq!(reason(json!(1e30), &base("int8")), Some(Reason::OutOfRange));
        assert_eq!(raw_reason("1e400", &base("int8")), Some(Reason::OutOfRange));
        assert_eq!(raw_reason("-9223372036854775809", &base("int8")), Some(Reason::OutOfRange));
        assert!(matches!(reason(json!(1.5), &base("int4")), Some(Reason::Format { .. })));
        assert!(matches!(raw_reason("1.0", &base("int4")), Some(Reason::Format { .. })));
        assert!(matches!(raw_reason("1e2", &base("int4")), Some(Reason::Format { .. })));
        assert!(matches!(reason(json!("1"), &base("int4")), Some(Reason::Format { .. })));
    }

    #[test]
    fn floats_take_numbers_and_the_three_special_strings() {
        assert_eq!(reason(json!(3.4028235e38), &base("float4")), None, "f32::MAX, shortest");
        assert_eq!(reason(json!(3.5e38), &base("float4")), Some(Reason::OutOfRange));
        assert_eq!(raw_reason("1e400", &base("float8")), Some(Reason::OutOfRange));
        assert_eq!(reason(json!("-Infinity"), &base("float8")), None);
        assert!(matches!(reason(json!("nan"), &base("float8")), Some(Reason::Format { .. })));
    }

    #[test]
    fn numerics_are_decimal_strings_within_precision_and_scale() {
        let money = numeric_ty(5, 2);
        for ok in ["123.45", "-999.99", "0.50", "12", "NaN", "000123.40"] {
            assert_eq!(reason(json!(ok), &money), None, "{ok}");
        }
        for bad in ["1000.00", "1.234", "Infinity"] {
            assert_eq!(reason(json!(bad), &money), Some(Reason::DoesNotFit), "{bad}");
        }
        for bad in ["1e5", "1.", ".5", "+1", "12,5", "twelve"] {
            assert!(matches!(reason(json!(bad), &base("numeric")), Some(Reason::Format { .. })));
        }
        assert!(matches!(reason(json!(12.5), &base("numeric")), Some(Reason::Format { .. })));
        assert_eq!(reason(json!("Infinity"), &base("numeric")), None);
        assert_eq!(reason(json!("12000"), &numeric_ty(2, -3)), None);
        assert_eq!(reason(json!("12300"), &numeric_ty(2, -3)), Some(Reason::DoesNotFit));
        assert_eq!(reason(json!("99000"), &numeric_ty(2, -3)), None);
        assert_eq!(reason(json!("100000"), &numeric_ty(2, -3)), Some(Reason::DoesNotFit));
        assert_eq!(reason(json!("0.00123"), &numeric_ty(3, 5)), None);
        assert_eq!(reason(json!("0.01230"), &numeric_ty(3, 5)), Some(Reason::DoesNotFit));
    }

    #[test]
    fn uuids_are_lowercase_canonical_and_bytea_is_padded_base64() {
        assert_eq!(reason(json!("123e4567-e89b-12d3-a456-426614174000"), &base("uuid")), None);
        assert!(reason(json!("123E4567-E89B-12D3-A456-426614174000"), &base("uuid")).is_some());
        assert!(reason(json!("123e4567e89b12d3a456426614174000"), &base("uuid")).is_some());
        assert_eq!(reason(json!("AAEC"), &base("bytea")), None);
        assert_eq!(reason(json!(""), &base("bytea")), None);
        assert!(reason(json!("AAE"), &base("bytea")).is_some());
        assert!(reason(json!("AA-C"), &base("bytea")).is_some());
    }

    #[test]
    fn strings_are_checked_by_their_content_escapes_decoded() {
        assert_eq!(raw_reason(r#""\u0032024-01-02""#, &base("date")), None);
        assert!(raw_reason(r#""2024-02-30""#, &base("date")).is_some());
        assert!(raw_reason("20240102", &base("date")).is_some());
        assert_eq!(raw_reason(r#""\"quoted\"""#, &base("text")), None);
        assert!(matches!(raw_reason("1", &base("text")), Some(Reason::Format { .. })));
    }

    #[test]
    fn enums_take_only_their_labels() {
        let mood = PgType {
            name: "public.mood".into(),
            domain: None,
            kind: TypeKind::Enum { labels: vec!["sad".into(), "ok".into(), "happy".into()] },
        };
        for ok in ["sad", "ok", "happy"] {
            assert_eq!(reason(json!(ok), &mood), None, "{ok}");
        }
        assert!(matches!(reason(json!("Happy"), &mood), Some(Reason::NotALabel { .. })));
        assert!(matches!(reason(json!(1), &mood), Some(Reason::Format { .. })));
    }

    #[test]
    fn null_is_refused_only_where_the_column_may_not_be_null_and_json_takes_it_always() {
        let rule = ColumnRule::new(&base("int4"), false);
        let err = rule.check("null").unwrap_err();
        assert_eq!(
            (err.to_string(), err.reason),
            ("null in a NOT NULL column".into(), Reason::Null)
        );
        assert_eq!(ColumnRule::new(&base("int4"), true).check("null"), Ok(()));
        assert_eq!(ColumnRule::new(&base("jsonb"), false).check("null"), Ok(()));
    }

    #[test]
    fn a_primary_key_column_is_never_nullable_whatever_the_manifest_says() {
        let mut t = Table::new(
            "public",
            "t",
            vec![
                crate::model::catalog::Column {
                    name: "id".into(),
                    ty: base("int4"),
                    nullable: true,
                    default: None,
                    identity: None,
                    generated: None,
                },
                crate::model::catalog::Column {
                    name: "v".into(),
                    ty: base("text"),
                    nullable: true,
                    default: None,
                    identity: None,
                    generated: None,
                },
            ],
        );
        t.primary_key = Some(crate::model::catalog::KeyConstraint {
            name: "t_pkey".into(),
            columns: vec!["id".into()],
        });
        let rules = Rules::new(&t);
        let nullable: Vec<bool> = rules.iter().map(ColumnRule::nullable).collect();
        assert_eq!(nullable, [false, true]);
    }

    #[test]
    fn arrays_nest_rectangularly_or_are_the_postgres_text_form() {
        let ints = array(base("int4"));
        assert_eq!(reason(json!([[1, 2], [3, null]]), &ints), None);
        assert_eq!(reason(json!("[0:1]={1,2}"), &ints), None);
        assert_eq!(reason(json!([]), &ints), None);
        assert_eq!(reason(json!([[1, 2], [3]]), &ints), Some(Reason::Ragged));
        assert_eq!(reason(json!([[1, 2], 3]), &ints), Some(Reason::Ragged));
        assert_eq!(reason(json!([[[1], [2]], [[1, 2], [3, 4]]]), &ints), Some(Reason::Ragged));
        let err = check(&json!([[1, 2], [3, "x"]]), &ints).unwrap_err();
        assert_eq!((err.path.as_str(), err.value.as_str()), ("element [2][2]", "\"x\""));
        assert_eq!(reason(json!([[1], {"a": 1}]), &array(base("jsonb"))), None);
        assert!(matches!(reason(json!("{1,2}"), &ints), Some(Reason::Format { .. })));
        assert!(matches!(reason(json!("a"), &array(base("text"))), Some(Reason::Format { .. })));
        assert_eq!(reason(json!([[[[[[1]]]]]]), &ints), None, "six dimensions");
        assert!(matches!(reason(json!([[[[[[[1]]]]]]]), &ints), Some(Reason::Format { .. })));
    }

    #[test]
    fn an_array_of_composites_may_be_its_postgres_text() {
        let ty = PgType {
            name: "public.pair".into(),
            domain: None,
            kind: TypeKind::Composite {
                fields: vec![Field { name: "a".into(), ty: base("int4") }],
            },
        };
        assert_eq!(reason(json!(r#"{"(1)",NULL}"#), &array(ty.clone())), None);
        assert!(matches!(reason(json!("(1)"), &array(ty)), Some(Reason::Format { .. })));
    }

    #[test]
    fn composites_need_their_fields_in_order_each_fitting() {
        let ty = PgType {
            name: "public.address".into(),
            domain: None,
            kind: TypeKind::Composite {
                fields: vec![
                    Field { name: "street".into(), ty: base("text") },
                    Field { name: "zip".into(), ty: base("int4") },
                ],
            },
        };
        assert_eq!(reason(json!({"street": "Main", "zip": null}), &ty), None);
        assert!(matches!(
            reason(json!({"zip": 1, "street": "x"}), &ty),
            Some(Reason::Fields { .. })
        ));
        let dup = r#"{"street":"a","street":"b","zip":1}"#;
        assert!(matches!(raw_reason(dup, &ty), Some(Reason::Fields { .. })));
        assert!(matches!(reason(json!("(Main,1)"), &ty), Some(Reason::Fields { .. })));
        let err = check(&json!({"street": "Main", "zip": "x"}), &ty).unwrap_err();
        assert_eq!((err.path.as_str(), err.type_name.as_str()), ("field \"zip\"", "int4"));
        let nested = array(ty);
        let err = check(&json!([{"street": 1, "zip": 2}]), &nested).unwrap_err();
        assert_eq!(err.path, "element [1], field \"street\"");
    }
}
