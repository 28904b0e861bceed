//! The composer client's errors. Each carries what a person needs to act:
//! the URL, the HTTP status, composer's own error body, the file or setting.
//! None carries a client secret or an access token.

use std::path::PathBuf;

use crate::api::ApiError;

/// How much of a response body goes into an error message; the full body
/// stays in the error's fields.
const BODY_EXCERPT: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid composer URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("invalid proxy '{proxy}': {reason}")]
    InvalidProxy { proxy: String, reason: String },

    #[error("cannot read {what} {}: {source}", path.display())]
    TlsFile {
        /// "certificate file", "private key file", "CA file".
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A certificate, key or CA that cannot be used; the text names the file.
    #[error("{0}")]
    TlsConfig(String),

    #[error("cannot set up the HTTP client: {}", chain(.0))]
    ClientBuild(#[source] reqwest::Error),

    /// No HTTP response: connection refused or reset, TLS failure, timeout.
    #[error("{method} {url} failed after {attempts} attempt(s): {detail}")]
    Transport {
        method: String,
        url: String,
        attempts: u32,
        /// The error and its causes on one line (reqwest's own message alone
        /// hides the TLS or socket reason).
        detail: String,
        #[source]
        source: reqwest::Error,
    },

    /// Composer answered with an unexpected status. `operation` reads like
    /// upstream's messages ("create the compose request").
    #[error("Failed to {operation}: {method} {url} returned {status}: {}", describe_body(.error.as_deref(), .body))]
    Api {
        operation: &'static str,
        method: String,
        url: String,
        status: u16,
        /// The response body as text.
        body: String,
        /// The body parsed as composer's Error object, when it is one.
        error: Option<Box<ApiError>>,
    },

    /// The token endpoint refused us (upstream's wording).
    #[error("Failed to authenticate via SSO/OAuth: {}", excerpt(.body))]
    OAuth {
        token_url: String,
        status: u16,
        /// The token endpoint's body, with the client secret masked.
        body: String,
    },

    /// A 2xx answer we could not understand.
    #[error("{method} {url}: unexpected response ({status}): {reason}; body: {}", excerpt(.body))]
    InvalidResponse {
        method: String,
        url: String,
        status: u16,
        reason: String,
        body: String,
    },
}

impl Error {
    /// The HTTP status composer or the token endpoint answered with, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. }
            | Error::OAuth { status, .. }
            | Error::InvalidResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the failure looks like an outage that ends by itself and is
    /// worth trying again later: composer (or the proxy or SSO in front of
    /// it) answered 5xx, or the connection was refused, reset or timed out.
    /// Not: 4xx answers, certificate and other TLS problems, bad
    /// configuration, or a 2xx answer we cannot read; those fail the same
    /// way on every try.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Api { status, .. } | Error::OAuth { status, .. } => is_transient_status(*status),
            Error::Transport { source, detail, .. } => {
                !source.is_builder()
                    && !source.is_redirect()
                    && !has_tls_error(source, 0)
                    && !detail.to_lowercase().contains("certificate")
            }
            _ => false,
        }
    }

    /// Composer's error object, when the failure came with one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api { error, .. } => error.as_deref(),
            _ => None,
        }
    }
}

/// 5xx answers that say "try later"; 501 and 505 say "never".
fn is_transient_status(status: u16) -> bool {
    (500..=599).contains(&status) && !matches!(status, 501 | 505)
}

/// A rustls error anywhere along the source chain, also inside the
/// `io::Error`s hyper wraps it in (their `source()` skips what they wrap).
/// `depth` bounds the walk.
fn has_tls_error(e: &(dyn std::error::Error + 'static), depth: u8) -> bool {
    let wrapped = || {
        e.downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
    };
    depth < 16
        && (e.is::<rustls::Error>()
            || wrapped().is_some_and(|inner| has_tls_error(inner, depth + 1))
            || e.source()
                .is_some_and(|next| has_tls_error(next, depth + 1)))
}

fn excerpt(body: &str) -> String {
    let body = body.trim();
    if body.len() <= BODY_EXCERPT {
        return body.to_string();
    }
    let mut end = BODY_EXCERPT;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &body[..end], body.len())
}

fn describe_body(error: Option<&ApiError>, body: &str) -> String {
    let Some(e) = error else {
        return match body.trim() {
            "" => "(empty body)".to_string(),
            body => excerpt(body),
        };
    };
    let mut s = e.reason.clone();
    if !e.code.is_empty() {
        s.push_str(&format!(" (code {}", e.code));
        if !e.operation_id.is_empty() {
            s.push_str(&format!(", operation {}", e.operation_id));
        }
        s.push(')');
    }
    if let Some(details) = e.details.as_ref().filter(|d| !d.is_null()) {
        s.push_str(&format!("; details: {details}"));
    }
    excerpt(&s)
}

/// The error and its sources joined with ": ", for one-line messages.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> Error {
        Error::Api {
            operation: "get the compose status",
            method: "GET".into(),
            url: "http://c/".into(),
            status,
            body: String::new(),
            error: None,
        }
    }

    #[test]
    fn tls_errors_are_found_inside_wrapped_io_errors() {
        let tls = std::io::Error::other(rustls::Error::General("bad".into()));
        assert!(has_tls_error(&tls, 0));
        assert!(has_tls_error(&std::io::Error::other(tls), 0));
        assert!(!has_tls_error(&std::io::Error::other("reset"), 0));
    }

    #[test]
    fn only_outage_answers_are_transient() {
        for s in [500, 502, 503, 504, 507, 599] {
            assert!(api(s).is_transient(), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 422, 501, 505] {
            assert!(!api(s).is_transient(), "{s}");
        }
        let oauth = |status| Error::OAuth {
            token_url: "http://sso/token".into(),
            status,
            body: String::new(),
        };
        assert!(oauth(503).is_transient());
        assert!(!oauth(401).is_transient());
        assert!(!Error::InvalidResponse {
            method: "GET".into(),
            url: "http://c/".into(),
            status: 200,
            reason: "not JSON".into(),
            body: "<html>".into(),
        }
        .is_transient());
        assert!(!Error::InvalidUrl {
            url: "x".into(),
            reason: "y".into()
        }
        .is_transient());
    }
}
