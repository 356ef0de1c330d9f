//! Lambda function of the `sign_out` operation: `DELETE /v1/sessions/current`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::SignOut).await
}
