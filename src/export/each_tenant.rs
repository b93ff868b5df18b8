//! `export --each-tenant`: one export directory per tenant, `<out>/<name>/`, each what
//! `export --tenant KEY` would write, from one snapshot that reads each table once.
//!
//! How: each table's query tags every row with the key of the tenant that owns it
//! ([`crate::pg::filter::Owned`]) and orders by that key, so a tenant's rows arrive together
//! and only one file per worker is open at a time. Each (tenant, table) file's facts
//! (rows, checksum, what the NDJSON cannot say) go to a small side file, so memory stays
//! bounded whatever the number of tenants. When every table is read, each tenant's export is
//! sealed (manifest, `SHA256SUMS`, signature) and renamed into place; until then all of it
//! lives in one hidden work directory, `.each-tenant-<time>.partial`, so an interrupted run
//! leaves no export that looks complete. A tenant whose export is already in place and
//! verifies is not read again (a rerun resumes).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use futures_util::{StreamExt, pin_mut};
use postgres_types::Type;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;
use tokio_postgres::binary_copy::{BinaryCopyOutRow, BinaryCopyOutStream};

use super::{
    Error, ExportOptions, Job, PROGRESS_EVERY, Result, Seen, TableFile, TableResult, Work,
    check_count, copy_err, encode_row, io_err, tenancy,
};
use crate::format::encode::{EncodeError, Fields};
use crate::model::catalog::Table;
use crate::model::manifest::{self, JsonDepth, Manifest, NumericFacts, TableEntry};
use crate::model::select;
use crate::partial;
use crate::pg::filter::{OWNER, Owned};
use crate::pg::{self, quote_ident, quote_literal};
use crate::progress::{Progress, Silent};

/// What `--each-tenant` exports, beyond the options of any export.
#[derive(Debug, Clone)]
pub struct EachOptions {
    /// Source, selection, jobs, redaction, signing, `--snapshot`; `out` receives one
    /// directory per tenant. Its `tenant` is not used.
    pub export: ExportOptions,
    /// The column that marks a tenant's rows.
    pub column: String,
    /// The tenants table, when foreign keys do not tell it (`--tenant-table`).
    pub tenants_table: Option<String>,
    /// `--whole-table` patterns.
    pub whole_tables: Vec<String>,
    /// `--name-by COLUMN`: a unique column of the tenants table that names each tenant's
    /// files instead of its key.
    pub name_by: Option<String>,
    /// `--tenants FILE`: only these tenant keys.
    pub only: Option<Vec<String>>,
    /// `--shard I/N`.
    pub shard: Option<Shard>,
}

/// `--shard I/N`: the tenants whose key falls in shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, 1 to `count`.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl Shard {
    /// Whether the tenant `key` (its text, as Postgres prints it) is in this shard: the
    /// first 8 bytes of its SHA-256 as a big-endian number, modulo `count`, plus 1. Any
    /// machine computes the same, so N runs split the tenants without talking to each other.
    pub fn contains(&self, key: &str) -> bool {
        let digest = Sha256::digest(key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % self.count + 1 == self.index
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("--shard {s:?}: write I/N, with 1 <= I <= N (1/2, 2/2)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse::<u64>(), n.trim().parse::<u64>());
        match (index, count) {
            (Ok(index), Ok(count)) if index >= 1 && index <= count => Ok(Shard { index, count }),
            _ => Err(bad()),
        }
    }
}

/// Why the tenants cannot be exported as asked; raised before anything is written.
#[derive(Debug, thiserror::Error)]
pub enum EachError {
    /// Keys of `--tenants FILE` that no tenant has.
    #[error(
        "--tenants: {} not a key of {table}: {}; check the file (one key a line, as \
         Postgres prints it)", if keys.len() == 1 { "this is" } else { "these are" },
        keys.join(", ")
    )]
    UnknownTenants {
        /// The tenants table.
        table: String,
        /// The keys not found, as given.
        keys: Vec<String>,
    },
    /// Two tenants would get the same file name (names are compared ignoring case, as
    /// some file systems do).
    #[error(
        "tenants {first:?} and {second:?} would both be written as {name:?} (names are \
         compared ignoring case); choose another --name-by column, or none to name files by key"
    )]
    NameCollision {
        /// One tenant: its key, and its `--name-by` value in parentheses.
        first: String,
        /// The other's.
        second: String,
        /// The file name they share.
        name: String,
    },
    /// The `--name-by` column is NULL for a tenant.
    #[error(
        "tenant {key:?} has no {column} (NULL), so it cannot be named by it; use --name-by with a NOT NULL column"
    )]
    NoName {
        /// The tenant's key.
        key: String,
        /// The `--name-by` column.
        column: String,
    },
    /// `--name-by` names a column the export redacts: the file names would show it.
    #[error(
        "--name-by {0}: that column is redacted, and file names would show its values; name by another column or by key"
    )]
    NameRedacted(String),
    /// A name too long for a file system.
    #[error(
        "tenant {key:?}: its file name would be longer than {MAX_NAME} bytes; use another --name-by column"
    )]
    NameTooLong {
        /// The tenant's key.
        key: String,
    },
    /// A table's rows did not arrive grouped by tenant (two keys that Postgres sorts as
    /// equal but prints differently).
    #[error(
        "table {table}: the rows of tenant {key:?} did not arrive together, so its file \
         cannot be written in one pass; the tenant column's type compares values that print \
         differently as equal"
    )]
    NotGrouped {
        /// The table.
        table: String,
        /// The tenant key.
        key: String,
    },
    /// A row whose owner is no selected tenant.
    #[error("table {table}: a row belongs to {key:?}, which is not a tenant being exported")]
    UnknownOwner {
        /// The table.
        table: String,
        /// The owner key.
        key: String,
    },
    /// A side file of the run is not what this run wrote.
    #[error("{path}: {why}")]
    Scratch {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// The longest tenant file name (a `.db` is added for migrate's files).
pub const MAX_NAME: usize = 240;

/// One tenant of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName {
    /// Its key as Postgres prints it (`key::text`): what the tenant column holds.
    pub key: String,
    /// The `--name-by` column's value, when one was asked for.
    pub named: Option<String>,
    /// Its file name: the key (or `named`), made safe as table file names are.
    pub name: String,
}

/// One tenant's export, after the run.
#[derive(Debug, Clone)]
pub struct TenantExport {
    /// Who.
    pub tenant: TenantName,
    /// Its export directory, `<out>/<name>`.
    pub dir: PathBuf,
    /// Rows in its export.
    pub rows: u64,
    /// Bytes of its data files.
    pub bytes: u64,
    /// The export was in place and verified, so it was not read again.
    pub reused: bool,
}

/// What an every-tenant export did.
#[derive(Debug)]
pub struct EachSummary {
    /// The snapshot all new exports were read in.
    pub snapshot: String,
    /// Every tenant of the run, in key order.
    pub tenants: Vec<TenantExport>,
    /// Per table, rows and bytes over all tenants (empty when every tenant was reused).
    pub tables: Vec<super::TableSummary>,
}

/// The state the table workers share: where each tenant's files go.
pub(super) struct Each {
    root: PathBuf,
    tenants: Vec<TenantName>,
    slot: HashMap<String, usize>,
    /// Appends to the side files, one at a time.
    side: Mutex<()>,
}

/// The facts of one (tenant, table) file, kept in a side file until the tenant is sealed.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct Stats {
    file: String,
    rows: u64,
    bytes: u64,
    sha256: String,
    json_nulls: BTreeMap<String, Vec<u64>>,
    nan_values: BTreeMap<String, u64>,
    json_depth: BTreeMap<String, JsonDepth>,
    numeric_facts: BTreeMap<String, NumericFacts>,
}

impl Stats {
    fn of(file: &str, rows: u64, bytes: u64, sha256: String, seen: &Seen) -> Stats {
        Stats {
            file: file.to_owned(),
            rows,
            bytes,
            sha256,
            json_nulls: seen.json_nulls.clone(),
            nan_values: seen.nan_values.clone(),
            json_depth: seen.json_depth.clone(),
            numeric_facts: seen.numeric.facts(),
        }
    }

    fn entry(self, job: &Job) -> TableEntry {
        TableEntry {
            file: self.file,
            rows: self.rows,
            bytes: self.bytes,
            sha256: self.sha256,
            filter: job.filter.clone(),
            json_nulls: self.json_nulls,
            nan_values: self.nan_values,
            json_depth: self.json_depth,
            numeric_facts: self.numeric_facts,
            table: job.table.clone(),
        }
    }
}

/// How a table's rows reach the tenants' exports.
enum Reach {
    /// Read once, tagged by owner ([`export_owned`]).
    Owned,
    /// Read once whole and copied into every tenant's export.
    Whole,
    /// No rows for anyone: an empty file.
    Empty,
}

/// Exports every tenant (or the chosen ones) into `opts.export.out/<name>/`.
///
/// # Errors
/// As [`super::run`], and [`EachError`] for tenants that cannot be chosen or named; all
/// raised before anything is written. A failure while reading leaves no new export (those
/// already in place stay).
pub fn run(opts: &EachOptions, progress: &dyn Progress) -> Result<EachSummary> {
    let rt = super::runtime()?;
    let (client, snapshot, catalog) = rt.block_on(super::open_snapshot(&opts.export))?;
    let created = chrono::Utc::now();
    let x = &opts.export;
    let tables = select::select(catalog.tables.clone(), &x.schemas, &x.tables, &x.exclude)?;
    super::check_readable(&tables, &x.source)?;
    let tenant_opts = tenancy::TenantOptions {
        column: opts.column.clone(),
        tenant: tenancy::TenantRef::Value(String::new()),
        table: opts.tenants_table.clone(),
        whole_tables: opts.whole_tables.clone(),
    };
    let plan = tenancy::plan(&tables, &tenant_opts)?;
    let listed = rt.block_on(list_tenants(&client, x, &tables, &plan, opts.name_by.as_deref()))?;
    let chosen = choose(listed, opts, &plan)?;
    let named = name(chosen)?;
    let redaction = redact_plan(&tables, opts)?;
    if let Some(c) = opts.name_by.as_deref().filter(|c| redaction.hides(&plan.tenants_table, c)) {
        return Err(EachError::NameRedacted(c.to_owned()).into());
    }
    fs::create_dir_all(&x.out).map_err(io_err(&x.out))?;
    for removed in partial::sweep(&x.out, is_work_name)? {
        progress
            .message(&format!("removed {}, left by a run that was interrupted", removed.display()));
    }
    let (reused, todo): (Vec<TenantName>, Vec<TenantName>) =
        named.into_iter().partition(|t| in_place(&x.out.join(&t.name)));
    let mut summary =
        EachSummary { snapshot: snapshot.clone(), tenants: Vec::new(), tables: Vec::new() };
    summary
        .tenants
        .extend(reused.into_iter().map(|t| reused_export(&x.out, t)).collect::<Result<Vec<_>>>()?);
    if !todo.is_empty() {
        let all = summary.tenants.is_empty() && opts.only.is_none() && opts.shard.is_none();
        let base = super::export_id_base(&catalog.database, created);
        let run = Run {
            opts,
            catalog: &catalog,
            tables: &tables,
            plan: &plan,
            redaction: &redaction,
            snapshot: &snapshot,
            created,
            base: &base,
        };
        let (results, sealed) = run.export(&rt, &client, todo, all, progress)?;
        summary.tenants.extend(sealed);
        summary.tables = results.into_iter().map(table_summary).collect();
    }
    summary.tenants.sort_by(|a, b| a.tenant.name.cmp(&b.tenant.name));
    Ok(summary)
}

/// What every tenant's export of one run shares.
struct Run<'a> {
    opts: &'a EachOptions,
    catalog: &'a pg::catalog::Catalog,
    tables: &'a [Table],
    plan: &'a tenancy::TenantPlan,
    redaction: &'a crate::redact::Plan,
    snapshot: &'a str,
    created: chrono::DateTime<chrono::Utc>,
    /// `<database>-<time>`, which each tenant's export id extends with its name.
    base: &'a str,
}

impl Run<'_> {
    /// Reads the tables for the tenants `todo` (`all` of the tenants table's) in the hidden
    /// work directory, then seals each tenant's export into place; the work directory is
    /// removed whatever happens.
    fn export(
        &self,
        rt: &tokio::runtime::Runtime,
        client: &Client,
        todo: Vec<TenantName>,
        all: bool,
        progress: &dyn Progress,
    ) -> Result<(Vec<TableResult>, Vec<TenantExport>)> {
        let out = &self.opts.export.out;
        let stamp = self.created.format("%Y%m%dT%H%M%S%.6fZ");
        let work = out.join(format!(".each-tenant-{stamp}.partial"));
        let claimed = partial::claim_dir(&work)?.ok_or_else(|| Error::Io {
            path: work.clone(),
            cause: std::io::Error::other("another run holds it"),
        })?;
        let outcome = (|| {
            let jobs = jobs(self.tables, self.plan, self.redaction, &todo, all)?;
            let each = Each::create(&work, todo)?;
            let results =
                read_tables(self.opts, rt, client, self.snapshot, &jobs, &each, progress)?;
            let sealed = Sealer { run: self, jobs: &jobs }.seal_all(&each, &results, progress)?;
            Ok::<_, Error>((results, sealed))
        })();
        let _ = fs::remove_dir_all(&work);
        drop(claimed);
        outcome
    }
}

fn table_summary(r: TableResult) -> super::TableSummary {
    super::TableSummary {
        name: r.table.display_name(),
        file: r.file,
        rows: r.rows,
        bytes: r.bytes,
        seconds: r.seconds,
    }
}

/// Whether `name` is a work directory this command leaves when interrupted.
fn is_work_name(name: &str) -> bool {
    name.starts_with(".each-tenant-") && name.ends_with(".partial")
}

/// Whether a complete export is already at `dir`: its manifest is sealed and every file
/// matches its checksum.
fn in_place(dir: &Path) -> bool {
    dir.join(manifest::MANIFEST_FILE).is_file()
        && crate::verify::sealed_problems(dir, &Silent).is_ok_and(|p| p.is_empty())
}

fn reused_export(out: &Path, tenant: TenantName) -> Result<TenantExport> {
    let dir = out.join(&tenant.name);
    let m = Manifest::load(&dir)?;
    let rows = m.tables.iter().map(|t| t.rows).sum();
    let bytes = m.tables.iter().map(|t| t.bytes).sum();
    Ok(TenantExport { tenant, dir, rows, bytes, reused: true })
}

fn redact_plan(tables: &[Table], opts: &EachOptions) -> Result<crate::redact::Plan> {
    Ok(crate::redact::plan(tables, &opts.export.redact, Some(&opts.column))?)
}

/// Every tenant's key (and `--name-by` value), in key order, in the snapshot.
async fn list_tenants(
    client: &Client,
    opts: &ExportOptions,
    tables: &[Table],
    plan: &tenancy::TenantPlan,
    name_by: Option<&str>,
) -> Result<Vec<(String, Option<String>)>> {
    let q = &plan.tenants_table;
    let tenants = tables
        .iter()
        .find(|t| t.qualified_name() == *q)
        .expect("the plan's tenants table is selected");
    let key = quote_ident(&plan.key_column);
    let named = match name_by {
        Some(c) => {
            tenancy::check_unique_key(tenants, c)?;
            format!("t0.{}::pg_catalog.text", quote_ident(c))
        }
        None => "NULL::pg_catalog.text".to_owned(),
    };
    let sql = format!(
        "SELECT t0.{key}::pg_catalog.text, {named} {} WHERE t0.{key} IS NOT NULL ORDER BY t0.{key}",
        super::from_clause(tenants, None)
    );
    let rows = client.query(&sql, &[]).await.map_err(|e| opts.source.query_error(&e))?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let key: String = r.get(0);
        let named: Option<String> = r.get(1);
        if let (Some(column), None) = (name_by, &named) {
            return Err(EachError::NoName { key, column: column.to_owned() }.into());
        }
        out.push((key, named));
    }
    Ok(out)
}

/// The listed tenants that `--tenants` and `--shard` keep.
fn choose(
    listed: Vec<(String, Option<String>)>,
    opts: &EachOptions,
    plan: &tenancy::TenantPlan,
) -> Result<Vec<(String, Option<String>)>> {
    let mut listed = listed;
    if let Some(only) = &opts.only {
        let known: std::collections::HashSet<&str> =
            listed.iter().map(|(k, _)| k.as_str()).collect();
        let unknown: Vec<String> =
            only.iter().filter(|k| !known.contains(k.as_str())).cloned().collect();
        if !unknown.is_empty() {
            let table = format!("{}.{}", plan.tenants_table.schema, plan.tenants_table.name);
            return Err(EachError::UnknownTenants { table, keys: unknown }.into());
        }
        let wanted: std::collections::HashSet<&str> = only.iter().map(String::as_str).collect();
        listed.retain(|(k, _)| wanted.contains(k.as_str()));
    }
    if let Some(shard) = opts.shard {
        listed.retain(|(k, _)| shard.contains(k));
    }
    Ok(listed)
}

/// Names each tenant's files; two names equal ignoring case are refused.
fn name(chosen: Vec<(String, Option<String>)>) -> Result<Vec<TenantName>> {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut out = Vec::with_capacity(chosen.len());
    for (key, named) in chosen {
        let name = manifest::safe_name(named.as_deref().unwrap_or(&key));
        if name.len() > MAX_NAME {
            return Err(EachError::NameTooLong { key }.into());
        }
        let shown = match &named {
            Some(n) => format!("{key} ({n})"),
            None => key.clone(),
        };
        if let Some(first) = seen.insert(name.to_ascii_lowercase(), shown.clone()) {
            return Err(EachError::NameCollision { first, second: shown, name }.into());
        }
        out.push(TenantName { key, named, name });
    }
    Ok(out)
}

/// One job per table: owned tables tagged by owner, whole ones read plainly, left-out
/// ones (and lookups nothing references) not read at all.
fn jobs(
    tables: &[Table],
    plan: &tenancy::TenantPlan,
    redaction: &crate::redact::Plan,
    todo: &[TenantName],
    all: bool,
) -> Result<Vec<(Job, Reach)>> {
    let keep = keep_condition(plan, tables, todo, all);
    let mut jobs = Vec::with_capacity(tables.len());
    for t in tables {
        let owned = plan.owned(t).map_err(tenancy::Error::from)?;
        let mut job = super::job_for(t.clone(), None, redaction)?;
        job.filter = plan.manifest_filter(t);
        let reach = match owned {
            Owned::Everyone => Reach::Whole,
            Owned::NoOne => Reach::Empty,
            Owned::Rows(sql) => {
                let from = format!("FROM ({sql}) AS t0 WHERE {keep}");
                job.count_sql = format!("SELECT count(*) {from}");
                job.sql = owned_copy(t, &job, &from);
                Reach::Owned
            }
        };
        jobs.push((job, reach));
    }
    jobs.sort_by(|a, b| {
        (&a.0.table.schema, &a.0.table.name).cmp(&(&b.0.table.schema, &b.0.table.name))
    });
    Ok(jobs)
}

/// The condition that keeps the rows of the tenants being exported: all tenants of the
/// tenants table, or the listed keys (a quoted JSON array: `COPY` takes no parameters).
fn keep_condition(
    plan: &tenancy::TenantPlan,
    tables: &[Table],
    todo: &[TenantName],
    all: bool,
) -> String {
    let owner = format!("t0.{}::pg_catalog.text", quote_ident(OWNER));
    if all {
        let tenants =
            tables.iter().find(|t| t.qualified_name() == plan.tenants_table).expect("selected");
        return format!(
            // The subquery's own t0 (the tenants table) hides the outer one inside it.
            "{owner} IN (SELECT t0.{}::pg_catalog.text {})",
            quote_ident(&plan.key_column),
            super::from_clause(tenants, None)
        );
    }
    let keys: Vec<&str> = todo.iter().map(|t| t.key.as_str()).collect();
    let json = serde_json::to_string(&keys).expect("strings serialize");
    format!(
        "{owner} IN (SELECT pg_catalog.jsonb_array_elements_text({}::pg_catalog.jsonb))",
        quote_literal(&json)
    )
}

/// `COPY (SELECT owner, <values> FROM (tagged) AS t0 WHERE .. ORDER BY owner, key) ...`.
fn owned_copy(table: &Table, job: &Job, from: &str) -> String {
    let owner = format!("t0.{}", quote_ident(OWNER));
    let mut order = vec![owner.clone()];
    order.extend(table.order_by.iter().map(|c| format!("t0.{}", quote_ident(c))));
    format!(
        "COPY (SELECT {owner}::pg_catalog.text, {} {from} ORDER BY {}) TO STDOUT (FORMAT binary)",
        job.plan.exprs.join(", "),
        order.join(", ")
    )
}

impl Each {
    fn create(root: &Path, tenants: Vec<TenantName>) -> Result<Each> {
        for dir in [root.join(".whole").join(manifest::TABLES_DIR), root.join(".entries")] {
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        for t in &tenants {
            let dir = root.join(&t.name).join(manifest::TABLES_DIR);
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        let slot = tenants.iter().enumerate().map(|(i, t)| (t.key.clone(), i)).collect();
        Ok(Each { root: root.to_owned(), tenants, slot, side: Mutex::new(()) })
    }

    fn side_file(&self, slot: usize) -> PathBuf {
        self.root.join(".entries").join(format!("{}.ndjson", self.tenants[slot].name))
    }

    /// Records one (tenant, table) file's facts in the tenant's side file.
    fn record(&self, slot: usize, stats: &Stats) -> Result<()> {
        let path = self.side_file(slot);
        let mut line = serde_json::to_vec(stats).expect("stats serialize");
        line.push(b'\n');
        let _one = self.side.lock().expect("side-file lock");
        let mut f =
            OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
        f.write_all(&line).map_err(io_err(&path))
    }

    /// The facts recorded for a tenant, by file.
    fn recorded(&self, slot: usize) -> Result<HashMap<String, Stats>> {
        let path = self.side_file(slot);
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let mut out = HashMap::new();
        for line in BufReader::new(f).lines() {
            let line = line.map_err(io_err(&path))?;
            let stats: Stats = serde_json::from_str(&line)
                .map_err(|e| EachError::Scratch { path: path.clone(), why: e.to_string() })?;
            out.insert(stats.file.clone(), stats);
        }
        Ok(out)
    }
}

/// Reads the tables that need reading, on `jobs` connections sharing the snapshot.
fn read_tables(
    opts: &EachOptions,
    rt: &tokio::runtime::Runtime,
    client: &Client,
    snapshot: &str,
    jobs: &[(Job, Reach)],
    each: &Each,
    progress: &dyn Progress,
) -> Result<Vec<TableResult>> {
    let dir = each.root.join(".whole");
    let work = Work { dir: &dir, progress, feed: None, each: Some(each) };
    let run: Vec<Job> = jobs
        .iter()
        .filter(|(_, r)| !matches!(r, Reach::Empty))
        .map(|(j, r)| Job { owned: matches!(r, Reach::Owned), ..j.clone() })
        .collect();
    super::export_tables(&opts.export, rt, client, snapshot, run, &work)
}

/// A row of a tagged COPY seen without its first field, the owner.
struct Shifted<'a>(&'a BinaryCopyOutRow);

impl Fields for Shifted<'_> {
    fn raw(&self, i: usize) -> Result<Option<&[u8]>, EncodeError> {
        self.0.raw(i + 1)
    }
}

/// The file of the tenant being written.
struct Open {
    slot: usize,
    file: TableFile,
    seen: Seen,
    rows: u64,
}

/// Reads one tagged table and writes each tenant's rows to that tenant's file.
pub(super) async fn export_owned(
    client: &Client,
    job: &Job,
    each: &Each,
    work: &Work<'_>,
) -> Result<TableResult> {
    let started = std::time::Instant::now();
    let name = job.table.display_name();
    let task = work.progress.start("export", &name, job.table.estimated_rows);
    let sink = client.copy_out(job.sql.as_str()).await.map_err(copy_err(&name))?;
    let types = vec![Type::BYTEA; job.plan.exprs.len() + 1];
    let rows = BinaryCopyOutStream::new(sink, &types);
    pin_mut!(rows);
    let mut done = vec![false; each.tenants.len()];
    let mut open: Option<Open> = None;
    let (mut total, mut bytes, mut reported) = (0u64, 0u64, 0u64);
    while let Some(row) = rows.next().await {
        let row = row.map_err(copy_err(&name))?;
        let owner = row.raw(0).ok().flatten().unwrap_or_default();
        // The owner changes once per tenant, not per row: look it up only then.
        if open.as_ref().is_none_or(|o| each.tenants[o.slot].key.as_bytes() != owner) {
            let slot = owner_slot(owner, each, &name)?;
            if let Some(o) = open.take() {
                bytes += close(o, job, each)?;
            }
            if std::mem::replace(&mut done[slot], true) {
                let key = each.tenants[slot].key.clone();
                return Err(EachError::NotGrouped { table: name, key }.into());
            }
            let path = each.root.join(&each.tenants[slot].name).join(&job.file);
            open = Some(Open {
                slot,
                file: TableFile::create(&path)?,
                seen: Seen::for_job(job),
                rows: 0,
            });
        }
        let o = open.as_mut().expect("a file is open");
        o.rows += 1;
        encode_row(&Shifted(&row), job, o.rows, o.file.buffer(), &mut o.seen)?;
        if o.file.is_full() {
            o.file.flush()?;
        }
        total += 1;
        if total % PROGRESS_EVERY == 0 {
            let now = bytes + o.file.bytes();
            task.add(PROGRESS_EVERY, now.saturating_sub(reported));
            reported = now;
        }
    }
    if let Some(o) = open.take() {
        bytes += close(o, job, each)?;
    }
    check_count(client, job, total).await?;
    task.finish(total, bytes);
    Ok(TableResult {
        table: job.table.clone(),
        filter: job.filter.clone(),
        seen: Seen::default(),
        file: job.file.clone(),
        rows: total,
        bytes,
        sha256: String::new(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn owner_slot(raw: &[u8], each: &Each, table: &str) -> Result<usize> {
    let key = String::from_utf8_lossy(raw);
    each.slot.get(key.as_ref()).copied().ok_or_else(|| {
        EachError::UnknownOwner { table: table.to_owned(), key: key.into_owned() }.into()
    })
}

/// Finishes a tenant's file and records its facts; returns its size.
fn close(o: Open, job: &Job, each: &Each) -> Result<u64> {
    let (sha256, bytes) = o.file.finish()?;
    each.record(o.slot, &Stats::of(&job.file, o.rows, bytes, sha256, &o.seen))?;
    Ok(bytes)
}

/// Seals each tenant's export once every table is read.
struct Sealer<'a> {
    run: &'a Run<'a>,
    jobs: &'a [(Job, Reach)],
}

impl Sealer<'_> {
    fn seal_all(
        &self,
        each: &Each,
        results: &[TableResult],
        progress: &dyn Progress,
    ) -> Result<Vec<TenantExport>> {
        let task = progress.start(
            "seal",
            &format!("{} tenant exports", each.tenants.len()),
            Some(each.tenants.len() as u64),
        );
        let whole = self.whole_stats(results);
        let mut out = Vec::with_capacity(each.tenants.len());
        for (slot, t) in each.tenants.iter().enumerate() {
            let sealed = self.seal(each, slot, &whole)?;
            task.add(1, sealed.bytes);
            out.push(TenantExport { tenant: t.clone(), ..sealed });
        }
        task.finish(out.len() as u64, out.iter().map(|t| t.bytes).sum());
        Ok(out)
    }

    /// The facts of the tables read whole, the same for every tenant.
    fn whole_stats(&self, results: &[TableResult]) -> HashMap<String, Stats> {
        let whole: std::collections::HashSet<&str> = self
            .jobs
            .iter()
            .filter(|(_, r)| matches!(r, Reach::Whole))
            .map(|(j, _)| j.file.as_str())
            .collect();
        results
            .iter()
            .filter(|r| whole.contains(r.file.as_str()))
            .map(|r| {
                (r.file.clone(), Stats::of(&r.file, r.rows, r.bytes, r.sha256.clone(), &r.seen))
            })
            .collect()
    }

    fn seal(
        &self,
        each: &Each,
        slot: usize,
        whole: &HashMap<String, Stats>,
    ) -> Result<TenantExport> {
        let tenant = &each.tenants[slot];
        let dir = each.root.join(&tenant.name);
        let mut recorded = each.recorded(slot)?;
        let mut entries = Vec::with_capacity(self.jobs.len());
        for (job, reach) in self.jobs {
            let path = dir.join(&job.file);
            let stats = match reach {
                Reach::Whole => {
                    let from = each.root.join(".whole").join(&job.file);
                    fs::copy(&from, &path).map_err(io_err(&path))?;
                    sync_file(&path)?;
                    whole[&job.file].clone()
                }
                _ => match recorded.remove(&job.file) {
                    Some(s) => s,
                    None => empty_file(&path, job)?,
                },
            };
            entries.push(stats.entry(job));
        }
        let manifest = self.manifest(tenant, entries);
        manifest.write(&dir)?;
        if let Some(key) = &self.run.opts.export.sign {
            crate::sign::sign_export(&dir, key)?;
        }
        super::sync_dir(&dir.join(manifest::TABLES_DIR))?;
        super::sync_dir(&dir)?;
        let target = self.run.opts.export.out.join(&tenant.name);
        if target.exists() {
            // An export that did not verify: replaced, kept until the run ends.
            let stale = each.root.join(".entries").join(format!("{}.stale", tenant.name));
            fs::rename(&target, &stale).map_err(io_err(&target))?;
        }
        partial::rename_durably(&dir, &target).map_err(io_err(&target))?;
        let rows = manifest.tables.iter().map(|t| t.rows).sum();
        let bytes = manifest.tables.iter().map(|t| t.bytes).sum();
        Ok(TenantExport { tenant: tenant.clone(), dir: target, rows, bytes, reused: false })
    }

    /// The manifest `export --tenant KEY` would write for this tenant.
    fn manifest(&self, tenant: &TenantName, tables: Vec<TableEntry>) -> Manifest {
        let record = manifest::Tenant {
            column: self.run.plan.column.clone(),
            value: tenant.key.clone(),
            tenants_table: self.run.plan.tenants_table.clone(),
            key_column: self.run.plan.key_column.clone(),
            named_by: match (&self.run.opts.name_by, &tenant.named) {
                (Some(c), Some(v))
                    if !self.run.redaction.hides(&self.run.plan.tenants_table, c) =>
                {
                    Some(manifest::NamedBy { column: c.clone(), value: v.clone() })
                }
                _ => None,
            },
        };
        let id = format!("{}-{}", self.run.base, tenant.name);
        let mut m = super::manifest_of_entries(
            &self.run.opts.export,
            self.run.catalog,
            self.run.snapshot,
            self.run.created,
            &id,
            Some(record),
            tables,
        );
        m.options.redaction = self.run.redaction.record();
        m
    }
}

fn sync_file(path: &Path) -> Result<()> {
    File::open(path).and_then(|f| f.sync_all()).map_err(io_err(path))
}

/// An empty data file, for a tenant that has no rows in a table.
fn empty_file(path: &Path, job: &Job) -> Result<Stats> {
    File::create(path).and_then(|f| f.sync_all()).map_err(io_err(path))?;
    let empty = hex::encode(Sha256::digest(b""));
    Ok(Stats::of(&job.file, 0, 0, empty, &Seen::for_job(job)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_take_each_key_exactly_once_and_refuse_bad_syntax() {
        let shards: Vec<Shard> = ["1/3", "2/3", "3/3"].iter().map(|s| s.parse().unwrap()).collect();
        for n in 0..300 {
            let key = format!("tenant-{n}");
            assert_eq!(shards.iter().filter(|s| s.contains(&key)).count(), 1, "{key}");
        }
        let sizes: Vec<usize> = shards
            .iter()
            .map(|s| (0..300).filter(|n| s.contains(&n.to_string())).count())
            .collect();
        assert!(sizes.iter().all(|&n| n > 50), "a shard is nearly empty: {sizes:?}");
        for bad in ["0/2", "3/2", "x", "1/0", "1/", "/2", "-1/2", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_file_safe_and_collisions_ignoring_case_are_refused() {
        let named = name(vec![("1".into(), Some("a/b@x.com".into())), ("2".into(), None)]).unwrap();
        assert_eq!(named[0].name, "a%2Fb%40x%2Ecom");
        assert_eq!(named[1].name, "2");
        let err = name(vec![("1".into(), Some("Acme".into())), ("2".into(), Some("acme".into()))])
            .unwrap_err();
        assert!(err.to_string().contains("\"1 (Acme)\" and \"2 (acme)\""), "{err}");
        let long = "x".repeat(MAX_NAME + 1);
        assert!(name(vec![(long, None)]).is_err());
    }

    #[test]
    fn snapshot_ids_are_hex_words_only() {
        assert!(super::super::is_snapshot_id("00000003-0000001B-1"));
        assert!(super::super::is_snapshot_id("00000003-0000001B"));
        for bad in ["", "x", "0000-", "00000003-0000001B-1'; DROP TABLE t; --", "a b-c"] {
            assert!(!super::super::is_snapshot_id(bad), "{bad}");
        }
    }
}
