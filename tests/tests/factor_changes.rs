//! Changing a factor: regenerating backup codes and disabling MFA need a current TOTP
//! code, and enforcement decides who may disable and who may turn it on.

use mfa_tests::{jwt_claims, tokens, Harness, Reply};
use serde_json::json;

const ACME: &[(&str, &str)] = &[("acme", "owner")];
const ANA: &str = "ana@acme.test";

/// Posts a regeneration with `code`.
async fn regenerate(harness: &Harness, access: &str, code: &str) -> Reply {
    let body = json!({ "code": code });
    harness
        .call("POST", "/v1/me/mfa/backup-codes", Some(access), Some(body))
        .await
}

/// Posts a disable with `code`.
async fn disable(harness: &Harness, access: &str, code: &str) -> Reply {
    let body = json!({ "code": code });
    harness
        .call("DELETE", "/v1/me/mfa", Some(access), Some(body))
        .await
}

/// Returns the caller's MFA status.
async fn mfa_status(harness: &Harness, access: &str) -> Reply {
    harness.call("GET", "/v1/me/mfa", Some(access), None).await
}

#[tokio::test]
async fn regeneration_needs_current_code() {
    let harness = Harness::new();
    let (enrollment, session) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();

    let reply = regenerate(
        &harness,
        &session.access,
        &harness.code(&enrollment.secret, 10),
    )
    .await;
    assert_eq!(reply.status, 401, "a wrong code: {}", reply.json);
    assert_eq!(reply.error_code(), "invalid_code", "a wrong code");
    let reply = regenerate(&harness, &session.access, &enrollment.backup_codes[0]).await;
    assert_eq!(
        reply.status, 400,
        "a backup code is not a TOTP code: {}",
        reply.json
    );
    let reply = harness
        .call(
            "POST",
            "/v1/me/mfa/backup-codes",
            Some(&session.access),
            Some(json!({})),
        )
        .await;
    assert_eq!(reply.status, 400, "a missing code: {}", reply.json);

    let status = mfa_status(&harness, &session.access).await;
    assert_eq!(
        status.json["backup_codes_remaining"], 10,
        "rejected requests changed nothing"
    );
    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let reply = harness
        .answer_backup(&ticket, &enrollment.backup_codes[0])
        .await;
    assert_eq!(reply.status, 200, "the old set still works: {}", reply.json);
}

#[tokio::test]
async fn regeneration_replaces_old_set_at_once() {
    let harness = Harness::new();
    let (enrollment, session) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();
    let code = harness.code(&enrollment.secret, 0);

    let reply = regenerate(&harness, &session.access, &code).await;
    assert_eq!(
        reply.status, 200,
        "regeneration with a current code: {}",
        reply.json
    );
    let new_codes: Vec<String> = reply.json["backup_codes"]
        .as_array()
        .expect("backup codes")
        .iter()
        .map(|code| code.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(new_codes.len(), 10, "a full new set");
    for old in &enrollment.backup_codes {
        assert!(
            !new_codes.contains(old),
            "the new set shares no code with the old one"
        );
    }

    let ticket = harness.challenge(ANA, ACME, "acme").await;
    for old in &enrollment.backup_codes[..3] {
        let reply = harness.answer_backup(&ticket, old).await;
        assert_eq!(
            reply.status, 401,
            "an old code stopped working: {}",
            reply.json
        );
    }
    let reply = harness.answer(&ticket, &code).await;
    assert_eq!(
        reply.status, 401,
        "the regeneration spent its TOTP code: {}",
        reply.json
    );
    let reply = harness.answer_backup(&ticket, &new_codes[0]).await;
    assert_eq!(reply.status, 200, "a new code works: {}", reply.json);
}

#[tokio::test]
async fn disable_needs_current_code() {
    let harness = Harness::new();
    let (enrollment, session) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();

    let reply = disable(
        &harness,
        &session.access,
        &harness.code(&enrollment.secret, 10),
    )
    .await;
    assert_eq!(reply.status, 401, "a wrong code: {}", reply.json);
    let status = mfa_status(&harness, &session.access).await;
    assert_eq!(
        status.json["enrolled"], true,
        "a wrong code leaves the factor"
    );

    let reply = disable(
        &harness,
        &session.access,
        &harness.code(&enrollment.secret, 0),
    )
    .await;
    assert_eq!(reply.status, 204, "a current code disables: {}", reply.json);
    let status = mfa_status(&harness, &session.access).await;
    assert_eq!(status.json["enrolled"], false, "the factor is gone");
    assert_eq!(
        status.json["backup_codes_remaining"], 0,
        "the backup codes are gone"
    );
    let reply = harness.sign_in(ANA, "email", ACME, "acme").await;
    assert_eq!(
        reply.json["status"], "authenticated",
        "sign-in no longer asks for a code"
    );
}

#[tokio::test]
async fn disable_refused_while_account_requires() {
    let harness = Harness::new();
    let (_, owner) = harness.enrolled(ANA, ACME, "acme").await;
    let reply = harness.set_require_mfa(&owner.access, "acme", true).await;
    assert_eq!(reply.status, 200, "acme requires MFA: {}", reply.json);
    harness.next_step();
    let accounts = &[("acme", "member"), ("beta", "owner")];
    let ben = "ben@beta.test";
    let reply = harness.sign_in(ben, "email", accounts, "acme").await;
    let (enrollment, confirmed) = harness
        .enroll_with(None, Some(&reply.text("/mfa_ticket")))
        .await;
    assert_eq!(confirmed.status, 200, "ben enrolls: {}", confirmed.json);
    harness.next_step();
    let ticket = harness.challenge(ben, accounts, "beta").await;
    let beta = tokens(
        &harness
            .answer(&ticket, &harness.code(&enrollment.secret, 0))
            .await,
    );
    assert_eq!(
        jwt_claims(&beta.access)["account"],
        "beta",
        "ben's session is for beta"
    );
    harness.next_step();

    let reply = disable(&harness, &beta.access, &harness.code(&enrollment.secret, 0)).await;
    assert_eq!(
        reply.status, 409,
        "acme, another account of ben, requires MFA: {}",
        reply.json
    );
    assert_eq!(
        reply.error_code(),
        "mfa_required_by_account",
        "conflict code"
    );
    let status = mfa_status(&harness, &beta.access).await;
    assert_eq!(status.json["enrolled"], true, "the factor stays");

    let reply = harness.set_require_mfa(&owner.access, "acme", false).await;
    assert_eq!(
        reply.status, 200,
        "acme stops requiring MFA: {}",
        reply.json
    );
    let reply = disable(&harness, &beta.access, &harness.code(&enrollment.secret, 0)).await;
    assert_eq!(reply.status, 204, "now ben may disable: {}", reply.json);
}

#[tokio::test]
async fn enforcement_needs_caller_mfa() {
    let harness = Harness::new();
    let owner = harness.session(ANA, "email", ACME, "acme").await;

    let reply = harness.set_require_mfa(&owner.access, "acme", true).await;
    assert_eq!(reply.status, 409, "an owner without MFA: {}", reply.json);
    assert_eq!(reply.error_code(), "caller_not_enrolled", "conflict code");
    let settings = harness
        .call(
            "GET",
            "/v1/accounts/acme/settings/security",
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(settings.json["require_mfa"], false, "enforcement stays off");

    let enrollment = harness.enroll(&owner.access).await;
    harness.next_step();
    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let owner = tokens(
        &harness
            .answer(&ticket, &harness.code(&enrollment.secret, 0))
            .await,
    );
    let reply = harness.set_require_mfa(&owner.access, "acme", true).await;
    assert_eq!(reply.status, 200, "an owner with MFA: {}", reply.json);
    assert_eq!(reply.json["require_mfa"], true, "enforcement is on");
}
