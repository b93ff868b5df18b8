//! Issue 14: the migrated file answers ordinary questions as Postgres does. Each question is
//! asked of Postgres and of the SQLite file `migrate` built, and the rows must be the same
//! (numbers equal to 1e-9 relative, a fraction of a second without its trailing zeros). Most
//! questions are the same SQL text on both sides; where the dialects differ in meaning or
//! spelling the question gives both, and the reason is in its comment. Rewritten, and why:
//! - money: Postgres compares and sums money only as money (`50::money`, `sum(..)::numeric`);
//! - `date()` / `strftime()` are SQLite's; Postgres writes `::date`, `to_char`, `extract`;
//! - a timestamptz literal carries its zone in Postgres (`+00`); SQLite's text is in UTC;
//! - `datetime('2012-09-19')` is SQLite's; Postgres writes `timestamp '2012-09-19'`;
//! - enum order is the labels' order in Postgres, text order in SQLite (`rating::text`).
//!
//! Also here: the fed `migrate` and export-then-import give the same file; an export made
//! before the numeric facts (tests/fixtures/old_export) still imports and validates; `schema
//! --source` says where the data decides; `--datetime iso` keeps RFC 3339 text.

use std::path::{Path, PathBuf};

use rusqlite::types::Value;

use crate::support::cli::pg2lite;
use crate::support::pg::TestDb;

/// One question: its Postgres text, and SQLite's when it must differ.
struct Q {
    name: &'static str,
    pg: &'static str,
    sqlite: Option<&'static str>,
}

const fn same(name: &'static str, sql: &'static str) -> Q {
    Q { name, pg: sql, sqlite: None }
}

const fn pair(name: &'static str, pg: &'static str, sqlite: &'static str) -> Q {
    Q { name, pg, sqlite: Some(sqlite) }
}

/// A value as both sides are compared: a number, or text (a time's fraction without its
/// trailing zeros: Postgres prints `.25`, the file holds `.250000`), or NULL.
#[derive(Debug, Clone)]
enum Cell {
    Null,
    Num(f64),
    Text(String),
}

impl PartialEq for Cell {
    fn eq(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Null, Cell::Null) => true,
            (Cell::Num(a), Cell::Num(b)) => a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
            (Cell::Text(a), Cell::Text(b)) => a == b,
            _ => false,
        }
    }
}

fn cell(text: &str) -> Cell {
    match text.parse::<f64>() {
        Ok(f) if !text.is_empty() => Cell::Num(f),
        _ => Cell::Text(trim_fraction(text)),
    }
}

/// `2012-09-18 19:00:00.250000` → `2012-09-18 19:00:00.25`; `08:00:00.000000` → `08:00:00`.
fn trim_fraction(text: &str) -> String {
    let b = text.as_bytes();
    let dot = b.len().checked_sub(7).filter(|&i| b[i] == b'.' && i >= 8 && b[i - 3] == b':');
    match dot {
        Some(i) if b[i + 1..].iter().all(u8::is_ascii_digit) => {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
        _ => text.to_owned(),
    }
}

fn pg_rows(db: &TestDb, sql: &str) -> Vec<Vec<Cell>> {
    let rows = db.query_strings(sql);
    rows.iter().map(|r| r.iter().map(|v| v.as_deref().map_or(Cell::Null, cell)).collect()).collect()
}

fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> Vec<Vec<Cell>> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("SQLite refused {sql}: {e}"));
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get::<_, Value>(i)? {
                        Value::Null => Cell::Null,
                        Value::Integer(i) => Cell::Num(i as f64),
                        Value::Real(f) => Cell::Num(f),
                        Value::Text(t) => cell(&t),
                        Value::Blob(b) => Cell::Text(format!("{b:?}")),
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .unwrap();
    rows.collect::<rusqlite::Result<_>>().unwrap()
}

/// Migrates `db` into a fresh directory; the file's path.
fn migrated(db: &TestDb, work: &Path) -> PathBuf {
    pg2lite(&["migrate", "--source", &db.url(), "--target", "app.db", "--yes"])
        .cwd(work)
        .run()
        .assert_code(0);
    work.join("app.db")
}

/// Asks every question of both sides; panics with each that answers differently.
fn ask_all(db: &TestDb, file: &Path, questions: &[Q]) {
    let conn = rusqlite::Connection::open(file).unwrap();
    let mut wrong = Vec::new();
    for q in questions {
        let expected = pg_rows(db, q.pg);
        let got = sqlite_rows(&conn, q.sqlite.unwrap_or(q.pg));
        assert!(
            !expected.is_empty(),
            "{}: Postgres returned no rows, the question tests nothing",
            q.name
        );
        if expected != got {
            wrong.push(format!("{}\n  expected {expected:?}\n  got      {got:?}", q.name));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} question(s) answered differently:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/numbers_and_time.sql")
}

fn numbers_db() -> TestDb {
    let db = TestDb::new();
    db.psql_file(fixture());
    db
}

const NUMBERS_AND_TIME: &[Q] = &[
    same(
        "unconstrained numeric compares as a number",
        "SELECT name FROM facility WHERE membercost > 10 ORDER BY id",
    ),
    same(
        "unconstrained numeric orders as a number",
        "SELECT name, membercost FROM facility ORDER BY membercost DESC, id",
    ),
    same(
        "max and min of an unconstrained numeric",
        "SELECT max(membercost), min(membercost) FROM facility",
    ),
    same(
        "integral numeric compares and orders",
        "SELECT id FROM facility WHERE members >= 100 ORDER BY members",
    ),
    same(
        "sum and average of an integral numeric",
        "SELECT sum(members), avg(members) FROM facility",
    ),
    same(
        "a domain over numeric",
        "SELECT id, guestcost FROM facility WHERE guestcost BETWEEN 10 AND 30 ORDER BY guestcost, id",
    ),
    same("numeric(5,2) compares", "SELECT id FROM facility WHERE fee < 1 ORDER BY fee, id"),
    same("numeric(5,2) sums", "SELECT sum(fee), avg(fee) FROM facility"),
    // money compares only with money in Postgres
    pair(
        "money compares as a number",
        "SELECT name FROM facility WHERE upkeep > 50::money ORDER BY upkeep DESC, id",
        "SELECT name FROM facility WHERE upkeep > 50 ORDER BY upkeep DESC, id",
    ),
    pair(
        "money sums",
        "SELECT sum(upkeep)::numeric FROM facility",
        "SELECT sum(upkeep) FROM facility",
    ),
    same(
        "numeric(40,0) holding 64-bit integers",
        "SELECT id, big FROM facility WHERE big > 3 ORDER BY big",
    ),
    same(
        "the 30-digit value stays exact",
        "SELECT id FROM facility WHERE serial_no = '123456789012345678901234567890'",
    ),
    same(
        "arithmetic across numeric columns",
        "SELECT id, membercost * 2 + 1, guestcost - membercost FROM facility ORDER BY id",
    ),
    same(
        "equality between computed numerics",
        "SELECT count(*) FROM facility WHERE membercost = guestcost / 5",
    ),
    same(
        "order by a domain, limit",
        "SELECT name FROM facility ORDER BY guestcost DESC, id LIMIT 3",
    ),
    same(
        "a timestamp range in SQLite's format",
        "SELECT count(*) FROM booking WHERE starttime >= '2012-09-18 00:00:00' AND starttime < '2012-09-18 12:00:00'",
    ),
    same(
        "a timestamp before a date",
        "SELECT id FROM booking WHERE starttime < '2012-09-19' ORDER BY starttime",
    ),
    same(
        "a timestamp between, fraction included",
        "SELECT id, starttime FROM booking WHERE starttime BETWEEN '2012-09-18 19:00:00' AND '2012-09-19 00:00:00' ORDER BY id",
    ),
    pair(
        "grouped by day",
        "SELECT starttime::date AS day, count(*), sum(slots) FROM booking GROUP BY 1 ORDER BY 1",
        "SELECT date(starttime) AS day, count(*), sum(slots) FROM booking GROUP BY 1 ORDER BY 1",
    ),
    pair(
        "grouped by month",
        "SELECT to_char(starttime, 'YYYY-MM'), count(*) FROM booking GROUP BY 1 ORDER BY 1",
        "SELECT strftime('%Y-%m', starttime), count(*) FROM booking GROUP BY 1 ORDER BY 1",
    ),
    pair(
        "grouped by hour",
        "SELECT extract(hour FROM starttime)::int, count(*) FROM booking GROUP BY 1 ORDER BY 1",
        "SELECT CAST(strftime('%H', starttime) AS INTEGER), count(*) FROM booking GROUP BY 1 ORDER BY 1",
    ),
    same("a date equals its text", "SELECT id FROM booking WHERE day = '2012-09-18' ORDER BY id"),
    same(
        "a time compares as time",
        "SELECT id, at_time FROM booking WHERE at_time >= '12:00:00' ORDER BY at_time, id",
    ),
    pair(
        "timestamptz from UTC midnight, whatever the session's zone",
        "SELECT id FROM booking WHERE paid_at >= '2012-09-19 00:00:00+00' ORDER BY paid_at",
        "SELECT id FROM booking WHERE paid_at >= '2012-09-19 00:00:00' ORDER BY paid_at",
    ),
    pair(
        "timestamptz grouped by UTC day",
        "SELECT (paid_at AT TIME ZONE 'UTC')::date, count(*) FROM booking WHERE paid_at IS NOT NULL GROUP BY 1 ORDER BY 1",
        "SELECT date(paid_at), count(*) FROM booking WHERE paid_at IS NOT NULL GROUP BY 1 ORDER BY 1",
    ),
    same(
        "timestamptz orders across zones and midnight",
        "SELECT id FROM booking WHERE paid_at IS NOT NULL ORDER BY paid_at DESC",
    ),
    pair(
        "SQLite's datetime() against a timestamp",
        "SELECT count(*) FROM booking WHERE starttime < timestamp '2012-09-19'",
        "SELECT count(*) FROM booking WHERE starttime < datetime('2012-09-19')",
    ),
    same(
        "a join summing integers",
        "SELECT f.name, sum(b.slots) FROM booking b JOIN facility f ON f.id = b.facility_id GROUP BY f.name ORDER BY 2 DESC, 1",
    ),
    same(
        "a join multiplying by a numeric",
        "SELECT f.id, sum(b.slots * f.membercost) FROM booking b JOIN facility f ON f.id = b.facility_id GROUP BY f.id ORDER BY 1",
    ),
    same(
        "an unconstrained numeric with a fraction",
        "SELECT id FROM booking WHERE price > 5 ORDER BY price DESC, id",
    ),
    same("average of a numeric", "SELECT avg(price), sum(price) FROM booking"),
    same(
        "values that are not time keep their text",
        "SELECT id FROM odd_time WHERE ts = '2012-09-18 08:00:00' ORDER BY id",
    ),
];

#[test]
fn issue_14_numbers_and_times_answer_as_in_postgres_read_in_a_non_utc_zone() {
    let db = numbers_db();
    db.execute("SET TimeZone = 'America/New_York'");
    let work = tempfile::tempdir().unwrap();
    let file = migrated(&db, work.path());
    ask_all(&db, &file, NUMBERS_AND_TIME);
    let conn = rusqlite::Connection::open(&file).unwrap();
    let types: String = conn
        .query_row(
            "SELECT typeof(members) || typeof(membercost) || typeof(upkeep) || typeof(serial_no) \
             FROM facility WHERE id = 5",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(types, "integerrealrealtext");
}

const PAGILA: &[Q] = &[
    same(
        "film rates compare and order",
        "SELECT film_id, rental_rate FROM film WHERE rental_rate > 2.99 ORDER BY rental_rate DESC, film_id LIMIT 10",
    ),
    // enum order is its labels' order in Postgres
    pair(
        "films per rating",
        "SELECT rating::text, count(*), avg(rental_rate), sum(replacement_cost) FROM film GROUP BY rating ORDER BY rating::text",
        "SELECT rating, count(*), avg(rental_rate), sum(replacement_cost) FROM film GROUP BY rating ORDER BY rating",
    ),
    same(
        "the best customers by payments",
        "SELECT customer_id, sum(amount) FROM payment GROUP BY customer_id ORDER BY 2 DESC, 1 LIMIT 5",
    ),
    same(
        "payments at or above an amount",
        "SELECT count(*), sum(amount) FROM payment WHERE amount >= 5.99",
    ),
    same(
        "rentals in a month, in SQLite's format",
        "SELECT count(*) FROM rental WHERE rental_date >= '2022-06-01 00:00:00' AND rental_date < '2022-07-01 00:00:00'",
    ),
    pair(
        "rentals per month",
        "SELECT to_char(rental_date, 'YYYY-MM'), count(*) FROM rental GROUP BY 1 ORDER BY 1",
        "SELECT strftime('%Y-%m', rental_date), count(*) FROM rental GROUP BY 1 ORDER BY 1",
    ),
    pair(
        "payments per day",
        "SELECT payment_date::date, count(*), sum(amount) FROM payment GROUP BY 1 ORDER BY 1 LIMIT 10",
        "SELECT date(payment_date), count(*), sum(amount) FROM payment GROUP BY 1 ORDER BY 1 LIMIT 10",
    ),
    same("rentals not returned", "SELECT count(*) FROM rental WHERE return_date IS NULL"),
    same(
        "the most rented films, three joins",
        "SELECT f.film_id, count(r.rental_id) FROM film f JOIN inventory i ON i.film_id = f.film_id JOIN rental r ON r.inventory_id = i.inventory_id GROUP BY f.film_id ORDER BY 2 DESC, 1 LIMIT 5",
    ),
    same(
        "the latest rentals",
        "SELECT rental_id FROM rental ORDER BY rental_date DESC, rental_id LIMIT 5",
    ),
];

#[test]
fn issue_14_pagila_answers_as_in_postgres() {
    let db = TestDb::new();
    db.load_pagila();
    db.execute("SET TimeZone = 'UTC'");
    let work = tempfile::tempdir().unwrap();
    let file = migrated(&db, work.path());
    ask_all(&db, &file, PAGILA);
}

const TENANTS: &[Q] = &[
    same(
        "fees compare, sum and average",
        "SELECT count(*), sum(fee), avg(fee) FROM clients WHERE fee > 50",
    ),
    same(
        "coordinates order",
        "SELECT id, lat, lon FROM location_cache ORDER BY lat DESC, id LIMIT 5",
    ),
    same(
        "charts in a month, in SQLite's format",
        "SELECT count(*) FROM charts WHERE created_at >= '2024-02-01 00:00:00' AND created_at < '2024-03-01 00:00:00'",
    ),
    same(
        "confidence average and maximum",
        "SELECT avg(confidence), max(confidence) FROM chart_interpretations",
    ),
    pair(
        "charts per day",
        "SELECT created_at::date, count(*) FROM charts GROUP BY 1 ORDER BY 1 LIMIT 5",
        "SELECT date(created_at), count(*) FROM charts GROUP BY 1 ORDER BY 1 LIMIT 5",
    ),
];

#[test]
fn issue_14_the_multi_tenant_fixture_answers_as_in_postgres() {
    let db = crate::tenancy::tenants_db();
    db.execute("SET TimeZone = 'UTC'");
    let work = tempfile::tempdir().unwrap();
    let file = migrated(&db, work.path());
    ask_all(&db, &file, TENANTS);
}

/// The one export directory under `root`.
fn export_dir(root: &Path) -> String {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].to_str().unwrap().to_owned()
}

/// The user tables and the column records, as `sqlite3 .dump` prints them.
fn dump(file: &Path) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(file)
        .arg(".dump facility booking odd_time _pg2lite_columns")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn issue_14_a_fed_migrate_and_export_then_import_build_the_same_file() {
    let db = numbers_db();
    let work = tempfile::tempdir().unwrap();
    let out = pg2lite(&["migrate", "--source", &db.url(), "--target", "app.db"])
        .cwd(work.path())
        .run()
        .assert_code(0);
    assert!(!out.stderr.contains("did not work"), "the fed import must not fall back: {out}");
    let fed = work.path().join("app.db");
    pg2lite(&["export", "--source", &db.url(), "--out", "ex"])
        .cwd(work.path())
        .run()
        .assert_code(0);
    let dir = export_dir(&work.path().join("ex"));
    let manifest = std::fs::read_to_string(Path::new(&dir).join("manifest.json")).unwrap();
    assert!(manifest.contains("\"numeric_facts\""), "the export records the facts");
    pg2lite(&["import", "--from", &dir, "--target", "file.db"])
        .cwd(work.path())
        .run()
        .assert_code(0);
    let (a, b) = (dump(&fed), dump(&work.path().join("file.db")));
    assert_eq!(a, b, "fed and file imports differ");
    assert!(a.contains("numeric→INTEGER (all values integral)"), "{a}");
    assert!(a.contains("timestamptz→TEXT UTC ''YYYY-MM-DD HH:MM:SS[.ffffff]''"), "{a}");
}

#[test]
fn issue_14_an_export_made_before_the_numeric_facts_imports_and_validates() {
    let old = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/old_export");
    let old = old.to_str().unwrap();
    let work = tempfile::tempdir().unwrap();
    let out = pg2lite(&["import", "--from", old, "--target", "old.db"])
        .cwd(work.path())
        .run()
        .assert_code(0);
    assert!(
        out.stderr.contains("column membercost: REAL from a first pass over its data"),
        "{out}"
    );
    assert!(out.stderr.contains("column serial_no: kept as TEXT: 1 value(s)"), "{out}");
    assert!(out.stderr.contains("--numeric real"), "{out}");
    assert!(out.stdout.contains("odd_time.ts: 2 do not compare as time"), "{out}");
    pg2lite(&["validate", "--from", old, "--target", "old.db"])
        .cwd(work.path())
        .run()
        .assert_code(0);
    let conn = rusqlite::Connection::open(work.path().join("old.db")).unwrap();
    let got: (String, f64, String) = conn
        .query_row(
            "SELECT typeof(members), membercost, (SELECT starttime FROM booking WHERE id = 4) \
             FROM facility WHERE id = 5",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(got, ("integer".into(), 35.0, "2012-09-18 19:00:00.250000".into()));
}

#[test]
fn issue_14_schema_from_the_source_says_the_data_decides_and_iso_keeps_rfc_3339() {
    let db = numbers_db();
    let work = tempfile::tempdir().unwrap();
    let out = pg2lite(&["schema", "--source", &db.url(), "--out", "-"])
        .cwd(work.path())
        .run()
        .assert_code(0);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains("column membercost: type decided from the data"), "{out}");
    pg2lite(&[
        "migrate",
        "--source",
        &db.url(),
        "--target",
        "iso.db",
        "--datetime",
        "iso",
        "--yes",
    ])
    .cwd(work.path())
    .run()
    .assert_code(0);
    let conn = rusqlite::Connection::open(work.path().join("iso.db")).unwrap();
    let at: String =
        conn.query_row("SELECT paid_at FROM booking WHERE id = 1", [], |r| r.get(0)).unwrap();
    assert_eq!(at, "2012-09-18T23:30:00.000000Z");
    let export = export_dir(&work.path().join("migration_data"));
    let out =
        pg2lite(&["validate", "--from", &export, "--target", "iso.db", "--datetime", "sqlite"])
            .cwd(work.path())
            .run();
    assert_ne!(out.code, Some(0), "a contradicting --datetime must not validate: {out}");
}

#[test]
fn issue_14_an_unknown_datetime_is_a_usage_error() {
    let out = pg2lite(&["import", "--from", "x", "--target", "y.db", "--datetime", "local"])
        .run()
        .assert_code(2);
    assert!(out.stderr.contains("--datetime") && out.stderr.contains("sqlite or iso"), "{out}");
}
