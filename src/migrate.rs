//! `pg2lite migrate`: the one module that combines stages. Each stage (export, import,
//! validate) knows nothing of the others; what one stage's options mean for the next is
//! decided here.

use crate::import::ImportOptions;
use crate::mapping::Tenancy;
use crate::validate::{PlanFlags, ValidateOptions};

/// Validation of what `import` built, with the same plan options: what the file records
/// then agrees with them, and a file built `--no-meta` needs them.
pub fn validate_options(import: &ImportOptions) -> ValidateOptions {
    let flags = PlanFlags {
        numeric: Some(import.schema.numeric),
        strict: Some(import.schema.strict),
        renames: Some(import.schema.renames.clone()),
        tenancy: (import.tenancy != Tenancy::Auto).then_some(import.tenancy),
        tenant_table_as: import.tenant_table_as.clone(),
    };
    ValidateOptions { flags, ..ValidateOptions::new(&import.from, &import.target) }
}
