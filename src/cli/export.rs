//! `pg2lite export`: builds export options from the arguments and prints the summary.

use std::process::ExitCode;

use super::{ExportArgs, Ui};

pub fn run(_args: &ExportArgs, _ui: &Ui) -> anyhow::Result<ExitCode> {
    anyhow::bail!("export is being written")
}
