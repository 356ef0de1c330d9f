//! A compact, value-free description of a failed SDK call.
//!
//! `SdkError` keeps the raw HTTP response, whose body can echo item attributes back. The
//! adapters box this type as the `source` of their errors instead, so a logged cause
//! chain names the call, the error code and the service's message, and nothing else.

use std::fmt;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// One failed SDK call.
#[derive(Debug)]
pub(crate) struct SdkFailure {
    call: &'static str,
    detail: String,
}

impl SdkFailure {
    /// Describes `error` from the SDK call named `call` (e.g. `TransactWriteItems`).
    pub(crate) fn new<E, R>(call: &'static str, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        let detail = match error {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let message = inner
                    .message()
                    .map_or_else(|| inner.to_string(), str::to_owned);
                format!(
                    "service error {}: {message}",
                    inner.code().unwrap_or("(no code)")
                )
            }
            SdkError::ConstructionFailure(_) => {
                with_causes("the request could not be built", error)
            }
            SdkError::TimeoutError(_) => with_causes("timed out", error),
            SdkError::DispatchFailure(failure) if failure.is_timeout() => {
                with_causes("timed out", error)
            }
            SdkError::DispatchFailure(failure) if failure.is_io() => {
                with_causes("connection failed", error)
            }
            SdkError::DispatchFailure(_) => with_causes("dispatch failed", error),
            SdkError::ResponseError(_) => with_causes("the response could not be read", error),
            _ => with_causes("failed", error),
        };
        Self { call, detail }
    }

    /// Describes a failure that did not come from the SDK, such as a request builder
    /// missing a required field.
    pub(crate) fn other(call: &'static str, detail: impl Into<String>) -> Self {
        Self {
            call,
            detail: detail.into(),
        }
    }
}

/// Returns `summary` followed by the `Display` of each cause of `error`. `Debug` output is
/// left out on purpose, because it would include the raw response.
fn with_causes(summary: &str, error: &dyn std::error::Error) -> String {
    let mut text = summary.to_owned();
    let mut cause = error.source();
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    text
}

impl fmt::Display for SdkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.call, self.detail)
    }
}

impl std::error::Error for SdkFailure {}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_sdk_dynamodb::types::error::ResourceNotFoundException;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    #[test]
    fn service_error_leaves_out_response_body() {
        let metadata = ErrorMetadata::builder()
            .code("ResourceNotFoundException")
            .message("Requested resource not found")
            .build();
        let inner = GetItemError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("Requested resource not found")
                .meta(metadata)
                .build(),
        );
        let status = StatusCode::try_from(400).expect("valid status");
        let raw = Response::new(
            status,
            SdkBody::from(r#"{"Item":{"secret":{"S":"value-in-body"}}}"#),
        );
        let error = SdkError::service_error(inner, raw);

        let failure = SdkFailure::new("GetItem", &error).to_string();
        assert!(failure.contains("GetItem"), "{failure}");
        assert!(failure.contains("ResourceNotFoundException"), "{failure}");
        assert!(
            failure.contains("Requested resource not found"),
            "{failure}"
        );
        assert!(!failure.contains("value-in-body"), "{failure}");
        assert!(!format!("{:?}", SdkFailure::new("GetItem", &error)).contains("value-in-body"));
    }

    #[test]
    fn dispatch_failure_lists_causes() {
        let connector = ConnectorError::other("connection reset by peer".into(), None);
        let error: SdkError<GetItemError, Response> = SdkError::dispatch_failure(connector);
        let failure = SdkFailure::new("GetItem", &error).to_string();
        assert!(failure.starts_with("GetItem dispatch failed"), "{failure}");
        assert!(failure.contains("connection reset by peer"), "{failure}");
    }
}
