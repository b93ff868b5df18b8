//! The Postgres side of the counts check (`--source`): each exported table counted again,
//! now, under the filter the export recorded. The count is taken later than the export's
//! snapshot, so a difference may be data that changed since; the report says so.
//!
//! The session is read-only (`default_transaction_read_only`): a path condition is SQL text
//! from the manifest, and nothing it says may write.

use crate::catalog::TableKind;
use crate::manifest::{Filter, Manifest, TableEntry};
use crate::pg::{self, Source, quote_ident, quote_literal};

/// Per manifest table, in manifest order: the count, or why it could not be taken.
pub(super) type Recount = Vec<Result<u64, String>>;

/// Counts every table of `manifest` in `source`.
///
/// # Errors
/// [`pg::Error`] when Postgres cannot be reached; a table that cannot be counted is an `Err`
/// in the result.
pub(super) fn recount(source: &Source, manifest: &Manifest) -> Result<Recount, super::Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(super::Error::Runtime)?;
    let value = tenant_value(manifest);
    rt.block_on(async {
        let client = source.connect().await?;
        client
            .batch_execute("SET default_transaction_read_only = on")
            .await
            .map_err(|e| source.query_error(&e))?;
        let mut counts = Vec::with_capacity(manifest.tables.len());
        for entry in &manifest.tables {
            counts.push(match count_sql(entry, value.as_deref()) {
                Ok(sql) => count(&client, &sql).await,
                Err(why) => Err(why),
            });
        }
        Ok(counts)
    })
}

async fn count(client: &tokio_postgres::Client, sql: &str) -> Result<u64, String> {
    let row = client.query_one(sql, &[]).await.map_err(|e| pg::error_detail(&e))?;
    let n: i64 = row.try_get(0).map_err(|e| e.to_string())?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The tenant's key as Postgres printed it at export time.
pub(super) fn tenant_value(manifest: &Manifest) -> Option<String> {
    manifest.options.tenant.as_ref()?.get("value")?.as_str().map(str::to_owned)
}

/// `SELECT count(*) FROM [ONLY] t AS t0 [WHERE <the export's filter>]`: `ONLY` unless the
/// table is partitioned, as the export read it.
pub(super) fn count_sql(entry: &TableEntry, tenant: Option<&str>) -> Result<String, String> {
    let t = &entry.table;
    let only = if t.kind == TableKind::Partitioned { "" } else { "ONLY " };
    let mut sql = format!("SELECT count(*) FROM {only}{} AS t0", t.quoted());
    let literal = || {
        tenant.map(quote_literal).ok_or_else(|| {
            "the manifest filters this table by tenant but records no tenant value".to_owned()
        })
    };
    let condition = match &entry.filter {
        Filter::Whole => None,
        Filter::TenantColumn { column } => {
            Some(format!("t0.{} = {}", quote_ident(column), literal()?))
        }
        Filter::TenantRow { columns } => {
            let key = columns.first().ok_or("the manifest's tenant row filter names no column")?;
            Some(format!("t0.{} = {}", quote_ident(key), literal()?))
        }
        Filter::Path { condition, .. } => Some(condition.clone()),
    };
    if let Some(c) = condition {
        sql.push_str(" WHERE ");
        sql.push_str(&c);
    }
    Ok(sql)
}
