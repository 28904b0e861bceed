//! How a task fails: each error becomes the fault kojid would store with
//! `host.failTask` (`faultCode` of the Koji exception class, its message).

use koji::{Fault, FaultKind};

/// A [`TaskError::Build`] with a `format!` message.
macro_rules! build_error {
    ($($message:tt)+) => {
        $crate::error::TaskError::Build(format!($($message)+))
    };
}
pub(crate) use build_error;

/// Why a task handler stopped.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// `koji.BuildError` (1005): the request cannot be built as asked.
    #[error("{0}")]
    Build(String),
    /// Bad task arguments (`koji.ParameterError`, 1019).
    #[error("{0}")]
    Parameter(String),
    /// A hub call failed; a hub fault is passed on with its own code.
    #[error("{0}")]
    Koji(#[from] koji::Error),
    /// A subtask failed with this fault (kojid re-raises it).
    #[error("{0}")]
    Subtask(Fault),
    /// Talking to composer failed. Upstream raises `koji.GenericError` with
    /// the message (plugins/builder/osbuild.py, `Client.compose_create`).
    #[error("{0}")]
    Composer(#[from] composer::Error),
}

impl TaskError {
    /// The fault for `host.failTask`.
    pub fn to_fault(&self) -> Fault {
        match self {
            TaskError::Build(m) => Fault::of_kind(FaultKind::BuildError, m.clone()),
            TaskError::Parameter(m) => Fault::of_kind(FaultKind::ParameterError, m.clone()),
            // kojid sends code 1 for errors that are not Koji faults.
            TaskError::Koji(e) => e.fault().unwrap_or_else(|| Fault::new(1, e.to_string())),
            TaskError::Subtask(f) => f.clone(),
            TaskError::Composer(e) => Fault::of_kind(FaultKind::GenericError, e.to_string()),
        }
    }
}
