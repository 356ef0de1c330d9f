//! The route table: method and path of every operation.

use http::Method;

use crate::error::ApiError;
use crate::service::Operation;

/// Path parameters of a matched route.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PathParams {
    /// `{slug}` of `/v1/accounts/{slug}/...`, percent-decoded.
    pub slug: Option<String>,
    /// `{user_id}` of `/v1/accounts/{slug}/members/{user_id}/mfa`, percent-decoded.
    pub user_id: Option<String>,
}

/// Every route: method, path pattern (`{}` is one segment), operation.
pub const ROUTES: [(&str, &str, Operation); 15] = [
    ("GET", "/.well-known/jwks.json", Operation::Jwks),
    ("POST", "/v1/sessions", Operation::SignIn),
    ("POST", "/v1/sessions/mfa", Operation::AnswerChallenge),
    ("POST", "/v1/sessions/refresh", Operation::Refresh),
    ("POST", "/v1/sessions/switch", Operation::SwitchAccount),
    ("DELETE", "/v1/sessions/current", Operation::SignOut),
    ("GET", "/v1/me/mfa", Operation::MfaStatus),
    ("POST", "/v1/me/mfa/enrollment", Operation::StartEnrollment),
    (
        "POST",
        "/v1/me/mfa/enrollment/confirm",
        Operation::ConfirmEnrollment,
    ),
    (
        "POST",
        "/v1/me/mfa/backup-codes",
        Operation::RegenerateBackupCodes,
    ),
    ("DELETE", "/v1/me/mfa", Operation::DisableMfa),
    (
        "GET",
        "/v1/accounts/{}/settings/security",
        Operation::ReadEnforcement,
    ),
    (
        "PUT",
        "/v1/accounts/{}/settings/security",
        Operation::ChangeEnforcement,
    ),
    ("GET", "/v1/accounts/{}/members", Operation::ListMembers),
    (
        "DELETE",
        "/v1/accounts/{}/members/{}/mfa",
        Operation::ResetMemberMfa,
    ),
];

/// Matches a request to an operation.
///
/// # Errors
/// 404 when no pattern matches the path, 405 when patterns match it with other methods.
pub fn resolve(method: &Method, path: &str) -> Result<(Operation, PathParams), ApiError> {
    let mut allowed = Vec::new();
    for (route_method, pattern, operation) in ROUTES {
        let Some(params) = match_pattern(pattern, path) else {
            continue;
        };
        if method.as_str() == route_method {
            return Ok((operation, params));
        }
        allowed.push(route_method);
    }
    if !allowed.is_empty() {
        Err(ApiError::MethodNotAllowed {
            method: method.as_str().to_owned(),
            allowed,
        })
    } else {
        Err(ApiError::NotFound(
            "no such route: see the API in the README".to_owned(),
        ))
    }
}

fn match_pattern(pattern: &str, path: &str) -> Option<PathParams> {
    let mut pattern_segments = pattern.split('/');
    let mut path_segments = path.split('/');
    let mut captured = Vec::new();
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (None, None) => break,
            (Some("{}"), Some(segment)) if !segment.is_empty() => {
                captured.push(percent_decode(segment)?)
            }
            (Some(expected), Some(segment)) if expected == segment => {}
            _ => return None,
        }
    }
    let mut captured = captured.into_iter();
    Some(PathParams {
        slug: captured.next(),
        user_id: captured.next(),
    })
}

/// Decodes `%XX` escapes; `None` for a broken escape or a result that is not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = segment.get(index + 1..index + 3)?;
            // `from_str_radix` also accepts a sign, as in `%+1`, which RFC 3986 does not.
            if !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                return None;
            }
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_resolves() {
        for (method, pattern, operation) in ROUTES {
            let path = pattern.replacen("{}", "acme", 1).replacen("{}", "u-1", 1);
            let method = Method::from_bytes(method.as_bytes()).expect("valid method");
            let (found, _) = resolve(&method, &path).expect("route resolves");
            assert_eq!(found, operation, "{path}");
        }
    }

    #[test]
    fn params_are_decoded() {
        let (operation, params) =
            resolve(&Method::DELETE, "/v1/accounts/acme/members/google%7C42/mfa").expect("route");
        assert_eq!(operation, Operation::ResetMemberMfa);
        assert_eq!(params.slug.as_deref(), Some("acme"));
        assert_eq!(params.user_id.as_deref(), Some("google|42"));
    }

    #[test]
    fn unknown_and_wrong_method() {
        assert!(matches!(
            resolve(&Method::GET, "/v1/nope"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            resolve(&Method::GET, "/v1/sessions/"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            resolve(&Method::GET, "/v1/accounts//members"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            resolve(&Method::GET, "/v1/accounts/a%zz/members"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            resolve(&Method::GET, "/v1/accounts/%+1/members"),
            Err(ApiError::NotFound(_))
        ));
        assert!(matches!(
            resolve(&Method::PATCH, "/v1/me/mfa"),
            Err(ApiError::MethodNotAllowed { allowed, .. }) if allowed == ["GET", "DELETE"]
        ));
    }
}
