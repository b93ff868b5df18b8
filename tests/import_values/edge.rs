//! The edge-value table: one table per case of every type family (the cases are in the
//! family files), round-tripped to the exact SQLite values DESIGN.md specifies, with what is
//! lost counted, also into STRICT tables.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use pg2lite::mapping::{SchemaFlags, quote_literal};

use super::Lost::No;
use super::{Case, ImportOutcome, Lost, Val, Want, import_into};
use super::{bytes, json_and_arrays, misc, numbers, text, time};
use crate::export::{export_db, raw_lines};
use crate::support::pg::TestDb;

/// (Postgres type, SQL literal, declared SQLite type, what SQLite must hold, what is lost),
/// under `--numeric auto`. Each case is a table `c<index> (id int PRIMARY KEY, v TYPE)` with
/// the literal in row 1 and SQL NULL in row 2.
///
/// float4 `1.1`: the export writes `1.1`, the shortest text that reads back as the same
/// float4, and SQLite must hold the double nearest to 1.1 (`1.1_f64`, bits
/// 0x3ff199999999999a), not the float4 widened (`1.100000023841858`).
///
/// The families are concatenated in this order, so each case keeps its index (and table).
pub(super) static CASES: LazyLock<Vec<Case>> = LazyLock::new(|| {
    [
        numbers::CASES,
        misc::BOOLS,
        text::CASES,
        json_and_arrays::JSON,
        time::CASES,
        bytes::CASES,
        json_and_arrays::ARRAYS,
        misc::CASES,
    ]
    .concat()
});

const TYPES_SQL: &str = "
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN price AS numeric(6,2);
CREATE DOMAIN year AS integer CHECK (VALUE >= 1901 AND VALUE <= 2155);
CREATE DOMAIN \"bıgınt\" AS bigint;
CREATE TYPE pair AS (a int, b text);
CREATE TYPE netpair AS (addr inet, n numeric(5,2), tags int[]);";

/// One table per case (so each value and its loss are checked on their own), a table of all
/// 256 byte values, and a table of JSON nulls beside SQL NULLs; exported.
fn edge_export(db: &TestDb, dir: &Path) -> PathBuf {
    db.execute(TYPES_SQL);
    for (i, (ty, literal, ..)) in CASES.iter().enumerate() {
        db.execute(&format!(
            "CREATE TABLE c{i} (id int PRIMARY KEY, v {ty}); \
             INSERT INTO c{i} VALUES (1, {literal}), (2, NULL);"
        ));
    }
    db.execute(
        "CREATE TABLE all_bytes (id int PRIMARY KEY, v bytea);
         INSERT INTO all_bytes
           SELECT 1, decode(string_agg(lpad(to_hex(i), 2, '0'), '' ORDER BY i), 'hex')
             FROM generate_series(0, 255) i;
         CREATE TABLE json_nulls (id int PRIMARY KEY, a jsonb, b json, c jsonb NOT NULL);
         INSERT INTO json_nulls VALUES
           (1, 'null', NULL, 'null'), (2, NULL, 'null', '{}'), (3, '{}', ' null ', 'null'),
           (4, NULL, NULL, '[]');
         CREATE TABLE json_nulls_many (id int PRIMARY KEY, j jsonb);
         INSERT INTO json_nulls_many SELECT i,
             CASE WHEN i % 997 = 0 THEN 'null' WHEN i % 2 = 0 THEN NULL
                  ELSE jsonb_build_object('i', i) END
           FROM generate_series(1, 10000) i;",
    );
    export_db(db, &dir.join("export")).dir
}

/// Checks every case's two rows, declared type and losses; returns the differences.
fn check_cases(export: &Path, out: &ImportOutcome) -> Vec<String> {
    let mut failures = Vec::new();
    for (i, &(ty, literal, declared, want, lost)) in CASES.iter().enumerate() {
        let table = format!("c{i}");
        let case = format!("{table}: {ty} {literal}");
        let rows = out.rows(&table, &["id", "v"], "ORDER BY id");
        let got: Vec<&Val> = rows.iter().map(|r| &r[1]).collect();
        let expected = [want.val(), Val::Null];
        if got.len() != 2 || !expected.iter().zip(&got).all(|(w, g)| w.matches(g)) {
            let got: Vec<String> = got.iter().map(ToString::to_string).collect();
            failures.push(format!(
                "{case}\n  expected: {}, NULL\n  got:      {}",
                expected[0],
                got.join(", ")
            ));
        }
        // Times in SQLite's form are the export's text rewritten (issue 14), not the same text.
        let rewritten = matches!(ty, "timestamp" | "timestamptz" | "time") && lost == No;
        if let (Want::Text(text), Some(exported)) = (want, exported_text(export, &table, ty))
            && text != exported
            && !rewritten
        {
            failures.push(format!(
                "{case}: not the TEXT the export holds\n  expected: {exported:?}\n  got:      {text:?}"
            ));
        }
        failures.extend(check_loss(out, &table, &case, declared, lost));
    }
    failures
}

/// The value of row 1 as the export wrote it, as the text SQLite must hold: json and jsonb
/// as written (they are embedded), a JSON string unescaped, anything else (arrays,
/// composites) as written; `None` for `null`.
fn exported_text(export: &Path, table: &str, ty: &str) -> Option<String> {
    let lines = raw_lines(export, &format!("tables/public.{table}.ndjson"));
    let raw = &lines[0][1].1;
    match raw.as_bytes().first() {
        _ if raw == "null" => None,
        Some(b'"') if !matches!(ty, "json" | "jsonb") => {
            Some(serde_json::from_str(raw).expect("a JSON string"))
        }
        _ => Some(raw.clone()),
    }
}

/// The declared type and what was lost, in `_pg2lite_columns` and in the import summary.
fn check_loss(
    out: &ImportOutcome,
    table: &str,
    case: &str,
    declared: &str,
    lost: Lost,
) -> Vec<String> {
    let mut failures = Vec::new();
    let (sqlite_type, lossy_values, detail) = out.column_meta(table, "v");
    let want_count = i64::try_from(lost.count().total()).unwrap();
    let want_detail = lost.count().describe();
    if (sqlite_type.as_str(), lossy_values, &detail) != (declared, want_count, &want_detail) {
        failures.push(format!(
            "{case}: _pg2lite_columns (sqlite_type, lossy_values, lossy_detail)\n  \
             expected: ({declared}, {want_count}, {want_detail:?})\n  \
             got:      ({sqlite_type}, {lossy_values}, {detail:?})"
        ));
    }
    let table_info = out.strings(&format!(
        "SELECT type FROM pragma_table_info({}) WHERE name = 'v'",
        quote_literal(table)
    ));
    if table_info != [[Some(declared.to_owned())]] {
        failures.push(format!(
            "{case}: declared type\n  expected: {declared}\n  got:      {table_info:?}"
        ));
    }
    let summary = out.summary_lossy(table);
    let want_summary = if lost == No { vec![] } else { vec![("v".to_owned(), lost.count())] };
    if summary != want_summary {
        failures.push(format!(
            "{case}: import summary lossy\n  expected: {want_summary:?}\n  got:      {summary:?}"
        ));
    }
    failures
}

fn check_edge_import(db: &TestDb, export: &Path, out: &ImportOutcome) {
    let mut failures = check_cases(export, out);
    failures.extend(bytes::check_all_bytes(db, out));
    failures.extend(json_and_arrays::check_json_nulls(out));
    failures.extend(json_and_arrays::check_json_nulls_many(db, out));
    failures.extend(numbers::check_infinity_in_sqlite3(out));
    failures.extend(json_and_arrays::check_json_valid(out));
    failures.extend(misc::check_enum(out));
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn edge_values_import_to_exactly_the_sqlite_values_design_md_specifies_with_losses_counted() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let export = edge_export(&db, dir.path());
    let out = import_into(&export, dir.path(), "edge.db", SchemaFlags::default());
    check_edge_import(&db, &export, &out);
}

#[test]
fn edge_values_import_into_strict_tables_with_the_same_values() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let export = edge_export(&db, dir.path());
    let options = SchemaFlags { strict: true, ..SchemaFlags::default() };
    let out = import_into(&export, dir.path(), "strict.db", options);
    for i in 0..CASES.len() {
        assert!(out.is_strict(&format!("c{i}")), "c{i} is not STRICT");
    }
    check_edge_import(&db, &export, &out);
}
