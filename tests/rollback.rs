//! Backups and `pg2lite rollback` on real SQLite files: the restored target dumps (with the
//! real `sqlite3`) exactly as the original did; checksums are checked before anything
//! changes, and `sha256sum -c` agrees with them; a target in use is refused; a WAL file's
//! un-checkpointed changes are in the backup. Rollback after rollback steps back through the
//! target's history (three real migrates, back to the first, and `--to` forward again);
//! `--list` shows every backup with its checksum state; links in the backup directory are
//! never followed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use pg2lite::progress::Silent;
use pg2lite::rollback::{self, Backup};
use pg2lite::sqlite::backup;
use rusqlite::Connection;

use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::TestDb;
use crate::support::sqlite::dump;

/// A working directory with a target `app.db` and a `backups` directory.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        Work { dir: tempfile::tempdir().expect("a temporary directory") }
    }

    fn target(&self) -> PathBuf {
        self.dir.path().join("app.db")
    }

    fn backups(&self) -> PathBuf {
        self.dir.path().join("backups")
    }

    /// `pg2lite rollback --target app.db --backup-dir backups [extra...]`, run in the directory.
    fn rollback(&self, extra: &[&str]) -> Outcome {
        let mut args = vec!["rollback", "--target", "app.db", "--backup-dir", "backups"];
        args.extend_from_slice(extra);
        pg2lite(&args).cwd(self.dir.path()).run()
    }

    fn backup(&self) -> Backup {
        backup::backup(&self.target(), &self.backups(), &Silent).expect("backup succeeds")
    }

    /// The files in the backup directory, sorted.
    fn backup_files(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.backups()) else { return vec![] };
        let mut names: Vec<String> =
            entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }
}

/// A WAL-mode database with a few related tables, an index, a view and some blobs.
fn create_target(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)).unwrap();
    conn.execute_batch(
        "CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
         CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL
                            REFERENCES author (id), title TEXT, price REAL, cover BLOB);
         CREATE INDEX book_author ON book (author_id, title);
         CREATE VIEW cheap AS SELECT title FROM book WHERE price < 10;",
    )
    .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for a in 1..=20 {
        tx.execute("INSERT INTO author (id, name) VALUES (?1, ?2)", (a, format!("author {a}")))
            .unwrap();
        for b in 0..25 {
            tx.execute(
                "INSERT INTO book (author_id, title, price, cover) VALUES (?1, ?2, ?3, ?4)",
                (a, format!("book {a}/{b} ✓"), f64::from(b) * 1.25, vec![a as u8; 300]),
            )
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// Changes the target in every way: rows added, changed and removed, a table dropped.
fn change_target(path: &Path, tag: &str) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO author (name) VALUES ('{tag}');
         UPDATE book SET title = '{tag}' WHERE id % 7 = 0;
         DELETE FROM book WHERE id % 5 = 0;
         DROP VIEW IF EXISTS cheap;"
    ))
    .unwrap();
}

/// The dump of a backup, taken from a copy, so that the backup file itself is never opened.
fn dump_copy(path: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    fs::copy(path, &copy).unwrap();
    dump(&copy)
}

fn assert_same(what: &str, expected: &str, got: &str) {
    if expected != got {
        panic!("{what}\n--- expected ---\n{expected}\n--- got ---\n{got}\n---");
    }
}

#[test]
fn a_rollback_puts_back_the_newest_backup_exactly_as_sqlite_dumps_it() {
    let w = Work::new();
    create_target(&w.target());
    let original = dump(&w.target());
    let b = w.backup();
    change_target(&w.target(), "changed");
    let changed = dump(&w.target());
    assert_ne!(original, changed);

    let got = w.rollback(&[]).assert_code(0);
    assert_same("the target after rollback", &original, &dump(&w.target()));
    let name = b.path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(got.stdout.contains(&name), "stdout names the restored backup:\n{got}");
    let previous = backup::newest_backup(&w.target(), &w.backups()).unwrap();
    assert_ne!(previous, b.path, "the replaced target was backed up anew");
    let previous_name = previous.file_name().unwrap().to_string_lossy().into_owned();
    assert!(got.stdout.contains(&previous_name), "stdout says where the old target went:\n{got}");
    backup::check_backup(&previous).expect("the new backup has a valid .sha256");
    assert_same("the backup of the replaced target", &changed, &dump_copy(&previous));
    assert!(!w.dir.path().join("app.db.partial").exists(), "no partial file is left");
}

#[test]
fn a_backup_with_one_changed_byte_is_refused_naming_it_and_the_target_is_untouched() {
    let w = Work::new();
    create_target(&w.target());
    let b = w.backup();
    change_target(&w.target(), "current");
    let mut bytes = fs::read(&b.path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&b.path, &bytes).unwrap();
    let before = fs::read(w.target()).unwrap();
    let files_before = w.backup_files();

    let name = b.path.file_name().unwrap().to_string_lossy().into_owned();
    w.rollback(&[]).assert_code(2).assert_stderr_contains(&name).assert_stderr_contains("changed");
    assert!(fs::read(w.target()).unwrap() == before, "the target is byte-identical");
    assert_eq!(w.backup_files(), files_before, "no backup was made or removed");
}

#[test]
fn a_backup_without_its_sha256_file_is_refused() {
    let w = Work::new();
    create_target(&w.target());
    let b = w.backup();
    change_target(&w.target(), "current");
    fs::remove_file(backup::sum_path(&b.path)).unwrap();
    let before = fs::read(w.target()).unwrap();

    let name = b.path.file_name().unwrap().to_string_lossy().into_owned();
    w.rollback(&[]).assert_code(2).assert_stderr_contains(&name).assert_stderr_contains(".sha256");
    assert!(fs::read(w.target()).unwrap() == before, "the target is byte-identical");
}

#[test]
fn a_sha256_file_naming_another_file_is_refused() {
    let w = Work::new();
    create_target(&w.target());
    let b = w.backup();
    let sums = backup::sum_path(&b.path);
    fs::write(&sums, format!("{}  other.db\n", b.sha256)).unwrap();
    w.rollback(&[]).assert_code(2).assert_stderr_contains("other.db");
}

#[test]
fn rollback_to_a_given_backup_restores_that_one() {
    let w = Work::new();
    create_target(&w.target());
    let a = dump(&w.target());
    let backup_a = w.backup();
    change_target(&w.target(), "b");
    w.backup();
    change_target(&w.target(), "c");

    w.rollback(&["--to", backup_a.path.to_str().unwrap()]).assert_code(0);
    assert_same("after --to the first backup", &a, &dump(&w.target()));
}

#[test]
fn with_no_backup_rollback_exits_2_saying_where_it_looked() {
    let w = Work::new();
    create_target(&w.target());
    let before = fs::read(w.target()).unwrap();
    let got = w.rollback(&[]).assert_code(2);
    let got = got.assert_stderr_contains("no backup of app.db").assert_stderr_contains("backups");
    got.assert_stderr_contains("import and migrate");
    assert!(fs::read(w.target()).unwrap() == before);

    // Backups of another target whose name starts the same are not this target's.
    let other = w.dir.path().join("app-2.db");
    create_target(&other);
    backup::backup(&other, &w.backups(), &Silent).unwrap();
    w.rollback(&[]).assert_code(2).assert_stderr_contains("no backup of app.db");
}

#[test]
fn a_missing_to_file_is_refused_naming_it() {
    let w = Work::new();
    create_target(&w.target());
    w.rollback(&["--to", "backups/nope.db"])
        .assert_code(2)
        .assert_stderr_contains("backups/nope.db");
}

#[test]
fn a_rollback_onto_a_missing_target_restores_it_and_backs_up_nothing() {
    let w = Work::new();
    create_target(&w.target());
    let original = dump(&w.target());
    let b = w.backup();
    fs::remove_file(w.target()).unwrap();

    let got = pg2lite(&["--json", "rollback", "--target", "app.db", "--backup-dir", "backups"])
        .cwd(w.dir.path())
        .assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&got.stdout).expect("--json prints JSON");
    assert_eq!(json["previous"], serde_json::Value::Null, "{got}");
    assert_eq!(json["restored"]["sha256"], b.sha256.as_str(), "{got}");
    assert_eq!(json["restored"]["bytes"], b.bytes, "{got}");
    assert_same("the restored target", &original, &dump(&w.target()));
    let dbs = w.backup_files().into_iter().filter(|n| n.ends_with(".db")).count();
    assert_eq!(dbs, 1, "still one backup: {:?}", w.backup_files());
}

#[test]
fn a_target_a_writer_holds_is_refused_and_left_unchanged() {
    let w = Work::new();
    create_target(&w.target());
    w.backup();
    change_target(&w.target(), "current");
    let before = fs::read(w.target()).unwrap();
    let files_before = w.backup_files();

    let holder = Connection::open(w.target()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let got = w.rollback(&[]).assert_code(2);
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);

    let got = got.assert_stderr_contains("app.db is in use");
    got.assert_stderr_contains("close the program using it and retry");
    assert!(fs::read(w.target()).unwrap() == before, "the target is byte-identical");
    assert_eq!(w.backup_files(), files_before, "no backup was made");
    w.rollback(&[]).assert_code(0);
}

#[test]
fn a_wal_target_another_connection_keeps_open_is_refused() {
    let w = Work::new();
    create_target(&w.target());
    w.backup();
    change_target(&w.target(), "current");
    let expected = dump(&w.target());

    let reader = Connection::open(w.target()).unwrap();
    let n: i64 = reader.query_row("SELECT count(*) FROM book", [], |r| r.get(0)).unwrap();
    assert!(n > 0);
    let got = w.rollback(&[]).assert_code(2);
    drop(reader);

    got.assert_stderr_contains("app.db is in use").assert_stderr_contains("-wal");
    assert_same("the target after the refused rollback", &expected, &dump(&w.target()));
}

#[test]
fn sha256sum_checks_a_backup_with_its_sha256_file() {
    let w = Work::new();
    create_target(&w.target());
    let b = w.backup();
    let sums = backup::sum_path(&b.path);
    let out = Command::new("sha256sum")
        .arg("-c")
        .arg(sums.file_name().unwrap())
        .current_dir(w.backups())
        .output()
        .expect("sha256sum runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "sha256sum -c failed: {out:?}");
    let name = b.path.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(stdout, format!("{name}: OK\n"));
    assert_eq!(fs::metadata(&b.path).unwrap().len(), b.bytes);
}

#[test]
fn backup_names_carry_the_utc_time_in_microseconds_and_sort_by_it() {
    let w = Work::new();
    create_target(&w.target());
    let names: Vec<String> = (0..3)
        .map(|_| w.backup().path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for name in &names {
        let time = name.strip_prefix("app-").and_then(|n| n.strip_suffix(".db")).unwrap_or("");
        let parsed = chrono::NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%S%.6fZ");
        assert!(parsed.is_ok() && time.len() == 23, "{name} is not app-<UTC time>.db");
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, names, "three backups, distinct names, in time order");
    let newest = backup::newest_backup(&w.target(), &w.backups()).unwrap();
    assert!(newest.ends_with(&names[2]));
}

#[test]
fn a_backup_of_a_wal_database_holds_the_changes_not_yet_checkpointed() {
    let w = Work::new();
    create_target(&w.target());
    let writer = Connection::open(w.target()).unwrap();
    writer.execute_batch("PRAGMA wal_autocheckpoint = 0").unwrap();
    writer
        .execute_batch("INSERT INTO author (name) VALUES ('only in the wal'); DELETE FROM book;")
        .unwrap();
    let wal = fs::metadata(w.dir.path().join("app.db-wal")).unwrap().len();
    assert!(wal > 0, "the changes sit in the -wal file");
    let main_file_only = count_where_immutable(&w.target());
    assert_eq!(main_file_only, 0, "the main file alone does not hold them yet");

    let b = w.backup();
    drop(writer);
    let copy = tempfile::tempdir().unwrap();
    let path = copy.path().join("b.db");
    fs::copy(&b.path, &path).unwrap();
    let conn = Connection::open(&path).unwrap();
    let (authors, books): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM author WHERE name = 'only in the wal'), \
             (SELECT count(*) FROM book)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((authors, books), (1, 0), "the backup has the WAL's changes");
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}

/// Rows of the marker author in the main database file alone, ignoring its WAL.
fn count_where_immutable(path: &Path) -> i64 {
    let uri = format!("file:{}?immutable=1", path.display());
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(uri, flags).unwrap();
    conn.query_row("SELECT count(*) FROM author WHERE name = 'only in the wal'", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_file_that_is_not_a_database_is_not_backed_up() {
    let w = Work::new();
    fs::write(w.target(), "just some text, long enough to look like a header, not SQLite\n")
        .unwrap();
    let err = backup::backup(&w.target(), &w.backups(), &Silent).unwrap_err();
    assert!(err.to_string().contains("app.db"), "{err}");
    assert_eq!(w.backup_files(), Vec::<String>::new(), "nothing is left in backups");
}

/// Issue 12: a backup killed half way leaves its `.pg2lite-backup-*.partial`; the next backup
/// into that directory removes it and says so, and leaves one a running backup holds.
#[test]
fn an_interrupted_backups_temporary_file_is_removed_by_the_next_and_named() {
    struct Said(std::sync::Mutex<Vec<String>>);
    impl pg2lite::progress::Progress for Said {
        fn start(&self, s: &str, n: &str, t: Option<u64>) -> Box<dyn pg2lite::progress::Task + '_> {
            Silent.start(s, n, t)
        }
        fn message(&self, text: &str) {
            self.0.lock().unwrap().push(text.to_owned());
        }
    }
    let w = Work::new();
    create_target(&w.target());
    fs::create_dir_all(w.backups()).unwrap();
    let stale = w.backups().join(".pg2lite-backup-AbC123.partial");
    fs::write(&stale, "half a backup").unwrap();
    let held = w.backups().join(".pg2lite-backup-Held99.partial");
    let holder = fs::File::create(&held).unwrap();
    holder.try_lock().unwrap();
    let said = Said(std::sync::Mutex::new(Vec::new()));
    let b = backup::backup(&w.target(), &w.backups(), &said).expect("backup succeeds");
    let said = said.0.into_inner().unwrap();
    let line = format!("removed {}, left by a backup that was interrupted", stale.display());
    assert_eq!(said, vec![line]);
    assert!(!stale.exists() && held.exists(), "{:?}", w.backup_files());
    backup::check_backup(&b.path).expect("the new backup checks");
    drop(holder);
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The `.db` backups in the backup directory, oldest first (by the time in their names).
fn backup_dbs(w: &Work) -> Vec<PathBuf> {
    let names = w.backup_files().into_iter().filter(|n| n.ends_with(".db"));
    names.map(|n| w.backups().join(n)).collect()
}

/// Issue 15 item 5: three migrates (v1, v2, v3), then rollback, rollback: v2, then v1, never
/// back onto the file just replaced; a third says there is nothing older, naming the oldest,
/// and changes nothing; `--to` the backup of v3 puts it back and stepping continues from it.
#[test]
fn rollback_steps_back_through_three_imports_and_says_when_nothing_is_older() {
    let db = TestDb::new();
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'v1');");
    let w = Work::new();
    let migrate = || {
        let args = ["migrate", "-q", "--yes", "--source", &db.url(), "--target", "app.db"];
        pg2lite(&args).cwd(w.dir.path()).assert_code(0);
        dump(&w.target())
    };
    let v1 = migrate();
    db.execute("UPDATE t SET v = 'v2'; INSERT INTO t VALUES (2, 'two');");
    let v2 = migrate();
    db.execute("UPDATE t SET v = 'v3'; DELETE FROM t WHERE id = 2;");
    let v3 = migrate();
    assert!(v1 != v2 && v2 != v3 && v1 != v3, "three different versions");
    let [b1, b2] = <[PathBuf; 2]>::try_from(backup_dbs(&w)).expect("two backups by import");

    w.rollback(&[]).assert_code(0);
    assert_same("after one rollback", &v2, &dump(&w.target()));
    w.rollback(&[]).assert_code(0);
    assert_same("after the second rollback (not back to v3)", &v1, &dump(&w.target()));

    let before = fs::read(w.target()).unwrap();
    let files = w.backup_files();
    let got = w.rollback(&[]).assert_code(2).assert_stderr_contains("nothing older");
    got.assert_stderr_contains(&format!("the oldest is {}", name_of(&b1)));
    assert!(fs::read(w.target()).unwrap() == before, "the target is byte-identical");
    assert_eq!(w.backup_files(), files, "nothing was written");

    // The first rollback's backup of v3 is the third .db by time: B1, B2, then it.
    let of_v3 = backup_dbs(&w)[2].clone();
    assert_same("the first rollback's backup", &v3, &dump_copy(&of_v3));
    w.rollback(&["--to", of_v3.to_str().unwrap()]).assert_code(0);
    assert_same("after --to the backup of v3", &v3, &dump(&w.target()));
    let got = w.rollback(&[]).assert_code(0);
    assert!(got.stdout.contains(&name_of(&b2)), "stepping from v3 restores B2:\n{got}");
    assert_same("stepping on from --to", &v2, &dump(&w.target()));
    w.rollback(&[]).assert_code(0);
    assert_same("and once more", &v1, &dump(&w.target()));
}

/// `--list`, human and `--json`: newest first, UTC time, size, checksum state read from each
/// `.sha256`, the backup the current target came from, and those a rollback made.
#[test]
fn rollback_list_shows_every_backup_with_time_size_checksum_and_origin() {
    let w = Work::new();
    create_target(&w.target());
    let b1 = w.backup();
    change_target(&w.target(), "v2");
    let b2 = w.backup();
    change_target(&w.target(), "v3");
    w.rollback(&[]).assert_code(0);
    let dbs = backup_dbs(&w);
    assert_eq!(dbs.len(), 3, "{:?}", w.backup_files());
    let by_rollback = dbs[2].clone();

    let got = w.rollback(&["--list"]).assert_code(0);
    let lines: Vec<&str> = got.stdout.lines().collect();
    assert_eq!(lines[0], "3 backups of app.db in backups, newest first:", "{got}");
    let rows = &lines[3..];
    assert_eq!(rows.len(), 3, "{got}");
    for (row, path) in rows.iter().zip([&by_rollback, &b2.path, &b1.path]) {
        let name = name_of(path);
        assert!(row.contains(&name), "newest first: {row} should be {name}\n{got}");
        assert!(row.contains(" ok "), "{row}");
        let size = pg2lite::report::grouped(fs::metadata(path).unwrap().len());
        assert!(row.contains(&format!(" {size} ")), "{row} shows {size} bytes");
        let t = &name["app-".len().."app-".len() + 23];
        let time = chrono::NaiveDateTime::parse_from_str(t, "%Y%m%dT%H%M%S%.6fZ").unwrap();
        assert!(row.starts_with(&time.format("%Y-%m-%d %H:%M:%S%.6f").to_string()), "{row}");
    }
    assert!(rows[0].ends_with("made by a rollback"), "{got}");
    assert!(rows[1].ends_with("the current target came from it"), "{got}");
    assert!(!rows[2].contains("made by") && !rows[2].contains("current"), "{got}");

    let json = list_json(&w);
    let backups = json["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 3, "{json}");
    let flags: Vec<(bool, bool)> = backups
        .iter()
        .map(|b| (b["current"].as_bool().unwrap(), b["made_by_rollback"].as_bool().unwrap()))
        .collect();
    assert_eq!(flags, [(false, true), (true, false), (false, false)], "{json}");
    assert_eq!(backups[1]["path"], b2.path.strip_prefix(w.dir.path()).unwrap().to_str().unwrap());
    assert_eq!(backups[1]["bytes"], b2.bytes, "{json}");
    assert_eq!(backups[1]["checksum"], "ok", "{json}");
    let t = backups[2]["time"].as_str().unwrap();
    let parsed = chrono::DateTime::parse_from_rfc3339(t).unwrap().naive_utc();
    assert_eq!(parsed.format("app-%Y%m%dT%H%M%S%.6fZ.db").to_string(), name_of(&b1.path));
}

fn list_json(w: &Work) -> serde_json::Value {
    let args = ["--json", "rollback", "--list", "--target", "app.db", "--backup-dir", "backups"];
    let got = pg2lite(&args).cwd(w.dir.path()).assert_code(0);
    serde_json::from_str(&got.stdout).unwrap_or_else(|e| panic!("{e}: {got}"))
}

/// `--list` reports a changed backup, a missing `.sha256`, and a `.sha256` that is a link
/// (not followed), each by reading it; an edit of the target since the rollback means it no
/// longer came from that backup.
#[test]
fn rollback_list_shows_changed_missing_and_refused_checksums() {
    let w = Work::new();
    create_target(&w.target());
    let b1 = w.backup();
    let b2 = w.backup();
    let b3 = w.backup();
    let mut bytes = fs::read(&b1.path).unwrap();
    bytes[100] ^= 0x01;
    fs::write(&b1.path, bytes).unwrap();
    fs::remove_file(backup::sum_path(&b2.path)).unwrap();
    let real_sum = w.dir.path().join("elsewhere.sha256");
    fs::rename(backup::sum_path(&b3.path), &real_sum).unwrap();
    std::os::unix::fs::symlink(&real_sum, backup::sum_path(&b3.path)).unwrap();

    let json = list_json(&w);
    let states: Vec<&str> = json["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["checksum"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["refused", "no .sha256", "changed"], "{json}");
    let problem = json["backups"][0]["problem"].as_str().unwrap();
    assert!(problem.contains("symbolic link") && problem.contains(".sha256"), "{problem}");
    let got = w.rollback(&["--list"]).assert_code(0);
    assert!(got.stdout.contains("symbolic link"), "the human list says why:\n{got}");

    // The current target, once edited, no longer came from the backup it was restored from.
    fs::remove_file(backup::sum_path(&b3.path)).unwrap();
    fs::rename(&real_sum, backup::sum_path(&b3.path)).unwrap();
    w.rollback(&[]).assert_code(0);
    assert_eq!(list_json(&w)["backups"][1]["current"], true);
    change_target(&w.target(), "edited");
    let json = list_json(&w);
    let current = json["backups"].as_array().unwrap().iter().filter(|b| b["current"] == true);
    assert_eq!(current.count(), 0, "{json}");
}

/// A backup directory that holds nothing of this target: rollback exits 2 saying where it
/// looked; `--list` says there are none (exit 0, `[]` with `--json`).
#[test]
fn a_backup_dir_without_backups_of_the_target_is_refused_and_listed_empty() {
    let w = Work::new();
    create_target(&w.target());
    fs::create_dir_all(w.backups()).unwrap();
    fs::write(w.backups().join("app-20240102T030405.123456Z.db.sha256"), "x").unwrap();
    fs::write(w.backups().join("app-notatime.db"), "x").unwrap();
    let before = fs::read(w.target()).unwrap();
    let got = w.rollback(&[]).assert_code(2).assert_stderr_contains("no backup of app.db");
    got.assert_stderr_contains("app-YYYYMMDDTHHMMSS.ffffffZ.db");
    assert!(fs::read(w.target()).unwrap() == before);
    let got = w.rollback(&["--list"]).assert_code(0);
    assert_eq!(got.stdout, "no backups of app.db in backups\n");
    assert_eq!(list_json(&w)["backups"], serde_json::json!([]));
}

/// A link named as the newest backup, to a FIFO with a matching-looking `.sha256`: if it were
/// followed the open would block (and the run time out); it is refused naming it, the target
/// stays as it is, and `--list` shows it unread.
#[test]
fn a_symlink_in_the_backup_dir_is_not_followed() {
    let w = Work::new();
    create_target(&w.target());
    w.backup();
    change_target(&w.target(), "current");
    let fifo = w.dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let link = w.backups().join("app-29991231T235959.999999Z.db");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    fs::write(backup::sum_path(&link), format!("{}  {}\n", "0".repeat(64), name_of(&link)))
        .unwrap();
    let before = fs::read(w.target()).unwrap();
    let files = w.backup_files();

    let run = |extra: &[&str]| {
        let mut args = vec!["rollback", "--target", "app.db", "--backup-dir", "backups"];
        args.extend_from_slice(extra);
        pg2lite(&args).cwd(w.dir.path()).timeout(std::time::Duration::from_secs(20))
    };
    let got = run(&[]).assert_code(2).assert_stderr_contains(&name_of(&link));
    got.assert_stderr_contains("a symbolic link to").assert_stderr_contains("not followed");
    assert!(fs::read(w.target()).unwrap() == before, "the target is byte-identical");
    assert_eq!(w.backup_files(), files, "nothing was written");

    let got = run(&["--list", "--json"]).assert_code(0);
    let json: serde_json::Value = serde_json::from_str(&got.stdout).unwrap();
    assert_eq!(json["backups"][0]["checksum"], "refused", "{json}");
    assert_eq!(json["backups"][0]["bytes"], serde_json::Value::Null, "{json}");
    assert_eq!(json["backups"][1]["checksum"], "ok", "{json}");
}

/// Stepping onto an older backup that was changed is refused naming it, and the record still
/// says where the target came from, so the rollback after the backup is repaired goes there.
#[test]
fn stepping_onto_a_changed_older_backup_is_refused_naming_it() {
    let w = Work::new();
    create_target(&w.target());
    let v1 = dump(&w.target());
    let b1 = w.backup();
    change_target(&w.target(), "v2");
    w.backup();
    change_target(&w.target(), "v3");
    w.rollback(&[]).assert_code(0);
    let good = fs::read(&b1.path).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 3] ^= 0x10;
    fs::write(&b1.path, bad).unwrap();
    let before = fs::read(w.target()).unwrap();
    w.rollback(&[])
        .assert_code(2)
        .assert_stderr_contains(&name_of(&b1.path))
        .assert_stderr_contains("changed or damaged");
    assert!(fs::read(w.target()).unwrap() == before, "the target is byte-identical");
    fs::write(&b1.path, good).unwrap();
    w.rollback(&[]).assert_code(0);
    assert_same("after repairing the backup", &v1, &dump(&w.target()));
}

/// The rollback record is read as strictly as a backup: invalid JSON, or a link, is refused
/// naming it, before anything changes.
#[test]
fn a_damaged_or_linked_rollback_record_is_refused_naming_it() {
    let w = Work::new();
    create_target(&w.target());
    w.backup();
    let record = w.backups().join(format!("app{}", rollback::RECORD_SUFFIX));
    fs::write(&record, "{ not json").unwrap();
    let before = fs::read(w.target()).unwrap();
    let got = w.rollback(&[]).assert_code(2).assert_stderr_contains(&name_of(&record));
    got.assert_stderr_contains("remove it");
    w.rollback(&["--list"]).assert_code(2).assert_stderr_contains(&name_of(&record));

    fs::remove_file(&record).unwrap();
    let elsewhere = w.dir.path().join("record.json");
    fs::write(&elsewhere, r#"{"version":1,"current":null,"made_by_rollback":[]}"#).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &record).unwrap();
    w.rollback(&[]).assert_code(2).assert_stderr_contains("symbolic link");
    assert!(fs::read(w.target()).unwrap() == before, "the target is byte-identical");
}
