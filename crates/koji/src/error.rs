//! The crate's error type.

use std::path::PathBuf;

use crate::fault::{Fault, FaultKind};

/// A document that is not valid XML-RPC, with what was wrong and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", .offset.map(|o| format!(" (at byte {o})")).unwrap_or_default())]
pub struct DecodeError {
    /// What was wrong.
    pub message: String,
    /// Byte offset in the document, where known.
    pub offset: Option<u64>,
}

impl DecodeError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        DecodeError {
            message: message.into(),
            offset: None,
        }
    }

    pub(crate) fn at(message: impl Into<String>, offset: u64) -> Self {
        DecodeError {
            message: message.into(),
            offset: Some(offset),
        }
    }
}

/// Everything that can go wrong talking to a Koji hub.
///
/// No variant carries a password or a session key: URLs are shown without
/// their query string (which may hold `session-key`), and request bodies are
/// never included.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The hub raised an exception (an XML-RPC fault).
    #[error("{kind}: {message}")]
    Fault {
        /// Koji's exception class.
        kind: FaultKind,
        /// The fault code as sent.
        code: i64,
        /// The hub's message, verbatim.
        message: String,
    },

    /// The hub could not be reached or the exchange broke off.
    #[error("cannot talk to Koji hub {url}: {detail}")]
    Transport {
        /// The hub URL, without query string.
        url: String,
        /// The whole cause chain, e.g. "error sending request: client error
        /// (Connect): invalid peer certificate: UnknownIssuer".
        detail: String,
        /// What went wrong (the URL inside it is removed).
        #[source]
        source: reqwest::Error,
    },

    /// The hub answered with an HTTP error status.
    #[error("Koji hub {url} answered HTTP {status}: {body}")]
    Http {
        /// The hub URL, without query string.
        url: String,
        /// The status code (405 for a GET, 400 for an empty or bad body, …).
        status: u16,
        /// The start of the response body.
        body: String,
    },

    /// The reply was not valid XML-RPC.
    #[error("bad XML-RPC reply from {url}: {source}")]
    Decode {
        /// The hub URL, without query string.
        url: String,
        /// What was wrong.
        #[source]
        source: DecodeError,
    },

    /// The reply was valid XML-RPC but not the shape this call returns.
    #[error("unexpected reply to {method}: {message}")]
    UnexpectedReply {
        /// The Koji method called.
        method: String,
        /// What did not fit.
        message: String,
    },

    /// An upload did not arrive intact.
    #[error("upload of {path}/{name} failed: {message}")]
    Upload {
        /// The upload directory on the hub (relative to `work/`).
        path: String,
        /// The file name on the hub.
        name: String,
        /// What did not match.
        message: String,
    },

    /// A local file (a certificate, a CA bundle, a file to upload) could
    /// not be read or used.
    #[error("{}: {message}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// The client is configured in a way that cannot work (a bad hub URL,
    /// sslLogin without a certificate, a TLS setup reqwest refuses).
    #[error("Koji client configuration: {0}")]
    Config(String),

    /// The call needs a logged-in session.
    #[error("not logged in: {0}")]
    NotLoggedIn(String),

    /// A Kerberos (GSSAPI) login could not be made: no ticket, an expired
    /// one, a keytab without the key, a hub without Negotiate. Each says
    /// what to do; none carries a token or key.
    #[error(transparent)]
    Kerberos(#[from] crate::kerberos::KerberosError),

    /// A value did not convert to or from a Rust type.
    #[error("cannot convert value: {0}")]
    Convert(String),
}

impl Error {
    /// The fault kind, if the hub raised one.
    pub fn fault_kind(&self) -> Option<FaultKind> {
        match self {
            Error::Fault { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The fault, if the hub raised one.
    pub fn fault(&self) -> Option<Fault> {
        match self {
            Error::Fault { code, message, .. } => Some(Fault::new(*code, message.clone())),
            _ => None,
        }
    }

    /// `true` if the hub raised a fault of this kind.
    pub fn is_fault(&self, kind: FaultKind) -> bool {
        self.fault_kind() == Some(kind)
    }
}

impl From<Fault> for Error {
    fn from(f: Fault) -> Self {
        Error::Fault {
            kind: f.kind(),
            code: f.code,
            message: f.message,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
