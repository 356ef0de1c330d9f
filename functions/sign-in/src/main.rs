//! Lambda function of the `sign_in` operation: `POST /v1/sessions`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::SignIn).await
}
