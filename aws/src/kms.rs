//! KMS adapters. [`KmsCipher`] encrypts TOTP secrets with a symmetric key under an
//! encryption context. [`KmsSigner`] signs access tokens with an asymmetric P-256 key whose
//! private key never leaves KMS.

use std::fmt;

use async_trait::async_trait;
use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use mfa_shared::ports::{EncryptionContext, KeyError, SecretCipher, TokenSigner};
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;
use zeroize::Zeroizing;

use crate::init::InitError;
use crate::sdk_error::SdkFailure;

/// The largest message KMS signs with `MessageType` `RAW`, in bytes.
const MAX_RAW_MESSAGE: usize = 4096;

fn unavailable<E, R>(
    operation: &'static str,
    call: &'static str,
    error: &SdkError<E, R>,
) -> KeyError
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    KeyError::Unavailable {
        operation,
        source: Box::new(SdkFailure::new(call, error)),
    }
}

fn key_error(key_id: &str, problem: impl Into<String>) -> InitError {
    InitError::Key {
        key_id: key_id.to_owned(),
        source: problem.into().into(),
    }
}

fn key_call_failed<E, R>(key_id: &str, call: &'static str, error: &SdkError<E, R>) -> InitError
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    InitError::Key {
        key_id: key_id.to_owned(),
        source: Box::new(SdkFailure::new(call, error)),
    }
}

/// Encrypts TOTP secrets with a symmetric KMS key, binding the [`EncryptionContext`], so
/// a ciphertext copied to another user's or factor's item fails to decrypt.
#[derive(Clone)]
pub struct KmsCipher {
    client: Client,
    key_id: String,
}

impl fmt::Debug for KmsCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsCipher")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl KmsCipher {
    /// Creates a cipher that encrypts under `key_id` (key id, ARN or alias) without
    /// contacting KMS.
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }

    /// Creates a cipher after checking with `DescribeKey` that `key_id` is an enabled
    /// symmetric encryption key. This also opens the connection to KMS.
    ///
    /// # Errors
    /// [`InitError::Key`] when the key cannot be described or is of the wrong kind.
    pub async fn connect(client: Client, key_id: &str) -> Result<Self, InitError> {
        let output = client
            .describe_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|error| key_call_failed(key_id, "DescribeKey", &error))?;
        let metadata = output
            .key_metadata
            .ok_or_else(|| key_error(key_id, "DescribeKey returned no key metadata"))?;
        if metadata.key_usage != Some(KeyUsageType::EncryptDecrypt)
            || metadata.key_spec != Some(KeySpec::SymmetricDefault)
        {
            return Err(key_error(
                key_id,
                "is not a symmetric encryption key: create it with KeySpec SYMMETRIC_DEFAULT and KeyUsage ENCRYPT_DECRYPT",
            ));
        }
        if !metadata.enabled {
            return Err(key_error(key_id, "is disabled: enable it in KMS"));
        }
        Ok(Self::new(client, key_id))
    }

    /// Returns the key id, ARN or alias this cipher encrypts under.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

/// Converts the encryption context to the map that the SDK takes.
fn context_map(context: &EncryptionContext) -> std::collections::HashMap<String, String> {
    context
        .pairs()
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}

#[async_trait]
impl SecretCipher for KmsCipher {
    // NOTE: the SDK copies the plaintext into its request body, which this crate cannot
    // zeroize. Only the buffers that this crate owns are wiped.
    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, KeyError> {
        let output = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext))
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await
            .map_err(|error| unavailable("KMS encrypt", "Encrypt", &error))?;
        output
            .ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| KeyError::Unavailable {
                operation: "KMS encrypt",
                source: "Encrypt returned no ciphertext".into(),
            })
    }

    /// Decrypts without naming a key: a symmetric ciphertext names its own key, so old
    /// ciphertexts keep decrypting after the alias moves to a new key. Which keys the
    /// function may use is limited by its IAM policy.
    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        if ciphertext.is_empty() {
            return Err(KeyError::Rejected);
        }
        let result = self
            .client
            .decrypt()
            .ciphertext_blob(Blob::new(ciphertext))
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await;
        match result {
            Ok(output) => output
                .plaintext
                .map(|plaintext| Zeroizing::new(plaintext.into_inner()))
                .ok_or_else(|| KeyError::Unavailable {
                    operation: "KMS decrypt",
                    source: "Decrypt returned no plaintext".into(),
                }),
            Err(error) => match error.as_service_error() {
                Some(
                    DecryptError::InvalidCiphertextException(_)
                    | DecryptError::IncorrectKeyException(_),
                ) => Err(KeyError::Rejected),
                _ => Err(unavailable("KMS decrypt", "Decrypt", &error)),
            },
        }
    }
}

/// Signs access tokens with an asymmetric KMS key (`ECC_NIST_P256`, `SIGN_VERIFY`) using
/// `ECDSA_SHA_256`. The public key is read once, when the signer is built.
#[derive(Clone)]
pub struct KmsSigner {
    client: Client,
    /// The key's ARN as `GetPublicKey` resolved it. Signing uses it rather than an alias,
    /// so a moved alias cannot make signatures disagree with the public key read here.
    /// (Against moto's server this is the bare key id, which KMS accepts as well.)
    key_arn: String,
    /// The key id (the ARN's last part), published as the JWT `kid`.
    key_id: String,
    verifying_key: VerifyingKey,
}

impl fmt::Debug for KmsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsSigner")
            .field("key_arn", &self.key_arn)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl KmsSigner {
    /// Reads the public key of `key_id` (key id, ARN or alias) with `GetPublicKey` and
    /// checks that it is a P-256 signing key.
    ///
    /// # Errors
    /// [`InitError::Key`] when the key cannot be read or is of the wrong kind.
    pub async fn connect(client: Client, key_id: &str) -> Result<Self, InitError> {
        let output = client
            .get_public_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|error| key_call_failed(key_id, "GetPublicKey", &error))?;
        // KMS fills both `KeySpec` and its deprecated twin `CustomerMasterKeySpec`; moto's
        // server (5.2) fills only the deprecated one.
        #[allow(deprecated)]
        let is_p256 = output.key_spec == Some(KeySpec::EccNistP256)
            || output.customer_master_key_spec
                == Some(aws_sdk_kms::types::CustomerMasterKeySpec::EccNistP256);
        if !is_p256 || output.key_usage != Some(KeyUsageType::SignVerify) {
            return Err(key_error(
                key_id,
                "is not a P-256 signing key: create it with KeySpec ECC_NIST_P256 and KeyUsage SIGN_VERIFY",
            ));
        }
        let supports_es256 = output
            .signing_algorithms
            .as_deref()
            .unwrap_or_default()
            .contains(&SigningAlgorithmSpec::EcdsaSha256);
        if !supports_es256 {
            return Err(key_error(
                key_id,
                "does not offer the ECDSA_SHA_256 signing algorithm",
            ));
        }
        let public_key = output
            .public_key
            .ok_or_else(|| key_error(key_id, "GetPublicKey returned no public key"))?;
        let verifying_key =
            VerifyingKey::from_public_key_der(public_key.as_ref()).map_err(|error| {
                key_error(
                    key_id,
                    format!("the public key is not a P-256 SubjectPublicKeyInfo: {error}"),
                )
            })?;
        // KMS returns the key ARN here; moto's server returns the bare key id.
        let key_arn = output
            .key_id
            .ok_or_else(|| key_error(key_id, "GetPublicKey returned no key id"))?;
        Ok(Self::with_public_key(client, key_arn, verifying_key))
    }

    /// Creates a signer for the key `key_arn` whose public key is already known, without
    /// contacting KMS. The JWT `kid` is the key id at the end of the ARN.
    pub fn with_public_key(client: Client, key_arn: String, verifying_key: VerifyingKey) -> Self {
        let key_id = key_arn
            .rsplit_once(":key/")
            .map_or(key_arn.as_str(), |(_, id)| id)
            .to_owned();
        Self {
            client,
            key_arn,
            key_id,
            verifying_key,
        }
    }

    /// Returns the ARN (or, on moto's server, the id) of the key that signs.
    pub fn key_arn(&self) -> &str {
        &self.key_arn
    }
}

/// Converts a DER-encoded ECDSA signature, as KMS returns it, to the fixed 64-byte
/// `r || s` of JWS ES256 (RFC 7518 section 3.4), with `s` in the lower half of the curve
/// order so that each signature has one encoding.
fn der_to_fixed(der: &[u8]) -> Result<[u8; 64], KeyError> {
    let signature = Signature::from_der(der).map_err(|error| KeyError::Unavailable {
        operation: "KMS sign",
        source: format!("Sign returned a signature that is not DER ECDSA: {error}").into(),
    })?;
    let signature = signature.normalize_s().unwrap_or(signature);
    Ok(signature.to_bytes().into())
}

#[async_trait]
impl TokenSigner for KmsSigner {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying_key
    }

    // NOTE: KMS signs at most 4096 bytes as RAW; a longer message would need MessageType
    // DIGEST, which moto's server ignores, so it is rejected here. Access tokens are far
    // smaller.
    async fn sign(&self, message: &[u8]) -> Result<[u8; 64], KeyError> {
        if message.is_empty() || message.len() > MAX_RAW_MESSAGE {
            return Err(KeyError::Unavailable {
                operation: "KMS sign",
                source: format!(
                    "KMS signs messages of 1 to {MAX_RAW_MESSAGE} bytes, not {}",
                    message.len()
                )
                .into(),
            });
        }
        let output = self
            .client
            .sign()
            .key_id(&self.key_arn)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|error| unavailable("KMS sign", "Sign", &error))?;
        let der = output.signature.ok_or_else(|| KeyError::Unavailable {
            operation: "KMS sign",
            source: "Sign returned no signature".into(),
        })?;
        der_to_fixed(der.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::SigningKey;

    use super::*;

    fn signing_key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).expect("a valid scalar")
    }

    #[test]
    fn der_signature_becomes_fixed() {
        let key = signing_key();
        let signature: Signature = p256::ecdsa::signature::Signer::sign(&key, b"message");
        let fixed = der_to_fixed(signature.to_der().as_bytes()).expect("valid DER");
        let parsed = Signature::from_slice(&fixed).expect("64 bytes");
        assert!(key.verifying_key().verify(b"message", &parsed).is_ok());
    }

    #[test]
    fn high_s_is_normalized() {
        let key = signing_key();
        let signature: Signature = p256::ecdsa::signature::Signer::sign(&key, b"message");
        let (r, s) = signature.split_scalars();
        let high_s = -*s;
        let high = Signature::from_scalars(r.to_bytes(), high_s.to_bytes()).expect("valid scalars");
        assert!(
            high.normalize_s().is_some(),
            "the negated s should be in the upper half"
        );

        let fixed = der_to_fixed(high.to_der().as_bytes()).expect("valid DER");
        let parsed = Signature::from_slice(&fixed).expect("64 bytes");
        assert!(parsed.normalize_s().is_none(), "s should already be low");
        assert!(key.verifying_key().verify(b"message", &parsed).is_ok());
    }

    #[test]
    fn key_id_is_arn_suffix() {
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .build();
        let client = Client::from_conf(config);
        let verifying_key = *signing_key().verifying_key();
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let signer = KmsSigner::with_public_key(client.clone(), arn.to_owned(), verifying_key);
        assert_eq!(signer.key_id(), "1234abcd-12ab-34cd-56ef-1234567890ab");
        assert_eq!(signer.key_arn(), arn);
        let bare = KmsSigner::with_public_key(client, "1234abcd".to_owned(), verifying_key);
        assert_eq!(bare.key_id(), "1234abcd");
    }

    #[test]
    fn garbage_signature_is_unavailable() {
        assert!(matches!(
            der_to_fixed(&[0x30, 0x01, 0x00]),
            Err(KeyError::Unavailable { .. })
        ));
    }
}
