//! Ports: the traits that storage and key management sit behind, and the records they keep.
//!
//! The store's methods are whole domain operations, not generic reads and writes, so each
//! adapter can make every single-use check one conditional write or one transaction (see
//! the `# Atomicity` notes). Reads that decide security must be strongly consistent.
//! Adapters: [`crate::embedded`] (in memory, for `mfa-local` and tests) and the AWS ones.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use p256::ecdsa::VerifyingKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::domain::backup::StoredBackupCode;
use crate::domain::lockout::Failures;
use crate::domain::model::{AccountSlug, LoginMethod, Role, UserId};
use crate::domain::policy::Aal;

/// A storage failure. Every variant means the operation did not take effect.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing store failed or timed out; retrying the request is safe.
    #[error("{operation} failed")]
    Unavailable {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored item could not be decoded.
    #[error("stored item is malformed: {0}")]
    Malformed(String),
}

/// A key-management failure.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key service failed or timed out; retrying the request is safe.
    #[error("{operation} failed")]
    Unavailable {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The ciphertext does not decrypt under this encryption context: it was altered or
    /// moved from another user's item.
    #[error("ciphertext rejected for this encryption context")]
    Rejected,
}

/// A member of an account as this service last saw them at sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub account: AccountSlug,
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub last_sign_in: u64,
}

/// An account's security settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSettings {
    pub account: AccountSlug,
    pub require_mfa: bool,
    pub updated_at: Option<u64>,
    pub updated_by: Option<UserId>,
}

impl AccountSettings {
    /// Returns the default settings of an unconfigured account: MFA not required.
    pub fn unset(account: &AccountSlug) -> Self {
        Self {
            account: account.clone(),
            require_mfa: false,
            updated_at: None,
            updated_by: None,
        }
    }
}

/// A member's active factor with their backup codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorRecord {
    pub user_id: UserId,
    pub factor_id: String,
    /// The TOTP secret encrypted under [`EncryptionContext::totp`] for this user and factor.
    pub ciphertext: Vec<u8>,
    /// The last time step accepted; codes at or before it are replays.
    pub last_step: u64,
    pub enrolled_at: u64,
    pub backup_codes: Vec<StoredBackupCode>,
    /// Incremented by every backup-code use and regeneration, so a regeneration can
    /// require that no code was spent since it read the set.
    pub backup_version: u64,
}

impl FactorRecord {
    /// Returns how many backup codes are unspent.
    pub fn backup_codes_remaining(&self) -> usize {
        self.backup_codes
            .iter()
            .filter(|code| code.used_at.is_none())
            .count()
    }
}

/// An enrollment that was started but not confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEnrollment {
    pub user_id: UserId,
    pub enrollment_id: String,
    pub ciphertext: Vec<u8>,
    pub created_at: u64,
    pub expires_at: u64,
}

/// The one step an MFA ticket is valid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketPurpose {
    /// Answering a challenge with a TOTP or backup code.
    Challenge,
    /// Enrolling a factor when the account requires one.
    Enrollment,
}

/// A ticket, stored under the SHA-256 hash of the token the client holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRecord {
    pub ticket_hash: String,
    pub purpose: TicketPurpose,
    pub user_id: UserId,
    pub email: String,
    pub account: AccountSlug,
    pub role: Role,
    pub accounts: BTreeMap<AccountSlug, Role>,
    pub login_method: LoginMethod,
    pub created_at: u64,
    pub expires_at: u64,
}

/// A session: what the refresh token continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: String,
    pub user_id: UserId,
    pub email: String,
    pub account: AccountSlug,
    pub role: Role,
    /// Every account of the login assertion, for switching.
    pub accounts: BTreeMap<AccountSlug, Role>,
    pub login_method: LoginMethod,
    pub amr: Vec<String>,
    pub aal: Aal,
    /// SHA-256 of the current refresh token's secret.
    pub refresh_hash: String,
    /// Hashes of rotated refresh tokens; presenting one revokes the session.
    pub previous_refresh_hashes: Vec<String>,
    /// The user's session epoch when the session began; an admin reset raises the epoch
    /// and so ends every older session.
    pub epoch: u64,
    pub created_at: u64,
    pub expires_at: u64,
    pub revoked_at: Option<u64>,
}

/// The action an audit event records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AuditAction {
    Enrolled,
    Disabled,
    Reset,
    BackupCodeUsed,
    BackupCodesRegenerated,
    EnforcementChanged { require_mfa: bool },
    LockedOut,
    CodeReuseRejected,
}

/// One audit record: what happened, when, who did it and to whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: String,
    pub at: u64,
    #[serde(flatten)]
    pub action: AuditAction,
    pub actor: UserId,
    pub target: UserId,
    pub account: Option<AccountSlug>,
}

/// Proof of a second factor, spent by the same write as its effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A TOTP code matched `step`: the write requires `last_step < step` and sets it.
    Totp {
        user_id: UserId,
        factor_id: String,
        step: u64,
    },
    /// A backup code matched: the write requires the code with `selector` to be unspent.
    BackupCode {
        user_id: UserId,
        factor_id: String,
        selector: String,
        used_at: u64,
    },
}

impl Proof {
    /// Returns the user the proof belongs to.
    pub fn user_id(&self) -> &UserId {
        match self {
            Self::Totp { user_id, .. } | Self::BackupCode { user_id, .. } => user_id,
        }
    }
}

/// The change that spending a proof of the second factor makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofEffect {
    /// Spend the ticket and start the session.
    SignIn {
        ticket_hash: String,
        session: Box<SessionRecord>,
    },
    /// Replace the whole backup set, provided no code was spent since `expected_version`.
    ReplaceBackupCodes {
        expected_version: u64,
        codes: Vec<StoredBackupCode>,
    },
    /// Delete the factor and its backup codes.
    RemoveFactor,
}

/// The session or ticket that a sign-in hands out once its login assertion is spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInGrant {
    /// A session, issued at once.
    Session(Box<SessionRecord>),
    /// A ticket for the second step: a challenge or an enrollment.
    Ticket(TicketRecord),
}

/// Everything that a sign-in writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// The login assertion's `jti`, recorded until `expires_at` so that it is accepted once.
    pub jti: String,
    pub expires_at: u64,
    /// The caller's membership of each account that the assertion lists.
    pub members: Vec<MemberRecord>,
    pub grant: SignInGrant,
}

/// Everything that confirming an enrollment changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    pub factor: FactorRecord,
    pub enrollment_id: String,
    /// For a forced enrollment: the ticket to spend and the session to start.
    pub sign_in: Option<(String, SessionRecord)>,
    pub audit: AuditEvent,
}

/// State storage. Every method either takes full effect or none.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Records a login assertion's `jti` until `expires_at`.
    /// Returns `false` when it was already recorded and has not expired at `now`.
    ///
    /// # Atomicity
    /// One conditional write: of parallel calls with one `jti`, exactly one returns `true`.
    async fn consume_assertion_id(
        &self,
        jti: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError>;

    /// Records the login assertion id of `sign_in`, the members and the session or ticket.
    /// Returns `false`, changing nothing, when the id was already recorded and has not
    /// expired at `now`.
    ///
    /// # Atomicity
    /// One transaction, so a sign-in that fails leaves its assertion usable for a retry.
    /// Of parallel calls with one assertion id, exactly one returns `true`.
    async fn complete_sign_in(&self, sign_in: &SignIn, now: u64) -> Result<bool, StoreError>;

    /// Creates or updates a member of an account.
    async fn record_member(&self, member: &MemberRecord) -> Result<(), StoreError>;

    /// Returns one member of an account.
    async fn member(
        &self,
        account: &AccountSlug,
        user_id: &UserId,
    ) -> Result<Option<MemberRecord>, StoreError>;

    /// Returns every member of an account, ordered by user id.
    async fn members(&self, account: &AccountSlug) -> Result<Vec<MemberRecord>, StoreError>;

    /// Returns an account's settings, or [`AccountSettings::unset`].
    async fn account_settings(&self, account: &AccountSlug) -> Result<AccountSettings, StoreError>;

    /// Writes an account's settings and the audit event in one write.
    async fn put_account_settings(
        &self,
        settings: &AccountSettings,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;

    /// Returns a user's active factor.
    async fn factor(&self, user_id: &UserId) -> Result<Option<FactorRecord>, StoreError>;

    /// Stores a pending enrollment, replacing any earlier one of the user.
    async fn put_pending_enrollment(&self, pending: &PendingEnrollment) -> Result<(), StoreError>;

    /// Returns a user's pending enrollment.
    async fn pending_enrollment(
        &self,
        user_id: &UserId,
    ) -> Result<Option<PendingEnrollment>, StoreError>;

    /// Activates a factor. Returns `false`, changing nothing, when the user already has a
    /// factor, the pending enrollment is not `enrollment_id`, or the ticket was spent.
    ///
    /// # Atomicity
    /// One transaction: put the factor, delete the pending enrollment, spend the ticket and
    /// start the session (when forced), clear the failure count, write the audit event.
    async fn activate_factor(&self, activation: &Activation) -> Result<bool, StoreError>;

    /// Spends a proof of the second factor on `effect`, clears the failure count and writes
    /// `audit`. Returns `false`, changing nothing, when the proof is stale (step already
    /// used, code spent, factor gone or replaced) or the effect's condition fails.
    ///
    /// # Atomicity
    /// One transaction: of parallel calls with one step or one backup code, at most one
    /// returns `true`.
    async fn complete_proof(
        &self,
        proof: &Proof,
        effect: &ProofEffect,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;

    /// Returns a user's failure count.
    async fn failures(&self, user_id: &UserId) -> Result<Failures, StoreError>;

    /// Counts one failed attempt at `now` and returns the new count. Writes `reuse` when
    /// the failure was a replayed code, and `lockout` when this failure starts a lockout.
    ///
    /// # Atomicity
    /// Atomic: n parallel calls raise the count by n.
    async fn record_failure(
        &self,
        user_id: &UserId,
        now: u64,
        reuse: Option<&AuditEvent>,
        lockout: &AuditEvent,
    ) -> Result<Failures, StoreError>;

    /// Stores a ticket.
    async fn put_ticket(&self, ticket: &TicketRecord) -> Result<(), StoreError>;

    /// Returns a ticket by hash, expired or not: callers check expiry.
    async fn ticket(&self, ticket_hash: &str) -> Result<Option<TicketRecord>, StoreError>;

    /// Stores a new session.
    async fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError>;

    /// Returns a session by id, revoked or not: callers check.
    async fn session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError>;

    /// Returns a user's session epoch (0 until the first reset).
    async fn session_epoch(&self, user_id: &UserId) -> Result<u64, StoreError>;

    /// Rotates a session's refresh token. Returns `false` unless the session is live and
    /// its current hash is `presented_hash`.
    ///
    /// # Atomicity
    /// One conditional write: of parallel calls with one token, at most one returns `true`.
    async fn rotate_refresh(
        &self,
        session_id: &str,
        presented_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError>;

    /// Revokes a session at `now`. Idempotent.
    async fn revoke_session(&self, session_id: &str, now: u64) -> Result<(), StoreError>;

    /// Ends a session whose refresh now needs a second step, and stores that step's ticket.
    /// Returns `false`, changing nothing, unless the current hash is `presented_hash`.
    async fn end_session_with_ticket(
        &self,
        session_id: &str,
        presented_hash: &str,
        now: u64,
        ticket: &TicketRecord,
    ) -> Result<bool, StoreError>;

    /// Revokes `old_session_id` and stores `session` in one write (switching accounts).
    /// Returns `false`, changing nothing, when the old session is already revoked.
    async fn replace_session(
        &self,
        old_session_id: &str,
        session: &SessionRecord,
        now: u64,
    ) -> Result<bool, StoreError>;

    /// Deletes a user's factor, backup codes and pending enrollment, and ends every session
    /// by raising the session epoch, with the audit event, in one transaction.
    async fn reset_user(&self, user_id: &UserId, audit: &AuditEvent) -> Result<(), StoreError>;

    /// Returns the audit events whose target is `user_id`, oldest first.
    async fn audit_events(&self, user_id: &UserId) -> Result<Vec<AuditEvent>, StoreError>;
}

/// The encryption context bound to a TOTP secret's ciphertext: user, factor and purpose.
/// Decryption under any other context fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<&'static str, String>);

impl EncryptionContext {
    /// Returns the context of the TOTP secret of `factor_id` belonging to `user_id`.
    pub fn totp(user_id: &UserId, factor_id: &str) -> Self {
        Self(BTreeMap::from([
            ("factor_id", factor_id.to_owned()),
            ("purpose", "totp-secret".to_owned()),
            ("user_id", user_id.as_str().to_owned()),
        ]))
    }

    /// Returns the pairs, sorted by key.
    pub fn pairs(&self) -> &BTreeMap<&'static str, String> {
        &self.0
    }

    /// Returns a canonical byte encoding, used as AES-GCM associated data.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).expect("a map of strings always serialises")
    }
}

/// Symmetric encryption of TOTP secrets under an encryption context.
#[async_trait]
pub trait SecretCipher: Send + Sync + fmt::Debug {
    /// Encrypts `plaintext` bound to `context`.
    async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>, KeyError>;

    /// Decrypts `ciphertext` under `context`.
    ///
    /// # Errors
    /// [`KeyError::Rejected`] when the context differs from the one used to encrypt.
    async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError>;
}

/// ES256 signing of access tokens with a P-256 key.
#[async_trait]
pub trait TokenSigner: Send + Sync + fmt::Debug {
    /// Returns the key id placed in the JWT header and the JWKS.
    fn key_id(&self) -> &str;

    /// Returns the public key, read once when the signer is built.
    fn verifying_key(&self) -> &VerifyingKey;

    /// Signs `message` with ECDSA P-256 over SHA-256 and returns the 64-byte `r || s`.
    async fn sign(&self, message: &[u8]) -> Result<[u8; 64], KeyError>;
}
