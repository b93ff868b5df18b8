//! Connections to the source database: where the settings come from (a URL or key=value string,
//! `DATABASE_URL`, the libpq `PG*` variables), TLS, errors a person can act on, the session
//! settings that make exports reproducible, and quoting.
//!
//! A password is read here and never leaves this module in printable form: [`Source`] displays
//! itself without it, and [`redact`] scrubs any connection string before it is shown.

pub mod catalog;
pub mod filter;
pub mod libpq;
pub mod objects;
pub mod snapshot;
pub mod tls;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Errors from reaching or talking to Postgres. Each message names the server (never the
/// password) and says what to try.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The signal handlers that end `snapshot --hold` could not be installed.
    #[error("cannot wait for Ctrl-C or SIGTERM: {0}")]
    Signal(std::io::Error),
    /// The connection string cannot be parsed.
    #[error("invalid connection string: {reason} (expected postgresql://user@host:port/dbname)")]
    InvalidUrl {
        /// What the parser objected to, with any password scrubbed.
        reason: String,
    },
    /// No connection string, `DATABASE_URL`, `PGHOST` or `PGDATABASE` was given.
    #[error("no source database: give --source URL or set DATABASE_URL or PGHOST/PGDATABASE")]
    NoSource,
    /// An `sslmode` that libpq does not know; holds it.
    #[error("unknown sslmode {0:?}: use disable, prefer, require, verify-ca or verify-full")]
    SslMode(String),
    /// The TLS client could not be built (an unreadable `sslrootcert`, bad root certificates);
    /// holds why.
    #[error("could not set up TLS: {0}")]
    Tls(String),
    /// Nothing listens at the server's address.
    #[error(
        "cannot reach {source_name}: connection refused; is PostgreSQL running and listening there?"
    )]
    Refused {
        /// The server, `postgresql://user@host:port/db`.
        source_name: String,
    },
    /// The host cannot be resolved or reached, or the attempt timed out.
    #[error("cannot reach {source_name}: {detail}; check the host name and port")]
    Unreachable {
        /// The server, `postgresql://user@host:port/db`.
        source_name: String,
        /// The resolver's or socket's message.
        detail: String,
    },
    /// The server refused the user's credentials (SQLSTATE 28P01 or 28000), or asked for a password
    /// none was given for.
    #[error(
        "authentication failed for user {user:?} on {source_name}: {detail}; check the password \
         (in the URL, PGPASSWORD or ~/.pgpass; -W asks for it on a terminal) and the user name"
    )]
    Auth {
        /// The server, `postgresql://user@host:port/db`.
        source_name: String,
        /// The user connected as.
        user: String,
        /// Postgres' message, or that no password was given (see [`Error::is_password_missing`]).
        detail: String,
    },
    /// The database does not exist on the server (SQLSTATE 3D000).
    #[error("database {database:?} does not exist on {source_name}; check the database name")]
    NoDatabase {
        /// The server, `postgresql://user@host:port/db`.
        source_name: String,
        /// The database asked for.
        database: String,
    },
    /// The server does not speak TLS, but the sslmode requires it.
    #[error(
        "{source_name} does not accept TLS (it answered that it does not support SSL), but \
         sslmode={mode} requires it; turn on ssl in the server's postgresql.conf, or use \
         sslmode=prefer (or disable) if an unencrypted connection is acceptable"
    )]
    NoTlsOnServer {
        /// The server, `postgresql://user@host:port/db`.
        source_name: String,
        /// The sslmode in force (`require`, `verify-ca`, `verify-full`).
        mode: &'static str,
    },
    /// With `sslmode=disable`, the server's pg_hba.conf admits this client only over TLS.
    #[error(
        "{source_name} refused a connection without TLS ({detail}); use sslmode=require (or \
         prefer, the default) instead of sslmode=disable"
    )]
    TlsRequired {
        /// The server, `postgresql://user@host:port/db`.
        source_name: String,
        /// Postgres' message.
        detail: String,
    },
    /// The TLS handshake failed (most often the server's certificate did not verify).
    #[error(
        "the TLS handshake with {source_name} failed under sslmode={mode}: {detail}; with \
         verify-ca or verify-full give the server's CA certificate with sslrootcert=FILE, or \
         use sslmode=require to encrypt without checking the certificate"
    )]
    TlsRefused {
        /// The server, `postgresql://user@host:port/db`.
        source_name: String,
        /// The sslmode in force.
        mode: &'static str,
        /// The TLS library's message.
        detail: String,
    },
    /// Any other failure to connect, or to start the runtime for one.
    #[error("could not connect to {source_name}: {detail}")]
    Connect {
        /// The server, `postgresql://user@host:port/db`.
        source_name: String,
        /// Postgres' or the socket's message, password scrubbed.
        detail: String,
    },
    /// A query failed on an open connection ([`Source::query_error`]).
    #[error("query failed on {source_name}: {detail}")]
    Query {
        /// The server, `postgresql://user@host:port/db`.
        source_name: String,
        /// Postgres' message with its detail and hint, password scrubbed.
        detail: String,
    },
    /// A `service=` name could not be read from the service files.
    #[error(transparent)]
    Service(#[from] libpq::ServiceError),
}

/// What the server says when it wants a password and none was given (see [`Error::Auth`]).
const NO_PASSWORD: &str = "the server asks for a password and none was given";

impl Error {
    /// Whether the server asked for a password and none was given: the one failure a
    /// password prompt can mend.
    pub fn is_password_missing(&self) -> bool {
        matches!(self, Error::Auth { detail, .. } if detail == NO_PASSWORD)
    }
}

/// A result whose error is the connection's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// TLS policy, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, else plain (libpq's default).
    Prefer,
    /// TLS always; the certificate is checked only when `sslrootcert` is given, as libpq does.
    Require,
    /// TLS always, the certificate checked against `sslrootcert` (Mozilla's roots without one).
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling (`allow` is read as `prefer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => return Err(Error::SslMode(other.to_owned())),
        })
    }
}

/// A resolved source database: everything needed to connect, displayable without secrets.
#[derive(Clone)]
pub struct Source {
    config: Config,
    ssl: SslMode,
    root_cert: Option<String>,
    warnings: Vec<String>,
}

/// Settings given apart from the connection string, as psql's and pg_dump's `-h -p -U -d`:
/// they win over the string's own parts.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `-h`: host name or socket directory.
    pub host: Option<String>,
    /// `-p`: TCP port.
    pub port: Option<u16>,
    /// `-U`: user name.
    pub user: Option<String>,
    /// `-d`: database name.
    pub dbname: Option<String>,
}

impl Overrides {
    fn is_empty(&self) -> bool {
        self.host.is_none() && self.port.is_none() && self.user.is_none() && self.dbname.is_none()
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Source({self})")
    }
}

impl fmt::Display for Source {
    /// `postgresql://user@host:port/dbname`, never with the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "postgresql://{}@{}:{}/{}",
            self.user(),
            self.host(),
            self.port(),
            self.database()
        )
    }
}

impl Source {
    /// Resolves a source the way psql does: the connection string (URL or `key=value` form)
    /// first, then the `PG*` variables in `env` for whatever it leaves out, then libpq's
    /// defaults. `env` is passed in so that the library never reads the process environment.
    ///
    /// # Errors
    /// As [`Source::resolve_with`].
    pub fn resolve(conn: Option<&str>, env: &HashMap<String, String>) -> Result<Self> {
        Self::resolve_with(conn, &Overrides::default(), env)
    }

    /// Resolves a source as libpq does, from most to least binding: `over` (psql's `-h -p -U
    /// -d`), the connection string, the service it or `PGSERVICE` names (from
    /// `pg_service.conf`), the `PG*` variables in `env`, libpq's defaults. Without a
    /// password from any of those, the password file (`PGPASSFILE`, `~/.pgpass`) is read;
    /// a password file that is ignored leaves a warning in [`Source::warnings`].
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] or [`Error::SslMode`] when the string cannot be understood,
    /// [`Error::Service`] for a service that cannot be read, and [`Error::NoSource`] when
    /// nothing names a server.
    pub fn resolve_with(
        conn: Option<&str>,
        over: &Overrides,
        env: &HashMap<String, String>,
    ) -> Result<Self> {
        let env_var = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
        let (stripped, params) = split_tls_params(conn.unwrap_or(""));
        let service_name = params.get("service").cloned().or_else(|| env_var("PGSERVICE"));
        if conn.is_none()
            && over.is_empty()
            && service_name.is_none()
            && env_var("PGHOST").is_none()
            && env_var("PGDATABASE").is_none()
        {
            return Err(Error::NoSource);
        }
        let service = match &service_name {
            Some(name) => libpq::service_settings(name, &env_var)?,
            None => HashMap::new(),
        };
        let (stripped, conn_host, conn_port) = if over.host.is_some() || over.port.is_some() {
            strip_host_port(&stripped)
        } else {
            (stripped, None, None)
        };
        let given_host = over.host.clone().or(conn_host);
        let given_port = over.port.map(|p| p.to_string()).or(conn_port);
        let var = |k: &str| -> Option<String> {
            let given = match k {
                "PGHOST" => given_host.clone(),
                "PGPORT" => given_port.clone(),
                _ => None,
            };
            given
                .or_else(|| service_key(k).and_then(|s| service.get(s)).cloned())
                .filter(|v| !v.is_empty())
                .or_else(|| env_var(k))
        };
        let stripped = fill_host_and_port(&stripped, &var);
        let mut config: Config = if stripped.trim().is_empty() {
            Config::new()
        } else {
            stripped.parse().map_err(|e: tokio_postgres::Error| Error::InvalidUrl {
                reason: parse_reason(&e),
            })?
        };
        if let Some(user) = &over.user {
            config.user(user);
        }
        if let Some(dbname) = &over.dbname {
            config.dbname(dbname);
        }
        apply_env_defaults(&mut config, &var);
        if config.get_connect_timeout().is_none() {
            let secs = var("PGCONNECT_TIMEOUT").and_then(|s| s.parse().ok()).unwrap_or(10);
            config.connect_timeout(Duration::from_secs(secs));
        }
        config.application_name("pg2lite");
        let ssl = match params.get("sslmode").cloned().or_else(|| var("PGSSLMODE")) {
            Some(mode) => SslMode::parse(&mode)?,
            None => SslMode::Prefer,
        };
        config.ssl_mode(match ssl {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            _ => PgSslMode::Require,
        });
        let root_cert = params.get("sslrootcert").cloned().or_else(|| var("PGSSLROOTCERT"));
        let mut source = Source { config, ssl, root_cert, warnings: Vec::new() };
        if source.config.get_password().is_none() {
            let passfile = params.get("passfile").cloned().or_else(|| var("PGPASSFILE"));
            source.read_pass_file(passfile.as_deref(), &env_var);
        }
        Ok(source)
    }

    /// Takes the password from the password file, when it has one for this connection.
    fn read_pass_file(&mut self, passfile: Option<&str>, var: &impl Fn(&str) -> Option<String>) {
        let Some(path) = libpq::pass_file_path(passfile, var) else {
            return;
        };
        let (host, port) = (self.host(), self.port());
        let user = self.user().to_owned();
        let key = libpq::PassKey { host: &host, port, database: self.database(), user: &user };
        let (password, warning) = libpq::pass_file_password(&path, &key);
        self.warnings.extend(warning);
        if let Some(password) = password {
            self.config.password(password);
        }
    }

    /// What the user should hear about how the source was resolved (an ignored password
    /// file), for the command line to print.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether a password is known (given, or found in the password file).
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }

    /// The same source with a password, one typed at a prompt.
    pub fn with_password(&self, password: &str) -> Source {
        let mut other = self.clone();
        other.config.password(password);
        other
    }

    /// Connects once to learn whether the server asks for a password that is not known:
    /// `Ok(true)` then, `Ok(false)` when the connection succeeds.
    ///
    /// # Errors
    /// Any other failure to connect, as [`Source::connect`] gives it.
    pub fn asks_for_password(&self) -> Result<bool> {
        let runtime = runtime()
            .map_err(|e| Error::Connect { source_name: self.to_string(), detail: e.to_string() })?;
        match runtime.block_on(self.connect()) {
            Ok(_) => Ok(false),
            Err(e) if e.is_password_missing() => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// The first host, or its socket directory; `localhost` when none is set.
    pub fn host(&self) -> String {
        match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        }
    }

    /// The first port; 5432 when none is set.
    pub fn port(&self) -> u16 {
        self.config.get_ports().first().copied().unwrap_or(5432)
    }

    /// The user to connect as; `postgres` when none is set.
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("postgres")
    }

    /// The database to connect to; the user's name when none is set, as libpq does.
    pub fn database(&self) -> &str {
        self.config.get_dbname().unwrap_or_else(|| self.user())
    }

    /// The same server with another database, for tools that need `postgres` or a sibling.
    pub fn with_database(&self, dbname: &str) -> Source {
        let mut other = self.clone();
        other.config.dbname(dbname);
        other
    }

    /// Opens a connection and applies the reproducible session settings ([`SESSION_SETTINGS`]).
    /// The connection task is spawned on the current tokio runtime.
    ///
    /// # Errors
    /// A variant of [`Error`] naming the cause: refused, unreachable, authentication, missing
    /// database, TLS.
    pub async fn connect(&self) -> Result<Client> {
        let tls = self.tls_connector()?;
        let (client, connection) =
            self.config.connect(tls).await.map_err(|e| self.connect_error(&e))?;
        tokio::spawn(async move {
            // Errors surface through the client's next call; nothing to do with them here.
            let _ = connection.await;
        });
        client.batch_execute(SESSION_SETTINGS).await.map_err(|e| self.query_error(&e))?;
        Ok(client)
    }

    fn tls_connector(&self) -> Result<MakeRustlsConnect> {
        tls::connector(self.ssl, self.root_cert.as_deref())
    }

    /// Turns a failed connection attempt into the error a person can act on.
    fn connect_error(&self, e: &tokio_postgres::Error) -> Error {
        let source_name = self.to_string();
        let detail = redact(&error_detail(e));
        if let Some(db) = e.as_db_error() {
            return match db.code().code() {
                // pg_hba.conf allows only `hostssl` for this client: Postgres says
                // "no pg_hba.conf entry for host ..., no encryption".
                "28000" if self.ssl == SslMode::Disable && detail.contains("no encryption") => {
                    Error::TlsRequired { source_name, detail }
                }
                "28P01" | "28000" => {
                    Error::Auth { source_name, user: self.user().to_owned(), detail }
                }
                "3D000" => Error::NoDatabase { source_name, database: self.database().to_owned() },
                _ => Error::Connect { source_name, detail },
            };
        }
        let lower = detail.to_lowercase();
        if lower.contains("password missing") {
            return Error::Auth {
                source_name,
                user: self.user().to_owned(),
                detail: NO_PASSWORD.into(),
            };
        }
        if lower.contains("connection refused") {
            return Error::Refused { source_name };
        }
        if lower.contains("server does not support tls") {
            return Error::NoTlsOnServer { source_name, mode: self.ssl.as_str() };
        }
        if lower.contains("tls") || lower.contains("ssl") {
            return Error::TlsRefused { source_name, mode: self.ssl.as_str(), detail };
        }
        if lower.contains("timed out")
            || lower.contains("timeout")
            || lower.contains("resolve")
            // std's DNS errors: "failed to lookup address information: <gai_strerror>", which
            // is "Temporary failure in name resolution" when no DNS server answers.
            || lower.contains("lookup address")
            || lower.contains("name or service")
            || lower.contains("no route")
            || lower.contains("unreachable")
            || lower.contains("no such file")
        {
            return Error::Unreachable { source_name, detail };
        }
        Error::Connect { source_name, detail }
    }

    /// Wraps a failed query with the server's name and Postgres' own message.
    pub fn query_error(&self, e: &tokio_postgres::Error) -> Error {
        Error::Query { source_name: self.to_string(), detail: redact(&error_detail(e)) }
    }
}

/// The settings every export session runs with, so that text output is the same whoever runs
/// it, and physical row order is not perturbed by synchronized or parallel scans.
pub const SESSION_SETTINGS: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; \
    SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3; SET search_path = ''; \
    SET synchronize_seqscans = off; SET max_parallel_workers_per_gather = 0; \
    SET statement_timeout = 0; SET bytea_output = 'hex'; SET client_encoding = 'UTF8'";

/// Why tokio-postgres could not parse a connection string: its causes ("invalid value for
/// option `port`"), without its own "invalid connection string", which our message says.
fn parse_reason(e: &tokio_postgres::Error) -> String {
    let mut causes = Vec::new();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        causes.push(c.to_string());
        cause = c.source();
    }
    if causes.is_empty() {
        causes.push(e.to_string());
    }
    redact(&causes.join(": "))
}

/// Postgres' message with its detail and hint, or the I/O cause for a broken connection.
pub fn error_detail(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = db.message().to_owned();
        if let Some(d) = db.detail() {
            s.push_str(": ");
            s.push_str(d);
        }
        if let Some(h) = db.hint() {
            s.push_str(" (hint: ");
            s.push_str(h);
            s.push(')');
        }
        return s;
    }
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

fn apply_env_defaults(config: &mut Config, var: &impl Fn(&str) -> Option<String>) {
    if config.get_hosts().is_empty() {
        let host = var("PGHOST").unwrap_or_else(|| default_host(config, var));
        config.host(host);
    }
    if config.get_ports().is_empty()
        && let Some(p) = var("PGPORT").and_then(|p| p.parse().ok())
    {
        config.port(p);
    }
    if config.get_user().is_none() {
        let user = var("PGUSER").or_else(|| var("USER")).unwrap_or_else(|| "postgres".into());
        config.user(&user);
    }
    if config.get_password().is_none()
        && let Some(p) = var("PGPASSWORD")
    {
        config.password(p);
    }
    if config.get_dbname().is_none()
        && let Some(d) = var("PGDATABASE")
    {
        config.dbname(&d);
    }
}

/// The connection-string key a service file uses for a `PG*` variable.
fn service_key(var: &str) -> Option<&'static str> {
    Some(match var {
        "PGHOST" => "host",
        "PGPORT" => "port",
        "PGUSER" => "user",
        "PGPASSWORD" => "password",
        "PGDATABASE" => "dbname",
        "PGSSLMODE" => "sslmode",
        "PGSSLROOTCERT" => "sslrootcert",
        "PGCONNECT_TIMEOUT" => "connect_timeout",
        "PGPASSFILE" => "passfile",
        _ => return None,
    })
}

/// A `postgresql://` URL cut where host and port are: `scheme` (`postgresql://`), `userinfo`
/// (`user:pw@` or empty), `hostport` (`host:port`, `[::1]:5432`, or empty) and `tail` (from the
/// first `/` or `?` on). The one place both `-h`/`-p` and `PGHOST`/`PGPORT` find the host.
struct UrlParts<'a> {
    scheme: &'a str,
    userinfo: &'a str,
    hostport: &'a str,
    tail: &'a str,
}

impl<'a> UrlParts<'a> {
    /// `None` for a key=value string.
    fn split(conn: &'a str) -> Option<UrlParts<'a>> {
        let rest =
            conn.strip_prefix("postgresql://").or_else(|| conn.strip_prefix("postgres://"))?;
        let scheme = &conn[..conn.len() - rest.len()];
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => authority.split_at(at + 1),
            None => ("", authority),
        };
        Some(UrlParts { scheme, userinfo, hostport, tail })
    }
}

/// Takes host and port out of a connection string, returning them, so that `-h`/`-p` can
/// replace them (tokio-postgres adds hosts rather than replacing them).
fn strip_host_port(conn: &str) -> (String, Option<String>, Option<String>) {
    let Some(url) = UrlParts::split(conn) else {
        let Some(pairs) = conninfo_pairs(conn) else {
            return (conn.to_owned(), None, None);
        };
        let (mut host, mut port, mut kept) = (None, None, Vec::new());
        for (k, v) in pairs {
            match k.as_str() {
                "host" => host = Some(v),
                "port" => port = Some(v),
                _ => kept.push(format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))),
            }
        }
        return (kept.join(" "), host, port);
    };
    let UrlParts { scheme, userinfo, hostport, tail } = url;
    let host_end = if hostport.starts_with('[') { hostport.find(']').unwrap_or(0) } else { 0 };
    let (host, port) = match hostport[host_end..].rfind(':') {
        Some(colon) => {
            let colon = host_end + colon;
            (&hostport[..colon], Some(hostport[colon + 1..].to_owned()))
        }
        None => (hostport, None),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = (!host.is_empty()).then(|| host.to_owned());
    (format!("{scheme}{userinfo}{tail}"), host, port)
}

/// Puts `PGHOST`/`PGPORT` into a connection string that leaves host or port out. This must
/// happen before parsing, because tokio-postgres fills a URL's missing port with 5432.
fn fill_host_and_port(conn: &str, var: &impl Fn(&str) -> Option<String>) -> String {
    let Some(UrlParts { scheme, userinfo, hostport, tail }) = UrlParts::split(conn) else {
        let mut out = conn.to_owned();
        for (key, env) in [("host", "PGHOST"), ("port", "PGPORT")] {
            if !conn.split_whitespace().any(|p| p.starts_with(&format!("{key}=")))
                && let Some(v) = var(env)
            {
                out.push_str(&format!(" {key}={v}"));
            }
        }
        return out;
    };
    let mut hostport = hostport.to_owned();
    if hostport.is_empty()
        && let Some(h) = var("PGHOST").filter(|h| !h.starts_with('/'))
    {
        // An IPv6 address goes in brackets, or its colons would read as a port.
        hostport = if h.contains(':') && !h.contains(',') { format!("[{h}]") } else { h };
    }
    let host_end = if hostport.starts_with('[') { hostport.find(']').unwrap_or(0) } else { 0 };
    let has_port = hostport[host_end..].contains(':');
    if !hostport.is_empty()
        && !has_port
        && !hostport.contains(',')
        && let Some(p) = var("PGPORT")
    {
        hostport = format!("{hostport}:{p}");
    }
    format!("{scheme}{userinfo}{hostport}{tail}")
}

/// libpq's default: the Unix socket in /var/run/postgresql when one is there, else localhost.
fn default_host(config: &Config, var: &impl Fn(&str) -> Option<String>) -> String {
    let port = config
        .get_ports()
        .first()
        .copied()
        .or_else(|| var("PGPORT").and_then(|p| p.parse().ok()))
        .unwrap_or(5432);
    let dir = "/var/run/postgresql";
    if Path::new(&format!("{dir}/.s.PGSQL.{port}")).exists() {
        dir.into()
    } else {
        "localhost".into()
    }
}

/// Removes `sslmode`, `sslrootcert`, `service` and `passfile` from a connection string,
/// returning them separately, because tokio-postgres knows only some of libpq's `sslmode`
/// values and none of the others.
fn split_tls_params(conn: &str) -> (String, HashMap<String, String>) {
    let mut params = HashMap::new();
    let wanted = ["sslmode", "sslrootcert", "service", "passfile"];
    if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        let Some((base, query)) = conn.split_once('?') else {
            return (conn.to_owned(), params);
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                if wanted.contains(&k) {
                    params.insert(k.to_owned(), v.to_owned());
                    false
                } else {
                    true
                }
            })
            .collect();
        let rebuilt =
            if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        return (rebuilt, params);
    }
    let Some(pairs) = conninfo_pairs(conn) else {
        // Not well formed: left as it is, for tokio-postgres to say what is wrong.
        return (conn.to_owned(), params);
    };
    let mut kept = Vec::new();
    for (k, v) in pairs {
        if wanted.contains(&k.as_str()) {
            params.insert(k, v);
        } else {
            kept.push(format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")));
        }
    }
    (kept.join(" "), params)
}

/// The `key = value` pairs of a libpq key/value connection string: whitespace around `=` is
/// allowed, and a value may be single-quoted, with `\'` and `\\` escapes. `None` when the
/// text is not of that form.
fn conninfo_pairs(conn: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = conn.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Some(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') || key.is_empty() {
            return None;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        pairs.push((key, conninfo_value(&mut chars)?));
    }
}

fn conninfo_value(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let mut value = String::new();
    let quoted = chars.next_if_eq(&'\'').is_some();
    loop {
        match chars.next() {
            None if quoted => return None,
            None => return Some(value),
            Some('\'') if quoted => return Some(value),
            Some(c) if c.is_whitespace() && !quoted => return Some(value),
            Some('\\') => value.push(chars.next()?),
            Some(c) => value.push(c),
        }
    }
}

/// Scrubs passwords from any text that may hold a connection string: the password part of a
/// URL's user info, and `password=...` pairs.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let end = tail.find(['/', '?', ' ', '\n', '"', '\'']).unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    redact_pairs(&out)
}

fn redact_pairs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("password=") {
        let (head, tail) = rest.split_at(pos + "password=".len());
        out.push_str(head);
        out.push_str("***");
        let end = tail.find(['&', ' ', '\n']).unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The async runtime every Postgres conversation runs on: one thread, the caller's. pg2lite
/// talks to Postgres over one connection per task and does its parallel work in threads, so
/// nothing here needs more.
///
/// # Errors
/// When the runtime cannot be built (the OS refuses an event loop).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

pub use crate::sql::{pg_literal as quote_literal, quote_ident, quote_qualified};

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_url_is_displayed_without_its_password() {
        let s = Source::resolve(Some("postgresql://alice:s3cret@db.example:6543/shop"), &env(&[]))
            .unwrap();
        assert_eq!(s.to_string(), "postgresql://alice@db.example:6543/shop");
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn pg_variables_fill_in_what_the_url_leaves_out() {
        let e = env(&[("PGPORT", "7777"), ("PGUSER", "bob"), ("PGPASSWORD", "pw")]);
        let s = Source::resolve(Some("postgresql://db.example/shop"), &e).unwrap();
        assert_eq!(s.to_string(), "postgresql://bob@db.example:7777/shop");
        let s = Source::resolve(None, &env(&[("PGHOST", "h"), ("PGDATABASE", "d")])).unwrap();
        assert_eq!(s.host(), "h");
        assert_eq!(s.database(), "d");
        let e = env(&[("PGPORT", "7777"), ("PGHOST", "envhost")]);
        let s = Source::resolve(Some("postgresql://u@db.example:6543/shop"), &e).unwrap();
        assert_eq!(s.port(), 6543, "an explicit port wins over PGPORT");
        let s = Source::resolve(Some("postgresql:///shop"), &e).unwrap();
        assert_eq!((s.host().as_str(), s.port()), ("envhost", 7777));
        let s = Source::resolve(Some("postgresql://[::1]/shop"), &e).unwrap();
        assert_eq!((s.host().as_str(), s.port()), ("::1", 7777));
        let s = Source::resolve(Some("dbname=shop user=u"), &e).unwrap();
        assert_eq!((s.host().as_str(), s.port()), ("envhost", 7777));
    }

    #[test]
    fn no_url_and_no_variables_is_an_error_that_says_what_to_set() {
        let err = Source::resolve(None, &env(&[])).unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    }

    #[test]
    fn every_libpq_sslmode_is_understood_and_others_are_refused() {
        for mode in ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] {
            let url = format!("postgresql://h/d?sslmode={mode}");
            Source::resolve(Some(&url), &env(&[])).unwrap();
        }
        let err = Source::resolve(Some("postgresql://h/d?sslmode=maybe"), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("maybe"), "{err}");
        let s = Source::resolve(Some("host=h dbname=d sslmode=verify-full"), &env(&[])).unwrap();
        assert_eq!(s.ssl, SslMode::VerifyFull);
    }

    #[test]
    fn an_unknown_sslmode_is_named_however_the_key_value_string_spells_it() {
        for conn in [
            "host=h sslmode=maybe",
            "host=h sslmode = maybe",
            "host = 'h' sslmode='maybe'",
            "host=h\tsslmode =\t'maybe' dbname='my db'",
        ] {
            let err = Source::resolve(Some(conn), &env(&[])).unwrap_err();
            assert!(matches!(&err, Error::SslMode(m) if m == "maybe"), "{conn}: {err}");
        }
    }

    #[test]
    fn key_value_strings_keep_quoted_values_and_escapes() {
        let s = Source::resolve(Some("host = h dbname='my \\'db\\'' user=u"), &env(&[])).unwrap();
        assert_eq!((s.host().as_str(), s.database(), s.user()), ("h", "my 'db'", "u"));
        let err = Source::resolve(Some("host=h port = x"), &env(&[])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("invalid value for option `port`"), "{text}");
        assert!(!text.contains("invalid connection string: invalid connection string"), "{text}");
    }

    fn over(
        host: Option<&str>,
        port: Option<u16>,
        user: Option<&str>,
        db: Option<&str>,
    ) -> Overrides {
        Overrides {
            host: host.map(str::to_owned),
            port,
            user: user.map(str::to_owned),
            dbname: db.map(str::to_owned),
        }
    }

    fn password(s: &Source) -> Option<String> {
        s.config.get_password().map(|p| String::from_utf8_lossy(p).into_owned())
    }

    #[test]
    fn dash_h_p_u_d_replace_the_parts_of_a_url_or_key_value_string() {
        let e = env(&[("PGPORT", "7777"), ("PGHOST", "envhost")]);
        for conn in [
            "postgresql://alice:pw@db.example:6000/shop",
            "host=db.example port=6000 user=alice dbname=shop password=pw",
        ] {
            let all = over(Some("other"), Some(6543), Some("bob"), Some("sales"));
            let s = Source::resolve_with(Some(conn), &all, &e).unwrap();
            assert_eq!(s.to_string(), "postgresql://bob@other:6543/sales", "{conn}");
            assert_eq!(password(&s).as_deref(), Some("pw"), "{conn}");
            let s = Source::resolve_with(Some(conn), &over(Some("other"), None, None, None), &e)
                .unwrap();
            assert_eq!(s.to_string(), "postgresql://alice@other:6000/shop", "{conn}");
            let s =
                Source::resolve_with(Some(conn), &over(None, Some(1234), None, None), &e).unwrap();
            assert_eq!(s.to_string(), "postgresql://alice@db.example:1234/shop", "{conn}");
        }
        let s = Source::resolve_with(
            Some("postgresql://[::1]:6000/d"),
            &over(None, Some(5), None, None),
            &e,
        )
        .unwrap();
        assert_eq!((s.host().as_str(), s.port()), ("::1", 5));
        let s = Source::resolve_with(None, &over(Some("/tmp/sock"), None, Some("u"), None), &e)
            .unwrap();
        assert_eq!((s.host().as_str(), s.port(), s.database()), ("/tmp/sock", 7777, "u"));
    }

    #[test]
    fn a_service_supplies_defaults_under_the_string_and_over_the_variables() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("services.conf");
        std::fs::write(&file, "[svc]\nhost=svc-host\nport=6001\ndbname=svcdb\nuser=svcuser\n")
            .unwrap();
        let file = file.display().to_string();
        let e = env(&[
            ("PGSERVICEFILE", &file),
            ("PGHOST", "envhost"),
            ("PGUSER", "envuser"),
            ("HOME", "/nonexistent"),
        ]);
        let s = Source::resolve(Some("service=svc dbname=explicit"), &e).unwrap();
        assert_eq!(s.to_string(), "postgresql://svcuser@svc-host:6001/explicit");
        let s = Source::resolve(Some("postgresql://u@/d?service=svc"), &e).unwrap();
        assert_eq!(s.to_string(), "postgresql://u@svc-host:6001/d");
        let mut by_var = e.clone();
        by_var.insert("PGSERVICE".into(), "svc".into());
        let s = Source::resolve(None, &by_var).unwrap();
        assert_eq!(s.to_string(), "postgresql://svcuser@svc-host:6001/svcdb");
        let err = Source::resolve(Some("service=nope"), &e).unwrap_err().to_string();
        assert!(err.contains("\"nope\" not found") && err.contains(&file), "{err}");
    }

    #[test]
    fn the_password_file_is_read_only_when_no_password_is_given_and_only_when_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "db.example:5432:shop:alice:from-file\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = env(&[("PGPASSFILE", &file.display().to_string())]);
        let s = Source::resolve(Some("postgresql://alice@db.example/shop"), &e).unwrap();
        assert_eq!(password(&s).as_deref(), Some("from-file"));
        assert!(s.warnings().is_empty());
        let s = Source::resolve(Some("postgresql://alice:given@db.example/shop"), &e).unwrap();
        assert_eq!(password(&s).as_deref(), Some("given"));
        let s = Source::resolve(Some("postgresql://bob@db.example/shop"), &e).unwrap();
        assert_eq!(password(&s), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let s = Source::resolve(Some("postgresql://alice@db.example/shop"), &e).unwrap();
        assert_eq!(password(&s), None);
        let warning = s.warnings().join("\n");
        assert!(
            warning.contains(&file.display().to_string()) && warning.contains("0600"),
            "{warning}"
        );
    }

    #[test]
    fn redact_hides_passwords_in_urls_and_key_value_pairs() {
        assert_eq!(
            redact("cannot open postgresql://u:p%40ss@h:1/d?x=1 now"),
            "cannot open postgresql://u:***@h:1/d?x=1 now"
        );
        assert_eq!(redact("host=h password=hunter2 user=u"), "host=h password=*** user=u");
        assert_eq!(redact("postgresql://u@h/d"), "postgresql://u@h/d");
    }

    #[test]
    fn quoting_doubles_quotes_and_keeps_backslashes_literal() {
        assert_eq!(quote_ident(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(quote_qualified("a.b", "C"), r#""a.b"."C""#);
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\b"), r"E'a\\b'");
    }
}
