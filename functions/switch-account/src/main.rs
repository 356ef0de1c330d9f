//! Lambda function of the `switch_account` operation: `POST /v1/sessions/switch`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::SwitchAccount).await
}
