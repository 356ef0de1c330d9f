//! Shared by the test binaries: where moto's server is, how to build the memory and AWS
//! backends on fresh resources, record fixtures, and a snapshot of one user's state.
//!
//! The AWS tests need `MFA_TEST_AWS_ENDPOINT` (e.g. `http://127.0.0.1:5055`, started by
//! `scripts/moto.sh start`). Without it they print that they were skipped and pass,
//! unless `MFA_REQUIRE_AWS=1`, in which case they fail.

#![allow(dead_code)] // Each test binary uses a different part.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::Once;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use mfa_aws::faults::FailNth;
use mfa_aws::{create_resources_with, AwsClients, AwsSettings, DynamoStore, KmsCipher, KmsSigner};
use mfa_shared::domain::backup::StoredBackupCode;
use mfa_shared::domain::lockout::Failures;
use mfa_shared::domain::model::{AccountSlug, LoginMethod, Role, UserId};
use mfa_shared::embedded::{LocalCipher, LocalSigner, MemoryStore};
use mfa_shared::ports::{
    AccountSettings, Activation, AuditAction, AuditEvent, FactorRecord, PendingEnrollment,
    SecretCipher, SessionRecord, Store, TicketPurpose, TicketRecord, TokenSigner,
};
use mfa_shared::random::{random_id, OsRandom};

pub const ENDPOINT_VARIABLE: &str = "MFA_TEST_AWS_ENDPOINT";
pub const REQUIRE_VARIABLE: &str = "MFA_REQUIRE_AWS";

/// Prints once per test binary that the AWS tests are skipped. It writes to the stderr
/// handle rather than through `eprintln!`, which the test harness captures.
fn report_skip(test: &str) {
    static REPORTED: Once = Once::new();
    REPORTED.call_once(|| {
        let line = format!(
            "mfa-aws: skipped the DynamoDB and KMS tests ({test} and the rest of this binary): {ENDPOINT_VARIABLE} is not set\n"
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    });
}

/// Returns moto's endpoint, or `None` after reporting that `test` is skipped.
///
/// # Panics
/// When the endpoint is unset and `MFA_REQUIRE_AWS=1`, or when it is not on loopback.
pub fn aws_endpoint(test: &str) -> Option<String> {
    let endpoint = std::env::var(ENDPOINT_VARIABLE).unwrap_or_default();
    let endpoint = endpoint.trim();
    if endpoint.is_empty() {
        assert!(
            std::env::var(REQUIRE_VARIABLE).as_deref() != Ok("1"),
            "{test}: {ENDPOINT_VARIABLE} is not set but {REQUIRE_VARIABLE}=1: run `scripts/moto.sh start` and set {ENDPOINT_VARIABLE}=http://127.0.0.1:5055"
        );
        report_skip(test);
        return None;
    }
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
        .iter()
        .any(|prefix| endpoint.starts_with(prefix));
    assert!(loopback, "{ENDPOINT_VARIABLE} must be an http://127.0.0.1:<port> address, because the tests create and write tables");
    Some(endpoint.to_owned())
}

/// Returns an SDK configuration for moto: static credentials from `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` (default `test`) and `AWS_REGION` (default `us-east-1`), so no
/// credential or region lookup leaves the machine.
pub async fn sdk_config(endpoint: &str, attempt_timeout: Duration, max_attempts: u32) -> SdkConfig {
    let variable =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let credentials = Credentials::new(
        variable("AWS_ACCESS_KEY_ID", "test"),
        variable("AWS_SECRET_ACCESS_KEY", "test"),
        None,
        None,
        "mfa-aws-tests",
    );
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(attempt_timeout)
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(variable("AWS_REGION", "us-east-1")))
        .credentials_provider(credentials)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(max_attempts))
        .load()
        .await
}

/// Returns the SDK configuration most tests use: moto can be slow under parallel load, so
/// attempts get 20 seconds.
pub async fn moto_config(endpoint: &str) -> SdkConfig {
    sdk_config(endpoint, Duration::from_secs(20), 3).await
}

/// Returns settings naming a table and two key aliases that no other test uses.
pub fn unique_settings(label: &str) -> AwsSettings {
    let suffix = &random_id(&OsRandom)[..12];
    AwsSettings {
        table: format!("mfa-test-{label}-{suffix}"),
        secrets_key_id: format!("alias/mfa-test-{label}-{suffix}-secrets"),
        signing_key_id: format!("alias/mfa-test-{label}-{suffix}-signing"),
    }
}

/// The three ports under test and the name printed in assertion messages.
#[derive(Debug, Clone)]
pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn Store>,
    pub cipher: Arc<dyn SecretCipher>,
    pub signer: Arc<dyn TokenSigner>,
}

/// Returns a fresh in-memory store with local keys.
pub async fn memory_backend(_test: &str) -> Option<Backend> {
    Some(Backend {
        name: "memory",
        store: Arc::new(MemoryStore::new()),
        cipher: Arc::new(LocalCipher::generate(Box::new(OsRandom))),
        signer: Arc::new(LocalSigner::generate(&OsRandom)),
    })
}

/// AWS resources created for one test.
#[derive(Debug, Clone)]
pub struct AwsFixture {
    pub settings: AwsSettings,
    pub clients: AwsClients,
    pub store: DynamoStore,
}

/// Creates a fresh table and keys on moto, with clients that carry `faults` if given.
pub async fn aws_fixture(test: &str, endpoint: &str, faults: Option<&FailNth>) -> AwsFixture {
    let config = moto_config(endpoint).await;
    let clients = match faults {
        Some(faults) => AwsClients::with_interceptor(&config, faults.clone()),
        None => AwsClients::from_sdk_config(&config),
    };
    let label: String = test
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect();
    let settings = unique_settings(&label.to_ascii_lowercase());
    create_resources_with(&settings, &clients)
        .await
        .expect("create the test table and keys on moto");
    let store = DynamoStore::new(clients.dynamodb.clone(), settings.table.clone());
    AwsFixture {
        settings,
        clients,
        store,
    }
}

/// Returns a DynamoDB store and KMS keys on fresh resources, or `None` when skipped.
pub async fn aws_backend(test: &str) -> Option<Backend> {
    let endpoint = aws_endpoint(test)?;
    let fixture = aws_fixture(test, &endpoint, None).await;
    let cipher = KmsCipher::connect(
        fixture.clients.kms.clone(),
        &fixture.settings.secrets_key_id,
    )
    .await
    .expect("the secrets key is usable");
    let signer = KmsSigner::connect(
        fixture.clients.kms.clone(),
        &fixture.settings.signing_key_id,
    )
    .await
    .expect("the signing key is usable");
    Some(Backend {
        name: "dynamodb+kms",
        store: Arc::new(fixture.store),
        cipher: Arc::new(cipher),
        signer: Arc::new(signer),
    })
}

pub fn user(id: &str) -> UserId {
    UserId::parse(id).expect("valid user id")
}

pub fn account(slug: &str) -> AccountSlug {
    AccountSlug::parse(slug).expect("valid account slug")
}

/// Returns unspent stored codes with the given selectors and placeholder hashes. The
/// store never verifies hashes.
pub fn stored_codes(selectors: &[&str]) -> Vec<StoredBackupCode> {
    selectors
        .iter()
        .map(|selector| StoredBackupCode {
            selector: (*selector).to_owned(),
            phc: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$hash-of-{selector}"),
            used_at: None,
        })
        .collect()
}

pub fn factor(
    user_id: &UserId,
    factor_id: &str,
    last_step: u64,
    selectors: &[&str],
) -> FactorRecord {
    FactorRecord {
        user_id: user_id.clone(),
        factor_id: factor_id.to_owned(),
        ciphertext: format!("ciphertext of {factor_id}").into_bytes(),
        last_step,
        enrolled_at: 100,
        backup_codes: stored_codes(selectors),
        backup_version: 0,
    }
}

pub fn pending(user_id: &UserId, enrollment_id: &str) -> PendingEnrollment {
    PendingEnrollment {
        user_id: user_id.clone(),
        enrollment_id: enrollment_id.to_owned(),
        ciphertext: format!("ciphertext of {enrollment_id}").into_bytes(),
        created_at: 900,
        expires_at: 1_500,
    }
}

pub fn audit(
    id: &str,
    at: u64,
    action: AuditAction,
    actor: &UserId,
    target: &UserId,
) -> AuditEvent {
    AuditEvent {
        id: id.to_owned(),
        at,
        action,
        actor: actor.clone(),
        target: target.clone(),
        account: Some(account("acme")),
    }
}

pub fn ticket(ticket_hash: &str, user_id: &UserId, purpose: TicketPurpose) -> TicketRecord {
    TicketRecord {
        ticket_hash: ticket_hash.to_owned(),
        purpose,
        user_id: user_id.clone(),
        email: format!("{user_id}@acme.test"),
        account: account("acme"),
        role: Role::Member,
        accounts: BTreeMap::from([
            (account("acme"), Role::Member),
            (account("beta"), Role::Admin),
        ]),
        login_method: LoginMethod::Email,
        created_at: 1_000,
        expires_at: 1_300,
    }
}

pub fn session(session_id: &str, user_id: &UserId, refresh_hash: &str) -> SessionRecord {
    SessionRecord {
        session_id: session_id.to_owned(),
        user_id: user_id.clone(),
        email: format!("{user_id}@acme.test"),
        account: account("acme"),
        role: Role::Member,
        accounts: BTreeMap::from([(account("acme"), Role::Member)]),
        login_method: LoginMethod::Google,
        amr: vec!["google".to_owned(), "totp".to_owned(), "mfa".to_owned()],
        aal: 2,
        refresh_hash: refresh_hash.to_owned(),
        previous_refresh_hashes: Vec::new(),
        epoch: 0,
        created_at: 1_000,
        expires_at: 1_000 + 7 * 24 * 3600,
        revoked_at: None,
    }
}

/// Enrolls `factor` the way the service does: a pending enrollment, then activation.
pub async fn enroll(store: &dyn Store, factor: &FactorRecord) {
    store
        .put_pending_enrollment(&pending(&factor.user_id, &factor.factor_id))
        .await
        .expect("store the pending enrollment");
    let activation = Activation {
        factor: factor.clone(),
        enrollment_id: factor.factor_id.clone(),
        sign_in: None,
        audit: audit(
            &format!("enrolled-{}", factor.factor_id),
            factor.enrolled_at,
            AuditAction::Enrolled,
            &factor.user_id,
            &factor.user_id,
        ),
    };
    let activated = store
        .activate_factor(&activation)
        .await
        .expect("activate the factor");
    assert!(activated, "enrolling {} should succeed", factor.user_id);
}

/// The stored state of one user, of the tickets and sessions named, and of account `acme`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub factor: Option<FactorRecord>,
    pub pending: Option<PendingEnrollment>,
    pub failures: Failures,
    pub epoch: u64,
    pub audit: Vec<AuditEvent>,
    pub tickets: Vec<Option<TicketRecord>>,
    pub sessions: Vec<Option<SessionRecord>>,
    pub settings: AccountSettings,
    pub members: Vec<mfa_shared::ports::MemberRecord>,
}

/// Reads a [`Snapshot`] of `user_id`, the tickets and sessions named, and account `acme`.
pub async fn snapshot(
    store: &dyn Store,
    user_id: &UserId,
    tickets: &[&str],
    sessions: &[&str],
) -> Snapshot {
    let mut ticket_records = Vec::new();
    for ticket_hash in tickets {
        ticket_records.push(store.ticket(ticket_hash).await.expect("read ticket"));
    }
    let mut session_records = Vec::new();
    for session_id in sessions {
        session_records.push(store.session(session_id).await.expect("read session"));
    }
    Snapshot {
        factor: store.factor(user_id).await.expect("read factor"),
        pending: store
            .pending_enrollment(user_id)
            .await
            .expect("read pending enrollment"),
        failures: store.failures(user_id).await.expect("read failures"),
        epoch: store.session_epoch(user_id).await.expect("read epoch"),
        audit: store
            .audit_events(user_id)
            .await
            .expect("read audit events"),
        tickets: ticket_records,
        sessions: session_records,
        settings: store
            .account_settings(&account("acme"))
            .await
            .expect("read settings"),
        members: store.members(&account("acme")).await.expect("read members"),
    }
}
