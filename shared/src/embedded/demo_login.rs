//! A stand-in for the dashboard's login service, for `mfa-local` and tests: it signs login
//! assertions with its own P-256 key, which the embedded app trusts. No Lambda function
//! contains it.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{LocalCipher, LocalSigner, MemoryStore};
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::model::{check_email, AccountSlug, LoginMethod, Role, UserId};
use crate::ports::{KeyError, TokenSigner};
use crate::random::{random_id, OsRandom, Random};
use crate::service::{App, Parts};
use crate::tokens::assertion::{AssertionClaims, Audience};
use crate::tokens::jwt::{self, EcJwk, JwkSet, KeySet};

/// Issuer of demo login assertions.
pub const DEMO_LOGIN_ISSUER: &str = "https://login.dashboard.local";
/// Audience of demo login assertions.
pub const DEMO_LOGIN_AUDIENCE: &str = "dashboard-mfa";

/// The identity a demo sign-in asserts.
#[derive(Debug, Clone)]
pub struct DemoIdentity {
    pub email: String,
    pub login_method: LoginMethod,
    pub accounts: BTreeMap<AccountSlug, Role>,
    pub user_id: Option<UserId>,
}

/// The demo login service: a signing key and the assertions it makes.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    signer: Arc<LocalSigner>,
}

impl DemoLogin {
    /// Creates a demo login service with a fresh key.
    pub fn generate(random: &dyn Random) -> Self {
        Self {
            signer: Arc::new(LocalSigner::generate(random)),
        }
    }

    /// Creates a demo login service that signs with the P-256 key of a PKCS#8 PEM
    /// document, so that separate processes can share one key.
    ///
    /// # Errors
    /// Returns the decoding error when the document is not a P-256 key in PKCS#8 PEM.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, p256::pkcs8::Error> {
        Ok(Self {
            signer: Arc::new(LocalSigner::from_pkcs8_pem(pem)?),
        })
    }

    /// Encodes the signing key as a PKCS#8 PEM document, which [`Self::from_pkcs8_pem`]
    /// reads.
    ///
    /// # Errors
    /// Returns the encoding error, which is not expected for a valid P-256 key.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, p256::pkcs8::Error> {
        self.signer.to_pkcs8_pem()
    }

    /// Returns the JWKS the MFA service trusts for these assertions.
    pub fn key_set(&self) -> KeySet {
        KeySet::single(self.signer.key_id(), *self.signer.verifying_key())
    }

    /// Returns the JWKS document, as `MFA_LOGIN_JWKS` would hold it.
    pub fn jwks_json(&self) -> String {
        let set = JwkSet {
            keys: vec![EcJwk::from_key(
                self.signer.verifying_key(),
                self.signer.key_id(),
            )],
        };
        serde_json::to_string(&set).expect("a JWK set always serialises")
    }

    /// Returns the user id derived from an email: `u-` and 16 hex digits of its SHA-256.
    pub fn user_id_for(email: &str) -> UserId {
        let digest = Sha256::digest(email.to_ascii_lowercase().as_bytes());
        let hex: String = digest
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        UserId::parse(&format!("u-{hex}")).expect("a derived id is always valid")
    }

    /// Signs a login assertion for `identity`, issued at `now` and valid for 5 minutes.
    ///
    /// # Errors
    /// Returns a message for an invalid email, or [`KeyError`] text if signing fails.
    pub async fn assertion(
        &self,
        identity: &DemoIdentity,
        now: u64,
        random: &dyn Random,
    ) -> Result<String, String> {
        check_email(&identity.email).map_err(|error| format!("field `email` {error}"))?;
        let user_id = identity
            .user_id
            .clone()
            .unwrap_or_else(|| Self::user_id_for(&identity.email));
        let claims = AssertionClaims {
            iss: DEMO_LOGIN_ISSUER.to_owned(),
            aud: Audience::One(DEMO_LOGIN_AUDIENCE.to_owned()),
            sub: user_id.to_string(),
            email: identity.email.clone(),
            login_method: identity.login_method.as_str().to_owned(),
            accounts: identity
                .accounts
                .iter()
                .map(|(slug, role)| (slug.to_string(), role.as_str().to_owned()))
                .collect(),
            iat: now,
            exp: now + 300,
            jti: random_id(random),
        };
        jwt::sign(self.signer.as_ref(), &claims)
            .await
            .map_err(|error: KeyError| error.to_string())
    }

    /// Returns the configuration of an MFA service that trusts this login service.
    pub fn config(&self) -> Config {
        Config {
            token_issuer: "https://mfa.dashboard.local".to_owned(),
            token_audience: "dashboard".to_owned(),
            totp_issuer: "Dashboard".to_owned(),
            login_issuer: DEMO_LOGIN_ISSUER.to_owned(),
            login_audience: DEMO_LOGIN_AUDIENCE.to_owned(),
            login_keys: self.key_set(),
        }
    }
}

/// Builds the embedded application: in-memory store, local keys, the given clock, and a
/// demo login service it trusts.
pub fn embedded_app(clock: Arc<dyn Clock>) -> (App, DemoLogin) {
    let random: Arc<dyn Random> = Arc::new(OsRandom);
    let login = DemoLogin::generate(random.as_ref());
    let signer: Arc<dyn TokenSigner> = Arc::new(LocalSigner::generate(random.as_ref()));
    let parts = Parts {
        store: Arc::new(MemoryStore::new()),
        cipher: Arc::new(LocalCipher::generate(Box::new(OsRandom))),
        signer,
        clock,
        random,
    };
    let app = App::new(parts, &login.config());
    (app, login)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::assertion::AssertionVerifier;

    /// 2026-01-01T09:00:00Z.
    const NOW: u64 = 1_767_258_000;

    #[tokio::test]
    async fn key_read_from_pem_signs_for_same_jwks() {
        let original = DemoLogin::generate(&OsRandom);
        let pem = original.to_pkcs8_pem().expect("encode");
        let copy = DemoLogin::from_pkcs8_pem(&pem).expect("decode");
        assert_eq!(copy.jwks_json(), original.jwks_json());

        let identity = DemoIdentity {
            email: "ana@example.com".to_owned(),
            login_method: LoginMethod::Email,
            accounts: BTreeMap::from([(
                AccountSlug::parse("acme").expect("valid slug"),
                Role::Member,
            )]),
            user_id: None,
        };
        let assertion = copy
            .assertion(&identity, NOW, &OsRandom)
            .await
            .expect("sign");
        let verifier = AssertionVerifier {
            keys: original.key_set(),
            issuer: DEMO_LOGIN_ISSUER.to_owned(),
            audience: DEMO_LOGIN_AUDIENCE.to_owned(),
        };
        let verified = verifier
            .verify(&assertion, NOW)
            .expect("assertion verifies");
        assert_eq!(verified.email, "ana@example.com");
        assert_eq!(verified.user_id, DemoLogin::user_id_for("ana@example.com"));
    }
}
