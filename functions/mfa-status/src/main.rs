//! Lambda function of the `mfa_status` operation: `GET /v1/me/mfa`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::MfaStatus).await
}
