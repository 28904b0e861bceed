//! Typed replies of the hub calls this project makes, named after Koji's
//! own terms. Field names are the hub's. Datetimes stay strings as the hub
//! sends them (`"2026-11-24 21:07:25.294856+00:00"`), with the float `*_ts`
//! epoch beside them. Fields a test hub or an older hub might leave out are
//! `Option` or defaulted, so a missing detail does not fail a whole call;
//! fields nobody reads are left to serde to skip.

use std::fmt;

use serde::Deserialize;

use crate::value::{Struct, Value};

/// A task's state (`koji.TASK_STATES`), numbered as Koji numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "i64")]
pub enum TaskState {
    /// 0: waiting for a host.
    Free,
    /// 1: running on a host.
    Open,
    /// 2: finished successfully.
    Closed,
    /// 3: canceled.
    Canceled,
    /// 4: assigned to a host, not yet opened.
    Assigned,
    /// 5: failed.
    Failed,
}

impl TaskState {
    /// Koji's number.
    pub fn code(self) -> i64 {
        self as i64
    }

    /// Koji's name in upper case (`koji.TASK_STATES[n]`): `FREE`, `OPEN`, …
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Free => "FREE",
            TaskState::Open => "OPEN",
            TaskState::Closed => "CLOSED",
            TaskState::Canceled => "CANCELED",
            TaskState::Assigned => "ASSIGNED",
            TaskState::Failed => "FAILED",
        }
    }

    /// `true` for CLOSED, CANCELED and FAILED.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            TaskState::Closed | TaskState::Canceled | TaskState::Failed
        )
    }
}

impl fmt::Display for TaskState {
    /// The lower-case name the koji CLI prints (`koji.TASK_STATES[n].lower()`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().to_lowercase())
    }
}

impl TryFrom<i64> for TaskState {
    type Error = String;
    fn try_from(code: i64) -> Result<Self, String> {
        use TaskState::*;
        [Free, Open, Closed, Canceled, Assigned, Failed]
            .into_iter()
            .find(|s| s.code() == code)
            .ok_or_else(|| format!("unknown task state {code}"))
    }
}

/// `getBuildTarget`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct BuildTarget {
    /// Target id.
    pub id: i64,
    /// Target name.
    pub name: String,
    /// Build tag id.
    pub build_tag: i64,
    /// Build tag name.
    pub build_tag_name: String,
    /// Destination tag id.
    pub dest_tag: i64,
    /// Destination tag name.
    pub dest_tag_name: String,
}

/// `getTag`, and `getBuildConfig` (see [`BuildConfig`]).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TagInfo {
    /// Tag id.
    pub id: i64,
    /// Tag name.
    pub name: String,
    /// Space-separated arches; may be nil or empty.
    #[serde(default)]
    pub arches: Option<String>,
}

/// `getBuildConfig`: a tag with its arches resolved through inheritance.
pub type BuildConfig = TagInfo;

impl TagInfo {
    /// The arches as a list (`"x86_64 aarch64"` → two entries).
    pub fn arch_list(&self) -> Vec<String> {
        self.arches
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }
}

/// `getRepo`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RepoInfo {
    /// Repo id.
    pub id: i64,
    /// Repo state (1 = READY).
    pub state: i64,
}

/// `getTaskInfo`, `host.openTask`, `getTaskChildren` and `host.getTasks`
/// entries.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TaskInfo {
    /// Task id.
    pub id: i64,
    /// Task method (`osbuildImage`, `tagBuild`, …).
    pub method: String,
    /// State.
    pub state: TaskState,
    /// Owner user id.
    #[serde(default)]
    pub owner: Option<i64>,
    /// Host running it.
    #[serde(default)]
    pub host_id: Option<i64>,
    /// Subtask label.
    #[serde(default)]
    pub label: Option<String>,
    /// Arch (`noarch` for image tasks).
    #[serde(default)]
    pub arch: Option<String>,
    /// Channel id.
    #[serde(default)]
    pub channel_id: Option<i64>,
    /// Priority (lower runs first).
    #[serde(default)]
    pub priority: Option<i64>,
    /// The request: a decoded param array from `getTaskInfo(request=True)`,
    /// or the `methodCall` document as a string from `host.openTask`
    /// (read it with [`TaskInfo::request_params`]).
    #[serde(default)]
    pub request: Option<Value>,
}

impl TaskInfo {
    /// The task's params, whichever form `request` came in: the array of
    /// `getTaskInfo(request=True)` or the `methodCall` document of
    /// `host.openTask`. `None` without a request.
    pub fn request_params(&self) -> Option<crate::Result<Vec<Value>>> {
        match self.request.as_ref()? {
            Value::Array(a) => Some(Ok(a.clone())),
            Value::String(doc) => Some(
                crate::wire::decode_call(doc.as_bytes())
                    .map(|(_, params)| params)
                    .map_err(|e| crate::Error::UnexpectedReply {
                        method: "host.openTask".into(),
                        message: format!("bad request document: {e}"),
                    }),
            ),
            other => Some(Err(crate::Error::UnexpectedReply {
                method: "getTaskInfo".into(),
                message: format!("request is a {}", other.type_name()),
            })),
        }
    }
}

/// `getLoggedInUser`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct UserInfo {
    /// User id.
    pub id: i64,
    /// User name.
    pub name: String,
}

/// An entry of `host.getHostTasks`: an OPEN task of this host.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct HostTask {
    /// Task id.
    pub id: i64,
    /// A waiting task whose awaited child finished: wake it.
    #[serde(default)]
    pub alert: bool,
}

/// A size as the hub sends it: a string (Koji sends sizes so to dodge
/// XML-RPC's 32-bit ints) or an int.
fn size(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Int(i) => u64::try_from(*i).ok(),
        _ => None,
    }
}

/// `listTaskOutput(id, stat=True)` entries.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct FileStat {
    /// Size in bytes, as the hub sends it (a string).
    pub st_size: Value,
    /// Modification epoch.
    #[serde(default)]
    pub st_mtime: Option<f64>,
}

impl FileStat {
    /// The size as a number, whether sent as a string or an int.
    pub fn size(&self) -> Option<u64> {
        size(&self.st_size)
    }
}

/// A `rawUpload` reply.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RawUploadReply {
    /// Bytes received.
    pub size: i64,
    /// Digest of the chunk, 8 lowercase hex digits for adler32.
    #[serde(default)]
    pub hexdigest: Option<String>,
}

/// A `checkUpload` reply.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CheckUploadReply {
    /// File size, as the hub sends it.
    pub size: Value,
    /// Digest of the whole file, when verify was asked.
    #[serde(default)]
    pub hexdigest: Option<String>,
}

impl CheckUploadReply {
    /// The size as a number, whether sent as a string or an int.
    pub fn size(&self) -> Option<u64> {
        size(&self.size)
    }
}

/// `CGInitBuild`: a reserved build and its token. Debug hides the token,
/// which authorizes the import.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct CgBuildReservation {
    /// The reserved build id.
    pub build_id: i64,
    /// The token for CGImport / CGRefundBuild.
    pub token: String,
}

impl fmt::Debug for CgBuildReservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CgBuildReservation")
            .field("build_id", &self.build_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// `getBuild`, `CGImport`, `listTagged` entries (which add `tag_id`,
/// `tag_name`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct BuildInfo {
    /// Build id.
    pub id: i64,
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// `name-version-release`.
    #[serde(default)]
    pub nvr: Option<String>,
    /// Build state (0 BUILDING, 1 COMPLETE, 2 DELETED, 3 FAILED, 4 CANCELED).
    pub state: i64,
    /// The task that made it.
    #[serde(default)]
    pub task_id: Option<i64>,
    /// Owner name.
    #[serde(default)]
    pub owner_name: Option<String>,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub other: Struct,
}

/// `host.taskWait`: `[finished, unfinished]`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Deserialize)]
pub struct TaskWait {
    /// Subtasks that are done.
    pub finished: Vec<i64>,
    /// Subtasks still running.
    pub unfinished: Vec<i64>,
}
