//! TOTP replay protection and the acceptance window: a code is accepted once, codes at or
//! before the last accepted step are rejected, and only one step either side is accepted.

use mfa_shared::ports::AuditAction;
use mfa_tests::Harness;
use serde_json::json;

const ACME: &[(&str, &str)] = &[("acme", "owner")];
const ANA: &str = "ana@acme.test";
const BEN: &str = "ben@acme.test";

#[tokio::test]
async fn code_accepted_only_once() {
    let harness = Harness::new();
    let (enrollment, _) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();
    let code = harness.code(&enrollment.secret, 0);

    let first = harness
        .answer(&harness.challenge(ANA, ACME, "acme").await, &code)
        .await;
    assert_eq!(first.status, 200, "first use accepted: {}", first.json);

    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let again = harness.answer(&ticket, &code).await;
    assert_eq!(again.status, 401, "second use rejected: {}", again.json);
    assert_eq!(
        again.error_code(),
        "invalid_code",
        "second use is an invalid code"
    );
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let reply = harness.answer(&ticket, &spaced).await;
    assert_eq!(
        reply.status, 401,
        "the same code typed with a space is rejected too: {}",
        reply.json
    );

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
    assert_eq!(reuses, 2, "each rejected reuse is audited");
}

#[tokio::test]
async fn steps_up_to_last_rejected() {
    let harness = Harness::new();
    let (enrollment, _) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();
    harness.next_step();

    let ahead = harness.code(&enrollment.secret, 1);
    let reply = harness
        .answer(&harness.challenge(ANA, ACME, "acme").await, &ahead)
        .await;
    assert_eq!(
        reply.status, 200,
        "next step's code accepted: {}",
        reply.json
    );

    let ticket = harness.challenge(ANA, ACME, "acme").await;
    for offset in [0, -1, 1] {
        let reply = harness
            .answer(&ticket, &harness.code(&enrollment.secret, offset))
            .await;
        assert_eq!(
            reply.status, 401,
            "after success at step s+1, the code of step s{offset:+} is rejected: {}",
            reply.json
        );
    }

    harness.next_step();
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 0))
        .await;
    assert_eq!(
        reply.status, 401,
        "the accepted step stays spent when it becomes current: {}",
        reply.json
    );
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 1))
        .await;
    assert_eq!(
        reply.status, 200,
        "a later step is accepted: {}",
        reply.json
    );
}

#[tokio::test]
async fn window_one_step_each_side() {
    let harness = Harness::new();
    let session = harness.session(ANA, "email", ACME, "acme").await;
    let enrollment = harness.enroll(&session.access).await;
    for _ in 0..4 {
        harness.next_step();
    }
    let ticket = harness.challenge(ANA, ACME, "acme").await;

    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, -2))
        .await;
    assert_eq!(
        reply.status, 401,
        "two steps behind is rejected: {}",
        reply.json
    );
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 2))
        .await;
    assert_eq!(
        reply.status, 401,
        "two steps ahead is rejected: {}",
        reply.json
    );

    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, -1))
        .await;
    assert_eq!(
        reply.status, 200,
        "one step behind is accepted: {}",
        reply.json
    );
    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 1))
        .await;
    assert_eq!(
        reply.status, 200,
        "one step ahead is accepted: {}",
        reply.json
    );
}

#[tokio::test]
async fn confirming_code_never_accepted() {
    let harness = Harness::new();
    let (_, owner) = harness.enrolled(ANA, ACME, "acme").await;
    let enforced = harness.set_require_mfa(&owner.access, "acme", true).await;
    assert_eq!(
        enforced.status, 200,
        "owner requires MFA: {}",
        enforced.json
    );
    let members = &[("acme", "member")];

    let reply = harness.sign_in(BEN, "email", members, "acme").await;
    assert_eq!(
        reply.json["status"], "enrollment_required",
        "forced enrollment: {}",
        reply.json
    );
    let (enrollment, confirmed) = harness
        .enroll_with(None, Some(&reply.text("/mfa_ticket")))
        .await;
    let ben_access = confirmed.text("/session/access_token");
    let confirming_code = harness.code(&enrollment.secret, 0);

    let ticket = harness.challenge(BEN, members, "acme").await;
    let reply = harness.answer(&ticket, &confirming_code).await;
    assert_eq!(
        reply.status, 401,
        "confirming code cannot answer a challenge: {}",
        reply.json
    );
    let reply = harness
        .call(
            "POST",
            "/v1/me/mfa/backup-codes",
            Some(&ben_access),
            Some(json!({ "code": confirming_code })),
        )
        .await;
    assert_eq!(
        reply.status, 401,
        "confirming code cannot regenerate backup codes: {}",
        reply.json
    );

    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 1))
        .await;
    assert_eq!(
        reply.status, 200,
        "the next step's code works: {}",
        reply.json
    );
}
