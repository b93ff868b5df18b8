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
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::pg::PG_VARS;

/// A `pg2lite` command line waiting to be run.
pub fn pg2lite(args: &[&str]) -> Run {
    Run {
        args: args.iter().map(OsString::from).collect(),
        cwd: None,
        env: Vec::new(),
        timeout: DEFAULT_TIMEOUT,
    }
}

/// How long a run may take before it counts as hung: long enough for a Pagila migrate on a
/// loaded 2-core machine, short enough that a hang fails the test instead of the CI job.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Run {
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
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

    /// Kills the run (and fails the test) when it takes longer than `limit`: a hang is a
    /// defect to report, not a CI job to wait out.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// # Panics
    /// When the binary cannot be started, or the run outlives its timeout (it is killed).
    pub fn run(self) -> Outcome {
        let command = format!("pg2lite {}", shell_words(&self.args));
        let (child, _scratch) = self.spawn();
        let (code, stdout, stderr) = wait_with_timeout(child, self.timeout, &command);
        Outcome { command, code, stdout, stderr }
    }

    /// Starts the binary with piped output; the scratch directory lives as long as the run.
    fn spawn(&self) -> (Child, tempfile::TempDir) {
        let scratch = tempfile::tempdir().expect("a temporary directory for the run");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pg2lite"));
        cmd.args(&self.args).current_dir(self.cwd.as_deref().unwrap_or(scratch.path()));
        for var in PG_VARS {
            cmd.env_remove(var);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run pg2lite: {e}"));
        (child, scratch)
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

/// Waits for `child`, reading its output on threads so a full pipe cannot stall it; kills it
/// and panics once `limit` has passed.
fn wait_with_timeout(
    mut child: Child,
    limit: Duration,
    command: &str,
) -> (Option<i32>, String, String) {
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the run can be waited for") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let (out, err) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
            panic!(
                "{command}\n\nhung: killed after {limit:?}\n--- stdout ---\n{out}\n--- stderr ---\n{err}"
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    (status.code(), out, err)
}

/// Reads a pipe to its end on a thread of its own.
fn reader(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn shell_words(args: &[OsString]) -> String {
    let words: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    words.join(" ")
}
