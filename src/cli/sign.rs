//! `--sign`, `--allowed-signers` and `--require-signature`: reads the key (asking for its
//! passphrase on a terminal, or taking it from `PG2LITE_SIGN_PASSPHRASE`) and the
//! allowed-signers file up front, before anything connects or is written, and words a
//! signature's state for people.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use pg2lite::sign::{self, AllowedSigners, KeyFile, SigningKey, Status};

/// The `--sign` key, decrypted: with the passphrase from `PG2LITE_SIGN_PASSPHRASE` when set,
/// else asked for on the terminal; without either, an encrypted key is an error.
pub fn signing_key(path: Option<&Path>) -> anyhow::Result<Option<SigningKey>> {
    let Some(path) = path else { return Ok(None) };
    let file = KeyFile::read(path)?;
    if !file.is_encrypted() {
        return Ok(Some(file.unlock(None)?));
    }
    let passphrase = match std::env::var(sign::PASSPHRASE_ENV) {
        Ok(p) => Some(p),
        Err(_) if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() => Some(
            rpassword::prompt_password(format!("Passphrase for {}: ", path.display()))
                .context("cannot read the passphrase from the terminal")?,
        ),
        Err(_) => None,
    };
    Ok(Some(file.unlock(passphrase.as_deref())?))
}

/// The allowed-signers file of `--allowed-signers` or `--require-signature`, parsed.
pub fn allowed_signers(path: Option<&Path>) -> anyhow::Result<Option<AllowedSigners>> {
    path.map(AllowedSigners::load).transpose().map_err(Into::into)
}

/// One line on the signature: who signed, whether it was checked.
pub fn describe(status: &Status) -> String {
    match status {
        Status::Unsigned => "signature: none (the export is not signed)".to_owned(),
        Status::Unchecked { fingerprint } => format!(
            "signature: signed by key {fingerprint}, matching the manifest; UNCHECKED: who \
             holds that key was not checked (pass --allowed-signers FILE)"
        ),
        Status::Verified { fingerprint, principals, allowed_signers } => format!(
            "signature: good, by {principals} (key {fingerprint}), accepted by {}",
            allowed_signers.display()
        ),
    }
}
