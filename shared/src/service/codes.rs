//! Checking second-factor codes: lockout, TOTP against the stored secret, backup codes
//! against their one selected hash, and counting failures.

use zeroize::Zeroizing;

use super::auth::audit;
use super::App;
use crate::domain::backup::BackupCode;
use crate::domain::model::{AccountSlug, UserId};
use crate::domain::totp::{self, TotpCode, TotpSecret, Verification};
use crate::error::ApiError;
use crate::ports::{AuditAction, EncryptionContext, FactorRecord, KeyError};

/// Refuses every code attempt while the user is locked out.
///
/// # Errors
/// 429 with the seconds to wait.
pub async fn check_lockout(app: &App, user_id: &UserId) -> Result<(), ApiError> {
    let failures = app.store.failures(user_id).await?;
    match failures.retry_after(app.clock.now()) {
        Some(retry_after) => Err(ApiError::TooManyAttempts { retry_after }),
        None => Ok(()),
    }
}

/// Decrypts a TOTP secret stored for `user_id` and `factor_id`. A ciphertext that does not
/// belong to them (moved from another user's item) yields `None`: the attempt is refused.
///
/// # Errors
/// 503 when the key service fails.
pub async fn open_secret(
    app: &App,
    user_id: &UserId,
    factor_id: &str,
    ciphertext: &[u8],
) -> Result<Option<TotpSecret>, ApiError> {
    let context = EncryptionContext::totp(user_id, factor_id);
    match app.cipher.decrypt(ciphertext, &context).await {
        Ok(plaintext) => {
            let bytes = Zeroizing::new(plaintext.to_vec());
            Ok(TotpSecret::from_bytes(bytes.to_vec()).ok())
        }
        Err(KeyError::Rejected) => {
            tracing::error!(user_id = %user_id, factor_id, "stored TOTP ciphertext rejected by its encryption context");
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

/// Checks a TOTP code against the user's factor at the current time.
///
/// # Errors
/// 503 when the key service fails.
pub async fn verify_totp(
    app: &App,
    factor: &FactorRecord,
    code: &TotpCode,
) -> Result<Verification, ApiError> {
    let Some(secret) =
        open_secret(app, &factor.user_id, &factor.factor_id, &factor.ciphertext).await?
    else {
        return Ok(Verification::Rejected);
    };
    Ok(totp::verify(
        &secret,
        code,
        app.clock.now(),
        Some(factor.last_step),
    ))
}

/// The result of checking a backup code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupCheck {
    /// The code matches an unspent code with this selector.
    Matched { selector: String },
    /// The code matches a code that was already spent.
    Spent,
    /// The code matches nothing.
    NoMatch,
}

/// Checks a backup code with exactly one Argon2id evaluation, off the async runtime.
///
/// # Errors
/// 500 if the blocking task panics.
pub async fn check_backup_code(
    app: &App,
    factor: &FactorRecord,
    code: BackupCode,
) -> Result<BackupCheck, ApiError> {
    let stored = factor
        .backup_codes
        .iter()
        .find(|stored| stored.selector == code.selector())
        .cloned();
    let hasher = app.hasher.clone();
    tokio::task::spawn_blocking(move || {
        let matches = hasher.verify(&code, stored.as_ref().map(|s| s.phc.as_str()));
        match stored {
            Some(stored) if matches && stored.used_at.is_none() => BackupCheck::Matched {
                selector: stored.selector,
            },
            Some(_) if matches => BackupCheck::Spent,
            _ => BackupCheck::NoMatch,
        }
    })
    .await
    .map_err(|error| ApiError::Internal(format!("backup code check task failed: {error}")))
}

/// Counts a failed attempt. A replayed code is also audited, and so is the failure that
/// starts a lockout, in the same write.
///
/// # Errors
/// 503 when the store fails.
pub async fn record_failure(
    app: &App,
    user_id: &UserId,
    account: Option<&AccountSlug>,
    replayed: bool,
) -> Result<(), ApiError> {
    let reuse = replayed.then(|| {
        audit(
            app,
            AuditAction::CodeReuseRejected,
            user_id,
            user_id,
            account,
        )
    });
    let lockout = audit(app, AuditAction::LockedOut, user_id, user_id, account);
    let now = app.clock.now();
    let failures = app
        .store
        .record_failure(user_id, now, reuse.as_ref(), &lockout)
        .await?;
    if let Some(retry_after) = failures.retry_after(now) {
        tracing::warn!(user_id = %user_id, failures = failures.count, retry_after, "second-factor lockout in force");
    }
    Ok(())
}
