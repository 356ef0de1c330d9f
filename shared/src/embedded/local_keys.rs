//! The local key provider: AES-256-GCM for TOTP secrets and a P-256 key for access tokens,
//! both generated at start-up and kept in memory. The AWS adapters use KMS instead.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::ports::{EncryptionContext, KeyError, SecretCipher, TokenSigner};
use crate::random::Random;

const NONCE_BYTES: usize = 12;

/// AES-256-GCM with the encryption context as associated data, so a ciphertext only
/// decrypts under the context it was made with. Output: 12-byte nonce, then ciphertext
/// and tag.
pub struct LocalCipher {
    cipher: Aes256Gcm,
    random: Box<dyn Random>,
}

impl LocalCipher {
    /// Creates a cipher with a fresh 256-bit key drawn from `random`.
    pub fn generate(random: Box<dyn Random>) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        random.fill(&mut key[..]);
        Self {
            cipher: Aes256Gcm::new_from_slice(&key[..])
                .expect("a 32-byte key is valid for AES-256"),
            random,
        }
    }
}

impl fmt::Debug for LocalCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalCipher(<key redacted>)")
    }
}

#[async_trait]
impl SecretCipher for LocalCipher {
    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_BYTES];
        self.random.fill(&mut nonce);
        let aad = context.canonical_bytes();
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Unavailable {
                operation: "local encrypt",
                source: "AES-GCM encryption failed".into(),
            })?;
        let mut output = nonce.to_vec();
        output.extend_from_slice(&sealed);
        Ok(output)
    }

    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if ciphertext.len() <= NONCE_BYTES {
            return Err(KeyError::Rejected);
        }
        let (nonce, sealed) = ciphertext.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| KeyError::Rejected)?;
        let aad = context.canonical_bytes();
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Rejected)
    }
}

/// A P-256 signing key held in memory.
pub struct LocalSigner {
    key: SigningKey,
    verifying_key: VerifyingKey,
    key_id: String,
}

impl LocalSigner {
    /// Creates a signer with a fresh key drawn from `random`.
    pub fn generate(random: &dyn Random) -> Self {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            random.fill(&mut bytes[..]);
            if let Ok(key) = SigningKey::from_slice(&bytes[..]) {
                return Self::from_key(key);
            }
        }
    }

    /// Wraps an existing key. The key id is derived from the public key.
    pub fn from_key(key: SigningKey) -> Self {
        let verifying_key = *key.verifying_key();
        let digest = Sha256::digest(verifying_key.to_encoded_point(false).as_bytes());
        let key_id = format!("local-{}", hex_prefix(&digest, 8));
        Self {
            key,
            verifying_key,
            key_id,
        }
    }
}

fn hex_prefix(bytes: &[u8], count: usize) -> String {
    bytes
        .iter()
        .take(count)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalSigner({}, <private key redacted>)", self.key_id)
    }
}

#[async_trait]
impl TokenSigner for LocalSigner {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying_key
    }

    async fn sign(&self, message: &[u8]) -> Result<[u8; 64], KeyError> {
        let signature: Signature = self.key.sign(message);
        Ok(signature.to_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::UserId;
    use crate::random::OsRandom;

    fn user(id: &str) -> UserId {
        UserId::parse(id).expect("valid user id")
    }

    #[tokio::test]
    async fn ciphertext_bound_to_context() {
        let cipher = LocalCipher::generate(Box::new(OsRandom));
        let context = EncryptionContext::totp(&user("ana"), "f1");
        let sealed = cipher
            .encrypt(b"secret bytes", &context)
            .await
            .expect("encrypt");
        let opened = cipher.decrypt(&sealed, &context).await.expect("decrypt");
        assert_eq!(opened.as_slice(), b"secret bytes");

        let other_user = EncryptionContext::totp(&user("bob"), "f1");
        assert!(matches!(
            cipher.decrypt(&sealed, &other_user).await,
            Err(KeyError::Rejected)
        ));
        let other_factor = EncryptionContext::totp(&user("ana"), "f2");
        assert!(matches!(
            cipher.decrypt(&sealed, &other_factor).await,
            Err(KeyError::Rejected)
        ));
        assert!(matches!(
            cipher.decrypt(&sealed[..5], &context).await,
            Err(KeyError::Rejected)
        ));
    }

    #[tokio::test]
    async fn signature_verifies() {
        use p256::ecdsa::signature::Verifier as _;
        let signer = LocalSigner::generate(&OsRandom);
        let raw = signer.sign(b"header.payload").await.expect("sign");
        let signature = Signature::from_slice(&raw).expect("64-byte signature");
        assert!(signer
            .verifying_key()
            .verify(b"header.payload", &signature)
            .is_ok());
        assert!(signer.key_id().starts_with("local-"));
        assert!(!format!("{signer:?}").contains("SigningKey"));
    }
}
