//! Lambda function of the `regenerate_backup_codes` operation: `POST /v1/me/mfa/backup-codes`.

use mfa_lambda::Operation;

#[tokio::main]
async fn main() -> Result<(), mfa_lambda::Error> {
    mfa_lambda::run(Operation::RegenerateBackupCodes).await
}
