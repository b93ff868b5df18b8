//! What the every-tenant tests (tests/each_tenant.rs) share: the multi-tenant fixture at a
//! chosen size, its tenants as Postgres names them, and reading what a run left in its
//! directory (per-tenant files, manifests, the JSON report).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::cli::{Outcome, pg2lite};
use super::pg::TestDb;

/// One tenant of tests/fixtures/tenants.sql: user `n`, its key (a uuid) and e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub n: u32,
    pub key: String,
    pub email: String,
}

/// A new database holding tests/fixtures/tenants.sql with `-v users=USERS`. psql gets the
/// variable from a two-line wrapper (`\set`, then `\i` the fixture), because the harness
/// runs files, not command lines; the wrapper's directory is opened to the server's OS user.
pub fn tenants_db(users: u32) -> TestDb {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tenants.sql");
    let wrapper = dir.path().join("tenants.sql");
    fs::write(&wrapper, format!("\\set users {users}\n\\i '{}'\n", fixture.display())).unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o644)).unwrap();
    db.psql_file(&wrapper);
    db
}

/// Every tenant, in user order, as Postgres spells them (the oracle, not a Rust md5).
pub fn tenants(db: &TestDb) -> Vec<Tenant> {
    db.query_strings("SELECT (row_number() OVER (ORDER BY created_at))::text, id::text, email FROM users ORDER BY created_at")
        .into_iter()
        .map(|r| Tenant {
            n: r[0].as_deref().unwrap().parse().unwrap(),
            key: r[1].clone().unwrap(),
            email: r[2].clone().unwrap(),
        })
        .collect()
}

/// `pg2lite migrate --source URL --tenant-column user_id --each-tenant --target-dir DIR
/// EXTRA...`, run to its end.
pub fn migrate_each(db: &TestDb, dir: &Path, extra: &[&str]) -> Outcome {
    migrate_each_command(db, dir, extra).run()
}

/// The same command line, not yet run (for a test that adds to it).
pub fn migrate_each_command(db: &TestDb, dir: &Path, extra: &[&str]) -> super::cli::Run {
    let mut args = vec!["migrate", "--tenant-column", "user_id", "--each-tenant", "--yes"];
    args.extend_from_slice(extra);
    pg2lite(&args).arg("--source").arg(db.url()).arg("--target-dir").arg(dir)
}

/// The names of `dir`'s entries that are not dot-named, sorted.
fn visible(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    out.sort();
    out
}

/// The tenant names of the finished `.db` files in `dir` (`<name>.db`, not `.db.partial`).
pub fn db_names(dir: &Path) -> Vec<String> {
    visible(dir)
        .into_iter()
        .filter(|(_, p)| p.is_file())
        .filter_map(|(name, _)| name.strip_suffix(".db").map(str::to_owned))
        .collect()
}

/// The tenant names of the export directories in `dir` (visible directories).
pub fn export_names(dir: &Path) -> Vec<String> {
    visible(dir).into_iter().filter(|(_, p)| p.is_dir()).map(|(name, _)| name).collect()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(files_under(&path)) } else { out.push(path) }
    }
    out
}

/// An export directory's manifest.json, parsed.
pub fn manifest(export: &Path) -> serde_json::Value {
    let path = export.join("manifest.json");
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Per table file of an export (`tables/public.x.ndjson`): its sha256 and rows, from the
/// manifest.
pub fn table_sums(export: &Path) -> BTreeMap<String, (String, u64)> {
    let m = manifest(export);
    m["tables"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no tables in the manifest", export.display()))
        .iter()
        .map(|t| {
            let file = t["file"].as_str().unwrap().to_owned();
            (file, (t["sha256"].as_str().unwrap().to_owned(), t["rows"].as_u64().unwrap()))
        })
        .collect()
}

/// Rows per table name (`clients`, ...) of an export, from its manifest.
pub fn table_rows(export: &Path) -> BTreeMap<String, u64> {
    manifest(export)["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_owned(), t["rows"].as_u64().unwrap()))
        .collect()
}

/// `sqlite3 DB .dump`, its lines sorted, without the rows of the `_pg2lite_*` meta tables
/// (they hold export ids and times, which differ between any two runs).
pub fn sorted_dump(db: &Path) -> Vec<String> {
    let text = super::sqlite::dump(db);
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| {
            let rest = l.strip_prefix("INSERT INTO ").unwrap_or("");
            !(rest.starts_with("_pg2lite_") || rest.starts_with("\"_pg2lite_"))
        })
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// The JSON report a run printed with `--json`.
///
/// # Panics
/// When stdout is not one JSON document, printing the run.
pub fn report(out: &Outcome) -> serde_json::Value {
    serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("--json printed no JSON report ({e}):\n{out}"))
}

/// The only export directory under an `export --out` directory.
pub fn only_export(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    assert_eq!(dirs.len(), 1, "expected one export in {}: {dirs:?}", out.display());
    dirs.into_iter().next().unwrap()
}
