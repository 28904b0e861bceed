//! The koji client configuration, read the way `koji.read_config` reads it.
//!
//! Files, later ones overriding earlier ones: `/etc/koji.conf.d/*.conf`
//! (sorted), `/etc/koji.conf`, then either the `--config` file (which must
//! exist) or `~/.koji/config.d/*.conf` and `~/.koji/config`. They are INI
//! files as Python's `configparser` reads them (keys are case-insensitive,
//! `=` or `:`, indented continuation lines, a `[DEFAULT]` section,
//! `%(key)s` interpolation). Only the keys koji knows are used; `user` and
//! `password` are not among them, exactly as in koji.

use std::path::{Path, PathBuf};

use pyini::Ini;

/// Where the configuration is looked for. Tests point these at temp dirs.
#[derive(Debug, Clone)]
pub struct ConfigLocations {
    /// `/etc` normally.
    pub etc: PathBuf,
    /// `$HOME`, for `~` and `~/.koji/...`; `None` if unknown.
    pub home: Option<PathBuf>,
}

impl ConfigLocations {
    pub fn system() -> Self {
        ConfigLocations {
            etc: PathBuf::from("/etc"),
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
        }
    }

    /// `os.path.expanduser`, for `~` and `~/...` (other forms are kept).
    pub fn expand_user(&self, path: &str) -> PathBuf {
        match (&self.home, path) {
            (Some(home), "~") => home.clone(),
            (Some(home), p) if p.starts_with("~/") => home.join(&p[2..]),
            _ => PathBuf::from(path),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The reason is in the line without Rust's "(os error N)"; the
    /// caller's cause chain then adds nothing.
    #[error("config file {} can't be opened: {}", .0.display(), crate::io_reason(.1))]
    Unreadable(PathBuf, #[source] std::io::Error),
    /// A syntax or `%(name)s` interpolation problem, with file and line.
    #[error(transparent)]
    Syntax(#[from] pyini::IniError),
    #[error("value for {0} config option must be a valid integer")]
    NotInteger(String),
    #[error("value for {0} config option must be a boolean, not {1:?}")]
    NotBoolean(String, String),
}

/// The settings of one profile: koji's `config_defaults`, overridden by the
/// profile section.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// `None` when no section of that name exists (koji's "no configuration
    /// for profile name" case, which the caller decides about).
    pub name: Option<String>,
    pub server: String,
    pub weburl: String,
    pub max_retries: u32,
    pub retry_interval: u64,
    pub anon_retry: bool,
    pub timeout: u64,
    pub auth_timeout: u64,
    pub poll_interval: u64,
    pub cert: Option<PathBuf>,
    pub serverca: Option<PathBuf>,
    pub no_ssl_verify: bool,
    pub authtype: Option<String>,
    pub principal: Option<String>,
    pub keytab: Option<String>,
    /// How the hub's Kerberos service principal is named (`krb_rdns`,
    /// `krb_canon_host`, `krb_server_realm`).
    pub krb_rdns: bool,
    pub krb_canon_host: bool,
    pub krb_server_realm: Option<String>,
}

impl Default for Profile {
    /// koji's `config_defaults`.
    fn default() -> Self {
        Profile {
            name: None,
            server: "http://localhost/kojihub".into(),
            weburl: "http://localhost/koji".into(),
            max_retries: 30,
            retry_interval: 20,
            anon_retry: false,
            timeout: 60 * 60 * 12,
            auth_timeout: 60,
            poll_interval: 6,
            cert: None,
            serverca: None,
            no_ssl_verify: false,
            authtype: None,
            principal: None,
            keytab: None,
            krb_rdns: false,
            krb_canon_host: false,
            krb_server_realm: None,
        }
    }
}

/// Read `profile` from the koji configuration files.
pub fn read_config(
    profile: &str,
    user_config: Option<&Path>,
    locations: &ConfigLocations,
) -> Result<Profile, ConfigError> {
    let mut files: Vec<PathBuf> = Vec::new();
    files.extend(conf_dir(&locations.etc.join("koji.conf.d"))?);
    let etc_conf = locations.etc.join("koji.conf");
    if etc_conf.is_file() {
        files.push(etc_conf);
    }
    match user_config {
        Some(path) => {
            let path = locations.expand_user(&path.to_string_lossy());
            if path.is_dir() {
                let found = conf_dir(&path)?;
                if found.is_empty() {
                    return Err(ConfigError::Unreadable(
                        path,
                        std::io::Error::new(std::io::ErrorKind::NotFound, "no *.conf files in it"),
                    ));
                }
                files.extend(found);
            } else {
                files.push(path);
            }
        }
        None => {
            if let Some(home) = &locations.home {
                files.extend(conf_dir(&home.join(".koji/config.d"))?);
                let user_conf = home.join(".koji/config");
                if user_conf.is_file() {
                    files.push(user_conf);
                }
            }
        }
    }

    let mut ini = Ini::new();
    for file in &files {
        let text =
            std::fs::read_to_string(file).map_err(|e| ConfigError::Unreadable(file.clone(), e))?;
        ini.read_str(&text, file)?;
    }

    let mut result = Profile::default();
    if let Some(section) = ini.section(profile).filter(|_| ini.has_section(profile)) {
        result.name = Some(profile.to_string());
        // The profile's keys with [DEFAULT]'s underneath, as `config.items()`.
        let defaults = ini.section(pyini::DEFAULT_SECTION).into_iter();
        let mut keys: Vec<&str> = defaults
            .chain([section])
            .flat_map(|s| s.entries.iter().map(|e| e.key.as_str()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let value = ini.get(profile, key)?.unwrap_or_default();
            result.set(key, value)?;
        }
    }
    // koji's cert defaults: the file under ~/.koji if it exists.
    for (slot, default) in [
        (&mut result.cert, "~/.koji/client.crt"),
        (&mut result.serverca, "~/.koji/serverca.crt"),
    ] {
        match slot.take() {
            Some(path) => *slot = Some(locations.expand_user(&path.to_string_lossy())),
            None => {
                let path = locations.expand_user(default);
                if path.exists() && default != path.to_string_lossy() {
                    *slot = Some(path);
                }
            }
        }
    }
    Ok(result)
}

impl Profile {
    fn set(&mut self, key: &str, value: String) -> Result<(), ConfigError> {
        let int = |v: &str| -> Result<u64, ConfigError> {
            v.trim()
                .parse()
                .map_err(|_| ConfigError::NotInteger(key.to_string()))
        };
        let boolean = |v: &str| -> Result<bool, ConfigError> {
            match v.to_ascii_lowercase().as_str() {
                "1" | "yes" | "true" | "on" => Ok(true),
                "0" | "no" | "false" | "off" => Ok(false),
                _ => Err(ConfigError::NotBoolean(key.to_string(), v.to_string())),
            }
        };
        match key {
            "server" => self.server = value,
            "weburl" => self.weburl = value,
            "max_retries" => {
                self.max_retries = u32::try_from(int(&value)?)
                    .map_err(|_| ConfigError::NotInteger(key.to_string()))?
            }
            "retry_interval" => self.retry_interval = int(&value)?,
            "timeout" => self.timeout = int(&value)?,
            "auth_timeout" => self.auth_timeout = int(&value)?,
            "poll_interval" => self.poll_interval = int(&value)?,
            // Checked like koji does, though this client does not use them.
            "offline_retry_interval" | "upload_blocksize" | "pyver" => {
                int(&value)?;
            }
            "anon_retry" => self.anon_retry = boolean(&value)?,
            "offline_retry" | "use_fast_upload" | "debug" | "debug_xmlrpc" | "force_auth" => {
                boolean(&value)?;
            }
            "no_ssl_verify" => {
                // koji keeps this one as a string: any non-empty value is true
                // for requests, except that configparser already stripped it.
                self.no_ssl_verify = !value.is_empty()
                    && !matches!(
                        value.to_ascii_lowercase().as_str(),
                        "0" | "no" | "false" | "off"
                    )
            }
            "cert" => self.cert = Some(PathBuf::from(value)),
            "serverca" => self.serverca = Some(PathBuf::from(value)),
            "authtype" => self.authtype = Some(value),
            "principal" => self.principal = Some(value),
            "keytab" => self.keytab = Some(value),
            "krb_rdns" => self.krb_rdns = boolean(&value)?,
            "krb_canon_host" => self.krb_canon_host = boolean(&value)?,
            "krb_server_realm" => self.krb_server_realm = Some(value).filter(|v| !v.is_empty()),
            // koji's other known keys (topdir, pkgurl, plugin_paths) and
            // unknown keys are ignored.
            _ => {}
        }
        Ok(())
    }
}

/// `koji.config_directory_contents`: the `*.conf` files of a directory, sorted.
fn conf_dir(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(Vec::new()),
        Err(e) => return Err(ConfigError::Unreadable(dir.to_path_buf(), e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".conf"))
        .collect();
    names.sort();
    Ok(names
        .into_iter()
        .map(|name| dir.join(name))
        .filter(|p| p.is_file())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    struct Fixture {
        _dir: tempfile::TempDir,
        locations: ConfigLocations,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("temp dir");
            let etc = dir.path().join("etc");
            let home = dir.path().join("home");
            fs::create_dir_all(&etc).unwrap();
            fs::create_dir_all(home.join(".koji")).unwrap();
            Fixture {
                locations: ConfigLocations {
                    etc,
                    home: Some(home),
                },
                _dir: dir,
            }
        }
        fn write(&self, rel: &str, text: &str) -> PathBuf {
            let path = if let Some(rest) = rel.strip_prefix("~/") {
                self.locations.home.as_ref().unwrap().join(rest)
            } else {
                self.locations.etc.join(rel)
            };
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, text).unwrap();
            path
        }
        fn read(&self, profile: &str) -> Result<Profile, ConfigError> {
            read_config(profile, None, &self.locations)
        }
    }

    #[test]
    fn missing_profile_keeps_defaults() {
        let fx = Fixture::new();
        let profile = fx.read("koji").unwrap();
        assert_eq!(profile.name, None);
        assert_eq!(profile.server, "http://localhost/kojihub");
        assert_eq!(profile.poll_interval, 6);
    }

    #[test]
    fn later_files_win() {
        let fx = Fixture::new();
        fx.write(
            "koji.conf.d/10-a.conf",
            "[koji]\nserver = https://a/kojihub\nweburl = https://a/koji\nauthtype=password\n",
        );
        fx.write(
            "koji.conf.d/20-b.conf",
            "[koji]\nserver = https://b/kojihub\n",
        );
        fx.write(
            "koji.conf.d/ignored.txt",
            "[koji]\nserver = https://ignored\n",
        );
        fx.write(
            "koji.conf",
            "[koji]\nweburl = https://etc/koji\npoll_interval = 9\n",
        );
        fx.write("~/.koji/config.d/a.conf", "[koji]\npoll_interval = 3\n");
        fx.write("~/.koji/config", "[koji]\nauthtype = ssl\n");
        let p = fx.read("koji").unwrap();
        assert_eq!(p.name.as_deref(), Some("koji"));
        // /etc/koji.conf.d is read before /etc/koji.conf, in sorted order
        assert_eq!(p.server, "https://b/kojihub");
        assert_eq!(p.weburl, "https://etc/koji");
        assert_eq!(p.poll_interval, 3);
        assert_eq!(p.authtype.as_deref(), Some("ssl"));
    }

    #[test]
    fn profiles_are_sections() {
        let fx = Fixture::new();
        fx.write(
            "koji.conf",
            "[koji]\nserver = https://prod/kojihub\n\n[stg]\nserver = https://stg/kojihub\nauthtype = ssl\n",
        );
        assert_eq!(fx.read("koji").unwrap().server, "https://prod/kojihub");
        let stg = fx.read("stg").unwrap();
        assert_eq!(stg.server, "https://stg/kojihub");
        assert_eq!(stg.authtype.as_deref(), Some("ssl"));
        assert_eq!(fx.read("nope").unwrap().name, None);
    }

    #[test]
    fn explicit_config_file_replaces_the_user_files() {
        let fx = Fixture::new();
        fx.write(
            "koji.conf",
            "[koji]\nserver = https://etc/kojihub\nweburl = https://etc/koji\n",
        );
        fx.write("~/.koji/config", "[koji]\nserver = https://home/kojihub\n");
        let other = fx.write("~/other.conf", "[koji]\nserver = https://other/kojihub\n");
        let p = read_config("koji", Some(&other), &fx.locations).unwrap();
        assert_eq!(p.server, "https://other/kojihub");
        assert_eq!(p.weburl, "https://etc/koji");
        // and `~` in it is expanded
        let p = read_config("koji", Some(Path::new("~/other.conf")), &fx.locations).unwrap();
        assert_eq!(p.server, "https://other/kojihub");
        let err = read_config("koji", Some(Path::new("/no/such/file")), &fx.locations).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config file /no/such/file can't be opened: No such file or directory"
        );
    }

    #[test]
    fn configparser_syntax() {
        let fx = Fixture::new();
        fx.write(
            "koji.conf",
            "# comment\n; other comment\n[DEFAULT]\nbase = https://hub.example.com\n\n\
             [koji]\nSERVER : %(base)s/kojihub\nweburl=%(BASE)s/koji\nauthtype  =  ssl%%  \n\
             anon_retry = off\nmax_retries = 3\nretry_interval=5\nno_ssl_verify = true\n\
             unknown_key = whatever\nprincipal = user@EXAMPLE.COM\n",
        );
        let p = fx.read("koji").unwrap();
        assert_eq!(p.server, "https://hub.example.com/kojihub");
        assert_eq!(p.weburl, "https://hub.example.com/koji");
        assert_eq!(p.authtype.as_deref(), Some("ssl%"));
        assert!(!p.anon_retry);
        assert_eq!(p.max_retries, 3);
        assert_eq!(p.retry_interval, 5);
        assert!(p.no_ssl_verify);
        assert_eq!(p.principal.as_deref(), Some("user@EXAMPLE.COM"));
    }

    #[test]
    fn continuation_lines() {
        let fx = Fixture::new();
        fx.write(
            "koji.conf",
            "[koji]\nserver = https://a\n  /kojihub\nweburl = https://w\n",
        );
        let p = fx.read("koji").unwrap();
        assert_eq!(p.server, "https://a\n/kojihub");
        assert_eq!(p.weburl, "https://w");
    }

    #[test]
    fn user_and_password_are_not_config_keys() {
        // koji.read_config ignores keys outside its defaults, these included.
        let fx = Fixture::new();
        fx.write("koji.conf", "[koji]\nuser = alice\npassword = secret\n");
        let p = fx.read("koji").unwrap();
        assert_eq!(
            p,
            Profile {
                name: Some("koji".into()),
                ..Profile::default()
            }
        );
    }

    #[test]
    fn bad_values() {
        let fx = Fixture::new();
        fx.write("koji.conf", "[koji]\npoll_interval = soon\n");
        assert_eq!(
            fx.read("koji").unwrap_err().to_string(),
            "value for poll_interval config option must be a valid integer"
        );
        fx.write("koji.conf", "[koji]\nanon_retry = maybe\n");
        assert!(fx
            .read("koji")
            .unwrap_err()
            .to_string()
            .contains("anon_retry"));
        fx.write("koji.conf", "server = x\n[koji]\n");
        // pyini names the place as FILE:LINE.
        assert!(fx
            .read("koji")
            .unwrap_err()
            .to_string()
            .contains("koji.conf:1:"));
        fx.write("koji.conf", "[koji]\nserver = 50%\n");
        assert!(fx.read("koji").unwrap_err().to_string().contains("server"));
    }

    #[test]
    fn cert_paths_and_their_defaults() {
        let fx = Fixture::new();
        let home = fx.locations.home.clone().unwrap();
        fx.write("koji.conf", "[koji]\nserverca = ~/ca.pem\n");
        let p = fx.read("koji").unwrap();
        assert_eq!(p.serverca, Some(home.join("ca.pem")));
        assert_eq!(p.cert, None);
        fx.write("~/.koji/client.crt", "PEM");
        let p = fx.read("koji").unwrap();
        assert_eq!(p.cert, Some(home.join(".koji/client.crt")));
    }
}
