//! Dashboard MFA on AWS Lambda. Each function serves one operation of the HTTP API behind
//! an API Gateway HTTP API (payload format 2.0), and [`handle`] adapts one event to
//! [`mfa_shared::http::serve`].

mod convert;

use mfa_shared::random::random_id;
use mfa_shared::App;

pub use mfa_shared::Operation;

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
