//! From an osbuildImage task to a composer compose request: upstream's
//! `OSBuildImage.handler` steps that need no I/O (plugins/builder/osbuild.py,
//! `ComposeRequest`, `ImageRequest`, `Repository.as_dict`,
//! `OSTreeOptions.as_dict`). The builder is the only part that talks to
//! composer about a task, so the mapping lives here and the contract crate
//! (osbuild-task) stays free of composer's types.

use composer::{ComposeRequest, ImageRequest, Koji, OSTree, Repository};

use osbuild_task::{map_legacy_image_type, OsbuildImageRequest, RepoSpec};

/// A `$…` placeholder other than `$arch` in a repository URL or an OSTree
/// parent or ref. Upstream's `Template.substitute(arch=…)` raises then
/// (KeyError or ValueError), which fails the task; so does this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid placeholder in {what} {template:?}: {reason} (only $arch and ${{arch}} are substituted; write $$ for a literal $)")]
pub struct TemplateError {
    /// What the template was (`repository baseurl`, `ostree parent`, …).
    pub what: &'static str,
    /// The template as given.
    pub template: String,
    /// What was wrong with it.
    pub reason: String,
}

/// Python's `string.Template(template).substitute(arch=arch)`: `$arch` and
/// `${arch}` become `arch`, `$$` becomes `$`; any other placeholder, or a
/// `$` followed by something that is not an identifier, is an error.
pub fn substitute_arch(
    what: &'static str,
    template: &str,
    arch: &str,
) -> Result<String, TemplateError> {
    let err = |reason: String| TemplateError {
        what,
        template: template.to_string(),
        reason,
    };
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        // Template's idpattern: (?a:[_a-z][_a-z0-9]*), case-insensitive.
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) if is_identifier(&braced[..end]) => (&braced[..end], &braced[end + 1..]),
                _ => return Err(err(format!("invalid placeholder at offset {pos}"))),
            }
        } else {
            let len = identifier_len(after);
            if len == 0 {
                return Err(err(format!("invalid placeholder at offset {pos}")));
            }
            (&after[..len], &after[len..])
        };
        if name != "arch" {
            return Err(err(format!("unknown placeholder ${name}")));
        }
        out.push_str(arch);
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

fn identifier_len(s: &str) -> usize {
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return 0;
    }
    s.find(|c: char| c != '_' && !c.is_ascii_alphanumeric())
        .unwrap_or(s.len())
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && identifier_len(s) == s.len()
}

/// The repositories of `opts.repo` (upstream's `make_repos_for_user`), or
/// `None` when the task names none and the build tag's repo is used.
pub fn user_repos(request: &OsbuildImageRequest) -> Option<Vec<RepoSpec>> {
    // Upstream: `if repo_urls:` — an empty list means "the tag's repo".
    request.opts.repo.clone().filter(|r| !r.is_empty())
}

/// The repository of a build tag's current repo, as upstream's
/// `make_repos_for_target`: `koji.PathInfo(topurl).repo(repo_id, tag_name)`
/// + `/$arch`, i.e. `<topurl>/repos/<tag name>/<repo id>/$arch`.
pub fn tag_repo(topurl: &str, build_tag_name: &str, repo_id: i64) -> RepoSpec {
    let topurl = topurl.trim_end_matches('/');
    RepoSpec::Url(format!("{topurl}/repos/{build_tag_name}/{repo_id}/$arch"))
}

/// The compose request for `request`, as upstream's handler builds it: one
/// image request per arch (legacy image type names mapped), `$arch`
/// substituted in every repository URL and in the OSTree parent and ref,
/// OSTree and upload options on every image request, customizations
/// passed through, and the Koji NVR, hub URL and task id.
pub fn compose_request(
    request: &OsbuildImageRequest,
    koji_server: &str,
    task_id: u64,
    release: &str,
    repos: &[RepoSpec],
) -> Result<ComposeRequest, TemplateError> {
    let image_type = map_legacy_image_type(request.image_type.as_str());
    let opts = &request.opts;
    // Upstream: `if ostree:` / `if upload_options:` — empty means none.
    let ostree = opts
        .ostree
        .as_ref()
        .filter(|o| o.parent.is_some() || o.ref_.is_some() || o.url.is_some());
    let upload_options = opts
        .upload_options
        .as_ref()
        .filter(|u| !u.as_map().is_empty());

    let mut image_requests = Vec::with_capacity(request.arches.len());
    for arch in &request.arches {
        let mut repositories = Vec::with_capacity(repos.len());
        for repo in repos {
            let baseurl = substitute_arch("repository baseurl", repo.baseurl(), arch)?;
            let mut r = Repository::new(baseurl);
            // Upstream: `if self.package_sets:`.
            if let Some(sets) = repo.package_sets().filter(|s| !s.is_empty()) {
                r.package_sets = Some(sets.to_vec());
            }
            repositories.push(r);
        }
        let mut ireq = ImageRequest::new(arch.as_str(), image_type, repositories);
        if let Some(o) = ostree {
            // OSTreeOptions.as_dict keeps each field only when truthy.
            let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
            ireq.ostree = Some(OSTree {
                parent: nonempty(&o.parent)
                    .map(|p| substitute_arch("ostree parent", &p, arch))
                    .transpose()?,
                ref_: nonempty(&o.ref_)
                    .map(|r| substitute_arch("ostree ref", &r, arch))
                    .transpose()?,
                url: nonempty(&o.url),
                ..OSTree::default()
            });
        }
        if let Some(u) = upload_options {
            ireq.upload_options = Some(u.as_map().clone());
        }
        image_requests.push(ireq);
    }

    let koji = Koji {
        name: request.name.clone(),
        version: request.version.clone(),
        release: release.to_string(),
        server: koji_server.to_string(),
        task_id,
    };
    let mut compose = ComposeRequest::koji(request.distro.clone(), image_requests, koji);
    compose.customizations = opts.customizations.clone().filter(|c| !c.is_empty());
    Ok(compose)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(opts: serde_json::Value) -> OsbuildImageRequest {
        OsbuildImageRequest::from_args(&json!([
            "name",
            "1",
            "fedora-42",
            "guest-image",
            "fedora42-candidate",
            ["x86_64", "aarch64"],
            opts
        ]))
        .expect("valid request")
    }

    #[test]
    fn substitutes_like_python_template() {
        assert_eq!(
            substitute_arch("t", "http://x/$arch/os", "s390x").unwrap(),
            "http://x/s390x/os"
        );
        assert_eq!(
            substitute_arch("t", "http://x/${arch}os", "ppc64le").unwrap(),
            "http://x/ppc64leos"
        );
        assert_eq!(substitute_arch("t", "a$$arch", "x").unwrap(), "a$arch");
        assert_eq!(
            substitute_arch("t", "no placeholders", "x").unwrap(),
            "no placeholders"
        );
        assert!(substitute_arch("t", "http://x/$basearch", "x").is_err());
        assert!(substitute_arch("t", "http://x/$", "x").is_err());
        assert!(substitute_arch("t", "http://x/${arch", "x").is_err());
        // `$archive` is the identifier "archive", not "$arch" + "ive".
        assert!(substitute_arch("t", "$archive", "x").is_err());
    }

    #[test]
    fn tag_repo_is_pathinfo_repo_plus_arch() {
        let r = tag_repo("http://127.0.0.1:1/kojifiles/", "fedora42-build", 7);
        assert_eq!(
            r.baseurl(),
            "http://127.0.0.1:1/kojifiles/repos/fedora42-build/7/$arch"
        );
    }

    #[test]
    fn maps_like_upstream_handler() {
        let req = request(json!({}));
        let repos = [tag_repo("http://top", "fedora42-build", 3)];
        let cr = compose_request(&req, "https://koji/kojihub", 42, "1", &repos).unwrap();
        assert_eq!(
            cr.to_json(),
            json!({
                "distribution": "fedora-42",
                "koji": {"name": "name", "version": "1", "release": "1",
                         "server": "https://koji/kojihub", "task_id": 42},
                "image_requests": [
                    {"architecture": "x86_64", "image_type": "guest-image",
                     "repositories": [{"baseurl": "http://top/repos/fedora42-build/3/x86_64", "rhsm": false}]},
                    {"architecture": "aarch64", "image_type": "guest-image",
                     "repositories": [{"baseurl": "http://top/repos/fedora42-build/3/aarch64", "rhsm": false}]}
                ]
            })
        );
    }

    #[test]
    fn legacy_image_types_are_mapped() {
        for (legacy, new) in [
            ("qcow2", "guest-image"),
            ("ec2", "aws-rhui"),
            ("ec2-ha", "aws-ha-rhui"),
            ("ec2-sap", "aws-sap-rhui"),
        ] {
            let mut req = request(json!({}));
            req.image_type = legacy.into();
            let cr = compose_request(&req, "k", 1, "1", &[]).unwrap();
            assert_eq!(cr.to_json()["image_requests"][0]["image_type"], new);
        }
    }

    #[test]
    fn ostree_upload_options_customizations_and_complex_repos() {
        let req = request(json!({
            "ostree": {"parent": "fedora/$arch/iot", "ref": "test/${arch}/ref", "url": "https://osbuild.org/repo"},
            "upload_options": {"region": "us-east-1", "share_with_accounts": ["123456789012"]},
            "customizations": {"packages": ["emacs"]},
            "repo": ["http://a/$arch", {"baseurl": "http://b/$arch", "package_sets": ["blueprint"]}],
            "release": "20250101.0"
        }));
        let repos = user_repos(&req).unwrap();
        let cr = compose_request(&req, "k", 1, "20250101.0", &repos).unwrap();
        let j = cr.to_json();
        let a = &j["image_requests"][1];
        assert_eq!(
            a["ostree"],
            json!({"parent": "fedora/aarch64/iot", "ref": "test/aarch64/ref", "url": "https://osbuild.org/repo"})
        );
        assert_eq!(
            a["upload_options"],
            json!({"region": "us-east-1", "share_with_accounts": ["123456789012"]})
        );
        assert_eq!(
            a["repositories"],
            json!([
                {"baseurl": "http://a/aarch64", "rhsm": false},
                {"baseurl": "http://b/aarch64", "rhsm": false, "package_sets": ["blueprint"]}
            ])
        );
        assert_eq!(j["customizations"], json!({"packages": ["emacs"]}));
        assert_eq!(j["koji"]["release"], "20250101.0");
    }

    #[test]
    fn empty_options_are_left_out_like_upstream() {
        let req =
            request(json!({"ostree": {}, "upload_options": {}, "customizations": {}, "repo": []}));
        assert!(user_repos(&req).is_none());
        let j = compose_request(&req, "k", 1, "1", &[]).unwrap().to_json();
        assert!(j.get("customizations").is_none());
        assert!(j["image_requests"][0].get("ostree").is_none());
        assert!(j["image_requests"][0].get("upload_options").is_none());
    }

    #[test]
    fn bad_placeholder_fails() {
        let req = request(json!({"repo": ["http://a/$basearch"]}));
        let repos = user_repos(&req).unwrap();
        let e = compose_request(&req, "k", 1, "1", &repos).unwrap_err();
        assert!(e.to_string().contains("$basearch"), "{e}");
    }
}
