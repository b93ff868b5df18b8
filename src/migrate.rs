//! `pg2lite migrate`: the one module that combines stages. Each stage (export, import,
//! validate) knows nothing of the others; what one stage's result or options mean for the
//! next is decided here, so the library can migrate without the command line.
//!
//! A migration exports and imports at once: the exporter hands each table's lines to the
//! importer as it writes them ([`crate::transform::feed`]), so the data is read from Postgres
//! once and never read back from disk. The export directory is still written and sealed
//! exactly as by `pg2lite export`; should the fed import fail for any reason, the import is
//! redone from those files, as `pg2lite import` would do it.

pub mod each_tenant;

use std::sync::mpsc;

use crate::export::{self, ExportOptions, ExportPlan, ExportSummary};
use crate::import::{self, ImportOptions, ImportSummary};
use crate::mapping::{self, ExportFacts, Plan, SchemaFlags, Strip, Tenancy};
use crate::progress::Progress;
use crate::transform::feed::Feeder;
use crate::validate::{PlanFlags, ValidateOptions};

/// Why a migration stopped, by the stage that stopped it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The catalog cannot be read or the selection is wrong; nothing was exported.
    #[error("cannot plan the migration")]
    Plan(#[source] export::Error),
    /// Writing the export failed.
    #[error("export failed")]
    Export(#[source] export::Error),
    /// The SQLite schema cannot be planned from the catalog; nothing was exported.
    #[error("cannot plan the SQLite schema; nothing was exported")]
    Schema(#[source] mapping::Error),
    /// `--strip-tenancy` was asked for an export of whole tables.
    #[error("--strip-tenancy needs --tenant-column; nothing was exported")]
    NotTenantScoped,
    /// The import failed, fed and then again from the export's files.
    #[error("import failed")]
    Import(#[source] import::Error),
}

/// The export's plan and the SQLite schema import would build from it, planned from the
/// live catalog rather than from a manifest: what `--dry-run` prints, and what a migration
/// checks before a byte is exported (SQLite names that collide, a `--rename` of nothing).
///
/// # Errors
/// [`Error::Plan`] when the catalog cannot be read or the selection is wrong;
/// [`Error::Schema`] or [`Error::NotTenantScoped`] when the schema cannot be planned.
pub fn plan(export: &ExportOptions, schema: &SchemaFlags) -> Result<(ExportPlan, Plan), Error> {
    let plan = export::plan(export).map_err(Error::Plan)?;
    let found = plan
        .tenant
        .as_ref()
        .map(|t| Strip::new(&t.plan.column, Some(t.plan.tenants_table.clone())));
    let facts =
        ExportFacts { tenant: found, objects: plan.objects.clone(), ..ExportFacts::default() };
    let planned = mapping::plan(&plan.tables, schema, &facts).map_err(|e| match e {
        mapping::Error::NotTenantScoped => Error::NotTenantScoped,
        e => Error::Schema(e),
    })?;
    Ok((plan, planned))
}

/// Exports and imports at once (see the module's doc); `import.from` is set to the new
/// export's directory. When the fed import fails, says why through `progress` and imports
/// from the export's files instead.
///
/// # Errors
/// [`Error::Export`] when the export fails (the target is then untouched); [`Error::Import`]
/// when the import from the files fails too.
pub fn export_and_import(
    export: &ExportOptions,
    import: &mut ImportOptions,
    progress: &dyn Progress,
) -> Result<(ExportSummary, ImportSummary), Error> {
    let (tx, rx) = mpsc::sync_channel(4);
    let feeder = Feeder::new(tx);
    let (exported, fed) = std::thread::scope(|s| {
        let opts = &*import;
        let importer = s.spawn(move || import::run_fed(opts, rx, progress));
        let exported = export::run_feeding(export, progress, Some(&feeder));
        drop(feeder);
        (exported, importer.join())
    });
    let exported = exported.map_err(Error::Export)?;
    import.from = exported.dir.clone();
    let imported = match fed {
        Ok(Ok(imported)) => imported,
        Ok(Err(e)) => {
            progress.message(&format!(
                "importing as the export ran did not work ({e}); importing from its files"
            ));
            import::run(import, progress).map_err(Error::Import)?
        }
        Err(_) => {
            progress.message("the import beside the export stopped; importing from its files");
            import::run(import, progress).map_err(Error::Import)?
        }
    };
    Ok((exported, imported))
}

/// Validation of what `import` built, with the same plan options: what the file records
/// then agrees with them, and a file built `--no-meta` needs them.
pub fn validate_options(import: &ImportOptions) -> ValidateOptions {
    let flags = PlanFlags {
        numeric: Some(import.schema.numeric),
        strict: Some(import.schema.strict),
        renames: Some(import.schema.renames.clone()),
        tenancy: (import.schema.tenancy != Tenancy::Auto).then_some(import.schema.tenancy),
        tenant_table_as: import.schema.tenant_table_as.clone(),
        datetime: Some(import.schema.datetime),
    };
    ValidateOptions { flags, ..ValidateOptions::new(&import.from, &import.target) }
}
