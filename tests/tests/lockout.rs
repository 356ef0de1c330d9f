//! Lockout after failed second-factor attempts: 10 failures per user in 15 minutes,
//! counted across TOTP and backup codes, tickets and sessions.

use futures::future::join_all;
use http::header::RETRY_AFTER;
use mfa_shared::clock::Clock;
use mfa_shared::ports::AuditAction;
use mfa_tests::{jwt_claims, tokens, GatedRead, Harness, Reply};
use serde_json::json;

const ACME: &[(&str, &str)] = &[("acme", "owner")];
const ANA: &str = "ana@acme.test";
/// Steps from the current one to a code that is outside the acceptance window.
const FAR_STEPS: i64 = 10;
/// A backup code of valid form that matches a real set with probability 2^-60.
const UNKNOWN_BACKUP_CODE: &str = "zz00-0000-0000";

/// Returns the `Retry-After` header as seconds.
fn retry_after(reply: &Reply) -> u64 {
    reply
        .headers
        .get(RETRY_AFTER)
        .unwrap_or_else(|| panic!("no Retry-After header on {} {}", reply.status, reply.json))
        .to_str()
        .expect("ASCII header")
        .parse()
        .expect("Retry-After is whole seconds")
}

/// Sends `count` wrong TOTP codes with one fresh ticket and expects 401 for each.
async fn fail_totp(harness: &Harness, secret: &mfa_shared::domain::totp::TotpSecret, count: usize) {
    let ticket = harness.challenge(ANA, ACME, "acme").await;
    for _ in 0..count {
        let reply = harness
            .answer(&ticket, &harness.code(secret, FAR_STEPS))
            .await;
        assert_eq!(reply.status, 401, "wrong TOTP code: {}", reply.json);
    }
}

#[tokio::test]
async fn failures_shared_across_factors_and_sessions() {
    let harness = Harness::new();
    let (enrollment, first) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();
    let second = tokens(
        &harness
            .answer(
                &harness.challenge(ANA, ACME, "acme").await,
                &harness.code(&enrollment.secret, 0),
            )
            .await,
    );
    harness.next_step();
    let user_id = Harness::user_id(ANA);

    fail_totp(&harness, &enrollment.secret, 3).await;
    let ticket = harness.challenge(ANA, ACME, "acme").await;
    for _ in 0..3 {
        let reply = harness.answer_backup(&ticket, UNKNOWN_BACKUP_CODE).await;
        assert_eq!(reply.status, 401, "wrong backup code: {}", reply.json);
    }
    for session in [&first, &second] {
        let body = json!({ "code": harness.code(&enrollment.secret, FAR_STEPS) });
        let reply = harness
            .call(
                "POST",
                "/v1/me/mfa/backup-codes",
                Some(&session.access),
                Some(body),
            )
            .await;
        assert_eq!(
            reply.status, 401,
            "wrong code on regeneration: {}",
            reply.json
        );
    }
    let body = json!({ "code": harness.code(&enrollment.secret, FAR_STEPS) });
    let reply = harness
        .call("DELETE", "/v1/me/mfa", Some(&first.access), Some(body))
        .await;
    assert_eq!(reply.status, 401, "wrong code on disable: {}", reply.json);
    fail_totp(&harness, &enrollment.secret, 1).await;
    let failures = harness
        .app
        .store
        .failures(&user_id)
        .await
        .expect("failures");
    assert_eq!(
        failures.count, 10,
        "ten failures counted from two factors, three tickets and two sessions"
    );

    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 0))
        .await;
    assert_eq!(
        reply.status, 429,
        "the tenth failure locks a correct code: {}",
        reply.json
    );
    assert_eq!(reply.error_code(), "too_many_attempts", "error code");
}

#[tokio::test]
async fn tenth_failure_locks_every_code_route() {
    let harness = Harness::new();
    let (enrollment, session) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();

    fail_totp(&harness, &enrollment.secret, 10).await;

    let code = harness.code(&enrollment.secret, 0);
    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let replies = [
        ("challenge with TOTP", harness.answer(&ticket, &code).await),
        (
            "challenge with backup code",
            harness
                .answer_backup(&ticket, &enrollment.backup_codes[0])
                .await,
        ),
        (
            "regenerate backup codes",
            harness
                .call(
                    "POST",
                    "/v1/me/mfa/backup-codes",
                    Some(&session.access),
                    Some(json!({ "code": code })),
                )
                .await,
        ),
        (
            "disable MFA",
            harness
                .call(
                    "DELETE",
                    "/v1/me/mfa",
                    Some(&session.access),
                    Some(json!({ "code": code })),
                )
                .await,
        ),
    ];
    for (route, reply) in &replies {
        assert_eq!(
            reply.status, 429,
            "{route}: a correct code is locked out: {}",
            reply.json
        );
        assert_eq!(
            reply.error_code(),
            "too_many_attempts",
            "{route}: error code"
        );
        assert_eq!(
            retry_after(reply),
            900,
            "{route}: the window opened just now"
        );
    }

    let status = harness
        .call("GET", "/v1/me/mfa", Some(&session.access), None)
        .await;
    assert_eq!(
        status.json["enrolled"], true,
        "the locked-out disable changed nothing"
    );
    assert_eq!(
        status.json["backup_codes_remaining"], 10,
        "the locked-out backup code is unspent"
    );
}

#[tokio::test]
async fn lockout_lasts_until_window_passes() {
    let harness = Harness::new();
    let (enrollment, _) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();
    let window_start = harness.clock.now();

    fail_totp(&harness, &enrollment.secret, 10).await;

    harness.clock.set(window_start + 600);
    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 0))
        .await;
    assert_eq!(
        reply.status, 429,
        "still locked after 10 minutes: {}",
        reply.json
    );
    assert_eq!(
        retry_after(&reply),
        300,
        "Retry-After counts down to the window's end"
    );

    harness.clock.set(window_start + 899);
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 0))
        .await;
    assert_eq!(
        reply.status, 429,
        "still locked one second before the end: {}",
        reply.json
    );
    assert_eq!(retry_after(&reply), 1, "one second left");

    harness.clock.set(window_start + 900);
    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 0))
        .await;
    assert_eq!(
        reply.status, 200,
        "a correct code works once the window passed: {}",
        reply.json
    );
    assert_eq!(
        jwt_claims(&reply.text("/session/access_token"))["aal"],
        2,
        "aal 2 session"
    );
}

#[tokio::test]
async fn sign_in_not_blocked_by_lockout() {
    let harness = Harness::new();
    let (enrollment, _) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();

    fail_totp(&harness, &enrollment.secret, 10).await;

    let reply = harness.sign_in(ANA, "email", ACME, "acme").await;
    assert_eq!(
        reply.status, 200,
        "the first sign-in step still works: {}",
        reply.json
    );
    assert_eq!(
        reply.json["status"], "mfa_required",
        "and asks for the second factor"
    );
    let saml = harness.sign_in(ANA, "saml", ACME, "acme").await;
    assert_eq!(
        saml.json["status"], "authenticated",
        "SAML sign-in is not blocked either"
    );
}

#[tokio::test]
async fn success_clears_failure_count() {
    let harness = Harness::new();
    let (enrollment, _) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();
    let user_id = Harness::user_id(ANA);

    fail_totp(&harness, &enrollment.secret, 9).await;
    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let reply = harness
        .answer_backup(&ticket, &enrollment.backup_codes[0])
        .await;
    assert_eq!(
        reply.status, 200,
        "a backup code works after nine failures: {}",
        reply.json
    );
    let failures = harness
        .app
        .store
        .failures(&user_id)
        .await
        .expect("failures");
    assert_eq!(failures.count, 0, "the success cleared the count");

    fail_totp(&harness, &enrollment.secret, 9).await;
    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 0))
        .await;
    assert_eq!(
        reply.status, 200,
        "nine more failures do not lock: {}",
        reply.json
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_failures_count_fifty() {
    let (harness, store) = Harness::gated();
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
        .expect("failures")
        .count;

    store.hold(GatedRead::Factor, 50);
    let handles: Vec<_> = (0..50)
        .map(|index| {
            let harness = harness.clone();
            let ticket = tickets[index % tickets.len()].clone();
            let code = harness.code(&enrollment.secret, FAR_STEPS + index as i64 % 3);
            tokio::spawn(async move { harness.answer(&ticket, &code).await })
        })
        .collect();
    let replies: Vec<Reply> = join_all(handles)
        .await
        .into_iter()
        .map(|joined| joined.expect("request task panicked"))
        .collect();

    for reply in &replies {
        assert_eq!(
            reply.status, 401,
            "each wrong code is rejected: {}",
            reply.json
        );
    }
    let after = harness
        .app
        .store
        .failures(&user_id)
        .await
        .expect("failures")
        .count;
    assert_eq!(
        after - before,
        50,
        "50 parallel failures raise the count by 50"
    );
    let events = harness
        .app
        .store
        .audit_events(&user_id)
        .await
        .expect("audit");
    let lockouts = events
        .iter()
        .filter(|event| event.action == AuditAction::LockedOut)
        .count();
    assert_eq!(lockouts, 1, "the lockout is audited once");
}

#[tokio::test]
async fn lockout_and_reuse_are_audited() {
    let harness = Harness::new();
    let (enrollment, _) = harness.enrolled(ANA, ACME, "acme").await;
    let user_id = Harness::user_id(ANA);
    let used_code = harness.code(&enrollment.secret, 0);
    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let reply = harness
        .answer_backup(&ticket, &enrollment.backup_codes[1])
        .await;
    assert_eq!(reply.status, 200, "backup code accepted: {}", reply.json);

    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let reply = harness.answer(&ticket, &used_code).await;
    assert_eq!(
        reply.status, 401,
        "reused TOTP code rejected: {}",
        reply.json
    );
    let reply = harness
        .answer_backup(&ticket, &enrollment.backup_codes[1])
        .await;
    assert_eq!(
        reply.status, 401,
        "spent backup code rejected: {}",
        reply.json
    );
    let reuses_at = harness.clock.now();
    for _ in 0..8 {
        let reply = harness
            .answer(&ticket, &harness.code(&enrollment.secret, FAR_STEPS))
            .await;
        assert_eq!(reply.status, 401, "wrong code rejected: {}", reply.json);
    }
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 1))
        .await;
    assert_eq!(
        reply.status, 429,
        "locked after ten failures: {}",
        reply.json
    );

    let events = harness
        .app
        .store
        .audit_events(&user_id)
        .await
        .expect("audit");
    let reuses: Vec<_> = events
        .iter()
        .filter(|event| event.action == AuditAction::CodeReuseRejected)
        .collect();
    let lockouts: Vec<_> = events
        .iter()
        .filter(|event| event.action == AuditAction::LockedOut)
        .collect();
    assert_eq!(
        reuses.len(),
        2,
        "the reused TOTP code and the spent backup code are audited"
    );
    assert_eq!(
        lockouts.len(),
        1,
        "the lockout is audited once, not per refused attempt"
    );
    for event in reuses.iter().chain(&lockouts) {
        assert_eq!(
            event.actor, user_id,
            "{:?}: actor is the member",
            event.action
        );
        assert_eq!(
            event.target, user_id,
            "{:?}: target is the member",
            event.action
        );
        assert_eq!(
            event.account.as_ref().map(|a| a.as_str()),
            Some("acme"),
            "{:?}: account",
            event.action
        );
        assert_eq!(
            event.at, reuses_at,
            "{:?}: time of the attempt",
            event.action
        );
    }
}

// Failures that straddle the end of 15 minutes since the first failure still lock: the
// window slides with the failures, so any ten within 15 minutes are enough.
#[tokio::test]
async fn failures_across_window_boundary_lock() {
    let harness = Harness::new();
    let (enrollment, _) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();
    let first_failure = harness.clock.now();

    fail_totp(&harness, &enrollment.secret, 1).await;
    harness.clock.set(first_failure + 899);
    fail_totp(&harness, &enrollment.secret, 8).await;
    harness.clock.set(first_failure + 900);
    fail_totp(&harness, &enrollment.secret, 2).await;

    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 0))
        .await;
    assert_eq!(
        reply.status, 429,
        "10 failures within two seconds lock the user: {}",
        reply.json
    );
}
