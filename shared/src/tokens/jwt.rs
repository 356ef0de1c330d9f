//! Compact JWS with ES256 (RFC 7515, RFC 7518 §3.4) and P-256 JWK sets (RFC 7517).
//!
//! Only ES256 is accepted: the header's `alg` is checked before any key is chosen, so
//! `none` and HMAC-confusion tokens fail.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::{EncodedPoint, FieldBytes};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ports::{KeyError, TokenSigner};

/// Maximum token length accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The reason a JWT was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("token is not a compact JWS")]
    Malformed,
    #[error("token algorithm is not ES256")]
    UnsupportedAlgorithm,
    #[error("token key id matches no known key")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token claims are malformed")]
    MalformedClaims,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

/// One public key of a JWK set, as RFC 7517 and RFC 7518 §6.2 write it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EcJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

impl EcJwk {
    /// Describes `key` as a P-256 signing JWK with id `kid`.
    pub fn from_key(key: &VerifyingKey, kid: &str) -> Self {
        let point = key.to_encoded_point(false);
        Self {
            kty: "EC".to_owned(),
            crv: "P-256".to_owned(),
            x: URL_SAFE_NO_PAD.encode(point.x().expect("an uncompressed point has x")),
            y: URL_SAFE_NO_PAD.encode(point.y().expect("an uncompressed point has y")),
            kid: Some(kid.to_owned()),
            alg: Some("ES256".to_owned()),
            key_use: Some("sig".to_owned()),
        }
    }

    /// Returns the public key.
    ///
    /// # Errors
    /// Returns a message when the JWK is not a valid P-256 public key.
    pub fn to_key(&self) -> Result<VerifyingKey, String> {
        if self.kty != "EC" || self.crv != "P-256" {
            return Err("only EC keys on P-256 are supported".to_owned());
        }
        let coordinate = |value: &str| -> Result<FieldBytes, String> {
            let bytes = URL_SAFE_NO_PAD
                .decode(value)
                .map_err(|_| "x and y must be unpadded Base64url".to_owned())?;
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| "x and y must be 32 bytes".to_owned())?;
            Ok(FieldBytes::from(bytes))
        };
        let point = EncodedPoint::from_affine_coordinates(
            &coordinate(&self.x)?,
            &coordinate(&self.y)?,
            false,
        );
        VerifyingKey::from_encoded_point(&point).map_err(|_| "the point is not on P-256".to_owned())
    }
}

/// A JWK set (`{"keys": [...]}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<EcJwk>,
}

/// Public keys that verify tokens, by key id.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<(Option<String>, VerifyingKey)>,
}

impl KeySet {
    /// Builds a key set from one key.
    pub fn single(kid: &str, key: VerifyingKey) -> Self {
        Self {
            keys: vec![(Some(kid.to_owned()), key)],
        }
    }

    /// Parses a JWKS document. Keys whose `use` is not `sig`, or whose `alg` is set to
    /// something other than ES256, are skipped.
    ///
    /// # Errors
    /// Returns a message when the document is not a JWKS or contains no usable P-256 key.
    pub fn from_jwks(json: &str) -> Result<Self, String> {
        let set: JwkSet =
            serde_json::from_str(json).map_err(|error| format!("not a JWK set: {error}"))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let usable = jwk
                .key_use
                .as_deref()
                .is_none_or(|key_use| key_use == "sig")
                && jwk.alg.as_deref().is_none_or(|alg| alg == "ES256");
            if usable {
                keys.push((jwk.kid.clone(), jwk.to_key()?));
            }
        }
        if keys.is_empty() {
            return Err("the JWK set holds no ES256 signing key".to_owned());
        }
        Ok(Self { keys })
    }

    fn find(&self, kid: Option<&str>) -> Option<&VerifyingKey> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(id, _)| id.as_deref() == Some(kid))
                .map(|(_, key)| key),
            None if self.keys.len() == 1 => Some(&self.keys[0].1),
            None => None,
        }
    }
}

/// Signs `claims` as an ES256 JWT with `signer`'s key.
///
/// # Errors
/// Returns [`KeyError`] when the signer fails.
pub async fn sign(signer: &dyn TokenSigner, claims: &impl Serialize) -> Result<String, KeyError> {
    let header = Header {
        alg: "ES256".to_owned(),
        kid: Some(signer.key_id().to_owned()),
        typ: Some("JWT".to_owned()),
    };
    let header = serde_json::to_vec(&header).expect("the header always serialises");
    let claims = serde_json::to_vec(claims).expect("claims always serialise");
    let mut token = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = signer.sign(token.as_bytes()).await?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(token)
}

/// Verifies an ES256 JWT against `keys` and returns its claims. Checks only the signature:
/// callers check the claims.
///
/// # Errors
/// Returns [`JwtError`] for a malformed token, another algorithm, an unknown key, a bad
/// signature or claims that do not decode as `T`.
pub fn verify<T: DeserializeOwned>(token: &str, keys: &KeySet) -> Result<T, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::Malformed)
    };

    let header: Header =
        serde_json::from_slice(&decode(header)?).map_err(|_| JwtError::Malformed)?;
    if header.alg != "ES256" {
        return Err(JwtError::UnsupportedAlgorithm);
    }
    let key = keys
        .find(header.kid.as_deref())
        .ok_or(JwtError::UnknownKey)?;
    let signature =
        Signature::from_slice(&decode(signature)?).map_err(|_| JwtError::BadSignature)?;
    let signed_len = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
    key.verify(&token.as_bytes()[..signed_len], &signature)
        .map_err(|_| JwtError::BadSignature)?;

    serde_json::from_slice(&decode(payload)?).map_err(|_| JwtError::MalformedClaims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::LocalSigner;
    use crate::random::OsRandom;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Claims {
        sub: String,
    }

    fn claims() -> Claims {
        Claims {
            sub: "ana".to_owned(),
        }
    }

    #[tokio::test]
    async fn round_trip_and_tamper() {
        let signer = LocalSigner::generate(&OsRandom);
        let keys = KeySet::single(signer.key_id(), *signer.verifying_key());
        let token = sign(&signer, &claims()).await.expect("sign");
        assert_eq!(verify::<Claims>(&token, &keys), Ok(claims()));

        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"eve"}"#);
        parts[1] = &forged;
        assert_eq!(
            verify::<Claims>(&parts.join("."), &keys),
            Err(JwtError::BadSignature)
        );
    }

    #[tokio::test]
    async fn other_key_rejected() {
        let signer = LocalSigner::generate(&OsRandom);
        let other = LocalSigner::generate(&OsRandom);
        let token = sign(&signer, &claims()).await.expect("sign");
        let wrong_kid = KeySet::single(other.key_id(), *other.verifying_key());
        assert_eq!(
            verify::<Claims>(&token, &wrong_kid),
            Err(JwtError::UnknownKey)
        );
        let same_kid = KeySet::single(signer.key_id(), *other.verifying_key());
        assert_eq!(
            verify::<Claims>(&token, &same_kid),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn none_and_hmac_rejected() {
        let keys = KeySet::single("k", *LocalSigner::generate(&OsRandom).verifying_key());
        for alg in ["none", "HS256", "RS256", "ES384"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","kid":"k"}}"#));
            let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"eve"}"#);
            let token = format!("{header}.{payload}.");
            assert_eq!(
                verify::<Claims>(&token, &keys),
                Err(JwtError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
        for token in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(
                verify::<Claims>(token, &keys),
                Err(JwtError::Malformed),
                "{token:?}"
            );
        }
    }

    #[test]
    fn jwks_round_trip() {
        let signer = LocalSigner::generate(&OsRandom);
        let set = JwkSet {
            keys: vec![EcJwk::from_key(signer.verifying_key(), "k1")],
        };
        let json = serde_json::to_string(&set).expect("serialise");
        let keys = KeySet::from_jwks(&json).expect("parse");
        assert_eq!(keys.find(Some("k1")), Some(signer.verifying_key()));
        assert_eq!(keys.find(None), Some(signer.verifying_key()));
        assert!(KeySet::from_jwks(r#"{"keys":[]}"#).is_err());
        assert!(
            KeySet::from_jwks(r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}"#)
                .is_err()
        );
    }
}
