//! Typed hub calls, one method per Koji call this project makes, with the
//! argument shapes the real koji client sends (see testing/koji-captures).

use base64::Engine as _;
use indexmap::IndexMap;

use crate::error::{Error, Result};
use crate::fault::Fault;
use crate::session::{convert, ClientSession};
use crate::types::*;
use crate::value::{Struct, Value};
use crate::{kwargs, Host};

/// A build target or tag named by id or by name, as Koji's `info` args.
#[derive(Clone, Debug, PartialEq)]
pub enum Info {
    /// By id.
    Id(i64),
    /// By name.
    Name(String),
}

impl From<i64> for Info {
    fn from(v: i64) -> Self {
        Info::Id(v)
    }
}
impl From<&str> for Info {
    fn from(v: &str) -> Self {
        Info::Name(v.to_owned())
    }
}
impl From<String> for Info {
    fn from(v: String) -> Self {
        Info::Name(v)
    }
}
impl From<&String> for Info {
    fn from(v: &String) -> Self {
        Info::Name(v.clone())
    }
}
impl From<Info> for Value {
    fn from(i: Info) -> Value {
        match i {
            Info::Id(id) => Value::Int(id),
            Info::Name(n) => Value::String(n),
        }
    }
}

fn strict_kw(strict: bool) -> Struct {
    if strict {
        kwargs([("strict", true)])
    } else {
        Struct::new()
    }
}

/// nil → None, anything else converted.
fn optional<T: serde::de::DeserializeOwned>(method: &str, v: Value) -> Result<Option<T>> {
    if v.is_nil() {
        Ok(None)
    } else {
        convert(method, v).map(Some)
    }
}

fn ids(list: &[i64]) -> Value {
    Value::Array(list.iter().map(|i| Value::Int(*i)).collect())
}

impl ClientSession {
    /// Host calls (`host.*`); they need an exclusive session.
    pub fn host(&self) -> Host<'_> {
        Host::new(self)
    }

    /// `getAPIVersion()`.
    pub async fn get_api_version(&self) -> Result<i64> {
        self.call_as("getAPIVersion", vec![]).await
    }

    /// `getLoggedInUser()`; `None` when anonymous.
    pub async fn get_logged_in_user(&self) -> Result<Option<UserInfo>> {
        let v = self.call("getLoggedInUser", vec![]).await?;
        optional("getLoggedInUser", v)
    }

    /// `hasPerm(perm)`.
    pub async fn has_perm(&self, perm: &str) -> Result<bool> {
        self.call_as("hasPerm", vec![perm.into()]).await
    }

    /// `getBuildTarget(info, strict=…)`. `None` for an unknown target unless
    /// `strict` (then GenericError "No such build target").
    pub async fn get_build_target(
        &self,
        info: impl Into<Info>,
        strict: bool,
    ) -> Result<Option<BuildTarget>> {
        let v = self
            .call_kw(
                "getBuildTarget",
                vec![info.into().into()],
                strict_kw(strict),
            )
            .await?;
        optional("getBuildTarget", v)
    }

    /// `getTag(info, strict=…)`.
    pub async fn get_tag(&self, info: impl Into<Info>, strict: bool) -> Result<Option<TagInfo>> {
        let v = self
            .call_kw("getTag", vec![info.into().into()], strict_kw(strict))
            .await?;
        optional("getTag", v)
    }

    /// `getBuildConfig(tag)`.
    pub async fn get_build_config(&self, tag: impl Into<Info>) -> Result<BuildConfig> {
        self.call_as("getBuildConfig", vec![tag.into().into()])
            .await
    }

    /// `getRepo(tag)`; `None` when the tag has no current repo.
    pub async fn get_repo(&self, tag: impl Into<Info>) -> Result<Option<RepoInfo>> {
        let v = self.call("getRepo", vec![tag.into().into()]).await?;
        optional("getRepo", v)
    }

    /// `getNextRelease({name, version})` → the next release, e.g. `"1"`.
    pub async fn get_next_release(&self, name: &str, version: &str) -> Result<String> {
        let build = Value::from_pairs([("name", name), ("version", version)]);
        match self.call("getNextRelease", vec![build]).await? {
            Value::String(s) => Ok(s),
            // Older hubs sent an int for a plain numeric release.
            Value::Int(i) => Ok(i.to_string()),
            other => Err(Error::UnexpectedReply {
                method: "getNextRelease".into(),
                message: format!("expected a string, got {}", other.type_name()),
            }),
        }
    }

    /// `getTaskInfo(id, request=…)`; `None` for an unknown task.
    pub async fn get_task_info(&self, task_id: i64, request: bool) -> Result<Option<TaskInfo>> {
        let kw = if request {
            kwargs([("request", true)])
        } else {
            Struct::new()
        };
        let v = self
            .call_kw("getTaskInfo", vec![task_id.into()], kw)
            .await?;
        optional("getTaskInfo", v)
    }

    /// `getTaskResult(id)`: the value stored by closeTask; a failed task's
    /// fault comes back as [`Error::Fault`].
    pub async fn get_task_result(&self, task_id: i64) -> Result<Value> {
        self.call("getTaskResult", vec![task_id.into()]).await
    }

    /// `listTaskOutput(id, stat=True)`: file names with their stat.
    pub async fn list_task_output_stat(&self, task_id: i64) -> Result<IndexMap<String, FileStat>> {
        let v = self
            .call_kw(
                "listTaskOutput",
                vec![task_id.into()],
                kwargs([("stat", true)]),
            )
            .await?;
        convert("listTaskOutput", v)
    }

    /// `downloadTaskOutput(id, name, offset=…, size=…)`; the hub sends
    /// base64 text, this returns the bytes. `size` `None` reads to the end.
    pub async fn download_task_output(
        &self,
        task_id: i64,
        name: &str,
        offset: u64,
        size: Option<u64>,
    ) -> Result<Vec<u8>> {
        let offset = i64::try_from(offset)
            .map_err(|_| Error::Config(format!("offset {offset} too large")))?;
        let size = match size {
            Some(s) => {
                i64::try_from(s).map_err(|_| Error::Config(format!("size {s} too large")))?
            }
            None => -1,
        };
        let kw = kwargs([("offset", Value::Int(offset)), ("size", Value::Int(size))]);
        let v = self
            .call_kw("downloadTaskOutput", vec![task_id.into(), name.into()], kw)
            .await?;
        let bad = |message: String| Error::UnexpectedReply {
            method: "downloadTaskOutput".into(),
            message,
        };
        match v {
            Value::String(s) => {
                let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(clean.as_bytes())
                    .map_err(|e| bad(format!("bad base64: {e}")))
            }
            Value::Base64(b) => Ok(b),
            other => Err(bad(format!(
                "expected a base64 string, got {}",
                other.type_name()
            ))),
        }
    }

    /// `getBuild(info, strict=…)`.
    pub async fn get_build(
        &self,
        info: impl Into<Info>,
        strict: bool,
    ) -> Result<Option<BuildInfo>> {
        let v = self
            .call_kw("getBuild", vec![info.into().into()], strict_kw(strict))
            .await?;
        optional("getBuild", v)
    }

    /// `CGInitBuild(cg, {name, version, release[, epoch]})`.
    pub async fn cg_init_build(&self, cg: &str, build: Value) -> Result<CgBuildReservation> {
        let v = self.call("CGInitBuild", vec![cg.into(), build]).await?;
        convert("CGInitBuild", v)
    }

    /// `CGImport(metadata, directory, token=…)` → the imported build.
    /// `metadata` may be a struct, a JSON string or an uploaded file name.
    pub async fn cg_import(
        &self,
        metadata: Value,
        directory: &str,
        token: Option<&str>,
    ) -> Result<BuildInfo> {
        let kw = match token {
            Some(t) => kwargs([("token", t)]),
            None => Struct::new(),
        };
        let v = self
            .call_kw("CGImport", vec![metadata, directory.into()], kw)
            .await?;
        convert("CGImport", v)
    }

    /// `CGRefundBuild(cg, build_id, token[, state])`.
    pub async fn cg_refund_build(
        &self,
        cg: &str,
        build_id: i64,
        token: &str,
        state: Option<i64>,
    ) -> Result<()> {
        let mut args = vec![cg.into(), build_id.into(), token.into()];
        if let Some(s) = state {
            args.push(Value::Int(s));
        }
        self.call("CGRefundBuild", args).await?;
        Ok(())
    }
}

/// Reads `host.taskWaitResults` entries: `[[task_id, result], …]` where a
/// failed task allowed by `canfail` gives a fault struct.
pub fn parse_task_wait_results(v: Value) -> Result<Vec<(i64, Result<Value, Fault>)>> {
    let bad = |message: String| Error::UnexpectedReply {
        method: "host.taskWaitResults".into(),
        message,
    };
    let Value::Array(entries) = v else {
        return Err(bad(format!("expected an array, got {}", v.type_name())));
    };
    entries
        .into_iter()
        .map(|entry| {
            let Value::Array(pair) = entry else {
                return Err(bad("an entry is not a [task_id, result] pair".into()));
            };
            let mut it = pair.into_iter();
            match (it.next(), it.next(), it.next()) {
                (Some(Value::Int(id)), Some(result), None) => {
                    let result = match Fault::from_value(&result) {
                        Some(f) => Err(f),
                        None => Ok(result),
                    };
                    Ok((id, result))
                }
                _ => Err(bad("an entry is not a [task_id, result] pair".into())),
            }
        })
        .collect()
}

pub(crate) fn ids_value(list: &[i64]) -> Value {
    ids(list)
}
