//! Lambda function of the `change_enforcement` operation: `PUT /v1/accounts/{slug}/settings/security`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::ChangeEnforcement).await
}
