//! `pg2lite verify`: checks an export directory offline and prints each problem found.

use std::process::ExitCode;

use super::{Ui, VerifyArgs};

pub fn run(_args: &VerifyArgs, _ui: &Ui) -> anyhow::Result<ExitCode> {
    anyhow::bail!("verify is being written")
}
