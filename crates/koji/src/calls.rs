//! Typed hub calls, one method per Koji call this project makes, with the
//! argument shapes the real koji client sends (see testing/koji-captures).
//! Targets, tags and builds are named by id or by name (an int or a string
//! [`Value`]), as Koji's `info` arguments; a nil reply is `None`.

use base64::Engine as _;
use indexmap::IndexMap;

use crate::error::{Error, Result};
use crate::session::ClientSession;
use crate::types::*;
use crate::value::{Struct, Value};
use crate::{kwargs, Host};

/// A keyword argument only when given: without it the hub's default
/// applies, and the request stays the one the koji client sends.
pub(crate) fn kw_if<V: Into<Value>>(name: &str, value: Option<V>) -> Struct {
    value.map(|v| kwargs([(name, v)])).unwrap_or_default()
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
        self.call_as("getLoggedInUser", vec![]).await
    }

    /// `hasPerm(perm)`.
    pub async fn has_perm(&self, perm: &str) -> Result<bool> {
        self.call_as("hasPerm", vec![perm.into()]).await
    }

    /// `getBuildTarget(info, strict=…)`. `None` for an unknown target unless
    /// `strict` (then GenericError "No such build target").
    pub async fn get_build_target(
        &self,
        info: impl Into<Value>,
        strict: bool,
    ) -> Result<Option<BuildTarget>> {
        let kw = kw_if("strict", strict.then_some(true));
        self.call_kw_as("getBuildTarget", vec![info.into()], kw)
            .await
    }

    /// `getTag(info, strict=…)`.
    pub async fn get_tag(&self, info: impl Into<Value>, strict: bool) -> Result<Option<TagInfo>> {
        let kw = kw_if("strict", strict.then_some(true));
        self.call_kw_as("getTag", vec![info.into()], kw).await
    }

    /// `getBuildConfig(tag)`.
    pub async fn get_build_config(&self, tag: impl Into<Value>) -> Result<BuildConfig> {
        self.call_as("getBuildConfig", vec![tag.into()]).await
    }

    /// `getRepo(tag)`; `None` when the tag has no current repo.
    pub async fn get_repo(&self, tag: impl Into<Value>) -> Result<Option<RepoInfo>> {
        self.call_as("getRepo", vec![tag.into()]).await
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
        let kw = kw_if("request", request.then_some(true));
        self.call_kw_as("getTaskInfo", vec![task_id.into()], kw)
            .await
    }

    /// `getTaskResult(id)`: the value stored by closeTask; a failed task's
    /// fault comes back as [`Error::Fault`].
    pub async fn get_task_result(&self, task_id: i64) -> Result<Value> {
        self.call("getTaskResult", vec![task_id.into()]).await
    }

    /// `listTaskOutput(id, stat=True)`: file names with their stat.
    pub async fn list_task_output_stat(&self, task_id: i64) -> Result<IndexMap<String, FileStat>> {
        let kw = kwargs([("stat", true)]);
        self.call_kw_as("listTaskOutput", vec![task_id.into()], kw)
            .await
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
        let too_large = |what: &str, n: u64| Error::Config(format!("{what} {n} too large"));
        let offset = i64::try_from(offset).map_err(|_| too_large("offset", offset))?;
        let size = match size {
            Some(s) => i64::try_from(s).map_err(|_| too_large("size", s))?,
            None => -1,
        };
        let kw = kwargs([("offset", offset), ("size", size)]);
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
        info: impl Into<Value>,
        strict: bool,
    ) -> Result<Option<BuildInfo>> {
        let kw = kw_if("strict", strict.then_some(true));
        self.call_kw_as("getBuild", vec![info.into()], kw).await
    }

    /// `CGInitBuild(cg, {name, version, release[, epoch]})`.
    pub async fn cg_init_build(&self, cg: &str, build: Value) -> Result<CgBuildReservation> {
        self.call_as("CGInitBuild", vec![cg.into(), build]).await
    }

    /// `CGImport(metadata, directory, token=…)` → the imported build.
    /// `metadata` may be a struct, a JSON string or an uploaded file name.
    pub async fn cg_import(
        &self,
        metadata: Value,
        directory: &str,
        token: Option<&str>,
    ) -> Result<BuildInfo> {
        let kw = kw_if("token", token);
        self.call_kw_as("CGImport", vec![metadata, directory.into()], kw)
            .await
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
        args.extend(state.map(Value::Int));
        self.call("CGRefundBuild", args).await?;
        Ok(())
    }
}
