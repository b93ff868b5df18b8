//! `pg2lite migrate`: export, import and validate in one command, or `--dry-run` to print the
//! plan and write nothing.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pg2lite::export::{self, ExportPlan, ExportSummary};
use pg2lite::import::{self, ImportSummary};
use pg2lite::mapping::{self, Plan};
use pg2lite::migrate;
use pg2lite::model::catalog::Table;
use serde_json::json;

use pg2lite::report::{Align, TextTable, ValidationReport, grouped};
use pg2lite::validate;

use super::{
    MigrateArgs, TargetArgs, Ui, export as export_cli, import as import_cli, sign as sign_cli,
    validate as validate_cli,
};

pub fn run(args: &MigrateArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    if args.tenancy.each_tenant {
        return super::each_tenant::migrate(args, ui);
    }
    let started = std::time::Instant::now();
    if let (Some(dir), false) = (&args.from, args.skip_export) {
        anyhow::bail!(
            "--from {} is only used with --skip-export: add --skip-export to import that \
             export instead of exporting again, or remove --from to make a new export",
            dir.display()
        );
    }
    let target = args.target_args()?;
    if args.dry_run {
        return dry_run(args, &target, ui);
    }
    let replace = import_cli::confirm_replace(&target)?;
    if !replace {
        anyhow::bail!(
            "{} exists; pass --yes to replace it (it is first backed up to {}), or choose another \
             --target. Nothing was exported.",
            target.target.display(),
            target.options.backup_dir.display()
        );
    }
    let mut opts = import_cli::options(std::path::Path::new(""), &target, &args.plan);
    opts.schema_file = args.schema_file.clone();
    opts.require_signature = sign_cli::allowed_signers(args.require_signature.as_deref())?;
    opts.replace = true;
    let (export, imported) = match (&args.from, args.skip_export) {
        (Some(dir), true) => {
            // A report that would land inside the export is refused before anything is done.
            validate_cli::place_report(dir, args.report.as_deref())?;
            opts.from = dir.clone();
            let imported = import::run(&opts, ui).context("import failed")?;
            (Exported::Existing(dir.clone()), imported)
        }
        (None, true) => anyhow::bail!("--skip-export needs --from EXPORT_DIR"),
        _ => export_and_import(args, &mut opts, ui)?,
    };
    for note in &imported.notes {
        ui.info(&format!("note: {note}"));
    }
    let validated =
        if args.skip_validate { None } else { Some(validate(args, &opts, &export, ui)?) };
    let wall = started.elapsed().as_secs_f64();
    let summary =
        Summary { export: &export, import: &imported, validation: validated.as_ref(), wall };
    ui.result(&summary.human(), &summary.json())?;
    let passed = validated.as_ref().is_none_or(|(report, _)| report.passed);
    Ok(if passed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Validates the new file against its export and, when the export was made now, against
/// Postgres; writes the JSON report (default: beside the export directory, not inside it,
/// where it would be an unlisted file).
fn validate(
    args: &MigrateArgs,
    import_opts: &import::ImportOptions,
    export: &Exported,
    ui: &Ui,
) -> anyhow::Result<(ValidationReport, PathBuf)> {
    let mut opts = pg2lite::migrate::validate_options(import_opts);
    if let Exported::New(_) = export {
        opts = opts.with_source(export_cli::resolve_source(&args.source_args()?)?);
        opts.require_unchanged = args.require_unchanged;
    }
    let report = validate::run(&opts, ui).context("validation could not be done")?;
    let path = validate_cli::place_report(export.dir(), args.report.as_deref())?;
    let json = serde_json::to_value(&report).context("cannot render the report as JSON")?;
    validate_cli::write_report(&path, &json)?;
    Ok((report, path))
}

/// Exports and imports at once: the import is fed the export's lines as they are written
/// (no second read, verification or parse of the files). Should that import fail for any
/// reason, the files are complete and verified, so it is done again from them, the ordinary
/// way, which gives the same result or names the problem exactly as `import` would.
fn export_and_import(
    args: &MigrateArgs,
    opts: &mut import::ImportOptions,
    ui: &Ui,
) -> anyhow::Result<(Exported, ImportSummary)> {
    let sign = sign_cli::signing_key(args.signing.sign.as_deref())?;
    let mut export_opts = export::ExportOptions {
        sign,
        ..export_cli::options(&args.source_args()?, &args.select, &args.tenancy, &args.out)?
    };
    export_opts.redact = export_cli::redact_options(&args.redact)?;
    migrate::plan(&export_opts, &import_cli::schema_flags(&args.plan))?;
    let (exported, imported) = migrate::export_and_import(&export_opts, opts, ui)?;
    Ok((Exported::New(exported), imported))
}

/// The export a migration used: made now, or given with `--skip-export --from`.
enum Exported {
    New(ExportSummary),
    Existing(PathBuf),
}

impl Exported {
    fn dir(&self) -> &std::path::Path {
        match self {
            Exported::New(s) => &s.dir,
            Exported::Existing(d) => d,
        }
    }

    fn table(&self, source: &str) -> Option<&export::TableSummary> {
        match self {
            Exported::New(s) => s.tables.iter().find(|t| t.name == source),
            Exported::Existing(_) => None,
        }
    }
}

/// The closing report, in the manner of pgloader's: per table rows read, rows written, lossy
/// values, seconds and whether validation passed, then totals and where everything is.
struct Summary<'a> {
    export: &'a Exported,
    import: &'a ImportSummary,
    validation: Option<&'a (ValidationReport, PathBuf)>,
    /// Seconds from the start of the command to the summary: the total, since tables are
    /// exported and imported side by side and their own times overlap.
    wall: f64,
}

impl Summary<'_> {
    /// "pass", "FAIL", or "-" without validation, for one table.
    fn validated(&self, source: &str) -> &'static str {
        match self.validation {
            None => "-",
            Some((r, _)) => match r.tables.iter().find(|t| t.source == source) {
                Some(t) if t.checks.failed() => "FAIL",
                Some(_) => "pass",
                None => "-",
            },
        }
    }

    /// The seconds one table took: its export and its import run at the same time (the
    /// import is fed as the export writes), so the longer of the two, not their sum.
    fn seconds(&self, t: &import::TableImport) -> f64 {
        self.export.table(&t.source).map_or(t.seconds, |e| e.seconds.max(t.seconds))
    }

    fn human(&self) -> String {
        let mut table =
            TextTable::new(&["table", "rows read", "rows written", "lossy", "seconds", "valid"]);
        for i in 1..=4 {
            table.align(i, Align::Right);
        }
        let mut totals = (0u64, 0u64, 0u64);
        for t in &self.import.tables {
            let exported = self.export.table(&t.source);
            let read = exported.map_or(t.rows, |e| e.rows);
            let lossy: u64 = t.lossy.iter().map(|(_, loss)| loss.total()).sum();
            let secs = self.seconds(t);
            table.row(vec![
                t.source.clone(),
                grouped(read),
                grouped(t.rows),
                grouped(lossy),
                format!("{secs:.2}"),
                self.validated(&t.source).into(),
            ]);
            totals = (totals.0 + read, totals.1 + t.rows, totals.2 + lossy);
        }
        table.rule();
        let valid = match self.validation {
            None => "skipped",
            Some((r, _)) if r.passed => "pass",
            Some(_) => "FAIL",
        };
        let (read, written, lossy) = totals;
        let total =
            vec!["total (wall time)".into(), grouped(read), grouped(written), grouped(lossy)];
        table.row([total, vec![format!("{:.2}", self.wall), valid.into()]].concat());
        let mut out = table.render();
        if let Some((report, _)) = self.validation.filter(|(r, _)| !r.passed) {
            out.push('\n');
            out.push_str(&report.failure_text());
        }
        if let Some((report, _)) = self.validation {
            out.push_str(&report.changes_text());
        }
        if let Exported::New(summary) = self.export {
            out.push('\n');
            out.push_str(&export_cli::tenancy_lines(summary));
            out.push_str(&export_cli::signed_line(summary));
        }
        let objects = super::import::objects_line(&self.import.notes);
        if !objects.is_empty() {
            out.push('\n');
            out.push_str(&objects);
        }
        let _ = writeln!(out, "\nexport:  {}", self.export.dir().display());
        let _ = writeln!(out, "target:  {}", self.import.target.display());
        if let Some(b) = &self.import.backup {
            let _ = writeln!(out, "backup:  {} (sha256 {})", b.path.display(), b.sha256);
        }
        if let Some((_, path)) = self.validation {
            let _ = writeln!(out, "report:  {}", path.display());
        }
        out.push('\n');
        out.push_str(&super::import::open_hint(&self.import.target));
        out
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "passed": self.validation.is_none_or(|(r, _)| r.passed),
            "report": self.validation.map(|(_, p)| p),
            "validation": self.validation.map(|(r, _)| serde_json::to_value(r).unwrap_or_default()),
            "export": self.export.dir(),
            "left_out": match self.export {
                Exported::New(s) => s.left_out.clone(),
                Exported::Existing(_) => Vec::new(),
            },
            "whole_tables": match self.export {
                Exported::New(s) => s.whole_tables.clone(),
                Exported::Existing(_) => Vec::new(),
            },
            "target": self.import.target,
            "wall_seconds": self.wall,
            "notes": self.import.notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "backup": self.import.backup.as_ref().map(|b| json!({"path": b.path, "sha256": b.sha256})),
            "tables": self.import.tables.iter().map(|t| {
                let exported = self.export.table(&t.source);
                json!({
                    "table": t.source,
                    "sqlite_table": t.name,
                    "rows_read": exported.map_or(t.rows, |e| e.rows),
                    "rows_written": t.rows,
                    "lossy": t.lossy.iter().map(|(_, l)| l.total()).sum::<u64>(),
                    "seconds": self.seconds(t),
                })
            }).collect::<Vec<_>>(),
        })
    }
}

/// Connects, reads the catalog and prints the plan: tables, estimated rows, the tenancy
/// filter, the type mapping per column with what may be lossy, and the DDL. Writes nothing.
fn dry_run(args: &MigrateArgs, target: &TargetArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let mut opts =
        export_cli::options(&args.source_args()?, &args.select, &args.tenancy, &args.out)?;
    opts.redact = export_cli::redact_options(&args.redact)?;
    let (plan, schema) = migrate::plan(&opts, &import_cli::schema_flags(&args.plan))
        .context("cannot plan the migration")?;
    let human = describe(&opts.source.to_string(), target, &plan, &schema);
    ui.result(&human, &dry_run_json(&plan, &schema))?;
    Ok(ExitCode::SUCCESS)
}

fn describe(source: &str, target: &TargetArgs, plan: &ExportPlan, schema: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan: {source} (PostgreSQL {}) to {}",
        plan.server_version,
        target.target.display()
    );
    if let Some(t) = &plan.tenant {
        let tt = &t.plan.tenants_table;
        let _ = writeln!(
            out,
            "tenant: {} = {} (tenants table {}.{})",
            t.plan.column, t.value, tt.schema, tt.name
        );
        let (left_out, whole) = (t.plan.left_out(), t.plan.whole_tables());
        if !left_out.is_empty() {
            let _ = writeln!(out, "left out (no path to the tenant): {}", left_out.join(", "));
        }
        if !whole.is_empty() {
            let _ = writeln!(out, "whole by --whole-table: {}", whole.join(", "));
        }
    }
    for line in plan.redaction.describe() {
        let _ = writeln!(out, "redact: {line}");
    }
    let _ = writeln!(out, "\n{} tables:", plan.tables.len());
    for t in &plan.tables {
        describe_table(&mut out, plan, schema, t);
    }
    for note in &schema.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = writeln!(out, "\n-- the SQLite schema\n{}", mapping::ddl(schema));
    let _ = writeln!(out, "dry run: nothing was exported or written");
    out
}

fn describe_table(out: &mut String, plan: &ExportPlan, schema: &Plan, t: &Table) {
    let rows = t.estimated_rows.map_or("? rows".to_owned(), |n| format!("~{n} rows"));
    let Some(tp) = schema.table(&t.schema, &t.name) else {
        let _ = writeln!(out, "  {} ({rows}): not created in SQLite", t.display_name());
        return;
    };
    let _ = writeln!(
        out,
        "  {} -> {} ({rows}); rows: {}",
        t.display_name(),
        tp.name,
        plan.describe_filter(t)
    );
    for c in &tp.columns {
        let loss =
            c.conversion.possible_loss().map(|l| format!("; may lose: {l}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "      {:<28} {:<28} -> {:<7} {}{loss}",
            c.name,
            c.pg_type,
            c.declared.as_str(),
            c.mapping
        );
    }
    for d in &tp.dropped {
        let _ = writeln!(out, "      {:<28} dropped (tenant column)", d.name);
    }
}

fn dry_run_json(plan: &ExportPlan, schema: &Plan) -> serde_json::Value {
    json!({
        "dry_run": true,
        "database": plan.database,
        "tenant": plan.tenant.as_ref().map(|t| json!({
            "column": t.plan.column, "value": t.value,
            "left_out": t.plan.left_out(), "whole_tables": t.plan.whole_tables(),
        })),
        "tables": plan.tables.iter().map(|t| {
            let tp = schema.table(&t.schema, &t.name);
            json!({
                "table": t.display_name(),
                "sqlite_table": tp.map(|p| p.name.clone()),
                "estimated_rows": t.estimated_rows,
                "rows": plan.describe_filter(t),
                "columns": tp.map(|p| p.columns.iter().map(|c| json!({
                    "column": c.name, "pg_type": c.pg_type, "sqlite_type": c.declared.as_str(),
                    "mapping": c.mapping, "may_lose": c.conversion.possible_loss(),
                })).collect::<Vec<_>>()),
            })
        }).collect::<Vec<_>>(),
        "redaction": plan.redaction.describe(),
        "notes": schema.notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "ddl": mapping::ddl(schema),
    })
}
