//! The local server: every operation of the API in one process, plus `POST /dev/login`,
//! which signs demo login assertions so the whole flow can be tried without the real
//! login service.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http::HeaderValue;
use mfa_shared::domain::model::{AccountSlug, LoginMethod, Role, UserId};
use mfa_shared::embedded::{DemoIdentity, DemoLogin};
use mfa_shared::http::{json_response, serve, JsonBody, MAX_BODY_BYTES};
use mfa_shared::random::random_id;
use mfa_shared::{ApiError, App};
use serde_json::Value;

/// State the server shares between requests.
#[derive(Debug, Clone)]
pub struct LocalState {
    pub app: Arc<App>,
    pub login: DemoLogin,
}

/// Builds the router: `/dev/login` and, for every other path, the API.
pub fn router(state: LocalState) -> Router {
    Router::new()
        .route("/dev/login", post(dev_login))
        .fallback(api)
        .with_state(state)
}

/// Reads a body, stopping one byte past the API's limit so that the API returns 413.
async fn read_request(request: Request) -> http::Request<Bytes> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES + 1)
        .await
        .unwrap_or_else(|_| Bytes::from(vec![b' '; MAX_BODY_BYTES + 1]));
    http::Request::from_parts(parts, bytes)
}

fn into_axum(response: http::Response<Bytes>, request_id: &str) -> Response {
    let (mut parts, body) = response.into_parts();
    if let Ok(value) = HeaderValue::from_str(request_id) {
        parts.headers.insert("x-request-id", value);
    }
    Response::from_parts(parts, Body::from(body))
}

async fn api(State(state): State<LocalState>, request: Request) -> Response {
    let request = read_request(request).await;
    let request_id = random_id(state.app.random.as_ref());
    let response = serve(&state.app, None, request, &request_id).await;
    into_axum(response, &request_id)
}

async fn dev_login(State(state): State<LocalState>, request: Request) -> Response {
    let request = read_request(request).await;
    let request_id = random_id(state.app.random.as_ref());
    let response = match demo_assertion(&state, &request).await {
        Ok(assertion) => json_response(200, &serde_json::json!({ "login_assertion": assertion })),
        Err(error) => {
            let (status, _) = error.status_and_code();
            json_response(status, &error.body())
        }
    };
    tracing::info!(
        operation = "dev_login",
        status = response.status().as_u16(),
        request_id,
        "request"
    );
    into_axum(response, &request_id).into_response()
}

/// Validates a `/dev/login` body and signs the assertion.
async fn demo_assertion(
    state: &LocalState,
    request: &http::Request<Bytes>,
) -> Result<String, ApiError> {
    let mut body = JsonBody::parse(request, false)?;
    let email = body.string("email")?;
    let login_method = body.string("login_method")?;
    let user_id = body.optional_string("user_id")?;
    let accounts = body
        .take("accounts")
        .ok_or_else(|| ApiError::field("accounts", "is missing"))?;
    body.finish(&["email", "login_method", "accounts", "user_id"])?;

    let login_method = LoginMethod::parse(&login_method)
        .map_err(|error| ApiError::field("login_method", error.0))?;
    let user_id = user_id
        .map(|id| UserId::parse(&id).map_err(|error| ApiError::field("user_id", error.0)))
        .transpose()?;
    let Value::Object(accounts) = accounts else {
        return Err(ApiError::field(
            "accounts",
            "must be an object of account slug to role",
        ));
    };
    let mut parsed = BTreeMap::new();
    for (slug, role) in accounts {
        let slug =
            AccountSlug::parse(&slug).map_err(|error| ApiError::field("accounts", error.0))?;
        let role = role
            .as_str()
            .and_then(|role| Role::parse(role).ok())
            .ok_or_else(|| {
                ApiError::field("accounts", "roles must be one of owner, admin, member")
            })?;
        parsed.insert(slug, role);
    }

    let identity = DemoIdentity {
        email,
        login_method,
        accounts: parsed,
        user_id,
    };
    state
        .login
        .assertion(&identity, state.app.clock.now(), state.app.random.as_ref())
        .await
        .map_err(ApiError::InvalidRequest)
}
