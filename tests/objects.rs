//! Every database object is accounted for (issue 14, item 3): views whose meaning SQLite
//! shares become SQLite views and answer as Postgres does (the same SQL text asked of both
//! sides); every other view, materialized view, trigger, function, policy, free sequence and
//! extension is listed with why; a view definition forged to smuggle SQL is refused.

use std::path::Path;

use serde_json::Value;

use crate::hostile::{Forged, old_target, refused};
use crate::support::cli::pg2lite;
use crate::support::pg::TestDb;

/// Migrates `db` into `dir/app.db` with `--json`, returning the summary.
fn migrate(dir: &Path, db: &TestDb) -> Value {
    let out = pg2lite(&["migrate", "--json", "--source", &db.url(), "--target", "app.db"])
        .cwd(dir)
        .run()
        .assert_code(0);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn notes(summary: &Value) -> Vec<String> {
    let notes = summary["notes"].as_array().unwrap_or_else(|| panic!("no notes: {summary}"));
    notes.iter().map(|n| n.as_str().unwrap().to_owned()).collect()
}

fn sqlite_views(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt =
        conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'view' ORDER BY name").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// The rows of `sql` in SQLite, each value as text (REAL kept as a number for comparison).
fn sqlite_rows(db: &Path, sql: &str) -> Vec<Vec<Option<String>>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{e}: {sql}"));
    let n = stmt.column_count();
    let rows = stmt.query_map([], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => None,
                    rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                    rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                    rusqlite::types::ValueRef::Text(t) => {
                        Some(String::from_utf8_lossy(t).into_owned())
                    }
                    rusqlite::types::ValueRef::Blob(b) => Some(format!("{b:?}")),
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()
    });
    rows.unwrap().map(Result::unwrap).collect()
}

/// Two values are the same answer: equal text, or numbers equal to 1e-9 relative, or
/// Postgres' boolean `t`/`f` against SQLite's 1/0.
fn same(pg: &Option<String>, lite: &Option<String>) -> bool {
    match (pg, lite) {
        (None, None) => true,
        (Some(a), Some(b)) if a == b => true,
        (Some(a), Some(b)) if (a == "t" && b == "1") || (a == "f" && b == "0") => true,
        (Some(a), Some(b)) => match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
            _ => false,
        },
        _ => false,
    }
}

/// Asks Postgres and the SQLite file the same SQL text and asserts the same rows.
fn ask_both(db: &TestDb, file: &Path, sql: &str) {
    let pg = db.query_strings(sql);
    let lite = sqlite_rows(file, sql);
    let equal = pg.len() == lite.len()
        && pg
            .iter()
            .zip(&lite)
            .all(|(a, b)| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y)));
    assert!(equal, "{sql}\n--- expected (Postgres) ---\n{pg:?}\n--- got (SQLite) ---\n{lite:?}");
    assert!(!pg.is_empty(), "a question with no rows proves little: {sql}");
}

#[test]
fn pagila_carries_four_of_its_seven_views_and_lists_the_rest_with_why() {
    let db = TestDb::new();
    db.load_pagila();
    let work = tempfile::tempdir().unwrap();
    let summary = migrate(work.path(), &db);
    let file = work.path().join("app.db");
    assert_eq!(
        sqlite_views(&file),
        ["customer_list", "sales_by_film_category", "sales_by_store", "staff_list"]
    );
    let notes = notes(&summary);
    for v in ["actor_info", "film_list", "nicer_but_slower_film_list"] {
        let want = format!("public.{v}: view not carried over: it calls public.group_concat");
        assert!(notes.iter().any(|n| n.starts_with(&want)), "{want}\n{notes:#?}");
    }
    let reported: Vec<&str> = summary["validation"]["not_carried"]
        .as_array()
        .unwrap_or_else(|| panic!("the report lists what is not carried: {summary}"))
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(reported.iter().any(|n| n.starts_with("public.actor_info: view")), "{reported:?}");
    assert!(!reported.iter().any(|n| n.starts_with("public.staff_list")), "{reported:?}");
    let matview = "public.rental_by_category: materialized view not carried over";
    assert!(notes.iter().any(|n| n.starts_with(matview)), "{notes:#?}");
    assert!(notes.iter().any(|n| n.contains("trigger last_updated: trigger not carried")));
    assert!(notes.iter().any(|n| n.starts_with("public.last_day(")));
    for sql in [
        "SELECT id, name, address, \"zip code\", phone, city, country, notes, sid \
         FROM customer_list ORDER BY id",
        "SELECT category, total_sales FROM sales_by_film_category ORDER BY category",
        "SELECT store, manager, total_sales FROM sales_by_store ORDER BY store",
        "SELECT * FROM staff_list ORDER BY id",
        "SELECT count(*), sum(sid) FROM customer_list WHERE notes = 'active'",
        "SELECT country, count(*) FROM customer_list GROUP BY country \
         ORDER BY count(*) DESC, country LIMIT 5",
        "SELECT category FROM sales_by_film_category WHERE total_sales > 4500 ORDER BY 1",
    ] {
        ask_both(&db, &file, sql);
    }
}

/// A database with one of every object that is not a table, and views to carry and refuse.
fn shop() -> TestDb {
    let db = TestDb::new();
    db.execute(
        "CREATE SCHEMA sales;
         CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL, price numeric(8,2),
                            stock int, active boolean NOT NULL);
         CREATE TABLE sales.sale (id int PRIMARY KEY, item_id int REFERENCES item,
                                  qty int NOT NULL, note varchar(20));
         INSERT INTO item VALUES (1, 'apple', 0.50, 10, true), (2, 'pear', 0.75, NULL, true),
                                 (3, 'plum', 1.25, 0, false), (4, 'fig', NULL, 3, true);
         INSERT INTO sales.sale VALUES (1, 1, 3, 'a'), (2, 1, 2, NULL), (3, 2, 5, 'b'),
                                       (4, 3, 1, 'c'), (5, 4, 7, NULL);
         CREATE VIEW active_item AS
             SELECT id, name, price, coalesce(stock, 0) AS stock FROM item WHERE active;
         CREATE VIEW sales.by_item AS
             SELECT i.id, i.name, sum(s.qty) AS qty, count(s.note) AS noted,
                    max(s.qty) - min(s.qty) AS spread
               FROM active_item i LEFT JOIN sales.sale s ON s.item_id = i.id
              GROUP BY i.id, i.name;
         CREATE VIEW labelled AS
             SELECT id, CASE WHEN price IS NULL THEN 'unpriced' WHEN price < 1 THEN 'cheap'
                             ELSE 'dear' END AS label, name || '!' AS shout
               FROM item WHERE id IN (1, 2, 3, 4) AND NOT (stock IS NULL AND price > 5);
         CREATE VIEW shouted AS SELECT id, upper(name) AS name FROM item;
         CREATE VIEW halved AS SELECT id, stock / 2 AS half FROM item;
         CREATE MATERIALIZED VIEW item_totals AS SELECT item_id, sum(qty) AS qty
             FROM sales.sale GROUP BY item_id;
         CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER item_touch BEFORE UPDATE ON item FOR EACH ROW EXECUTE FUNCTION touch();
         CREATE PROCEDURE restock(n int) LANGUAGE sql AS $$ UPDATE item SET stock = n $$;
         ALTER TABLE item ENABLE ROW LEVEL SECURITY;
         CREATE POLICY only_active ON item USING (active);
         CREATE SEQUENCE ticket_no;",
    );
    db
}

#[test]
fn every_object_of_a_database_is_carried_or_listed_and_carried_views_answer_as_postgres() {
    let db = shop();
    let work = tempfile::tempdir().unwrap();
    let summary = migrate(work.path(), &db);
    let file = work.path().join("app.db");
    assert_eq!(sqlite_views(&file), ["active_item", "labelled", "sales_by_item"]);
    let notes = notes(&summary);
    for want in [
        "public.shouted: view not carried over: it calls upper",
        "public.halved: view not carried over: it uses the operator /",
        "public.item_totals: materialized view not carried over",
        "public.item, trigger item_touch: trigger not carried over",
        "public.touch(): function not carried over",
        "public.restock(IN n integer): procedure not carried over",
        "public.item, policy only_active: policy not carried over",
        "public.ticket_no: sequence not carried over",
    ] {
        assert!(notes.iter().any(|n| n.starts_with(want)), "{want}\n{notes:#?}");
    }
    for sql in [
        "SELECT * FROM active_item ORDER BY id",
        "SELECT name FROM active_item WHERE price > 0.6 ORDER BY name",
        "SELECT sum(stock), count(price) FROM active_item",
        "SELECT * FROM sales_by_item ORDER BY id",
        "SELECT name, qty FROM sales_by_item WHERE qty >= 5 ORDER BY qty DESC, name",
        "SELECT sum(noted), max(spread) FROM sales_by_item",
        "SELECT * FROM labelled ORDER BY id",
        "SELECT label, count(*) FROM labelled GROUP BY label ORDER BY label",
        "SELECT shout FROM labelled WHERE label = 'cheap' ORDER BY id",
        "SELECT a.name, b.label FROM active_item a JOIN labelled b ON a.id = b.id ORDER BY a.id",
    ] {
        let sql = sql.replace("sales_by_item", "SALES_BY_ITEM");
        // Postgres names the view sales.by_item; SQLite sales_by_item.
        let pg_sql = sql.replace("SALES_BY_ITEM", "sales.by_item");
        let lite_sql = sql.replace("SALES_BY_ITEM", "sales_by_item");
        let pg = db.query_strings(&pg_sql);
        let lite = sqlite_rows(&file, &lite_sql);
        let equal = pg.len() == lite.len()
            && pg.iter().zip(&lite).all(|(a, b)| a.iter().zip(b).all(|(x, y)| same(x, y)));
        assert!(equal, "{sql}\n--- expected ---\n{pg:?}\n--- got ---\n{lite:?}");
        assert!(!pg.is_empty(), "{sql}");
    }
}

#[test]
fn schema_from_an_export_writes_the_views_and_lists_the_rest_without_postgres() {
    let db = shop();
    let forged = Forged::export(&db, &[]);
    drop(db);
    let out = pg2lite(&["schema", "--out", "-"]).arg("--from").arg(&forged.export).run();
    let out = out.assert_code(0);
    assert!(out.stdout.contains("CREATE VIEW \"sales_by_item\""), "{out}");
    assert!(out.stdout.contains("-- note: public.shouted: view not carried over"), "{out}");
    assert!(out.stderr.contains("public.ticket_no: sequence not carried over"), "{out}");
    let work = tempfile::tempdir().unwrap();
    let import = pg2lite(&["import", "--yes", "--target", "app.db", "--from"])
        .arg(&forged.export)
        .cwd(work.path())
        .run()
        .assert_code(0);
    // Two views, a matview, a trigger, a function and a procedure, a policy, a sequence.
    let said = format!("{}{}", import.stdout, import.stderr);
    assert!(said.contains("not carried over: 8 database objects"), "{import}");
    assert!(said.contains("note: public.halved: view not carried over"), "{import}");
}

#[test]
fn a_view_definition_forged_to_smuggle_sql_is_refused_and_nothing_is_written() {
    let db = shop();
    let forged = Forged::export(&db, &[]);
    let (target, before) = old_target(forged.dir.path());
    for smuggled in [
        "SELECT id FROM public.item; DROP TABLE item",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "PRAGMA writable_schema = 1",
        "SELECT 1; SELECT 2",
    ] {
        let mut m = forged.manifest();
        m["objects"]["views"][0]["definition"] = smuggled.into();
        forged.set_manifest(m);
        let got = pg2lite(&["import", "--yes", "--no-backup", "--from"])
            .arg(&forged.export)
            .arg("--target")
            .arg(&target)
            .run();
        refused(got, 2, "is not a single SELECT", &target, &before);
        let verify = pg2lite(&["verify", "--deep"]).arg(&forged.export).run();
        let verify = verify.assert_code(1);
        assert!(verify.stdout.contains("is not a single SELECT"), "{verify}");
        let schema = pg2lite(&["schema", "--out", "-", "--from"]).arg(&forged.export).run();
        let schema = schema.assert_code(2).assert_stderr_contains("nothing is executed from it");
        assert!(!schema.stdout.contains("CREATE"), "{schema}");
    }
}

#[test]
fn matviews_as_tables_copies_a_matviews_rows_and_the_dry_run_lists_what_is_not_carried() {
    let db = shop();
    let work = tempfile::tempdir().unwrap();
    let dry = pg2lite(&["migrate", "--dry-run", "--source", &db.url(), "--target", "app.db"])
        .cwd(work.path())
        .run()
        .assert_code(0);
    let said = format!("{}{}", dry.stdout, dry.stderr);
    for want in [
        "public.item_totals: materialized view not carried over",
        "public.shouted: view not carried over",
        "public.item, policy only_active: policy not carried over",
    ] {
        assert!(said.contains(want), "{want}\n{dry}");
    }
    assert!(!work.path().join("app.db").exists(), "a dry run writes nothing");
    let out = pg2lite(&["migrate", "--json", "--matviews-as-tables", "--source", &db.url()])
        .arg("--target")
        .arg("app.db")
        .cwd(work.path())
        .run()
        .assert_code(0);
    let summary: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(summary["passed"], true, "{out}");
    let notes = notes(&summary);
    assert!(!notes.iter().any(|n| n.contains("item_totals")), "{notes:#?}");
    let file = work.path().join("app.db");
    ask_both(&db, &file, "SELECT item_id, qty FROM item_totals ORDER BY item_id");
    ask_both(&db, &file, "SELECT sum(qty) FROM item_totals WHERE item_id > 1");
}

#[test]
fn an_export_of_one_schema_records_only_that_schemas_objects_and_its_tables_triggers() {
    let db = shop();
    let forged = Forged::export(&db, &["--schema", "sales"]);
    let m = forged.manifest();
    let views: Vec<&str> = m["objects"]["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(views, ["by_item"], "{}", m["objects"]);
    assert_eq!(m["objects"]["triggers"], serde_json::json!([]), "{}", m["objects"]);
    assert_eq!(m["objects"]["policies"], serde_json::json!([]), "{}", m["objects"]);
    let out = pg2lite(&["schema", "--out", "-", "--from"]).arg(&forged.export).run().assert_code(0);
    let why = "public.active_item, which is not carried over";
    assert!(
        out.stderr.contains(&format!("sales.by_item: view not carried over: it reads {why}")),
        "{out}"
    );
}
