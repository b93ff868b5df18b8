//! The database objects that are not tables, read from the live catalog: views, materialized
//! views, triggers (not the internal ones behind foreign keys), functions and procedures (not
//! those of extensions), row-level security policies, sequences no column owns, and the
//! extensions installed.
//!
//! They are recorded in the manifest (`objects`), so that `import` and `schema --from` can
//! account for each of them with no Postgres in reach. A view's definition is
//! `pg_get_viewdef` text, read under the export's empty `search_path` (so every table name is
//! schema-qualified); import only ever parses it (see `schema::views`), never executes it.

use tokio_postgres::Client;

use crate::model::catalog::QualifiedName;
use crate::model::objects::{Extension, Objects, Routine, TableObject, ViewColumn, ViewDef};

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
