//! Koji hub client: Koji's XML-RPC wire format, sessions, retries, uploads
//! and typed calls, for the koji-osbuild builder and CLI.
//!
//! It speaks exactly what `koji.ClientSession` speaks (Koji 1.35 hubs and
//! later, older ones through the session-in-URL form) and nothing of Koji's
//! CLI, config files or task handlers: those belong to the binaries.
//!
//! - [`wire`]: documents as `koji.xmlrpcplus` writes and reads them
//!   ([`encode_call`], [`decode_call`], [`encode_response`],
//!   [`encode_fault`], [`decode_response`]).
//! - [`Value`]: the value model, with serde bridges ([`to_value`],
//!   [`from_value`], JSON conversion).
//! - [`Fault`], [`FaultKind`], [`Error`]: faults typed by Koji fault code.
//! - [`ClientSession`]: login / sslLogin / Kerberos (GSSAPI) login ([`kerberos`]) / resume of a handed-over session,
//!   callnum, retries, exclusive sessions, subsessions, multicall, uploads.
//! - Typed calls on [`ClientSession`] ([`calls`] module) and host calls under
//!   [`ClientSession::host`].

pub mod calls;
pub mod error;
pub mod fault;
pub mod host;
pub mod kerberos;
pub mod session;
pub mod tls;
pub mod types;
pub mod upload;
pub mod value;
pub mod wire;

pub use error::{DecodeError, Error, Result};
pub use fault::{Fault, FaultKind};
pub use host::Host;
pub use kerberos::{KerberosError, KerberosLogin, ServiceOptions};
pub use session::{Call, ClientSession, Observer, Options, Progress, SessionInfo};
pub use types::*;
pub use upload::{taskrelpath, UploadOptions};
pub use value::{from_value, json_to_value, to_value, value_to_json, Struct, Value};
pub use wire::{
    decode_call, decode_response, encode_call, encode_fault, encode_response, split_kwargs,
};

/// The member that marks a struct as keyword arguments (`koji.encode_args`).
pub const KWARGS_MARKER: &str = "__starstar";

/// Koji's `encode_args`: keyword arguments go last as a struct with
/// `__starstar: true`; no keyword arguments, no struct.
pub fn encode_args(mut args: Vec<Value>, kwargs: Struct) -> Vec<Value> {
    if !kwargs.is_empty() {
        let mut kw = kwargs;
        kw.insert(KWARGS_MARKER.to_owned(), Value::Bool(true));
        args.push(Value::Struct(kw));
    }
    args
}

/// Builds a kwargs struct from `(name, value)` pairs, in order.
pub fn kwargs<K, V, I>(pairs: I) -> Struct
where
    K: Into<String>,
    V: Into<Value>,
    I: IntoIterator<Item = (K, V)>,
{
    pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}
