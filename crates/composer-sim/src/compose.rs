//! One compose: its request, its state, the task that runs it, and the
//! JSON documents composer answers for it (status, logs, manifests).
//!
//! A Koji compose (one with a `koji` section) goes like composer's
//! koji-init → osbuild → koji-finalize jobs:
//!
//! 1. log in to the request's hub as the CG user and `CGInitBuild` the NVR
//!    (`koji_status.build_id` shows from then on, as in composer);
//! 2. images `building` for the compose duration;
//! 3. images of a failing architecture fail; then the reservation is
//!    refunded (`CGRefundBuild`, state FAILED);
//! 4. otherwise images `uploading`: one image file and one log per image
//!    request into a fresh `cg-import-<random>` work directory;
//! 5. images `registering`: `CGImport` with the CG metadata;
//! 6. compose `success`.
//!
//! A failure at any Koji step refunds the reservation, fails the images
//! with composer's client error ids (15 koji init, 16 koji finalize, 10
//! build) and fills `koji.init` / `koji.import` of the logs with the error.
//!
//! A compose without a `koji` section (the validator only lets it in with an
//! upload target) builds for the compose duration and then reports its
//! upload target as done, with made-up upload options.
//!
//! DELETE cancels a pending compose at once: its status becomes failure,
//! the task stops at its next step and refunds a reserved build as
//! CANCELED.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use composer::{ComposeRequest, ImageRequest};
use serde_json::{json, Value};
use tokio::sync::watch;
use uuid::Uuid;

use crate::faults::KojiFailure;
use crate::images;
use crate::kojiside::{CgSession, Reservation, BUILD_STATE_CANCELED, BUILD_STATE_FAILED};
use crate::metadata::{self, ImageOutput, UploadedFile};
use crate::sim::Sim;

pub const API_BASE: &str = "/api/image-builder-composer/v2";

// composer's worker client error ids (internal/worker/clienterrors)
const ERROR_BUILD_JOB: u32 = 10;
const ERROR_KOJI_FAILED_DEPENDENCY: u32 = 13;
const ERROR_KOJI_INIT: u32 = 15;
const ERROR_KOJI_FINALIZE: u32 = 16;
const ERROR_JOB_CANCELED: u32 = 26;

#[derive(Debug, Clone, PartialEq)]
pub struct ImageState {
    /// pending, building, uploading, registering, success, failure
    pub status: &'static str,
    pub error: Option<Value>,
    pub upload_status: Option<Value>,
    /// The image build's log document (`{}` until the build ended).
    pub log: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComposeState {
    /// pending, success, failure
    pub status: &'static str,
    pub images: Vec<ImageState>,
    pub koji_build_id: Option<u64>,
    pub koji_init: Value,
    pub koji_import: Value,
    pub canceled: bool,
    /// When the status left `pending` (success, failure or canceled).
    pub finished: Option<SystemTime>,
}

pub struct Compose {
    pub id: Uuid,
    pub request: ComposeRequest,
    pub created: SystemTime,
    state: Mutex<ComposeState>,
    cancel: watch::Sender<bool>,
}

fn error_doc(id: u32, reason: &str, details: Option<&str>) -> Value {
    let mut e = json!({"id": id, "reason": reason});
    if let (Some(d), Value::Object(m)) = (details, &mut e) {
        m.insert("details".into(), Value::String(d.to_owned()));
    }
    e
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Compose {
    pub fn new(request: ComposeRequest) -> Arc<Compose> {
        let n = image_requests(&request).len();
        let image = ImageState {
            status: "pending",
            error: None,
            upload_status: None,
            log: json!({}),
        };
        let (cancel, _) = watch::channel(false);
        Arc::new(Compose {
            id: Uuid::new_v4(),
            created: SystemTime::now(),
            state: Mutex::new(ComposeState {
                status: "pending",
                images: vec![image; n],
                koji_build_id: None,
                koji_init: json!({}),
                koji_import: json!({}),
                canceled: false,
                finished: None,
            }),
            request,
            cancel,
        })
    }

    pub fn href(&self) -> String {
        format!("{API_BASE}/composes/{}", self.id)
    }

    pub fn state(&self) -> MutexGuard<'_, ComposeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Updates the state unless a cancel already settled it.
    fn update(&self, f: impl FnOnce(&mut ComposeState)) {
        let mut s = self.state();
        if !s.canceled {
            f(&mut s);
            if s.status != "pending" && s.finished.is_none() {
                s.finished = Some(SystemTime::now());
            }
        }
    }

    fn set_images(&self, status: &'static str) {
        self.update(|s| s.images.iter_mut().for_each(|i| i.status = status));
    }

    fn is_canceled(&self) -> bool {
        self.state().canceled
    }

    /// Cancels the compose. Returns false if it had already finished.
    pub fn cancel(&self) -> bool {
        let mut s = self.state();
        if s.status != "pending" {
            return false;
        }
        s.canceled = true;
        s.status = "failure";
        s.finished = Some(SystemTime::now());
        for image in &mut s.images {
            if !matches!(image.status, "success" | "failure") {
                image.status = "failure";
                image.error = Some(error_doc(ERROR_JOB_CANCELED, "Compose canceled", None));
            }
        }
        drop(s);
        self.cancel.send_replace(true);
        true
    }

    /// GET /composes/{id}: `ComposeStatus`.
    pub fn status_json(&self) -> Value {
        let s = self.state();
        let images: Vec<Value> = s.images.iter().map(image_status_json).collect();
        let mut doc = json!({
            "id": self.id.to_string(),
            "kind": "ComposeStatus",
            "href": self.href(),
            "status": s.status,
            "image_status": images.first().cloned().unwrap_or(json!({"status": s.status})),
            "image_statuses": images,
        });
        if self.request.koji.is_some() {
            let koji_status = match s.koji_build_id {
                Some(id) => json!({"build_id": id}),
                None => json!({}),
            };
            doc["koji_status"] = koji_status;
        }
        doc
    }

    /// GET /composes/{id}/logs: `ComposeLogs`.
    pub fn logs_json(&self) -> Value {
        let s = self.state();
        let mut doc = json!({
            "id": self.id.to_string(),
            "kind": "ComposeLogs",
            "href": format!("{}/logs", self.href()),
            "image_builds": s.images.iter().map(|i| i.log.clone()).collect::<Vec<_>>(),
        });
        if self.request.koji.is_some() {
            doc["koji"] = json!({"init": s.koji_init, "import": s.koji_import});
        }
        doc
    }

    /// GET /composes/{id}/manifests: `ComposeManifests`, one osbuild
    /// manifest (version 2) per image request.
    pub fn manifests_json(&self) -> Value {
        let manifests: Vec<Value> = image_requests(&self.request)
            .iter()
            .map(|ir| manifest(&self.request.distribution, ir))
            .collect();
        json!({
            "id": self.id.to_string(),
            "kind": "ComposeManifests",
            "href": format!("{}/manifests", self.href()),
            "manifests": manifests,
        })
    }

    /// The admin view: request, status and whether a DELETE canceled it.
    pub fn admin_json(&self) -> Value {
        let (canceled, finished) = {
            let s = self.state();
            (s.canceled, s.finished)
        };
        let unix = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        };
        json!({
            "id": self.id.to_string(),
            "created": unix(self.created),
            "finished": finished.map(unix),
            "request": self.request.to_json(),
            "status": self.status_json(),
            "canceled": canceled,
        })
    }
}

fn image_status_json(i: &ImageState) -> Value {
    let mut v = json!({"status": i.status});
    if let Some(u) = &i.upload_status {
        v["upload_status"] = u.clone();
        v["upload_statuses"] = json!([u]);
    }
    if let Some(e) = &i.error {
        v["error"] = e.clone();
    }
    v
}

/// The image requests of a compose, `image_request` or `image_requests`.
pub fn image_requests(r: &ComposeRequest) -> Vec<&ImageRequest> {
    r.image_request
        .iter()
        .chain(r.image_requests.iter().flatten())
        .collect()
}

fn manifest(distribution: &str, ir: &ImageRequest) -> Value {
    let image_type = ir.image_type.as_str();
    let ext = images::image_file(image_type).map_or("img", |f| f.extension);
    let runner = format!("org.osbuild.{}", distribution.replace('-', ""));
    let items: serde_json::Map<String, Value> = ir
        .repositories
        .iter()
        .filter_map(|r| {
            r.baseurl
                .as_deref()
                .or(r.metalink.as_deref())
                .or(r.mirrorlist.as_deref())
        })
        .map(|url| {
            (
                format!("sha256:{}", images::sha256_hex(url.as_bytes())),
                json!({"url": url}),
            )
        })
        .collect();
    json!({
        "version": "2",
        "pipelines": [
            {"name": "build", "runner": runner,
             "stages": [{"type": "org.osbuild.rpm", "options": {}}]},
            {"name": "os", "build": "name:build",
             "stages": [{"type": "org.osbuild.rpm", "options": {}},
                        {"type": "org.osbuild.selinux", "options": {"file_contexts": "etc/selinux/targeted/contexts/files/file_contexts"}}]},
            {"name": "image", "build": "name:build",
             "stages": [{"type": "org.osbuild.truncate", "options": {"filename": format!("disk.{ext}"), "size": ir.size.unwrap_or(0).to_string()}}]},
        ],
        "sources": {"org.osbuild.curl": {"items": items}},
        "metadata": {"generators": "composer-sim", "architecture": ir.architecture, "image_type": image_type},
    })
}

fn build_log(distribution: &str, ir: &ImageRequest, error: Option<&str>) -> Value {
    let success = error.is_none();
    let mut doc = json!({
        "arch": ir.architecture,
        "host_os": distribution,
        "image_type": ir.image_type.as_str(),
        "success": success,
        "osbuild_output": {
            "type": "result",
            "success": success,
            "log": {
                "build": [{"id": "build", "type": "org.osbuild.rpm", "success": true,
                           "output": "composer-sim: build root ready\n"}],
                "os": [{"id": "os", "type": "org.osbuild.rpm", "success": success,
                        "output": error.map_or("composer-sim: packages installed\n".to_owned(), |e| format!("{e}\n"))}],
            },
            "metadata": {},
        },
    });
    if let Some(e) = error {
        doc["job_error"] = error_doc(ERROR_BUILD_JOB, "osbuild build failed", Some(e));
    }
    doc
}

/// Upload options a non-Koji compose reports as done.
fn upload_status(ir: &ImageRequest, compose_id: &Uuid) -> Value {
    let target = ir
        .upload_targets
        .as_ref()
        .and_then(|t| t.first())
        .map(|t| t.type_.as_str().to_owned())
        .unwrap_or_else(|| {
            match ir.image_type.as_str() {
                t if t.starts_with("aws") => "aws",
                t if t.starts_with("gcp") => "gcp",
                t if t.starts_with("azure") => "azure",
                "oci" => "oci.objectstorage",
                _ => "aws.s3",
            }
            .to_owned()
        });
    let options = match target.as_str() {
        "aws" => json!({"ami": "ami-0c830793775595d4b", "region": "eu-west-1"}),
        "gcp" => {
            json!({"project_id": "composer-sim", "image_name": format!("composer-api-{compose_id}")})
        }
        "azure" => json!({"image_name": format!("composer-api-{compose_id}")}),
        "container" => {
            json!({"url": "registry.example/composer-sim:latest", "digest": format!("sha256:{}", images::sha256_hex(compose_id.as_bytes()))})
        }
        "pulp.ostree" => json!({"repo_url": "https://pulp.example/composer-sim/"}),
        "local" => {
            json!({"artifact_path": format!("/var/lib/osbuild-composer/artifacts/{compose_id}")})
        }
        _ => json!({"url": format!("https://s3.example/composer-sim/{compose_id}")}),
    };
    json!({"status": "success", "type": target, "options": options})
}

/// Waits `d`, or less if the compose is canceled; true when canceled.
async fn sleep_or_cancel(d: std::time::Duration, rx: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        r = rx.wait_for(|c| *c) => r.is_ok(),
    }
}

/// Runs `compose` to its end. Spawned once per compose.
pub async fn run(sim: Arc<Sim>, c: Arc<Compose>) {
    let (duration, fail_arches, koji_fail) = {
        let f = sim.faults();
        (f.compose_duration, f.fail_arches.clone(), f.koji_fail)
    };
    let mut rx = c.cancel.subscribe();
    let start_time = unix_now();
    let irs = image_requests(&c.request);
    let failing: Vec<Option<String>> = irs
        .iter()
        .map(|ir| {
            fail_arches.contains(&ir.architecture).then(|| {
                format!(
                    "simulated build failure of architecture {} (fail_arches)",
                    ir.architecture
                )
            })
        })
        .collect();
    let Some(koji) = c.request.koji.clone() else {
        c.set_images("building");
        if sleep_or_cancel(duration, &mut rx).await {
            return;
        }
        finish_builds(&c, &failing);
        if failing.iter().any(Option::is_some) {
            c.update(|s| s.status = "failure");
            return;
        }
        c.set_images("uploading");
        c.update(|s| {
            for (img, ir) in s.images.iter_mut().zip(&irs) {
                img.status = "success";
                img.upload_status = Some(upload_status(ir, &c.id));
            }
            s.status = "success";
        });
        return;
    };

    // koji-init
    if koji_fail == Some(KojiFailure::Init) {
        fail_init(
            &sim,
            &c,
            "simulated Koji init failure (koji_fail=init)".into(),
        );
        return;
    }
    let session = match sim.connector.connect(&koji.server).await {
        Ok(s) => s,
        Err(e) => {
            fail_init(&sim, &c, e);
            return;
        }
    };
    let reservation = match session
        .init_build(&koji.name, &koji.version, &koji.release)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            fail_init(&sim, &c, e);
            session.logout().await;
            return;
        }
    };
    tracing::info!(compose = %c.id, build_id = reservation.build_id, "reserved the Koji build");
    c.update(|s| {
        s.koji_build_id = Some(reservation.build_id);
        s.koji_init = json!({"build_id": reservation.build_id, "koji_error": ""});
    });
    let outcome = koji_build(
        &sim,
        &c,
        &koji,
        &*session,
        &reservation,
        &failing,
        &mut rx,
        duration,
        start_time,
    )
    .await;
    match outcome {
        Ok(()) => {}
        Err(Stop::Canceled) => {
            refund(&sim, &c, &*session, &reservation, BUILD_STATE_CANCELED).await
        }
        Err(Stop::Failed) => refund(&sim, &c, &*session, &reservation, BUILD_STATE_FAILED).await,
    }
    session.logout().await;
}

enum Stop {
    Canceled,
    Failed,
}

fn finish_builds(c: &Compose, failing: &[Option<String>]) {
    let irs = image_requests(&c.request);
    let any_failed = failing.iter().any(Option::is_some);
    c.update(|s| {
        for ((img, ir), fail) in s.images.iter_mut().zip(&irs).zip(failing) {
            img.log = build_log(&c.request.distribution, ir, fail.as_deref());
            if let Some(e) = fail {
                img.status = "failure";
                img.error = Some(error_doc(ERROR_BUILD_JOB, "osbuild build failed", Some(e)));
            } else if any_failed {
                // nothing more happens to it: its own build did succeed
                // (composer shows the same in its koji tests)
                img.status = "success";
            }
        }
    });
}

fn fail_init(sim: &Sim, c: &Compose, error: String) {
    tracing::warn!(compose = %c.id, "Koji init failed: {error}");
    sim.stats().koji_failures += 1;
    c.update(|s| {
        s.status = "failure";
        s.koji_init = json!({"koji_error": error, "job_error": error_doc(ERROR_KOJI_INIT, "Koji init error", Some(&error))});
        s.koji_import = json!({"job_error": error_doc(ERROR_KOJI_FAILED_DEPENDENCY, "At least one job dependency failed", None)});
        for img in &mut s.images {
            img.status = "failure";
            img.error = Some(error_doc(ERROR_KOJI_INIT, "Koji init error", Some(&error)));
        }
    });
}

fn fail_import(sim: &Sim, c: &Compose, error: String) -> Stop {
    tracing::warn!(compose = %c.id, "Koji import failed: {error}");
    sim.stats().koji_failures += 1;
    c.update(|s| {
        s.status = "failure";
        s.koji_import = json!({"koji_error": error, "job_error": error_doc(ERROR_KOJI_FINALIZE, "Koji finalize error", Some(&error))});
        for img in &mut s.images {
            img.status = "failure";
            img.error = Some(error_doc(ERROR_KOJI_FINALIZE, "Koji finalize error", Some(&error)));
        }
    });
    Stop::Failed
}

async fn refund(sim: &Sim, c: &Compose, session: &dyn CgSession, r: &Reservation, state: i64) {
    match session.refund(r, state).await {
        Ok(()) => {
            sim.stats().koji_refunds += 1;
            tracing::info!(compose = %c.id, build_id = r.build_id, state, "refunded the Koji build");
        }
        Err(e) => tracing::warn!(compose = %c.id, "{e}"),
    }
}

#[allow(clippy::too_many_arguments)]
async fn koji_build(
    sim: &Sim,
    c: &Compose,
    koji: &composer::Koji,
    session: &dyn CgSession,
    reservation: &Reservation,
    failing: &[Option<String>],
    rx: &mut watch::Receiver<bool>,
    duration: std::time::Duration,
    start_time: i64,
) -> Result<(), Stop> {
    c.set_images("building");
    if sleep_or_cancel(duration, rx).await {
        return Err(Stop::Canceled);
    }
    finish_builds(c, failing);
    if failing.iter().any(Option::is_some) {
        c.update(|s| {
            s.status = "failure";
            s.koji_import = json!({"job_error": error_doc(ERROR_KOJI_FAILED_DEPENDENCY, "At least one job dependency failed", None)});
        });
        return Err(Stop::Failed);
    }

    // koji-finalize: upload, then import
    c.set_images("uploading");
    let dir = format!("cg-import-{}", Uuid::new_v4().simple());
    let irs = image_requests(&c.request);
    let mut outputs = Vec::with_capacity(irs.len());
    let mut log_names: Vec<String> = Vec::new();
    for (i, ir) in irs.iter().enumerate() {
        let image_type = ir.image_type.as_str();
        let Some(file) = images::image_file(image_type) else {
            return Err(fail_import(
                sim,
                c,
                format!("no image file known for image type {image_type}"),
            ));
        };
        let filename = images::image_filename(
            &koji.name,
            &koji.version,
            &koji.release,
            &ir.architecture,
            file,
        );
        let data = images::image_content(&filename, image_type);
        let mut log_name = format!("{}-{image_type}.log", ir.architecture);
        if log_names.contains(&log_name) {
            log_name = format!("{}-{image_type}-{i}.log", ir.architecture);
        }
        log_names.push(log_name.clone());
        let log = format!(
            "composer-sim build log\ncompose {}\nimage {filename} ({image_type}, {})\nsuccess\n",
            c.id, ir.architecture
        )
        .into_bytes();
        for (name, bytes) in [(&filename, &data), (&log_name, &log)] {
            if let Err(e) = session.upload(&dir, name, bytes).await {
                return Err(fail_import(sim, c, e));
            }
            if c.is_canceled() {
                return Err(Stop::Canceled);
            }
        }
        outputs.push(ImageOutput {
            arch: ir.architecture.clone(),
            image_type: image_type.to_owned(),
            archive_type: file.archive_type.to_owned(),
            image: UploadedFile {
                filename,
                size: data.len() as u64,
                sha256: images::sha256_hex(&data),
            },
            log: UploadedFile {
                filename: log_name,
                size: log.len() as u64,
                sha256: images::sha256_hex(&log),
            },
        });
    }

    c.set_images("registering");
    if sim.faults().koji_fail == Some(KojiFailure::Import) {
        return Err(fail_import(
            sim,
            c,
            "simulated Koji import failure (koji_fail=import)".into(),
        ));
    }
    let id = c.id.to_string();
    let md = metadata::cg_metadata(
        &metadata::BuildInfo {
            compose_id: &id,
            name: &koji.name,
            version: &koji.version,
            release: &koji.release,
            build_id: reservation.build_id,
            task_id: koji.task_id,
            distribution: &c.request.distribution,
            start_time,
            end_time: unix_now(),
        },
        &outputs,
    );
    if c.is_canceled() {
        return Err(Stop::Canceled);
    }
    match session.import(md, &dir, &reservation.token).await {
        Ok(build_id) => {
            sim.stats().koji_imports += 1;
            tracing::info!(compose = %c.id, build_id, "imported the Koji build");
            c.update(|s| {
                s.koji_build_id = Some(build_id);
                s.koji_import = json!({"build_id": build_id, "koji_error": ""});
                s.images.iter_mut().for_each(|i| i.status = "success");
                s.status = "success";
            });
            Ok(())
        }
        Err(e) => Err(fail_import(sim, c, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Faults;
    use crate::kojiside::{BoxFuture, CgConnector};
    use crate::sim::Config;
    use std::time::Duration;

    /// Records every Koji call; fails the ones named in `fail`.
    #[derive(Default)]
    struct FakeHub {
        calls: Mutex<Vec<String>>,
        fail: Vec<&'static str>,
        metadata: Mutex<Option<Value>>,
    }

    struct FakeSession(Arc<FakeHub>);

    impl FakeHub {
        fn record(&self, call: String) -> Result<(), String> {
            let name = call.split('(').next().unwrap_or_default().to_owned();
            self.calls.lock().expect("lock").push(call);
            if self.fail.contains(&name.as_str()) {
                Err(format!("{name} failed: simulated fault"))
            } else {
                Ok(())
            }
        }
        fn calls(&self) -> Vec<String> {
            self.calls.lock().expect("lock").clone()
        }
    }

    struct FakeConnector(Arc<FakeHub>);

    impl CgConnector for FakeConnector {
        fn connect<'a>(
            &'a self,
            hub: &'a str,
        ) -> BoxFuture<'a, Result<Box<dyn CgSession>, String>> {
            Box::pin(async move {
                self.0.record(format!("login({hub})"))?;
                Ok(Box::new(FakeSession(self.0.clone())) as Box<dyn CgSession>)
            })
        }
    }

    impl CgSession for FakeSession {
        fn init_build<'a>(
            &'a self,
            n: &'a str,
            v: &'a str,
            r: &'a str,
        ) -> BoxFuture<'a, Result<Reservation, String>> {
            Box::pin(async move {
                self.0.record(format!("CGInitBuild({n}-{v}-{r})"))?;
                Ok(Reservation {
                    build_id: 7,
                    token: "tok".into(),
                })
            })
        }
        fn upload<'a>(
            &'a self,
            dir: &'a str,
            name: &'a str,
            _data: &'a [u8],
        ) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async move {
                assert!(dir.starts_with("cg-import-"));
                self.0.record(format!("upload({name})"))
            })
        }
        fn import<'a>(
            &'a self,
            md: Value,
            _dir: &'a str,
            token: &'a str,
        ) -> BoxFuture<'a, Result<u64, String>> {
            Box::pin(async move {
                *self.0.metadata.lock().expect("lock") = Some(md);
                self.0.record(format!("CGImport({token})"))?;
                Ok(7)
            })
        }
        fn refund<'a>(
            &'a self,
            r: &'a Reservation,
            state: i64,
        ) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async move {
                self.0
                    .record(format!("CGRefundBuild({},{state})", r.build_id))
            })
        }
        fn logout(&self) -> BoxFuture<'_, ()> {
            Box::pin(async move {
                let _ = self.0.record("logout()".into());
            })
        }
    }

    fn sim(hub: Arc<FakeHub>, fail_arches: Vec<String>) -> Arc<Sim> {
        let faults = Faults {
            fail_next: 0,
            fail_status: 500,
            delay: Duration::ZERO,
            fail_arches,
            reset_next: 0,
            token_lifetime: Duration::from_secs(300),
            compose_duration: Duration::from_secs(2),
            koji_fail: None,
            logs_fail: false,
            manifests_fail: false,
            fail_until: None,
            reset_until: None,
        };
        Sim::new(
            Config {
                oauth: None,
                initial_faults: faults,
            },
            Arc::new(FakeConnector(hub)),
        )
    }

    fn request(arches: &[&str], koji: bool) -> ComposeRequest {
        let irs: Vec<Value> = arches
            .iter()
            .map(|a| {
                json!({"architecture": a, "image_type": "guest-image",
                            "repositories": [{"baseurl": "http://r/"}],
                            "upload_options": {"region": "eu-west-1"}})
            })
            .collect();
        let mut v = json!({"distribution": "fedora-42", "image_requests": irs});
        if koji {
            v["koji"] = json!({"server": "http://hub/kojihub", "task_id": 42,
                               "name": "demo", "version": "42", "release": "1"});
        }
        serde_json::from_value(v).expect("request")
    }

    async fn settle() {
        // let spawned tasks run up to their next timer
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn koji_compose_runs_pending_then_success() {
        let hub = Arc::new(FakeHub::default());
        let sim = sim(hub.clone(), vec![]);
        let c = Compose::new(request(&["x86_64", "aarch64"], true));
        tokio::spawn(run(sim.clone(), c.clone()));
        settle().await;
        let st = c.status_json();
        assert_eq!(st["status"], "pending");
        assert_eq!(st["image_statuses"][0]["status"], "building");
        assert_eq!(
            st["koji_status"]["build_id"], 7,
            "build id known after CGInitBuild"
        );

        tokio::time::sleep(Duration::from_millis(1900)).await;
        settle().await;
        assert_eq!(
            c.status_json()["status"],
            "pending",
            "still building before the duration"
        );

        tokio::time::sleep(Duration::from_millis(200)).await;
        settle().await;
        let st = c.status_json();
        assert_eq!(st["status"], "success", "{st}");
        assert_eq!(st["image_statuses"][1]["status"], "success");
        // the composer client reads it
        let parsed: composer::ComposeStatus = serde_json::from_value(st).expect("client parses");
        assert_eq!(parsed.koji_build_id(), Some(7));
        assert!(parsed.is_success());

        assert_eq!(
            hub.calls(),
            vec![
                "login(http://hub/kojihub)",
                "CGInitBuild(demo-42-1)",
                "upload(demo-42-1.x86_64.qcow2)",
                "upload(x86_64-guest-image.log)",
                "upload(demo-42-1.aarch64.qcow2)",
                "upload(aarch64-guest-image.log)",
                "CGImport(tok)",
                "logout()",
            ]
        );
        let md = hub
            .metadata
            .lock()
            .expect("lock")
            .clone()
            .expect("imported");
        assert_eq!(md["build"]["task_id"], 42);
        assert_eq!(md["buildroots"].as_array().map(Vec::len), Some(2));
        let logs = c.logs_json();
        assert_eq!(logs["koji"]["init"]["build_id"], 7);
        assert_eq!(logs["image_builds"][0]["success"], true);
        let parsed: composer::ComposeLogs =
            serde_json::from_value(logs).expect("client parses logs");
        assert!(parsed.koji_init().is_some());
        assert_eq!(
            c.manifests_json()["manifests"].as_array().map(Vec::len),
            Some(2)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failing_arch_fails_and_refunds() {
        let hub = Arc::new(FakeHub::default());
        let sim = sim(hub.clone(), vec!["aarch64".into()]);
        let c = Compose::new(request(&["x86_64", "aarch64"], true));
        tokio::spawn(run(sim.clone(), c.clone()));
        tokio::time::sleep(Duration::from_secs(3)).await;
        settle().await;
        let st = c.status_json();
        assert_eq!(st["status"], "failure");
        assert_eq!(st["image_statuses"][0]["status"], "success");
        assert_eq!(st["image_statuses"][1]["status"], "failure");
        assert_eq!(st["image_statuses"][1]["error"]["id"], 10);
        assert!(
            hub.calls().contains(&"CGRefundBuild(7,3)".to_string()),
            "{:?}",
            hub.calls()
        );
        assert!(!hub.calls().iter().any(|c| c.starts_with("CGImport")));
        assert_eq!(sim.stats().koji_refunds, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn import_failure_refunds_and_reports() {
        let hub = Arc::new(FakeHub {
            fail: vec!["CGImport"],
            ..FakeHub::default()
        });
        let sim = sim(hub.clone(), vec![]);
        let c = Compose::new(request(&["x86_64"], true));
        tokio::spawn(run(sim.clone(), c.clone()));
        tokio::time::sleep(Duration::from_secs(3)).await;
        settle().await;
        let st = c.status_json();
        assert_eq!(st["status"], "failure");
        assert_eq!(st["image_statuses"][0]["error"]["id"], 16);
        assert!(c.logs_json()["koji"]["import"]["koji_error"]
            .as_str()
            .unwrap_or_default()
            .contains("CGImport"));
        assert!(hub.calls().contains(&"CGRefundBuild(7,3)".to_string()));
    }

    #[tokio::test(start_paused = true)]
    async fn init_failure_fails_without_refund() {
        let hub = Arc::new(FakeHub {
            fail: vec!["CGInitBuild"],
            ..FakeHub::default()
        });
        let sim = sim(hub.clone(), vec![]);
        let c = Compose::new(request(&["x86_64"], true));
        tokio::spawn(run(sim.clone(), c.clone()));
        settle().await;
        let st = c.status_json();
        assert_eq!(st["status"], "failure");
        assert_eq!(st["image_statuses"][0]["error"]["id"], 15);
        assert_eq!(st["koji_status"], json!({}));
        assert!(!hub.calls().iter().any(|c| c.starts_with("CGRefundBuild")));
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_stops_and_refunds_as_canceled() {
        let hub = Arc::new(FakeHub::default());
        let sim = sim(hub.clone(), vec![]);
        let c = Compose::new(request(&["x86_64"], true));
        tokio::spawn(run(sim.clone(), c.clone()));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(c.cancel());
        assert_eq!(c.status_json()["status"], "failure", "failure at once");
        settle().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        settle().await;
        assert_eq!(c.status_json()["status"], "failure");
        assert!(
            hub.calls().contains(&"CGRefundBuild(7,4)".to_string()),
            "{:?}",
            hub.calls()
        );
        assert!(!c.cancel(), "a finished compose cannot be canceled again");
    }

    #[tokio::test(start_paused = true)]
    async fn plain_compose_reports_its_upload_target() {
        let hub = Arc::new(FakeHub::default());
        let sim = sim(hub.clone(), vec![]);
        let c = Compose::new(request(&["x86_64"], false));
        tokio::spawn(run(sim.clone(), c.clone()));
        settle().await;
        assert_eq!(c.status_json()["status"], "pending");
        assert!(c.status_json().get("koji_status").is_none());
        tokio::time::sleep(Duration::from_secs(2)).await;
        settle().await;
        let st = c.status_json();
        assert_eq!(st["status"], "success");
        assert_eq!(st["image_status"]["upload_status"]["type"], "aws.s3");
        assert!(
            hub.calls().is_empty(),
            "no Koji side without a koji section"
        );
    }
}
