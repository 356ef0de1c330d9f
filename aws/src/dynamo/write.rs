//! Building transaction items and running reads and writes, with SDK errors mapped to
//! the store's: a failed condition becomes `Ok(false)` where the caller asks for it, and
//! every other failure becomes [`StoreError::Unavailable`].

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use mfa_shared::ports::StoreError;
use rand::Rng as _;

use super::codec::Item;
use super::keys::Key;
use crate::sdk_error::SdkFailure;

/// Attribute-name placeholders and the names they stand for.
type Names = HashMap<String, String>;
/// Value placeholders and the values they stand for.
type Values = HashMap<String, AttributeValue>;

/// Attribute-name and value placeholders of one condition or update expression.
///
/// Every attribute is named through a `#placeholder`, so no expression trips over
/// DynamoDB's reserved words (`count`, `at`, ...).
#[derive(Debug, Default)]
pub(crate) struct Expr {
    names: Names,
    values: Values,
}

impl Expr {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Binds `#placeholder` to an attribute name.
    pub(crate) fn name(mut self, placeholder: &str, attribute: impl Into<String>) -> Self {
        self.names.insert(placeholder.to_owned(), attribute.into());
        self
    }

    /// Binds `:placeholder` to a value.
    pub(crate) fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.to_owned(), value);
        self
    }

    /// Returns the maps as the SDK builders take them: `None` when empty, because
    /// DynamoDB rejects empty placeholder maps.
    fn into_parts(self) -> (Option<Names>, Option<Values>) {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        (names, values)
    }
}

fn build_failed(operation: &'static str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        operation,
        source: Box::new(SdkFailure::other("request builder", error.to_string())),
    }
}

/// Builds a `Put` of `item`, optionally under `condition`.
pub(crate) fn put(
    operation: &'static str,
    table: &str,
    item: Item,
    condition: Option<&str>,
    expr: Expr,
) -> Result<TransactWriteItem, StoreError> {
    let (names, values) = expr.into_parts();
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_names(names)
        .set_expression_attribute_values(values)
        .build()
        .map_err(|error| build_failed(operation, error))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Builds an `Update` of the item at `key`, optionally under `condition`.
pub(crate) fn update(
    operation: &'static str,
    table: &str,
    key: &Key,
    update_expression: &str,
    condition: Option<&str>,
    expr: Expr,
) -> Result<TransactWriteItem, StoreError> {
    let (names, values) = expr.into_parts();
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key.attributes()))
        .update_expression(update_expression)
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_names(names)
        .set_expression_attribute_values(values)
        .build()
        .map_err(|error| build_failed(operation, error))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Builds a `Delete` of the item at `key`, optionally under `condition`.
pub(crate) fn delete(
    operation: &'static str,
    table: &str,
    key: &Key,
    condition: Option<&str>,
    expr: Expr,
) -> Result<TransactWriteItem, StoreError> {
    let (names, values) = expr.into_parts();
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key.attributes()))
        .set_condition_expression(condition.map(str::to_owned))
        .set_expression_attribute_names(names)
        .set_expression_attribute_values(values)
        .build()
        .map_err(|error| build_failed(operation, error))?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// Why DynamoDB cancelled a transaction, when that decides the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancellation {
    /// A condition of one of the items was false: the expected outcome of a lost race.
    ConditionFailed,
    /// Another transaction was changing one of the items, so nothing was written.
    Conflict,
}

fn cancellation<R>(error: &SdkError<TransactWriteItemsError, R>) -> Option<Cancellation> {
    let SdkError::ServiceError(service) = error else {
        return None;
    };
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err() else {
        return None;
    };
    let codes: Vec<&str> = cancelled
        .cancellation_reasons()
        .iter()
        .filter_map(|reason| reason.code())
        .collect();
    if codes.contains(&"ConditionalCheckFailed") {
        Some(Cancellation::ConditionFailed)
    } else if codes.contains(&"TransactionConflict") {
        Some(Cancellation::Conflict)
    } else {
        None
    }
}

/// Attempts of a transaction that keeps meeting another transaction on the same item.
const CONFLICT_ATTEMPTS: u32 = 5;

/// Returns a random pause before retry `attempt` (0-based): up to 5 ms doubled per
/// attempt, capped at 100 ms, so parallel writers spread out.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let ceiling = 5u64.saturating_mul(1 << attempt.min(5)).min(100);
    Duration::from_millis(rand::thread_rng().gen_range(1..=ceiling))
}

/// Runs `items` as one `TransactWriteItems`. Returns `Ok(false)` when a condition failed,
/// in which case nothing was written.
///
/// Each call gets a fresh client request token from the SDK, which the SDK's own retries
/// of that call reuse, so a retry after a lost response does not apply the writes twice.
/// A cancellation for `TransactionConflict` (another transaction was writing one of the
/// items) is retried here with a new token, because nothing was written.
pub(crate) async fn transact(
    client: &aws_sdk_dynamodb::Client,
    operation: &'static str,
    items: Vec<TransactWriteItem>,
) -> Result<bool, StoreError> {
    let mut attempt = 0;
    loop {
        let result = client
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(true),
            Err(error) => error,
        };
        match cancellation(&error) {
            Some(Cancellation::ConditionFailed) => return Ok(false),
            Some(Cancellation::Conflict) if attempt + 1 < CONFLICT_ATTEMPTS => {
                tracing::debug!(operation, attempt, "transaction conflict; retrying");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            _ => return Err(unavailable(operation, "TransactWriteItems", &error)),
        }
    }
}

/// Maps any SDK error to [`StoreError::Unavailable`] without the raw response.
pub(crate) fn unavailable<E, R>(
    operation: &'static str,
    call: &'static str,
    error: &SdkError<E, R>,
) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable {
        operation,
        source: Box::new(SdkFailure::new(call, error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_bounds() {
        for attempt in 0..40 {
            let pause = backoff(attempt);
            assert!(
                pause >= Duration::from_millis(1),
                "attempt {attempt}: {pause:?}"
            );
            assert!(
                pause <= Duration::from_millis(100),
                "attempt {attempt}: {pause:?}"
            );
        }
    }

    #[test]
    fn empty_placeholders_are_omitted() {
        let (names, values) = Expr::new().into_parts();
        assert!(names.is_none());
        assert!(values.is_none());
        let (names, values) = Expr::new()
            .name("#a", "a")
            .value(":b", AttributeValue::Bool(true))
            .into_parts();
        assert_eq!(names.map(|names| names.len()), Some(1));
        assert_eq!(values.map(|values| values.len()), Some(1));
    }
}
