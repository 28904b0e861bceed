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

#[cfg(test)]
mod tests {
    use super::*;

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
