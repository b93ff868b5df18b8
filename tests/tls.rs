//! TLS through rustls against a real server whose certificate a test CA signed (made here with
//! rcgen, so no openssl command is needed): each `sslmode` checks what libpq's checks, and a
//! refused certificate says what to do.

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pg2lite::pg::{Error, Source};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::support::pg::Cluster;

/// A certificate authority, able to sign server certificates.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let pem = params.self_signed(&key).unwrap().pem();
        Ca { issuer: Issuer::new(params, key), pem }
    }

    /// A server certificate for `names` (DNS names or IP addresses) and its key, in PEM.
    fn sign(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, "pg2lite test server");
        (params.signed_by(&key, &self.issuer).unwrap().pem(), key.serialize_pem())
    }

    fn write(&self, dir: &Path, file: &str) -> PathBuf {
        let path = dir.join(file);
        std::fs::write(&path, &self.pem).unwrap();
        path
    }
}

/// Gives `cluster` the certificate and key, turns `ssl` on and reloads the configuration.
fn serve_tls(cluster: &Cluster, cert: &str, key: &str) {
    let data = cluster.dir().expect("a private cluster").join("data");
    let owner = std::fs::metadata(&data).unwrap();
    for (file, text) in [("server.crt", cert), ("server.key", key)] {
        let path = data.join(file);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
    }
    let mut client = cluster.client("postgres");
    // One statement at a time: ALTER SYSTEM refuses to run in a multi-statement batch.
    for sql in [
        "ALTER SYSTEM SET ssl = on",
        "ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
        "ALTER SYSTEM SET ssl_key_file = 'server.key'",
        "SELECT pg_reload_conf()",
    ] {
        client.batch_execute(sql).unwrap();
    }
}

fn source(cluster: &Cluster, host: &str, params: &str) -> Source {
    let url = cluster.url("postgres").replacen("127.0.0.1", host, 1);
    let url = format!("{url}?{params}");
    Source::resolve(Some(&url), &HashMap::new()).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Connects as pg2lite does; whether the session is encrypted, by the server's own account.
fn encrypted(source: &Source) -> Result<bool, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = source.connect().await?;
        let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
        let row = client.query_one(sql, &[]).await.map_err(|e| source.query_error(&e))?;
        Ok(row.get::<_, bool>(0))
    })
}

/// The reload is asynchronous: waits (bounded) until `source` connects encrypted.
fn wait_for_tls(source: &Source) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match encrypted(source) {
            Ok(true) => return,
            other if Instant::now() > deadline => panic!("TLS never came on: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn refused(source: &Source, mode: &str) {
    match encrypted(source) {
        Ok(tls) => panic!("{source} with sslmode={mode} should be refused (tls={tls})"),
        Err(err) => {
            let text = err.to_string();
            assert!(matches!(err, Error::TlsRefused { .. }), "{text}");
            assert!(text.contains(&format!("sslmode={mode}")), "{text}");
            assert!(text.contains("sslrootcert=FILE"), "{text}");
        }
    }
}

/// The server's certificate names another host (db.example): the chain is good, the name is not.
#[test]
fn each_sslmode_checks_what_libpq_checks_of_a_certificate_for_another_name() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, stranger) = (Ca::new("pg2lite test CA"), Ca::new("some other CA"));
    let (ca_file, other_file) =
        (ca.write(dir.path(), "ca.pem"), stranger.write(dir.path(), "x.pem"));
    let (ca_file, other_file) = (ca_file.display(), other_file.display());
    let cluster = Cluster::start_without_tls();
    let (cert, key) = ca.sign(&["db.example"]);
    serve_tls(&cluster, &cert, &key);
    wait_for_tls(&source(&cluster, "127.0.0.1", "sslmode=require"));

    let ok = |params: &str, tls: bool| {
        let got = encrypted(&source(&cluster, "127.0.0.1", params));
        assert_eq!(got.map_err(|e| e.to_string()), Ok(tls), "{params}");
    };
    ok("sslmode=disable", false);
    ok("sslmode=allow", true);
    ok("sslmode=prefer", true);
    ok("sslmode=require", true);
    ok(&format!("sslmode=require&sslrootcert={ca_file}"), true);
    ok(&format!("sslmode=verify-ca&sslrootcert={ca_file}"), true);
    // libpq: require with a root certificate file checks the chain, as verify-ca.
    refused(
        &source(&cluster, "127.0.0.1", &format!("sslmode=require&sslrootcert={other_file}")),
        "require",
    );
    refused(
        &source(&cluster, "127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={other_file}")),
        "verify-ca",
    );
    // No sslrootcert: Mozilla's roots, which never signed a test CA.
    refused(&source(&cluster, "127.0.0.1", "sslmode=verify-ca"), "verify-ca");
    refused(
        &source(&cluster, "127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca_file}")),
        "verify-full",
    );
}

#[test]
fn verify_full_connects_when_the_certificate_names_the_host_by_name_or_address() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("pg2lite test CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let cluster = Cluster::start_without_tls();
    let (cert, key) = ca.sign(&["localhost", "127.0.0.1"]);
    serve_tls(&cluster, &cert, &key);
    let params = format!("sslmode=verify-full&sslrootcert={}", ca_file.display());
    wait_for_tls(&source(&cluster, "127.0.0.1", &params));
    assert_eq!(
        encrypted(&source(&cluster, "localhost", &params)).map_err(|e| e.to_string()),
        Ok(true)
    );
    // The same through the environment, as psql reads it.
    let env: HashMap<String, String> =
        [("PGSSLMODE", "verify-full".to_owned()), ("PGSSLROOTCERT", ca_file.display().to_string())]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
    let from_env = Source::resolve(Some(&cluster.url("postgres")), &env).unwrap();
    assert_eq!(encrypted(&from_env).map_err(|e| e.to_string()), Ok(true));
}

#[test]
fn a_missing_root_certificate_file_is_named_before_connecting() {
    let url = "postgresql://u@127.0.0.1:1/d?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem";
    let source = Source::resolve(Some(url), &HashMap::new()).unwrap();
    let err = encrypted(&source).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Tls(_)), "{text}");
    assert!(text.contains("cannot read sslrootcert /nonexistent/ca.pem"), "{text}");
}
