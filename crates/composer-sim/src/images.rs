//! What the simulator knows about image types, architectures and
//! distributions: the file each image type produces (name suffix and Koji
//! archive type) and the deterministic fake content of that file.

use sha2::{Digest, Sha256};

/// Architectures composer builds for.
pub const ARCHITECTURES: &[&str] = &["x86_64", "aarch64", "ppc64le", "s390x", "riscv64"];

/// The image file of an image type: its filename extension (composer names
/// Koji images `<name>-<version>-<release>.<arch>.<ext>`) and the Koji
/// archive type it is imported as (Koji's `archivetypes` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFile {
    pub extension: &'static str,
    pub archive_type: &'static str,
}

/// The file an image type produces, `None` for types the spec does not name.
/// Extensions follow what composer exports for Fedora/RHEL image types.
pub fn image_file(image_type: &str) -> Option<ImageFile> {
    let (extension, archive_type) = match image_type {
        "guest-image" | "oci" => ("qcow2", "qcow2"),
        "aws" | "aws-ha-rhui" | "aws-rhui" | "aws-sap-rhui" => ("raw", "raw"),
        "azure" | "azure-eap7-rhui" | "azure-rhui" | "azure-sap-rhui" => ("vhd", "vhd"),
        "gcp" | "gcp-rhui" => ("tar.gz", "tar"),
        "vsphere" => ("vmdk", "vmdk"),
        "vsphere-ova" => ("ova", "ova"),
        "edge-installer"
        | "image-installer"
        | "iot-installer"
        | "iot-simplified-installer"
        | "live-installer" => ("iso", "iso"),
        "edge-commit"
        | "iot-commit"
        | "edge-container"
        | "iot-container"
        | "iot-bootable-container" => ("tar", "tar"),
        "iot-raw-image" | "minimal-raw" => ("raw.xz", "raw-xz"),
        "wsl" => ("wsl", "wsl"),
        _ => return None,
    };
    Some(ImageFile {
        extension,
        archive_type,
    })
}

/// Distributions the simulator accepts: `fedora-N`, `rhel-N`, `rhel-N.M`,
/// `centos-N`.
pub fn distribution_supported(distribution: &str) -> bool {
    let Some((family, version)) = distribution.split_once('-') else {
        return false;
    };
    let version_ok = !version.is_empty()
        && version.split('.').count() <= 2
        && version
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    matches!(family, "fedora" | "rhel" | "centos") && version_ok
}

/// The Koji image filename composer uses: `<name>-<version>-<release>.<arch>.<ext>`.
pub fn image_filename(
    name: &str,
    version: &str,
    release: &str,
    arch: &str,
    file: ImageFile,
) -> String {
    format!("{name}-{version}-{release}.{arch}.{}", file.extension)
}

/// Deterministic fake image content: a small header naming the image, then
/// a fixed pattern, so the same request always gives the same checksum.
pub fn image_content(filename: &str, image_type: &str) -> Vec<u8> {
    let mut data = format!("composer-sim fake {image_type} image {filename}\n").into_bytes();
    // 16 KiB of a repeating pattern: big enough to be an upload, small enough for tests
    data.extend((0..16 * 1024u32).map(|i| (i % 251) as u8));
    data
}

/// Lowercase hex sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_image_type_has_a_file() {
        for t in composer::ImageType::KNOWN {
            assert!(image_file(t).is_some(), "no file for image type {t}");
        }
        assert_eq!(image_file("no-such-type"), None);
    }

    #[test]
    fn guest_image_is_a_qcow2() {
        let f = image_file("guest-image").expect("known");
        assert_eq!(
            image_filename("demo", "42", "1", "x86_64", f),
            "demo-42-1.x86_64.qcow2"
        );
        assert_eq!(f.archive_type, "qcow2");
    }

    #[test]
    fn distributions() {
        for ok in ["fedora-42", "rhel-9", "rhel-9.6", "centos-10"] {
            assert!(distribution_supported(ok), "{ok}");
        }
        for bad in [
            "fedora",
            "fedora-",
            "debian-12",
            "rhel-9.6.1",
            "fedora-4x",
            "",
        ] {
            assert!(!distribution_supported(bad), "{bad}");
        }
    }

    #[test]
    fn content_is_deterministic() {
        let a = image_content("a.qcow2", "guest-image");
        assert_eq!(a, image_content("a.qcow2", "guest-image"));
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
