//! The hub calls this client makes, as one small trait.
//!
//! The commands (`image`, `watch`) talk to the hub only through [`Hub`];
//! `session.rs` implements it on `koji::ClientSession`, and the tests on a
//! scripted fake, the way upstream's test_cli.py mocks the session.

use koji::Value;

/// A hub call that failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The hub answered with a fault (Koji's exceptions).
    #[error("{message}")]
    Fault { code: i64, message: String },
    /// Anything else: connection, TLS, HTTP status, a malformed answer.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl HubError {
    /// The name of the koji exception class for this fault, as Python's
    /// `koji.convertFault` would raise it; `Fault` for unknown codes.
    pub fn class_name(&self) -> &'static str {
        match self {
            HubError::Fault { code, .. } => fault_class_name(*code),
            HubError::Other(_) => "Error",
        }
    }
}

/// koji's exception classes by faultCode (koji/__init__.py).
pub fn fault_class_name(code: i64) -> &'static str {
    match code {
        1000 => "GenericError",
        1001 => "LockError",
        1002 => "AuthError",
        1003 => "TagError",
        1004 => "ActionNotAllowed",
        1005 => "BuildError",
        1006 => "AuthLockError",
        1007 => "AuthExpired",
        1008 => "SequenceError",
        1009 => "RetryError",
        1010 => "PreBuildError",
        1011 => "PostBuildError",
        1012 => "BuildrootError",
        1013 => "FunctionDeprecated",
        1014 => "ServerOffline",
        1015 => "LiveCDError",
        1016 => "PluginError",
        1017 => "CallbackError",
        1018 => "ApplianceError",
        1019 => "ParameterError",
        1020 => "ImportError",
        1021 => "ConfigurationError",
        1022 => "LiveMediaError",
        1023 => "GSSAPIAuthError",
        1024 => "NameValidationError",
        _ => "Fault",
    }
}

/// The parts of `getBuildTarget` the client uses.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildTarget {
    pub name: String,
    pub dest_tag: i64,
    pub dest_tag_name: String,
}

/// The parts of `getTaskInfo(id, request=True)` the watcher uses.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInfo {
    pub id: i64,
    pub state: TaskState,
    pub method: String,
    pub arch: String,
    pub host_id: Option<i64>,
    /// The decoded request parameters.
    pub request: Vec<Value>,
}

/// Koji's `TASK_STATES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Free,
    Open,
    Closed,
    Canceled,
    Assigned,
    Failed,
    /// A code this client does not know.
    Unknown(i64),
}

impl TaskState {
    pub fn from_code(code: i64) -> TaskState {
        match code {
            0 => TaskState::Free,
            1 => TaskState::Open,
            2 => TaskState::Closed,
            3 => TaskState::Canceled,
            4 => TaskState::Assigned,
            5 => TaskState::Failed,
            other => TaskState::Unknown(other),
        }
    }

    /// Koji's name for the state (`koji.TASK_STATES[code]`).
    pub fn name(self) -> String {
        match self {
            TaskState::Free => "FREE".into(),
            TaskState::Open => "OPEN".into(),
            TaskState::Closed => "CLOSED".into(),
            TaskState::Canceled => "CANCELED".into(),
            TaskState::Assigned => "ASSIGNED".into(),
            TaskState::Failed => "FAILED".into(),
            TaskState::Unknown(code) => format!("BADSTATE({code})"),
        }
    }

    pub fn is_done(self) -> bool {
        matches!(
            self,
            TaskState::Closed | TaskState::Canceled | TaskState::Failed
        )
    }
}

/// The osbuildImage call: its seven arguments and the optional priority.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageCall {
    pub name: String,
    pub version: String,
    pub distro: String,
    pub image_type: String,
    pub target: String,
    pub arches: Vec<String>,
    pub opts: Value,
    pub priority: Option<i64>,
}

/// The hub, as far as the CLI needs it.
#[allow(async_fn_in_trait)] // used with concrete types only, never `dyn`
pub trait Hub {
    /// `getBuildTarget(name)`; `None` if there is no such target.
    async fn get_build_target(&mut self, name: &str) -> Result<Option<BuildTarget>, HubError>;
    /// `getTag(id)`; whether the tag exists.
    async fn tag_exists(&mut self, id: i64) -> Result<bool, HubError>;
    /// Log in as configured, unless already logged in or anonymous
    /// (koji_cli's `activate_session`).
    async fn activate(&mut self) -> Result<(), HubError>;
    /// `osbuildImage(...)`; the new task's id.
    async fn osbuild_image(&mut self, call: &ImageCall) -> Result<i64, HubError>;
    /// `logout()`.
    async fn logout(&mut self) -> Result<(), HubError>;
    /// `getTaskInfo(id, request=True)`.
    async fn get_task_info(&mut self, id: i64) -> Result<Option<TaskInfo>, HubError>;
    /// `getTaskChildren(id)`: the children's ids, in the hub's order.
    async fn get_task_children(&mut self, id: i64) -> Result<Vec<i64>, HubError>;
    /// `getHost(id)["name"]`.
    async fn get_host_name(&mut self, id: i64) -> Result<Option<String>, HubError>;
    /// `getTaskResult(id)`; a failed task's fault comes back as the error.
    async fn get_task_result(&mut self, id: i64) -> Result<Value, HubError>;
    /// `listTaskOutput(id, all_volumes=True)`: file name → volumes.
    async fn list_task_output(&mut self, id: i64) -> Result<Vec<(String, Vec<String>)>, HubError>;
}
