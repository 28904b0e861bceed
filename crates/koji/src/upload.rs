//! File uploads into the hub's work directory, as Koji's `fastUpload`:
//! `rawUpload` POSTs of raw chunks, each checked against the adler32 the hub
//! reports, then `checkUpload` for the size and the whole-file adler32.
//!
//! A file sent as one chunk at offset 0 skips `checkUpload`: the hub either
//! refuses offset 0 of an existing file or (with overwrite) truncates the
//! file there before writing, so a matching size and adler32 in the
//! `rawUpload` reply already prove the whole file. That halves the hub
//! requests of the builder's JSON attachments.

use crate::calls::kw_if;
use crate::error::{Error, Result};
use crate::session::{convert, ClientSession};
use crate::types::{CheckUploadReply, RawUploadReply};

/// `koji.pathinfo.taskrelpath(id)`: a task's upload directory,
/// `tasks/<id % 10000>/<id>`.
pub fn taskrelpath(task_id: i64) -> String {
    format!("tasks/{}/{}", task_id.rem_euclid(10000), task_id)
}

/// Options of one upload.
#[derive(Clone, Debug, Default)]
pub struct UploadOptions {
    /// Replace an existing file (the builder re-uploads compose-status.json
    /// after every poll). Without it the hub refuses to write offset 0 of an
    /// existing file.
    pub overwrite: bool,
    /// Storage volume; `None` or `DEFAULT` is the default volume.
    pub volume: Option<String>,
    /// Chunk size; `None` uses [`crate::Options::upload_blocksize`].
    pub blocksize: Option<usize>,
}

impl UploadOptions {
    fn volume(&self) -> Option<&str> {
        self.volume.as_deref().filter(|v| *v != "DEFAULT")
    }
}

/// Koji's `adler32_constructor(...).hexdigest()`: 8 lowercase hex digits.
pub fn adler32_hex(data: &[u8]) -> String {
    let mut a = adler2::Adler32::new();
    a.write_slice(data);
    format!("{:08x}", a.checksum())
}

struct Tracker<'a> {
    session: &'a ClientSession,
    path: &'a str,
    name: &'a str,
    opts: &'a UploadOptions,
    offset: u64,
    whole: adler2::Adler32,
}

impl Tracker<'_> {
    fn fail(&self, message: String) -> Error {
        Error::Upload {
            path: self.path.to_owned(),
            name: self.name.to_owned(),
            message,
        }
    }

    async fn send(&mut self, chunk: &[u8]) -> Result<()> {
        let offset = i64::try_from(self.offset).map_err(|_| self.fail("file too large".into()))?;
        let reply = self
            .session
            .raw_upload(
                chunk,
                offset,
                self.path,
                self.name,
                self.opts.overwrite,
                self.opts.volume(),
            )
            .await?;
        let reply: RawUploadReply = convert("rawUpload", reply)?;
        if usize::try_from(reply.size).ok() != Some(chunk.len()) {
            return Err(self.fail(format!(
                "server returned wrong chunk size: {} != {}",
                reply.size,
                chunk.len()
            )));
        }
        let ours = adler32_hex(chunk);
        let theirs = reply.hexdigest.as_deref();
        if theirs != Some(ours.as_str()) {
            return Err(self.fail(format!(
                "upload checksum failed at offset {}: {} != {ours}",
                self.offset,
                theirs.unwrap_or("none")
            )));
        }
        self.whole.write_slice(chunk);
        self.offset += chunk.len() as u64;
        Ok(())
    }

    async fn finish(self) -> Result<()> {
        let reply = self
            .session
            .check_upload(self.path, self.name, Some("adler32"), self.opts.volume())
            .await?;
        let Some(reply) = reply else {
            return Err(self.fail("the hub has no such file after the upload".into()));
        };
        if reply.size() != Some(self.offset) {
            return Err(self.fail(format!(
                "uploaded file is wrong length: {} != {}",
                reply.size, self.offset
            )));
        }
        let ours = format!("{:08x}", self.whole.checksum());
        let theirs = reply.hexdigest.as_deref();
        if theirs != Some(ours.as_str()) {
            return Err(self.fail(format!(
                "uploaded file has wrong checksum: {} != {ours}",
                theirs.unwrap_or("none")
            )));
        }
        Ok(())
    }
}

impl ClientSession {
    /// Uploads `data` as `<path>/<name>` (path relative to the hub's work
    /// directory, e.g. [`taskrelpath`]). An empty file is still sent once.
    pub async fn upload_bytes(
        &self,
        data: &[u8],
        path: &str,
        name: &str,
        opts: &UploadOptions,
    ) -> Result<()> {
        tracing::debug!(path, name, size = data.len(), "uploading to Koji");
        let mut t = Tracker {
            session: self,
            path,
            name,
            opts,
            offset: 0,
            whole: adler2::Adler32::new(),
        };
        let blocksize = opts.blocksize.unwrap_or(self.options().upload_blocksize);
        let blocksize = blocksize.max(1);
        if data.len() <= blocksize {
            return t.send(data).await;
        }
        for chunk in data.chunks(blocksize) {
            t.send(chunk).await?;
        }
        t.finish().await
    }

    /// `checkUpload(path, name, verify=…, volume=…)`: the uploaded file's
    /// size (and digest when `verify` is given), `None` if it does not exist.
    pub async fn check_upload(
        &self,
        path: &str,
        name: &str,
        verify: Option<&str>,
        volume: Option<&str>,
    ) -> Result<Option<CheckUploadReply>> {
        let mut kw = kw_if("verify", verify);
        kw.extend(kw_if("volume", volume));
        self.call_kw_as("checkUpload", vec![path.into(), name.into()], kw)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taskrelpath_like_koji() {
        assert_eq!(taskrelpath(11), "tasks/11/11");
        assert_eq!(taskrelpath(123456), "tasks/3456/123456");
        assert_eq!(taskrelpath(10000), "tasks/0/10000");
    }

    #[test]
    fn adler32_matches_capture() {
        // 30-rawUpload / 31-checkUpload: 24 bytes, hexdigest 4cd906ab; the
        // same file is downloaded in 33 as base64.
        let data = b"{\n    \"hello\": \"world\"\n}";
        assert_eq!(data.len(), 24);
        assert_eq!(adler32_hex(data), "4cd906ab");
        assert_eq!(adler32_hex(b""), "00000001");
    }
}
