//! Tests of value conversion: every mapping of DESIGN's table bound into a real SQLite table
//! made by the schema's DDL (STRICT and not) and read back with `typeof()`; every lossy case;
//! errors naming table, line and column; batches and their parallel conversion.

use std::borrow::Cow;
use std::io;

use base64::Engine as _;
use proptest::prelude::*;
use rusqlite::Connection;
use rusqlite::types::Value;

use super::*;
use crate::mapping::testkit::PlanWith;
use crate::mapping::testkit::{
    array, col, composite, enum_ty, not_null, numeric as numeric_ty, table, ty, with_pk,
};
use crate::mapping::{self, ColumnLoss, ExportFacts, NumericPolicy, SchemaFlags, Strip};
use crate::model::catalog::Column;
use crate::model::catalog::{PgType, Table};
use std::fmt;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn run(json: &str, conv: Conversion) -> std::result::Result<(Value, Option<Loss>), ConvertError> {
    let raw = RawValue::from_string(json.to_owned()).expect("test JSON is valid");
    convert(&raw, conv).map(|c| (c.value.to_value(), c.loss))
}

fn exact(json: &str, conv: Conversion) -> Value {
    match run(json, conv) {
        Ok((v, None)) => v,
        other => panic!("{json} as {conv:?}: expected an exact value, got {other:?}"),
    }
}

fn plan_for(t: Table, o: &impl PlanWith) -> mapping::TablePlan {
    let p = o.plan_of(&[t]).unwrap_or_else(|e| panic!("{e}"));
    p.tables.into_iter().next().expect("one table")
}

fn batch(first_line: u64, lines: &[&str]) -> Batch {
    let mut b = Batch::new(first_line);
    for l in lines {
        b.push_line(l);
    }
    b
}

/// Creates `plan`'s table in a fresh SQLite, loads `lines` through [`convert_batch`], and
/// returns the connection.
fn load(plan: &mapping::TablePlan, lines: &[&str]) -> Result<(Connection, Lossy)> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(&plan.create_table)?;
    let converted = convert_batch(batch(1, lines), plan)?;
    let mut stmt = conn.prepare(&plan.insert_sql())?;
    for row in converted.rows() {
        stmt.execute(rusqlite::params_from_iter(row.values()))?;
    }
    drop(stmt);
    Ok((conn, converted.lossy().clone()))
}

/// `public.addr (street text, n int4)`.
fn addr() -> PgType {
    let mut t = composite("public.addr");
    t.kind = crate::model::catalog::TypeKind::Composite {
        fields: vec![
            crate::model::catalog::Field { name: "street".into(), ty: ty("text") },
            crate::model::catalog::Field { name: "n".into(), ty: ty("int4") },
        ],
    };
    t
}

/// One column per mapping: name, type, the exported JSON, SQLite's `typeof`, the value.
fn every_mapping() -> Vec<(&'static str, PgType, &'static str, &'static str, Value)> {
    let text = |s: &str| Value::Text(s.to_owned());
    vec![
        ("i2", ty("int2"), "-32768", "integer", Value::Integer(-32768)),
        ("i4", ty("int4"), "2147483647", "integer", Value::Integer(2147483647)),
        ("i8", ty("int8"), "-9223372036854775808", "integer", Value::Integer(i64::MIN)),
        ("o", ty("oid"), "4294967295", "integer", Value::Integer(4294967295)),
        ("b", ty("bool"), "true", "integer", Value::Integer(1)),
        ("f4", ty("float4"), "1.1", "real", Value::Real(1.1)),
        ("f8", ty("float8"), "\"-Infinity\"", "real", Value::Real(f64::NEG_INFINITY)),
        ("n_int", numeric_ty(10, 0), "\"1234567890\"", "integer", Value::Integer(1234567890)),
        ("n_real", numeric_ty(5, 2), "\"12.50\"", "real", Value::Real(12.5)),
        (
            "n_text",
            ty("numeric"),
            "\"1234567890123456789012345678901234567890\"",
            "text",
            text("1234567890123456789012345678901234567890"),
        ),
        ("m", ty("money"), "\"1000.00\"", "text", text("1000.00")),
        ("t", ty("text"), r#""say \"hi\"\\ \n\t😀 é""#, "text", text("say \"hi\"\\ \n\t😀 é")),
        ("vc", ty("varchar"), "\"0042\"", "text", text("0042")),
        ("ch", ty("bpchar"), "\"a  \"", "text", text("a  ")),
        ("ci", ty("public.citext"), "\"MiXed\"", "text", text("MiXed")),
        ("e", enum_ty("public.mood", &["ok", "sad"]), "\"sad\"", "text", text("sad")),
        (
            "u",
            ty("uuid"),
            "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"",
            "text",
            text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ),
        (
            "j",
            ty("json"),
            r#"{"a":1,"a":123456789012345678901234567890}"#,
            "text",
            text(r#"{"a":1,"a":123456789012345678901234567890}"#),
        ),
        (
            "jb",
            ty("jsonb"),
            r#"{"k": [1, 2.50], "s": "a b"}"#,
            "text",
            text(r#"{"k":[1,2.50],"s":"a b"}"#),
        ),
        (
            "tz",
            ty("timestamptz"),
            "\"2024-01-02T03:04:05.123456Z\"",
            "text",
            text("2024-01-02 03:04:05.123456"),
        ),
        (
            "ts",
            ty("timestamp"),
            "\"+10000-01-02T03:04:05.000000\"",
            "text",
            text("+10000-01-02T03:04:05.000000"),
        ),
        ("d", ty("date"), "\"-0043-03-15\"", "text", text("-0043-03-15")),
        ("tm", ty("time"), "\"24:00:00.000000\"", "text", text("24:00:00")),
        ("ttz", ty("timetz"), "\"12:00:00.000000+05:30\"", "text", text("12:00:00.000000+05:30")),
        ("iv", ty("interval"), "\"P1Y2M3DT-4H-5M-6.5S\"", "text", text("P1Y2M3DT-4H-5M-6.5S")),
        ("inf", ty("timestamptz"), "\"infinity\"", "text", text("infinity")),
        ("by", ty("bytea"), "\"AAEC/w==\"", "blob", Value::Blob(vec![0, 1, 2, 255])),
        ("arr", array(ty("int4")), "[[1,null],[3,4]]", "text", text("[[1,null],[3,4]]")),
        ("arr0", array(ty("text")), "\"[0:1]={a,b}\"", "text", text("[0:1]={a,b}")),
        ("comp", addr(), r#"{"street":"x","n":1}"#, "text", text(r#"{"street":"x","n":1}"#)),
        ("ip", ty("inet"), "\"10.0.0.1/8\"", "text", text("10.0.0.1/8")),
    ]
}

fn every_table() -> Table {
    table("public", "every", every_mapping().into_iter().map(|(n, t, ..)| col(n, t)).collect())
}

fn every_line() -> String {
    let fields: Vec<String> =
        every_mapping().iter().map(|(n, _, json, ..)| format!("\"{n}\":{json}")).collect();
    format!("{{{}}}", fields.join(","))
}

#[test]
fn every_mapping_binds_into_sqlite_with_its_storage_class_strict_or_not() -> Result {
    for strict in [false, true] {
        let plan = plan_for(every_table(), &SchemaFlags { strict, ..Default::default() });
        let (conn, lossy) = load(&plan, &[&every_line()])?;
        assert_eq!(lossy.total(), 0);
        for (name, _, json, class, value) in every_mapping() {
            let sql = format!("SELECT typeof(\"{name}\"), \"{name}\" FROM every");
            let got: (String, Value) = conn.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?)))?;
            assert_eq!(
                got,
                (class.to_owned(), value),
                "column {name} from {json} (strict: {strict})"
            );
        }
    }
    Ok(())
}

#[test]
fn null_is_null_in_every_mapping() -> Result {
    let plan = plan_for(every_table(), &SchemaFlags::default());
    let nulls: Vec<String> =
        every_mapping().iter().map(|(n, ..)| format!("\"{n}\":null")).collect();
    let (conn, _) = load(&plan, &[&format!("{{{}}}", nulls.join(","))])?;
    for (name, ..) in every_mapping() {
        let class: String =
            conn.query_row(&format!("SELECT typeof(\"{name}\") FROM every"), [], |r| r.get(0))?;
        assert_eq!(class, "null", "column {name}");
    }
    Ok(())
}

#[test]
fn integers_are_exact_to_the_64_bit_bounds_and_refused_beyond() {
    assert_eq!(exact("9223372036854775807", Conversion::Integer), Value::Integer(i64::MAX));
    assert_eq!(exact("-9223372036854775808", Conversion::Integer), Value::Integer(i64::MIN));
    assert_eq!(
        run("9223372036854775808", Conversion::Integer).unwrap_err().to_string(),
        "9223372036854775808 does not fit a 64-bit INTEGER"
    );
    for bad in ["1.5", "\"1\"", "true", "[1]"] {
        let err = run(bad, Conversion::Integer).unwrap_err().to_string();
        assert_eq!(err, format!("expected a JSON integer, found {bad}"));
    }
    assert_eq!(exact("false", Conversion::Boolean), Value::Integer(0));
    assert!(run("0", Conversion::Boolean).is_err());
}

#[test]
fn floats_keep_their_value_and_lose_only_nan_and_negative_zero_counted() -> Result {
    assert_eq!(exact("1.1", Conversion::Float), Value::Real(1.1));
    assert_eq!(exact("1e300", Conversion::Float), Value::Real(1e300));
    assert_eq!(exact("5e-324", Conversion::Float), Value::Real(5e-324));
    assert_eq!(run("\"NaN\"", Conversion::Float)?, (Value::Null, Some(Loss::NanToNull)));
    let (v, loss) = run("-0", Conversion::Float)?;
    assert_eq!(loss, Some(Loss::NegativeZero));
    assert!(matches!(v, Value::Real(z) if z == 0.0 && z.is_sign_positive()), "{v:?}");
    assert_eq!(run("-0.0", Conversion::Float)?.1, Some(Loss::NegativeZero));
    assert!(matches!(run("1e400", Conversion::Float), Err(ConvertError::FloatOverflow { .. })));
    assert!(run("\"1.5\"", Conversion::Float).is_err());
    Ok(())
}

#[test]
fn infinities_survive_a_round_trip_through_sqlite() -> Result {
    let plan =
        plan_for(table("public", "f", vec![col("x", ty("float8"))]), &SchemaFlags::default());
    let (conn, lossy) = load(
        &plan,
        &[r#"{"x":"Infinity"}"#, r#"{"x":"-Infinity"}"#, r#"{"x":"NaN"}"#, r#"{"x":-0}"#],
    )?;
    let mut stmt = conn.prepare("SELECT typeof(x), x FROM f ORDER BY rowid")?;
    let got: Vec<(String, Value)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    assert_eq!(
        got,
        [
            ("real".into(), Value::Real(f64::INFINITY)),
            ("real".into(), Value::Real(f64::NEG_INFINITY)),
            ("null".into(), Value::Null),
            ("real".into(), Value::Real(0.0)),
        ]
    );
    assert_eq!(
        lossy.column(0),
        ColumnLoss { nan_to_null: 1, negative_zero: 1, rounded: 0, not_time: 0 }
    );
    Ok(())
}

#[test]
fn numerics_convert_exactly_by_target_and_count_what_rounds() -> Result {
    use NumericTarget as N;
    let n = Conversion::Numeric;
    assert_eq!(exact("\"9223372036854775807\"", n(N::Integer)), Value::Integer(i64::MAX));
    assert_eq!(exact("\"-12\"", n(N::Integer)), Value::Integer(-12));
    assert_eq!(exact("\"12.50\"", n(N::Real)), Value::Real(12.5));
    assert_eq!(exact("\"0.1\"", n(N::Real)), Value::Real(0.1));
    assert_eq!(exact("\"12.50\"", n(N::Text)), Value::Text("12.50".into()));
    assert_eq!(exact("\"NaN\"", n(N::Text)), Value::Text("NaN".into()));
    assert_eq!(exact("\"Infinity\"", n(N::Real)), Value::Real(f64::INFINITY));
    assert_eq!(run("\"NaN\"", n(N::Integer))?, (Value::Null, Some(Loss::NanToNull)));
    assert_eq!(run("\"NaN\"", n(N::Real))?, (Value::Null, Some(Loss::NanToNull)));
    let (v, loss) = run("\"1234567890123456789\"", n(N::Real))?;
    assert_eq!((v, loss), (Value::Real(1234567890123456789.0), Some(Loss::Rounded)));
    let forty = "1234567890123456789012345678901234567890";
    assert_eq!(run(&format!("\"{forty}\""), n(N::Real))?.1, Some(Loss::Rounded));
    assert_eq!(exact(&format!("\"{forty}\""), n(N::Text)), Value::Text(forty.into()));
    let err = |json: &str, t| run(json, n(t)).unwrap_err().to_string();
    assert_eq!(
        err("\"12.5\"", N::Integer),
        "numeric 12.5 is not a whole number, but the column is INTEGER"
    );
    assert_eq!(
        err("\"9223372036854775808\"", N::Integer),
        "9223372036854775808 does not fit a 64-bit INTEGER"
    );
    assert_eq!(
        err("\"Infinity\"", N::Integer),
        format!("expected {NUMERIC_SHAPE}, found \"Infinity\"")
    );
    assert_eq!(err("12.5", N::Text), format!("expected {NUMERIC_SHAPE}, found 12.5"));
    assert_eq!(err("\"1,5\"", N::Real), format!("expected {NUMERIC_SHAPE}, found \"1,5\""));
    Ok(())
}

#[test]
fn numeric_real_policy_reports_rounded_values_per_column() -> Result {
    let o = SchemaFlags { numeric: NumericPolicy::Real, ..Default::default() };
    let plan = plan_for(
        table("public", "n", vec![col("a", numeric_ty(30, 0)), col("b", numeric_ty(5, 2))]),
        &o,
    );
    let lines = [r#"{"a":"123456789012345678901","b":"1.25"}"#, r#"{"a":"7","b":"NaN"}"#];
    let (conn, lossy) = load(&plan, &lines)?;
    assert_eq!(lossy.column(0), ColumnLoss { rounded: 1, ..Default::default() });
    assert_eq!(lossy.column(1), ColumnLoss { nan_to_null: 1, ..Default::default() });
    assert_eq!(lossy.column(0).describe().as_deref(), Some("1 rounded to the nearest REAL"));
    let a: f64 = conn.query_row("SELECT a FROM n WHERE b = 1.25", [], |r| r.get(0))?;
    assert_eq!(a, 123456789012345678901.0);
    Ok(())
}

#[test]
fn json_stays_byte_identical_and_valid_in_sqlite() -> Result {
    let docs = [
        r#"{"a":1,"a":2,"big":123456789012345678901234567890,"f":1.0E+2,"u":"\u00e9\"\\"}"#,
        r#"[1,"two",{"three":[null,true,false]}]"#,
        r#""just a string""#,
        "-0",
        "123456789012345678901234567890",
    ];
    let plan =
        plan_for(table("public", "j", vec![col("doc", ty("json"))]), &SchemaFlags::default());
    let lines: Vec<String> = docs.iter().map(|d| format!("{{\"doc\":{d}}}")).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (conn, _) = load(&plan, &lines)?;
    let mut stmt = conn.prepare("SELECT doc, json_valid(doc) FROM j ORDER BY rowid")?;
    let got: Vec<(String, i64)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    let expected: Vec<(String, i64)> = docs.iter().map(|d| (d.to_string(), 1)).collect();
    assert_eq!(got, expected);
    Ok(())
}

#[test]
fn bytea_round_trips_all_256_byte_values() -> Result {
    let all: Vec<u8> = (0..=255).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&all);
    let plan = plan_for(
        table("public", "b", vec![col("x", ty("bytea")), col("e", ty("bytea"))]),
        &SchemaFlags::default(),
    );
    let (conn, _) = load(&plan, &[&format!("{{\"x\":\"{b64}\",\"e\":\"\"}}")])?;
    let (x, e): (Vec<u8>, Value) =
        conn.query_row("SELECT x, e FROM b", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    assert_eq!(x, all);
    assert_eq!(e, Value::Blob(vec![]), "an empty bytea is an empty blob, not NULL");
    let err = run("\"not base64!\"", Conversion::Bytea).unwrap_err().to_string();
    assert!(err.starts_with("not valid base64"), "{err}");
    Ok(())
}

#[test]
fn text_is_unescaped_exactly_and_borrowed_when_it_has_no_escapes() -> Result {
    let raw = RawValue::from_string(r#""plain 😀 text""#.into())?;
    let c = convert(&raw, Conversion::Text)?;
    assert!(matches!(c.value, SqlValue::Text(Cow::Borrowed("plain 😀 text"))), "{:?}", c.value);
    let cases = [
        (r#""line1\nline2\r\n""#, "line1\nline2\r\n"),
        (r#""it's \"quoted\"""#, "it's \"quoted\""),
        (r#""\u00e9\ud83d\ude00\/""#, "é😀/"),
        (r#""""#, ""),
    ];
    for (json, text) in cases {
        assert_eq!(exact(json, Conversion::Text), Value::Text(text.into()), "{json}");
    }
    assert!(run("12", Conversion::Text).is_err());
    Ok(())
}

#[test]
fn structured_values_keep_their_json_and_text_arrays_their_text() {
    assert_eq!(exact("[1, [2, 3]]", Conversion::Structured), Value::Text("[1,[2,3]]".into()));
    assert_eq!(
        exact(r#"{"f":"a b"}"#, Conversion::Structured),
        Value::Text(r#"{"f":"a b"}"#.into())
    );
    assert_eq!(
        exact(r#""[2:3]={x,y}""#, Conversion::Structured),
        Value::Text("[2:3]={x,y}".into())
    );
    assert!(run("1", Conversion::Structured).is_err());
}

fn three_columns() -> mapping::TablePlan {
    let t = table(
        "public",
        "t",
        vec![col("id", ty("int4")), col("name", ty("text")), col("n", ty("int4"))],
    );
    plan_for(t, &SchemaFlags::default())
}

fn batch_error(first_line: u64, lines: &[&str]) -> String {
    match convert_batch(batch(first_line, lines), &three_columns()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected an error for {lines:?}"),
    }
}

#[test]
fn keys_out_of_order_missing_or_extra_are_errors_naming_table_line_and_key() {
    assert_eq!(
        batch_error(7, &[r#"{"id":1,"name":"a","n":1}"#, r#"{"name":"a","id":1,"n":1}"#]),
        "public.t, line 8: key 1 is \"name\", but column 1 of the table is \"id\" (keys must be \
         the columns in table order)"
    );
    assert_eq!(
        batch_error(1, &[r#"{"id":1,"name":"a"}"#]),
        "public.t, line 1: no key for column \"n\" (key 3)"
    );
    assert_eq!(
        batch_error(1, &[r#"{"id":1,"name":"a","n":1,"x":2}"#]),
        "public.t, line 1: key 4 is \"x\", beyond the table's columns"
    );
}

#[test]
fn malformed_lines_and_bad_values_are_errors_naming_table_line_and_column() {
    let err = batch_error(41, &[r#"{"id":1,"name":"a","n":1}"#, r#"{"id":1,"name":"a","n":"#]);
    assert!(err.starts_with("public.t, line 42: not a JSON object: "), "{err}");
    assert!(batch_error(1, &["[1,2,3]"]).starts_with("public.t, line 1: not a JSON object: "));
    assert!(batch_error(1, &[""]).starts_with("public.t, line 1: not a JSON object: "));
    assert!(
        batch_error(1, &[r#"{"id":1,"name":"a","n":1} x"#])
            .starts_with("public.t, line 1: not a JSON object")
    );
    assert_eq!(
        batch_error(3, &[r#"{"id":1,"name":"a","n":1.5}"#]),
        "public.t, line 3, column \"n\": 1.5 is not an integer (expected an integer)"
    );
    let err = batch_error(5, &[r#"{"id":1,"name":"a","n":1"#]);
    assert!(err.ends_with("at character 24"), "the character where parsing stopped: {err}");
}

#[test]
fn the_first_bad_line_in_file_order_is_reported_whatever_the_thread_order() {
    let good = r#"{"id":1,"name":"a","n":1}"#;
    let mut lines = vec![good; 3000];
    lines[2999] = r#"{"id":"late","name":"a","n":1}"#;
    lines[1500] = r#"{"id":"early","name":"a","n":1}"#;
    for _ in 0..5 {
        assert!(batch_error(1, &lines).starts_with("public.t, line 1501, column \"id\""));
    }
}

#[test]
fn large_batches_convert_in_parallel_in_order_with_losses_merged() -> Result {
    let plan = plan_for(
        table("public", "f", vec![col("i", ty("int8")), col("x", ty("float8"))]),
        &SchemaFlags::default(),
    );
    let lines: Vec<String> = (0..10_000)
        .map(|i| match i % 100 {
            0 => format!(r#"{{"i":{i},"x":"NaN"}}"#),
            1 => format!(r#"{{"i":{i},"x":-0}}"#),
            _ => format!(r#"{{"i":{i},"x":{i}.5}}"#),
        })
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let converted = convert_batch(batch(1, &refs), &plan)?;
    assert_eq!(converted.len(), 10_000);
    for (k, row) in converted.rows().enumerate() {
        assert_eq!(row.line(), k as u64 + 1);
        assert_eq!(row.get(0), Some(SqlValue::Integer(k as i64)));
    }
    assert_eq!(
        converted.lossy().column(1),
        ColumnLoss { nan_to_null: 100, negative_zero: 100, rounded: 0, not_time: 0 }
    );
    assert_eq!(converted.lossy().total(), 200);
    Ok(())
}

fn tenant_plan(tenant_value: Option<&str>) -> mapping::TablePlan {
    let t = table("public", "notes", vec![col("account_id", ty("int8")), col("body", ty("text"))]);
    let mut strip = Strip::new("account_id", None);
    strip.tenant_value = tenant_value.map(str::to_owned);
    plan_for(t, &ExportFacts { tenant: Some(strip), ..Default::default() })
}

#[test]
fn a_stripped_tenant_column_is_read_but_not_stored() -> Result {
    let plan = tenant_plan(None);
    assert_eq!(plan.insert_sql(), "INSERT INTO \"notes\" (\"body\") VALUES (?1)");
    let (conn, _) = load(&plan, &[r#"{"account_id":7,"body":"hi"}"#])?;
    let body: String = conn.query_row("SELECT * FROM notes", [], |r| r.get(0))?;
    assert_eq!(body, "hi");
    let err = batch_error_for(&plan, r#"{"body":"hi"}"#);
    assert_eq!(
        err,
        "public.notes, line 1: key 1 is \"body\", but column 1 of the table is \"account_id\" (keys must be the columns in table order)"
    );
    Ok(())
}

fn batch_error_for(plan: &mapping::TablePlan, line: &str) -> String {
    convert_batch(batch(1, &[line]), plan).map(|_| ()).unwrap_err().to_string()
}

#[test]
fn a_row_of_another_tenant_is_refused_when_the_tenant_is_known() -> Result {
    let plan = tenant_plan(Some("7"));
    convert_batch(batch(1, &[r#"{"account_id":7,"body":"mine"}"#]), &plan)?;
    assert_eq!(
        batch_error_for(&plan, r#"{"account_id":8,"body":"theirs"}"#),
        "public.notes, line 1: tenant column \"account_id\" holds 8, not the tenant being imported \
         (7); the export holds another tenant's row"
    );
    Ok(())
}

#[test]
fn batch_reader_splits_by_rows_and_bytes_and_numbers_lines() -> Result {
    let text = "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n{\"a\":5}\n";
    let batches: Vec<Batch> =
        BatchReader::with_limits(text.as_bytes(), 2, 1 << 20).collect::<io::Result<_>>()?;
    let shape: Vec<(u64, usize)> = batches.iter().map(|b| (b.first_line(), b.len())).collect();
    assert_eq!(shape, [(1, 2), (3, 2), (5, 1)]);
    assert_eq!(batches[2].line(0), Some("{\"a\":5}"));
    assert_eq!(batches.iter().map(Batch::bytes).sum::<u64>(), text.len() as u64);
    let by_bytes: Vec<Batch> =
        BatchReader::with_limits(text.as_bytes(), 100, 10).collect::<io::Result<_>>()?;
    assert_eq!(by_bytes.iter().map(Batch::len).collect::<Vec<_>>(), [2, 2, 1]);
    assert!(BatchReader::new(&b""[..]).next().is_none());
    Ok(())
}

#[test]
fn batch_reader_refuses_a_line_that_is_not_utf8_naming_it() {
    let bytes = b"{\"a\":1}\n{\"a\":\"\xff\"}\n";
    let err = BatchReader::new(&bytes[..]).collect::<io::Result<Vec<_>>>().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().starts_with("line 2 is not valid UTF-8"), "{err}");
}

#[test]
fn batch_reader_refuses_a_file_whose_last_line_has_no_newline_naming_the_line() {
    let bytes = b"{\"a\":1}\n{\"a\":2}";
    let err = BatchReader::new(&bytes[..]).collect::<io::Result<Vec<_>>>().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().starts_with("line 2 does not end with a newline"), "{err}");
}

/// Decimal text with up to 40 digits either side of the point.
fn decimal_text() -> impl Strategy<Value = String> {
    ("-?", "[0-9]{1,40}", proptest::option::of("[0-9]{1,40}")).prop_map(|(sign, int, frac)| {
        match frac {
            Some(f) => format!("{sign}{int}.{f}"),
            None => format!("{sign}{int}"),
        }
    })
}

proptest! {
    #[test]
    fn a_numeric_stored_as_integer_reads_back_equal(text in decimal_text()) {
        let json = format!("\"{text}\"");
        let d = Decimal::parse(&text).expect("generated decimals parse");
        match run(&json, Conversion::Numeric(NumericTarget::Integer)) {
            Ok((Value::Integer(i), None)) => {
                let back = i.to_string();
                prop_assert!(Decimal::parse(&back) == Some(d), "{text} became {i}");
            }
            Ok(other) => prop_assert!(false, "{text}: {other:?}"),
            Err(ConvertError::NotWhole { .. }) => prop_assert!(d.to_i64() == Ok(None)),
            Err(ConvertError::OutOfRange { .. }) => prop_assert!(d.to_i64() == Err(())),
            Err(e) => prop_assert!(false, "{text}: {e}"),
        }
    }

    #[test]
    fn a_numeric_stored_as_real_is_flagged_lossy_iff_it_does_not_round_trip(text in decimal_text()) {
        let (v, loss) = run(&format!("\"{text}\""), Conversion::Numeric(NumericTarget::Real))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let Value::Real(f) = v else { return Err(TestCaseError::fail(format!("{v:?}"))) };
        prop_assert_eq!(f, text.parse::<f64>().unwrap_or(f64::NAN), "the nearest double");
        let shortest = if f.is_finite() { ryu::Buffer::new().format_finite(f).to_owned() } else { "inf".into() };
        let round_trips = Decimal::parse(&shortest) == Decimal::parse(&text);
        prop_assert_eq!(loss.is_none(), round_trips, "{} stored as {}", text, shortest);
    }
}

#[test]
fn json_null_in_a_not_null_json_column_is_the_json_value_null() -> Result {
    let t = table("public", "j", vec![not_null(col("a", ty("jsonb"))), col("b", ty("jsonb"))]);
    let plan = plan_for(t, &SchemaFlags::default());
    let (conn, _) = load(&plan, &[r#"{"a":null,"b":null}"#])?;
    let got: (String, Value) =
        conn.query_row("SELECT a, b FROM j", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    assert_eq!(got, ("null".to_owned(), Value::Null));
    Ok(())
}

// --- Fuzzing the line reader and converter -------------------------------------------------

/// Cases per fuzz property: `PG2LITE_FUZZ_CASES`, else a few hundred, enough for `cargo test`
/// to stay quick (a longer hunt sets it higher).
fn fuzz_cases() -> u32 {
    std::env::var("PG2LITE_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// The fuzzed table's columns, each with valid values (the first makes the valid line):
/// every kind of value rule, a primary key the manifest calls nullable, NOT NULL columns.
fn fuzz_columns() -> Vec<(Column, &'static [&'static str])> {
    let mood = enum_ty("public.mood", &["sad", "ok", "happy"]);
    vec![
        (col("id", ty("int4")), &["1", "-2147483648", "2147483647"]),
        (not_null(col("small", ty("int2"))), &["-32768", "32767", "0"]),
        (col("big", ty("int8")), &["9223372036854775807", "null", "-1"]),
        (col("price", numeric_ty(12, 2)), &["\"123.45\"", "\"NaN\"", "null", "\"-0.50\""]),
        (col("n", ty("numeric")), &["\"Infinity\"", "\"12345678901234567890.5\"", "\"-0.001\""]),
        (col("f4", ty("float4")), &["1.1", "\"-Infinity\"", "3.4028235e38", "-0"]),
        (col("f8", ty("float8")), &["\"NaN\"", "1e308", "-1.5", "5e-324"]),
        (col("flag", ty("bool")), &["true", "false", "null"]),
        (col("u", ty("uuid")), &["\"123e4567-e89b-12d3-a456-426614174000\"", "null"]),
        (col("born", ty("date")), &["\"2024-02-29\"", "\"-infinity\"", "\"+5874897-12-31\""]),
        (col("at", ty("timestamp")), &["\"2024-01-02T03:04:05.123456\"", "\"infinity\""]),
        (col("atz", ty("timestamptz")), &["\"-0043-03-15T12:00:00.000000Z\"", "null"]),
        (col("t", ty("time")), &["\"24:00:00.000000\"", "\"12:00:00.500000\""]),
        (col("tz", ty("timetz")), &["\"03:04:05.000000+05:30\"", "\"23:59:59.999999-15:59:59\""]),
        (col("span", ty("interval")), &["\"P1Y2M3DT-4H5M6.5S\"", "\"PT0S\"", "\"P-1D\""]),
        (col("raw", ty("bytea")), &["\"AAEC\"", "\"\"", "\"/w==\""]),
        (col("mood", mood), &["\"happy\"", "\"sad\"", "null"]),
        (col("tags", array(ty("text"))), &["[\"a\",null]", "\"[0:1]={a,b}\"", "[]"]),
        (col("grid", array(ty("int4"))), &["[[1,2],[3,null]]", "[]", "null"]),
        (col("addr", addr()), &["{\"street\":\"x y\",\"n\":1}", "{\"street\":null,\"n\":null}"]),
        (not_null(col("doc", ty("jsonb"))), &["{\"k\":[1,2]}", "null", "[1e400]"]),
        (not_null(col("body", ty("text"))), &["\"q\\\" b\\\\ n\\n é\"", "\"\"", "\"null\""]),
    ]
}

fn fuzz_table() -> Table {
    let columns = fuzz_columns().into_iter().map(|(c, _)| c).collect();
    with_pk(table("public", "fuzz", columns), &["id"])
}

/// One line of the table, value `choice[i]` of column i's valid values (modulo their count).
fn fuzz_line(choice: &[usize]) -> String {
    let cols = fuzz_columns();
    let fields: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, (c, values))| {
            let pick = choice.get(i).copied().unwrap_or(0) % values.len();
            format!("{:?}:{}", c.name, values[pick])
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// Tokens an attacker splices into lines: each breaks some rule somewhere.
const FUZZ_TOKENS: &[&str] = &[
    "null",
    "1e400",
    "-0",
    "2147483648",
    "32768",
    "9223372036854775808",
    "1.5",
    "\"2024-02-30\"",
    "\"2024-01-02T25:00:00\"",
    "\"24:00:00.000001\"",
    "\"P1.5D\"",
    "\"AAE\"",
    "\"x\"",
    "[[1],[2,3]]",
    "{\"n\":1,\"street\":2}",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "[",
    "{",
    "}",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\n",
    "\"id\":1,",
    "true",
    "\"NaN\"",
    "\"Infinity\"",
    "é",
    "\u{0}",
];

/// A change to a valid line: to one value (another column's valid value), or to its bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Value { column: usize, from: usize, pick: usize },
    Byte { at: usize, byte: u8 },
    Delete { at: usize, len: usize },
    Insert { at: usize, token: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let n = fuzz_columns().len();
    prop_oneof![
        (0..n, 0..n, any::<usize>()).prop_map(|(column, from, pick)| Mutation::Value {
            column,
            from,
            pick
        }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Byte { at, byte }),
        (any::<usize>(), 1..12usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), 0..FUZZ_TOKENS.len())
            .prop_map(|(at, token)| Mutation::Insert { at, token }),
    ]
}

/// The valid line (values `choice`) with `mutations` applied in order.
fn mutated(choice: &[usize], mutations: &[Mutation]) -> Vec<u8> {
    let cols = fuzz_columns();
    let mut values: Vec<String> =
        cols.iter().enumerate().map(|(i, (_, v))| v[choice[i] % v.len()].to_owned()).collect();
    for m in mutations {
        if let Mutation::Value { column, from, pick } = *m {
            let pool = cols[from].1;
            values[column] = pool[pick % pool.len()].to_owned();
        }
    }
    let fields: Vec<String> =
        cols.iter().zip(&values).map(|((c, _), v)| format!("{:?}:{v}", c.name)).collect();
    let mut bytes = format!("{{{}}}", fields.join(",")).into_bytes();
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Value { .. } => {}
            Mutation::Byte { at, byte } if !bytes.is_empty() => bytes[at % len] = byte,
            Mutation::Byte { byte, .. } => bytes.push(byte),
            Mutation::Delete { at, len: n } => {
                let start = at % (bytes.len() + 1);
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            Mutation::Insert { at, token } => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, FUZZ_TOKENS[token].bytes());
            }
        }
    }
    bytes
}

/// Reads `bytes` (a newline appended) as a table file and converts every batch, as import
/// does: `Ok(rows)` or the first error's message.
fn read_and_convert(bytes: &[u8], plan: &mapping::TablePlan) -> std::result::Result<usize, String> {
    let mut file = bytes.to_vec();
    file.push(b'\n');
    let mut rows = 0;
    for b in BatchReader::with_limits(&file[..], 7, 1 << 20) {
        let b = b.map_err(|e| e.to_string())?;
        rows += convert_batch(b, plan).map_err(|e| e.to_string())?.len();
    }
    Ok(rows)
}

/// What `verify --deep` concludes of one line (its stage 5, by the same rules): a JSON
/// object whose keys are the columns in order and whose every value keeps its column's rule.
fn verify_accepts(line: &[u8], t: &Table) -> bool {
    let Ok(text) = std::str::from_utf8(line) else { return false };
    let rules = crate::format::Rules::new(t);
    let Ok(pairs) = object_pairs(text) else { return false };
    pairs.len() == t.columns.len()
        && pairs
            .iter()
            .zip(&t.columns)
            .zip(rules.iter())
            .all(|(((k, v), c), r)| *k == c.name && r.check(v.get()).is_ok())
}

fn object_pairs(text: &str) -> serde_json::Result<Vec<(String, &RawValue)>> {
    struct Pairs;
    impl<'de> serde::de::Visitor<'de> for Pairs {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<M: serde::de::MapAccess<'de>>(
            self,
            mut m: M,
        ) -> std::result::Result<Self::Value, M::Error> {
            let mut out = Vec::new();
            while let Some(e) = m.next_entry::<String, &'de RawValue>()? {
                out.push(e);
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let pairs = serde::Deserializer::deserialize_map(&mut de, Pairs)?;
    de.end()?;
    Ok(pairs)
}

/// Whether an error message says where: the line, and the column or character within it.
fn names_its_place(message: &str) -> bool {
    let line = message.split("line ").skip(1).any(|r| r.starts_with(|c: char| c.is_ascii_digit()));
    let within = ["column \"", "at character", "key ", "newline", "UTF-8", "tenant column"];
    line && within.iter().any(|w| message.contains(w))
}

#[test]
fn the_fuzzed_table_s_valid_lines_convert_and_verify() {
    let t = fuzz_table();
    let plan = plan_for(t.clone(), &SchemaFlags::default());
    for pick in 0..4 {
        let line = fuzz_line(&[pick; 32]);
        assert!(verify_accepts(line.as_bytes(), &t), "{line}");
        assert_eq!(read_and_convert(line.as_bytes(), &plan), Ok(1), "{line}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases()))]

    /// Mutated valid lines: never a panic; refused exactly when verify's rules refuse them
    /// (one line, valid UTF-8, no newline inside); every refusal names line and column.
    #[test]
    fn a_mutated_line_converts_exactly_when_verify_accepts_it(
        choice in proptest::collection::vec(any::<usize>(), 32),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let t = fuzz_table();
        let plan = plan_for(t.clone(), &SchemaFlags::default());
        let line = mutated(&choice, &mutations);
        let got = read_and_convert(&line, &plan);
        if let Err(message) = &got {
            prop_assert!(names_its_place(message), "{message}");
        }
        if !line.contains(&b'\n') {
            let accepted = verify_accepts(&line, &t);
            prop_assert_eq!(got.is_ok(), accepted, "{}: {:?}", String::from_utf8_lossy(&line), got);
        }
    }

    /// Arbitrary bytes as a table file: never a panic, and every refusal names its line.
    #[test]
    fn arbitrary_bytes_never_panic_and_refusals_name_the_line(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let plan = plan_for(fuzz_table(), &SchemaFlags::default());
        if let Err(message) = read_and_convert(&bytes, &plan) {
            prop_assert!(names_its_place(&message), "{message}");
        }
    }
}

#[test]
fn nan_in_a_not_null_column_the_manifest_says_holds_none_is_refused_naming_it() -> Result {
    let t = table("public", "f", vec![not_null(col("x", ty("float8")))]);
    let plan = plan_for(t, &SchemaFlags::default());
    assert_eq!(
        batch_error_for(&plan, r#"{"x":"NaN"}"#),
        "public.f, line 1, column \"x\": NaN, which SQLite stores as NULL, in a NOT NULL column \
         whose NaN values the manifest does not record (nan_values)"
    );
    convert_batch(batch(1, &[r#"{"x":1.5}"#]), &plan)?;
    Ok(())
}
