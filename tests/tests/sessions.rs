//! Sessions: refresh never raises the assurance level, and it re-reads enforcement and the
//! factor. Refresh tokens rotate, reusing one revokes the session, and admin reset and
//! sign-out end sessions.

use mfa_tests::{jwt_claims, tokens, Harness};
use serde_json::json;

const ACME: &[(&str, &str)] = &[("acme", "owner")];
const ANA: &str = "ana@acme.test";
const BEN: &str = "ben@acme.test";
const ACME_MEMBER: &[(&str, &str)] = &[("acme", "member")];

#[tokio::test]
async fn aal1_session_refreshes_at_aal1() {
    let harness = Harness::new();
    let session = harness.session(ANA, "email", ACME, "acme").await;
    assert_eq!(jwt_claims(&session.access)["aal"], 1, "no factor: aal 1");

    let mut refresh = session.refresh;
    for round in 1..=3 {
        let reply = harness.refresh(&refresh).await;
        let next = tokens(&reply);
        let claims = jwt_claims(&next.access);
        assert_eq!(claims["aal"], 1, "refresh {round} keeps aal 1");
        assert_eq!(
            claims["amr"],
            json!(["email"]),
            "refresh {round} adds no factor to amr"
        );
        refresh = next.refresh;
    }
}

#[tokio::test]
async fn aal1_refresh_after_enrolling_needs_mfa() {
    let harness = Harness::new();
    let session = harness.session(ANA, "email", ACME, "acme").await;
    let enrollment = harness.enroll(&session.access).await;

    let body = json!({ "code": harness.code(&enrollment.secret, 1) });
    let reply = harness
        .call(
            "POST",
            "/v1/me/mfa/backup-codes",
            Some(&session.access),
            Some(body),
        )
        .await;
    assert_eq!(
        reply.status, 403,
        "the aal 1 session cannot regenerate codes: {}",
        reply.json
    );

    let reply = harness.refresh(&session.refresh).await;
    assert_eq!(reply.status, 200, "refresh answers: {}", reply.json);
    assert_eq!(
        reply.json["status"], "mfa_required",
        "a member who enrolled must answer a challenge"
    );
    assert!(
        reply.json.get("session").is_none(),
        "no session comes with the ticket"
    );
    let ticket = reply.text("/mfa_ticket");

    let reply = harness.refresh(&session.refresh).await;
    assert_eq!(
        reply.status, 401,
        "the aal 1 session has ended: {}",
        reply.json
    );
    let reply = harness
        .call("GET", "/v1/me/mfa", Some(&session.access), None)
        .await;
    assert_eq!(
        reply.status, 401,
        "its access token no longer works: {}",
        reply.json
    );

    harness.next_step();
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 0))
        .await;
    let upgraded = tokens(&reply);
    assert_eq!(
        jwt_claims(&upgraded.access)["aal"],
        2,
        "the challenge issues a new aal 2 session"
    );
}

#[tokio::test]
async fn refresh_reads_account_enforcement() {
    let harness = Harness::new();
    let (_, owner) = harness.enrolled(ANA, ACME, "acme").await;
    let member = harness.session(BEN, "email", ACME_MEMBER, "acme").await;
    let saml = harness
        .session("cleo@acme.test", "saml", ACME_MEMBER, "acme")
        .await;

    let reply = harness.set_require_mfa(&owner.access, "acme", true).await;
    assert_eq!(reply.status, 200, "owner requires MFA: {}", reply.json);

    let reply = harness.refresh(&member.refresh).await;
    assert_eq!(reply.status, 200, "member refresh answers: {}", reply.json);
    assert_eq!(
        reply.json["status"], "enrollment_required",
        "unenrolled member must enroll"
    );
    assert!(
        reply.json["mfa_ticket"].is_string(),
        "with an enrollment ticket"
    );
    let reply = harness.refresh(&member.refresh).await;
    assert_eq!(
        reply.status, 401,
        "the member's old session has ended: {}",
        reply.json
    );

    let reply = harness.refresh(&saml.refresh).await;
    let refreshed = tokens(&reply);
    assert_eq!(
        jwt_claims(&refreshed.access)["amr"],
        json!(["saml"]),
        "SAML session goes on"
    );

    let reply = harness.refresh(&owner.refresh).await;
    let refreshed = tokens(&reply);
    assert_eq!(
        jwt_claims(&refreshed.access)["aal"],
        2,
        "enrolled owner's aal 2 session goes on"
    );
}

#[tokio::test]
async fn refresh_token_rotates_and_reuse_revokes() {
    let harness = Harness::new();
    let first = harness.session(ANA, "email", ACME, "acme").await;

    let second = tokens(&harness.refresh(&first.refresh).await);
    assert_ne!(
        second.refresh, first.refresh,
        "refresh issues a new refresh token"
    );
    let third = tokens(&harness.refresh(&second.refresh).await);
    assert_ne!(
        third.refresh, second.refresh,
        "each refresh rotates the token"
    );

    let reply = harness.refresh(&first.refresh).await;
    assert_eq!(
        reply.status, 401,
        "a rotated token is rejected: {}",
        reply.json
    );
    assert_eq!(reply.error_code(), "unauthenticated", "rotated token");
    let reply = harness.refresh(&third.refresh).await;
    assert_eq!(
        reply.status, 401,
        "reuse revoked the current token too: {}",
        reply.json
    );
    let reply = harness
        .call("GET", "/v1/me/mfa", Some(&third.access), None)
        .await;
    assert_eq!(
        reply.status, 401,
        "and the session's access token: {}",
        reply.json
    );
}

#[tokio::test]
async fn admin_reset_ends_member_sessions() {
    let harness = Harness::new();
    let (_, owner) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();
    let (_, member) = harness.enrolled(BEN, ACME_MEMBER, "acme").await;

    let path = format!("/v1/accounts/acme/members/{}/mfa", Harness::user_id(BEN));
    let reply = harness
        .call("DELETE", &path, Some(&owner.access), None)
        .await;
    assert_eq!(reply.status, 204, "owner resets the member: {}", reply.json);

    let reply = harness.refresh(&member.refresh).await;
    assert_eq!(
        reply.status, 401,
        "the member's refresh token is revoked: {}",
        reply.json
    );
    for (method, path) in [("GET", "/v1/me/mfa"), ("DELETE", "/v1/sessions/current")] {
        let reply = harness.call(method, path, Some(&member.access), None).await;
        assert_eq!(
            reply.status, 401,
            "{method} {path} with the member's access token: {}",
            reply.json
        );
    }
    let reply = harness
        .call("GET", "/v1/me/mfa", Some(&owner.access), None)
        .await;
    assert_eq!(
        reply.status, 200,
        "the owner's session is untouched: {}",
        reply.json
    );

    let reply = harness.sign_in(BEN, "email", ACME_MEMBER, "acme").await;
    let fresh = tokens(&reply);
    assert_eq!(
        jwt_claims(&fresh.access)["aal"],
        1,
        "the member signs in again without a factor"
    );
}

#[tokio::test]
async fn sign_out_ends_session() {
    let harness = Harness::new();
    let session = harness.session(ANA, "email", ACME, "acme").await;
    let other = harness.session(ANA, "email", ACME, "acme").await;

    let reply = harness
        .call(
            "DELETE",
            "/v1/sessions/current",
            Some(&session.access),
            None,
        )
        .await;
    assert_eq!(reply.status, 204, "sign-out: {}", reply.json);

    let reply = harness
        .call("GET", "/v1/me/mfa", Some(&session.access), None)
        .await;
    assert_eq!(
        reply.status, 401,
        "the access token no longer works: {}",
        reply.json
    );
    let reply = harness.refresh(&session.refresh).await;
    assert_eq!(
        reply.status, 401,
        "the refresh token no longer works: {}",
        reply.json
    );
    let reply = harness
        .call("GET", "/v1/me/mfa", Some(&other.access), None)
        .await;
    assert_eq!(
        reply.status, 200,
        "another session of the user goes on: {}",
        reply.json
    );
}
