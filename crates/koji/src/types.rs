//! Typed replies of the hub calls this project makes, named after Koji's
//! own terms. Field names are the hub's. Datetimes stay strings as the hub
//! sends them (`"2026-11-24 21:07:25.294856+00:00"`), with the float `*_ts`
//! epoch beside them. Fields a test hub or an older hub might leave out are
//! `Option` or defaulted, so a missing detail does not fail a whole call.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::value::{Struct, Value};

/// A task's state (`koji.TASK_STATES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
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
        match self {
            TaskState::Free => 0,
            TaskState::Open => 1,
            TaskState::Closed => 2,
            TaskState::Canceled => 3,
            TaskState::Assigned => 4,
            TaskState::Failed => 5,
        }
    }

    /// The state for Koji's number.
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => TaskState::Free,
            1 => TaskState::Open,
            2 => TaskState::Closed,
            3 => TaskState::Canceled,
            4 => TaskState::Assigned,
            5 => TaskState::Failed,
            _ => return None,
        })
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
        f.write_str(match self {
            TaskState::Free => "free",
            TaskState::Open => "open",
            TaskState::Closed => "closed",
            TaskState::Canceled => "canceled",
            TaskState::Assigned => "assigned",
            TaskState::Failed => "failed",
        })
    }
}

impl TryFrom<i64> for TaskState {
    type Error = String;
    fn try_from(code: i64) -> Result<Self, String> {
        TaskState::from_code(code).ok_or_else(|| format!("unknown task state {code}"))
    }
}

impl From<TaskState> for i64 {
    fn from(s: TaskState) -> i64 {
        s.code()
    }
}

/// `getBuildTarget`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// `getTag`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TagInfo {
    /// Tag id.
    pub id: i64,
    /// Tag name.
    pub name: String,
    /// Space-separated arches; may be nil or empty.
    #[serde(default)]
    pub arches: Option<String>,
    /// Locked tag.
    #[serde(default)]
    pub locked: bool,
    /// Permission name needed to tag into it.
    #[serde(default)]
    pub perm: Option<String>,
    /// Permission id.
    #[serde(default)]
    pub perm_id: Option<i64>,
    /// Maven support.
    #[serde(default)]
    pub maven_support: bool,
    /// Maven include-all.
    #[serde(default)]
    pub maven_include_all: bool,
    /// Extra tag data.
    #[serde(default)]
    pub extra: Struct,
}

impl TagInfo {
    /// The arches as a list (`"x86_64 aarch64"` → two entries).
    pub fn arch_list(&self) -> Vec<String> {
        split_arches(self.arches.as_deref())
    }
}

/// `getBuildConfig`: a tag with arches and extra resolved through
/// inheritance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildConfig {
    /// Tag id.
    pub id: i64,
    /// Tag name.
    pub name: String,
    /// Space-separated arches (inherited); may be nil.
    #[serde(default)]
    pub arches: Option<String>,
    /// Locked tag.
    #[serde(default)]
    pub locked: bool,
    /// Permission name.
    #[serde(default)]
    pub perm: Option<String>,
    /// Permission id.
    #[serde(default)]
    pub perm_id: Option<i64>,
    /// Maven support.
    #[serde(default)]
    pub maven_support: bool,
    /// Maven include-all.
    #[serde(default)]
    pub maven_include_all: bool,
    /// Extra (inherited).
    #[serde(default)]
    pub extra: Struct,
    /// Where arches and extra came from.
    #[serde(default)]
    pub config_inheritance: Option<Value>,
}

impl BuildConfig {
    /// The arches as a list.
    pub fn arch_list(&self) -> Vec<String> {
        split_arches(self.arches.as_deref())
    }
}

fn split_arches(arches: Option<&str>) -> Vec<String> {
    arches
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// `getRepo` (and `repo` of `repo.request`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepoInfo {
    /// Repo id.
    pub id: i64,
    /// Repo state (1 = READY).
    pub state: i64,
    /// The event the repo was made from.
    #[serde(default)]
    pub create_event: Option<i64>,
    /// Its time.
    #[serde(default)]
    pub create_ts: Option<f64>,
    /// Creation time (string).
    #[serde(default)]
    pub creation_time: Option<String>,
    /// Tag id.
    #[serde(default)]
    pub tag_id: Option<i64>,
    /// Tag name.
    #[serde(default)]
    pub tag_name: Option<String>,
    /// The newRepo task.
    #[serde(default)]
    pub task_id: Option<i64>,
    /// A dist repo.
    #[serde(default)]
    pub dist: bool,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub other: Struct,
}

/// `getTaskInfo`, `host.openTask`, `getTaskChildren` entries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Parent task.
    #[serde(default)]
    pub parent: Option<i64>,
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
    /// Weight.
    #[serde(default)]
    pub weight: Option<f64>,
    /// Waiting for subtasks.
    #[serde(default)]
    pub waiting: Option<bool>,
    /// Awaited by its parent.
    #[serde(default)]
    pub awaited: Option<bool>,
    /// Creation time.
    #[serde(default)]
    pub create_time: Option<String>,
    /// Creation epoch.
    #[serde(default)]
    pub create_ts: Option<f64>,
    /// Start time.
    #[serde(default)]
    pub start_time: Option<String>,
    /// Start epoch.
    #[serde(default)]
    pub start_ts: Option<f64>,
    /// Completion time.
    #[serde(default)]
    pub completion_time: Option<String>,
    /// Completion epoch.
    #[serde(default)]
    pub completion_ts: Option<f64>,
    /// The request: a decoded param array from `getTaskInfo(request=True)`,
    /// or the `methodCall` document as a string from `host.openTask`
    /// (read it with [`TaskInfo::request_params`]).
    #[serde(default)]
    pub request: Option<Value>,
    /// The result, when asked for.
    #[serde(default)]
    pub result: Option<Value>,
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    /// User id.
    pub id: i64,
    /// User name.
    pub name: String,
    /// 0 normal, 1 blocked.
    #[serde(default)]
    pub status: i64,
    /// 0 normal, 1 host, 2 group.
    #[serde(default)]
    pub usertype: i64,
    /// 0 password, 2 certificate, 3 GSSAPI.
    #[serde(default)]
    pub authtype: Option<i64>,
    /// Kerberos principals.
    #[serde(default)]
    pub krb_principals: Vec<String>,
    /// Kerberos principal (legacy).
    #[serde(default)]
    pub krb_principal: Option<String>,
}

/// An entry of `host.getTasks`: a task ASSIGNED to this host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssignedTask {
    /// Task id.
    pub id: i64,
    /// Method.
    pub method: String,
    /// State (ASSIGNED).
    pub state: TaskState,
    /// Priority.
    #[serde(default)]
    pub priority: Option<i64>,
    /// Arch.
    #[serde(default)]
    pub arch: Option<String>,
    /// Channel.
    #[serde(default)]
    pub channel_id: Option<i64>,
    /// Host.
    #[serde(default)]
    pub host_id: Option<i64>,
    /// Creation epoch.
    #[serde(default)]
    pub create_ts: Option<f64>,
}

/// An entry of `host.getHostTasks`: an OPEN task of this host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostTask {
    /// Task id.
    pub id: i64,
    /// Waiting for subtasks.
    #[serde(default)]
    pub waiting: Option<bool>,
    /// Weight.
    #[serde(default)]
    pub weight: Option<f64>,
    /// A waiting task whose awaited child finished: wake it.
    #[serde(default)]
    pub alert: bool,
}

/// `listTaskOutput(id, stat=True)` entries. Note `st_size` is a string on
/// the wire (Koji sends it so to dodge XML-RPC's 32-bit ints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileStat {
    /// Size in bytes, as the hub sends it (a string).
    pub st_size: Value,
    /// Modification epoch.
    #[serde(default)]
    pub st_mtime: Option<f64>,
    /// Access epoch.
    #[serde(default)]
    pub st_atime: Option<f64>,
    /// Change epoch.
    #[serde(default)]
    pub st_ctime: Option<f64>,
}

impl FileStat {
    /// The size as a number, whether sent as a string or an int.
    pub fn size(&self) -> Option<u64> {
        match &self.st_size {
            Value::String(s) => s.trim().parse().ok(),
            Value::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }
}

/// A `rawUpload` reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RawUploadReply {
    /// Bytes received.
    pub size: i64,
    /// `adler32` (or what was asked).
    #[serde(default)]
    pub fileverify: Option<String>,
    /// Offset written at.
    #[serde(default)]
    pub offset: Option<i64>,
    /// Digest of the chunk, 8 lowercase hex digits for adler32.
    #[serde(default)]
    pub hexdigest: Option<String>,
}

/// A `checkUpload` reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckUploadReply {
    /// File size.
    pub size: Value,
    /// Modification epoch.
    #[serde(default)]
    pub mtime: Option<f64>,
    /// Bytes summed, when verify was asked.
    #[serde(default)]
    pub sumlength: Option<i64>,
    /// Digest of the whole file, when verify was asked.
    #[serde(default)]
    pub hexdigest: Option<String>,
}

/// `CGInitBuild`: a reserved build and its token. Debug hides the token,
/// which authorizes the import.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Epoch.
    #[serde(default)]
    pub epoch: Option<i64>,
    /// Build state (0 BUILDING, 1 COMPLETE, 2 DELETED, 3 FAILED, 4 CANCELED).
    pub state: i64,
    /// The task that made it.
    #[serde(default)]
    pub task_id: Option<i64>,
    /// Owner id.
    #[serde(default)]
    pub owner_id: Option<i64>,
    /// Owner name.
    #[serde(default)]
    pub owner_name: Option<String>,
    /// Extra data.
    #[serde(default)]
    pub extra: Option<Value>,
    /// Everything else, as sent.
    #[serde(flatten)]
    pub other: Struct,
}

/// `host.taskWait`: `[finished, unfinished]`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TaskWait {
    /// Subtasks that are done.
    pub finished: Vec<i64>,
    /// Subtasks still running.
    pub unfinished: Vec<i64>,
}
