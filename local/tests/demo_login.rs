//! The `mfa-demo-login` command, run as a process: the key file it writes, the variables it
//! prints, and the assertions it signs, checked with the service's own assertion verifier.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use mfa_shared::domain::model::{AccountSlug, LoginMethod, Role};
use mfa_shared::embedded::DemoLogin;
use mfa_shared::tokens::assertion::AssertionVerifier;
use mfa_shared::tokens::jwt::KeySet;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A directory of its own under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "mfa-demo-login-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir(&path).expect("create temporary directory");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn demo_login(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mfa-demo-login"))
        .args(args)
        .output()
        .expect("run mfa-demo-login")
}

/// Runs the command and returns its standard output, failing the test when it fails.
fn demo_login_ok(args: &[&str]) -> String {
    let output = demo_login(args);
    assert!(
        output.status.success(),
        "mfa-demo-login {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("output is UTF-8")
}

fn new_key(dir: &TempDir) -> String {
    let path = dir.0.join("login.pem");
    let path = path.to_str().expect("UTF-8 path").to_owned();
    demo_login_ok(&["new-key", &path]);
    path
}

/// Parses the `NAME=VALUE` lines of `env`.
fn parse_env(output: &str) -> HashMap<String, String> {
    output
        .lines()
        .map(|line| {
            let (name, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("line {line:?} is not NAME=VALUE"));
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

#[test]
fn new_key_writes_private_pem() {
    let dir = TempDir::new("new-key");
    let path = new_key(&dir);

    let pem = std::fs::read_to_string(&path).expect("read key file");
    assert!(
        DemoLogin::from_pkcs8_pem(&pem).is_ok(),
        "{path} is not a key"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode of {path}");
    }
}

#[test]
fn new_key_keeps_existing_file() {
    let dir = TempDir::new("existing");
    let path = new_key(&dir);
    let before = std::fs::read_to_string(&path).expect("read key file");

    let output = demo_login(&["new-key", &path]);

    assert!(!output.status.success(), "second new-key succeeded");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");
    let after = std::fs::read_to_string(&path).expect("read key file");
    assert_eq!(after, before, "the key file changed");
}

#[test]
fn env_and_assertion_agree() {
    let dir = TempDir::new("assertion");
    let path = new_key(&dir);

    let env = parse_env(&demo_login_ok(&["env", &path]));
    let mut names: Vec<&str> = env.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["MFA_LOGIN_AUDIENCE", "MFA_LOGIN_ISSUER", "MFA_LOGIN_JWKS"]
    );

    let assertion = demo_login_ok(&[
        "assertion",
        &path,
        "--email",
        "ana@example.com",
        "--login-method",
        "google",
        "--account",
        "acme=member",
        "--account",
        "beta=owner",
    ]);
    let verifier = AssertionVerifier {
        keys: KeySet::from_jwks(&env["MFA_LOGIN_JWKS"]).expect("valid JWKS"),
        issuer: env["MFA_LOGIN_ISSUER"].clone(),
        audience: env["MFA_LOGIN_AUDIENCE"].clone(),
    };
    let verified = verifier
        .verify(assertion.trim_end(), unix_now())
        .expect("assertion verifies");

    assert_eq!(verified.email, "ana@example.com");
    assert_eq!(verified.login_method, LoginMethod::Google);
    assert_eq!(verified.user_id, DemoLogin::user_id_for("ana@example.com"));
    let acme = AccountSlug::parse("acme").expect("valid slug");
    let beta = AccountSlug::parse("beta").expect("valid slug");
    assert_eq!(verified.accounts.get(&acme), Some(&Role::Member));
    assert_eq!(verified.accounts.get(&beta), Some(&Role::Owner));
}

#[test]
fn assertion_takes_user_id() {
    let dir = TempDir::new("user-id");
    let path = new_key(&dir);
    let env = parse_env(&demo_login_ok(&["env", &path]));

    let assertion = demo_login_ok(&[
        "assertion",
        &path,
        "--email",
        "ana@example.com",
        "--account",
        "acme=admin",
        "--user-id",
        "u-ana",
    ]);
    let verifier = AssertionVerifier {
        keys: KeySet::from_jwks(&env["MFA_LOGIN_JWKS"]).expect("valid JWKS"),
        issuer: env["MFA_LOGIN_ISSUER"].clone(),
        audience: env["MFA_LOGIN_AUDIENCE"].clone(),
    };
    let verified = verifier
        .verify(assertion.trim_end(), unix_now())
        .expect("assertion verifies");

    assert_eq!(verified.user_id.as_str(), "u-ana");
    assert_eq!(verified.login_method, LoginMethod::Email);
}

#[test]
fn bad_input_is_rejected() {
    let dir = TempDir::new("bad-input");
    let path = new_key(&dir);
    let not_a_key = dir.0.join("not-a-key.pem");
    std::fs::write(&not_a_key, "not a key").expect("write file");
    let not_a_key = not_a_key.to_str().expect("UTF-8 path");
    let missing = Path::new(&dir.0).join("missing.pem");
    let missing = missing.to_str().expect("UTF-8 path");

    let assertion = |key: &str, email: &str, account: &str| -> Vec<String> {
        ["assertion", key, "--email", email, "--account", account]
            .map(str::to_owned)
            .to_vec()
    };
    let cases = [
        (
            "account without role",
            assertion(&path, "ana@example.com", "acme"),
            "must be SLUG=ROLE",
        ),
        (
            "unknown role",
            assertion(&path, "ana@example.com", "acme=boss"),
            "role must be one of owner, admin, member",
        ),
        (
            "invalid email",
            assertion(&path, "not-an-email", "acme=member"),
            "field `email`",
        ),
        (
            "missing key file",
            assertion(missing, "ana@example.com", "acme=member"),
            "failed to read key file",
        ),
        (
            "key file that is not a key",
            assertion(not_a_key, "ana@example.com", "acme=member"),
            "expected a P-256 private key in PKCS#8 PEM",
        ),
    ];
    for (description, args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = demo_login(&args);
        assert!(!output.status.success(), "{description}: succeeded");
        assert!(output.stdout.is_empty(), "{description}: printed output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(expected),
            "{description}: stderr {stderr:?} lacks {expected:?}"
        );
    }
}
