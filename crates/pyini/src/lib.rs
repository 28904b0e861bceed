//! pyini: a small INI reader that behaves like Python's
//! `configparser.ConfigParser` with its default options, because koji reads
//! koji.conf and kojid.conf with it, upstream reads builder.conf with it, and
//! existing files must keep meaning the same thing.
//!
//! What is kept from configparser: `key = value` and `key: value` (the first
//! `=` or `:` splits), keys folded to lower case (`optionxform = str.lower`),
//! section names case-sensitive, whole-line comments starting with `#` or `;`
//! (no inline comments), indented continuation lines for multi-line values,
//! a `[DEFAULT]` section whose keys every section sees, duplicate sections or
//! keys inside one file rejected (`strict=True`), later files overriding
//! earlier ones, and `%(name)s` / `%%` interpolation on access
//! (`BasicInterpolation`).
//!
//! rust-ini was not used: it strips inline comments after `;`/`#` (which would
//! cut URLs and secrets) and has no `[DEFAULT]` or interpolation.

use std::path::{Path, PathBuf};

/// The name configparser gives the section whose keys all others inherit.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// Where a value or section header was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One `key = value` line, as read (not yet interpolated).
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub origin: Origin,
}

// Values may be secrets (client_secret): Debug shows where a value came from,
// never the value itself.
impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("value", &"<redacted>")
            .field("origin", &self.origin)
            .finish()
    }
}

/// A section: its keys in first-seen order and the files that named it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub entries: Vec<Entry>,
    /// Every `[name]` header read for this section, in reading order.
    pub headers: Vec<Origin>,
}

impl Section {
    /// The entry for `key` (case-insensitive, like configparser), without
    /// looking at `[DEFAULT]`.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        let key = key.to_lowercase();
        self.entries.iter().find(|e| e.key == key)
    }

    fn set(&mut self, entry: Entry) {
        match self.entries.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }
}

/// A parse or interpolation problem, with the file and line to look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IniError {
    #[error("{origin}: {reason}")]
    Syntax { origin: Origin, reason: String },
    #[error("{origin}: bad value for '{key}' in [{section}]: {reason}")]
    Interpolation {
        origin: Origin,
        section: String,
        key: String,
        reason: String,
    },
}

/// Configuration read from one or more INI files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ini {
    /// `[DEFAULT]` first, then the sections in first-seen order.
    sections: Vec<Section>,
}

impl Default for Ini {
    fn default() -> Self {
        let defaults = Section {
            name: DEFAULT_SECTION.to_string(),
            ..Section::default()
        };
        Ini {
            sections: vec![defaults],
        }
    }
}

impl Ini {
    pub fn new() -> Self {
        Ini::default()
    }

    /// Merge one file's text into this configuration; keys read here
    /// override the same keys read before (like `ConfigParser.read`).
    pub fn read_str(&mut self, text: &str, file: &Path) -> Result<(), IniError> {
        let mut parser = FileParser {
            ini: self,
            file,
            seen_sections: Vec::new(),
            seen_keys: Vec::new(),
            current: None,
            pending: None,
        };
        for (index, line) in text.lines().enumerate() {
            parser.line(index + 1, line)?;
        }
        parser.finish_entry();
        Ok(())
    }

    /// Section names in first-seen order, without `DEFAULT` (as
    /// `ConfigParser.sections()`).
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter().skip(1)
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    pub fn has_section(&self, name: &str) -> bool {
        name != DEFAULT_SECTION && self.section(name).is_some()
    }

    /// The raw (not interpolated) entry for `key` in `section`, falling back
    /// to `[DEFAULT]` as configparser does.
    pub fn entry(&self, section: &str, key: &str) -> Option<&Entry> {
        let defaults = self.sections.first();
        self.section(section)?
            .entry(key)
            .or_else(|| defaults?.entry(key))
    }

    /// The interpolated value of `key` in `section` (configparser's
    /// `cfg[section][key]`). `Ok(None)` when the section or key is absent.
    pub fn get(&self, section: &str, key: &str) -> Result<Option<String>, IniError> {
        let Some(entry) = self.entry(section, key) else {
            return Ok(None);
        };
        self.interpolate(section, entry, &entry.value, 1).map(Some)
    }

    // configparser's BasicInterpolation: `%%` is a literal `%`, `%(name)s`
    // is another key of the same section (or DEFAULT), anything else after
    // `%` is an error; references nest at most 10 deep (MAX_INTERPOLATION_DEPTH).
    fn interpolate(
        &self,
        section: &str,
        entry: &Entry,
        value: &str,
        depth: usize,
    ) -> Result<String, IniError> {
        let fail = |reason: String| IniError::Interpolation {
            origin: entry.origin.clone(),
            section: section.to_string(),
            key: entry.key.clone(),
            reason,
        };
        if depth > 10 {
            return Err(fail(
                "interpolation nested too deeply (more than 10 levels)".into(),
            ));
        }
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(pos) = rest.find('%') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(tail) = after.strip_prefix('%') {
                out.push('%');
                rest = tail;
            } else if let Some(tail) = after.strip_prefix('(') {
                let Some(close) = tail.find(")s") else {
                    return Err(fail(format!(
                        "bad interpolation syntax near '%{}'",
                        after.chars().take(20).collect::<String>()
                    )));
                };
                let name = &tail[..close];
                let Some(referenced) = self.entry(section, name) else {
                    return Err(fail(format!(
                        "'%({name})s' refers to a key that is not in [{section}] or [DEFAULT]"
                    )));
                };
                let resolved = self.interpolate(section, entry, &referenced.value, depth + 1)?;
                out.push_str(&resolved);
                rest = &tail[close + 2..];
            } else {
                return Err(fail(
                    "'%' must be followed by '%' or '(' (write '%%' for a literal percent sign)"
                        .into(),
                ));
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

struct PendingEntry {
    section: usize,
    key: String,
    lines: Vec<String>,
    indent: usize,
    origin: Origin,
}

struct FileParser<'a> {
    ini: &'a mut Ini,
    file: &'a Path,
    seen_sections: Vec<String>,
    seen_keys: Vec<(usize, String)>,
    /// Index into ini.sections; None before any header.
    current: Option<usize>,
    pending: Option<PendingEntry>,
}

impl FileParser<'_> {
    fn origin(&self, line: usize) -> Origin {
        Origin {
            file: self.file.to_path_buf(),
            line,
        }
    }

    fn syntax(&self, line: usize, reason: impl Into<String>) -> IniError {
        IniError::Syntax {
            origin: self.origin(line),
            reason: reason.into(),
        }
    }

    fn line(&mut self, number: usize, raw: &str) -> Result<(), IniError> {
        let stripped = raw.trim();
        if stripped.starts_with('#') || stripped.starts_with(';') {
            return Ok(());
        }
        let indent = raw.len() - raw.trim_start().len();
        if stripped.is_empty() {
            // configparser keeps blank lines inside a multi-line value
            // (empty_lines_in_values=True) and drops trailing ones.
            if let Some(pending) = &mut self.pending {
                pending.lines.push(String::new());
            }
            return Ok(());
        }
        if let Some(pending) = &mut self.pending {
            if indent > pending.indent {
                pending.lines.push(stripped.to_string());
                return Ok(());
            }
        }
        self.finish_entry();

        if stripped.starts_with('[') {
            if let Some(close) = stripped.rfind(']') {
                if close > 1 {
                    return self.header(number, &stripped[1..close]);
                }
            }
        }

        let Some(current) = self.current else {
            return Err(self.syntax(
                number,
                // The line itself is not quoted: it may hold a password.
                "a line before any [section] header; is this the right file?",
            ));
        };
        let Some(split) = stripped.find(['=', ':']) else {
            return Err(self.syntax(
                number,
                "expected 'key = value' or 'key: value' (the line is not shown: it may hold a secret)",
            ));
        };
        let key = stripped[..split].trim().to_lowercase();
        if key.is_empty() {
            return Err(self.syntax(number, "a value without a key"));
        }
        let value = stripped[split + 1..].trim().to_string();
        let seen = (current, key.clone());
        if self.seen_keys.contains(&seen) {
            let section = &self.ini.sections[current].name;
            return Err(self.syntax(
                number,
                format!("'{key}' is set twice in [{section}] of this file"),
            ));
        }
        self.seen_keys.push(seen);
        self.pending = Some(PendingEntry {
            section: current,
            key,
            lines: vec![value],
            indent,
            origin: self.origin(number),
        });
        Ok(())
    }

    fn header(&mut self, number: usize, name: &str) -> Result<(), IniError> {
        if self.seen_sections.iter().any(|s| s == name) {
            return Err(self.syntax(
                number,
                format!("section [{name}] appears twice in this file"),
            ));
        }
        self.seen_sections.push(name.to_string());
        let origin = self.origin(number);
        let index = match self.ini.sections.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                self.ini.sections.push(Section {
                    name: name.to_string(),
                    ..Section::default()
                });
                self.ini.sections.len() - 1
            }
        };
        self.ini.sections[index].headers.push(origin);
        self.current = Some(index);
        Ok(())
    }

    fn finish_entry(&mut self) {
        let Some(mut pending) = self.pending.take() else {
            return;
        };
        while pending.lines.len() > 1 && pending.lines.last().is_some_and(|l| l.is_empty()) {
            pending.lines.pop();
        }
        let entry = Entry {
            key: pending.key,
            value: pending.lines.join("\n"),
            origin: pending.origin,
        };
        self.ini.sections[pending.section].set(entry);
    }
}

/// configparser's `getboolean`: `1/yes/true/on` and `0/no/false/off`, any case.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.to_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Ini {
        let mut ini = Ini::new();
        ini.read_str(text, Path::new("test.conf")).expect("parses");
        ini
    }

    fn get(ini: &Ini, section: &str, key: &str) -> Option<String> {
        ini.get(section, key).expect("interpolates")
    }

    #[test]
    fn both_delimiters_and_lowercased_keys() {
        let ini =
            parse("[composer]\nServer = https://a:8080/x\nSSL_cert: /c.pem, /k.pem\nempty =\n");
        assert_eq!(
            get(&ini, "composer", "server").as_deref(),
            Some("https://a:8080/x")
        );
        assert_eq!(
            get(&ini, "composer", "SERVER").as_deref(),
            Some("https://a:8080/x")
        );
        assert_eq!(
            get(&ini, "composer", "ssl_cert").as_deref(),
            Some("/c.pem, /k.pem")
        );
        assert_eq!(get(&ini, "composer", "empty").as_deref(), Some(""));
        // section names stay case-sensitive, as in configparser
        assert!(!ini.has_section("Composer"));
    }

    #[test]
    fn comments_are_whole_lines_only() {
        let ini =
            parse("# top\n[s]\n; note\n  # indented note\nurl = http://h/#frag ; not a comment\n");
        assert_eq!(
            get(&ini, "s", "url").as_deref(),
            Some("http://h/#frag ; not a comment")
        );
    }

    #[test]
    fn continuation_lines_and_default_section() {
        let ini = parse("[DEFAULT]\nproxy = http://p\n[s]\nlist = a\n  b\n\n  c\n\nother = 1\n");
        assert_eq!(get(&ini, "s", "list").as_deref(), Some("a\nb\n\nc"));
        assert_eq!(get(&ini, "s", "other").as_deref(), Some("1"));
        assert_eq!(get(&ini, "s", "proxy").as_deref(), Some("http://p"));
        assert_eq!(
            ini.sections().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["s"]
        );
    }

    #[test]
    fn interpolation_like_basic_interpolation() {
        let ini = parse("[s]\nhost = h.example\nurl = https://%(host)s/%%41\n");
        assert_eq!(
            get(&ini, "s", "url").as_deref(),
            Some("https://h.example/%41")
        );
        let ini = parse("[s]\nsecret = 50%off\n");
        let err = ini.get("s", "secret").unwrap_err().to_string();
        assert!(err.contains("test.conf:2"), "{err}");
        assert!(!err.contains("50%off"), "value must not leak: {err}");
    }

    #[test]
    fn later_files_override_and_merge() {
        let mut ini = Ini::new();
        ini.read_str("[a]\nx = 1\ny = 1\n", Path::new("one"))
            .unwrap();
        ini.read_str("[a]\nx = 2\n[b]\nz = 3\n", Path::new("two"))
            .unwrap();
        assert_eq!(get(&ini, "a", "x").as_deref(), Some("2"));
        assert_eq!(get(&ini, "a", "y").as_deref(), Some("1"));
        assert_eq!(ini.entry("a", "x").unwrap().origin.file, Path::new("two"));
        assert_eq!(ini.section("a").unwrap().headers.len(), 2);
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let mut ini = Ini::new();
        let err = ini
            .read_str("password = s3cret\n", Path::new("f.conf"))
            .unwrap_err();
        assert!(err.to_string().starts_with("f.conf:1:"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "no line quoted: {err}");
        let err = ini
            .read_str("[a]\nx = 1\nX = 2\n", Path::new("f.conf"))
            .unwrap_err();
        assert!(err.to_string().contains("f.conf:3"), "{err}");
        let err = ini.read_str("[a]\n[a]\n", Path::new("g.conf")).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        let err = ini
            .read_str("[a]\njust s3cret\n", Path::new("h.conf"))
            .unwrap_err();
        assert!(err.to_string().contains("h.conf:2"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "no line quoted: {err}");
    }

    #[test]
    fn booleans_like_getboolean() {
        for t in ["1", "yes", "True", "ON", "true"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["0", "no", "FALSE", "off", "False"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("/etc/pki/ca.pem"), None);
        assert_eq!(parse_bool(""), None);
    }
}
