//! Every failed attempt on `POST /v1/sessions/mfa` gets the same status and body, so a
//! caller cannot tell a code that was once valid, or a ticket that once existed, from a
//! wrong guess.

use mfa_tests::{Harness, Reply};

const ACME: &[(&str, &str)] = &[("acme", "owner")];
const ANA: &str = "ana@acme.test";
/// A ticket of the right form that was never issued.
const UNKNOWN_TICKET: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[tokio::test]
async fn failed_answers_byte_identical() {
    let harness = Harness::new();
    let (enrollment, _) = harness.enrolled(ANA, ACME, "acme").await;
    let expiring = harness.challenge(ANA, ACME, "acme").await;
    harness.clock.advance(301);
    harness.next_step();
    let current = harness.code(&enrollment.secret, 0);
    let fresh = harness.code(&enrollment.secret, 1);

    let wrong = harness
        .answer(
            &harness.challenge(ANA, ACME, "acme").await,
            &harness.code(&enrollment.secret, 10),
        )
        .await;

    let accepted = harness
        .answer(&harness.challenge(ANA, ACME, "acme").await, &current)
        .await;
    assert_eq!(
        accepted.status, 200,
        "the code is accepted once: {}",
        accepted.json
    );
    let reused = harness
        .answer(&harness.challenge(ANA, ACME, "acme").await, &current)
        .await;

    let expired = harness.answer(&expiring, &fresh).await;

    let backup_code = &enrollment.backup_codes[2];
    let spent_once = harness
        .answer_backup(&harness.challenge(ANA, ACME, "acme").await, backup_code)
        .await;
    assert_eq!(
        spent_once.status, 200,
        "the backup code is accepted once: {}",
        spent_once.json
    );
    let spent = harness
        .answer_backup(&harness.challenge(ANA, ACME, "acme").await, backup_code)
        .await;

    let unknown = harness.answer(UNKNOWN_TICKET, &fresh).await;

    let cases: [(&str, &Reply); 4] = [
        ("reused code", &reused),
        ("expired ticket with a valid code", &expired),
        ("spent backup code", &spent),
        ("unknown ticket with a valid code", &unknown),
    ];
    assert_eq!(wrong.status, 401, "wrong code: {}", wrong.json);
    assert_eq!(wrong.error_code(), "invalid_code", "wrong code");
    for (case, reply) in cases {
        assert_eq!(
            reply.status, wrong.status,
            "{case}: status as for a wrong code"
        );
        assert_eq!(
            reply.body, wrong.body,
            "{case}: body bytes as for a wrong code"
        );
    }
    let body = String::from_utf8_lossy(&wrong.body);
    assert!(!body.contains(&current), "the body does not echo the code");
}
