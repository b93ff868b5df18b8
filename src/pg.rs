//! Connections to the source database: where the settings come from (a URL or key=value string,
//! `DATABASE_URL`, the libpq `PG*` variables), TLS, errors a person can act on, the session
//! settings that make exports reproducible, and quoting.
//!
//! A password is read here and never leaves this module in printable form: [`Source`] displays
//! itself without it, and [`redact`] scrubs any connection string before it is shown.

pub mod filter;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use postgres_native_tls::MakeTlsConnector;
use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres::{Client, Config};

/// Errors from reaching or talking to Postgres. Each message names the server (never the
/// password) and says what to try.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid connection string: {reason} (expected postgresql://user@host:port/dbname)")]
    InvalidUrl { reason: String },
    #[error("no source database: give --source URL or set DATABASE_URL or PGHOST/PGDATABASE")]
    NoSource,
    #[error("unknown sslmode {0:?}: use disable, prefer, require, verify-ca or verify-full")]
    SslMode(String),
    #[error("could not set up TLS: {0}")]
    Tls(String),
    #[error(
        "cannot reach {source_name}: connection refused; is PostgreSQL running and listening there?"
    )]
    Refused { source_name: String },
    #[error("cannot reach {source_name}: {detail}; check the host name and port")]
    Unreachable { source_name: String, detail: String },
    #[error(
        "authentication failed for user {user:?} on {source_name}: {detail}; check the password \
         (in the URL or PGPASSWORD) and the user name"
    )]
    Auth { source_name: String, user: String, detail: String },
    #[error("database {database:?} does not exist on {source_name}; check the database name")]
    NoDatabase { source_name: String, database: String },
    #[error(
        "{source_name} does not accept TLS (it answered that it does not support SSL), but \
         sslmode={mode} requires it; turn on ssl in the server's postgresql.conf, or use \
         sslmode=prefer (or disable) if an unencrypted connection is acceptable"
    )]
    NoTlsOnServer { source_name: String, mode: &'static str },
    #[error(
        "{source_name} refused a connection without TLS ({detail}); use sslmode=require (or \
         prefer, the default) instead of sslmode=disable"
    )]
    TlsRequired { source_name: String, detail: String },
    #[error(
        "the TLS handshake with {source_name} failed under sslmode={mode}: {detail}; with \
         verify-ca or verify-full give the server's CA certificate with sslrootcert=FILE, or \
         use sslmode=require to encrypt without checking the certificate"
    )]
    TlsRefused { source_name: String, mode: &'static str, detail: String },
    #[error("could not connect to {source_name}: {detail}")]
    Connect { source_name: String, detail: String },
    #[error("query failed on {source_name}: {detail}")]
    Query { source_name: String, detail: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// TLS policy, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
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
    /// [`Error::InvalidUrl`] or [`Error::SslMode`] when the string cannot be understood, and
    /// [`Error::NoSource`] when neither the string nor `env` names a server.
    pub fn resolve(conn: Option<&str>, env: &HashMap<String, String>) -> Result<Self> {
        let var = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
        if conn.is_none() && var("PGHOST").is_none() && var("PGDATABASE").is_none() {
            return Err(Error::NoSource);
        }
        let (stripped, params) = split_tls_params(conn.unwrap_or(""));
        let stripped = fill_host_and_port(&stripped, &var);
        let mut config: Config = if stripped.trim().is_empty() {
            Config::new()
        } else {
            stripped.parse().map_err(|e: tokio_postgres::Error| Error::InvalidUrl {
                reason: parse_reason(&e),
            })?
        };
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
        Ok(Source { config, ssl, root_cert })
    }

    pub fn host(&self) -> String {
        match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        }
    }

    pub fn port(&self) -> u16 {
        self.config.get_ports().first().copied().unwrap_or(5432)
    }

    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("postgres")
    }

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

    fn tls_connector(&self) -> Result<MakeTlsConnector> {
        let mut builder = native_tls::TlsConnector::builder();
        match self.ssl {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => {
                builder.danger_accept_invalid_certs(true).danger_accept_invalid_hostnames(true);
            }
            SslMode::VerifyCa => {
                builder.danger_accept_invalid_hostnames(true);
            }
            SslMode::VerifyFull => {}
        }
        if let Some(path) = &self.root_cert {
            let pem = std::fs::read(Path::new(path))
                .map_err(|e| Error::Tls(format!("cannot read sslrootcert {path}: {e}")))?;
            let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
                Error::Tls(format!("sslrootcert {path} is not a PEM certificate: {e}"))
            })?;
            builder.add_root_certificate(cert);
        }
        let connector = builder.build().map_err(|e| Error::Tls(e.to_string()))?;
        Ok(MakeTlsConnector::new(connector))
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
                detail: "the server asks for a password and none was given".into(),
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

/// Puts `PGHOST`/`PGPORT` into a connection string that leaves host or port out. This must
/// happen before parsing, because tokio-postgres fills a URL's missing port with 5432.
fn fill_host_and_port(conn: &str, var: &impl Fn(&str) -> Option<String>) -> String {
    let Some(rest) =
        conn.strip_prefix("postgresql://").or_else(|| conn.strip_prefix("postgres://"))
    else {
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
    let scheme = &conn[..conn.len() - rest.len()];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let mut hostport = hostport.to_owned();
    if hostport.is_empty()
        && let Some(h) = var("PGHOST").filter(|h| !h.starts_with('/'))
    {
        hostport = h;
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

/// Removes `sslmode` and `sslrootcert` from a connection string, returning them separately,
/// because tokio-postgres knows only some of libpq's `sslmode` values and no `sslrootcert`.
fn split_tls_params(conn: &str) -> (String, HashMap<String, String>) {
    let mut params = HashMap::new();
    let wanted = ["sslmode", "sslrootcert"];
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

/// Quotes an SQL identifier: always, so that mixed case, reserved words and odd characters
/// survive.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A schema-qualified, quoted table name.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// Quotes an SQL string literal. Standard-conforming strings are on by default since
/// Postgres 9.1; the `E''` form keeps backslashes literal whatever that setting is.
pub fn quote_literal(value: &str) -> String {
    if value.contains('\\') {
        format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

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
