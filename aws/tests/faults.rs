//! Faults at each SDK call: every store, cipher and signer method returns `Unavailable`
//! when a call fails or times out, and leaves no half-done change. A fault before the
//! request is sent leaves the store as it was. A fault after the service applied the
//! request (a lost response) leaves it exactly as a successful call would, never in
//! between, because each write is one item or one transaction.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::{join_all, BoxFuture};
use mfa_aws::faults::{BlackHole, FailNth, FaultPoint};
use mfa_aws::{
    build_parts_with, AwsClients, AwsSettings, DynamoStore, InitError, KmsCipher, KmsSigner,
};
use mfa_shared::domain::model::Role;
use mfa_shared::ports::{
    AccountSettings, Activation, AuditAction, EncryptionContext, KeyError, MemberRecord, Proof,
    ProofEffect, SecretCipher, SignIn, SignInGrant, Store, StoreError, TicketPurpose, TokenSigner,
};

use common::*;

/// What a case's call returned, printed, when it succeeded.
type Outcome = Result<String, StoreError>;
/// A store call under test.
type Act = fn(Arc<dyn Store>) -> BoxFuture<'static, Outcome>;

fn show<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Outcome {
    result.map(|value| format!("{value:?}"))
}

/// Fills a fresh table with the state every case starts from. Ana has a factor, a
/// challenge ticket, a session and nine failures. Bob has a pending enrollment and an
/// enrollment ticket.
async fn seed(store: &dyn Store) {
    let (ana, bob) = (user("ana"), user("bob"));
    enroll(store, &factor(&ana, "f1", 100, &["aa", "bb"])).await;
    store
        .put_ticket(&ticket("t-1", &ana, TicketPurpose::Challenge))
        .await
        .expect("seed ticket");
    store
        .put_session(&session("s-1", &ana, "h-1"))
        .await
        .expect("seed session");
    let lockout = audit("seed-lock", 1_000, AuditAction::LockedOut, &ana, &ana);
    for _ in 0..9 {
        store
            .record_failure(&ana, 1_000, None, &lockout)
            .await
            .expect("seed failure");
    }
    store
        .put_pending_enrollment(&pending(&bob, "enr-b"))
        .await
        .expect("seed pending");
    store
        .put_ticket(&ticket("t-2", &bob, TicketPurpose::Enrollment))
        .await
        .expect("seed ticket");
}

/// Every store method, and each kind of `complete_proof` effect, with arguments that
/// succeed on the seeded state.
fn cases() -> Vec<(&'static str, Act)> {
    vec![
        ("consume_assertion_id", |s| {
            Box::pin(async move { show(s.consume_assertion_id("jti-1", 2_000, 1_000).await) })
        }),
        ("complete_sign_in", |s| {
            Box::pin(async move {
                let member = MemberRecord {
                    account: account("acme"),
                    user_id: user("ana"),
                    email: "ana@acme.test".to_owned(),
                    role: Role::Owner,
                    last_sign_in: 1_000,
                };
                let sign_in = SignIn {
                    jti: "jti-1".to_owned(),
                    expires_at: 2_000,
                    members: vec![member],
                    grant: SignInGrant::Session(Box::new(session("s-3", &user("ana"), "h-3"))),
                };
                show(s.complete_sign_in(&sign_in, 1_000).await)
            })
        }),
        ("record_member", |s| {
            Box::pin(async move {
                let member = MemberRecord {
                    account: account("acme"),
                    user_id: user("ana"),
                    email: "ana@acme.test".to_owned(),
                    role: Role::Owner,
                    last_sign_in: 1_000,
                };
                show(s.record_member(&member).await)
            })
        }),
        ("member", |s| {
            Box::pin(async move { show(s.member(&account("acme"), &user("ana")).await) })
        }),
        ("members", |s| {
            Box::pin(async move { show(s.members(&account("acme")).await) })
        }),
        ("account_settings", |s| {
            Box::pin(async move { show(s.account_settings(&account("acme")).await) })
        }),
        ("put_account_settings", |s| {
            Box::pin(async move {
                let settings = AccountSettings {
                    account: account("acme"),
                    require_mfa: true,
                    updated_at: Some(1_100),
                    updated_by: Some(user("ana")),
                };
                let event = audit(
                    "on",
                    1_100,
                    AuditAction::EnforcementChanged { require_mfa: true },
                    &user("ana"),
                    &user("ana"),
                );
                show(s.put_account_settings(&settings, &event).await)
            })
        }),
        ("factor", |s| {
            Box::pin(async move { show(s.factor(&user("ana")).await) })
        }),
        ("put_pending_enrollment", |s| {
            Box::pin(async move {
                show(
                    s.put_pending_enrollment(&pending(&user("ana"), "enr-3"))
                        .await,
                )
            })
        }),
        ("pending_enrollment", |s| {
            Box::pin(async move { show(s.pending_enrollment(&user("bob")).await) })
        }),
        ("activate_factor", |s| {
            Box::pin(async move {
                let bob = user("bob");
                let activation = Activation {
                    factor: factor(&bob, "enr-b", 200, &["cc"]),
                    enrollment_id: "enr-b".to_owned(),
                    sign_in: Some(("t-2".to_owned(), session("s-2", &bob, "h-2"))),
                    audit: audit("enrolled-bob", 1_100, AuditAction::Enrolled, &bob, &bob),
                };
                show(s.activate_factor(&activation).await)
            })
        }),
        ("complete_proof(totp, sign in)", |s| {
            Box::pin(async move {
                let proof = Proof::Totp {
                    user_id: user("ana"),
                    factor_id: "f1".to_owned(),
                    step: 101,
                };
                let effect = ProofEffect::SignIn {
                    ticket_hash: "t-1".to_owned(),
                    session: Box::new(session("s-3", &user("ana"), "h-3")),
                };
                show(s.complete_proof(&proof, &effect, &[]).await)
            })
        }),
        ("complete_proof(backup code, sign in)", |s| {
            Box::pin(async move {
                let proof = Proof::BackupCode {
                    user_id: user("ana"),
                    factor_id: "f1".to_owned(),
                    selector: "aa".to_owned(),
                    used_at: 1_100,
                };
                let effect = ProofEffect::SignIn {
                    ticket_hash: "t-1".to_owned(),
                    session: Box::new(session("s-3", &user("ana"), "h-3")),
                };
                let used = audit(
                    "used",
                    1_100,
                    AuditAction::BackupCodeUsed,
                    &user("ana"),
                    &user("ana"),
                );
                show(s.complete_proof(&proof, &effect, &[used]).await)
            })
        }),
        ("complete_proof(replace backup codes)", |s| {
            Box::pin(async move {
                let proof = Proof::Totp {
                    user_id: user("ana"),
                    factor_id: "f1".to_owned(),
                    step: 101,
                };
                let effect = ProofEffect::ReplaceBackupCodes {
                    expected_version: 0,
                    codes: stored_codes(&["xx", "yy"]),
                };
                let regenerated = audit(
                    "regenerated",
                    1_100,
                    AuditAction::BackupCodesRegenerated,
                    &user("ana"),
                    &user("ana"),
                );
                show(s.complete_proof(&proof, &effect, &[regenerated]).await)
            })
        }),
        ("complete_proof(remove factor)", |s| {
            Box::pin(async move {
                let proof = Proof::Totp {
                    user_id: user("ana"),
                    factor_id: "f1".to_owned(),
                    step: 101,
                };
                let disabled = audit(
                    "disabled",
                    1_100,
                    AuditAction::Disabled,
                    &user("ana"),
                    &user("ana"),
                );
                show(
                    s.complete_proof(&proof, &ProofEffect::RemoveFactor, &[disabled])
                        .await,
                )
            })
        }),
        ("failures", |s| {
            Box::pin(async move { show(s.failures(&user("ana")).await) })
        }),
        ("record_failure", |s| {
            Box::pin(async move {
                let ana = user("ana");
                let reuse = audit("reuse", 1_005, AuditAction::CodeReuseRejected, &ana, &ana);
                let lockout = audit("lockout", 1_005, AuditAction::LockedOut, &ana, &ana);
                show(s.record_failure(&ana, 1_005, Some(&reuse), &lockout).await)
            })
        }),
        ("put_ticket", |s| {
            Box::pin(async move {
                show(
                    s.put_ticket(&ticket("t-3", &user("ana"), TicketPurpose::Challenge))
                        .await,
                )
            })
        }),
        ("ticket", |s| {
            Box::pin(async move { show(s.ticket("t-1").await) })
        }),
        ("put_session", |s| {
            Box::pin(async move { show(s.put_session(&session("s-3", &user("ana"), "h-3")).await) })
        }),
        ("session", |s| {
            Box::pin(async move { show(s.session("s-1").await) })
        }),
        ("session_epoch", |s| {
            Box::pin(async move { show(s.session_epoch(&user("ana")).await) })
        }),
        ("rotate_refresh", |s| {
            Box::pin(async move { show(s.rotate_refresh("s-1", "h-1", "h-2").await) })
        }),
        ("revoke_session", |s| {
            Box::pin(async move { show(s.revoke_session("s-1", 1_100).await) })
        }),
        ("end_session_with_ticket", |s| {
            Box::pin(async move {
                let next = ticket("t-3", &user("ana"), TicketPurpose::Challenge);
                show(s.end_session_with_ticket("s-1", "h-1", 1_100, &next).await)
            })
        }),
        ("replace_session", |s| {
            Box::pin(async move {
                show(
                    s.replace_session("s-1", &session("s-3", &user("ana"), "h-3"), 1_100)
                        .await,
                )
            })
        }),
        ("reset_user", |s| {
            Box::pin(async move {
                let reset = audit(
                    "reset",
                    1_100,
                    AuditAction::Reset,
                    &user("admin"),
                    &user("ana"),
                );
                show(s.reset_user(&user("ana"), &reset).await)
            })
        }),
        ("audit_events", |s| {
            Box::pin(async move { show(s.audit_events(&user("ana")).await) })
        }),
    ]
}

/// Everything a case can change: both users' state, the tickets and sessions named in the
/// cases, and whether the assertion id `jti-1` is recorded (read from the table).
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    ana: Snapshot,
    bob: Snapshot,
    jti_recorded: bool,
}

async fn observe(store: &DynamoStore, clients: &AwsClients) -> State {
    let key = [
        ("pk".to_owned(), AttributeValue::S("JTI#jti-1".to_owned())),
        ("sk".to_owned(), AttributeValue::S("JTI".to_owned())),
    ];
    let jti = clients
        .dynamodb
        .get_item()
        .table_name(store.table())
        .set_key(Some(key.into_iter().collect()))
        .consistent_read(true)
        .send()
        .await
        .expect("read the assertion id item");
    State {
        ana: snapshot(
            store,
            &user("ana"),
            &["t-1", "t-2", "t-3"],
            &["s-1", "s-2", "s-3"],
        )
        .await,
        bob: snapshot(store, &user("bob"), &[], &[]).await,
        jti_recorded: jti.item.is_some(),
    }
}

/// Creates a store on a fresh, seeded table whose client fails calls when `faults` is armed.
async fn seeded_store(
    config: &aws_config::SdkConfig,
    faults: &FailNth,
    label: &str,
) -> (DynamoStore, AwsClients) {
    faults.disarm();
    let clients = AwsClients::with_interceptor(config, faults.clone());
    let table = unique_settings(label).table;
    let store = DynamoStore::new(clients.dynamodb.clone(), table);
    store.ensure_table().await.expect("create the table");
    seed(&store).await;
    (store, clients)
}

/// Runs one case: once without faults for the reference outcome and the number of SDK
/// calls, then with a fault at each call, before sending and after the response.
async fn run_case(config: &aws_config::SdkConfig, name: &str, act: Act) {
    let faults = FailNth::new();
    let (store, clients) = seeded_store(config, &faults, "faultref").await;
    let before = observe(&store, &clients).await;
    faults.disarm();
    let reference = act(Arc::new(store.clone())).await;
    let calls = faults.calls();
    let operations = faults.operations();
    assert!(
        reference.is_ok(),
        "{name}: the call without faults failed: {reference:?}"
    );
    let succeeded = observe(&store, &clients).await;
    assert!(calls >= 1, "{name}: made no SDK call");

    for n in 1..=calls {
        for point in [FaultPoint::BeforeSend, FaultPoint::AfterSend] {
            let (store, clients) = seeded_store(config, &faults, "fault").await;
            assert_eq!(
                observe(&store, &clients).await,
                before,
                "{name}: seeding is repeatable"
            );
            faults.arm(n, point);
            let result = act(Arc::new(store.clone())).await;
            let failed = faults.failed();
            faults.disarm();

            let context =
                format!("{name}, fault at call {n} of {operations:?} ({failed:?}), {point:?}");
            assert!(
                matches!(result, Err(StoreError::Unavailable { .. })),
                "{context}: returned {result:?}"
            );
            let after = observe(&store, &clients).await;
            match point {
                FaultPoint::BeforeSend => assert_eq!(after, before, "{context}: the store changed"),
                FaultPoint::AfterSend => {
                    // The service received the request: a write took full effect, a read
                    // changed nothing.
                    let write =
                        ["TransactWriteItems", "PutItem", "UpdateItem"]
                            .iter()
                            .any(|call| {
                                failed
                                    .as_deref()
                                    .is_some_and(|failed| failed.ends_with(call))
                            });
                    let expected = if write { &succeeded } else { &before };
                    assert_eq!(&after, expected, "{context}: the store is not as expected");
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn store_fault_at_each_call() {
    let Some(endpoint) = aws_endpoint("store_fault_at_each_call") else {
        return;
    };
    // One attempt per call: a retried transaction relies on DynamoDB's client request
    // token to apply once, which moto's server ignores.
    let config = sdk_config(&endpoint, Duration::from_secs(20), 1).await;
    let runs = cases().into_iter().map(|(name, act)| {
        let config = config.clone();
        tokio::spawn(async move { run_case(&config, name, act).await })
    });
    for joined in join_all(runs).await {
        joined.expect("every case passes");
    }
}

/// KMS resources with a fault-injecting client.
async fn kms_with_faults(
    test: &str,
    endpoint: &str,
) -> (FailNth, AwsFixture, KmsCipher, KmsSigner) {
    let faults = FailNth::new();
    let fixture = aws_fixture(test, endpoint, Some(&faults)).await;
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
    (faults, fixture, cipher, signer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_calls_fail_unavailable() {
    let Some(endpoint) = aws_endpoint("key_calls_fail_unavailable") else {
        return;
    };
    let (faults, _fixture, cipher, signer) =
        kms_with_faults("key_calls_fail_unavailable", &endpoint).await;
    let context = EncryptionContext::totp(&user("ana"), "f1");
    let sealed = cipher
        .encrypt(b"20 bytes of a secret", &context)
        .await
        .expect("encrypt");

    for point in [FaultPoint::BeforeSend, FaultPoint::AfterSend] {
        faults.arm(1, point);
        let encrypted = cipher.encrypt(b"20 bytes of a secret", &context).await;
        assert!(
            matches!(encrypted, Err(KeyError::Unavailable { .. })),
            "encrypt, {point:?}: {encrypted:?}"
        );

        faults.arm(1, point);
        let decrypted = cipher.decrypt(&sealed, &context).await;
        assert!(
            matches!(decrypted, Err(KeyError::Unavailable { .. })),
            "decrypt, {point:?}: {decrypted:?}"
        );

        faults.arm(1, point);
        let signed = signer.sign(b"header.payload").await;
        assert!(
            matches!(signed, Err(KeyError::Unavailable { .. })),
            "sign, {point:?}: {signed:?}"
        );
    }
    faults.disarm();
    let opened = cipher
        .decrypt(&sealed, &context)
        .await
        .expect("decrypt after the faults");
    assert_eq!(opened.as_slice(), b"20 bytes of a secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_fails_at_each_call() {
    let Some(endpoint) = aws_endpoint("start_up_fails_at_each_call") else {
        return;
    };
    let faults = FailNth::new();
    let fixture = aws_fixture("start_up_fails_at_each_call", &endpoint, Some(&faults)).await;
    faults.disarm();
    build_parts_with(&fixture.settings, &fixture.clients)
        .await
        .expect("start-up without faults");
    let calls = faults.operations();
    assert_eq!(calls.len(), 3, "start-up calls: {calls:?}");

    for n in 1..=calls.len() {
        faults.arm(n, FaultPoint::BeforeSend);
        let result = build_parts_with(&fixture.settings, &fixture.clients).await;
        let failed = faults.failed().expect("a call was failed");
        let error = result.expect_err("start-up with a failed call");
        let expected_table = failed.ends_with("DescribeTable");
        assert_eq!(
            matches!(error, InitError::Table { .. }),
            expected_table,
            "{failed}: {error}"
        );
        assert!(!error.to_string().is_empty());
    }
    faults.disarm();
}

/// Returns every store method's outcome against an endpoint that never responds.
async fn call_every_method(store: Arc<dyn Store>) -> Vec<(&'static str, Outcome)> {
    let calls = cases().into_iter().map(|(name, act)| {
        let store = store.clone();
        async move { (name, act(store).await) }
    });
    join_all(calls).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_unavailable() {
    let Some(endpoint) = aws_endpoint("timeouts_are_unavailable") else {
        return;
    };
    let hole = BlackHole::start().await.expect("listen on 127.0.0.1");
    let attempt_timeout = Duration::from_millis(300);
    let silent =
        AwsClients::from_sdk_config(&sdk_config(&hole.endpoint(), attempt_timeout, 2).await);

    let started = Instant::now();
    let store: Arc<dyn Store> = Arc::new(DynamoStore::new(silent.dynamodb.clone(), "mfa"));
    for (name, outcome) in call_every_method(store).await {
        assert!(
            matches!(outcome, Err(StoreError::Unavailable { .. })),
            "{name}: {outcome:?}"
        );
    }

    let cipher = KmsCipher::new(silent.kms.clone(), "alias/mfa-secrets");
    let context = EncryptionContext::totp(&user("ana"), "f1");
    let encrypted = cipher.encrypt(b"20 bytes of a secret", &context).await;
    assert!(
        matches!(encrypted, Err(KeyError::Unavailable { .. })),
        "encrypt: {encrypted:?}"
    );
    let decrypted = cipher.decrypt(b"some ciphertext", &context).await;
    assert!(
        matches!(decrypted, Err(KeyError::Unavailable { .. })),
        "decrypt: {decrypted:?}"
    );

    let fixture = aws_fixture("timeouts_are_unavailable", &endpoint, None).await;
    let real = KmsSigner::connect(
        fixture.clients.kms.clone(),
        &fixture.settings.signing_key_id,
    )
    .await
    .expect("the signing key is usable");
    let signer = KmsSigner::with_public_key(
        silent.kms.clone(),
        real.key_arn().to_owned(),
        *real.verifying_key(),
    );
    let signed = signer.sign(b"header.payload").await;
    assert!(
        matches!(signed, Err(KeyError::Unavailable { .. })),
        "sign: {signed:?}"
    );

    let settings = AwsSettings {
        table: "mfa".to_owned(),
        ..AwsSettings::default()
    };
    let start_up = build_parts_with(&settings, &silent).await;
    assert!(
        start_up.is_err(),
        "start-up against a silent endpoint must fail"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "timeouts took {:?}",
        started.elapsed()
    );
}
