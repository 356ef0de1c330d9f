//! AWS adapters of Dashboard MFA: [`DynamoStore`] keeps all state in one DynamoDB table,
//! [`KmsCipher`] encrypts TOTP secrets with a symmetric KMS key, and [`KmsSigner`] signs
//! access tokens with an asymmetric P-256 KMS key whose private half never leaves KMS.
//!
//! [`build_parts`] turns [`AwsSettings`] into the [`mfa_shared::service::Parts`] every
//! Lambda function runs on, and [`create_resources`] creates the table and keys for local
//! runs and tests. The storage layout is described in `docs/storage.md`.

mod dynamo;
#[cfg(feature = "test-support")]
pub mod faults;
mod init;
mod kms;
mod sdk_error;
mod settings;

pub use dynamo::DynamoStore;
pub use init::{
    build_parts, build_parts_with, create_resources, create_resources_with, load_sdk_config,
    AwsClients, InitError, ATTEMPT_TIMEOUT, CONNECT_TIMEOUT, MAX_ATTEMPTS, OPERATION_TIMEOUT,
};
pub use kms::{KmsCipher, KmsSigner};
pub use settings::AwsSettings;
