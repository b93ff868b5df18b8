//! The database objects that are not tables, read from the live catalog: views, materialized
//! views, triggers (not the internal ones behind foreign keys), functions and procedures (not
//! those of extensions), row-level security policies, sequences no column owns, and the
//! extensions installed.
//!
//! They are recorded in the manifest (`objects`), so that `import` and `schema --from` can
//! account for each of them with no Postgres in reach. A view's definition is
//! `pg_get_viewdef` text, read under the export's empty `search_path` (so every table name is
//! schema-qualified); import only ever parses it (see `schema::views`), never executes it.

use serde::{Deserialize, Serialize};
use sqlparser::ast::{Query, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use tokio_postgres::Client;

use crate::catalog::QualifiedName;

/// Every object of the database that is not a table (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Objects {
    /// The database's default collation (`datcollate`): text orders as SQLite orders it
    /// (bytes) only under `C` or `POSIX`.
    #[serde(default)]
    pub collation: String,
    /// Materialized views whose rows were exported as tables (`--matviews-as-tables`),
    /// as `schema.name`.
    #[serde(default)]
    pub matviews_as_tables: Vec<String>,
    /// Plain views, in (schema, name) order.
    #[serde(default)]
    pub views: Vec<ViewDef>,
    /// Materialized views, in (schema, name) order.
    #[serde(default)]
    pub matviews: Vec<ViewDef>,
    /// User triggers (internal foreign-key triggers left out).
    #[serde(default)]
    pub triggers: Vec<TableObject>,
    /// Functions, procedures and aggregates outside extensions.
    #[serde(default)]
    pub routines: Vec<Routine>,
    /// Row-level security policies.
    #[serde(default)]
    pub policies: Vec<TableObject>,
    /// Sequences that no column owns (serial and identity sequences are left out: the
    /// column's `INTEGER PRIMARY KEY` carries them).
    #[serde(default)]
    pub sequences: Vec<QualifiedName>,
    /// Installed extensions (`plpgsql`, which every database has, left out).
    #[serde(default)]
    pub extensions: Vec<Extension>,
}

/// A view or materialized view as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewDef {
    pub schema: String,
    pub name: String,
    /// The view's columns, in order, with their Postgres types (`format_type`).
    pub columns: Vec<ViewColumn>,
    /// `pg_get_viewdef(oid, true)`: a SELECT, text to parse, never to execute.
    pub definition: String,
}

/// One output column of a view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

/// An object that belongs to a table: a trigger or a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableObject {
    pub schema: String,
    pub table: String,
    pub name: String,
}

/// A function, procedure or aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routine {
    pub schema: String,
    pub name: String,
    /// `function`, `procedure`, `aggregate` or `window`.
    pub kind: String,
    /// The identity arguments (`pg_get_function_identity_arguments`), which tell overloads
    /// apart.
    pub arguments: String,
}

/// An installed extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub name: String,
    pub version: String,
}

/// The longest view definition read; Postgres' own are far shorter.
const MAX_DEFINITION: usize = 256 * 1024;
/// How deep the parser may nest; the walk below recurses no deeper than the tree.
pub const MAX_RECURSION: usize = 40;

/// A view definition that `pg_get_viewdef` cannot have written.
#[derive(Debug, thiserror::Error)]
#[error(
    "view {view}: its definition in the manifest is not a single SELECT ({why}); pg_get_viewdef \
     never writes that, so the export was altered: nothing is executed from it. Export again \
     with pg2lite export"
)]
pub struct HostileView {
    pub view: String,
    pub why: String,
}

impl Objects {
    /// What an export of `tables` from `schemas` (all when empty) records: objects of other
    /// schemas, and triggers and policies of tables left out, are not the export's.
    pub fn selected(&self, schemas: &[String], tables: &[QualifiedName]) -> Objects {
        let in_schema = |s: &str| schemas.is_empty() || schemas.iter().any(|x| x == s);
        let on_table =
            |o: &TableObject| tables.iter().any(|t| t.schema == o.schema && t.name == o.table);
        let mut out = self.clone();
        out.views.retain(|v| in_schema(&v.schema));
        out.matviews.retain(|v| in_schema(&v.schema));
        out.triggers.retain(on_table);
        out.policies.retain(on_table);
        out.routines.retain(|r| in_schema(&r.schema));
        out.sequences.retain(|s| in_schema(&s.schema));
        out
    }
}

impl ViewDef {
    /// Parses a definition: `Ok(Err(why))` when sqlparser cannot read it (a note), `Err` when it
    /// is not one SELECT (the manifest was altered).
    pub fn parse(&self) -> Result<Result<Query, String>, HostileView> {
        let v = self;
        let hostile = |why: &str| HostileView { view: v.display_name(), why: why.into() };
        if v.definition.len() > MAX_DEFINITION {
            return Err(hostile("it is longer than any definition Postgres writes"));
        }
        let dialect = PostgreSqlDialect {};
        let parsed = Parser::new(&dialect)
            .with_recursion_limit(MAX_RECURSION)
            .try_with_sql(&v.definition)
            .and_then(|mut p| p.parse_statements());
        let mut statements = match parsed {
            Ok(s) => s,
            Err(e) => return Ok(Err(format!("its definition does not parse here: {e}"))),
        };
        if statements.len() != 1 {
            return Err(hostile(&format!("it holds {} statements", statements.len())));
        }
        match statements.pop() {
            Some(Statement::Query(q)) => Ok(Ok(*q)),
            _ => Err(hostile("it is not a query")),
        }
    }

    /// `schema.name`, as a person reads it.
    pub fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// The schemas whose objects are never the user's.
const NOT_SYSTEM: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

/// `NOT EXISTS` an extension dependency of object `oid` in catalog `class`.
fn not_in_extension(class: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
          WHERE d.classid = 'pg_catalog.{class}'::pg_catalog.regclass \
            AND d.objid = {oid} AND d.deptype = 'e')"
    )
}

fn views_sql() -> String {
    format!(
        "SELECT n.nspname::text, c.relname::text, c.relkind::text,
                pg_catalog.pg_get_viewdef(c.oid, true),
                ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                       ORDER BY a.attnum),
                ARRAY(SELECT pg_catalog.format_type(a.atttypid, a.atttypmod)
                        FROM pg_catalog.pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                       ORDER BY a.attnum)
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('v', 'm') AND {NOT_SYSTEM} AND {}
          ORDER BY 1, 2",
        not_in_extension("pg_class", "c.oid")
    )
}

fn triggers_sql() -> String {
    format!(
        "SELECT n.nspname::text, c.relname::text, t.tgname::text
           FROM pg_catalog.pg_trigger t
           JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE NOT t.tgisinternal AND {NOT_SYSTEM} AND {}
          ORDER BY 1, 2, 3",
        not_in_extension("pg_class", "c.oid")
    )
}

fn routines_sql() -> String {
    format!(
        "SELECT n.nspname::text, p.proname::text,
                CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
                               WHEN 'w' THEN 'window' ELSE 'function' END,
                pg_catalog.pg_get_function_identity_arguments(p.oid)
           FROM pg_catalog.pg_proc p
           JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
          WHERE {NOT_SYSTEM} AND {}
          ORDER BY 1, 2, 4",
        not_in_extension("pg_proc", "p.oid")
    )
}

const POLICIES_SQL: &str = "
SELECT n.nspname::text, c.relname::text, p.polname::text
  FROM pg_catalog.pg_policy p
  JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 ORDER BY 1, 2, 3";

/// Sequences with no `auto` (serial, `OWNED BY`), `internal` (identity) or extension
/// dependency.
fn sequences_sql() -> String {
    format!(
        "SELECT n.nspname::text, c.relname::text
           FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'S' AND {NOT_SYSTEM}
            AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                             WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                               AND d.objid = c.oid AND d.deptype IN ('a', 'i', 'e'))
          ORDER BY 1, 2"
    )
}

const EXTENSIONS_SQL: &str = "
SELECT extname::text, extversion FROM pg_catalog.pg_extension
 WHERE extname <> 'plpgsql' ORDER BY 1";

/// Reads every object of the database that is not a table, on `client` (inside the export's
/// snapshot when the caller opened one).
///
/// # Errors
/// The query's error, which the caller turns into [`crate::pg::Error::Query`].
pub async fn read(client: &Client) -> Result<Objects, tokio_postgres::Error> {
    let mut objects = Objects::default();
    let row = client
        .query_one(
            "SELECT datcollate::text FROM pg_catalog.pg_database WHERE datname = current_database()",
            &[],
        )
        .await?;
    objects.collation = row.try_get(0)?;
    for r in client.query(&views_sql(), &[]).await? {
        let kind: String = r.try_get(2)?;
        let names: Vec<String> = r.try_get(4)?;
        let types: Vec<String> = r.try_get(5)?;
        let view = ViewDef {
            schema: r.try_get(0)?,
            name: r.try_get(1)?,
            columns: names
                .into_iter()
                .zip(types)
                .map(|(name, ty)| ViewColumn { name, ty })
                .collect(),
            definition: r.try_get::<_, Option<String>>(3)?.unwrap_or_default(),
        };
        if kind == "m" { objects.matviews.push(view) } else { objects.views.push(view) }
    }
    for r in client.query(&triggers_sql(), &[]).await? {
        objects.triggers.push(table_object(&r)?);
    }
    for r in client.query(&routines_sql(), &[]).await? {
        objects.routines.push(Routine {
            schema: r.try_get(0)?,
            name: r.try_get(1)?,
            kind: r.try_get(2)?,
            arguments: r.try_get(3)?,
        });
    }
    for r in client.query(POLICIES_SQL, &[]).await? {
        objects.policies.push(table_object(&r)?);
    }
    for r in client.query(&sequences_sql(), &[]).await? {
        objects.sequences.push(QualifiedName { schema: r.try_get(0)?, name: r.try_get(1)? });
    }
    for r in client.query(EXTENSIONS_SQL, &[]).await? {
        objects.extensions.push(Extension { name: r.try_get(0)?, version: r.try_get(1)? });
    }
    Ok(objects)
}

fn table_object(r: &tokio_postgres::Row) -> Result<TableObject, tokio_postgres::Error> {
    Ok(TableObject { schema: r.try_get(0)?, table: r.try_get(1)?, name: r.try_get(2)? })
}
