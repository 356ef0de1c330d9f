//! Start-up of a function with a bad environment: `run` must stop before the Lambda
//! runtime starts, with an error that names the variable at fault.
//!
//! The cases change the process environment, so they run one after another in the only
//! test of this file (each test file is its own process).

use mfa_lambda::{run, Operation};
use mfa_shared::embedded::DemoLogin;
use mfa_shared::random::OsRandom;

/// Every `MFA_*` variable the functions read.
const VARIABLES: [&str; 9] = [
    "MFA_TOKEN_ISSUER",
    "MFA_TOKEN_AUDIENCE",
    "MFA_TOTP_ISSUER",
    "MFA_LOGIN_ISSUER",
    "MFA_LOGIN_AUDIENCE",
    "MFA_LOGIN_JWKS",
    "MFA_TABLE",
    "MFA_SECRETS_KEY_ID",
    "MFA_SIGNING_KEY_ID",
];

/// Replaces the MFA variables of the process with a valid configuration, then sets
/// `variable` to `value` (`None` removes it).
fn set_environment(jwks: &str, variable: &str, value: Option<&str>) {
    for name in VARIABLES {
        std::env::remove_var(name);
    }
    std::env::set_var("MFA_TOKEN_ISSUER", "https://mfa.example.com");
    std::env::set_var("MFA_TOKEN_AUDIENCE", "dashboard");
    std::env::set_var("MFA_LOGIN_ISSUER", "https://login.example.com");
    std::env::set_var("MFA_LOGIN_AUDIENCE", "dashboard-mfa");
    std::env::set_var("MFA_LOGIN_JWKS", jwks);
    match value {
        Some(value) => std::env::set_var(variable, value),
        None => std::env::remove_var(variable),
    }
}

#[tokio::test]
async fn bad_environment_stops_start_up() {
    let jwks = DemoLogin::generate(&OsRandom).jwks_json();
    let cases = [
        ("MFA_LOGIN_JWKS", None),
        ("MFA_LOGIN_JWKS", Some("{\"keys\": 1}")),
        ("MFA_TOKEN_ISSUER", None),
        ("MFA_TOTP_ISSUER", Some("Dash:board")),
        ("MFA_TABLE", Some("ab")),
        ("MFA_SIGNING_KEY_ID", Some("alias/")),
    ];

    for (variable, value) in cases {
        set_environment(&jwks, variable, value);

        let error = run(Operation::Jwks).await.expect_err("start-up fails");

        let message = error.to_string();
        assert!(
            message.contains(variable),
            "{variable}={value:?}: {message}"
        );
    }
}
