//! `pg2lite schema` against a real Postgres: the DDL it writes for Pagila loads in the real
//! `sqlite3` and keeps Pagila's keys, foreign keys, enum and indexes (checked against
//! Postgres' own catalog), names what it cannot carry over, is the same from an export and
//! from the database, is deterministic, and refuses an edited manifest.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use rusqlite::Connection;

use crate::export::export_db;
use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::TestDb;

/// A database, its export, and a working directory for the command.
struct Fixture {
    db: TestDb,
    work: tempfile::TempDir,
    export: PathBuf,
}

impl Fixture {
    fn pagila() -> Fixture {
        let db = TestDb::new();
        db.load_pagila();
        Fixture::exported(db)
    }

    fn exported(db: TestDb) -> Fixture {
        let work = tempfile::tempdir().unwrap();
        let export = export_db(&db, &work.path().join("migration_data")).dir;
        Fixture { db, work, export }
    }

    /// `pg2lite schema --from <export> --out <name> [extra...]`, run in the working directory.
    fn schema_from(&self, out: &str, extra: &[&str]) -> Outcome {
        let mut run = pg2lite(&["schema", "--from"]).arg(&self.export).arg("--out").arg(out);
        for a in extra {
            run = run.arg(a);
        }
        run.cwd(self.work.path()).run()
    }

    fn read(&self, out: &str) -> String {
        fs::read_to_string(self.work.path().join(out)).expect("the schema file was written")
    }
}

/// Runs the DDL with the real `sqlite3` CLI (`sqlite3 :memory: < file`), which must accept it
/// as is, then loads it into an in-memory rusqlite connection to look at what it declares.
fn load(ddl: &str) -> Connection {
    let mut child = Command::new("sqlite3")
        .args(["-bail", ":memory:"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sqlite3 runs");
    child.stdin.take().unwrap().write_all(ddl.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "sqlite3 refused the DDL: {stderr}\n{ddl}");
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(ddl).unwrap();
    conn
}

/// `(from columns, parent table, parent columns)` of each foreign key of `table`.
fn sqlite_fks(conn: &Connection, table: &str) -> BTreeSet<(String, String, String)> {
    let mut stmt = conn
        .prepare(
            "SELECT id, \"table\", group_concat(\"from\", ','), group_concat(\"to\", ',') \
             FROM (SELECT * FROM pragma_foreign_key_list(?1) ORDER BY id, seq) GROUP BY id",
        )
        .unwrap();
    let rows =
        stmt.query_map([table], |r| Ok((r.get::<_, String>(2)?, r.get(1)?, r.get(3)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

/// The same, from Postgres' catalog, for table `public.<table>`.
fn pg_fks(db: &TestDb, table: &str) -> BTreeSet<(String, String, String)> {
    let sql = format!(
        "SELECT (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(c.conkey) \
                 WITH ORDINALITY k(att, n) JOIN pg_attribute a ON a.attrelid = c.conrelid \
                 AND a.attnum = k.att), \
                c.confrelid::regclass::text, \
                (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(c.confkey) \
                 WITH ORDINALITY k(att, n) JOIN pg_attribute a ON a.attrelid = c.confrelid \
                 AND a.attnum = k.att) \
         FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = 'public.{table}'::regclass"
    );
    db.query_strings(&sql)
        .into_iter()
        .map(|r| {
            let v = |i: usize| r[i].clone().unwrap_or_default();
            (v(0), v(1).trim_start_matches("public.").to_owned(), v(2))
        })
        .collect()
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

fn tables(conn: &Connection) -> Vec<String> {
    let mut stmt =
        conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn pagila_schema_from_an_export_loads_in_sqlite3_with_its_foreign_keys() {
    let f = Fixture::pagila();
    let got = f.schema_from("schema/pagila.sql", &[]).assert_code(0);
    assert!(got.stdout.contains("schema/pagila.sql"), "the path written is printed:\n{got}");
    let ddl = f.read("schema/pagila.sql");
    let conn = load(&ddl);
    let names = tables(&conn);
    for t in ["actor", "film", "film_actor", "rental", "payment", "inventory", "customer"] {
        assert!(names.contains(&t.to_owned()), "{t} missing from {names:?}");
    }
    // payment is partitioned and its foreign keys are declared on the partitions; the root
    // adopts them (every partition's rows satisfy them), so SQLite declares them.
    for t in names.iter().filter(|t| *t != "payment") {
        assert_eq!(sqlite_fks(&conn, t), pg_fks(&f.db, t), "foreign keys of {t}");
    }
    assert_eq!(
        sqlite_fks(&conn, "payment"),
        set(&[
            ("customer_id", "customer", "customer_id"),
            ("rental_id", "rental", "rental_id"),
            ("staff_id", "staff", "staff_id")
        ])
    );
    assert_eq!(
        sqlite_fks(&conn, "film_actor"),
        set(&[("actor_id", "actor", "actor_id"), ("film_id", "film", "film_id")])
    );
    assert_eq!(
        sqlite_fks(&conn, "rental"),
        set(&[
            ("customer_id", "customer", "customer_id"),
            ("inventory_id", "inventory", "inventory_id"),
            ("staff_id", "staff", "staff_id"),
        ])
    );
}

#[test]
fn pagila_schema_uses_only_four_types_and_keeps_the_enum_indexes_and_notes() {
    let f = Fixture::pagila();
    let got = pg2lite(&["schema", "--from"]).arg(&f.export).cwd(f.work.path()).assert_code(0);
    let default_out = format!("schema/{}.sql", f.db.name());
    assert!(got.stdout.contains(&default_out), "written to schema/<database>.sql:\n{got}");
    let ddl = f.read(&default_out);
    let conn = load(&ddl);

    let mut stmt = conn
        .prepare(
            "SELECT m.name, p.name, p.type FROM sqlite_schema m, pragma_table_info(m.name) p \
             WHERE m.type = 'table'",
        )
        .unwrap();
    let columns: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(columns.len() > 80, "Pagila has many columns: {columns:?}");
    for (t, c, ty) in &columns {
        assert!(["INTEGER", "REAL", "TEXT", "BLOB"].contains(&ty.as_str()), "{t}.{c} is {ty}");
    }

    conn.execute("INSERT INTO language (language_id, name) VALUES (1, 'English')", []).unwrap();
    let insert = |rating: &str| {
        conn.execute(
            "INSERT INTO film (title, language_id, fulltext, rating) VALUES ('t', 1, '', ?1)",
            [rating],
        )
    };
    insert("PG-13").expect("an mpaa_rating label is accepted");
    let err = insert("X").expect_err("a value outside mpaa_rating is refused");
    assert!(err.to_string().contains("CHECK constraint failed"), "{err}");

    assert_eq!(
        index(&conn, "rental", "idx_unq_rental_rental_date_inventory_id_customer_id"),
        Some((true, vec!["rental_date".into(), "inventory_id".into(), "customer_id".into()]))
    );
    assert_eq!(
        index(&conn, "inventory", "idx_store_id_film_id"),
        Some((false, vec!["store_id".into(), "film_id".into()]))
    );
    assert_eq!(
        index(&conn, "store", "idx_unq_manager_staff_id"),
        Some((true, vec!["manager_staff_id".into()]))
    );

    let fulltext = got.stderr.lines().find(|l| l.contains("film_fulltext_idx"));
    let fulltext = fulltext.unwrap_or_else(|| panic!("no note on the gist index:\n{got}"));
    assert!(fulltext.starts_with("note: public.film") && fulltext.contains("gist"), "{fulltext}");
    let notes: Vec<&str> = got.stderr.lines().filter(|l| l.starts_with("note: ")).collect();
    let comments: Vec<&str> = ddl.lines().filter(|l| l.starts_with("-- note: ")).collect();
    assert_eq!(notes.len(), comments.len(), "each note on stderr is a comment in the DDL");
    for n in notes {
        assert!(comments.iter().any(|c| c.ends_with(&n["note: ".len()..])), "{n}");
    }
}

/// `(unique, columns)` of index `name` on `table`.
fn index(conn: &Connection, table: &str, name: &str) -> Option<(bool, Vec<String>)> {
    let unique: Option<bool> = conn
        .query_row(
            "SELECT \"unique\" FROM pragma_index_list(?1) WHERE name = ?2",
            [table, name],
            |r| r.get(0),
        )
        .ok();
    let mut stmt = conn.prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno").unwrap();
    let cols = stmt.query_map([name], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    unique.map(|u| (u, cols))
}

/// The DDL without the header lines that name where it came from.
fn without_origin(ddl: &str) -> String {
    let keep = |l: &&str| !l.starts_with("-- source: ") && !l.starts_with("-- export: ");
    ddl.lines().filter(keep).collect::<Vec<_>>().join("\n")
}

#[test]
fn schema_from_the_database_equals_schema_from_its_export_but_for_the_origin() {
    let f = Fixture::pagila();
    f.schema_from("from_export.sql", &[]).assert_code(0);
    let got = pg2lite(&["schema", "--source", &f.db.url(), "--out", "from_db.sql"])
        .cwd(f.work.path())
        .assert_code(0);
    assert!(got.stderr.contains("film_fulltext_idx"), "notes from --source too:\n{got}");
    let (from_export, from_db) = (f.read("from_export.sql"), f.read("from_db.sql"));
    let expected = without_origin(&from_export);
    let actual = without_origin(&from_db);
    assert!(expected == actual, "--from:\n{expected}\n\n--source:\n{actual}");
    let source_line = from_db.lines().find(|l| l.starts_with("-- source: ")).unwrap_or("");
    assert!(source_line.ends_with(&format!("/{}", f.db.name())), "{source_line}");
    assert!(from_export.contains("-- export: "), "the export's id is in its header");
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let f = Fixture::pagila();
    f.schema_from("a.sql", &[]).assert_code(0);
    f.schema_from("b.sql", &[]).assert_code(0);
    assert!(f.read("a.sql") == f.read("b.sql"), "two runs on one export differ");
    for out in ["c.sql", "d.sql"] {
        pg2lite(&["schema", "--out", out])
            .env("DATABASE_URL", f.db.url())
            .cwd(f.work.path())
            .assert_code(0);
    }
    assert!(f.read("c.sql") == f.read("d.sql"), "two runs on one database differ");
}

#[test]
fn a_foreign_key_cycle_and_a_self_reference_load_in_sqlite3() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE dept (id int PRIMARY KEY, name text NOT NULL, head_id int);
         CREATE TABLE emp (id int PRIMARY KEY, dept_id int NOT NULL REFERENCES dept,
                           manager_id int REFERENCES emp);
         ALTER TABLE dept ADD FOREIGN KEY (head_id) REFERENCES emp;
         INSERT INTO dept VALUES (1, 'ops', NULL);
         INSERT INTO emp VALUES (1, 1, NULL), (2, 1, 1);
         UPDATE dept SET head_id = 1;",
    );
    let f = Fixture::exported(db);
    f.schema_from("cycle.sql", &[]).assert_code(0);
    let ddl = f.read("cycle.sql");
    let conn = load(&ddl);
    assert_eq!(sqlite_fks(&conn, "dept"), set(&[("head_id", "emp", "id")]));
    assert_eq!(
        sqlite_fks(&conn, "emp"),
        set(&[("dept_id", "dept", "id"), ("manager_id", "emp", "id")])
    );
    assert!(ddl.contains("foreign-key checks deferred"), "the cycle is named:\n{ddl}");
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; BEGIN; PRAGMA defer_foreign_keys = ON;
         INSERT INTO emp VALUES (2, 1, 1); INSERT INTO dept VALUES (1, 'ops', 1);
         INSERT INTO emp VALUES (1, 1, NULL); COMMIT;",
    )
    .expect("cyclic rows load with checks deferred");
}

#[test]
fn an_edited_manifest_is_refused_naming_it() {
    let f = Fixture::pagila();
    let manifest = f.export.join("manifest.json");
    let text = fs::read_to_string(&manifest).unwrap();
    let edited = text.replacen("\"rows\": ", "\"rows\": 1", 1);
    assert_ne!(text, edited);
    fs::write(&manifest, edited).unwrap();
    let got = f.schema_from("x.sql", &[]).assert_code(2);
    got.assert_stderr_contains(&manifest.display().to_string()).assert_stderr_contains("changed");
    assert!(!f.work.path().join("x.sql").exists(), "no schema is written");
    assert!(!f.work.path().join("x.sql.partial").exists(), "no partial file is left");
}

/// A small database with numerics of every kind and names to rename.
fn numbers_db() -> Fixture {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE account (id bigint PRIMARY KEY, name text NOT NULL,
                               balance numeric(12,2) NOT NULL DEFAULT 0, ratio numeric(5,4),
                               big numeric(30,0), any_number numeric);
         CREATE TABLE entry (id int PRIMARY KEY, account_id bigint NOT NULL REFERENCES account,
                             amount numeric(10,2) NOT NULL);
         CREATE INDEX entry_account ON entry (account_id, amount);
         INSERT INTO account VALUES (1, 'a', 12.50, 0.5, 1e25, 3.14);
         INSERT INTO entry VALUES (1, 1, 12.50);",
    );
    Fixture::exported(db)
}

fn column_types(conn: &Connection, table: &str) -> Vec<(String, String)> {
    let mut stmt = conn.prepare("SELECT name, type FROM pragma_table_info(?1)").unwrap();
    stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn numeric_columns_follow_the_numeric_option() {
    let f = numbers_db();
    f.schema_from("auto.sql", &[]).assert_code(0);
    f.schema_from("text.sql", &["--numeric", "text"]).assert_code(0);
    f.schema_from("real.sql", &["--numeric", "real"]).assert_code(0);
    let auto = column_types(&load(&f.read("auto.sql")), "account");
    let text = column_types(&load(&f.read("text.sql")), "account");
    let real = column_types(&load(&f.read("real.sql")), "account");
    let with = |ty: [&str; 4]| {
        let mut cols = vec![("id", "INTEGER"), ("name", "TEXT")];
        cols.extend(["balance", "ratio", "big", "any_number"].into_iter().zip(ty));
        pairs(&cols)
    };
    // big numeric(30,0) and unconstrained any_number are decided by their values (issue 14):
    // 1e25 and 3.14 are held exactly by a double.
    assert_eq!(auto, with(["REAL", "REAL", "REAL", "REAL"]));
    assert_eq!(text, with(["TEXT"; 4]));
    assert_eq!(real, with(["REAL"; 4]));
    f.schema_from("bad.sql", &["--numeric", "float"])
        .assert_code(2)
        .assert_stderr_contains("float");
}

#[test]
fn renames_apply_to_tables_columns_and_the_foreign_keys_to_them() {
    let f = numbers_db();
    let extra = ["--rename", "public.account=ledger", "--rename", "public.entry.amount=value"];
    f.schema_from("renamed.sql", &extra).assert_code(0);
    let conn = load(&f.read("renamed.sql"));
    assert_eq!(tables(&conn), vec!["entry".to_owned(), "ledger".to_owned()]);
    assert_eq!(sqlite_fks(&conn, "entry"), set(&[("account_id", "ledger", "id")]));
    let cols: Vec<String> = column_types(&conn, "entry").into_iter().map(|c| c.0).collect();
    assert_eq!(cols, ["id", "account_id", "value"]);
    assert_eq!(
        index(&conn, "entry", "entry_account"),
        Some((false, vec!["account_id".into(), "value".into()]))
    );

    let got = f.schema_from("x.sql", &["--rename", "public.nope=x"]).assert_code(2);
    got.assert_stderr_contains("public.nope");
    f.schema_from("x.sql", &["--rename", "public.account"]).assert_code(2);
    assert!(!f.work.path().join("x.sql").exists());
}

#[test]
fn strict_makes_every_table_strict() {
    let f = numbers_db();
    f.schema_from("strict.sql", &["--strict"]).assert_code(0);
    let ddl = f.read("strict.sql");
    let conn = load(&ddl);
    let strict: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_list WHERE strict AND schema = 'main'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(strict, 2, "{ddl}");
}

#[test]
fn from_and_source_together_are_refused() {
    let f = numbers_db();
    let got = f.schema_from("x.sql", &["--source", &f.db.url()]).assert_code(2);
    got.assert_stderr_contains("--from").assert_stderr_contains("--source");
}

#[test]
fn strip_tenancy_on_an_export_of_whole_tables_is_refused() {
    let f = numbers_db();
    let got = f.schema_from("x.sql", &["--strip-tenancy"]).assert_code(2);
    got.assert_stderr_contains("tenant-scoped")
        .assert_stderr_contains(&f.export.display().to_string());
}

#[test]
fn a_tenant_scoped_export_gets_a_single_user_schema() {
    use pg2lite::export::tenancy::{TenantOptions, TenantRef};

    let db = crate::tenancy::tenants_db();
    let work = tempfile::tempdir().unwrap();
    let mut opts = crate::export::options(&db.url(), &work.path().join("migration_data"));
    let tenant = TenantRef::Key { column: "email".into(), value: "user2@example.com".into() };
    opts.tenant =
        Some(TenantOptions { column: "user_id".into(), tenant, table: None, whole_tables: vec![] });
    let export = pg2lite::export::run(&opts, &pg2lite::progress::Silent).unwrap().dir;
    let f = Fixture { db, work, export };

    f.schema_from("one.sql", &[]).assert_code(0);
    let conn = load(&f.read("one.sql"));
    let names = tables(&conn);
    assert!(names.contains(&"app_config".to_owned()) && !names.contains(&"users".to_owned()));
    for t in &names {
        let cols = column_types(&conn, t);
        assert!(!cols.iter().any(|c| c.0 == "user_id"), "{t} keeps user_id: {cols:?}");
        assert!(!sqlite_fks(&conn, t).iter().any(|fk| fk.1 == "app_config"), "{t}");
    }
    f.schema_from("kept.sql", &["--keep-tenancy"]).assert_code(0);
    let kept = tables(&load(&f.read("kept.sql")));
    assert!(kept.contains(&"users".to_owned()), "{kept:?}");
    f.schema_from("as.sql", &["--tenant-table-as", "me"]).assert_code(0);
    assert!(tables(&load(&f.read("as.sql"))).contains(&"me".to_owned()));
}

/// `v = 0 OR v = 1 OR ... OR v = n-1`.
fn ors(n: usize) -> String {
    (0..n).map(|i| format!("v = {i}")).collect::<Vec<_>>().join(" OR ")
}

/// A JSON array nested `n` deep.
fn deep_json(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

/// Issue 12, items 3 and 4: valid schemas that crashed pg2lite or that SQLite cannot check.
fn unusual_db() -> TestDb {
    let db = TestDb::new();
    db.execute(&format!(
        "CREATE TABLE wide (id int PRIMARY KEY, v int CONSTRAINT six_thousand CHECK ({}));
         CREATE TABLE wide2 (id int PRIMARY KEY, v int CONSTRAINT fifteen_hundred CHECK ({}));
         CREATE TABLE nested (id int PRIMARY KEY, b bool CONSTRAINT forty_nots CHECK ({}b{}));
         CREATE TABLE padded (id int PRIMARY KEY, c char(70000) DEFAULT 'x');
         CREATE TABLE docs (id int PRIMARY KEY, body jsonb, meta json);
         INSERT INTO wide VALUES (1, 5999);
         INSERT INTO wide2 VALUES (1, 1499);
         INSERT INTO nested VALUES (1, true);
         INSERT INTO padded (id) VALUES (1);
         INSERT INTO docs VALUES (1, '{deep}', '{deep}'), (2, '{{\"a\": [1]}}', NULL);",
        ors(6000),
        ors(1500),
        "NOT (".repeat(40),
        ")".repeat(40),
        deep = deep_json(1200),
    ));
    db
}

/// Issue 12: `CHECK` with 6,000 ORs (a stack overflow), `char(70000) DEFAULT 'x'` (a panic),
/// a jsonb value 1,200 deep and a CHECK of 1,500 ORs (both refused by SQLite) migrate and
/// validate. The OR chains are kept and enforced; what SQLite cannot hold is dropped with a
/// note naming it; the fed import needed no second try.
#[test]
fn unusual_valid_schemas_migrate_validate_and_keep_what_sqlite_can_check() {
    let db = unusual_db();
    let work = tempfile::tempdir().unwrap();
    let got = pg2lite(&["migrate", "--json", "--source", &db.url(), "--target", "app.db"])
        .cwd(work.path())
        .assert_code(0);
    let summary: serde_json::Value = serde_json::from_str(&got.stdout).unwrap();
    assert_eq!(summary["passed"], true, "{got}");
    assert!(!got.stderr.contains("importing from its files"), "{got}");
    for note in [
        "public.nested, check forty_nots",
        "public.docs, column body: CHECK (json_valid(...)) not created: 1 value(s) nest deeper \
         than 1000 levels (the deepest 1200)",
        "public.docs, column meta: CHECK (json_valid(...)) not created",
    ] {
        assert!(got.stderr.contains(note), "expected the note {note:?}:\n{got}");
    }
    for kept in ["check six_thousand", "check fifteen_hundred", "public.padded, column c"] {
        assert!(!got.stderr.contains(kept), "{kept} needs no note:\n{got}");
    }
    let conn = Connection::open(work.path().join("app.db")).unwrap();
    assert!(conn.execute("INSERT INTO wide VALUES (2, 6000)", []).is_err(), "the check holds");
    conn.execute("INSERT INTO wide VALUES (2, 0)", []).unwrap();
    assert!(conn.execute("INSERT INTO wide2 VALUES (2, 1500)", []).is_err(), "the check holds");
    conn.execute("INSERT INTO padded (id) VALUES (2)", []).unwrap();
    let pad: String =
        conn.query_row("SELECT c FROM padded WHERE id = 2", [], |r| r.get(0)).unwrap();
    assert_eq!((pad.len(), pad.trim_end()), (70_000, "x"));
    let body: String =
        conn.query_row("SELECT body FROM docs WHERE id = 1", [], |r| r.get(0)).unwrap();
    assert_eq!(body, deep_json(1200));
}

/// The same export through `verify --deep`, a plain `import` from its files and `validate`.
#[test]
fn an_export_with_deep_json_verifies_imports_and_validates() {
    let db = unusual_db();
    let f = Fixture::exported(db);
    pg2lite(&["verify", "--deep"]).arg(&f.export).assert_code(0);
    let target = f.work.path().join("plain.db");
    let got = pg2lite(&["import", "--yes", "--from"])
        .arg(&f.export)
        .arg("--target")
        .arg(&target)
        .assert_code(0);
    assert!(got.stderr.contains("public.docs, column body: CHECK (json_valid(...))"), "{got}");
    pg2lite(&["validate", "--source", &f.db.url(), "--from"])
        .arg(&f.export)
        .arg("--target")
        .arg(&target)
        .assert_code(0);
}

#[test]
fn out_dash_prints_the_ddl_on_stdout_and_writes_no_file() {
    let f = numbers_db();
    f.schema_from("file.sql", &[]).assert_code(0);
    let got = f.schema_from("-", &[]).assert_code(0);
    assert!(got.stdout == f.read("file.sql"), "stdout is the DDL the file holds:\n{got}");
    assert!(got.stderr.contains("wrote the schema to stdout"), "{got}");
    let from_db = pg2lite(&["schema", "--source", &f.db.url(), "--out", "-"])
        .cwd(f.work.path())
        .assert_code(0);
    assert!(from_db.stdout.contains("CREATE TABLE"), "{from_db}");
    let left: Vec<_> =
        fs::read_dir(f.work.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!f.work.path().join("-").exists(), "a file named - was written: {left:?}");
    assert!(!f.work.path().join("schema").exists(), "the default file was written: {left:?}");
    load(&got.stdout);
}
