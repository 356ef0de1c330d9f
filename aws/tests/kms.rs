//! KMS on moto's server, beyond the shared contract: signatures always use the low `s`,
//! the JWT key id is the KMS key id, and an altered ciphertext is rejected.

#[path = "common/mod.rs"]
mod common;

use mfa_aws::{KmsCipher, KmsSigner};
use mfa_shared::ports::{EncryptionContext, KeyError, SecretCipher, TokenSigner};
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::Signature;

use common::*;

async fn keys(test: &str) -> Option<(AwsFixture, KmsCipher, KmsSigner)> {
    let endpoint = aws_endpoint(test)?;
    let fixture = aws_fixture(test, &endpoint, None).await;
    let cipher = KmsCipher::connect(
        fixture.clients.kms.clone(),
        &fixture.settings.secrets_key_id,
    )
    .await
    .expect("the secrets key is usable");
    let signer = KmsSigner::connect(
        fixture.clients.kms.clone(),
        &fixture.settings.signing_key_id,
    )
    .await
    .expect("the signing key is usable");
    Some((fixture, cipher, signer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_have_low_s() {
    let Some((_fixture, _cipher, signer)) = keys("signatures_have_low_s").await else {
        return;
    };
    for i in 0..40 {
        let message = format!("header.payload-{i}");
        let raw = signer.sign(message.as_bytes()).await.expect("sign");
        let signature = Signature::from_slice(&raw).expect("64-byte r || s");
        assert!(
            signature.normalize_s().is_none(),
            "signature {i} has a high s"
        );
        let verified = signer
            .verifying_key()
            .verify(message.as_bytes(), &signature);
        assert!(verified.is_ok(), "signature {i} does not verify");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_id_names_kms_key() {
    let Some((fixture, _cipher, signer)) = keys("key_id_names_kms_key").await else {
        return;
    };
    let described = fixture
        .clients
        .kms
        .describe_key()
        .key_id(&fixture.settings.signing_key_id)
        .send()
        .await
        .expect("describe the signing key");
    let metadata = described.key_metadata.expect("key metadata");
    assert_eq!(
        signer.key_id(),
        metadata.key_id,
        "the JWT kid is the KMS key id"
    );
    assert!(
        !signer.key_id().starts_with("alias/"),
        "an alias is not a stable kid"
    );

    let oversized = vec![b'a'; 4097];
    let result = signer.sign(&oversized).await;
    assert!(
        matches!(result, Err(KeyError::Unavailable { .. })),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_ciphertext_rejected() {
    let Some((_fixture, cipher, _signer)) = keys("altered_ciphertext_rejected").await else {
        return;
    };
    let context = EncryptionContext::totp(&user("ana"), "f1");
    let sealed = cipher
        .encrypt(b"20 bytes of a secret", &context)
        .await
        .expect("encrypt");
    let mut altered = sealed.clone();
    let last = altered.len() - 1;
    altered[last] ^= 0x01;
    let result = cipher.decrypt(&altered, &context).await;
    assert!(matches!(result, Err(KeyError::Rejected)), "{result:?}");
    let opened = cipher
        .decrypt(&sealed, &context)
        .await
        .expect("the original still decrypts");
    assert_eq!(opened.as_slice(), b"20 bytes of a secret");
}
