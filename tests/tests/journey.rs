//! The main flows end to end through the shared HTTP layer on the embedded adapters.

use mfa_tests::{jwt_claims, tokens, Harness};

const ACME: &[(&str, &str)] = &[("acme", "owner")];

#[tokio::test]
async fn enroll_then_challenge_then_backup_code() {
    let harness = Harness::new();
    let session = harness
        .session("ana@acme.test", "email", ACME, "acme")
        .await;
    assert_eq!(jwt_claims(&session.access)["aal"], 1);

    let enrollment = harness.enroll(&session.access).await;
    assert_eq!(enrollment.backup_codes.len(), 10);

    harness.next_step();
    let ticket = harness.challenge("ana@acme.test", ACME, "acme").await;
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 0))
        .await;
    let second = tokens(&reply);
    let claims = jwt_claims(&second.access);
    assert_eq!(claims["aal"], 2);
    assert_eq!(claims["amr"], serde_json::json!(["email", "totp", "mfa"]));

    let ticket = harness.challenge("ana@acme.test", ACME, "acme").await;
    let reply = harness
        .answer_backup(&ticket, &enrollment.backup_codes[0].to_uppercase())
        .await;
    tokens(&reply);
    let status = harness
        .call("GET", "/v1/me/mfa", Some(&second.access), None)
        .await;
    assert_eq!(status.json["backup_codes_remaining"], 9);
    assert_eq!(status.json["enrolled"], true);
}

#[tokio::test]
async fn confirming_code_cannot_sign_in() {
    let harness = Harness::new();
    let session = harness
        .session("ana@acme.test", "email", ACME, "acme")
        .await;
    let enrollment = harness.enroll(&session.access).await;

    let ticket = harness.challenge("ana@acme.test", ACME, "acme").await;
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 0))
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.error_code(), "invalid_code");
}
