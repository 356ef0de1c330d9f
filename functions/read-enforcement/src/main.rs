//! Lambda function of the `read_enforcement` operation: `GET /v1/accounts/{slug}/settings/security`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::ReadEnforcement).await
}
