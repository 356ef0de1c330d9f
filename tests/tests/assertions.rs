//! Login assertions on `POST /v1/sessions`: signature, issuer, audience and age are
//! checked, and each `jti` is accepted once.

use std::sync::Arc;

use data_encoding::BASE64URL_NOPAD;
use mfa_shared::clock::{Clock, ManualClock};
use mfa_shared::embedded::demo_login::{DEMO_LOGIN_AUDIENCE, DEMO_LOGIN_ISSUER};
use mfa_shared::embedded::{DemoLogin, LocalCipher, LocalSigner, MemoryStore};
use mfa_shared::ports::TokenSigner;
use mfa_shared::random::{random_id, OsRandom};
use mfa_shared::service::{App, Parts};
use mfa_shared::tokens::assertion::{AssertionClaims, Audience};
use mfa_shared::tokens::jwt::{self, KeySet};
use mfa_tests::{Harness, Reply, START};
use serde_json::json;

const ANA: &str = "ana@acme.test";
const ACME: &[(&str, &str)] = &[("acme", "owner")];

/// Builds a harness whose app trusts `login_key` as the login service's only key.
fn harness_trusting(login_key: &LocalSigner) -> Harness {
    let clock = ManualClock::new(START);
    let login = DemoLogin::generate(&OsRandom);
    let mut config = login.config();
    config.login_keys = KeySet::single(login_key.key_id(), *login_key.verifying_key());
    let parts = Parts {
        store: Arc::new(MemoryStore::new()),
        cipher: Arc::new(LocalCipher::generate(Box::new(OsRandom))),
        signer: Arc::new(LocalSigner::generate(&OsRandom)),
        clock: Arc::new(clock.clone()),
        random: Arc::new(OsRandom),
    };
    let app = Arc::new(App::new(parts, &config));
    Harness { app, login, clock }
}

/// Claims of a valid assertion for Ana, issued now.
fn valid_claims(now: u64) -> AssertionClaims {
    AssertionClaims {
        iss: DEMO_LOGIN_ISSUER.to_owned(),
        aud: Audience::One(DEMO_LOGIN_AUDIENCE.to_owned()),
        sub: Harness::user_id(ANA).to_string(),
        email: ANA.to_owned(),
        login_method: "email".to_owned(),
        accounts: [("acme".to_owned(), "owner".to_owned())].into(),
        iat: now,
        exp: now + 300,
        jti: random_id(&OsRandom),
    }
}

/// Posts a sign-in with `assertion` for account acme.
async fn sign_in_with(harness: &Harness, assertion: &str) -> Reply {
    let body = json!({ "login_assertion": assertion, "account": "acme" });
    harness.call("POST", "/v1/sessions", None, Some(body)).await
}

/// Signs `claims` with `key` but names `key_id` in the header, as a forger who read
/// the trusted key id from the JWKS would.
async fn sign_as(key: &LocalSigner, key_id: &str, claims: &AssertionClaims) -> String {
    let header = json!({ "alg": "ES256", "kid": key_id, "typ": "JWT" });
    let encode = |bytes: &[u8]| BASE64URL_NOPAD.encode(bytes);
    let signing_input = format!(
        "{}.{}",
        encode(&serde_json::to_vec(&header).expect("header")),
        encode(&serde_json::to_vec(claims).expect("claims"))
    );
    let signature = key.sign(signing_input.as_bytes()).await.expect("sign");
    format!("{signing_input}.{}", encode(&signature))
}

#[tokio::test]
async fn assertion_jti_accepted_once() {
    let harness = Harness::new();
    let assertion = harness.assertion(ANA, "email", ACME).await;

    let first = sign_in_with(&harness, &assertion).await;
    assert_eq!(first.status, 200, "first use: {}", first.json);
    assert_eq!(first.json["status"], "authenticated", "first use signs in");
    let second = sign_in_with(&harness, &assertion).await;
    assert_eq!(second.status, 401, "second use: {}", second.json);
    assert_eq!(
        second.error_code(),
        "unauthenticated",
        "second use is unauthenticated"
    );

    let login_key = LocalSigner::generate(&OsRandom);
    let harness = harness_trusting(&login_key);
    let mut claims = valid_claims(harness.clock.now());
    let first = sign_in_with(
        &harness,
        &jwt::sign(&login_key, &claims).await.expect("sign"),
    )
    .await;
    assert_eq!(
        first.status, 200,
        "custom assertion accepted: {}",
        first.json
    );
    claims
        .accounts
        .insert("beta".to_owned(), "member".to_owned());
    let reply = sign_in_with(
        &harness,
        &jwt::sign(&login_key, &claims).await.expect("sign"),
    )
    .await;
    assert_eq!(
        reply.status, 401,
        "another assertion with a used jti: {}",
        reply.json
    );
}

#[tokio::test]
async fn assertion_expiry_and_age_checked() {
    let harness = Harness::new();
    let on_time = harness.assertion(ANA, "email", ACME).await;
    let late = harness.assertion(ANA, "email", ACME).await;

    harness.clock.advance(299);
    let reply = sign_in_with(&harness, &on_time).await;
    assert_eq!(
        reply.status, 200,
        "an assertion works for 299 seconds: {}",
        reply.json
    );
    harness.clock.advance(1);
    let reply = sign_in_with(&harness, &late).await;
    assert_eq!(
        reply.status, 401,
        "an assertion is expired at 300 seconds: {}",
        reply.json
    );

    let login_key = LocalSigner::generate(&OsRandom);
    let harness = harness_trusting(&login_key);
    let now = harness.clock.now();
    let cases: [(&str, u64, u64); 3] = [
        (
            "issued 301 seconds ago, not yet expired",
            now - 301,
            now + 60,
        ),
        ("issued 301 seconds ago and expired", now - 301, now - 1),
        ("issued in the future", now + 120, now + 300),
    ];
    for (case, iat, exp) in cases {
        let mut claims = valid_claims(now);
        claims.iat = iat;
        claims.exp = exp;
        let assertion = jwt::sign(&login_key, &claims).await.expect("sign");
        let reply = sign_in_with(&harness, &assertion).await;
        assert_eq!(reply.status, 401, "{case}: {}", reply.json);
        assert_eq!(reply.error_code(), "unauthenticated", "{case}: error code");
    }
}

#[tokio::test]
async fn assertion_issuer_audience_signature_checked() {
    let login_key = LocalSigner::generate(&OsRandom);
    let harness = harness_trusting(&login_key);
    let now = harness.clock.now();

    let valid = jwt::sign(&login_key, &valid_claims(now))
        .await
        .expect("sign");
    let reply = sign_in_with(&harness, &valid).await;
    assert_eq!(
        reply.status, 200,
        "a correct assertion is accepted: {}",
        reply.json
    );
    let hand_made = sign_as(&login_key, login_key.key_id(), &valid_claims(now)).await;
    let reply = sign_in_with(&harness, &hand_made).await;
    assert_eq!(
        reply.status, 200,
        "a hand-made token with the trusted key is accepted: {}",
        reply.json
    );

    let mut wrong_issuer = valid_claims(now);
    wrong_issuer.iss = "https://login.evil.test".to_owned();
    let mut wrong_audience = valid_claims(now);
    wrong_audience.aud = Audience::One("another-service".to_owned());
    let other_key = LocalSigner::generate(&OsRandom);
    let tampered = {
        let token = jwt::sign(&login_key, &valid_claims(now))
            .await
            .expect("sign");
        let forged = jwt::sign(&other_key, &valid_claims(now))
            .await
            .expect("sign");
        let parts: Vec<&str> = token.split('.').collect();
        let forged_payload = forged.split('.').nth(1).expect("payload");
        format!("{}.{}.{}", parts[0], forged_payload, parts[2])
    };
    let cases = [
        (
            "wrong issuer",
            jwt::sign(&login_key, &wrong_issuer).await.expect("sign"),
        ),
        (
            "wrong audience",
            jwt::sign(&login_key, &wrong_audience).await.expect("sign"),
        ),
        (
            "untrusted key",
            jwt::sign(&other_key, &valid_claims(now))
                .await
                .expect("sign"),
        ),
        (
            "trusted key id, other key",
            sign_as(&other_key, login_key.key_id(), &valid_claims(now)).await,
        ),
        ("payload swapped under a valid signature", tampered),
    ];
    for (case, assertion) in cases {
        let reply = sign_in_with(&harness, &assertion).await;
        assert_eq!(reply.status, 401, "{case}: {}", reply.json);
        assert_eq!(reply.error_code(), "unauthenticated", "{case}: error code");
    }
}
