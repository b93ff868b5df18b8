//! The test harness itself: a real server, isolated databases, the vendored Pagila, password
//! and TLS authentication, private clusters, and the binary runner.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use pg2lite::pg::Source;

use crate::support::cli::pg2lite;
use crate::support::pg::{Cluster, TestDb, find_bin_dir, server};

/// The row counts of upstream's COPY blocks (tests/fixtures/pagila/README.md).
const PAGILA_ROWS: &[(&str, i64)] = &[
    ("actor", 200),
    ("address", 603),
    ("category", 16),
    ("city", 600),
    ("country", 109),
    ("customer", 599),
    ("film", 1000),
    ("film_actor", 5462),
    ("film_category", 2367),
    ("inventory", 4581),
    ("language", 6),
    ("payment", 16049),
    ("payment_p2022_01", 723),
    ("payment_p2022_02", 2401),
    ("payment_p2022_03", 2713),
    ("payment_p2022_04", 2547),
    ("payment_p2022_05", 2677),
    ("payment_p2022_06", 2654),
    ("payment_p2022_07", 2334),
    ("rental", 16044),
    ("staff", 1500),
    ("store", 500),
];

fn one(db: &TestDb, sql: &str) -> Option<String> {
    let rows = db.query_strings(sql);
    assert_eq!(rows.len(), 1, "expected one row from {sql}, got {rows:?}");
    rows[0][0].clone()
}

fn panic_text(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>().cloned().unwrap_or_else(|| format!("{err:?}"))
}

#[test]
fn a_fresh_test_database_is_empty_and_disappears_when_dropped() {
    let db = TestDb::new();
    let name = db.name().to_owned();
    assert!(name.starts_with("t_") && name.len() == 34, "{name}");
    let user_relations = "SELECT count(*) FROM pg_class \
         WHERE relnamespace::regnamespace::text \
         NOT IN ('pg_catalog', 'information_schema', 'pg_toast')";
    assert_eq!(one(&db, user_relations).as_deref(), Some("0"));
    assert_eq!(one(&db, "SELECT current_database()").as_deref(), Some(name.as_str()));
    let _still_open = db.client();
    drop(db);
    let mut admin = server().client("postgres");
    let left: i64 = admin
        .query_one("SELECT count(*) FROM pg_database WHERE datname = $1", &[&name])
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "database {name} is still there after its TestDb was dropped");
}

#[test]
fn two_test_databases_do_not_see_each_others_tables() {
    let (a, b) = (TestDb::new(), TestDb::new());
    assert_ne!(a.name(), b.name());
    a.execute("CREATE TABLE only_in_a (x int); INSERT INTO only_in_a VALUES (1), (2)");
    assert_eq!(one(&a, "SELECT count(*) FROM only_in_a").as_deref(), Some("2"));
    assert_eq!(one(&b, "SELECT to_regclass('public.only_in_a')"), None);
}

#[test]
fn execute_panics_with_the_postgres_error_and_the_sql() {
    let db = TestDb::new();
    let text = panic_text(|| db.execute("SELECT * FROM no_such_table"));
    assert!(text.contains(r#"relation "no_such_table" does not exist"#), "{text}");
    assert!(text.contains("SQLSTATE 42P01"), "{text}");
    assert!(text.contains("--- SQL ---\nSELECT * FROM no_such_table"), "{text}");
}

#[test]
fn query_strings_returns_text_output_and_null_as_none() {
    let db = TestDb::new();
    let rows =
        db.query_strings("SELECT 1.50::numeric, NULL::int, 'a''b' UNION ALL SELECT 2, 3, 'c'");
    let text = |s: &str| Some(s.to_owned());
    assert_eq!(
        rows,
        vec![vec![text("1.50"), None, text("a'b")], vec![text("2"), text("3"), text("c")]]
    );
}

#[test]
fn pagila_loads_every_table_and_partition_with_its_known_row_count() {
    let db = TestDb::new();
    db.load_pagila();
    let tables = db.query_strings(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace \
         AND relkind IN ('r', 'p') ORDER BY relname",
    );
    let got: Vec<&str> = tables.iter().map(|r| r[0].as_deref().unwrap()).collect();
    let expected: Vec<&str> = PAGILA_ROWS.iter().map(|(t, _)| *t).collect();
    assert_eq!(got, expected);
    let partitions =
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.payment'::regclass";
    assert_eq!(one(&db, partitions).as_deref(), Some("7"));
    for (table, rows) in PAGILA_ROWS {
        let count = one(&db, &format!("SELECT count(*) FROM public.{table}"));
        assert_eq!(count, Some(rows.to_string()), "rows in {table}");
    }
}

#[test]
fn a_password_role_needs_its_password_while_postgres_is_trusted() {
    let db = TestDb::new();
    let role = db.password_role("Right-horse-7");
    let connect = |url: String| postgres::Client::connect(&url, postgres::NoTls);

    let mut client = connect(db.url_as(&role, "Right-horse-7")).expect("the right password");
    let user: String = client.query_one("SELECT current_user::text", &[]).unwrap().get(0);
    assert_eq!(user, role);
    let stored = "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = $1";
    let scram: bool = server().client("postgres").query_one(stored, &[&role]).unwrap().get(0);
    assert!(scram, "the password of {role} is not stored as a SCRAM secret");

    let Err(wrong) = connect(db.url_as(&role, "wrong")) else {
        panic!("a wrong password must fail")
    };
    assert_eq!(wrong.as_db_error().map(|e| e.code().code()), Some("28P01"), "{wrong}");
    let none = format!("postgresql://{role}@{}:{}/{}", server().host(), server().port(), db.name());
    assert!(connect(none).is_err(), "no password must fail");
    if server().is_local() {
        let trusted = format!("postgresql://postgres@127.0.0.1:{}/{}", server().port(), db.name());
        connect(trusted).expect("postgres connects without a password");
        let rule = "SELECT auth_method FROM pg_hba_file_rules \
                    WHERE '+pw_required' = ANY(user_name) AND address = '127.0.0.1'";
        let method: String = server().client("postgres").query_one(rule, &[]).unwrap().get(0);
        assert_eq!(method, "scram-sha-256");
    }
}

#[test]
fn tls_is_on_when_openssl_exists_and_require_gets_an_encrypted_session() {
    let openssl = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("openssl").is_file());
    if server().is_local() {
        assert_eq!(server().has_tls(), openssl, "openssl on PATH: {openssl}");
    }
    let db = TestDb::new();
    let ssl_of = |mode: &str| {
        let url = format!("{}?sslmode={mode}", db.url());
        let source = Source::resolve(Some(&url), &HashMap::new()).expect("a valid URL");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let client = source.connect().await?;
            let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
            let row = client.query_one(sql, &[]).await.map_err(|e| source.query_error(&e))?;
            Ok::<bool, pg2lite::pg::Error>(row.get(0))
        })
    };
    assert!(!ssl_of("disable").unwrap(), "sslmode=disable must not use TLS");
    match ssl_of("require") {
        Ok(ssl) => assert!(ssl && server().has_tls(), "sslmode=require gave ssl={ssl}"),
        Err(e) => assert!(!server().has_tls(), "the server has TLS, yet require failed: {e}"),
    }
}

#[test]
fn a_private_cluster_stops_starts_again_and_leaves_nothing_when_dropped() {
    let cluster = Cluster::start();
    let dir = cluster.dir().expect("a private cluster is local").to_owned();
    cluster
        .client("postgres")
        .batch_execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
        .unwrap();
    cluster.stop();
    let refused = postgres::Client::connect(&cluster.url("postgres"), postgres::NoTls);
    assert!(refused.is_err(), "a stopped server must refuse connections");
    cluster.start_again();
    let x: i32 = cluster.client("postgres").query_one("SELECT x FROM kept", &[]).unwrap().get(0);
    assert_eq!(x, 7);
    let pid = fs::read_to_string(dir.join("data/postmaster.pid")).unwrap();
    let pid = pid.lines().next().unwrap().to_owned();
    assert!(running(&pid), "postmaster {pid} of a started cluster is not running");
    drop(cluster);
    assert!(!dir.exists(), "{} is still there", dir.display());
    assert!(!running(&pid), "postmaster {pid} still runs");
}

/// Whether a process exists and is not a zombie (an exited postmaster may wait a while for
/// init to reap it).
fn running(pid: &str) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z'))
}

#[test]
fn server_binaries_come_from_path_first_then_the_highest_installed_version() {
    let root = tempfile::tempdir().unwrap();
    let make = |dir: &Path| {
        fs::create_dir_all(dir).unwrap();
        for name in ["initdb", "pg_ctl", "postgres"] {
            fs::write(dir.join(name), "#!/bin/sh\n").unwrap();
            fs::set_permissions(dir.join(name), fs::Permissions::from_mode(0o755)).unwrap();
        }
    };
    let lib = root.path().join("lib");
    assert_eq!(find_bin_dir(Some("".as_ref()), &lib), None, "nothing installed");
    for version in ["9.6", "10", "15", "16beta"] {
        make(&lib.join(version).join("bin"));
    }
    fs::remove_file(lib.join("10/bin/postgres")).unwrap();
    assert_eq!(
        find_bin_dir(None, &lib),
        Some(lib.join("15/bin")),
        "15 > 9.6, 16beta is no version"
    );
    make(&root.path().join("on-path"));
    let path =
        std::env::join_paths([root.path().join("empty"), root.path().join("on-path")]).unwrap();
    assert_eq!(find_bin_dir(Some(&path), &lib), Some(root.path().join("on-path")));
}

#[test]
fn the_binary_runner_reports_expected_and_got_when_the_exit_code_differs() {
    let version = pg2lite(&["--version"]).assert_code(0);
    assert!(version.stdout.starts_with("pg2lite "), "{version}");
    pg2lite(&["no-such-command"]).assert_code(2).assert_stderr_contains("no-such-command");
    let text = panic_text(|| drop(pg2lite(&["--version"]).assert_code(3)));
    assert!(text.contains("expected: exit code 3"), "{text}");
    assert!(text.contains("got:\nexit code 0\n--- stdout ---\npg2lite "), "{text}");
}
