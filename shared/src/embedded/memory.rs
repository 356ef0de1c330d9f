//! The in-memory store: the embedded default of `mfa-local` and the fast test double.
//!
//! One mutex guards all state, so every trait method is atomic, which is the property the
//! DynamoDB adapter gets from conditional writes and transactions.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use tokio::sync::Mutex;

use crate::domain::lockout::Failures;
use crate::domain::model::{AccountSlug, UserId};
use crate::ports::{
    AccountSettings, Activation, AuditEvent, FactorRecord, MemberRecord, PendingEnrollment, Proof,
    ProofEffect, SessionRecord, SignIn, SignInGrant, Store, StoreError, TicketRecord,
};

#[derive(Debug, Default)]
struct State {
    assertion_ids: HashMap<String, u64>,
    members: BTreeMap<(AccountSlug, UserId), MemberRecord>,
    settings: HashMap<AccountSlug, AccountSettings>,
    factors: HashMap<UserId, FactorRecord>,
    pending: HashMap<UserId, PendingEnrollment>,
    failures: HashMap<UserId, Failures>,
    tickets: HashMap<String, TicketRecord>,
    sessions: HashMap<String, SessionRecord>,
    epochs: HashMap<UserId, u64>,
    audit: Vec<AuditEvent>,
}

impl State {
    /// Records `jti` until `expires_at`, unless it is recorded and unexpired at `now`.
    /// Returns whether it was recorded now.
    fn consume_assertion_id(&mut self, jti: &str, expires_at: u64, now: u64) -> bool {
        if self
            .assertion_ids
            .get(jti)
            .is_some_and(|&until| until > now)
        {
            return false;
        }
        self.assertion_ids.retain(|_, until| *until > now);
        self.assertion_ids.insert(jti.to_owned(), expires_at);
        true
    }

    /// Checks a proof against the current factor without changing anything.
    fn proof_holds(&self, proof: &Proof) -> bool {
        let Some(factor) = self.factors.get(proof.user_id()) else {
            return false;
        };
        match proof {
            Proof::Totp {
                factor_id, step, ..
            } => factor.factor_id == *factor_id && factor.last_step < *step,
            Proof::BackupCode {
                factor_id,
                selector,
                ..
            } => {
                factor.factor_id == *factor_id
                    && factor
                        .backup_codes
                        .iter()
                        .any(|code| code.selector == *selector && code.used_at.is_none())
            }
        }
    }

    fn effect_holds(&self, proof: &Proof, effect: &ProofEffect) -> bool {
        match effect {
            ProofEffect::SignIn { ticket_hash, .. } => self.tickets.contains_key(ticket_hash),
            ProofEffect::ReplaceBackupCodes {
                expected_version, ..
            } => self
                .factors
                .get(proof.user_id())
                .is_some_and(|factor| factor.backup_version == *expected_version),
            ProofEffect::RemoveFactor => true,
        }
    }

    fn spend_proof(&mut self, proof: &Proof) {
        let Some(factor) = self.factors.get_mut(proof.user_id()) else {
            return;
        };
        match proof {
            Proof::Totp { step, .. } => factor.last_step = *step,
            Proof::BackupCode {
                selector, used_at, ..
            } => {
                if let Some(code) = factor
                    .backup_codes
                    .iter_mut()
                    .find(|code| code.selector == *selector)
                {
                    code.used_at = Some(*used_at);
                }
                factor.backup_version += 1;
            }
        }
    }
}

/// The in-memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// Creates an empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn consume_assertion_id(
        &self,
        jti: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        Ok(state.consume_assertion_id(jti, expires_at, now))
    }

    async fn complete_sign_in(&self, sign_in: &SignIn, now: u64) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        if !state.consume_assertion_id(&sign_in.jti, sign_in.expires_at, now) {
            return Ok(false);
        }
        for member in &sign_in.members {
            let key = (member.account.clone(), member.user_id.clone());
            state.members.insert(key, member.clone());
        }
        match &sign_in.grant {
            SignInGrant::Session(session) => {
                let record = session.as_ref().clone();
                state.sessions.insert(record.session_id.clone(), record);
            }
            SignInGrant::Ticket(ticket) => {
                state
                    .tickets
                    .insert(ticket.ticket_hash.clone(), ticket.clone());
            }
        }
        Ok(true)
    }

    async fn record_member(&self, member: &MemberRecord) -> Result<(), StoreError> {
        let mut state = self.state.lock().await;
        let key = (member.account.clone(), member.user_id.clone());
        state.members.insert(key, member.clone());
        Ok(())
    }

    async fn member(
        &self,
        account: &AccountSlug,
        user_id: &UserId,
    ) -> Result<Option<MemberRecord>, StoreError> {
        let state = self.state.lock().await;
        Ok(state
            .members
            .get(&(account.clone(), user_id.clone()))
            .cloned())
    }

    async fn members(&self, account: &AccountSlug) -> Result<Vec<MemberRecord>, StoreError> {
        let state = self.state.lock().await;
        Ok(state
            .members
            .values()
            .filter(|member| member.account == *account)
            .cloned()
            .collect())
    }

    async fn account_settings(&self, account: &AccountSlug) -> Result<AccountSettings, StoreError> {
        let state = self.state.lock().await;
        Ok(state
            .settings
            .get(account)
            .cloned()
            .unwrap_or_else(|| AccountSettings::unset(account)))
    }

    async fn put_account_settings(
        &self,
        settings: &AccountSettings,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut state = self.state.lock().await;
        state
            .settings
            .insert(settings.account.clone(), settings.clone());
        state.audit.push(audit.clone());
        Ok(())
    }

    async fn factor(&self, user_id: &UserId) -> Result<Option<FactorRecord>, StoreError> {
        Ok(self.state.lock().await.factors.get(user_id).cloned())
    }

    async fn put_pending_enrollment(&self, pending: &PendingEnrollment) -> Result<(), StoreError> {
        let mut state = self.state.lock().await;
        state
            .pending
            .insert(pending.user_id.clone(), pending.clone());
        Ok(())
    }

    async fn pending_enrollment(
        &self,
        user_id: &UserId,
    ) -> Result<Option<PendingEnrollment>, StoreError> {
        Ok(self.state.lock().await.pending.get(user_id).cloned())
    }

    async fn activate_factor(&self, activation: &Activation) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        let user_id = &activation.factor.user_id;
        let pending_matches = state
            .pending
            .get(user_id)
            .is_some_and(|pending| pending.enrollment_id == activation.enrollment_id);
        let ticket_unspent = activation
            .sign_in
            .as_ref()
            .is_none_or(|(ticket_hash, _)| state.tickets.contains_key(ticket_hash));
        if state.factors.contains_key(user_id) || !pending_matches || !ticket_unspent {
            return Ok(false);
        }

        state
            .factors
            .insert(user_id.clone(), activation.factor.clone());
        state.pending.remove(user_id);
        if let Some((ticket_hash, session)) = &activation.sign_in {
            state.tickets.remove(ticket_hash);
            state
                .sessions
                .insert(session.session_id.clone(), session.clone());
        }
        state.failures.remove(user_id);
        state.audit.push(activation.audit.clone());
        Ok(true)
    }

    async fn complete_proof(
        &self,
        proof: &Proof,
        effect: &ProofEffect,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        if !state.proof_holds(proof) || !state.effect_holds(proof, effect) {
            return Ok(false);
        }

        state.spend_proof(proof);
        let user_id = proof.user_id().clone();
        match effect {
            ProofEffect::SignIn {
                ticket_hash,
                session,
            } => {
                state.tickets.remove(ticket_hash);
                state
                    .sessions
                    .insert(session.session_id.clone(), (**session).clone());
            }
            ProofEffect::ReplaceBackupCodes { codes, .. } => {
                if let Some(factor) = state.factors.get_mut(&user_id) {
                    factor.backup_codes = codes.clone();
                    factor.backup_version += 1;
                }
            }
            ProofEffect::RemoveFactor => {
                state.factors.remove(&user_id);
            }
        }
        state.failures.remove(&user_id);
        state.audit.extend(audit.iter().cloned());
        Ok(true)
    }

    async fn failures(&self, user_id: &UserId) -> Result<Failures, StoreError> {
        let state = self.state.lock().await;
        Ok(state.failures.get(user_id).cloned().unwrap_or_default())
    }

    async fn record_failure(
        &self,
        user_id: &UserId,
        now: u64,
        reuse: Option<&AuditEvent>,
        lockout: &AuditEvent,
    ) -> Result<Failures, StoreError> {
        let mut state = self.state.lock().await;
        let current = state.failures.get(user_id).cloned().unwrap_or_default();
        let next = current.after_failure(now);
        state.failures.insert(user_id.clone(), next.clone());
        if let Some(reuse) = reuse {
            state.audit.push(reuse.clone());
        }
        if next.started_lockout(&current, now) {
            state.audit.push(lockout.clone());
        }
        Ok(next)
    }

    async fn put_ticket(&self, ticket: &TicketRecord) -> Result<(), StoreError> {
        let mut state = self.state.lock().await;
        state
            .tickets
            .insert(ticket.ticket_hash.clone(), ticket.clone());
        Ok(())
    }

    async fn ticket(&self, ticket_hash: &str) -> Result<Option<TicketRecord>, StoreError> {
        Ok(self.state.lock().await.tickets.get(ticket_hash).cloned())
    }

    async fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        let mut state = self.state.lock().await;
        state
            .sessions
            .insert(session.session_id.clone(), session.clone());
        Ok(())
    }

    async fn session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.state.lock().await.sessions.get(session_id).cloned())
    }

    async fn session_epoch(&self, user_id: &UserId) -> Result<u64, StoreError> {
        Ok(self
            .state
            .lock()
            .await
            .epochs
            .get(user_id)
            .copied()
            .unwrap_or(0))
    }

    async fn rotate_refresh(
        &self,
        session_id: &str,
        presented_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        let Some(session) = state.sessions.get_mut(session_id) else {
            return Ok(false);
        };
        if session.revoked_at.is_some() || session.refresh_hash != presented_hash {
            return Ok(false);
        }
        session
            .previous_refresh_hashes
            .push(presented_hash.to_owned());
        session.refresh_hash = new_hash.to_owned();
        Ok(true)
    }

    async fn revoke_session(&self, session_id: &str, now: u64) -> Result<(), StoreError> {
        let mut state = self.state.lock().await;
        if let Some(session) = state.sessions.get_mut(session_id) {
            session.revoked_at.get_or_insert(now);
        }
        Ok(())
    }

    async fn end_session_with_ticket(
        &self,
        session_id: &str,
        presented_hash: &str,
        now: u64,
        ticket: &TicketRecord,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        let Some(session) = state.sessions.get_mut(session_id) else {
            return Ok(false);
        };
        if session.revoked_at.is_some() || session.refresh_hash != presented_hash {
            return Ok(false);
        }
        session.revoked_at = Some(now);
        state
            .tickets
            .insert(ticket.ticket_hash.clone(), ticket.clone());
        Ok(true)
    }

    async fn replace_session(
        &self,
        old_session_id: &str,
        session: &SessionRecord,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut state = self.state.lock().await;
        let Some(old) = state.sessions.get_mut(old_session_id) else {
            return Ok(false);
        };
        if old.revoked_at.is_some() {
            return Ok(false);
        }
        old.revoked_at = Some(now);
        state
            .sessions
            .insert(session.session_id.clone(), session.clone());
        Ok(true)
    }

    async fn reset_user(&self, user_id: &UserId, audit: &AuditEvent) -> Result<(), StoreError> {
        let mut state = self.state.lock().await;
        state.factors.remove(user_id);
        state.pending.remove(user_id);
        *state.epochs.entry(user_id.clone()).or_insert(0) += 1;
        state.audit.push(audit.clone());
        Ok(())
    }

    async fn audit_events(&self, user_id: &UserId) -> Result<Vec<AuditEvent>, StoreError> {
        let state = self.state.lock().await;
        Ok(state
            .audit
            .iter()
            .filter(|event| event.target == *user_id)
            .cloned()
            .collect())
    }
}
