//! Client for osbuild-composer's cloud API v2 (`/api/image-builder-composer/v2/`):
//! create composes, follow their status, fetch logs and manifests, delete them.
//!
//! It speaks to composer the way upstream koji-osbuild's builder plugin does:
//! client certificates or OAuth2 client credentials (with token refresh and
//! one retry on 401), an optional proxy for composer and token requests,
//! retries with urllib3's backoff on 5xx and dropped connections.
//!
//! It reads no configuration file and knows nothing about Koji tasks: the
//! builder reads builder.conf into [`ClientOptions`] and maps an
//! osbuildImage task to a [`ComposeRequest`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use composer::{Client, ClientOptions, SslVerify};
//! let options = ClientOptions {
//!     ssl_verify: SslVerify::CaPath("/etc/koji-osbuild/composer-ca.pem".into()),
//!     ..ClientOptions::new("https://composer.example.com")
//! };
//! let client = Client::new(options)?;
//! let status = client.compose_status("123e4567-e89b-12d3-a456-426655440000").await?;
//! println!("{} (build {:?})", status.status, status.koji_build_id());
//! # Ok(()) }
//! ```

pub mod api;
mod client;
mod error;
mod oauth;
mod retry;
mod tls;

#[cfg(test)]
mod tests;

pub use api::{
    ApiError, ComposeDeleteStatus, ComposeId, ComposeLogs, ComposeManifests, ComposeRequest,
    ComposeStatus, ComposeStatusError, ComposeStatusValue, ImageRequest, ImageStatus,
    ImageStatusValue, ImageType, Koji, KojiLogs, KojiStatus, OSTree, Repository, UploadOptions,
    UploadStatus, UploadStatusValue, UploadTarget, UploadType,
};
pub use client::{
    Client, ClientOptions, ComposeWatch, Exchange, Observer, OnRetry, Retrying, API_BASE,
    DEFAULT_POLL_INTERVAL,
};
pub use error::Error;
pub use oauth::{OAuthCredentials, Secret};
pub use retry::{jittered, Outage, OutageStep, RetryPolicy};
pub use tls::{client_config, ClientCert, Identity, SslVerify};
