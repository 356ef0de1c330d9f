//! A DynamoDB or KMS failure at any SDK call of any operation, through the handlers.
//!
//! Each case sets up the state its request needs on a fresh table and sends the request
//! once without faults, to learn its calls and the changes it makes. Then, for each call
//! n, it sends the request again on fresh state with call n failing in one of three ways:
//! - before it is sent (the service never receives it, as when a connection fails),
//! - after the service applied it (the response is lost),
//! - by a timeout: the call goes to an endpoint that never responds, and the connect,
//!   attempt and operation timeouts of `mfa_aws` end it. Only that request runs under
//!   these timeouts. The set-up and the retries get 20 seconds per attempt, because a
//!   loaded moto server can take longer than the production 2 seconds.
//!
//! The run without faults must write in at most one call, and confirming an enrollment,
//! regenerating backup codes and resetting a member each in one `TransactWriteItems`.
//! Every fault must give 503 `unavailable` and leave the table exactly as it was, or,
//! when only the response was lost, exactly as a success leaves it: never in between.
//! Then the request is retried without faults. On an unchanged table the same request must
//! succeed as a first attempt does and make the same changes. When the lost response hid a
//! change that was made, the retry gets the reply a repeated request gets, with a fresh
//! TOTP code where the request carries one, because a step is accepted only once.

use std::time::{Duration, Instant};

use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use futures::stream::{self, StreamExt as _};
use mfa_aws::faults::{BlackHole, FaultPoint};
use mfa_aws::{ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, OPERATION_TIMEOUT};
use mfa_shared::domain::totp::TotpSecret;
use mfa_tests::{Harness, Reply};
use serde_json::{json, Value};

use super::{aws_endpoint, changes, moto_config, sdk_config, Keys, Request, World};

const ANA: &str = "ana@acme.test";
const BOB: &str = "bob@acme.test";
/// Ana's accounts: she owns `acme` and is a member of `beta`.
const ANA_ACCOUNTS: &[(&str, &str)] = &[("acme", "owner"), ("beta", "member")];
/// Bob's accounts: he is a member of `acme`.
const BOB_ACCOUNTS: &[(&str, &str)] = &[("acme", "member")];
/// Fault runs of one case that run at once. moto serves one request at a time, so more
/// would only queue there, and the production attempt timeout must not fire on a queued
/// call.
const PARALLEL_ITERATIONS: usize = 4;
/// How long a faulted request may take before the test reports it as hung.
const HUNG_REQUEST: Duration = Duration::from_secs(60);

/// How call n fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// `FailNth` fails the call before it is sent.
    BeforeSend,
    /// `FailNth` fails the call after the service applied it.
    AfterSend,
    /// `Probe` sends the call to a `BlackHole`, so it times out.
    Timeout,
}

const FAULTS: [Fault; 3] = [Fault::BeforeSend, Fault::AfterSend, Fault::Timeout];

/// SDK calls that write to DynamoDB.
const WRITE_CALLS: [&str; 5] = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:TransactWriteItems",
];

/// One request of the API, with the state it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    /// A member without a factor signs in and gets a session at once.
    SignInSession,
    /// A member with a factor signs in and gets a challenge ticket.
    SignInChallenge,
    AnswerTotp,
    AnswerBackupCode,
    /// A wrong code: the request's change is one more counted failure.
    AnswerWrongCode,
    Refresh,
    SwitchAccount,
    SignOut,
    MfaStatus,
    StartEnrollment,
    ConfirmEnrollment,
    /// Confirms an enrollment that sign-in required, with its ticket.
    ConfirmForcedEnrollment,
    RegenerateBackupCodes,
    DisableMfa,
    ReadEnforcement,
    ChangeEnforcement,
    ListMembers,
    ResetMemberMfa,
}

/// A request ready to send, and the TOTP secret of its `code` field, if it has one.
#[derive(Debug)]
struct Prepared {
    request: Request,
    totp: Option<TotpSecret>,
}

impl Prepared {
    fn new(request: Request) -> Self {
        Self {
            request,
            totp: None,
        }
    }

    fn with_totp(request: Request, secret: TotpSecret) -> Self {
        Self {
            request,
            totp: Some(secret),
        }
    }

    /// Returns the request to retry after its change was made: the same request, with the
    /// code of the next TOTP step when it carries a code. Moves the clock to that step.
    fn retry_after_change(&self, harness: &Harness) -> Request {
        let mut request = self.request.clone();
        if let (Some(secret), Some(body)) = (&self.totp, request.body.as_mut()) {
            harness.next_step();
            body["code"] = Value::from(harness.code(secret, 0));
        }
        request
    }
}

impl Case {
    /// Returns the status of a successful first attempt.
    fn success_status(self) -> u16 {
        match self {
            Self::AnswerWrongCode => 401,
            Self::SignOut | Self::DisableMfa | Self::ResetMemberMfa => 204,
            _ => 200,
        }
    }

    /// Reports whether the request must make its change in one `TransactWriteItems`.
    fn is_one_transaction(self) -> bool {
        matches!(
            self,
            Self::ConfirmEnrollment
                | Self::ConfirmForcedEnrollment
                | Self::RegenerateBackupCodes
                | Self::ResetMemberMfa
        )
    }

    /// Returns the status and error code that a retry gets when the faulted attempt made
    /// its change but lost the response, or `None` for requests that change nothing.
    fn retry_after_change(self) -> Option<(u16, &'static str)> {
        match self {
            // The login assertion's id was spent.
            Self::SignInSession | Self::SignInChallenge => Some((401, "unauthenticated")),
            // The ticket was spent, or the code is wrong again.
            Self::AnswerTotp | Self::AnswerBackupCode | Self::AnswerWrongCode => {
                Some((401, "invalid_code"))
            }
            // The presented refresh token was rotated, so presenting it again is reuse and
            // revokes the session.
            Self::Refresh => Some((401, "unauthenticated")),
            // The session was replaced by the new account's, or revoked.
            Self::SwitchAccount | Self::SignOut => Some((401, "unauthenticated")),
            // A new pending enrollment replaces the first.
            Self::StartEnrollment => Some((200, "")),
            Self::ConfirmEnrollment => Some((409, "already_enrolled")),
            Self::ConfirmForcedEnrollment => Some((401, "invalid_ticket")),
            // The retry's fresh code replaces the set again.
            Self::RegenerateBackupCodes => Some((200, "")),
            Self::DisableMfa => Some((409, "not_enrolled")),
            // Setting the same value again, and resetting a member again, succeed.
            Self::ChangeEnforcement => Some((200, "")),
            Self::ResetMemberMfa => Some((204, "")),
            Self::MfaStatus | Self::ReadEnforcement | Self::ListMembers => None,
        }
    }

    /// Sets up the state the request needs through the API and returns the request.
    async fn prepare(self, harness: &Harness) -> Prepared {
        match self {
            Self::SignInSession => Prepared::new(sign_in_request(harness).await),
            Self::SignInChallenge => {
                harness.enrolled(ANA, ANA_ACCOUNTS, "acme").await;
                Prepared::new(sign_in_request(harness).await)
            }
            Self::AnswerTotp => {
                let (enrollment, _) = harness.enrolled(ANA, ANA_ACCOUNTS, "acme").await;
                harness.next_step();
                let ticket = harness.challenge(ANA, ANA_ACCOUNTS, "acme").await;
                let code = harness.code(&enrollment.secret, 0);
                let body = json!({ "mfa_ticket": ticket, "code": code });
                let request = Request::new("POST", "/v1/sessions/mfa").body(body);
                Prepared::with_totp(request, enrollment.secret)
            }
            Self::AnswerBackupCode => {
                let (enrollment, _) = harness.enrolled(ANA, ANA_ACCOUNTS, "acme").await;
                let ticket = harness.challenge(ANA, ANA_ACCOUNTS, "acme").await;
                let code = &enrollment.backup_codes[0];
                let body = json!({ "mfa_ticket": ticket, "backup_code": code });
                Prepared::new(Request::new("POST", "/v1/sessions/mfa").body(body))
            }
            Self::AnswerWrongCode => {
                let (enrollment, _) = harness.enrolled(ANA, ANA_ACCOUNTS, "acme").await;
                harness.next_step();
                let ticket = harness.challenge(ANA, ANA_ACCOUNTS, "acme").await;
                // Five steps ahead is outside the window of one step either side.
                let code = harness.code(&enrollment.secret, 5);
                let body = json!({ "mfa_ticket": ticket, "code": code });
                Prepared::new(Request::new("POST", "/v1/sessions/mfa").body(body))
            }
            Self::Refresh => {
                let tokens = harness.session(ANA, "email", ANA_ACCOUNTS, "acme").await;
                let body = json!({ "refresh_token": tokens.refresh });
                Prepared::new(Request::new("POST", "/v1/sessions/refresh").body(body))
            }
            Self::SwitchAccount => {
                let tokens = harness.session(ANA, "email", ANA_ACCOUNTS, "acme").await;
                let request = Request::new("POST", "/v1/sessions/switch")
                    .bearer(&tokens.access)
                    .body(json!({ "account": "beta" }));
                Prepared::new(request)
            }
            Self::SignOut => {
                let tokens = harness.session(ANA, "email", ANA_ACCOUNTS, "acme").await;
                Prepared::new(Request::new("DELETE", "/v1/sessions/current").bearer(&tokens.access))
            }
            Self::MfaStatus => {
                let (_, tokens) = harness.enrolled(ANA, ANA_ACCOUNTS, "acme").await;
                Prepared::new(Request::new("GET", "/v1/me/mfa").bearer(&tokens.access))
            }
            Self::StartEnrollment => {
                let tokens = harness.session(ANA, "email", ANA_ACCOUNTS, "acme").await;
                let request = Request::new("POST", "/v1/me/mfa/enrollment").bearer(&tokens.access);
                Prepared::new(request)
            }
            Self::ConfirmEnrollment => {
                let tokens = harness.session(ANA, "email", ANA_ACCOUNTS, "acme").await;
                let started = start_enrollment(harness, Some(&tokens.access), None).await;
                let secret = mfa_tests::secret_from_base32(&started.text("/secret"));
                let body = json!({
                    "enrollment_id": started.text("/enrollment_id"),
                    "code": harness.code(&secret, 0),
                });
                let request = Request::new("POST", "/v1/me/mfa/enrollment/confirm")
                    .bearer(&tokens.access)
                    .body(body);
                Prepared::with_totp(request, secret)
            }
            Self::ConfirmForcedEnrollment => {
                let (_, owner) = harness.enrolled(ANA, ANA_ACCOUNTS, "acme").await;
                let enforced = harness.set_require_mfa(&owner.access, "acme", true).await;
                assert_eq!(enforced.status, 200, "require MFA: {}", enforced.json);
                let signed_in = harness.sign_in(BOB, "email", BOB_ACCOUNTS, "acme").await;
                assert_eq!(
                    signed_in.json["status"], "enrollment_required",
                    "Bob's sign-in: {}",
                    signed_in.json
                );
                let ticket = signed_in.text("/mfa_ticket");
                let started = start_enrollment(harness, None, Some(&ticket)).await;
                let secret = mfa_tests::secret_from_base32(&started.text("/secret"));
                let body = json!({
                    "enrollment_id": started.text("/enrollment_id"),
                    "code": harness.code(&secret, 0),
                    "mfa_ticket": ticket,
                });
                let request = Request::new("POST", "/v1/me/mfa/enrollment/confirm").body(body);
                Prepared::with_totp(request, secret)
            }
            Self::RegenerateBackupCodes => {
                let (enrollment, tokens) = harness.enrolled(ANA, ANA_ACCOUNTS, "acme").await;
                harness.next_step();
                let body = json!({ "code": harness.code(&enrollment.secret, 0) });
                let request = Request::new("POST", "/v1/me/mfa/backup-codes")
                    .bearer(&tokens.access)
                    .body(body);
                Prepared::with_totp(request, enrollment.secret)
            }
            Self::DisableMfa => {
                let (enrollment, tokens) = harness.enrolled(ANA, ANA_ACCOUNTS, "acme").await;
                harness.next_step();
                let body = json!({ "code": harness.code(&enrollment.secret, 0) });
                let request = Request::new("DELETE", "/v1/me/mfa")
                    .bearer(&tokens.access)
                    .body(body);
                Prepared::with_totp(request, enrollment.secret)
            }
            Self::ReadEnforcement => {
                let tokens = harness.session(ANA, "email", ANA_ACCOUNTS, "acme").await;
                let path = "/v1/accounts/acme/settings/security";
                Prepared::new(Request::new("GET", path).bearer(&tokens.access))
            }
            Self::ChangeEnforcement => {
                let (_, tokens) = harness.enrolled(ANA, ANA_ACCOUNTS, "acme").await;
                let request = Request::new("PUT", "/v1/accounts/acme/settings/security")
                    .bearer(&tokens.access)
                    .body(json!({ "require_mfa": true }));
                Prepared::new(request)
            }
            Self::ListMembers => {
                harness.enrolled(BOB, BOB_ACCOUNTS, "acme").await;
                let tokens = harness.session(ANA, "email", ANA_ACCOUNTS, "acme").await;
                let path = "/v1/accounts/acme/members";
                Prepared::new(Request::new("GET", path).bearer(&tokens.access))
            }
            Self::ResetMemberMfa => {
                harness.enrolled(BOB, BOB_ACCOUNTS, "acme").await;
                let tokens = harness.session(ANA, "email", ANA_ACCOUNTS, "acme").await;
                let path = format!("/v1/accounts/acme/members/{}/mfa", Harness::user_id(BOB));
                Prepared::new(Request::new("DELETE", path).bearer(&tokens.access))
            }
        }
    }
}

/// Returns Ana's sign-in request for account `acme`, with a fresh login assertion.
async fn sign_in_request(harness: &Harness) -> Request {
    let assertion = harness.assertion(ANA, "email", ANA_ACCOUNTS).await;
    let body = json!({ "login_assertion": assertion, "account": "acme" });
    Request::new("POST", "/v1/sessions").body(body)
}

/// Starts an enrollment with a session or a ticket and returns the reply.
async fn start_enrollment(harness: &Harness, access: Option<&str>, ticket: Option<&str>) -> Reply {
    let body = ticket.map(|ticket| json!({ "mfa_ticket": ticket }));
    let reply = harness
        .call("POST", "/v1/me/mfa/enrollment", access, body)
        .await;
    assert_eq!(reply.status, 200, "start enrollment: {}", reply.json);
    reply
}

/// Returns a call name in one spelling for `FailNth` (`DynamoDB.GetItem`) and `Probe`
/// (`dynamodb:GetItem`).
fn call_key(call: &str) -> String {
    call.to_ascii_lowercase().replacen('.', ":", 1)
}

/// Returns the sorted top-level field names of a JSON body, or an empty list for none.
fn fields(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body
        .as_object()
        .map(|object| object.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// What the request does without faults.
#[derive(Debug)]
struct Reference {
    calls: Vec<String>,
    changes: Vec<String>,
    status: u16,
    fields: Vec<String>,
}

/// What a case's fault runs share: the keys, the SDK configurations, the endpoint that
/// never responds, and the run without faults.
#[derive(Debug)]
struct Bench {
    case: Case,
    keys: Keys,
    /// Clients of the set-up, the retries and the faults other than timeouts.
    config: SdkConfig,
    /// Clients of the request whose call times out.
    timed_config: SdkConfig,
    black_hole: BlackHole,
}

impl Bench {
    fn label(&self) -> String {
        format!("{:?}", self.case).to_ascii_lowercase()
    }

    /// Runs the request without faults on fresh state.
    async fn reference(&self) -> Reference {
        let world = World::new(&self.keys, &self.config, &self.label()).await;
        let prepared = self.case.prepare(&world.harness).await;
        let before = world.table.snapshot().await;

        world.disarm();
        let reply = world.send(&prepared.request).await;
        let calls = world.probe.calls();

        assert_eq!(
            reply.status,
            self.case.success_status(),
            "{:?} without faults: {}",
            self.case,
            reply.json
        );
        let writes: Vec<&str> = calls
            .iter()
            .map(String::as_str)
            .filter(|call| WRITE_CALLS.contains(call))
            .collect();
        assert!(
            writes.len() <= 1,
            "{:?} writes in more than one call, so a fault between them leaves a half-done change: {calls:?}",
            self.case
        );
        if self.case.is_one_transaction() {
            assert_eq!(
                writes,
                ["dynamodb:TransactWriteItems"],
                "{:?} makes its change in one transaction",
                self.case
            );
        }
        let after = world.table.snapshot().await;
        world.table.delete().await;
        Reference {
            calls,
            changes: changes(&before, &after),
            status: reply.status,
            fields: fields(&reply.json),
        }
    }

    /// Runs the request on fresh state with call `n` failing, checks the reply and the
    /// table, and retries.
    async fn fault(&self, reference: &Reference, n: usize, fault: Fault) {
        let mut world = World::new(&self.keys, &self.config, &self.label()).await;
        if fault == Fault::Timeout {
            world = world.with_timeouts(&self.timed_config);
        }
        let prepared = self.case.prepare(&world.harness).await;
        let before = world.table.snapshot().await;
        let context = format!(
            "{:?} with {fault:?} at call {n} of {:?}",
            self.case, reference.calls
        );

        world.disarm();
        match fault {
            Fault::BeforeSend => world.faults.arm(n, FaultPoint::BeforeSend),
            Fault::AfterSend => world.faults.arm(n, FaultPoint::AfterSend),
            Fault::Timeout => world.probe.stall(n, &self.black_hole.endpoint()),
        }
        let started = Instant::now();
        let sent = async {
            match fault {
                Fault::Timeout => world.send_timed(&prepared.request).await,
                Fault::BeforeSend | Fault::AfterSend => world.send(&prepared.request).await,
            }
        };
        let reply = tokio::time::timeout(HUNG_REQUEST, sent)
            .await
            .unwrap_or_else(|_| panic!("{context}: no reply within {HUNG_REQUEST:?}"));
        let elapsed = started.elapsed();
        let struck = match fault {
            Fault::BeforeSend | Fault::AfterSend => world.faults.failed(),
            Fault::Timeout => world.probe.stalled(),
        };
        let calls = world.probe.calls();
        world.disarm();

        assert_eq!(reply.status, 503, "{context}: {}", reply.json);
        assert_eq!(
            reply.error_code(),
            "unavailable",
            "{context}: {}",
            reply.json
        );
        assert_eq!(
            struck.as_deref().map(call_key),
            Some(call_key(&reference.calls[n - 1])),
            "{context}: the fault struck call {n}"
        );
        assert_eq!(
            calls.len(),
            n,
            "{context}: the request stops at the failed call, but made {calls:?}"
        );
        if fault == Fault::Timeout {
            assert!(
                elapsed >= ATTEMPT_TIMEOUT,
                "{context}: the reply came after {elapsed:?}, before the attempt timeout, so the call did not time out"
            );
        }

        let after = world.table.snapshot().await;
        let changed = changes(&before, &after);
        if fault == Fault::AfterSend && !changed.is_empty() {
            assert_eq!(
                changed, reference.changes,
                "{context}: the lost response left the table changed in part"
            );
        } else {
            assert!(
                changed.is_empty(),
                "{context}: the table changed although the request failed: {changed:#?}"
            );
        }

        if changed.is_empty() {
            self.retry_unchanged(&world, &prepared, reference, &context)
                .await;
        } else {
            self.retry_changed(&world, &prepared, &context).await;
        }
        world.table.delete().await;
    }

    /// Retries the same request on the unchanged table: it must succeed as the first
    /// attempt without faults did, with the same changes.
    async fn retry_unchanged(
        &self,
        world: &World,
        prepared: &Prepared,
        reference: &Reference,
        context: &str,
    ) {
        let before = world.table.snapshot().await;
        let retry = world.send(&prepared.request).await;
        assert_eq!(
            retry.status, reference.status,
            "{context}: the retry: {}",
            retry.json
        );
        assert_eq!(
            fields(&retry.json),
            reference.fields,
            "{context}: the retry's body: {}",
            retry.json
        );
        let after = world.table.snapshot().await;
        assert_eq!(
            changes(&before, &after),
            reference.changes,
            "{context}: the retry changes the table as a first attempt does"
        );
    }

    /// Retries after the faulted attempt made its change: the retry gets what a repeated
    /// request gets.
    async fn retry_changed(&self, world: &World, prepared: &Prepared, context: &str) {
        let (status, code) = self.case.retry_after_change().unwrap_or_else(|| {
            panic!("{context}: a request that changes nothing changed the table")
        });
        let request = prepared.retry_after_change(&world.harness);
        let retry = world.send(&request).await;
        assert_eq!(retry.status, status, "{context}: the retry: {}", retry.json);
        assert_eq!(
            retry.error_code(),
            code,
            "{context}: the retry: {}",
            retry.json
        );
    }
}

/// Runs every fault of `case`.
async fn run(case: Case, test: &str) {
    let Some(endpoint) = aws_endpoint(test) else {
        return;
    };
    let setup_config = moto_config(&endpoint).await;
    let bench = Bench {
        case,
        keys: Keys::create("faults", &setup_config).await,
        config: fault_config(&endpoint).await,
        timed_config: production_config(&endpoint).await,
        black_hole: BlackHole::start().await.expect("listen on 127.0.0.1"),
    };
    let reference = bench.reference().await;
    assert!(
        !reference.calls.is_empty(),
        "{case:?}: the request made no SDK call"
    );

    let runs: Vec<(usize, Fault)> = (1..=reference.calls.len())
        .flat_map(|n| FAULTS.map(|fault| (n, fault)))
        .collect();
    stream::iter(runs)
        .map(|(n, fault)| bench.fault(&reference, n, fault))
        .buffer_unordered(PARALLEL_ITERATIONS)
        .collect::<Vec<()>>()
        .await;
}

/// Returns the configuration of the app under test: one attempt per call, because a
/// retried transaction relies on DynamoDB's client request token to apply once, which
/// moto's server ignores. moto serves one request at a time, so under parallel load an
/// attempt gets 20 seconds.
async fn fault_config(endpoint: &str) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(Duration::from_secs(20))
        .build();
    sdk_config(endpoint, timeouts, 1).await
}

/// Returns the configuration of a request whose call times out: the timeouts of `mfa_aws`
/// in production, with one attempt per call as in [`fault_config`].
async fn production_config(endpoint: &str) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    sdk_config(endpoint, timeouts, 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_makes_no_call() {
    let Some(endpoint) = aws_endpoint("jwks_makes_no_call") else {
        return;
    };
    let config = moto_config(&endpoint).await;
    let keys = Keys::create("faults", &config).await;
    let world = World::new(&keys, &production_config(&endpoint).await, "jwks").await;

    world.faults.arm(1, FaultPoint::BeforeSend);
    let reply = world
        .send(&Request::new("GET", "/.well-known/jwks.json"))
        .await;

    assert_eq!(
        reply.status, 200,
        "JWKS while every call fails: {}",
        reply.json
    );
    assert_eq!(world.faults.calls(), 0, "JWKS makes no SDK call");
    assert_eq!(world.faults.failed(), None, "no call was failed");
    world.table.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_session_fault_at_each_call() {
    run(Case::SignInSession, "sign_in_session_fault_at_each_call").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_challenge_fault_at_each_call() {
    run(
        Case::SignInChallenge,
        "sign_in_challenge_fault_at_each_call",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_totp_fault_at_each_call() {
    run(Case::AnswerTotp, "answer_totp_fault_at_each_call").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_backup_code_fault_at_each_call() {
    run(
        Case::AnswerBackupCode,
        "answer_backup_code_fault_at_each_call",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_wrong_code_fault_at_each_call() {
    run(
        Case::AnswerWrongCode,
        "answer_wrong_code_fault_at_each_call",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_fault_at_each_call() {
    run(Case::Refresh, "refresh_fault_at_each_call").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_account_fault_at_each_call() {
    run(Case::SwitchAccount, "switch_account_fault_at_each_call").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_fault_at_each_call() {
    run(Case::SignOut, "sign_out_fault_at_each_call").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_status_fault_at_each_call() {
    run(Case::MfaStatus, "mfa_status_fault_at_each_call").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_enrollment_fault_at_each_call() {
    run(Case::StartEnrollment, "start_enrollment_fault_at_each_call").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_enrollment_fault_at_each_call() {
    run(
        Case::ConfirmEnrollment,
        "confirm_enrollment_fault_at_each_call",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_forced_enrollment_fault_at_each_call() {
    run(
        Case::ConfirmForcedEnrollment,
        "confirm_forced_enrollment_fault_at_each_call",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerate_backup_codes_fault_at_each_call() {
    run(
        Case::RegenerateBackupCodes,
        "regenerate_backup_codes_fault_at_each_call",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_mfa_fault_at_each_call() {
    run(Case::DisableMfa, "disable_mfa_fault_at_each_call").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_enforcement_fault_at_each_call() {
    run(Case::ReadEnforcement, "read_enforcement_fault_at_each_call").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_enforcement_fault_at_each_call() {
    run(
        Case::ChangeEnforcement,
        "change_enforcement_fault_at_each_call",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_members_fault_at_each_call() {
    run(Case::ListMembers, "list_members_fault_at_each_call").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_member_mfa_fault_at_each_call() {
    run(Case::ResetMemberMfa, "reset_member_mfa_fault_at_each_call").await;
}
