//! Numbers: integers, floats, numerics (and domains over them), money; the `--numeric`
//! policies; NaN in a NOT NULL column.

use std::process::Command;

use pg2lite::import::{self, ImportOptions};
use pg2lite::mapping::{ColumnLoss, NumericPolicy, SchemaFlags};
use pg2lite::progress::Silent;
use rusqlite::Connection;

use super::Lost::{Nan, NegativeZero, No};
use super::Want::{Int, Null, Real, Text};
use super::edge::CASES as ALL;
use super::{Case, ImportOutcome, Val, import_into, list};
use crate::export::export_db;
use crate::support::pg::TestDb;

/// The edge cases of integers, floats, numerics, numeric domains and money.
pub(super) const CASES: &[Case] = &[
    ("int2", "-32768", "INTEGER", Int(-32768), No),
    ("int2", "32767", "INTEGER", Int(32767), No),
    ("int4", "-2147483648", "INTEGER", Int(-2147483648), No),
    ("int4", "2147483647", "INTEGER", Int(2147483647), No),
    ("int8", "-9223372036854775808", "INTEGER", Int(i64::MIN), No),
    ("int8", "9223372036854775807", "INTEGER", Int(i64::MAX), No),
    ("oid", "4294967295", "INTEGER", Int(4294967295), No),
    ("float4", "'NaN'", "REAL", Null, Nan),
    ("float4", "'Infinity'", "REAL", Real(f64::INFINITY), No),
    ("float4", "'-Infinity'", "REAL", Real(f64::NEG_INFINITY), No),
    ("float4", "'-0'", "REAL", Real(0.0), NegativeZero),
    ("float4", "1.1", "REAL", Real(1.1), No),
    ("float4", "14200000512", "REAL", Real(1.42e10), No),
    ("float4", "'3.4028235e38'", "REAL", Real(3.4028235e38), No),
    ("float8", "0.1", "REAL", Real(0.1), No),
    ("float8", "-1.5", "REAL", Real(-1.5), No),
    ("float8", "'NaN'", "REAL", Null, Nan),
    ("float8", "'Infinity'", "REAL", Real(f64::INFINITY), No),
    ("float8", "'-Infinity'", "REAL", Real(f64::NEG_INFINITY), No),
    ("float8", "1e300", "REAL", Real(1e300), No),
    ("float8", "'1.7976931348623157e308'", "REAL", Real(f64::MAX), No),
    ("float8", "'5e-324'", "REAL", Real(5e-324), No),
    ("float8", "'-0'", "REAL", Real(0.0), NegativeZero),
    (
        "numeric",
        "'1234567890123456789012345678901234567890'",
        "TEXT",
        Text("1234567890123456789012345678901234567890"),
        No,
    ),
    // Unconstrained numeric, p > 15 and money are decided by the column's values (issue 14):
    // each case's column holds one value (and a NULL).
    ("numeric", "'-0.000001'", "REAL", Real(-0.000001), No),
    ("numeric", "1e-20", "REAL", Real(1e-20), No),
    ("numeric", "'NaN'", "INTEGER", Null, Nan),
    ("numeric", "'Infinity'", "REAL", Real(f64::INFINITY), No),
    ("numeric", "'-12'", "INTEGER", Int(-12), No),
    ("numeric(5,2)", "12.5", "REAL", Real(12.5), No),
    ("numeric(5,2)", "-999.99", "REAL", Real(-999.99), No),
    ("numeric(5,2)", "'NaN'", "REAL", Null, Nan),
    ("numeric(15,5)", "'1234567890.12345'", "REAL", Real(1234567890.12345), No),
    ("numeric(3,5)", "0.00123", "REAL", Real(0.00123), No),
    ("numeric(10,0)", "1234567890", "INTEGER", Int(1234567890), No),
    ("numeric(10,0)", "'NaN'", "INTEGER", Null, Nan),
    ("numeric(18,0)", "-999999999999999999", "INTEGER", Int(-999999999999999999), No),
    ("numeric(5,-2)", "12345", "INTEGER", Int(12300), No),
    ("numeric(16,2)", "'12345678901234.56'", "REAL", Real(12345678901234.56), No),
    ("numeric(19,0)", "9999999999999999999", "TEXT", Text("9999999999999999999"), No),
    ("numeric(20,10)", "'1234567890.0123456789'", "TEXT", Text("1234567890.0123456789"), No),
    ("price", "'3.5'", "REAL", Real(3.5), No),
    ("posint", "7", "INTEGER", Int(7), No),
    ("year", "2006", "INTEGER", Int(2006), No),
    ("\"bıgınt\"", "9223372036854775807", "INTEGER", Int(i64::MAX), No),
    ("money", "'1000.00'", "INTEGER", Int(1000), No),
    ("money", "'-12.34'", "REAL", Real(-12.34), No),
];

/// What a user sees of an infinite REAL with the sqlite3 CLI.
pub(super) fn check_infinity_in_sqlite3(out: &ImportOutcome) -> Vec<String> {
    let i = ALL.iter().position(|c| c.0 == "float8" && c.1 == "'-Infinity'").unwrap();
    let cli = Command::new("sqlite3")
        .arg(&out.target)
        .arg(format!("select typeof(v), v, v < -1e308 from c{i} where id = 1"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run the sqlite3 CLI: {e}"));
    let got = String::from_utf8_lossy(&cli.stdout).trim().to_owned();
    if got != "real|-Inf|1" {
        let err = String::from_utf8_lossy(&cli.stderr);
        return vec![format!("sqlite3 on c{i}\n  expected: real|-Inf|1\n  got:      {got}{err}")];
    }
    vec![]
}

// ---------------------------------------------------------------------------------------
// --numeric auto | text | real
// ---------------------------------------------------------------------------------------

const NUMERICS_SQL: &str = "
CREATE TABLE n (id int PRIMARY KEY, a numeric(20,10), b numeric(5,2), c numeric(10,0), d numeric,
                e money);
INSERT INTO n VALUES
  (1, '1234567890.0123456789', 12.5, 1234567890, '1234567890123456789012345678901234567890',
   '1000.00'),
  (2, '0.5', 'NaN', 'NaN', 'NaN', '-12.34'),
  (3, '0.1', -0.01, 0, 'Infinity', 0),
  (4, NULL, NULL, NULL, NULL, NULL);";

/// (column, declared type, its four values, what was lost) for table `n` under `policy`.
fn numeric_expectations(
    policy: NumericPolicy,
) -> Vec<(&'static str, &'static str, Vec<Val>, ColumnLoss)> {
    let t = |s: &str| Val::Text(s.to_owned());
    let r = |s: &str| Val::Real(s.parse().expect("a float literal"));
    let n = || Val::Null;
    let loss =
        |nan_to_null, rounded| ColumnLoss { nan_to_null, rounded, negative_zero: 0, not_time: 0 };
    let forty = "1234567890123456789012345678901234567890";
    let a_text = vec![t("1234567890.0123456789"), t("0.5000000000"), t("0.1000000000"), n()];
    let d_text = vec![t(forty), t("NaN"), t("Infinity"), n()];
    let e_text = vec![t("1000.00"), t("-12.34"), t("0.00"), n()];
    match policy {
        NumericPolicy::Auto => vec![
            ("a", "TEXT", a_text, loss(0, 0)),
            ("b", "REAL", vec![r("12.5"), n(), r("-0.01"), n()], loss(1, 0)),
            ("c", "INTEGER", vec![Val::Int(1234567890), n(), Val::Int(0), n()], loss(1, 0)),
            ("d", "TEXT", d_text, loss(0, 0)),
            // money is decided by its values (issue 14): 1000.00, -12.34 and 0.00 are doubles
            ("e", "REAL", vec![r("1000"), r("-12.34"), r("0"), n()], loss(0, 0)),
        ],
        NumericPolicy::Text => vec![
            ("a", "TEXT", a_text, loss(0, 0)),
            ("b", "TEXT", vec![t("12.50"), t("NaN"), t("-0.01"), n()], loss(0, 0)),
            ("c", "TEXT", vec![t("1234567890"), t("NaN"), t("0"), n()], loss(0, 0)),
            ("d", "TEXT", d_text, loss(0, 0)),
            ("e", "TEXT", e_text, loss(0, 0)),
        ],
        // 1234567890.0123456789 and the 40 digits have no double that prints back as them:
        // rounded. 0.5000000000 and 0.1000000000 are the doubles 0.5 and 0.1: exact.
        NumericPolicy::Real => vec![
            ("a", "REAL", vec![r("1234567890.0123456789"), r("0.5"), r("0.1"), n()], loss(0, 1)),
            ("b", "REAL", vec![r("12.5"), n(), r("-0.01"), n()], loss(1, 0)),
            ("c", "REAL", vec![r("1234567890"), n(), r("0"), n()], loss(1, 0)),
            ("d", "REAL", vec![r(forty), n(), Val::Real(f64::INFINITY), n()], loss(1, 1)),
            ("e", "REAL", vec![r("1000"), r("-12.34"), r("0"), n()], loss(0, 0)),
        ],
    }
}

fn check_numerics(out: &ImportOutcome, policy: NumericPolicy) -> Vec<String> {
    let mut failures = Vec::new();
    let summary = out.summary_lossy("n");
    for (column, declared, want, loss) in numeric_expectations(policy) {
        let got: Vec<Val> =
            out.rows("n", &[column], "ORDER BY id").into_iter().map(|mut r| r.remove(0)).collect();
        if got.len() != want.len() || !want.iter().zip(&got).all(|(w, g)| w.matches(g)) {
            failures.push(format!(
                "--numeric {policy:?}, n.{column}\n  expected: {}\n  got:      {}",
                list(&want),
                list(&got)
            ));
        }
        let meta = out.column_meta("n", column);
        let want_meta =
            (declared.to_owned(), i64::try_from(loss.total()).unwrap(), loss.describe());
        if meta != want_meta {
            failures.push(format!(
                "--numeric {policy:?}, n.{column}: _pg2lite_columns (sqlite_type, lossy_values, \
                 lossy_detail)\n  expected: {want_meta:?}\n  got:      {meta:?}"
            ));
        }
        let reported = summary.iter().find(|(c, _)| c == column).map(|(_, l)| *l);
        let want_reported = (loss.total() > 0).then_some(loss);
        if reported != want_reported {
            failures.push(format!(
                "--numeric {policy:?}, n.{column}: import summary lossy\n  expected: \
                 {want_reported:?}\n  got:      {reported:?}"
            ));
        }
    }
    failures
}

#[test]
fn numeric_policies_store_numerics_as_design_md_says_and_count_what_real_rounds() {
    let db = TestDb::new();
    db.execute(NUMERICS_SQL);
    let dir = tempfile::tempdir().unwrap();
    let export = export_db(&db, &dir.path().join("export")).dir;
    let mut failures = Vec::new();
    for (policy, strict) in [
        (NumericPolicy::Auto, false),
        (NumericPolicy::Text, false),
        (NumericPolicy::Real, false),
        (NumericPolicy::Real, true),
    ] {
        let options = SchemaFlags { numeric: policy, strict, ..SchemaFlags::default() };
        let name = format!("{policy:?}-{strict}.db");
        let out = import_into(&export, dir.path(), &name, options);
        failures.extend(check_numerics(&out, policy));
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

/// DESIGN: float and numeric NaN become NULL, counted as lossy. In a NOT NULL column that
/// NULL cannot go in; the import must then either store it (the column made nullable, the
/// loss counted) or refuse with an error that says a NaN is the cause, naming table and
/// column — not fail on an unexplained "NOT NULL constraint failed".
#[test]
fn nan_in_a_not_null_column_is_stored_as_null_and_counted_or_refused_naming_the_nan() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE f (id int PRIMARY KEY, v float8 NOT NULL, w numeric(5,2) NOT NULL);
         INSERT INTO f VALUES (1, 'NaN', 1), (2, 1, 'NaN');",
    );
    let dir = tempfile::tempdir().unwrap();
    let export = export_db(&db, &dir.path().join("export")).dir;
    let target = dir.path().join("nan.db");
    let opts = ImportOptions::new(export, &target);
    match import::run(&opts, &Silent) {
        Ok(summary) => {
            let lossy = summary.tables.iter().find(|t| t.name == "f").map(|t| t.lossy.clone());
            let nan = ColumnLoss { nan_to_null: 1, ..ColumnLoss::default() };
            let want = Some(vec![("v".to_owned(), nan), ("w".to_owned(), nan)]);
            assert_eq!(lossy, want, "import summary lossy of f");
            let conn = Connection::open(&target).unwrap();
            let nulls: i64 = conn
                .query_row("SELECT count(*) FROM f WHERE v IS NULL OR w IS NULL", [], |r| r.get(0))
                .unwrap();
            assert_eq!(nulls, 2, "rows of f holding the NaNs as NULL");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("NaN") && msg.contains("public.f") && msg.contains("\"v\""),
                "expected: an error naming public.f, column \"v\" and its NaN\ngot:      {msg}"
            );
            assert!(!target.exists(), "a refused import wrote {}", target.display());
        }
    }
}
