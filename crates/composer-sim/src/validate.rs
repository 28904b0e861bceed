//! Validation of POST /compose bodies against the `ComposeRequest` schema of
//! openapi.v2.yml, then composer's own checks, with the error codes composer
//! answers: 20 for JSON that does not parse, 30 ("Request could not be
//! validated") for schema violations (unknown properties, missing required
//! ones, wrong types, image types outside the enum), then 4/5/7/25/29/38/39
//! for the checks composer makes after the schema.
//!
//! Only the parts of the schema a Koji compose uses are checked in depth;
//! customizations and blueprints are accepted as opaque objects.

use serde_json::{Map, Value};

use crate::errors::{self, ApiError};
use crate::images;

const COMPOSE_REQUEST_PROPS: &[&str] = &[
    "distribution",
    "image_request",
    "image_requests",
    "customizations",
    "koji",
    "blueprint",
];
const IMAGE_REQUEST_PROPS: &[&str] = &[
    "architecture",
    "image_type",
    "repositories",
    "ostree",
    "upload_targets",
    "upload_options",
    "size",
];
const KOJI_PROPS: &[&str] = &["server", "task_id", "name", "version", "release"];

fn schema_error(details: String) -> ApiError {
    ApiError::with_details(errors::VALIDATION_FAILED, details)
}

fn check_props(obj: &Map<String, Value>, allowed: &[&str], schema: &str) -> Result<(), ApiError> {
    if let Some(key) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(schema_error(format!(
            "request body has an error: doesn't match schema #/components/schemas/{schema}: property \"{key}\" is unsupported"
        )));
    }
    Ok(())
}

fn required<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    schema: &str,
) -> Result<&'a Value, ApiError> {
    obj.get(key).ok_or_else(|| {
        schema_error(format!(
            "request body has an error: doesn't match schema #/components/schemas/{schema}: property \"{key}\" is missing"
        ))
    })
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, ApiError> {
    v.as_str().ok_or_else(|| {
        schema_error(format!(
            "request body has an error: {path}: value must be a string"
        ))
    })
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ApiError> {
    v.as_object().ok_or_else(|| {
        schema_error(format!(
            "request body has an error: {path}: value must be an object"
        ))
    })
}

/// Parses and validates a POST /compose body.
pub fn compose_request(body: &[u8]) -> Result<composer::ComposeRequest, ApiError> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::with_details(errors::BODY_DECODING_ERROR, e.to_string()))?;
    check_schema(&doc)?;
    check_semantics(&doc)?;
    serde_json::from_value(doc).map_err(|e| schema_error(format!("request body has an error: {e}")))
}

fn check_schema(doc: &Value) -> Result<(), ApiError> {
    let req = object(doc, "body")?;
    check_props(req, COMPOSE_REQUEST_PROPS, "ComposeRequest")?;
    string(
        required(req, "distribution", "ComposeRequest")?,
        "distribution",
    )?;
    if req.contains_key("customizations") && req.contains_key("blueprint") {
        return Err(ApiError::new(errors::BLUEPRINT_OR_CUSTOM_NOT_BOTH));
    }
    if let Some(ir) = req.get("image_request") {
        check_image_request(ir, "image_request")?;
    }
    if let Some(irs) = req.get("image_requests") {
        let irs = irs.as_array().ok_or_else(|| {
            schema_error("request body has an error: image_requests: value must be an array".into())
        })?;
        for (i, ir) in irs.iter().enumerate() {
            check_image_request(ir, &format!("image_requests[{i}]"))?;
        }
    }
    if let Some(koji) = req.get("koji") {
        let koji = object(koji, "koji")?;
        check_props(koji, KOJI_PROPS, "Koji")?;
        for key in ["server", "name", "version", "release"] {
            string(required(koji, key, "Koji")?, &format!("koji.{key}"))?;
        }
        let task_id = required(koji, "task_id", "Koji")?;
        if task_id.as_u64().is_none() {
            return Err(schema_error(
                "request body has an error: koji.task_id: value must be an integer".into(),
            ));
        }
    }
    for key in ["customizations", "blueprint"] {
        if let Some(v) = req.get(key) {
            object(v, key)?;
        }
    }
    Ok(())
}

fn check_image_request(ir: &Value, path: &str) -> Result<(), ApiError> {
    let ir = object(ir, path)?;
    check_props(ir, IMAGE_REQUEST_PROPS, "ImageRequest")?;
    string(
        required(ir, "architecture", "ImageRequest")?,
        &format!("{path}.architecture"),
    )?;
    let image_type = string(
        required(ir, "image_type", "ImageRequest")?,
        &format!("{path}.image_type"),
    )?;
    if !composer::ImageType::KNOWN.contains(&image_type) {
        return Err(schema_error(format!(
            "request body has an error: {path}.image_type: value \"{image_type}\" is not one of the allowed values [{}]",
            composer::ImageType::KNOWN.join(", ")
        )));
    }
    let repos = required(ir, "repositories", "ImageRequest")?
        .as_array()
        .ok_or_else(|| {
            schema_error(format!(
                "request body has an error: {path}.repositories: value must be an array"
            ))
        })?;
    for (i, repo) in repos.iter().enumerate() {
        object(repo, &format!("{path}.repositories[{i}]"))?;
    }
    if let Some(size) = ir.get("size") {
        if size.as_u64().is_none() {
            return Err(schema_error(format!(
                "request body has an error: {path}.size: value must be an unsigned integer"
            )));
        }
    }
    Ok(())
}

fn image_requests(req: &Map<String, Value>) -> Vec<&Value> {
    let mut all: Vec<&Value> = req.get("image_request").into_iter().collect();
    if let Some(Value::Array(irs)) = req.get("image_requests") {
        all.extend(irs);
    }
    all
}

fn check_semantics(doc: &Value) -> Result<(), ApiError> {
    let Some(req) = doc.as_object() else {
        return Err(schema_error("request body must be an object".into()));
    };
    let distribution = req
        .get("distribution")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !images::distribution_supported(distribution) {
        return Err(ApiError::with_details(
            errors::UNSUPPORTED_DISTRIBUTION,
            format!("distribution \"{distribution}\" is not one of fedora-N, rhel-N[.M], centos-N"),
        ));
    }
    // composer takes either image_request or image_requests, and at least one image
    let has_single = req.contains_key("image_request");
    let irs = image_requests(req);
    if irs.is_empty() || (has_single && irs.len() > 1) {
        return Err(ApiError::with_details(
            errors::INVALID_NUMBER_OF_IMAGE_BUILDS,
            "give exactly one of image_request or a non-empty image_requests",
        ));
    }
    let is_koji = req.contains_key("koji");
    for (i, ir) in irs.iter().enumerate() {
        let arch = ir
            .get("architecture")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !images::ARCHITECTURES.contains(&arch) {
            return Err(ApiError::with_details(
                errors::UNSUPPORTED_ARCHITECTURE,
                format!(
                    "image request {i}: architecture \"{arch}\" is not one of {}",
                    images::ARCHITECTURES.join(", ")
                ),
            ));
        }
        let repos = ir
            .get("repositories")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (j, repo) in repos.iter().enumerate() {
            let has_source = ["baseurl", "mirrorlist", "metalink"].iter().any(|k| {
                repo.get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
            });
            if !has_source {
                return Err(ApiError::with_details(
                    errors::INVALID_REPOSITORY,
                    format!("image request {i}, repository {j}"),
                ));
            }
            if repo.get("check_gpg").and_then(Value::as_bool) == Some(true)
                && repo
                    .get("gpgkey")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                return Err(ApiError::with_details(
                    errors::NO_GPG_KEY,
                    format!("image request {i}, repository {j}"),
                ));
            }
        }
        let has_upload = ir.get("upload_options").is_some()
            || ir
                .get("upload_targets")
                .and_then(Value::as_array)
                .is_some_and(|t| !t.is_empty());
        if !is_koji && !has_upload {
            // Decision of the simulator: it builds Koji composes, and
            // non-Koji composes only when they say where the image goes.
            return Err(ApiError::with_details(
                errors::INVALID_UPLOAD_TARGET,
                format!(
                    "image request {i}: no koji section and no upload_options/upload_targets; \
                     give a koji section (Koji compose) or an upload target"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn koji_request() -> Value {
        json!({
            "distribution": "fedora-42",
            "image_requests": [{
                "architecture": "x86_64",
                "image_type": "guest-image",
                "repositories": [{"baseurl": "http://repo.example/x86_64", "rhsm": false}]
            }],
            "koji": {"server": "http://127.0.0.1:1/kojihub", "task_id": 7,
                     "name": "demo-image", "version": "42", "release": "1"}
        })
    }

    fn check(v: &Value) -> Result<composer::ComposeRequest, ApiError> {
        compose_request(v.to_string().as_bytes())
    }

    fn code_of(v: Value) -> (u32, String) {
        let e = check(&v).expect_err("must be rejected");
        assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
        (
            e.error.code,
            e.details.map(|d| d.to_string()).unwrap_or_default(),
        )
    }

    #[test]
    fn koji_request_is_accepted() {
        let req = check(&koji_request()).expect("valid");
        assert_eq!(req.koji.expect("koji").task_id, 7);
    }

    #[test]
    fn malformed_json_is_20() {
        let e = compose_request(b"{nope").expect_err("rejected");
        assert_eq!(e.error.code, 20);
    }

    #[test]
    fn unknown_image_type_is_a_schema_error() {
        let mut v = koji_request();
        v["image_requests"][0]["image_type"] = json!("floppy");
        let (code, details) = code_of(v);
        assert_eq!(code, 30);
        assert!(details.contains("floppy"), "{details}");
    }

    #[test]
    fn unknown_architecture_is_5() {
        let mut v = koji_request();
        v["image_requests"][0]["architecture"] = json!("sparc");
        let (code, details) = code_of(v);
        assert_eq!(code, 5);
        assert!(details.contains("sparc"));
    }

    #[test]
    fn unknown_distribution_is_4() {
        let mut v = koji_request();
        v["distribution"] = json!("debian-12");
        assert_eq!(code_of(v).0, 4);
    }

    #[test]
    fn missing_koji_field_and_unknown_property_are_schema_errors() {
        let mut v = koji_request();
        v["koji"].as_object_mut().expect("object").remove("task_id");
        let (code, details) = code_of(v);
        assert_eq!(code, 30);
        assert!(details.contains("task_id"));

        let mut v = koji_request();
        v["koji"]["owner"] = json!("me");
        assert_eq!(code_of(v).0, 30);

        let mut v = koji_request();
        v["colour"] = json!("blue");
        assert!(code_of(v).1.contains("colour"));

        let mut v = koji_request();
        v.as_object_mut().expect("object").remove("distribution");
        assert_eq!(code_of(v).0, 30);
    }

    #[test]
    fn missing_koji_section_without_upload_target_is_38() {
        let mut v = koji_request();
        v.as_object_mut().expect("object").remove("koji");
        assert_eq!(code_of(v.clone()).0, 38);
        v["image_requests"][0]["upload_options"] = json!({"region": "eu-west-1"});
        check(&v).expect("a compose with an upload target is accepted");
    }

    #[test]
    fn image_request_count_and_repositories() {
        let mut v = koji_request();
        v["image_requests"] = json!([]);
        assert_eq!(code_of(v).0, 25);

        let mut v = koji_request();
        v["image_requests"][0]["repositories"] = json!([{"rhsm": false}]);
        assert_eq!(code_of(v).0, 7);

        let mut v = koji_request();
        v["image_requests"][0]["repositories"] =
            json!([{"baseurl": "http://r", "check_gpg": true}]);
        assert_eq!(code_of(v).0, 29);
    }
}
