//! `pg2lite export`: builds export options from the arguments and prints the summary.

use std::process::ExitCode;

use anyhow::Context;
use pg2lite::export::{self, ExportOptions, ExportSummary};
use pg2lite::pg::Source;
use serde_json::json;

use pg2lite::export::tenancy::{TenantOptions, TenantRef};

use super::{ExportArgs, SelectArgs, SourceArgs, TenantArgs, Ui};

pub fn run(args: &ExportArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    if args.tenancy.each_tenant {
        return super::each_tenant::export(args, ui);
    }
    let sign = super::sign::signing_key(args.signing.sign.as_deref())?;
    let mut opts =
        ExportOptions { sign, ..options(&args.source, &args.select, &args.tenancy, &args.out)? };
    opts.redact = redact_options(&args.redact)?;
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
        sign: None,
        redact: pg2lite::redact::Options::default(),
        matviews_as_tables: select.matviews_as_tables,
        snapshot: tenancy.snapshot.clone(),
    })
}

/// Redaction options from `--redact`, `--exclude-column` and the key's file or environment
/// variable (shared with `migrate`). The key itself is never printed.
pub fn redact_options(args: &super::RedactArgs) -> anyhow::Result<pg2lite::redact::Options> {
    use pg2lite::redact::{KEY_ENV, Key, KeySource, Options, Rule};
    let redact = args.redact.iter().map(|r| Rule::parse(r)).collect::<Result<_, _>>()?;
    let key = match (&args.redact_key_file, std::env::var_os(KEY_ENV)) {
        (Some(file), _) => KeySource::File(file.clone()),
        (None, Some(v)) if !v.is_empty() => {
            KeySource::Env(Key::new(v.as_encoded_bytes(), KEY_ENV)?)
        }
        _ => KeySource::Random,
    };
    Ok(Options { redact, exclude_columns: args.exclude_columns.clone(), key })
}

fn tenant_options(args: &TenantArgs) -> anyhow::Result<Option<TenantOptions>> {
    let Some(column) = &args.tenant_column else { return Ok(None) };
    if args.each_tenant {
        return Ok(None);
    }
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
    let (n, dir, sha) = (s.tables.len() as u64, s.dir.display(), &s.manifest_sha256);
    let (n, rows) = (pg2lite::report::count(n, "table"), pg2lite::report::count(rows, "row"));
    format!(
        "exported {n}, {rows}, {bytes} to {dir}\nmanifest sha256 {sha}\n{}\
         check it with: pg2lite verify {dir}   (or: cd {dir} && sha256sum -c SHA256SUMS)\n",
        tenancy_lines(s)
    ) + &signed_line(s)
}

/// Which key signed the export, when one did (shared with migrate).
pub fn signed_line(s: &ExportSummary) -> String {
    match &s.signed_by {
        Some(fp) => format!("signed manifest.json with key {fp} (manifest.json.sig)\n"),
        None => String::new(),
    }
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
        "signed_by": s.signed_by,
        "tables": s.tables.iter().map(|t| json!({
            "table": t.name, "file": t.file, "rows": t.rows, "bytes": t.bytes, "seconds": t.seconds,
        })).collect::<Vec<_>>(),
    })
}
