//! `validate`: proves that a SQLite file holds exactly what an export holds, and (with
//! `--source`) that the export still matches Postgres under the filter it used.
//!
//! Reads: the export directory (manifest, NDJSON files), the target file (read-only), and
//! optionally Postgres (read-only session). Writes: nothing, unless a table's two sides
//! differ: then a scratch database in a temporary directory beside the target, removed when
//! done. Returns a [`ValidationReport`]; differences found are the report's result (exit
//! 1), and [`Error`] is only for a validation that cannot be done at all (exit 2).
//!
//! Checks, per table unless said otherwise:
//! 1. **export** (file): the export's own integrity, `verify` at checksum level;
//! 2. **counts**: rows in the manifest, lines in the file, rows in SQLite, and rows in
//!    Postgres now under the export's filter. The export proved its counts against
//!    `count(*)` in its own snapshot, so a Postgres count that differs is a change made
//!    since (a live database always has some): reported in [`SourceChanges`], and a failure
//!    only with `require_unchanged`;
//! 3. **keys**: primary-key sets, export vs SQLite, both ways (without a primary key, the
//!    multiset of whole rows);
//! 4. **content**: a digest of every row's converted values, export vs SQLite (see
//!    `digest`): the export's lines are converted with the very plan import used;
//! 5. **foreign keys**: `PRAGMA foreign_key_check`, each row named by key and parent;
//! 6. **json**: `json_valid` for every value of every JSON column;
//! 7. **integrity** (file): `PRAGMA integrity_check`;
//! 8. **tenancy** (tenant-scoped exports): no other tenant's key anywhere in the export;
//! 9. **origin** (file): the target's `_pg2lite_export` names this export.
//!
//! Each side of a table is read once, every row digested as it streams past; the sums of
//! the digests (per bucket of keys, see `digest::Digests`) are all that is kept. When both
//! sides have as many rows and the same digest, they hold the same rows, so the keys and
//! content checks pass on that alone. Otherwise both sides are read again, and the rows of
//! the buckets that differ go to the scratch database, where set operations that spill to
//! disk name the missing, extra and different keys. Memory stays bounded whatever the
//! tables' sizes: no structure grows with a table's rows.
//!
//! The checks of the whole file (`PRAGMA integrity_check`, the longest, on a thread and
//! connection of its own; `PRAGMA foreign_key_check`; the export's and the target's
//! checksums) need nothing from the tables' checks and run beside them.
//!
//! Before any of that, the target's `_pg2lite_export` must name this export: a file built
//! from another export stops validation naming both (exit 1: the file does not hold this
//! export). The plan is rebuilt from the options import recorded there (see `options`; flags
//! only agree or are refused), or from the flags for a file that records none; when the
//! target's column mapping (`_pg2lite_columns`) disagrees with the plan, validation stops with
//! an error naming the option to pass, rather than report every row as different.

mod compare;
mod digest;
mod options;
mod scratch;
mod sides;
mod source;
mod target;
mod tenancy;

use std::cell::OnceCell;
use std::io;
use std::path::{Path, PathBuf};
use std::thread::ScopedJoinHandle;
use std::time::Instant;

use crate::format::encode as codec;
use crate::mapping::Conversion;
use crate::mapping::{self, Plan, TablePlan};
use crate::model::manifest::{self, MANIFEST_FILE, Manifest, TableEntry};
use crate::pg::{self, Source};
use crate::progress::Progress;
use crate::report::{
    ContentCheck, CountsCheck, FileCheck, FileChecks, KeysCheck, ListCheck, SourceChanges, Status,
    TableChecks, TableReport, ValidationReport,
};
use crate::transform::JsonNulls;
use crate::verify;

use scratch::Scratch;
use sides::{ExportSide, InvalidJson, JsonColumn, SqliteSide, TableSpec};
use target::{Target, Violations};
use tenancy::Scope;

pub use options::PlanFlags;

/// What to validate, and the plan options the import was given.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// The export directory.
    pub from: PathBuf,
    /// The SQLite file import built from it.
    pub target: PathBuf,
    /// Re-count every table in Postgres, under the export's filters.
    pub source: Option<Source>,
    /// The plan options given; those left out are read from the target.
    pub flags: PlanFlags,
    /// With `source`: fail the counts check of a table whose Postgres count changed since
    /// the export (by default a change is reported, not failed: the export is a snapshot).
    pub require_unchanged: bool,
}

impl ValidateOptions {
    /// Validation of `target` against `from` with import's default options and no Postgres.
    pub fn new(from: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Self {
        ValidateOptions {
            from: from.into(),
            target: target.into(),
            source: None,
            flags: PlanFlags::default(),
            require_unchanged: false,
        }
    }

    /// Re-counts every table in this Postgres too (`--source`).
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }
}

/// Why validation could not be done at all. Differences are not errors: they are the report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--from` is not a directory.
    #[error("{path}: no such export directory (validate takes --from migration_data/<id>)")]
    ExportMissing {
        /// The path given.
        path: String,
    },
    /// The export's manifest cannot be read or its seal does not hold.
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    /// The export directory cannot be checked at all (missing, or cannot be listed); what is
    /// wrong inside it is the `export` file check of the report, not an error.
    #[error(transparent)]
    Verify(#[from] verify::Error),
    /// The export cannot be planned with these options (as import would refuse it).
    #[error(transparent)]
    Schema(#[from] mapping::Error),
    /// `--target` does not exist.
    #[error("{path}: no such file (validate takes the SQLite file import wrote, --target)")]
    TargetMissing {
        /// The path given.
        path: String,
    },
    /// A read of the target or of the scratch database failed.
    #[error("{what}: {cause}")]
    Sqlite {
        /// What was being done, for people (`cannot read the target`).
        what: String,
        /// SQLite's error.
        cause: rusqlite::Error,
    },
    /// The target's columns are not what these options plan, and it does not record the options it
    /// was imported with.
    #[error(
        "{target} was imported with other options than these, so its rows cannot be compared:\n  \
         {}\npass validate the same options you gave import (here: {hint})",
        problems.join("\n  ")
    )]
    OptionsMismatch {
        /// The target file.
        target: String,
        /// Each column that differs, in words.
        problems: Vec<String>,
        /// The flags that would plan what the target holds.
        hint: String,
    },
    /// The target records its import's options, and its columns still differ from the plan
    /// they give.
    #[error(
        "{target}'s columns are not what the options it records ({recorded}) plan, so its rows \
         cannot be compared:\n  {}\nwas the file changed after import? import the export again",
        problems.join("\n  ")
    )]
    RecordedMismatch {
        /// The target file.
        target: String,
        /// Each column that differs, in words.
        problems: Vec<String>,
        /// The recorded options, as flags.
        recorded: String,
    },
    /// A flag that disagrees with the options the target records.
    #[error(
        "{target} records the options it was imported with ({recorded}), and {}:\n  {}\n\
         leave the flag out: validate reads the import's options from the file",
        if problems.len() == 1 { "a flag contradicts them" } else { "flags contradict them" },
        problems.join("\n  ")
    )]
    Contradicts {
        /// The target file.
        target: String,
        /// Each flag that contradicts the record, with both values.
        problems: Vec<String>,
        /// The recorded options, as flags.
        recorded: String,
    },
    /// The target's `_pg2lite_export` names another export than `--from`.
    #[error(
        "{target} was built from export {built_id} (manifest sha256 {}); you gave export \
         {given_id} (manifest sha256 {}): give --from the export {target} was imported from",
        prefix(built_sha),
        prefix(given_sha)
    )]
    OtherExport {
        /// The target file.
        target: String,
        /// The export id its `_pg2lite_export` records.
        built_id: String,
        /// The manifest SHA-256 it records.
        built_sha: String,
        /// The id of the export given with `--from`.
        given_id: String,
        /// That export's manifest SHA-256.
        given_sha: String,
    },
    /// The target's `_pg2lite_export` record of its import options cannot be read.
    #[error("{target}: {cause}")]
    Record {
        /// The target file.
        target: String,
        /// What is wrong with the record.
        cause: crate::sqlite::meta::RecordError,
    },
    /// `--source` cannot be reached, or a count there failed.
    #[error(transparent)]
    Pg(#[from] pg::Error),
    /// A filter of the manifest that does not fit the live catalog: nothing is counted.
    #[error("{0}; validate --source does not count with a filter that the database does not have")]
    Filter(pg::filter::Mismatch),
    /// The scratch database next to the target, or the target itself, cannot be created or hashed.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        cause: io::Error,
    },
    /// The tokio runtime for `--source` could not be started; holds the I/O error.
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
}

/// The message names the cause itself, so it is not also returned as the error's source
/// (a chain printed with `{:#}` would say it twice).
impl From<pg::filter::Mismatch> for Error {
    fn from(e: pg::filter::Mismatch) -> Self {
        Error::Filter(e)
    }
}

impl Error {
    /// The process exit code: 1 for a target that does not hold this export (a finding, as
    /// a failed check is), 2 for every validation that cannot be done.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::OtherExport { .. } => 1,
            _ => 2,
        }
    }
}

/// The first 12 hex digits of a SHA-256, as people quote one.
fn prefix(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// A result whose error is validation's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn sqlite_err(what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> Error {
    let what = what.into();
    move |source| Error::Sqlite { what, cause: source }
}

/// Validates `opts.target` against the export `opts.from`.
///
/// # Errors
/// [`Error`] when the export or the target cannot be read, the target was built from
/// another export, a flag contradicts the options the target records, the plan cannot be
/// made, the target was imported with other options, or Postgres cannot be reached (with
/// `--source`).
pub fn run(opts: &ValidateOptions, progress: &dyn Progress) -> Result<ValidationReport> {
    let (started, started_at) = (Instant::now(), now());
    let manifest = read_manifest(&opts.from)?;
    let target = Target::open(&opts.target)?;
    check_other_export(&target, &manifest, &opts.target)?;
    let resolved = resolve_options(&target, opts, progress)?;
    let planned = mapping::numeric::with_scanned_facts(&opts.from, &manifest)?;
    let plan = plan_for(&planned, &resolved)?;
    check_options(&target, &plan, &resolved, &opts.target)?;
    let recount = match &opts.source {
        Some(s) => Some(source::recount(s, &manifest)?),
        None => None,
    };
    let ctx = Context {
        opts,
        manifest: &manifest,
        plan: &plan,
        target: &target,
        scratch: OnceCell::new(),
        scope: Scope::from_manifest(&manifest),
        recount,
        progress,
    };
    let (mut tables, file_checks, target_sha256) = ctx.check_all()?;
    if ctx.scope.is_some() {
        tenancy::require_something_checked(&mut tables);
    }
    let mut report = ValidationReport {
        tool: format!("pg2lite {}", env!("CARGO_PKG_VERSION")),
        export_id: manifest.export_id.clone(),
        export_dir: opts.from.clone(),
        manifest_sha256: manifest.manifest_sha256.clone(),
        exported_at: manifest.created_at.clone(),
        target: opts.target.clone(),
        target_sha256,
        source: opts.source.as_ref().map(ToString::to_string),
        tenant: ctx.scope.as_ref().map(|s| format!("{} = {}", s.tenant.column, s.tenant.value)),
        started_at,
        seconds: started.elapsed().as_secs_f64(),
        changed_since_export: opts
            .source
            .as_ref()
            .map(|_| SourceChanges::of(&tables, opts.require_unchanged)),
        tables,
        file_checks,
        not_carried: plan
            .notes
            .iter()
            .filter(|n| n.what.ends_with("not carried over"))
            .map(ToString::to_string)
            .collect(),
        passed: false,
    };
    report.seal();
    Ok(report)
}

/// The result of a thread, its panic passed on.
fn join<T>(handle: ScopedJoinHandle<'_, T>) -> T {
    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The manifest, parsed but not required to be sealed: a broken seal is one of the export
/// check's findings, not a reason to stop.
fn read_manifest(dir: &Path) -> Result<Manifest> {
    if !dir.is_dir() {
        return Err(Error::ExportMissing { path: dir.display().to_string() });
    }
    let path = dir.join(MANIFEST_FILE);
    let text = manifest::read_text(dir)?;
    Ok(Manifest::parse(&text, &path)?)
}

/// The plan import made with these options. Stripped columns lose their `must_equal`, so
/// another tenant's row is found by the tenancy check instead of stopping the conversion.
fn plan_for(manifest: &Manifest, opts: &options::Resolved) -> Result<Plan> {
    let mut plan = mapping::plan_export(manifest, &opts.schema)?;
    for t in &mut plan.tables {
        t.dropped.iter_mut().for_each(|d| d.must_equal = None);
    }
    Ok(plan)
}

/// Stops when the target's `_pg2lite_export` names another export id. The same id with
/// another manifest (an export changed after import) is compared all the same, and the
/// origin check reports it.
fn check_other_export(target: &Target, manifest: &Manifest, path: &Path) -> Result<()> {
    match target.export_meta() {
        Some(Ok((id, sha))) if id != manifest.export_id => Err(Error::OtherExport {
            target: path.display().to_string(),
            built_id: id,
            built_sha: sha,
            given_id: manifest.export_id.clone(),
            given_sha: manifest.manifest_sha256.clone(),
        }),
        _ => Ok(()),
    }
}

/// The plan options: the target's record, checked against the flags, or the flags.
fn resolve_options(
    target: &Target,
    opts: &ValidateOptions,
    progress: &dyn Progress,
) -> Result<options::Resolved> {
    let recorded = crate::sqlite::meta::read_imported_with(&target.conn).map_err(|source| {
        Error::Record { target: opts.target.display().to_string(), cause: source }
    })?;
    let resolved = options::resolve(&opts.flags, recorded, &opts.target)?;
    if let Some(rec) = &resolved.recorded {
        progress.message(&format!(
            "import options read from {}: {}",
            opts.target.display(),
            options::flags_text(rec)
        ));
    }
    Ok(resolved)
}

fn check_options(
    target: &Target,
    plan: &Plan,
    resolved: &options::Resolved,
    path: &Path,
) -> Result<()> {
    let Some(meta) = target.meta_columns()? else { return Ok(()) };
    let Some((problems, hint)) = target::options_mismatch(&meta, plan) else { return Ok(()) };
    let target = path.display().to_string();
    Err(match &resolved.recorded {
        Some(rec) => {
            Error::RecordedMismatch { target, problems, recorded: options::flags_text(rec) }
        }
        None => Error::OptionsMismatch { target, problems, hint },
    })
}

/// The export's own checksums, reported as one unit of work (not one per file: here it is a
/// step of the validation).
fn export_check(dir: &Path, progress: &dyn Progress) -> Result<FileCheck> {
    let problems = verify::sealed_problems(dir, progress)?;
    Ok(FileCheck::new(Status::of(problems.is_empty()), problems))
}

fn integrity_check(target: &Path) -> Result<FileCheck> {
    let problems = target::integrity_problems(target)?;
    Ok(FileCheck::new(Status::of(problems.is_empty()), problems))
}

fn sha256_of(target: &Path) -> Result<String> {
    manifest::sha256_file(target)
        .map(|(sha, _)| sha)
        .map_err(|source| Error::Io { path: target.display().to_string(), cause: source })
}

/// The directory that holds the scratch database: the target's, so it is on a disk that
/// holds a database of that size (the system's temporary directory when it is read-only).
fn scratch_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// A table part-way through its checks.
enum Stage<'p> {
    /// Nothing more to read: the table was not imported, or is not in the target.
    Done(Box<TableReport>),
    /// Its SQLite side is read; its export side is next.
    SqliteRead { index: usize, spec: TableSpec<'p>, sqlite: Result<SqliteSide, String> },
}

/// What every table's checks share.
struct Context<'a> {
    opts: &'a ValidateOptions,
    manifest: &'a Manifest,
    plan: &'a Plan,
    target: &'a Target,
    /// Made the first time a table's sides differ.
    scratch: OnceCell<Scratch>,
    scope: Option<Scope>,
    /// Per manifest table, with `--source`.
    recount: Option<source::Recount>,
    progress: &'a dyn Progress,
}

impl<'a> Context<'a> {
    /// Every table's checks and the file checks, and the target's SHA-256.
    ///
    /// `PRAGMA integrity_check` needs nothing else and takes longest (it looks every row up
    /// in every index), so it runs from the start on a thread and connection of its own.
    /// This thread meanwhile does the work that uses one core (the target's checksum,
    /// `PRAGMA foreign_key_check`, reading every SQLite table), and last the work that uses
    /// them all (converting the export's files with rayon), so both cores stay busy until
    /// the end.
    fn check_all(&self) -> Result<(Vec<TableReport>, FileChecks, String)> {
        let path = &self.opts.target;
        std::thread::scope(|s| {
            let integrity = s.spawn(move || integrity_check(path));
            let target_sha256 = sha256_of(path)?;
            let violations = target::foreign_key_violations(path)?;
            let stages = self.manifest.tables.iter().enumerate();
            let stages: Vec<Stage<'a>> = stages.map(|(i, e)| self.read_sqlite(i, e)).collect();
            let export = export_check(&self.opts.from, self.progress)?;
            let tables = stages.into_iter().map(|stage| match stage {
                Stage::Done(report) => Ok(*report),
                Stage::SqliteRead { index, spec, sqlite } => {
                    self.finish_table(index, &spec, sqlite, &violations)
                }
            });
            let tables = tables.collect::<Result<Vec<_>>>()?;
            let integrity = join(integrity)?;
            let file_checks = FileChecks { integrity, export, origin: self.origin_check() };
            Ok((tables, file_checks, target_sha256))
        })
    }

    /// The table's SQLite side, digested and its JSON checked, unless there is none.
    fn read_sqlite(&self, index: usize, entry: &'a TableEntry) -> Stage<'a> {
        let t = &entry.table;
        let Some(plan) = self.plan.table(&t.schema, &t.name) else {
            return Stage::Done(Box::new(self.not_imported(index, entry)));
        };
        if self.target.table(&plan.name).is_none() {
            return Stage::Done(Box::new(self.missing_table(index, entry, plan)));
        }
        let spec = self.spec(entry, plan);
        let sqlite = sides::scan_sqlite(&self.target.conn, &spec, None, self.progress);
        // Without a scratch database to write to, the scan fails only on the table's data.
        let sqlite = sqlite.unwrap_or_else(|e| Err(e.to_string()));
        Stage::SqliteRead { index, spec, sqlite }
    }

    /// The table's export side, digested, then every check of the table.
    fn finish_table(
        &self,
        index: usize,
        spec: &TableSpec<'_>,
        sqlite: Result<SqliteSide, String>,
        violations: &Violations,
    ) -> Result<TableReport> {
        let (entry, plan) = (spec.entry, spec.plan);
        let export = sides::scan_export(&self.opts.from, spec, None, self.progress);
        let export = export.unwrap_or_else(|e| Err(e.to_string()));
        let sqlite_count = match &sqlite {
            Ok(side) => Ok(side.rows),
            Err(_) => self.target.count(&plan.name),
        };
        let counts = self.counts(index, entry, export.as_ref().ok(), sqlite_count);
        let (keys, content) = match (&export, &sqlite) {
            (Ok(e), Ok(s)) => match compare::by_digest(spec, e, s) {
                Some(checks) => checks,
                None => self.compare_in_scratch(spec, (e, s))?,
            },
            (Err(why), _) | (_, Err(why)) => unreadable(why),
        };
        let checks = TableChecks {
            counts,
            keys,
            content,
            foreign_keys: self.foreign_keys(&plan.name, &spec.key_names(), violations),
            json: self.json(spec, sqlite.as_ref().ok()),
            tenancy: self.tenancy(spec, &export),
        };
        Ok(TableReport {
            source: entry.table.display_name(),
            table: Some(plan.name.clone()),
            checks,
        })
    }

    fn spec<'p>(&self, entry: &'p TableEntry, plan: &'p TablePlan) -> TableSpec<'p> {
        let pk = entry.table.primary_key.as_ref().map(|k| k.columns.as_slice()).unwrap_or(&[]);
        let key = pk
            .iter()
            .filter_map(|name| plan.columns.iter().position(|c| &c.source == name))
            .collect();
        let pg_text = |source: &str| {
            let column = entry.table.columns.iter().find(|c| c.name == source);
            column.is_some_and(|c| codec::array_as_text(&c.ty))
        };
        // JSON nested deeper than SQLite's JSON functions accept is not `json_valid` there;
        // such a column has no CHECK (the schema notes it) and `content` proves its values.
        let too_deep = |source: &str| {
            entry.json_depth.get(source).is_some_and(|d| d.deepest > manifest::SQLITE_JSON_DEPTH)
        };
        let json = plan.columns.iter().enumerate().filter_map(|(index, c)| match c.conversion {
            Conversion::Json if too_deep(&c.source) => None,
            Conversion::Json => Some(JsonColumn { index, structured: false, pg_text: false }),
            Conversion::Structured => {
                Some(JsonColumn { index, structured: true, pg_text: pg_text(&c.source) })
            }
            _ => None,
        });
        TableSpec {
            entry,
            plan,
            key,
            watch: self.scope.as_ref().map(|s| s.watch(entry)).unwrap_or_default(),
            json_nulls: JsonNulls::new(plan, &entry.json_nulls),
            json: json.collect(),
        }
    }

    /// The keys and content checks of a table whose sides differ: both read again, and the
    /// rows of the buckets whose digests differ stored in the scratch database, which names
    /// the keys and rows that differ. Rows of the other buckets are the same on both sides,
    /// so they would add nothing to what is found.
    fn compare_in_scratch(
        &self,
        spec: &TableSpec<'_>,
        (export, sqlite): (&ExportSide, &SqliteSide),
    ) -> Result<(KeysCheck, ContentCheck)> {
        let scratch = self.scratch()?;
        scratch.begin()?;
        let only = export.digests.differing(&sqlite.digests);
        let (export, sqlite) = sides::with_stores(scratch, &only, |e, s| {
            let export = sides::scan_export(&self.opts.from, spec, Some(e), self.progress)?;
            let sqlite = sides::scan_sqlite(&self.target.conn, spec, Some(s), self.progress)?;
            Ok((export, sqlite))
        })?;
        scratch.finish_load()?;
        match (&export, &sqlite) {
            (Ok(e), Ok(s)) => {
                let src =
                    compare::Sources { dir: &self.opts.from, target: &self.target.conn, scratch };
                compare::keys_and_content(&src, spec, e, s)
            }
            (Err(why), _) | (_, Err(why)) => Ok(unreadable(why)),
        }
    }

    /// The scratch database, made beside the target (or in the system's temporary directory
    /// when that fails) the first time it is needed.
    fn scratch(&self) -> Result<&Scratch> {
        if self.scratch.get().is_none() {
            let made = Scratch::create(&scratch_dir(&self.opts.target))
                .or_else(|_| Scratch::create(&std::env::temp_dir()))?;
            let _ = self.scratch.set(made);
        }
        Ok(self.scratch.get().expect("the scratch database was made above"))
    }

    fn counts(
        &self,
        index: usize,
        entry: &TableEntry,
        export: Option<&ExportSide>,
        sqlite: Result<u64, String>,
    ) -> CountsCheck {
        let rows = entry.rows;
        let mut details = Vec::new();
        let lines = export.map(|e| e.lines);
        if let Some(l) = lines.filter(|l| *l != rows) {
            details.push(format!("the export's file has {l} rows, its manifest says {rows}"));
        }
        match &sqlite {
            Ok(n) if *n != rows => {
                details.push(format!("SQLite has {n} rows, the export has {rows}"))
            }
            Err(e) => details.push(e.clone()),
            Ok(_) => {}
        }
        let postgres = self.recount.as_ref().and_then(|r| r.get(index));
        let mut changed = None;
        match postgres {
            Some(Ok(n)) => changed = self.postgres_change(rows, *n),
            Some(Err(e)) => details.push(format!("cannot count the rows in Postgres: {e}")),
            None => {}
        }
        let status = match changed {
            Some(_) if self.opts.require_unchanged => Status::Fail,
            _ => Status::of(details.is_empty()),
        };
        details.extend(changed);
        CountsCheck {
            status,
            export: rows,
            export_lines: lines,
            sqlite: sqlite.ok(),
            postgres: postgres.and_then(|p| p.as_ref().ok().copied()),
            details,
        }
    }

    /// `Postgres now has 201 rows, the export has 200: ...` when the counts differ. The
    /// export's count is proven in its snapshot, so the difference was written since.
    fn postgres_change(&self, export: u64, postgres: u64) -> Option<String> {
        if postgres == export {
            return None;
        }
        let why = if self.opts.require_unchanged {
            "and --require-unchanged was given"
        } else {
            "not a failure"
        };
        Some(format!(
            "Postgres now has {postgres} rows, the export has {export}: changed since the \
             export's snapshot at {}, {why}",
            self.manifest.created_at
        ))
    }

    fn foreign_keys(&self, name: &str, keys: &[String], violations: &Violations) -> ListCheck {
        let declared = self.target.foreign_keys_of(name);
        let (count, found) = match violations.get(&name.to_ascii_lowercase()) {
            Some((count, first)) => (*count, first.as_slice()),
            None => (0, &[][..]),
        };
        if declared.is_empty() && count == 0 {
            return ListCheck::skipped("no foreign keys");
        }
        let first = found.iter().map(|v| self.target.describe_violation(v, keys)).collect();
        ListCheck::found(declared, count, first)
    }

    /// From the SQLite side's scan when it looked, else one query per JSON column.
    fn json(&self, spec: &TableSpec<'_>, scanned: Option<&SqliteSide>) -> ListCheck {
        if spec.json.is_empty() {
            return ListCheck::skipped("no JSON columns");
        }
        let found: Vec<Result<InvalidJson, String>> =
            match scanned.and_then(|s| s.invalid_json.as_ref()) {
                Some(found) => found.iter().cloned().map(Ok).collect(),
                None => spec.json.iter().map(|c| self.query_invalid_json(spec, c)).collect(),
            };
        let (mut count, mut first, mut errors) = (0, Vec::new(), Vec::new());
        for column in found {
            match column {
                Ok(bad) => {
                    count += bad.count;
                    first.extend(bad.first);
                }
                Err(e) => errors.push(e),
            }
        }
        first.truncate(scratch::SHOWN);
        let checked = spec.json.iter().map(|c| spec.json_name(c).to_owned()).collect();
        let mut check = ListCheck::found(checked, count, first);
        if !errors.is_empty() {
            check.status = Status::Fail;
            check.details.extend(errors);
        }
        check
    }

    fn query_invalid_json(
        &self,
        spec: &TableSpec<'_>,
        column: &JsonColumn,
    ) -> Result<InvalidJson, String> {
        let name = spec.json_name(column);
        let (count, first) =
            self.target.invalid_json(&spec.plan.name, name, *column, &spec.key_names())?;
        Ok(InvalidJson { count, first })
    }

    fn tenancy(&self, spec: &TableSpec<'_>, export: &Result<ExportSide, String>) -> ListCheck {
        let Some(scope) = &self.scope else {
            return ListCheck::skipped("not a tenant-scoped export");
        };
        let lines = export.as_ref().ok().map(|e| e.lines);
        let target = (&self.target.conn, self.plan);
        if let Some(check) = scope.by_filter(spec.entry, &spec.watch, lines, target) {
            return check;
        }
        if spec.watch.is_empty() {
            return ListCheck::skipped(
                "no tenant column: owned through foreign keys, which the foreign_keys check \
                 proves in SQLite",
            );
        }
        let Ok(export) = export else {
            return ListCheck::skipped("the export's file could not be read (see content)");
        };
        let file = &spec.entry.file;
        let first = export
            .first_leaks
            .iter()
            .map(|l| {
                format!(
                    "{file} line {}, column {}: {} is not the tenant's key ({})",
                    l.line, l.column, l.value, scope.tenant.value
                )
            })
            .collect();
        let checked = spec.watch.iter().map(|w| w.column.clone()).collect();
        ListCheck::found(checked, export.leaks, first)
    }

    /// A table of the export that import did not create (it has no columns).
    fn not_imported(&self, index: usize, entry: &TableEntry) -> TableReport {
        let t = &entry.table;
        let why = self
            .plan
            .skipped
            .iter()
            .find(|s| s.source.schema == t.schema && s.source.name == t.name)
            .map_or_else(|| "not planned".to_owned(), |s| format!("not imported: {}", s.why));
        let mut checks = all_skipped(entry, &why);
        if let Some(Ok(n)) = self.recount.as_ref().and_then(|r| r.get(index)) {
            checks.counts.postgres = Some(*n);
            if let Some(change) = self.postgres_change(entry.rows, *n) {
                if self.opts.require_unchanged {
                    checks.counts.status = Status::Fail;
                }
                checks.counts.details.push(change);
            }
        }
        TableReport { source: t.display_name(), table: None, checks }
    }

    /// A planned table the target does not have.
    fn missing_table(&self, index: usize, entry: &TableEntry, plan: &TablePlan) -> TableReport {
        let why = format!("table {} is not in the target", plan.name);
        let mut checks = all_skipped(entry, &why);
        checks.counts.status = Status::Fail;
        checks.counts.postgres =
            self.recount.as_ref().and_then(|r| r.get(index)).and_then(|r| r.as_ref().ok().copied());
        TableReport { source: entry.table.display_name(), table: Some(plan.name.clone()), checks }
    }

    fn origin_check(&self) -> FileCheck {
        let (id, sha) = match self.target.export_meta() {
            None => {
                let why = format!(
                    "the target has no {} table (imported with --no-meta)",
                    mapping::EXPORT_TABLE
                );
                return FileCheck::new(Status::Skip, vec![why]);
            }
            Some(Err(e)) => return FileCheck::new(Status::Fail, vec![e]),
            Some(Ok(meta)) => meta,
        };
        let m = self.manifest;
        if sha == m.manifest_sha256 && id == m.export_id {
            return FileCheck::new(Status::Pass, Vec::new());
        }
        FileCheck::new(
            Status::Fail,
            vec![format!(
                "the target was built from export {id} (manifest sha256 {}); you gave export \
                 {} (manifest sha256 {}): the same export with another manifest, changed since \
                 the import",
                prefix(&sha),
                m.export_id,
                prefix(&m.manifest_sha256)
            )],
        )
    }
}

/// Every check skipped for the same reason; counts keep the manifest's number.
fn all_skipped(entry: &TableEntry, why: &str) -> TableChecks {
    TableChecks {
        counts: CountsCheck {
            status: Status::Skip,
            export: entry.rows,
            export_lines: None,
            sqlite: None,
            postgres: None,
            details: vec![why.to_owned()],
        },
        keys: keys_not_compared(why.to_owned()),
        content: content_not_compared(Status::Skip, why),
        foreign_keys: ListCheck::skipped(why),
        json: ListCheck::skipped(why),
        tenancy: ListCheck::skipped(why),
    }
}

/// The keys and content checks of a table one side of which could not be read.
fn unreadable(why: &str) -> (KeysCheck, ContentCheck) {
    (keys_not_compared(format!("not compared: {why}")), content_not_compared(Status::Fail, why))
}

/// A keys check skipped, saying why.
fn keys_not_compared(detail: String) -> KeysCheck {
    KeysCheck {
        status: Status::Skip,
        compared_by: String::new(),
        missing: 0,
        extra: 0,
        first_missing: Vec::new(),
        first_extra: Vec::new(),
        details: vec![detail],
    }
}

/// A content check not made, with its `status` and why.
fn content_not_compared(status: Status, why: &str) -> ContentCheck {
    ContentCheck {
        status,
        digest_export: None,
        digest_sqlite: None,
        different: 0,
        first_different: Vec::new(),
        details: vec![why.to_owned()],
    }
}
