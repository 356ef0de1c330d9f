//! Access tokens: ES256 JWTs signed by this service, valid for 15 minutes, verifiable by
//! anyone with the keys at `/.well-known/jwks.json`.

use serde::{Deserialize, Serialize};

use super::jwt::{self, JwtError, KeySet};
use crate::domain::policy::Aal;
use crate::ports::{KeyError, SessionRecord, TokenSigner};

/// Lifetime of an access token in seconds.
pub const ACCESS_TOKEN_SECONDS: u64 = 15 * 60;
/// Clock skew tolerated on `iat`, in seconds.
const CLOCK_SKEW_SECONDS: u64 = 30;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub email: String,
    pub account: String,
    pub role: String,
    pub login_method: String,
    pub amr: Vec<String>,
    pub aal: Aal,
    pub sid: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

/// The reason an access token was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("access token is invalid: {0}")]
    Token(#[from] JwtError),
    #[error("access token is invalid: claim `{0}` is wrong")]
    Claim(&'static str),
    #[error("access token has expired")]
    Expired,
}

/// Issues and verifies this service's access tokens.
#[derive(Debug, Clone)]
pub struct AccessTokens {
    pub issuer: String,
    pub audience: String,
    pub keys: KeySet,
}

impl AccessTokens {
    /// Signs an access token for `session` at `now`, with token id `jti`.
    ///
    /// # Errors
    /// Returns [`KeyError`] when signing fails.
    pub async fn issue(
        &self,
        signer: &dyn TokenSigner,
        session: &SessionRecord,
        now: u64,
        jti: String,
    ) -> Result<String, KeyError> {
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: session.user_id.as_str().to_owned(),
            email: session.email.clone(),
            account: session.account.as_str().to_owned(),
            role: session.role.as_str().to_owned(),
            login_method: session.login_method.as_str().to_owned(),
            amr: session.amr.clone(),
            aal: session.aal,
            sid: session.session_id.clone(),
            iat: now,
            exp: now + ACCESS_TOKEN_SECONDS,
            jti,
        };
        jwt::sign(signer, &claims).await
    }

    /// Verifies an access token at `now`.
    ///
    /// # Errors
    /// Returns [`AccessError`] for a bad signature, another issuer or audience, or expiry.
    pub fn verify(&self, token: &str, now: u64) -> Result<AccessClaims, AccessError> {
        let claims: AccessClaims = jwt::verify(token, &self.keys)?;
        if claims.iss != self.issuer {
            return Err(AccessError::Claim("iss"));
        }
        if claims.aud != self.audience {
            return Err(AccessError::Claim("aud"));
        }
        if claims.iat > now + CLOCK_SKEW_SECONDS {
            return Err(AccessError::Claim("iat"));
        }
        if claims.exp <= now {
            return Err(AccessError::Expired);
        }
        Ok(claims)
    }
}
