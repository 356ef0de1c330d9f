//! Lambda function of the `jwks` operation: `GET /.well-known/jwks.json`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::Jwks).await
}
