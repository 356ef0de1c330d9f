//! Account administration: enforcement, the member list and admin reset.

use serde_json::json;

use super::auth::{self, authenticate, Caller};
use super::{rfc3339, App};
use crate::domain::model::{AccountSlug, UserId};
use crate::error::ApiError;
use crate::http::{
    json_response, no_content, JsonBody, PathParams, Request, RequestContext, Response,
};
use crate::ports::{AccountSettings, AuditAction};

/// Authenticates an owner or admin of the account named in the path.
async fn manager(
    app: &App,
    params: &PathParams,
    request: &Request,
    context: &mut RequestContext,
) -> Result<(Caller, AccountSlug), ApiError> {
    let caller = authenticate(app, request, context).await?;
    let account = params
        .slug
        .as_deref()
        .and_then(|slug| AccountSlug::parse(slug).ok())
        .ok_or_else(|| ApiError::NotFound("account not found".to_owned()))?;
    if caller.session.account != account {
        return Err(ApiError::Forbidden(format!(
            "your session is for account `{}`: switch to account `{account}` first",
            caller.session.account
        )));
    }
    if !caller.session.role.is_manager() {
        return Err(ApiError::Forbidden(
            "only owners and admins of the account can do this".to_owned(),
        ));
    }
    Ok((caller, account))
}

fn settings_body(settings: &AccountSettings) -> serde_json::Value {
    json!({
        "require_mfa": settings.require_mfa,
        "updated_at": settings.updated_at.map(rfc3339),
        "updated_by": settings.updated_by,
    })
}

/// `GET /v1/accounts/{slug}/settings/security`.
pub async fn read_enforcement(
    app: &App,
    params: &PathParams,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let (_, account) = manager(app, params, request, context).await?;

    let settings = app.store.account_settings(&account).await?;

    Ok(json_response(200, &settings_body(&settings)))
}

/// `PUT /v1/accounts/{slug}/settings/security`: turns enforcement on or off. Turning it on
/// needs the caller to have MFA themselves.
pub async fn change_enforcement(
    app: &App,
    params: &PathParams,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let (caller, account) = manager(app, params, request, context).await?;
    let mut body = JsonBody::parse(request, false)?;
    let require_mfa = body.boolean("require_mfa")?;
    body.finish(&["require_mfa"])?;

    let user_id = &caller.session.user_id;
    if require_mfa && app.store.factor(user_id).await?.is_none() {
        return Err(ApiError::conflict(
            "caller_not_enrolled",
            "enroll an authenticator app yourself before requiring MFA for the account",
        ));
    }
    let settings = AccountSettings {
        account: account.clone(),
        require_mfa,
        updated_at: Some(app.clock.now()),
        updated_by: Some(user_id.clone()),
    };
    let audit = auth::audit(
        app,
        AuditAction::EnforcementChanged { require_mfa },
        user_id,
        user_id,
        Some(&account),
    );
    app.store.put_account_settings(&settings, &audit).await?;

    Ok(json_response(200, &settings_body(&settings)))
}

/// `GET /v1/accounts/{slug}/members`: the members this service has seen, with their
/// enrollment state.
pub async fn list_members(
    app: &App,
    params: &PathParams,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let (_, account) = manager(app, params, request, context).await?;

    let mut members = Vec::new();
    for member in app.store.members(&account).await? {
        let factor = app.store.factor(&member.user_id).await?;
        members.push(json!({
            "user_id": member.user_id,
            "email": member.email,
            "role": member.role,
            "mfa_enrolled": factor.is_some(),
            "enrolled_at": factor.map(|factor| rfc3339(factor.enrolled_at)),
        }));
    }

    Ok(json_response(200, &json!({ "members": members })))
}

/// `DELETE /v1/accounts/{slug}/members/{user_id}/mfa`: deletes a member's factor and backup
/// codes and ends their sessions. Unknown and foreign users get the same 404.
pub async fn reset_member(
    app: &App,
    params: &PathParams,
    request: &Request,
    context: &mut RequestContext,
) -> Result<Response, ApiError> {
    let (caller, account) = manager(app, params, request, context).await?;
    let not_found = || ApiError::NotFound("no member with that user id in this account".to_owned());
    let target = params
        .user_id
        .as_deref()
        .and_then(|user_id| UserId::parse(user_id).ok())
        .ok_or_else(not_found)?;

    app.store
        .member(&account, &target)
        .await?
        .ok_or_else(not_found)?;
    let audit = auth::audit(
        app,
        AuditAction::Reset,
        &caller.session.user_id,
        &target,
        Some(&account),
    );
    app.store.reset_user(&target, &audit).await?;
    tracing::info!(user_id = %caller.session.user_id, target = %target, account = %account, "member MFA reset");

    Ok(no_content())
}
