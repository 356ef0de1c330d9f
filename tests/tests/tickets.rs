//! MFA tickets: their lifetimes, what they are bound to, single use, and that they never
//! work as a session or for the other kind of second step.

use mfa_tests::{jwt_claims, Harness, Reply};
use serde_json::{json, Value};

const ACME: &[(&str, &str)] = &[("acme", "owner")];
const ANA: &str = "ana@acme.test";
const ACME_MEMBER: &[(&str, &str)] = &[("acme", "member")];

/// Enrolls the owner of acme, turns `require_mfa` on and returns the owner's access token.
async fn enforce_on_acme(harness: &Harness) -> String {
    let (_, owner) = harness.enrolled(ANA, ACME, "acme").await;
    let reply = harness.set_require_mfa(&owner.access, "acme", true).await;
    assert_eq!(reply.status, 200, "owner requires MFA: {}", reply.json);
    harness.next_step();
    owner.access
}

/// Signs in a member of acme, which requires MFA, and returns the enrollment ticket.
async fn enrollment_ticket(harness: &Harness, email: &str) -> String {
    let reply = harness.sign_in(email, "email", ACME_MEMBER, "acme").await;
    assert_eq!(
        reply.json["status"], "enrollment_required",
        "sign-in: {}",
        reply.json
    );
    assert_eq!(
        reply.json["expires_in"], 600,
        "enrollment tickets live 10 minutes"
    );
    reply.text("/mfa_ticket")
}

/// Starts an enrollment with a ticket.
async fn start_with_ticket(harness: &Harness, ticket: &str) -> Reply {
    let body = json!({ "mfa_ticket": ticket });
    harness
        .call("POST", "/v1/me/mfa/enrollment", None, Some(body))
        .await
}

#[tokio::test]
async fn challenge_ticket_expires_after_five_minutes() {
    let harness = Harness::new();
    let (enrollment, _) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();
    let reply = harness.sign_in(ANA, "email", ACME, "acme").await;
    assert_eq!(
        reply.json["expires_in"], 300,
        "challenge tickets live 5 minutes"
    );
    let early = reply.text("/mfa_ticket");
    let late = harness.challenge(ANA, ACME, "acme").await;

    harness.clock.advance(299);
    let reply = harness
        .answer(&early, &harness.code(&enrollment.secret, 0))
        .await;
    assert_eq!(
        reply.status, 200,
        "a ticket works for 299 seconds: {}",
        reply.json
    );

    harness.clock.advance(1);
    let fresh_code = harness.code(&enrollment.secret, 1);
    let reply = harness.answer(&late, &fresh_code).await;
    assert_eq!(
        reply.status, 401,
        "a ticket is expired at 300 seconds: {}",
        reply.json
    );
    assert_eq!(
        reply.error_code(),
        "invalid_code",
        "an expired ticket looks like a wrong code"
    );

    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let reply = harness.answer(&ticket, &fresh_code).await;
    assert_eq!(
        reply.status, 200,
        "the code itself was valid: {}",
        reply.json
    );
}

#[tokio::test]
async fn enrollment_ticket_expires_after_ten_minutes() {
    let harness = Harness::new();
    enforce_on_acme(&harness).await;
    let ben = enrollment_ticket(&harness, "ben@acme.test").await;
    let cleo = enrollment_ticket(&harness, "cleo@acme.test").await;
    let dana = enrollment_ticket(&harness, "dana@acme.test").await;

    harness.clock.advance(590);
    let started = start_with_ticket(&harness, &dana).await;
    assert_eq!(
        started.status, 200,
        "dana starts at 590 seconds: {}",
        started.json
    );

    harness.clock.advance(9);
    let (_, confirmed) = harness.enroll_with(None, Some(&ben)).await;
    let access = confirmed.text("/session/access_token");
    assert_eq!(
        jwt_claims(&access)["aal"],
        2,
        "a ticket works for 599 seconds"
    );

    harness.clock.advance(1);
    let reply = start_with_ticket(&harness, &cleo).await;
    assert_eq!(
        reply.status, 401,
        "a ticket is expired at 600 seconds: {}",
        reply.json
    );
    assert_eq!(
        reply.error_code(),
        "invalid_ticket",
        "start with an expired ticket"
    );

    let secret = mfa_tests::secret_from_base32(&started.text("/secret"));
    let body = json!({
        "mfa_ticket": dana,
        "enrollment_id": started.text("/enrollment_id"),
        "code": harness.code(&secret, 0),
    });
    let reply = harness
        .call("POST", "/v1/me/mfa/enrollment/confirm", None, Some(body))
        .await;
    assert_eq!(
        reply.status, 401,
        "confirm with an expired ticket: {}",
        reply.json
    );
    assert_eq!(
        reply.error_code(),
        "invalid_ticket",
        "confirm with an expired ticket"
    );
}

#[tokio::test]
async fn ticket_bound_to_user_method_account() {
    let harness = Harness::new();
    let accounts = &[("acme", "owner"), ("beta", "member")];
    let (ana, _) = harness.enrolled(ANA, accounts, "acme").await;
    let (ben, _) = harness
        .enrolled("ben@beta.test", &[("beta", "admin")], "beta")
        .await;
    harness.next_step();

    let reply = harness.sign_in(ANA, "google", accounts, "beta").await;
    assert_eq!(
        reply.json["status"], "mfa_required",
        "sign-in: {}",
        reply.json
    );
    let ticket = reply.text("/mfa_ticket");
    let reply = harness.answer(&ticket, &harness.code(&ben.secret, 0)).await;
    assert_eq!(
        reply.status, 401,
        "another user's code cannot answer the ticket: {}",
        reply.json
    );

    let reply = harness.answer(&ticket, &harness.code(&ana.secret, 0)).await;
    assert_eq!(
        reply.status, 200,
        "the ticket's own user answers: {}",
        reply.json
    );
    let claims = jwt_claims(&reply.text("/session/access_token"));
    assert_eq!(
        claims["sub"],
        Harness::user_id(ANA).as_str(),
        "session is for the ticket's user"
    );
    assert_eq!(
        claims["account"], "beta",
        "session is for the ticket's account"
    );
    assert_eq!(
        claims["role"], "member",
        "session has the role in that account"
    );
    assert_eq!(
        claims["login_method"], "google",
        "session keeps the login method"
    );
    assert_eq!(
        claims["amr"],
        json!(["google", "totp", "mfa"]),
        "amr starts with the login method"
    );
    assert_eq!(claims["aal"], 2, "session is aal 2");
}

#[tokio::test]
async fn ticket_spent_with_its_session() {
    let harness = Harness::new();
    let (enrollment, _) = harness.enrolled(ANA, ACME, "acme").await;
    harness.next_step();

    let ticket = harness.challenge(ANA, ACME, "acme").await;
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 0))
        .await;
    assert_eq!(reply.status, 200, "first use: {}", reply.json);
    let reply = harness
        .answer(&ticket, &harness.code(&enrollment.secret, 1))
        .await;
    assert_eq!(
        reply.status, 401,
        "second use with a fresh code: {}",
        reply.json
    );
    let reply = harness
        .answer_backup(&ticket, &enrollment.backup_codes[0])
        .await;
    assert_eq!(
        reply.status, 401,
        "second use with a backup code: {}",
        reply.json
    );

    let fresh = harness.challenge(ANA, ACME, "acme").await;
    let reply = harness
        .answer(&fresh, &harness.code(&enrollment.secret, 1))
        .await;
    assert_eq!(
        reply.status, 200,
        "the fresh code was valid: {}",
        reply.json
    );
}

#[tokio::test]
async fn enrollment_ticket_spent_with_its_session() {
    let harness = Harness::new();
    enforce_on_acme(&harness).await;
    let ticket = enrollment_ticket(&harness, "ben@acme.test").await;

    let (_, confirmed) = harness.enroll_with(None, Some(&ticket)).await;
    assert_eq!(
        confirmed.status, 200,
        "forced enrollment: {}",
        confirmed.json
    );
    let reply = start_with_ticket(&harness, &ticket).await;
    assert_eq!(
        reply.status, 401,
        "a spent enrollment ticket cannot start again: {}",
        reply.json
    );
    assert_eq!(
        reply.error_code(),
        "invalid_ticket",
        "spent enrollment ticket"
    );
}

/// Returns every route that needs a session, with a body that is otherwise valid.
fn session_routes() -> Vec<(&'static str, &'static str, Option<Value>)> {
    let code = json!({ "code": "123456" });
    vec![
        (
            "POST",
            "/v1/sessions/switch",
            Some(json!({ "account": "acme" })),
        ),
        ("DELETE", "/v1/sessions/current", None),
        ("GET", "/v1/me/mfa", None),
        ("POST", "/v1/me/mfa/enrollment", None),
        (
            "POST",
            "/v1/me/mfa/enrollment/confirm",
            Some(json!({ "enrollment_id": "0123456789abcdef0123456789abcdef", "code": "123456" })),
        ),
        ("POST", "/v1/me/mfa/backup-codes", Some(code.clone())),
        ("DELETE", "/v1/me/mfa", Some(code)),
        ("GET", "/v1/accounts/acme/settings/security", None),
        (
            "PUT",
            "/v1/accounts/acme/settings/security",
            Some(json!({ "require_mfa": false })),
        ),
        ("GET", "/v1/accounts/acme/members", None),
        ("DELETE", "/v1/accounts/acme/members/u-1/mfa", None),
    ]
}

#[tokio::test]
async fn ticket_rejected_as_bearer_token() {
    let harness = Harness::new();
    enforce_on_acme(&harness).await;
    let challenge = harness.challenge(ANA, ACME, "acme").await;
    let enrollment = enrollment_ticket(&harness, "ben@acme.test").await;

    for (kind, ticket) in [("challenge", &challenge), ("enrollment", &enrollment)] {
        for (method, path, body) in session_routes() {
            let reply = harness.call(method, path, Some(ticket), body).await;
            assert_eq!(
                reply.status, 401,
                "{kind} ticket as bearer on {method} {path}: {}",
                reply.json
            );
            assert_eq!(
                reply.error_code(),
                "unauthenticated",
                "{kind} ticket on {method} {path}"
            );
        }
        let reply = harness.refresh(ticket).await;
        assert_eq!(
            reply.status, 401,
            "{kind} ticket as refresh token: {}",
            reply.json
        );
    }
}

#[tokio::test]
async fn enrollment_ticket_cannot_answer_challenge() {
    let harness = Harness::new();
    enforce_on_acme(&harness).await;
    let unused = enrollment_ticket(&harness, "ben@acme.test").await;
    let other = enrollment_ticket(&harness, "ben@acme.test").await;
    let (enrollment, _) = harness.enroll_with(None, Some(&other)).await;
    harness.next_step();

    let reply = harness
        .answer(&unused, &harness.code(&enrollment.secret, 0))
        .await;
    assert_eq!(
        reply.status, 401,
        "a live enrollment ticket answers no challenge: {}",
        reply.json
    );
    assert_eq!(
        reply.error_code(),
        "invalid_code",
        "enrollment ticket on the challenge route"
    );
    let reply = harness
        .answer_backup(&unused, &enrollment.backup_codes[0])
        .await;
    assert_eq!(reply.status, 401, "nor with a backup code: {}", reply.json);
}

#[tokio::test]
async fn challenge_ticket_cannot_enroll() {
    let harness = Harness::new();
    let owner = enforce_on_acme(&harness).await;
    let ben = "ben@acme.test";
    let (_, confirmed) = harness
        .enroll_with(None, Some(&enrollment_ticket(&harness, ben).await))
        .await;
    assert_eq!(confirmed.status, 200, "ben enrolled: {}", confirmed.json);
    let challenge = harness.challenge(ben, ACME_MEMBER, "acme").await;

    let path = format!("/v1/accounts/acme/members/{}/mfa", Harness::user_id(ben));
    let reset = harness.call("DELETE", &path, Some(&owner), None).await;
    assert_eq!(reset.status, 204, "owner resets ben: {}", reset.json);

    let reply = start_with_ticket(&harness, &challenge).await;
    assert_eq!(
        reply.status, 401,
        "a challenge ticket starts no enrollment: {}",
        reply.json
    );
    assert_eq!(
        reply.error_code(),
        "invalid_ticket",
        "challenge ticket on the enrollment route"
    );
}
