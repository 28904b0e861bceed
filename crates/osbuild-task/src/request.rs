//! The osbuildImage arguments as types.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::schema::{validate, ValidationError, ARGUMENT_NAMES};

/// One osbuildImage request: the seven positional arguments of the hub call
/// `osbuildImage(name, version, distro, image_type, target, arches, opts)`,
/// which the hub stores as the task request.
///
/// Serializes to and deserializes from that seven-element list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RequestArgs", into = "RequestArgs")]
pub struct OsbuildImageRequest {
    /// The name of the build (the N of the NVR).
    pub name: String,
    /// The version of the build (the V of the NVR).
    pub version: String,
    /// The distribution composer builds for, e.g. `fedora-42`.
    pub distro: String,
    /// The composer image type, e.g. `guest-image`.
    pub image_type: ImageType,
    /// The Koji build target; its destination tag receives the build.
    pub target: String,
    /// The architectures to build for, at least one.
    pub arches: Vec<String>,
    /// Everything optional.
    pub opts: ImageOptions,
}

// serde reads a tuple struct from a JSON array and refuses any other
// length, which is the shape of a Koji task request.
#[derive(Serialize, Deserialize)]
struct RequestArgs(
    String,
    String,
    String,
    ImageType,
    String,
    Vec<String>,
    ImageOptions,
);

impl From<RequestArgs> for OsbuildImageRequest {
    fn from(a: RequestArgs) -> Self {
        Self {
            name: a.0,
            version: a.1,
            distro: a.2,
            image_type: a.3,
            target: a.4,
            arches: a.5,
            opts: a.6,
        }
    }
}

impl From<OsbuildImageRequest> for RequestArgs {
    fn from(r: OsbuildImageRequest) -> Self {
        Self(
            r.name,
            r.version,
            r.distro,
            r.image_type,
            r.target,
            r.arches,
            r.opts,
        )
    }
}

impl OsbuildImageRequest {
    /// Read an osbuildImage argument list (as sent to the hub, or a task
    /// request read back from Koji), checking it against the schema first.
    pub fn from_args(args: &Value) -> Result<Self, ValidationError> {
        validate(args)?;
        if let Some(list) = args.as_array() {
            if list.len() != ARGUMENT_NAMES.len() {
                return Err(ValidationError::ArgumentCount(list.len()));
            }
        }
        Self::deserialize(args).map_err(|err| ValidationError::Decode(err.to_string()))
    }

    /// The hub call as upstream's `koji osbuild-image` makes it: the six
    /// positional arguments (the image type as a plain string, as the hub
    /// stores it), then `opts` (and `priority`, if given) as keyword
    /// arguments. The only place the call is built, for the CLI and tests.
    pub fn hub_call(&self, priority: Option<i64>) -> (Vec<Value>, Map<String, Value>) {
        let positional = vec![
            Value::from(self.name.as_str()),
            Value::from(self.version.as_str()),
            Value::from(self.distro.as_str()),
            Value::from(self.image_type.as_str()),
            Value::from(self.target.as_str()),
            Value::from(self.arches.clone()),
        ];
        let mut keyword = Map::new();
        // ImageOptions serializes into a JSON object by construction.
        let opts = serde_json::to_value(&self.opts).unwrap_or_default();
        keyword.insert("opts".into(), opts);
        if let Some(priority) = priority {
            keyword.insert("priority".into(), Value::from(priority));
        }
        (positional, keyword)
    }
}

/// A composer image type name.
///
/// Reads the deprecated one-element list form (`["guest-image"]`) that
/// upstream's hub still accepts, and always writes a plain string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ImageType(String);

impl ImageType {
    /// An image type with this name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The image type name as given, before any legacy mapping
    /// ([`crate::map_legacy_image_type`]).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ImageType {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for ImageType {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl From<String> for ImageType {
    fn from(name: String) -> Self {
        Self(name)
    }
}

impl<'de> Deserialize<'de> for ImageType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Name(String),
            List(Vec<String>),
        }
        match Form::deserialize(deserializer)? {
            Form::Name(name) => Ok(Self(name)),
            Form::List(list) => {
                let len = list.len();
                match <[String; 1]>::try_from(list) {
                    Ok([name]) => Ok(Self(name)),
                    Err(_) => Err(de::Error::invalid_length(
                        len,
                        &"an image type name or a list of exactly one",
                    )),
                }
            }
        }
    }
}

/// The optional arguments of osbuildImage (its `opts`).
///
/// Absent keys stay absent when written back, so that a task request read
/// and written again is the same request. The fields are in the order
/// upstream's CLI plugin inserts the keys, so the call we send reads the
/// same on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageOptions {
    /// The release of the build, instead of the next free one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Repositories to build from, instead of the build tag's repo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<Vec<RepoSpec>>,
    /// Leave the build untagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_tag: Option<bool>,
    /// OSTree commit options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ostree: Option<OstreeOptions>,
    /// Image customizations, passed to composer as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customizations: Option<Map<String, Value>>,
    /// Where composer uploads the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_options: Option<UploadOptions>,
}

/// OSTree options: the ref to build, and the parent commit or repo URL to
/// build on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OstreeOptions {
    /// The parent commit's ref or checksum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The ref of the commit to build.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub ref_: Option<String>,
    /// The URL of the repository holding the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Upload options, kept as the JSON object they came in.
///
/// The builder hands them to composer verbatim. The schema accepts AWS EC2,
/// AWS S3, GCP, Azure and container registry options through `anyOf`
/// because their shapes overlap (`{"region": ..., "share_with_accounts":
/// [...]}` is both EC2 and GCP); the image type, not the shape, says which
/// cloud they are for, so parsing them into one variant would guess.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UploadOptions(pub Map<String, Value>);

impl UploadOptions {
    /// The options as a JSON object, for the compose request.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// One option, e.g. `region`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }
}

impl From<Map<String, Value>> for UploadOptions {
    fn from(map: Map<String, Value>) -> Self {
        Self(map)
    }
}

/// A repository to build from: a base URL, or a base URL with the package
/// sets it serves (e.g. `["os"]`, `["blueprint"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum RepoSpec {
    /// Only a base URL; serves every package set.
    Url(String),
    /// A base URL with package sets.
    Repo {
        /// The repository's base URL; may contain `$arch`.
        baseurl: String,
        /// The package sets this repository is used for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        package_sets: Option<Vec<String>>,
    },
}

impl RepoSpec {
    /// The repository's base URL, whichever form it was given in.
    pub fn baseurl(&self) -> &str {
        match self {
            Self::Url(url) => url,
            Self::Repo { baseurl, .. } => baseurl,
        }
    }

    /// The package sets, if given.
    pub fn package_sets(&self) -> Option<&[String]> {
        match self {
            Self::Url(_) => None,
            Self::Repo { package_sets, .. } => package_sets.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The task request the hub stores for this request.
    fn args_of(request: &OsbuildImageRequest) -> Value {
        serde_json::to_value(request).unwrap()
    }

    #[test]
    fn hub_call_is_six_positional_arguments_and_opts_by_keyword() {
        let request = OsbuildImageRequest::from_args(&json!([
            "n", "1", "d", ["guest-image"], "t", ["x86_64"],
            {"upload_options": {"region": "r"}, "skip_tag": true, "release": "2"}
        ]))
        .unwrap();
        let (positional, keyword) = request.hub_call(None);
        assert_eq!(
            positional,
            vec![
                json!("n"),
                json!("1"),
                json!("d"),
                json!("guest-image"),
                json!("t"),
                json!(["x86_64"])
            ]
        );
        // upstream's key order: release, repo, skip_tag, ostree, customizations, upload_options
        let opts = keyword["opts"].as_object().unwrap();
        assert_eq!(
            opts.keys().collect::<Vec<_>>(),
            ["release", "skip_tag", "upload_options"]
        );
        assert_eq!(keyword.get("priority"), None);
        let (_, keyword) = request.hub_call(Some(-5));
        assert_eq!(keyword["priority"], json!(-5));
    }

    const CASES_JSON: &str = include_str!("../../../schemas/tests/osbuild-image-cases.json");

    struct Case {
        name: String,
        valid: bool,
        args: Value,
    }

    fn cases() -> Vec<Case> {
        let doc: Value = serde_json::from_str(CASES_JSON).unwrap();
        doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Case {
                name: c["name"].as_str().unwrap().to_owned(),
                valid: c["valid"].as_bool().unwrap(),
                args: c["args"].clone(),
            })
            .collect()
    }

    /// The list the hub stores: the image type list form becomes a string.
    fn as_stored(args: &Value) -> Value {
        let mut stored = args.clone();
        if let Some(first) = stored[3].as_array().map(|list| list[0].clone()) {
            stored[3] = first;
        }
        stored
    }

    fn basic() -> Value {
        json!(["name", "version", "distro", "image_type", "target", ["arches"],
               {"repo": ["repo1", "repo2"], "release": "1.2.3", "skip_tag": true}])
    }

    // Same table as the hub plugin's pytest tests (plugins/tests/test_hub.py),
    // so that the Rust side and the hub give the same verdicts.
    #[test]
    fn shared_cases_give_the_same_verdicts() {
        let cases = cases();
        assert!(cases.len() > 30, "the shared table went missing");
        for case in cases {
            let verdict = validate(&case.args);
            assert_eq!(verdict.is_ok(), case.valid, "{}: {verdict:?}", case.name);
            let request = OsbuildImageRequest::from_args(&case.args);
            assert_eq!(request.is_ok(), case.valid, "{}: {request:?}", case.name);
        }
    }

    #[test]
    fn shared_valid_cases_round_trip() {
        for case in cases().into_iter().filter(|c| c.valid) {
            let request = OsbuildImageRequest::from_args(&case.args).unwrap();
            let expected = as_stored(&case.args);
            assert_eq!(
                serde_json::to_value(&request).unwrap(),
                expected,
                "{}",
                case.name
            );
            let again: OsbuildImageRequest = serde_json::from_value(expected).unwrap();
            assert_eq!(again, request, "{}", case.name);
        }
    }

    #[test]
    fn basic_request_fields() {
        let request = OsbuildImageRequest::from_args(&basic()).unwrap();
        assert_eq!(request.name, "name");
        assert_eq!(request.version, "version");
        assert_eq!(request.distro, "distro");
        assert_eq!(request.image_type.as_str(), "image_type");
        assert_eq!(request.target, "target");
        assert_eq!(request.arches, ["arches"]);
        assert_eq!(
            request.opts.repo,
            Some(vec![
                RepoSpec::Url("repo1".into()),
                RepoSpec::Url("repo2".into())
            ])
        );
        assert_eq!(request.opts.release.as_deref(), Some("1.2.3"));
        assert_eq!(request.opts.skip_tag, Some(true));
        assert_eq!(request.opts.customizations, None);
    }

    #[test]
    fn image_type_list_is_normalised() {
        let mut args = basic();
        args[3] = json!(["guest-image"]);
        let request = OsbuildImageRequest::from_args(&args).unwrap();
        assert_eq!(request.image_type, ImageType::from("guest-image"));
        assert_eq!(args_of(&request)[3], json!("guest-image"));
    }

    #[test]
    fn image_type_list_of_two_does_not_deserialize() {
        // even without the schema in front
        let err = serde_json::from_value::<ImageType>(json!(["a", "b"])).unwrap_err();
        assert!(err.to_string().contains("invalid length 2"), "{err}");
        assert!(serde_json::from_value::<ImageType>(json!([])).is_err());
    }

    #[test]
    fn repo_with_package_sets() {
        let mut args = basic();
        args[6] = json!({"repo": [
            "http://example.invalid/plain",
            {"baseurl": "http://example.invalid/$arch/os", "package_sets": ["os"]},
            {"baseurl": "http://example.invalid/extra"},
        ]});
        let request = OsbuildImageRequest::from_args(&args).unwrap();
        let repos = request.opts.repo.as_deref().unwrap();
        assert_eq!(
            repos[0],
            RepoSpec::Url("http://example.invalid/plain".into())
        );
        assert_eq!(repos[1].baseurl(), "http://example.invalid/$arch/os");
        assert_eq!(repos[1].package_sets(), Some(&["os".to_owned()][..]));
        assert_eq!(repos[2].package_sets(), None);
        assert_eq!(args_of(&request), args);
    }

    #[test]
    fn repo_dict_with_unknown_key_does_not_deserialize() {
        let repo = json!({"baseurl": "http://example.invalid/os", "gpgkey": "k"});
        assert!(serde_json::from_value::<RepoSpec>(repo).is_err());
    }

    #[test]
    fn ostree_ref_is_called_ref() {
        let mut args = basic();
        args[6] =
            json!({"ostree": {"ref": "fedora/42/x86_64/iot", "url": "https://o.invalid/repo"}});
        let request = OsbuildImageRequest::from_args(&args).unwrap();
        let ostree = request.opts.ostree.clone().unwrap();
        assert_eq!(ostree.ref_.as_deref(), Some("fedora/42/x86_64/iot"));
        assert_eq!(ostree.parent, None);
        assert_eq!(args_of(&request), args);
    }

    #[test]
    fn upload_options_pass_through_verbatim() {
        let upload = json!({"region": "eu", "bucket": "b", "share_with_accounts": ["user:a"]});
        let mut args = basic();
        args[6] = json!({"upload_options": upload, "customizations": {"x": {"y": [1, 2.5, null]}}});
        let request = OsbuildImageRequest::from_args(&args).unwrap();
        let options = request.opts.upload_options.as_ref().unwrap();
        assert_eq!(Value::Object(options.as_map().clone()), upload);
        assert_eq!(options.get("region"), Some(&json!("eu")));
        assert_eq!(args_of(&request), args);
    }

    #[test]
    fn absent_options_stay_absent_and_false_stays_false() {
        let mut args = basic();
        args[6] = json!({"skip_tag": false});
        let request = OsbuildImageRequest::from_args(&args).unwrap();
        assert_eq!(args_of(&request)[6], json!({"skip_tag": false}));

        args[6] = json!({});
        let request = OsbuildImageRequest::from_args(&args).unwrap();
        assert_eq!(request.opts, ImageOptions::default());
        assert_eq!(args_of(&request)[6], json!({}));
    }

    #[test]
    fn more_than_seven_arguments() {
        // the schema lets extra items through, as upstream's does
        let mut args = basic();
        args.as_array_mut().unwrap().push(json!("extra"));
        assert!(validate(&args).is_ok());
        assert_eq!(
            OsbuildImageRequest::from_args(&args),
            Err(ValidationError::ArgumentCount(8))
        );
    }

    #[test]
    fn opts_null_is_refused() {
        // the hub plugin turns opts=None into {} before it stores the task,
        // so a stored request never has null
        let mut args = basic();
        args[6] = Value::Null;
        let Err(ValidationError::Invalid(violations)) = OsbuildImageRequest::from_args(&args)
        else {
            panic!("null opts accepted");
        };
        assert_eq!(violations[0].path, "opts");
    }

    #[test]
    fn built_request_writes_what_the_schema_accepts() {
        let request = OsbuildImageRequest {
            name: "fedora-guest".into(),
            version: "42".into(),
            distro: "fedora-42".into(),
            image_type: "guest-image".into(),
            target: "fedora42-candidate".into(),
            arches: vec!["x86_64".into(), "aarch64".into()],
            opts: ImageOptions {
                ostree: Some(OstreeOptions {
                    ref_: Some("r".into()),
                    ..Default::default()
                }),
                upload_options: Some(UploadOptions::from(
                    json!({"region": "us-east-1"}).as_object().unwrap().clone(),
                )),
                repo: Some(vec![RepoSpec::Repo {
                    baseurl: "http://example.invalid/os".into(),
                    package_sets: Some(vec!["os".into()]),
                }]),
                release: Some("7".into()),
                ..Default::default()
            },
        };
        let args = args_of(&request);
        validate(&args).unwrap();
        assert_eq!(OsbuildImageRequest::from_args(&args).unwrap(), request);
    }
}
