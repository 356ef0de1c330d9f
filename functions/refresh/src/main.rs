//! Lambda function of the `refresh` operation: `POST /v1/sessions/refresh`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::Refresh).await
}
