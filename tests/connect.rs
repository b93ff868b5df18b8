//! Connecting to the source (`pg2lite::pg::Source`) against a real server: every way it fails
//! names the problem and never shows the password; TLS and the libpq variables work.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pg2lite::pg::{Error, Source};

use crate::support::cli::{Outcome, Run, pg2lite};
use crate::support::pg::{Cluster, TestDb, free_port, server};

/// Distinctive, so that finding it anywhere in output is certainly a leak.
const SECRET: &str = "Sup3r-Secret-pw";

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn resolve(url: &str) -> Source {
    Source::resolve(Some(url), &env(&[])).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Connects (as pg2lite does) and returns the first row of `sql` in text form.
fn ask(source: &Source, sql: &str) -> Result<Vec<Option<String>>, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = source.connect().await?;
        let messages = client.simple_query(sql).await.map_err(|e| source.query_error(&e))?;
        let row = messages.into_iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        });
        let row = row.expect("the query returns a row");
        Ok((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect())
    })
}

fn connect_err(source: &Source) -> Error {
    match ask(source, "SELECT 1") {
        Ok(_) => panic!("connecting to {source} should fail"),
        Err(e) => e,
    }
}

/// The error's message and debug form, after checking neither holds the password.
fn shown(err: &Error) -> String {
    let text = format!("{err}\n{err:?}");
    assert!(!text.contains(SECRET), "the password leaked:\n{text}");
    text
}

#[test]
fn a_closed_port_is_refused_and_the_message_names_host_and_port() {
    let port = free_port();
    let source = resolve(&format!("postgresql://postgres:{SECRET}@127.0.0.1:{port}/postgres"));
    let err = connect_err(&source);
    let text = shown(&err);
    assert!(matches!(err, Error::Refused { .. }), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(
        text.contains("connection refused") && text.contains("is PostgreSQL running"),
        "{text}"
    );
}

#[test]
fn an_unknown_host_is_unreachable_and_the_message_names_it() {
    let url =
        format!("postgresql://alice:{SECRET}@nonexistent.invalid:5432/shop?connect_timeout=2");
    let err = connect_err(&resolve(&url));
    let text = shown(&err);
    assert!(matches!(err, Error::Unreachable { .. }), "{text}");
    assert!(text.contains("nonexistent.invalid") && text.contains("check the host name"), "{text}");
}

#[test]
fn a_wrong_password_is_an_authentication_error_naming_the_user() {
    let db = TestDb::new();
    let role = db.password_role("the-right-one");
    let err = connect_err(&resolve(&db.url_as(&role, SECRET)));
    let text = shown(&err);
    assert!(matches!(&err, Error::Auth { user, .. } if *user == role), "{text}");
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(text.contains("check the password"), "{text}");
}

#[test]
fn a_missing_password_is_an_authentication_error_that_says_one_is_needed() {
    let db = TestDb::new();
    let role = db.password_role(SECRET);
    let url = format!("postgresql://{role}@{}:{}/{}", server().host(), server().port(), db.name());
    let err = connect_err(&resolve(&url));
    let text = shown(&err);
    assert!(matches!(err, Error::Auth { .. }), "{text}");
    assert!(text.contains("asks for a password and none was given"), "{text}");
}

#[test]
fn a_database_that_does_not_exist_is_named_in_the_error() {
    let db = TestDb::new();
    let missing = format!("{}_gone", db.name());
    let url =
        format!("postgresql://postgres:{SECRET}@{}:{}/{missing}", server().host(), server().port());
    let err = connect_err(&resolve(&url));
    let text = shown(&err);
    assert!(matches!(&err, Error::NoDatabase { database, .. } if *database == missing), "{text}");
    assert!(text.contains(&format!("database \"{missing}\" does not exist")), "{text}");
}

#[test]
fn a_malformed_url_is_an_invalid_url_error_without_the_password() {
    for url in [
        format!("postgresql://alice:{SECRET}@db.example:notaport/shop"),
        format!("postgresql://alice:{SECRET}@db.example:5432/shop?nonsense_option=1"),
        format!("postgresql://alice:{SECRET}@db.example:5432/shop?connect_timeout=soon"),
        format!("host=db.example password={SECRET} port=x"),
    ] {
        let err = Source::resolve(Some(&url), &env(&[])).expect_err(&url);
        let text = shown(&err);
        assert!(matches!(err, Error::InvalidUrl { .. }), "{url}: {text}");
        assert!(text.contains("invalid connection string"), "{text}");
    }
}

#[test]
fn an_unknown_sslmode_is_refused_and_the_valid_ones_are_listed() {
    let url = format!("postgresql://alice:{SECRET}@db.example/shop?sslmode=always");
    let err = Source::resolve(Some(&url), &env(&[])).unwrap_err();
    let text = shown(&err);
    assert!(matches!(&err, Error::SslMode(mode) if mode == "always"), "{text}");
    assert!(text.contains("disable, prefer, require, verify-ca or verify-full"), "{text}");
    let from_env = env(&[("PGSSLMODE", "sometimes"), ("PGPASSWORD", SECRET)]);
    let err = Source::resolve(Some("postgresql://db.example/shop"), &from_env).unwrap_err();
    assert!(matches!(&err, Error::SslMode(mode) if mode == "sometimes"), "{}", shown(&err));
}

#[test]
fn sslmode_require_connects_over_tls_when_the_server_has_it() {
    let db = TestDb::new();
    let role = db.password_role(SECRET);
    let source = resolve(&format!("{}?sslmode=require", db.url_as(&role, SECRET)));
    let got = ask(
        &source,
        "SELECT ssl::text, current_user FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    match got {
        Ok(row) => {
            assert!(server().has_tls(), "require succeeded on a server without TLS: {row:?}");
            assert_eq!(row, vec![Some("true".to_owned()), Some(role)]);
        }
        Err(err) => {
            let text = shown(&err);
            assert!(!server().has_tls(), "the server has TLS, yet require failed: {text}");
            assert!(matches!(err, Error::NoTlsOnServer { .. }), "{text}");
        }
    }
}

/// Issue 12: the message used to say "try sslmode=require" to someone who had given it.
#[test]
fn sslmode_require_against_a_server_without_tls_says_the_server_has_none() {
    let cluster = Cluster::start_without_tls();
    assert!(!cluster.has_tls());
    for mode in ["require", "verify-ca", "verify-full"] {
        let url = format!("{}?sslmode={mode}", cluster.url("postgres"));
        let err = connect_err(&resolve(&url));
        let text = shown(&err);
        assert!(matches!(err, Error::NoTlsOnServer { .. }), "{text}");
        assert!(text.contains("does not accept TLS"), "{text}");
        assert!(text.contains(&format!("sslmode={mode} requires it")), "{text}");
        assert!(!text.contains("try sslmode=require"), "{text}");
    }
    let plain = format!("{}?sslmode=prefer", cluster.url("postgres"));
    ask(&resolve(&plain), "SELECT 1").unwrap_or_else(|e| panic!("{}", shown(&e)));
}

/// A certificate nobody vouches for fails `verify-full`, and the message says how to give
/// the CA or what encrypts without checking it.
#[test]
fn sslmode_verify_full_with_an_unknown_certificate_says_how_to_trust_it() {
    if !server().has_tls() {
        eprintln!("skipped: the test server has no TLS (no openssl)");
        return;
    }
    let db = TestDb::new();
    let err = connect_err(&resolve(&format!("{}?sslmode=verify-full", db.url())));
    let text = shown(&err);
    assert!(matches!(err, Error::TlsRefused { .. }), "{text}");
    assert!(text.contains("sslmode=verify-full") && text.contains("sslrootcert=FILE"), "{text}");
}

/// A server whose pg_hba.conf takes only TLS clients, asked with `sslmode=disable`: the
/// message says to turn TLS on (the other half of the old "try sslmode=require").
#[test]
fn sslmode_disable_against_a_server_that_demands_tls_says_to_use_require() {
    let cluster = Cluster::start();
    if !cluster.has_tls() {
        eprintln!("skipped: no openssl, so the private server has no TLS");
        return;
    }
    let hba = cluster.dir().expect("a private cluster").join("data/pg_hba.conf");
    std::fs::write(&hba, "local all all trust\nhostssl all all 127.0.0.1/32 trust\n").unwrap();
    cluster.client("postgres").batch_execute("SELECT pg_reload_conf()").unwrap();
    let url = format!("{}?sslmode=disable", cluster.url("postgres"));
    let err = connect_err(&resolve(&url));
    let text = shown(&err);
    assert!(matches!(err, Error::TlsRequired { .. }), "{text}");
    assert!(text.contains("no encryption") && text.contains("use sslmode=require"), "{text}");
    let tls = format!("{}?sslmode=require", cluster.url("postgres"));
    ask(&resolve(&tls), "SELECT 1").unwrap_or_else(|e| panic!("{}", shown(&e)));
}

#[test]
fn an_unknown_sslmode_in_a_spaced_or_quoted_key_value_string_is_named() {
    for conn in ["host=db.example sslmode = maybe", "host='db.example' sslmode='maybe'"] {
        let err = Source::resolve(Some(conn), &env(&[])).unwrap_err();
        let text = shown(&err);
        assert!(matches!(&err, Error::SslMode(m) if m == "maybe"), "{conn}: {text}");
        assert!(text.contains("use disable, prefer, require, verify-ca or verify-full"), "{text}");
    }
    let got = pg2lite(&["export", "--source", "host=h sslmode = maybe"])
        .assert_code(2)
        .assert_stderr_contains("unknown sslmode \"maybe\"");
    assert!(!got.stderr.contains("invalid connection string"), "{got}");
}

#[test]
fn the_libpq_variables_supply_host_port_user_password_and_database() {
    let db = TestDb::new();
    let role = db.password_role(SECRET);
    let port = server().port().to_string();
    let vars = env(&[
        ("PGHOST", server().host()),
        ("PGPORT", &port),
        ("PGUSER", &role),
        ("PGPASSWORD", SECRET),
        ("PGDATABASE", db.name()),
    ]);
    let source = Source::resolve(None, &vars).unwrap();
    let expected = format!("postgresql://{role}@{}:{port}/{}", server().host(), db.name());
    assert_eq!(source.to_string(), expected);
    let row = ask(&source, "SELECT current_user, current_database(), inet_server_port()::text");
    let row = row.unwrap_or_else(|e| panic!("{}", shown(&e)));
    assert_eq!(row, vec![Some(role), Some(db.name().to_owned()), Some(port)]);
}

#[test]
fn the_url_wins_over_the_libpq_variables() {
    let db = TestDb::new();
    let vars = env(&[("PGUSER", "nobody"), ("PGDATABASE", "elsewhere"), ("PGPORT", "1")]);
    let source = Source::resolve(Some(&db.url()), &vars).unwrap();
    let row = ask(&source, "SELECT current_user, current_database()").unwrap();
    assert_eq!(row, vec![Some("postgres".to_owned()), Some(db.name().to_owned())]);
}

#[test]
fn the_password_never_appears_in_display_or_debug() {
    let from_url = resolve(&format!("postgresql://alice:{SECRET}@db.example:6543/shop"));
    let from_env = Source::resolve(
        None,
        &env(&[("PGHOST", "db.example"), ("PGUSER", "alice"), ("PGPASSWORD", SECRET)]),
    )
    .unwrap();
    let key_value = resolve(&format!("host=db.example user=alice password={SECRET} dbname=shop"));
    for source in [from_url, from_env, key_value] {
        let text = format!("{source}\n{source:?}\n{}", source.with_database("other"));
        assert!(!text.contains(SECRET), "the password leaked:\n{text}");
        assert!(text.contains("alice@db.example"), "{text}");
    }
}

// --- Connections as libpq makes them (issue 15) ---

/// A database with one small table that a password role (returned) may read.
fn readable_by_password_role() -> (TestDb, String) {
    let db = TestDb::new();
    db.execute("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'a'), (2, 'b')");
    let role = db.password_role(SECRET);
    db.execute(&format!("GRANT SELECT ON items TO \"{role}\""));
    (db, role)
}

/// The URL of `db` as `role`, without a password.
fn url_without_password(db: &TestDb, role: &str) -> String {
    let host = server().host();
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
    format!("postgresql://{role}@{host}:{}/{}", server().port(), db.name())
}

/// A private file (0600 or `mode`) holding `text`.
fn write_file_with_mode(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `pg2lite` with HOME and PGSYSCONFDIR in `home`, so that no file of the developer's is read.
fn cli(home: &Path, args: &[&str]) -> Run {
    pg2lite(args).cwd(home).env("HOME", home).env("PGSYSCONFDIR", home.join("sysconf"))
}

/// The outcome, after checking that the password appears nowhere in it.
fn private(out: Outcome) -> Outcome {
    let text = format!("{}\n{}", out.stdout, out.stderr);
    assert!(!text.contains(SECRET), "the password leaked:\n{out}");
    out
}

#[test]
fn a_password_from_the_pgpass_file_logs_in_by_scram_and_the_first_match_wins() {
    let (db, role) = readable_by_password_role();
    let home = tempfile::tempdir().unwrap();
    let passfile = home.path().join("passwords");
    let port = server().port();
    let lines = format!(
        "# comment\nnowhere.invalid:*:*:*:wrong\n*:{port}:{}:{role}:{SECRET}\n*:*:*:{role}:wrong\n",
        db.name()
    );
    write_file_with_mode(&passfile, &lines, 0o600);
    let vars = env(&[("PGPASSFILE", &passfile.display().to_string()), ("HOME", "/nonexistent")]);
    let source = Source::resolve(Some(&url_without_password(&db, &role)), &vars).unwrap();
    assert!(source.warnings().is_empty(), "{:?}", source.warnings());
    let row = ask(&source, "SELECT current_user").unwrap_or_else(|e| panic!("{}", shown(&e)));
    assert_eq!(row, vec![Some(role)]);
}

#[test]
fn a_pgpass_file_others_can_read_is_ignored_with_a_warning_naming_it() {
    let (db, role) = readable_by_password_role();
    let home = tempfile::tempdir().unwrap();
    let passfile = home.path().join(".pgpass");
    let line = format!("*:*:*:{role}:{SECRET}\n");
    write_file_with_mode(&passfile, &line, 0o644);
    let url = url_without_password(&db, &role);
    let export = ["export", "--source", url.as_str(), "-w"];
    let got = private(cli(home.path(), &export).assert_code(2));
    let shown = passfile.display().to_string();
    assert!(
        got.stderr.contains(&format!("password file \"{shown}\" has group or world access"))
            && got.stderr.contains("permissions should be u=rw (0600) or less"),
        "{got}"
    );
    assert!(got.stderr.contains("asks for a password and none was given"), "{got}");
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let got = private(cli(home.path(), &export).assert_code(0));
    assert!(!got.stderr.contains("WARNING"), "{got}");
    assert!(got.stdout.contains("exported 1 table, 2 rows"), "{got}");
}

#[test]
fn a_service_file_supplies_the_connection_under_explicit_settings() {
    let (db, role) = readable_by_password_role();
    let home = tempfile::tempdir().unwrap();
    let services = home.path().join("services.conf");
    let host = server().host();
    let service = format!(
        "# services\n[other]\nhost=nowhere.invalid\n\n[app]\nhost={host}\nport={}\nuser={role}\n\
         password={SECRET}\ndbname=not_this_one\n",
        server().port()
    );
    write_file_with_mode(&services, &service, 0o600);
    let kv = format!("service=app dbname={}", db.name());
    let got = cli(home.path(), &["export", "--source", &kv, "-w"])
        .env("PGSERVICEFILE", &services)
        .env("PGHOST", "nowhere.invalid")
        .assert_code(0);
    assert!(private(got).stdout.contains("exported 1 table, 2 rows"));
    // PGSERVICE and ~/.pg_service.conf, with -d over the service's dbname.
    std::fs::copy(&services, home.path().join(".pg_service.conf")).unwrap();
    let got = cli(home.path(), &["export", "-d", db.name(), "--out", "second"])
        .env("PGSERVICE", "app")
        .assert_code(0);
    assert!(private(got).stdout.contains("exported 1 table, 2 rows"));
    let got = cli(home.path(), &["export", "--source", "service=absent"]).assert_code(2);
    assert!(got.stderr.contains("definition of service \"absent\" not found"), "{got}");
}

#[test]
fn dash_h_p_u_d_connect_as_pg_dump_does_and_override_the_url() {
    let (db, role) = readable_by_password_role();
    let home = tempfile::tempdir().unwrap();
    let port = server().port().to_string();
    let flags = ["-h", server().host(), "-p", &port, "-U", &role, "-d", db.name()];
    let mut args = vec!["export", "--out", "plain"];
    args.extend(flags);
    let got = cli(home.path(), &args).env("PGPASSWORD", SECRET).assert_code(0);
    assert!(private(got).stdout.contains("exported 1 table, 2 rows"));
    let wrong = format!("postgresql://nobody:{SECRET}@nowhere.invalid:1/wrong");
    let mut args = vec!["export", "--out", "over", "--source", &wrong];
    args.extend(flags);
    let got = cli(home.path(), &args).assert_code(0);
    assert!(private(got).stdout.contains("exported 1 table, 2 rows"));
    let kv = format!("host={} port={port} user={role} dbname={}", server().host(), db.name());
    let got = cli(home.path(), &["export", "--out", "kv", "-d", &kv])
        .env("PGPASSWORD", SECRET)
        .assert_code(0);
    assert!(private(got).stdout.contains("exported 1 table, 2 rows"));
    let got = cli(home.path(), &["export", "--source", &wrong, "-d", &kv]).assert_code(2);
    assert!(private(got).stderr.contains("give the connection string once"));
    let help = cli(home.path(), &["export", "-?"]).assert_code(0);
    assert!(help.stdout.contains("-h, --host <HOST>") && help.stdout.contains("-U, --username"));
}

#[test]
fn dash_w_never_asks_and_dash_cap_w_without_a_terminal_says_it_cannot_ask() {
    let (db, role) = readable_by_password_role();
    let home = tempfile::tempdir().unwrap();
    let url = url_without_password(&db, &role);
    let got = cli(home.path(), &["export", "--source", &url, "-w"]).assert_code(2);
    assert!(got.stderr.contains("asks for a password and none was given"), "{got}");
    let got = cli(home.path(), &["export", "--source", &url, "-W"]).assert_code(2);
    assert!(got.stderr.contains("-W/--password asks for the password on a terminal"), "{got}");
    // Without a terminal and without -w, nothing waits for a password either.
    let got = cli(home.path(), &["export", "--source", &url]).assert_code(2);
    assert!(got.stderr.contains("asks for a password and none was given"), "{got}");
    assert!(!home.path().join("migration_data").read_dir().is_ok_and(|mut d| d.next().is_some()));
}

#[test]
fn migrate_takes_source_and_target_as_positional_arguments() {
    let (db, role) = readable_by_password_role();
    let home = tempfile::tempdir().unwrap();
    let url = db.url_as(&role, SECRET);
    let got = private(cli(home.path(), &["migrate", &url, "app.db"]).assert_code(0));
    assert!(home.path().join("app.db").is_file(), "{got}");
    let got = cli(
        home.path(),
        &["migrate", &url, "app.db", "--target", "app.db", "--source", &url, "-y"],
    )
    .assert_code(0);
    private(got);
    let got = cli(home.path(), &["migrate", &url, "new.db", "--target", "other.db"]).assert_code(2);
    assert!(private(got).stderr.contains("the target is given twice"));
    assert!(!home.path().join("new.db").exists() && !home.path().join("other.db").exists());
    let other = db.url();
    let got = cli(home.path(), &["migrate", &url, "x.db", "--source", &other]).assert_code(2);
    assert!(private(got).stderr.contains("the source is given twice"));
    assert!(!home.path().join("x.db").exists());
}
