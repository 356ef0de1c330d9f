//! The harness that whole-service tests share: an in-process app on a manual clock, a
//! demo login service it trusts, and helpers that walk the API the way a client does.
//!
//! Requests go through [`mfa_shared::http::serve`], the same entry point the Lambda
//! functions and `mfa-local` use, so routing, body limits and errors are all exercised.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, Method};
use mfa_shared::clock::{Clock, ManualClock};
use mfa_shared::domain::lockout::Failures;
use mfa_shared::domain::model::{AccountSlug, LoginMethod, Role, UserId};
use mfa_shared::domain::totp::{step_at, TotpSecret};
use mfa_shared::embedded::{DemoIdentity, DemoLogin, LocalCipher, LocalSigner, MemoryStore};
use mfa_shared::ports::{
    AccountSettings, Activation, AuditEvent, FactorRecord, MemberRecord, PendingEnrollment, Proof,
    ProofEffect, SecretCipher, SessionRecord, SignIn, Store, StoreError, TicketRecord, TokenSigner,
};
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

impl Harness {
    /// Builds a harness on a [`GatedStore`] and returns the store too, so a test can hold
    /// parallel requests at a chosen read.
    pub fn gated() -> (Self, Arc<GatedStore>) {
        let store = Arc::new(GatedStore::default());
        let cipher: Arc<dyn SecretCipher> = Arc::new(LocalCipher::generate(Box::new(OsRandom)));
        let signer: Arc<dyn TokenSigner> = Arc::new(LocalSigner::generate(&OsRandom));
        let harness = Self::with_adapters(store.clone(), cipher, signer);
        (harness, store)
    }

    /// Signs in a member by email, enrolls them and answers a challenge at the next step.
    /// Returns the enrollment and the `aal` 2 session. The clock's current step is spent
    /// afterwards, so call [`Harness::next_step`] before using a TOTP code again.
    pub async fn enrolled(
        &self,
        email: &str,
        accounts: &[(&str, &str)],
        account: &str,
    ) -> (Enrollment, Tokens) {
        let first = self.session(email, "email", accounts, account).await;
        let enrollment = self.enroll(&first.access).await;
        self.next_step();
        let ticket = self.challenge(email, accounts, account).await;
        let reply = self
            .answer(&ticket, &self.code(&enrollment.secret, 0))
            .await;
        (enrollment, tokens(&reply))
    }

    /// Sets `require_mfa` of `account` with the caller's access token.
    pub async fn set_require_mfa(&self, access: &str, account: &str, require_mfa: bool) -> Reply {
        let path = format!("/v1/accounts/{account}/settings/security");
        let body = serde_json::json!({ "require_mfa": require_mfa });
        self.call("PUT", &path, Some(access), Some(body)).await
    }

    /// Refreshes a session with `refresh_token`.
    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        let body = serde_json::json!({ "refresh_token": refresh_token });
        self.call("POST", "/v1/sessions/refresh", None, Some(body))
            .await
    }
}

/// A store read that [`GatedStore`] can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatedRead {
    /// [`Store::factor`]: read by every code check after the lockout check.
    Factor,
    /// [`Store::session`]: read by refresh before it rotates the token.
    Session,
}

/// A store (a [`MemoryStore`] unless built with [`GatedStore::wrapping`]) that can hold the
/// next `n` reads of one kind until all `n` were made.
///
/// Parallel requests then all act on the same snapshot: each has read the state before
/// any of them writes. That is the interleaving a single-use write must survive, and the
/// scheduler alone rarely produces it because the in-memory store never yields.
#[derive(Debug)]
pub struct GatedStore {
    inner: Arc<dyn Store>,
    gate: std::sync::Mutex<Option<Gate>>,
}

impl Default for GatedStore {
    fn default() -> Self {
        Self::wrapping(Arc::new(MemoryStore::new()))
    }
}

#[derive(Debug)]
struct Gate {
    read: GatedRead,
    remaining: usize,
    barrier: Arc<tokio::sync::Barrier>,
}

/// How long a held read waits for the others before the test fails.
const GATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl GatedStore {
    /// Gates the reads of `inner`, for example a DynamoDB store.
    pub fn wrapping(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            gate: std::sync::Mutex::new(None),
        }
    }

    /// Holds the next `requests` reads of kind `read` until all of them were made.
    pub fn hold(&self, read: GatedRead, requests: usize) {
        let gate = Gate {
            read,
            remaining: requests,
            barrier: Arc::new(tokio::sync::Barrier::new(requests)),
        };
        *self.gate.lock().expect("gate lock") = Some(gate);
    }

    /// Waits at the gate when a read of kind `read` is being held.
    async fn pass(&self, read: GatedRead) {
        let barrier = {
            let mut gate = self.gate.lock().expect("gate lock");
            match gate.as_mut() {
                Some(gate) if gate.read == read && gate.remaining > 0 => {
                    gate.remaining -= 1;
                    Some(gate.barrier.clone())
                }
                _ => None,
            }
        };
        if let Some(barrier) = barrier {
            tokio::time::timeout(GATE_TIMEOUT, barrier.wait())
                .await
                .unwrap_or_else(|_| panic!("fewer requests than held reached the {read:?} read"));
        }
    }
}

#[async_trait]
impl Store for GatedStore {
    async fn consume_assertion_id(
        &self,
        jti: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.inner.consume_assertion_id(jti, expires_at, now).await
    }

    async fn complete_sign_in(&self, sign_in: &SignIn, now: u64) -> Result<bool, StoreError> {
        self.inner.complete_sign_in(sign_in, now).await
    }

    async fn record_member(&self, member: &MemberRecord) -> Result<(), StoreError> {
        self.inner.record_member(member).await
    }

    async fn member(
        &self,
        account: &AccountSlug,
        user_id: &UserId,
    ) -> Result<Option<MemberRecord>, StoreError> {
        self.inner.member(account, user_id).await
    }

    async fn members(&self, account: &AccountSlug) -> Result<Vec<MemberRecord>, StoreError> {
        self.inner.members(account).await
    }

    async fn account_settings(&self, account: &AccountSlug) -> Result<AccountSettings, StoreError> {
        self.inner.account_settings(account).await
    }

    async fn put_account_settings(
        &self,
        settings: &AccountSettings,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.inner.put_account_settings(settings, audit).await
    }

    async fn factor(&self, user_id: &UserId) -> Result<Option<FactorRecord>, StoreError> {
        let factor = self.inner.factor(user_id).await;
        self.pass(GatedRead::Factor).await;
        factor
    }

    async fn put_pending_enrollment(&self, pending: &PendingEnrollment) -> Result<(), StoreError> {
        self.inner.put_pending_enrollment(pending).await
    }

    async fn pending_enrollment(
        &self,
        user_id: &UserId,
    ) -> Result<Option<PendingEnrollment>, StoreError> {
        self.inner.pending_enrollment(user_id).await
    }

    async fn activate_factor(&self, activation: &Activation) -> Result<bool, StoreError> {
        self.inner.activate_factor(activation).await
    }

    async fn complete_proof(
        &self,
        proof: &Proof,
        effect: &ProofEffect,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        self.inner.complete_proof(proof, effect, audit).await
    }

    async fn failures(&self, user_id: &UserId) -> Result<Failures, StoreError> {
        self.inner.failures(user_id).await
    }

    async fn record_failure(
        &self,
        user_id: &UserId,
        now: u64,
        reuse: Option<&AuditEvent>,
        lockout: &AuditEvent,
    ) -> Result<Failures, StoreError> {
        self.inner
            .record_failure(user_id, now, reuse, lockout)
            .await
    }

    async fn put_ticket(&self, ticket: &TicketRecord) -> Result<(), StoreError> {
        self.inner.put_ticket(ticket).await
    }

    async fn ticket(&self, ticket_hash: &str) -> Result<Option<TicketRecord>, StoreError> {
        self.inner.ticket(ticket_hash).await
    }

    async fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.inner.put_session(session).await
    }

    async fn session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let session = self.inner.session(session_id).await;
        self.pass(GatedRead::Session).await;
        session
    }

    async fn session_epoch(&self, user_id: &UserId) -> Result<u64, StoreError> {
        self.inner.session_epoch(user_id).await
    }

    async fn rotate_refresh(
        &self,
        session_id: &str,
        presented_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        self.inner
            .rotate_refresh(session_id, presented_hash, new_hash)
            .await
    }

    async fn revoke_session(&self, session_id: &str, now: u64) -> Result<(), StoreError> {
        self.inner.revoke_session(session_id, now).await
    }

    async fn end_session_with_ticket(
        &self,
        session_id: &str,
        presented_hash: &str,
        now: u64,
        ticket: &TicketRecord,
    ) -> Result<bool, StoreError> {
        self.inner
            .end_session_with_ticket(session_id, presented_hash, now, ticket)
            .await
    }

    async fn replace_session(
        &self,
        old_session_id: &str,
        session: &SessionRecord,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.inner
            .replace_session(old_session_id, session, now)
            .await
    }

    async fn reset_user(&self, user_id: &UserId, audit: &AuditEvent) -> Result<(), StoreError> {
        self.inner.reset_user(user_id, audit).await
    }

    async fn audit_events(&self, user_id: &UserId) -> Result<Vec<AuditEvent>, StoreError> {
        self.inner.audit_events(user_id).await
    }
}
