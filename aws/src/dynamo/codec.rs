//! Conversions between the port records and DynamoDB items.
//!
//! Each record field is its own attribute (not one serialised blob), so condition and
//! update expressions can name the fields they check and change. Decoding errors name the
//! item kind and the attribute, never its value.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use mfa_shared::domain::backup::StoredBackupCode;
use mfa_shared::domain::lockout::{Failures, WINDOW_SECONDS};
use mfa_shared::domain::model::{AccountSlug, InvalidValue, LoginMethod, Role, UserId};
use mfa_shared::ports::{
    AccountSettings, AuditAction, AuditEvent, FactorRecord, MemberRecord, PendingEnrollment,
    SessionRecord, StoreError, TicketPurpose, TicketRecord,
};

use super::keys::{Key, EXPIRES_AT};

/// A DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn bytes(value: &[u8]) -> AttributeValue {
    AttributeValue::B(Blob::new(value))
}

pub(crate) fn string_list(values: &[String]) -> AttributeValue {
    AttributeValue::L(values.iter().map(|value| string(value.as_str())).collect())
}

fn roles(accounts: &BTreeMap<AccountSlug, Role>) -> AttributeValue {
    AttributeValue::M(
        accounts
            .iter()
            .map(|(account, role)| (account.as_str().to_owned(), string(role.as_str())))
            .collect(),
    )
}

/// Starts an item with its key.
fn keyed(key: &Key) -> Item {
    key.attributes()
}

/// Reads typed attributes of one item, for error messages naming the item's `kind`.
struct Reader<'a> {
    item: &'a Item,
    kind: &'static str,
}

impl<'a> Reader<'a> {
    fn new(item: &'a Item, kind: &'static str) -> Self {
        Self { item, kind }
    }

    fn malformed(&self, name: &str, problem: &str) -> StoreError {
        StoreError::Malformed(format!("{} item: attribute `{name}` {problem}", self.kind))
    }

    fn get(&self, name: &str) -> Option<&'a AttributeValue> {
        self.item.get(name).filter(|value| !value.is_null())
    }

    fn string(&self, name: &str) -> Result<String, StoreError> {
        match self.get(name) {
            Some(AttributeValue::S(value)) => Ok(value.clone()),
            Some(_) => Err(self.malformed(name, "is not a string")),
            None => Err(self.malformed(name, "is missing")),
        }
    }

    fn optional_string(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.get(name) {
            None => Ok(None),
            Some(_) => self.string(name).map(Some),
        }
    }

    fn number(&self, name: &str) -> Result<u64, StoreError> {
        match self.get(name) {
            Some(AttributeValue::N(value)) => value
                .parse()
                .map_err(|_| self.malformed(name, "is not a non-negative integer")),
            Some(_) => Err(self.malformed(name, "is not a number")),
            None => Err(self.malformed(name, "is missing")),
        }
    }

    fn optional_number(&self, name: &str) -> Result<Option<u64>, StoreError> {
        match self.get(name) {
            None => Ok(None),
            Some(_) => self.number(name).map(Some),
        }
    }

    fn boolean(&self, name: &str) -> Result<bool, StoreError> {
        match self.get(name) {
            Some(AttributeValue::Bool(value)) => Ok(*value),
            Some(_) => Err(self.malformed(name, "is not a boolean")),
            None => Err(self.malformed(name, "is missing")),
        }
    }

    fn bytes(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        match self.get(name) {
            Some(AttributeValue::B(value)) => Ok(value.as_ref().to_vec()),
            Some(_) => Err(self.malformed(name, "is not binary")),
            None => Err(self.malformed(name, "is missing")),
        }
    }

    fn strings(&self, name: &str) -> Result<Vec<String>, StoreError> {
        match self.get(name) {
            Some(AttributeValue::L(values)) => values
                .iter()
                .map(|value| match value {
                    AttributeValue::S(value) => Ok(value.clone()),
                    _ => Err(self.malformed(name, "has an element that is not a string")),
                })
                .collect(),
            Some(_) => Err(self.malformed(name, "is not a list")),
            None => Err(self.malformed(name, "is missing")),
        }
    }

    fn map(&self, name: &str) -> Result<&'a HashMap<String, AttributeValue>, StoreError> {
        match self.get(name) {
            Some(AttributeValue::M(map)) => Ok(map),
            Some(_) => Err(self.malformed(name, "is not a map")),
            None => Err(self.malformed(name, "is missing")),
        }
    }

    /// Reads a string attribute and parses it with a domain type's `parse`.
    fn parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, InvalidValue>,
    ) -> Result<T, StoreError> {
        let value = self.string(name)?;
        parse(&value).map_err(|error| self.malformed(name, &format!("is invalid: {error}")))
    }

    fn user_id(&self, name: &str) -> Result<UserId, StoreError> {
        self.parsed(name, UserId::parse)
    }

    fn account(&self, name: &str) -> Result<AccountSlug, StoreError> {
        self.parsed(name, AccountSlug::parse)
    }

    fn role(&self, name: &str) -> Result<Role, StoreError> {
        self.parsed(name, Role::parse)
    }

    fn login_method(&self, name: &str) -> Result<LoginMethod, StoreError> {
        self.parsed(name, LoginMethod::parse)
    }

    fn roles(&self, name: &str) -> Result<BTreeMap<AccountSlug, Role>, StoreError> {
        let mut accounts = BTreeMap::new();
        for (account, role) in self.map(name)? {
            let account = AccountSlug::parse(account).map_err(|error| {
                self.malformed(name, &format!("has an invalid account: {error}"))
            })?;
            let role = match role {
                AttributeValue::S(role) => Role::parse(role).map_err(|error| {
                    self.malformed(name, &format!("has an invalid role: {error}"))
                })?,
                _ => return Err(self.malformed(name, "has a role that is not a string")),
            };
            accounts.insert(account, role);
        }
        Ok(accounts)
    }
}

pub(crate) fn member_item(member: &MemberRecord) -> Item {
    let mut item = keyed(&Key::member(&member.account, &member.user_id));
    item.insert("account".to_owned(), string(member.account.as_str()));
    item.insert("user_id".to_owned(), string(member.user_id.as_str()));
    item.insert("email".to_owned(), string(member.email.as_str()));
    item.insert("role".to_owned(), string(member.role.as_str()));
    item.insert("last_sign_in".to_owned(), number(member.last_sign_in));
    item
}

pub(crate) fn member_record(item: &Item) -> Result<MemberRecord, StoreError> {
    let reader = Reader::new(item, "member");
    Ok(MemberRecord {
        account: reader.account("account")?,
        user_id: reader.user_id("user_id")?,
        email: reader.string("email")?,
        role: reader.role("role")?,
        last_sign_in: reader.number("last_sign_in")?,
    })
}

pub(crate) fn settings_item(settings: &AccountSettings) -> Item {
    let mut item = keyed(&Key::settings(&settings.account));
    item.insert("account".to_owned(), string(settings.account.as_str()));
    item.insert(
        "require_mfa".to_owned(),
        AttributeValue::Bool(settings.require_mfa),
    );
    if let Some(updated_at) = settings.updated_at {
        item.insert("updated_at".to_owned(), number(updated_at));
    }
    if let Some(updated_by) = &settings.updated_by {
        item.insert("updated_by".to_owned(), string(updated_by.as_str()));
    }
    item
}

pub(crate) fn settings_record(item: &Item) -> Result<AccountSettings, StoreError> {
    let reader = Reader::new(item, "account settings");
    Ok(AccountSettings {
        account: reader.account("account")?,
        require_mfa: reader.boolean("require_mfa")?,
        updated_at: reader.optional_number("updated_at")?,
        updated_by: reader
            .optional_string("updated_by")?
            .map(|id| UserId::parse(&id))
            .transpose()
            .map_err(|error| {
                StoreError::Malformed(format!(
                    "account settings item: attribute `updated_by` is invalid: {error}"
                ))
            })?,
    })
}

/// Returns the backup set as a map from selector to `{phc, used_at}`, plus the selectors in
/// their original order. The map lets one update spend a code by its selector. An unspent
/// code has no `used_at` attribute.
pub(crate) fn backup_attributes(codes: &[StoredBackupCode]) -> (AttributeValue, AttributeValue) {
    let map = codes
        .iter()
        .map(|code| {
            let mut entry = HashMap::from([("phc".to_owned(), string(code.phc.as_str()))]);
            if let Some(used_at) = code.used_at {
                entry.insert("used_at".to_owned(), number(used_at));
            }
            (code.selector.clone(), AttributeValue::M(entry))
        })
        .collect();
    let order: Vec<String> = codes.iter().map(|code| code.selector.clone()).collect();
    (AttributeValue::M(map), string_list(&order))
}

pub(crate) fn factor_item(factor: &FactorRecord) -> Item {
    let mut item = keyed(&Key::factor(&factor.user_id));
    let (codes, order) = backup_attributes(&factor.backup_codes);
    item.insert("user_id".to_owned(), string(factor.user_id.as_str()));
    item.insert("factor_id".to_owned(), string(factor.factor_id.as_str()));
    item.insert("ciphertext".to_owned(), bytes(&factor.ciphertext));
    item.insert("last_step".to_owned(), number(factor.last_step));
    item.insert("enrolled_at".to_owned(), number(factor.enrolled_at));
    item.insert("backup_codes".to_owned(), codes);
    item.insert("backup_order".to_owned(), order);
    item.insert("backup_version".to_owned(), number(factor.backup_version));
    item
}

pub(crate) fn factor_record(item: &Item) -> Result<FactorRecord, StoreError> {
    let reader = Reader::new(item, "factor");
    let codes = reader.map("backup_codes")?;
    let mut backup_codes = Vec::with_capacity(codes.len());
    for selector in reader.strings("backup_order")? {
        let Some(AttributeValue::M(entry)) = codes.get(&selector) else {
            return Err(reader.malformed("backup_codes", "lacks a code listed in `backup_order`"));
        };
        let entry_reader = Reader::new(entry, "backup code");
        backup_codes.push(StoredBackupCode {
            phc: entry_reader.string("phc")?,
            used_at: entry_reader.optional_number("used_at")?,
            selector,
        });
    }
    if backup_codes.len() != codes.len() {
        return Err(reader.malformed("backup_order", "does not list every backup code"));
    }
    Ok(FactorRecord {
        user_id: reader.user_id("user_id")?,
        factor_id: reader.string("factor_id")?,
        ciphertext: reader.bytes("ciphertext")?,
        last_step: reader.number("last_step")?,
        enrolled_at: reader.number("enrolled_at")?,
        backup_codes,
        backup_version: reader.number("backup_version")?,
    })
}

pub(crate) fn pending_item(pending: &PendingEnrollment) -> Item {
    let mut item = keyed(&Key::pending(&pending.user_id));
    item.insert("user_id".to_owned(), string(pending.user_id.as_str()));
    item.insert(
        "enrollment_id".to_owned(),
        string(pending.enrollment_id.as_str()),
    );
    item.insert("ciphertext".to_owned(), bytes(&pending.ciphertext));
    item.insert("created_at".to_owned(), number(pending.created_at));
    item.insert(EXPIRES_AT.to_owned(), number(pending.expires_at));
    item
}

pub(crate) fn pending_record(item: &Item) -> Result<PendingEnrollment, StoreError> {
    let reader = Reader::new(item, "pending enrollment");
    Ok(PendingEnrollment {
        user_id: reader.user_id("user_id")?,
        enrollment_id: reader.string("enrollment_id")?,
        ciphertext: reader.bytes("ciphertext")?,
        created_at: reader.number("created_at")?,
        expires_at: reader.number(EXPIRES_AT)?,
    })
}

/// Returns the failure-record item. It expires a whole window after the newest failure,
/// because by then the record counts as no failures.
pub(crate) fn failures_item(user_id: &UserId, failures: &Failures) -> Item {
    let mut item = keyed(&Key::failures(user_id));
    item.insert("count".to_owned(), number(u64::from(failures.count)));
    item.insert(
        "recent".to_owned(),
        AttributeValue::L(failures.recent.iter().map(|&at| number(at)).collect()),
    );
    item.insert("last_failure".to_owned(), number(failures.last_failure()));
    item.insert(
        EXPIRES_AT.to_owned(),
        number(failures.last_failure().saturating_add(WINDOW_SECONDS)),
    );
    item
}

pub(crate) fn failures_record(item: &Item) -> Result<Failures, StoreError> {
    let reader = Reader::new(item, "failures");
    let count = reader.number("count")?;
    let recent = match item.get("recent") {
        Some(AttributeValue::L(values)) => values
            .iter()
            .map(|value| match value {
                AttributeValue::N(at) => at.parse::<u64>().ok(),
                _ => None,
            })
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| reader.malformed("recent", "is not a list of non-negative integers"))?,
        _ => return Err(reader.malformed("recent", "is missing or not a list")),
    };
    Ok(Failures {
        count: u32::try_from(count)
            .map_err(|_| reader.malformed("count", "is larger than a 32-bit count"))?,
        recent,
    })
}

fn purpose_name(purpose: TicketPurpose) -> &'static str {
    match purpose {
        TicketPurpose::Challenge => "challenge",
        TicketPurpose::Enrollment => "enrollment",
    }
}

fn parse_purpose(value: &str) -> Result<TicketPurpose, InvalidValue> {
    match value {
        "challenge" => Ok(TicketPurpose::Challenge),
        "enrollment" => Ok(TicketPurpose::Enrollment),
        _ => Err(InvalidValue("must be one of challenge, enrollment")),
    }
}

pub(crate) fn ticket_item(ticket: &TicketRecord) -> Item {
    let mut item = keyed(&Key::ticket(&ticket.ticket_hash));
    item.insert(
        "ticket_hash".to_owned(),
        string(ticket.ticket_hash.as_str()),
    );
    item.insert("purpose".to_owned(), string(purpose_name(ticket.purpose)));
    item.insert("user_id".to_owned(), string(ticket.user_id.as_str()));
    item.insert("email".to_owned(), string(ticket.email.as_str()));
    item.insert("account".to_owned(), string(ticket.account.as_str()));
    item.insert("role".to_owned(), string(ticket.role.as_str()));
    item.insert("accounts".to_owned(), roles(&ticket.accounts));
    item.insert(
        "login_method".to_owned(),
        string(ticket.login_method.as_str()),
    );
    item.insert("created_at".to_owned(), number(ticket.created_at));
    item.insert(EXPIRES_AT.to_owned(), number(ticket.expires_at));
    item
}

pub(crate) fn ticket_record(item: &Item) -> Result<TicketRecord, StoreError> {
    let reader = Reader::new(item, "ticket");
    Ok(TicketRecord {
        ticket_hash: reader.string("ticket_hash")?,
        purpose: reader.parsed("purpose", parse_purpose)?,
        user_id: reader.user_id("user_id")?,
        email: reader.string("email")?,
        account: reader.account("account")?,
        role: reader.role("role")?,
        accounts: reader.roles("accounts")?,
        login_method: reader.login_method("login_method")?,
        created_at: reader.number("created_at")?,
        expires_at: reader.number(EXPIRES_AT)?,
    })
}

pub(crate) fn session_item(session: &SessionRecord) -> Item {
    let mut item = keyed(&Key::session(&session.session_id));
    item.insert("session_id".to_owned(), string(session.session_id.as_str()));
    item.insert("user_id".to_owned(), string(session.user_id.as_str()));
    item.insert("email".to_owned(), string(session.email.as_str()));
    item.insert("account".to_owned(), string(session.account.as_str()));
    item.insert("role".to_owned(), string(session.role.as_str()));
    item.insert("accounts".to_owned(), roles(&session.accounts));
    item.insert(
        "login_method".to_owned(),
        string(session.login_method.as_str()),
    );
    item.insert("amr".to_owned(), string_list(&session.amr));
    item.insert("aal".to_owned(), number(u64::from(session.aal)));
    item.insert(
        "refresh_hash".to_owned(),
        string(session.refresh_hash.as_str()),
    );
    item.insert(
        "previous_refresh_hashes".to_owned(),
        string_list(&session.previous_refresh_hashes),
    );
    item.insert("epoch".to_owned(), number(session.epoch));
    item.insert("created_at".to_owned(), number(session.created_at));
    item.insert(EXPIRES_AT.to_owned(), number(session.expires_at));
    if let Some(revoked_at) = session.revoked_at {
        item.insert("revoked_at".to_owned(), number(revoked_at));
    }
    item
}

pub(crate) fn session_record(item: &Item) -> Result<SessionRecord, StoreError> {
    let reader = Reader::new(item, "session");
    let aal = reader.number("aal")?;
    Ok(SessionRecord {
        session_id: reader.string("session_id")?,
        user_id: reader.user_id("user_id")?,
        email: reader.string("email")?,
        account: reader.account("account")?,
        role: reader.role("role")?,
        accounts: reader.roles("accounts")?,
        login_method: reader.login_method("login_method")?,
        amr: reader.strings("amr")?,
        aal: u8::try_from(aal).map_err(|_| reader.malformed("aal", "is not an assurance level"))?,
        refresh_hash: reader.string("refresh_hash")?,
        previous_refresh_hashes: reader.strings("previous_refresh_hashes")?,
        epoch: reader.number("epoch")?,
        created_at: reader.number("created_at")?,
        expires_at: reader.number(EXPIRES_AT)?,
        revoked_at: reader.optional_number("revoked_at")?,
    })
}

fn action_name(action: &AuditAction) -> &'static str {
    match action {
        AuditAction::Enrolled => "enrolled",
        AuditAction::Disabled => "disabled",
        AuditAction::Reset => "reset",
        AuditAction::BackupCodeUsed => "backup_code_used",
        AuditAction::BackupCodesRegenerated => "backup_codes_regenerated",
        AuditAction::EnforcementChanged { .. } => "enforcement_changed",
        AuditAction::LockedOut => "locked_out",
        AuditAction::CodeReuseRejected => "code_reuse_rejected",
    }
}

pub(crate) fn audit_item(event: &AuditEvent) -> Item {
    let mut item = keyed(&Key::audit(&event.target, event.at, &event.id));
    item.insert("id".to_owned(), string(event.id.as_str()));
    item.insert("at".to_owned(), number(event.at));
    item.insert("action".to_owned(), string(action_name(&event.action)));
    if let AuditAction::EnforcementChanged { require_mfa } = event.action {
        item.insert("require_mfa".to_owned(), AttributeValue::Bool(require_mfa));
    }
    item.insert("actor".to_owned(), string(event.actor.as_str()));
    item.insert("target".to_owned(), string(event.target.as_str()));
    if let Some(account) = &event.account {
        item.insert("account".to_owned(), string(account.as_str()));
    }
    item
}

pub(crate) fn audit_record(item: &Item) -> Result<AuditEvent, StoreError> {
    let reader = Reader::new(item, "audit event");
    let action = match reader.string("action")?.as_str() {
        "enrolled" => AuditAction::Enrolled,
        "disabled" => AuditAction::Disabled,
        "reset" => AuditAction::Reset,
        "backup_code_used" => AuditAction::BackupCodeUsed,
        "backup_codes_regenerated" => AuditAction::BackupCodesRegenerated,
        "enforcement_changed" => AuditAction::EnforcementChanged {
            require_mfa: reader.boolean("require_mfa")?,
        },
        "locked_out" => AuditAction::LockedOut,
        "code_reuse_rejected" => AuditAction::CodeReuseRejected,
        _ => return Err(reader.malformed("action", "is not a known audit action")),
    };
    let account = match reader.optional_string("account")? {
        Some(_) => Some(reader.account("account")?),
        None => None,
    };
    Ok(AuditEvent {
        id: reader.string("id")?,
        at: reader.number("at")?,
        action,
        actor: reader.user_id("actor")?,
        target: reader.user_id("target")?,
        account,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).expect("valid user id")
    }

    fn account(slug: &str) -> AccountSlug {
        AccountSlug::parse(slug).expect("valid slug")
    }

    #[test]
    fn factor_round_trips_with_code_order() {
        let factor = FactorRecord {
            user_id: user("ana"),
            factor_id: "f1".to_owned(),
            ciphertext: vec![1, 2, 3],
            last_step: 42,
            enrolled_at: 1_000,
            backup_codes: vec![
                StoredBackupCode {
                    selector: "zz".to_owned(),
                    phc: "$argon2id$a".to_owned(),
                    used_at: None,
                },
                StoredBackupCode {
                    selector: "aa".to_owned(),
                    phc: "$argon2id$b".to_owned(),
                    used_at: Some(7),
                },
            ],
            backup_version: 3,
        };
        assert_eq!(
            factor_record(&factor_item(&factor)).expect("decodes"),
            factor
        );
    }

    #[test]
    fn session_round_trips() {
        let session = SessionRecord {
            session_id: "s1".to_owned(),
            user_id: user("ana"),
            email: "ana@acme.test".to_owned(),
            account: account("acme"),
            role: Role::Admin,
            accounts: BTreeMap::from([
                (account("acme"), Role::Admin),
                (account("beta"), Role::Member),
            ]),
            login_method: LoginMethod::Google,
            amr: vec!["google".to_owned(), "totp".to_owned(), "mfa".to_owned()],
            aal: 2,
            refresh_hash: "h2".to_owned(),
            previous_refresh_hashes: vec!["h1".to_owned()],
            epoch: 4,
            created_at: 10,
            expires_at: 20,
            revoked_at: Some(15),
        };
        assert_eq!(
            session_record(&session_item(&session)).expect("decodes"),
            session
        );
    }

    #[test]
    fn every_audit_action_round_trips() {
        let actions = [
            AuditAction::Enrolled,
            AuditAction::Disabled,
            AuditAction::Reset,
            AuditAction::BackupCodeUsed,
            AuditAction::BackupCodesRegenerated,
            AuditAction::EnforcementChanged { require_mfa: true },
            AuditAction::EnforcementChanged { require_mfa: false },
            AuditAction::LockedOut,
            AuditAction::CodeReuseRejected,
        ];
        for (index, action) in actions.into_iter().enumerate() {
            let event = AuditEvent {
                id: format!("e{index}"),
                at: 100,
                action,
                actor: user("admin"),
                target: user("ana"),
                account: (index % 2 == 0).then(|| account("acme")),
            };
            assert_eq!(audit_record(&audit_item(&event)).expect("decodes"), event);
        }
    }

    #[test]
    fn malformed_item_names_attribute_not_value() {
        let mut item = member_item(&MemberRecord {
            account: account("acme"),
            user_id: user("ana"),
            email: "ana@acme.test".to_owned(),
            role: Role::Owner,
            last_sign_in: 5,
        });
        item.insert("role".to_owned(), string("root-secret-value"));
        let error = member_record(&item).expect_err("bad role");
        let message = error.to_string();
        assert!(message.contains("`role`"), "{message}");
        assert!(!message.contains("root-secret-value"), "{message}");
    }
}
