//! Lambda function of the `confirm_enrollment` operation: `POST /v1/me/mfa/enrollment/confirm`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::ConfirmEnrollment).await
}
