//! What a person sees (issue 15, items 2, 3 and 9): without a terminal, one progress line per
//! stage (per table only with --verbose); a closing summary whose total is the wall time and
//! whose words agree with their numbers; --help with examples and the global options apart.

use std::collections::BTreeMap;

use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::TestDb;

const STAGES: &[&str] = &["export", "import", "verify", "validate", "checksum"];

fn migrate(db: &TestDb, extra: &[&str]) -> (tempfile::TempDir, Outcome) {
    let work = tempfile::tempdir().unwrap();
    let url = db.url();
    let mut args = vec!["migrate", "--source", url.as_str(), "--target", "pagila.db"];
    args.extend_from_slice(extra);
    let out = pg2lite(&args).cwd(work.path()).run().assert_code(0);
    (work, out)
}

/// The progress lines of stderr, by stage: `STAGE: totals` and (--verbose) `STAGE NAME: totals`,
/// totals starting with a digit.
fn progress_lines(stderr: &str) -> BTreeMap<&str, Vec<&str>> {
    let mut by_stage: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in stderr.lines() {
        let Some((head, rest)) = line.split_once(": ") else { continue };
        let stage = head.split(' ').next().unwrap_or("");
        let shaped = head.split(' ').count() <= 2 && rest.starts_with(|c: char| c.is_ascii_digit());
        if let (Some(stage), true) = (STAGES.iter().find(|s| **s == stage), shaped) {
            by_stage.entry(stage).or_default().push(line);
        }
    }
    by_stage
}

/// The Pagila demo printed about 100 progress lines without a terminal, mixed with results.
#[test]
fn issue_15_a_migrate_without_a_terminal_prints_one_progress_line_per_stage() {
    let db = TestDb::new();
    db.load_pagila();
    let (_work, out) = migrate(&db, &[]);
    let lines = progress_lines(&out.stderr);
    for stage in ["export", "import", "validate"] {
        let got = lines.get(stage).unwrap_or_else(|| panic!("no {stage} line:\n{out}"));
        assert_eq!(got.len(), 1, "{stage}: {got:#?}\n{out}");
    }
    for (stage, got) in &lines {
        assert_eq!(got.len(), 1, "{stage}: {got:#?}\n{out}");
    }
    // The totals are Postgres' own count: Pagila's 15 tables (payment's partitions as one).
    let rows: i64 = db.query_strings(
        "SELECT (SELECT count(*) FROM actor) + (SELECT count(*) FROM address) + \
             (SELECT count(*) FROM category) + (SELECT count(*) FROM city) + \
             (SELECT count(*) FROM country) + (SELECT count(*) FROM customer) + \
             (SELECT count(*) FROM film) + (SELECT count(*) FROM film_actor) + \
             (SELECT count(*) FROM film_category) + (SELECT count(*) FROM inventory) + \
             (SELECT count(*) FROM language) + (SELECT count(*) FROM payment) + \
             (SELECT count(*) FROM rental) + (SELECT count(*) FROM staff) + \
             (SELECT count(*) FROM store)",
    )[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    let expected = format!("export: 15 tables, {} rows, ", pg2lite::report::grouped(rows as u64));
    assert!(lines["export"][0].starts_with(&expected), "expected {expected}\n{out}");
    // No progress line is on stdout, where the result is.
    assert!(progress_lines(&out.stdout).is_empty(), "{}", out.stdout);
}

#[test]
fn with_verbose_each_table_has_its_line_too() {
    let db = TestDb::new();
    db.execute("CREATE TABLE one (id int PRIMARY KEY); INSERT INTO one VALUES (1);");
    db.execute("CREATE TABLE two (id int PRIMARY KEY); INSERT INTO two VALUES (1), (2);");
    let (_work, out) = migrate(&db, &["--verbose"]);
    let lines = progress_lines(&out.stderr);
    let export = &lines["export"];
    assert_eq!(export.len(), 3, "{out}");
    assert!(export.iter().any(|l| l.starts_with("export public.one: 1 row, ")), "{out}");
    assert!(export.iter().any(|l| l.starts_with("export public.two: 2 rows, ")), "{out}");
    assert!(export.iter().any(|l| l.starts_with("export: 2 tables, 3 rows, ")), "{out}");
}

/// Pagila's summary listed 5.37 s of table time after 1.48 s taken, and said "1 tables".
#[test]
fn issue_15_the_summary_total_is_the_wall_time_and_no_table_took_longer() {
    let db = TestDb::new();
    db.execute(
        "CREATE TABLE solo (id int PRIMARY KEY, name text); INSERT INTO solo VALUES (1, 'a');",
    );
    let started = std::time::Instant::now();
    let (work, out) = migrate(&db, &["--json"]);
    let elapsed = started.elapsed().as_secs_f64();
    let summary: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let wall = summary["wall_seconds"].as_f64().unwrap_or_else(|| panic!("{summary}"));
    assert!(wall > 0.0 && wall <= elapsed, "wall {wall} s, the process took {elapsed} s");
    for t in summary["tables"].as_array().unwrap() {
        let secs = t["seconds"].as_f64().unwrap();
        assert!(secs <= wall, "{} took {secs} s of a {wall} s run", t["table"]);
    }
    // The human form: the total row is labelled, and one table is "1 table".
    std::fs::remove_file(work.path().join("pagila.db")).unwrap();
    let url = db.url();
    let human = pg2lite(&["migrate", "--source", &url, "--target", "pagila.db", "--no-backup"])
        .cwd(work.path())
        .run()
        .assert_code(0);
    let total = human.stdout.lines().find(|l| l.starts_with("total")).unwrap_or("");
    assert!(total.starts_with("total (wall time)"), "{human}");
    let export = progress_lines(&human.stderr)["export"][0];
    assert!(export.starts_with("export: 1 table, 1 row, "), "{human}");
    assert!(!human.stdout.contains("1 tables") && !human.stderr.contains("1 tables"), "{human}");
}

#[test]
fn every_subcommand_help_shows_examples_and_the_global_options_apart() {
    for cmd in ["export", "verify", "import", "migrate", "schema", "rollback", "validate"] {
        let out = pg2lite(&[cmd, "--help"]).run().assert_code(0);
        let help = &out.stdout;
        let examples =
            help.find("Examples:").unwrap_or_else(|| panic!("{cmd}: no Examples\n{help}"));
        assert!(help[examples..].contains(&format!("pg2lite {cmd}")), "{cmd}:\n{help}");
        let global = help.find("Global options:").unwrap_or_else(|| panic!("{cmd}:\n{help}"));
        for flag in ["--quiet", "--json", "--verbose"] {
            let at = help.find(flag).unwrap_or_else(|| panic!("{cmd}: no {flag}\n{help}"));
            assert!(at > global, "{cmd}: {flag} is not under Global options\n{help}");
        }
    }
}

/// `validate --help` offered `--strict  Create STRICT tables`, which validate does not do.
#[test]
fn issue_15_validate_help_offers_no_option_that_creates_anything() {
    let out = pg2lite(&["validate", "--help"]).run().assert_code(0);
    assert!(!out.stdout.contains("Create STRICT tables"), "{}", out.stdout);
}
