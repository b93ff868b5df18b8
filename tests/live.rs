//! Live databases (issue 12, item 10): another connection writes while pg2lite reads. The
//! export proves each table's streamed rows against `count(*)` in its own snapshot, so the
//! copy is that snapshot however busy the database; a later re-count that differs is a
//! change since, reported on its own line and a failure only with `--require-unchanged`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::TestDb;

/// Accounts, each with its count of events kept in `n_events` by every transaction (seed
/// and writer alike), 150,000 events and 50,000 notes: enough that a migrate takes seconds.
fn live_db() -> TestDb {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, n_events int NOT NULL);
         CREATE TABLE events (
             id bigserial PRIMARY KEY,
             account_id int NOT NULL REFERENCES accounts,
             kind text NOT NULL,
             payload jsonb,
             at timestamptz NOT NULL DEFAULT now());
         CREATE INDEX ON events (account_id);
         CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);
         INSERT INTO accounts SELECT g, 'account ' || g, 0 FROM generate_series(1, 1000) g;
         INSERT INTO events (account_id, kind, payload, at)
             SELECT 1 + g % 1000, 'seed', jsonb_build_object('n', g),
                    '2024-01-01'::timestamptz + g * interval '1 second'
             FROM generate_series(1, 150000) g;
         UPDATE accounts a SET n_events = c.n
             FROM (SELECT account_id, count(*) AS n FROM events GROUP BY account_id) c
             WHERE c.account_id = a.id;
         INSERT INTO notes SELECT g, repeat('note ' || g || ' ', 4) FROM generate_series(1, 50000) g;
         ANALYZE;",
    );
    db
}

/// A connection that inserts, updates and deletes rows in every table, one transaction at a
/// time, until stopped. Each transaction keeps `accounts.n_events` equal to the account's
/// events, so any one snapshot satisfies that, and a copy whose tables were read at
/// different instants would not. Per two transactions: events +2 -1, notes +2 and 2 updated.
struct Writer {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    handle: Option<JoinHandle<Result<(), String>>>,
}

impl Writer {
    fn start(db: &TestDb) -> Writer {
        let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let mut client = db.client();
        let (s, d) = (stop.clone(), done.clone());
        let handle = thread::spawn(move || {
            let mut i = 0i32;
            while !s.load(Ordering::Relaxed) {
                write_once(&mut client, i).map_err(|e| format!("transaction {i}: {e}"))?;
                d.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            Ok(())
        });
        Writer { stop, done, handle: Some(handle) }
    }

    fn transactions(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Waits until `n` more transactions have committed (so the writer is writing).
    fn wait_for(&self, n: u64) {
        let (target, started) = (self.transactions() + n, Instant::now());
        while self.transactions() < target {
            assert!(started.elapsed() < Duration::from_secs(60), "the writer does not write");
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the writer, failing the test if any of its transactions failed.
    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.handle.take().expect("a writer is stopped once");
        handle.join().expect("the writer does not panic").unwrap_or_else(|e| panic!("{e}"));
        self.transactions()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn write_once(client: &mut postgres::Client, i: i32) -> Result<(), postgres::Error> {
    let account = 1 + i % 1000;
    let mut tx = client.transaction()?;
    tx.execute(
        "INSERT INTO events (account_id, kind, payload) \
         VALUES ($1, 'live', jsonb_build_object('i', $2::int))",
        &[&account, &i],
    )?;
    tx.execute("UPDATE accounts SET n_events = n_events + 1 WHERE id = $1", &[&account])?;
    tx.execute(
        "UPDATE events SET payload = jsonb_build_object('touched', $2::int) \
         WHERE id = (SELECT min(id) FROM events WHERE account_id = $1)",
        &[&account, &i],
    )?;
    if i % 2 == 1 {
        let other = 1 + (i * 7) % 1000;
        tx.execute(
            "WITH gone AS (DELETE FROM events WHERE id = \
                 (SELECT max(id) FROM events WHERE account_id = $1 AND kind = 'seed') \
                 RETURNING account_id) \
             UPDATE accounts SET n_events = n_events - (SELECT count(*) FROM gone) WHERE id = $1",
            &[&other],
        )?;
    }
    tx.execute("INSERT INTO notes VALUES ($1, 'live note')", &[&(1_000_000 + i)])?;
    tx.execute("UPDATE notes SET body = 'edited' WHERE id = $1", &[&(1 + i % 50_000)])?;
    tx.commit()
}

fn migrate(dir: &Path, url: &str, target: &str, extra: &[&str]) -> Outcome {
    let mut args = vec!["migrate", "--source", url, "--target", target, "--yes"];
    args.extend_from_slice(extra);
    pg2lite(&args).cwd(dir).run()
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Accounts whose `n_events` is not their number of events in the file: 0 in any snapshot.
const INCONSISTENT: &str = "SELECT count(*) FROM accounts a \
     LEFT JOIN (SELECT account_id, count(*) AS n FROM events GROUP BY account_id) c \
     ON c.account_id = a.id WHERE a.n_events != coalesce(c.n, 0)";

fn report(dir: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_migration_while_another_connection_writes_passes_every_check_and_reports_the_change() {
    let started = Instant::now();
    let db = live_db();
    eprintln!("the database took {:.1?}", started.elapsed());
    let work = tempfile::tempdir().unwrap();
    let writer = Writer::start(&db);
    writer.wait_for(5);
    let (before, started) = (writer.transactions(), Instant::now());
    let out = migrate(work.path(), &db.url(), "app.db", &["--report", "report.json"]);
    let during = writer.transactions() - before;
    eprintln!("migrate took {:.1?}, with {during} transactions written", started.elapsed());
    let out = out.assert_code(0);
    // The writer wrote all through the migration, before its snapshot and after.
    assert!(during >= 10, "only {during} transactions during the migration:\n{out}");
    assert!(out.stdout.contains("\nchanged in Postgres since the export: "), "{out}");
    assert!(!out.stdout.contains("FAIL"), "{out}");

    let report = report(work.path(), "report.json");
    assert_eq!(report["passed"], true, "{report:#}");
    for t in report["tables"].as_array().unwrap() {
        for check in ["counts", "keys", "content"] {
            assert_eq!(t["checks"][check]["status"], "pass", "{} {check}: {t:#}", t["source"]);
        }
        for (name, check) in t["checks"].as_object().unwrap() {
            assert_ne!(check["status"], "fail", "{} {name}: {check}", t["source"]);
        }
    }
    let change = &report["changed_since_export"];
    let changed: Vec<&str> =
        change["tables"].as_array().unwrap().iter().map(|t| t["table"].as_str().unwrap()).collect();
    // Every two transactions add a note and an event; the migration took many.
    assert_eq!(changed, ["public.events", "public.notes"], "{change:#}");
    assert!(change["rows"].as_u64().unwrap() > 0, "{change:#}");
    for t in change["tables"].as_array().unwrap() {
        assert!(t["difference"].as_i64().unwrap() > 0, "rows were added: {t}");
    }
    let line = format!(
        "changed in Postgres since the export: {} rows in 2 tables",
        pg2lite::report::grouped(change["rows"].as_u64().unwrap())
    );
    assert!(out.stdout.contains(&line), "expected {line:?} in:\n{out}");

    // The file is one snapshot, taken while the writer wrote: every account's count of
    // events holds, some live rows are in, and not those written after.
    let conn = Connection::open(work.path().join("app.db")).unwrap();
    assert_eq!(count(&conn, INCONSISTENT), 0, "the tables were copied at different instants");
    let live = count(&conn, "SELECT count(*) FROM events WHERE kind = 'live'");
    assert!(live >= 5, "the snapshot was taken after the writer's first transactions: {live}");
    let notes = count(&conn, "SELECT count(*) FROM notes");
    assert_eq!(Some(notes as u64), change["tables"][1]["export"].as_u64());

    // The same run with --require-unchanged fails, naming the change.
    let strict = migrate(work.path(), &db.url(), "strict.db", &["--require-unchanged"]);
    let total = writer.stop();
    assert!(total > before + during, "the writer wrote during the second run too");
    let strict = strict.assert_code(1);
    for needle in [
        "FAIL public.notes counts: Postgres now has ",
        "and --require-unchanged was given",
        "changed in Postgres since the export: ",
        "a failure, as --require-unchanged asks",
    ] {
        assert!(strict.stdout.contains(needle), "{needle:?} missing:\n{strict}");
    }
    let conn = Connection::open(work.path().join("strict.db")).unwrap();
    assert_eq!(count(&conn, INCONSISTENT), 0);
}

#[test]
fn require_unchanged_needs_a_postgres_to_compare_with() {
    let work = tempfile::tempdir().unwrap();
    let args = ["migrate", "--target", "app.db", "--skip-export", "--from", "x"];
    pg2lite(&args)
        .arg("--require-unchanged")
        .cwd(work.path())
        .assert_code(2)
        .assert_stderr_contains("--require-unchanged");
}

/// A row-level security policy that lets a COPY see every row but `count(*)` only five (it
/// reads the query's own text): what the export streamed is not what Postgres counts in the
/// snapshot, so the copy is not proven and the export fails, leaving nothing behind.
#[test]
fn an_export_whose_rows_differ_from_count_in_its_snapshot_fails_and_leaves_nothing() {
    let db = TestDb::new();
    let role = db.password_role("live-secret");
    db.execute(&format!(
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 8) g;
         ALTER TABLE t ENABLE ROW LEVEL SECURITY;
         CREATE POLICY odd ON t FOR SELECT
             USING (current_query() NOT ILIKE 'SELECT count(*)%' OR id <= 5);
         GRANT USAGE ON SCHEMA public TO \"{role}\";
         GRANT SELECT ON t TO \"{role}\";"
    ));
    let work = tempfile::tempdir().unwrap();
    let url = db.url_as(&role, "live-secret");
    pg2lite(&["export", "--source", &url, "--out", "out"])
        .cwd(work.path())
        .assert_code(2)
        .assert_stderr_contains(
            "table public.t: the export read 8 rows, but count(*) under the same filter in the \
             same snapshot says 5",
        )
        .assert_stderr_contains("row-level security");
    let left: Vec<_> = std::fs::read_dir(work.path().join("out")).unwrap().collect();
    assert!(left.is_empty(), "the failed export left {left:?}");
    // As a superuser, whom no policy binds, the same export succeeds.
    pg2lite(&["export", "--source", &db.url(), "--out", "out"]).cwd(work.path()).assert_code(0);
}
