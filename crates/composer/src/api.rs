//! Cloud API v2 request and response types, shaped like
//! `internal/cloudapi/v2/openapi.v2.yml` of osbuild-composer.
//!
//! Requests serialise exactly like upstream's `as_dict()` (optional fields
//! left out when unset) so that compose-request.json keeps its shape.
//! Responses tolerate unknown fields. Logs and manifests stay the JSON
//! documents composer sent, because the builder attaches them verbatim; a
//! status keeps its raw JSON too, so that any change in it counts.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value};

fn is_none_or_empty<T>(v: &Option<T>) -> bool
where
    for<'a> &'a T: IntoIterator,
{
    v.as_ref().is_none_or(|v| v.into_iter().next().is_none())
}

/// Implements string (de)serialisation for enums that know composer's
/// values but must keep any other value composer or a user sends.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident (fold_case = $fold:literal) { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this client does not know yet, kept as sent.
            Other(String),
        }

        impl $name {
            /// Every value the spec names.
            pub const KNOWN: &'static [&'static str] = &[$($text),+];

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                // Upstream lowercases statuses before comparing; names a
                // user chose (image types) are kept as written.
                Ok($name::from(if $fold { s.to_lowercase() } else { s }.as_str()))
            }
        }
    };
}

string_enum! {
    /// `ImageTypes` of the spec.
    ImageType (fold_case = false) {
        Aws => "aws",
        AwsHaRhui => "aws-ha-rhui",
        AwsRhui => "aws-rhui",
        AwsSapRhui => "aws-sap-rhui",
        Azure => "azure",
        AzureEap7Rhui => "azure-eap7-rhui",
        AzureRhui => "azure-rhui",
        AzureSapRhui => "azure-sap-rhui",
        EdgeCommit => "edge-commit",
        EdgeContainer => "edge-container",
        EdgeInstaller => "edge-installer",
        Gcp => "gcp",
        GcpRhui => "gcp-rhui",
        GuestImage => "guest-image",
        ImageInstaller => "image-installer",
        IotBootableContainer => "iot-bootable-container",
        IotCommit => "iot-commit",
        IotContainer => "iot-container",
        IotInstaller => "iot-installer",
        IotRawImage => "iot-raw-image",
        IotSimplifiedInstaller => "iot-simplified-installer",
        LiveInstaller => "live-installer",
        MinimalRaw => "minimal-raw",
        Oci => "oci",
        Vsphere => "vsphere",
        VsphereOva => "vsphere-ova",
        Wsl => "wsl",
    }
}

string_enum! {
    /// `UploadTypes` of the spec.
    UploadType (fold_case = false) {
        Aws => "aws",
        AwsS3 => "aws.s3",
        Gcp => "gcp",
        Azure => "azure",
        Container => "container",
        OciObjectStorage => "oci.objectstorage",
        PulpOstree => "pulp.ostree",
        Local => "local",
    }
}

string_enum! {
    /// `ComposeStatusValue` of the spec.
    ComposeStatusValue (fold_case = true) {
        Success => "success",
        Failure => "failure",
        Pending => "pending",
    }
}

string_enum! {
    /// `ImageStatusValue` of the spec.
    ImageStatusValue (fold_case = true) {
        Success => "success",
        Failure => "failure",
        Pending => "pending",
        Building => "building",
        Uploading => "uploading",
        Registering => "registering",
    }
}

string_enum! {
    /// `UploadStatusValue` of the spec.
    UploadStatusValue (fold_case = true) {
        Success => "success",
        Failure => "failure",
        Pending => "pending",
        Running => "running",
    }
}

/// `ComposeRequest`: what POST /compose takes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComposeRequest {
    pub distribution: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub koji: Option<Koji>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_request: Option<ImageRequest>,
    #[serde(default, skip_serializing_if = "is_none_or_empty")]
    pub image_requests: Option<Vec<ImageRequest>>,
    /// Passed through from the task options as given (upstream does too);
    /// left out when empty, like upstream's `if self.customizations`.
    #[serde(default, skip_serializing_if = "is_none_or_empty")]
    pub customizations: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blueprint: Option<Value>,
}

impl ComposeRequest {
    /// A Koji compose of `image_requests`, as upstream's builder sends it.
    pub fn koji(
        distribution: impl Into<String>,
        image_requests: Vec<ImageRequest>,
        koji: Koji,
    ) -> Self {
        ComposeRequest {
            distribution: distribution.into(),
            koji: Some(koji),
            image_requests: Some(image_requests),
            ..ComposeRequest::default()
        }
    }

    /// The request as JSON (what the builder attaches as compose-request.json).
    pub fn to_json(&self) -> Value {
        // Serialising these types cannot fail: all keys are strings and all
        // values plain data.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// `Koji`: where composer imports the build. Field order as upstream's
/// `ComposeRequest.Koji.as_dict` (NVR first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Koji {
    pub name: String,
    pub version: String,
    pub release: String,
    pub server: String,
    pub task_id: u64,
}

/// `ImageRequest`: one image of a compose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRequest {
    pub architecture: String,
    pub image_type: ImageType,
    pub repositories: Vec<Repository>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ostree: Option<OSTree>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_options: Option<UploadOptions>,
    #[serde(default, skip_serializing_if = "is_none_or_empty")]
    pub upload_targets: Option<Vec<UploadTarget>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl ImageRequest {
    pub fn new(
        architecture: impl Into<String>,
        image_type: impl Into<ImageType>,
        repositories: Vec<Repository>,
    ) -> Self {
        ImageRequest {
            architecture: architecture.into(),
            image_type: image_type.into(),
            repositories,
            ostree: None,
            upload_options: None,
            upload_targets: None,
            size: None,
        }
    }
}

/// `Repository`. Serialises like upstream's `Repository.as_dict`: `baseurl`
/// and `rhsm` always, `gpgkey` with `check_gpg` and `package_sets` only
/// when set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseurl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirrorlist: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metalink: Option<String>,
    #[serde(default)]
    pub rhsm: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpgkey: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_gpg: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_repo_gpg: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_ssl: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_hotfixes: Option<bool>,
    #[serde(default, skip_serializing_if = "is_none_or_empty")]
    pub package_sets: Option<Vec<String>>,
}

impl Repository {
    /// A repository at `baseurl`, no subscription needed.
    pub fn new(baseurl: impl Into<String>) -> Self {
        Repository {
            baseurl: Some(baseurl.into()),
            ..Repository::default()
        }
    }
}

/// `OSTree` options of an image request. Field order as upstream's
/// `OSTreeOptions.as_dict`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OSTree {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub ref_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contenturl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rhsm: Option<bool>,
}

/// `UploadTarget`: one of several upload destinations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadTarget {
    #[serde(rename = "type")]
    pub type_: UploadType,
    pub upload_options: UploadOptions,
}

/// `UploadOptions`, an `anyOf` in the spec whose shapes overlap (AWS S3
/// options also fit AWS EC2, EC2 options fit GCP): the image type, not the
/// shape, says which cloud they are for, so they stay the JSON object they
/// came in, written back with exactly the keys read.
pub type UploadOptions = Map<String, Value>;

/// `ComposeId`: the answer to POST /compose.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ComposeId {
    pub id: String,
}

/// `Error`: composer's error object.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ApiError {
    pub code: String,
    pub reason: String,
    pub operation_id: String,
    pub details: Option<Value>,
}

impl ApiError {
    /// Composer's error object, if `body` is one (it has a `reason` or a `code`).
    pub fn from_body(body: &str) -> Option<Self> {
        let e: ApiError = serde_json::from_str(body).ok()?;
        (!e.reason.is_empty() || !e.code.is_empty()).then_some(e)
    }
}

/// `ComposeStatus`: GET /composes/{id}.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ComposeStatus {
    pub status: ComposeStatusValue,
    pub image_status: Option<ImageStatus>,
    #[serde(default)]
    pub image_statuses: Vec<ImageStatus>,
    pub koji_status: Option<KojiStatus>,
    /// The JSON composer sent, unchanged; a change in it is a change of
    /// the compose's status ([`crate::ComposeWatch`]).
    #[serde(skip)]
    pub raw: Value,
}

impl ComposeStatus {
    /// Upstream's `is_finished`: success or failure.
    pub fn is_finished(&self) -> bool {
        self.is_success() || self.status == ComposeStatusValue::Failure
    }

    /// Upstream's `is_success`.
    pub fn is_success(&self) -> bool {
        self.status == ComposeStatusValue::Success
    }

    /// The Koji build composer imported, once it has one.
    pub fn koji_build_id(&self) -> Option<u64> {
        self.koji_status.as_ref().and_then(|k| k.build_id)
    }

    /// The per-image statuses; older composers only send `image_status`.
    pub fn images(&self) -> &[ImageStatus] {
        if self.image_statuses.is_empty() {
            self.image_status.as_slice()
        } else {
            &self.image_statuses
        }
    }

    /// The document upstream's builder attaches as compose-status.json
    /// (`ComposeStatus.as_dict()`): status, koji_task_id, image_statuses,
    /// and koji_build_id once known.
    pub fn to_upstream_json(&self) -> Value {
        let images: Vec<Value> = self
            .images()
            .iter()
            .map(ImageStatus::to_upstream_json)
            .collect();
        let mut doc = json!({
            "status": self.status.as_str(),
            "koji_task_id": self.koji_status.as_ref().and_then(|k| k.task_id),
            "image_statuses": images,
        });
        if let Some(build_id) = self.koji_build_id() {
            doc["koji_build_id"] = build_id.into();
        }
        doc
    }
}

/// `KojiStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct KojiStatus {
    pub build_id: Option<u64>,
    /// Not in the v2 spec, but upstream reads it when present.
    pub task_id: Option<u64>,
}

/// `ImageStatus`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ImageStatus {
    pub status: ImageStatusValue,
    pub upload_status: Option<UploadStatus>,
    pub error: Option<ComposeStatusError>,
}

impl ImageStatus {
    fn to_upstream_json(&self) -> Value {
        let mut doc = json!({"status": self.status.as_str()});
        if let Some(upload) = &self.upload_status {
            doc["upload_status"] = serde_json::to_value(upload).unwrap_or(Value::Null);
        }
        if let Some(error) = &self.error {
            doc["error"] = json!({"id": error.id, "reason": error.reason});
            if let Some(details) = error.details.as_ref().filter(|d| truthy(d)) {
                doc["error"]["details"] = details.clone();
            }
        }
        doc
    }
}

// Python truthiness, for upstream's `if self.details:`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `UploadStatus`; `options` depend on `type` and are kept as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadStatus {
    pub status: UploadStatusValue,
    #[serde(rename = "type")]
    pub type_: UploadType,
    #[serde(default)]
    pub options: Value,
}

/// `ComposeStatusError`: why an image failed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ComposeStatusError {
    pub id: i64,
    pub reason: String,
    pub details: Option<Value>,
}

/// `ComposeLogs`: GET /composes/{id}/logs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ComposeLogs {
    /// One log document per image request, in request order.
    #[serde(default)]
    pub image_builds: Vec<Value>,
    pub koji: Option<KojiLogs>,
}

impl ComposeLogs {
    /// koji-init.log.json content, when composer has it.
    pub fn koji_init(&self) -> Option<&Value> {
        self.koji.as_ref()?.init.as_ref().filter(|v| truthy(v))
    }

    /// koji-import.log.json content, when composer has it.
    pub fn koji_import(&self) -> Option<&Value> {
        self.koji.as_ref()?.import.as_ref().filter(|v| truthy(v))
    }
}

/// `KojiLogs`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct KojiLogs {
    pub init: Option<Value>,
    pub import: Option<Value>,
}

/// `ComposeManifests`: GET /composes/{id}/manifests.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ComposeManifests {
    /// One osbuild manifest per image request, in request order.
    #[serde(default)]
    pub manifests: Vec<Value>,
}

/// `ComposeDeleteStatus`: DELETE /composes/{id}.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ComposeDeleteStatus {
    pub id: String,
    pub kind: String,
    pub href: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).expect("parses")
    }

    #[test]
    fn compose_request_matches_upstream_as_dict() {
        let mut req = ComposeRequest::koji(
            "fedora-40",
            vec![ImageRequest::new(
                "x86_64",
                "guest-image",
                vec![
                    Repository::new("http://1.repo/x86_64"),
                    Repository {
                        package_sets: Some(vec!["blueprint".into()]),
                        ..Repository::new("https://2.repo")
                    },
                ],
            )],
            Koji {
                name: "name".into(),
                version: "version".into(),
                release: "1".into(),
                server: "https://localhost/kojihub".into(),
                task_id: 42,
            },
        );
        assert_eq!(
            req.to_json(),
            json!({
                "distribution": "fedora-40",
                "koji": {"name": "name", "version": "version", "release": "1",
                         "server": "https://localhost/kojihub", "task_id": 42},
                "image_requests": [{
                    "architecture": "x86_64",
                    "image_type": "guest-image",
                    "repositories": [
                        {"baseurl": "http://1.repo/x86_64", "rhsm": false},
                        {"baseurl": "https://2.repo", "rhsm": false,
                         "package_sets": ["blueprint"]}
                    ]
                }]
            })
        );
        // upstream leaves out empty customizations ...
        req.customizations = Some(Map::new());
        assert!(req.to_json().get("customizations").is_none());
        // ... and passes others through as given
        let custom = json!({"packages": ["tmux"], "users": [{"name": "a"}]});
        req.customizations = custom.as_object().cloned();
        assert_eq!(req.to_json()["customizations"], custom);
    }

    #[test]
    fn ostree_and_upload_options_round_trip() {
        let ireq = json!({
            "architecture": "aarch64",
            "image_type": "edge-commit",
            "repositories": [],
            "ostree": {"parent": "p/aarch64", "ref": "r/aarch64", "url": "https://o"},
            "upload_options": {"region": "us-east-1", "share_with_accounts": ["1"]},
            "upload_targets": [
                {"type": "aws.s3", "upload_options": {"region": "eu", "public": true}},
                {"type": "local", "upload_options": {}},
                {"type": "future", "upload_options": {"weird": 1}}
            ],
            "size": 4294967296u64
        });
        let parsed: ImageRequest = serde_json::from_value(ireq.clone()).unwrap();
        assert_eq!(
            parsed.ostree.as_ref().unwrap().ref_.as_deref(),
            Some("r/aarch64")
        );
        let targets = parsed.upload_targets.as_ref().unwrap();
        assert_eq!(targets[0].type_, UploadType::AwsS3);
        assert_eq!(targets[2].type_, UploadType::Other("future".into()));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), ireq);
    }

    #[test]
    fn unknown_image_type_is_kept() {
        let ireq = ImageRequest::new("x86_64", "image_type", vec![]);
        assert_eq!(ireq.image_type, ImageType::Other("image_type".into()));
        assert_eq!(
            serde_json::to_value(&ireq).unwrap()["image_type"],
            "image_type"
        );
        assert_eq!(ImageType::from("guest-image"), ImageType::GuestImage);
        let kept: ImageType = serde_json::from_value(json!("Guest-Image")).unwrap();
        assert_eq!(kept, ImageType::Other("Guest-Image".into()));
    }

    #[test]
    fn compose_status_like_the_spec() {
        let raw = json!({
            "href": "/api/image-builder-composer/v2/composes/123",
            "id": "123",
            "kind": "ComposeStatus",
            "status": "FAILURE",
            "image_status": {"status": "failure"},
            "image_statuses": [
                {"status": "success", "upload_status": {
                    "status": "success", "type": "aws",
                    "options": {"ami": "ami-1", "region": "eu-west-1"}}},
                {"status": "failure", "error": {"id": 10, "reason": "osbuild failed",
                                                 "details": {"stage": "rpm"}}},
                {"status": "registering"}
            ],
            "koji_status": {"build_id": 42},
            "something_new": true
        });
        let status: ComposeStatus = parse(raw);
        assert_eq!(status.status, ComposeStatusValue::Failure);
        assert!(status.is_finished());
        assert!(!status.is_success());
        assert_eq!(status.koji_build_id(), Some(42));
        assert_eq!(status.images().len(), 3);
        assert_eq!(status.images()[2].status, ImageStatusValue::Registering);
        assert_eq!(status.images()[1].error.as_ref().unwrap().id, 10);
        assert_eq!(
            status.to_upstream_json(),
            json!({
                "status": "failure",
                "koji_task_id": null,
                "image_statuses": [
                    {"status": "success", "upload_status": {
                        "status": "success", "type": "aws",
                        "options": {"ami": "ami-1", "region": "eu-west-1"}}},
                    {"status": "failure", "error": {"id": 10, "reason": "osbuild failed",
                                                     "details": {"stage": "rpm"}}},
                    {"status": "registering"}
                ],
                "koji_build_id": 42
            })
        );
    }

    #[test]
    fn pending_status_is_not_finished() {
        let status: ComposeStatus = parse(json!({
            "status": "pending", "image_status": {"status": "building"}
        }));
        assert!(!status.is_finished());
        assert_eq!(status.koji_build_id(), None);
        assert_eq!(status.images()[0].status, ImageStatusValue::Building);
        assert_eq!(
            status.to_upstream_json(),
            json!({"status": "pending", "koji_task_id": null,
                   "image_statuses": [{"status": "building"}]})
        );
    }

    #[test]
    fn logs_and_manifests_like_the_spec() {
        let raw = json!({
            "href": "/x", "id": "1", "kind": "ComposeLogs",
            "image_builds": [{"osbuild": "log log log"}],
            "koji": {"init": {"log": "yes, please!"}, "import": {"log": "yes, indeed!"}}
        });
        let logs: ComposeLogs = parse(raw);
        assert_eq!(logs.image_builds, vec![json!({"osbuild": "log log log"})]);
        assert_eq!(logs.koji_init(), Some(&json!({"log": "yes, please!"})));
        assert_eq!(logs.koji_import(), Some(&json!({"log": "yes, indeed!"})));

        let logs: ComposeLogs =
            parse(json!({"image_builds": [], "koji": {"init": null, "import": {}}}));
        assert_eq!(logs.koji_init(), None);
        assert_eq!(logs.koji_import(), None);

        let raw = json!({"href": "/m", "id": "1", "kind": "ComposeManifests",
                         "manifests": [{"sources": {}, "pipelines": []}]});
        let manifests: ComposeManifests = parse(raw);
        assert_eq!(manifests.manifests.len(), 1);
        let manifests: ComposeManifests = parse(json!({}));
        assert!(manifests.manifests.is_empty());
    }

    #[test]
    fn api_error_body() {
        let e = ApiError::from_body(
            r#"{"href":"/api/image-builder-composer/v2/errors/5","id":"5","kind":"Error",
                "code":"IMAGE-BUILDER-COMPOSER-5","reason":"Invalid request body",
                "operation_id":"abc","details":"arch"}"#,
        )
        .unwrap();
        assert_eq!(e.code, "IMAGE-BUILDER-COMPOSER-5");
        assert_eq!(e.reason, "Invalid request body");
        assert_eq!(e.operation_id, "abc");
        assert!(ApiError::from_body("Bad Request").is_none());
        assert!(ApiError::from_body("{}").is_none());
    }
}
