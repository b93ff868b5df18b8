//! Forged schemas (issue 12, items 3 and 11): expressions nested 100,000 deep in a default,
//! a check and an index predicate, a `char(n)` of two billion, a foreign key whose column
//! lists differ, an index on a column that does not exist, and an enum label written to break
//! out of its literal. `schema --from` and `import` never crash: what they cannot translate is
//! dropped with a note naming it; what contradicts the catalog is refused by name (exit 2),
//! with the old target byte-identical.

use serde_json::{Value, json};

use super::{Forged, old_target, refused};
use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::TestDb;

/// A table with one of everything a schema forgery edits: a check, a default, a partial
/// index, an enum column and a foreign key, with a row in each table.
fn exported() -> Forged {
    let db = TestDb::new();
    db.execute(
        "CREATE TYPE mood AS ENUM ('happy', 'sad');
         CREATE TABLE parent (id int PRIMARY KEY, code text UNIQUE);
         CREATE TABLE t (
             id int PRIMARY KEY,
             v int CONSTRAINT v_positive CHECK (v > 0),
             label text DEFAULT 'none',
             m mood,
             pad char(3) DEFAULT 'x',
             parent_id int CONSTRAINT t_parent REFERENCES parent (id)
         );
         CREATE INDEX t_v_partial ON t (v) WHERE v > 1;
         INSERT INTO parent VALUES (1, 'a');
         INSERT INTO t VALUES (1, 2, 'one', 'happy', 'ab', 1);",
    );
    Forged::export(&db, &[])
}

/// Applies `edit` to table `name`'s manifest entry and reseals.
fn forge(forged: &Forged, name: &str, edit: impl FnOnce(&mut Value)) {
    let mut m = forged.manifest();
    let tables = m["tables"].as_array_mut().expect("tables");
    let entry = tables.iter_mut().find(|t| t["name"] == name).expect("the table");
    edit(entry);
    forged.set_manifest(m);
}

fn column<'a>(entry: &'a mut Value, name: &str) -> &'a mut Value {
    let cols = entry["columns"].as_array_mut().expect("columns");
    cols.iter_mut().find(|c| c["name"] == name).expect("the column")
}

/// `pg2lite schema --from` of the forged export into a file beside it.
fn schema(forged: &Forged) -> Outcome {
    let out = forged.dir.path().join("schema.sql");
    pg2lite(&["schema", "--from"]).arg(&forged.export).arg("--out").arg(out).run()
}

/// The notes of a successful import (its `--json` summary), as one text.
fn imported_notes(forged: &Forged) -> String {
    let target = forged.dir.path().join("new.db");
    let got = forged.import(&target, &["--json"]).assert_code(0);
    assert!(!got.stderr.contains("panicked"), "{got}");
    let summary: Value = serde_json::from_str(&got.stdout).expect("a JSON summary");
    let notes = summary["notes"].as_array().expect("notes");
    notes.iter().map(|n| n.as_str().expect("a note is text")).collect::<Vec<_>>().join("\n")
}

/// Text nested `n` deep in each way a forger would nest it.
fn nested(n: usize) -> [String; 4] {
    [
        format!("{}v > 0{}", "(".repeat(n), ")".repeat(n)),
        format!("{}(v > 0)", "NOT ".repeat(n)),
        format!("v > {}1{}", "-(".repeat(n), ")".repeat(n)),
        format!("'x'{}", "::text".repeat(n)),
    ]
}

const DEEP: usize = 100_000;

#[test]
fn checks_nested_100000_deep_are_dropped_with_a_note_naming_them() {
    for (k, body) in nested(DEEP).into_iter().enumerate() {
        let forged = exported();
        forge(&forged, "t", |t| t["checks"][0]["definition"] = format!("CHECK ({body})").into());
        schema(&forged).assert_code(0);
        let notes = imported_notes(&forged);
        assert!(notes.contains("public.t, check v_positive"), "form {k}: {notes}");
        assert!(notes.contains("levels deep"), "form {k}: {notes}");
    }
}

#[test]
fn defaults_and_index_predicates_nested_100000_deep_are_dropped_with_a_note() {
    let [parens, nots, signs, casts] = nested(DEEP);
    let forged = exported();
    forge(&forged, "t", |t| {
        column(t, "label")["default"] = casts.clone().into();
        column(t, "v")["default"] = signs.into();
        let idx = t["indexes"].as_array_mut().expect("indexes");
        let partial = idx.iter_mut().find(|i| i["name"] == "t_v_partial").expect("index");
        partial["predicate"] = parens.into();
    });
    schema(&forged).assert_code(0);
    let notes = imported_notes(&forged);
    for object in ["column label", "column v", "index t_v_partial"] {
        assert!(notes.contains(&format!("public.t, {object}")), "{object}: {notes}");
    }
    let forged = exported();
    forge(&forged, "t", |t| {
        let idx = t["indexes"].as_array_mut().expect("indexes");
        let partial = idx.iter_mut().find(|i| i["name"] == "t_v_partial").expect("index");
        partial["predicate"] = nots.into();
    });
    assert!(imported_notes(&forged).contains("index t_v_partial"));
}

/// An OR chain 100,000 long is not deep: it is kept, grouped so SQLite can parse it, and
/// SQLite enforces it.
#[test]
fn a_check_of_100000_ors_is_kept_and_enforced() {
    let forged = exported();
    let terms: Vec<String> = (1..=DEEP).map(|i| format!("(v = {i})")).collect();
    let body = format!("CHECK (({}))", terms.join(" OR "));
    forge(&forged, "t", |t| t["checks"][0]["definition"] = body.into());
    let file = forged.path(&forged.table_file("t"));
    let rows = std::fs::read_to_string(file).expect("the data file");
    forged.write_table("t", &rows.replace("\"v\":2,", "\"v\":100000,"));
    let notes = imported_notes(&forged);
    assert!(!notes.contains("v_positive"), "{notes}");
    let conn = rusqlite::Connection::open(forged.dir.path().join("new.db")).expect("the file");
    let v: i64 = conn.query_row("SELECT v FROM t", [], |r| r.get(0)).expect("the row");
    assert_eq!(v, 100_000, "the last term's value was loaded and passed the check");
    conn.execute("UPDATE t SET v = 1", []).expect("a value the check allows");
    assert!(conn.execute("UPDATE t SET v = 100001", []).is_err(), "the check holds");
}

#[test]
fn a_huge_char_length_drops_the_default_with_a_note_instead_of_panicking() {
    let forged = exported();
    forge(&forged, "t", |t| column(t, "pad")["type"]["name"] = "character(2147483647)".into());
    schema(&forged).assert_code(0);
    let notes = imported_notes(&forged);
    assert!(notes.contains("public.t, column pad"), "{notes}");
    assert!(notes.contains("not a length Postgres allows"), "{notes}");
}

/// Refused by `schema` and `import` alike, naming `needle`, with the old target unchanged.
fn assert_refused(forged: &Forged, needle: &str) {
    let got = schema(forged).assert_code(2).assert_stderr_contains(needle);
    assert!(!got.stderr.contains("panicked"), "{got}");
    let (target, before) = old_target(forged.dir.path());
    let got = pg2lite(&["import", "--quiet", "--yes", "--no-backup", "--from"])
        .arg(&forged.export)
        .arg("--target")
        .arg(&target)
        .run();
    refused(got, 2, needle, &target, &before);
}

/// Issue 12, item 11: the lists were paired and the extra column silently dropped.
#[test]
fn a_foreign_key_with_column_lists_of_different_lengths_is_refused_by_name() {
    let forged = exported();
    forge(&forged, "t", |t| t["foreign_keys"][0]["columns"] = json!(["parent_id", "v"]));
    assert_refused(&forged, "public.t, foreign key t_parent: it pairs 2 column(s) with 1");
}

#[test]
fn a_foreign_key_to_a_missing_parent_column_is_refused_by_name() {
    let forged = exported();
    forge(&forged, "t", |t| t["foreign_keys"][0]["referenced_columns"] = json!(["ghost"]));
    assert_refused(&forged, "foreign key t_parent: it names column ghost, which public.parent");
}

/// Issue 12, item 11: SQLite read `"ghost"` as the string constant 'ghost'.
#[test]
fn an_index_on_a_missing_column_is_refused_by_name() {
    let forged = exported();
    forge(&forged, "t", |t| {
        let idx = t["indexes"].as_array_mut().expect("indexes");
        let partial = idx.iter_mut().find(|i| i["name"] == "t_v_partial").expect("index");
        partial["columns"][0]["column"] = "ghost".into();
        partial["columns"][0]["definition"] = "ghost".into();
    });
    assert_refused(&forged, "public.t, index t_v_partial: it names column ghost");
}

#[test]
fn keys_checks_and_predicates_on_missing_columns_are_refused_by_name() {
    let forged = exported();
    forge(&forged, "t", |t| t["primary_key"]["columns"] = json!(["ghost"]));
    assert_refused(&forged, "public.t, primary key t_pkey: it names column ghost");
    let forged = exported();
    forge(&forged, "t", |t| t["checks"][0]["definition"] = "CHECK ((ghost > 0))".into());
    assert_refused(&forged, "public.t, check v_positive: it names column ghost");
    let forged = exported();
    forge(&forged, "t", |t| t["indexes"][0]["predicate"] = "(ghost IS NULL)".into());
    assert_refused(&forged, "it names column ghost");
}

/// An enum label reaches SQLite only as a quoted literal: the label is a value the CHECK
/// allows, and nothing after its quote is executed.
#[test]
fn an_enum_label_built_to_escape_its_literal_stays_a_literal() {
    let forged = exported();
    let evil = "x');DROP TABLE parent;--\"'";
    forge(&forged, "t", |t| column(t, "m")["type"]["labels"] = json!(["happy", "sad", evil]));
    let as_json = serde_json::to_string(evil).expect("JSON text");
    forged.edit_table("t", |line| line.replace("\"happy\"", &as_json));
    schema(&forged).assert_code(0);
    imported_notes(&forged);
    let conn = rusqlite::Connection::open(forged.dir.path().join("new.db")).expect("the file");
    let parents: i64 =
        conn.query_row("SELECT count(*) FROM parent", [], |r| r.get(0)).expect("parent is there");
    assert_eq!(parents, 1);
    let m: String = conn.query_row("SELECT m FROM t", [], |r| r.get(0)).expect("the row");
    assert_eq!(m, evil, "the label was loaded as data");
    conn.execute("UPDATE t SET m = 'sad'", []).expect("another label is allowed");
    assert!(conn.execute("UPDATE t SET m = 'x'", []).is_err(), "the CHECK still holds");
}

/// An export made before pg2lite recorded JSON depth (here: the record removed) cannot tell
/// the schema to leave out the `json_valid` CHECK, so a value SQLite refuses fails the
/// import, naming its table, row key and column.
#[test]
fn deep_json_without_its_depth_record_fails_naming_table_row_and_column() {
    let db = TestDb::new();
    let deep = format!("{}{}", "[".repeat(1200), "]".repeat(1200));
    db.execute(&format!(
        "CREATE TABLE docs (id int PRIMARY KEY, body jsonb);
         INSERT INTO docs VALUES (1, '[1]'), (2, '{deep}');"
    ));
    let forged = Forged::export(&db, &[]);
    let m = forged.manifest();
    let entry = super::tables(&m).iter().find(|t| t["name"] == "docs").expect("docs");
    assert_eq!(entry["json_depth"]["body"], json!({"deepest": 1200, "beyond_sqlite": 1}));
    let target = forged.dir.path().join("recorded.db");
    forged.import(&target, &[]).assert_code(0);
    forge(&forged, "docs", |t| {
        t.as_object_mut().expect("an entry").remove("json_depth");
    });
    let (target, before) = old_target(forged.dir.path());
    let got = forged.import(&target, &[]);
    refused(
        got,
        2,
        "public.docs row (id=2), column body: SQLite's json_valid refuses",
        &target,
        &before,
    );
}

/// Issue 14: numeric facts forged to say every value is whole make the column INTEGER, and
/// the first value that is not whole stops the import, naming file, line and column; nothing
/// is stored rounded or truncated.
#[test]
fn forged_numeric_facts_cannot_make_a_fraction_an_integer() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE prices (id int PRIMARY KEY, cost numeric);
         INSERT INTO prices VALUES (1, 5), (2, 2.5);",
    );
    let forged = Forged::export(&db, &[]);
    let m = forged.manifest();
    let entry = super::tables(&m).iter().find(|t| t["name"] == "prices").expect("prices");
    let recorded = json!({"values": 2, "not_integer": 1, "not_double": 0, "max_digits": 2});
    assert_eq!(entry["numeric_facts"]["cost"], recorded);
    forge(&forged, "prices", |t| {
        t["numeric_facts"]["cost"]["not_integer"] = json!(0);
    });
    let (target, before) = old_target(forged.dir.path());
    let got = forged.import(&target, &[]);
    refused(got, 2, "line 2", &target, &before);
    let got = forged.import(&target, &[]);
    refused(got, 2, "numeric 2.5 is not a whole number", &target, &before);
}
