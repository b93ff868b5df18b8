//! The `pg2lite` command line: parses arguments, builds each stage's options, draws progress,
//! and maps results to exit codes (0 success, 1 a difference was found, 2 an error). With
//! `--json`, an error is also a JSON object on stdout (`{"error": ..., "exit": 2}`).

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    let json = cli.global.json;
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let text = pg2lite::pg::redact(&message(&err));
            let code = exit_code(&err);
            eprintln!("pg2lite: error: {text}");
            if json {
                print_json_error(&text, code);
            }
            ExitCode::from(code)
        }
    }
}

/// clap's own refusal of the arguments (exit 2), also as a JSON object on stdout when
/// `--json` is among them; `--help` and `--version` print as clap prints them.
fn usage_error(err: &clap::Error) -> ExitCode {
    if err.use_stderr() && std::env::args_os().any(|a| a == "--json") {
        let rendered = err.render().to_string();
        let first = rendered.lines().next().unwrap_or_default();
        print_json_error(first.trim_start_matches("error: "), 2);
    }
    let _ = err.print();
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}

/// `{"error": "...", "exit": 2}` on stdout, so that a caller reading `--json` output always
/// gets a JSON document, whatever happened.
fn print_json_error(text: &str, code: u8) {
    let value = serde_json::json!({ "error": text, "exit": code });
    println!("{value}");
}

/// 2 for an error, unless the error is a finding (validate's target built from another
/// export: 1).
fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<pg2lite::validate::Error>())
        .map_or(2, pg2lite::validate::Error::exit_code)
}

/// The error and its causes, `: `-separated, leaving out a cause whose text the message
/// already holds (library errors often name their cause in their own message).
fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
