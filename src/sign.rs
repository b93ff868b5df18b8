//! Signed exports: who sealed an export, shown with the tools auditors already have.
//!
//! The manifest's checksum proves an export has not changed since it was sealed, but anyone
//! can re-seal a changed export. `export --sign KEY` therefore writes `manifest.json.sig`: an
//! armored SSHSIG signature (OpenSSH's `PROTOCOL.sshsig`, what `ssh-keygen -Y sign` and git
//! write) of the exact bytes of `manifest.json`, namespace [`NAMESPACE`], hash SHA-512. Since
//! the manifest holds every data file's checksum, the signature covers the whole export.
//!
//! It is checked against an OpenSSH allowed-signers file (`ssh-keygen(1)`, ALLOWED SIGNERS:
//! principals, options `namespaces="..."`, `valid-after=`, `valid-before=`, `cert-authority`,
//! then the key), here by `verify --allowed-signers` and `import --require-signature`, and
//! outside pg2lite by
//! `ssh-keygen -Y verify -f FILE -I PRINCIPAL -n pg2lite-export -s manifest.json.sig < manifest.json`.
//!
//! Only Ed25519 keys sign. The signature file is read as every file of an export is
//! ([`fsio::read`]): a regular file inside the directory, of bounded size.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

use crate::fsio;
use crate::model::manifest;

/// The signature's file name inside the export directory.
pub const SIG_FILE: &str = "manifest.json.sig";

/// The SSHSIG namespace of an export's signature, so that a signature made for something
/// else (a git commit, a file) by the same key is never taken for one.
pub const NAMESPACE: &str = "pg2lite-export";

/// The environment variable the CLI reads an encrypted key's passphrase from when there is
/// no terminal to ask on.
pub const PASSPHRASE_ENV: &str = "PG2LITE_SIGN_PASSPHRASE";

/// The most a signature file may hold: an Ed25519 signature is under 400 bytes.
const SIG_LIMIT: u64 = 64 << 10;

/// The most an allowed-signers file may hold.
const SIGNERS_LIMIT: u64 = 16 << 20;

/// What went wrong while signing, or reading a key or an allowed-signers file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `--sign` key file cannot be opened or read.
    #[error("--sign {path}: cannot read the key: {cause}")]
    KeyRead {
        /// The key file given.
        path: PathBuf,
        /// The I/O error.
        cause: io::Error,
    },
    /// The key file is not an OpenSSH private key (a `.pub` file, a PEM key, garbage).
    #[error(
        "--sign {path}: not an OpenSSH private key ({detail}); give the private key file \
         (e.g. ~/.ssh/id_ed25519, made by `ssh-keygen -t ed25519`), not the .pub"
    )]
    KeyParse {
        /// The key file given.
        path: PathBuf,
        /// The key parser's message.
        detail: String,
    },
    /// The key is not Ed25519 (RSA, ECDSA, or an algorithm the parser does not know).
    #[error(
        "--sign {path}: a {algorithm} key; pg2lite signs with Ed25519 keys only (make one \
         with `ssh-keygen -t ed25519 -f FILE`)"
    )]
    NotEd25519 {
        /// The key file given.
        path: PathBuf,
        /// The key's algorithm name, or `non-Ed25519` when unknown.
        algorithm: String,
    },
    /// The key is encrypted and no passphrase was given.
    #[error(
        "--sign {path}: the key is encrypted and there is no terminal to ask for its \
         passphrase; set {PASSPHRASE_ENV} or run on a terminal"
    )]
    NeedsPassphrase {
        /// The key file given.
        path: PathBuf,
    },
    /// The passphrase does not decrypt the key.
    #[error("--sign {path}: wrong passphrase (the key cannot be decrypted with it)")]
    WrongPassphrase {
        /// The key file given.
        path: PathBuf,
    },
    /// Making the SSHSIG signature failed.
    #[error("cannot sign the manifest: {detail}")]
    Sign {
        /// The signer's message.
        detail: String,
    },
    /// `manifest.json.sig` could not be created, written or synced.
    #[error("{path}: cannot write the signature: {cause}")]
    Write {
        /// The signature file.
        path: PathBuf,
        /// The I/O error.
        cause: io::Error,
    },
    /// The allowed-signers file cannot be opened or read, or is not a regular file of bounded size.
    #[error("allowed signers {path}: cannot read: {cause}")]
    SignersRead {
        /// The allowed-signers file given.
        path: PathBuf,
        /// The I/O error.
        cause: io::Error,
    },
    /// A line of the allowed-signers file cannot be understood.
    #[error(
        "allowed signers {path}, line {line}: {detail} (each line is `PRINCIPALS [OPTIONS] \
         KEYTYPE BASE64-KEY [COMMENT]`, as ssh-keygen(1) describes)"
    )]
    SignersLine {
        /// The allowed-signers file given.
        path: PathBuf,
        /// The line's 1-based number.
        line: usize,
        /// What is wrong with it.
        detail: String,
    },
    /// The export's manifest cannot be read, which a signature check needs.
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    /// `--require-signature`: the export's signature is not accepted, so nothing is imported.
    #[error(
        "the export {dir} was refused (--require-signature {signers}): {reason}; nothing was \
         written"
    )]
    Refused {
        /// The export directory.
        dir: PathBuf,
        /// The allowed-signers file checked against.
        signers: PathBuf,
        /// Why the signature was refused.
        reason: Refusal,
    },
}

/// Why an export's signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// There is no `manifest.json.sig`.
    Unsigned,
    /// The signature file is not a regular file, or too large.
    Unreadable {
        /// Why it cannot be read ([`fsio::Kind`] in words).
        detail: String,
    },
    /// The signature file is not an armored SSHSIG signature.
    Malformed {
        /// The SSHSIG parser's message.
        detail: String,
    },
    /// A signature made for something other than a pg2lite export.
    Namespace {
        /// The namespace the signature was made for.
        found: String,
    },
    /// The signature does not match `manifest.json`'s bytes.
    Mismatch {
        /// The signing key's fingerprint, `SHA256:...`.
        fingerprint: String,
    },
    /// The signing key is not in the allowed-signers file.
    UnknownKey {
        /// The signing key's fingerprint, `SHA256:...`.
        fingerprint: String,
        /// The allowed-signers file checked.
        signers: PathBuf,
    },
    /// The key is there, but its `namespaces=` leaves out [`NAMESPACE`].
    NamespaceNotAllowed {
        /// The signing key's fingerprint, `SHA256:...`.
        fingerprint: String,
        /// The principals of its allowed-signers line, as written.
        principals: String,
        /// Its `namespaces=` option, as written.
        namespaces: String,
    },
    /// The key is there, but outside its `valid-after`/`valid-before` window now.
    NotValidNow {
        /// The signing key's fingerprint, `SHA256:...`.
        fingerprint: String,
        /// The principals of its allowed-signers line, as written.
        principals: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unsigned => write!(
                f,
                "the export is not signed (no {SIG_FILE}); sign it with `pg2lite export --sign \
                 KEY`, or leave out the requirement"
            ),
            Refusal::Unreadable { detail } => write!(f, "{SIG_FILE} cannot be read: {detail}"),
            Refusal::Malformed { detail } => {
                write!(f, "{SIG_FILE} is not an armored SSH signature: {detail}")
            }
            Refusal::Namespace { found } => write!(
                f,
                "{SIG_FILE} was made for namespace {found:?}, not {NAMESPACE:?}: it does not \
                 sign a pg2lite export"
            ),
            Refusal::Mismatch { fingerprint } => write!(
                f,
                "the signature (by key {fingerprint}) does not match manifest.json: the \
                 manifest was changed after it was signed (re-sealing it with new checksums \
                 does not make a signature fit), or the signature is another export's"
            ),
            Refusal::UnknownKey { fingerprint, signers } => write!(
                f,
                "signed by key {fingerprint}, which is not in the allowed signers {}",
                signers.display()
            ),
            Refusal::NamespaceNotAllowed { fingerprint, principals, namespaces } => write!(
                f,
                "signed by key {fingerprint} ({principals}), which the allowed signers permit \
                 only for namespaces {namespaces:?}, not {NAMESPACE:?}"
            ),
            Refusal::NotValidNow { fingerprint, principals } => write!(
                f,
                "signed by key {fingerprint} ({principals}), which the allowed signers do not \
                 accept now (valid-after/valid-before)"
            ),
        }
    }
}

impl Refusal {
    /// The refusal's stable name, for `--json` and scripts.
    pub fn name(&self) -> &'static str {
        match self {
            Refusal::Unsigned => "unsigned",
            Refusal::Unreadable { .. } => "unreadable",
            Refusal::Malformed { .. } => "malformed",
            Refusal::Namespace { .. } => "namespace",
            Refusal::Mismatch { .. } => "mismatch",
            Refusal::UnknownKey { .. } => "unknown_key",
            Refusal::NamespaceNotAllowed { .. } => "namespace_not_allowed",
            Refusal::NotValidNow { .. } => "not_valid_now",
        }
    }
}

/// An OpenSSH private key file, read but perhaps still encrypted.
pub struct KeyFile {
    path: PathBuf,
    key: PrivateKey,
}

impl KeyFile {
    /// Reads an OpenSSH private key file and checks that it is an Ed25519 key.
    ///
    /// # Errors
    /// [`Error::KeyRead`], [`Error::KeyParse`] or [`Error::NotEd25519`].
    pub fn read(path: &Path) -> Result<KeyFile, Error> {
        let text = std::fs::read(path)
            .map_err(|source| Error::KeyRead { path: path.to_owned(), cause: source })?;
        let key = PrivateKey::from_openssh(&text).map_err(|e| match e {
            // Built with Ed25519 alone, ssh-key reads no other private key.
            ssh_key::Error::AlgorithmUnknown => {
                Error::NotEd25519 { path: path.to_owned(), algorithm: "non-Ed25519".into() }
            }
            e => Error::KeyParse { path: path.to_owned(), detail: e.to_string() },
        })?;
        if key.algorithm() != Algorithm::Ed25519 {
            let algorithm = key.algorithm().to_string();
            return Err(Error::NotEd25519 { path: path.to_owned(), algorithm });
        }
        Ok(KeyFile { path: path.to_owned(), key })
    }

    /// Whether [`KeyFile::unlock`] needs a passphrase.
    pub fn is_encrypted(&self) -> bool {
        self.key.is_encrypted()
    }

    /// The key, ready to sign: decrypted with `passphrase` when it is encrypted (a passphrase
    /// given for an unencrypted key is ignored, as ssh-keygen does).
    ///
    /// # Errors
    /// [`Error::NeedsPassphrase`] or [`Error::WrongPassphrase`].
    pub fn unlock(self, passphrase: Option<&str>) -> Result<SigningKey, Error> {
        let key = match (self.key.is_encrypted(), passphrase) {
            (false, _) => self.key,
            (true, None) => return Err(Error::NeedsPassphrase { path: self.path }),
            (true, Some(p)) => self
                .key
                .decrypt(p)
                .map_err(|_| Error::WrongPassphrase { path: self.path.clone() })?,
        };
        Ok(SigningKey { fingerprint: fingerprint(key.public_key().key_data()), key })
    }
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile").field("path", &self.path).finish_non_exhaustive()
    }
}

/// A decrypted Ed25519 key. Its `Debug` shows only the public key's fingerprint.
#[derive(Clone)]
pub struct SigningKey {
    key: PrivateKey,
    fingerprint: String,
}

impl SigningKey {
    /// The public key's fingerprint as ssh-keygen prints it: `SHA256:...`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// An armored SSHSIG signature of `msg` in [`NAMESPACE`], hash SHA-512, as
    /// `ssh-keygen -Y sign -n pg2lite-export` makes.
    ///
    /// # Errors
    /// [`Error::Sign`].
    pub fn sign(&self, msg: &[u8]) -> Result<String, Error> {
        let sign = |e: ssh_key::Error| Error::Sign { detail: e.to_string() };
        let sig = self.key.sign(NAMESPACE, HashAlg::Sha512, msg).map_err(sign)?;
        sig.to_pem(LineEnding::LF).map_err(sign)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("fingerprint", &self.fingerprint).finish()
    }
}

/// Signs `dir/manifest.json` as it is on disk, writing `dir/manifest.json.sig` (synced).
/// Export calls it inside the partial directory, before the rename, so an export that
/// stops half-way is never a signed-looking one.
///
/// # Errors
/// The manifest cannot be read, signing fails, or [`Error::Write`].
pub fn sign_export(dir: &Path, key: &SigningKey) -> Result<(), Error> {
    let text = manifest::read_text(dir)?;
    let armored = key.sign(text.as_bytes())?;
    let path = dir.join(SIG_FILE);
    let write = |source| Error::Write { path: path.clone(), cause: source };
    let mut file = File::create(&path).map_err(write)?;
    file.write_all(armored.as_bytes()).map_err(write)?;
    file.sync_all().map_err(write)
}

/// The public key's fingerprint as ssh-keygen prints it: `SHA256:...`.
fn fingerprint(key: &KeyData) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// What is known of an export's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// No `manifest.json.sig`.
    Unsigned,
    /// Signed, and the signature matches the manifest, but who holds the key was not checked
    /// (no allowed-signers file was given).
    Unchecked {
        /// The signing key's fingerprint, `SHA256:...`.
        fingerprint: String,
    },
    /// Signed by a key the allowed-signers file accepts for [`NAMESPACE`].
    Verified {
        /// The signing key's fingerprint, `SHA256:...`.
        fingerprint: String,
        /// The principals of the accepting allowed-signers line, as written.
        principals: String,
        /// The allowed-signers file that accepted it.
        allowed_signers: PathBuf,
    },
}

/// Checks the signature of the export in `dir` over `manifest` (the bytes of its
/// `manifest.json`): always that it is an SSHSIG of those bytes in [`NAMESPACE`], and with
/// `signers`, that its key is one they accept. Without `signers` an unsigned export is
/// [`Status::Unsigned`], not a refusal.
///
/// # Errors
/// The [`Refusal`].
pub fn check(
    dir: &Path,
    manifest: &[u8],
    signers: Option<&AllowedSigners>,
) -> Result<Status, Refusal> {
    let bytes = match fsio::read(dir, SIG_FILE, SIG_LIMIT) {
        Ok(bytes) => bytes,
        Err(fsio::Error { kind: fsio::Kind::NotFound, .. }) if signers.is_none() => {
            return Ok(Status::Unsigned);
        }
        Err(fsio::Error { kind: fsio::Kind::NotFound, .. }) => return Err(Refusal::Unsigned),
        Err(e) => return Err(Refusal::Unreadable { detail: e.kind.to_string() }),
    };
    let sig = SshSig::from_pem(&bytes).map_err(|e| Refusal::Malformed { detail: e.to_string() })?;
    if sig.namespace() != NAMESPACE {
        return Err(Refusal::Namespace { found: sig.namespace().to_owned() });
    }
    let fingerprint = fingerprint(sig.public_key());
    let public = PublicKey::from(sig.public_key().clone());
    if public.verify(NAMESPACE, manifest, &sig).is_err() {
        return Err(Refusal::Mismatch { fingerprint });
    }
    match signers {
        None => Ok(Status::Unchecked { fingerprint }),
        Some(signers) => {
            let principals = signers.accept(sig.public_key(), &fingerprint, Utc::now())?;
            let allowed_signers = signers.path.clone();
            Ok(Status::Verified { fingerprint, principals, allowed_signers })
        }
    }
}

/// For `import --require-signature`: reads the export's manifest and refuses the export
/// unless `signers` accept its signature.
///
/// # Errors
/// [`Error::Refused`] naming the reason, or the manifest cannot be read.
pub fn require(dir: &Path, signers: &AllowedSigners) -> Result<Status, Error> {
    let text = manifest::read_text(dir)?;
    check(dir, text.as_bytes(), Some(signers)).map_err(|reason| Error::Refused {
        dir: dir.to_owned(),
        signers: signers.path.clone(),
        reason,
    })
}

/// An OpenSSH allowed-signers file: who may sign, with which key, for what.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    path: PathBuf,
    entries: Vec<Entry>,
}

/// One line of an allowed-signers file.
#[derive(Debug, Clone)]
struct Entry {
    principals: String,
    cert_authority: bool,
    namespaces: Option<String>,
    valid_after: Option<DateTime<Utc>>,
    valid_before: Option<DateTime<Utc>>,
    key: KeyData,
}

impl AllowedSigners {
    /// Reads and parses an allowed-signers file.
    ///
    /// # Errors
    /// [`Error::SignersRead`] or [`Error::SignersLine`] naming the line.
    pub fn load(path: &Path) -> Result<AllowedSigners, Error> {
        let read = |source| Error::SignersRead { path: path.to_owned(), cause: source };
        let meta = std::fs::metadata(path).map_err(read)?;
        if meta.len() > SIGNERS_LIMIT {
            let detail = format!("{} bytes, more than the {SIGNERS_LIMIT} read", meta.len());
            return Err(read(io::Error::other(detail)));
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        Self::parse(&text, path)
    }

    /// Parses the text of an allowed-signers file; `path` names it in errors.
    ///
    /// # Errors
    /// [`Error::SignersLine`] naming the line.
    pub fn parse(text: &str, path: &Path) -> Result<AllowedSigners, Error> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let entry = parse_entry(line).map_err(|detail| Error::SignersLine {
                path: path.to_owned(),
                line: i + 1,
                detail,
            })?;
            entries.push(entry);
        }
        Ok(AllowedSigners { path: path.to_owned(), entries })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The principals of the first line that accepts `key` for [`NAMESPACE`] at `now`.
    fn accept(
        &self,
        key: &KeyData,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<String, Refusal> {
        let mut refusal =
            Refusal::UnknownKey { fingerprint: fingerprint.to_owned(), signers: self.path.clone() };
        for e in self.entries.iter().filter(|e| !e.cert_authority && &e.key == key) {
            let (fingerprint, principals) = (fingerprint.to_owned(), e.principals.clone());
            if let Some(namespaces) = e.namespaces.as_ref().filter(|n| !allows(n, NAMESPACE)) {
                let namespaces = namespaces.clone();
                refusal = Refusal::NamespaceNotAllowed { fingerprint, principals, namespaces };
            } else if e.valid_after.is_some_and(|t| now < t)
                || e.valid_before.is_some_and(|t| now > t)
            {
                refusal = Refusal::NotValidNow { fingerprint, principals };
            } else {
                return Ok(principals);
            }
        }
        Err(refusal)
    }
}

/// Parses `PRINCIPALS [OPTIONS] KEYTYPE BASE64 [COMMENT]`.
fn parse_entry(line: &str) -> Result<Entry, String> {
    let (principals, rest) = field(line)?;
    let principals = unquote(principals);
    if principals.is_empty() {
        return Err("no principals".into());
    }
    let (next, after) = field(rest)?;
    let (options, key_text) = if is_key_type(next) { ("", rest) } else { (next, after) };
    let mut entry = Entry {
        principals,
        cert_authority: false,
        namespaces: None,
        valid_after: None,
        valid_before: None,
        key: parse_key(key_text)?,
    };
    for option in split_options(options) {
        apply_option(&mut entry, &option)?;
    }
    Ok(entry)
}

/// The first whitespace-separated field (double quotes group), and the rest after it.
fn field(text: &str) -> Result<(&str, &str), String> {
    let text = text.trim_start();
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return Ok((&text[..i], &text[i..])),
            _ => {}
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    if text.is_empty() {
        return Err("no key".into());
    }
    Ok((text, ""))
}

fn unquote(text: &str) -> String {
    let inner = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
    inner.replace("\\\"", "\"")
}

fn is_key_type(word: &str) -> bool {
    ["ssh-", "ecdsa-", "sk-"].iter().any(|p| word.starts_with(p))
}

fn parse_key(text: &str) -> Result<KeyData, String> {
    let mut words = text.split_whitespace();
    let (Some(kind), Some(base64)) = (words.next(), words.next()) else {
        return Err("no key after the principals and options".into());
    };
    let key = PublicKey::from_openssh(&format!("{kind} {base64}"))
        .map_err(|e| format!("cannot read the key: {e}"))?;
    Ok(key.key_data().clone())
}

/// The options field split at commas outside quotes.
fn split_options(options: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in options.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn apply_option(entry: &mut Entry, option: &str) -> Result<(), String> {
    let (name, value) = match option.split_once('=') {
        Some((n, v)) => (n.to_ascii_lowercase(), Some(unquote(v))),
        None => (option.to_ascii_lowercase(), None),
    };
    match (name.as_str(), value) {
        ("cert-authority", None) => entry.cert_authority = true,
        ("namespaces", Some(v)) => entry.namespaces = Some(v),
        ("valid-after", Some(v)) => entry.valid_after = Some(parse_time(&v)?),
        ("valid-before", Some(v)) => entry.valid_before = Some(parse_time(&v)?),
        _ => return Err(format!("unknown option {option:?}")),
    }
    Ok(())
}

/// `YYYYMMDD[HHMM[SS]][Z]`: UTC with `Z`, else local time, as ssh-keygen reads it.
fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    let bad = || format!("{text:?} is not a time of the form YYYYMMDD[HHMM[SS]][Z]");
    let (digits, utc) = match text.strip_suffix(['Z', 'z']) {
        Some(d) => (d, true),
        None => (text, false),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let padded = match digits.len() {
        8 => format!("{digits}000000"),
        12 => format!("{digits}00"),
        14 => digits.to_owned(),
        _ => return Err(bad()),
    };
    let date = NaiveDate::parse_from_str(&padded[..8], "%Y%m%d").map_err(|_| bad())?;
    let naive: NaiveDateTime = date
        .and_hms_opt(num(&padded[8..10]), num(&padded[10..12]), num(&padded[12..14]))
        .ok_or_else(bad)?;
    if utc {
        return Ok(naive.and_utc());
    }
    chrono::Local.from_local_datetime(&naive).earliest().map(|t| t.to_utc()).ok_or_else(bad)
}

fn num(two: &str) -> u32 {
    two.parse().unwrap_or(u32::MAX)
}

/// Whether a comma-separated list of patterns (`*` and `?` wildcards, `!` negation, as
/// OpenSSH's `match_pattern_list`) allows `name`.
fn allows(patterns: &str, name: &str) -> bool {
    let mut allowed = false;
    for pattern in patterns.split(',').map(str::trim) {
        match pattern.strip_prefix('!') {
            Some(p) if wildcard(p.as_bytes(), name.as_bytes()) => return false,
            Some(_) => {}
            None => allowed |= wildcard(pattern.as_bytes(), name.as_bytes()),
        }
    }
    allowed
}

/// Glob match with `*` and `?`, iterative (no backtracking blow-up).
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti";

    fn parse(text: &str) -> Result<AllowedSigners, Error> {
        AllowedSigners::parse(text, Path::new("allowed"))
    }

    fn key() -> KeyData {
        PublicKey::from_openssh(KEY).unwrap().key_data().clone()
    }

    #[test]
    fn a_line_gives_its_principals_for_the_export_namespace() {
        let signers = parse(&format!("# who\n\nalice@example.com,bob {KEY} a comment\n")).unwrap();
        assert_eq!(signers.accept(&key(), "fp", Utc::now()), Ok("alice@example.com,bob".into()));
    }

    #[test]
    fn namespaces_and_validity_windows_are_honoured() {
        let other = parse(&format!("alice namespaces=\"git,file\" {KEY}")).unwrap();
        let got = other.accept(&key(), "fp", Utc::now());
        assert!(matches!(got, Err(Refusal::NamespaceNotAllowed { .. })), "{got:?}");
        let glob = parse(&format!("alice namespaces=\"git,pg2lite-*\" {KEY}")).unwrap();
        assert_eq!(glob.accept(&key(), "fp", Utc::now()), Ok("alice".into()));
        let old = parse(&format!("alice valid-before=\"20200101Z\",namespaces=\"*\" {KEY}"));
        let got = old.unwrap().accept(&key(), "fp", Utc::now());
        assert!(matches!(got, Err(Refusal::NotValidNow { .. })), "{got:?}");
        let ca = parse(&format!("alice cert-authority {KEY}")).unwrap();
        let got = ca.accept(&key(), "fp", Utc::now());
        assert!(matches!(got, Err(Refusal::UnknownKey { .. })), "{got:?}");
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        for text in
            ["alice", "alice ssh-ed25519 notbase64", "alice bogus=1 ssh-ed25519 AAAA", "\"alice"]
        {
            let err = parse(&format!("# ok\n{text}\n")).unwrap_err().to_string();
            assert!(err.contains("line 2"), "{text}: {err}");
        }
    }

    #[test]
    fn namespace_patterns_match_as_openssh_does() {
        assert!(allows("pg2lite-export", NAMESPACE));
        assert!(allows("file,pg2lite-?xport", NAMESPACE));
        assert!(!allows("*,!pg2lite-*", NAMESPACE));
        assert!(!allows("git", NAMESPACE));
        assert!(wildcard(b"a*b*c", b"aXbYbZc"));
        assert!(!wildcard(b"a*b", b"aXc"));
    }
}
