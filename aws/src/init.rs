//! Cold-start wiring: the SDK configuration, the clients, the ports built on them, and the
//! creation of the table and keys for local runs and tests.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_kms::operation::create_alias::CreateAliasError;
use aws_sdk_kms::operation::describe_key::DescribeKeyError;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use mfa_shared::clock::SystemClock;
use mfa_shared::random::OsRandom;
use mfa_shared::service::Parts;

use crate::dynamo::{create_table, describe_table};
use crate::kms::{KmsCipher, KmsSigner};
use crate::sdk_error::SdkFailure;
use crate::{AwsSettings, DynamoStore};

/// Time allowed to open a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time allowed for one attempt of a call, from sending to the parsed response.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time allowed for a whole call, retries and their back-off included. API Gateway ends a
/// request after 29 seconds, and one request makes several calls.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts of a call that fails with a throttling, server or network error.
pub const MAX_ATTEMPTS: u32 = 3;

/// Start-up failed: a resource is missing, unreachable or of the wrong kind.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The DynamoDB table could not be described or created, or has another key schema.
    #[error("DynamoDB table `{table}` is not usable: {source}")]
    Table {
        table: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A KMS key could not be read or created, or is not the kind of key required.
    #[error("KMS key `{key_id}` is not usable: {source}")]
    Key {
        key_id: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Loads the AWS configuration from the environment (region, credentials, and
/// `AWS_ENDPOINT_URL` for a local endpoint such as moto's server), with this service's
/// timeouts and retries.
pub async fn load_sdk_config() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await
}

/// The SDK clients, built once per cold start and shared by every request.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub kms: aws_sdk_kms::Client,
}

impl AwsClients {
    /// Builds both clients from one configuration.
    pub fn from_sdk_config(config: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            kms: aws_sdk_kms::Client::new(config),
        }
    }

    /// Builds both clients with `interceptor` added to each, for example a
    /// `faults::FailNth` in tests. Clones of the interceptor must share their state.
    pub fn with_interceptor(
        config: &SdkConfig,
        interceptor: impl Intercept + Clone + 'static,
    ) -> Self {
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(config)
            .interceptor(interceptor.clone())
            .build();
        let kms = aws_sdk_kms::config::Builder::from(config)
            .interceptor(interceptor)
            .build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            kms: aws_sdk_kms::Client::from_conf(kms),
        }
    }
}

/// Builds the ports for the resources in `settings`, on clients configured by
/// [`load_sdk_config`].
///
/// # Errors
/// [`InitError`] when the table or a key is missing, unreachable or of the wrong kind.
pub async fn build_parts(settings: &AwsSettings) -> Result<Parts, InitError> {
    let config = load_sdk_config().await;
    build_parts_with(settings, &AwsClients::from_sdk_config(&config)).await
}

/// Builds the ports on existing clients. The first calls (`DescribeTable`, `DescribeKey`
/// of the secrets key, `GetPublicKey` of the signing key) run concurrently, check the
/// resources and leave open connections, so the first request pays no handshake.
///
/// # Errors
/// [`InitError`] when the table or a key is missing, unreachable or of the wrong kind.
pub async fn build_parts_with(
    settings: &AwsSettings,
    clients: &AwsClients,
) -> Result<Parts, InitError> {
    let (_, cipher, signer) = tokio::try_join!(
        describe_table(&clients.dynamodb, &settings.table),
        KmsCipher::connect(clients.kms.clone(), &settings.secrets_key_id),
        KmsSigner::connect(clients.kms.clone(), &settings.signing_key_id),
    )?;
    tracing::info!(
        table = %settings.table,
        secrets_key = %settings.secrets_key_id,
        signing_key = %signer.key_arn(),
        "AWS adapters ready"
    );
    Ok(Parts {
        store: Arc::new(DynamoStore::new(
            clients.dynamodb.clone(),
            settings.table.clone(),
        )),
        cipher: Arc::new(cipher),
        signer: Arc::new(signer),
        clock: Arc::new(SystemClock),
        random: Arc::new(OsRandom),
    })
}

/// Creates what `settings` names and is missing: the table (on-demand, TTL on
/// `expires_at`), the symmetric secrets key and the P-256 signing key with their aliases.
/// Uses clients configured by [`load_sdk_config`].
///
/// # Errors
/// [`InitError`] when a call fails, or a missing key is named by id rather than by alias.
pub async fn create_resources(settings: &AwsSettings) -> Result<(), InitError> {
    let config = load_sdk_config().await;
    create_resources_with(settings, &AwsClients::from_sdk_config(&config)).await
}

/// Like [`create_resources`], on existing clients.
///
/// # Errors
/// As [`create_resources`].
pub async fn create_resources_with(
    settings: &AwsSettings,
    clients: &AwsClients,
) -> Result<(), InitError> {
    if create_table(&clients.dynamodb, &settings.table).await? {
        tracing::info!(table = %settings.table, "created DynamoDB table");
    }
    let secrets = ensure_key(
        &clients.kms,
        &settings.secrets_key_id,
        KeySpec::SymmetricDefault,
        KeyUsageType::EncryptDecrypt,
        "Dashboard MFA: encrypts TOTP secrets",
    );
    if secrets.await? {
        tracing::info!(key = %settings.secrets_key_id, "created KMS secrets key");
    }
    let signing = ensure_key(
        &clients.kms,
        &settings.signing_key_id,
        KeySpec::EccNistP256,
        KeyUsageType::SignVerify,
        "Dashboard MFA: signs access tokens (ES256)",
    );
    if signing.await? {
        tracing::info!(key = %settings.signing_key_id, "created KMS signing key");
    }
    Ok(())
}

/// Returns the alias name (`alias/...`) of an alias name or alias ARN.
fn alias_name(key_ref: &str) -> Option<String> {
    if key_ref.starts_with("alias/") {
        return Some(key_ref.to_owned());
    }
    let (prefix, name) = key_ref.split_once(":alias/")?;
    prefix.starts_with("arn:").then(|| format!("alias/{name}"))
}

/// Creates the key named by `key_ref` unless `DescribeKey` finds it. Returns whether a
/// key was created.
async fn ensure_key(
    kms: &aws_sdk_kms::Client,
    key_ref: &str,
    spec: KeySpec,
    usage: KeyUsageType,
    description: &str,
) -> Result<bool, InitError> {
    let failed = |source: SdkFailure| InitError::Key {
        key_id: key_ref.to_owned(),
        source: Box::new(source),
    };
    match kms.describe_key().key_id(key_ref).send().await {
        Ok(_) => return Ok(false),
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(DescribeKeyError::NotFoundException(_))
            ) => {}
        Err(error) => return Err(failed(SdkFailure::new("DescribeKey", &error))),
    }
    let alias = alias_name(key_ref).ok_or_else(|| InitError::Key {
        key_id: key_ref.to_owned(),
        source: "was not found, and only a key named by an alias (alias/...) can be created".into(),
    })?;
    let created = kms
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .description(description)
        .send()
        .await
        .map_err(|error| failed(SdkFailure::new("CreateKey", &error)))?;
    let key_id = created
        .key_metadata
        .map(|metadata| metadata.key_id)
        .ok_or_else(|| failed(SdkFailure::other("CreateKey", "returned no key metadata")))?;
    let result = kms
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key_id)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        // NOTE: another process created the alias first; the key made here stays unused.
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(CreateAliasError::AlreadyExistsException(_))
            ) =>
        {
            Ok(false)
        }
        Err(error) => Err(failed(SdkFailure::new("CreateAlias", &error))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_are_recognised() {
        assert_eq!(
            alias_name("alias/mfa-secrets").as_deref(),
            Some("alias/mfa-secrets")
        );
        assert_eq!(
            alias_name("arn:aws:kms:us-east-1:111122223333:alias/mfa-signing").as_deref(),
            Some("alias/mfa-signing")
        );
        assert_eq!(alias_name("1234abcd-12ab-34cd-56ef-1234567890ab"), None);
        assert_eq!(
            alias_name("arn:aws:kms:us-east-1:111122223333:key/1234abcd"),
            None
        );
    }
}
