//! A real PostgreSQL for the integration tests, never a mock.
//!
//! [`server`] starts one throwaway cluster per test binary the first time a test asks for it
//! (initdb in a temporary directory, a free port on 127.0.0.1, fsync off), or uses the server
//! that `PG2LITE_TEST_URL` names. [`TestDb`] gives each test a database of its own on it, dropped
//! when the test ends. A test that stops its server starts a private one with [`Cluster::start`].
//!
//! Every connection over TCP is trusted except for members of the role `pw_required`, who must
//! give a SCRAM password: [`TestDb::password_role`] makes such a role. When the `openssl` command
//! exists the cluster also speaks TLS with a self-signed certificate ([`Cluster::has_tls`]).
//!
//! Nothing outlives the test binary. A cluster is stopped (`pg_ctl stop -m immediate`) and its
//! directory removed when it is dropped; the shared one, which lives in a static and is never
//! dropped, through `atexit` (libtest leaves through `exit`, pass or fail). And each cluster
//! has a watchdog shell process that does the same once the test process is gone, so that even
//! a killed test run leaves no server behind.
//!
//! As root, every server program runs as the OS user `postgres`, because initdb and postgres
//! refuse to run as root.

use std::env;
use std::ffi::{CString, OsStr};
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use pg2lite::pg::{quote_ident, quote_literal, redact};
use postgres::config::Host;
use tokio_postgres_rustls::MakeRustlsConnect;

const MISSING: &str = "pg2lite tests need PostgreSQL server binaries (initdb, pg_ctl, postgres) \
    on PATH or in /usr/lib/postgresql/*/bin, or PG2LITE_TEST_URL pointing at a server";

/// Variables that would change where a server listens or where psql or pg2lite connects. They
/// are removed from every program the harness runs, so a developer's settings cannot leak in.
pub const PG_VARS: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGCONNECT_TIMEOUT",
    "PGOPTIONS",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSYSCONFDIR",
    "PGPASSFILE",
    "PGDATA",
    "DATABASE_URL",
];

/// The vendored Pagila (tests/fixtures/pagila/README.md).
const PAGILA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pagila");

/// Members of `pw_required` authenticate with SCRAM; everyone else is trusted. The first line
/// that matches wins, so the password lines come first.
const PG_HBA: &str = "\
# pg2lite test cluster: members of pw_required need a SCRAM password, everyone else is trusted.
local all all                           trust
host  all +pw_required 127.0.0.1/32     scram-sha-256
host  all +pw_required ::1/128          scram-sha-256
host  all all          127.0.0.1/32     trust
host  all all          ::1/128          trust
";

/// Stops a cluster and removes its directory once the test process ($1) is gone (or a zombie),
/// or quits when the process itself has removed the directory ($3). /proc is read rather than
/// `kill -0`, which fails with EPERM when the watchdog runs as `postgres` and the test as root.
const WATCHDOG: &str = r#"
alive() {
  if [ -r "/proc/$1/stat" ]; then
    ! grep -q ') Z ' "/proc/$1/stat"
  else
    kill -0 "$1" 2>/dev/null
  fi
}
while alive "$1" && [ -d "$3" ]; do sleep 1; done
"$2" stop -D "$3/data" -m immediate >/dev/null 2>&1
rm -rf "$3"
"#;

/// A PostgreSQL server the tests can use: one this process started (and will stop), or the
/// server of `PG2LITE_TEST_URL`.
pub struct Cluster {
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
    admin_db: String,
    /// `?sslmode=...` and the like from `PG2LITE_TEST_URL`, added to every URL.
    query: String,
    tls: bool,
    local: Option<Local>,
}

/// The part of a cluster this process owns: its programs, directory and OS user.
struct Local {
    bin: PathBuf,
    /// Holds `data/` (the cluster), `server.log` and the Unix socket.
    dir: PathBuf,
    owner: Option<Owner>,
    removed: AtomicBool,
}

/// The OS user that runs the server programs when the tests run as root.
#[derive(Clone, Copy, Debug)]
struct Owner {
    uid: u32,
    gid: u32,
}

static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();

/// The server every [`TestDb`] lives on: started once per test binary, or `PG2LITE_TEST_URL`.
///
/// # Panics
/// When no server can be had, with the same message in every test that asks: which binaries
/// were looked for where, or why the start failed (with the end of the server log).
pub fn server() -> &'static Cluster {
    match SHARED.get_or_init(start_shared) {
        Ok(cluster) => cluster,
        Err(message) => panic!("{message}"),
    }
}

fn start_shared() -> Result<Cluster, String> {
    let started = Instant::now();
    let cluster = match env::var("PG2LITE_TEST_URL") {
        Ok(url) if !url.trim().is_empty() => Cluster::external(url.trim())?,
        _ => {
            let cluster = Cluster::try_start(true)?;
            stop_shared_at_exit();
            cluster
        }
    };
    // Captured by libtest: shown with the output of a failing test.
    eprintln!(
        "pg2lite tests: PostgreSQL at {}:{} ready in {:.2?}{}",
        cluster.host,
        cluster.port,
        started.elapsed(),
        cluster.local.as_ref().map(|l| format!(" ({})", l.dir.display())).unwrap_or_default()
    );
    Ok(cluster)
}

#[allow(unsafe_code)]
fn stop_shared_at_exit() {
    extern "C" fn stop_shared() {
        // Unwinding out of an extern "C" function aborts the process: keep any panic in here.
        let _ = std::panic::catch_unwind(|| {
            if let Some(Ok(Cluster { local: Some(local), .. })) = SHARED.get() {
                local.cleanup();
            }
        });
    }
    // SAFETY: `stop_shared` is a plain function that takes no arguments and never unwinds.
    if unsafe { libc::atexit(stop_shared) } != 0 {
        eprintln!("pg2lite tests: atexit failed; the watchdog will stop the test server");
    }
}

impl Cluster {
    /// Starts a private cluster, stopped and removed when dropped. For tests that stop or
    /// restart their server; everything else should use [`server`].
    ///
    /// # Panics
    /// When the server programs are missing or the cluster cannot start.
    pub fn start() -> Cluster {
        Self::try_start(true).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Cluster::start`], with TLS off whether or not `openssl` exists: a server that
    /// answers an SSL request with "no".
    ///
    /// # Panics
    /// As [`Cluster::start`].
    pub fn start_without_tls() -> Cluster {
        Self::try_start(false).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start(with_tls: bool) -> Result<Cluster, String> {
        let path = env::var_os("PATH");
        let bin = find_bin_dir(path.as_deref(), Path::new("/usr/lib/postgresql")).ok_or(MISSING)?;
        let owner = server_owner()?;
        let local = Local { bin, dir: make_dir(owner)?, owner, removed: AtomicBool::new(false) };
        local.spawn_watchdog();
        local.init()?;
        let tls = with_tls && local.make_certificate();
        let port = local.start_on_free_port()?;
        let cluster = Cluster {
            host: "127.0.0.1".into(),
            port,
            user: "postgres".into(),
            password: None,
            admin_db: "postgres".into(),
            query: String::new(),
            tls,
            local: Some(local),
        };
        cluster.try_client("postgres")?.batch_execute("CREATE ROLE pw_required NOLOGIN").map_err(
            |e| format!("cannot create role pw_required on the test server: {}", describe(&e)),
        )?;
        Ok(cluster)
    }

    /// The server of `PG2LITE_TEST_URL`. It must let the URL's user create databases and
    /// roles; for the password tests its pg_hba.conf needs the `+pw_required` lines of
    /// [`PG_HBA`] before any trust line.
    fn external(url: &str) -> Result<Cluster, String> {
        let shown = redact(url);
        let config = postgres::Config::from_str(url)
            .map_err(|e| format!("PG2LITE_TEST_URL={shown} is not a connection URL: {e}"))?;
        let Some(Host::Tcp(host)) = config.get_hosts().first() else {
            return Err(format!("PG2LITE_TEST_URL={shown} must name a TCP host"));
        };
        let mut cluster = Cluster {
            host: host.clone(),
            port: config.get_ports().first().copied().unwrap_or(5432),
            user: config.get_user().unwrap_or("postgres").to_owned(),
            password: config.get_password().map(|p| String::from_utf8_lossy(p).into_owned()),
            admin_db: config.get_dbname().unwrap_or("postgres").to_owned(),
            query: url.find('?').map(|i| url[i..].to_owned()).unwrap_or_default(),
            tls: false,
            local: None,
        };
        let mut client = cluster.try_client(&cluster.admin_db)?;
        let fail = |e: postgres::Error| format!("PG2LITE_TEST_URL={shown}: {}", describe(&e));
        cluster.tls = client.query_one("SHOW ssl", &[]).map_err(fail)?.get::<_, String>(0) == "on";
        client
            .batch_execute(
                "DO $$ BEGIN CREATE ROLE pw_required NOLOGIN; \
                 EXCEPTION WHEN duplicate_object THEN NULL; END $$",
            )
            .map_err(fail)?;
        Ok(cluster)
    }

    /// `postgresql://USER@HOST:PORT/DB` as the superuser, for psql, pg2lite or a client.
    pub fn url(&self, db: &str) -> String {
        let secret = self.password.as_deref().map(|p| format!(":{}", url_encode(p)));
        self.url_with(&self.user, secret.as_deref().unwrap_or(""), db)
    }

    /// The URL of `db` as another user, with a password.
    pub fn url_as(&self, user: &str, password: &str, db: &str) -> String {
        self.url_with(user, &format!(":{}", url_encode(password)), db)
    }

    fn url_with(&self, user: &str, secret: &str, db: &str) -> String {
        let host =
            if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let (user, db) = (url_encode(user), url_encode(db));
        format!("postgresql://{user}{secret}@{host}:{}/{db}{}", self.port, self.query)
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server accepts TLS (`sslmode=require`).
    pub fn has_tls(&self) -> bool {
        self.tls
    }

    /// Whether this process started the server (false for `PG2LITE_TEST_URL`).
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The directory holding the cluster, its log and socket; `None` for `PG2LITE_TEST_URL`.
    pub fn dir(&self) -> Option<&Path> {
        self.local.as_ref().map(|l| l.dir.as_path())
    }

    /// A new superuser connection to `db`.
    ///
    /// # Panics
    /// When the server refuses, with Postgres' message.
    pub fn client(&self, db: &str) -> postgres::Client {
        self.try_client(db).unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_client(&self, db: &str) -> Result<postgres::Client, String> {
        let url = self.url(db);
        postgres::Client::connect(&url, tls_connector())
            .map_err(|e| format!("cannot connect to {}: {}", redact(&url), describe(&e)))
    }

    /// Stops the server at once (`-m immediate`), as a crash or an outage would.
    ///
    /// # Panics
    /// For the server of `PG2LITE_TEST_URL`, which the tests must not stop.
    pub fn stop(&self) {
        let local = self.local("stop");
        local.pg_ctl(&["stop", "-m", "immediate"]).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts the server again on the same port after [`Cluster::stop`].
    pub fn start_again(&self) {
        self.local("start").start(self.port).unwrap_or_else(|e| panic!("{e}"));
    }

    fn local(&self, what: &str) -> &Local {
        self.local.as_ref().unwrap_or_else(|| {
            panic!("cannot {what} the server of PG2LITE_TEST_URL: use a private Cluster::start()")
        })
    }

    /// psql from the server's own bin directory when it has one, else from PATH.
    fn psql(&self) -> PathBuf {
        self.local
            .as_ref()
            .map(|l| l.bin.join("psql"))
            .filter(|p| is_executable(p))
            .unwrap_or_else(|| "psql".into())
    }
}

impl Local {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A server program, run as the cluster's owner, in the cluster's directory, with no PG*
    /// variables; its output is returned, or an error quoting it.
    fn run(&self, program: &str, args: &[&OsStr]) -> Result<String, String> {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.args(args).current_dir(&self.dir).stdin(Stdio::null());
        as_owner(&mut cmd, self.owner);
        let out = cmd.output().map_err(|e| format!("cannot run {program}: {e}"))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!("{program} {args:?} failed ({}):\n{text}", out.status))
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<String, String> {
        let data = self.data();
        let mut all: Vec<&OsStr> = vec!["-D".as_ref(), data.as_os_str(), "-w".as_ref()];
        all.extend(args.iter().map(OsStr::new));
        self.run("pg_ctl", &all)
    }

    /// Creates the cluster: trust for the superuser `postgres`, the pg_hba.conf above, and
    /// fsync off. Not `synchronous_commit = off`: a test that stops the server with
    /// `-m immediate` must find its committed rows after [`Cluster::start_again`].
    fn init(&self) -> Result<(), String> {
        let data = self.data();
        let args = ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"];
        let mut all: Vec<&OsStr> = vec!["-D".as_ref(), data.as_os_str()];
        all.extend(args.iter().map(OsStr::new));
        self.run("initdb", &all)?;
        write_file(&data.join("pg_hba.conf"), PG_HBA, false)?;
        let socket_dir = self.dir.display().to_string().replace('\'', "''");
        let conf = format!(
            "\n# pg2lite test cluster\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{socket_dir}'\nfsync = off\nmax_connections = 200\n"
        );
        write_file(&data.join("postgresql.conf"), &conf, true)
    }

    /// A self-signed certificate, when `openssl` exists, and `ssl = on`. Returns whether TLS
    /// is on. The key is made by the owner, so the server may read it; its mode must be 0600.
    fn make_certificate(&self) -> bool {
        let Some(openssl) = find_on_path("openssl") else { return false };
        let data = self.data();
        let mut cmd = Command::new(openssl);
        cmd.args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
            .args(["-nodes", "-days", "3650", "-subj", "/CN=localhost"])
            .args(["-keyout", "server.key", "-out", "server.crt"])
            .current_dir(&data)
            .stdin(Stdio::null());
        as_owner(&mut cmd, self.owner);
        let made = cmd.output().map(|o| o.status.success()).unwrap_or(false)
            && fs::set_permissions(data.join("server.key"), fs::Permissions::from_mode(0o600))
                .is_ok();
        if !made {
            eprintln!("pg2lite tests: openssl could not make a certificate; TLS stays off");
            return false;
        }
        let conf = "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";
        write_file(&data.join("postgresql.conf"), conf, true).is_ok()
    }

    /// Starts on a free port; another process may take the port between the probe and the
    /// start, so a port already in use is tried again with another.
    fn start_on_free_port(&self) -> Result<u16, String> {
        let mut attempt = 0;
        loop {
            let port = free_port();
            match self.start(port) {
                Ok(()) => return Ok(port),
                Err(e) if attempt < 4 && e.contains("already in use") => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    fn start(&self, port: u16) -> Result<(), String> {
        let log = self.dir.join("server.log").display().to_string();
        let port = format!("-p {port}");
        self.pg_ctl(&["-t", "60", "-l", &log, "-o", &port, "start"]).map(drop).map_err(|e| {
            let log = fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("the test server did not start: {e}\n--- server.log ---\n{}", tail.join("\n"))
        })
    }

    /// Starts the watchdog: see [`WATCHDOG`]. It runs in a process group of its own, so that
    /// the Ctrl-C that stops `cargo test` does not stop it too.
    fn spawn_watchdog(&self) {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", WATCHDOG, "pg2lite-test-watchdog"])
            .arg(std::process::id().to_string())
            .arg(self.bin.join("pg_ctl"))
            .arg(&self.dir)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        as_owner(&mut cmd, self.owner);
        match cmd.spawn() {
            // Reaped by a thread, so that a finished watchdog does not linger as a zombie.
            Ok(mut child) => drop(std::thread::spawn(move || child.wait())),
            Err(e) => eprintln!("pg2lite tests: no watchdog for {}: {e}", self.dir.display()),
        }
    }

    /// Stops the server and removes the directory, once; errors are ignored because there is
    /// nobody left to tell (this runs in `Drop` and at exit).
    fn cleanup(&self) {
        if self.removed.swap(true, Ordering::SeqCst) {
            return;
        }
        if self.data().join("postmaster.pid").exists() {
            let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// The first directory on `path` that holds initdb, pg_ctl and postgres, else the highest
/// version under `lib_root` (`/usr/lib/postgresql/<version>/bin`, compared as numbers).
pub fn find_bin_dir(path: Option<&OsStr>, lib_root: &Path) -> Option<PathBuf> {
    let complete =
        |dir: &Path| ["initdb", "pg_ctl", "postgres"].iter().all(|n| is_executable(&dir.join(n)));
    if let Some(dir) = path.and_then(|p| env::split_paths(p).find(|d| complete(d))) {
        return Some(dir);
    }
    let mut found: Vec<(Vec<u32>, PathBuf)> = fs::read_dir(lib_root)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            let version: Option<Vec<u32>> = name.split('.').map(|p| p.parse().ok()).collect();
            let bin = entry.path().join("bin");
            Some((version?, bin)).filter(|(_, bin)| complete(bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?).map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A port on 127.0.0.1 that nothing listens on at the moment of asking.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("the loopback interface works");
    listener.local_addr().expect("a bound socket has an address").port()
}

/// Runs a command as `owner` (when the tests run as root), in a clean libpq environment.
fn as_owner(cmd: &mut Command, owner: Option<Owner>) {
    for var in PG_VARS {
        cmd.env_remove(var);
    }
    if let Some(Owner { uid, gid }) = owner {
        cmd.uid(uid).gid(gid);
    }
}

/// `postgres` when running as root (initdb refuses root), else nobody: the tests' own user
/// runs the server. Looked up once, because getpwnam is not thread-safe.
#[allow(unsafe_code)]
fn server_owner() -> Result<Option<Owner>, String> {
    static OWNER: OnceLock<Result<Option<Owner>, String>> = OnceLock::new();
    OWNER
        .get_or_init(|| {
            // SAFETY: geteuid has no preconditions and cannot fail.
            if unsafe { libc::geteuid() } != 0 {
                return Ok(None);
            }
            let name = CString::new("postgres").expect("no NUL in a literal");
            // SAFETY: `name` is a valid C string. The record getpwnam returns is read at once,
            // inside this OnceLock initializer, so no other call can overwrite it meanwhile.
            let pw = unsafe { libc::getpwnam(name.as_ptr()) };
            if pw.is_null() {
                return Err("the tests run as root, so the test server must run as the OS user \
                            `postgres`, and there is none: create it (useradd -r postgres) or \
                            run the tests as another user"
                    .into());
            }
            // SAFETY: checked non-null above; getpwnam returns a valid passwd record.
            let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
            Ok(Some(Owner { uid, gid }))
        })
        .clone()
}

/// A fresh directory under the system temp dir, owned by the server's user.
fn make_dir(owner: Option<Owner>) -> Result<PathBuf, String> {
    let dir = tempfile::Builder::new()
        .prefix("pg2lite-pg-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory for the test server: {e}"))?
        .keep();
    if let Some(Owner { uid, gid }) = owner
        && let Err(e) = std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
    {
        let _ = fs::remove_dir(&dir);
        return Err(format!("cannot give {} to the postgres user: {e}", dir.display()));
    }
    Ok(dir)
}

fn write_file(path: &Path, text: &str, append: bool) -> Result<(), String> {
    fs::OpenOptions::new()
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A connector that accepts the test server's self-signed certificate. With the default
/// `sslmode=prefer` it uses TLS when the server offers it, and plain TCP otherwise.
fn tls_connector() -> MakeRustlsConnect {
    pg2lite::pg::tls::connector(pg2lite::pg::SslMode::Prefer, None)
        .expect("a TLS connector without certificates always builds")
}

/// Postgres' error with its SQLSTATE, detail, hint and position, or the client-side cause.
pub fn describe(e: &postgres::Error) -> String {
    let Some(db) = e.as_db_error() else { return pg2lite::pg::error_detail(e) };
    let mut text = format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code());
    let parts = [("DETAIL", db.detail()), ("HINT", db.hint()), ("CONTEXT", db.where_())];
    for (label, value) in parts {
        if let Some(value) = value {
            text.push_str(&format!("\n{label}: {value}"));
        }
    }
    if let Some(position) = db.position() {
        text.push_str(&format!("\nPOSITION: {position:?}"));
    }
    text
}

/// A database of its own for one test, named `t_<uuid>`, on [`server`]. Dropped (with
/// `WITH (FORCE)`, which ends any session still open on it) when the value is dropped,
/// together with the roles made by [`TestDb::password_role`].
pub struct TestDb {
    name: String,
    /// One session reused by `execute` and `query_strings`, opened on first use.
    session: Mutex<Option<postgres::Client>>,
    roles: Mutex<Vec<String>>,
}

impl TestDb {
    /// # Panics
    /// When the server cannot be had or refuses `CREATE DATABASE`.
    pub fn new() -> TestDb {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        admin_execute(&format!("CREATE DATABASE {}", quote_ident(&name)));
        TestDb { name, session: Mutex::new(None), roles: Mutex::new(Vec::new()) }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `postgresql://postgres@127.0.0.1:PORT/t_...`
    pub fn url(&self) -> String {
        server().url(&self.name)
    }

    /// The URL of this database as `user` with `password` (see [`TestDb::password_role`]).
    pub fn url_as(&self, user: &str, password: &str) -> String {
        server().url_as(user, password, &self.name)
    }

    /// A new superuser connection of the test's own.
    pub fn client(&self) -> postgres::Client {
        server().client(&self.name)
    }

    /// Runs one or more statements (the simple query protocol: no parameters, and several
    /// statements run as one implicit transaction).
    ///
    /// # Panics
    /// When Postgres reports an error: its message, SQLSTATE, detail and hint, then the SQL.
    pub fn execute(&self, sql: &str) {
        if let Err(e) = self.with_session(|client| client.batch_execute(sql)) {
            panic!("SQL failed on {}: {}\n--- SQL ---\n{sql}", self.name, describe(&e));
        }
    }

    /// Every row of the last result, each value in Postgres' text output (NULL as `None`).
    ///
    /// # Panics
    /// As [`TestDb::execute`].
    pub fn query_strings(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let messages = self.with_session(|client| client.simple_query(sql)).unwrap_or_else(|e| {
            panic!("SQL failed on {}: {}\n--- SQL ---\n{sql}", self.name, describe(&e))
        });
        let mut rows = Vec::new();
        for message in messages {
            match message {
                postgres::SimpleQueryMessage::RowDescription(_) => rows.clear(),
                postgres::SimpleQueryMessage::Row(row) => rows.push(
                    (0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect::<Vec<_>>(),
                ),
                _ => {}
            }
        }
        rows
    }

    /// The reused session, opened (again) when there is none or the last one broke.
    fn with_session<T>(&self, f: impl FnOnce(&mut postgres::Client) -> T) -> T {
        let mut slot = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot.as_ref().is_none_or(postgres::Client::is_closed) {
            *slot = Some(self.client());
        }
        f(slot.as_mut().expect("the session was opened just above"))
    }

    /// Creates a login role (`u_<uuid>`) with `password` in `pw_required`, so the server asks
    /// it for that password by SCRAM. It may connect to this database and read nothing yet;
    /// grant it what the test needs. It is dropped with the database.
    pub fn password_role(&self, password: &str) -> String {
        let role = format!("u_{}", uuid::Uuid::new_v4().simple());
        let (ident, secret) = (quote_ident(&role), quote_literal(password));
        admin_execute(&format!("CREATE ROLE {ident} LOGIN PASSWORD {secret} IN ROLE pw_required"));
        self.roles.lock().unwrap_or_else(|p| p.into_inner()).push(role.clone());
        role
    }

    /// Loads the vendored Pagila (schema, then data) with psql.
    ///
    /// # Panics
    /// When a file is missing or psql reports an error.
    pub fn load_pagila(&self) {
        let mut sql = fs::read(format!("{PAGILA}/pagila-schema.sql"))
            .unwrap_or_else(|e| panic!("cannot read {PAGILA}/pagila-schema.sql: {e}"));
        let data = Command::new("gzip")
            .arg("-dc")
            .arg(format!("{PAGILA}/pagila-data.sql.gz"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run gzip: {e}"));
        assert!(data.status.success(), "gzip -dc {PAGILA}/pagila-data.sql.gz: {:?}", data);
        sql.extend_from_slice(&data.stdout);
        self.psql(&["-f", "-"], Some(sql), "the vendored Pagila");
    }

    /// Runs an SQL file with psql, which (unlike a client library) understands
    /// `COPY ... FROM stdin` blocks and backslash commands.
    ///
    /// # Panics
    /// When psql reports an error.
    pub fn psql_file(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        self.psql(&["-f".as_ref(), path.as_os_str()], None, &path.display().to_string());
    }

    fn psql<S: AsRef<OsStr>>(&self, args: &[S], input: Option<Vec<u8>>, what: &str) {
        let mut cmd = Command::new(server().psql());
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &self.url()]).args(args);
        as_owner(&mut cmd, None);
        cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
        // Written by a thread while this one drains psql's output, so that neither side can
        // fill a pipe and wait forever. A write error means psql stopped: its status says why.
        let writer =
            child.stdin.take().zip(input).map(|(mut stdin, input)| {
                std::thread::spawn(move || drop(stdin.write_all(&input)))
            });
        let out = child.wait_with_output().unwrap_or_else(|e| panic!("psql vanished: {e}"));
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        if !out.status.success() {
            panic!(
                "psql could not load {what} into {} ({}):\n{}",
                self.name,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Our own session first, then anything the test left open (FORCE).
        if let Ok(session) = self.session.get_mut() {
            session.take();
        }
        let mut statements =
            vec![format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&self.name))];
        let roles = self.roles.get_mut().unwrap_or_else(|p| p.into_inner());
        statements.extend(roles.iter().map(|r| format!("DROP ROLE IF EXISTS {}", quote_ident(r))));
        let dropped = server().try_client(&server().admin_db).and_then(|mut client| {
            // One statement at a time: DROP DATABASE cannot run in a multi-statement string.
            statements.iter().try_for_each(|sql| {
                client.batch_execute(sql).map_err(|e| format!("{sql}: {}", describe(&e)))
            })
        });
        // Never panic here: this may run while a failed test unwinds.
        if let Err(e) = dropped {
            eprintln!("pg2lite tests: could not drop test database {}: {e}", self.name);
        }
    }
}

/// Runs one statement as the superuser in the server's maintenance database.
fn admin_execute(sql: &str) {
    let cluster = server();
    let mut client = cluster.client(&cluster.admin_db);
    if let Err(e) = client.batch_execute(sql) {
        panic!("SQL failed on the test server: {}\n--- SQL ---\n{sql}", describe(&e));
    }
}
