//! A whole function as Lambda runs it. `run` builds the AWS adapters on DynamoDB and KMS
//! (moto's server) and fetches events from a stand-in for the Lambda Runtime API on
//! 127.0.0.1. It then posts the API Gateway responses back to the stand-in.
//!
//! The test needs `MFA_TEST_AWS_ENDPOINT` (e.g. `http://127.0.0.1:5055`, started by
//! `scripts/moto.sh start`). Without it the test prints that it was skipped and passes,
//! unless `MFA_REQUIRE_AWS=1`, in which case it fails. It sets process environment
//! variables, so it is the only test of this file (each test file is its own process).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use mfa_aws::{create_resources, AwsSettings};
use mfa_lambda::{run, Operation};
use mfa_shared::domain::model::{AccountSlug, LoginMethod, Role};
use mfa_shared::embedded::demo_login::{DEMO_LOGIN_AUDIENCE, DEMO_LOGIN_ISSUER};
use mfa_shared::embedded::{DemoIdentity, DemoLogin};
use mfa_shared::random::{random_id, OsRandom};
use serde_json::Value;
use tokio::sync::mpsc;

const ENDPOINT_VARIABLE: &str = "MFA_TEST_AWS_ENDPOINT";
const REQUIRE_VARIABLE: &str = "MFA_REQUIRE_AWS";

/// Maximum wait for one response, because moto can be slow when other tests load it.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the function posted for one invocation: its response, or the error it reported.
type Outcome = Result<Value, String>;

/// The stand-in for the Lambda Runtime API: a queue of events to hand out, and a channel
/// that receives what the function posts back, keyed by invocation id.
struct RuntimeApi {
    events: Mutex<VecDeque<(String, String)>>,
    outcomes: mpsc::UnboundedSender<(String, Outcome)>,
}

/// `GET /2018-06-01/runtime/invocation/next`: hands out the next event. Once the queue is
/// empty, the request stays open, as the real API does while no event arrives.
async fn next_invocation(State(api): State<Arc<RuntimeApi>>) -> Response {
    let next = api.events.lock().expect("event queue lock").pop_front();
    let Some((invocation_id, event)) = next else {
        return std::future::pending().await;
    };
    let deadline_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis()
        + 30_000;
    let headers = [
        ("lambda-runtime-aws-request-id", invocation_id),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:sign-in".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-6775a000-0123456789abcdef01234567;Sampled=0".to_owned(),
        ),
        ("content-type", "application/json".to_owned()),
    ];
    (headers, event).into_response()
}

/// `POST /2018-06-01/runtime/invocation/{id}/response`.
async fn invocation_response(
    State(api): State<Arc<RuntimeApi>>,
    Path(invocation_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let outcome = serde_json::from_slice(&body)
        .map_err(|error| format!("the response is not JSON ({error})"));
    let _ = api.outcomes.send((invocation_id, outcome));
    StatusCode::ACCEPTED
}

/// `POST /2018-06-01/runtime/invocation/{id}/error`.
async fn invocation_error(
    State(api): State<Arc<RuntimeApi>>,
    Path(invocation_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let error = String::from_utf8_lossy(&body).into_owned();
    let _ = api.outcomes.send((invocation_id, Err(error)));
    StatusCode::ACCEPTED
}

/// `POST /2018-06-01/runtime/init/error`.
async fn init_error(State(api): State<Arc<RuntimeApi>>, body: Bytes) -> StatusCode {
    let error = String::from_utf8_lossy(&body).into_owned();
    let _ = api.outcomes.send(("init".to_owned(), Err(error)));
    StatusCode::ACCEPTED
}

/// Starts the stand-in on a free loopback port and returns its address.
async fn start_runtime_api(api: Arc<RuntimeApi>) -> SocketAddr {
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(invocation_response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

/// Returns moto's endpoint, or `None` after printing that the test is skipped.
fn aws_endpoint() -> Option<String> {
    let endpoint = std::env::var(ENDPOINT_VARIABLE).unwrap_or_default();
    let endpoint = endpoint.trim();
    if endpoint.is_empty() {
        assert!(
            std::env::var(REQUIRE_VARIABLE).as_deref() != Ok("1"),
            "{ENDPOINT_VARIABLE} is not set but {REQUIRE_VARIABLE}=1: run `scripts/moto.sh start` and set {ENDPOINT_VARIABLE}=http://127.0.0.1:5055"
        );
        // The harness captures `eprintln!`, so the line goes to the stderr handle.
        let line = format!(
            "mfa-lambda: skipped the Lambda runtime test: {ENDPOINT_VARIABLE} is not set\n"
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
        return None;
    }
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "{ENDPOINT_VARIABLE} must be an http://127.0.0.1:<port> address, because the test creates a table"
    );
    Some(endpoint.to_owned())
}

/// Points the AWS SDK at moto with fake credentials, and names a table and two key
/// aliases that no other test uses.
fn configure_aws(endpoint: &str) -> AwsSettings {
    let suffix = &random_id(&OsRandom)[..12];
    std::env::set_var("AWS_ENDPOINT_URL", endpoint);
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("MFA_TABLE", format!("mfa-lambda-test-{suffix}"));
    std::env::set_var(
        "MFA_SECRETS_KEY_ID",
        format!("alias/mfa-lambda-test-{suffix}-secrets"),
    );
    std::env::set_var(
        "MFA_SIGNING_KEY_ID",
        format!("alias/mfa-lambda-test-{suffix}-signing"),
    );
    AwsSettings::from_env().expect("valid AWS settings")
}

/// Sets the configuration of a service that trusts `login`.
fn configure_service(login: &DemoLogin) {
    std::env::set_var("MFA_TOKEN_ISSUER", "https://mfa.example.com");
    std::env::set_var("MFA_TOKEN_AUDIENCE", "dashboard");
    std::env::set_var("MFA_LOGIN_ISSUER", DEMO_LOGIN_ISSUER);
    std::env::set_var("MFA_LOGIN_AUDIENCE", DEMO_LOGIN_AUDIENCE);
    std::env::set_var("MFA_LOGIN_JWKS", login.jwks_json());
}

/// Sets the variables that the Lambda runtime client reads at start-up.
fn configure_lambda(runtime_api: SocketAddr) {
    std::env::set_var("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string());
    std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "sign-in");
    std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256");
    std::env::set_var("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
}

/// Reads a fixture event and fills in its `{{NAME}}` placeholders.
fn fixture(name: &str, values: &[(&str, &str)]) -> String {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read fixture {path}: {error}"));
    for (placeholder, value) in values {
        text = text.replace(&format!("{{{{{placeholder}}}}}"), value);
    }
    assert!(
        !text.contains("{{"),
        "fixture {name} has an unfilled placeholder"
    );
    text
}

/// Returns the JSON body of an API Gateway response that the function posted.
fn response_body(response: &Value) -> Value {
    let body = response["body"]
        .as_str()
        .unwrap_or_else(|| panic!("the response has no text body: {response}"));
    serde_json::from_str(body).unwrap_or_else(|error| panic!("body is not JSON ({error}): {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_serves_runtime_api_events() {
    let Some(endpoint) = aws_endpoint() else {
        return;
    };
    let settings = configure_aws(&endpoint);
    create_resources(&settings)
        .await
        .expect("create the table and keys on moto");
    let login = DemoLogin::generate(&OsRandom);
    configure_service(&login);

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let identity = DemoIdentity {
        email: "ana@example.com".to_owned(),
        login_method: LoginMethod::Email,
        accounts: BTreeMap::from([(AccountSlug::parse("acme").expect("slug"), Role::Member)]),
        user_id: None,
    };
    let assertion = login
        .assertion(&identity, now, &OsRandom)
        .await
        .expect("demo assertion");
    let sign_in = fixture(
        "sign-in",
        &[("LOGIN_ASSERTION", &assertion), ("ACCOUNT", "acme")],
    );
    let events = VecDeque::from([
        ("first-sign-in".to_owned(), sign_in.clone()),
        ("replayed-sign-in".to_owned(), sign_in),
        ("jwks-event".to_owned(), fixture("jwks", &[])),
    ]);
    let expected = events.len();
    let (outcomes, mut received) = mpsc::unbounded_channel();
    let api = Arc::new(RuntimeApi {
        events: Mutex::new(events),
        outcomes,
    });
    configure_lambda(start_runtime_api(api).await);

    // The future of `run` is not `Send`, so it runs on this thread beside the loop that
    // collects the responses. It never returns, and stops when the `LocalSet` is dropped.
    let function = tokio::task::LocalSet::new();
    function.spawn_local(run(Operation::SignIn));
    let mut responses = HashMap::new();
    function
        .run_until(async {
            while responses.len() < expected {
                let received = tokio::time::timeout(RESPONSE_TIMEOUT, received.recv()).await;
                let (invocation_id, outcome) = received
                    .expect("the function responds within the timeout")
                    .expect("the runtime API is still running");
                let response =
                    outcome.unwrap_or_else(|error| panic!("{invocation_id} failed: {error}"));
                responses.insert(invocation_id, response);
            }
        })
        .await;
    drop(function);

    let first = &responses["first-sign-in"];
    assert_eq!(first["statusCode"], 200, "{first}");
    assert_eq!(first["isBase64Encoded"], false, "{first}");
    assert_eq!(
        first["headers"]["content-type"], "application/json",
        "{first}"
    );
    let body = response_body(first);
    assert_eq!(body["status"], "authenticated", "{body}");
    assert_eq!(body["session"]["token_type"], "Bearer", "{body}");

    let replayed = &responses["replayed-sign-in"];
    assert_eq!(
        replayed["statusCode"], 401,
        "the assertion id is spent in DynamoDB: {replayed}"
    );
    assert_eq!(response_body(replayed)["error"]["code"], "unauthenticated");

    let other_route = &responses["jwks-event"];
    assert_eq!(other_route["statusCode"], 404, "{other_route}");
    assert_eq!(response_body(other_route)["error"]["code"], "not_found");
}
