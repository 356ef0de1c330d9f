//! The table's key schema: a string partition key `pk` and a string sort key `sk`.
//!
//! | item kind | `pk` | `sk` |
//! | --- | --- | --- |
//! | assertion id | `JTI#<jti>` | `JTI` |
//! | member | `ACCOUNT#<slug>` | `MEMBER#<user id>` |
//! | account settings | `ACCOUNT#<slug>` | `SETTINGS` |
//! | factor with backup codes | `USER#<user id>` | `FACTOR` |
//! | pending enrollment | `USER#<user id>` | `PENDING` |
//! | failure count | `USER#<user id>` | `FAILURES` |
//! | session epoch | `USER#<user id>` | `EPOCH` |
//! | audit event | `USER#<target user id>` | `AUDIT#<at, 20 digits>#<event id>` |
//! | ticket | `TICKET#<SHA-256 of the token>` | `TICKET` |
//! | session | `SESSION#<session id>` | `SESSION` |
//!
//! Slugs and user ids never contain `#` (see their `parse`), so no two kinds share a key.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use mfa_shared::domain::model::{AccountSlug, UserId};

/// Partition key attribute.
pub(crate) const PK: &str = "pk";
/// Sort key attribute.
pub(crate) const SK: &str = "sk";
/// The TTL attribute: Unix seconds after which DynamoDB may delete the item. Reads still
/// compare it with the clock, because deletion can lag by days.
pub(crate) const EXPIRES_AT: &str = "expires_at";

/// Sort key prefix of members within an account's partition.
pub(crate) const MEMBER_PREFIX: &str = "MEMBER#";
/// Sort key prefix of audit events within a user's partition.
pub(crate) const AUDIT_PREFIX: &str = "AUDIT#";

/// A primary key: `pk` and `sk`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) pk: String,
    pub(crate) sk: String,
}

impl Key {
    fn new(pk: String, sk: impl Into<String>) -> Self {
        Self { pk, sk: sk.into() }
    }

    /// Returns the key as the attribute map that `GetItem`, `Update` and `Delete` take.
    pub(crate) fn attributes(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(self.pk.clone())),
            (SK.to_owned(), AttributeValue::S(self.sk.clone())),
        ])
    }

    pub(crate) fn assertion(jti: &str) -> Self {
        Self::new(format!("JTI#{jti}"), "JTI")
    }

    pub(crate) fn member(account: &AccountSlug, user_id: &UserId) -> Self {
        Self::new(
            account_partition(account),
            format!("{MEMBER_PREFIX}{user_id}"),
        )
    }

    pub(crate) fn settings(account: &AccountSlug) -> Self {
        Self::new(account_partition(account), "SETTINGS")
    }

    pub(crate) fn factor(user_id: &UserId) -> Self {
        Self::new(user_partition(user_id), "FACTOR")
    }

    pub(crate) fn pending(user_id: &UserId) -> Self {
        Self::new(user_partition(user_id), "PENDING")
    }

    pub(crate) fn failures(user_id: &UserId) -> Self {
        Self::new(user_partition(user_id), "FAILURES")
    }

    pub(crate) fn epoch(user_id: &UserId) -> Self {
        Self::new(user_partition(user_id), "EPOCH")
    }

    /// Audit events sort by time, then id, within the target user's partition.
    pub(crate) fn audit(target: &UserId, at: u64, id: &str) -> Self {
        Self::new(
            user_partition(target),
            format!("{AUDIT_PREFIX}{at:020}#{id}"),
        )
    }

    pub(crate) fn ticket(ticket_hash: &str) -> Self {
        Self::new(format!("TICKET#{ticket_hash}"), "TICKET")
    }

    pub(crate) fn session(session_id: &str) -> Self {
        Self::new(format!("SESSION#{session_id}"), "SESSION")
    }
}

/// Returns the partition of an account's members and settings.
pub(crate) fn account_partition(account: &AccountSlug) -> String {
    format!("ACCOUNT#{account}")
}

/// Returns the partition of a user's factor, enrollment, failures, epoch and audit events.
pub(crate) fn user_partition(user_id: &UserId) -> String {
    format!("USER#{user_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_keys_sort_by_time() {
        let user = UserId::parse("ana").expect("valid user id");
        let early = Key::audit(&user, 9, "b");
        let late = Key::audit(&user, 10, "a");
        assert_eq!(early.pk, late.pk);
        assert!(
            early.sk < late.sk,
            "{} should sort before {}",
            early.sk,
            late.sk
        );
    }

    #[test]
    fn kinds_of_one_user_share_a_partition() {
        let user = UserId::parse("google|42").expect("valid user id");
        let partition = user_partition(&user);
        for key in [
            Key::factor(&user),
            Key::pending(&user),
            Key::failures(&user),
            Key::epoch(&user),
        ] {
            assert_eq!(key.pk, partition);
        }
        assert_eq!(partition, "USER#google|42");
    }
}
