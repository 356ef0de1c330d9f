//! JSON request bodies, read field by field so that error messages name the field and
//! never echo its value (a mistyped code must not come back in an error).

use http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use super::{Request, MAX_BODY_BYTES};
use crate::error::ApiError;

/// A JSON object body whose fields are taken one at a time.
#[derive(Debug, Default)]
pub struct JsonBody {
    fields: Map<String, Value>,
}

impl JsonBody {
    /// Parses the body as a JSON object. An empty body is an empty object when
    /// `allow_empty`; otherwise it is a 400.
    ///
    /// # Errors
    /// 413 over 16 KiB, 415 when not `application/json`, 400 when not a JSON object.
    pub fn parse(request: &Request, allow_empty: bool) -> Result<Self, ApiError> {
        let body = request.body();
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        if body.iter().all(u8::is_ascii_whitespace) && allow_empty {
            return Ok(Self::default());
        }
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if !media_type.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::UnsupportedMediaType);
        }
        if body.is_empty() {
            return Err(ApiError::InvalidRequest(
                "the request body is missing: send a JSON object".to_owned(),
            ));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => Ok(Self { fields }),
            Ok(_) => Err(ApiError::InvalidRequest(
                "the request body must be a JSON object".to_owned(),
            )),
            Err(error) => Err(ApiError::InvalidRequest(format!(
                "the request body is not valid JSON (line {}, column {})",
                error.line(),
                error.column()
            ))),
        }
    }

    /// Takes a required string field.
    ///
    /// # Errors
    /// 400 when the field is missing or not a string.
    pub fn string(&mut self, name: &str) -> Result<String, ApiError> {
        self.optional_string(name)?
            .ok_or_else(|| ApiError::field(name, "is missing"))
    }

    /// Takes an optional string field; `null` counts as absent.
    ///
    /// # Errors
    /// 400 when the field is present but not a string.
    pub fn optional_string(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value)),
            Some(_) => Err(ApiError::field(name, "must be a string")),
        }
    }

    /// Takes a required boolean field.
    ///
    /// # Errors
    /// 400 when the field is missing or not a boolean.
    pub fn boolean(&mut self, name: &str) -> Result<bool, ApiError> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Err(ApiError::field(name, "is missing")),
            Some(Value::Bool(value)) => Ok(value),
            Some(_) => Err(ApiError::field(name, "must be true or false")),
        }
    }

    /// Takes a field of any JSON type; `null` counts as absent.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.fields.remove(name).filter(|value| !value.is_null())
    }

    /// Rejects fields that were not taken. The unknown names are not echoed back.
    ///
    /// # Errors
    /// 400 listing the allowed fields.
    pub fn finish(self, allowed: &[&str]) -> Result<(), ApiError> {
        if self.fields.is_empty() {
            return Ok(());
        }
        let allowed = if allowed.is_empty() {
            "none".to_owned()
        } else {
            allowed.join(", ")
        };
        Err(ApiError::InvalidRequest(format!(
            "the request body has an unknown field: allowed fields are {allowed}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn request(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = http::Request::builder().method("POST").uri("/v1/sessions");
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder
            .body(Bytes::from(body.to_owned()))
            .expect("valid request")
    }

    #[test]
    fn fields_taken_and_checked() {
        let mut body = JsonBody::parse(
            &request(
                Some("application/json; charset=utf-8"),
                r#"{"a":"x","b":true}"#,
            ),
            false,
        )
        .expect("valid body");
        assert_eq!(body.string("a").expect("string"), "x");
        assert!(body.boolean("b").expect("bool"));
        assert!(body.finish(&["a", "b"]).is_ok());
    }

    #[test]
    fn wrong_type_message_has_no_value() {
        let mut body = JsonBody::parse(
            &request(Some("application/json"), r#"{"code":123456}"#),
            false,
        )
        .expect("body");
        let error = body.string("code").expect_err("not a string");
        assert!(!error.to_string().contains("123456"));
        assert_eq!(error.status_and_code(), (400, "invalid_request"));
    }

    #[test]
    fn bad_bodies_rejected() {
        let cases: [(Option<&str>, String, u16); 7] = [
            (Some("text/plain"), "{}".to_owned(), 415),
            (None, "{}".to_owned(), 415),
            (Some("application/json"), "{".to_owned(), 400),
            (Some("application/json"), "[]".to_owned(), 400),
            (Some("application/json"), String::new(), 400),
            (
                Some("application/json"),
                format!(r#"{{"a":"{}"}}"#, "x".repeat(MAX_BODY_BYTES)),
                413,
            ),
            (Some("application/json"), "null".to_owned(), 400),
        ];
        for (content_type, body, status) in cases {
            let error =
                JsonBody::parse(&request(content_type, &body), false).expect_err("rejected");
            assert_eq!(
                error.status_and_code().0,
                status,
                "{content_type:?} {}",
                &body[..body.len().min(20)]
            );
        }
    }

    #[test]
    fn unknown_field_rejected_without_echo() {
        let body = JsonBody::parse(&request(Some("application/json"), r#"{"s3cr3t":1}"#), false)
            .expect("body");
        let error = body.finish(&["code"]).expect_err("unknown field");
        assert!(!error.to_string().contains("s3cr3t"));
    }
}
