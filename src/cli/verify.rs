//! `pg2lite verify`: checks an export directory offline and prints each problem found, one
//! `problem: ...` line each, then a summary line; or the whole report with `--json`. Exits 0
//! when clean, 1 when a problem was found; an error (no such directory) exits 2 through main.

use std::fmt::Write as _;
use std::process::ExitCode;

use pg2lite::verify::{self, Level, VerifyOptions, VerifyReport};

use super::{Ui, VerifyArgs};

pub fn run(args: &VerifyArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let level = match (args.fast, args.deep) {
        (true, _) => Level::Fast,
        (_, true) => Level::Deep,
        _ => Level::Checksums,
    };
    let mut opts = VerifyOptions::new(&args.dir).with_level(level);
    if let Some(signers) = super::sign::allowed_signers(args.allowed_signers.as_deref())? {
        opts = opts.with_allowed_signers(signers);
    }
    let report = verify::run(&opts, ui)?;
    ui.result(&human(&report), &json(&report))?;
    Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn human(report: &VerifyReport) -> String {
    let mut text = String::new();
    for p in &report.problems {
        let _ = writeln!(text, "problem: {p}");
    }
    if let Some(status) = &report.signature {
        let _ = writeln!(text, "{}", super::sign::describe(status));
    }
    let _ = writeln!(text, "{}", report.summary());
    text
}

fn json(report: &VerifyReport) -> serde_json::Value {
    let mut value = serde_json::to_value(report).expect("a report always serializes");
    value["problem_count"] = report.problem_count().into();
    value["clean"] = report.is_clean().into();
    value
}
