//! `pg2lite validate`: builds validate options (the plan options only when given: the target
//! records the ones import used), prints the report table (or the JSON with `--json`),
//! writes `--report FILE.json`, and exits 0 when every check passed, 1 when one failed or the
//! target was built from another export; any other error exits 2 through main.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use pg2lite::report::ValidationReport;
use pg2lite::validate::{self, PlanFlags, ValidateOptions};

use super::{PlanArgs, Ui, ValidateArgs};

/// Only the plan flags given: the rest is read from the target.
fn plan_flags(plan: &PlanArgs) -> PlanFlags {
    PlanFlags {
        numeric: plan.numeric,
        strict: plan.strict.then_some(true),
        renames: (!plan.rename.is_empty()).then(|| plan.rename.clone()),
        tenancy: plan.tenancy(),
        tenant_table_as: plan.tenant_table_as.clone(),
        datetime: plan.datetime,
    }
}

pub fn run(args: &ValidateArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let opts = options(args)?;
    let report_path =
        args.report.as_deref().map(|p| place_report(&args.from, Some(p))).transpose()?;
    if let Some(source) = &opts.source {
        ui.info(&format!("re-counting rows in {source}"));
    }
    let report = validate::run(&opts, ui).map_err(|e| match e {
        // Not "could not be done": that the file holds another export is the finding.
        e @ validate::Error::OtherExport { .. } => anyhow::Error::new(e),
        e => anyhow::Error::new(e).context("validation could not be done"),
    })?;
    let json = serde_json::to_value(&report).context("cannot render the report as JSON")?;
    if let Some(path) = &report_path {
        write_report(path, &json)?;
        ui.info(&format!("report written to {}", path.display()));
    }
    ui.result(&report.render(), &json)?;
    Ok(exit_code(&report))
}

fn options(args: &ValidateArgs) -> anyhow::Result<ValidateOptions> {
    let mut opts = ValidateOptions::new(&args.from, &args.target);
    opts.flags = plan_flags(&args.plan);
    opts.require_unchanged = args.require_unchanged;
    if args.source.given() {
        opts.source = Some(super::resolve_source(&args.source, false)?);
    }
    anyhow::ensure!(
        opts.source.is_some() || !args.require_unchanged,
        "--require-unchanged needs --source (or -h/-p/-U/-d) to count rows in Postgres"
    );
    Ok(opts)
}

/// 0 when every check passed (or was skipped, with its reason), 1 when one failed.
pub fn exit_code(report: &ValidationReport) -> ExitCode {
    if report.passed { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// Where the JSON report about the export `export` goes: `given`, unless it lies inside the
/// export directory (nothing may ever write there: the file would be an unlisted file that
/// fails `verify` and every later import); by default beside the export, as
/// `<export-id>.validation.json`. Relative paths and `.` are resolved first, so `--from .`
/// run inside the export is caught too.
///
/// # Errors
/// A report path inside the export, or an export directory that cannot be resolved.
pub fn place_report(export: &Path, given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let export = std::fs::canonicalize(export)
        .with_context(|| format!("cannot resolve the export directory {}", export.display()))?;
    let Some(given) = given else {
        let (Some(parent), Some(name)) = (export.parent(), export.file_name()) else {
            anyhow::bail!(
                "the export {} has no parent directory to put the report in; give --report FILE",
                export.display()
            );
        };
        let mut name = name.to_os_string();
        name.push(".validation.json");
        return Ok(parent.join(name));
    };
    let resolved = pg2lite::fsio::resolve(given)
        .with_context(|| format!("cannot resolve the report path {}", given.display()))?;
    anyhow::ensure!(
        !resolved.starts_with(&export),
        "--report {} is inside the export directory {}, which must hold only what export \
         wrote (an extra file there fails verify and every import); choose a path outside it",
        given.display(),
        export.display()
    );
    Ok(resolved)
}

pub fn write_report(path: &Path, json: &serde_json::Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(json).context("cannot render the report")?;
    text.push('\n');
    std::fs::write(path, text)
        .with_context(|| format!("cannot write the report to {}", path.display()))
}
