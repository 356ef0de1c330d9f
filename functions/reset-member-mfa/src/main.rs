//! Lambda function of the `reset_member_mfa` operation: `DELETE /v1/accounts/{slug}/members/{user_id}/mfa`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::ResetMemberMfa).await
}
