//! `pg2lite snapshot --hold`: prints the id of a held snapshot as the first line of stdout,
//! then waits for Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context;

use super::{SnapshotArgs, Ui};

pub fn run(args: &SnapshotArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let source = super::resolve_source(&args.source, true)?;
    let rt = pg2lite::pg::runtime().context("cannot start the async runtime")?;
    rt.block_on(pg2lite::pg::snapshot::hold(&source, |id| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{id}");
        let _ = out.flush();
        ui.info(&format!(
            "holding snapshot {id} of {source}; pass --snapshot {id} to export or migrate. \
             Press Ctrl-C (or send SIGTERM) to release it."
        ));
    }))
    .context("cannot hold a snapshot")?;
    ui.info("snapshot released");
    Ok(ExitCode::SUCCESS)
}
