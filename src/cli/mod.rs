//! Argument definitions (clap derive; the doc comments are the help text) and dispatch to one
//! glue file per command. Nothing here knows how a stage works: it builds options, calls the
//! library, and prints.

mod each_tenant;
mod export;
mod help;
mod import;
mod migrate;
mod rollback;
mod schema;
mod sign;
mod snapshot;
mod ui;
mod validate;
mod verify;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use pg2lite::pg::{Overrides, Source};

pub use ui::Ui;

/// Move a PostgreSQL database into a single SQLite file, and prove nothing was lost.
/// `pg2lite 0.1.0 (export format 1)`: the format version is what an operator needs to know
/// whether this build reads an export made by another.
/// A literal because clap needs a `&'static str`; the test below holds it to
/// `manifest::VERSION`.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (export format 1)");

#[derive(Debug, Parser)]
#[command(name = "pg2lite", version = VERSION, about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, shown under their own heading.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Print no progress, only errors and the final result.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print the result as JSON on stdout (progress still goes to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// Without a terminal, also print a line for each table as it is done (by default one
    /// line per stage).
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dump tables to checksummed NDJSON with a manifest (migration_data/<id>/).
    #[command(disable_help_flag = true, after_help = help::EXPORT)]
    Export(Box<ExportArgs>),
    /// Check an export offline: manifest, file list, sizes, checksums (and with --deep, every line).
    #[command(after_help = help::VERIFY)]
    Verify(VerifyArgs),
    /// Build a SQLite file from an export, in one transaction; the old file is backed up first.
    #[command(after_help = help::IMPORT)]
    Import(ImportArgs),
    /// Export, import and validate in one command (--dry-run prints the plan, writes nothing).
    #[command(disable_help_flag = true, after_help = help::MIGRATE)]
    Migrate(Box<MigrateArgs>),
    /// Write the SQLite DDL import would use (schema/<database>.sql), for review and editing.
    #[command(disable_help_flag = true, after_help = help::SCHEMA)]
    Schema(SchemaArgs),
    /// Step a target one backup back (or --to one) after checking its checksum; or --list them.
    #[command(after_help = help::ROLLBACK)]
    Rollback(RollbackArgs),
    /// Prove a SQLite file holds exactly its export: counts, keys, content, FKs, JSON, tenancy.
    #[command(disable_help_flag = true, after_help = help::VALIDATE)]
    Validate(ValidateArgs),
    /// Hold a snapshot open (--hold) and print its id, for exports and shards to share.
    #[command(disable_help_flag = true, after_help = help::SNAPSHOT)]
    Snapshot(SnapshotArgs),
}

/// `pg2lite snapshot --hold`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Keep the snapshot's transaction open until interrupted (Ctrl-C or SIGTERM). Required:
    /// a snapshot lives only as long as the session that exported it.
    #[arg(long, required = true)]
    pub hold: bool,
}

/// Where to read from, as psql and pg_dump take it: `--source` (or `-d` given a connection
/// string), else `DATABASE_URL`; `-h -p -U -d` override its parts; then the service, the
/// `PG*` variables and the password file, as libpq reads them.
#[derive(Debug, Args, Clone, Default)]
pub struct SourceArgs {
    /// PostgreSQL URL (postgresql://user:pass@host:port/db?sslmode=require) or key=value
    /// string (service=NAME reads pg_service.conf). Defaults to DATABASE_URL; what it leaves
    /// out comes from PGSERVICE, the PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and
    /// PGSSLMODE variables, and ~/.pgpass (PGPASSFILE), as psql reads them.
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,
    /// Database server host or socket directory (overrides the URL's).
    #[arg(long, short = 'h', value_name = "HOST")]
    pub host: Option<String>,
    /// Database server port (overrides the URL's).
    #[arg(long, short = 'p', value_name = "PORT")]
    pub port: Option<u16>,
    /// Database user name (overrides the URL's).
    #[arg(long, short = 'U', value_name = "USER")]
    pub username: Option<String>,
    /// Database name, or a whole connection string (URL or key=value) as psql takes it.
    #[arg(long, short = 'd', value_name = "DBNAME")]
    pub dbname: Option<String>,
    /// Always ask for the password (on the terminal) before connecting.
    #[arg(long = "password", short = 'W', conflicts_with = "no_password")]
    pub ask_password: bool,
    /// Never ask for a password: fail when the server wants one that was not given.
    #[arg(long, short = 'w')]
    pub no_password: bool,
    /// Print help (-h is the host, as in pg_dump).
    #[arg(long, short = '?', action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

impl SourceArgs {
    /// Whether any connection option was given on the command line.
    pub fn given(&self) -> bool {
        self.source.is_some()
            || self.host.is_some()
            || self.port.is_some()
            || self.username.is_some()
            || self.dbname.is_some()
    }
}

/// Which tables and rows to export.
#[derive(Debug, Args, Clone)]
pub struct SelectArgs {
    /// Export only this schema (repeatable). Default: every schema.
    #[arg(long = "schema", short = 'n', value_name = "NAME")]
    pub schemas: Vec<String>,
    /// Export only tables matching this pattern (repeatable): `name`, `schema.name`, with `*`
    /// and `?` wildcards; double quotes keep case, as in pg_dump.
    #[arg(long = "table", short = 't', value_name = "PAT")]
    pub tables: Vec<String>,
    /// Leave out tables matching this pattern (repeatable).
    #[arg(long = "exclude", short = 'T', value_name = "PAT")]
    pub exclude: Vec<String>,
    /// Parallel workers, each on its own connection sharing one snapshot.
    #[arg(long, short = 'j', default_value_t = 2, value_name = "N")]
    pub jobs: usize,
    /// Export the rows of populated materialized views as tables (they then import like any
    /// table); without it they are listed as not carried over.
    #[arg(long)]
    pub matviews_as_tables: bool,
}

/// Export one tenant's rows only; the filter runs inside Postgres.
#[derive(Debug, Args, Clone)]
pub struct TenantArgs {
    /// The column that marks a tenant's rows (user_id, tenant_id, account_id, ...).
    #[arg(long, value_name = "COL", requires = "tenant_ref")]
    pub tenant_column: Option<String>,
    /// The tenant's key: the value the tenant column holds.
    #[arg(long, value_name = "VALUE", group = "tenant_ref", requires = "tenant_column")]
    pub tenant: Option<String>,
    /// Name the tenant by a unique column of the tenants table instead (email=alice@example.com).
    #[arg(long, value_name = "COL=VALUE", group = "tenant_ref", requires = "tenant_column")]
    pub tenant_key: Option<String>,
    /// The tenants table, when the tenant column's foreign keys do not say which it is.
    #[arg(long, value_name = "NAME", requires = "tenant_column")]
    pub tenant_table: Option<String>,
    /// Export a table with no path to the tenant whole (reference data such as a country
    /// list), instead of only the rows the tenant's rows reference, or leaving it out.
    /// Repeatable; patterns as --table.
    #[arg(long = "whole-table", value_name = "PAT", requires = "tenant_column")]
    pub whole_tables: Vec<String>,
    /// Every tenant, each to its own export directory (and with migrate its own SQLite file),
    /// from one snapshot that reads each table once.
    #[arg(long, group = "tenant_ref", requires = "tenant_column")]
    pub each_tenant: bool,
    /// With --each-tenant: name each tenant's files by this unique column of the tenants
    /// table (an e-mail, a slug) instead of its key.
    #[arg(long, value_name = "COLUMN", requires = "each_tenant")]
    pub name_by: Option<String>,
    /// With --each-tenant: only the tenants whose keys this file lists, one a line.
    #[arg(long = "tenants", value_name = "FILE", requires = "each_tenant")]
    pub tenants_file: Option<PathBuf>,
    /// With --each-tenant: only the tenants of shard I of N (by a hash of the key), so N
    /// machines split the work; use the same --snapshot on each.
    #[arg(long, value_name = "I/N", requires = "each_tenant")]
    pub shard: Option<pg2lite::export::each_tenant::Shard>,
    /// Read in a snapshot that `pg2lite snapshot --hold` holds, instead of a new one.
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Directory that receives the export's folder.
    #[arg(long, default_value = "migration_data", value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub tenancy: TenantArgs,
    #[command(flatten)]
    pub signing: SignArgs,
    #[command(flatten)]
    pub redact: RedactArgs,
}

/// Signing an export (export and migrate).
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Sign manifest.json with this OpenSSH Ed25519 private key, writing manifest.json.sig
    /// (an encrypted key's passphrase is asked for, or read from PG2LITE_SIGN_PASSPHRASE).
    #[arg(long, value_name = "OPENSSH_KEY")]
    pub sign: Option<PathBuf>,
}

/// Redact or leave out columns on the way out; nothing of their values is written.
#[derive(Debug, Args, Clone)]
pub struct RedactArgs {
    /// Redact columns matching table.column or schema.table.column (`*`, `?` as in --table;
    /// repeatable). MODE: null (default), mask (a fixed value of the type, `***` for text),
    /// hash (a keyed pseudonym in the column's type; hash:email, hash:hex to choose its shape).
    #[arg(long = "redact", value_name = "PAT[=MODE]")]
    pub redact: Vec<String>,
    /// Leave columns matching this pattern out entirely, with the keys and indexes needing them.
    #[arg(long = "exclude-column", value_name = "PAT")]
    pub exclude_columns: Vec<String>,
    /// The key pseudonyms are made with (at least 16 bytes); else PG2LITE_REDACT_KEY; else a
    /// random key for this export only.
    #[arg(long, value_name = "FILE")]
    pub redact_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The export directory (migration_data/<id>).
    pub dir: PathBuf,
    /// Check only the file list and sizes, not the checksums.
    #[arg(long, conflicts_with = "deep")]
    pub fast: bool,
    /// Also parse every line, count rows, and check every value against its column's type.
    #[arg(long)]
    pub deep: bool,
    /// Check manifest.json.sig against this OpenSSH allowed-signers file: an unsigned export,
    /// or one signed by a key not in it, fails.
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The source, as --source takes it (pgloader's order: migrate SOURCE TARGET).
    #[arg(value_name = "SOURCE")]
    pub source_arg: Option<String>,
    /// The SQLite file, as --target takes it.
    #[arg(value_name = "TARGET")]
    pub target_arg: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub target: MigrateTargetArgs,
    /// Directory that receives the export's folder.
    #[arg(long, default_value = "migration_data", value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub tenancy: TenantArgs,
    #[command(flatten)]
    pub signing: SignArgs,
    /// With --skip-export: refuse the export, before anything is written, unless it is signed
    /// by a key in this OpenSSH allowed-signers file.
    #[arg(long, value_name = "FILE", requires = "skip_export")]
    pub require_signature: Option<PathBuf>,
    #[command(flatten)]
    pub redact: RedactArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Load into the tables this SQL creates instead of the planned schema.
    #[arg(long, value_name = "FILE.sql")]
    pub schema_file: Option<PathBuf>,
    /// Connect, read the catalog and print the plan; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Re-import an existing export (with --from) instead of exporting again.
    #[arg(long, requires = "from", conflicts_with = "sign")]
    pub skip_export: bool,
    /// The existing export to use with --skip-export.
    #[arg(long, value_name = "EXPORT_DIR")]
    pub from: Option<PathBuf>,
    /// Do not validate the result.
    #[arg(long)]
    pub skip_validate: bool,
    /// Fail (exit 1) when Postgres changed during the migration: a table whose row count
    /// now differs from the export's snapshot. By default the change is reported, not failed.
    #[arg(long, conflicts_with_all = ["skip_export", "skip_validate"])]
    pub require_unchanged: bool,
    /// Where to write the validation report (default: beside the export; with
    /// --each-tenant, DIR/report.json).
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// With --each-tenant: the directory that receives DIR/<tenant>.db and each tenant's
    /// export directory DIR/<tenant>/.
    #[arg(long, value_name = "DIR", requires = "each_tenant")]
    pub target_dir: Option<PathBuf>,
}

/// How the SQLite schema is planned (import, schema and migrate; validate takes the same flags
/// as the options import was given, see [`ValidateArgs`]).
#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    // `Option` (always `Some` but in validate, which removes the default): one struct for both.
    /// numeric columns: auto (INTEGER or REAL only when exact, else TEXT), text, or real.
    #[arg(long, default_value = "auto", value_name = "auto|text|real")]
    pub numeric: Option<pg2lite::mapping::NumericPolicy>,
    /// Dates and times: sqlite ('YYYY-MM-DD HH:MM:SS[.ffffff]', timestamptz in UTC, as
    /// SQLite's datetime() writes them) or iso (the export's RFC 3339 text).
    #[arg(long, default_value = "sqlite", value_name = "sqlite|iso")]
    pub datetime: Option<pg2lite::mapping::DatetimePolicy>,
    /// Create STRICT tables.
    #[arg(long)]
    pub strict: bool,
    /// Rename a table or column: schema.table=name or schema.table.column=name (repeatable).
    #[arg(long, value_name = "FROM=TO")]
    pub rename: Vec<pg2lite::mapping::Rename>,
    /// Drop the tenant column and foreign keys to the tenants table, keeping the tenant's row
    /// in a single-row table. The default for a tenant-scoped export.
    #[arg(long, conflicts_with = "keep_tenancy")]
    pub strip_tenancy: bool,
    /// Keep a tenant-scoped export's tenant column and tenants table as they are.
    #[arg(long)]
    pub keep_tenancy: bool,
    /// The name of the single-row table holding the tenant's own row (default app_config).
    #[arg(long, value_name = "NAME")]
    pub tenant_table_as: Option<String>,
}

impl PlanArgs {
    /// `--strip-tenancy` or `--keep-tenancy`, when one was given.
    pub fn tenancy(&self) -> Option<pg2lite::mapping::Tenancy> {
        use pg2lite::mapping::Tenancy;
        match (self.strip_tenancy, self.keep_tenancy) {
            (true, _) => Some(Tenancy::Strip),
            (_, true) => Some(Tenancy::Keep),
            _ => None,
        }
    }
}

/// Where the SQLite file goes, and what happens to the one there.
#[derive(Debug, Args, Clone)]
pub struct TargetArgs {
    /// The SQLite file to create or replace.
    #[arg(long, value_name = "FILE.db")]
    pub target: PathBuf,
    #[command(flatten)]
    pub options: TargetOptions,
}

/// [`TargetArgs`] with the file optional, since migrate may be given it as its TARGET.
#[derive(Debug, Args, Clone)]
pub struct MigrateTargetArgs {
    /// The SQLite file to create or replace.
    #[arg(long = "target", value_name = "FILE.db")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub options: TargetOptions,
}

/// What happens to the file already at the target, and how the new one is written (import
/// and migrate).
#[derive(Debug, Args, Clone)]
pub struct TargetOptions {
    /// Where the replaced file is backed up.
    #[arg(long, default_value = "backups", value_name = "DIR")]
    pub backup_dir: PathBuf,
    /// Replace an existing target without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Replace an existing target without backing it up.
    #[arg(long)]
    pub no_backup: bool,
    /// Leave out the _pg2lite_export and _pg2lite_columns tables.
    #[arg(long)]
    pub no_meta: bool,
    /// Leave the file in WAL mode (journal_mode=WAL); by default it is one file at rest.
    #[arg(long)]
    pub wal: bool,
}

impl MigrateArgs {
    /// The source, from SOURCE or `--source` (the same value if both are given).
    pub fn source_args(&self) -> anyhow::Result<SourceArgs> {
        let mut source = self.source.clone();
        // Not shown in the error: a connection string may hold a password.
        let hidden = |_: &String| String::new();
        let (given, flag) = (self.source_arg.clone(), self.source.source.clone());
        source.source = one_of("source", given, flag, hidden)?;
        Ok(source)
    }

    /// The target, from TARGET or `--target` (the same file if both are given).
    pub fn target_args(&self) -> anyhow::Result<TargetArgs> {
        let t = &self.target;
        let shown = |p: &PathBuf| p.display().to_string();
        let target = one_of("target", self.target_arg.clone(), t.file.clone(), shown)?
            .context("no target: give the SQLite file as TARGET or with --target FILE.db")?;
        Ok(TargetArgs { target, options: t.options.clone() })
    }
}

/// A value given positionally or by its flag: either, or both when they agree. `show` gives
/// the text naming a value in the error, empty when it must not be shown.
fn one_of<T: PartialEq>(
    name: &str,
    positional: Option<T>,
    flag: Option<T>,
    show: impl Fn(&T) -> String,
) -> anyhow::Result<Option<T>> {
    match (positional, flag) {
        (Some(a), Some(b)) if a != b => {
            let (a, b) = (show(&a), show(&b));
            let values = if a.is_empty() { String::new() } else { format!(" ({a} and {b})") };
            anyhow::bail!(
                "the {name} is given twice, positionally and with --{name}, with different \
                 values{values}; give it once"
            )
        }
        (a, b) => Ok(a.or(b)),
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The export directory (migration_data/<id>).
    #[arg(long, value_name = "EXPORT_DIR")]
    pub from: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Load into the tables this SQL creates (a schema you wrote or edited) instead.
    #[arg(long, value_name = "FILE.sql")]
    pub schema_file: Option<PathBuf>,
    /// Refuse the export, before anything is written, unless it is signed by a key in this
    /// OpenSSH allowed-signers file.
    #[arg(long, value_name = "FILE")]
    pub require_signature: Option<PathBuf>,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Read the tables from this export directory (migration_data/<id>); its manifest's
    /// checksum is checked. Without it, the tables are read from the source database.
    #[arg(long, value_name = "EXPORT_DIR")]
    pub from: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// The file to write (`-`: stdout). Default: schema/<database>.sql.
    #[arg(long, value_name = "FILE.sql")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The SQLite file to put a backup back into.
    #[arg(long, value_name = "FILE.db")]
    pub target: PathBuf,
    /// Where the backups are (import and migrate write them there); the current target is
    /// backed up there too before it is replaced.
    #[arg(long, default_value = "backups", value_name = "DIR")]
    pub backup_dir: PathBuf,
    /// Restore this backup file instead of stepping one back; later rollbacks step back
    /// from it.
    #[arg(long, value_name = "BACKUP_FILE")]
    pub to: Option<PathBuf>,
    /// List the target's backups, newest first (time, size, checksum state, which one the
    /// current target came from, which were made by a rollback); changes nothing.
    #[arg(long, conflicts_with = "to")]
    pub list: bool,
}

/// Validate takes the plan flags as the options import was given: the target records them,
/// so they have no default and are needed only for a file that does not; given anyway, each
/// must agree with what the file records. Hence their own help texts.
#[derive(Debug, Args)]
#[command(
    mut_arg("numeric", |a| a.default_value(None)
        .help("The --numeric import was given (auto, text or real)")),
    mut_arg("datetime", |a| a.default_value(None).display_order(usize::MAX)
        .help("The --datetime import was given (sqlite or iso)")),
    mut_arg("strict", |a| a.help("Import was given --strict")),
    mut_arg("rename", |a| a.help("A --rename import was given (repeatable)")),
    mut_arg("strip_tenancy", |a| a.help("Import was given --strip-tenancy")),
    mut_arg("keep_tenancy", |a| a.help("Import was given --keep-tenancy")),
    mut_arg("tenant_table_as", |a| a.help("The --tenant-table-as import was given")),
)]
pub struct ValidateArgs {
    /// The export directory (migration_data/<id>) the target was imported from.
    #[arg(long, value_name = "EXPORT_DIR")]
    pub from: PathBuf,
    /// The SQLite file to check (opened read-only).
    #[arg(long, value_name = "FILE.db")]
    pub target: PathBuf,
    /// Also count every table in this PostgreSQL, now, under the export's filters: only
    /// when --source or one of -h -p -U -d is given (DATABASE_URL is not read here); the
    /// service, PG* variables and ~/.pgpass fill in what they leave out.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Fail (exit 1) when a table's row count in Postgres differs from the export's
    /// snapshot. By default such a change since the export is reported, not failed.
    #[arg(long)]
    pub require_unchanged: bool,
    /// Write the JSON report to this file.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// The options import was given, needed only for a file that does not record them.
    #[command(
        flatten,
        next_help_heading = "Import's options (read from the target; needed only for a file \
                             built with --no-meta or by an older pg2lite)"
    )]
    pub plan: PlanArgs,
}

/// Runs the chosen command. `Ok` carries the exit code (0, or 1 when a check found a
/// difference); `Err` is printed and exits 2.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ui = Ui::new(&cli.global);
    match cli.command {
        Command::Export(args) => export::run(&args, &ui),
        Command::Verify(args) => verify::run(&args, &ui),
        Command::Import(args) => import::run(&args, &ui),
        Command::Migrate(args) => migrate::run(&args, &ui),
        Command::Schema(args) => schema::run(&args, &ui),
        Command::Rollback(args) => rollback::run(&args, &ui),
        Command::Validate(args) => validate::run(&args, &ui),
        Command::Snapshot(args) => snapshot::run(&args, &ui),
    }
}

/// Resolves the source a command connects to, once per process (migrate needs it twice, and
/// a password must be asked for once): the connection string from `--source`, from `-d` when
/// it is one, or else (with `database_url`) from `DATABASE_URL`; `-h -p -U -d` over it.
/// Prints the library's warnings (an ignored password file) and asks for the password as
/// [`prompt_decision`] decides.
pub fn resolve_source(args: &SourceArgs, database_url: bool) -> anyhow::Result<Source> {
    static RESOLVED: OnceLock<Source> = OnceLock::new();
    if let Some(source) = RESOLVED.get() {
        return Ok(source.clone());
    }
    let source = resolve_uncached(args, database_url)?;
    Ok(RESOLVED.get_or_init(|| source).clone())
}

fn resolve_uncached(args: &SourceArgs, database_url: bool) -> anyhow::Result<Source> {
    let env = env_map();
    let dbname_is_conn = args.dbname.as_deref().is_some_and(is_conn_string);
    let conn = match (&args.source, dbname_is_conn) {
        (Some(_), true) => anyhow::bail!(
            "give the connection string once: --source or -d/--dbname, not both (-d NAME with \
             a plain database name overrides the --source URL's)"
        ),
        (Some(s), false) => Some(s.clone()),
        (None, true) => args.dbname.clone(),
        (None, false) if database_url => env.get("DATABASE_URL").filter(|v| !v.is_empty()).cloned(),
        (None, false) => None,
    };
    let over = Overrides {
        host: args.host.clone(),
        port: args.port,
        user: args.username.clone(),
        dbname: if dbname_is_conn { None } else { args.dbname.clone() },
    };
    let source = Source::resolve_with(conn.as_deref(), &over, &env)?;
    for warning in source.warnings() {
        eprintln!("WARNING: {warning}");
    }
    let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let ask = Ask { always: args.ask_password, never: args.no_password };
    match prompt_decision(ask, tty, source.has_password()) {
        Prompt::Never => Ok(source),
        Prompt::Now => Ok(source.with_password(&read_password(&source)?)),
        Prompt::IfAsked if source.asks_for_password()? => {
            Ok(source.with_password(&read_password(&source)?))
        }
        Prompt::IfAsked => Ok(source),
        Prompt::NoTerminal => anyhow::bail!(
            "-W/--password asks for the password on a terminal, and there is none; give the \
             password with PGPASSWORD or ~/.pgpass instead"
        ),
    }
}

/// psql's rule: a database name with `=` in it, or a URL, is a whole connection string.
fn is_conn_string(dbname: &str) -> bool {
    dbname.contains('=') || dbname.starts_with("postgresql://") || dbname.starts_with("postgres://")
}

fn read_password(source: &Source) -> anyhow::Result<String> {
    rpassword::prompt_password(format!("Password for user {}: ", source.user()))
        .context("cannot read the password from the terminal")
}

/// What the password flags ask for: `-W` (always) or `-w` (never).
#[derive(Debug, Clone, Copy, Default)]
pub struct Ask {
    pub always: bool,
    pub never: bool,
}

/// When to ask for a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Before connecting (`-W`).
    Now,
    /// Only if the server asks for one.
    IfAsked,
    /// Not at all: the server's refusal is the error.
    Never,
    /// `-W` without a terminal to ask on.
    NoTerminal,
}

/// psql's rules: `-w` never asks; `-W` always does; otherwise a known password (given, or
/// from the password file) is used, and on a terminal the user is asked when the server wants
/// one. Off a terminal, nothing waits for input that cannot come.
pub fn prompt_decision(ask: Ask, tty: bool, password_known: bool) -> Prompt {
    match (ask.never, ask.always, tty, password_known) {
        (true, _, _, _) => Prompt::Never,
        (false, true, true, _) => Prompt::Now,
        (false, true, false, _) => Prompt::NoTerminal,
        (false, false, _, true) | (false, false, false, false) => Prompt::Never,
        (false, false, true, false) => Prompt::IfAsked,
    }
}

/// The process environment, passed to the library explicitly so that it never reads it.
pub fn env_map() -> HashMap<String, String> {
    std::env::vars().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_is_decided_as_psql_decides_it() {
        let (auto, always, never) = (
            Ask::default(),
            Ask { always: true, never: false },
            Ask { always: false, never: true },
        );
        for (ask, tty, known, expected) in [
            (auto, true, false, Prompt::IfAsked),
            (auto, true, true, Prompt::Never),
            (auto, false, false, Prompt::Never),
            (auto, false, true, Prompt::Never),
            (always, true, true, Prompt::Now),
            (always, true, false, Prompt::Now),
            (always, false, false, Prompt::NoTerminal),
            (never, true, false, Prompt::Never),
            (never, false, false, Prompt::Never),
        ] {
            let got = prompt_decision(ask, tty, known);
            assert_eq!(got, expected, "{ask:?} tty={tty} known={known}");
        }
    }
}

#[cfg(test)]
mod version_tests {
    #[test]
    fn the_version_names_the_export_format_this_build_writes() {
        let expected = format!("(export format {})", pg2lite::model::manifest::VERSION);
        assert!(super::VERSION.ends_with(&expected), "{}", super::VERSION);
    }
}
