//! Conversions between the `lambda_http` types of an API Gateway HTTP API event and the
//! plain `http` types that [`mfa_shared::http::serve`] takes and returns.

use bytes::Bytes;
use http::uri::{PathAndQuery, Uri};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};

/// Returns the API Gateway request id (`requestContext.requestId`), when the event has one.
pub(crate) fn gateway_request_id(request: &lambda_http::Request) -> Option<String> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .request_id
            .clone()
            .filter(|request_id| !request_id.is_empty()),
        _ => None,
    }
}

/// Converts a Lambda request into the core request type. `lambda_http` has already
/// base64-decoded the body when the event sets `isBase64Encoded`.
pub(crate) fn into_core_request(request: lambda_http::Request) -> http::Request<Bytes> {
    let stage = named_stage(&request);
    let (mut parts, body) = request.into_parts();
    if let Some(stage) = stage {
        parts.uri = without_stage(parts.uri, &stage);
    }
    http::Request::from_parts(parts, body_bytes(body))
}

/// Converts a core response into the type `lambda_http` sends back to API Gateway. A
/// UTF-8 body (every JSON body) goes back as text, and any other body goes back
/// base64-encoded.
pub(crate) fn into_lambda_response(response: http::Response<Bytes>) -> lambda_http::Response<Body> {
    let (parts, bytes) = response.into_parts();
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(Vec::from(bytes)) {
            Ok(text) => Body::Text(text),
            Err(error) => Body::Binary(error.into_bytes()),
        }
    };
    lambda_http::Response::from_parts(parts, body)
}

fn body_bytes(body: Body) -> Bytes {
    match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        // `Body` is non-exhaustive: any later variant still dereferences to its bytes.
        other => Bytes::copy_from_slice(&other),
    }
}

/// Returns the stage name of the event, unless it is the `$default` stage, which is served at
/// the root of the API and so never appears in the path.
fn named_stage(request: &lambda_http::Request) -> Option<String> {
    let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else {
        return None;
    };
    context
        .stage
        .clone()
        .filter(|stage| !stage.is_empty() && stage != "$default")
}

/// Removes the leading `/{stage}` segment from the path. An HTTP API puts a named stage in
/// front of `rawPath`, and `lambda_http` adds it when it is missing, but the routes of the
/// service do not include it.
fn without_stage(uri: Uri, stage: &str) -> Uri {
    let prefix = format!("/{stage}");
    let path = uri.path();
    let rest = match path.strip_prefix(&prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return uri,
    };
    let path_and_query = match uri.query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) else {
        return uri;
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query);
    Uri::from_parts(parts).unwrap_or(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().expect("valid URI")
    }

    const JWKS_EVENT: &str = include_str!("../tests/fixtures/jwks.json");

    #[test]
    fn request_id_from_request_context() {
        let request = lambda_http::request::from_str(JWKS_EVENT).expect("valid event");
        assert_eq!(
            gateway_request_id(&request).as_deref(),
            Some("Xq3VbgjKDoEEMbw=")
        );
    }

    #[test]
    fn request_id_absent_without_context_field() {
        let event = JWKS_EVENT.replace(r#""requestId": "Xq3VbgjKDoEEMbw=","#, "");
        assert_ne!(
            event, JWKS_EVENT,
            "the fixture's requestId line was removed"
        );
        let request = lambda_http::request::from_str(&event).expect("valid event");
        assert_eq!(gateway_request_id(&request), None);
    }

    #[test]
    fn stage_removed_from_path() {
        let stripped = without_stage(uri("https://api.example.com/prod/v1/me/mfa?x=1"), "prod");
        assert_eq!(stripped.path(), "/v1/me/mfa");
        assert_eq!(stripped.query(), Some("x=1"));
        assert_eq!(stripped.host(), Some("api.example.com"));
    }

    #[test]
    fn stage_alone_becomes_root() {
        let stripped = without_stage(uri("https://api.example.com/prod"), "prod");
        assert_eq!(stripped.path(), "/");
    }

    #[test]
    fn stage_as_name_prefix_kept() {
        let stripped = without_stage(uri("https://api.example.com/production/v1/me/mfa"), "prod");
        assert_eq!(stripped.path(), "/production/v1/me/mfa");
    }

    #[test]
    fn text_and_binary_bodies_kept() {
        assert_eq!(body_bytes(Body::Empty), Bytes::new());
        assert_eq!(
            body_bytes(Body::Text("{}".to_owned())),
            Bytes::from_static(b"{}")
        );
        assert_eq!(
            body_bytes(Body::Binary(vec![0xff, 0x00])),
            Bytes::from_static(&[0xff, 0x00])
        );
    }

    #[test]
    fn response_body_text_unless_binary() {
        let text = into_lambda_response(http::Response::new(Bytes::from_static(b"{\"a\":1}")));
        assert_eq!(text.body(), &Body::Text("{\"a\":1}".to_owned()));

        let binary = into_lambda_response(http::Response::new(Bytes::from_static(&[0xff, 0xfe])));
        assert_eq!(binary.body(), &Body::Binary(vec![0xff, 0xfe]));

        let empty = into_lambda_response(http::Response::new(Bytes::new()));
        assert_eq!(empty.body(), &Body::Empty);
    }
}
