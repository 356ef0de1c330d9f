//! The HTTP layer every function shares: routing, JSON bodies, responses and the one log
//! line per request. Requests and responses are plain `http` types, so the Lambda runtime
//! and the local server adapt to them with a few lines each.

pub mod body;
pub mod routes;

use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::StatusCode;
use serde::Serialize;

use crate::error::ApiError;
use crate::service::{self, App, Operation};
pub use body::JsonBody;
pub use routes::{resolve, PathParams};

/// A request with its whole body.
pub type Request = http::Request<Bytes>;
/// A response with its whole body.
pub type Response = http::Response<Bytes>;

/// Largest request body accepted: 16 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Caller details a handler records for the log line.
#[derive(Debug, Default)]
pub struct RequestContext {
    pub user_id: Option<String>,
}

/// Serves one request and logs one line for it. With `only`, the request must match that
/// operation's route (a Lambda function serves one operation); without, any route.
pub async fn serve(
    app: &App,
    only: Option<Operation>,
    request: Request,
    request_id: &str,
) -> Response {
    let started = Instant::now();
    let mut context = RequestContext::default();

    let route = resolve(request.method(), request.uri().path());
    let (operation, result) = match route {
        Ok((operation, _)) if only.is_some_and(|expected| expected != operation) => (
            only,
            Err(ApiError::NotFound(
                "no such route on this function".to_owned(),
            )),
        ),
        Ok((operation, params)) => (
            Some(operation),
            service::dispatch(app, operation, &params, &request, &mut context).await,
        ),
        Err(error) => (only, Err(error)),
    };
    let response = result.unwrap_or_else(|error| error_response(&error, &mut context, request_id));

    let operation = operation.map_or("unknown", Operation::name);
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        operation,
        status = response.status().as_u16(),
        latency_ms,
        request_id,
        user_id = context.user_id.as_deref().unwrap_or(""),
        "request"
    );
    response
}

/// Builds the response for an error, logging its cause when it is the server's fault.
fn error_response(error: &ApiError, context: &mut RequestContext, request_id: &str) -> Response {
    let (status, code) = error.status_and_code();
    if status >= 500 {
        tracing::error!(
            request_id,
            user_id = context.user_id.as_deref().unwrap_or(""),
            error_code = code,
            error = %error_chain(error),
            "request failed"
        );
    }
    let mut response = json_response(status, &error.body());
    if let ApiError::TooManyAttempts { retry_after } = error {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(*retry_after));
    }
    if let ApiError::MethodNotAllowed { allowed, .. } = error {
        let allowed = HeaderValue::from_str(&allowed.join(", "))
            .expect("method names from the route table are valid header text");
        response.headers_mut().insert(ALLOW, allowed);
    }
    response
}

/// Joins an error and its sources into one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

/// Builds a JSON response. Every response is `no-store`: most carry tokens or secrets.
pub fn json_response(status: u16, body: &impl Serialize) -> Response {
    let body = serde_json::to_vec(body).expect("response bodies always serialise");
    let mut response = http::Response::new(Bytes::from(body));
    *response.status_mut() = StatusCode::from_u16(status).expect("handlers use valid statuses");
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Builds an empty `204 No Content`.
pub fn no_content() -> Response {
    let mut response = http::Response::new(Bytes::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Returns the bearer token of the `Authorization` header, if the header is present.
///
/// # Errors
/// Returns 401 when the header is present but is not `Bearer <token>`.
pub fn bearer_token(request: &Request) -> Result<Option<&str>, ApiError> {
    let Some(value) = request.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| {
        ApiError::Unauthenticated("the Authorization header is not ASCII".to_owned())
    })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(ApiError::Unauthenticated(
            "the Authorization header must be `Bearer <access token>`".to_owned(),
        )),
    }
}
