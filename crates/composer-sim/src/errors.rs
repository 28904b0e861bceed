//! Composer's error JSON (`internal/cloudapi/v2/errors.go` in
//! osbuild-composer): `{id, kind: "Error", href, code, reason,
//! operation_id, details}`, with composer's service error codes, HTTP
//! statuses and reasons, so clients see what the real composer sends.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub const ERROR_HREF: &str = "/api/image-builder-composer/v2/errors";
pub const ERROR_CODE_PREFIX: &str = "IMAGE-BUILDER-COMPOSER-";

/// One of composer's `ServiceErrorCode`s with its HTTP status and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceError {
    pub code: u32,
    pub status: StatusCode,
    pub reason: &'static str,
}

macro_rules! service_errors {
    ($($name:ident = $code:literal, $status:ident, $reason:literal;)+) => {
        $(pub const $name: ServiceError = ServiceError {
            code: $code,
            status: StatusCode::$status,
            reason: $reason,
        };)+
    };
}

service_errors! {
    UNAUTHENTICATED = 401, UNAUTHORIZED, "Account authentication could not be verified";
    UNSUPPORTED_MEDIA_TYPE = 3, UNSUPPORTED_MEDIA_TYPE, "Only 'application/json' content is supported";
    UNSUPPORTED_DISTRIBUTION = 4, BAD_REQUEST, "Unsupported distribution";
    UNSUPPORTED_ARCHITECTURE = 5, BAD_REQUEST, "Unsupported architecture";
    INVALID_REPOSITORY = 7, BAD_REQUEST, "Must specify baseurl, mirrorlist, or metalink";
    INVALID_COMPOSE_ID = 14, BAD_REQUEST, "Invalid format for compose id";
    COMPOSE_NOT_FOUND = 15, NOT_FOUND, "Compose with given id not found";
    BODY_DECODING_ERROR = 20, BAD_REQUEST, "Malformed json, unable to decode body";
    RESOURCE_NOT_FOUND = 21, NOT_FOUND, "Requested resource doesn't exist";
    METHOD_NOT_ALLOWED = 22, METHOD_NOT_ALLOWED, "Requested method isn't supported for resource";
    INVALID_NUMBER_OF_IMAGE_BUILDS = 25, BAD_REQUEST, "Compose request has unsupported number of image builds";
    NO_GPG_KEY = 29, BAD_REQUEST, "Invalid repository, when check_gpg is set, gpgkey must be specified";
    VALIDATION_FAILED = 30, BAD_REQUEST, "Request could not be validated";
    INVALID_UPLOAD_TARGET = 38, BAD_REQUEST, "Invalid upload target for image type";
    BLUEPRINT_OR_CUSTOM_NOT_BOTH = 39, BAD_REQUEST, "Invalid request, include blueprint or customizations, not both";
    UNSPECIFIED = 10000, INTERNAL_SERVER_ERROR, "Unspecified internal error ";
}

/// An error answer of the API: a service error plus optional details.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub error: ServiceError,
    /// Overrides the HTTP status of `error` (fault injection sends 503 with
    /// composer's "unspecified internal error").
    pub status: Option<StatusCode>,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(error: ServiceError) -> Self {
        ApiError {
            error,
            status: None,
            details: None,
        }
    }

    pub fn with_details(error: ServiceError, details: impl Into<String>) -> Self {
        ApiError {
            error,
            status: None,
            details: Some(Value::String(details.into())),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or(self.error.status)
    }

    /// The JSON document composer sends for this error.
    pub fn to_json(&self) -> Value {
        let code = self.error.code;
        let mut doc = json!({
            "id": code.to_string(),
            "kind": "Error",
            "href": format!("{ERROR_HREF}/{code}"),
            "code": format!("{ERROR_CODE_PREFIX}{code}"),
            "reason": self.error.reason,
            // composer puts a per-request id here (a KSUID); any unique string does
            "operation_id": uuid::Uuid::new_v4().simple().to_string(),
        });
        if let (Some(details), Value::Object(map)) = (&self.details, &mut doc) {
            map.insert("details".into(), details.clone());
        }
        doc
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}: {}",
            ERROR_CODE_PREFIX, self.error.code, self.error.reason
        )?;
        if let Some(d) = &self.details {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.to_json())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_has_composers_shape() {
        let e = ApiError::with_details(COMPOSE_NOT_FOUND, "no compose 1234");
        let v = e.to_json();
        assert_eq!(v["id"], "15");
        assert_eq!(v["kind"], "Error");
        assert_eq!(v["href"], "/api/image-builder-composer/v2/errors/15");
        assert_eq!(v["code"], "IMAGE-BUILDER-COMPOSER-15");
        assert_eq!(v["reason"], "Compose with given id not found");
        assert_eq!(v["details"], "no compose 1234");
        assert!(!v["operation_id"].as_str().unwrap_or_default().is_empty());
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        // the composer client reads it as its ApiError
        let parsed = composer::ApiError::from_body(&v.to_string()).expect("client parses it");
        assert_eq!(parsed.code, "IMAGE-BUILDER-COMPOSER-15");
    }

    #[test]
    fn no_details_key_without_details() {
        let v = ApiError::new(UNAUTHENTICATED).to_json();
        assert!(v.get("details").is_none());
        assert_eq!(v["id"], "401");
    }
}
