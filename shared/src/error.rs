//! The service's one error type, mapped to an HTTP status and a JSON body in one place.

use crate::ports::{KeyError, StoreError};

/// The body every wrong, reused or spent code gets, and every unusable ticket on the
/// challenge route, so a caller cannot tell which it was.
pub const INVALID_CODE_MESSAGE: &str =
    "the code is not valid: enter the current code from the authenticator app or an unused backup code, or sign in again if the ticket has expired";

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed JSON, a missing or mistyped field, an unknown enum value.
    #[error("{0}")]
    InvalidRequest(String),
    /// 401: no valid login assertion, access token or refresh token.
    #[error("{0}")]
    Unauthenticated(String),
    /// 401: the MFA ticket is unknown, spent, expired or for another step.
    #[error("the MFA ticket is invalid or has expired: sign in again")]
    InvalidTicket,
    /// 401: a wrong, reused or spent code; always the same body.
    #[error("{INVALID_CODE_MESSAGE}")]
    InvalidCode,
    /// 403: the caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such route or resource, or one the caller may not know about.
    #[error("{0}")]
    NotFound(String),
    /// 405: the path exists with other methods, which `allowed` lists for the `Allow` header.
    #[error("method {method} is not allowed on this path")]
    MethodNotAllowed {
        method: String,
        allowed: Vec<&'static str>,
    },
    /// 409: the request conflicts with the current state; `code` names which conflict.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 413: the body is over 16 KiB.
    #[error("the request body is larger than 16 KiB")]
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    #[error("the request body must be JSON: send Content-Type: application/json")]
    UnsupportedMediaType,
    /// 429: too many failed code attempts; retry after `retry_after` seconds.
    #[error("too many failed attempts: try again in {retry_after} seconds")]
    TooManyAttempts { retry_after: u64 },
    /// 503: DynamoDB or KMS failed or timed out; retrying is safe.
    #[error("a backing service is unavailable: retry the request")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// 500: a bug or corrupt state; the cause is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// Returns the HTTP status and the error code of the body.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            Self::InvalidRequest(_) => (400, "invalid_request"),
            Self::Unauthenticated(_) => (401, "unauthenticated"),
            Self::InvalidTicket => (401, "invalid_ticket"),
            Self::InvalidCode => (401, "invalid_code"),
            Self::Forbidden(_) => (403, "forbidden"),
            Self::NotFound(_) => (404, "not_found"),
            Self::MethodNotAllowed { .. } => (405, "method_not_allowed"),
            Self::Conflict { code, .. } => (409, code),
            Self::PayloadTooLarge => (413, "payload_too_large"),
            Self::UnsupportedMediaType => (415, "unsupported_media_type"),
            Self::TooManyAttempts { .. } => (429, "too_many_attempts"),
            Self::Unavailable(_) => (503, "unavailable"),
            Self::Internal(_) => (500, "internal"),
        }
    }

    /// Returns the JSON body: `{"error": {"code", "message"}}`.
    pub fn body(&self) -> serde_json::Value {
        let (_, code) = self.status_and_code();
        let message = match self {
            Self::Internal(_) => {
                "internal error: retry the request, and report it if it persists".to_owned()
            }
            other => other.to_string(),
        };
        serde_json::json!({ "error": { "code": code, "message": message } })
    }

    /// Shorthand for a 400 naming a field.
    pub fn field(name: &str, problem: &str) -> Self {
        Self::InvalidRequest(format!("field `{name}` {problem}"))
    }

    /// Shorthand for a 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable { .. } => Self::Unavailable(Box::new(error)),
            StoreError::Malformed(detail) => {
                Self::Internal(format!("stored item is malformed: {detail}"))
            }
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Unavailable { .. } => Self::Unavailable(Box::new(error)),
            KeyError::Rejected => {
                Self::Internal("a ciphertext was rejected by its encryption context".to_owned())
            }
        }
    }
}
