//! `migrate --each-tenant`: every tenant's export ([`crate::export::each_tenant`]), then each
//! imported into `<dir>/<name>.db` and validated against its export, as `migrate --tenant`
//! would do for one tenant. Tenants are imported in parallel, one per core; one tenant that fails does not
//! stop the others, and is reported with why.
//!
//! A rerun into the same directory skips a tenant whose export is in place and verifies and
//! whose file records that it was imported from exactly that export (its `_pg2lite_export`
//! row names the manifest's seal); every other tenant is exported (if needed) and imported
//! again.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use crate::export::each_tenant::{self, EachOptions, TenantExport};
use crate::import::{self, ImportOptions};
use crate::progress::{Progress, Silent};
use crate::validate;

/// What an every-tenant migration does.
#[derive(Debug, Clone)]
pub struct EachTenantOptions {
    /// The export; its `out` is the target directory.
    pub export: EachOptions,
    /// How each tenant is imported (`from` and `target` are set per tenant).
    pub import: ImportOptions,
    /// `--skip-validate`.
    pub skip_validate: bool,
}

/// What became of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Exported (or its export reused), imported and validated now.
    Done,
    /// Complete from an earlier run: its export verifies and its file was imported from it.
    Skipped,
    /// Import or validation failed, with why.
    Failed(String),
}

/// One tenant's result.
#[derive(Debug, Clone)]
pub struct TenantResult {
    /// The tenant's export.
    pub export: TenantExport,
    /// Its SQLite file, `<dir>/<name>.db`.
    pub target: PathBuf,
    /// What became of it.
    pub status: Status,
    /// Seconds its import and validation took (0 when skipped).
    pub seconds: f64,
}

/// Every tenant's result, in name order, and the export's facts.
#[derive(Debug)]
pub struct EachTenantSummary {
    /// The snapshot of the tenants exported now.
    pub snapshot: String,
    /// Per tenant.
    pub tenants: Vec<TenantResult>,
    /// Per table, over all tenants exported now.
    pub tables: Vec<crate::export::TableSummary>,
}

impl EachTenantSummary {
    /// How many tenants have `status` (failures counted whatever their reason).
    pub fn count(&self, status: &Status) -> usize {
        let same = |s: &Status| std::mem::discriminant(s) == std::mem::discriminant(status);
        self.tenants.iter().filter(|t| same(&t.status)).count()
    }
}

/// Exports every tenant, then imports and validates each (see the module's doc).
///
/// # Errors
/// Only the export's: a failure of one tenant's import or validation is that tenant's
/// [`Status::Failed`].
pub fn run(
    opts: &EachTenantOptions,
    progress: &dyn Progress,
) -> Result<EachTenantSummary, crate::export::Error> {
    let exported = each_tenant::run(&opts.export, progress)?;
    let total_rows: u64 = exported.tenants.iter().map(|t| t.rows).sum();
    let label = format!("{} tenants", exported.tenants.len());
    let task = Mutex::new(progress.start("import", &label, Some(total_rows)));
    // Plain threads, not rayon's pool: import uses that pool itself, and blocks on it.
    let queue = Mutex::new(exported.tenants.into_iter().enumerate());
    let done = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let next = queue.lock().expect("queue lock").next();
                    let Some((i, t)) = next else { break };
                    let r = one_tenant(opts, t);
                    task.lock().expect("progress lock").add(r.export.rows, r.export.bytes);
                    done.lock().expect("results lock").push((i, r));
                }
            });
        }
    });
    let mut tenants = done.into_inner().expect("results lock");
    tenants.sort_by_key(|(i, _)| *i);
    let tenants: Vec<TenantResult> = tenants.into_iter().map(|(_, r)| r).collect();
    let bytes = tenants.iter().map(|t| t.export.bytes).sum();
    task.into_inner().expect("progress lock").finish(total_rows, bytes);
    Ok(EachTenantSummary { snapshot: exported.snapshot, tenants, tables: exported.tables })
}

fn one_tenant(opts: &EachTenantOptions, export: TenantExport) -> TenantResult {
    let target = opts.export.export.out.join(format!("{}.db", export.tenant.name));
    let started = Instant::now();
    let status = if export.reused && imported_from(&export, &target) {
        Status::Skipped
    } else {
        match import_and_validate(opts, &export, &target) {
            Ok(()) => Status::Done,
            Err(why) => Status::Failed(why),
        }
    };
    let seconds = if status == Status::Skipped { 0.0 } else { started.elapsed().as_secs_f64() };
    TenantResult { export, target, status, seconds }
}

/// Whether `target` records that it was imported from exactly this export.
fn imported_from(export: &TenantExport, target: &std::path::Path) -> bool {
    let Ok(m) = crate::model::manifest::Manifest::load(&export.dir) else { return false };
    crate::sqlite::meta::imported_manifest(target).is_some_and(|sha| sha == m.manifest_sha256)
}

fn import_and_validate(
    opts: &EachTenantOptions,
    export: &TenantExport,
    target: &std::path::Path,
) -> Result<(), String> {
    let mut import = opts.import.clone();
    import.from = export.dir.clone();
    import.target = target.to_owned();
    import.replace = true;
    import::run(&import, &Silent).map_err(|e| format!("import failed: {}", chain(&e)))?;
    if opts.skip_validate {
        return Ok(());
    }
    let report = validate::run(&super::validate_options(&import), &Silent)
        .map_err(|e| format!("validation could not be done: {}", chain(&e)))?;
    if report.passed {
        Ok(())
    } else {
        Err(format!("validation found {} difference(s)", report.failures()))
    }
}

/// An error with its causes, as `{:#}` prints an anyhow chain.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
