//! The member's own MFA: status, enrollment, backup-code regeneration and disabling.

use serde_json::json;

use super::auth::{
    self, amr, authenticate, caller_from_token, live_ticket, prepare_session, require_aal2,
    Identity, ENROLLMENT_SECONDS,
};
use super::codes::{check_lockout, open_secret, record_failure, verify_totp};
use super::{rfc3339, App};
use crate::domain::backup::{generate_set, NewBackupSet};
use crate::domain::model::UserId;
use crate::domain::totp::{self, TotpCode, TotpSecret, Verification};
use crate::error::ApiError;
use crate::http::{
    bearer_token, json_response, no_content, JsonBody, Request, RequestContext, Response,
};
use crate::ports::{
    Activation, AuditAction, EncryptionContext, FactorRecord, PendingEnrollment, Proof,
    ProofEffect, TicketPurpose, TicketRecord,
};
use crate::random::random_id;

/// `GET /v1/me/mfa`.
pub async fn status(
    app: &App,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let caller = authenticate(app, request, context).await?;

    let factor = app.store.factor(&caller.session.user_id).await?;
    let settings = app.store.account_settings(&caller.session.account).await?;

    Ok(json_response(
        200,
        &json!({
            "enrolled": factor.is_some(),
            "enrolled_at": factor.as_ref().map(|factor| rfc3339(factor.enrolled_at)),
            "backup_codes_remaining": factor.as_ref().map_or(0, FactorRecord::backup_codes_remaining),
            "required_by_account": settings.require_mfa,
        }),
    ))
}

/// The member who is enrolling, by session or by enrollment ticket.
struct Enrollee {
    identity: Identity,
    ticket: Option<TicketRecord>,
}

/// Authenticates an enrollment request by bearer session or by `mfa_ticket`, not both.
async fn enrollee(
    app: &App,
    request: &Request,
    ticket: Option<String>,
    context: &mut RequestContext,
) -> Result<Enrollee, ApiError> {
    match (bearer_token(request)?, ticket) {
        (Some(_), Some(_)) => Err(ApiError::InvalidRequest(
            "send either an Authorization header or `mfa_ticket`, not both".to_owned(),
        )),
        (Some(token), None) => {
            let caller = caller_from_token(app, token, context).await?;
            Ok(Enrollee {
                identity: Identity::from_session(&caller.session, None),
                ticket: None,
            })
        }
        (None, Some(token)) => {
            let ticket = live_ticket(app, &token, TicketPurpose::Enrollment)
                .await?
                .ok_or(ApiError::InvalidTicket)?;
            context.user_id = Some(ticket.user_id.to_string());
            Ok(Enrollee {
                identity: Identity::from_ticket(&ticket),
                ticket: Some(ticket),
            })
        }
        (None, None) => Err(ApiError::Unauthenticated(
            "send `Authorization: Bearer <access token>`, or `mfa_ticket` when sign-in asked for enrollment".to_owned(),
        )),
    }
}

fn already_enrolled() -> ApiError {
    ApiError::conflict(
        "already_enrolled",
        "an authenticator app is already enrolled: disable it, or ask an admin to reset it, before enrolling another",
    )
}

/// `POST /v1/me/mfa/enrollment`: draws a secret and returns it as a Key URI, Base32 text
/// and a QR code. Nothing is active until confirmed.
pub async fn start(
    app: &App,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let mut body = JsonBody::parse(request, true)?;
    let ticket = body.optional_string("mfa_ticket")?;
    body.finish(&["mfa_ticket"])?;
    let enrollee = enrollee(app, request, ticket, context).await?;
    let user_id = &enrollee.identity.user_id;
    if app.store.factor(user_id).await?.is_some() {
        return Err(already_enrolled());
    }

    let now = app.clock.now();
    let secret = TotpSecret::generate(app.random.as_ref());
    let enrollment_id = random_id(app.random.as_ref());
    let context = EncryptionContext::totp(user_id, &enrollment_id);
    let ciphertext = app.cipher.encrypt(secret.expose(), &context).await?;
    let setup = totp::provisioning(&secret, &app.totp_issuer, &enrollee.identity.email)
        .map_err(|problem| ApiError::Internal(format!("provisioning failed: {problem}")))?;
    let expires_at = now + ENROLLMENT_SECONDS;
    let pending = PendingEnrollment {
        user_id: user_id.clone(),
        enrollment_id: enrollment_id.clone(),
        ciphertext,
        created_at: now,
        expires_at,
    };
    app.store.put_pending_enrollment(&pending).await?;

    Ok(json_response(
        200,
        &json!({
            "enrollment_id": enrollment_id,
            "otpauth_uri": setup.uri.as_str(),
            "secret": setup.secret_base32.as_str(),
            "qr_code": setup.qr_code.as_str(),
            "expires_at": rfc3339(expires_at),
        }),
    ))
}

/// Generates a backup set off the async runtime (ten Argon2id hashes).
async fn new_backup_set(app: &App) -> Result<NewBackupSet, ApiError> {
    let hasher = app.hasher.clone();
    let random = app.random.clone();
    tokio::task::spawn_blocking(move || generate_set(random.as_ref(), &hasher))
        .await
        .map_err(|error| ApiError::Internal(format!("backup code generation task failed: {error}")))
}

fn display_codes(set: &NewBackupSet) -> Vec<String> {
    set.codes
        .iter()
        .map(|code| code.display().to_string())
        .collect()
}

/// `POST /v1/me/mfa/enrollment/confirm`: activates the factor with a code from the app
/// and returns the backup codes, once. A forced enrollment also starts the session.
pub async fn confirm(
    app: &App,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let mut body = JsonBody::parse(request, false)?;
    let enrollment_id = body.string("enrollment_id")?;
    let code = body.string("code")?;
    let ticket = body.optional_string("mfa_ticket")?;
    body.finish(&["enrollment_id", "code", "mfa_ticket"])?;
    let code =
        TotpCode::parse(&code).map_err(|error| ApiError::field("code", &error.to_string()))?;
    let enrollee = enrollee(app, request, ticket, context).await?;
    let identity = &enrollee.identity;
    let user_id = &identity.user_id;

    let now = app.clock.now();
    if app.store.factor(user_id).await?.is_some() {
        return Err(already_enrolled());
    }
    let pending = app
        .store
        .pending_enrollment(user_id)
        .await?
        .filter(|pending| pending.enrollment_id == enrollment_id && pending.expires_at > now)
        .ok_or_else(|| {
            ApiError::NotFound(
                "enrollment not found or expired: start the enrollment again".to_owned(),
            )
        })?;
    check_lockout(app, user_id).await?;
    let Some(secret) =
        open_secret(app, user_id, &pending.enrollment_id, &pending.ciphertext).await?
    else {
        return Err(ApiError::InvalidCode);
    };
    let Verification::Accepted { step } = totp::verify(&secret, &code, now, None) else {
        record_failure(app, user_id, Some(&identity.account), false).await?;
        return Err(ApiError::InvalidCode);
    };

    let backup = new_backup_set(app).await?;
    let session = match &enrollee.ticket {
        Some(ticket) => {
            let session =
                prepare_session(app, identity, amr(identity.login_method, Some("totp")), 2).await?;
            Some((ticket.ticket_hash.clone(), session))
        }
        None => None,
    };
    let activation = Activation {
        factor: FactorRecord {
            user_id: user_id.clone(),
            factor_id: pending.enrollment_id.clone(),
            ciphertext: pending.ciphertext.clone(),
            last_step: step,
            enrolled_at: now,
            backup_codes: backup.stored.clone(),
            backup_version: 0,
        },
        enrollment_id: pending.enrollment_id.clone(),
        sign_in: session
            .as_ref()
            .map(|(ticket_hash, session)| (ticket_hash.clone(), session.record.clone())),
        audit: auth::audit(
            app,
            AuditAction::Enrolled,
            user_id,
            user_id,
            Some(&identity.account),
        ),
    };
    if !app.store.activate_factor(&activation).await? {
        return Err(ApiError::conflict(
            "enrollment_conflict",
            "this enrollment was already confirmed or replaced: check the MFA status",
        ));
    }

    let mut response = json!({ "enrolled": true, "backup_codes": display_codes(&backup) });
    if let Some((_, session)) = &session {
        response["session"] = session.json();
    }
    Ok(json_response(200, &response))
}

fn not_enrolled() -> ApiError {
    ApiError::conflict(
        "not_enrolled",
        "no authenticator app is enrolled: enroll one first",
    )
}

/// Reads and verifies the `code` field of a request that changes the caller's own factor.
/// Returns the factor and the step the code matched.
async fn verify_own_code(
    app: &App,
    user_id: &UserId,
    account: &crate::domain::model::AccountSlug,
    code: &TotpCode,
) -> Result<(FactorRecord, u64), ApiError> {
    check_lockout(app, user_id).await?;
    let factor = app.store.factor(user_id).await?.ok_or_else(not_enrolled)?;
    match verify_totp(app, &factor, code).await? {
        Verification::Accepted { step } => Ok((factor, step)),
        outcome => {
            record_failure(
                app,
                user_id,
                Some(account),
                outcome == Verification::Replayed,
            )
            .await?;
            Err(ApiError::InvalidCode)
        }
    }
}

fn parse_code_body(request: &Request) -> Result<TotpCode, ApiError> {
    let mut body = JsonBody::parse(request, false)?;
    let code = body.string("code")?;
    body.finish(&["code"])?;
    TotpCode::parse(&code).map_err(|error| ApiError::field("code", &error.to_string()))
}

/// `POST /v1/me/mfa/backup-codes`: replaces the whole backup set, given a current TOTP code.
pub async fn regenerate_backup_codes(
    app: &App,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let caller = authenticate(app, request, context).await?;
    require_aal2(&caller)?;
    let code = parse_code_body(request)?;
    let session = &caller.session;

    let (factor, step) = verify_own_code(app, &session.user_id, &session.account, &code).await?;
    let backup = new_backup_set(app).await?;
    let proof = Proof::Totp {
        user_id: session.user_id.clone(),
        factor_id: factor.factor_id.clone(),
        step,
    };
    let effect = ProofEffect::ReplaceBackupCodes {
        expected_version: factor.backup_version,
        codes: backup.stored.clone(),
    };
    let audit = auth::audit(
        app,
        AuditAction::BackupCodesRegenerated,
        &session.user_id,
        &session.user_id,
        Some(&session.account),
    );
    if !app.store.complete_proof(&proof, &effect, &[audit]).await? {
        return Err(lost_race(app, &session.user_id, &factor, step, session).await);
    }

    Ok(json_response(
        200,
        &json!({ "backup_codes": display_codes(&backup) }),
    ))
}

/// Explains why a proof that verified could not be spent: the step was used in the
/// meantime (a replay, counted as a failure), or the factor changed under the request.
async fn lost_race(
    app: &App,
    user_id: &UserId,
    factor: &FactorRecord,
    step: u64,
    session: &crate::ports::SessionRecord,
) -> ApiError {
    let current = match app.store.factor(user_id).await {
        Ok(current) => current,
        Err(error) => return error.into(),
    };
    let replayed = current
        .as_ref()
        .is_some_and(|current| current.factor_id == factor.factor_id && current.last_step >= step);
    if replayed {
        if let Err(error) = record_failure(app, user_id, Some(&session.account), true).await {
            return error;
        }
        return ApiError::InvalidCode;
    }
    if current.is_none() {
        return not_enrolled();
    }
    ApiError::conflict(
        "factor_changed",
        "the backup codes changed while this request ran: retry with a new code",
    )
}

/// `DELETE /v1/me/mfa`: removes the caller's factor, given a current TOTP code, unless an
/// account of theirs requires MFA.
pub async fn disable(
    app: &App,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let caller = authenticate(app, request, context).await?;
    require_aal2(&caller)?;
    let code = parse_code_body(request)?;
    let session = &caller.session;

    for account in session.accounts.keys() {
        if app.store.account_settings(account).await?.require_mfa {
            return Err(ApiError::conflict(
                "mfa_required_by_account",
                format!("account `{account}` requires MFA, so it cannot be disabled: ask its owner or admin"),
            ));
        }
    }
    let (factor, step) = verify_own_code(app, &session.user_id, &session.account, &code).await?;
    let proof = Proof::Totp {
        user_id: session.user_id.clone(),
        factor_id: factor.factor_id.clone(),
        step,
    };
    let audit = auth::audit(
        app,
        AuditAction::Disabled,
        &session.user_id,
        &session.user_id,
        Some(&session.account),
    );
    if !app
        .store
        .complete_proof(&proof, &ProofEffect::RemoveFactor, &[audit])
        .await?
    {
        return Err(lost_race(app, &session.user_id, &factor, step, session).await);
    }

    Ok(no_content())
}
