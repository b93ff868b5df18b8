//! TLS for the source connection, in pure Rust (rustls with ring), so that building pg2lite
//! needs no system OpenSSL. What is checked follows libpq's `sslmode`:
//!
//! | sslmode | encrypted | certificate chain checked | host name checked |
//! |---|---|---|---|
//! | disable | no | - | - |
//! | allow (taken as prefer), prefer | when the server offers it | no | no |
//! | require | yes | only when `sslrootcert` is given (libpq: then as verify-ca) | no |
//! | verify-ca | yes | yes | no |
//! | verify-full | yes | yes | yes |
//!
//! The trust anchors are the certificates in `sslrootcert` when it is given, else (and for
//! `sslrootcert=system`) Mozilla's roots compiled into the binary (webpki-roots), which is
//! what hosted Postgres services' certificates chain to.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{Error, Result, SslMode};

/// The connector for `mode`, trusting `root_cert` (a PEM file, or `system`) when given.
///
/// # Errors
/// [`Error::Tls`] when `root_cert` cannot be read or holds no PEM certificate.
pub fn connector(mode: SslMode, root_cert: Option<&str>) -> Result<MakeRustlsConnect> {
    let provider = Arc::new(ring());
    let check = match (mode, root_cert) {
        (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, None) => Check::Nothing,
        (SslMode::Require | SslMode::VerifyCa, _) => Check::Chain,
        (SslMode::VerifyFull, _) => Check::ChainAndName,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(AcceptAny(provider.clone())),
        Check::Chain => Arc::new(ChainOnly(webpki(root_cert, &provider)?)),
        Check::ChainAndName => webpki(root_cert, &provider)?,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// rustls' ring provider. rustls 0.23.48 deprecates it for lacking post-quantum key exchange
/// (aws-lc-rs has it); ring is kept because it builds with only a C compiler, where aws-lc-rs
/// needs a much larger C build, and a Postgres session is not long-lived secret storage.
#[allow(deprecated)]
fn ring() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// How much of the server's certificate is checked.
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// rustls' standard verifier (chain, validity dates, host name) over the trust anchors.
fn webpki(
    root_cert: Option<&str>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>> {
    let roots = roots(root_cert)?;
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Tls(format!("cannot use the root certificates: {e}")))
}

/// The certificates of the `sslrootcert` file, or Mozilla's roots without one.
fn roots(root_cert: Option<&str>) -> Result<RootCertStore> {
    let Some(path) = root_cert.filter(|p| *p != "system") else {
        return Ok(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
    };
    let unreadable = |e: &dyn std::fmt::Display| {
        Error::Tls(format!(
            "cannot read sslrootcert {path}: {e}; give a PEM file of CA certificates"
        ))
    };
    // Read first, so that a missing file says so rather than "not PEM".
    let pem = std::fs::read(path).map_err(|e| unreadable(&e))?;
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| unreadable(&e))?;
        store.add(cert).map_err(|e| unreadable(&e))?;
    }
    if store.is_empty() {
        return Err(Error::Tls(format!(
            "sslrootcert {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----); give \
             the CA certificate that signed the server's"
        )));
    }
    Ok(store)
}

/// verify-ca: the chain must lead to a trusted root; the name in it may be any.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain before the name, so a name error means the chain is good.
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// prefer and require: encrypt, and accept whatever certificate the server shows (the
/// handshake's signatures are still checked, so the session key belongs to that certificate).
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_root_certificate_file_is_named() {
        let err = roots(Some("/nonexistent/ca.pem")).unwrap_err().to_string();
        assert!(err.contains("cannot read sslrootcert /nonexistent/ca.pem"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = roots(empty.to_str()).unwrap_err().to_string();
        assert!(err.contains("holds no PEM certificate"), "{err}");
    }

    #[test]
    fn without_a_root_file_mozillas_roots_are_trusted() {
        assert!(roots(None).unwrap().len() > 100);
        assert!(roots(Some("system")).unwrap().len() > 100);
    }
}
