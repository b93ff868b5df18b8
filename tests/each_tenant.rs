//! `--each-tenant` (issue 17): every tenant of the multi-tenant fixture (100 users) to its own
//! export directory and SQLite file, from one snapshot. Proven against the single-tenant
//! commands (byte-equal NDJSON, equal `.dump`s), by grepping every file for every other
//! tenant, by killing a run half way, and by sharding a held snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use memchr::memmem;
use sha2::{Digest, Sha256};

use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::TestDb;
use crate::support::tenants::{
    Tenant, db_names, export_names, files_under, migrate_each, migrate_each_command, only_export,
    report, sorted_dump, table_rows, table_sums, tenants, tenants_db,
};

const USERS: u32 = 100;

/// One 100-tenant database and one every-tenant migrate of it, shared by the tests that only
/// read them (libtest runs tests on threads of one process).
struct Hundred {
    db: TestDb,
    tenants: Vec<Tenant>,
    work: tempfile::TempDir,
    /// The run, or why it never ended (a hang is caught once here, not in every test).
    run: Result<Outcome, String>,
}

impl Hundred {
    fn dir(&self) -> PathBuf {
        self.work.path().join("out")
    }
}

fn hundred() -> &'static Hundred {
    static HUNDRED: OnceLock<Hundred> = OnceLock::new();
    HUNDRED.get_or_init(|| {
        let db = tenants_db(USERS);
        let tenants = tenants(&db);
        assert_eq!(tenants.len(), USERS as usize);
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("out");
        let run = std::panic::catch_unwind(|| {
            migrate_each_command(&db, &out, &["-q", "--json"])
                .timeout(Duration::from_secs(240))
                .run()
        })
        .map_err(|e| {
            e.downcast_ref::<String>().cloned().unwrap_or_else(|| "the run panicked".into())
        });
        Hundred { db, tenants, work, run }
    })
}

/// The shared run, which must have succeeded.
fn done() -> &'static Hundred {
    let h = hundred();
    let run = h.run.as_ref().unwrap_or_else(|e| panic!("the 100-tenant migrate: {e}"));
    assert_eq!(run.code, Some(0), "the 100-tenant migrate failed:\n{run}");
    h
}

fn keys(tenants: &[Tenant]) -> Vec<String> {
    let mut keys: Vec<String> = tenants.iter().map(|t| t.key.clone()).collect();
    keys.sort();
    keys
}

#[test]
fn every_tenant_gets_a_file_and_an_export_that_sha256sum_and_verify_accept() {
    let h = done();
    let dir = h.dir();
    // A uuid is made of letters, digits and '-': its name is the key itself.
    assert_eq!(db_names(&dir), keys(&h.tenants), "one .db per tenant");
    assert_eq!(export_names(&dir), keys(&h.tenants), "one export per tenant");
    let r = report(h.run.as_ref().unwrap());
    assert_eq!(
        (r["done"].as_u64(), r["skipped"].as_u64(), r["failed"].as_u64()),
        (Some(100), Some(0), Some(0)),
        "{r}"
    );
    assert_eq!(r["tenants"].as_array().map(Vec::len), Some(100), "{r}");
    let report_rows: u64 =
        r["tenants"].as_array().unwrap().iter().map(|t| t["rows"].as_u64().unwrap()).sum();
    assert_eq!(r["rows"].as_u64(), Some(report_rows), "the total is the sum of the tenants'");
    assert!(dir.join("report.json").is_file(), "the default report DIR/report.json");
    for name in export_names(&dir) {
        let export = dir.join(&name);
        let out = Command::new("sha256sum")
            .args(["-c", "--quiet", "SHA256SUMS"])
            .current_dir(&export)
            .output()
            .unwrap();
        assert!(out.status.success(), "sha256sum -c in {}: {out:?}", export.display());
        pg2lite(&["verify"]).arg(&export).assert_code(0);
    }
}

/// The single-tenant exports of `tenants`, two at a time: key -> export directory.
fn single_exports(db: &TestDb, tenants: &[Tenant], out: &Path) -> BTreeMap<String, PathBuf> {
    let chunks: Vec<&[Tenant]> = tenants.chunks(tenants.len().div_ceil(2)).collect();
    thread::scope(|s| {
        let workers: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|t| {
                            let to = out.join(&t.key);
                            pg2lite(&[
                                "export",
                                "-q",
                                "--tenant-column",
                                "user_id",
                                "--tenant",
                                &t.key,
                            ])
                            .arg("--source")
                            .arg(db.url())
                            .arg("--out")
                            .arg(&to)
                            .assert_code(0);
                            (t.key.clone(), only_export(&to))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    })
}

#[test]
fn every_tenants_ndjson_is_byte_identical_to_its_single_tenant_export() {
    let h = done();
    let singles = tempfile::tempdir().unwrap();
    let exports = single_exports(&h.db, &h.tenants, singles.path());
    let mut compared = 0;
    for t in &h.tenants {
        let each = table_sums(&h.dir().join(&t.key));
        let single = table_sums(&exports[&t.key]);
        assert_eq!(each, single, "tenant {} (user{}): per-table sha256 and rows", t.key, t.n);
        compared += each.len();
    }
    assert!(compared >= 100 * 11, "only {compared} table files compared");
}

#[test]
fn eight_tenants_files_dump_as_their_single_tenant_migrates_do() {
    let h = done();
    let work = tempfile::tempdir().unwrap();
    for n in [1, 14, 27, 40, 53, 66, 79, 100] {
        let t = &h.tenants[n - 1];
        let target = work.path().join(format!("user{n}.db"));
        pg2lite(&["migrate", "-q", "--yes", "--tenant-column", "user_id", "--tenant", &t.key])
            .arg("--source")
            .arg(h.db.url())
            .arg("--target")
            .arg(&target)
            .cwd(work.path())
            .assert_code(0);
        let each = h.dir().join(format!("{}.db", t.key));
        let (got, want) = (sorted_dump(&each), sorted_dump(&target));
        if got != want {
            let extra: Vec<&String> = got.iter().filter(|l| !want.contains(l)).take(5).collect();
            let missing: Vec<&String> = want.iter().filter(|l| !got.contains(l)).take(5).collect();
            panic!(
                "user{n}: {} differs from migrate --tenant\nonly in each-tenant: {extra:#?}\nonly in single: {missing:#?}",
                each.display()
            );
        }
        let app_config = crate::support::sqlite::sqlite3(&each, "SELECT email FROM app_config");
        assert_eq!(app_config.trim(), t.email, "app_config holds the tenant's row");
    }
}

/// Reads `path` and names each needle found in it.
fn found_in(path: &Path, needles: &[(String, memmem::Finder<'_>)]) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    needles.iter().filter(|(_, f)| f.find(&bytes).is_some()).map(|(n, _)| n.clone()).collect()
}

#[test]
fn no_tenants_file_or_export_holds_a_byte_of_another_tenant() {
    let h = done();
    let all: Vec<String> =
        h.tenants.iter().flat_map(|t| [t.key.clone(), t.email.clone()]).collect();
    let finders: Vec<(String, memmem::Finder<'_>)> =
        all.iter().map(|n| (n.clone(), memmem::Finder::new(n.as_bytes()))).collect();
    for t in &h.tenants {
        let mut files = files_under(&h.dir().join(&t.key));
        files.push(h.dir().join(format!("{}.db", t.key)));
        let mut own = BTreeSet::new();
        for f in &files {
            for needle in found_in(f, &finders) {
                if needle == t.key || needle == t.email {
                    own.insert(needle);
                } else {
                    panic!("{} (user{}) holds {needle:?}, another tenant's", f.display(), t.n);
                }
            }
        }
        // The search finds the tenant's own key and e-mail, or it proves nothing.
        assert_eq!(own.len(), 2, "user{}: own key and e-mail not both found: {own:?}", t.n);
    }
}

#[test]
fn rows_that_belong_to_no_tenant_are_in_no_file_and_every_owned_row_is_in_one() {
    let h = done();
    let count = |sql: &str| -> u64 {
        h.db.query_strings(&format!("SELECT ({sql})::text"))[0][0]
            .as_deref()
            .unwrap()
            .parse()
            .unwrap()
    };
    let owned: Vec<(&str, u64)> = [
        ("users", "SELECT count(*) FROM users"),
        ("user_preferences", "SELECT count(*) FROM user_preferences"),
        ("clients", "SELECT count(*) FROM clients"),
        ("birth_data", "SELECT count(*) FROM birth_data"),
        ("charts", "SELECT count(*) FROM charts"),
        ("chart_interpretations", "SELECT count(*) FROM chart_interpretations"),
        ("interpretation_feedback", "SELECT count(*) FROM interpretation_feedback"),
        ("session_notes", "SELECT count(*) FROM session_notes"),
        ("attachments", "SELECT count(*) FROM attachments WHERE note_id IS NOT NULL"),
    ]
    .into_iter()
    .map(|(t, sql)| (t, count(sql)))
    .collect();
    let orphans = count("SELECT count(*) FROM attachments WHERE note_id IS NULL");
    assert!(orphans > 0, "the fixture has ownerless attachments");
    let mut sums: BTreeMap<String, u64> = BTreeMap::new();
    let mut sqlite_attachments = 0;
    for t in &h.tenants {
        for (table, rows) in table_rows(&h.dir().join(&t.key)) {
            *sums.entry(table).or_default() += rows;
        }
        let db = h.dir().join(format!("{}.db", t.key));
        let n = crate::support::sqlite::sqlite3(&db, "SELECT count(*) FROM attachments");
        sqlite_attachments += n.trim().parse::<u64>().unwrap();
    }
    for (table, want) in &owned {
        assert_eq!(sums.get(*table).copied(), Some(*want), "{table}: rows over all tenants");
    }
    assert_eq!(sqlite_attachments, owned[8].1, "attachments over all .db files");
    // The ownerless rows' marker is in no file; an owned one's is (the search works).
    let orphan = memmem::Finder::new(b"orphan-file-");
    let owned_marker = memmem::Finder::new(b"-file-");
    let mut seen_owned = false;
    for f in files_under(&h.dir()).iter().filter(|f| !f.ends_with("report.json")) {
        let bytes = std::fs::read(f).unwrap();
        assert!(orphan.find(&bytes).is_none(), "{} holds an ownerless attachment", f.display());
        seen_owned |= owned_marker.find(&bytes).is_some();
    }
    assert!(seen_owned, "no owned attachment's name found anywhere: the search proves nothing");
}

#[test]
fn a_run_killed_half_way_leaves_nothing_that_looks_complete_and_a_rerun_finishes_the_rest() {
    let h = hundred();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pg2lite"))
        .args(["migrate", "-q", "--yes", "--tenant-column", "user_id", "--each-tenant"])
        .arg("--source")
        .arg(h.db.url())
        .arg("--target-dir")
        .arg(&dir)
        .current_dir(work.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let killed = loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the run ended ({status}) before 20 tenants were seen: it was never killed mid-run"
            );
        }
        if dir.is_dir() && db_names(&dir).len() >= 20 {
            child.kill().unwrap(); // SIGKILL
            break child.wait().unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(240), "no 20 .db files in 240 s");
        thread::sleep(Duration::from_millis(2));
    };
    assert_eq!(killed.code(), None, "the run was killed by a signal, not finished: {killed}");
    let finished = db_names(&dir);
    assert!(finished.len() < 100, "all 100 were finished before the kill: nothing was tested");
    for name in &finished {
        pg2lite(&["validate"])
            .arg("--from")
            .arg(dir.join(name))
            .arg("--target")
            .arg(dir.join(format!("{name}.db")))
            .assert_code(0);
    }
    for name in export_names(&dir) {
        assert!(
            dir.join(&name).join("manifest.json").is_file(),
            "{name}/ looks finished but has no manifest"
        );
    }
    let rerun = migrate_each(&h.db, &dir, &["-q", "--json"]).assert_code(0);
    let r = report(&rerun);
    assert_eq!(
        r["skipped"].as_u64(),
        Some(finished.len() as u64),
        "the finished tenants are skipped: {r}"
    );
    assert_eq!(r["done"].as_u64(), Some(100 - finished.len() as u64), "the rest are done: {r}");
    assert_eq!(r["failed"].as_u64(), Some(0), "{r}");
    let statuses: BTreeMap<String, String> = r["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_owned(), t["status"].as_str().unwrap().to_owned()))
        .collect();
    for name in &finished {
        assert_eq!(statuses.get(name).map(String::as_str), Some("skipped"), "{name}");
    }
    assert_eq!(db_names(&dir), keys(&h.tenants));
    assert_eq!(export_names(&dir), keys(&h.tenants));
    for name in export_names(&dir) {
        pg2lite(&["verify"]).arg(dir.join(&name)).assert_code(0);
    }
}

/// `pg2lite snapshot --hold`, running: its id (the first line of its stdout) and the process.
struct Holder {
    id: String,
    child: std::process::Child,
}

impl Holder {
    fn start(db: &TestDb) -> Holder {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pg2lite"))
            .args(["snapshot", "--hold", "--source"])
            .arg(db.url())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let id = line.trim().to_owned();
        assert!(!id.is_empty(), "snapshot --hold printed no id");
        Holder { id, child }
    }

    /// Sends SIGINT and waits (at most 30 s) for the holder to end.
    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("snapshot --hold did not end on SIGINT");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn shard_of(key: &str, n: u64) -> u64 {
    let digest = Sha256::digest(key.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().unwrap()) % n + 1
}

#[test]
fn two_shards_of_a_held_snapshot_give_together_what_one_run_gives_and_miss_later_changes() {
    let db = tenants_db(12);
    let all = tenants(&db);
    let holder = Holder::start(&db);
    // After the snapshot: a new client for user 1, a changed user 2. Only the held snapshot
    // hides them.
    db.execute(&format!(
        "INSERT INTO clients (id, user_id, name, created_at) VALUES
           ('00000000-0000-4000-8000-000000000001', '{}', 'after-snapshot-client', now());
         UPDATE users SET display_name = 'after-snapshot-name' WHERE id = '{}';",
        all[0].key, all[1].key
    ));
    let work = tempfile::tempdir().unwrap();
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    let snap = ["-q", "--snapshot", &holder.id];
    migrate_each(&db, &a, &[&snap[..], &["--shard", "1/2"]].concat()).assert_code(0);
    let first = export_names(&a);
    migrate_each(&db, &a, &[&snap[..], &["--shard", "2/2"]].concat()).assert_code(0);
    let second: Vec<String> = export_names(&a).into_iter().filter(|n| !first.contains(n)).collect();
    migrate_each(&db, &b, &snap).assert_code(0);
    let want1: Vec<String> = keys(&all).into_iter().filter(|k| shard_of(k, 2) == 1).collect();
    assert_eq!(first, want1, "shard 1/2 holds exactly the keys hashing to 1");
    assert!(!first.is_empty() && !second.is_empty(), "both shards non-empty: {first:?} {second:?}");
    assert!(first.iter().all(|k| !second.contains(k)), "disjoint");
    assert_eq!(export_names(&a), keys(&all), "the union is every tenant");
    assert_eq!(export_names(&a), export_names(&b));
    assert_eq!(db_names(&a), db_names(&b));
    for name in export_names(&b) {
        assert_eq!(table_sums(&a.join(&name)), table_sums(&b.join(&name)), "{name}");
    }
    for f in files_under(&a).into_iter().chain(files_under(&b)) {
        let bytes = std::fs::read(&f).unwrap();
        for later in ["after-snapshot-client", "after-snapshot-name"] {
            assert!(
                memmem::find(&bytes, later.as_bytes()).is_none(),
                "{} holds {later}",
                f.display()
            );
        }
    }
    let id = holder.id.clone();
    let status = holder.interrupt();
    assert_eq!(status.code(), Some(0), "snapshot --hold ends cleanly on SIGINT: {status}");
    let late = migrate_each(&db, &work.path().join("c"), &["-q", "--snapshot", &id]);
    assert!(matches!(late.code, Some(1 | 2)), "a released snapshot is refused:\n{late}");
    assert!(late.stderr.contains("snapshot"), "the message says it is the snapshot:\n{late}");
}

fn write_keys(dir: &Path, keys: &[&str]) -> PathBuf {
    let file = dir.join("tenants.txt");
    std::fs::write(&file, keys.iter().map(|k| format!("{k}\n\n")).collect::<String>()).unwrap();
    file
}

fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true)
}

#[test]
fn name_by_email_and_a_tenants_file_give_exactly_those_tenants_named_by_their_percent_encoded_emails()
 {
    let h = hundred();
    let work = tempfile::tempdir().unwrap();
    let chosen = [&h.tenants[0], &h.tenants[49], &h.tenants[99]];
    let file = write_keys(work.path(), &chosen.map(|t| t.key.as_str()));
    let dir = work.path().join("out");
    let run = migrate_each(
        &h.db,
        &dir,
        &["-q", "--name-by", "email", "--tenants", file.to_str().unwrap()],
    )
    .assert_code(0);
    let want = ["user1%40example%2Ecom", "user100%40example%2Ecom", "user50%40example%2Ecom"];
    assert_eq!(db_names(&dir), want, "{run}");
    assert_eq!(export_names(&dir), want, "{run}");
    let app_config = crate::support::sqlite::sqlite3(
        &dir.join("user50%40example%2Ecom.db"),
        "SELECT email FROM app_config",
    );
    assert_eq!(app_config.trim(), "user50@example.com");
}

#[test]
fn an_unknown_key_in_the_tenants_file_is_refused_naming_it_before_anything_is_written() {
    let h = hundred();
    let work = tempfile::tempdir().unwrap();
    let unknown = "00000000-0000-0000-0000-00000000abcd";
    let file = write_keys(work.path(), &[&h.tenants[0].key, unknown]);
    let dir = work.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    migrate_each(&h.db, &dir, &["--tenants", file.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains(unknown);
    assert!(is_empty(&dir), "something was written: {:?}", files_under(&dir));
}

#[test]
fn names_that_differ_only_in_case_are_refused_naming_both_before_anything_is_written() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE orgs (id int PRIMARY KEY, slug text NOT NULL UNIQUE);
         CREATE TABLE docs (id int PRIMARY KEY, org_id int NOT NULL REFERENCES orgs, body text);
         INSERT INTO orgs VALUES (1, 'Acme'), (2, 'acme'), (3, 'other');
         INSERT INTO docs VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 3, 'c');",
    );
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    pg2lite(&[
        "migrate",
        "--yes",
        "--tenant-column",
        "org_id",
        "--each-tenant",
        "--name-by",
        "slug",
    ])
    .arg("--source")
    .arg(db.url())
    .arg("--target-dir")
    .arg(&dir)
    .assert_code(2)
    .assert_stderr_contains("\"1 (Acme)\"")
    .assert_stderr_contains("\"2 (acme)\"")
    .assert_stderr_contains("\"acme\"");
    assert!(is_empty(&dir), "something was written: {:?}", files_under(&dir));
}

#[test]
fn bad_shards_and_flag_combinations_are_usage_errors() {
    let h = hundred();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    for shard in ["0/2", "3/2", "x"] {
        migrate_each(&h.db, &dir, &["--shard", shard])
            .assert_code(2)
            .assert_stderr_contains("--shard");
    }
    pg2lite(&["migrate", "--yes", "--each-tenant"])
        .arg("--source")
        .arg(h.db.url())
        .arg("--target-dir")
        .arg(&dir)
        .assert_code(2)
        .assert_stderr_contains("--tenant-column");
    migrate_each(&h.db, &dir, &["--tenant", &h.tenants[0].key])
        .assert_code(2)
        .assert_stderr_contains("--tenant");
    migrate_each(&h.db, &dir, &["--snapshot", "x; DROP TABLE users"])
        .assert_code(2)
        .assert_stderr_contains("snapshot");
    assert_eq!(
        h.db.query_strings("SELECT to_regclass('public.users')::text")[0][0].as_deref(),
        Some("users")
    );
    assert!(is_empty(&dir), "a refused run wrote {:?}", files_under(&dir));
}

#[test]
fn export_each_tenant_writes_only_export_directories_equal_to_migrates() {
    let h = done();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    pg2lite(&["export", "-q", "--tenant-column", "user_id", "--each-tenant"])
        .arg("--source")
        .arg(h.db.url())
        .arg("--out")
        .arg(&dir)
        .assert_code(0);
    assert_eq!(export_names(&dir), keys(&h.tenants));
    let dbs: Vec<PathBuf> = files_under(&dir)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "db"))
        .collect();
    assert!(dbs.is_empty(), "export wrote SQLite files: {dbs:?}");
    for name in export_names(&dir) {
        assert_eq!(table_sums(&dir.join(&name)), table_sums(&h.dir().join(&name)), "{name}");
    }
}

#[test]
fn a_redacted_or_null_name_an_empty_tenants_file_and_a_target_file_are_refused_before_writing() {
    let h = hundred();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    migrate_each(&h.db, &dir, &["--name-by", "email", "--redact", "users.email=hash"])
        .assert_code(2)
        .assert_stderr_contains("--name-by email: that column is redacted");
    let empty = work.path().join("none.txt");
    std::fs::write(&empty, "\n\n").unwrap();
    migrate_each(&h.db, &dir, &["--tenants", empty.to_str().unwrap()])
        .assert_code(2)
        .assert_stderr_contains("lists no tenant key");
    migrate_each(&h.db, &dir, &["--target", "one.db"])
        .assert_code(2)
        .assert_stderr_contains("--target-dir");
    assert!(is_empty(&dir), "a refused run wrote {:?}", files_under(&dir));

    let db = TestDb::new();
    db.execute(
        "CREATE TABLE orgs (id int PRIMARY KEY, slug text UNIQUE);
         CREATE TABLE docs (id int PRIMARY KEY, org_id int NOT NULL REFERENCES orgs);
         INSERT INTO orgs VALUES (1, 'acme'), (2, NULL);
         INSERT INTO docs VALUES (1, 1), (2, 2);",
    );
    pg2lite(&["migrate", "--yes", "--tenant-column", "org_id", "--each-tenant"])
        .arg("--name-by")
        .arg("slug")
        .arg("--source")
        .arg(db.url())
        .arg("--target-dir")
        .arg(&dir)
        .assert_code(2)
        .assert_stderr_contains("tenant \"2\" has no slug (NULL)");
    assert!(is_empty(&dir), "a refused run wrote {:?}", files_under(&dir));
}
