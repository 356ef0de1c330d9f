//! Single-use checks under parallel requests: one TOTP code, one backup code, one refresh
//! token and one login assertion, each sent many times at once on a multi-thread runtime.
//!
//! The gated store makes every request wait after its read of the factor (or session)
//! until all of them have read it, so each request finds the code or token unspent and
//! only the conditional write can stop the duplicates.

use futures::future::join_all;
use mfa_shared::ports::AuditAction;
use mfa_tests::{jwt_claims, GatedRead, Harness, Reply};

const ACME: &[(&str, &str)] = &[("acme", "owner")];
const ANA: &str = "ana@acme.test";

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totp_code_twenty_parallel_answers() {
    let (harness, store) = Harness::gated();
    let session = harness.session(ANA, "email", ACME, "acme").await;
    let enrollment = harness.enroll(&session.access).await;
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

    let accepted: Vec<&Reply> = replies.iter().filter(|reply| reply.status == 200).collect();
    let rejected: Vec<&Reply> = replies.iter().filter(|reply| reply.status != 200).collect();
    assert_eq!(accepted.len(), 1, "exactly one answer wins the code");
    assert_eq!(rejected.len(), 19, "every other answer is rejected");
    let session = accepted[0].text("/session/access_token");
    assert_eq!(
        jwt_claims(&session)["aal"],
        2,
        "the winner gets an aal 2 session"
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
    let events = harness
        .app
        .store
        .audit_events(&Harness::user_id(ANA))
        .await
        .expect("audit");
    let reuses = events
        .iter()
        .filter(|event| event.action == AuditAction::CodeReuseRejected)
        .count();
    assert_eq!(reuses, 19, "each rejected duplicate is audited as a reuse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_code_thirty_parallel_uses() {
    let (harness, store) = Harness::gated();
    let session = harness.session(ANA, "email", ACME, "acme").await;
    let enrollment = harness.enroll(&session.access).await;
    let mut tickets = Vec::new();
    for _ in 0..30 {
        tickets.push(harness.challenge(ANA, ACME, "acme").await);
    }
    let code = enrollment.backup_codes[3].clone();

    let evaluations_before = harness.app.hasher.evaluations();
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
    let evaluations = harness.app.hasher.evaluations() - evaluations_before;

    let accepted: Vec<&Reply> = replies.iter().filter(|reply| reply.status == 200).collect();
    let rejected: Vec<&Reply> = replies.iter().filter(|reply| reply.status != 200).collect();
    assert_eq!(
        accepted.len(),
        1,
        "exactly one use of the backup code succeeds"
    );
    assert_eq!(rejected.len(), 29, "every other use is rejected");
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
    assert_eq!(
        evaluations, 30,
        "each of the 30 tries costs one Argon2id evaluation"
    );

    let status = harness
        .call("GET", "/v1/me/mfa", Some(&session.access), None)
        .await;
    assert_eq!(
        status.json["backup_codes_remaining"], 9,
        "the code is spent once"
    );
}

#[tokio::test]
async fn backup_check_one_evaluation_each() {
    let harness = Harness::new();
    let session = harness.session(ANA, "email", ACME, "acme").await;
    let enrollment = harness.enroll(&session.access).await;
    let ticket = harness.challenge(ANA, ACME, "acme").await;

    let selectors: Vec<String> = enrollment
        .backup_codes
        .iter()
        .map(|code| code[..2].to_owned())
        .collect();
    let alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
    let unknown_selector = alphabet
        .chars()
        .flat_map(|first| {
            alphabet
                .chars()
                .map(move |second| format!("{first}{second}"))
        })
        .find(|selector| !selectors.contains(selector))
        .expect("ten codes leave most selectors free");
    let known = &enrollment.backup_codes[0];
    let wrong_secret = if known.ends_with('0') {
        format!("{}1", &known[..known.len() - 1])
    } else {
        format!("{}0", &known[..known.len() - 1])
    };
    let cases = [
        (
            "unknown selector",
            format!("{unknown_selector}00-0000-0000"),
            401,
        ),
        ("known selector, wrong secret", wrong_secret, 401),
        (
            "last code of the set",
            enrollment.backup_codes[9].clone(),
            200,
        ),
    ];

    for (case, code, expected_status) in cases {
        let before = harness.app.hasher.evaluations();
        let reply = harness.answer_backup(&ticket, &code).await;
        let evaluations = harness.app.hasher.evaluations() - before;
        assert_eq!(reply.status, expected_status, "{case}: {}", reply.json);
        assert_eq!(evaluations, 1, "{case}: one Argon2id evaluation");
    }

    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let before = harness.app.hasher.evaluations();
    let reply = harness
        .answer_backup(&ticket, &enrollment.backup_codes[9])
        .await;
    let evaluations = harness.app.hasher.evaluations() - before;
    assert_eq!(
        reply.status, 401,
        "a spent code is rejected: {}",
        reply.json
    );
    assert_eq!(evaluations, 1, "a spent code costs one Argon2id evaluation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_token_parallel_refreshes() {
    let (harness, store) = Harness::gated();
    let session = harness.session(ANA, "email", ACME, "acme").await;

    store.hold(GatedRead::Session, 10);
    let requests = (0..10)
        .map(|_| {
            let harness = harness.clone();
            let refresh = session.refresh.clone();
            async move { harness.refresh(&refresh).await }
        })
        .collect();
    let replies = spawn_all(requests).await;

    let accepted = replies.iter().filter(|reply| reply.status == 200).count();
    assert!(
        accepted <= 1,
        "at most one refresh succeeds, got {accepted}"
    );
    for reply in replies.iter().filter(|reply| reply.status != 200) {
        assert_eq!(reply.status, 401, "a duplicate gets 401: {}", reply.json);
        assert_eq!(
            reply.error_code(),
            "unauthenticated",
            "a duplicate is unauthenticated"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn assertion_twenty_parallel_sign_ins() {
    let (harness, store) = Harness::gated();
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
}
