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
            SdkError::ConstructionFailure(_) => "the request could not be built".to_owned(),
            SdkError::TimeoutError(_) => "timed out".to_owned(),
            SdkError::DispatchFailure(failure) => {
                let kind = if failure.is_timeout() {
                    "timed out"
                } else if failure.is_io() {
                    "connection failed"
                } else {
                    "dispatch failed"
                };
                match std::error::Error::source(error) {
                    Some(cause) => format!("{kind}: {cause}"),
                    None => kind.to_owned(),
                }
            }
            SdkError::ResponseError(_) => "the response could not be read".to_owned(),
            SdkError::ServiceError(service) => {
                let inner = service.err();
                format!(
                    "service error {}: {}",
                    inner.code().unwrap_or("(no code)"),
                    inner.message().unwrap_or("(no message)")
                )
            }
            other => format!(
                "unexpected SDK error: {}",
                aws_smithy_types::error::display::DisplayErrorContext(other)
            ),
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

impl fmt::Display for SdkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.call, self.detail)
    }
}

impl std::error::Error for SdkFailure {}
