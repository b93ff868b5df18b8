//! Plans the SQLite database an export becomes: table and column names, declared types, the
//! [`Conversion`] of each column, defaults, keys, foreign keys, checks, indexes, load order,
//! and the DDL that creates it all.
//!
//! Reads: the catalog of the exported tables (`catalog::Table`, as the manifest records it),
//! the user's [`SchemaFlags`] and the [`ExportFacts`] of the export (what its manifest says
//! beyond the catalog: header, tenancy, NaN, JSON depth, numeric facts, other objects). Writes nothing: [`plan`] returns a [`Plan`], [`ddl`] its script
//! (what `pg2lite schema` writes), and import executes each [`TablePlan::create_table`],
//! loads the rows with [`TablePlan::insert_sql`] and [`crate::transform::convert_batch`], then
//! runs [`TablePlan::create_indexes`].
//!
//! Guarantees:
//! - declared types are only INTEGER, REAL, TEXT and BLOB (never NUMERIC affinity), following
//!   DESIGN's mapping table; `--strict` makes every table STRICT;
//! - every name collision SQLite would see (its names are case-insensitive for ASCII) is an
//!   error before anything is written, naming both objects and the `--rename` that fixes it;
//!   so are names SQLite (`sqlite_*`) or pg2lite (`_pg2lite_*`) reserve;
//! - nothing is silently dropped: each default, check, foreign key or index that cannot be
//!   carried over with the same meaning is a [`Note`] saying what and why, shown on stderr
//!   and as comments in the DDL;
//! - the output is deterministic: same catalog and options, same bytes.
//!
//! Decisions where DESIGN is silent:
//! - a primary key of one integer column always becomes `INTEGER PRIMARY KEY` (the rowid),
//!   serial, identity or not: the rowid holds exactly int8's range, the key is stored once, and
//!   new rows continue after the largest id. (Inserting NULL there then assigns an id instead
//!   of failing.)
//! - json and jsonb columns get `CHECK (json_valid(col))` (`col IS NULL OR ...` when
//!   nullable, for sqlite3 before 3.45), so the file keeps the guarantee after import, unless
//!   the export recorded values nested deeper than SQLite's JSON functions accept (1000
//!   levels; manifest `json_depth`): then the column is created without it, with a note, as
//!   a CHECK that refuses valid data cannot be kept. citext columns get `COLLATE NOCASE`
//!   (ASCII case folding, the closest SQLite has).
//! - checks and index predicates are kept when SQLite can parse them: OR and AND chains of
//!   any length are grouped (by 16) so no chain is tall; an expression nested deeper than
//!   sqlite3 3.40 can read (24 parentheses) or taller than 500 is dropped with a note, as is
//!   one nested past 100 levels in the manifest (never parsed further, so no walk over it
//!   can exhaust the stack).
//! - a catalog that names columns its tables lack (keys, foreign keys, indexes, checks,
//!   predicates) or pairs foreign-key lists of different lengths is refused, by name: it
//!   cannot come from Postgres, and SQLite would read an unknown quoted name as a string.
//! - a unique index that a foreign key targets is declared inline as `UNIQUE`, because SQLite
//!   needs the parent key's index while rows are loaded; other indexes are built after.
//! - `now()` and friends become UTC clocks in the export's text format, six fraction digits
//!   (SQLite's clock has milliseconds, so the last three are zeros); `gen_random_uuid()`
//!   becomes an expression producing a random v4 uuid.
//! - under `--strip-tenancy`, the tenant column also leaves keys, unique constraints, indexes
//!   and foreign keys it was part of: with one tenant's rows, `(tenant_id, id)` unique means
//!   `id` unique, so the rest of each key stays valid.

mod defaults;
mod diagnose;
mod expr;
#[cfg(test)]
mod fuzz;
mod names;
pub mod numeric;
mod order;
mod refit;
mod refs;
mod table;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;
mod types;
pub mod views;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::model::catalog::{QualifiedName, Table};
use crate::model::manifest::{JsonDepth, Manifest, NumericFacts, SQLITE_JSON_DEPTH};

pub use diagnose::invalid_json;
pub use names::{COLUMNS_TABLE, EXPORT_TABLE, Rename, RenameFrom, quote_ident, quote_literal};
pub use refit::{RefitError, is_pending, refit};
pub use types::{ColumnLoss, Conversion, Loss, Lossy, NumericTarget, SqliteType, TimeForm};

/// The name the tenants table takes under `--strip-tenancy` unless `--tenant-table-as`.
pub const DEFAULT_TENANT_TABLE: &str = "app_config";

/// Errors that stop planning: each says what to change on the command line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Name collisions and reserved names, one per line.
    #[error("{}", problems.join("\n"))]
    Names {
        /// One sentence per collision or reserved name, each naming the objects and a `--rename`
        /// that would solve it.
        problems: Vec<String>,
    },
    /// A `--rename` that cannot be read (not `OLD=NEW`, an empty name), or that renames one object
    /// twice.
    #[error("--rename '{given}': {why}")]
    BadRename {
        /// The `--rename` argument, as given.
        given: String,
        /// What is wrong with it.
        why: String,
    },
    /// A `--rename` whose old name matches no table, index or column of the export.
    #[error("--rename {given}: the export has no such table, index or column")]
    UnknownRename {
        /// The old name, as the user wrote it.
        given: String,
    },
    /// A `--numeric` value that is not `auto`, `text` or `real`.
    #[error("--numeric {given:?}: expected auto, text or real")]
    BadNumeric {
        /// The value given.
        given: String,
    },
    /// An export's data file that could not be read for its numeric facts.
    #[error("{file}: cannot read it to decide the SQLite type of its numeric columns: {why}")]
    Scan {
        /// The data file, relative to the export directory.
        file: String,
        /// The I/O or parse error, with its line.
        why: String,
    },
    /// A `--datetime` value that is not `sqlite` or `iso`.
    #[error("--datetime {given:?}: expected sqlite or iso")]
    BadDatetime {
        /// The value given.
        given: String,
    },
    /// The `--strip-tenancy` tenants table is not a table of the export.
    #[error("--strip-tenancy: the tenants table {table} is not in the export")]
    UnknownTenantsTable {
        /// The tenants table, `schema.name`.
        table: String,
    },
    /// No table of the export has the `--strip-tenancy` tenant column.
    #[error("--strip-tenancy: no table of the export has the tenant column {column:?}")]
    UnknownTenantColumn {
        /// The tenant column.
        column: String,
    },
    /// `--strip-tenancy` was asked of an export of whole tables, which has no tenant to strip.
    #[error(
        "--strip-tenancy needs a tenant-scoped export (made with --tenant-column); this one holds \
         whole tables"
    )]
    NotTenantScoped,
    /// A tenant-scoped manifest whose tenancy cannot be trusted: refused, not guessed at.
    #[error("the export's tenancy cannot be trusted: {0}")]
    Tenancy(crate::model::manifest::TenancyError),
    /// The catalog contradicts itself: a key, index or constraint on a column its table
    /// lacks, or a foreign key whose column lists differ in length. Postgres cannot make
    /// such a catalog, so the manifest was edited; nothing is planned from it.
    #[error(
        "{table}, {object}: {problem}; the export's catalog contradicts itself (was its \
         manifest edited?), so pg2lite plans nothing from it: export the database again"
    )]
    Inconsistent {
        /// The table whose catalog is contradictory, `schema.name`.
        table: String,
        /// The key, index or constraint, named.
        object: String,
        /// What contradicts.
        problem: String,
    },
    /// A view definition in the manifest that is not one SELECT: refused, never run.
    #[error(transparent)]
    HostileView(#[from] views::HostileView),
}

/// The message names the cause itself, so it is not also returned as the error's source
/// (a chain printed with `{:#}` would say it twice).
impl From<crate::model::manifest::TenancyError> for Error {
    fn from(e: crate::model::manifest::TenancyError) -> Self {
        Error::Tenancy(e)
    }
}

/// How numeric columns are stored (`--numeric`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NumericPolicy {
    /// By precision and scale: exact INTEGER, exact REAL, or TEXT (DESIGN's table).
    #[default]
    Auto,
    /// Always the exact decimal text.
    Text,
    /// Always REAL; values that do not survive are counted as lossy.
    Real,
}

impl FromStr for NumericPolicy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(Self::Auto),
            "text" => Ok(Self::Text),
            "real" => Ok(Self::Real),
            _ => Err(Error::BadNumeric { given: s.to_owned() }),
        }
    }
}

/// How dates and times are stored (`--datetime`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DatetimePolicy {
    /// As SQLite writes time: `YYYY-MM-DD HH:MM:SS[.ffffff]`, timestamptz in UTC.
    #[default]
    Sqlite,
    /// The export's RFC 3339 text (`2012-09-18T08:00:00.000000Z`), as before issue 14.
    Iso,
}

impl DatetimePolicy {
    /// `--datetime`'s word for the policy.
    pub fn word(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Iso => "iso",
        }
    }
}

impl FromStr for DatetimePolicy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "sqlite" => Ok(Self::Sqlite),
            "iso" => Ok(Self::Iso),
            _ => Err(Error::BadDatetime { given: s.to_owned() }),
        }
    }
}

/// What the user asked of the plan: `--numeric`, `--strict`, `--rename`, `--datetime` and the
/// tenancy flags. `Default` is what import does without flags. What the export itself says
/// is in [`ExportFacts`]; [`plan`] takes both.
#[derive(Debug, Clone, Default)]
pub struct SchemaFlags {
    /// How numeric and money columns are mapped (`--numeric`).
    pub numeric: NumericPolicy,
    /// `--strict`: every table is declared `STRICT`, so SQLite refuses a value of the wrong type.
    pub strict: bool,
    /// `--rename` requests, applied before names are checked for collisions.
    pub renames: Vec<Rename>,
    /// `--datetime`.
    pub datetime: DatetimePolicy,
    /// Whether a tenant-scoped export is stripped to a single-user database (the default),
    /// kept as it is (`--keep-tenancy`), or must be (`--strip-tenancy`).
    pub tenancy: Tenancy,
    /// `--tenant-table-as`: the SQLite name of the table holding the tenant's own row when
    /// tenancy is stripped ([`DEFAULT_TENANT_TABLE`] when `None`).
    pub tenant_table_as: Option<String>,
}

impl SchemaFlags {
    /// The stripping these flags decide for an export scoped by `found` (see [`Strip::chosen`]).
    ///
    /// # Errors
    /// [`Error::NotTenantScoped`] for `--strip-tenancy` on an export of whole tables.
    pub fn strip(&self, found: Option<Strip>) -> Result<Option<Strip>, Error> {
        Strip::chosen(found, self.tenancy, self.tenant_table_as.as_deref())
    }
}

/// What the export says that the plan needs beyond its tables: where it comes from, the
/// tenancy it is scoped by, and what its data holds that the catalog cannot say. Built from
/// a manifest by [`ExportFacts::of`]; a plan of a live catalog fills in what it knows.
#[derive(Debug, Clone, Default)]
pub struct ExportFacts {
    /// Where the schema comes from, for the DDL's header comment.
    pub header: Header,
    /// The tenancy the export is scoped by, as `--strip-tenancy` would strip it (with the
    /// tenant's key, so no other tenant's row can slip in once the column is gone); `None`
    /// for an export of whole tables. [`SchemaFlags::tenancy`] decides whether it is stripped.
    pub tenant: Option<Strip>,
    /// Columns whose data holds NaN (the manifest's `nan_values`), with how many. SQLite has
    /// no NaN; where the mapping stores it as NULL, such a column cannot stay NOT NULL.
    pub nan_columns: BTreeMap<(QualifiedName, String), u64>,
    /// Json columns whose data nests deeper than SQLite's JSON functions accept (the
    /// manifest's `json_depth`): they keep their values but lose the `json_valid` CHECK,
    /// which would refuse them.
    pub deep_json: BTreeMap<(QualifiedName, String), JsonDepth>,
    /// What the export recorded of each numeric and money column's values (the manifest's
    /// `numeric_facts`, or a first pass over an older export's data): from these a column
    /// that its declaration does not settle is INTEGER, REAL or TEXT ([`numeric`]). A
    /// column without facts is planned as TEXT until its data is known.
    pub numeric_facts: BTreeMap<(QualifiedName, String), NumericFacts>,
    /// The database's objects that are not tables (the manifest's `objects`): views to carry
    /// over, everything else to list; see [`views`].
    pub objects: crate::model::objects::Objects,
}

/// Whether a tenant-scoped export becomes a single-user database (DESIGN "Tenancy").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tenancy {
    /// Strip when the export is tenant-scoped.
    #[default]
    Auto,
    /// Strip; an export of whole tables is an error.
    Strip,
    /// Keep the tenant column and the tenants table as they are.
    Keep,
}

impl ExportFacts {
    /// What the manifest `m` says: its header, its tenancy (with the tenant's key as the
    /// NDJSON writes it), the columns its data says hold NaN or nest too deep, its numeric
    /// facts and its other objects. The one place a plan's facts are read from a manifest.
    ///
    /// # Errors
    /// [`Error::Tenancy`] for a manifest whose tenancy fails [`Manifest::check_tenancy`].
    pub fn of(m: &Manifest) -> Result<ExportFacts, Error> {
        m.check_tenancy()?;
        let tenant = Strip::from_manifest(m).map(|mut s| {
            s.tenant_value = tenant_json(m, &s.tenant_column);
            s
        });
        let nan_columns = m
            .tables
            .iter()
            .flat_map(|t| {
                let q = t.table.qualified_name();
                t.nan_values.iter().map(move |(c, n)| ((q.clone(), c.clone()), *n))
            })
            .collect();
        let deep_json = m
            .tables
            .iter()
            .flat_map(|t| {
                let q = t.table.qualified_name();
                t.json_depth
                    .iter()
                    .filter(|(_, d)| d.deepest > SQLITE_JSON_DEPTH)
                    .map(move |(c, d)| ((q.clone(), c.clone()), *d))
            })
            .collect();
        Ok(ExportFacts {
            header: Header::from_manifest(m),
            tenant,
            nan_columns,
            deep_json,
            numeric_facts: numeric::recorded(m),
            objects: m.objects.clone(),
        })
    }
}

/// The tenant's key as it appears in the NDJSON of the tenant column
/// ([`crate::model::manifest::Tenant::ndjson_value`]).
fn tenant_json(m: &Manifest, column: &str) -> Option<String> {
    let tenant = m.options.tenant.as_ref()?;
    let column = m.tables.iter().find_map(|t| t.table.column(column))?;
    Some(tenant.ndjson_value(column))
}

/// `--strip-tenancy` (DESIGN "Tenancy"): the tenant column leaves every table but the
/// tenants table, with the foreign keys to the tenants table; the tenants table, holding the
/// tenant's own row, is renamed to `table_as`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strip {
    /// The column that marks a tenant's rows, removed from every table but the tenants table.
    pub tenant_column: String,
    /// The tenants table, when the export has one.
    pub tenants: Option<QualifiedName>,
    /// Its SQLite name: [`DEFAULT_TENANT_TABLE`] unless `--tenant-table-as`.
    pub table_as: String,
    /// The tenant's key as JSON text in the export (`42`, `"acme"`). When given, every
    /// stripped value must equal it, so no other tenant's row can slip in unnoticed once the
    /// column is gone ([`crate::transform::Error::ForeignTenant`]).
    pub tenant_value: Option<String>,
}

impl Strip {
    /// A strip of `tenant_column`, the tenants table named `app_config`, no value check.
    pub fn new(tenant_column: impl Into<String>, tenants: Option<QualifiedName>) -> Self {
        Strip {
            tenant_column: tenant_column.into(),
            tenants,
            table_as: DEFAULT_TENANT_TABLE.to_owned(),
            tenant_value: None,
        }
    }

    /// The stripping to do, given what the export is scoped by (`found`: its tenant column
    /// and tenants table, `None` for an export of whole tables) and what the user asked:
    /// `--keep-tenancy` none, `--strip-tenancy` or the default strip a tenant-scoped export,
    /// and `--tenant-table-as` names the table the tenant's row goes to.
    ///
    /// # Errors
    /// [`Error::NotTenantScoped`] for `--strip-tenancy` on an export of whole tables.
    pub fn chosen(
        found: Option<Strip>,
        tenancy: Tenancy,
        table_as: Option<&str>,
    ) -> Result<Option<Strip>, Error> {
        match (tenancy, found) {
            (Tenancy::Keep, _) | (Tenancy::Auto, None) => Ok(None),
            (Tenancy::Strip, None) => Err(Error::NotTenantScoped),
            (_, Some(mut strip)) => {
                if let Some(name) = table_as {
                    name.clone_into(&mut strip.table_as);
                }
                Ok(Some(strip))
            }
        }
    }

    /// The stripping a tenant-scoped export implies: the manifest's tenant column and
    /// tenants table. `None` for an export of whole tables.
    pub fn from_manifest(m: &Manifest) -> Option<Strip> {
        let tenant = m.options.tenant.as_ref()?;
        Some(Strip::new(&tenant.column, Some(tenant.tenants_table.clone())))
    }
}

/// What the DDL header names as its origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// The source, without password.
    pub source: Option<String>,
    /// The export's id.
    pub export_id: Option<String>,
}

impl Header {
    /// The header of a schema planned from an export: its source and id.
    pub fn from_manifest(m: &Manifest) -> Self {
        Header { source: Some(m.source.url()), export_id: Some(m.export_id.clone()) }
    }
}

/// The planned database.
#[derive(Debug, Clone)]
pub struct Plan {
    /// In load order: every table after the tables it references (cycles aside).
    pub tables: Vec<TablePlan>,
    /// Tables of the export that get no SQLite table.
    pub skipped: Vec<Skipped>,
    /// What could not be carried over, and why.
    pub notes: Vec<Note>,
    /// Where the schema comes from, for the DDL's header comment.
    pub header: Header,
    /// Whether every table is declared `STRICT` (`--strict`).
    pub strict: bool,
    /// `CREATE VIEW` statements, after the tables and each after the views it reads.
    pub views: Vec<String>,
}

impl Plan {
    /// The plan of source table `schema.name`.
    pub fn table(&self, schema: &str, name: &str) -> Option<&TablePlan> {
        self.tables.iter().find(|t| t.source.schema == schema && t.source.name == name)
    }

    /// Whether any table needs foreign-key checks deferred while loading.
    pub fn has_fk_cycles(&self) -> bool {
        self.tables.iter().any(|t| t.load.defer_foreign_keys())
    }
}

/// A table of the export that is not created, and why (a table with no columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The Postgres table.
    pub source: QualifiedName,
    /// Why it is not created, for people.
    pub why: String,
}

/// One SQLite table.
#[derive(Debug, Clone)]
pub struct TablePlan {
    /// The Postgres table it holds.
    pub source: QualifiedName,
    /// The SQLite name.
    pub name: String,
    /// The SQLite columns, in table order (the NDJSON key order, stripped columns left out).
    pub columns: Vec<ColumnPlan>,
    /// Columns of the export that SQLite does not get (the tenant column under
    /// `--strip-tenancy`).
    pub dropped: Vec<DroppedColumn>,
    /// `CREATE TABLE ...;`, with keys, foreign keys and checks.
    pub create_table: String,
    /// `CREATE [UNIQUE] INDEX ...;` statements, to run after the rows are loaded.
    pub create_indexes: Vec<String>,
    /// What loading it needs of foreign-key checks.
    pub load: LoadInfo,
    /// What each key of the table's lines may hold, by position in the line (stripped
    /// columns included): the rules `verify --deep` applies, checked as rows are converted.
    pub rules: crate::format::Rules,
}

impl TablePlan {
    /// `INSERT INTO "t" ("a", "b") VALUES (?1, ?2)`: binds a converted row's values in order.
    pub fn insert_sql(&self) -> String {
        let cols: Vec<String> = self.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let params: Vec<String> = (1..=self.columns.len()).map(|i| format!("?{i}")).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote_ident(&self.name),
            cols.join(", "),
            params.join(", ")
        )
    }

    /// The keys each NDJSON line of this table holds, in order.
    pub fn file_columns(&self) -> Vec<&str> {
        let mut keys: Vec<(usize, &str)> =
            self.columns.iter().map(|c| (c.position, c.source.as_str())).collect();
        keys.extend(self.dropped.iter().map(|d| (d.position, d.name.as_str())));
        keys.sort_unstable();
        keys.into_iter().map(|(_, k)| k).collect()
    }

    /// `schema.table`, for messages.
    pub fn display_name(&self) -> String {
        format!("{}.{}", self.source.schema, self.source.name)
    }
}

/// Foreign-key facts the loader needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadInfo {
    /// The table references itself: a row may point at a row loaded after it.
    pub self_referencing: bool,
    /// SQLite names of the other tables in its cycle of foreign keys (empty when none).
    pub cycle: Vec<String>,
}

impl LoadInfo {
    /// Whether rows may reference rows not yet loaded: load with `PRAGMA defer_foreign_keys`.
    pub fn defer_foreign_keys(&self) -> bool {
        self.self_referencing || !self.cycle.is_empty()
    }
}

/// One SQLite column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnPlan {
    /// The Postgres name (the NDJSON key).
    pub source: String,
    /// The SQLite name.
    pub name: String,
    /// The position of its key in each NDJSON line (0-based).
    pub position: usize,
    /// The Postgres type as `format_type` shows it (`numeric(12,2)`).
    pub pg_type: String,
    /// The type the column is declared with in `CREATE TABLE`.
    pub declared: SqliteType,
    /// How each NDJSON value becomes the SQLite value.
    pub conversion: Conversion,
    /// The mapping's name, as `_pg2lite_columns.mapping` records it.
    pub mapping: String,
    /// Whether the column is declared NOT NULL.
    pub not_null: bool,
    /// The SQLite `DEFAULT` expression, when one was carried over.
    pub default: Option<String>,
}

/// A column of the export left out of SQLite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedColumn {
    /// The Postgres name (the NDJSON key).
    pub name: String,
    /// The position of its key in each NDJSON line (0-based).
    pub position: usize,
    /// The JSON text every value must have ([`Strip::tenant_value`]).
    pub must_equal: Option<String>,
}

/// Something not carried over as it was in Postgres.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// `public.film`, as a person reads it.
    pub table: String,
    /// `column fulltext`, `index film_fulltext_idx`, `check positive`, `foreign key f`.
    pub object: Option<String>,
    /// What happened: `default now() + '1 day'::interval dropped`.
    pub what: String,
    /// Why.
    pub why: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table)?;
        if let Some(o) = &self.object {
            write!(f, ", {o}")?;
        }
        write!(f, ": {}: {}", self.what, self.why)
    }
}

/// The plan import makes of the export `m`: its tables, planned with `flags` and what the
/// manifest says ([`ExportFacts::of`]).
///
/// # Errors
/// As [`ExportFacts::of`] and [`plan`].
pub fn plan_export(m: &Manifest, flags: &SchemaFlags) -> Result<Plan, Error> {
    let facts = ExportFacts::of(m)?;
    let tables: Vec<Table> = m.tables.iter().map(|t| t.table.clone()).collect();
    plan(&tables, flags, &facts)
}

/// The flags and the facts together, with the stripping they decide: what the planner's
/// parts read.
struct Options<'a> {
    flags: &'a SchemaFlags,
    facts: &'a ExportFacts,
    strip: Option<Strip>,
}

/// Plans the SQLite database for `tables`, as the user's `flags` ask, with what the export
/// says of them (`facts`).
///
/// # Errors
/// [`Error::NotTenantScoped`] for `--strip-tenancy` where `facts` has no tenant;
/// [`Error::Names`] listing every collision and reserved name; [`Error::UnknownRename`] or
/// [`Error::BadRename`] for a rename that matches nothing or the same object twice;
/// [`Error::UnknownTenantsTable`] / [`Error::UnknownTenantColumn`] for a strip that does
/// not fit the export; [`Error::Inconsistent`] for a catalog naming columns its tables lack.
pub fn plan(tables: &[Table], flags: &SchemaFlags, facts: &ExportFacts) -> Result<Plan, Error> {
    let opts = Options { flags, facts, strip: flags.strip(facts.tenant.clone())? };
    refs::check(tables)?;
    check_strip(tables, opts.strip.as_ref())?;
    let renames = names::Renames::resolve(&flags.renames, tables)?;
    let prepared = table::prepare(tables, &opts, &renames);
    let planner = table::Planner::new(tables, &prepared, &opts, &renames);
    let mut notes = Vec::new();
    let mut drafts = Vec::new();
    let mut skipped = Vec::new();
    for (i, t) in tables.iter().enumerate() {
        match planner.draft(i, &mut notes) {
            Ok(d) => drafts.push((i, d)),
            Err(why) => {
                let source = t.qualified_name();
                notes.push(Note {
                    table: names::pg_qualified(&source),
                    object: None,
                    what: "table skipped".into(),
                    why: why.clone(),
                });
                skipped.push(Skipped { source, why });
            }
        }
    }
    check_names(tables, &prepared, &drafts, opts.strip.is_some())?;
    let tables = in_load_order(drafts);
    let objects = views::plan(&facts.objects, &tables)?;
    notes.extend(objects.notes);
    let (header, strict, views) = (facts.header.clone(), flags.strict, objects.create_views);
    Ok(Plan { tables, skipped, notes, header, strict, views })
}

fn check_strip(tables: &[Table], strip: Option<&Strip>) -> Result<(), Error> {
    let Some(s) = strip else {
        return Ok(());
    };
    if let Some(q) = &s.tenants
        && !tables.iter().any(|t| t.schema == q.schema && t.name == q.name)
    {
        return Err(Error::UnknownTenantsTable { table: names::pg_qualified(q) });
    }
    if !tables.iter().any(|t| t.column(&s.tenant_column).is_some()) {
        return Err(Error::UnknownTenantColumn { column: s.tenant_column.clone() });
    }
    Ok(())
}

/// Every naming problem at once: tables and indexes share SQLite's database namespace;
/// columns, their table's.
fn check_names(
    tables: &[Table],
    prepared: &[table::Prepared],
    drafts: &[(usize, table::Draft)],
    stripped: bool,
) -> Result<(), Error> {
    let mut database = Vec::new();
    let mut problems = Vec::new();
    for (i, d) in drafts {
        let t = &tables[*i];
        let tenants = prepared[*i].tenants && stripped;
        database.push(names::Named {
            kind: "table",
            source: names::pg_qualified(&d.plan.source),
            sqlite: d.plan.name.clone(),
            fix: if tenants {
                names::Fix::TenantTableAs
            } else {
                names::Fix::Rename(vec![t.schema.clone(), t.name.clone()])
            },
        });
        let columns: Vec<names::Named> =
            d.plan.columns.iter().map(|c| column_named(t, c)).collect();
        problems.extend(names::problems(&columns, false));
    }
    database.extend(drafts.iter().flat_map(|(_, d)| d.index_names.iter().cloned()));
    let mut all = names::problems(&database, true);
    all.extend(problems);
    if all.is_empty() { Ok(()) } else { Err(Error::Names { problems: all }) }
}

fn column_named(t: &Table, c: &ColumnPlan) -> names::Named {
    let q = t.qualified_name();
    names::Named {
        kind: "column",
        source: format!("{}.{}", names::pg_qualified(&q), names::pg_ident(&c.source)),
        sqlite: c.name.clone(),
        fix: names::Fix::Rename(vec![t.schema.clone(), t.name.clone(), c.source.clone()]),
    }
}

/// Sorts the drafts into load order and fills in their [`LoadInfo`].
fn in_load_order(drafts: Vec<(usize, table::Draft)>) -> Vec<TablePlan> {
    let slot: std::collections::HashMap<usize, usize> =
        drafts.iter().enumerate().map(|(k, (i, _))| (*i, k)).collect();
    let deps: Vec<Vec<usize>> = drafts
        .iter()
        .map(|(_, d)| d.deps.iter().filter_map(|p| slot.get(p).copied()).collect())
        .collect();
    let (order, cycles) = order::load_order(&deps);
    let names: Vec<String> = drafts.iter().map(|(_, d)| d.plan.name.clone()).collect();
    let mut plans: Vec<Option<TablePlan>> = drafts.into_iter().map(|(_, d)| Some(d.plan)).collect();
    let mut out = Vec::with_capacity(plans.len());
    for k in order {
        let Some(mut p) = plans[k].take() else { continue };
        p.load = LoadInfo {
            self_referencing: deps[k].contains(&k),
            cycle: cycles[k].iter().map(|&m| names[m].clone()).collect(),
        };
        out.push(p);
    }
    out
}

/// The whole SQLite script: a header, every table in load order (each preceded by its notes
/// as comments), then every index. This is what `pg2lite schema` writes; `import
/// --schema-file` runs such a script instead of the plan's statements.
pub fn ddl(plan: &Plan) -> String {
    let mut out = header(plan);
    for t in &plan.tables {
        out.push('\n');
        let source = names::pg_qualified(&t.source);
        for n in plan.notes.iter().filter(|n| n.table == source) {
            out.push_str(&comment(&format!("note: {n}")));
        }
        if t.load.defer_foreign_keys() {
            out.push_str(&comment(&format!(
                "loads with foreign-key checks deferred: {}",
                cycle_text(&t.load)
            )));
        }
        out.push_str(&t.create_table);
        out.push('\n');
    }
    let indexes: Vec<&String> = plan.tables.iter().flat_map(|t| &t.create_indexes).collect();
    if !indexes.is_empty() {
        out.push_str("\n-- Indexes, built after the rows are loaded.\n");
        for i in indexes {
            out.push_str(i);
            out.push('\n');
        }
    }
    for s in &plan.skipped {
        out.push_str(&comment(&format!("skipped {}: {}", names::pg_qualified(&s.source), s.why)));
    }
    out.push_str(&views::ddl(plan));
    out
}

fn header(plan: &Plan) -> String {
    let mut out =
        comment(&format!("SQLite schema written by pg2lite {}", env!("CARGO_PKG_VERSION")));
    if let Some(s) = &plan.header.source {
        out.push_str(&comment(&format!("source: {s}")));
    }
    if let Some(e) = &plan.header.export_id {
        out.push_str(&comment(&format!("export: {e}")));
    }
    out.push_str(&comment(
        "Declared types are INTEGER, REAL, TEXT and BLOB only; tables are in foreign-key load order.",
    ));
    if !plan.notes.is_empty() {
        out.push_str(&comment(&format!(
            "{} notes: what could not be carried over, by table.",
            plan.notes.len()
        )));
    }
    out
}

fn cycle_text(load: &LoadInfo) -> String {
    let mut parts = Vec::new();
    if load.self_referencing {
        parts.push("it references itself".to_owned());
    }
    if !load.cycle.is_empty() {
        parts.push(format!("in a cycle with {}", load.cycle.join(", ")));
    }
    parts.join("; ")
}

/// `-- text`, one line: a note's text never ends the comment early.
fn comment(text: &str) -> String {
    format!("-- {}\n", text.replace(['\n', '\r'], " "))
}
