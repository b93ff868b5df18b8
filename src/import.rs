//! `import`: builds a SQLite database from an export directory, with no Postgres needed.
//!
//! Reads the export (`manifest.json`, the NDJSON files) and writes `FILE.db`. Guarantees:
//! - a changed export is refused before anything is written: the manifest's seal, the file
//!   list, sizes and every checksum are verified first;
//! - the database is built beside the target as `FILE.db.partial`, every table loaded in one
//!   transaction, then checked (foreign keys, `PRAGMA quick_check`, row
//!   counts against the manifest), switched to WAL, and only then renamed over the target;
//!   a failed import removes its partial file, and the next import removes one a killed
//!   import left, so the target is either the old file or the complete new one;
//! - an existing target is replaced only when the caller says so, and is first copied to the
//!   backup directory with a `.sha256` beside it (unless backups are turned off);
//! - rows are converted in parallel (rayon, by [`transform::convert_batch`]) while this
//!   thread inserts them, with bounded memory: two batches in flight at most.
//! - every value is checked, as it is converted, against the rules `verify --deep` applies
//!   (`crate::format`: type, range, text form, label, shape, NULL only where the column and
//!   the primary key allow it), and every file must end with a newline: the first breach
//!   stops the import with an error naming the file, the line, the column and the problem,
//!   so an import accepts exactly what verify accepts.
//!
//! Foreign keys are checked once, after every row is in (see `import/foreign_keys.rs`), rather
//! than row by row: the guarantee is the same (nothing is committed with a dangling
//! reference), cycles and self-references need no special order, and each violation can be
//! named. The partial file is written with the journal off, which is safe because it is
//! thrown away unless the whole build succeeds.

mod refit_numeric;

use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use rusqlite::{Connection, OpenFlags, params_from_iter};

use crate::mapping::{self, Plan, SchemaFlags, Skipped, TablePlan};
use crate::mapping::{ColumnLoss, Lossy};
use crate::model::manifest::{self, Manifest, TableEntry};
use crate::progress::Progress;
use crate::sqlite::backup::{self, Backup};
use crate::sqlite::{foreign_keys, meta};
use crate::transform::feed::Fed;
use crate::transform::{self, BatchReader, ConvertedBatch, JsonNulls};
use crate::verify;

/// What to import, where, and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The export directory.
    pub from: PathBuf,
    /// The SQLite file to create or replace.
    pub target: PathBuf,
    /// What the user asked of the schema: numeric policy, STRICT, renames, datetime, tenancy.
    /// What the export says is read from its manifest ([`mapping::ExportFacts::of`]).
    pub schema: SchemaFlags,
    /// Load into the tables this SQL creates instead of the planned schema.
    pub schema_file: Option<PathBuf>,
    /// Where the replaced target's backup goes (`--backup-dir`, `backups/` by default).
    pub backup_dir: PathBuf,
    /// Copy an existing target to `backup_dir` before replacing it.
    pub backup: bool,
    /// Create `_pg2lite_export` and `_pg2lite_columns`.
    pub meta: bool,
    /// The user agreed to replace an existing target.
    pub replace: bool,
    /// Leave the finished file in WAL mode. Without it the file is in rollback-journal mode
    /// (`journal_mode=DELETE`), SQLite's default, so it is one file at rest: opening a WAL
    /// file creates `-wal` and `-shm` beside it, which is not the single file users expect.
    pub wal: bool,
    /// Refuse the export, before anything is written, unless these signers accept its
    /// `manifest.json.sig` (`--require-signature`). Used by [`run`]; an import fed by an
    /// export as it runs has no signature to check yet.
    pub require_signature: Option<crate::sign::AllowedSigners>,
}

impl ImportOptions {
    /// The options `pg2lite import --yes --no-backup FROM TARGET` would use: replace the
    /// target, no backup, meta tables written, rollback-journal mode, the default schema
    /// options and tenancy, no schema file, no signature required, and `backup_dir` the
    /// `backups` directory beside the target. Change the fields a caller needs after it.
    pub fn new(from: impl Into<PathBuf>, target: impl Into<PathBuf>) -> ImportOptions {
        let target = target.into();
        let backup_dir = target.parent().unwrap_or(Path::new("")).join("backups");
        ImportOptions {
            from: from.into(),
            target,
            schema: SchemaFlags::default(),
            schema_file: None,
            backup_dir,
            backup: false,
            meta: true,
            replace: true,
            wal: false,
            require_signature: None,
        }
    }
}

pub use crate::mapping::Tenancy;

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    /// The SQLite file written.
    pub target: PathBuf,
    /// The manifest's `export_id`.
    pub export_id: String,
    /// The manifest's `manifest_sha256`, which `_pg2lite_export` records too.
    pub manifest_sha256: String,
    /// Each loaded table, in load (foreign-key) order.
    pub tables: Vec<TableImport>,
    /// Tables SQLite cannot hold (no columns), with why.
    pub skipped: Vec<Skipped>,
    /// What the plan could not carry over (defaults, checks, indexes, objects), with why.
    pub notes: Vec<mapping::Note>,
    /// The backup of the target this import replaced.
    pub backup: Option<Backup>,
    /// Wall time of the whole import, in seconds.
    pub seconds: f64,
    /// The signature `--require-signature` accepted.
    pub signature: Option<crate::sign::Status>,
}

/// What was loaded into one table.
#[derive(Debug, Clone)]
pub struct TableImport {
    /// `schema.table` in Postgres.
    pub source: String,
    /// The SQLite table.
    pub name: String,
    /// Rows loaded (equal to the manifest's count, or the import fails).
    pub rows: u64,
    /// Per SQLite column with lossy values: its name and what was lost.
    pub lossy: Vec<(String, ColumnLoss)>,
    /// Seconds from the table's first row to its last.
    pub seconds: f64,
}

/// Why an import wrote nothing (the target is then as it was).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The manifest is missing, unreadable, not sealed or not of this format.
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    /// The export directory cannot be checked at all.
    #[error(transparent)]
    Verify(#[from] verify::Error),
    /// The export's checksums, sizes or file list do not match its manifest.
    #[error(
        "the export in {dir} does not match its manifest, so it was not imported (run `pg2lite \
         verify {dir}` for details):\n  {}", problems.join("\n  ")
    )]
    ChangedExport {
        /// The export directory.
        dir: String,
        /// Each problem verify found, as it words them.
        problems: Vec<String>,
    },
    /// The SQLite schema cannot be planned (a name collision, a bad `--rename`, ...).
    #[error(transparent)]
    Schema(#[from] mapping::Error),
    /// The target exists and replacing it was not agreed to (`--yes`).
    #[error(
        "{target} exists; pass --yes to replace it (it is first backed up to {backup_dir}), or \
         choose another --target"
    )]
    TargetExists {
        /// The existing target.
        target: String,
        /// Where its backup would go.
        backup_dir: String,
    },
    /// The existing target cannot be backed up, or is in use by another program.
    #[error(transparent)]
    Backup(#[from] backup::Error),
    /// A data file cannot be read.
    #[error("{file}: cannot read: {cause}")]
    Read {
        /// The data file, relative to the export directory.
        file: String,
        /// The operating system's error.
        cause: io::Error,
    },
    /// A line that is not UTF-8, or a file cut short (no final newline).
    #[error("{file}: {cause}{VERIFY_HINT}")]
    Malformed {
        /// The data file, relative to the export directory.
        file: String,
        /// What is wrong with the bytes.
        cause: io::Error,
    },
    /// A line or value that breaks the format's rules (the first one, in file order).
    #[error("{file}: {cause}{VERIFY_HINT}")]
    Transform {
        /// The data file, relative to the export directory.
        file: String,
        /// The first line or value that breaks the rules, with its line and column.
        cause: Box<transform::Error>,
    },
    /// SQLite refused a statement while the file was built.
    #[error("{what}: {cause}")]
    Sqlite {
        /// What was being done (`cannot insert into film`).
        what: String,
        /// SQLite's error.
        cause: rusqlite::Error,
    },
    /// A table's file holds another number of rows than the manifest records.
    #[error("{table}: the file has {found} rows, the manifest says {expected}")]
    RowCount {
        /// The table, `schema.name`.
        table: String,
        /// Rows read from its file.
        found: u64,
        /// Rows the manifest records.
        expected: u64,
    },
    /// Rows reference parent rows that are not there, once every table is loaded.
    #[error(
        "foreign keys do not hold after loading ({count} rows point at rows that are not \
         there), so nothing was written:\n  {}", first.join("\n  ")
    )]
    ForeignKeys {
        /// Every violation SQLite reported.
        count: usize,
        /// The first few, each naming table, rowid and parent.
        first: Vec<String>,
    },
    /// `PRAGMA integrity_check` fails on the loaded file.
    #[error(
        "the new database fails SQLite's check (a CHECK or NOT NULL constraint the data breaks, \
         or corruption), so nothing was written:\n  {}", problems.join("\n  ")
    )]
    Integrity {
        /// What `PRAGMA integrity_check` reported.
        problems: Vec<String>,
    },
    /// `--schema-file` does not create what the export needs, or fails.
    #[error("--schema-file {file}: {problem}")]
    SchemaFile {
        /// The `--schema-file` given.
        file: String,
        /// What it lacks or gets wrong (a missing table or column, a SQL error).
        problem: String,
    },
    /// A file operation on the target side failed (sync, rename, remove).
    #[error("{path}: {cause}")]
    Io {
        /// The file or directory concerned.
        path: String,
        /// The operating system's error.
        cause: io::Error,
    },
    #[error("the export stopped before it finished, so the import fed from it did too")]
    /// The export feeding this import (`migrate`) stopped before sending its manifest.
    FeedEnded,
    /// A file of the export is not a regular file inside it, or is too large.
    #[error(transparent)]
    File(#[from] crate::fsio::Error),
    /// Another import into the same target holds its partial file's lock.
    #[error(
        "another import into {target} is running (its partial file {partial} is locked), so \
         this one was refused and changed nothing; wait for the other to finish, then try again"
    )]
    Busy {
        /// The target both imports write.
        target: String,
        /// The locked partial file.
        partial: String,
    },
    /// The partial file cannot be claimed (created, locked or a stale one removed).
    #[error(transparent)]
    Partial(crate::partial::Error),
    /// The target or backup directory lies inside the export directory.
    #[error(
        "{what} {path} is inside the export directory {export}, which must hold only what \
         export wrote (a file there fails verify and every later import); choose a path \
         outside it"
    )]
    InsideExport {
        /// Which path (`--target`, `--backup-dir`).
        what: &'static str,
        /// The path given.
        path: String,
        /// The export directory it is inside.
        export: String,
    },
    /// A fed import cannot give its tables the types the finished export decides.
    #[error("cannot give the tables the schema the finished export calls for: {0}")]
    Refit(String),
    /// `--require-signature`: the export is unsigned, or signed by a key the file does not
    /// allow, or the signature does not match.
    #[error(transparent)]
    Signature(#[from] crate::sign::Error),
}

/// An import's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to do about an export whose content breaks the format.
const VERIFY_HINT: &str = "; nothing was written (the export is damaged or was edited: \
    `pg2lite verify --deep` lists every such problem)";

/// Fails with [`Error::ForeignKeys`] when a row references a missing parent row.
fn check_foreign_keys(conn: &Connection) -> Result<()> {
    match foreign_keys::check(conn).map_err(sqlite("cannot check foreign keys"))? {
        None => Ok(()),
        Some(v) => Err(Error::ForeignKeys { count: v.count, first: v.first }),
    }
}

fn sqlite(what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> Error {
    let what = what.into();
    move |source| Error::Sqlite { what, cause: source }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.display().to_string(), cause: source }
}

/// Imports an export into `opts.target`.
///
/// # Errors
/// Everything that stops the import: a changed export, a schema that cannot be planned, a
/// target that exists without `replace` or is in use, unreadable files, values that do not
/// convert, broken foreign keys, a failed integrity check. The target is untouched in every
/// case.
pub fn run(opts: &ImportOptions, progress: &dyn Progress) -> Result<ImportSummary> {
    let started = Instant::now();
    let signature = match &opts.require_signature {
        Some(signers) => Some(crate::sign::require(&opts.from, signers)?),
        None => None,
    };
    let manifest = Manifest::load(&opts.from)?;
    check_outside(opts)?;
    let partial = PartialFile::claim(&opts.target, progress)?;
    check_export(&opts.from, progress)?;
    let manifest = mapping::numeric::with_scanned_facts(&opts.from, &manifest)?;
    let summary = import_with(&manifest, opts, started, progress, partial, |partial, plan| {
        Ok((build(partial, &manifest, plan, opts, progress)?, manifest.clone()))
    })?;
    Ok(ImportSummary { signature, ..summary })
}

/// What [`run`] and [`run_fed`] share: plans the schema from `planned` (the manifest, or the
/// feed's draft of it), checks the target, has `build` make the partial file (returning what
/// it loaded and the final manifest), then replaces the target with it. The partial file is
/// removed on any failure (see [`PartialFile`]).
fn import_with(
    planned: &Manifest,
    opts: &ImportOptions,
    started: Instant,
    progress: &dyn Progress,
    mut partial: PartialFile,
    build: impl FnOnce(&Path, &Plan) -> Result<(Vec<TableImport>, Manifest)>,
) -> Result<ImportSummary> {
    let plan = mapping::plan_export(planned, &opts.schema)?;
    check_target(opts)?;
    let (tables, manifest) = build(&partial.path, &plan)?;
    let notes = final_notes(planned, &manifest, opts, &plan)?;
    let backup = replace_target(&partial.path, opts, progress)?;
    partial.renamed = true;
    drop(partial);
    Ok(ImportSummary {
        target: opts.target.clone(),
        export_id: manifest.export_id,
        manifest_sha256: manifest.manifest_sha256,
        tables,
        skipped: plan.skipped,
        notes,
        backup,
        seconds: started.elapsed().as_secs_f64(),
        signature: None,
    })
}

/// The plan of the final manifest, when a fed import's draft lacked what only the rows tell
/// (json depth, NaN); `None` when the draft's plan is final.
fn final_plan(planned: &Manifest, done: &Manifest, opts: &ImportOptions) -> Result<Option<Plan>> {
    if planned.tables == done.tables || opts.schema_file.is_some() {
        return Ok(None);
    }
    Ok(Some(mapping::plan_export(done, &opts.schema)?))
}

/// The notes of the plan the file ends up with (see [`final_plan`]).
fn final_notes(
    planned: &Manifest,
    done: &Manifest,
    opts: &ImportOptions,
    plan: &Plan,
) -> Result<Vec<mapping::Note>> {
    Ok(final_plan(planned, done, opts)?.map_or_else(|| plan.notes.clone(), |p| p.notes))
}

/// Verifies sizes and checksums of every file the manifest lists (one progress line, not
/// one per file: here it is a step of the import).
fn check_export(dir: &Path, progress: &dyn Progress) -> Result<()> {
    let problems = verify::sealed_problems(dir, progress)?;
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::ChangedExport { dir: dir.display().to_string(), problems })
}

fn check_target(opts: &ImportOptions) -> Result<()> {
    if !opts.target.exists() {
        return Ok(());
    }
    if !opts.replace {
        return Err(Error::TargetExists {
            target: opts.target.display().to_string(),
            backup_dir: opts.backup_dir.display().to_string(),
        });
    }
    Ok(backup::ensure_not_in_use(&opts.target)?)
}

/// `FILE.db.partial`, beside the target, so the final rename stays on one file system.
pub fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    target.with_file_name(name)
}

/// Refuses a target (and so its partial file) inside the export, and the backup directory
/// when a backup is to be written there.
fn check_outside(opts: &ImportOptions) -> Result<()> {
    let mut places = vec![("--target", &opts.target)];
    if opts.backup && opts.target.exists() {
        places.push(("--backup-dir", &opts.backup_dir));
    }
    for (what, path) in places {
        let inside = crate::fsio::is_inside(&opts.from, path).map_err(io_at(&opts.from))?;
        if inside {
            return Err(Error::InsideExport {
                what,
                path: path.display().to_string(),
                export: opts.from.display().to_string(),
            });
        }
    }
    Ok(())
}

/// The journal files SQLite may leave beside a database.
const SIDE_FILES: [&str; 3] = ["-journal", "-wal", "-shm"];

/// This import's `FILE.db.partial`, claimed and locked for as long as the import runs
/// ([`crate::partial`]): a second import to the same target is refused rather than removing
/// it, and one a killed import left is removed by the next. Dropped before it was renamed
/// into place (any failure), it removes the file and its journals, then releases the lock.
struct PartialFile {
    path: PathBuf,
    _lock: crate::partial::Claimed,
    renamed: bool,
}

impl PartialFile {
    /// Claims the partial file of `target`, after removing one a killed import left (and
    /// saying so).
    fn claim(target: &Path, progress: &dyn Progress) -> Result<PartialFile> {
        let path = partial_path(target);
        let claimed = crate::partial::claim_file(&path, &SIDE_FILES).map_err(|e| match e {
            crate::partial::Error::Busy { .. } => Error::Busy {
                target: target.display().to_string(),
                partial: path.display().to_string(),
            },
            other => Error::Partial(other),
        })?;
        if let Some(removed) = &claimed.removed {
            progress.message(&format!(
                "removed {}, left by an import that was interrupted",
                removed.display()
            ));
        }
        Ok(PartialFile { path, _lock: claimed, renamed: false })
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = remove_partial(&self.path);
        }
    }
}

/// Removes a partial database and the journal files SQLite may have left beside it.
fn remove_partial(partial: &Path) -> Result<()> {
    for suffix in std::iter::once("").chain(SIDE_FILES) {
        let mut p = partial.as_os_str().to_os_string();
        p.push(suffix);
        let p = PathBuf::from(p);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_at(&p)(e)),
            _ => {}
        }
    }
    Ok(())
}

/// Settings for building the partial file: no journal and no syncs while loading (the file
/// is discarded unless the build completes, and it is synced before the rename), foreign
/// keys and CHECK constraints checked once at the end instead of row by row
/// (`foreign_key_check` and `quick_check`, which verifies every CHECK and NOT NULL, catch the
/// same rows), and a small cache. Rows are appended in key order, so a big cache buys the
/// load nothing; and `CREATE INDEX` sorts in runs as big as the cache, which stop fitting
/// the CPU's caches beyond a few MiB: at 2 million rows a 16 MiB cache made the indexes
/// take 1.7 times as long as 2 MiB did.
const LOAD_PRAGMAS: &str = "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; \
    PRAGMA locking_mode = EXCLUSIVE; PRAGMA cache_size = -2048; \
    PRAGMA foreign_keys = OFF; PRAGMA ignore_check_constraints = ON;";

/// Lets `CREATE INDEX` sort on a helper thread while this one reads the table: the rows are
/// all in by then, so the core the converters used is free.
const INDEX_PRAGMAS: &str = "PRAGMA threads = 1;";

/// Creates, loads, checks and closes the partial database.
fn build(
    partial: &Path,
    manifest: &Manifest,
    plan: &Plan,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Vec<TableImport>> {
    let mut conn = open_partial(partial)?;
    let tx = conn.transaction().map_err(sqlite("cannot begin the load"))?;
    create_schema(&tx, plan, opts)?;
    let mut loaded = Vec::with_capacity(plan.tables.len());
    for table in &plan.tables {
        let entry = manifest
            .table(&table.source.schema, &table.source.name)
            .expect("the plan was made from the manifest's tables");
        loaded.push(load_table(&tx, &opts.from, entry, table, opts.meta, progress)?);
    }
    complete(tx, plan, manifest, opts)?;
    conn.close().map_err(|(_, e)| sqlite("cannot close the database")(e))?;
    finish_file(partial, plan, manifest, opts.wal)?;
    Ok(loaded)
}

fn open_partial(partial: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    let conn = Connection::open_with_flags(partial, flags)
        .map_err(sqlite("cannot create the database"))?;
    conn.execute_batch(LOAD_PRAGMAS).map_err(sqlite("cannot configure the database"))?;
    Ok(conn)
}

/// Once every row is in: indexes, the record of the export, commit. (Foreign keys and the
/// rest are checked next, by [`finish_file`], before anything is renamed.)
fn complete(
    tx: rusqlite::Transaction<'_>,
    plan: &Plan,
    manifest: &Manifest,
    opts: &ImportOptions,
) -> Result<()> {
    if opts.schema_file.is_none() {
        create_indexes(&tx, plan)?;
        for sql in &plan.views {
            tx.execute_batch(sql).map_err(sqlite("cannot create a view"))?;
        }
    }
    if opts.meta {
        meta::insert_export(&tx, &meta::ExportMeta::from_manifest(manifest))
            .map_err(sqlite("cannot record the export"))?;
        meta::mark_redacted(&tx, manifest).map_err(sqlite("cannot record the redaction"))?;
        let with = meta::ImportedWith::of(&opts.schema, manifest);
        meta::record_imported_with(&tx, &with)
            .map_err(sqlite("cannot record the options of the import"))?;
    }
    tx.commit().map_err(sqlite("cannot commit the load"))
}

/// Checks the loaded file, its foreign keys and its pages and constraints at once, on two
/// connections (they only read, and each takes a core), then switches it to WAL and syncs.
fn finish_file(partial: &Path, plan: &Plan, manifest: &Manifest, wal: bool) -> Result<()> {
    let open = || {
        Connection::open_with_flags(partial, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(sqlite("cannot reopen the database"))
    };
    let conn = open()?;
    let fk_conn = open()?;
    let (keys, pages) = std::thread::scope(|s| {
        let keys = s.spawn(move || check_foreign_keys(&fk_conn));
        let pages = check_integrity(&conn).map_err(|e| match e {
            Error::Integrity { mut problems } => {
                problems.extend(mapping::invalid_json(&conn, plan, manifest));
                Error::Integrity { problems }
            }
            other => other,
        });
        (keys.join().expect("the foreign-key check does not panic"), pages)
    });
    keys?;
    pages?;
    let mode = if wal { "PRAGMA journal_mode = WAL" } else { "PRAGMA journal_mode = DELETE" };
    conn.execute_batch(mode).map_err(sqlite("cannot set the journal mode"))?;
    conn.close().map_err(|(_, e)| sqlite("cannot close the database")(e))?;
    File::open(partial).and_then(|f| f.sync_all()).map_err(io_at(partial))
}

fn create_schema(conn: &Connection, plan: &Plan, opts: &ImportOptions) -> Result<()> {
    match &opts.schema_file {
        Some(file) => load_schema_file(conn, plan, file)?,
        None => {
            for t in &plan.tables {
                conn.execute_batch(&t.create_table)
                    .map_err(sqlite(format!("cannot create table {}", t.name)))?;
            }
        }
    }
    if opts.meta && !has_table(conn, mapping::EXPORT_TABLE)? {
        conn.execute_batch(&meta::meta_ddl(plan.strict))
            .map_err(sqlite("cannot create the pg2lite tables"))?;
    }
    Ok(())
}

fn create_indexes(conn: &Connection, plan: &Plan) -> Result<()> {
    conn.execute_batch(INDEX_PRAGMAS).map_err(sqlite("cannot configure the index build"))?;
    for t in &plan.tables {
        for sql in &t.create_indexes {
            conn.execute_batch(sql)
                .map_err(sqlite(format!("cannot create an index on {}", t.name)))?;
        }
    }
    Ok(())
}

/// Batches a table's file on a reader thread, converts them there (in parallel), and
/// inserts them here; the channel holds at most two batches, so memory stays bounded.
fn load_table(
    conn: &Connection,
    dir: &Path,
    entry: &TableEntry,
    table: &TablePlan,
    meta: bool,
    progress: &dyn Progress,
) -> Result<TableImport> {
    let started = Instant::now();
    let task = progress.start("import", &table.display_name(), Some(entry.rows));
    let file = crate::fsio::open(dir, &entry.file)?;
    let mut insert = conn
        .prepare(&table.insert_sql())
        .map_err(sqlite(format!("cannot insert into {}", table.name)))?;
    let json_nulls = JsonNulls::new(table, &entry.json_nulls);
    let mut lossy = Lossy::new(table.columns.len());
    let mut rows = 0u64;
    std::thread::scope(|s| -> Result<()> {
        let (tx, rx) = mpsc::sync_channel::<Result<ConvertedBatch>>(2);
        s.spawn(move || read_and_convert(file, entry, table, tx));
        for converted in rx {
            let converted = converted?;
            insert_batch(&mut insert, &converted, &json_nulls, table)?;
            lossy.merge(converted.lossy());
            rows += converted.len() as u64;
            task.add(converted.len() as u64, converted.bytes());
        }
        Ok(())
    })?;
    record_table(conn, table, entry, rows, &lossy, meta)?;
    task.finish(rows, entry.bytes);
    Ok(TableImport {
        source: table.display_name(),
        name: table.name.clone(),
        rows,
        lossy: lossy_columns(table, &lossy),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// What every loaded table ends with, fed or not: its row count checked against the
/// manifest's, and its columns recorded in `_pg2lite_columns` (unless `--no-meta`).
fn record_table(
    conn: &Connection,
    table: &TablePlan,
    entry: &TableEntry,
    rows: u64,
    lossy: &Lossy,
    meta: bool,
) -> Result<()> {
    if rows != entry.rows {
        return Err(Error::RowCount {
            table: table.display_name(),
            found: rows,
            expected: entry.rows,
        });
    }
    if meta {
        meta::insert_columns(conn, table, lossy)
            .map_err(sqlite("cannot record the column mapping"))?;
    }
    Ok(())
}

fn read_and_convert(
    file: File,
    entry: &TableEntry,
    table: &TablePlan,
    tx: mpsc::SyncSender<Result<ConvertedBatch>>,
) {
    let file_name = || entry.file.clone();
    let read_err = |source: io::Error| match source.kind() {
        io::ErrorKind::InvalidData => Error::Malformed { file: file_name(), cause: source },
        _ => Error::Read { file: file_name(), cause: source },
    };
    for batch in BatchReader::new(BufReader::with_capacity(1 << 20, file)) {
        let converted = batch.map_err(read_err).and_then(|b| {
            transform::convert_batch(b, table)
                .map_err(|e| Error::Transform { file: file_name(), cause: Box::new(e) })
        });
        let failed = converted.is_err();
        if tx.send(converted).is_err() || failed {
            return;
        }
    }
}

fn insert_batch(
    insert: &mut rusqlite::Statement<'_>,
    converted: &ConvertedBatch,
    json_nulls: &JsonNulls,
    table: &TablePlan,
) -> Result<()> {
    for row in converted.rows() {
        let line = row.line();
        let values = row.values().enumerate().map(|(i, v)| json_nulls.apply(i, line, v));
        insert.execute(params_from_iter(values)).map_err(|source| Error::Sqlite {
            what: format!("{} line {line}: cannot insert the row", table.display_name()),
            cause: source,
        })?;
    }
    Ok(())
}

fn lossy_columns(table: &TablePlan, lossy: &Lossy) -> Vec<(String, ColumnLoss)> {
    (0..table.columns.len())
        .map(|i| (table.columns[i].name.clone(), lossy.column(i)))
        .filter(|(_, loss)| loss.total() > 0 || loss.not_time > 0)
        .collect()
}

/// `PRAGMA quick_check`: every page, and every row's NOT NULL and CHECK constraints. It
/// leaves out what `integrity_check` adds (index entries matching rows, UNIQUE), which hold
/// by construction here: every index was built from the loaded table in this transaction,
/// and `CREATE UNIQUE INDEX` refuses duplicates. On large tables with random keys that extra
/// check costs more than the load itself; `validate` runs the full `integrity_check`.
fn check_integrity(conn: &Connection) -> Result<()> {
    let mut stmt = conn.prepare("PRAGMA quick_check").map_err(sqlite("cannot check integrity"))?;
    let problems: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(sqlite("cannot check integrity"))?
        .collect::<Result<_, _>>()
        .map_err(sqlite("cannot check integrity"))?;
    if problems == ["ok"] {
        return Ok(());
    }
    Err(Error::Integrity { problems })
}

fn has_table(conn: &Connection, name: &str) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(sqlite("cannot read the schema"))
}

/// Runs a user-written schema, then checks that it fits the export: every planned table and
/// column exists there (names compared as SQLite does, ignoring case), and every column it
/// has that the export lacks can be left empty (nullable or with a default).
fn load_schema_file(conn: &Connection, plan: &Plan, file: &Path) -> Result<()> {
    let fail = |problem: String| Error::SchemaFile { file: file.display().to_string(), problem };
    let sql = fs::read_to_string(file).map_err(|e| fail(format!("cannot read it: {e}")))?;
    conn.execute_batch(&sql).map_err(|e| fail(format!("SQLite refused it: {e}")))?;
    let mut problems = Vec::new();
    for t in &plan.tables {
        problems.extend(table_fit(conn, t).map_err(sqlite("cannot read the schema"))?);
    }
    problems.extend(extra_tables(conn, plan).map_err(sqlite("cannot read the schema"))?);
    if problems.is_empty() {
        return Ok(());
    }
    Err(fail(problems.join("; ")))
}

/// Problems fitting one planned table into the schema file's table of the same name.
fn table_fit(conn: &Connection, t: &TablePlan) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT name, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)")?;
    let target: Vec<(String, bool, Option<String>, i64)> = stmt
        .query_map([&t.name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if target.is_empty() {
        return Ok(vec![format!("table {:?} (from {}) is not in it", t.name, t.display_name())]);
    }
    let mut problems = Vec::new();
    let has = |name: &str| target.iter().any(|(n, ..)| n.eq_ignore_ascii_case(name));
    for c in t.columns.iter().filter(|c| !has(&c.name)) {
        problems
            .push(format!("table {:?} has no column {:?}, which the export holds", t.name, c.name));
    }
    let exported = |name: &str| t.columns.iter().any(|c| c.name.eq_ignore_ascii_case(name));
    for (name, not_null, default, pk) in &target {
        let fillable =
            !not_null || default.is_some() || (*pk == 1 && is_rowid_alias(conn, &t.name)?);
        if !exported(name) && !fillable {
            problems.push(format!(
                "table {:?} column {name:?} is NOT NULL without a default and the export has no \
                 such column",
                t.name
            ));
        }
    }
    Ok(problems)
}

fn is_rowid_alias(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) = 1 AND max(upper(type) = 'INTEGER') FROM pragma_table_info(?1) WHERE pk > 0",
        [table],
        |r| r.get(0),
    )
}

fn extra_tables(conn: &Connection, plan: &Plan) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND name NOT LIKE '\\_pg2lite\\_%' ESCAPE '\\' ORDER BY name",
    )?;
    let names: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok(names
        .into_iter()
        .filter(|n| !plan.tables.iter().any(|t| t.name.eq_ignore_ascii_case(n)))
        .map(|n| format!("table {n:?} is not in the export"))
        .collect())
}

/// Backs up the existing target, if any, and renames the partial file over it.
fn replace_target(
    partial: &Path,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Option<Backup>> {
    let backup = if opts.target.exists() {
        backup::ensure_not_in_use(&opts.target)?;
        if opts.backup {
            Some(backup::backup(&opts.target, &opts.backup_dir, progress)?)
        } else {
            None
        }
    } else {
        None
    };
    crate::partial::rename_durably(partial, &opts.target).map_err(io_at(&opts.target))?;
    Ok(backup)
}

/// Imports while an export runs, fed its lines as they are written ([`crate::transform::feed`]),
/// with the same conversion, checks and atomic replace as [`run`]. The lines come from the
/// process that wrote and hashed the files, so they are not verified again.
///
/// # Errors
/// As [`run`], and [`Error::FeedEnded`] when the export fails or stops. The target is
/// untouched in every case; the caller may then import from the export's files.
pub fn run_fed(
    opts: &ImportOptions,
    feed: Receiver<Fed>,
    progress: &dyn Progress,
) -> Result<ImportSummary> {
    let started = Instant::now();
    let Ok(Fed::Begin(draft)) = feed.recv() else {
        return Err(Error::FeedEnded);
    };
    let partial = PartialFile::claim(&opts.target, progress)?;
    import_with(&draft, opts, started, progress, partial, |partial, plan| {
        build_fed(partial, &draft, plan, opts, feed, progress)
    })
}

/// Postgres' estimate of a fed table's rows (`pg_class.reltuples`), for its progress bar.
fn estimate(draft: &Manifest, table: &TablePlan) -> Option<u64> {
    let found = draft.tables.iter().map(|e| &e.table);
    let mut found =
        found.filter(|t| t.schema == table.source.schema && t.name == table.source.name);
    found.next().and_then(|t| t.estimated_rows)
}

/// A table being loaded from the feed.
struct Feeding<'p> {
    task: Box<dyn crate::progress::Task + 'p>,
    started: Instant,
    /// When its last batch was inserted: the table's own time ends there, not when the
    /// whole feed ends (the summary's seconds are each table's own).
    last: Instant,
    rows: u64,
    lossy: Lossy,
}

/// Converted lines on their way to the writer, or the end of the feed.
enum Converted {
    Rows { table: usize, batch: ConvertedBatch, json_nulls: JsonNulls },
    End(Box<Manifest>),
}

/// Converts fed lines on one thread (in parallel, by rayon) while this one inserts them.
fn build_fed(
    partial: &Path,
    draft: &Manifest,
    plan: &Plan,
    opts: &ImportOptions,
    feed: Receiver<Fed>,
    progress: &dyn Progress,
) -> Result<(Vec<TableImport>, Manifest)> {
    let mut conn = open_partial(partial)?;
    let tx = conn.transaction().map_err(sqlite("cannot begin the load"))?;
    create_schema(&tx, plan, opts)?;
    let mut feeding: Vec<Option<Feeding<'_>>> = plan.tables.iter().map(|_| None).collect();
    let manifest = std::thread::scope(|s| -> Result<Manifest> {
        let (to_writer, converted) = mpsc::sync_channel::<Result<Converted>>(2);
        s.spawn(move || convert_fed(feed, plan, to_writer));
        for message in converted {
            match message? {
                Converted::Rows { table, batch, json_nulls } => {
                    let tp = &plan.tables[table];
                    let state = feeding[table].get_or_insert_with(|| Feeding {
                        task: progress.start("import", &tp.display_name(), estimate(draft, tp)),
                        started: Instant::now(),
                        last: Instant::now(),
                        rows: 0,
                        lossy: Lossy::new(tp.columns.len()),
                    });
                    let mut insert = tx
                        .prepare_cached(&tp.insert_sql())
                        .map_err(sqlite(format!("cannot insert into {}", tp.name)))?;
                    insert_batch(&mut insert, &batch, &json_nulls, tp)?;
                    state.lossy.merge(batch.lossy());
                    state.rows += batch.len() as u64;
                    state.task.add(batch.len() as u64, batch.bytes());
                    state.last = Instant::now();
                }
                Converted::End(manifest) => return Ok(*manifest),
            }
        }
        Err(Error::FeedEnded)
    })?;
    let done = final_plan(draft, &manifest, opts)?;
    if let Some(done) = &done {
        let refit_err = |e: mapping::RefitError| Error::Refit(e.to_string());
        let lost = refit_numeric::refit_with_values(&tx, plan, done).map_err(refit_err)?;
        for (state, lost) in feeding.iter_mut().zip(&lost) {
            if let Some(s) = state {
                s.lossy.merge(lost);
            }
        }
    }
    let plan = done.as_ref().unwrap_or(plan);
    let loaded = finish_fed(&tx, plan, &manifest, opts, feeding)?;
    complete(tx, plan, &manifest, opts)?;
    conn.close().map_err(|(_, e)| sqlite("cannot close the database")(e))?;
    finish_file(partial, plan, &manifest, opts.wal)?;
    Ok((loaded, manifest))
}

fn convert_fed(feed: Receiver<Fed>, plan: &Plan, out: mpsc::SyncSender<Result<Converted>>) {
    for message in feed {
        let converted = match message {
            Fed::Begin(_) => continue,
            Fed::End(manifest) => Ok(Converted::End(manifest)),
            Fed::Rows { table, batch, json_nulls } => {
                let Some(i) = plan.tables.iter().position(|t| t.source == table) else {
                    continue; // a table SQLite does not get (no columns)
                };
                let tp = &plan.tables[i];
                let mut recorded: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
                for (column, line) in json_nulls {
                    recorded.entry(column).or_default().push(line);
                }
                let file = manifest::table_file(&tp.source.schema, &tp.source.name);
                let converted = transform::convert_batch(batch, tp)
                    .map_err(|e| Error::Transform { file, cause: Box::new(e) });
                converted.map(|batch| Converted::Rows {
                    table: i,
                    batch,
                    json_nulls: JsonNulls::new(tp, &recorded),
                })
            }
        };
        let stop = !matches!(converted, Ok(Converted::Rows { .. }));
        if out.send(converted).is_err() || stop {
            return;
        }
    }
}

/// Row counts against the final manifest, and the column records, per table.
fn finish_fed(
    conn: &Connection,
    plan: &Plan,
    manifest: &Manifest,
    opts: &ImportOptions,
    feeding: Vec<Option<Feeding<'_>>>,
) -> Result<Vec<TableImport>> {
    let mut loaded = Vec::with_capacity(plan.tables.len());
    for (tp, state) in plan.tables.iter().zip(feeding) {
        let entry = manifest
            .table(&tp.source.schema, &tp.source.name)
            .expect("the feed's manifest lists the tables it fed");
        let (rows, lossy, seconds) = match &state {
            Some(s) => (s.rows, s.lossy.clone(), (s.last - s.started).as_secs_f64()),
            None => (0, Lossy::new(tp.columns.len()), 0.0),
        };
        record_table(conn, tp, entry, rows, &lossy, opts.meta)?;
        if let Some(s) = state {
            s.task.finish(rows, entry.bytes);
        }
        let lossy = lossy_columns(tp, &lossy);
        loaded.push(TableImport {
            source: tp.display_name(),
            name: tp.name.clone(),
            rows,
            lossy,
            seconds,
        });
    }
    Ok(loaded)
}
