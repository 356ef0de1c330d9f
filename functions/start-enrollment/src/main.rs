//! Lambda function of the `start_enrollment` operation: `POST /v1/me/mfa/enrollment`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::StartEnrollment).await
}
