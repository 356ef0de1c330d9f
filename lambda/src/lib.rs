//! Dashboard MFA on AWS Lambda. Each function serves one operation of the HTTP API behind
//! an API Gateway HTTP API (payload format 2.0). The function's `main` calls [`run`], and
//! [`handle`] adapts each event to [`mfa_shared::http::serve`].

mod convert;

use std::convert::Infallible;

use lambda_http::service_fn;
use mfa_aws::AwsSettings;
use mfa_shared::config::Config;
use mfa_shared::random::random_id;
use mfa_shared::App;

pub use lambda_http::Error;
pub use mfa_shared::Operation;

/// Starts the function of `operation`. The configuration, the AWS clients and the public
/// key of the access-token signing key are read once per cold start. Then the Lambda
/// runtime serves events with [`handle`] until the execution environment shuts down.
///
/// The future is not `Send`, so await it directly, as `#[tokio::main]` does, rather than
/// spawn it.
///
/// # Errors
/// Returns the error, after logging it, when a configuration variable is missing or
/// invalid (the message names it), when the AWS parts cannot be built, or when the Lambda
/// runtime fails.
pub async fn run(operation: Operation) -> Result<(), Error> {
    mfa_shared::telemetry::init();

    let app = match build_app().await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(
                operation = operation.name(),
                error = %error,
                "start-up failed"
            );
            return Err(error);
        }
    };
    tracing::info!(operation = operation.name(), "function started");

    let app = &app;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, Infallible>(handle(app, operation, request).await)
    }))
    .await
}

/// Builds the application from the environment and the AWS adapters.
async fn build_app() -> Result<App, Error> {
    let config = Config::from_env()?;
    let settings = AwsSettings::from_env()?;
    let parts = mfa_aws::build_parts(&settings).await?;
    Ok(App::new(parts, &config))
}

/// Serves one API Gateway event with the handler of `operation`. An event for another
/// operation's route gets 404: API Gateway sends one only when a route points at the
/// wrong function.
///
/// The request id in logs is the API Gateway `requestContext.requestId`, so a log line can
/// be matched to the API Gateway access log. An event without one gets a random id.
pub async fn handle(
    app: &App,
    operation: Operation,
    request: lambda_http::Request,
) -> lambda_http::Response<lambda_http::Body> {
    let request_id =
        convert::gateway_request_id(&request).unwrap_or_else(|| random_id(app.random.as_ref()));
    let request = convert::into_core_request(request);

    let response = mfa_shared::http::serve(app, Some(operation), request, &request_id).await;

    convert::into_lambda_response(response)
}
