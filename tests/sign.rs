//! Signed exports: `export --sign` and `migrate --sign` write `manifest.json.sig`, which the
//! system's `ssh-keygen -Y verify` and `pg2lite verify --allowed-signers` both accept, and
//! which both refuse, with the reason named, once the manifest changed (sealed again or not),
//! when another key signed it, or when there is no signature. `import --require-signature`
//! refuses such exports before anything is written. ssh-keygen (openssh-client) is the
//! oracle: it makes the keys, signs, verifies and prints fingerprints.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::cli::{Outcome, pg2lite};
use crate::support::pg::TestDb;

/// A scratch directory with a database to export and keys made by ssh-keygen.
struct Setup {
    db: TestDb,
    work: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let db = TestDb::new();
        db.execute(
            "CREATE TABLE author (id int PRIMARY KEY, name text NOT NULL);
             CREATE TABLE book (id int PRIMARY KEY, author int REFERENCES author, title text);
             INSERT INTO author VALUES (1, 'Ursula'), (2, 'Stanisław');
             INSERT INTO book SELECT g, 1 + g % 2, 'book ' || g FROM generate_series(1, 50) g;",
        );
        Setup { db, work: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// An Ed25519 key pair `name` and `name.pub`, with `passphrase` ('' for none).
    fn key(&self, name: &str, passphrase: &str) -> PathBuf {
        let path = self.path(name);
        ssh_keygen(&["-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f"], &path);
        path
    }

    /// An allowed-signers file naming `principal` for `key` (with an options field).
    fn allowed(&self, file: &str, lines: &[(&str, &str, &Path)]) -> PathBuf {
        let mut text = String::from("# who may sign pg2lite exports\n");
        for (principal, options, key) in lines {
            let public = fs::read_to_string(key.with_extension("pub")).unwrap();
            let mut words = public.split_whitespace();
            let (kind, base64) = (words.next().unwrap(), words.next().unwrap());
            text.push_str(&format!("{principal} {options} {kind} {base64}\n"));
        }
        let path = self.path(file);
        fs::write(&path, text).unwrap();
        path
    }

    /// Exports into `out/` with `extra` arguments; returns the run and the export directory.
    fn export(&self, out: &str, extra: &[&str]) -> (Outcome, Option<PathBuf>) {
        let url = self.db.url();
        let mut args = vec!["export", "--source", url.as_str(), "--out", out, "--json"];
        args.extend_from_slice(extra);
        let run = pg2lite(&args).cwd(self.work.path()).run();
        let dir = serde_json::from_str::<serde_json::Value>(&run.stdout)
            .ok()
            .and_then(|v| v["dir"].as_str().map(|d| self.work.path().join(d)));
        (run, dir)
    }

    /// A signed export, its directory.
    fn signed_export(&self, out: &str, key: &Path) -> PathBuf {
        let (run, dir) = self.export(out, &["--sign", key.to_str().unwrap()]);
        let run = run.assert_code(0);
        dir.unwrap_or_else(|| panic!("no export directory in the output:\n{run}"))
    }

    fn verify(&self, dir: &Path, signers: Option<&Path>) -> Outcome {
        let mut run = pg2lite(&["verify"]).arg(dir);
        if let Some(s) = signers {
            run = run.arg("--allowed-signers").arg(s);
        }
        run.run()
    }
}

/// Runs ssh-keygen with `args` then `last`; failing the test, with the install hint, when
/// ssh-keygen is not there.
fn ssh_keygen(args: &[&str], last: &Path) -> std::process::Output {
    let out = Command::new("ssh-keygen").args(args).arg(last).stdin(Stdio::null()).output();
    let out = out.unwrap_or_else(|e| {
        panic!("cannot run ssh-keygen ({e}): install it (apt-get install -y openssh-client)")
    });
    assert!(out.status.success(), "ssh-keygen {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// `ssh-keygen -Y verify` as an auditor runs it: the exit status and the output.
fn auditor_verify(dir: &Path, signers: &Path, principal: &str) -> (bool, String) {
    let manifest = fs::File::open(dir.join("manifest.json")).unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(signers)
        .args(["-I", principal, "-n", "pg2lite-export", "-s"])
        .arg(dir.join("manifest.json.sig"))
        .stdin(manifest)
        .output()
        .expect("ssh-keygen runs (apt-get install -y openssh-client)");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The key's fingerprint as ssh-keygen prints it: `SHA256:...`.
fn fingerprint(key: &Path) -> String {
    let out = ssh_keygen(&["-l", "-E", "sha256", "-f"], &key.with_extension("pub"));
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().nth(1).unwrap().to_owned()
}

/// Signs the export's manifest.json with ssh-keygen itself (replacing any signature).
fn ssh_keygen_sign(dir: &Path, key: &Path) {
    let _ = fs::remove_file(dir.join("manifest.json.sig"));
    let mut args = vec!["-Y", "sign", "-n", "pg2lite-export", "-f"];
    let key = key.to_str().unwrap();
    args.push(key);
    ssh_keygen(&args, &dir.join("manifest.json"));
}

/// Changes the manifest's export id and, with `reseal`, recomputes its `manifest_sha256` and
/// its line in SHA256SUMS, as anyone can.
fn edit_manifest(dir: &Path, reseal: bool) {
    let path = dir.join("manifest.json");
    let text = fs::read_to_string(&path).unwrap();
    let at = text.find("\"export_id\": \"").unwrap() + "\"export_id\": \"".len();
    let mut edited = format!("{}forged-{}", &text[..at], &text[at..]);
    if reseal {
        let key = "\"manifest_sha256\": \"";
        let start = edited.rfind(key).unwrap() + key.len();
        let end = start + edited[start..].find('"').unwrap();
        edited.replace_range(start..end, "");
        let seal = pg2lite::model::manifest::sha256_hex(edited.as_bytes());
        edited.insert_str(start, &seal);
        let sums = fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
        let old = pg2lite::model::manifest::sha256_hex(text.as_bytes());
        let new = pg2lite::model::manifest::sha256_hex(edited.as_bytes());
        fs::write(dir.join("SHA256SUMS"), sums.replace(&old, &new)).unwrap();
    }
    fs::write(&path, edited).unwrap();
}

fn assert_refused(out: Outcome, needle: &str) {
    let out = out.assert_code(1);
    assert!(out.stdout.contains(needle), "expected stdout to contain {needle:?}, got:\n{out}");
}

#[test]
fn a_signed_export_verifies_with_ssh_keygen_and_with_pg2lite() {
    let s = Setup::new();
    let key = s.key("alice", "");
    let signers = s.allowed("allowed_signers", &[("alice@example.com", "", &key)]);
    let dir = s.signed_export("out", &key);
    let sig = fs::read_to_string(dir.join("manifest.json.sig")).unwrap();
    assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----\n"), "{sig}");

    let (good, text) = auditor_verify(&dir, &signers, "alice@example.com");
    assert!(good, "ssh-keygen -Y verify refused pg2lite's signature: {text}");
    assert!(text.contains("Good \"pg2lite-export\" signature for alice@example.com"), "{text}");

    let fp = fingerprint(&key);
    let out = s.verify(&dir, Some(&signers)).assert_code(0);
    assert!(out.stdout.contains(&format!("by alice@example.com (key {fp})")), "{out}");
    assert!(out.stdout.contains("0 problems"), "{out}");
    // The signature is part of the export: not an extra file, also under --deep.
    pg2lite(&["verify", "--deep"]).arg(&dir).assert_code(0);
    let out = s.verify(&dir, None).assert_code(0);
    assert!(out.stdout.contains(&format!("signed by key {fp}")), "{out}");
    assert!(out.stdout.contains("UNCHECKED"), "{out}");
    let json = pg2lite(&["verify", "--json"]).arg(&dir).assert_code(0);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["signature"]["state"], "unchecked", "{json}");
    assert_eq!(report["signature"]["fingerprint"], fp.as_str(), "{json}");
    // sha256sum -c still covers manifest.json and every data file.
    let sums = Command::new("sha256sum").args(["-c", "SHA256SUMS"]).current_dir(&dir).output();
    let sums = sums.unwrap();
    assert!(sums.status.success(), "{}", String::from_utf8_lossy(&sums.stdout));
    assert!(String::from_utf8_lossy(&sums.stdout).contains("manifest.json: OK"));
}

#[test]
fn an_unsigned_export_says_so_and_fails_only_when_signers_are_given() {
    let s = Setup::new();
    let key = s.key("alice", "");
    let signers = s.allowed("allowed_signers", &[("alice@example.com", "", &key)]);
    let (run, dir) = s.export("out", &[]);
    run.assert_code(0);
    let dir = dir.unwrap();
    assert!(!dir.join("manifest.json.sig").exists());
    let out = s.verify(&dir, None).assert_code(0);
    assert!(out.stdout.contains("signature: none"), "{out}");
    assert_refused(s.verify(&dir, Some(&signers)), "the export is not signed");
    let (good, text) = auditor_verify(&dir, &signers, "alice@example.com");
    assert!(!good, "ssh-keygen accepted a missing signature: {text}");
}

#[test]
fn a_signature_made_by_ssh_keygen_itself_verifies_in_pg2lite() {
    let s = Setup::new();
    let key = s.key("alice", "");
    let signers = s.allowed("allowed_signers", &[("alice@example.com", "", &key)]);
    let (run, dir) = s.export("out", &[]);
    run.assert_code(0);
    let dir = dir.unwrap();
    ssh_keygen_sign(&dir, &key);
    let out = s.verify(&dir, Some(&signers)).assert_code(0);
    assert!(out.stdout.contains("by alice@example.com"), "{out}");
    let target = s.path("app.db");
    pg2lite(&["import", "--from"])
        .arg(&dir)
        .arg("--target")
        .arg(&target)
        .arg("--require-signature")
        .arg(&signers)
        .assert_code(0);
    assert!(target.exists());
}

#[test]
fn a_changed_manifest_is_refused_by_both_tools_whether_or_not_it_was_sealed_again() {
    let s = Setup::new();
    let key = s.key("alice", "");
    let signers = s.allowed("allowed_signers", &[("alice@example.com", "", &key)]);
    for reseal in [false, true] {
        let dir = s.signed_export(if reseal { "resealed" } else { "changed" }, &key);
        edit_manifest(&dir, reseal);
        let (good, text) = auditor_verify(&dir, &signers, "alice@example.com");
        assert!(!good, "ssh-keygen accepted a changed manifest (reseal {reseal}): {text}");
        let out = s.verify(&dir, Some(&signers));
        assert_refused(
            out,
            "does not match manifest.json: the manifest was changed after it was signed",
        );
        // Even without signers, a signature that no longer fits is a problem.
        let out = s.verify(&dir, None).assert_code(1);
        assert!(out.stdout.contains("manifest.json.sig: the signature (by key"), "{out}");
        if reseal {
            // The checksums all hold: only the signature tells.
            assert!(out.stdout.contains("1 problem found"), "{out}");
        }
    }
}

#[test]
fn a_signature_by_a_key_not_in_allowed_signers_is_refused_by_both_tools() {
    let s = Setup::new();
    let (alice, mallory) = (s.key("alice", ""), s.key("mallory", ""));
    let signers = s.allowed("allowed_signers", &[("alice@example.com", "", &alice)]);
    let dir = s.signed_export("out", &mallory);
    let (good, text) = auditor_verify(&dir, &signers, "alice@example.com");
    assert!(!good, "ssh-keygen accepted another key's signature: {text}");
    let fp = fingerprint(&mallory);
    let out = s.verify(&dir, Some(&signers));
    assert_refused(out, &format!("signed by key {fp}, which is not in the allowed signers"));
    // ssh-keygen re-signing with the other key does not help either.
    ssh_keygen_sign(&dir, &mallory);
    assert_refused(s.verify(&dir, Some(&signers)), "which is not in the allowed signers");
}

#[test]
fn a_key_allowed_only_for_other_namespaces_is_refused_by_both_tools() {
    let s = Setup::new();
    let key = s.key("alice", "");
    let only_git = s.allowed("git_only", &[("alice@example.com", "namespaces=\"git\"", &key)]);
    let dir = s.signed_export("out", &key);
    let (good, text) = auditor_verify(&dir, &only_git, "alice@example.com");
    assert!(!good, "ssh-keygen accepted a key outside its namespaces: {text}");
    assert_refused(s.verify(&dir, Some(&only_git)), "only for namespaces \"git\"");
    let ours = s.allowed("ours", &[("alice@example.com", "namespaces=\"git,pg2lite-*\"", &key)]);
    assert!(auditor_verify(&dir, &ours, "alice@example.com").0);
    s.verify(&dir, Some(&ours)).assert_code(0);
}

#[test]
fn an_encrypted_key_needs_its_passphrase_and_nothing_is_exported_without_it() {
    let s = Setup::new();
    let key = s.key("locked", "correct horse");
    let signers = s.allowed("allowed_signers", &[("ops", "", &key)]);
    let url = s.db.url();
    let key_arg = key.to_str().unwrap();
    let args = ["export", "--source", url.as_str(), "--out", "out", "--sign", key_arg];
    pg2lite(&args)
        .cwd(s.work.path())
        .assert_code(2)
        .assert_stderr_contains("the key is encrypted and there is no terminal")
        .assert_stderr_contains("PG2LITE_SIGN_PASSPHRASE");
    pg2lite(&args)
        .cwd(s.work.path())
        .env("PG2LITE_SIGN_PASSPHRASE", "wrong")
        .assert_code(2)
        .assert_stderr_contains("wrong passphrase");
    assert!(!s.path("out").exists(), "a refused --sign must write nothing");
    let out = pg2lite(&args)
        .arg("--json")
        .cwd(s.work.path())
        .env("PG2LITE_SIGN_PASSPHRASE", "correct horse")
        .assert_code(0);
    let summary: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(summary["signed_by"], fingerprint(&key).as_str(), "{out}");
    let dir = s.work.path().join(summary["dir"].as_str().unwrap());
    assert!(auditor_verify(&dir, &signers, "ops").0);
    s.verify(&dir, Some(&signers)).assert_code(0);
}

#[test]
fn a_key_that_is_not_an_ed25519_private_key_is_refused_before_connecting() {
    let s = Setup::new();
    let (rsa, ecdsa) = (s.path("rsa"), s.path("ecdsa"));
    ssh_keygen(&["-q", "-t", "rsa", "-b", "1024", "-N", "", "-f"], &rsa);
    ssh_keygen(&["-q", "-t", "ecdsa", "-N", "", "-f"], &ecdsa);
    let key = s.key("alice", "");
    let pub_file = key.with_extension("pub");
    for (file, needle) in [
        (rsa.as_path(), "pg2lite signs with Ed25519 keys only"),
        (ecdsa.as_path(), "pg2lite signs with Ed25519 keys only"),
        (pub_file.as_path(), "not an OpenSSH private key"),
        (Path::new("/nonexistent/key"), "cannot read the key"),
    ] {
        let args = ["export", "--source", "postgresql://nobody@127.0.0.1:1/none", "--sign"];
        pg2lite(&args).arg(file).cwd(s.work.path()).assert_code(2).assert_stderr_contains(needle);
    }
}

#[test]
fn a_malformed_allowed_signers_file_is_an_error_naming_its_line() {
    let s = Setup::new();
    let key = s.key("alice", "");
    let dir = s.signed_export("out", &key);
    let bad = s.path("bad");
    fs::write(&bad, "# comment\nalice@example.com ssh-ed25519 not-base64\n").unwrap();
    s.verify(&dir, Some(&bad)).assert_code(2).assert_stderr_contains("line 2");
    let missing = s.path("no-such-file");
    s.verify(&dir, Some(&missing))
        .assert_code(2)
        .assert_stderr_contains("allowed signers")
        .assert_stderr_contains("cannot read");
    pg2lite(&["import", "--target", "x.db", "--from"])
        .arg(&dir)
        .arg("--require-signature")
        .arg(&bad)
        .cwd(s.work.path())
        .assert_code(2)
        .assert_stderr_contains("line 2");
    assert!(!s.path("x.db").exists());
}

/// A target with content, its bytes, and the import arguments that require `signers`.
fn existing_target(s: &Setup) -> (PathBuf, Vec<u8>) {
    let target = s.path("app.db");
    let conn = rusqlite::Connection::open(&target).unwrap();
    conn.execute_batch("CREATE TABLE keep (x); INSERT INTO keep VALUES ('old data');").unwrap();
    drop(conn);
    let bytes = fs::read(&target).unwrap();
    (target, bytes)
}

fn assert_untouched(s: &Setup, target: &Path, bytes: &[u8]) {
    assert_eq!(fs::read(target).unwrap(), bytes, "the target changed");
    assert!(!s.path("backups").exists(), "a refused import made a backup");
    assert!(!s.path("app.db.partial").exists(), "a refused import left a partial file");
}

#[test]
fn import_and_migrate_require_signature_refuse_unsigned_and_wrong_signer_exports() {
    let s = Setup::new();
    let (alice, mallory) = (s.key("alice", ""), s.key("mallory", ""));
    let signers = s.allowed("allowed_signers", &[("alice@example.com", "", &alice)]);
    let (run, unsigned) = s.export("unsigned", &[]);
    run.assert_code(0);
    let unsigned = unsigned.unwrap();
    let wrong = s.signed_export("wrong", &mallory);
    let (target, bytes) = existing_target(&s);
    for (dir, needle) in [
        (&unsigned, "the export is not signed".to_owned()),
        (&wrong, format!("signed by key {}, which is not in", fingerprint(&mallory))),
    ] {
        pg2lite(&["import", "--yes", "--target", "app.db", "--from"])
            .arg(dir)
            .arg("--require-signature")
            .arg(&signers)
            .cwd(s.work.path())
            .assert_code(2)
            .assert_stderr_contains(&needle)
            .assert_stderr_contains("nothing was written");
        assert_untouched(&s, &target, &bytes);
        pg2lite(&["migrate", "--yes", "--target", "app.db", "--skip-export", "--from"])
            .arg(dir)
            .arg("--require-signature")
            .arg(&signers)
            .cwd(s.work.path())
            .assert_code(2)
            .assert_stderr_contains(&needle);
        assert_untouched(&s, &target, &bytes);
    }
    // The requirement only makes sense of an existing export.
    let url = s.db.url();
    pg2lite(&["migrate", "--source", url.as_str(), "--target", "app.db", "--yes"])
        .arg("--require-signature")
        .arg(&signers)
        .cwd(s.work.path())
        .assert_code(2)
        .assert_stderr_contains("--skip-export");
    assert_untouched(&s, &target, &bytes);
    let good = s.signed_export("good", &alice);
    let out = pg2lite(&["import", "--yes", "--target", "app.db", "--from"])
        .arg(&good)
        .arg("--require-signature")
        .arg(&signers)
        .cwd(s.work.path())
        .assert_code(0);
    let fp = fingerprint(&alice);
    assert!(out.stdout.contains(&format!("good, by alice@example.com (key {fp})")), "{out}");
    assert_ne!(fs::read(&target).unwrap(), bytes);
}

#[test]
fn migrate_sign_writes_a_signature_ssh_keygen_accepts() {
    let s = Setup::new();
    let key = s.key("alice", "");
    let signers = s.allowed("allowed_signers", &[("alice@example.com", "", &key)]);
    let url = s.db.url();
    let args = ["migrate", "--source", url.as_str(), "--target", "app.db", "--sign"];
    let out = pg2lite(&args).arg(&key).cwd(s.work.path()).assert_code(0);
    assert!(out.stdout.contains(&format!("with key {}", fingerprint(&key))), "{out}");
    let exports = s.path("migration_data");
    let mut dirs = fs::read_dir(&exports).unwrap().map(|e| e.unwrap().path());
    let dir = dirs.find(|p| p.is_dir()).expect("the export directory");
    assert!(auditor_verify(&dir, &signers, "alice@example.com").0);
    s.verify(&dir, Some(&signers)).assert_code(0);
    // --sign signs a new export; with --skip-export there is none to sign.
    pg2lite(&["migrate", "--target", "app.db", "--skip-export", "--from"])
        .arg(&dir)
        .arg("--sign")
        .arg(&key)
        .cwd(s.work.path())
        .assert_code(2)
        .assert_stderr_contains("--sign");
}

#[test]
fn a_signature_file_that_is_a_link_garbage_or_for_another_namespace_is_a_problem() {
    let s = Setup::new();
    let key = s.key("alice", "");
    let signers = s.allowed("allowed_signers", &[("alice@example.com", "", &key)]);
    let dir = s.signed_export("out", &key);
    let sig = dir.join("manifest.json.sig");
    let elsewhere = s.path("elsewhere.sig");
    fs::rename(&sig, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &sig).unwrap();
    for signers in [None, Some(signers.as_path())] {
        let out = s.verify(&dir, signers).assert_code(1);
        assert!(out.stdout.contains("manifest.json.sig cannot be read: "), "{out}");
        assert!(out.stdout.contains("symbolic link"), "{out}");
    }
    fs::remove_file(&sig).unwrap();
    fs::write(&sig, "-----BEGIN SSH SIGNATURE-----\nnot base64\n").unwrap();
    assert_refused(s.verify(&dir, None), "is not an armored SSH signature");
    fs::remove_file(&sig).unwrap();
    let other = s.path("other");
    fs::copy(dir.join("manifest.json"), &other).unwrap();
    ssh_keygen(&["-Y", "sign", "-n", "file", "-f", key.to_str().unwrap()], &other);
    fs::copy(other.with_extension("sig"), &sig).unwrap();
    assert_refused(s.verify(&dir, Some(&signers)), "was made for namespace \"file\"");
    // The import that would follow refuses it too, with or without --require-signature.
    pg2lite(&["import", "--target", "x.db", "--from"])
        .arg(&dir)
        .cwd(s.work.path())
        .assert_code(2)
        .assert_stderr_contains("namespace");
    assert!(!s.path("x.db").exists());
}

/// Runs `pg2lite ARGS` on a pseudo-terminal (util-linux `script`), typing `typed` into it.
fn on_terminal(cwd: &Path, args: &str, typed: &str) -> (i32, String) {
    use std::io::Write as _;
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_pg2lite"));
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs (apt-get install -y bsdutils)");
    child.stdin.take().unwrap().write_all(typed.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn an_encrypted_key_asks_for_its_passphrase_on_a_terminal() {
    let s = Setup::new();
    let key = s.key("locked", "typed secret");
    let signers = s.allowed("allowed_signers", &[("ops", "", &key)]);
    let args = format!("export --source '{}' --out out --sign locked", s.db.url());
    let (code, text) = on_terminal(s.work.path(), &args, "not it\n");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("Passphrase for locked:") && text.contains("wrong passphrase"), "{text}");
    assert!(!s.path("out").exists());
    let (code, text) = on_terminal(s.work.path(), &args, "typed secret\n");
    assert_eq!(code, 0, "{text}");
    let mut dirs = fs::read_dir(s.path("out")).unwrap().map(|e| e.unwrap().path());
    let dir = dirs.find(|p| p.is_dir()).expect("the export directory");
    assert!(auditor_verify(&dir, &signers, "ops").0);
}
