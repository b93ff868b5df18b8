//! Whether one NDJSON value fits its column's type, per DESIGN.md's encoding table: numbers
//! for integers (within range) and floats, exact decimal strings for numeric (within the
//! column's precision and scale), RFC 3339 strings for timestamps, base64 for bytea, nested
//! arrays, composites as objects, and the Postgres text (a string) for everything else.

use base64::Engine as _;
use serde_json::Value;

use super::datetime;
use super::problem::Reason;
use crate::catalog::{Field, PgType, TypeKind};

/// A value that does not fit, with the way into it (for arrays and composites).
#[derive(Debug)]
pub struct Misfit {
    /// `element [2], field "zip"`, or empty for the column's value itself.
    pub path: String,
    /// The value's JSON text, shortened.
    pub value: String,
    pub type_name: String,
    pub reason: Reason,
}

const UUID: &str = "lowercase canonical form, like 123e4567-e89b-12d3-a456-426614174000";
const FLOAT: &str = "a number, or \"NaN\", \"Infinity\" or \"-Infinity\"";
const NUMERIC: &str = "a string of exact decimal text, like \"12.50\", or \"NaN\"";

/// Checks a non-null value against `ty`.
///
/// # Errors
/// The first [`Misfit`] found, depth first.
pub fn check(v: &Value, ty: &PgType) -> Result<(), Misfit> {
    match &ty.kind {
        TypeKind::Base { base, precision, scale } => {
            check_base(v, base, *precision, *scale).map_err(|r| misfit(v, ty, r))
        }
        TypeKind::Enum { labels } => check_enum(v, labels).map_err(|r| misfit(v, ty, r)),
        TypeKind::Composite { fields } => check_composite(v, ty, fields),
        TypeKind::Array { element } => check_array(v, ty, element),
    }
}

/// Whether the type is json or jsonb, where any JSON value (`null` included) is valid.
pub fn is_json(ty: &PgType) -> bool {
    matches!(ty.base(), Some("json" | "jsonb"))
}

fn misfit(v: &Value, ty: &PgType, reason: Reason) -> Misfit {
    Misfit { path: String::new(), value: shorten(v), type_name: ty.name.clone(), reason }
}

/// The value's JSON text, cut at about 80 characters.
pub fn shorten(v: &Value) -> String {
    const MAX: usize = 80;
    let text = v.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

fn check_base(
    v: &Value,
    base: &str,
    precision: Option<u32>,
    scale: Option<i32>,
) -> Result<(), Reason> {
    match base {
        "int2" => integer(v, i16::MIN.into(), i16::MAX.into()),
        "int4" => integer(v, i32::MIN.into(), i32::MAX.into()),
        "int8" => integer(v, i64::MIN.into(), i64::MAX.into()),
        "oid" => integer(v, 0, u32::MAX.into()),
        "float4" => float(v, |x| (x as f32).is_finite()),
        "float8" => float(v, f64::is_finite),
        "numeric" => numeric(v, precision, scale),
        "bool" => v.is_boolean().then_some(()).ok_or(Reason::Format { expected: "true or false" }),
        "json" | "jsonb" => Ok(()),
        _ => check_text(v, base),
    }
}

/// Types carried as strings, with the form each must have.
fn check_text(v: &Value, base: &str) -> Result<(), Reason> {
    let (valid, expected): (fn(&str) -> bool, &'static str) = match base {
        "uuid" => (is_uuid, UUID),
        "timestamptz" => (|s| datetime::is_timestamp(s, true), "2024-01-02T03:04:05.000000Z"),
        "timestamp" => (|s| datetime::is_timestamp(s, false), "2024-01-02T03:04:05.000000"),
        "date" => (datetime::is_date, "2024-01-02"),
        "time" => (datetime::is_time, "03:04:05.000000"),
        "timetz" => (datetime::is_timetz, "03:04:05.000000+00:00"),
        "interval" => (datetime::is_interval, "Postgres iso_8601 output, like P1DT2H3M4.5S"),
        "bytea" => (is_base64, "standard base64"),
        _ => (|_| true, "a string"),
    };
    match v.as_str() {
        Some(s) if valid(s) => Ok(()),
        _ => Err(Reason::Format { expected }),
    }
}

/// A JSON integer within `min..=max`. A number with a fraction or exponent is not an
/// integer, unless it is too large for 64 bits anyway (then it is out of range).
fn integer(v: &Value, min: i128, max: i128) -> Result<(), Reason> {
    let Value::Number(n) = v else { return Err(Reason::Format { expected: "an integer" }) };
    let exact = n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
    match (exact, n.as_f64()) {
        (Some(i), _) if (min..=max).contains(&i) => Ok(()),
        (Some(_), _) => Err(Reason::OutOfRange),
        (None, Some(f)) if f.abs() >= 9.2e18 => Err(Reason::OutOfRange),
        _ => Err(Reason::Format { expected: "an integer" }),
    }
}

fn float(v: &Value, in_range: fn(f64) -> bool) -> Result<(), Reason> {
    match v {
        Value::Number(n) if n.as_f64().is_some_and(in_range) => Ok(()),
        Value::Number(_) => Err(Reason::OutOfRange),
        Value::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => Ok(()),
        _ => Err(Reason::Format { expected: FLOAT }),
    }
}

/// Exact decimal text (`-?\d+(\.\d+)?`), `NaN`, or (unconstrained only) `Infinity` and
/// `-Infinity`, as Postgres refuses infinity in a numeric with a precision.
fn numeric(v: &Value, precision: Option<u32>, scale: Option<i32>) -> Result<(), Reason> {
    let Some(s) = v.as_str() else { return Err(Reason::Format { expected: NUMERIC }) };
    if s == "NaN" {
        return Ok(());
    }
    if s == "Infinity" || s == "-Infinity" {
        return if precision.is_some() { Err(Reason::DoesNotFit) } else { Ok(()) };
    }
    let Some((int, frac)) = split_decimal(s) else {
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

fn is_base64(s: &str) -> bool {
    base64::engine::general_purpose::STANDARD.decode(s).is_ok()
}

fn check_enum(v: &Value, labels: &[String]) -> Result<(), Reason> {
    match v.as_str() {
        Some(s) if labels.iter().any(|l| l == s) => Ok(()),
        Some(_) => Err(Reason::NotALabel { labels: labels.to_vec() }),
        None => Err(Reason::Format { expected: "a string" }),
    }
}

/// An object with exactly the fields, in order; each non-null field fits its type.
fn check_composite(v: &Value, ty: &PgType, fields: &[Field]) -> Result<(), Misfit> {
    let names = || Reason::Fields { fields: fields.iter().map(|f| f.name.clone()).collect() };
    let Some(object) = v.as_object() else { return Err(misfit(v, ty, names())) };
    let same_keys =
        object.len() == fields.len() && object.keys().zip(fields).all(|(k, f)| *k == f.name);
    if !same_keys {
        return Err(misfit(v, ty, names()));
    }
    for (value, field) in object.values().zip(fields) {
        if !value.is_null() {
            check(value, &field.ty).map_err(|m| inside(m, &format!("field {:?}", field.name)))?;
        }
    }
    Ok(())
}

/// A nested JSON array (rectangular, elements null or fitting `element`), or the Postgres
/// text of an array whose lower bounds are not all 1 (a string starting with `[`). An array
/// of composites may also be its plain Postgres text (`{"(1,x)",NULL}`): the export keeps
/// it so when a field cannot be rebuilt inside an array (export's `ElementPlan::Opaque`).
fn check_array(v: &Value, ty: &PgType, element: &PgType) -> Result<(), Misfit> {
    let composite = matches!(element.kind, TypeKind::Composite { .. });
    match v {
        Value::String(s) if s.starts_with('[') => Ok(()),
        Value::String(s) if composite && s.starts_with('{') && s.ends_with('}') => Ok(()),
        Value::Array(items) => check_items(items, ty, element),
        _ => Err(misfit(v, ty, Reason::Format { expected: "a JSON array" })),
    }
}

fn check_items(items: &[Value], ty: &PgType, element: &PgType) -> Result<(), Misfit> {
    if !is_json(element) {
        check_shape(items)
            .map_err(|()| misfit(&Value::Array(items.to_vec()), ty, Reason::Ragged))?;
    }
    for (i, item) in items.iter().enumerate() {
        let result = match item {
            Value::Null => Ok(()),
            Value::Array(inner) if !is_json(element) => check_items(inner, ty, element),
            _ => check(item, element),
        };
        result.map_err(|m| inside(m, &format!("[{}]", i + 1)))?;
    }
    Ok(())
}

/// Either no item is an array, or all are, of one shape (Postgres arrays are rectangular).
/// Deeper levels are checked as [`check_items`] descends.
fn check_shape(items: &[Value]) -> Result<(), ()> {
    let shape = |v: &Value| {
        let mut dims = Vec::new();
        let mut at = v;
        while let Value::Array(a) = at {
            dims.push(a.len());
            at = a.first().unwrap_or(&Value::Null);
        }
        dims
    };
    let first = items.first().map(shape).unwrap_or_default();
    items.iter().all(|i| shape(i) == first).then_some(()).ok_or(())
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
    use serde_json::json;

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

    fn reason(v: Value, ty: &PgType) -> Option<Reason> {
        check(&v, ty).err().map(|m| m.reason)
    }

    #[test]
    fn integers_must_be_whole_numbers_within_the_type() {
        assert_eq!(reason(json!(32767), &base("int2")), None);
        assert_eq!(reason(json!(32768), &base("int2")), Some(Reason::OutOfRange));
        assert_eq!(reason(json!(-1), &base("oid")), Some(Reason::OutOfRange));
        assert_eq!(reason(json!(u64::MAX), &base("int8")), Some(Reason::OutOfRange));
        assert_eq!(reason(json!(1e30), &base("int8")), Some(Reason::OutOfRange));
        assert!(matches!(reason(json!(1.5), &base("int4")), Some(Reason::Format { .. })));
        assert!(matches!(reason(json!("1"), &base("int4")), Some(Reason::Format { .. })));
    }

    #[test]
    fn floats_take_numbers_and_the_three_special_strings() {
        assert_eq!(reason(json!(3.4028235e38), &base("float4")), None, "f32::MAX, shortest");
        assert_eq!(reason(json!(3.5e38), &base("float4")), Some(Reason::OutOfRange));
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
        for bad in ["1e5", "1.", ".5", "+1", "12,5"] {
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
    fn arrays_nest_rectangularly_or_are_the_postgres_text_form() {
        let ints = array(base("int4"));
        assert_eq!(reason(json!([[1, 2], [3, null]]), &ints), None);
        assert_eq!(reason(json!("[0:1]={1,2}"), &ints), None);
        assert_eq!(reason(json!([]), &ints), None);
        assert_eq!(reason(json!([[1, 2], [3]]), &ints), Some(Reason::Ragged));
        assert_eq!(reason(json!([[1, 2], 3]), &ints), Some(Reason::Ragged));
        let err = check(&json!([[1, 2], [3, "x"]]), &ints).unwrap_err();
        assert_eq!((err.path.as_str(), err.value.as_str()), ("element [2][2]", "\"x\""));
        assert_eq!(reason(json!([[1], {"a": 1}]), &array(base("jsonb"))), None);
        assert!(matches!(reason(json!("{1,2}"), &ints), Some(Reason::Format { .. })));
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
        let err = check(&json!({"street": "Main", "zip": "x"}), &ty).unwrap_err();
        assert_eq!((err.path.as_str(), err.type_name.as_str()), ("field \"zip\"", "int4"));
        let nested = array(ty);
        let err = check(&json!([{"street": 1, "zip": 2}]), &nested).unwrap_err();
        assert_eq!(err.path, "element [1], field \"street\"");
    }
}
