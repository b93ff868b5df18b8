//! Redaction (`--redact`, `--exclude-column`, issue 16): on real Postgres, an export with
//! hashed e-mails, nulled password hashes and an excluded IP column holds none of the original
//! values anywhere (export directory and SQLite file, byte for byte), while joins across the
//! hashed key give Postgres' row counts; pseudonyms depend on the key and on nothing else;
//! verify and validate pass; and each mistake is refused before anything is written.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::TestDb;
use crate::tenancy::{tenants_db, user_uuid};

/// Accounts with e-mails, password hashes and logins (IP addresses) that reference them by
/// id, by e-mail, and by (id, e-mail) together.
const SCHEMA: &str = "
    create table accounts (
        id int primary key,
        email text not null unique,
        password_hash text not null,
        nickname varchar(40),
        unique (id, email),
        check (email like '%@%')
    );
    create table logins (
        id bigint primary key,
        account_id int not null references accounts,
        account_email text references accounts (email),
        ip inet,
        at timestamptz not null
    );
    create index logins_ip_idx on logins (ip);
    create table badges (
        id int primary key,
        account_id int not null,
        account_email text not null,
        foreign key (account_id, account_email) references accounts (id, email)
    );
    insert into accounts
        select i, 'person' || i || '@example.com', 'pbkdf2$' || md5('pw' || i),
               case when i % 3 = 0 then null else 'nick-' || i end
        from generate_series(1, 20) i;
    insert into logins
        select i, i % 20 + 1, case when i % 4 = 0 then null else 'person' || (i % 20 + 1) || '@example.com' end,
               ('10.1.' || (i % 7) || '.' || (i % 250 + 1))::inet,
               timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour'
        from generate_series(1, 60) i;
    insert into badges select i, i % 10 + 1, 'person' || (i % 10 + 1) || '@example.com'
        from generate_series(1, 15) i;
";

const KEY_A: &str = "a-redaction-key-of-some-length-1\n";
const KEY_B: &str = "another-redaction-key-entirely-2\n";

fn accounts_db() -> TestDb {
    let db = TestDb::new();
    db.execute(SCHEMA);
    db
}

fn strings(db: &TestDb, sql: &str) -> Vec<String> {
    db.query_strings(sql).into_iter().filter_map(|mut r| r.remove(0)).collect()
}

/// Every original value the redaction must keep out of every file.
fn originals(db: &TestDb) -> Vec<String> {
    let mut all = strings(db, "select email from accounts");
    all.extend(strings(db, "select password_hash from accounts"));
    all.extend(strings(db, "select host(ip) from logins"));
    all
}

/// Runs `pg2lite export` of `db` into `out` with `extra` arguments; the export directory.
fn export(db: &TestDb, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> PathBuf {
    let run = export_run(db, out, extra, env).assert_code(0);
    only_export(out).unwrap_or_else(|| panic!("no export in {}:\n{run}", out.display()))
}

fn export_run(db: &TestDb, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Outcome {
    let url = db.url();
    let mut args = vec!["export", "--source", url.as_str(), "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut run = pg2lite(&args);
    for (k, v) in env {
        run = run.env(k, v);
    }
    run.run()
}

fn only_export(out: &Path) -> Option<PathBuf> {
    let mut dirs = fs::read_dir(out).ok()?.map(|e| e.unwrap().path()).filter(|p| p.is_dir());
    dirs.next()
}

fn import(export: &Path, target: &Path, extra: &[&str]) {
    let mut args = vec!["import", "--from", export.to_str().unwrap(), "--target"];
    args.push(target.to_str().unwrap());
    args.extend_from_slice(&["--yes", "--no-backup"]);
    args.extend_from_slice(extra);
    pg2lite(&args).assert_code(0);
}

fn sqlite(db: &Path, sql: &str) -> String {
    crate::support::sqlite::sqlite3(db, sql).trim().to_owned()
}

/// Every file under `dir` (or `dir` itself when it is a file), read whole.
fn files(path: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    if path.is_file() {
        return vec![(path.to_owned(), fs::read(path).unwrap())];
    }
    fs::read_dir(path).unwrap().flat_map(|e| files(&e.unwrap().path())).collect()
}

/// Fails naming the file and the value when any of `needles` occurs in any file under `path`.
fn assert_absent(path: &Path, needles: &[String]) {
    for (file, bytes) in files(path) {
        for n in needles {
            let found = bytes.windows(n.len()).any(|w| w == n.as_bytes());
            assert!(!found, "{} holds the original value {n:?}", file.display());
        }
    }
}

fn manifest(export: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(export.join("manifest.json")).unwrap()).unwrap()
}

fn write_key(dir: &Path, name: &str, key: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, key).unwrap();
    path.to_str().unwrap().to_owned()
}

const REDACT: &[&str] = &[
    "--redact",
    "accounts.email=hash",
    "--redact",
    "public.accounts.password_hash=mask",
    "--redact",
    "accounts.nick*",
    "--exclude-column",
    "logins.ip",
];

#[test]
fn a_redacted_export_holds_no_original_value_and_its_joins_hold() {
    let db = accounts_db();
    let work = tempfile::tempdir().unwrap();
    let key = write_key(work.path(), "redact.key", KEY_A);
    let mut args = REDACT.to_vec();
    args.extend_from_slice(&["--redact-key-file", &key]);
    let export = export(&db, &work.path().join("out"), &args, &[]);
    let target = work.path().join("app.db");
    import(&export, &target, &[]);

    let originals = originals(&db);
    assert!(originals.len() > 90, "the fixture has values to look for");
    // The search finds them where they are: in an export without redaction.
    let plain = self::export(&db, &work.path().join("plain"), &[], &[]);
    let in_plain = std::panic::catch_unwind(|| assert_absent(&plain, &originals[..1]));
    assert!(in_plain.is_err(), "the byte search misses a value the plain export holds");
    assert_absent(&export, &originals);
    assert_absent(&target, &originals);
    assert_absent(&export, &[KEY_A.trim().to_owned()]);

    // Joins through the hashed key: referencing columns were hashed the same way.
    for (pg, lite) in [
        (
            "select count(*) from logins l join accounts a on a.email = l.account_email",
            "select count(*) from logins l join accounts a on a.email = l.account_email",
        ),
        (
            "select count(*) from badges b join accounts a on (a.id, a.email) = (b.account_id, b.account_email)",
            "select count(*) from badges b join accounts a on a.id = b.account_id and a.email = b.account_email",
        ),
        (
            "select count(distinct email) from accounts",
            "select count(distinct email) from accounts",
        ),
    ] {
        assert_eq!(sqlite(&target, lite), strings(&db, pg)[0], "{lite}");
    }
    assert_eq!(
        sqlite(&target, "select count(*) from accounts where email like 'h%@redacted.invalid'"),
        "20"
    );
    assert_eq!(sqlite(&target, "select distinct password_hash from accounts"), "***");
    assert_eq!(sqlite(&target, "select count(*) from accounts where nickname is not null"), "0");
    // The excluded column is gone, and so is the index that needed it.
    assert_eq!(
        sqlite(&target, "select count(*) from pragma_table_info('logins') where name = 'ip'"),
        "0"
    );
    assert_eq!(
        sqlite(&target, "select count(*) from sqlite_schema where name = 'logins_ip_idx'"),
        "0"
    );
    assert_eq!(
        sqlite(
            &target,
            "select source_table || '.' || source_column || '=' || redaction from _pg2lite_columns \
             where redaction is not null order by 1"
        ),
        "public.accounts.email=hash\npublic.accounts.nickname=null\npublic.accounts.password_hash=mask\n\
         public.badges.account_email=hash\npublic.logins.account_email=hash"
    );

    let m = manifest(&export);
    let r = &m["options"]["redaction"];
    assert_eq!(r["key_source"], "file");
    assert_eq!(r["export_local"], false);
    assert_eq!(r["key_fingerprint"].as_str().unwrap().len(), 64);
    let modes: Vec<String> = r["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}.{}={}",
                c["table"].as_str().unwrap(),
                c["column"].as_str().unwrap(),
                c["mode"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        modes,
        [
            "accounts.email=hash",
            "accounts.nickname=null",
            "accounts.password_hash=mask",
            "badges.account_email=hash",
            "logins.account_email=hash",
            "logins.ip=excluded",
        ]
    );

    // docs/FORMAT.md describes every key of the record.
    let doc =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/FORMAT.md")).unwrap();
    let mut keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    keys.extend(
        r["columns"].as_array().unwrap().iter().flat_map(|c| c.as_object().unwrap().keys()),
    );
    keys.push(m["options"].as_object().unwrap().keys().find(|k| *k == "redaction").unwrap());
    for k in keys {
        assert!(doc.contains(&format!("`{k}`")), "docs/FORMAT.md does not describe {k:?}");
    }

    let dir = export.to_str().unwrap();
    pg2lite(&["verify", dir, "--deep"]).assert_code(0);
    let url = db.url();
    let t = target.to_str().unwrap();
    pg2lite(&["validate", "--from", dir, "--target", t, "--source", &url]).assert_code(0);
}

/// The data file of `table` in `export`.
fn data(export: &Path, table: &str) -> Vec<u8> {
    fs::read(export.join(format!("tables/public.{table}.ndjson"))).unwrap()
}

#[test]
fn pseudonyms_depend_on_the_key_alone() {
    let db = accounts_db();
    let work = tempfile::tempdir().unwrap();
    let key = write_key(work.path(), "a.key", KEY_A);
    let args = ["--redact", "accounts.email=hash", "--redact-key-file", key.as_str()];
    let first = export(&db, &work.path().join("1"), &args, &[]);
    let second = export(&db, &work.path().join("2"), &args, &[]);
    let env_b = [("PG2LITE_REDACT_KEY", KEY_B)];
    let other = export(&db, &work.path().join("3"), &["--redact", "accounts.email=hash"], &env_b);
    let env_a = [("PG2LITE_REDACT_KEY", KEY_A)];
    let same_by_env =
        export(&db, &work.path().join("4"), &["--redact", "accounts.email=hash"], &env_a);
    let random = export(&db, &work.path().join("5"), &["--redact", "accounts.email=hash"], &[]);

    assert_eq!(data(&first, "accounts"), data(&second, "accounts"));
    assert_eq!(data(&first, "accounts"), data(&same_by_env, "accounts"));
    assert_ne!(data(&first, "accounts"), data(&other, "accounts"));
    assert_ne!(data(&first, "accounts"), data(&random, "accounts"));
    let fp = |e: &Path| manifest(e)["options"]["redaction"]["key_fingerprint"].clone();
    assert_eq!(fp(&first), fp(&same_by_env));
    assert_ne!(fp(&first), fp(&other));
    assert_eq!(manifest(&random)["options"]["redaction"]["export_local"], true);
    assert_eq!(manifest(&other)["options"]["redaction"]["key_source"], "env");
    for e in [&first, &other, &random] {
        assert_absent(e, &[KEY_A.trim().to_owned(), KEY_B.trim().to_owned()]);
    }
}

#[test]
fn one_tenant_redacted_holds_neither_another_tenant_nor_an_original_value() {
    let db = tenants_db();
    let work = tempfile::tempdir().unwrap();
    let user2 = user_uuid(&db, 2);
    let tenant = [
        "--tenant-column",
        "user_id",
        "--tenant-key",
        "email=user2@example.com",
        "--redact",
        "users.email=hash",
        "--redact",
        "clients.email=hash",
        "--exclude-column",
        "clients.notes",
    ];
    let export = export(&db, &work.path().join("out"), &tenant, &[]);
    let target = work.path().join("user2.db");
    import(&export, &target, &[]);
    let mut originals = strings(&db, "select email from users");
    originals.extend(strings(&db, "select email from clients where email is not null"));
    originals.extend(["client-notes".to_owned()]);
    for n in [1, 3, 4, 5] {
        originals.push(format!("u{n}-"));
        originals.push(user_uuid(&db, n));
    }
    assert_absent(&export, &originals);
    assert_absent(&target, &originals);
    let clients = format!("select count(*) from clients where user_id = '{user2}'");
    assert_eq!(sqlite(&target, "select count(*) from clients"), strings(&db, &clients)[0]);
    let dir = export.to_str().unwrap();
    pg2lite(&["verify", dir, "--deep"]).assert_code(0);
    let url = db.url();
    let t = target.to_str().unwrap();
    pg2lite(&["validate", "--from", dir, "--target", t, "--source", &url]).assert_code(0);
    // The tenant column itself cannot be redacted: the filter's proof rests on it.
    export_run(
        &db,
        &work.path().join("no"),
        &[&tenant[..4], &["--redact", "users.id=hash"]].concat(),
        &[],
    )
    .assert_code(2)
    .assert_stderr_contains("is the tenant column");
}

#[test]
fn migrate_dry_run_shows_what_is_redacted_and_why() {
    let db = accounts_db();
    let work = tempfile::tempdir().unwrap();
    let url = db.url();
    let mut args = vec!["migrate", "--source", url.as_str(), "--target", "app.db", "--dry-run"];
    args.extend_from_slice(REDACT);
    let out = pg2lite(&args).cwd(work.path()).assert_code(0);
    for line in [
        "redact: public.accounts.email: hash (keyed pseudonym, as email)",
        "redact: public.logins.account_email: hash (keyed pseudonym, as email), because foreign \
         key logins_account_email_fkey ties it to public.accounts.email",
        "redact: public.badges.account_email: hash",
        "redact: public.logins.ip: excluded",
        "a random key for this export only",
    ] {
        assert!(out.stdout.contains(line), "expected {line:?} in:\n{out}");
    }
    assert!(!out.stdout.contains("\"ip\" TEXT"), "the DDL still has the excluded column:\n{out}");
    assert!(fs::read_dir(work.path()).unwrap().next().is_none(), "a dry run writes nothing");
}

#[test]
fn migrate_redacts_on_the_way_through_and_validates() {
    let db = accounts_db();
    let work = tempfile::tempdir().unwrap();
    let url = db.url();
    let mut args = vec!["migrate", "--source", url.as_str(), "--target", "app.db", "--yes"];
    args.extend_from_slice(REDACT);
    pg2lite(&args).cwd(work.path()).env("PG2LITE_REDACT_KEY", KEY_A).assert_code(0);
    let target = work.path().join("app.db");
    assert_absent(work.path(), &originals(&db));
    assert_absent(work.path(), &[KEY_A.trim().to_owned()]);
    let hashed = "select count(*) from _pg2lite_columns where redaction = 'hash'";
    assert_eq!(sqlite(&target, hashed), "3");
    let joined = "select count(*) from logins l join accounts a on a.email = l.account_email";
    assert_eq!(sqlite(&target, joined), strings(&db, joined)[0]);
}

#[test]
fn each_mistake_is_refused_by_name_before_anything_is_written() {
    let db = accounts_db();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let short = write_key(work.path(), "short.key", "tiny\n");
    let missing = work.path().join("missing.key");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--redact", "accounts.email"],
            "the column is NOT NULL, so it cannot become NULL; use =mask",
        ),
        (vec!["--redact", "accounts.emial=hash"], "no column matches --redact \"accounts.emial\""),
        (vec!["--exclude-column", "nosuch.*"], "no column matches --exclude-column \"nosuch.*\""),
        (vec!["--redact", "accounts.email=scramble"], "unknown mode \"scramble\""),
        (vec!["--redact", "email=hash"], "must name columns as table.column"),
        (
            vec!["--redact", "logins.at=hash"],
            "cannot hash public.logins.at (type timestamp with time zone)",
        ),
        (
            vec!["--redact", "accounts.email=hash", "--redact-key-file", missing.to_str().unwrap()],
            "cannot read the redaction key file",
        ),
        (
            vec!["--redact", "accounts.email=hash", "--redact-key-file", &short],
            "is 4 bytes; use at least 16",
        ),
        (
            vec!["--redact", "accounts.email=mask"],
            "public.accounts.email is redacted, but foreign key badges_account_id_account_email_fkey",
        ),
        (
            vec!["--redact", "accounts.email=hash", "--redact", "logins.account_email=mask"],
            "redact them with the same mode",
        ),
    ];
    for (args, message) in cases {
        let run = export_run(&db, &out, &args, &[]).assert_code(2).assert_stderr_contains(message);
        assert!(!run.stderr.contains("person1@"), "an original value in the message:\n{run}");
        assert!(only_export(&out).is_none(), "{args:?} wrote an export");
    }
    export_run(&db, &out, &["--redact", "accounts.email=hash"], &[("PG2LITE_REDACT_KEY", "short")])
        .assert_code(2)
        .assert_stderr_contains("PG2LITE_REDACT_KEY is 5 bytes");
}

#[test]
fn a_column_generated_from_a_redacted_one_must_be_redacted_too() {
    let db = accounts_db();
    db.execute(
        "alter table accounts add column domain text \
         generated always as (split_part(email, '@', 2)) stored",
    );
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    export_run(&db, &out, &["--redact", "accounts.email=hash"], &[])
        .assert_code(2)
        .assert_stderr_contains(
            "public.accounts.domain is generated from public.accounts.email, which is redacted",
        );
    assert!(only_export(&out).is_none());
    let both = ["--redact", "accounts.email=hash", "--exclude-column", "accounts.domain"];
    let export = export(&db, &out, &both, &[]);
    assert_absent(&export, &["example.com".to_owned()]);
    pg2lite(&["verify", export.to_str().unwrap(), "--deep"]).assert_code(0);
}
