//! Caller authentication (session or ticket), and the sessions and tickets that handlers issue.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::App;
use crate::domain::model::{AccountSlug, LoginMethod, Role, UserId};
use crate::domain::policy::Aal;
use crate::error::ApiError;
use crate::http::{bearer_token, Request, RequestContext};
use crate::ports::{AuditAction, AuditEvent, SessionRecord, TicketPurpose, TicketRecord};
use crate::random::random_id;
use crate::tokens::access::ACCESS_TOKEN_SECONDS;
use crate::tokens::opaque::{self, NewTicket};

/// Absolute lifetime of a session (its refresh tokens), in seconds: 7 days.
pub const SESSION_SECONDS: u64 = 7 * 24 * 3600;
/// Lifetime of a challenge ticket, in seconds.
pub const CHALLENGE_TICKET_SECONDS: u64 = 5 * 60;
/// Lifetime of an enrollment ticket and of a pending enrollment, in seconds.
pub const ENROLLMENT_SECONDS: u64 = 10 * 60;

/// A caller with a live session.
#[derive(Debug)]
pub struct Caller {
    pub session: SessionRecord,
}

/// Authenticates the bearer access token and checks that its session is still live.
///
/// # Errors
/// 401 for a missing, invalid or expired token, or a session that was signed out, reset
/// or has expired.
pub async fn authenticate(
    app: &App,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Caller, ApiError> {
    let token = bearer_token(request)?.ok_or_else(|| {
        ApiError::Unauthenticated(
            "missing Authorization header: send `Bearer <access token>`".to_owned(),
        )
    })?;
    caller_from_token(app, token, context).await
}

/// Like [`authenticate`], for a token already taken from the header.
///
/// # Errors
/// As [`authenticate`].
pub async fn caller_from_token(
    app: &App,
    token: &str,
    context: &mut RequestContext,
) -> Result<Caller, ApiError> {
    let now = app.clock.now();
    let claims = app.access.verify(token, now).map_err(|_| {
        ApiError::Unauthenticated(
            "the access token is invalid or has expired: refresh the session or sign in again"
                .to_owned(),
        )
    })?;
    context.user_id = Some(claims.sub.clone());

    let ended = || ApiError::Unauthenticated("the session has ended: sign in again".to_owned());
    let session = app.store.session(&claims.sid).await?.ok_or_else(ended)?;
    if session.user_id.as_str() != claims.sub
        || session.revoked_at.is_some()
        || session.expires_at <= now
    {
        return Err(ended());
    }
    if app.store.session_epoch(&session.user_id).await? != session.epoch {
        return Err(ended());
    }
    Ok(Caller { session })
}

/// Rejects sessions that have not passed a second factor.
///
/// # Errors
/// 403 for an `aal` 1 session.
pub fn require_aal2(caller: &Caller) -> Result<(), ApiError> {
    if caller.session.aal < 2 {
        return Err(ApiError::Forbidden(
            "this needs a session that passed the second factor: sign in again with your authenticator code".to_owned(),
        ));
    }
    Ok(())
}

/// The user, account and login behind a session or ticket.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_id: UserId,
    pub email: String,
    pub account: AccountSlug,
    pub role: Role,
    pub accounts: BTreeMap<AccountSlug, Role>,
    pub login_method: LoginMethod,
}

impl Identity {
    /// Returns the identity a ticket was issued to.
    pub fn from_ticket(ticket: &TicketRecord) -> Self {
        Self {
            user_id: ticket.user_id.clone(),
            email: ticket.email.clone(),
            account: ticket.account.clone(),
            role: ticket.role,
            accounts: ticket.accounts.clone(),
            login_method: ticket.login_method,
        }
    }

    /// Returns the identity of a session, optionally moved to another of its accounts.
    pub fn from_session(session: &SessionRecord, account: Option<(&AccountSlug, Role)>) -> Self {
        let (account, role) = account
            .map_or((session.account.clone(), session.role), |(slug, role)| {
                (slug.clone(), role)
            });
        Self {
            user_id: session.user_id.clone(),
            email: session.email.clone(),
            account,
            role,
            accounts: session.accounts.clone(),
            login_method: session.login_method,
        }
    }
}

/// A session that is ready to be written, with the tokens that go to the client once the
/// write succeeds.
pub struct NewSession {
    pub record: SessionRecord,
    pub access_token: String,
    pub refresh_token: Zeroizing<String>,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NewSession({}, <tokens redacted>)",
            self.record.session_id
        )
    }
}

impl NewSession {
    /// Returns the `session` object of a response.
    pub fn json(&self) -> Value {
        session_json(&self.access_token, &self.refresh_token)
    }

    /// Returns the `authenticated` response body.
    pub fn authenticated_body(&self) -> Value {
        authenticated_body(&self.access_token, &self.refresh_token)
    }
}

/// Returns the `session` object of a response for these tokens.
pub fn session_json(access_token: &str, refresh_token: &str) -> Value {
    json!({
        "access_token": access_token,
        "refresh_token": refresh_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
    })
}

/// Returns the `authenticated` response body for these tokens.
pub fn authenticated_body(access_token: &str, refresh_token: &str) -> Value {
    json!({ "status": "authenticated", "session": session_json(access_token, refresh_token) })
}

/// Prepares a session for `identity`. The access token is signed before anything is
/// written, so a signing failure leaves no session behind.
///
/// # Errors
/// 503 when the store or the signer fails.
pub async fn prepare_session(
    app: &App,
    identity: &Identity,
    amr: Vec<String>,
    aal: Aal,
) -> Result<NewSession, ApiError> {
    let now = app.clock.now();
    let session_id = opaque::new_session_id(app.random.as_ref());
    let refresh = opaque::new_refresh_token(app.random.as_ref(), &session_id);
    let record = SessionRecord {
        session_id,
        user_id: identity.user_id.clone(),
        email: identity.email.clone(),
        account: identity.account.clone(),
        role: identity.role,
        accounts: identity.accounts.clone(),
        login_method: identity.login_method,
        amr,
        aal,
        refresh_hash: refresh.hash,
        previous_refresh_hashes: Vec::new(),
        epoch: app.store.session_epoch(&identity.user_id).await?,
        created_at: now,
        expires_at: now + SESSION_SECONDS,
        revoked_at: None,
    };
    let access_token = sign_access_token(app, &record).await?;
    Ok(NewSession {
        record,
        access_token,
        refresh_token: refresh.token,
    })
}

/// Signs a fresh access token for `session`.
///
/// # Errors
/// 503 when the signer fails.
pub async fn sign_access_token(app: &App, session: &SessionRecord) -> Result<String, ApiError> {
    let jti = random_id(app.random.as_ref());
    Ok(app
        .access
        .issue(app.signer.as_ref(), session, app.clock.now(), jti)
        .await?)
}

/// Prepares a ticket for `identity`: the token for the client and the record to store.
pub fn prepare_ticket(
    app: &App,
    identity: &Identity,
    purpose: TicketPurpose,
) -> (NewTicket, TicketRecord) {
    let now = app.clock.now();
    let ticket = opaque::new_ticket(app.random.as_ref());
    let lifetime = match purpose {
        TicketPurpose::Challenge => CHALLENGE_TICKET_SECONDS,
        TicketPurpose::Enrollment => ENROLLMENT_SECONDS,
    };
    let record = TicketRecord {
        ticket_hash: ticket.hash.clone(),
        purpose,
        user_id: identity.user_id.clone(),
        email: identity.email.clone(),
        account: identity.account.clone(),
        role: identity.role,
        accounts: identity.accounts.clone(),
        login_method: identity.login_method,
        created_at: now,
        expires_at: now + lifetime,
    };
    (ticket, record)
}

/// Returns the `mfa_required` or `enrollment_required` response body.
pub fn ticket_body(purpose: TicketPurpose, ticket: &NewTicket) -> Value {
    match purpose {
        TicketPurpose::Challenge => json!({
            "status": "mfa_required",
            "mfa_ticket": ticket.token.as_str(),
            "methods": ["totp", "backup_code"],
            "expires_in": CHALLENGE_TICKET_SECONDS,
        }),
        TicketPurpose::Enrollment => json!({
            "status": "enrollment_required",
            "mfa_ticket": ticket.token.as_str(),
            "expires_in": ENROLLMENT_SECONDS,
        }),
    }
}

/// Looks up a live ticket for `purpose`. `None` for a malformed, unknown, expired or
/// other-purpose ticket; callers choose the error so that they can all look alike.
///
/// # Errors
/// 503 when the store fails.
pub async fn live_ticket(
    app: &App,
    token: &str,
    purpose: TicketPurpose,
) -> Result<Option<TicketRecord>, ApiError> {
    let Ok(hash) = opaque::ticket_hash(token) else {
        return Ok(None);
    };
    let Some(ticket) = app.store.ticket(&hash).await? else {
        return Ok(None);
    };
    if ticket.purpose != purpose || ticket.expires_at <= app.clock.now() {
        return Ok(None);
    }
    Ok(Some(ticket))
}

/// Builds an audit event at the current time.
pub fn audit(
    app: &App,
    action: AuditAction,
    actor: &UserId,
    target: &UserId,
    account: Option<&AccountSlug>,
) -> AuditEvent {
    AuditEvent {
        id: random_id(app.random.as_ref()),
        at: app.clock.now(),
        action,
        actor: actor.clone(),
        target: target.clone(),
        account: account.cloned(),
    }
}

/// The `amr` of a session: the login method, then any second factor.
pub fn amr(method: LoginMethod, second_factor: Option<&str>) -> Vec<String> {
    let mut amr = vec![method.as_str().to_owned()];
    if let Some(factor) = second_factor {
        amr.push(factor.to_owned());
        amr.push("mfa".to_owned());
    }
    amr
}
