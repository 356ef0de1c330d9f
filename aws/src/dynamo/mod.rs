//! [`DynamoStore`]: the [`Store`] port on one DynamoDB table.
//!
//! Every single-use thing (an assertion id, a TOTP step, a backup code, a ticket, a
//! refresh token) is consumed by one conditional write inside one `TransactWriteItems`.
//! That transaction also makes every change the consumption pays for, so there is never a
//! window between a check and its write. Audit events are written in the same transaction as the change
//! they describe. Every read is strongly consistent. The layout is in [`keys`] and
//! `docs/storage.md`.

mod codec;
mod keys;
mod table;
mod write;

use std::fmt;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use mfa_shared::domain::lockout::Failures;
use mfa_shared::domain::model::{AccountSlug, UserId};
use mfa_shared::ports::{
    AccountSettings, Activation, AuditEvent, FactorRecord, MemberRecord, PendingEnrollment, Proof,
    ProofEffect, SessionRecord, SignIn, SignInGrant, Store, StoreError, TicketRecord,
};

use self::codec::{number, string, string_list, Item};
use self::keys::{Key, AUDIT_PREFIX, EXPIRES_AT, MEMBER_PREFIX, PK};
use self::write::{backoff, delete, put, transact, unavailable, Expr};
use crate::init::InitError;
use crate::sdk_error::SdkFailure;

pub(crate) use self::table::{create_table, describe_table};

/// Optimistic attempts of `record_failure` before it reports the store unavailable. Each
/// lost attempt means another failure of the same user was counted in between, so this
/// bounds how many parallel failures one call waits behind.
const FAILURE_ATTEMPTS: u32 = 100;

/// Maximum number of writes in one `TransactWriteItems` call, a DynamoDB limit.
const MAX_TRANSACTION_WRITES: usize = 100;

/// The DynamoDB store. Cloning is cheap: the SDK client is shared.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl DynamoStore {
    /// Creates a store on `table` with an existing client.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Returns the table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table unless it exists (on-demand capacity, TTL on `expires_at`) and
    /// waits until it is active. Returns whether it was created.
    ///
    /// # Errors
    /// [`InitError::Table`] when a call fails or the table has another key schema.
    pub async fn ensure_table(&self) -> Result<bool, InitError> {
        create_table(&self.client, &self.table).await
    }

    /// Reads one item with a strongly consistent `GetItem`.
    async fn get(&self, operation: &'static str, key: &Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.attributes()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| unavailable(operation, "GetItem", &error))?;
        Ok(output.item)
    }

    /// Reads every item of `partition` whose sort key starts with `prefix`, in sort-key
    /// order, with strongly consistent `Query` pages.
    async fn query_prefix(
        &self,
        operation: &'static str,
        partition: String,
        prefix: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", keys::SK)
                .expression_attribute_values(":pk", string(partition.as_str()))
                .expression_attribute_values(":prefix", string(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|error| unavailable(operation, "Query", &error))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// Writes one item with an unconditional `PutItem`, which is safe to retry.
    async fn put_item(&self, operation: &'static str, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|error| unavailable(operation, "PutItem", &error))?;
        Ok(())
    }

    fn put_audit(
        &self,
        operation: &'static str,
        event: &AuditEvent,
    ) -> Result<TransactWriteItem, StoreError> {
        put(
            operation,
            &self.table,
            codec::audit_item(event),
            None,
            Expr::new(),
        )
    }

    /// Builds the writes that every successful second factor makes besides its own: clear
    /// the failure count and record the audit events.
    fn success_writes(
        &self,
        operation: &'static str,
        user_id: &UserId,
        audit: &[AuditEvent],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut writes = vec![delete(
            operation,
            &self.table,
            &Key::failures(user_id),
            None,
            Expr::new(),
        )?];
        for event in audit {
            writes.push(self.put_audit(operation, event)?);
        }
        Ok(writes)
    }

    /// Builds the one write on the factor item that spends `proof` and applies the part
    /// of `effect` that concerns the factor. DynamoDB allows one action per item in a
    /// transaction, so proof and effect share this write and its condition.
    fn factor_write(
        &self,
        proof: &Proof,
        effect: &ProofEffect,
    ) -> Result<TransactWriteItem, StoreError> {
        const OPERATION: &str = "DynamoDB complete_proof";
        let key = Key::factor(proof.user_id());
        let (proof_condition, mut expr) = match proof {
            Proof::Totp { factor_id, step, .. } => (
                "#factor_id = :factor_id AND #last_step < :step",
                Expr::new()
                    .name("#factor_id", "factor_id")
                    .name("#last_step", "last_step")
                    .value(":factor_id", string(factor_id.as_str()))
                    .value(":step", number(*step)),
            ),
            Proof::BackupCode {
                factor_id, selector, ..
            } => (
                "#factor_id = :factor_id AND attribute_exists(#codes.#selector) AND attribute_not_exists(#codes.#selector.#used_at)",
                Expr::new()
                    .name("#factor_id", "factor_id")
                    .name("#codes", "backup_codes")
                    .name("#selector", selector.as_str())
                    .name("#used_at", "used_at")
                    .value(":factor_id", string(factor_id.as_str())),
            ),
        };

        match effect {
            ProofEffect::RemoveFactor => {
                delete(OPERATION, &self.table, &key, Some(proof_condition), expr)
            }
            ProofEffect::SignIn { .. } => {
                let update_expression = match proof {
                    Proof::Totp { .. } => "SET #last_step = :step",
                    Proof::BackupCode { used_at, .. } => {
                        expr = expr
                            .name("#version", "backup_version")
                            .value(":used_at", number(*used_at))
                            .value(":one", number(1));
                        "SET #codes.#selector.#used_at = :used_at, #version = #version + :one"
                    }
                };
                write::update(
                    OPERATION,
                    &self.table,
                    &key,
                    update_expression,
                    Some(proof_condition),
                    expr,
                )
            }
            ProofEffect::ReplaceBackupCodes {
                expected_version,
                codes,
            } => {
                let (code_map, order) = codec::backup_attributes(codes);
                expr = expr
                    .name("#codes", "backup_codes")
                    .name("#order", "backup_order")
                    .name("#version", "backup_version")
                    .value(":codes", code_map)
                    .value(":order", order)
                    .value(":expected_version", number(*expected_version));
                // A spent backup code counts as one more change of the set, as in the
                // in-memory store: the version rises once for the proof, once for the
                // replacement.
                let update_expression = match proof {
                    Proof::Totp { .. } => {
                        expr = expr.value(":increment", number(1));
                        "SET #last_step = :step, #codes = :codes, #order = :order, #version = #version + :increment"
                    }
                    Proof::BackupCode { .. } => {
                        expr = expr.value(":increment", number(2));
                        "SET #codes = :codes, #order = :order, #version = #version + :increment"
                    }
                };
                let condition = format!("{proof_condition} AND #version = :expected_version");
                write::update(
                    OPERATION,
                    &self.table,
                    &key,
                    update_expression,
                    Some(&condition),
                    expr,
                )
            }
        }
    }

    /// Builds the write that records a login assertion's `jti` until `expires_at`, on the
    /// condition that it is not recorded or expired at `now`.
    fn assertion_write(
        &self,
        operation: &'static str,
        jti: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = Key::assertion(jti).attributes();
        item.insert(EXPIRES_AT.to_owned(), number(expires_at));
        put(
            operation,
            &self.table,
            item,
            Some("attribute_not_exists(#pk) OR #expires_at <= :now"),
            Expr::new()
                .name("#pk", PK)
                .name("#expires_at", EXPIRES_AT)
                .value(":now", number(now)),
        )
    }

    /// Builds the writes that spend a ticket and start the session it pays for.
    fn sign_in_writes(
        &self,
        operation: &'static str,
        ticket_hash: &str,
        session: &SessionRecord,
    ) -> Result<[TransactWriteItem; 2], StoreError> {
        let spend_ticket = delete(
            operation,
            &self.table,
            &Key::ticket(ticket_hash),
            Some("attribute_exists(#pk)"),
            Expr::new().name("#pk", PK),
        )?;
        let start_session = put(
            operation,
            &self.table,
            codec::session_item(session),
            None,
            Expr::new(),
        )?;
        Ok([spend_ticket, start_session])
    }

    /// Makes one optimistic attempt at counting a failure. Returns the new count, or
    /// `None` when the count changed since it was read.
    async fn try_record_failure(
        &self,
        user_id: &UserId,
        now: u64,
        reuse: Option<&AuditEvent>,
        lockout: &AuditEvent,
    ) -> Result<Option<Failures>, StoreError> {
        const OPERATION: &str = "DynamoDB record_failure";
        let current = self
            .get(OPERATION, &Key::failures(user_id))
            .await?
            .map(|item| codec::failures_record(&item))
            .transpose()?;
        let previous = current.clone().unwrap_or_default();
        let next = previous.after_failure(now);
        let item = codec::failures_item(user_id, &next);
        let count_write = match current {
            None => put(
                OPERATION,
                &self.table,
                item,
                Some("attribute_not_exists(#pk)"),
                Expr::new().name("#pk", PK),
            )?,
            Some(current) => put(
                OPERATION,
                &self.table,
                item,
                Some("#count = :count AND #last_failure = :last_failure"),
                Expr::new()
                    .name("#count", "count")
                    .name("#last_failure", "last_failure")
                    .value(":count", number(u64::from(current.count)))
                    .value(":last_failure", number(current.last_failure())),
            )?,
        };
        let mut writes = vec![count_write];
        if let Some(reuse) = reuse {
            writes.push(self.put_audit(OPERATION, reuse)?);
        }
        if next.started_lockout(&previous, now) {
            writes.push(self.put_audit(OPERATION, lockout)?);
        }
        Ok(transact(&self.client, OPERATION, writes)
            .await?
            .then_some(next))
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn consume_assertion_id(
        &self,
        jti: &str,
        expires_at: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "DynamoDB consume_assertion_id";
        let record = self.assertion_write(OPERATION, jti, expires_at, now)?;
        transact(&self.client, OPERATION, vec![record]).await
    }

    /// Writes the assertion id, the session or ticket and the members in one transaction.
    async fn complete_sign_in(&self, sign_in: &SignIn, now: u64) -> Result<bool, StoreError> {
        const OPERATION: &str = "DynamoDB complete_sign_in";
        let grant = match &sign_in.grant {
            SignInGrant::Session(session) => codec::session_item(session),
            SignInGrant::Ticket(ticket) => codec::ticket_item(ticket),
        };
        let mut writes = vec![
            self.assertion_write(OPERATION, &sign_in.jti, sign_in.expires_at, now)?,
            put(OPERATION, &self.table, grant, None, Expr::new())?,
        ];
        let room = MAX_TRANSACTION_WRITES - writes.len();
        let (inside, beyond) = sign_in.members.split_at(sign_in.members.len().min(room));
        // NOTE: members beyond what fits in one transaction are written first, on their
        // own, so a sign-in that fails or is replayed can leave those records updated.
        // Only an assertion that lists more than 98 accounts has such members.
        for member in beyond {
            self.put_item(OPERATION, codec::member_item(member)).await?;
        }
        for member in inside {
            let item = codec::member_item(member);
            writes.push(put(OPERATION, &self.table, item, None, Expr::new())?);
        }
        transact(&self.client, OPERATION, writes).await
    }

    async fn record_member(&self, member: &MemberRecord) -> Result<(), StoreError> {
        self.put_item("DynamoDB record_member", codec::member_item(member))
            .await
    }

    async fn member(
        &self,
        account: &AccountSlug,
        user_id: &UserId,
    ) -> Result<Option<MemberRecord>, StoreError> {
        let item = self
            .get("DynamoDB member", &Key::member(account, user_id))
            .await?;
        item.map(|item| codec::member_record(&item)).transpose()
    }

    async fn members(&self, account: &AccountSlug) -> Result<Vec<MemberRecord>, StoreError> {
        let items = self
            .query_prefix(
                "DynamoDB members",
                keys::account_partition(account),
                MEMBER_PREFIX,
            )
            .await?;
        items.iter().map(codec::member_record).collect()
    }

    async fn account_settings(&self, account: &AccountSlug) -> Result<AccountSettings, StoreError> {
        match self
            .get("DynamoDB account_settings", &Key::settings(account))
            .await?
        {
            Some(item) => codec::settings_record(&item),
            None => Ok(AccountSettings::unset(account)),
        }
    }

    async fn put_account_settings(
        &self,
        settings: &AccountSettings,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "DynamoDB put_account_settings";
        let writes = vec![
            put(
                OPERATION,
                &self.table,
                codec::settings_item(settings),
                None,
                Expr::new(),
            )?,
            self.put_audit(OPERATION, audit)?,
        ];
        transact(&self.client, OPERATION, writes).await?;
        Ok(())
    }

    async fn factor(&self, user_id: &UserId) -> Result<Option<FactorRecord>, StoreError> {
        let item = self.get("DynamoDB factor", &Key::factor(user_id)).await?;
        item.map(|item| codec::factor_record(&item)).transpose()
    }

    async fn put_pending_enrollment(&self, pending: &PendingEnrollment) -> Result<(), StoreError> {
        self.put_item(
            "DynamoDB put_pending_enrollment",
            codec::pending_item(pending),
        )
        .await
    }

    async fn pending_enrollment(
        &self,
        user_id: &UserId,
    ) -> Result<Option<PendingEnrollment>, StoreError> {
        let item = self
            .get("DynamoDB pending_enrollment", &Key::pending(user_id))
            .await?;
        item.map(|item| codec::pending_record(&item)).transpose()
    }

    async fn activate_factor(&self, activation: &Activation) -> Result<bool, StoreError> {
        const OPERATION: &str = "DynamoDB activate_factor";
        let user_id = &activation.factor.user_id;
        let mut writes = vec![
            put(
                OPERATION,
                &self.table,
                codec::factor_item(&activation.factor),
                Some("attribute_not_exists(#pk)"),
                Expr::new().name("#pk", PK),
            )?,
            delete(
                OPERATION,
                &self.table,
                &Key::pending(user_id),
                Some("#enrollment_id = :enrollment_id"),
                Expr::new()
                    .name("#enrollment_id", "enrollment_id")
                    .value(":enrollment_id", string(activation.enrollment_id.as_str())),
            )?,
        ];
        if let Some((ticket_hash, session)) = &activation.sign_in {
            writes.extend(self.sign_in_writes(OPERATION, ticket_hash, session)?);
        }
        writes.extend(self.success_writes(
            OPERATION,
            user_id,
            std::slice::from_ref(&activation.audit),
        )?);
        transact(&self.client, OPERATION, writes).await
    }

    async fn complete_proof(
        &self,
        proof: &Proof,
        effect: &ProofEffect,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "DynamoDB complete_proof";
        let mut writes = vec![self.factor_write(proof, effect)?];
        if let ProofEffect::SignIn {
            ticket_hash,
            session,
        } = effect
        {
            writes.extend(self.sign_in_writes(OPERATION, ticket_hash, session)?);
        }
        writes.extend(self.success_writes(OPERATION, proof.user_id(), audit)?);
        transact(&self.client, OPERATION, writes).await
    }

    async fn failures(&self, user_id: &UserId) -> Result<Failures, StoreError> {
        let item = self
            .get("DynamoDB failures", &Key::failures(user_id))
            .await?;
        Ok(item
            .map(|item| codec::failures_record(&item))
            .transpose()?
            .unwrap_or_default())
    }

    /// Reads the count, then writes the next count and the audit events in one transaction
    /// on the condition that the count is unchanged. A lost race re-reads and tries again.
    /// An atomic `ADD` would not do, because the lockout audit must be written by exactly
    /// the failure that reaches the limit, and only the count that was read tells which.
    async fn record_failure(
        &self,
        user_id: &UserId,
        now: u64,
        reuse: Option<&AuditEvent>,
        lockout: &AuditEvent,
    ) -> Result<Failures, StoreError> {
        for attempt in 0..FAILURE_ATTEMPTS {
            if let Some(next) = self
                .try_record_failure(user_id, now, reuse, lockout)
                .await?
            {
                return Ok(next);
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        tracing::warn!(user_id = %user_id, attempts = FAILURE_ATTEMPTS, "failure count changed during every attempt; record_failure failed");
        Err(StoreError::Unavailable {
            operation: "DynamoDB record_failure",
            source: Box::new(SdkFailure::other(
                "TransactWriteItems",
                format!("the failure count changed during each of {FAILURE_ATTEMPTS} attempts"),
            )),
        })
    }

    async fn put_ticket(&self, ticket: &TicketRecord) -> Result<(), StoreError> {
        self.put_item("DynamoDB put_ticket", codec::ticket_item(ticket))
            .await
    }

    async fn ticket(&self, ticket_hash: &str) -> Result<Option<TicketRecord>, StoreError> {
        let item = self
            .get("DynamoDB ticket", &Key::ticket(ticket_hash))
            .await?;
        item.map(|item| codec::ticket_record(&item)).transpose()
    }

    async fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.put_item("DynamoDB put_session", codec::session_item(session))
            .await
    }

    async fn session(&self, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let item = self
            .get("DynamoDB session", &Key::session(session_id))
            .await?;
        item.map(|item| codec::session_record(&item)).transpose()
    }

    async fn session_epoch(&self, user_id: &UserId) -> Result<u64, StoreError> {
        let Some(item) = self
            .get("DynamoDB session_epoch", &Key::epoch(user_id))
            .await?
        else {
            return Ok(0);
        };
        match item.get("epoch") {
            Some(AttributeValue::N(epoch)) => epoch.parse().map_err(|_| {
                StoreError::Malformed(
                    "epoch item: attribute `epoch` is not a non-negative integer".to_owned(),
                )
            }),
            _ => Err(StoreError::Malformed(
                "epoch item: attribute `epoch` is missing or not a number".to_owned(),
            )),
        }
    }

    /// Rotates with one conditional update inside a transaction. The SDK's retry after a
    /// lost response then reuses the client request token, so it cannot turn a success
    /// into `false`, which the caller would treat as token reuse and revoke the session.
    async fn rotate_refresh(
        &self,
        session_id: &str,
        presented_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "DynamoDB rotate_refresh";
        let rotate = write::update(
            OPERATION,
            &self.table,
            &Key::session(session_id),
            "SET #refresh_hash = :new_hash, #previous = list_append(#previous, :presented_list)",
            Some("attribute_exists(#pk) AND #refresh_hash = :presented AND attribute_not_exists(#revoked_at)"),
            Expr::new()
                .name("#pk", PK)
                .name("#refresh_hash", "refresh_hash")
                .name("#previous", "previous_refresh_hashes")
                .name("#revoked_at", "revoked_at")
                .value(":new_hash", string(new_hash))
                .value(":presented", string(presented_hash))
                .value(":presented_list", string_list(&[presented_hash.to_owned()])),
        )?;
        transact(&self.client, OPERATION, vec![rotate]).await
    }

    async fn revoke_session(&self, session_id: &str, now: u64) -> Result<(), StoreError> {
        const OPERATION: &str = "DynamoDB revoke_session";
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Key::session(session_id).attributes()))
            .update_expression("SET #revoked_at = if_not_exists(#revoked_at, :now)")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#revoked_at", "revoked_at")
            .expression_attribute_values(":now", number(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The session does not exist, so there is nothing to revoke.
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(unavailable(OPERATION, "UpdateItem", &error)),
        }
    }

    async fn end_session_with_ticket(
        &self,
        session_id: &str,
        presented_hash: &str,
        now: u64,
        ticket: &TicketRecord,
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "DynamoDB end_session_with_ticket";
        let writes = vec![
            write::update(
                OPERATION,
                &self.table,
                &Key::session(session_id),
                "SET #revoked_at = :now",
                Some("attribute_exists(#pk) AND #refresh_hash = :presented AND attribute_not_exists(#revoked_at)"),
                Expr::new()
                    .name("#pk", PK)
                    .name("#refresh_hash", "refresh_hash")
                    .name("#revoked_at", "revoked_at")
                    .value(":presented", string(presented_hash))
                    .value(":now", number(now)),
            )?,
            put(OPERATION, &self.table, codec::ticket_item(ticket), None, Expr::new())?,
        ];
        transact(&self.client, OPERATION, writes).await
    }

    async fn replace_session(
        &self,
        old_session_id: &str,
        session: &SessionRecord,
        now: u64,
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "DynamoDB replace_session";
        let writes = vec![
            write::update(
                OPERATION,
                &self.table,
                &Key::session(old_session_id),
                "SET #revoked_at = :now",
                Some("attribute_exists(#pk) AND attribute_not_exists(#revoked_at)"),
                Expr::new()
                    .name("#pk", PK)
                    .name("#revoked_at", "revoked_at")
                    .value(":now", number(now)),
            )?,
            put(
                OPERATION,
                &self.table,
                codec::session_item(session),
                None,
                Expr::new(),
            )?,
        ];
        transact(&self.client, OPERATION, writes).await
    }

    async fn reset_user(&self, user_id: &UserId, audit: &AuditEvent) -> Result<(), StoreError> {
        const OPERATION: &str = "DynamoDB reset_user";
        let writes = vec![
            delete(
                OPERATION,
                &self.table,
                &Key::factor(user_id),
                None,
                Expr::new(),
            )?,
            delete(
                OPERATION,
                &self.table,
                &Key::pending(user_id),
                None,
                Expr::new(),
            )?,
            write::update(
                OPERATION,
                &self.table,
                &Key::epoch(user_id),
                "ADD #epoch :one",
                None,
                Expr::new().name("#epoch", "epoch").value(":one", number(1)),
            )?,
            self.put_audit(OPERATION, audit)?,
        ];
        transact(&self.client, OPERATION, writes).await?;
        Ok(())
    }

    async fn audit_events(&self, user_id: &UserId) -> Result<Vec<AuditEvent>, StoreError> {
        let items = self
            .query_prefix(
                "DynamoDB audit_events",
                keys::user_partition(user_id),
                AUDIT_PREFIX,
            )
            .await?;
        items.iter().map(codec::audit_record).collect()
    }
}
