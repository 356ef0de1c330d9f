//! Lambda function of the `disable_mfa` operation: `DELETE /v1/me/mfa`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::DisableMfa).await
}
