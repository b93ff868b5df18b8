//! Forged tenancy: filter conditions and hop names that would read a server file, sleep or
//! write when `validate --source` re-counts (issue 12, item 1), and tenant values that are
//! not strings with another tenant's row in the data (item 7).
//!
//! What `validate --source` sends to Postgres is read back from the server's own statement
//! log (`log_statement = all` on the test's database): no text of the manifest may be there.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Forged, old_target, refused};
use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::{TestDb, server};
use crate::tenancy::{tenants_db, user_uuid};

const TENANT: [&str; 4] = ["--tenant-column", "user_id", "--tenant-key", "email=user3@example.com"];

/// The server log's text, from the local cluster's file or through `pg_current_logfile()`.
fn server_log(db: &TestDb) -> String {
    if let Some(dir) = server().dir() {
        let bytes = std::fs::read(dir.join("server.log")).expect("the test server's log");
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let rows = db.query_strings("SELECT pg_read_file(pg_current_logfile())");
    rows[0][0].clone().expect("the server logs to a file (logging_collector = on)")
}

/// A tenant export of the sample database (with a sequence for forgeries to move).
fn export(db: &TestDb) -> Forged {
    db.execute("CREATE SEQUENCE victim_seq; SELECT setval('victim_seq', 7);");
    Forged::export(db, &TENANT)
}

/// Imports the export into a target, then logs every statement on this database.
fn import_then_log(db: &TestDb, forged: &Forged) -> PathBuf {
    let target = forged.dir.path().join("t.db");
    forged.import(&target, &[]).assert_code(0);
    db.execute(&format!("ALTER DATABASE \"{}\" SET log_statement = 'all'", db.name()));
    target
}

fn validate_source(forged: &Forged, target: &Path, db: &TestDb) -> (Outcome, Duration) {
    let started = Instant::now();
    let out = pg2lite(&["validate", "--source", &db.url()])
        .arg("--from")
        .arg(&forged.export)
        .arg("--target")
        .arg(target)
        .timeout(Duration::from_secs(240))
        .run();
    (out, started.elapsed())
}

/// Payloads that would read, sleep, write and reopen writing, each tagged with `mark`.
fn payloads(mark: &str) -> String {
    format!(
        "length(pg_read_file('/etc/passwd') || '{mark}') > 0 AND pg_sleep(30) IS NOT NULL \
         AND set_config('default_transaction_read_only', 'off', false) || '{mark}' <> '' \
         AND setval('victim_seq', 4242) > 0 AND lo_create(4242) > 0"
    )
}

/// An edit of the manifest.
type Forgery<'a> = Box<dyn Fn(&mut Value) + 'a>;

fn table_mut<'a>(m: &'a mut Value, name: &str) -> &'a mut Value {
    let tables = m["tables"].as_array_mut().expect("tables");
    tables.iter_mut().find(|t| t["name"] == name).unwrap_or_else(|| panic!("no table {name}"))
}

/// Asserts nothing of the forgery reached Postgres or happened there, and that the log was
/// on (it holds a statement of this test and validate's own bound count queries).
fn assert_untouched(db: &TestDb, mark: &str, elapsed: Duration) {
    let alive = format!("alive-{}", uuid::Uuid::new_v4().simple());
    // A new session: settings of the database apply to sessions that start after them.
    server().client(db.name()).batch_execute(&format!("SELECT '{alive}'")).expect("a query");
    let log = server_log(db);
    assert!(log.contains(&alive), "the statement log is not on: the check cannot be trusted");
    assert!(log.contains("AS t0 WHERE t0.\"user_id\" = $1"), "validate's own counts are logged");
    assert!(!log.contains(mark), "manifest text reached Postgres");
    for word in ["pg_read_file('/etc/passwd')", "lo_create(4242)", "setval('victim_seq', 4242)"] {
        assert!(!log.contains(word), "{word} reached Postgres");
    }
    let seq = db.query_strings("SELECT last_value::text FROM victim_seq");
    assert_eq!(seq[0][0].as_deref(), Some("7"), "the sequence was moved");
    let lo = db.query_strings("SELECT count(*)::text FROM pg_largeobject_metadata");
    assert_eq!(lo[0][0].as_deref(), Some("0"), "a large object was created");
    assert!(elapsed < Duration::from_secs(30), "pg_sleep ran: {elapsed:?}");
}

#[test]
fn a_forged_path_condition_is_never_run_and_the_counts_are_right() {
    let db = tenants_db();
    let forged = export(&db);
    let mark = format!("mark-{}", uuid::Uuid::new_v4().simple());
    let mut m = forged.manifest();
    // The old manifest field, holding SQL: it must be ignored, never executed.
    table_mut(&mut m, "interpretation_feedback")["filter"]["condition"] = payloads(&mark).into();
    table_mut(&mut m, "attachments")["filter"]["condition"] =
        format!("true) OR ({})", payloads(&mark)).into();
    forged.set_manifest(m);
    let target = import_then_log(&db, &forged);
    let (out, elapsed) = validate_source(&forged, &target, &db);
    let out = out.assert_code(0);
    assert!(!out.stdout.contains("root:"), "{out}");
    assert_untouched(&db, &mark, elapsed);
}

#[test]
fn forged_hop_and_column_names_are_refused_as_not_matching_the_live_catalog() {
    let db = tenants_db();
    let forged = export(&db);
    let target = import_then_log(&db, &forged);
    let original = forged.manifest();
    let mark = format!("mark-{}", uuid::Uuid::new_v4().simple());
    let evil = format!("x\" WHERE {} OR \"", payloads(&mark));
    let forgeries: Vec<(&str, Forgery<'_>)> = vec![
        (
            "interpretation_feedback",
            Box::new(|m: &mut Value| {
                let hop = &mut table_mut(m, "interpretation_feedback")["filter"]["path"][0];
                hop["to"]["name"] = evil.clone().into();
            }),
        ),
        (
            "birth_data",
            Box::new(|m: &mut Value| {
                table_mut(m, "birth_data")["filter"]["path"][0]["to_columns"] =
                    json!([evil.clone()]);
            }),
        ),
        (
            "location_cache",
            Box::new(|m: &mut Value| {
                let hop = &mut table_mut(m, "location_cache")["filter"]["referenced_by"][0];
                hop["columns"] = json!(["id"]);
            }),
        ),
        (
            "chart_interpretations",
            Box::new(|m: &mut Value| {
                let filter = &mut table_mut(m, "chart_interpretations")["filter"];
                *filter = json!({"kind": "path", "path": [{
                "from": {"schema": "public", "name": "chart_interpretations"}, "columns": ["id"],
                "to": {"schema": "public", "name": "charts"}, "to_columns": ["id"]}]});
            }),
        ),
    ];
    for (table, forge) in forgeries {
        let mut m = original.clone();
        forge(&mut m);
        forged.set_manifest(m);
        let (out, elapsed) = validate_source(&forged, &target, &db);
        let out = out.assert_code(2).assert_stderr_contains("does not match the live catalog");
        assert!(out.stderr.contains(&format!("public.{table}")), "names the table: {out}");
        assert!(!out.stderr.contains("panicked"), "{out}");
        assert_untouched(&db, &mark, elapsed);
    }
}

#[test]
fn a_tenant_value_that_is_not_a_string_is_refused_by_import_and_validate() {
    let db = tenants_db();
    let forged = Forged::export(&db, &TENANT);
    // Another tenant's row in a data file.
    let (me, other) = (user_uuid(&db, 3), user_uuid(&db, 1));
    forged.edit_table("clients", |l| l.replacen(&me, &other, 1));
    let original = forged.manifest();
    let (target, before) = old_target(forged.dir.path());
    for value in [json!(42), json!({"value": me}), json!([me]), json!(null), json!("")] {
        let mut m = original.clone();
        m["options"]["tenant"]["value"] = value.clone();
        forged.set_manifest(m);
        let needle = "options.tenant.value must be a non-empty string";
        refused(forged.import(&target, &[]), 2, needle, &target, &before);
        let validate = pg2lite(&["validate"]).arg("--from").arg(&forged.export).arg("--target");
        refused(validate.arg(&target).run(), 2, needle, &target, &before);
    }
}

#[test]
fn a_tenant_scoped_manifest_without_a_tenant_or_a_filter_for_every_table_is_refused() {
    let db = tenants_db();
    let forged = Forged::export(&db, &TENANT);
    let original = forged.manifest();
    let (target, before) = old_target(forged.dir.path());
    let cases: Vec<(Forgery<'_>, &str)> = vec![
        (
            Box::new(|m: &mut Value| table_mut(m, "charts")["filter"] = json!({"kind": "whole"})),
            "public.charts",
        ),
        (
            Box::new(|m: &mut Value| {
                table_mut(m, "clients").as_object_mut().unwrap().remove("filter");
            }),
            "public.clients",
        ),
        (Box::new(|m: &mut Value| m["options"]["tenant"] = Value::Null), "names no tenant"),
        (
            Box::new(|m: &mut Value| {
                table_mut(m, "charts")["filter"] =
                    json!({"kind": "tenant_column", "column": "client_id"})
            }),
            "\"client_id\"",
        ),
    ];
    for (forge, needle) in cases {
        let mut m = original.clone();
        forge(&mut m);
        forged.set_manifest(m);
        refused(forged.import(&target, &[]), 2, needle, &target, &before);
        let validate = pg2lite(&["validate"]).arg("--from").arg(&forged.export).arg("--target");
        refused(validate.arg(&target).run(), 2, needle, &target, &before);
    }
}
