//! Koji faults: the hub's exceptions, by fault code (`koji/__init__.py`).

use std::fmt;

use crate::value::Value;

/// An XML-RPC fault as the hub sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// `faultCode`: 1 for a plain Python exception, 1000+ for Koji's own.
    pub code: i64,
    /// `faultString`: the hub's message, verbatim.
    pub message: String,
}

impl Fault {
    /// A fault with this code and message.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Fault {
            code,
            message: message.into(),
        }
    }

    /// A fault of a known kind.
    pub fn of_kind(kind: FaultKind, message: impl Into<String>) -> Self {
        Fault::new(kind.code(), message)
    }

    /// Which Koji exception this is.
    pub fn kind(&self) -> FaultKind {
        FaultKind::from_code(self.code)
    }

    /// Reads a fault struct (`{faultCode, faultString, traceback?}`), as it
    /// appears in a fault response, in multicall results and in
    /// `host.taskWaitResults`. `None` if the value is not such a struct.
    pub fn from_value(v: &Value) -> Option<Fault> {
        let s = v.as_struct()?;
        let code = s.get("faultCode")?.as_i64()?;
        let message = match s.get("faultString")? {
            Value::String(m) => m.clone(),
            // Python's Fault takes any faultString; keep what we can show.
            other => other.to_string(),
        };
        Some(Fault { code, message })
    }

    /// The fault as the struct the hub sends.
    pub fn to_value(&self) -> Value {
        Value::from_pairs([
            ("faultCode", Value::Int(self.code)),
            ("faultString", Value::String(self.message.clone())),
        ])
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind().name(), self.message)
    }
}

impl std::error::Error for Fault {}

macro_rules! fault_kinds {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, )*) => {
        /// Koji's exception classes by fault code (koji/__init__.py, same in
        /// 1.35 and 1.36). `Exception` is code 1, which the hub uses for any
        /// exception that is not a Koji one (a `KeyError`, say).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum FaultKind {
            $( $(#[$doc])* $variant, )*
            /// A code Koji does not define; the number is kept.
            Unknown(i64),
        }

        impl FaultKind {
            /// The kind for a fault code.
            pub fn from_code(code: i64) -> Self {
                match code {
                    $( $code => FaultKind::$variant, )*
                    other => FaultKind::Unknown(other),
                }
            }

            /// The fault code.
            pub fn code(self) -> i64 {
                match self {
                    $( FaultKind::$variant => $code, )*
                    FaultKind::Unknown(code) => code,
                }
            }

            /// Koji's class name (`GenericError`, `AuthError`, …).
            pub fn name(self) -> &'static str {
                match self {
                    $( FaultKind::$variant => stringify!($variant), )*
                    FaultKind::Unknown(_) => "Fault",
                }
            }
        }
    };
}

fault_kinds! {
    /// Code 1: a Python exception that is not a Koji error.
    Exception = 1,
    GenericError = 1000,
    LockError = 1001,
    /// 1002: bad credentials, invalid session, not exclusive, …
    AuthError = 1002,
    TagError = 1003,
    /// 1004: missing permission, task not owned by this host, …
    ActionNotAllowed = 1004,
    BuildError = 1005,
    /// 1006: another exclusive session exists.
    AuthLockError = 1006,
    /// 1007: the session expired; ClientSession logs in again.
    AuthExpired = 1007,
    /// 1008: callnum went backwards.
    SequenceError = 1008,
    /// 1009: the hub refuses to run a committed call again.
    RetryError = 1009,
    PreBuildError = 1010,
    PostBuildError = 1011,
    BuildrootError = 1012,
    FunctionDeprecated = 1013,
    /// 1014: the hub is in maintenance; retried with `offline_retry`.
    ServerOffline = 1014,
    LiveCDError = 1015,
    PluginError = 1016,
    CallbackError = 1017,
    ApplianceError = 1018,
    /// 1019: wrong arguments (arity, unknown keyword, schema validation).
    ParameterError = 1019,
    ImportError = 1020,
    ConfigurationError = 1021,
    LiveMediaError = 1022,
    GSSAPIAuthError = 1023,
    NameValidationError = 1024,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Unknown(code) => write!(f, "Fault {code}"),
            other => f.write_str(other.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in [
            1, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1013, 1014, 1019, 1020,
            1021, 1023, 1024,
        ] {
            let kind = FaultKind::from_code(code);
            assert!(!matches!(kind, FaultKind::Unknown(_)), "{code}");
            assert_eq!(kind.code(), code);
        }
        assert_eq!(FaultKind::from_code(4242), FaultKind::Unknown(4242));
        assert_eq!(FaultKind::from_code(1002).name(), "AuthError");
    }

    #[test]
    fn fault_struct() {
        let f = Fault::of_kind(FaultKind::BuildError, "Compose failed");
        assert_eq!(Fault::from_value(&f.to_value()), Some(f.clone()));
        assert_eq!(f.to_string(), "BuildError: Compose failed");
        assert_eq!(Fault::from_value(&Value::Int(1)), None);
    }
}
