//! `export --each-tenant` and `migrate --each-tenant`: options from the arguments, and the
//! summary across tenants (human text, and the JSON report of every tenant's result).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use pg2lite::export::each_tenant::{self, EachOptions, EachSummary, TenantExport};
use pg2lite::migrate::each_tenant::{EachTenantOptions, EachTenantSummary, Status, TenantResult};
use pg2lite::report::count;
use serde_json::json;

use super::{ExportArgs, MigrateArgs, RedactArgs, SelectArgs, SourceArgs, TenantArgs, Ui};

/// How many of the slowest tenants the summary names.
const SLOWEST: usize = 5;

/// `export --each-tenant --out DIR`.
pub fn export(args: &ExportArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let signing = args.signing.sign.as_deref();
    let opts =
        options(&args.source, &args.select, &args.tenancy, &args.redact, &args.out, signing)?;
    ui.info(&format!("exporting every tenant of {} to {}", opts.export.source, args.out.display()));
    let summary = each_tenant::run(&opts, ui).context("export failed")?;
    ui.result(&export_human(&summary, &args.out), &export_json(&summary))?;
    Ok(ExitCode::SUCCESS)
}

/// `migrate --each-tenant --target-dir DIR`.
pub fn migrate(args: &MigrateArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.target_arg.is_none() && args.target.file.is_none(),
        "--each-tenant writes one file per tenant into --target-dir DIR; remove TARGET/--target"
    );
    anyhow::ensure!(
        !args.skip_export && !args.dry_run,
        "--each-tenant cannot be combined with --skip-export or --dry-run yet"
    );
    let dir = args.target_dir.clone().context(
        "--each-tenant needs --target-dir DIR: each tenant's file goes to DIR/<tenant>.db",
    )?;
    let source = args.source_args()?;
    let signing = args.signing.sign.as_deref();
    let export = options(&source, &args.select, &args.tenancy, &args.redact, &dir, signing)?;
    let mut options = args.target.options.clone();
    // Each tenant's file is new, or stale (and backed up) when its run is redone.
    options.yes = true;
    let target = super::TargetArgs { target: PathBuf::new(), options };
    let mut import = super::import::options(Path::new(""), &target, &args.plan);
    import.schema_file = args.schema_file.clone();
    let opts = EachTenantOptions { export, import, skip_validate: args.skip_validate };
    let started = std::time::Instant::now();
    ui.info(&format!(
        "migrating every tenant of {} to {}",
        opts.export.export.source,
        dir.display()
    ));
    let summary = pg2lite::migrate::each_tenant::run(&opts, ui).context("export failed")?;
    let wall = started.elapsed().as_secs_f64();
    let report = migrate_json(&summary, wall);
    let path = args.report.clone().unwrap_or_else(|| dir.join("report.json"));
    super::validate::write_report(&path, &report)?;
    ui.result(&migrate_human(&summary, &dir, &path, wall), &report)?;
    let failed = summary.count(&Status::Failed(String::new()));
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn options(
    source: &SourceArgs,
    select: &SelectArgs,
    tenancy: &TenantArgs,
    redact: &RedactArgs,
    out: &Path,
    sign: Option<&Path>,
) -> anyhow::Result<EachOptions> {
    let mut export = super::export::options(source, select, tenancy, out)?;
    export.sign = super::sign::signing_key(sign)?;
    export.redact = super::export::redact_options(redact)?;
    let column =
        tenancy.tenant_column.clone().context("--each-tenant needs --tenant-column COL")?;
    let only = match &tenancy.tenants_file {
        Some(file) => Some(read_keys(file)?),
        None => None,
    };
    Ok(EachOptions {
        export,
        column,
        tenants_table: tenancy.tenant_table.clone(),
        whole_tables: tenancy.whole_tables.clone(),
        name_by: tenancy.name_by.clone(),
        only,
        shard: tenancy.shard,
    })
}

/// The keys of `--tenants FILE`: one a line, blank lines skipped.
fn read_keys(file: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read --tenants {}", file.display()))?;
    let keys: Vec<String> = text
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    anyhow::ensure!(
        !keys.is_empty(),
        "--tenants {} lists no tenant key (one a line)",
        file.display()
    );
    Ok(keys)
}

fn export_human(s: &EachSummary, out: &Path) -> String {
    let new = s.tenants.iter().filter(|t| !t.reused).count() as u64;
    let reused = s.tenants.len() as u64 - new;
    let rows: u64 = s.tenants.iter().filter(|t| !t.reused).map(|t| t.rows).sum();
    let bytes: u64 = s.tenants.iter().filter(|t| !t.reused).map(|t| t.bytes).sum();
    format!(
        "exported {} ({} done, {reused} skipped: already complete and verified), {}, {} to {}/<tenant>/ in snapshot {}\n\
         check one with: pg2lite verify {}/<tenant>   (or: sha256sum -c SHA256SUMS inside it)\n",
        count(s.tenants.len() as u64, "tenant"),
        new,
        count(rows, "row"),
        indicatif::HumanBytes(bytes),
        out.display(),
        s.snapshot,
        out.display()
    )
}

fn tenant_json(t: &TenantExport) -> serde_json::Value {
    json!({
        "key": t.tenant.key,
        "name": t.tenant.name,
        "named": t.tenant.named,
        "rows": t.rows,
        "bytes": t.bytes,
        "export": t.dir,
    })
}

fn export_json(s: &EachSummary) -> serde_json::Value {
    let tenants: Vec<serde_json::Value> = s
        .tenants
        .iter()
        .map(|t| {
            let mut v = tenant_json(t);
            v["status"] = json!(if t.reused { "skipped" } else { "done" });
            v
        })
        .collect();
    json!({
        "snapshot": s.snapshot,
        "done": s.tenants.iter().filter(|t| !t.reused).count(),
        "skipped": s.tenants.iter().filter(|t| t.reused).count(),
        "failed": 0,
        "rows": s.tenants.iter().map(|t| t.rows).sum::<u64>(),
        "bytes": s.tenants.iter().map(|t| t.bytes).sum::<u64>(),
        "tenants": tenants,
        "tables": s.tables.iter().map(|t| json!({
            "table": t.name, "rows": t.rows, "bytes": t.bytes, "seconds": t.seconds,
        })).collect::<Vec<_>>(),
    })
}

fn status_word(s: &Status) -> &'static str {
    match s {
        Status::Done => "done",
        Status::Skipped => "skipped",
        Status::Failed(_) => "failed",
    }
}

fn result_json(t: &TenantResult) -> serde_json::Value {
    let mut v = tenant_json(&t.export);
    v["status"] = json!(status_word(&t.status));
    v["why"] = match &t.status {
        Status::Failed(why) => json!(why),
        _ => serde_json::Value::Null,
    };
    v["seconds"] = json!(t.seconds);
    v["target"] = json!(t.target);
    v
}

fn migrate_json(s: &EachTenantSummary, wall: f64) -> serde_json::Value {
    json!({
        "snapshot": s.snapshot,
        "done": s.count(&Status::Done),
        "skipped": s.count(&Status::Skipped),
        "failed": s.count(&Status::Failed(String::new())),
        "rows": s.tenants.iter().map(|t| t.export.rows).sum::<u64>(),
        "bytes": s.tenants.iter().map(|t| t.export.bytes).sum::<u64>(),
        "wall_seconds": wall,
        "tenants": s.tenants.iter().map(result_json).collect::<Vec<_>>(),
        "tables": s.tables.iter().map(|t| json!({
            "table": t.name, "rows": t.rows, "bytes": t.bytes, "seconds": t.seconds,
        })).collect::<Vec<_>>(),
    })
}

fn migrate_human(s: &EachTenantSummary, dir: &Path, report: &Path, wall: f64) -> String {
    let rows: u64 = s.tenants.iter().map(|t| t.export.rows).sum();
    let bytes: u64 = s.tenants.iter().map(|t| t.export.bytes).sum();
    let mut out = format!(
        "{}: {} done, {} skipped (complete and verified), {} failed; {}, {} in {}/ (snapshot {}), {wall:.1} s\n",
        count(s.tenants.len() as u64, "tenant"),
        s.count(&Status::Done),
        s.count(&Status::Skipped),
        s.count(&Status::Failed(String::new())),
        count(rows, "row"),
        indicatif::HumanBytes(bytes),
        dir.display(),
        s.snapshot,
    );
    let mut slow: Vec<&TenantResult> = s.tenants.iter().filter(|t| t.seconds > 0.0).collect();
    slow.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    if !slow.is_empty() {
        let named: Vec<String> = slow
            .iter()
            .take(SLOWEST)
            .map(|t| format!("{} ({:.2} s)", t.export.tenant.name, t.seconds))
            .collect();
        out.push_str(&format!("slowest: {}\n", named.join(", ")));
    }
    for t in &s.tenants {
        if let Status::Failed(why) = &t.status {
            out.push_str(&format!("failed: {}: {why}\n", t.export.tenant.name));
        }
    }
    out.push_str(&format!("report: {}\n", report.display()));
    out
}
