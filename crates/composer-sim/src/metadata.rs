//! Content-generator metadata for CGImport, shaped as composer's
//! koji-finalize job sends it (cmd/osbuild-worker/jobimpl-koji-finalize.go)
//! and as the recorded import against a real hub accepted it
//! (testing/koji-captures/58-CGImport.request.xml):
//!
//! - `build`: name, version, release, source, start/end time, the reserved
//!   `build_id`, the Koji `task_id` of the osbuildImage task, and
//!   `extra.typeinfo.image` keyed by image filename;
//! - `buildroots`: one per architecture, content generator `osbuild`;
//! - `output`: one image per image request (`extra.image`, archive type of
//!   the image type, sha256) and one log per image request (type `log`).

use serde_json::{json, Map, Value};

/// Name of the content generator composer imports as.
pub const CONTENT_GENERATOR: &str = "osbuild";
/// `content_generator.version` / `osbuild_version` the simulator reports.
pub const SIM_VERSION: &str = concat!("composer-sim-", env!("CARGO_PKG_VERSION"));

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    pub filename: String,
    pub size: u64,
    pub sha256: String,
}

/// What one image request produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOutput {
    pub arch: String,
    pub image_type: String,
    pub archive_type: String,
    pub image: UploadedFile,
    pub log: UploadedFile,
}

/// The build being imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo<'a> {
    pub compose_id: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub release: &'a str,
    pub build_id: u64,
    pub task_id: u64,
    pub distribution: &'a str,
    pub start_time: i64,
    pub end_time: i64,
}

/// The CGImport metadata for `build` with `outputs`.
pub fn cg_metadata(build: &BuildInfo<'_>, outputs: &[ImageOutput]) -> Value {
    // one buildroot per architecture, ids from 1, in request order
    let mut arches: Vec<&str> = Vec::new();
    for o in outputs {
        if !arches.contains(&o.arch.as_str()) {
            arches.push(&o.arch);
        }
    }
    let buildroot_id = |arch: &str| arches.iter().position(|a| *a == arch).map_or(1, |i| i + 1);
    let buildroots: Vec<Value> = arches
        .iter()
        .enumerate()
        .map(|(i, arch)| {
            json!({
                "id": i + 1,
                "host": {"os": build.distribution, "arch": arch},
                "content_generator": {"name": CONTENT_GENERATOR, "version": SIM_VERSION},
                "container": {"type": "none", "arch": arch},
                "tools": [],
                "components": [],
                "extra": {},
            })
        })
        .collect();

    let mut typeinfo_image = Map::new();
    let mut output = Vec::new();
    for o in outputs {
        let image_extra = json!({
            "arch": o.arch,
            "image_type": o.image_type,
            "osbuild_artifact": {"export_filename": o.image.filename, "export_name": o.image_type},
            "osbuild_version": SIM_VERSION,
        });
        typeinfo_image.insert(o.image.filename.clone(), image_extra.clone());
        output.push(json!({
            "buildroot_id": buildroot_id(&o.arch),
            "filename": o.image.filename,
            "filesize": o.image.size,
            "arch": o.arch,
            "checksum_type": "sha256",
            "checksum": o.image.sha256,
            "type": o.archive_type,
            "components": [],
            "extra": {"image": image_extra},
        }));
        output.push(json!({
            "buildroot_id": buildroot_id(&o.arch),
            "filename": o.log.filename,
            "filesize": o.log.size,
            // a log is not architecture dependent (composer does the same)
            "arch": "noarch",
            "checksum_type": "sha256",
            "checksum": o.log.sha256,
            "type": "log",
        }));
    }

    json!({
        "metadata_version": 0,
        "build": {
            "name": build.name,
            "version": build.version,
            "release": build.release,
            "source": "",
            "start_time": build.start_time,
            "end_time": build.end_time,
            "build_id": build.build_id,
            "task_id": build.task_id,
            "extra": {
                "typeinfo": {"image": typeinfo_image},
                "osbuild": {"compose_id": build.compose_id},
            },
        },
        "buildroots": buildroots,
        "output": output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> UploadedFile {
        UploadedFile {
            filename: name.into(),
            size: 10,
            sha256: "ab".repeat(32),
        }
    }

    fn output(arch: &str) -> ImageOutput {
        ImageOutput {
            arch: arch.into(),
            image_type: "guest-image".into(),
            archive_type: "qcow2".into(),
            image: file(&format!("demo-42-1.{arch}.qcow2")),
            log: file(&format!("{arch}-guest-image.log")),
        }
    }

    #[test]
    fn metadata_has_build_buildroots_and_outputs() {
        let build = BuildInfo {
            compose_id: "c0ffee",
            name: "demo",
            version: "42",
            release: "1",
            build_id: 5,
            task_id: 99,
            distribution: "fedora-42",
            start_time: 100,
            end_time: 160,
        };
        let md = cg_metadata(
            &build,
            &[output("x86_64"), output("aarch64"), output("x86_64")],
        );
        assert_eq!(md["metadata_version"], 0);
        assert_eq!(md["build"]["build_id"], 5);
        assert_eq!(md["build"]["task_id"], 99);
        assert_eq!(md["build"]["extra"]["osbuild"]["compose_id"], "c0ffee");
        let typeinfo = md["build"]["extra"]["typeinfo"]["image"]
            .as_object()
            .expect("map");
        assert!(typeinfo.contains_key("demo-42-1.x86_64.qcow2"));

        let brs = md["buildroots"].as_array().expect("array");
        assert_eq!(brs.len(), 2, "one buildroot per arch");
        assert_eq!(brs[1]["id"], 2);
        assert_eq!(brs[1]["host"]["arch"], "aarch64");
        assert_eq!(brs[0]["content_generator"]["name"], "osbuild");

        let out = md["output"].as_array().expect("array");
        assert_eq!(out.len(), 6, "an image and a log per image request");
        assert_eq!(out[0]["type"], "qcow2");
        assert_eq!(out[0]["checksum_type"], "sha256");
        assert_eq!(out[0]["extra"]["image"]["arch"], "x86_64");
        assert_eq!(out[1]["type"], "log");
        assert_eq!(out[1]["arch"], "noarch");
        assert_eq!(out[2]["buildroot_id"], 2);
        assert_eq!(out[4]["buildroot_id"], 1);
    }
}
