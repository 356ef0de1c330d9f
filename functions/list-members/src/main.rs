//! Lambda function of the `list_members` operation: `GET /v1/accounts/{slug}/members`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::ListMembers).await
}
