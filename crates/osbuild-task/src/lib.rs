//! The osbuildImage contract shared by the hub plugin, the CLI and the
//! builder: the argument types, the one JSON schema file, and validation.
//!
//! The Koji hub call `osbuildImage(name, version, distro, image_type,
//! target, arches, opts)` stores its seven arguments as the task request;
//! the builder reads them back. [`OsbuildImageRequest`] is that list as
//! types, [`validate`] checks a list against `schemas/osbuild-image.schema.json`
//! (the file the Python hub plugin validates with too), and
//! [`map_legacy_image_type`] is the builder's translation of Koji's old
//! image type names. This crate does no I/O.

mod request;
mod schema;

pub use request::{
    ImageOptions, ImageType, OsbuildImageRequest, OstreeOptions, RepoSpec, UploadOptions,
};
pub use schema::{validate, ValidationError, Violation};

/// The osbuildImage schema (JSON Schema draft-04), the same file the hub
/// plugin loads.
pub const SCHEMA_JSON: &str = include_str!("../../../schemas/osbuild-image.schema.json");

/// The Koji task method and hub call name.
pub const METHOD: &str = "osbuildImage";

/// The Koji channel the hub puts osbuildImage tasks in.
pub const CHANNEL: &str = "image";

/// The composer image type for one of the image type names Koji's own
/// image API uses; any other name is returned unchanged.
///
/// Kept for compatibility with upstream's builder (`KOJIAPI_IMAGE_TYPES`),
/// so that requests written for Koji's image tasks keep working.
pub fn map_legacy_image_type(image_type: &str) -> &str {
    match image_type {
        "qcow2" => "guest-image",
        "ec2" => "aws-rhui",
        "ec2-ha" => "aws-ha-rhui",
        "ec2-sap" => "aws-sap-rhui",
        other => other,
    }
}

/// `koji.canonArch`: the name Koji files an arch under (koji/__init__.py),
/// so that a build tag's `i686` or `armv7hl` matches a request for `i386`
/// or `armhfp`.
pub fn canon_arch(arch: &str) -> &str {
    let after_arm = arch.strip_prefix("arm");
    if (arch.len() == 4 && arch.starts_with('i') && arch.ends_with("86")) || arch == "athlon" {
        "i386"
    } else if arch == "ia32e" {
        "x86_64"
    } else if arch == "ppc64le" {
        "ppc64le"
    } else if arch.starts_with("ppc64") {
        "ppc64"
    } else if arch.starts_with("sparc64") {
        "sparc64"
    } else if arch.starts_with("sparc") {
        "sparc"
    } else if arch.starts_with("alpha") {
        "alpha"
    } else if after_arm.is_some_and(|rest| rest.contains('h')) {
        "armhfp"
    } else if after_arm.is_some() {
        "arm"
    } else {
        arch
    }
}

/// The requested arches a build tag lacks, in request order and each once:
/// upstream's builder fails such a task, so the hub plugin and the CLI
/// refuse it before it is queued. `tag_arches` as the tag lists them.
pub fn arches_missing_from_tag<'a>(arches: &'a [String], tag_arches: &[String]) -> Vec<&'a str> {
    let tag: Vec<&str> = tag_arches.iter().map(|a| canon_arch(a)).collect();
    let mut missing: Vec<&str> = Vec::new();
    for arch in arches {
        if !tag.contains(&arch.as_str()) && !missing.contains(&arch.as_str()) {
            missing.push(arch);
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arches_are_canonical_as_koji_names_them() {
        for (arch, canon) in [
            ("i686", "i386"),
            ("i386", "i386"),
            ("athlon", "i386"),
            ("ia32e", "x86_64"),
            ("x86_64", "x86_64"),
            ("ppc64le", "ppc64le"),
            ("ppc64p7", "ppc64"),
            ("sparcv9", "sparc"),
            ("sparc64v", "sparc64"),
            ("alphaev6", "alpha"),
            ("armv7hl", "armhfp"),
            ("armv7l", "arm"),
            ("aarch64", "aarch64"),
            ("s390x", "s390x"),
            ("i1086", "i1086"),
        ] {
            assert_eq!(canon_arch(arch), canon, "{arch}");
        }
    }

    #[test]
    fn missing_arches_in_request_order_once() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let tag = strings(&["x86_64", "i686", "armv7hl"]);
        let request = strings(&["sparc", "i386", "aarch64", "sparc", "armhfp", "x86_64"]);
        assert_eq!(
            arches_missing_from_tag(&request, &tag),
            ["sparc", "aarch64"]
        );
        assert!(arches_missing_from_tag(&strings(&["x86_64"]), &tag).is_empty());
    }

    #[test]
    fn legacy_image_types_map_to_composer_names() {
        assert_eq!(map_legacy_image_type("qcow2"), "guest-image");
        assert_eq!(map_legacy_image_type("ec2"), "aws-rhui");
        assert_eq!(map_legacy_image_type("ec2-ha"), "aws-ha-rhui");
        assert_eq!(map_legacy_image_type("ec2-sap"), "aws-sap-rhui");
    }

    #[test]
    fn other_image_types_pass_unchanged() {
        for name in ["guest-image", "aws", "image-installer", "QCOW2", ""] {
            assert_eq!(map_legacy_image_type(name), name);
        }
    }
}
