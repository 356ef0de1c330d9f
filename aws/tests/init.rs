//! Start-up through the production path: `create_resources` and `build_parts` read the
//! endpoint, region and credentials from the environment, as a Lambda function does. The
//! only test in this binary sets the environment first, so no other test reads it.

#[path = "common/mod.rs"]
mod common;

use mfa_aws::{build_parts, create_resources, AwsSettings, InitError};
use mfa_shared::ports::EncryptionContext;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::Signature;

use common::*;

fn set_default(variable: &str, value: &str) {
    if std::env::var_os(variable).is_none() {
        std::env::set_var(variable, value);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_parts_from_environment() {
    let Some(endpoint) = aws_endpoint("build_parts_from_environment") else {
        return;
    };
    std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
    set_default("AWS_ACCESS_KEY_ID", "test");
    set_default("AWS_SECRET_ACCESS_KEY", "test");
    set_default("AWS_REGION", "us-east-1");
    // No lookup of instance credentials or region may leave the machine.
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");

    let settings = unique_settings("init");
    let missing = build_parts(&settings)
        .await
        .expect_err("nothing exists yet");
    assert!(
        matches!(missing, InitError::Table { .. } | InitError::Key { .. }),
        "{missing}"
    );

    create_resources(&settings)
        .await
        .expect("create the table and keys");
    create_resources(&settings)
        .await
        .expect("creating them again changes nothing");
    let parts = build_parts(&settings)
        .await
        .expect("start up on the created resources");

    let fresh = parts
        .store
        .consume_assertion_id("jti-init", 2_000, 1_000)
        .await;
    assert!(fresh.expect("store call"), "the store writes to the table");
    let context = EncryptionContext::totp(&user("ana"), "f1");
    let sealed = parts
        .cipher
        .encrypt(b"20 bytes of a secret", &context)
        .await
        .expect("encrypt");
    let opened = parts
        .cipher
        .decrypt(&sealed, &context)
        .await
        .expect("decrypt");
    assert_eq!(opened.as_slice(), b"20 bytes of a secret");
    let raw = parts.signer.sign(b"header.payload").await.expect("sign");
    let signature = Signature::from_slice(&raw).expect("64-byte signature");
    assert!(parts
        .signer
        .verifying_key()
        .verify(b"header.payload", &signature)
        .is_ok());
    assert!(
        parts.clock.now() > 1_700_000_000,
        "the system clock is in use"
    );

    let no_table = AwsSettings {
        table: format!("{}-missing", settings.table),
        ..settings.clone()
    };
    let error = build_parts(&no_table).await.expect_err("missing table");
    assert!(matches!(error, InitError::Table { .. }), "{error}");
    assert!(error.to_string().contains(&no_table.table), "{error}");

    let swapped = AwsSettings {
        secrets_key_id: settings.signing_key_id.clone(),
        ..settings.clone()
    };
    let error = build_parts(&swapped)
        .await
        .expect_err("a signing key cannot encrypt");
    assert!(
        matches!(&error, InitError::Key { key_id, .. } if *key_id == settings.signing_key_id),
        "{error}"
    );

    let swapped = AwsSettings {
        signing_key_id: settings.secrets_key_id.clone(),
        ..settings.clone()
    };
    let error = build_parts(&swapped)
        .await
        .expect_err("a symmetric key cannot sign");
    assert!(
        matches!(&error, InitError::Key { key_id, .. } if *key_id == settings.secrets_key_id),
        "{error}"
    );

    let by_id = AwsSettings {
        secrets_key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".to_owned(),
        ..settings
    };
    let error = create_resources(&by_id)
        .await
        .expect_err("a missing key named by id cannot be created");
    assert!(matches!(error, InitError::Key { .. }), "{error}");
}
