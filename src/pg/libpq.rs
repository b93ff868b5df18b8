//! The files libpq reads to connect, read the way libpq reads them: the password file
//! (`~/.pgpass`, `PGPASSFILE`) and the connection service file (`~/.pg_service.conf`,
//! `PGSERVICEFILE`, `PGSYSCONFDIR/pg_service.conf`), so that a setup psql accepts works here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A service file that names a service but cannot be used, or a service found nowhere.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No service file that exists defines the service.
    #[error(
        "definition of service {name:?} not found (looked in {looked}); add a [{name}] \
         section there or set PGSERVICEFILE"
    )]
    NotFound {
        /// The service asked for (`service=` or `PGSERVICE`).
        name: String,
        /// The files looked in, comma-separated, in lookup order.
        looked: String,
    },
    /// A service file exists but cannot be read (permissions, not UTF-8, an I/O error).
    #[error("cannot read service file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// The operating system's error, as text.
        reason: String,
    },
    /// A service file's line is not `[name]` or `key=value`, or sets a key pg2lite does not
    /// know, or nests `service=`.
    #[error(
        "syntax error in service file {path}, line {line}: {reason}; lines are [name] or \
         key=value"
    )]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line (never the line itself: it may hold a password).
        reason: String,
    },
}

/// The connection keys a service may set: those pg2lite reads from a connection string.
const SERVICE_KEYS: &[&str] = &[
    "host",
    "port",
    "user",
    "password",
    "dbname",
    "sslmode",
    "sslrootcert",
    "connect_timeout",
    "passfile",
];

/// The settings of service `name`, as libpq finds them: the user's file (`PGSERVICEFILE`, or
/// `~/.pg_service.conf`) first, then `PGSYSCONFDIR/pg_service.conf`; the first file with a
/// `[name]` section supplies all of them.
///
/// # Errors
/// [`ServiceError`] when a file cannot be read or parsed, or no file defines the service.
pub fn service_settings(
    name: &str,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<HashMap<String, String>, ServiceError> {
    let user_file = var("PGSERVICEFILE")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| Path::new(&h).join(".pg_service.conf")));
    let sys_dir = var("PGSYSCONFDIR").unwrap_or_else(|| "/etc/postgresql-common".into());
    let files: Vec<PathBuf> =
        user_file.into_iter().chain([Path::new(&sys_dir).join("pg_service.conf")]).collect();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                let path = file.display().to_string();
                return Err(ServiceError::Unreadable { path, reason: e.to_string() });
            }
        };
        if let Some(found) = parse_service(&text, name, &file.display().to_string())? {
            return Ok(found);
        }
    }
    let looked = files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ");
    Err(ServiceError::NotFound { name: name.to_owned(), looked })
}

/// The `[name]` section of a service file, `None` when it has none. Every line is checked,
/// as libpq does up to the section it wants.
fn parse_service(
    text: &str,
    name: &str,
    path: &str,
) -> Result<Option<HashMap<String, String>>, ServiceError> {
    let mut current: Option<&str> = None;
    let mut found: Option<HashMap<String, String>> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let syntax =
            |reason: String| ServiceError::Syntax { path: path.to_owned(), line: i + 1, reason };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[') {
            if found.is_some() {
                break;
            }
            let section = section.strip_suffix(']').ok_or_else(|| syntax("no closing ]".into()))?;
            current = Some(section.trim());
            if current == Some(name) {
                found = Some(HashMap::new());
            }
            continue;
        }
        let (key, value) =
            // The line is not shown: it may hold a password.
            line.split_once('=').ok_or_else(|| syntax("the line has no =".into()))?;
        let key = key.trim();
        if current == Some(name) {
            if key == "service" {
                return Err(syntax("nested service specifications are not supported".into()));
            }
            if !SERVICE_KEYS.contains(&key) {
                let known = SERVICE_KEYS.join(", ");
                return Err(syntax(format!("pg2lite does not know the key {key:?} ({known})")));
            }
            if let Some(map) = found.as_mut() {
                map.insert(key.to_owned(), value.trim().to_owned());
            }
        }
    }
    Ok(found)
}

/// Where the password file is: `passfile` if given, `PGPASSFILE`, else `~/.pgpass`.
pub fn pass_file_path(
    passfile: Option<&str>,
    var: &impl Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    passfile
        .map(PathBuf::from)
        .or_else(|| var("PGPASSFILE").map(PathBuf::from))
        .or_else(|| var("HOME").map(|h| Path::new(&h).join(".pgpass")))
}

/// What a connection looks up in the password file.
#[derive(Debug, Clone)]
pub struct PassKey<'a> {
    /// The host name, or the socket directory for a Unix socket.
    pub host: &'a str,
    /// The TCP port (also the socket's port for a Unix socket, as in its file name).
    pub port: u16,
    /// The database name.
    pub database: &'a str,
    /// The role name.
    pub user: &'a str,
}

/// The password libpq would take from the password file at `path` for `key`, and a warning
/// when the file is there but ignored (not a plain file, or readable by group or others).
/// A missing or unreadable file gives neither, as in libpq.
pub fn pass_file_password(path: &Path, key: &PassKey<'_>) -> (Option<String>, Option<String>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return (None, None);
    };
    let shown = path.display();
    if !meta.is_file() {
        return (None, Some(format!("password file \"{shown}\" is not a plain file")));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return (
                None,
                Some(format!(
                    "password file \"{shown}\" has group or world access; permissions should \
                     be u=rw (0600) or less"
                )),
            );
        }
    }
    match std::fs::read_to_string(path) {
        Ok(text) => (match_pass_file(&text, key), None),
        Err(_) => (None, None),
    }
}

/// The first line of a password file that matches `key`: libpq's rules (`*` matches any
/// value, `\:` and `\\` are escapes, `#` starts a comment line, and the default Unix socket
/// directory is matched as `localhost`).
pub fn match_pass_file(text: &str, key: &PassKey<'_>) -> Option<String> {
    let host =
        if key.host.is_empty() || is_default_socket_dir(key.host) { "localhost" } else { key.host };
    let port = key.port.to_string();
    let wanted = [host, port.as_str(), key.database, key.user];
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = split_pass_line(line);
        if fields.len() < 5 {
            continue;
        }
        if fields.iter().zip(wanted).all(|((text, star), want)| *star || text == want) {
            return Some(fields[4].0.clone());
        }
    }
    None
}

/// A line's fields, unescaped, each with whether it was a bare `*`. The fifth field (the
/// password) takes the rest of the line, colons included, as libpq does.
fn split_pass_line(line: &str) -> Vec<(String, bool)> {
    let mut fields = Vec::new();
    let (mut field, mut escaped_any) = (String::new(), false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                escaped_any = true;
                if let Some(next) = chars.next() {
                    field.push(next);
                }
            }
            ':' if fields.len() < 4 => {
                let star = field == "*" && !escaped_any;
                fields.push((std::mem::take(&mut field), star));
                escaped_any = false;
            }
            c => field.push(c),
        }
    }
    fields.push((field, false));
    fields
}

/// The directories libpq builds use for Unix sockets by default (upstream's `/tmp`, Debian's
/// `/var/run/postgresql`), which a password file names `localhost`.
fn is_default_socket_dir(host: &str) -> bool {
    let host = host.trim_end_matches('/');
    matches!(host, "/tmp" | "/var/run/postgresql" | "/run/postgresql")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(host: &'a str, port: u16, database: &'a str, user: &'a str) -> PassKey<'a> {
        PassKey { host, port, database, user }
    }

    #[test]
    fn the_first_matching_line_wins_and_stars_match_anything() {
        let text = "# comment\n\ndb.example:5432:shop:alice:first\n*:*:*:alice:second\n";
        let got = match_pass_file(text, &key("db.example", 5432, "shop", "alice"));
        assert_eq!(got.as_deref(), Some("first"));
        let got = match_pass_file(text, &key("other", 6543, "x", "alice"));
        assert_eq!(got.as_deref(), Some("second"));
        assert_eq!(match_pass_file(text, &key("other", 6543, "x", "bob")), None);
    }

    #[test]
    fn escapes_are_read_and_an_escaped_star_is_literal() {
        let text = "h:5432:d:u\\:x:p\\\\w:rest\nh:5432:\\*:u:literal-star\n";
        let got = match_pass_file(text, &key("h", 5432, "d", "u:x"));
        assert_eq!(got.as_deref(), Some("p\\w:rest"));
        assert_eq!(match_pass_file(text, &key("h", 5432, "other", "u")), None);
        let got = match_pass_file(text, &key("h", 5432, "*", "u"));
        assert_eq!(got.as_deref(), Some("literal-star"));
    }

    #[test]
    fn the_default_socket_directory_is_matched_as_localhost() {
        let text = "localhost:5432:*:*:sock\n";
        for host in ["/var/run/postgresql", "/tmp", ""] {
            let got = match_pass_file(text, &key(host, 5432, "d", "u"));
            assert_eq!(got.as_deref(), Some("sock"), "{host}");
        }
        assert_eq!(match_pass_file(text, &key("/srv/sock", 5432, "d", "u")), None);
    }

    #[test]
    fn a_short_line_matches_nothing() {
        assert_eq!(match_pass_file("*:*:*:*\n", &key("h", 1, "d", "u")), None);
    }

    #[test]
    fn a_service_section_is_read_and_errors_name_the_line() {
        let text = "# x\n[other]\nhost=a\n[mine]\nhost = b\nport=6000\n[later]\nbad line\n";
        let got = parse_service(text, "mine", "f").unwrap().unwrap();
        assert_eq!((got["host"].as_str(), got["port"].as_str()), ("b", "6000"));
        assert!(parse_service(text, "absent", "f").is_err(), "the bad line is found");
        let err = parse_service("[s]\nfrobnicate=1\n", "s", "f").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("frobnicate"), "{err}");
        let err = parse_service("[s]\npassword hunter2\n", "s", "f").unwrap_err().to_string();
        assert!(err.contains("line 2") && !err.contains("hunter2"), "{err}");
        let err = parse_service("[s]\nservice=t\n", "s", "f").unwrap_err().to_string();
        assert!(err.contains("nested"), "{err}");
    }
}
