//! Composer's Koji side as the simulator needs it: log in to the hub named
//! in the compose request as the content-generator user, reserve the build,
//! upload files, import, refund. [`KojiConnector`] is the real thing over
//! the `koji` crate; tests of the compose state machine put a fake behind
//! the same [`CgConnector`] trait.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Koji's BUILD_STATES FAILED and CANCELED, for CGRefundBuild.
pub const BUILD_STATE_FAILED: i64 = 3;
pub const BUILD_STATE_CANCELED: i64 = 4;

/// A CGInitBuild reservation.
#[derive(Clone, PartialEq, Eq)]
pub struct Reservation {
    pub build_id: u64,
    pub token: String,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("build_id", &self.build_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// One logged-in content-generator session with a hub. Errors are the
/// one-line messages composer would put in its job errors.
pub trait CgSession: Send + Sync {
    fn init_build<'a>(
        &'a self,
        name: &'a str,
        version: &'a str,
        release: &'a str,
    ) -> BoxFuture<'a, Result<Reservation, String>>;
    fn upload<'a>(
        &'a self,
        dir: &'a str,
        name: &'a str,
        data: &'a [u8],
    ) -> BoxFuture<'a, Result<(), String>>;
    /// CGImport; returns the imported build's id.
    fn import<'a>(
        &'a self,
        metadata: Value,
        dir: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<u64, String>>;
    fn refund<'a>(
        &'a self,
        reservation: &'a Reservation,
        state: i64,
    ) -> BoxFuture<'a, Result<(), String>>;
    fn logout(&self) -> BoxFuture<'_, ()>;
}

/// Opens CG sessions with the hub a compose request names.
pub trait CgConnector: Send + Sync {
    fn connect<'a>(&'a self, hub: &'a str) -> BoxFuture<'a, Result<Box<dyn CgSession>, String>>;
}

/// How the simulator authenticates as the content generator.
#[derive(Clone, Default)]
pub struct KojiCredentials {
    pub user: Option<String>,
    pub password: Option<String>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub serverca: Option<PathBuf>,
}

impl std::fmt::Debug for KojiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KojiCredentials")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("serverca", &self.serverca)
            .finish()
    }
}

/// The real connector: the `koji` crate's `ClientSession`.
pub struct KojiConnector {
    pub credentials: KojiCredentials,
}

struct KojiCgSession {
    session: koji::ClientSession,
}

fn koji_err(what: &str, e: koji::Error) -> String {
    format!("{what}: {e}")
}

impl CgConnector for KojiConnector {
    fn connect<'a>(&'a self, hub: &'a str) -> BoxFuture<'a, Result<Box<dyn CgSession>, String>> {
        Box::pin(async move {
            let c = &self.credentials;
            let opts = koji::Options {
                // composer gives up quickly too; a test should not wait minutes
                max_retries: 3,
                retry_interval: Duration::from_secs(1),
                timeout: Duration::from_secs(120),
                serverca: c.serverca.clone(),
                cert: c.cert.clone(),
                key: c.key.clone(),
                ..koji::Options::default()
            };
            let session = koji::ClientSession::new(hub, opts)
                .map_err(|e| koji_err(&format!("cannot create a Koji session for {hub}"), e))?;
            match (&c.user, &c.password, &c.cert) {
                (Some(user), Some(password), _) => session
                    .login(user, password)
                    .await
                    .map_err(|e| koji_err(&format!("login to {hub} as {user} failed"), e))?,
                (_, _, Some(_)) => session
                    .ssl_login()
                    .await
                    .map_err(|e| koji_err(&format!("sslLogin to {hub} failed"), e))?,
                _ => {
                    return Err(format!(
                        "no Koji credentials: start composer-sim with --koji-user/--koji-password or --koji-cert to import into {hub}"
                    ))
                }
            }
            Ok(Box::new(KojiCgSession { session }) as Box<dyn CgSession>)
        })
    }
}

impl CgSession for KojiCgSession {
    fn init_build<'a>(
        &'a self,
        name: &'a str,
        version: &'a str,
        release: &'a str,
    ) -> BoxFuture<'a, Result<Reservation, String>> {
        Box::pin(async move {
            let nvr = koji::Value::from_pairs([
                ("name", name),
                ("version", version),
                ("release", release),
            ]);
            let r = self
                .session
                .cg_init_build(crate::metadata::CONTENT_GENERATOR, nvr)
                .await
                .map_err(|e| {
                    koji_err(
                        &format!("CGInitBuild of {name}-{version}-{release} failed"),
                        e,
                    )
                })?;
            let build_id = u64::try_from(r.build_id)
                .map_err(|_| format!("CGInitBuild returned a negative build id {}", r.build_id))?;
            Ok(Reservation {
                build_id,
                token: r.token,
            })
        })
    }

    fn upload<'a>(
        &'a self,
        dir: &'a str,
        name: &'a str,
        data: &'a [u8],
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.session
                .upload_bytes(data, dir, name, &koji::UploadOptions::default())
                .await
                .map_err(|e| koji_err(&format!("upload of {dir}/{name} failed"), e))
        })
    }

    fn import<'a>(
        &'a self,
        metadata: Value,
        dir: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<u64, String>> {
        Box::pin(async move {
            let build = self
                .session
                .cg_import(koji::json_to_value(&metadata), dir, Some(token))
                .await
                .map_err(|e| koji_err("CGImport failed", e))?;
            u64::try_from(build.id)
                .map_err(|_| format!("CGImport returned a negative build id {}", build.id))
        })
    }

    fn refund<'a>(&'a self, r: &'a Reservation, state: i64) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let build_id = i64::try_from(r.build_id)
                .map_err(|_| format!("build id {} too large", r.build_id))?;
            self.session
                .cg_refund_build(
                    crate::metadata::CONTENT_GENERATOR,
                    build_id,
                    &r.token,
                    Some(state),
                )
                .await
                .map_err(|e| koji_err(&format!("CGRefundBuild of build {} failed", r.build_id), e))
        })
    }

    fn logout(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(e) = self.session.logout().await {
                tracing::warn!("Koji logout failed: {e}");
            }
        })
    }
}
