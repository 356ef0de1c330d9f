//! Lambda function of the `answer_challenge` operation: `POST /v1/sessions/mfa`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::AnswerChallenge).await
}
