//! The harness that whole-service tests share: an in-process app on a manual clock, a
//! demo login service it trusts, and helpers that walk the API the way a client does.
//!
//! Requests go through [`mfa_shared::http::serve`], the same entry point the Lambda
//! functions and `mfa-local` use, so routing, body limits and errors are all exercised.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, Method};
use mfa_shared::clock::{Clock, ManualClock};
use mfa_shared::domain::model::{AccountSlug, LoginMethod, Role, UserId};
use mfa_shared::domain::totp::{step_at, TotpSecret};
use mfa_shared::embedded::{DemoIdentity, DemoLogin, LocalCipher, LocalSigner, MemoryStore};
use mfa_shared::ports::{SecretCipher, Store, TokenSigner};
use mfa_shared::random::{OsRandom, Random};
use mfa_shared::service::{App, Parts};
use serde_json::Value;

/// Start time of every harness clock: a step boundary plus one second, in 2027.
pub const START: u64 = 1_800_000_001;

/// An in-process service with a manual clock.
#[derive(Debug, Clone)]
pub struct Harness {
    pub app: Arc<App>,
    pub login: DemoLogin,
    pub clock: ManualClock,
}

/// A response as a test sees it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub json: Value,
}

impl Reply {
    /// Returns the `error.code` of an error body, or "".
    pub fn error_code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    /// Returns a string field of the body, panicking with the whole reply if absent.
    pub fn text(&self, pointer: &str) -> String {
        self.json
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string at {pointer} in {} {}", self.status, self.json))
            .to_owned()
    }
}

/// The tokens of an authenticated session.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

/// What enrolling returned.
#[derive(Debug, Clone)]
pub struct Enrollment {
    pub secret: TotpSecret,
    pub backup_codes: Vec<String>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// Builds a harness on the embedded adapters.
    pub fn new() -> Self {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let cipher: Arc<dyn SecretCipher> = Arc::new(LocalCipher::generate(Box::new(OsRandom)));
        let signer: Arc<dyn TokenSigner> = Arc::new(LocalSigner::generate(&OsRandom));
        Self::with_adapters(store, cipher, signer)
    }

    /// Builds a harness on the given adapters, with a manual clock and a demo login service.
    pub fn with_adapters(
        store: Arc<dyn Store>,
        cipher: Arc<dyn SecretCipher>,
        signer: Arc<dyn TokenSigner>,
    ) -> Self {
        let clock = ManualClock::new(START);
        let random: Arc<dyn Random> = Arc::new(OsRandom);
        let login = DemoLogin::generate(random.as_ref());
        let parts = Parts {
            store,
            cipher,
            signer,
            clock: Arc::new(clock.clone()),
            random,
        };
        let app = Arc::new(App::new(parts, &login.config()));
        Self { app, login, clock }
    }

    /// Sends a request through the shared HTTP layer.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = http::Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("valid method"))
            .uri(path);
        if let Some(token) = bearer {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(value) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(&value).expect("serialise"))
            }
            None => Bytes::new(),
        };
        self.send(builder.body(body).expect("valid request")).await
    }

    /// Sends a prepared request through the shared HTTP layer.
    pub async fn send(&self, request: http::Request<Bytes>) -> Reply {
        let response = mfa_shared::http::serve(&self.app, None, request, "test-request").await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body();
        let json = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).expect("every response body is JSON")
        };
        Reply {
            status,
            headers,
            body,
            json,
        }
    }

    /// Signs a login assertion for `email` with `method` and `accounts` (slug, role).
    pub async fn assertion(&self, email: &str, method: &str, accounts: &[(&str, &str)]) -> String {
        let accounts: BTreeMap<AccountSlug, Role> = accounts
            .iter()
            .map(|(slug, role)| {
                (
                    AccountSlug::parse(slug).expect("slug"),
                    Role::parse(role).expect("role"),
                )
            })
            .collect();
        let identity = DemoIdentity {
            email: email.to_owned(),
            login_method: LoginMethod::parse(method).expect("login method"),
            accounts,
            user_id: None,
        };
        self.login
            .assertion(&identity, self.clock.now(), &OsRandom)
            .await
            .expect("demo assertion")
    }

    /// Returns the user id the demo login service gives `email`.
    pub fn user_id(email: &str) -> UserId {
        DemoLogin::user_id_for(email)
    }

    /// Posts a sign-in for `email` opening `account`.
    pub async fn sign_in(
        &self,
        email: &str,
        method: &str,
        accounts: &[(&str, &str)],
        account: &str,
    ) -> Reply {
        let assertion = self.assertion(email, method, accounts).await;
        let body = serde_json::json!({ "login_assertion": assertion, "account": account });
        self.call("POST", "/v1/sessions", None, Some(body)).await
    }

    /// Signs in and expects a session at once.
    pub async fn session(
        &self,
        email: &str,
        method: &str,
        accounts: &[(&str, &str)],
        account: &str,
    ) -> Tokens {
        let reply = self.sign_in(email, method, accounts, account).await;
        tokens(&reply)
    }

    /// Starts and confirms an enrollment with a bearer session; returns the secret and the
    /// backup codes. Uses the current step's code, so that step is spent afterwards.
    pub async fn enroll(&self, access: &str) -> Enrollment {
        self.enroll_with(Some(access), None).await.0
    }

    /// Starts and confirms an enrollment with a session or a ticket; returns the enrollment
    /// and the confirm reply.
    pub async fn enroll_with(
        &self,
        access: Option<&str>,
        ticket: Option<&str>,
    ) -> (Enrollment, Reply) {
        let start_body = ticket.map(|ticket| serde_json::json!({ "mfa_ticket": ticket }));
        let started = self
            .call("POST", "/v1/me/mfa/enrollment", access, start_body)
            .await;
        assert_eq!(started.status, 200, "start enrollment: {}", started.json);
        let secret = secret_from_base32(&started.text("/secret"));
        let mut body = serde_json::json!({
            "enrollment_id": started.text("/enrollment_id"),
            "code": self.code(&secret, 0),
        });
        if let Some(ticket) = ticket {
            body["mfa_ticket"] = Value::from(ticket);
        }
        let confirmed = self
            .call("POST", "/v1/me/mfa/enrollment/confirm", access, Some(body))
            .await;
        assert_eq!(
            confirmed.status, 200,
            "confirm enrollment: {}",
            confirmed.json
        );
        let backup_codes = confirmed.json["backup_codes"]
            .as_array()
            .expect("backup codes")
            .iter()
            .map(|code| code.as_str().expect("code").to_owned())
            .collect();
        (
            Enrollment {
                secret,
                backup_codes,
            },
            confirmed,
        )
    }

    /// Returns the TOTP code `offset` steps from the clock's current step.
    pub fn code(&self, secret: &TotpSecret, offset: i64) -> String {
        let step = step_at(self.clock.now()) as i64 + offset;
        secret.code_at_step(step as u64).to_string()
    }

    /// Moves the clock to the start of the next TOTP step (plus one second).
    pub fn next_step(&self) {
        let now = self.clock.now();
        self.clock.set((step_at(now) + 1) * 30 + 1);
    }

    /// Answers a challenge with a TOTP code.
    pub async fn answer(&self, ticket: &str, code: &str) -> Reply {
        let body = serde_json::json!({ "mfa_ticket": ticket, "code": code });
        self.call("POST", "/v1/sessions/mfa", None, Some(body))
            .await
    }

    /// Answers a challenge with a backup code.
    pub async fn answer_backup(&self, ticket: &str, code: &str) -> Reply {
        let body = serde_json::json!({ "mfa_ticket": ticket, "backup_code": code });
        self.call("POST", "/v1/sessions/mfa", None, Some(body))
            .await
    }

    /// Signs in a member who has a factor and returns the challenge ticket.
    pub async fn challenge(&self, email: &str, accounts: &[(&str, &str)], account: &str) -> String {
        let reply = self.sign_in(email, "email", accounts, account).await;
        assert_eq!(
            reply.json["status"], "mfa_required",
            "sign-in: {}",
            reply.json
        );
        reply.text("/mfa_ticket")
    }
}

/// Returns the session tokens of an `authenticated` reply, panicking otherwise.
pub fn tokens(reply: &Reply) -> Tokens {
    assert_eq!(reply.status, 200, "expected a session: {}", reply.json);
    assert_eq!(
        reply.json["status"], "authenticated",
        "expected a session: {}",
        reply.json
    );
    Tokens {
        access: reply.text("/session/access_token"),
        refresh: reply.text("/session/refresh_token"),
    }
}

/// Decodes an unpadded Base32 secret as the API returns it.
pub fn secret_from_base32(text: &str) -> TotpSecret {
    let bytes = data_encoding::BASE32_NOPAD
        .decode(text.as_bytes())
        .expect("secret is unpadded Base32");
    TotpSecret::from_bytes(bytes).expect("secret is at least 128 bits")
}

/// Decodes the claims of a JWT without verifying it, for inspecting tokens in tests.
pub fn jwt_claims(token: &str) -> Value {
    use data_encoding::BASE64URL_NOPAD;
    let payload = token.split('.').nth(1).expect("JWT has a payload");
    serde_json::from_slice(
        &BASE64URL_NOPAD
            .decode(payload.as_bytes())
            .expect("Base64url"),
    )
    .expect("JSON claims")
}
