//! Tenant-scoped export on the sample multi-tenant database (tests/fixtures/tenants.sql):
//! exactly one user's rows leave Postgres, proven by hand-written counts and by grepping the
//! bytes for anything that belongs to another user.

use std::path::{Path, PathBuf};

use pg2lite::export::tenancy::{TenantOptions, TenantRef};
use pg2lite::export::{self, ExportSummary};
use pg2lite::model::manifest::{Filter, Manifest};
use pg2lite::progress::Silent;

use crate::export::options;
use crate::support::pg::TestDb;

pub fn tenants_db() -> TestDb {
    let db = TestDb::new();
    db.psql_file(fixture());
    db
}

pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tenants.sql")
}

pub fn user_uuid(db: &TestDb, n: u32) -> String {
    db.query_strings(&format!("SELECT md5('user-{n}')::uuid::text"))[0][0].clone().unwrap()
}

fn export_tenant(
    db: &TestDb,
    out: &Path,
    tenant: TenantRef,
) -> Result<ExportSummary, export::Error> {
    let mut opts = options(&db.url(), out);
    opts.tenant =
        Some(TenantOptions { column: "user_id".into(), tenant, table: None, whole_tables: vec![] });
    export::run(&opts, &Silent)
}

fn by_email(n: u32) -> TenantRef {
    TenantRef::Key { column: "email".into(), value: format!("user{n}@example.com") }
}

/// What user `n` owns, table by table, written by hand from the schema.
pub fn expected_counts(db: &TestDb, n: u32) -> Vec<(&'static str, u64)> {
    let uid = format!("md5('user-{n}')::uuid");
    let queries: Vec<(&str, String)> = vec![
        ("users", format!("SELECT count(*) FROM users WHERE id = {uid}")),
        ("user_preferences", format!("SELECT count(*) FROM user_preferences WHERE user_id = {uid}")),
        ("clients", format!("SELECT count(*) FROM clients WHERE user_id = {uid}")),
        ("birth_data", format!(
            "SELECT count(*) FROM birth_data b JOIN clients c ON c.id = b.client_id WHERE c.user_id = {uid}")),
        ("charts", format!("SELECT count(*) FROM charts WHERE user_id = {uid}")),
        ("chart_interpretations", format!(
            "SELECT count(*) FROM chart_interpretations i JOIN charts c ON c.id = i.chart_id WHERE c.user_id = {uid}")),
        ("interpretation_feedback", format!(
            "SELECT count(*) FROM interpretation_feedback f JOIN chart_interpretations i ON i.id = f.interpretation_id
               JOIN charts c ON c.id = i.chart_id WHERE c.user_id = {uid}")),
        ("session_notes", format!("SELECT count(*) FROM session_notes WHERE user_id = {uid}")),
        ("attachments", format!(
            "SELECT count(*) FROM attachments a JOIN session_notes s ON s.id = a.note_id WHERE s.user_id = {uid}")),
        ("location_cache", format!(
            "SELECT count(*) FROM location_cache l WHERE l.id IN (
               SELECT birth_place_id FROM clients WHERE user_id = {uid}
               UNION SELECT b.location_id FROM birth_data b JOIN clients c ON c.id = b.client_id
                      WHERE c.user_id = {uid})")),
        ("zodiac_signs", format!(
            "SELECT count(*) FROM zodiac_signs z WHERE z.id IN (
               SELECT sun_sign FROM clients WHERE user_id = {uid})")),
    ];
    queries
        .into_iter()
        .map(|(t, q)| {
            let n: u64 = db.query_strings(&format!("SELECT ({q})::text"))[0][0]
                .as_deref()
                .unwrap()
                .parse()
                .unwrap();
            (t, n)
        })
        .collect()
}

#[test]
fn a_tenant_export_holds_exactly_the_rows_a_hand_written_query_gives() {
    let db = tenants_db();
    let out = tempfile::tempdir().unwrap();
    let summary = export_tenant(&db, out.path(), by_email(2)).unwrap();
    let m = Manifest::load(&summary.dir).unwrap();
    for (table, want) in expected_counts(&db, 2) {
        let got = m.table("public", table).unwrap_or_else(|| panic!("{table} missing")).rows;
        assert_eq!(got, want, "{table}");
    }
    let tenant = m.options.tenant.as_ref().unwrap();
    assert_eq!(tenant.value, user_uuid(&db, 2));
    assert_eq!(tenant.named_by.as_ref().unwrap().column, "email");
    let filter = |t: &str| m.table("public", t).unwrap().filter.clone();
    assert!(matches!(filter("users"), Filter::TenantRow { .. }));
    assert!(matches!(filter("clients"), Filter::TenantColumn { .. }));
    let Filter::Lookup { referenced_by } = filter("location_cache") else { panic!("a lookup") };
    let from: Vec<&str> = referenced_by.iter().map(|h| h.from.name.as_str()).collect();
    assert_eq!(from, ["birth_data", "clients"]);
    let Filter::Path { path } = filter("interpretation_feedback") else { panic!("not a path") };
    let hops: Vec<&str> = path.iter().map(|h| h.to.name.as_str()).collect();
    assert_eq!(hops, ["chart_interpretations", "charts"]);
}

/// Every value that only other users' rows hold: their ids, emails, handles and markers.
pub fn foreign_needles(db: &TestDb, me: u32, users: u32) -> Vec<String> {
    (1..=users)
        .filter(|&n| n != me)
        .flat_map(|n| {
            [
                user_uuid(db, n),
                format!("user{n}@example.com"),
                format!("\"user{n}\""),
                format!("u{n}-"),
            ]
        })
        .collect()
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(files_under(&path)) } else { out.push(path) }
    }
    out
}

pub fn assert_no_needles(files: &[PathBuf], needles: &[String], own: &str) {
    let mut seen_own = false;
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        seen_own |= text.contains(own);
        for n in needles {
            assert!(
                !text.contains(n.as_str()),
                "{} holds {n:?}, which belongs to another user",
                f.display()
            );
        }
    }
    assert!(seen_own, "the user's own marker {own:?} is nowhere: the search cannot be trusted");
}

#[test]
fn no_byte_of_another_tenant_leaves_the_server() {
    let db = tenants_db();
    let out = tempfile::tempdir().unwrap();
    let summary = export_tenant(&db, out.path(), by_email(3)).unwrap();
    assert_no_needles(&files_under(&summary.dir), &foreign_needles(&db, 3, 5), "u3-");
}

#[test]
fn the_tenant_can_be_named_by_key_value_directly() {
    let db = tenants_db();
    let out = tempfile::tempdir().unwrap();
    let uid = user_uuid(&db, 4).to_uppercase();
    let summary = export_tenant(&db, out.path(), TenantRef::Value(uid)).unwrap();
    let m = Manifest::load(&summary.dir).unwrap();
    assert_eq!(m.options.tenant.as_ref().unwrap().value, user_uuid(&db, 4));
    assert_eq!(m.table("public", "clients").unwrap().rows, 12);
}

#[test]
fn an_unknown_tenant_is_refused_before_anything_is_written_naming_column_and_value() {
    let db = tenants_db();
    let out = tempfile::tempdir().unwrap();
    let nobody = TenantRef::Key { column: "email".into(), value: "nobody@example.com".into() };
    let err = export_tenant(&db, out.path(), nobody).unwrap_err().to_string();
    assert!(err.contains("email") && err.contains("nobody@example.com"), "{err}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    let missing = TenantRef::Value("00000000-0000-0000-0000-000000000000".into());
    let err = export_tenant(&db, out.path(), missing).unwrap_err().to_string();
    assert!(err.contains("00000000-0000-0000-0000-000000000000"), "{err}");
}

#[test]
fn a_tenant_key_column_that_is_not_unique_is_refused_naming_the_unique_ones() {
    let db = tenants_db();
    let out = tempfile::tempdir().unwrap();
    let by_plan = TenantRef::Key { column: "plan".into(), value: "pro".into() };
    let err = export_tenant(&db, out.path(), by_plan).unwrap_err().to_string();
    assert!(err.contains("\"plan\"") && err.contains("email") && err.contains("handle"), "{err}");
}

#[test]
fn rows_whose_path_to_the_tenant_is_null_belong_to_no_one_and_the_plan_says_so() {
    let db = tenants_db();
    let out = tempfile::tempdir().unwrap();
    let all_attachments = db.query_strings("SELECT count(*)::text FROM attachments")[0][0].clone();
    let mut total = 0;
    for n in 1..=5 {
        let summary = export_tenant(&db, out.path(), by_email(n)).unwrap();
        total += Manifest::load(&summary.dir).unwrap().table("public", "attachments").unwrap().rows;
    }
    let orphans = db.query_strings("SELECT count(*)::text FROM attachments WHERE note_id IS NULL")
        [0][0]
        .clone();
    let (all, orphans): (u64, u64) =
        (all_attachments.unwrap().parse().unwrap(), orphans.unwrap().parse().unwrap());
    assert!(orphans > 0);
    assert_eq!(total, all - orphans, "every owned attachment once, no orphan");
    // The plan explains it.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let source = pg2lite::pg::Source::resolve(Some(&db.url()), &Default::default()).unwrap();
    let catalog = rt.block_on(async {
        let c = source.connect().await.unwrap();
        pg2lite::pg::catalog::read(&c, &source).await.unwrap()
    });
    let opts = TenantOptions {
        column: "user_id".into(),
        tenant: by_email(1),
        table: None,
        whole_tables: vec![],
    };
    let plan = pg2lite::export::tenancy::plan(&catalog.tables, &opts).unwrap();
    let attachments = catalog.tables.iter().find(|t| t.name == "attachments").unwrap();
    assert!(plan.describe(attachments).contains("NULL"), "{}", plan.describe(attachments));
}

fn import_tenant(db: &TestDb, work: &Path, n: u32) -> PathBuf {
    let summary = export_tenant(db, work, by_email(n)).unwrap();
    let target = work.join(format!("user{n}.db"));
    pg2lite::import::run(&crate::import::import_options(&summary.dir, &target), &Silent).unwrap();
    target
}

fn sqlite_count(conn: &rusqlite::Connection, table: &str) -> u64 {
    conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| r.get::<_, i64>(0))
        .unwrap() as u64
}

#[test]
fn one_user_migrates_into_a_single_user_database() {
    let db = tenants_db();
    let work = tempfile::tempdir().unwrap();
    let target = import_tenant(&db, work.path(), 2);
    let conn = rusqlite::Connection::open(&target).unwrap();
    for (table, want) in expected_counts(&db, 2) {
        let name = if table == "users" { "app_config" } else { table };
        assert_eq!(sqlite_count(&conn, name), want, "{name}");
    }
    // The tenant column is gone from every table.
    let with_user_id: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema s, pragma_table_info(s.name) c
              WHERE s.type = 'table' AND c.name = 'user_id'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(with_user_id, 0);
    // app_config holds the user's own row, settings included.
    let (email, theme_seed): (String, String) = conn
        .query_row(
            "SELECT email, json_extract(settings, '$.theme_seed') FROM app_config",
            [],
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.to_string())),
        )
        .unwrap();
    assert_eq!((email.as_str(), theme_seed.as_str()), ("user2@example.com", "2"));
    assert!(
        !conn
            .query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'users'", [], |r| r
                .get::<_, i64>(0))
            .map(|n| n > 0)
            .unwrap()
    );
    let check: String =
        conn.query_row("PRAGMA foreign_key_check", [], |r| r.get(0)).unwrap_or_default();
    assert_eq!(check, "");
}

#[test]
fn neither_the_export_nor_the_sqlite_file_holds_a_byte_of_another_user() {
    let db = tenants_db();
    let work = tempfile::tempdir().unwrap();
    let target = import_tenant(&db, work.path(), 4);
    // grep the bytes: the export directory and the database file (WAL checkpointed on close).
    assert_no_needles(&files_under(work.path()), &foreign_needles(&db, 4, 5), "u4-");
    assert!(target.exists());
}

#[test]
fn tenancy_can_be_kept_and_the_tenant_table_renamed() {
    let db = tenants_db();
    let work = tempfile::tempdir().unwrap();
    let summary = export_tenant(&db, work.path(), by_email(1)).unwrap();
    let keep = work.path().join("keep.db");
    let mut opts = crate::import::import_options(&summary.dir, &keep);
    opts.schema.tenancy = pg2lite::import::Tenancy::Keep;
    pg2lite::import::run(&opts, &Silent).unwrap();
    let conn = rusqlite::Connection::open(&keep).unwrap();
    assert_eq!(sqlite_count(&conn, "users"), 1);
    let uid: String =
        conn.query_row("SELECT DISTINCT user_id FROM clients", [], |r| r.get(0)).unwrap();
    assert_eq!(uid, user_uuid(&db, 1));
    let renamed = work.path().join("renamed.db");
    let mut opts = crate::import::import_options(&summary.dir, &renamed);
    opts.schema.tenant_table_as = Some("me".into());
    pg2lite::import::run(&opts, &Silent).unwrap();
    let conn = rusqlite::Connection::open(&renamed).unwrap();
    assert_eq!(sqlite_count(&conn, "me"), 1);
}

/// The sample database plus what a shared database also holds (tests/fixtures/
/// tenants_shared.sql): sessions and support notes of every user with no foreign key, and
/// lookups (countries, continents, tags) with rows only other users' rows reference.
pub fn shared_db() -> TestDb {
    let db = tenants_db();
    db.psql_file(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tenants_shared.sql"));
    db
}

fn migrate(dir: &Path, db: &TestDb, extra: &[&str]) -> crate::support::cli::Outcome {
    let mut args = vec!["migrate", "--yes", "--target", "app.db"];
    args.extend_from_slice(&["--tenant-column", "user_id", "--tenant-key"]);
    args.push("email=user3@example.com");
    args.extend_from_slice(extra);
    crate::support::cli::pg2lite(&args).arg("--source").arg(db.url()).cwd(dir).run()
}

/// The text of one column of a SQLite table, sorted.
fn sqlite_keys(db: &Path, table: &str, column: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let sql = format!("SELECT CAST(\"{column}\" AS TEXT) FROM \"{table}\" ORDER BY 1");
    let mut stmt = conn.prepare(&sql).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// The same from Postgres, sorted the same way (by text, in the C collation).
fn pg_keys(db: &TestDb, sql: &str) -> Vec<String> {
    let sql = format!(
        "SELECT k FROM (SELECT x::text AS k FROM ({sql}) AS s(x)) AS t ORDER BY k COLLATE \"C\""
    );
    db.query_strings(&sql).into_iter().map(|r| r[0].clone().unwrap()).collect()
}

/// Postgres as the oracle: the rows of each lookup that user 3's rows reference, to closure.
fn expected_lookups(db: &TestDb) -> Vec<(&'static str, &'static str, String)> {
    let me = "(SELECT id FROM clients WHERE user_id = md5('user-3')::uuid)";
    let countries = format!("SELECT country_code FROM clients WHERE id IN {me}");
    vec![
        ("countries", "code", format!("SELECT code FROM countries WHERE code IN ({countries})")),
        (
            "continents",
            "id",
            format!(
                "SELECT id FROM continents WHERE id IN \
                 (SELECT continent_id FROM countries WHERE code IN ({countries}))"
            ),
        ),
        (
            "tags",
            "id",
            format!("SELECT id FROM tags WHERE id IN (SELECT tag_id FROM client_tags WHERE client_id IN {me})"),
        ),
        (
            "location_cache",
            "id",
            format!(
                "SELECT id FROM location_cache WHERE id IN (SELECT birth_place_id FROM clients \
                 WHERE id IN {me} UNION SELECT location_id FROM birth_data WHERE client_id IN {me})"
            ),
        ),
        (
            "zodiac_signs",
            "id",
            format!("SELECT id FROM zodiac_signs WHERE id IN (SELECT sun_sign FROM clients WHERE id IN {me})"),
        ),
    ]
    .into_iter()
    .inspect(|(t, _, sql)| assert!(!pg_keys(db, sql).is_empty(), "{t}: the oracle finds nothing"))
    .collect()
}

fn only_export(work: &Path) -> PathBuf {
    crate::hostile::only_export(&work.join("migration_data"))
}

#[test]
fn issue_12_one_tenants_migrate_leaves_shared_tables_out_and_takes_only_the_lookup_rows_hers_reference()
 {
    let db = shared_db();
    let work = tempfile::tempdir().unwrap();
    let plan = migrate(work.path(), &db, &["--dry-run"]).assert_code(0);
    let left_out = "left out (no path to the tenant): public.sessions, public.support_notes";
    assert!(plan.stdout.contains(left_out), "the plan names them:\n{plan}");
    assert!(!plan.stdout.contains("shared lookup"), "{plan}");
    let run = migrate(work.path(), &db, &[]).assert_code(0);
    assert!(
        run.stdout.contains("left out") && run.stdout.contains("public.support_notes"),
        "{run}"
    );
    let export = only_export(work.path());
    let m = Manifest::load(&export).unwrap();
    for t in ["sessions", "support_notes"] {
        let entry = m.table("public", t).unwrap();
        assert_eq!((entry.filter.clone(), entry.rows), (Filter::LeftOut, 0), "{t}");
    }
    assert!(matches!(m.table("public", "countries").unwrap().filter, Filter::Lookup { .. }));
    assert!(matches!(m.table("public", "client_tags").unwrap().filter, Filter::Path { .. }));
    // Exactly the rows her rows reference, as Postgres computes them.
    let target = work.path().join("app.db");
    for (table, key, sql) in expected_lookups(&db) {
        assert_eq!(sqlite_keys(&target, table, key), pg_keys(&db, &sql), "{table}");
    }
    // Not a byte of anyone else: the export directory and the SQLite file, grepped.
    let mut needles = foreign_needles(&db, 3, 5);
    needles.extend(
        ["nobody-land", "unused-tag", "continent-6", "u3-private", "tok-u3"].map(String::from),
    );
    let mut files = files_under(&export);
    files.push(target);
    assert_no_needles(&files, &needles, "u3-land-a");
}

#[test]
fn whole_table_brings_the_whole_country_list_and_the_plan_says_which_tables_it_took() {
    let db = shared_db();
    let work = tempfile::tempdir().unwrap();
    let flag = ["--whole-table", "countries"];
    let plan = migrate(work.path(), &db, &[&flag[..], &["--dry-run"]].concat()).assert_code(0);
    assert!(plan.stdout.contains("whole by --whole-table: public.countries"), "{plan}");
    let run = migrate(work.path(), &db, &flag).assert_code(0);
    assert!(run.stdout.contains("whole by --whole-table: public.countries"), "{run}");
    let target = work.path().join("app.db");
    assert_eq!(
        sqlite_keys(&target, "countries", "code"),
        pg_keys(&db, "SELECT code FROM countries")
    );
    // Continents follow the whole country list upward, still as a lookup.
    let continents = "SELECT id FROM continents WHERE id IN (SELECT continent_id FROM countries)";
    assert_eq!(sqlite_keys(&target, "continents", "id"), pg_keys(&db, continents));
    let m = Manifest::load(&only_export(work.path())).unwrap();
    assert_eq!(m.table("public", "countries").unwrap().filter, Filter::WholeTable);
    for (pattern, why) in
        [("nothing_like_it", "matches no exported table"), ("clients", "path to the tenant")]
    {
        let out =
            migrate(work.path(), &db, &["--dry-run", "--whole-table", pattern]).assert_code(2);
        assert!(out.stderr.contains(pattern) && out.stderr.contains(why), "{out}");
    }
}

#[test]
fn validate_fails_when_a_forged_lookup_row_is_referenced_by_no_row_of_the_tenant_or_a_left_out_table_has_rows()
 {
    let db = shared_db();
    let forged = crate::hostile::Forged::export(
        &db,
        &["--tenant-column", "user_id", "--tenant-key", "email=user3@example.com"],
    );
    let file = forged.path(&forged.table_file("countries"));
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("{\"code\":\"X1b\",\"name\":\"u1-land-b\",\"continent_id\":0}\n");
    forged.write_table("countries", &text);
    // And a row in a table the export left out.
    forged.write_table("sessions", "{\"token\":\"t\",\"user_email\":\"user1@example.com\",\"created_at\":\"2024-01-01T00:00:00.000000Z\"}\n");
    let mut m = forged.manifest();
    for t in m["tables"].as_array_mut().unwrap() {
        if t["name"] == "countries" || t["name"] == "sessions" {
            t["rows"] = (t["rows"].as_u64().unwrap() + 1).into();
        }
    }
    forged.set_manifest(m);
    let target = forged.dir.path().join("t.db");
    forged.import(&target, &[]).assert_code(0);
    let out = crate::support::cli::pg2lite(&["validate", "--json"])
        .arg("--from")
        .arg(&forged.export)
        .arg("--target")
        .arg(&target)
        .run()
        .assert_code(1);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let failed: Vec<String> = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["checks"]["tenancy"]["status"] == "fail")
        .map(|t| format!("{} {}", t["source"], t["checks"]["tenancy"]["details"]))
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed[0].contains("public.countries") && failed[0].contains("X1b"), "{failed:?}");
    assert!(failed[0].contains("referenced by no exported row"), "{failed:?}");
    assert!(failed[1].contains("public.sessions") && failed[1].contains("left out"), "{failed:?}");
}
