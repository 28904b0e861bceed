//! The builder.conf model: which composer to talk to and how, and which Koji
//! hub composer should import into.
//!
//! Files are read like upstream's `configparser.read(DEFAULT_CONFIG_FILES)`:
//! in order, later files winning key by key, missing files skipped. Keys this
//! module does not know (the builder's own host settings, say) are kept and
//! reachable through [`BuilderConfig::get`] and [`BuilderConfig::ini`].

use std::path::{Path, PathBuf};

use crate::oauth::{OAuthCredentials, Secret};
use crate::tls::{ClientCert, SslVerify};
use pyini::{self as ini, Ini, IniError};

/// Where upstream's builder plugin looks for builder.conf, in reading order.
pub const DEFAULT_CONFIG_FILES: [&str; 2] = [
    "/usr/share/koji-osbuild/builder.conf",
    "/etc/koji-osbuild/builder.conf",
];

/// `[composer] server` when no file sets it.
pub const DEFAULT_COMPOSER_URL: &str = "https://localhost";
/// `[koji] server` when no file sets it.
pub const DEFAULT_KOJIHUB_URL: &str = "https://localhost/kojihub";

/// Section names as upstream spells them.
pub const COMPOSER_SECTION: &str = "composer";
pub const OAUTH_SECTION: &str = "composer:oauth";
pub const KOJI_SECTION: &str = "koji";

/// A builder.conf that cannot be used. Each variant names the file (and key)
/// to fix; none carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {} is not valid UTF-8", path.display())]
    Encoding { path: PathBuf },
    #[error("invalid config: {0}")]
    Syntax(#[from] IniError),
    #[error("invalid '{key}' in [{section}] of {}: {reason}", path.display())]
    InvalidValue {
        path: PathBuf,
        section: String,
        key: String,
        reason: String,
    },
    #[error("[{section}] in {} is missing '{key}'", files_display(paths))]
    MissingKey {
        /// The files that have a `[section]` header.
        paths: Vec<PathBuf>,
        section: String,
        key: String,
    },
}

fn files_display(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    if names.is_empty() {
        "the configuration".to_string()
    } else {
        names.join(" and ")
    }
}

/// `[composer]` and `[composer:oauth]`: how to reach composer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposerConfig {
    /// Base URL of composer; the API lives at `<server>/api/image-builder-composer/v2/`.
    pub server: String,
    /// `ssl_cert`: client certificate for mTLS.
    pub ssl_cert: Option<ClientCert>,
    /// `ssl_verify`: how to verify composer's certificate.
    pub ssl_verify: SslVerify,
    /// `proxy`: used for every composer and token request (never the hub).
    pub proxy: Option<String>,
    /// `[composer:oauth]`: client credentials, when that section exists.
    pub oauth: Option<OAuthCredentials>,
}

/// `[koji]`: the hub composer imports builds into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KojiHubConfig {
    pub server: String,
}

/// builder.conf, read and checked.
#[derive(Debug, Clone)]
pub struct BuilderConfig {
    pub composer: ComposerConfig,
    pub koji: KojiHubConfig,
    ini: Ini,
    files: Vec<PathBuf>,
}

impl BuilderConfig {
    /// Read [`DEFAULT_CONFIG_FILES`].
    pub fn load_default() -> Result<Self, ConfigError> {
        Self::load(DEFAULT_CONFIG_FILES)
    }

    /// Read `paths` in order; later files override earlier ones key by key.
    /// A file that does not exist is skipped (as `configparser.read` does);
    /// one that exists but cannot be read is an error.
    pub fn load<I, P>(paths: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let mut ini = Ini::new();
        let mut files = Vec::new();
        for path in paths {
            let path = path.as_ref();
            let bytes = match std::fs::read(path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::debug!(path = %path.display(), "config file not present, skipped");
                    continue;
                }
                Err(source) => {
                    return Err(ConfigError::Read {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            };
            let text = String::from_utf8(bytes).map_err(|_| ConfigError::Encoding {
                path: path.to_path_buf(),
            })?;
            ini.read_str(&text, path)?;
            files.push(path.to_path_buf());
        }
        Self::from_ini(ini, files)
    }

    /// Build from text, as if read from a file called `origin` (for tools
    /// and tests that hold the configuration in memory).
    pub fn from_str_with_origin(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let mut ini = Ini::new();
        ini.read_str(text, origin)?;
        Self::from_ini(ini, vec![origin.to_path_buf()])
    }

    fn from_ini(ini: Ini, files: Vec<PathBuf>) -> Result<Self, ConfigError> {
        let server = get(&ini, COMPOSER_SECTION, "server")?
            .unwrap_or_else(|| DEFAULT_COMPOSER_URL.to_string());

        // Upstream tests `"ssl_cert" in composer`, so an empty value is still
        // "set" and then fails; we say so instead of failing at connect time.
        let ssl_cert = match get(&ini, COMPOSER_SECTION, "ssl_cert")? {
            None => None,
            Some(value) => Some(
                ClientCert::parse(&value)
                    .map_err(|e| invalid(&ini, COMPOSER_SECTION, "ssl_cert", e.to_string()))?,
            ),
        };

        let ssl_verify = match get(&ini, COMPOSER_SECTION, "ssl_verify")? {
            None => SslVerify::Enabled,
            Some(value) => SslVerify::parse(&value)
                .map_err(|e| invalid(&ini, COMPOSER_SECTION, "ssl_verify", e))?,
        };

        // Upstream: `if proxy:` - an empty value means no proxy.
        let proxy = get(&ini, COMPOSER_SECTION, "proxy")?.filter(|p| !p.is_empty());

        let oauth = if ini.has_section(OAUTH_SECTION) {
            let require = |key: &str| -> Result<String, ConfigError> {
                match get(&ini, OAUTH_SECTION, key)? {
                    Some(v) if !v.is_empty() => Ok(v),
                    Some(_) => Err(invalid(&ini, OAUTH_SECTION, key, "is empty".to_string())),
                    None => Err(ConfigError::MissingKey {
                        paths: section_files(&ini, OAUTH_SECTION),
                        section: OAUTH_SECTION.to_string(),
                        key: key.to_string(),
                    }),
                }
            };
            Some(OAuthCredentials {
                client_id: require("client_id")?,
                client_secret: Secret::new(require("client_secret")?),
                token_url: require("token_url")?,
            })
        } else {
            None
        };

        let koji_server =
            get(&ini, KOJI_SECTION, "server")?.unwrap_or_else(|| DEFAULT_KOJIHUB_URL.to_string());

        Ok(BuilderConfig {
            composer: ComposerConfig {
                server,
                ssl_cert,
                ssl_verify,
                proxy,
                oauth,
            },
            koji: KojiHubConfig {
                server: koji_server,
            },
            ini,
            files,
        })
    }

    /// The files that were actually read, in order.
    pub fn files_read(&self) -> &[PathBuf] {
        &self.files
    }

    /// Raw access to everything read, for keys this crate does not model.
    pub fn ini(&self) -> &Ini {
        &self.ini
    }

    /// The value of `key` in `section` (interpolated like configparser,
    /// `[DEFAULT]` applies); `Ok(None)` when absent.
    pub fn get(&self, section: &str, key: &str) -> Result<Option<String>, ConfigError> {
        get(&self.ini, section, key)
    }

    /// `key` in `section` as a configparser boolean; an unparsable value is
    /// an error naming the file and key.
    pub fn get_bool(&self, section: &str, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(section, key)? {
            None => Ok(None),
            Some(v) => ini::parse_bool(&v).map(Some).ok_or_else(|| {
                invalid(
                    &self.ini,
                    section,
                    key,
                    format!("'{v}' is not a boolean (use yes/no, true/false, on/off, 1/0)"),
                )
            }),
        }
    }

    /// Whether `[section]` was present in any file.
    pub fn has_section(&self, section: &str) -> bool {
        self.ini.has_section(section)
    }

    /// The file that set `key` in `section`, for error messages of callers
    /// that validate their own keys.
    pub fn origin(&self, section: &str, key: &str) -> Option<&ini::Origin> {
        self.ini.entry(section, key).map(|e| &e.origin)
    }
}

fn get(ini: &Ini, section: &str, key: &str) -> Result<Option<String>, ConfigError> {
    Ok(ini.get(section, key)?)
}

fn invalid(ini: &Ini, section: &str, key: &str, reason: String) -> ConfigError {
    let path = ini
        .entry(section, key)
        .map(|e| e.origin.file.clone())
        .unwrap_or_default();
    ConfigError::InvalidValue {
        path,
        section: section.to_string(),
        key: key.to_string(),
        reason,
    }
}

fn section_files(ini: &Ini, section: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(s) = ini.section(section) {
        for h in &s.headers {
            if !files.contains(&h.file) {
                files.push(h.file.clone());
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        path
    }

    #[test]
    fn defaults_when_no_file_exists() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = BuilderConfig::load([dir.path().join("nope.conf")]).unwrap();
        assert_eq!(cfg.composer.server, DEFAULT_COMPOSER_URL);
        assert_eq!(cfg.koji.server, DEFAULT_KOJIHUB_URL);
        assert_eq!(cfg.composer.ssl_cert, None);
        assert_eq!(cfg.composer.ssl_verify, SslVerify::Enabled);
        assert_eq!(cfg.composer.proxy, None);
        assert_eq!(cfg.composer.oauth, None);
        assert!(cfg.files_read().is_empty());
    }

    #[test]
    fn readme_example_parses() {
        let dir = tempfile::tempdir().unwrap();
        // The builder.conf example from upstream's README, verbatim keys.
        let path = write(
            dir.path(),
            "builder.conf",
            "[composer]\n\
             # The host, port and transport\n\
             server = https://composer.osbuild.org\n\
             ssl_cert = /share/worker-crt.pem, /share/worker-key.pem\n\
             ssl_verify = /share/worker-ca.pem\n\
             proxy = http://squid.example.com:3128\n\
             \n\
             [composer:oauth]\n\
             client_id = koji\n\
             client_secret = koji\n\
             token_url = https://localhost:8081/token\n\
             \n\
             [koji]\n\
             server = https://koji.fedoraproject.org/kojihub\n",
        );
        let cfg = BuilderConfig::load([&path]).unwrap();
        assert_eq!(cfg.composer.server, "https://composer.osbuild.org");
        assert_eq!(
            cfg.composer.ssl_cert,
            Some(ClientCert::Pair {
                cert: "/share/worker-crt.pem".into(),
                key: "/share/worker-key.pem".into()
            })
        );
        assert_eq!(
            cfg.composer.ssl_verify,
            SslVerify::CaPath("/share/worker-ca.pem".into())
        );
        assert_eq!(
            cfg.composer.proxy.as_deref(),
            Some("http://squid.example.com:3128")
        );
        let oauth = cfg.composer.oauth.as_ref().unwrap();
        assert_eq!(oauth.client_id, "koji");
        assert_eq!(oauth.client_secret.expose(), "koji");
        assert_eq!(oauth.token_url, "https://localhost:8081/token");
        assert_eq!(cfg.koji.server, "https://koji.fedoraproject.org/kojihub");
        assert_eq!(cfg.files_read(), [path]);
    }

    #[test]
    fn later_file_wins_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let usr = write(
            dir.path(),
            "usr.conf",
            "[composer]\nserver = https://usr\nssl_verify = no\n[koji]\nserver = https://hub-usr\n",
        );
        let etc = write(
            dir.path(),
            "etc.conf",
            "[composer]\nserver = https://etc\n[builder]\nmax_jobs = 7\n",
        );
        let cfg = BuilderConfig::load([&usr, &dir.path().join("missing"), &etc]).unwrap();
        assert_eq!(cfg.composer.server, "https://etc");
        assert_eq!(cfg.composer.ssl_verify, SslVerify::Disabled);
        assert_eq!(cfg.koji.server, "https://hub-usr");
        // unknown sections stay reachable for the builder
        assert_eq!(
            cfg.get("builder", "max_jobs").unwrap().as_deref(),
            Some("7")
        );
        assert_eq!(cfg.origin("composer", "server").unwrap().file, etc);
        assert_eq!(cfg.files_read(), [usr, etc]);
    }

    #[test]
    fn ssl_verify_booleans_and_paths() {
        for (text, want) in [
            ("True", SslVerify::Enabled),
            ("yes", SslVerify::Enabled),
            ("on", SslVerify::Enabled),
            ("1", SslVerify::Enabled),
            ("False", SslVerify::Disabled),
            ("NO", SslVerify::Disabled),
            ("off", SslVerify::Disabled),
            ("0", SslVerify::Disabled),
            (
                "/a/path/to/a/ca",
                SslVerify::CaPath("/a/path/to/a/ca".into()),
            ),
        ] {
            let cfg = BuilderConfig::from_str_with_origin(
                &format!("[composer]\nssl_verify = {text}\n"),
                Path::new("b.conf"),
            )
            .unwrap();
            assert_eq!(cfg.composer.ssl_verify, want, "{text}");
        }
    }

    #[test]
    fn ssl_cert_forms() {
        let cfg = BuilderConfig::from_str_with_origin(
            "[composer]\nssl_cert = /a/path/to/a/cert\n",
            Path::new("b.conf"),
        )
        .unwrap();
        assert_eq!(
            cfg.composer.ssl_cert,
            Some(ClientCert::Combined("/a/path/to/a/cert".into()))
        );
        let cfg = BuilderConfig::from_str_with_origin(
            "[composer]\nssl_cert =  /c.pem ,/k.pem  \n",
            Path::new("b.conf"),
        )
        .unwrap();
        assert_eq!(
            cfg.composer.ssl_cert,
            Some(ClientCert::Pair {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            })
        );
    }

    #[test]
    fn bad_ssl_cert_names_file_key_and_value() {
        let err = BuilderConfig::from_str_with_origin(
            "[composer]\nssl_cert = 1, 2, 3\n",
            Path::new("/etc/koji-osbuild/builder.conf"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "invalid 'ssl_cert' in [composer] of /etc/koji-osbuild/builder.conf: \
             Invalid cert string '1, 2, 3' (3 certs)"
        );
    }

    #[test]
    fn oauth_section_missing_a_key() {
        let err = BuilderConfig::from_str_with_origin(
            "[composer:oauth]\nclient_id = koji\ntoken_url = https://sso/token\n",
            Path::new("/etc/koji-osbuild/builder.conf"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "[composer:oauth] in /etc/koji-osbuild/builder.conf is missing 'client_secret'"
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let cfg = BuilderConfig::from_str_with_origin(
            "[composer:oauth]\nclient_id = koji\nclient_secret = s3cr3t-value\ntoken_url = https://sso/token\n",
            Path::new("b.conf"),
        )
        .unwrap();
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
        assert!(debug.contains("koji"));
    }

    #[test]
    fn unreadable_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        // A directory exists but cannot be read as a file.
        let err = BuilderConfig::load([dir.path()]).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }

    #[test]
    fn empty_proxy_means_none_and_bool_accessor() {
        let cfg = BuilderConfig::from_str_with_origin(
            "[composer]\nproxy =\n[builder]\nflag = Yes\nbad = maybe\n",
            Path::new("b.conf"),
        )
        .unwrap();
        assert_eq!(cfg.composer.proxy, None);
        assert_eq!(cfg.get_bool("builder", "flag").unwrap(), Some(true));
        assert_eq!(cfg.get_bool("builder", "nothing").unwrap(), None);
        let err = cfg.get_bool("builder", "bad").unwrap_err().to_string();
        assert!(err.contains("'bad' in [builder] of b.conf"), "{err}");
    }
}
