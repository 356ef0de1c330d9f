//! The local key provider: AES-256-GCM for TOTP secrets and a P-256 key for access tokens,
//! both generated at start-up and kept in memory. The AWS adapters use KMS instead.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
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

    /// Reads a P-256 private key from a PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`),
    /// as `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` writes it.
    ///
    /// # Errors
    /// Returns the decoding error when the document is not PKCS#8 PEM or contains another
    /// kind of key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, p256::pkcs8::Error> {
        SigningKey::from_pkcs8_pem(pem).map(Self::from_key)
    }

    /// Encodes the private key as a PKCS#8 PEM document with LF line endings.
    ///
    /// # Errors
    /// Returns the encoding error, which is not expected for a valid P-256 key.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, p256::pkcs8::Error> {
        self.key.to_pkcs8_pem(LineEnding::LF)
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

    /// A P-256 key written by `openssl genpkey -algorithm EC -pkeyopt
    /// ec_paramgen_curve:P-256` (OpenSSL 3.0.19), for tests only.
    const OPENSSL_P256_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgvR690dL8xXGcbLjy
dLx5B9MQti8irGmI1JvW77D+FRKhRANCAAReZGVaDqdqq2qCx4MUX4u4SFJOx9ss
4ZVnOkeErh5c2gPpqvFTqnbdbixYZzcG5b6nqvqOJtbnbCmJn+jWuRUO
-----END PRIVATE KEY-----
";

    /// An Ed25519 key written by `openssl genpkey -algorithm ed25519`, for tests only.
    const OPENSSL_ED25519_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEILX8eEZoce5zqLeDZ7mjbLapDJQA9VWUwNM2fs3MEPME
-----END PRIVATE KEY-----
";

    #[test]
    fn pkcs8_pem_round_trip_keeps_key() {
        let signer = LocalSigner::generate(&OsRandom);
        let pem = signer.to_pkcs8_pem().expect("encode");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));

        let read = LocalSigner::from_pkcs8_pem(&pem).expect("decode");
        assert_eq!(read.verifying_key(), signer.verifying_key());
        assert_eq!(read.key_id(), signer.key_id());
    }

    #[test]
    fn pkcs8_pem_reads_openssl_key() {
        let signer = LocalSigner::from_pkcs8_pem(OPENSSL_P256_KEY).expect("decode");
        let pem = signer.to_pkcs8_pem().expect("encode");
        assert_eq!(pem.as_str(), OPENSSL_P256_KEY);
    }

    #[test]
    fn pkcs8_pem_rejects_other_documents() {
        let cases = [
            ("empty document", ""),
            ("text that is not PEM", "not a key"),
            ("Ed25519 key", OPENSSL_ED25519_KEY),
        ];
        for (description, pem) in cases {
            assert!(
                LocalSigner::from_pkcs8_pem(pem).is_err(),
                "{description} was accepted"
            );
        }
    }
}
