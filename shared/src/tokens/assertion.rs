//! Login assertions: short-lived ES256 JWTs that the dashboard's login service signs after
//! the first sign-in step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::jwt::{self, JwtError, KeySet};
use crate::domain::model::{check_email, AccountSlug, LoginMethod, Role, UserId};

/// Maximum lifetime (`exp - iat`) and maximum age (`now - iat`) accepted, in seconds.
pub const MAX_AGE_SECONDS: u64 = 5 * 60;
/// Clock skew tolerated on `iat` and `exp`, in seconds.
pub const CLOCK_SKEW_SECONDS: u64 = 30;

/// `aud` may be one string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, expected: &str) -> bool {
        match self {
            Self::One(audience) => audience == expected,
            Self::Many(audiences) => audiences.iter().any(|audience| audience == expected),
        }
    }
}

/// The claims of a login assertion as signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub aud: Audience,
    pub sub: String,
    pub email: String,
    pub login_method: String,
    pub accounts: BTreeMap<String, String>,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

/// A verified login assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAssertion {
    pub user_id: UserId,
    pub email: String,
    pub login_method: LoginMethod,
    pub accounts: BTreeMap<AccountSlug, Role>,
    pub expires_at: u64,
    pub jti: String,
}

/// The reason an assertion was rejected. Messages name the claim, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("login assertion is invalid: {0}")]
    Token(#[from] JwtError),
    #[error("login assertion is invalid: claim `{0}` is wrong")]
    Claim(&'static str),
    #[error("login assertion has expired")]
    Expired,
}

/// Verifies login assertions with the login service's keys.
#[derive(Debug, Clone)]
pub struct AssertionVerifier {
    pub keys: KeySet,
    pub issuer: String,
    pub audience: String,
}

impl AssertionVerifier {
    /// Verifies signature and claims at time `now`. The `jti` is returned for the caller
    /// to record: accepting it once is a storage concern.
    ///
    /// # Errors
    /// Returns [`AssertionError`] for a bad token, a wrong claim, or an assertion that has
    /// expired, lives longer than 5 minutes or was issued more than 5 minutes ago.
    pub fn verify(&self, token: &str, now: u64) -> Result<LoginAssertion, AssertionError> {
        let claims: AssertionClaims = jwt::verify(token, &self.keys)?;

        if claims.iss != self.issuer {
            return Err(AssertionError::Claim("iss"));
        }
        if !claims.aud.contains(&self.audience) {
            return Err(AssertionError::Claim("aud"));
        }
        if claims.iat > now + CLOCK_SKEW_SECONDS || claims.exp <= claims.iat {
            return Err(AssertionError::Claim("iat"));
        }
        if claims.exp - claims.iat > MAX_AGE_SECONDS {
            return Err(AssertionError::Claim("exp"));
        }
        if claims.exp <= now || now.saturating_sub(claims.iat) > MAX_AGE_SECONDS {
            return Err(AssertionError::Expired);
        }
        if claims.jti.is_empty() || claims.jti.len() > 128 {
            return Err(AssertionError::Claim("jti"));
        }
        let user_id = UserId::parse(&claims.sub).map_err(|_| AssertionError::Claim("sub"))?;
        check_email(&claims.email).map_err(|_| AssertionError::Claim("email"))?;
        let login_method = LoginMethod::parse(&claims.login_method)
            .map_err(|_| AssertionError::Claim("login_method"))?;
        let mut accounts = BTreeMap::new();
        for (slug, role) in &claims.accounts {
            let slug = AccountSlug::parse(slug).map_err(|_| AssertionError::Claim("accounts"))?;
            let role = Role::parse(role).map_err(|_| AssertionError::Claim("accounts"))?;
            accounts.insert(slug, role);
        }

        Ok(LoginAssertion {
            user_id,
            email: claims.email,
            login_method,
            accounts,
            expires_at: claims.exp,
            jti: claims.jti,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::LocalSigner;
    use crate::ports::TokenSigner;
    use crate::random::OsRandom;

    const NOW: u64 = 1_800_000_000;

    fn claims() -> AssertionClaims {
        AssertionClaims {
            iss: "https://login.test".to_owned(),
            aud: Audience::One("dashboard-mfa".to_owned()),
            sub: "u-1".to_owned(),
            email: "ana@acme.test".to_owned(),
            login_method: "email".to_owned(),
            accounts: BTreeMap::from([("acme".to_owned(), "owner".to_owned())]),
            iat: NOW - 10,
            exp: NOW + 290,
            jti: "j-1".to_owned(),
        }
    }

    async fn check(claims: &AssertionClaims) -> Result<LoginAssertion, AssertionError> {
        let signer = LocalSigner::generate(&OsRandom);
        let verifier = AssertionVerifier {
            keys: KeySet::single(signer.key_id(), *signer.verifying_key()),
            issuer: "https://login.test".to_owned(),
            audience: "dashboard-mfa".to_owned(),
        };
        let token = jwt::sign(&signer, claims).await.expect("sign");
        verifier.verify(&token, NOW)
    }

    #[tokio::test]
    async fn valid_assertion_accepted() {
        let assertion = check(&claims()).await.expect("valid");
        assert_eq!(assertion.user_id.as_str(), "u-1");
        assert_eq!(assertion.login_method, LoginMethod::Email);
        assert_eq!(assertion.accounts.len(), 1);
    }

    #[tokio::test]
    async fn audience_array_accepted() {
        let mut claims = claims();
        claims.aud = Audience::Many(vec!["other".to_owned(), "dashboard-mfa".to_owned()]);
        assert!(check(&claims).await.is_ok());
    }

    #[tokio::test]
    async fn wrong_claims_rejected() {
        type Edit = fn(&mut AssertionClaims);
        let cases: [(&str, Edit, AssertionError); 10] = [
            (
                "issuer",
                |c| c.iss = "https://evil.test".into(),
                AssertionError::Claim("iss"),
            ),
            (
                "audience",
                |c| c.aud = Audience::One("other".into()),
                AssertionError::Claim("aud"),
            ),
            (
                "expired",
                |c| {
                    c.iat = NOW - 200;
                    c.exp = NOW
                },
                AssertionError::Expired,
            ),
            (
                "too old",
                |c| {
                    c.iat = NOW - 301;
                    c.exp = NOW + 1
                },
                AssertionError::Claim("exp"),
            ),
            (
                "lives too long",
                |c| c.exp = c.iat + 301,
                AssertionError::Claim("exp"),
            ),
            (
                "issued in future",
                |c| {
                    c.iat = NOW + 31;
                    c.exp = NOW + 100
                },
                AssertionError::Claim("iat"),
            ),
            (
                "empty jti",
                |c| c.jti = String::new(),
                AssertionError::Claim("jti"),
            ),
            (
                "bad sub",
                |c| c.sub = "a b".into(),
                AssertionError::Claim("sub"),
            ),
            (
                "bad method",
                |c| c.login_method = "password".into(),
                AssertionError::Claim("login_method"),
            ),
            (
                "bad role",
                |c| {
                    c.accounts.insert("acme".into(), "root".into());
                },
                AssertionError::Claim("accounts"),
            ),
        ];
        for (name, edit, expected) in cases {
            let mut claims = claims();
            edit(&mut claims);
            assert_eq!(check(&claims).await.map(|_| ()), Err(expected), "{name}");
        }
    }
}
