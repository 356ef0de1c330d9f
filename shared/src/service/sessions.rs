//! Sign-in, the code challenge, refresh, account switching and sign-out.

use super::auth::{
    self, amr, authenticate, live_ticket, prepare_session, prepare_ticket, ticket_body, Identity,
};
use super::codes::{check_backup_code, check_lockout, record_failure, verify_totp, BackupCheck};
use super::App;
use crate::domain::backup::BackupCode;
use crate::domain::model::AccountSlug;
use crate::domain::policy::{decide_continuation, decide_sign_in, Decision};
use crate::domain::totp::{TotpCode, Verification};
use crate::error::ApiError;
use crate::http::{json_response, no_content, JsonBody, Request, RequestContext, Response};
use crate::ports::{
    AuditAction, MemberRecord, Proof, ProofEffect, SignIn, SignInGrant, TicketPurpose,
};
use crate::tokens::assertion::AssertionError;
use crate::tokens::opaque;

/// `POST /v1/sessions`: verifies the login assertion and decides whether a second step is
/// needed.
pub async fn sign_in(
    app: &App,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let mut body = JsonBody::parse(request, false)?;
    let assertion = body.string("login_assertion")?;
    let account = body.string("account")?;
    body.finish(&["login_assertion", "account"])?;
    let account =
        AccountSlug::parse(&account).map_err(|error| ApiError::field("account", error.0))?;

    let now = app.clock.now();
    let assertion = app
        .assertions
        .verify(&assertion, now)
        .map_err(|error| match error {
            AssertionError::Expired => ApiError::Unauthenticated(
                "the login assertion has expired: sign in again".to_owned(),
            ),
            other => ApiError::Unauthenticated(other.to_string()),
        })?;
    context.user_id = Some(assertion.user_id.to_string());
    let role = *assertion.accounts.get(&account).ok_or_else(|| {
        ApiError::Forbidden(format!(
            "the login assertion does not list account `{account}`: you are not a member"
        ))
    })?;

    let members = assertion
        .accounts
        .iter()
        .map(|(slug, role)| MemberRecord {
            account: slug.clone(),
            user_id: assertion.user_id.clone(),
            email: assertion.email.clone(),
            role: *role,
            last_sign_in: now,
        })
        .collect();
    let identity = Identity {
        user_id: assertion.user_id,
        email: assertion.email,
        account,
        role,
        accounts: assertion.accounts,
        login_method: assertion.login_method,
    };
    let has_factor = app.store.factor(&identity.user_id).await?.is_some();
    let settings = app.store.account_settings(&identity.account).await?;
    let (grant, body) =
        match decide_sign_in(identity.login_method, has_factor, settings.require_mfa) {
            Decision::Authenticated { aal } => {
                let session =
                    prepare_session(app, &identity, amr(identity.login_method, None), aal).await?;
                let body = session.authenticated_body();
                (SignInGrant::Session(Box::new(session.record)), body)
            }
            Decision::MfaRequired => grant_ticket(app, &identity, TicketPurpose::Challenge),
            Decision::EnrollmentRequired => grant_ticket(app, &identity, TicketPurpose::Enrollment),
        };

    // The assertion id is spent by the same write that stores the grant, so a sign-in that
    // fails on the way leaves the assertion usable for a retry.
    let sign_in = SignIn {
        jti: assertion.jti,
        expires_at: assertion.expires_at,
        members,
        grant,
    };
    if !app.store.complete_sign_in(&sign_in, now).await? {
        return Err(ApiError::Unauthenticated(
            "the login assertion was already used: sign in again".to_owned(),
        ));
    }
    Ok(json_response(200, &body))
}

/// Prepares a ticket for `identity` as a sign-in grant, with its response body.
fn grant_ticket(
    app: &App,
    identity: &Identity,
    purpose: TicketPurpose,
) -> (SignInGrant, serde_json::Value) {
    let (ticket, record) = prepare_ticket(app, identity, purpose);
    (SignInGrant::Ticket(record), ticket_body(purpose, &ticket))
}

async fn issue_ticket(
    app: &App,
    identity: &Identity,
    purpose: TicketPurpose,
) -> Result<Response, ApiError> {
    let (ticket, record) = prepare_ticket(app, identity, purpose);
    app.store.put_ticket(&record).await?;
    Ok(json_response(200, &ticket_body(purpose, &ticket)))
}

/// The second factor offered with a ticket.
enum Answer {
    Totp(TotpCode),
    Backup(BackupCode),
}

/// `POST /v1/sessions/mfa`: spends a ticket and a TOTP or backup code for an `aal` 2
/// session. Every failure that concerns the ticket or the code gets the same body.
pub async fn answer_challenge(
    app: &App,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let mut body = JsonBody::parse(request, false)?;
    let ticket_token = body.string("mfa_ticket")?;
    let code = body.optional_string("code")?;
    let backup_code = body.optional_string("backup_code")?;
    body.finish(&["mfa_ticket", "code", "backup_code"])?;
    let answer = match (code, backup_code) {
        (Some(code), None) => Answer::Totp(
            TotpCode::parse(&code).map_err(|error| ApiError::field("code", &error.to_string()))?,
        ),
        (None, Some(code)) => Answer::Backup(
            BackupCode::parse(&code)
                .map_err(|error| ApiError::field("backup_code", &error.to_string()))?,
        ),
        _ => {
            return Err(ApiError::InvalidRequest(
                "send exactly one of the fields `code` and `backup_code`".to_owned(),
            ))
        }
    };

    let ticket = live_ticket(app, &ticket_token, TicketPurpose::Challenge)
        .await?
        .ok_or(ApiError::InvalidCode)?;
    let identity = Identity::from_ticket(&ticket);
    context.user_id = Some(identity.user_id.to_string());
    check_lockout(app, &identity.user_id).await?;
    let Some(factor) = app.store.factor(&identity.user_id).await? else {
        record_failure(app, &identity.user_id, Some(&identity.account), false).await?;
        return Err(ApiError::InvalidCode);
    };

    let (proof, factor_name, audit_events) = match answer {
        Answer::Totp(code) => match verify_totp(app, &factor, &code).await? {
            Verification::Accepted { step } => {
                let proof = Proof::Totp {
                    user_id: factor.user_id.clone(),
                    factor_id: factor.factor_id.clone(),
                    step,
                };
                (proof, "totp", Vec::new())
            }
            outcome => {
                let replayed = outcome == Verification::Replayed;
                record_failure(app, &identity.user_id, Some(&identity.account), replayed).await?;
                return Err(ApiError::InvalidCode);
            }
        },
        Answer::Backup(code) => match check_backup_code(app, &factor, code).await? {
            BackupCheck::Matched { selector } => {
                let proof = Proof::BackupCode {
                    user_id: factor.user_id.clone(),
                    factor_id: factor.factor_id.clone(),
                    selector,
                    used_at: app.clock.now(),
                };
                let used = auth::audit(
                    app,
                    AuditAction::BackupCodeUsed,
                    &identity.user_id,
                    &identity.user_id,
                    Some(&identity.account),
                );
                (proof, "backup_code", vec![used])
            }
            outcome => {
                let replayed = outcome == BackupCheck::Spent;
                record_failure(app, &identity.user_id, Some(&identity.account), replayed).await?;
                return Err(ApiError::InvalidCode);
            }
        },
    };

    let session = prepare_session(
        app,
        &identity,
        amr(identity.login_method, Some(factor_name)),
        2,
    )
    .await?;
    let effect = ProofEffect::SignIn {
        ticket_hash: ticket.ticket_hash.clone(),
        session: Box::new(session.record.clone()),
    };
    if !app
        .store
        .complete_proof(&proof, &effect, &audit_events)
        .await?
    {
        // Another request spent this code or this ticket first.
        record_failure(app, &identity.user_id, Some(&identity.account), true).await?;
        return Err(ApiError::InvalidCode);
    }
    Ok(json_response(200, &session.authenticated_body()))
}

/// `POST /v1/sessions/refresh`: rotates the refresh token, re-reading the member's factor
/// and the account's enforcement. A rotated token presented again revokes the session.
pub async fn refresh(
    app: &App,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let mut body = JsonBody::parse(request, false)?;
    let token = body.string("refresh_token")?;
    body.finish(&["refresh_token"])?;
    let invalid = || {
        ApiError::Unauthenticated(
            "the refresh token is invalid or has expired: sign in again".to_owned(),
        )
    };
    let (session_id, presented_hash) =
        opaque::parse_refresh_token(&token).map_err(|()| invalid())?;

    let now = app.clock.now();
    let session = app.store.session(&session_id).await?.ok_or_else(invalid)?;
    context.user_id = Some(session.user_id.to_string());
    if session.previous_refresh_hashes.contains(&presented_hash) {
        app.store.revoke_session(&session.session_id, now).await?;
        tracing::warn!(user_id = %session.user_id, "rotated refresh token presented again; session revoked");
        return Err(invalid());
    }
    let live = session.revoked_at.is_none()
        && session.expires_at > now
        && session.refresh_hash == presented_hash
        && app.store.session_epoch(&session.user_id).await? == session.epoch;
    if !live {
        return Err(invalid());
    }

    let has_factor = app.store.factor(&session.user_id).await?.is_some();
    let settings = app.store.account_settings(&session.account).await?;
    let purpose = match decide_continuation(
        session.login_method,
        session.aal,
        has_factor,
        settings.require_mfa,
    ) {
        Decision::Authenticated { .. } => {
            let refresh = opaque::new_refresh_token(app.random.as_ref(), &session.session_id);
            let access_token = auth::sign_access_token(app, &session).await?;
            if !app
                .store
                .rotate_refresh(&session.session_id, &presented_hash, &refresh.hash)
                .await?
            {
                // A parallel refresh rotated this token first: treat it as reuse.
                app.store.revoke_session(&session.session_id, now).await?;
                return Err(invalid());
            }
            let body = auth::authenticated_body(&access_token, &refresh.token);
            return Ok(json_response(200, &body));
        }
        Decision::MfaRequired => TicketPurpose::Challenge,
        Decision::EnrollmentRequired => TicketPurpose::Enrollment,
    };
    let identity = Identity::from_session(&session, None);
    let (ticket, record) = prepare_ticket(app, &identity, purpose);
    if !app
        .store
        .end_session_with_ticket(&session.session_id, &presented_hash, now, &record)
        .await?
    {
        return Err(invalid());
    }
    Ok(json_response(200, &ticket_body(purpose, &ticket)))
}

/// `POST /v1/sessions/switch`: moves the session to another account of the same login,
/// applying that account's enforcement.
pub async fn switch_account(
    app: &App,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let caller = authenticate(app, request, context).await?;
    let mut body = JsonBody::parse(request, false)?;
    let account = body.string("account")?;
    body.finish(&["account"])?;
    let account =
        AccountSlug::parse(&account).map_err(|error| ApiError::field("account", error.0))?;

    let session = &caller.session;
    let role = *session.accounts.get(&account).ok_or_else(|| {
        ApiError::Forbidden(format!(
            "your sign-in does not list account `{account}`: you are not a member"
        ))
    })?;
    let identity = Identity::from_session(session, Some((&account, role)));
    let has_factor = app.store.factor(&session.user_id).await?.is_some();
    let settings = app.store.account_settings(&account).await?;

    match decide_continuation(
        session.login_method,
        session.aal,
        has_factor,
        settings.require_mfa,
    ) {
        Decision::Authenticated { aal } => {
            let new_session = prepare_session(app, &identity, session.amr.clone(), aal).await?;
            if !app
                .store
                .replace_session(&session.session_id, &new_session.record, app.clock.now())
                .await?
            {
                return Err(ApiError::Unauthenticated(
                    "the session has ended: sign in again".to_owned(),
                ));
            }
            Ok(json_response(200, &new_session.authenticated_body()))
        }
        Decision::MfaRequired => issue_ticket(app, &identity, TicketPurpose::Challenge).await,
        Decision::EnrollmentRequired => {
            issue_ticket(app, &identity, TicketPurpose::Enrollment).await
        }
    }
}

/// `DELETE /v1/sessions/current`: revokes the caller's session.
pub async fn sign_out(
    app: &App,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let caller = authenticate(app, request, context).await?;
    app.store
        .revoke_session(&caller.session.session_id, app.clock.now())
        .await?;
    Ok(no_content())
}
