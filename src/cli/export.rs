//! `pg2lite export`: builds export options from the arguments and prints the summary.

use std::process::ExitCode;

use anyhow::Context;
use pg2lite::export::{self, ExportOptions, ExportSummary};
use pg2lite::pg::Source;
use serde_json::json;

use super::{ExportArgs, SelectArgs, SourceArgs, Ui, env_map};

pub fn run(args: &ExportArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let opts = options(&args.source, &args.select, &args.out)?;
    ui.info(&format!("exporting {} to {}", opts.source, opts.out.display()));
    let summary = export::run(&opts, ui).context("export failed")?;
    ui.result(&human(&summary), &to_json(&summary))?;
    Ok(ExitCode::SUCCESS)
}

/// Export options from the source and selection arguments (shared with `migrate`).
pub fn options(
    source: &SourceArgs,
    select: &SelectArgs,
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
    })
}

pub fn resolve_source(args: &SourceArgs) -> anyhow::Result<Source> {
    Ok(Source::resolve(args.source.as_deref(), &env_map())?)
}

fn human(s: &ExportSummary) -> String {
    let rows: u64 = s.tables.iter().map(|t| t.rows).sum();
    let bytes = indicatif::HumanBytes(s.tables.iter().map(|t| t.bytes).sum());
    let (n, dir, sha) = (s.tables.len(), s.dir.display(), &s.manifest_sha256);
    format!(
        "exported {n} tables, {rows} rows, {bytes} to {dir}\nmanifest sha256 {sha}\n\
         check it with: pg2lite verify {dir}   (or: cd {dir} && sha256sum -c SHA256SUMS)\n"
    )
}

fn to_json(s: &ExportSummary) -> serde_json::Value {
    json!({
        "export_id": s.export_id,
        "dir": s.dir,
        "manifest_sha256": s.manifest_sha256,
        "tables": s.tables.iter().map(|t| json!({
            "table": t.name, "file": t.file, "rows": t.rows, "bytes": t.bytes, "seconds": t.seconds,
        })).collect::<Vec<_>>(),
    })
}
