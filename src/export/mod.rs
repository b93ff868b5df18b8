//! `export`: reads the chosen tables in one consistent snapshot and writes
//! `<out>/<export-id>/` with one NDJSON file per table, `manifest.json` and `SHA256SUMS`.
//!
//! Guarantees: every table is read in the same REPEATABLE READ, READ ONLY snapshot (workers
//! join it through `pg_export_snapshot()`, as `pg_dump -j` does), and each table's streamed
//! rows are checked against `count(*)` under the same filter in that snapshot, so the
//! manifest's row counts are Postgres' at the snapshot's instant however busy the database
//! is (a later count that differs is a change since, see `validate`); rows come in key order, so
//! two exports of the same data are byte-identical; memory stays bounded (rows are streamed
//! from binary COPY into a fixed-size buffer, hashed as they are written); and the directory
//! is built under a hidden `.partial` name and renamed into place only when complete, so an
//! interrupted export never looks finished.

use crate::format::encode as codec;
pub mod each_tenant;
pub mod numeric_facts;
mod redacted;
pub mod tenancy;

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::{StreamExt, pin_mut};
use postgres_types::{FromSql, Type};
use sha2::{Digest, Sha256};
use tokio_postgres::Client;
use tokio_postgres::binary_copy::{BinaryCopyOutRow, BinaryCopyOutStream};

use crate::model::catalog::{QualifiedName, Table, TableKind};
use crate::model::manifest::{self, Filter, Manifest, SourceInfo, TableEntry};
use crate::model::select;
use crate::partial;
use crate::pg::catalog;
use crate::pg::{self, Source, quote_ident};
use crate::progress::Progress;
use crate::redact;
use crate::transform::feed::{Fed, Feeder};
use codec::{EncodeError, Fields, SelectPlan};

/// What to export and where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The database to read, and how to connect to it.
    pub source: Source,
    /// The directory that receives `<export-id>/`.
    pub out: PathBuf,
    /// Only these schemas (all when empty).
    pub schemas: Vec<String>,
    /// Only tables matching one of these patterns (all when empty); see [`select::Pattern`].
    pub tables: Vec<String>,
    /// Tables matching one of these patterns are left out (`--exclude`), even when `tables`
    /// selects them; each must match a table.
    pub exclude: Vec<String>,
    /// Parallel connections sharing the snapshot.
    pub jobs: usize,
    /// Export only this tenant's rows.
    pub tenant: Option<tenancy::TenantOptions>,
    /// Sign `manifest.json` with this key (`--sign`), writing `manifest.json.sig`.
    pub sign: Option<crate::sign::SigningKey>,
    /// Columns to redact or leave out (`--redact`, `--exclude-column`).
    pub redact: redact::Options,
    /// Export populated materialized views' rows as tables (`--matviews-as-tables`).
    pub matviews_as_tables: bool,
    /// `--snapshot ID`: read in a snapshot another session exported and holds
    /// (`pg2lite snapshot --hold`), instead of a new one.
    pub snapshot: Option<String>,
}

/// What an export produced.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    /// The new export's id: the name of its directory under `out`.
    pub export_id: String,
    /// The export directory written (`out/<export_id>`).
    pub dir: PathBuf,
    /// The manifest's `manifest_sha256`, which names this export's content.
    pub manifest_sha256: String,
    /// One summary per exported table.
    pub tables: Vec<TableSummary>,
    /// Tables of a tenant-scoped export left out (no path to the tenant; see [`tenancy`]).
    pub left_out: Vec<String>,
    /// Tables exported whole because `--whole-table` asked.
    pub whole_tables: Vec<String>,
    /// The signing key's fingerprint (`SHA256:...`) when the export was signed.
    pub signed_by: Option<String>,
}

/// What the export of one table produced.
#[derive(Debug, Clone)]
pub struct TableSummary {
    /// The table, `schema.name`.
    pub name: String,
    /// Its data file, relative to the export directory.
    pub file: String,
    /// Rows written.
    pub rows: u64,
    /// Bytes written to its file.
    pub bytes: u64,
    /// Wall time the table's export took, in seconds.
    pub seconds: f64,
}

/// Why an export failed; nothing is left in the output directory when it does.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connecting to Postgres or reading its catalog failed.
    #[error(transparent)]
    Pg(#[from] pg::Error),
    /// A `--schema`, `--table` or `--exclude` matches no table, or the selection leaves none.
    #[error(transparent)]
    Select(#[from] select::SelectError),
    /// The user lacks SELECT on some selected tables; raised before any data is read.
    #[error(
        "permission denied: user {user:?} cannot read {}; grant SELECT on them or leave them \
         out with --exclude", tables.join(", ")
    )]
    PermissionDenied {
        /// The Postgres user connected as.
        user: String,
        /// Each unreadable table, `schema.name`.
        tables: Vec<String>,
    },
    /// `COPY ... TO STDOUT` of a table failed or broke off.
    #[error("reading table {table} failed: {detail}")]
    Copy {
        /// The table, `schema.name`.
        table: String,
        /// Postgres' message, with its detail and hint.
        detail: String,
    },
    /// The `count(*)` that proves a table's copy failed.
    #[error("counting table {table} in the export's snapshot failed: {detail}")]
    Count {
        /// The table, `schema.name`.
        table: String,
        /// Postgres' message, with its detail and hint.
        detail: String,
    },
    /// The rows streamed and `count(*)` in the same snapshot disagree, so the copy is not provably
    /// the snapshot.
    #[error(
        "table {table}: the export read {streamed} rows, but count(*) under the same filter in \
         the same snapshot says {counted}, so the copy cannot be proven to be that snapshot; \
         nothing was written. Something between pg2lite and the table changes what each query \
         sees (a row-level security policy that depends on the query, or a connection pooler \
         that does not keep a transaction on one server connection): connect to Postgres \
         directly, as a role the policies do not vary for"
    )]
    CountMismatch {
        /// The table, `schema.name`.
        table: String,
        /// Rows the COPY delivered.
        streamed: u64,
        /// What `count(*)` said (0 if it was negative).
        counted: u64,
    },
    /// A value read from Postgres could not be written as NDJSON.
    #[error("table {table}, row {row}, column {column:?}: {cause}")]
    Encode {
        /// The table, `schema.name`.
        table: String,
        /// The row's 1-based number in the COPY, which is its line in the file.
        row: u64,
        /// The column's name.
        column: String,
        /// What was wrong with the value.
        cause: EncodeError,
    },
    /// A file in the export directory could not be created, written or synced.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: io::Error,
    },
    /// The manifest could not be written.
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    /// The tenant filter could not be planned or the tenant was not found.
    #[error(transparent)]
    Tenancy(#[from] tenancy::Error),
    /// The tokio runtime could not be started; holds the I/O error.
    #[error("cannot start the async runtime: {0}")]
    Runtime(io::Error),
    /// The export's partial directory could not be claimed (another run holds it, or I/O
    /// failed), or a stale one could not be swept.
    #[error(transparent)]
    Partial(#[from] partial::Error),
    /// The manifest could not be signed (`--sign`).
    #[error(transparent)]
    Sign(#[from] crate::sign::Error),
    /// The redaction asked for cannot be done.
    #[error(transparent)]
    Redact(#[from] redact::Error),
    /// `--each-tenant`: the tenants cannot be chosen or named as asked.
    #[error(transparent)]
    Each(#[from] each_tenant::EachError),
    /// `--snapshot` is not a snapshot id.
    #[error(
        "--snapshot {0:?} is not a snapshot id (it looks like 00000003-0000001B-1, as \
         `pg2lite snapshot --hold` prints it)"
    )]
    SnapshotId(String),
    /// The snapshot could not be joined: no session holds it any more.
    #[error(
        "cannot read in snapshot {id}: {detail}; is the `pg2lite snapshot --hold` that printed \
         it still running, against this same server and database?"
    )]
    Snapshot {
        /// The snapshot id given.
        id: String,
        /// Postgres' message.
        detail: String,
    },
}

/// A result whose error is the export's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_owned(), cause: source }
}

/// One table's work: what to run and where to write.
#[derive(Clone)]
struct Job {
    table: Table,
    plan: SelectPlan,
    sql: String,
    /// `SELECT count(*)` under the same filter, run after the COPY in the same snapshot.
    count_sql: String,
    file: String,
    filter: Filter,
    /// Per column of `table`, how it is hashed (see [`redacted`]).
    hashes: Vec<Option<redact::Render>>,
    hasher: Option<redact::Hasher>,
    /// The COPY tags each row with its owner (`--each-tenant`, [`each_tenant`]).
    owned: bool,
}

/// Exports the selected tables.
///
/// # Errors
/// Connection and catalog errors, a pattern that matches nothing, tables the user may not
/// read (all checked before anything is written), then any failure while reading or writing,
/// after which the partial directory is removed.
pub fn run(opts: &ExportOptions, progress: &dyn Progress) -> Result<ExportSummary> {
    run_feeding(opts, progress, None)
}

/// [`run`], handing every table's lines to `feed` as they are written (see [`crate::transform::feed`]).
///
/// # Errors
/// As [`run`]; a feed that goes away is not an error.
pub fn run_feeding(
    opts: &ExportOptions,
    progress: &dyn Progress,
    feed: Option<&Feeder>,
) -> Result<ExportSummary> {
    let rt = runtime()?;
    let (client, snapshot, catalog) = rt.block_on(open_snapshot(opts))?;
    let created = chrono::Utc::now();
    let tables =
        select::select(catalog.tables.clone(), &opts.schemas, &opts.tables, &opts.exclude)?;
    check_readable(&tables, &opts.source)?;
    let tenant = match &opts.tenant {
        Some(t) => Some(rt.block_on(resolve_tenant(&client, &opts.source, &tables, t))?),
        None => None,
    };
    let redaction = redaction_plan(&tables, opts)?;
    let jobs: Vec<Job> = tables
        .into_iter()
        .map(|t| job_for(t, tenant.as_ref(), &redaction))
        .collect::<Result<_>>()?;
    let (export_id, partial, claimed) =
        claim_partial(&opts.out, &catalog.database, created, progress)?;
    fs::create_dir(partial.join(manifest::TABLES_DIR)).map_err(io_err(&partial))?;
    let manifest_of = |results: &[TableResult]| {
        let mut m = build_manifest(
            opts,
            &catalog,
            &snapshot,
            created,
            &export_id,
            tenant.as_ref(),
            results,
        );
        m.options.redaction = redaction.record();
        // `--tenant-key email=...` names the tenant by a value the export redacts.
        if let Some(t) = m.options.tenant.as_mut() {
            let named = t.named_by.as_ref().map(|n| n.column.as_str());
            if named.is_some_and(|c| redaction.hides(&t.tenants_table, c)) {
                t.named_by = None;
            }
        }
        m
    };
    if let Some(feed) = feed {
        let mut draft = manifest_of(&[]);
        draft.tables = jobs.iter().map(Job::draft_entry).collect();
        feed.send(Fed::Begin(Box::new(draft)));
    }
    let work = Work { dir: &partial, progress, feed, each: None };
    let outcome = export_tables(opts, &rt, &client, &snapshot, jobs, &work);
    let target = opts.out.join(&export_id);
    let finished = outcome.and_then(|results| {
        finish(&partial, &target, &manifest_of(&results), results, opts.sign.as_ref())
    });
    if finished.is_err() {
        let _ = fs::remove_dir_all(&partial);
    }
    drop(claimed);
    drop(client);
    let summary = finished?;
    if let Some(feed) = feed {
        feed.send(Fed::End(Box::new(Manifest::load(&summary.dir)?)));
    }
    Ok(summary)
}

/// Where the workers write, report and feed.
struct Work<'a> {
    dir: &'a Path,
    progress: &'a dyn Progress,
    feed: Option<&'a Feeder>,
    /// Where tagged tables' rows go, for `--each-tenant`.
    each: Option<&'a each_tenant::Each>,
}

/// What an export would do, without doing it: for `migrate --dry-run`.
#[derive(Debug)]
pub struct ExportPlan {
    /// The database's name.
    pub database: String,
    /// The server's version, as Postgres reports it.
    pub server_version: String,
    /// The tables that would be exported, after selection and redaction.
    pub tables: Vec<Table>,
    /// The tenant filter, when `--tenant-key` was given.
    pub tenant: Option<ResolvedTenant>,
    /// What `--redact` and `--exclude-column` will do.
    pub redaction: redact::Plan,
    /// The objects that are not tables, as the manifest would record them.
    pub objects: crate::model::objects::Objects,
}

impl ExportPlan {
    /// How a table's rows would be chosen, for people.
    pub fn describe_filter(&self, t: &Table) -> String {
        match &self.tenant {
            Some(tenant) => tenant.plan.describe(t),
            None => "whole".to_owned(),
        }
    }
}

/// Reads the catalog and resolves the selection and tenant filter, in a read-only
/// transaction, writing nothing anywhere.
///
/// # Errors
/// As [`run`] before it writes: connection, catalog, selection, permissions, tenant.
pub fn plan(opts: &ExportOptions) -> Result<ExportPlan> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = opts.source.connect().await?;
        let q = |e: tokio_postgres::Error| opts.source.query_error(&e);
        client.batch_execute(BEGIN_SNAPSHOT).await.map_err(q)?;
        let catalog = catalog::read_with(&client, &opts.source, opts.matviews_as_tables).await?;
        let tables = select::select(catalog.tables, &opts.schemas, &opts.tables, &opts.exclude)?;
        check_readable(&tables, &opts.source)?;
        let tenant = match &opts.tenant {
            Some(t) => Some(resolve_tenant(&client, &opts.source, &tables, t).await?),
            None => None,
        };
        client.batch_execute("ROLLBACK").await.map_err(q)?;
        let redaction = redaction_plan(&tables, opts)?;
        Ok(ExportPlan {
            database: catalog.database,
            server_version: catalog.server_version,
            objects: catalog.objects.selected(
                &opts.schemas,
                &tables.iter().map(Table::qualified_name).collect::<Vec<_>>(),
            ),
            tables: tables.iter().map(|t| redaction.prune(t)).collect(),
            tenant,
            redaction,
        })
    })
}

fn qualified(t: &Table) -> QualifiedName {
    QualifiedName { schema: t.schema.clone(), name: t.name.clone() }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    pg::runtime().map_err(Error::Runtime)
}

const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

async fn open_snapshot(opts: &ExportOptions) -> Result<(Client, String, catalog::Catalog)> {
    let source = &opts.source;
    let client = source.connect().await?;
    let q = |e: tokio_postgres::Error| source.query_error(&e);
    client.batch_execute(BEGIN_SNAPSHOT).await.map_err(q)?;
    let snapshot = match &opts.snapshot {
        Some(id) => {
            join_snapshot(&client, id).await?;
            id.clone()
        }
        None => {
            let row = client.query_one("SELECT pg_catalog.pg_export_snapshot()", &[]).await;
            row.map_err(q)?.get(0)
        }
    };
    let catalog = catalog::read_with(&client, source, opts.matviews_as_tables).await?;
    Ok((client, snapshot, catalog))
}

/// Whether `id` has the shape of a snapshot id (`00000003-0000001B-1`): hex words and a
/// counter, nothing that could end the literal it is sent in.
pub fn is_snapshot_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    (2..=3).contains(&parts.len())
        && id.len() <= 64
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Makes the open transaction see the snapshot `id` (`SET TRANSACTION SNAPSHOT`).
async fn join_snapshot(client: &Client, id: &str) -> Result<()> {
    if !is_snapshot_id(id) {
        return Err(Error::SnapshotId(id.to_owned()));
    }
    let sql = format!("SET TRANSACTION SNAPSHOT {}", pg::quote_literal(id));
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| Error::Snapshot { id: id.to_owned(), detail: pg::error_detail(&e) })
}

fn check_readable(tables: &[Table], source: &Source) -> Result<()> {
    let denied: Vec<String> =
        tables.iter().filter(|t| !t.readable).map(Table::display_name).collect();
    if denied.is_empty() {
        return Ok(());
    }
    Err(Error::PermissionDenied { user: source.user().to_owned(), tables: denied })
}

/// A tenant filter, resolved: the plan and the tenant's key value as Postgres prints it.
#[derive(Debug)]
pub struct ResolvedTenant {
    /// Which filter each table gets, and why.
    pub plan: tenancy::TenantPlan,
    /// The tenant's key as Postgres prints it (`key::text`).
    pub value: String,
    /// `(COLUMN, VALUE)` of `--tenant-key COLUMN=VALUE`; `None` when the tenant was given by
    /// its key value.
    pub named_by: Option<(String, String)>,
}

/// Plans the tenant filter and finds the tenant's key value, checking that the tenant exists.
async fn resolve_tenant(
    client: &Client,
    source: &Source,
    tables: &[Table],
    opts: &tenancy::TenantOptions,
) -> Result<ResolvedTenant> {
    let plan = tenancy::plan(tables, opts)?;
    let tenants = tables
        .iter()
        .find(|t| t.schema == plan.tenants_table.schema && t.name == plan.tenants_table.name)
        .expect("the plan's tenants table comes from the selection");
    let (column, value, named_by) = match &opts.tenant {
        tenancy::TenantRef::Value(v) => (plan.key_column.clone(), v.clone(), None),
        tenancy::TenantRef::Key { column, value } => {
            tenancy::check_unique_key(tenants, column)?;
            (column.clone(), value.clone(), Some((column.clone(), value.clone())))
        }
    };
    // The value is bound in text format, so Postgres reads it with the column's type.
    let sql = format!(
        "SELECT t0.{}::pg_catalog.text FROM ONLY {} AS t0 WHERE t0.{} = $1",
        quote_ident(&plan.key_column),
        tenants.quoted(),
        quote_ident(&column),
    );
    let param = pg::filter::TextParam(&value);
    let rows = client.query(&sql, &[&param]).await.map_err(|e| source.query_error(&e))?;
    let key: Option<String> = rows.first().map(|r| r.get(0));
    let value = key.ok_or_else(|| tenancy::Error::TenantNotFound {
        table: tenants.display_name(),
        column,
        value,
    })?;
    Ok(ResolvedTenant { plan, value, named_by })
}

impl Job {
    /// The table's manifest entry before its data is known.
    fn draft_entry(&self) -> TableEntry {
        TableEntry {
            file: self.file.clone(),
            rows: 0,
            bytes: 0,
            sha256: String::new(),
            filter: self.filter.clone(),
            json_nulls: BTreeMap::new(),
            nan_values: BTreeMap::new(),
            json_depth: BTreeMap::new(),
            numeric_facts: BTreeMap::new(),
            table: self.table.clone(),
        }
    }
}

/// Decides the redaction of the selected tables (nothing when none was asked for).
fn redaction_plan(tables: &[Table], opts: &ExportOptions) -> Result<redact::Plan> {
    let tenant_column = opts.tenant.as_ref().map(|t| t.column.as_str());
    Ok(redact::plan(tables, &opts.redact, tenant_column)?)
}

fn job_for(table: Table, tenant: Option<&ResolvedTenant>, redaction: &redact::Plan) -> Result<Job> {
    // The filter and the row order are the stored table's; the select list and the manifest
    // see it redacted.
    let pruned = redaction.prune(&table);
    let plan = codec::plan_with(&pruned.columns, |c| redacted::select(redaction, &table, c));
    let (condition, filter) = match tenant {
        Some(t) => (
            t.plan.condition(&table, &t.value).map_err(tenancy::Error::from)?,
            t.plan.manifest_filter(&table),
        ),
        None => (None, Filter::Whole),
    };
    let sql = copy_sql(&table, &plan, condition.as_deref());
    let count_sql = count_sql(&table, condition.as_deref());
    let file = manifest::table_file(&table.schema, &table.name);
    let hashes = redacted::hashes(redaction, &pruned);
    let hasher = redaction.hasher();
    Ok(Job { table: pruned, plan, sql, count_sql, file, filter, hashes, hasher, owned: false })
}

/// `FROM [ONLY] t AS t0 [WHERE ..]`: the rows a table's COPY and its count both read.
/// Partitioned tables are read through their root, so without `ONLY`.
fn from_clause(table: &Table, filter: Option<&str>) -> String {
    let only = if table.kind == TableKind::Partitioned { "" } else { "ONLY " };
    let mut from = format!("FROM {only}{} AS t0", table.quoted());
    if let Some(f) = filter {
        from.push_str(" WHERE ");
        from.push_str(f);
    }
    from
}

/// `SELECT count(*) FROM [ONLY] t AS t0 [WHERE ..]`, the check of the rows a COPY streamed.
fn count_sql(table: &Table, filter: Option<&str>) -> String {
    format!("SELECT count(*) {}", from_clause(table, filter))
}

/// `COPY (SELECT ... FROM [ONLY] t AS t0 [WHERE ..] ORDER BY t0.key) TO STDOUT (FORMAT binary)`.
/// The ORDER BY is qualified so that it sorts by the stored column, never by a select-list
/// expression that happens to carry the same name.
fn copy_sql(table: &Table, plan: &SelectPlan, filter: Option<&str>) -> String {
    let mut sql = format!("COPY (SELECT {} {}", plan.exprs.join(", "), from_clause(table, filter));
    if !table.order_by.is_empty() {
        let keys: Vec<String> =
            table.order_by.iter().map(|c| format!("t0.{}", quote_ident(c))).collect();
        sql.push_str(" ORDER BY ");
        sql.push_str(&keys.join(", "));
    }
    sql.push_str(") TO STDOUT (FORMAT binary)");
    sql
}

/// Removes the partial directories interrupted exports left in `out` (saying so), then
/// names this export and claims its partial directory, `.<export-id>.partial`, locked while
/// this export runs ([`crate::partial`]).
fn claim_partial(
    out: &Path,
    database: &str,
    at: chrono::DateTime<chrono::Utc>,
    progress: &dyn Progress,
) -> Result<(String, PathBuf, partial::Claimed)> {
    fs::create_dir_all(out).map_err(io_err(out))?;
    for removed in partial::sweep(out, is_partial_name)? {
        progress.message(&format!(
            "removed {}, left by an export that was interrupted",
            removed.display()
        ));
    }
    let base = export_id_base(database, at);
    for n in 1u32.. {
        let id = if n == 1 { base.clone() } else { format!("{base}-{n}") };
        let dir = out.join(format!(".{id}.partial"));
        if out.join(&id).exists() {
            continue;
        }
        if let Some(claimed) = partial::claim_dir(&dir)? {
            return Ok((id, dir, claimed));
        }
    }
    unreachable!("u32 counters do not run out before a free name is found")
}

/// Whether `name` is an export's partial directory, `.<database>-<UTC time>[-N].partial`:
/// the sweep must not take another program's `.something.partial` in `--out` for ours.
fn is_partial_name(name: &str) -> bool {
    let Some(id) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".partial")) else {
        return false;
    };
    let id = match id.rsplit_once('-') {
        Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => id,
    };
    let Some((_, time)) = id.rsplit_once('-') else { return false };
    let b = time.as_bytes();
    b.len() == 16
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 => c == b'T',
            15 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// `<database>-<UTC time>`; [`claim_partial`] adds a counter when that name is taken.
fn export_id_base(database: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let db: String = database
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .collect();
    format!("{db}-{}", at.format("%Y%m%dT%H%M%SZ"))
}

struct TableResult {
    table: Table,
    filter: Filter,
    seen: Seen,
    file: String,
    rows: u64,
    bytes: u64,
    sha256: String,
    seconds: f64,
}

/// Runs the jobs, largest first, on `opts.jobs` connections: this one (which holds the
/// snapshot) and `jobs - 1` more on their own threads, each joining the snapshot.
fn export_tables(
    opts: &ExportOptions,
    rt: &tokio::runtime::Runtime,
    leader: &Client,
    snapshot: &str,
    mut jobs: Vec<Job>,
    work: &Work<'_>,
) -> Result<Vec<TableResult>> {
    jobs.sort_by_key(|j| std::cmp::Reverse(j.table.estimated_rows.unwrap_or(0)));
    let workers = opts.jobs.max(1).min(jobs.len().max(1));
    let shared = Shared {
        queue: Mutex::new(jobs.into()),
        results: Mutex::new(Vec::new()),
        failed: AtomicBool::new(false),
        work,
    };
    let errors: Vec<Error> = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..workers)
            .map(|_| s.spawn(|| helper_worker(&opts.source, snapshot, &shared)))
            .collect();
        let mut errors: Vec<Error> = rt.block_on(shared.work(leader)).err().into_iter().collect();
        for h in helpers {
            if let Err(e) = h.join().expect("export workers do not panic") {
                errors.push(e);
            }
        }
        errors
    });
    if let Some(first) = errors.into_iter().next() {
        return Err(first);
    }
    let mut results = shared.results.into_inner().expect("no worker panicked holding the lock");
    results.sort_by(|a, b| (&a.table.schema, &a.table.name).cmp(&(&b.table.schema, &b.table.name)));
    Ok(results)
}

fn helper_worker(source: &Source, snapshot: &str, shared: &Shared<'_>) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let client = source.connect().await?;
        let sql =
            format!("{BEGIN_SNAPSHOT}; SET TRANSACTION SNAPSHOT {}", pg::quote_literal(snapshot));
        client.batch_execute(&sql).await.map_err(|e| source.query_error(&e))?;
        shared.work(&client).await
    })
}

struct Shared<'a> {
    queue: Mutex<VecDeque<Job>>,
    results: Mutex<Vec<TableResult>>,
    /// Set by the first failure so that the other workers stop taking jobs.
    failed: AtomicBool,
    work: &'a Work<'a>,
}

impl Shared<'_> {
    fn next_job(&self) -> Option<Job> {
        if self.failed.load(Ordering::Relaxed) {
            return None;
        }
        self.queue.lock().expect("queue lock").pop_front()
    }

    async fn work(&self, client: &Client) -> Result<()> {
        while let Some(job) = self.next_job() {
            let done = match self.work.each {
                Some(each) if job.owned => {
                    each_tenant::export_owned(client, &job, each, self.work).await
                }
                _ => export_table(client, &job, self.work).await,
            };
            match done {
                Ok(r) => self.results.lock().expect("results lock").push(r),
                Err(e) => {
                    self.failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// Accepts any value as its raw bytes: the codecs decide what the bytes mean.
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl Fields for BinaryCopyOutRow {
    fn raw(&self, i: usize) -> Result<Option<&[u8]>, EncodeError> {
        self.try_get::<Raw<'_>>(i).map(|r| r.0).map_err(|e| EncodeError(e.to_string()))
    }
}

/// How often progress is reported, in rows.
const PROGRESS_EVERY: u64 = 8192;

async fn export_table(client: &Client, job: &Job, work: &Work<'_>) -> Result<TableResult> {
    let started = Instant::now();
    let name = job.table.display_name();
    let task = work.progress.start("export", &name, job.table.estimated_rows);
    let copy_err = copy_err(&name);
    let sink = client.copy_out(job.sql.as_str()).await.map_err(&copy_err)?;
    let types = vec![Type::BYTEA; job.plan.exprs.len()];
    let rows = BinaryCopyOutStream::new(sink, &types);
    pin_mut!(rows);
    let path = work.dir.join(&job.file);
    let mut out = TableFile::create(&path)?;
    let (mut count, mut reported_bytes) = (0u64, 0u64);
    let mut seen = Seen::for_job(job);
    let mut fed = TableFeed::new(work.feed, job);
    while let Some(row) = rows.next().await {
        let row = row.map_err(&copy_err)?;
        encode_row(&row, job, count + 1, out.buffer(), &mut seen)?;
        if out.is_full() {
            fed.lines(out.buffer(), &mut seen);
            out.flush()?;
        }
        count += 1;
        if count % PROGRESS_EVERY == 0 {
            task.add(PROGRESS_EVERY, out.bytes() - reported_bytes);
            reported_bytes = out.bytes();
        }
    }
    fed.lines(out.buffer(), &mut seen);
    check_count(client, job, count).await?;
    let (sha256, bytes) = out.finish()?;
    task.finish(count, bytes);
    Ok(TableResult {
        table: job.table.clone(),
        filter: job.filter.clone(),
        seen,
        file: job.file.clone(),
        rows: count,
        bytes,
        sha256,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The error of a table's COPY.
fn copy_err(table: &str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
    move |e| Error::Copy { table: table.to_owned(), detail: pg::error_detail(&e) }
}

/// Proves that the `streamed` rows are the table's rows in the export's snapshot: `count(*)`
/// under the same filter, on the same connection, in the same REPEATABLE READ transaction,
/// must say as many. So the manifest's row count is Postgres' at the instant of the
/// snapshot, and a later re-count (`validate --source`) that differs shows a change since,
/// not a faulty copy. The count reads the table a second time, which costs a fraction of the
/// COPY (no encoding, no transfer of rows).
async fn check_count(client: &Client, job: &Job, streamed: u64) -> Result<()> {
    let table = job.table.display_name();
    let count_err = |e: tokio_postgres::Error| Error::Count {
        table: table.clone(),
        detail: pg::error_detail(&e),
    };
    let row = client.query_one(job.count_sql.as_str(), &[]).await.map_err(count_err)?;
    let counted: i64 = row.try_get(0).map_err(count_err)?;
    if u64::try_from(counted).ok() == Some(streamed) {
        return Ok(());
    }
    let counted = u64::try_from(counted).unwrap_or(0);
    Err(Error::CountMismatch { table, streamed, counted })
}

/// What the NDJSON itself cannot say about a table's values, noticed while encoding: json
/// values that are the JSON `null` (not SQL NULL), and NaN counts (SQLite has no NaN, and a
/// NOT NULL column cannot take the NULL it becomes).
#[derive(Debug, Default)]
struct Seen {
    json_nulls: BTreeMap<String, Vec<u64>>,
    nan_values: BTreeMap<String, u64>,
    json_depth: BTreeMap<String, manifest::JsonDepth>,
    /// Facts of the numeric and money columns' values ([`manifest::NumericFacts`]).
    numeric: numeric_facts::Collector,
    /// JSON nulls not yet handed to the feed.
    unfed_json_nulls: Vec<(String, u64)>,
}

impl Seen {
    /// Nothing seen yet, with the job's numeric columns known, so that a table without rows
    /// still records their (empty) facts.
    fn for_job(job: &Job) -> Seen {
        let mut seen = Seen::default();
        for (i, (_, codec)) in job.plan.columns.iter().enumerate() {
            if matches!(codec, codec::Codec::Numeric) {
                seen.numeric.column(&job.table.columns[i].name);
            }
        }
        seen
    }

    /// Looks at one value just encoded (`encoded`, not SQL NULL) of `column` in `row`.
    fn value(&mut self, codec: &codec::Codec, column: &str, row: u64, encoded: &[u8]) {
        use codec::Codec::{Float4, Float8, Json, Jsonb, Numeric};
        if matches!(codec, Json | Jsonb) {
            self.depth(column, crate::format::json::depth(encoded));
        }
        if matches!(codec, Numeric) {
            self.numeric.value(column, encoded);
        }
        match codec {
            Json | Jsonb if encoded == b"null" => {
                self.json_nulls.entry(column.to_owned()).or_default().push(row);
                self.unfed_json_nulls.push((column.to_owned(), row));
            }
            Float4 | Float8 | Numeric if encoded == b"\"NaN\"" => {
                *self.nan_values.entry(column.to_owned()).or_default() += 1;
            }
            _ => {}
        }
    }
}

impl Seen {
    /// Records one json value's nesting (allocating the column's name once, not per value).
    fn depth(&mut self, column: &str, depth: u64) {
        if !self.json_depth.contains_key(column) {
            self.json_depth.insert(column.to_owned(), manifest::JsonDepth::default());
        }
        if let Some(d) = self.json_depth.get_mut(column) {
            d.deepest = d.deepest.max(depth);
            d.beyond_sqlite += u64::from(depth > manifest::SQLITE_JSON_DEPTH);
        }
    }
}

/// One table's side of the feed: where its lines stand.
struct TableFeed<'a> {
    feed: Option<&'a Feeder>,
    table: QualifiedName,
    next_line: u64,
}

impl<'a> TableFeed<'a> {
    fn new(feed: Option<&'a Feeder>, job: &Job) -> Self {
        let table = job.table.qualified_name();
        TableFeed { feed, table, next_line: 1 }
    }

    /// Hands the buffered lines to the feed, if there is one listening.
    fn lines(&mut self, buf: &[u8], seen: &mut Seen) {
        let pending = std::mem::take(&mut seen.unfed_json_nulls);
        if let Some(feed) = self.feed {
            feed.lines(&self.table, buf, &mut self.next_line, pending);
        }
    }
}

/// Appends one row as a JSON line, telling `seen` what the line alone cannot say.
fn encode_row(
    row: &dyn Fields,
    job: &Job,
    row_number: u64,
    out: &mut Vec<u8>,
    seen: &mut Seen,
) -> Result<()> {
    out.push(b'{');
    for (i, (key, codec)) in job.plan.columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(key);
        let start = out.len();
        let raw = row.raw(i);
        let present = matches!(raw, Ok(Some(_)));
        let encoded = raw.and_then(|raw| match (job.hashes[i], &job.hasher) {
            (Some(render), Some(h)) => {
                redacted::write_hash(h, render, raw, out);
                Ok(())
            }
            _ => codec::encode(codec, raw, row, out),
        });
        let column = &job.table.columns[i].name;
        encoded.map_err(|source| Error::Encode {
            table: job.table.display_name(),
            row: row_number,
            column: column.clone(),
            cause: source,
        })?;
        if present {
            seen.value(codec, column, row_number, &out[start..]);
        }
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// A data file being written: rows are encoded straight into `buf`, which is hashed and
/// written out whenever it passes [`TableFile::FLUSH_AT`].
struct TableFile {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    hasher: Sha256,
    written: u64,
}

impl TableFile {
    const FLUSH_AT: usize = 1 << 20;

    fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(io_err(path))?;
        let buf = Vec::with_capacity(Self::FLUSH_AT + (64 << 10));
        Ok(TableFile { path: path.to_owned(), file, buf, hasher: Sha256::new(), written: 0 })
    }

    fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    fn bytes(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    fn is_full(&self) -> bool {
        self.buf.len() >= Self::FLUSH_AT
    }

    fn flush(&mut self) -> Result<()> {
        self.hasher.update(&self.buf);
        self.file.write_all(&self.buf).map_err(io_err(&self.path))?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Flushes, syncs to disk, and returns the hex SHA-256 and the size.
    fn finish(mut self) -> Result<(String, u64)> {
        self.flush()?;
        self.file.sync_all().map_err(io_err(&self.path))?;
        Ok((hex::encode(self.hasher.finalize()), self.written))
    }
}

fn build_manifest(
    opts: &ExportOptions,
    catalog: &catalog::Catalog,
    snapshot: &str,
    created: chrono::DateTime<chrono::Utc>,
    export_id: &str,
    tenant: Option<&ResolvedTenant>,
    results: &[TableResult],
) -> Manifest {
    let tables = results
        .iter()
        .map(|r| TableEntry {
            file: r.file.clone(),
            rows: r.rows,
            bytes: r.bytes,
            sha256: r.sha256.clone(),
            filter: r.filter.clone(),
            json_nulls: r.seen.json_nulls.clone(),
            nan_values: r.seen.nan_values.clone(),
            json_depth: r.seen.json_depth.clone(),
            numeric_facts: r.seen.numeric.facts(),
            table: r.table.clone(),
        })
        .collect();
    let tenant = tenant.map(tenant_record);
    manifest_of_entries(opts, catalog, snapshot, created, export_id, tenant, tables)
}

/// The manifest of an export whose tables' entries are known (without the redaction record
/// and the seal, which the caller adds).
fn manifest_of_entries(
    opts: &ExportOptions,
    catalog: &catalog::Catalog,
    snapshot: &str,
    created: chrono::DateTime<chrono::Utc>,
    export_id: &str,
    tenant: Option<manifest::Tenant>,
    tables: Vec<TableEntry>,
) -> Manifest {
    let settings: BTreeMap<String, String> = [
        ("TimeZone", "UTC"),
        ("DateStyle", "ISO, YMD"),
        ("IntervalStyle", "iso_8601"),
        ("extra_float_digits", "3"),
        ("search_path", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let exported: Vec<QualifiedName> = tables.iter().map(|t| qualified(&t.table)).collect();
    Manifest {
        format: manifest::FORMAT.into(),
        version: manifest::VERSION,
        export_id: export_id.into(),
        tool: manifest::Tool::default(),
        created_at: created.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        source: SourceInfo {
            host: opts.source.host(),
            port: opts.source.port(),
            database: catalog.database.clone(),
            user: opts.source.user().to_owned(),
            server_version: catalog.server_version.clone(),
        },
        snapshot: Some(snapshot.to_owned()),
        settings,
        options: manifest::Options {
            schemas: opts.schemas.clone(),
            tables: opts.tables.clone(),
            exclude: opts.exclude.clone(),
            tenant,
            redaction: None,
        },
        tables,
        objects: catalog.objects.selected(&opts.schemas, &exported),
        manifest_sha256: String::new(),
    }
}

/// What the manifest records of the tenant filter.
fn tenant_record(t: &ResolvedTenant) -> manifest::Tenant {
    manifest::Tenant {
        column: t.plan.column.clone(),
        value: t.value.clone(),
        tenants_table: t.plan.tenants_table.clone(),
        key_column: t.plan.key_column.clone(),
        named_by: t.named_by.as_ref().map(|(column, value)| manifest::NamedBy {
            column: column.clone(),
            value: value.clone(),
        }),
    }
}

/// Writes the manifest and checksums (and the signature, with a key), syncs, and renames the
/// directory into place.
fn finish(
    partial: &Path,
    target: &Path,
    manifest: &Manifest,
    results: Vec<TableResult>,
    sign: Option<&crate::sign::SigningKey>,
) -> Result<ExportSummary> {
    manifest.write(partial)?;
    if let Some(key) = sign {
        crate::sign::sign_export(partial, key)?;
    }
    sync_dir(&partial.join(manifest::TABLES_DIR))?;
    sync_dir(partial)?;
    partial::rename_durably(partial, target).map_err(io_err(target))?;
    let sealed = Manifest::load(target)?;
    let named = |f: Filter| -> Vec<String> {
        let tables = manifest.tables.iter().filter(|t| t.filter == f);
        tables.map(|t| t.table.display_name()).collect()
    };
    Ok(ExportSummary {
        left_out: named(Filter::LeftOut),
        whole_tables: named(Filter::WholeTable),
        signed_by: sign.map(|k| k.fingerprint().to_owned()),
        export_id: manifest.export_id.clone(),
        dir: target.to_owned(),
        manifest_sha256: sealed.manifest_sha256,
        tables: results
            .into_iter()
            .map(|r| TableSummary {
                name: r.table.display_name(),
                file: r.file,
                rows: r.rows,
                bytes: r.bytes,
                seconds: r.seconds,
            })
            .collect(),
    })
}

fn sync_dir(dir: &Path) -> Result<()> {
    partial::sync_dir(dir).map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_of_export_partials_are_swept() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").unwrap().to_utc();
        let id = export_id_base("my db", at);
        assert_eq!(id, "my_db-20260102T030405Z");
        assert!(is_partial_name(&format!(".{id}.partial")));
        assert!(is_partial_name(&format!(".{id}-12.partial")));
        for other in
            [".cache.partial", "my_db-20260102T030405Z.partial", ".x-2026.partial", id.as_str()]
        {
            assert!(!is_partial_name(other), "{other}");
        }
    }
}
