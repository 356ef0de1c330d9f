//! API Gateway HTTP API (payload 2.0) events for every operation, parsed by `lambda_http`
//! and served by `mfa_lambda::handle` with the embedded app, as each function would serve
//! them in AWS.
//!
//! The events are JSON files under `tests/fixtures/`. Values that exist only at test time
//! (login assertions, tokens, tickets, codes) are `{{NAME}}` placeholders there, filled in
//! before the event is parsed.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::HeaderMap;
use lambda_http::Body;
use mfa_lambda::{handle, Operation};
use mfa_shared::clock::{Clock, ManualClock};
use mfa_shared::domain::model::{AccountSlug, LoginMethod, Role};
use mfa_shared::domain::totp::{TotpSecret, STEP_SECONDS};
use mfa_shared::embedded::{embedded_app, DemoIdentity, DemoLogin};
use mfa_shared::http::MAX_BODY_BYTES;
use mfa_shared::tokens::access::ACCESS_TOKEN_SECONDS;
use mfa_shared::App;
use serde_json::Value;

/// 2026-01-01T09:00:00Z, the time every test starts at.
const START: u64 = 1_767_258_000;

/// A response as the test reads it: status, headers and the JSON body (`Null` when empty).
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    fn text(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("field `{field}` is not a string in {}", self.body))
            .to_owned()
    }
}

/// The tokens of an `authenticated` response.
#[derive(Debug)]
struct Session {
    access_token: String,
    refresh_token: String,
}

impl Session {
    fn from_reply(reply: &Reply) -> Self {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["status"], "authenticated", "{}", reply.body);
        let token = |field: &str| {
            reply.body["session"][field]
                .as_str()
                .unwrap_or_else(|| panic!("session field `{field}` missing in {}", reply.body))
                .to_owned()
        };
        Self {
            access_token: token("access_token"),
            refresh_token: token("refresh_token"),
        }
    }
}

/// A confirmed authenticator app and the backup codes shown at confirmation.
#[derive(Debug)]
struct Enrolled {
    secret: TotpSecret,
    backup_codes: Vec<String>,
}

/// The embedded app with a manual clock, and the demo login service it trusts.
struct Service {
    app: App,
    login: DemoLogin,
    clock: ManualClock,
}

impl Service {
    fn new() -> Self {
        let clock = ManualClock::new(START);
        let (app, login) = embedded_app(Arc::new(clock.clone()));
        Self { app, login, clock }
    }

    /// Reads a fixture, fills in its placeholders and parses it as `lambda_http` does.
    fn event(&self, fixture: &str, values: &[(&str, &str)]) -> lambda_http::Request {
        let path = format!(
            "{}/tests/fixtures/{fixture}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read fixture {path}: {error}"));
        for (name, value) in values {
            text = text.replace(&format!("{{{{{name}}}}}"), value);
        }
        assert!(
            !text.contains("{{"),
            "fixture {fixture} has an unfilled placeholder"
        );
        lambda_http::request::from_str(&text)
            .unwrap_or_else(|error| panic!("fixture {fixture} is not an HTTP API event: {error}"))
    }

    /// Sends a fixture event to the function of `operation`.
    async fn send(&self, operation: Operation, fixture: &str, values: &[(&str, &str)]) -> Reply {
        let response = handle(&self.app, operation, self.event(fixture, values)).await;
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let body = match body {
            Body::Empty => Value::Null,
            Body::Text(text) => serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("response body is not JSON ({error}): {text}")),
            other => panic!("expected a text body, got {other:?}"),
        };
        Reply {
            status,
            headers: parts.headers,
            body,
        }
    }

    /// Signs a login assertion for `email` with an email login.
    async fn assertion(&self, email: &str, accounts: &[(&str, Role)]) -> String {
        let accounts: BTreeMap<AccountSlug, Role> = accounts
            .iter()
            .map(|(slug, role)| (AccountSlug::parse(slug).expect("valid slug"), *role))
            .collect();
        let identity = DemoIdentity {
            email: email.to_owned(),
            login_method: LoginMethod::Email,
            accounts,
            user_id: None,
        };
        self.login
            .assertion(&identity, self.clock.now(), self.app.random.as_ref())
            .await
            .expect("demo assertion")
    }

    /// Signs in to the first account of `accounts` and returns the response.
    async fn sign_in(&self, email: &str, accounts: &[(&str, Role)]) -> Reply {
        let assertion = self.assertion(email, accounts).await;
        let account = accounts[0].0;
        let values = [
            ("LOGIN_ASSERTION", assertion.as_str()),
            ("ACCOUNT", account),
        ];
        self.send(Operation::SignIn, "sign-in", &values).await
    }

    /// Signs in a member without a factor, which issues an `aal` 1 session at once.
    async fn session(&self, email: &str, role: Role) -> Session {
        Session::from_reply(&self.sign_in(email, &[("acme", role)]).await)
    }

    /// Signs in a member who has a factor and passes the challenge with a TOTP code, which
    /// issues an `aal` 2 session.
    async fn session_with_code(&self, email: &str, role: Role, secret: &TotpSecret) -> Session {
        let ticket = self.challenge_ticket(email, role).await;
        let code = self.next_code(secret);
        let values = [("MFA_TICKET", ticket.as_str()), ("CODE", code.as_str())];
        Session::from_reply(
            &self
                .send(Operation::AnswerChallenge, "answer-challenge", &values)
                .await,
        )
    }

    /// Signs in a member who has a factor and returns the `mfa_required` ticket.
    async fn challenge_ticket(&self, email: &str, role: Role) -> String {
        let reply = self.sign_in(email, &[("acme", role)]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["status"], "mfa_required", "{}", reply.body);
        reply.text("mfa_ticket")
    }

    /// Enrolls an authenticator app for the member of `session`.
    async fn enroll(&self, session: &Session) -> Enrolled {
        let token = [("ACCESS_TOKEN", session.access_token.as_str())];
        let started = self
            .send(Operation::StartEnrollment, "start-enrollment", &token)
            .await;
        assert_eq!(started.status, 200, "{}", started.body);
        let secret = secret_from_base32(&started.text("secret"));
        let enrollment_id = started.text("enrollment_id");

        let code = self.current_code(&secret);
        let values = [
            ("ACCESS_TOKEN", session.access_token.as_str()),
            ("ENROLLMENT_ID", enrollment_id.as_str()),
            ("CODE", code.as_str()),
        ];
        let confirmed = self
            .send(Operation::ConfirmEnrollment, "confirm-enrollment", &values)
            .await;
        assert_eq!(confirmed.status, 200, "{}", confirmed.body);
        Enrolled {
            secret,
            backup_codes: strings(&confirmed.body["backup_codes"]),
        }
    }

    /// Returns the code of the current time step.
    fn current_code(&self, secret: &TotpSecret) -> String {
        secret
            .code_at_step(self.clock.now() / STEP_SECONDS)
            .to_string()
    }

    /// Moves the clock to the next time step and returns its code, which has not been
    /// used yet (a code whose step was already accepted is rejected as a replay).
    fn next_code(&self, secret: &TotpSecret) -> String {
        self.clock.advance(STEP_SECONDS);
        self.current_code(secret)
    }

    /// Returns a six-digit code that the verifier rejects now: none of the codes of the
    /// current step and the steps either side.
    fn wrong_code(&self, secret: &TotpSecret) -> String {
        let step = self.clock.now() / STEP_SECONDS;
        let accepted: Vec<String> = (step - 1..=step + 1)
            .map(|step| secret.code_at_step(step).to_string())
            .collect();
        (0..)
            .map(|number| format!("{number:06}"))
            .find(|code| !accepted.contains(code))
            .expect("a code outside three accepted ones")
    }
}

fn secret_from_base32(text: &str) -> TotpSecret {
    let bytes = data_encoding::BASE32_NOPAD
        .decode(text.as_bytes())
        .expect("secret is unpadded Base32");
    TotpSecret::from_bytes(bytes).expect("secret is at least 128 bits")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {value}"))
        .iter()
        .map(|item| item.as_str().expect("string item").to_owned())
        .collect()
}

#[tokio::test]
async fn fixture_routes_match_operations() {
    let service = Service::new();
    let placeholders = [
        ("LOGIN_ASSERTION", "assertion"),
        ("ACCOUNT", "acme"),
        ("ACCESS_TOKEN", "token"),
        ("MFA_TICKET", "ticket"),
        ("CODE", "123456"),
        ("BACKUP_CODE", "abcd-efgh"),
        ("REFRESH_TOKEN", "refresh"),
        ("ENROLLMENT_ID", "enrollment"),
        ("USER_ID", "u-0123456789abcdef"),
    ];
    for operation in Operation::ALL {
        let fixture = operation.name().replace('_', "-");
        let event = service.event(&fixture, &placeholders);
        let resolved = mfa_shared::http::resolve(event.method(), event.uri().path());
        let (found, _) = resolved.unwrap_or_else(|error| panic!("fixture {fixture}: {error}"));
        assert_eq!(
            found, operation,
            "fixture {fixture} routes to another operation"
        );
    }
}

#[tokio::test]
async fn jwks_lists_signing_key() {
    let service = Service::new();

    let reply = service.send(Operation::Jwks, "jwks", &[]).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let keys = reply.body["keys"].as_array().expect("keys array");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["crv"], "P-256");
    assert_eq!(keys[0]["kid"], service.app.signer.key_id());
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.headers["cache-control"], "public, max-age=300");
}

#[tokio::test]
async fn named_stage_removed_from_path() {
    let service = Service::new();

    let reply = service.send(Operation::Jwks, "jwks-named-stage", &[]).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["keys"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn sign_in_without_factor_authenticates() {
    let service = Service::new();

    let reply = service
        .sign_in("ana@example.com", &[("acme", Role::Member)])
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "authenticated");
    let session = &reply.body["session"];
    assert_eq!(session["token_type"], "Bearer");
    assert_eq!(session["expires_in"], ACCESS_TOKEN_SECONDS);
    let access_token = session["access_token"].as_str().expect("access token");
    assert_eq!(
        access_token.split('.').count(),
        3,
        "the access token is a JWS"
    );
    assert!(session["refresh_token"]
        .as_str()
        .is_some_and(|token| !token.is_empty()));
    assert_eq!(reply.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn answer_challenge_with_totp_code() {
    let service = Service::new();
    let first = service.session("ana@example.com", Role::Member).await;
    let enrolled = service.enroll(&first).await;

    let signed_in = service
        .sign_in("ana@example.com", &[("acme", Role::Member)])
        .await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    assert_eq!(signed_in.body["status"], "mfa_required");
    assert_eq!(
        signed_in.body["methods"],
        serde_json::json!(["totp", "backup_code"])
    );
    assert_eq!(signed_in.body["expires_in"], 300);
    let ticket = signed_in.text("mfa_ticket");

    let code = service.next_code(&enrolled.secret);
    let values = [("MFA_TICKET", ticket.as_str()), ("CODE", code.as_str())];
    let reply = service
        .send(Operation::AnswerChallenge, "answer-challenge", &values)
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "authenticated");
    assert_eq!(reply.body["session"]["token_type"], "Bearer");
}

#[tokio::test]
async fn confirming_code_not_reusable() {
    let service = Service::new();
    let first = service.session("ana@example.com", Role::Member).await;
    let enrolled = service.enroll(&first).await;
    let ticket = service
        .challenge_ticket("ana@example.com", Role::Member)
        .await;

    // The clock has not moved, so this is the code that confirmed the enrollment.
    let code = service.current_code(&enrolled.secret);
    let values = [("MFA_TICKET", ticket.as_str()), ("CODE", code.as_str())];
    let reply = service
        .send(Operation::AnswerChallenge, "answer-challenge", &values)
        .await;

    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.error_code(), "invalid_code");
}

#[tokio::test]
async fn answer_challenge_with_backup_code() {
    let service = Service::new();
    let first = service.session("ana@example.com", Role::Member).await;
    let enrolled = service.enroll(&first).await;
    let backup_code = enrolled.backup_codes[0].as_str();

    let ticket = service
        .challenge_ticket("ana@example.com", Role::Member)
        .await;
    let values = [
        ("MFA_TICKET", ticket.as_str()),
        ("BACKUP_CODE", backup_code),
    ];
    let reply = service
        .send(
            Operation::AnswerChallenge,
            "answer-challenge-backup-code",
            &values,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "authenticated");

    let ticket = service
        .challenge_ticket("ana@example.com", Role::Member)
        .await;
    let values = [
        ("MFA_TICKET", ticket.as_str()),
        ("BACKUP_CODE", backup_code),
    ];
    let reused = service
        .send(
            Operation::AnswerChallenge,
            "answer-challenge-backup-code",
            &values,
        )
        .await;
    assert_eq!(reused.status, 401, "{}", reused.body);
    assert_eq!(reused.error_code(), "invalid_code");
}

#[tokio::test]
async fn wrong_codes_lock_out_with_retry_after() {
    let service = Service::new();
    let first = service.session("ana@example.com", Role::Member).await;
    let enrolled = service.enroll(&first).await;
    let ticket = service
        .challenge_ticket("ana@example.com", Role::Member)
        .await;
    let wrong = service.wrong_code(&enrolled.secret);
    let values = [("MFA_TICKET", ticket.as_str()), ("CODE", wrong.as_str())];

    for attempt in 1..=10 {
        let reply = service
            .send(Operation::AnswerChallenge, "answer-challenge", &values)
            .await;
        assert_eq!(reply.status, 401, "attempt {attempt}: {}", reply.body);
        assert_eq!(reply.error_code(), "invalid_code", "attempt {attempt}");
    }
    let locked = service
        .send(Operation::AnswerChallenge, "answer-challenge", &values)
        .await;

    assert_eq!(locked.status, 429, "{}", locked.body);
    assert_eq!(locked.error_code(), "too_many_attempts");
    assert_eq!(locked.headers["retry-after"], "900");
}

#[tokio::test]
async fn refresh_rotates_refresh_token() {
    let service = Service::new();
    let session = service.session("ana@example.com", Role::Member).await;
    let old_token = [("REFRESH_TOKEN", session.refresh_token.as_str())];

    let reply = service
        .send(Operation::Refresh, "refresh", &old_token)
        .await;

    let rotated = Session::from_reply(&reply);
    assert_ne!(rotated.refresh_token, session.refresh_token);
    assert_eq!(reply.body["session"]["expires_in"], ACCESS_TOKEN_SECONDS);
    let reused = service
        .send(Operation::Refresh, "refresh", &old_token)
        .await;
    assert_eq!(reused.status, 401, "{}", reused.body);
    assert_eq!(reused.error_code(), "unauthenticated");
}

#[tokio::test]
async fn switch_account_moves_session() {
    let service = Service::new();
    let accounts = [("acme", Role::Owner), ("globex", Role::Member)];
    let session = Session::from_reply(&service.sign_in("ana@example.com", &accounts).await);

    let values = [
        ("ACCESS_TOKEN", session.access_token.as_str()),
        ("ACCOUNT", "globex"),
    ];
    let reply = service
        .send(Operation::SwitchAccount, "switch-account", &values)
        .await;

    let switched = Session::from_reply(&reply);
    let token = [("ACCESS_TOKEN", switched.access_token.as_str())];
    let acme_settings = service
        .send(Operation::ReadEnforcement, "read-enforcement", &token)
        .await;
    assert_eq!(acme_settings.status, 403, "{}", acme_settings.body);
    assert_eq!(acme_settings.error_code(), "forbidden");

    let values = [
        ("ACCESS_TOKEN", switched.access_token.as_str()),
        ("ACCOUNT", "initech"),
    ];
    let not_member = service
        .send(Operation::SwitchAccount, "switch-account", &values)
        .await;
    assert_eq!(not_member.status, 403, "{}", not_member.body);
    assert_eq!(not_member.error_code(), "forbidden");
}

#[tokio::test]
async fn sign_out_ends_session() {
    let service = Service::new();
    let session = service.session("ana@example.com", Role::Member).await;
    let token = [("ACCESS_TOKEN", session.access_token.as_str())];

    let reply = service.send(Operation::SignOut, "sign-out", &token).await;

    assert_eq!(reply.status, 204);
    assert_eq!(reply.body, Value::Null);
    let after = service
        .send(Operation::MfaStatus, "mfa-status", &token)
        .await;
    assert_eq!(after.status, 401, "{}", after.body);
    assert_eq!(after.error_code(), "unauthenticated");
}

#[tokio::test]
async fn mfa_status_before_and_after_enrollment() {
    let service = Service::new();
    let session = service.session("ana@example.com", Role::Member).await;
    let token = [("ACCESS_TOKEN", session.access_token.as_str())];

    let before = service
        .send(Operation::MfaStatus, "mfa-status", &token)
        .await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert_eq!(before.body["enrolled"], false);
    assert_eq!(before.body["enrolled_at"], Value::Null);
    assert_eq!(before.body["backup_codes_remaining"], 0);
    assert_eq!(before.body["required_by_account"], false);

    service.enroll(&session).await;
    let after = service
        .send(Operation::MfaStatus, "mfa-status", &token)
        .await;

    assert_eq!(after.status, 200, "{}", after.body);
    assert_eq!(after.body["enrolled"], true);
    assert_eq!(after.body["enrolled_at"], "2026-01-01T09:00:00Z");
    assert_eq!(after.body["backup_codes_remaining"], 10);
    assert_eq!(after.body["required_by_account"], false);
}

#[tokio::test]
async fn start_enrollment_returns_secret_and_qr_code() {
    let service = Service::new();
    let session = service.session("ana@example.com", Role::Member).await;
    let token = [("ACCESS_TOKEN", session.access_token.as_str())];

    let reply = service
        .send(Operation::StartEnrollment, "start-enrollment", &token)
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let secret = reply.text("secret");
    assert_eq!(
        secret_from_base32(&secret).expose().len(),
        20,
        "160-bit secret"
    );
    let uri = reply.text("otpauth_uri");
    assert!(uri.starts_with("otpauth://totp/Dashboard:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(reply.text("qr_code").starts_with("data:image/png;base64,"));
    assert!(!reply.text("enrollment_id").is_empty());
    assert_eq!(reply.body["expires_at"], "2026-01-01T09:10:00Z");
}

#[tokio::test]
async fn confirm_enrollment_returns_backup_codes() {
    let service = Service::new();
    let session = service.session("ana@example.com", Role::Member).await;

    let enrolled = service.enroll(&session).await;

    assert_eq!(enrolled.backup_codes.len(), 10);
    let mut distinct = enrolled.backup_codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "backup codes are distinct");
    let token = [("ACCESS_TOKEN", session.access_token.as_str())];
    let again = service
        .send(Operation::StartEnrollment, "start-enrollment", &token)
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.error_code(), "already_enrolled");
}

#[tokio::test]
async fn forced_enrollment_ends_with_session() {
    let service = Service::new();
    let owner = service.session("owner@example.com", Role::Owner).await;
    service.enroll(&owner).await;
    let token = [("ACCESS_TOKEN", owner.access_token.as_str())];
    let enforced = service
        .send(Operation::ChangeEnforcement, "change-enforcement", &token)
        .await;
    assert_eq!(enforced.status, 200, "{}", enforced.body);

    let signed_in = service
        .sign_in("ana@example.com", &[("acme", Role::Member)])
        .await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    assert_eq!(signed_in.body["status"], "enrollment_required");
    let ticket = signed_in.text("mfa_ticket");
    let values = [("MFA_TICKET", ticket.as_str())];
    let started = service
        .send(
            Operation::StartEnrollment,
            "start-enrollment-ticket",
            &values,
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let secret = secret_from_base32(&started.text("secret"));
    let enrollment_id = started.text("enrollment_id");

    let code = service.current_code(&secret);
    let values = [
        ("MFA_TICKET", ticket.as_str()),
        ("ENROLLMENT_ID", enrollment_id.as_str()),
        ("CODE", code.as_str()),
    ];
    let confirmed = service
        .send(
            Operation::ConfirmEnrollment,
            "confirm-enrollment-ticket",
            &values,
        )
        .await;

    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.body["enrolled"], true);
    assert_eq!(strings(&confirmed.body["backup_codes"]).len(), 10);
    assert_eq!(confirmed.body["session"]["token_type"], "Bearer");
}

#[tokio::test]
async fn regenerate_backup_codes_replaces_set() {
    let service = Service::new();
    let first = service.session("ana@example.com", Role::Member).await;
    let enrolled = service.enroll(&first).await;

    let code = service.next_code(&enrolled.secret);
    let values = [
        ("ACCESS_TOKEN", first.access_token.as_str()),
        ("CODE", code.as_str()),
    ];
    let without_second_factor = service
        .send(
            Operation::RegenerateBackupCodes,
            "regenerate-backup-codes",
            &values,
        )
        .await;
    assert_eq!(
        without_second_factor.status, 403,
        "{}",
        without_second_factor.body
    );
    assert_eq!(without_second_factor.error_code(), "forbidden");

    let session = service
        .session_with_code("ana@example.com", Role::Member, &enrolled.secret)
        .await;
    let code = service.next_code(&enrolled.secret);
    let values = [
        ("ACCESS_TOKEN", session.access_token.as_str()),
        ("CODE", code.as_str()),
    ];
    let reply = service
        .send(
            Operation::RegenerateBackupCodes,
            "regenerate-backup-codes",
            &values,
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let new_codes = strings(&reply.body["backup_codes"]);
    assert_eq!(new_codes.len(), 10);
    assert!(new_codes
        .iter()
        .all(|code| !enrolled.backup_codes.contains(code)));
    let ticket = service
        .challenge_ticket("ana@example.com", Role::Member)
        .await;
    let values = [
        ("MFA_TICKET", ticket.as_str()),
        ("BACKUP_CODE", enrolled.backup_codes[0].as_str()),
    ];
    let old_code = service
        .send(
            Operation::AnswerChallenge,
            "answer-challenge-backup-code",
            &values,
        )
        .await;
    assert_eq!(old_code.status, 401, "{}", old_code.body);
    assert_eq!(old_code.error_code(), "invalid_code");
}

#[tokio::test]
async fn disable_mfa_removes_factor() {
    let service = Service::new();
    let first = service.session("ana@example.com", Role::Member).await;
    let enrolled = service.enroll(&first).await;
    let session = service
        .session_with_code("ana@example.com", Role::Member, &enrolled.secret)
        .await;

    let code = service.next_code(&enrolled.secret);
    let values = [
        ("ACCESS_TOKEN", session.access_token.as_str()),
        ("CODE", code.as_str()),
    ];
    let reply = service
        .send(Operation::DisableMfa, "disable-mfa", &values)
        .await;

    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(reply.body, Value::Null);
    let token = [("ACCESS_TOKEN", session.access_token.as_str())];
    let status = service
        .send(Operation::MfaStatus, "mfa-status", &token)
        .await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["enrolled"], false);
}

#[tokio::test]
async fn read_enforcement_defaults_off() {
    let service = Service::new();
    let owner = service.session("owner@example.com", Role::Owner).await;
    let token = [("ACCESS_TOKEN", owner.access_token.as_str())];

    let reply = service
        .send(Operation::ReadEnforcement, "read-enforcement", &token)
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["require_mfa"], false);
    assert_eq!(reply.body["updated_at"], Value::Null);
    assert_eq!(reply.body["updated_by"], Value::Null);
    let member = service.session("ana@example.com", Role::Member).await;
    let token = [("ACCESS_TOKEN", member.access_token.as_str())];
    let forbidden = service
        .send(Operation::ReadEnforcement, "read-enforcement", &token)
        .await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    assert_eq!(forbidden.error_code(), "forbidden");
}

#[tokio::test]
async fn change_enforcement_base64_body() {
    let service = Service::new();
    let owner = service.session("owner@example.com", Role::Owner).await;
    let token = [("ACCESS_TOKEN", owner.access_token.as_str())];
    let event = service.event("change-enforcement", &token);
    assert_eq!(
        &event.body()[..],
        br#"{"require_mfa":true}"#,
        "lambda_http decodes base64"
    );

    let not_enrolled = service
        .send(Operation::ChangeEnforcement, "change-enforcement", &token)
        .await;
    assert_eq!(not_enrolled.status, 409, "{}", not_enrolled.body);
    assert_eq!(not_enrolled.error_code(), "caller_not_enrolled");

    service.enroll(&owner).await;
    let reply = service
        .send(Operation::ChangeEnforcement, "change-enforcement", &token)
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["require_mfa"], true);
    assert_eq!(reply.body["updated_at"], "2026-01-01T09:00:00Z");
    let owner_id = DemoLogin::user_id_for("owner@example.com").to_string();
    assert_eq!(reply.body["updated_by"], owner_id.as_str());
    let read = service
        .send(Operation::ReadEnforcement, "read-enforcement", &token)
        .await;
    assert_eq!(read.body["require_mfa"], true);
}

#[tokio::test]
async fn list_members_shows_enrollment() {
    let service = Service::new();
    let owner = service.session("owner@example.com", Role::Owner).await;
    service.enroll(&owner).await;
    service.session("ana@example.com", Role::Member).await;
    let token = [("ACCESS_TOKEN", owner.access_token.as_str())];

    let reply = service
        .send(Operation::ListMembers, "list-members", &token)
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let members = reply.body["members"].as_array().expect("members array");
    assert_eq!(members.len(), 2, "{}", reply.body);
    let member = |email: &str| {
        members
            .iter()
            .find(|member| member["email"] == email)
            .unwrap_or_else(|| panic!("{email} is not listed in {}", reply.body))
    };
    let listed_owner = member("owner@example.com");
    assert_eq!(
        listed_owner["user_id"],
        DemoLogin::user_id_for("owner@example.com")
            .to_string()
            .as_str()
    );
    assert_eq!(listed_owner["role"], "owner");
    assert_eq!(listed_owner["mfa_enrolled"], true);
    assert_eq!(listed_owner["enrolled_at"], "2026-01-01T09:00:00Z");
    let listed_member = member("ana@example.com");
    assert_eq!(listed_member["role"], "member");
    assert_eq!(listed_member["mfa_enrolled"], false);
    assert_eq!(listed_member["enrolled_at"], Value::Null);
}

#[tokio::test]
async fn reset_member_mfa_removes_factor() {
    let service = Service::new();
    let owner = service.session("owner@example.com", Role::Owner).await;
    let member = service.session("ana@example.com", Role::Member).await;
    service.enroll(&member).await;
    let member_id = DemoLogin::user_id_for("ana@example.com").to_string();

    let values = [
        ("ACCESS_TOKEN", owner.access_token.as_str()),
        ("USER_ID", member_id.as_str()),
    ];
    let reply = service
        .send(Operation::ResetMemberMfa, "reset-member-mfa", &values)
        .await;

    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(reply.body, Value::Null);
    let token = [("ACCESS_TOKEN", member.access_token.as_str())];
    let ended = service
        .send(Operation::MfaStatus, "mfa-status", &token)
        .await;
    assert_eq!(
        ended.status, 401,
        "the member's session is revoked: {}",
        ended.body
    );
    let signed_in = service
        .sign_in("ana@example.com", &[("acme", Role::Member)])
        .await;
    assert_eq!(
        signed_in.body["status"], "authenticated",
        "no factor is left"
    );

    let unknown_id = DemoLogin::user_id_for("nobody@example.com").to_string();
    let values = [
        ("ACCESS_TOKEN", owner.access_token.as_str()),
        ("USER_ID", unknown_id.as_str()),
    ];
    let unknown = service
        .send(Operation::ResetMemberMfa, "reset-member-mfa", &values)
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown.error_code(), "not_found");
}

#[tokio::test]
async fn event_for_other_function_not_found() {
    let service = Service::new();
    let assertion = service
        .assertion("ana@example.com", &[("acme", Role::Member)])
        .await;
    let values = [("LOGIN_ASSERTION", assertion.as_str()), ("ACCOUNT", "acme")];

    let reply = service.send(Operation::Jwks, "sign-in", &values).await;

    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(reply.error_code(), "not_found");
    let session = service.session("ana@example.com", Role::Member).await;
    let token = [("ACCESS_TOKEN", session.access_token.as_str())];
    let same_path = service
        .send(Operation::DisableMfa, "mfa-status", &token)
        .await;
    assert_eq!(same_path.status, 404, "{}", same_path.body);
    assert_eq!(same_path.error_code(), "not_found");
}

#[tokio::test]
async fn oversized_body_rejected() {
    let service = Service::new();
    let padding = "a".repeat(MAX_BODY_BYTES + 1);
    let values = [("LOGIN_ASSERTION", padding.as_str()), ("ACCOUNT", "acme")];

    let reply = service.send(Operation::SignIn, "sign-in", &values).await;

    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.error_code(), "payload_too_large");
}

/// `POST /dev/login` exists only in `mfa-local`. The event comes through a catch-all
/// `$default` route, the one way API Gateway could send it to a function.
#[tokio::test]
async fn no_function_serves_dev_login() {
    let service = Service::new();

    for operation in Operation::ALL {
        let reply = service.send(operation, "dev-login", &[]).await;

        let name = operation.name();
        assert_eq!(reply.status, 404, "{name}: {}", reply.body);
        assert_eq!(reply.error_code(), "not_found", "{name}");
        assert_eq!(reply.body.get("login_assertion"), None, "{name}");
    }
}
