//! Pagila, every row of every table, compared with what Postgres renders under the mapping.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use pg2lite::mapping::{SchemaFlags, quote_ident, quote_literal};
use pg2lite::pg;

use super::{ImportOutcome, Render, Val, expected, import_into};
use crate::export::export_db;
use crate::support::pg::TestDb;

/// A Postgres column and how the test asks Postgres for its expected SQLite value.
#[derive(Debug)]
struct Oracle {
    column: String,
    /// `format_type` of the column's type, a domain seen through to its base.
    pg_type: String,
    /// The SELECT expression rendering the expected value.
    expr: String,
    render: Render,
    /// The declared SQLite type DESIGN's mapping gives it.
    declared: &'static str,
}

/// The columns of `public.table` with their types, domains resolved to their base type.
const COLUMNS_SQL: &str = "
SELECT a.attname::text, coalesce(b.typname, t.typname)::text, coalesce(b.typtype, t.typtype)::text,
       coalesce(e.typcategory::text, ''),
       format_type(coalesce(b.oid, t.oid), CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END)
  FROM pg_attribute a
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_type b ON t.typtype = 'd' AND b.oid = t.typbasetype
  LEFT JOIN pg_type e ON coalesce(b.typcategory, t.typcategory) = 'A'
                     AND e.oid = coalesce(b.typelem, t.typelem)
 WHERE a.attrelid = format('public.%I', $1::text)::regclass AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum";

fn oracles(db: &TestDb, table: &str) -> Vec<Oracle> {
    let sql = COLUMNS_SQL.replace("$1::text", &pg::quote_literal(table));
    db.query_strings(&sql)
        .into_iter()
        .map(|r| {
            let s = |i: usize| r[i].clone().unwrap_or_default();
            oracle(&s(0), &s(1), &s(2), &s(3), &s(4))
                .unwrap_or_else(|e| panic!("public.{table}.{}: {e}", s(0)))
        })
        .collect()
}

/// DESIGN's mapping, stated as the Postgres expression that renders the expected value.
fn oracle(
    name: &str,
    base: &str,
    typtype: &str,
    element: &str,
    pg_type: &str,
) -> Result<Oracle, String> {
    let q = pg::quote_ident(name);
    let (expr, render, declared) = match (typtype, base) {
        ("e", _) => (q, Render::Text, "TEXT"),
        ("c", _) => return Err(format!("no oracle for composite type {pg_type}")),
        // Elements rendered by to_json as pg2lite exports them: strings, enums, integers.
        (_, "_text" | "_varchar" | "_bpchar" | "_int2" | "_int4" | "_int8") => {
            (format!("to_json({q})::text"), Render::Json, "TEXT")
        }
        _ if !element.is_empty() => return Err(format!("no oracle for array type {pg_type}")),
        (_, "int2" | "int4" | "int8" | "oid") => (format!("{q}::text"), Render::Int, "INTEGER"),
        (_, "bool") => (format!("{q}::int::text"), Render::Int, "INTEGER"),
        (_, "float4") => (format!("{q}::text"), Render::Float4, "REAL"),
        (_, "float8") => (format!("{q}::text"), Render::Real, "REAL"),
        (_, "numeric") => {
            let declared = numeric_declared(pg_type);
            let render = match declared {
                "INTEGER" => Render::Int,
                "REAL" => Render::Real,
                _ => Render::Text,
            };
            (format!("{q}::text"), render, declared)
        }
        // As SQLite writes time (issue 14): the fraction only when it is not zero.
        (_, "timestamptz") => (
            format!(
                "regexp_replace(to_char({q} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), \
                 '[.]000000$', '')"
            ),
            Render::Text,
            "TEXT",
        ),
        (_, "timestamp") => (
            format!("regexp_replace(to_char({q}, 'YYYY-MM-DD HH24:MI:SS.US'), '[.]000000$', '')"),
            Render::Text,
            "TEXT",
        ),
        (_, "date") => (format!("to_char({q}, 'YYYY-MM-DD')"), Render::Text, "TEXT"),
        (_, "bytea") => (format!("encode({q}, 'hex')"), Render::Hex, "BLOB"),
        (_, "json" | "jsonb") => (format!("{q}::text"), Render::Json, "TEXT"),
        (_, "time" | "timetz" | "interval" | "money") => {
            return Err(format!("no oracle for {pg_type}"));
        }
        // text, varchar, char(n), name, uuid, tsvector and every other type: its text output,
        // which the simple query protocol returns as is (a cast to text would drop char(n)'s
        // padding).
        _ => (q, Render::Text, "TEXT"),
    };
    let column = name.to_owned();
    Ok(Oracle { column, pg_type: pg_type.to_owned(), expr, render, declared })
}

/// `--numeric auto` (DESIGN): INTEGER when scale ≤ 0 and precision − scale ≤ 18; REAL when
/// precision ≤ 15; else TEXT, unconstrained numeric too.
fn numeric_declared(pg_type: &str) -> &'static str {
    let inner = pg_type.strip_prefix("numeric(").and_then(|s| s.strip_suffix(')'));
    let Some(inner) = inner else { return "TEXT" };
    let (p, s) = inner.split_once(',').unwrap_or((inner, "0"));
    let (p, s): (i64, i64) = (p.trim().parse().unwrap(), s.trim().parse().unwrap());
    if s <= 0 && p - s <= 18 {
        "INTEGER"
    } else if p <= 15 {
        "REAL"
    } else {
        "TEXT"
    }
}

/// The user tables of Pagila's `public` schema as SQLite gets them: partitions through their
/// root.
fn pagila_tables(db: &TestDb) -> Vec<String> {
    let mut tables: Vec<String> = db
        .query_strings(
            "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace \
             AND relkind IN ('r', 'p') AND NOT relispartition",
        )
        .into_iter()
        .map(|r| r[0].clone().expect("relname is not null"))
        .collect();
    tables.sort();
    tables
}

fn primary_key(db: &TestDb, table: &str) -> Vec<String> {
    let sql = format!(
        "SELECT a.attname::text FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(n, o), \
         pg_attribute a WHERE i.indrelid = format('public.%I', {})::regclass AND i.indisprimary \
         AND a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o",
        pg::quote_literal(table)
    );
    let key: Vec<String> =
        db.query_strings(&sql).into_iter().filter_map(|r| r[0].clone()).collect();
    assert!(!key.is_empty(), "public.{table} has no primary key to match rows by");
    key
}

/// Compares every value of `table`, Postgres against SQLite, row matched by primary key.
/// Returns the number of values compared; differences go to `failures`.
fn compare_table(
    db: &TestDb,
    out: &ImportOutcome,
    table: &str,
    failures: &mut Vec<String>,
) -> usize {
    let oracles = oracles(db, table);
    failures.extend(check_declared(out, table, &oracles));
    let key_at: Vec<usize> = primary_key(db, table)
        .iter()
        .map(|k| oracles.iter().position(|o| &o.column == k).expect("a key column is a column"))
        .collect();
    let row_key = |row: &[Val]| key_at.iter().map(|&i| row[i].text()).collect::<Vec<_>>();
    let want_rows = expected_rows(db, table, &oracles);
    let names: Vec<&str> = oracles.iter().map(|o| o.column.as_str()).collect();
    let got_rows = out.rows(table, &names, "");
    if want_rows.len() != got_rows.len() {
        failures.push(format!(
            "{table}: row count\n  expected: {}\n  got:      {}",
            want_rows.len(),
            got_rows.len()
        ));
    }
    let by_key: HashMap<_, _> = got_rows.iter().map(|r| (row_key(r), r)).collect();
    let mut compared = 0;
    for want in &want_rows {
        let at = row_key(want);
        let Some(got) = by_key.get(&at) else {
            failures.push(format!("{table}: the row with key {at:?} is missing in SQLite"));
            continue;
        };
        for ((o, w), g) in oracles.iter().zip(want).zip(got.iter()) {
            compared += 1;
            if !w.matches(g) {
                failures.push(format!(
                    "{table}.{} ({}) at key {at:?}\n  expected: {w}\n  got:      {g}",
                    o.column, o.pg_type
                ));
            }
        }
    }
    compared
}

/// Every column's declared type in `_pg2lite_columns`, and no lossy values.
fn check_declared(out: &ImportOutcome, table: &str, oracles: &[Oracle]) -> Vec<String> {
    let mut failures = Vec::new();
    for o in oracles {
        let (declared, lossy, _) = out.column_meta(table, &o.column);
        if declared != o.declared || lossy != 0 {
            failures.push(format!(
                "{table}.{} ({}): _pg2lite_columns\n  expected: sqlite_type {}, lossy_values 0\n  \
                 got:      sqlite_type {declared}, lossy_values {lossy}",
                o.column, o.pg_type, o.declared
            ));
        }
    }
    failures
}

/// Every row of `public.table` as Postgres renders it, parsed into what SQLite must hold.
fn expected_rows(db: &TestDb, table: &str, oracles: &[Oracle]) -> Vec<Vec<Val>> {
    let exprs: Vec<&str> = oracles.iter().map(|o| o.expr.as_str()).collect();
    let sql = format!("SELECT {} FROM public.{}", exprs.join(", "), pg::quote_ident(table));
    db.query_strings(&sql)
        .into_iter()
        .map(|row| {
            oracles.iter().zip(&row).map(|(o, v)| expected(o.render, v.as_deref())).collect()
        })
        .collect()
}

/// `sqlite3 FILE "select count(*) from t"`, as a user would run it.
fn sqlite3_count(file: &Path, table: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(file)
        .arg(format!("select count(*) from {}", quote_ident(table)))
        .output()
        .unwrap_or_else(|e| panic!("cannot run the sqlite3 CLI: {e}"));
    assert!(out.status.success(), "sqlite3: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// (child table, child column, parent table): Pagila's relationships the SQLite file must
/// declare, each referencing the parent's key column of the same name.
const PAGILA_FOREIGN_KEYS: &[(&str, &str, &str)] = &[
    ("film_actor", "actor_id", "actor"),
    ("film_actor", "film_id", "film"),
    ("film_category", "film_id", "film"),
    ("film_category", "category_id", "category"),
    ("film", "language_id", "language"),
    ("inventory", "film_id", "film"),
    ("rental", "inventory_id", "inventory"),
    ("rental", "customer_id", "customer"),
    ("rental", "staff_id", "staff"),
    ("payment", "customer_id", "customer"),
    ("payment", "rental_id", "rental"),
    ("payment", "staff_id", "staff"),
    ("address", "city_id", "city"),
    ("city", "country_id", "country"),
    ("customer", "address_id", "address"),
    ("staff_photo", "staff_id", "staff"),
];

fn check_pagila(db: &TestDb, out: &ImportOutcome, tables: &[String]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut got_tables: Vec<String> = out
        .strings(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_pg2lite\\_%' \
             ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .into_iter()
        .filter_map(|r| r[0].clone())
        .collect();
    got_tables.sort();
    if got_tables != tables {
        failures.push(format!("tables\n  expected: {tables:?}\n  got:      {got_tables:?}"));
    }
    let mut compared = 0;
    for t in tables {
        let pg_count = db
            .query_strings(&format!("SELECT count(*)::text FROM public.{}", pg::quote_ident(t)))[0]
            [0]
        .clone()
        .unwrap();
        let cli = sqlite3_count(&out.target, t);
        if cli != pg_count {
            failures.push(format!(
                "{t}: sqlite3 select count(*)\n  expected: {pg_count}\n  got:      {cli}"
            ));
        }
        let lossy = out.summary_lossy(t);
        if !lossy.is_empty() {
            failures.push(format!(
                "{t}: import summary\n  expected: no lossy columns\n  got:      {lossy:?}"
            ));
        }
        compared += compare_table(db, out, t, &mut failures);
    }
    assert!(compared > 100_000, "only {compared} values compared");
    let violations = out.strings("PRAGMA foreign_key_check");
    if !violations.is_empty() {
        failures.push(format!(
            "PRAGMA foreign_key_check\n  expected: no rows\n  got:      {violations:?}"
        ));
    }
    failures
}

/// Each of [`PAGILA_FOREIGN_KEYS`] missing from `PRAGMA foreign_key_list`.
fn missing_foreign_keys(out: &ImportOutcome) -> Vec<String> {
    let mut failures = Vec::new();
    for (child, column, parent) in PAGILA_FOREIGN_KEYS {
        let fks = out.strings(&format!(
            "SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list({})",
            quote_literal(child)
        ));
        let want = [Some(parent.to_string()), Some(column.to_string()), Some(column.to_string())];
        if !fks.iter().any(|fk| fk[..] == want[..]) {
            failures.push(format!(
                "PRAGMA foreign_key_list({child})\n  expected: a key ({column}) REFERENCES \
                 {parent} ({column})\n  got:      {fks:?}"
            ));
        }
    }
    failures
}

/// Pagila, exported; plus a table of bytea and domain values of our own, since Pagila's only
/// bytea column (staff.picture) is all NULL and its domain `"bıgınt"` is used by no column.
fn pagila_export(db: &TestDb, dir: &Path) -> PathBuf {
    db.load_pagila();
    db.execute(
        "CREATE TABLE public.staff_photo (
           staff_id int PRIMARY KEY REFERENCES public.staff, photo bytea, badge public.\"bıgınt\",
           since public.year);
         INSERT INTO public.staff_photo
           SELECT staff_id,
                  CASE staff_id % 3 WHEN 0 THEN decode(md5(staff_id::text), 'hex')
                                    WHEN 1 THEN ''::bytea END,
                  staff_id * 1000000000000, 1901 + staff_id % 255
             FROM public.staff;
         UPDATE public.staff_photo
            SET photo = (SELECT decode(string_agg(lpad(to_hex(i), 2, '0'), '' ORDER BY i), 'hex')
                           FROM generate_series(0, 255) i),
                badge = 9223372036854775807, since = 2155
          WHERE staff_id = (SELECT min(staff_id) FROM public.staff);",
    );
    export_db(db, &dir.join("export")).dir
}

#[test]
fn pagila_imports_every_value_of_every_table_as_postgres_renders_it_under_the_mapping() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let export = pagila_export(&db, dir.path());
    let tables = pagila_tables(&db);
    assert!(tables.len() >= 16, "Pagila has {tables:?}");
    let mut failures = Vec::new();
    for strict in [false, true] {
        let name = if strict { "pagila-strict.db" } else { "pagila.db" };
        let options = SchemaFlags { strict, ..SchemaFlags::default() };
        let out = import_into(&export, dir.path(), name, options);
        for t in &tables {
            assert_eq!(out.is_strict(t), strict, "{name}: STRICT of {t}");
        }
        failures
            .extend(check_pagila(&db, &out, &tables).into_iter().map(|f| format!("{name}: {f}")));
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn pagila_foreign_keys_are_declared_for_its_relationships_and_hold() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let export = pagila_export(&db, dir.path());
    let out = import_into(&export, dir.path(), "pagila.db", SchemaFlags::default());
    let violations = out.strings("PRAGMA foreign_key_check");
    assert!(
        violations.is_empty(),
        "PRAGMA foreign_key_check\n  expected: no rows\n  got:      {violations:?}"
    );
    let failures = missing_foreign_keys(&out);
    assert!(
        failures.is_empty(),
        "{} foreign keys missing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
