//! `pg2lite export`: builds export options from the arguments and prints the summary.

use std::process::ExitCode;

use anyhow::Context;
use pg2lite::export::{self, ExportOptions, ExportSummary};
use pg2lite::pg::Source;
use serde_json::json;

use pg2lite::export::tenancy::{TenantOptions, TenantRef};

use super::{ExportArgs, SelectArgs, SourceArgs, TenantArgs, Ui};

pub fn run(args: &ExportArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let opts = options(&args.source, &args.select, &args.tenancy, &args.out)?;
    ui.info(&format!("exporting {} to {}", opts.source, opts.out.display()));
    let summary = export::run(&opts, ui).context("export failed")?;
    ui.result(&human(&summary), &to_json(&summary))?;
    Ok(ExitCode::SUCCESS)
}

/// Export options from the source and selection arguments (shared with `migrate`).
pub fn options(
    source: &SourceArgs,
    select: &SelectArgs,
    tenancy: &TenantArgs,
    out: &std::path::Path,
) -> anyhow::Result<ExportOptions> {
    anyhow::ensure!(select.jobs >= 1, "--jobs must be at least 1");
    Ok(ExportOptions {
        source: resolve_source(source)?,
        out: out.to_owned(),
        schemas: select.schemas.clone(),
        tables: select.tables.clone(),
        exclude: select.exclude.clone(),
        jobs: select.jobs,
        tenant: tenant_options(tenancy)?,
        matviews_as_tables: select.matviews_as_tables,
    })
}

fn tenant_options(args: &TenantArgs) -> anyhow::Result<Option<TenantOptions>> {
    let Some(column) = &args.tenant_column else { return Ok(None) };
    let tenant = match (&args.tenant, &args.tenant_key) {
        (Some(v), _) => TenantRef::Value(v.clone()),
        (None, Some(pair)) => {
            let (column, value) = pair.split_once('=').with_context(|| {
                format!("--tenant-key {pair:?} must be COLUMN=VALUE, e.g. email=alice@example.com")
            })?;
            TenantRef::Key { column: column.to_owned(), value: value.to_owned() }
        }
        (None, None) => {
            anyhow::bail!("--tenant-column needs --tenant VALUE or --tenant-key COL=VALUE")
        }
    };
    Ok(Some(TenantOptions {
        column: column.clone(),
        tenant,
        table: args.tenant_table.clone(),
        whole_tables: args.whole_tables.clone(),
    }))
}

pub fn resolve_source(args: &SourceArgs) -> anyhow::Result<Source> {
    super::resolve_source(args, true)
}

fn human(s: &ExportSummary) -> String {
    let rows: u64 = s.tables.iter().map(|t| t.rows).sum();
    let bytes = indicatif::HumanBytes(s.tables.iter().map(|t| t.bytes).sum());
    let (n, dir, sha) = (s.tables.len(), s.dir.display(), &s.manifest_sha256);
    format!(
        "exported {n} tables, {rows} rows, {bytes} to {dir}\nmanifest sha256 {sha}\n{}\
         check it with: pg2lite verify {dir}   (or: cd {dir} && sha256sum -c SHA256SUMS)\n",
        tenancy_lines(s)
    )
}

/// What a tenant-scoped export left out or took whole, one line each (shared with migrate).
pub fn tenancy_lines(s: &ExportSummary) -> String {
    let mut out = String::new();
    if !s.left_out.is_empty() {
        out.push_str(&format!(
            "left out (no path to the tenant, nothing exported references them, so they may \
             hold other tenants' data; --whole-table to take one whole): {}\n",
            s.left_out.join(", ")
        ));
    }
    if !s.whole_tables.is_empty() {
        out.push_str(&format!("whole by --whole-table: {}\n", s.whole_tables.join(", ")));
    }
    out
}

fn to_json(s: &ExportSummary) -> serde_json::Value {
    json!({
        "export_id": s.export_id,
        "dir": s.dir,
        "manifest_sha256": s.manifest_sha256,
        "left_out": s.left_out,
        "whole_tables": s.whole_tables,
        "tables": s.tables.iter().map(|t| json!({
            "table": t.name, "file": t.file, "rows": t.rows, "bytes": t.bytes, "seconds": t.seconds,
        })).collect::<Vec<_>>(),
    })
}
