//! OAuth2 client credentials (RFC 6749 section 4.4), as upstream's `OAuth2`
//! auth provider: fetch a token from `token_url`, send it as a Bearer token,
//! fetch a new one once `expires_in` has run out or composer says 401.
//!
//! Tokens and the client secret live in [`Secret`], whose Debug output is
//! redacted and which has no Display, so neither ends up in logs or errors.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

/// A value that must never be shown: a client secret or an access token.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that has to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `[composer:oauth]`: the client credentials and where to trade them for a
/// token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthCredentials {
    pub client_id: String,
    pub client_secret: Secret,
    pub token_url: String,
}

/// An access token and when it stops being good.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) access: Secret,
    /// `None`: the token does not expire (upstream: `if not expires_in`).
    expires_at: Option<Instant>,
    /// Which fetch produced this token; tells whether a 401 was answered to
    /// the current token or to one another request already replaced.
    pub(crate) generation: u64,
}

impl Token {
    pub(crate) fn expired(&self) -> bool {
        self.expires_at.is_some_and(|t| Instant::now() >= t)
    }
}

/// The token endpoint's answer. `expires_in` may come as a number or a
/// numeric string (upstream runs it through `int()`).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<Value>,
}

/// Parse a token endpoint body into a token; the error never quotes the
/// body, which holds the token. `created` is taken before the token request
/// went out: counting from the answer would let us use a token the server
/// already considers expired (upstream does the same, see
/// OAuth2.fetch_token).
pub(crate) fn parse_token(body: &[u8], created: Instant, generation: u64) -> Result<Token, String> {
    let response: TokenResponse = serde_json::from_slice(body)
        .map_err(|e| format!("not a token response ({})", classify(&e)))?;
    let expires_in = match response.expires_in {
        None | Some(Value::Null) => None,
        Some(v) => {
            let secs = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            let secs = secs.filter(|s| *s >= 0.0);
            Some(secs.ok_or("expires_in is not a number of seconds (0 or more)")?)
        }
    };
    if response.access_token.is_empty() {
        return Err("access_token is empty".to_string());
    }
    Ok(Token {
        access: Secret::new(response.access_token),
        // Zero: the token does not expire either.
        expires_at: expires_in
            .filter(|s| *s > 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .and_then(|d| created.checked_add(d)),
        generation,
    })
}

// serde_json's messages for missing fields name only the field, but syntax
// errors can quote input; keep to the category and field names.
fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "missing or mistyped access_token",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}

/// Replace the secret wherever a token endpoint echoes it back.
pub(crate) fn mask(text: &str, secret: &Secret) -> String {
    if secret.expose().is_empty() {
        return text.to_string();
    }
    text.replace(secret.expose(), "<redacted>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let creds = OAuthCredentials {
            client_id: "koji-osbuild".into(),
            client_secret: Secret::new("s3cr3t"),
            token_url: "https://sso/token".into(),
        };
        let debug = format!("{creds:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("koji-osbuild"));
    }

    #[test]
    fn token_expiry() {
        let now = Instant::now();
        let t = parse_token(
            br#"{"access_token":"a","token_type":"Bearer","expires_in":1}"#,
            now,
            1,
        )
        .unwrap();
        assert!(!t.expired());
        let old = now - Duration::from_secs(2);
        let t = parse_token(br#"{"access_token":"a","expires_in":"1"}"#, old, 1).unwrap();
        assert!(t.expired());
        // upstream: expires_in of 0 means it never expires
        let t = parse_token(br#"{"access_token":"a","expires_in":0}"#, old, 1).unwrap();
        assert!(!t.expired());
        let t = parse_token(br#"{"access_token":"a"}"#, old, 1).unwrap();
        assert!(!t.expired());
    }

    #[test]
    fn bad_token_answers_do_not_quote_the_body() {
        let err = parse_token(br#"{"token":"TOPSECRET"}"#, Instant::now(), 1).unwrap_err();
        assert!(!err.contains("TOPSECRET"), "{err}");
        let err = parse_token(b"TOPSECRET", Instant::now(), 1).unwrap_err();
        assert!(!err.contains("TOPSECRET"), "{err}");
    }

    #[test]
    fn mask_secret() {
        let s = Secret::new("s3cr3t");
        assert_eq!(mask("bad secret s3cr3t", &s), "bad secret <redacted>");
    }
}
