//! What the service logs: one structured JSON line per request, and no secret in any line
//! or in the `Debug` output of the types that hold secrets.
//!
//! The journey test installs a JSON subscriber like the one `telemetry::init` builds, but
//! at every level and writing into memory. It is the process-wide default, so events from
//! every thread are captured, blocking tasks included. This binary has one test that sends
//! requests, so the captured lines are all its own.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use data_encoding::{BASE32_NOPAD, BASE64, BASE64URL_NOPAD, HEXLOWER, HEXUPPER};
use mfa_shared::domain::backup::{generate_set, BackupCode, BackupHasher};
use mfa_shared::domain::totp::{provisioning, TotpCode, TotpSecret};
use mfa_shared::embedded::{DemoLogin, LocalCipher, LocalSigner, MemoryStore};
use mfa_shared::random::{OsRandom, Random};
use mfa_shared::service::{App, Parts};
use mfa_shared::tokens::opaque::{new_refresh_token, new_session_id, new_ticket};
use mfa_tests::{secret_from_base32, tokens, Harness, Reply, Tokens};
use serde_json::{json, Value};

const OWNER_EMAIL: &str = "ana@acme.test";
const OWNER_ACCOUNTS: &[(&str, &str)] = &[("acme", "owner"), ("beta", "owner")];
const MEMBER_EMAIL: &str = "bob@acme.test";
const MEMBER_ACCOUNTS: &[(&str, &str)] = &[("acme", "member")];

/// Installs the capturing subscriber on first use and returns its buffer, which every
/// thread of the process writes to.
fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER
        .get_or_init(|| {
            let buffer = Arc::new(Mutex::new(Vec::new()));
            let writer_buffer = buffer.clone();
            let subscriber = tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_target(false)
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || BufferWriter(writer_buffer.clone()))
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other subscriber is installed in this test binary");
            buffer
        })
        .clone()
}

/// An `io::Write` that appends to the shared buffer.
struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for BufferWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .expect("log buffer lock")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A request the journey made, and what its log line must contain.
struct Sent {
    operation: &'static str,
    status: u16,
    user_id: String,
}

/// The journey's harness, every request it made, and every secret that crossed the wire.
struct Journey {
    harness: Harness,
    sent: Vec<Sent>,
    secrets: Vec<String>,
    /// Codes of 6 digits, searched for only where no digit is next to them, because
    /// timestamps and latencies in the log are long runs of digits.
    codes: Vec<String>,
}

impl Journey {
    /// Sends a request and records its expected log line. `route` is the method and path,
    /// and `expected` the status and the email of the user the line must name. Panics
    /// unless that status comes back.
    async fn call(
        &mut self,
        operation: &'static str,
        route: (&str, &str),
        bearer: Option<&str>,
        body: Option<Value>,
        expected: (u16, &str),
    ) -> Reply {
        let (method, path) = route;
        let (status, user_email) = expected;
        let reply = self.harness.call(method, path, bearer, body).await;
        assert_eq!(reply.status, status, "{operation}: {}", reply.json);
        self.sent.push(Sent {
            operation,
            status,
            user_id: Harness::user_id(user_email).to_string(),
        });
        reply
    }

    /// Records a token or secret, and its last dot-separated part (a JWT's signature or a
    /// refresh token's secret), which must not appear on its own either.
    fn secret(&mut self, value: &str) {
        self.secrets.push(value.to_owned());
        if let Some((_, last)) = value.rsplit_once('.') {
            self.secrets.push(last.to_owned());
        }
    }

    /// Records a session's tokens.
    fn session(&mut self, reply: &Reply) -> Tokens {
        let session = tokens(reply);
        self.secret(&session.access);
        self.secret(&session.refresh);
        session
    }

    /// Records backup codes as shown, upper-cased and without dashes.
    fn backup_codes(&mut self, reply: &Reply) -> Vec<String> {
        let codes: Vec<String> = reply.json["backup_codes"]
            .as_array()
            .expect("backup codes")
            .iter()
            .map(|code| code.as_str().expect("code is a string").to_owned())
            .collect();
        for code in &codes {
            self.secrets.push(code.clone());
            self.secrets.push(code.to_uppercase());
            self.secrets.push(code.replace('-', ""));
        }
        codes
    }

    /// Returns a fresh code of `secret` and records it.
    fn code(&mut self, secret: &TotpSecret) -> String {
        self.harness.next_step();
        let code = self.harness.code(secret, 0);
        self.codes.push(code.clone());
        code
    }

    /// Signs a login assertion, records it and posts the sign-in.
    async fn sign_in(&mut self, email: &str, accounts: &[(&str, &str)]) -> Reply {
        let assertion = self.harness.assertion(email, "email", accounts).await;
        self.secret(&assertion);
        let body = json!({ "login_assertion": assertion, "account": "acme" });
        self.call(
            "sign_in",
            ("POST", "/v1/sessions"),
            None,
            Some(body),
            (200, email),
        )
        .await
    }

    /// Signs in a member who has a factor and records the challenge ticket.
    async fn challenge(&mut self, email: &str, accounts: &[(&str, &str)]) -> String {
        let reply = self.sign_in(email, accounts).await;
        let ticket = reply.text("/mfa_ticket");
        self.secrets.push(ticket.clone());
        ticket
    }
}

/// Returns whether `code` occurs in `text` with no ASCII digit right before or after it.
fn contains_code(text: &str, code: &str) -> bool {
    text.match_indices(code).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

#[tokio::test]
async fn journey_logs_no_secret() {
    let buffer = log_buffer();
    let mut journey = Journey {
        harness: Harness::new(),
        sent: Vec::new(),
        secrets: Vec::new(),
        codes: Vec::new(),
    };
    let owner_id = Harness::user_id(OWNER_EMAIL).to_string();
    let member_id = Harness::user_id(MEMBER_EMAIL).to_string();

    // Sign in without a factor, then enroll.
    let reply = journey.sign_in(OWNER_EMAIL, OWNER_ACCOUNTS).await;
    let first = journey.session(&reply);
    let started = journey
        .call(
            "start_enrollment",
            ("POST", "/v1/me/mfa/enrollment"),
            Some(&first.access),
            None,
            (200, OWNER_EMAIL),
        )
        .await;
    let secret_text = started.text("/secret");
    journey.secrets.push(secret_text.clone());
    journey.secrets.push(secret_text.to_lowercase());
    journey.secrets.push(started.text("/otpauth_uri"));
    journey.secrets.push(started.text("/qr_code"));
    let secret = secret_from_base32(&secret_text);
    let code = journey.code(&secret);
    let body = json!({ "enrollment_id": started.text("/enrollment_id"), "code": code });
    let confirmed = journey
        .call(
            "confirm_enrollment",
            ("POST", "/v1/me/mfa/enrollment/confirm"),
            Some(&first.access),
            Some(body),
            (200, OWNER_EMAIL),
        )
        .await;
    let backup_codes = journey.backup_codes(&confirmed);

    // A challenge with a TOTP code, then one with a backup code.
    let ticket = journey.challenge(OWNER_EMAIL, OWNER_ACCOUNTS).await;
    let code = journey.code(&secret);
    let body = json!({ "mfa_ticket": ticket, "code": code });
    let reply = journey
        .call(
            "answer_challenge",
            ("POST", "/v1/sessions/mfa"),
            None,
            Some(body),
            (200, OWNER_EMAIL),
        )
        .await;
    let totp_session = journey.session(&reply);

    let ticket = journey.challenge(OWNER_EMAIL, OWNER_ACCOUNTS).await;
    let body = json!({ "mfa_ticket": ticket, "backup_code": backup_codes[0].to_uppercase() });
    let reply = journey
        .call(
            "answer_challenge",
            ("POST", "/v1/sessions/mfa"),
            None,
            Some(body),
            (200, OWNER_EMAIL),
        )
        .await;
    let backup_session = journey.session(&reply);

    // A wrong TOTP code (ten steps ahead, outside the window) and a wrong backup code.
    let ticket = journey.challenge(OWNER_EMAIL, OWNER_ACCOUNTS).await;
    let wrong_code = journey.harness.code(&secret, 10);
    journey.codes.push(wrong_code.clone());
    let body = json!({ "mfa_ticket": ticket, "code": wrong_code });
    journey
        .call(
            "answer_challenge",
            ("POST", "/v1/sessions/mfa"),
            None,
            Some(body),
            (401, OWNER_EMAIL),
        )
        .await;
    let wrong_backup = "zz00-zz00-zz00";
    journey.secrets.push(wrong_backup.to_owned());
    let body = json!({ "mfa_ticket": ticket, "backup_code": wrong_backup });
    journey
        .call(
            "answer_challenge",
            ("POST", "/v1/sessions/mfa"),
            None,
            Some(body),
            (401, OWNER_EMAIL),
        )
        .await;

    // Regenerate the backup codes with a current code.
    let code = journey.code(&secret);
    let reply = journey
        .call(
            "regenerate_backup_codes",
            ("POST", "/v1/me/mfa/backup-codes"),
            Some(&totp_session.access),
            Some(json!({ "code": code })),
            (200, OWNER_EMAIL),
        )
        .await;
    journey.backup_codes(&reply);

    // Refresh, then present the rotated token again, which revokes the session.
    let body = json!({ "refresh_token": totp_session.refresh });
    let reply = journey
        .call(
            "refresh",
            ("POST", "/v1/sessions/refresh"),
            None,
            Some(body.clone()),
            (200, OWNER_EMAIL),
        )
        .await;
    journey.session(&reply);
    journey
        .call(
            "refresh",
            ("POST", "/v1/sessions/refresh"),
            None,
            Some(body),
            (401, OWNER_EMAIL),
        )
        .await;

    // Switch accounts with a fresh aal 2 session.
    let ticket = journey.challenge(OWNER_EMAIL, OWNER_ACCOUNTS).await;
    let code = journey.code(&secret);
    let body = json!({ "mfa_ticket": ticket, "code": code });
    let reply = journey
        .call(
            "answer_challenge",
            ("POST", "/v1/sessions/mfa"),
            None,
            Some(body),
            (200, OWNER_EMAIL),
        )
        .await;
    let switching = journey.session(&reply);
    let reply = journey
        .call(
            "switch_account",
            ("POST", "/v1/sessions/switch"),
            Some(&switching.access),
            Some(json!({ "account": "beta" })),
            (200, OWNER_EMAIL),
        )
        .await;
    journey.session(&reply);

    // An admin reset of a member, and an enforcement change.
    let reply = journey.sign_in(MEMBER_EMAIL, MEMBER_ACCOUNTS).await;
    journey.session(&reply);
    let path = format!("/v1/accounts/acme/members/{member_id}/mfa");
    journey
        .call(
            "reset_member_mfa",
            ("DELETE", &path),
            Some(&backup_session.access),
            None,
            (204, OWNER_EMAIL),
        )
        .await;
    journey
        .call(
            "change_enforcement",
            ("PUT", "/v1/accounts/acme/settings/security"),
            Some(&backup_session.access),
            Some(json!({ "require_mfa": true })),
            (200, OWNER_EMAIL),
        )
        .await;

    // Sign out.
    journey
        .call(
            "sign_out",
            ("DELETE", "/v1/sessions/current"),
            Some(&backup_session.access),
            None,
            (204, OWNER_EMAIL),
        )
        .await;

    let output = String::from_utf8(buffer.lock().expect("log buffer lock").clone())
        .expect("log output is UTF-8");
    let lines: Vec<&str> = output.lines().collect();
    assert!(!lines.is_empty(), "nothing was logged");

    for secret in &journey.secrets {
        assert!(
            secret.len() >= 12,
            "secret {secret:?} is too short to search for safely"
        );
        for line in &lines {
            assert!(
                !line.contains(secret.as_str()),
                "a log line contains a secret that starts {:?}: {line}",
                &secret[..8]
            );
        }
    }
    for code in &journey.codes {
        for line in &lines {
            assert!(
                !contains_code(line, code),
                "a log line contains code {code}: {line}"
            );
        }
    }

    let records: Vec<Value> = lines
        .iter()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("log line is not JSON: {line}"))
        })
        .collect();
    let requests: Vec<&Value> = records
        .iter()
        .filter(|record| record["message"] == "request")
        .collect();
    assert_eq!(
        requests.len(),
        journey.sent.len(),
        "one request line per request:\n{output}"
    );
    for (index, (record, sent)) in requests.iter().zip(&journey.sent).enumerate() {
        let label = format!("request {index} ({})", sent.operation);
        assert_eq!(record["level"], "INFO", "{label}: {record}");
        assert_eq!(record["operation"], sent.operation, "{label}: {record}");
        assert_eq!(record["status"], sent.status, "{label}: {record}");
        assert_eq!(record["request_id"], "test-request", "{label}: {record}");
        assert_eq!(
            record["user_id"],
            sent.user_id.as_str(),
            "{label}: {record}"
        );
        let latency = record["latency_ms"].as_f64();
        assert!(
            latency.is_some_and(|ms| ms >= 0.0),
            "{label}: latency_ms: {record}"
        );
    }
    assert!(
        requests
            .iter()
            .any(|record| record["user_id"] == member_id.as_str()),
        "the member's sign-in is logged under their id"
    );
    assert!(
        records.iter().any(|record| record["message"]
            .as_str()
            .is_some_and(|message| message.contains("rotated refresh token"))
            && record["user_id"] == owner_id.as_str()),
        "the reuse of a rotated refresh token is logged:\n{output}"
    );
}

/// A random source that returns 0x42 bytes, so a key's bytes are known to the test.
#[derive(Debug, Clone, Copy)]
struct FixedRandom;

const FIXED_BYTE: u8 = 0x42;

impl Random for FixedRandom {
    fn fill(&self, buffer: &mut [u8]) {
        buffer.fill(FIXED_BYTE);
    }
}

/// Returns the ways `Debug` or a careless format could print `bytes`.
fn renderings(bytes: &[u8]) -> Vec<String> {
    let decimal: Vec<String> = bytes.iter().take(6).map(u8::to_string).collect();
    let hex: Vec<String> = bytes
        .iter()
        .take(6)
        .map(|byte| format!("{byte:#x}"))
        .collect();
    let mut renderings = vec![
        HEXLOWER.encode(bytes),
        HEXUPPER.encode(bytes),
        BASE32_NOPAD.encode(bytes),
        BASE64.encode(bytes),
        BASE64URL_NOPAD.encode(bytes),
        decimal.join(", "),
        hex.join(", "),
    ];
    if let Ok(text) = std::str::from_utf8(bytes) {
        renderings.push(text.to_owned());
    }
    renderings
}

fn assert_prints_none(label: &str, debug: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !debug.contains(secret.as_str()),
            "{label} Debug prints {secret:?}: {debug}"
        );
    }
}

#[test]
fn secret_types_debug_redacted() {
    let seed = b"12345678901234567890";
    let secret = TotpSecret::from_bytes(seed.to_vec()).expect("160-bit secret");
    assert_prints_none("TotpSecret", &format!("{secret:?}"), &renderings(seed));

    let code = TotpCode::parse("987654").expect("valid code");
    let mut code_renderings = renderings(b"987654");
    code_renderings.push("9, 8, 7, 6".to_owned());
    assert_prints_none("TotpCode", &format!("{code:?}"), &code_renderings);

    let backup = BackupCode::parse("ab12-cd34-ef56").expect("valid backup code");
    let backup_renderings = ["ab12cd34ef56", "ab12-cd34-ef56", "cd34", "ef56"].map(str::to_owned);
    assert_prints_none("BackupCode", &format!("{backup:?}"), &backup_renderings);

    let setup = provisioning(&secret, "Dashboard", "ana@acme.test").expect("provisioning");
    let mut setup_renderings = renderings(seed);
    setup_renderings.extend([
        setup.uri.to_string(),
        "otpauth".to_owned(),
        "data:image".to_owned(),
    ]);
    assert_prints_none("Provisioning", &format!("{setup:?}"), &setup_renderings);

    let key = renderings(&[FIXED_BYTE; 32]);
    let signer = LocalSigner::generate(&FixedRandom);
    assert_prints_none("LocalSigner", &format!("{signer:?}"), &key);
    let cipher = LocalCipher::generate(Box::new(FixedRandom));
    assert_prints_none("LocalCipher", &format!("{cipher:?}"), &key);
    let login = DemoLogin::generate(&FixedRandom);
    assert_prints_none("DemoLogin", &format!("{login:?}"), &key);

    // The whole application, as a careless `?app` in a log line would print it.
    let parts = Parts {
        store: Arc::new(MemoryStore::new()),
        cipher: Arc::new(LocalCipher::generate(Box::new(FixedRandom))),
        signer: Arc::new(LocalSigner::generate(&FixedRandom)),
        clock: Arc::new(mfa_shared::clock::ManualClock::new(0)),
        random: Arc::new(OsRandom),
    };
    let app = App::new(parts, &DemoLogin::generate(&OsRandom).config());
    assert_prints_none("App", &format!("{app:?}"), &key);

    let ticket = new_ticket(&OsRandom);
    assert_prints_none(
        "NewTicket",
        &format!("{ticket:?}"),
        &[ticket.token.to_string()],
    );

    let refresh = new_refresh_token(&OsRandom, &new_session_id(&OsRandom));
    let (_, refresh_secret) = refresh.token.split_once('.').expect("id.secret");
    assert_prints_none(
        "NewRefreshToken",
        &format!("{refresh:?}"),
        &[refresh.token.to_string(), refresh_secret.to_owned()],
    );

    let set = generate_set(&OsRandom, &BackupHasher::new());
    let displayed_codes: Vec<String> = set
        .codes
        .iter()
        .flat_map(|code| {
            let display = code.display().to_string();
            [display.replace('-', ""), display]
        })
        .collect();
    assert_prints_none("NewBackupSet", &format!("{set:?}"), &displayed_codes);
}
