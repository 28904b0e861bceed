//! Validation of osbuildImage argument lists against [`crate::SCHEMA_JSON`].

use std::fmt;
use std::sync::OnceLock;

use jsonschema::paths::LocationSegment;
use jsonschema::Validator;
use serde_json::Value;

use crate::SCHEMA_JSON;

/// The names of osbuildImage's positional arguments, used to say which
/// argument a violation is about.
pub(crate) const ARGUMENT_NAMES: [&str; 7] = [
    "name",
    "version",
    "distro",
    "image_type",
    "target",
    "arches",
    "opts",
];

/// One rule of the schema that an argument list breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where, in argument terms: `arches`, `opts.repo[0]`,
    /// `opts.upload_options`; `arguments` for the list itself.
    pub path: String,
    /// The validator's message, e.g. `[] has less than 1 item`.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why an argument list is not a valid osbuildImage request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The arguments break the schema; one entry per rule broken.
    #[error("invalid osbuildImage arguments: {}", join(.0))]
    Invalid(Vec<Violation>),
    /// More than the seven arguments of osbuildImage. The schema (like
    /// upstream's) does not limit the list, the hub call's signature does.
    #[error(
        "invalid osbuildImage arguments: expected 7 (name, version, distro, image_type, \
         target, arches, opts), got {0}"
    )]
    ArgumentCount(usize),
    /// The arguments pass the schema but not the Rust types; means the
    /// schema and the types disagree, a bug in this crate.
    #[error("osbuildImage arguments passed the schema but not the task types: {0}")]
    Decode(String),
    /// The schema compiled into this crate does not compile as a schema;
    /// a build of koji-osbuild with a broken schemas/osbuild-image.schema.json.
    #[error("the osbuildImage schema built into koji-osbuild is broken: {0}")]
    Schema(String),
}

fn join(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(Violation::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Check an osbuildImage argument list (the seven positional arguments, as
/// the hub receives them and stores them as the task request) against the
/// schema. Reports every broken rule, not only the first.
pub fn validate(args: &Value) -> Result<(), ValidationError> {
    let violations: Vec<Violation> = validator()?
        .iter_errors(args)
        .map(|err| Violation {
            path: argument_path(err.instance_path().segments()),
            message: err.to_string(),
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ValidationError::Invalid(violations))
    }
}

fn validator() -> Result<&'static Validator, ValidationError> {
    // Compiled once: the CLI validates once, but the builder validates
    // every task it takes.
    static VALIDATOR: OnceLock<Result<Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(compile)
        .as_ref()
        .map_err(|err| ValidationError::Schema(err.clone()))
}

fn compile() -> Result<Validator, String> {
    let schema: Value = serde_json::from_str(SCHEMA_JSON).map_err(|err| err.to_string())?;
    // The file declares draft-04 in "$schema"; say so here too so that a
    // change of that line cannot silently change the rules.
    jsonschema::draft4::new(&schema).map_err(|err| err.to_string())
}

/// `/6/repo/0` → `opts.repo[0]`: the words a user of `osbuildImage` knows.
fn argument_path<'a>(segments: impl Iterator<Item = LocationSegment<'a>>) -> String {
    let mut path = String::new();
    for (depth, segment) in segments.enumerate() {
        match (depth, segment) {
            (0, LocationSegment::Index(i)) => match ARGUMENT_NAMES.get(i) {
                Some(name) => path.push_str(name),
                None => path.push_str(&format!("argument {}", i + 1)),
            },
            (_, LocationSegment::Index(i)) => path.push_str(&format!("[{i}]")),
            (0, LocationSegment::Property(p)) => path.push_str(&p),
            (_, LocationSegment::Property(p)) => {
                path.push('.');
                path.push_str(&p);
            }
        }
    }
    if path.is_empty() {
        path.push_str("arguments");
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_file_is_valid_draft4() {
        let schema: Value = serde_json::from_str(SCHEMA_JSON).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
        jsonschema::draft4::meta::validate(&schema).unwrap();
        assert!(compile().is_ok());
    }

    #[test]
    fn violations_name_the_argument() {
        let args = json!(["n", "v", "d", "t", "target", [], {"repo": [{"package_sets": []}]}]);
        let Err(ValidationError::Invalid(violations)) = validate(&args) else {
            panic!("expected violations");
        };
        let paths: Vec<&str> = violations.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(paths, ["arches", "opts.repo[0]"], "{violations:?}");
    }

    #[test]
    fn message_joins_every_violation() {
        let args = json!([1, "v", "d", "t", "target", [], {"skip_tag": "yes"}]);
        let err = validate(&args).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid osbuildImage arguments: name: "),
            "{err}"
        );
        assert!(err.contains("; arches: "), "{err}");
        assert!(err.contains("; opts.skip_tag: "), "{err}");
    }

    #[test]
    fn unknown_option_is_named() {
        let args = json!(["n", "v", "d", "t", "target", ["x86_64"], {"scratch": true}]);
        let err = validate(&args).unwrap_err().to_string();
        assert!(err.contains("opts: "), "{err}");
        assert!(err.contains("scratch"), "{err}");
    }

    #[test]
    fn whole_list_problems_say_arguments() {
        let err = validate(&json!({"name": "n"})).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid osbuildImage arguments: arguments: "),
            "{err}"
        );
    }

    #[test]
    fn paths_in_argument_terms() {
        let path = |segments: Vec<LocationSegment<'static>>| argument_path(segments.into_iter());
        assert_eq!(path(vec![]), "arguments");
        assert_eq!(path(vec![LocationSegment::Index(3)]), "image_type");
        assert_eq!(path(vec![LocationSegment::Index(9)]), "argument 10");
        assert_eq!(
            path(vec![
                LocationSegment::Index(6),
                LocationSegment::Property("upload_options".into()),
                LocationSegment::Property("share_with_accounts".into()),
                LocationSegment::Index(2),
            ]),
            "opts.upload_options.share_with_accounts[2]"
        );
    }
}
