//! What `validate` found, as data and as text: the [`ValidationReport`] that `--report
//! FILE.json` and `--json` write, the table printed on a terminal, and [`TextTable`], the
//! column-aligned writer both that table and `migrate`'s pgloader-style summary use.
//!
//! Reads nothing and writes nothing itself: `validate` fills a report, the command line
//! renders it. The JSON shape is part of the contract (a report can be kept next to the
//! database and compared with a later one), so fields are only ever added.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The check ran and found nothing wrong.
    Pass,
    /// The check ran and found a difference; the validation fails (exit 1).
    Fail,
    /// Not run, with the reason in the check's `details`.
    Skip,
}

impl Status {
    /// `pass`, `FAIL` or `skip`: a failure stands out in a column of passes.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }

    /// `Pass` when `ok`, else `Fail`.
    pub fn of(ok: bool) -> Status {
        if ok { Status::Pass } else { Status::Fail }
    }
}

/// Everything one `validate` run found. `passed` is true when no check failed (skipped
/// checks do not fail a validation; each says why it was skipped).
#[derive(Debug, Clone, Serialize)]
pub struct ValidationReport {
    /// `pg2lite 0.1.0`.
    pub tool: String,
    /// The export's id, from its manifest.
    pub export_id: String,
    /// The export directory validated against.
    pub export_dir: PathBuf,
    /// The manifest's own `manifest_sha256`.
    pub manifest_sha256: String,
    /// When the export's snapshot was taken (RFC 3339 UTC).
    pub exported_at: String,
    /// The SQLite file validated.
    pub target: PathBuf,
    /// SHA-256 of the target file as validated.
    pub target_sha256: String,
    /// The Postgres re-counted, without password; `None` when `--source` was not given.
    pub source: Option<String>,
    /// The tenant the export was scoped to, when it was.
    pub tenant: Option<String>,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// Wall time the validation took, in seconds.
    pub seconds: f64,
    /// One report per exported table.
    pub tables: Vec<TableReport>,
    /// The checks of the export and the target as whole files.
    pub file_checks: FileChecks,
    /// With `--source`: how Postgres' row counts now differ from the export's snapshot.
    /// `None` without `--source`.
    pub changed_since_export: Option<SourceChanges>,
    /// The database objects the file does not hold (views that could not be translated,
    /// triggers, functions, ...), each a note naming it and why; not a failure.
    pub not_carried: Vec<String>,
    /// Whether no check failed; set by [`Self::seal`].
    pub passed: bool,
}

/// What changed in Postgres since the export, as far as row counts tell: the export proves
/// its counts against `count(*)` in its own snapshot, so a re-count that differs is data
/// written since (by the application, on a live database), not a faulty copy. A change is
/// not a failure unless `--require-unchanged` was given. Counts do not see an update, nor
/// as many rows deleted as inserted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceChanges {
    /// The sum over the changed tables of how many rows the counts differ by.
    pub rows: u64,
    /// The tables whose count differs, in report order.
    pub tables: Vec<TableChange>,
    /// Whether `--require-unchanged` made each change a failure of its counts check.
    pub required_unchanged: bool,
}

/// One table whose count in Postgres now differs from the export's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableChange {
    /// `schema.table` in Postgres.
    pub table: String,
    /// Rows in the export's snapshot.
    pub export: u64,
    /// Rows in Postgres now, under the same filter.
    pub postgres: u64,
    /// `postgres - export`: positive when rows were added.
    pub difference: i64,
}

impl SourceChanges {
    /// The changes the tables' counts checks found (those re-counted in Postgres).
    pub fn of(tables: &[TableReport], required_unchanged: bool) -> Self {
        let tables: Vec<TableChange> = tables
            .iter()
            .filter_map(|t| {
                let (export, postgres) = (t.checks.counts.export, t.checks.counts.postgres?);
                (postgres != export).then(|| TableChange {
                    table: t.source.clone(),
                    export,
                    postgres,
                    difference: signed(postgres).saturating_sub(signed(export)),
                })
            })
            .collect();
        let rows = tables.iter().map(|t| t.difference.unsigned_abs()).sum();
        SourceChanges { rows, tables, required_unchanged }
    }

    /// `changed in Postgres since the export: 24 rows in 2 tables (public.events +20,
    /// public.notes -4)`, or `None` when nothing changed.
    pub fn line(&self) -> Option<String> {
        if self.tables.is_empty() {
            return None;
        }
        let each: Vec<String> =
            self.tables.iter().map(|t| format!("{} {:+}", t.table, t.difference)).collect();
        let each: Vec<&str> = each.iter().map(String::as_str).collect();
        let n = self.tables.len();
        let mut line = format!(
            "changed in Postgres since the export: {} in {} ({})",
            count(self.rows, "row"),
            count(n as u64, "table"),
            some_of(&each)
        );
        line.push_str(if self.required_unchanged {
            "; a failure, as --require-unchanged asks"
        } else {
            "; not a failure (the export is its own snapshot; --require-unchanged makes it one)"
        });
        Some(line)
    }
}

/// A count as a signed number, for a difference (counts beyond `i64` do not occur).
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The checks of one exported table.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    /// `schema.table` in Postgres.
    pub source: String,
    /// The SQLite table; `None` when the table was not imported (it has no columns).
    pub table: Option<String>,
    /// Each check's outcome for this table.
    pub checks: TableChecks,
}

/// The six checks run on each table; each says why when it was skipped.
#[derive(Debug, Clone, Serialize)]
pub struct TableChecks {
    /// Row counts on every side.
    pub counts: CountsCheck,
    /// The sets of keys (or whole rows) on both sides.
    pub keys: KeysCheck,
    /// The digests of the rows' values on both sides.
    pub content: ContentCheck,
    /// `PRAGMA foreign_key_check` rows, per foreign key of the table.
    pub foreign_keys: ListCheck,
    /// Values of json/jsonb columns that SQLite's `json_valid` refuses.
    pub json: ListCheck,
    /// Rows of a tenant-scoped export that belong to another tenant; skipped when the export is not
    /// tenant-scoped.
    pub tenancy: ListCheck,
}

/// Rows in the manifest, the export file, SQLite and (with `--source`) Postgres now.
#[derive(Debug, Clone, Serialize)]
pub struct CountsCheck {
    /// Pass when every count agrees (and, with `--require-unchanged`, Postgres' too).
    pub status: Status,
    /// Rows the manifest records.
    pub export: u64,
    /// Lines read from the export's file (`None` when it could not be read).
    pub export_lines: Option<u64>,
    /// Rows in the SQLite table; `None` when it could not be counted (see `details`).
    pub sqlite: Option<u64>,
    /// Rows in Postgres now under the table's filter; `None` without `--source`.
    pub postgres: Option<u64>,
    /// Sentences for people: each disagreement, or why the check was skipped.
    pub details: Vec<String>,
}

/// Primary-key sets (or, without a key, the multiset of whole rows), export vs SQLite.
#[derive(Debug, Clone, Serialize)]
pub struct KeysCheck {
    /// Pass when nothing is missing or extra.
    pub status: Status,
    /// `primary key (film_id)` or `whole rows (no primary key)`.
    pub compared_by: String,
    /// In the export, not in SQLite.
    pub missing: u64,
    /// In SQLite, not in the export.
    pub extra: u64,
    /// `(col=value, ...)`, in key order.
    pub first_missing: Vec<String>,
    /// `(col=value, ...)` of the first rows in SQLite and not in the export, in key order.
    pub first_extra: Vec<String>,
    /// Sentences for people: the counts found, or why the check was skipped.
    pub details: Vec<String>,
}

/// Digests of every row's converted values, export vs SQLite.
#[derive(Debug, Clone, Serialize)]
pub struct ContentCheck {
    /// Pass when the two digests are equal.
    pub status: Status,
    /// The sum of the rows' SHA-256 digests modulo 2^256, in hex: independent of row order,
    /// so two validations of the same data give the same digest.
    pub digest_export: Option<String>,
    /// The same digest over the SQLite table's rows; `None` when skipped.
    pub digest_sqlite: Option<String>,
    /// Rows present on both sides under the same key whose values differ.
    pub different: u64,
    /// The first of them: the key, then the columns that differ.
    pub first_different: Vec<String>,
    /// Sentences for people: the digests, the rows that differ, or why the check was skipped.
    pub details: Vec<String>,
}

/// A check that finds a number of bad values or rows and shows the first few.
#[derive(Debug, Clone, Serialize)]
pub struct ListCheck {
    /// Pass when nothing was found.
    pub status: Status,
    /// What was checked (columns, or foreign keys as `col -> parent`).
    pub checked: Vec<String>,
    /// Values or rows found wrong.
    pub found: u64,
    /// The first of them, each naming where.
    pub first: Vec<String>,
    /// Sentences for people: the first found, how many more, or why the check was skipped.
    pub details: Vec<String>,
}

impl ListCheck {
    /// A check that did not run, and why.
    pub fn skipped(why: impl Into<String>) -> Self {
        ListCheck {
            status: Status::Skip,
            checked: Vec::new(),
            found: 0,
            first: Vec::new(),
            details: vec![why.into()],
        }
    }

    /// A check over `checked` that found `first` (of `found` in all); the details list them.
    pub fn found(checked: Vec<String>, found: u64, first: Vec<String>) -> Self {
        let mut details = first.clone();
        if found > first.len() as u64 {
            details.push(format!("... and {} more", found - first.len() as u64));
        }
        ListCheck { status: Status::of(found == 0), checked, found, first, details }
    }
}

/// Checks of the files as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct FileChecks {
    /// `PRAGMA integrity_check` on the target.
    pub integrity: FileCheck,
    /// The export's own integrity: `pg2lite verify` at checksum level.
    pub export: FileCheck,
    /// The target was imported from this export (its `_pg2lite_export` row).
    pub origin: FileCheck,
}

/// The outcome of one whole-file check.
#[derive(Debug, Clone, Serialize)]
pub struct FileCheck {
    /// Its outcome.
    pub status: Status,
    /// Sentences for people: what was found, or why the check was skipped.
    pub details: Vec<String>,
}

impl FileCheck {
    /// A check with this outcome and these explanations.
    pub fn new(status: Status, details: Vec<String>) -> Self {
        FileCheck { status, details }
    }
}

impl TableChecks {
    /// Each check by its name in the report, in table order.
    pub fn named(&self) -> [(&'static str, Status, &[String]); 6] {
        [
            ("counts", self.counts.status, &self.counts.details),
            ("keys", self.keys.status, &self.keys.details),
            ("content", self.content.status, &self.content.details),
            ("foreign_keys", self.foreign_keys.status, &self.foreign_keys.details),
            ("json", self.json.status, &self.json.details),
            ("tenancy", self.tenancy.status, &self.tenancy.details),
        ]
    }

    /// Whether any of the table's checks failed (a skipped check does not).
    pub fn failed(&self) -> bool {
        self.named().iter().any(|(_, s, _)| *s == Status::Fail)
    }
}

impl FileChecks {
    /// Each file check by its name in the report, in report order.
    pub fn named(&self) -> [(&'static str, &FileCheck); 3] {
        [("export", &self.export), ("origin", &self.origin), ("integrity", &self.integrity)]
    }
}

impl ValidationReport {
    /// Whether every check passed or was skipped; sets nothing (see [`Self::seal`]).
    pub fn all_passed(&self) -> bool {
        !self.tables.iter().any(|t| t.checks.failed())
            && self.file_checks.named().iter().all(|(_, c)| c.status != Status::Fail)
    }

    /// Sets `passed` from the checks.
    pub fn seal(&mut self) {
        self.passed = self.all_passed();
    }

    /// How many checks failed, tables and files together.
    pub fn failures(&self) -> usize {
        let tables: usize = self
            .tables
            .iter()
            .map(|t| t.checks.named().iter().filter(|(_, s, _)| *s == Status::Fail).count())
            .sum();
        tables + self.file_checks.named().iter().filter(|(_, c)| c.status == Status::Fail).count()
    }

    /// The whole human report: the table, what failed, what was skipped, a summary line.
    pub fn render(&self) -> String {
        let mut out = self.table().render();
        out.push_str(&self.failure_text());
        out.push_str(&self.skip_text());
        out.push_str(&self.changes_text());
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    fn has_tenancy(&self) -> bool {
        self.tenant.is_some()
    }

    /// One row per table: its counts, then a column per check.
    pub fn table(&self) -> TextTable {
        let mut header = vec!["table", "export", "sqlite"];
        if self.source.is_some() {
            header.push("postgres");
        }
        header.extend(["counts", "keys", "content", "fkeys", "json"]);
        if self.has_tenancy() {
            header.push("tenancy");
        }
        let mut t = TextTable::new(&header);
        for i in 1..=(if self.source.is_some() { 3 } else { 2 }) {
            t.align(i, Align::Right);
        }
        for r in &self.tables {
            t.row(self.table_row(r));
        }
        t
    }

    fn table_row(&self, r: &TableReport) -> Vec<String> {
        let c = &r.checks;
        let opt = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let mut row = vec![r.source.clone(), c.counts.export.to_string(), opt(c.counts.sqlite)];
        if self.source.is_some() {
            row.push(opt(c.counts.postgres));
        }
        let statuses = [c.counts.status, c.keys.status, c.content.status];
        row.extend(statuses.iter().map(|s| s.label().to_owned()));
        row.extend([c.foreign_keys.status, c.json.status].iter().map(|s| s.label().to_owned()));
        if self.has_tenancy() {
            row.push(c.tenancy.status.label().to_owned());
        }
        row
    }

    /// `FAIL public.film content: ...`, one line per detail, tables first, then files.
    pub fn failure_text(&self) -> String {
        let mut out = String::new();
        for t in &self.tables {
            for (name, status, details) in t.checks.named() {
                if status == Status::Fail {
                    for d in details {
                        let _ = writeln!(out, "FAIL {} {name}: {d}", t.source);
                    }
                }
            }
        }
        for (name, check) in self.file_checks.named() {
            if check.status == Status::Fail {
                for d in &check.details {
                    let _ = writeln!(out, "FAIL {name}: {d}");
                }
            }
        }
        if !out.is_empty() {
            out.insert(0, '\n');
        }
        out
    }

    /// Skipped checks grouped by reason: `skip json (14 tables): no JSON columns`.
    pub fn skip_text(&self) -> String {
        let mut reasons: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
        for t in &self.tables {
            for (name, status, details) in t.checks.named() {
                if status == Status::Skip {
                    let why = details.first().map_or("", String::as_str);
                    reasons.entry((name, why)).or_default().push(&t.source);
                }
            }
        }
        let mut out = String::new();
        for ((name, why), tables) in reasons {
            if name == "tenancy" && !self.has_tenancy() {
                continue;
            }
            let _ = writeln!(out, "skip {name} for {}: {why}", some_of(&tables));
        }
        for (name, check) in self.file_checks.named() {
            if check.status == Status::Skip {
                let why = check.details.first().map_or("", String::as_str);
                let _ = writeln!(out, "skip {name}: {why}");
            }
        }
        if !out.is_empty() {
            out.insert(0, '\n');
        }
        out
    }

    /// The [`SourceChanges::line`] on a line of its own, after a blank one; empty when
    /// Postgres was not re-counted or nothing changed.
    pub fn changes_text(&self) -> String {
        match self.changed_since_export.as_ref().and_then(SourceChanges::line) {
            Some(line) => format!("\n{line}\n"),
            None => String::new(),
        }
    }

    /// `validated 15 tables, 46,000 rows: every check passed` or what failed.
    pub fn summary(&self) -> String {
        let rows: u64 = self.tables.iter().map(|t| t.checks.counts.export).sum();
        let head = format!(
            "\nvalidated {} against {}: {}, {} in {:.1} s",
            self.target.display(),
            self.export_dir.display(),
            count(self.tables.len() as u64, "table"),
            count(rows, "row"),
            self.seconds
        );
        let failed: Vec<&str> = self
            .tables
            .iter()
            .filter(|t| t.checks.failed())
            .map(|t| t.source.as_str())
            .chain(
                self.file_checks
                    .named()
                    .into_iter()
                    .filter(|(_, c)| c.status == Status::Fail)
                    .map(|(n, _)| n),
            )
            .collect();
        match self.failures() {
            0 => format!("{head}: every check passed"),
            n => format!(
                "{head}: {n} check{} FAILED ({})",
                if n == 1 { "" } else { "s" },
                some_of(&failed)
            ),
        }
    }
}

/// `a, b, c` or `a, b, c, d, e and 9 more`.
fn some_of(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    format!("{} and {} more", names[..SHOWN].join(", "), names.len() - SHOWN)
}

/// `49636` as `49,636`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 table`, `15 tables`, `49,636 rows`: a count, grouped as [`grouped`], with its noun in
/// the singular or the plural (an `s` added).
pub fn count(n: u64, noun: &str) -> String {
    count_as(n, noun, &format!("{noun}s"))
}

/// [`count`] for a noun whose plural is not its singular plus `s` (`1 index`, `2 indexes`).
pub fn count_as(n: u64, singular: &str, plural: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { singular } else { plural })
}

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    /// For text, the default.
    #[default]
    Left,
    /// For numbers, so that digits line up.
    Right,
}

/// A plain text table, as psql and pgloader print them: a header, a rule of dashes under
/// each column, rows, and optional rules (before a totals row, say). Columns are as wide as
/// their widest cell (counted in characters); the last column carries no trailing spaces.
///
/// ```
/// use pg2lite::report::{Align, TextTable};
///
/// let mut t = TextTable::new(&["table", "rows"]);
/// t.align(1, Align::Right);
/// t.row(vec!["public.actor".into(), "200".into()]);
/// t.rule();
/// t.row(vec!["total".into(), "1200".into()]);
/// assert_eq!(
///     t.render(),
///     "table         rows\n------------  ----\npublic.actor   200\n------------  ----\ntotal         1200\n"
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct TextTable {
    header: Vec<String>,
    align: Vec<Align>,
    /// `None` is a rule.
    rows: Vec<Option<Vec<String>>>,
}

impl TextTable {
    /// A table with this header and no rows, every column left-aligned.
    pub fn new(header: &[&str]) -> Self {
        TextTable {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            align: vec![Align::Left; header.len()],
            rows: Vec::new(),
        }
    }

    /// Sets how column `index` is aligned (the header follows it).
    pub fn align(&mut self, index: usize, align: Align) -> &mut Self {
        if let Some(a) = self.align.get_mut(index) {
            *a = align;
        }
        self
    }

    /// Appends a row; missing cells are blank, cells beyond the header are dropped.
    pub fn row(&mut self, mut cells: Vec<String>) -> &mut Self {
        cells.resize(self.header.len(), String::new());
        self.rows.push(Some(cells));
        self
    }

    /// Appends a rule of dashes.
    pub fn rule(&mut self) -> &mut Self {
        self.rows.push(None);
        self
    }

    /// Whether no row or rule was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in self.rows.iter().flatten() {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        widths
    }

    /// The table as text, one `\n`-terminated line per header, rule and row.
    pub fn render(&self) -> String {
        let widths = self.widths();
        let mut out = self.line(&self.header, &widths);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&self.line(&rule, &widths));
        for row in &self.rows {
            out.push_str(&self.line(row.as_ref().unwrap_or(&rule), &widths));
        }
        out
    }

    fn line(&self, cells: &[String], widths: &[usize]) -> String {
        let mut parts = Vec::with_capacity(cells.len());
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = " ".repeat(width - cell.chars().count().min(*width));
            parts.push(match self.align[i] {
                Align::Right => format!("{pad}{cell}"),
                Align::Left => format!("{cell}{pad}"),
            });
        }
        let mut line = parts.join("  ").trim_end().to_owned();
        line.push('\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passing(source: &str) -> TableReport {
        let list = || ListCheck::found(vec!["c".into()], 0, vec![]);
        TableReport {
            source: source.into(),
            table: Some(source.into()),
            checks: TableChecks {
                counts: CountsCheck {
                    status: Status::Pass,
                    export: 1200,
                    export_lines: Some(1200),
                    sqlite: Some(1200),
                    postgres: None,
                    details: vec![],
                },
                keys: KeysCheck {
                    status: Status::Pass,
                    compared_by: "primary key (id)".into(),
                    missing: 0,
                    extra: 0,
                    first_missing: vec![],
                    first_extra: vec![],
                    details: vec![],
                },
                content: ContentCheck {
                    status: Status::Pass,
                    digest_export: Some("ab".into()),
                    digest_sqlite: Some("ab".into()),
                    different: 0,
                    first_different: vec![],
                    details: vec![],
                },
                foreign_keys: list(),
                json: ListCheck::skipped("no JSON columns"),
                tenancy: ListCheck::skipped("not a tenant-scoped export"),
            },
        }
    }

    fn report(tables: Vec<TableReport>) -> ValidationReport {
        let ok = || FileCheck::new(Status::Pass, vec![]);
        let mut r = ValidationReport {
            tool: "pg2lite test".into(),
            export_id: "db-1".into(),
            export_dir: "e".into(),
            manifest_sha256: "00".into(),
            exported_at: "2026-01-01T00:00:00Z".into(),
            target: "app.db".into(),
            target_sha256: "11".into(),
            source: None,
            tenant: None,
            started_at: "2026-01-01T00:00:01Z".into(),
            seconds: 0.5,
            tables,
            file_checks: FileChecks { integrity: ok(), export: ok(), origin: ok() },
            changed_since_export: None,
            not_carried: Vec::new(),
            passed: false,
        };
        r.seal();
        r
    }

    #[test]
    fn a_count_is_grouped_and_its_noun_agrees_with_it() {
        assert_eq!(count(1, "table"), "1 table");
        assert_eq!(count(0, "table"), "0 tables");
        assert_eq!(count(49_636, "row"), "49,636 rows");
        assert_eq!(count_as(1, "row differs", "rows differ"), "1 row differs");
        assert_eq!(count_as(2, "index", "indexes"), "2 indexes");
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_numbers_align_right() {
        let mut t = TextTable::new(&["name", "n", "note"]);
        t.align(1, Align::Right);
        t.row(vec!["a".into(), "7".into(), "x".into()]);
        t.row(vec!["long name".into(), "12345".into()]);
        assert_eq!(
            t.render(),
            "name           n  note\n---------  -----  ----\na              7  x\nlong name  12345\n"
        );
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let mut t = TextTable::new(&["é"]);
        t.row(vec!["ab".into()]);
        assert_eq!(t.render(), "é\n--\nab\n");
    }

    #[test]
    fn a_clean_report_passes_and_says_so_with_skips_grouped_by_reason() {
        let r = report(vec![passing("public.a"), passing("public.b")]);
        assert!(r.passed);
        let text = r.render();
        assert!(text.contains("every check passed"), "{text}");
        assert!(text.contains("skip json for public.a, public.b: no JSON columns"), "{text}");
        assert!(!text.contains("tenancy"), "no tenancy column without a tenant: {text}");
        assert!(!text.contains("FAIL"), "{text}");
    }

    #[test]
    fn a_failure_fails_the_report_and_is_listed_with_its_details() {
        let mut bad = passing("public.b");
        bad.checks.keys.status = Status::Fail;
        bad.checks.keys.details = vec!["1 key missing from SQLite: (id=3)".into()];
        let r = report(vec![passing("public.a"), bad]);
        assert!(!r.passed);
        assert_eq!(r.failures(), 1);
        let text = r.render();
        assert!(text.contains("FAIL public.b keys: 1 key missing from SQLite: (id=3)"), "{text}");
        assert!(text.contains("1 check FAILED (public.b)"), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["tables"][1]["checks"]["keys"]["status"], "fail");
        assert_eq!(json["passed"], false);
    }

    #[test]
    fn a_failed_file_check_fails_the_report() {
        let mut r = report(vec![passing("public.a")]);
        r.file_checks.integrity = FileCheck::new(Status::Fail, vec!["page 3 is corrupt".into()]);
        r.seal();
        assert!(!r.passed);
        assert!(r.render().contains("FAIL integrity: page 3 is corrupt"));
    }

    fn recounted(source: &str, export: u64, postgres: u64) -> TableReport {
        let mut t = passing(source);
        t.checks.counts.export = export;
        t.checks.counts.postgres = Some(postgres);
        t
    }

    #[test]
    fn changes_in_postgres_are_summed_per_table_and_reported_on_a_line_of_their_own() {
        let tables = vec![
            recounted("public.events", 400_002, 400_026),
            recounted("public.same", 7, 7),
            recounted("public.notes", 10, 6),
            passing("public.not_recounted"),
        ];
        let changes = SourceChanges::of(&tables, false);
        assert_eq!(changes.rows, 28);
        let names: Vec<&str> = changes.tables.iter().map(|t| t.table.as_str()).collect();
        assert_eq!(names, ["public.events", "public.notes"]);
        assert_eq!(changes.tables[1].difference, -4);
        let mut r = report(tables);
        r.changed_since_export = Some(changes);
        r.seal();
        assert!(r.passed, "a change is not a failure by itself");
        let text = r.render();
        let want = "\nchanged in Postgres since the export: 28 rows in 2 tables \
                    (public.events +24, public.notes -4); not a failure";
        assert!(text.contains(want), "expected:\n{want}\ngot:\n{text}");
        assert!(text.contains("every check passed"), "{text}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["changed_since_export"]["rows"], 28);
        assert_eq!(json["changed_since_export"]["tables"][0]["postgres"], 400_026);
        assert_eq!(json["changed_since_export"]["tables"][0]["difference"], 24);
    }

    #[test]
    fn nothing_changed_prints_no_line_and_one_row_is_singular() {
        let same = SourceChanges::of(&[recounted("public.a", 3, 3)], true);
        assert_eq!(same, SourceChanges { required_unchanged: true, ..SourceChanges::default() });
        assert_eq!(same.line(), None);
        let one = SourceChanges::of(&[recounted("public.a", 3, 4)], true).line().unwrap();
        assert!(
            one.starts_with("changed in Postgres since the export: 1 row in 1 table (public.a +1)"),
            "{one}"
        );
        assert!(one.contains("--require-unchanged"), "{one}");
    }

    #[test]
    fn large_numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(49636), "49,636");
        assert_eq!(grouped(1234567), "1,234,567");
    }
}
