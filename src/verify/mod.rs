//! `pg2lite verify`: the auditor's offline check of an export directory, in stages as
//! `pg_verifybackup` and BagIt validators run them. It reads the directory and writes nothing.
//!
//! 1. **manifest**: `manifest.json` exists, parses, is `pg2lite-export` of a supported
//!    version, and its `manifest_sha256` holds. A manifest that cannot be parsed ends the
//!    check here, since nothing else can be checked without it.
//! 2. **sums**: `SHA256SUMS` parses, lists exactly the manifest's data files and
//!    `manifest.json`, and agrees with the manifest's checksums and manifest.json's hash.
//! 3. **files**: every listed file exists with the listed size (missing, truncated, size
//!    changed), and no unlisted file is anywhere in the tree (extra file).
//! 4. **checksums** (not with `--fast`): every data file's SHA-256 equals the manifest's.
//! 5. **deep** (`--deep` only): every line is a JSON object whose keys are the table's columns
//!    in order, the line count equals the recorded rows, the file ends with a newline, and
//!    every value fits its column's type (see `values`).
//!
//! With the manifest, `manifest.json.sig` is checked too ([`crate::sign`]): when present it
//! must be an SSHSIG of the manifest's bytes in namespace `pg2lite-export`; with
//! [`VerifyOptions::allowed_signers`] it must also be there and by a key they accept. It is
//! part of the export, never an extra file, though neither list names it.
//!
//! Every stage runs, whatever earlier ones found, and each problem is reported as a typed
//! [`Problem`]. Problems are the *result* (exit 1); [`Error`] is only for a directory that
//! cannot be checked at all (exit 2). Stages 4 and 5 share one streaming pass per file, run in
//! parallel across files, and hold one line in memory at a time.

mod problem;
mod scan;
mod sums;
mod values;

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

pub use problem::{Problem, ProblemKind, Reason};

use crate::fsio;
use crate::model::manifest::{self, MANIFEST_FILE, Manifest, SUMS_FILE, TableEntry};
use crate::progress::Progress;
use crate::report::grouped;
use crate::sign;

/// How far to check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Manifest, SHA256SUMS, file list and sizes; no checksums (`--fast`).
    Fast,
    /// Also every data file's SHA-256 (the default).
    #[default]
    Checksums,
    /// Also every line and value (`--deep`).
    Deep,
}

/// What to verify and how.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The export directory (`migration_data/<id>`).
    pub dir: PathBuf,
    /// How far to check (`--fast`, the default, `--deep`).
    pub level: Level,
    /// Line problems listed per file before the rest are only counted. Default 20.
    pub max_problems_per_file: usize,
    /// Check `manifest.json.sig` against these signers (`--allowed-signers`); without them
    /// a signature is only checked to match the manifest, and its signer is reported unchecked.
    pub allowed_signers: Option<sign::AllowedSigners>,
}

impl VerifyOptions {
    /// Verification of `dir` at the default level, 20 line problems per file, no signer check.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        VerifyOptions {
            dir: dir.into(),
            level: Level::default(),
            max_problems_per_file: 20,
            allowed_signers: None,
        }
    }

    /// Checks the signature against `signers`: a missing or unaccepted one is a problem.
    pub fn with_allowed_signers(mut self, signers: sign::AllowedSigners) -> Self {
        self.allowed_signers = Some(signers);
        self
    }

    /// Checks as far as `level` goes.
    pub fn with_level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Lists at most `max` line problems per file; the rest are only counted
    /// ([`ProblemKind::More`]).
    pub fn with_max_problems_per_file(mut self, max: usize) -> Self {
        self.max_problems_per_file = max;
        self
    }
}

/// The stages, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// `manifest.json`: present, parsed, of this format and version, its seal intact.
    Manifest,
    /// `SHA256SUMS`: parsed, and agreeing with the manifest.
    Sums,
    /// Every listed file present with its listed size, and no unlisted file.
    Files,
    /// Every data file's SHA-256 against the manifest's (not with `--fast`).
    Checksums,
    /// Every line and value of every data file (`--deep` only).
    Deep,
}

/// What verify found. Clean when `problems` is empty.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The export directory verified.
    pub dir: PathBuf,
    /// The level it was verified at.
    pub level: Level,
    /// The stages that ran (fewer when the manifest could not be read).
    pub stages: Vec<Stage>,
    /// Files checked: the data files, `manifest.json` and `SHA256SUMS`.
    pub files: u64,
    /// Rows the manifest records, summed over its tables.
    pub rows: u64,
    /// Bytes of data the manifest records.
    pub bytes: u64,
    /// What is known of `manifest.json.sig` (none when the manifest could not be read).
    pub signature: Option<sign::Status>,
    /// Every problem found; a file's line problems beyond the cap are one
    /// [`ProblemKind::More`].
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    fn empty(opts: &VerifyOptions) -> Self {
        VerifyReport {
            dir: opts.dir.clone(),
            level: opts.level,
            stages: vec![Stage::Manifest],
            files: 0,
            rows: 0,
            bytes: 0,
            signature: None,
            problems: Vec::new(),
        }
    }

    fn count(&mut self, manifest: &Manifest) {
        self.files = manifest.tables.len() as u64 + 2;
        self.rows = manifest.tables.iter().map(|t| t.rows).sum();
        self.bytes = manifest.tables.iter().map(|t| t.bytes).sum();
    }

    /// Whether no problem was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// All problems, counting those a per-file cap left unlisted.
    pub fn problem_count(&self) -> u64 {
        self.problems
            .iter()
            .map(|p| match p.kind {
                ProblemKind::More { count } => count,
                _ => 1,
            })
            .sum()
    }

    /// `verified 22 files, 49,636 rows in 4 stages: 0 problems`, as pg_verifybackup ends.
    pub fn summary(&self) -> String {
        let n = self.problem_count();
        let found = match n {
            0 => "0 problems".to_owned(),
            1 => "1 problem found".to_owned(),
            n => format!("{} problems found", grouped(n)),
        };
        format!(
            "verified {}, {} in {}: {found}",
            plural(self.files, "file"),
            plural(self.rows, "row"),
            plural(self.stages.len() as u64, "stage")
        )
    }
}

fn plural(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", grouped(n), if n == 1 { "" } else { "s" })
}

/// Verify could not do its job at all (exit 2): problems *in* the export are not errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The path does not exist.
    #[error("{path}: no such directory (verify takes an export directory, migration_data/<id>)")]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// The path is not a directory.
    #[error("{path}: not a directory (verify takes an export directory, migration_data/<id>)")]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The directory cannot be listed.
    #[error("{path}: cannot read the directory: {cause}")]
    Unreadable {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        cause: io::Error,
    },
}

/// Verifies the export at `opts.dir`, reporting per-file work to `progress`.
///
/// # Errors
/// [`Error`] when the directory does not exist or cannot be listed. Everything wrong inside
/// it is a [`Problem`] in the report.
pub fn run(opts: &VerifyOptions, progress: &dyn Progress) -> Result<VerifyReport, Error> {
    check_dir(&opts.dir)?;
    let mut report = VerifyReport::empty(opts);
    let Some((manifest, text)) = read_manifest(&opts.dir, &mut report.problems) else {
        return Ok(report);
    };
    report.count(&manifest);
    report.signature = check_signature(opts, &text, &mut report.problems);
    if report.signature.as_ref().is_some_and(|s| *s != sign::Status::Unsigned) {
        report.files += 1;
    }
    if opts.level == Level::Deep {
        report.problems.extend(view_problems(&manifest));
    }
    let files = data_files(&manifest, &mut report.problems);
    report.stages.push(Stage::Sums);
    report.problems.extend(sums::check(&opts.dir, &manifest, &text));
    report.stages.push(Stage::Files);
    let present = check_files(&opts.dir, &files, &mut report.problems)?;
    check_content(opts, &files, &present, progress, &mut report);
    Ok(report)
}

/// The check import and validate make before they read an export: manifest, SHA256SUMS,
/// file list, sizes and every checksum (verify's default level), shown as one `verify` task.
/// Returns each problem's text; empty when the export is intact.
///
/// # Errors
/// As [`run`]: a directory that cannot be checked at all.
pub fn sealed_problems(dir: &Path, progress: &dyn Progress) -> Result<Vec<String>, Error> {
    let task = progress.start("verify", &dir.display().to_string(), None);
    let opts = VerifyOptions::new(dir).with_level(Level::Checksums);
    let report = run(&opts, &crate::progress::Silent)?;
    task.finish(report.rows, report.bytes);
    Ok(report.problems.iter().map(ToString::to_string).collect())
}

/// With `--deep`, what import would refuse in the manifest's objects: a view definition that
/// is not one SELECT (see [`crate::model::objects::ViewDef::parse`]).
fn view_problems(manifest: &Manifest) -> Vec<Problem> {
    let views = manifest.objects.views.iter().chain(&manifest.objects.matviews);
    views
        .filter_map(|v| v.parse().err())
        .map(|e| Problem::new(MANIFEST_FILE, ProblemKind::ManifestInvalid { error: e.to_string() }))
        .collect()
}

fn check_dir(dir: &Path) -> Result<(), Error> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::NotADirectory { path: dir.into() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NotFound { path: dir.into() }),
        Err(source) => Err(Error::Unreadable { path: dir.into(), cause: source }),
    }
}

/// Stage 1. Returns the manifest and its text, or `None` (with the problem recorded) when it
/// cannot be read or parsed. A broken seal is recorded and the check goes on.
fn read_manifest(dir: &Path, problems: &mut Vec<Problem>) -> Option<(Manifest, String)> {
    let path = dir.join(MANIFEST_FILE);
    let kind = match manifest::read_text(dir) {
        Ok(text) => match parse_manifest(&text, &path) {
            Ok(manifest) => {
                problems.extend(seal_problem(&text, &path));
                return Some((manifest, text));
            }
            Err(error) => ProblemKind::ManifestInvalid { error },
        },
        Err(manifest::Error::Read { .. }) => ProblemKind::ManifestMissing,
        Err(manifest::Error::File(e)) => file_problem(e.kind),
        Err(manifest::Error::NotText { .. }) => {
            ProblemKind::ManifestInvalid { error: "not UTF-8 text".into() }
        }
        Err(other) => ProblemKind::ManifestInvalid { error: describe(&other) },
    };
    problems.push(Problem::new(MANIFEST_FILE, kind));
    None
}

/// The problem a file of the export is, when it cannot be read the safe way ([`fsio`]).
pub(crate) fn file_problem(kind: fsio::Kind) -> ProblemKind {
    match kind {
        fsio::Kind::NotFound => ProblemKind::Missing,
        fsio::Kind::NotRegular { what } => ProblemKind::NotAFile { what },
        fsio::Kind::TooLarge { size, limit } => ProblemKind::TooLarge { size, limit },
        other => ProblemKind::Unreadable { error: other.to_string() },
    }
}

fn parse_manifest(text: &str, path: &Path) -> Result<Manifest, String> {
    let manifest = Manifest::parse(text, path).map_err(|e| describe(&e))?;
    if manifest.version == 0 {
        return Err(format!("version 0 is not a version of {}", manifest::FORMAT));
    }
    Ok(manifest)
}

/// A manifest error without the path (the problem names the file).
fn describe(e: &manifest::Error) -> String {
    match e {
        manifest::Error::Parse { cause: source, .. } => {
            format!("not valid JSON of the manifest's format: {source}")
        }
        manifest::Error::Format { found, .. } => format!(
            "not a pg2lite export manifest (format {found:?}, expected {:?})",
            manifest::FORMAT
        ),
        manifest::Error::Version { found, .. } => format!(
            "version {found} is newer than this pg2lite understands ({}); upgrade pg2lite",
            manifest::VERSION
        ),
        other => other.to_string(),
    }
}

fn seal_problem(text: &str, path: &Path) -> Option<Problem> {
    let kind = match manifest::check_seal(text, path) {
        Ok(()) => return None,
        Err(manifest::Error::ChecksumMismatch { recorded, actual, .. }) => {
            ProblemKind::ManifestChecksum { recorded, actual }
        }
        Err(manifest::Error::NoChecksum { .. }) => ProblemKind::ManifestUnsealed,
        Err(other) => ProblemKind::ManifestInvalid { error: describe(&other) },
    };
    Some(Problem::new(MANIFEST_FILE, kind))
}

/// The signature's state, or `None` with the problem recorded when it is refused.
fn check_signature(
    opts: &VerifyOptions,
    text: &str,
    problems: &mut Vec<Problem>,
) -> Option<sign::Status> {
    match sign::check(&opts.dir, text.as_bytes(), opts.allowed_signers.as_ref()) {
        Ok(status) => Some(status),
        Err(refusal) => {
            problems.push(Problem::new(sign::SIG_FILE, ProblemKind::Signature { refusal }));
            None
        }
    }
}

/// A data file the manifest lists, with its table.
struct DataFile<'m> {
    path: &'m str,
    entry: &'m TableEntry,
}

/// The manifest's data files that can be checked: plain relative paths inside the
/// directory. A file named for several tables is reported and checked against the first.
fn data_files<'m>(manifest: &'m Manifest, problems: &mut Vec<Problem>) -> Vec<DataFile<'m>> {
    let mut owners: HashMap<&str, Vec<String>> = HashMap::new();
    for t in &manifest.tables {
        owners.entry(t.file.as_str()).or_default().push(t.table.display_name());
    }
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    for entry in &manifest.tables {
        let path = entry.file.as_str();
        if !fsio::is_plain_relative(path) {
            let table = entry.table.display_name();
            problems.push(Problem::new(path, ProblemKind::UnsafePath { table }));
        } else if seen.insert(path) {
            if owners[path].len() > 1 {
                let tables = owners[path].clone();
                problems.push(Problem::new(path, ProblemKind::ListedTwice { tables }));
            }
            files.push(DataFile { path, entry });
        }
    }
    files
}

/// Whether a listed file could be opened, and whether its size is right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Absent,
    WrongSize,
    Sized,
}

/// Stage 3: sizes of listed files, then files that are not listed.
fn check_files(
    dir: &Path,
    files: &[DataFile],
    problems: &mut Vec<Problem>,
) -> Result<Vec<Presence>, Error> {
    let mut present = Vec::with_capacity(files.len());
    for f in files {
        let (presence, problem) = check_size(dir, f.path, f.entry.bytes);
        present.push(presence);
        problems.extend(problem.map(|kind| Problem::new(f.path, kind)));
    }
    let mut expected: HashSet<&str> = files.iter().map(|f| f.path).collect();
    expected.extend([MANIFEST_FILE, SUMS_FILE, sign::SIG_FILE]);
    problems.extend(extra_files(dir, &expected)?);
    Ok(present)
}

/// The listed file's size against the manifest's, after checking (without following
/// anything) that it is a regular file inside the export.
fn check_size(dir: &Path, rel: &str, expected: u64) -> (Presence, Option<ProblemKind>) {
    let meta = match fsio::inspect(dir, rel) {
        Ok(m) => m,
        Err(e) => return (Presence::Absent, Some(file_problem(e.kind))),
    };
    let size = meta.len();
    match () {
        _ if size < expected => {
            (Presence::WrongSize, Some(ProblemKind::Truncated { size, expected }))
        }
        _ if size > expected => {
            (Presence::WrongSize, Some(ProblemKind::SizeChanged { size, expected }))
        }
        _ => (Presence::Sized, None),
    }
}

/// Every file (or symlink, or other non-directory) under `dir` that is not `expected`,
/// sorted. Subdirectories that cannot be read are problems; the top one is an [`Error`].
fn extra_files(dir: &Path, expected: &HashSet<&str>) -> Result<Vec<Problem>, Error> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    list_tree(dir, "", &mut found, &mut problems)
        .map_err(|source| Error::Unreadable { path: dir.into(), cause: source })?;
    found.retain(|rel| !expected.contains(rel.as_str()));
    found.sort();
    problems.extend(found.into_iter().map(|rel| Problem::new(rel, ProblemKind::Extra)));
    Ok(problems)
}

/// Appends the non-directories under `dir/rel` to `found`, as `/`-separated relative paths.
fn list_tree(
    dir: &Path,
    rel: &str,
    found: &mut Vec<String>,
    problems: &mut Vec<Problem>,
) -> io::Result<()> {
    for entry in std::fs::read_dir(dir.join(rel))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        if !entry.file_type()?.is_dir() {
            found.push(path);
        } else if let Err(e) = list_tree(dir, &path, found, problems) {
            problems.push(Problem::new(path, ProblemKind::Unreadable { error: e.to_string() }));
        }
    }
    Ok(())
}

/// Stages 4 and 5: one pass per file, in parallel; problems in manifest order, checksum
/// problems first.
fn check_content(
    opts: &VerifyOptions,
    files: &[DataFile],
    present: &[Presence],
    progress: &dyn Progress,
    report: &mut VerifyReport,
) {
    if opts.level == Level::Fast {
        return;
    }
    report.stages.push(Stage::Checksums);
    if opts.level == Level::Deep {
        report.stages.push(Stage::Deep);
    }
    let results: Vec<Vec<Problem>> = files
        .par_iter()
        .zip(present)
        .map(|(f, &presence)| check_one(opts, f, presence, progress))
        .collect();
    let (sums, lines): (Vec<_>, Vec<_>) =
        results.into_iter().flatten().partition(|p| matches!(p.kind, ProblemKind::Changed { .. }));
    report.problems.extend(sums);
    report.problems.extend(lines);
}

/// Scans one file: its checksum when its size is right, its lines under `--deep`.
fn check_one(
    opts: &VerifyOptions,
    f: &DataFile,
    presence: Presence,
    progress: &dyn Progress,
) -> Vec<Problem> {
    let deep = opts.level == Level::Deep;
    let hash = presence == Presence::Sized;
    if presence == Presence::Absent || !(hash || deep) {
        return Vec::new();
    }
    let plan = scan::Plan {
        file: f.path,
        entry: f.entry,
        hash,
        deep,
        max_problems: opts.max_problems_per_file,
    };
    let stage = if deep { "verify" } else { "checksum" };
    let task = progress.start(stage, f.path, Some(f.entry.rows));
    let file = match fsio::open(&opts.dir, f.path) {
        Ok(file) => file,
        Err(e) => return vec![Problem::new(f.path, file_problem(e.kind))],
    };
    match scan::scan(file, &plan, task.as_ref()) {
        Ok(scan) => changed(f, scan.sha256).into_iter().chain(scan.problems).collect(),
        Err(e) => vec![Problem::new(f.path, ProblemKind::Unreadable { error: e.to_string() })],
    }
}

fn changed(f: &DataFile, sha256: Option<String>) -> Option<Problem> {
    let actual = sha256?;
    let expected = f.entry.sha256.to_ascii_lowercase();
    (actual != expected).then(|| Problem::new(f.path, ProblemKind::Changed { actual, expected }))
}
