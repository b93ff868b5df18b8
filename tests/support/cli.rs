//! Runs the built `pg2lite` binary as a user would, and checks its exit code and output.
//!
//! The libpq variables and `DATABASE_URL` of the developer's shell are removed, so that a test
//! sees only what it sets with [`Run::env`]. Stdin is empty (not a terminal), and the working
//! directory is the one given with [`Run::cwd`], or else a fresh temporary directory.
//!
//! ```ignore
//! let got = pg2lite(&["verify", "export"]).cwd(dir.path()).assert_code(1);
//! assert!(got.stderr.contains("missing"), "{got}");
//! ```

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::pg::PG_VARS;

/// A `pg2lite` command line waiting to be run.
pub fn pg2lite(args: &[&str]) -> Run {
    Run { args: args.iter().map(OsString::from).collect(), cwd: None, env: Vec::new() }
}

pub struct Run {
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
}

/// What a run did.
pub struct Outcome {
    /// The command line, for messages.
    pub command: String,
    /// `None` when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Appends an argument that is not UTF-8 or not at hand as `&str` (a path).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets a variable; this is the only way a PG* variable or DATABASE_URL reaches the run.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.into(), value.as_ref().to_owned()));
        self
    }

    /// # Panics
    /// When the binary cannot be started.
    pub fn run(self) -> Outcome {
        let scratch = tempfile::tempdir().expect("a temporary directory for the run");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pg2lite"));
        cmd.args(&self.args).current_dir(self.cwd.as_deref().unwrap_or(scratch.path()));
        for var in PG_VARS {
            cmd.env_remove(var);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
        let out = cmd.output().unwrap_or_else(|e| panic!("cannot run pg2lite: {e}"));
        Outcome {
            command: format!("pg2lite {}", shell_words(&self.args)),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and checks the exit code in one step; see [`Outcome::assert_code`].
    pub fn assert_code(self, code: i32) -> Outcome {
        self.run().assert_code(code)
    }
}

impl Outcome {
    /// # Panics
    /// When the exit code differs, printing the expected and the got code, stdout and stderr.
    pub fn assert_code(self, code: i32) -> Self {
        if self.code != Some(code) {
            panic!("\n{}\n\nexpected: exit code {code}\n\ngot:\n{self}", self.command);
        }
        self
    }

    /// # Panics
    /// When stderr does not contain `needle`, printing the whole outcome.
    pub fn assert_stderr_contains(self, needle: &str) -> Self {
        if !self.stderr.contains(needle) {
            panic!("\n{}\n\nexpected stderr to contain:\n{needle}\n\ngot:\n{self}", self.command);
        }
        self
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code.map_or("none (killed by a signal)".into(), |c| c.to_string());
        writeln!(f, "exit code {code}")?;
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}\n---", self.stderr.trim_end())
    }
}

fn shell_words(args: &[OsString]) -> String {
    let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    words.join(" ")
}
