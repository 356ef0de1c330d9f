//! Creating and checking the table: on-demand capacity, `pk`/`sk` string keys, and TTL on
//! `expires_at`.

use std::time::Duration;

use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_dynamodb::Client;

use super::keys::{EXPIRES_AT, PK, SK};
use crate::init::InitError;
use crate::sdk_error::SdkFailure;

fn table_error(
    table: &str,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> InitError {
    InitError::Table {
        table: table.to_owned(),
        source: source.into(),
    }
}

/// Checks with `DescribeTable` that `table` exists with the `pk`/`sk` key schema. This
/// also opens the connection to DynamoDB.
///
/// # Errors
/// [`InitError::Table`] when the call fails or the key schema differs.
pub(crate) async fn describe_table(client: &Client, table: &str) -> Result<(), InitError> {
    let output = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|error| table_error(table, SdkFailure::new("DescribeTable", &error)))?;
    let description = output
        .table
        .ok_or_else(|| table_error(table, "DescribeTable returned no table"))?;
    let key_of = |key_type: KeyType| {
        description
            .key_schema()
            .iter()
            .find(|element| element.key_type() == &key_type)
            .map(|element| element.attribute_name().to_owned())
    };
    if key_of(KeyType::Hash).as_deref() != Some(PK) || key_of(KeyType::Range).as_deref() != Some(SK)
    {
        return Err(table_error(
            table,
            format!("has another key schema: expected partition key `{PK}` and sort key `{SK}`, both strings"),
        ));
    }
    Ok(())
}

/// Creates `table` unless it exists, waits until it is active, and enables TTL on
/// `expires_at`. Returns whether the table was created.
///
/// # Errors
/// [`InitError::Table`] when a call fails or the table does not become active in time.
pub(crate) async fn create_table(client: &Client, table: &str) -> Result<bool, InitError> {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|error| table_error(table, error.to_string()))
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(|error| table_error(table, error.to_string()))
    };
    let result = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(PK)?)
        .attribute_definitions(attribute(SK)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .send()
        .await;
    let created = match result {
        Ok(_) => true,
        Err(error)
            if matches!(
                error.as_service_error(),
                Some(CreateTableError::ResourceInUseException(_))
            ) =>
        {
            false
        }
        Err(error) => return Err(table_error(table, SdkFailure::new("CreateTable", &error))),
    };
    wait_until_active(client, table).await?;
    enable_ttl(client, table).await?;
    describe_table(client, table).await?;
    Ok(created)
}

async fn wait_until_active(client: &Client, table: &str) -> Result<(), InitError> {
    for _ in 0..120 {
        let output = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|error| table_error(table, SdkFailure::new("DescribeTable", &error)))?;
        if output.table.and_then(|table| table.table_status) == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(table_error(
        table,
        "did not become ACTIVE within 60 seconds",
    ))
}

async fn enable_ttl(client: &Client, table: &str) -> Result<(), InitError> {
    let current = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|error| table_error(table, SdkFailure::new("DescribeTimeToLive", &error)))?;
    let description = current.time_to_live_description;
    let status = description
        .as_ref()
        .and_then(|ttl| ttl.time_to_live_status.clone());
    let attribute = description
        .as_ref()
        .and_then(|ttl| ttl.attribute_name.clone());
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        if attribute.as_deref() == Some(EXPIRES_AT) {
            return Ok(());
        }
        return Err(table_error(
            table,
            format!("has TTL on another attribute; expected `{EXPIRES_AT}`"),
        ));
    }
    let specification = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(EXPIRES_AT)
        .build()
        .map_err(|error| table_error(table, error.to_string()))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|error| table_error(table, SdkFailure::new("UpdateTimeToLive", &error)))?;
    Ok(())
}
