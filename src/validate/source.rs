//! The Postgres side of the counts check (`--source`): each exported table counted again,
//! now, under the filter the export recorded. The count is taken later than the export's
//! snapshot, so a difference may be data that changed since; the report says so.
//!
//! The manifest is untrusted (DESIGN "Trust"): each filter is rebuilt from its typed facts
//! by [`crate::pg::filter`], checked hop by hop against the live catalog (read first), with
//! every identifier taken from that catalog and quoted and the tenant's key bound as a
//! parameter. A filter that does not fit the live catalog stops validation before any count
//! runs. The session is read-only besides (`default_transaction_read_only`).

use tokio_postgres::types::ToSql;

use crate::model::catalog::{Table, TableKind};
use crate::model::manifest::Manifest;
use crate::pg::catalog;
use crate::pg::filter::{Bind, Builder, TextParam};
use crate::pg::{self, Source, quote_qualified};

/// Per manifest table, in manifest order: the count, or why it could not be taken.
pub(super) type Recount = Vec<Result<u64, String>>;

/// One table's count query and how many times it binds the tenant's key.
type Query = Result<(String, usize), String>;

/// Counts every table of `manifest` in `source`.
///
/// # Errors
/// [`pg::Error`] when Postgres cannot be reached; [`super::Error::Filter`] when a filter does
/// not match the live catalog. A table that is gone or cannot be counted is an `Err` in the
/// result.
pub(super) fn recount(source: &Source, manifest: &Manifest) -> Result<Recount, super::Error> {
    let rt = crate::pg::runtime().map_err(super::Error::Runtime)?;
    let value = manifest.options.tenant.as_ref().map(|t| t.value.as_str());
    rt.block_on(async {
        let client = source.connect().await?;
        client
            .batch_execute("SET default_transaction_read_only = on")
            .await
            .map_err(|e| source.query_error(&e))?;
        // Materialized views included: an export may hold them as tables.
        let live = catalog::read_with(&client, source, true).await?;
        let queries = count_queries(&live.tables, manifest)?;
        let mut counts = Vec::with_capacity(queries.len());
        for query in queries {
            counts.push(match query {
                Ok((sql, params)) => count(&client, &sql, value, params).await,
                Err(why) => Err(why),
            });
        }
        Ok(counts)
    })
}

/// `SELECT count(*) FROM [ONLY] t AS t0 [WHERE <filter>]` per manifest table, all built (and
/// every filter checked) before any runs.
///
/// # Errors
/// [`super::Error::Filter`] for the first filter that does not match `live`.
pub(super) fn count_queries(
    live: &[Table],
    manifest: &Manifest,
) -> Result<Vec<Query>, super::Error> {
    let filters = manifest.tables.iter().map(|e| (e.table.qualified_name(), &e.filter));
    let builder = Builder::new(live, filters, Bind::Params);
    let mut out = Vec::with_capacity(manifest.tables.len());
    for entry in &manifest.tables {
        let q = entry.table.qualified_name();
        let Some(t) = live.iter().find(|t| t.schema == q.schema && t.name == q.name) else {
            out.push(Err(format!("no table {} in the database now", entry.table.display_name())));
            continue;
        };
        let only = if t.kind == TableKind::Partitioned { "" } else { "ONLY " };
        let mut sql =
            format!("SELECT count(*) FROM {only}{} AS t0", quote_qualified(&t.schema, &t.name));
        if let Some(c) = builder.condition(&q)? {
            sql.push_str(" WHERE ");
            sql.push_str(&c);
        }
        out.push(Ok((sql, builder.params())));
    }
    Ok(out)
}

async fn count(
    client: &tokio_postgres::Client,
    sql: &str,
    value: Option<&str>,
    params: usize,
) -> Result<u64, String> {
    let param = match (value, params) {
        (_, 0) => None,
        (Some(v), _) => Some(TextParam(v)),
        (None, _) => return Err("the manifest names no tenant value to filter by".to_owned()),
    };
    let bound: Vec<&(dyn ToSql + Sync)> =
        param.iter().map(|p| p as &(dyn ToSql + Sync)).cycle().take(params).collect();
    let row = client.query_one(sql, &bound).await.map_err(|e| pg::error_detail(&e))?;
    let n: i64 = row.try_get(0).map_err(|e| e.to_string())?;
    Ok(u64::try_from(n).unwrap_or(0))
}
