//! Single-use codes and the failure count under parallel requests, through the handlers on
//! DynamoDB and KMS.
//!
//! The DynamoDB store is wrapped in a `GatedStore`, which makes every request wait after
//! its read of the factor until all of them have read it. Each request then finds the code or
//! the login assertion unspent and the count below the limit, so only DynamoDB's
//! conditional writes can stop the duplicates and keep every failure.

use std::sync::Arc;

use futures::future::join_all;
use mfa_aws::{DynamoStore, KmsCipher, KmsSigner};
use mfa_shared::ports::AuditAction;
use mfa_tests::{GatedRead, GatedStore, Harness, Reply};

use super::{aws_endpoint, moto_config, Keys};

const ANA: &str = "ana@acme.test";
const ACME: &[(&str, &str)] = &[("acme", "owner")];

/// Builds the app on a fresh DynamoDB table and KMS keys, with the store gated, or returns
/// `None` when the tests are skipped.
async fn gated_harness(test: &str) -> Option<(Harness, Arc<GatedStore>)> {
    let endpoint = aws_endpoint(test)?;
    let config = moto_config(&endpoint).await;
    let keys = Keys::create("parallel", &config).await;
    let clients = &keys.clients;
    let store = DynamoStore::new(clients.dynamodb.clone(), keys.settings.table.clone());
    let store = Arc::new(GatedStore::wrapping(Arc::new(store)));
    let cipher = KmsCipher::new(clients.kms.clone(), &keys.settings.secrets_key_id);
    let signer = KmsSigner::connect(clients.kms.clone(), &keys.settings.signing_key_id)
        .await
        .expect("the signing key is usable");
    let harness = Harness::with_adapters(store.clone(), Arc::new(cipher), Arc::new(signer));
    Some((harness, store))
}

/// Runs every future on its own task and returns the replies in order.
async fn spawn_all<F>(requests: Vec<F>) -> Vec<Reply>
where
    F: std::future::Future<Output = Reply> + Send + 'static,
{
    let handles: Vec<_> = requests.into_iter().map(tokio::spawn).collect();
    join_all(handles)
        .await
        .into_iter()
        .map(|joined| joined.expect("request task panicked"))
        .collect()
}

/// Counts Ana's audit events of `action`.
async fn audit_count(harness: &Harness, action: &AuditAction) -> usize {
    let events = harness
        .app
        .store
        .audit_events(&Harness::user_id(ANA))
        .await
        .expect("read audit events");
    events
        .iter()
        .filter(|event| &event.action == action)
        .count()
}

/// Checks that exactly one reply is a session and every other one is the same
/// `invalid_code` reply.
fn assert_one_winner(replies: &[Reply], what: &str) {
    let accepted: Vec<&Reply> = replies.iter().filter(|reply| reply.status == 200).collect();
    let rejected: Vec<&Reply> = replies.iter().filter(|reply| reply.status != 200).collect();
    assert_eq!(accepted.len(), 1, "exactly one {what} succeeds");
    assert_eq!(
        accepted[0].json["status"], "authenticated",
        "the winner gets a session: {}",
        accepted[0].json
    );
    for reply in &rejected {
        assert_eq!(reply.status, 401, "a duplicate gets 401: {}", reply.json);
        assert_eq!(
            reply.error_code(),
            "invalid_code",
            "a duplicate is an invalid code"
        );
        assert_eq!(
            reply.body, rejected[0].body,
            "every duplicate gets the same body"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totp_code_twenty_parallel_answers() {
    let Some((harness, store)) = gated_harness("totp_code_twenty_parallel_answers").await else {
        return;
    };
    let (enrollment, _) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();
    let mut tickets = Vec::new();
    for _ in 0..20 {
        tickets.push(harness.challenge(ANA, ACME, "acme").await);
    }
    let code = harness.code(&enrollment.secret, 0);

    store.hold(GatedRead::Factor, 20);
    let requests = tickets
        .into_iter()
        .map(|ticket| {
            let harness = harness.clone();
            let code = code.clone();
            async move { harness.answer(&ticket, &code).await }
        })
        .collect();
    let replies = spawn_all(requests).await;

    assert_one_winner(&replies, "answer with the code");
    let reuses = audit_count(&harness, &AuditAction::CodeReuseRejected).await;
    assert_eq!(reuses, 19, "each rejected duplicate is audited as a reuse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_code_thirty_parallel_uses() {
    let Some((harness, store)) = gated_harness("backup_code_thirty_parallel_uses").await else {
        return;
    };
    let (enrollment, session) = harness.enrolled(ANA, ACME, "acme").await;
    let mut tickets = Vec::new();
    for _ in 0..30 {
        tickets.push(harness.challenge(ANA, ACME, "acme").await);
    }
    let code = enrollment.backup_codes[3].clone();

    store.hold(GatedRead::Factor, 30);
    let requests = tickets
        .into_iter()
        .map(|ticket| {
            let harness = harness.clone();
            let code = code.clone();
            async move { harness.answer_backup(&ticket, &code).await }
        })
        .collect();
    let replies = spawn_all(requests).await;

    assert_one_winner(&replies, "use of the backup code");
    let uses = audit_count(&harness, &AuditAction::BackupCodeUsed).await;
    assert_eq!(uses, 1, "the one use is audited once");
    let status = harness
        .call("GET", "/v1/me/mfa", Some(&session.access), None)
        .await;
    assert_eq!(
        status.json["backup_codes_remaining"], 9,
        "the code is spent once: {}",
        status.json
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_codes_fifty_parallel_failures() {
    let Some((harness, store)) = gated_harness("wrong_codes_fifty_parallel_failures").await else {
        return;
    };
    let (enrollment, _) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();
    let user_id = Harness::user_id(ANA);
    let mut tickets = Vec::new();
    for _ in 0..10 {
        tickets.push(harness.challenge(ANA, ACME, "acme").await);
    }
    let before = harness
        .app
        .store
        .failures(&user_id)
        .await
        .expect("read failures")
        .count;

    store.hold(GatedRead::Factor, 50);
    let requests = (0..50)
        .map(|index| {
            let harness = harness.clone();
            let ticket = tickets[index % tickets.len()].clone();
            // Codes 5 to 7 steps ahead are all outside the acceptance window.
            let code = harness.code(&enrollment.secret, 5 + index as i64 % 3);
            async move { harness.answer(&ticket, &code).await }
        })
        .collect();
    let replies = spawn_all(requests).await;

    for reply in &replies {
        assert_eq!(reply.status, 401, "a wrong code gets 401: {}", reply.json);
    }
    let after = harness
        .app
        .store
        .failures(&user_id)
        .await
        .expect("read failures")
        .count;
    assert_eq!(
        after - before,
        50,
        "50 parallel failures raise the count by 50"
    );
    let lockouts = audit_count(&harness, &AuditAction::LockedOut).await;
    assert_eq!(lockouts, 1, "the lockout is audited once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn assertion_twenty_parallel_sign_ins() {
    let Some((harness, store)) = gated_harness("assertion_twenty_parallel_sign_ins").await else {
        return;
    };
    let assertion = harness.assertion(ANA, "email", ACME).await;

    store.hold(GatedRead::Factor, 20);
    let requests = (0..20)
        .map(|_| {
            let harness = harness.clone();
            let body = serde_json::json!({ "login_assertion": assertion, "account": "acme" });
            async move { harness.call("POST", "/v1/sessions", None, Some(body)).await }
        })
        .collect();
    let replies = spawn_all(requests).await;

    let accepted = replies.iter().filter(|reply| reply.status == 200).count();
    assert_eq!(accepted, 1, "exactly one sign-in spends the assertion");
    for reply in replies.iter().filter(|reply| reply.status != 200) {
        assert_eq!(reply.status, 401, "a duplicate gets 401: {}", reply.json);
        assert_eq!(
            reply.error_code(),
            "unauthenticated",
            "a duplicate is unauthenticated"
        );
    }
    let members = harness
        .app
        .store
        .members(&mfa_shared::domain::model::AccountSlug::parse("acme").expect("slug"))
        .await
        .expect("read members");
    assert_eq!(
        members.len(),
        1,
        "the sign-in recorded Ana once: {members:?}"
    );
}
