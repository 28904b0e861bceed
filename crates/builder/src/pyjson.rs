//! JSON written byte for byte as upstream's builder writes its attachments:
//! `json.dump(data, fd, indent=4, sort_keys=True)` (plugins/builder/osbuild.py,
//! `OSBuildImage.upload_json`). That means: 4-space indentation, `,` at line
//! ends and `": "` between key and value (Python's separators when `indent`
//! is set), keys sorted by code point, `[]`/`{}` for empty containers,
//! `ensure_ascii` escaping (`\u00e9`, surrogate pairs above the BMP, DEL
//! escaped too), floats as Python's `repr`, and no trailing newline.

use serde_json::Value;

/// `json.dumps(value, indent=4, sort_keys=True)`.
pub fn dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn indent(out: &mut String, level: usize) {
    out.push('\n');
    out.push_str(&"    ".repeat(level));
}

fn write_value(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        // Integers as they are; floats as Python's repr.
        Value::Number(n) => match n.as_f64().filter(|_| n.is_f64()) {
            Some(f) => out.push_str(&koji::wire::python_float_repr(f)),
            None => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            write_container(out, level, ['[', ']'], items.iter().map(|v| (None, v)));
        }
        Value::Object(map) => {
            // Rust orders strings by UTF-8 bytes, which is code point order,
            // the order Python's sorted() gives str keys.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            let entries = entries.into_iter().map(|(k, v)| (Some(k.as_str()), v));
            write_container(out, level, ['{', '}'], entries);
        }
    }
}

/// An array or object: `[]`/`{}` when empty, else one item (`key: value`
/// for objects) a line, one level deeper.
fn write_container<'a>(
    out: &mut String,
    level: usize,
    [open, close]: [char; 2],
    items: impl ExactSizeIterator<Item = (Option<&'a str>, &'a Value)>,
) {
    out.push(open);
    let empty = items.len() == 0;
    for (i, (key, value)) in items.enumerate() {
        out.push_str(if i == 0 { "" } else { "," });
        indent(out, level + 1);
        if let Some(key) = key {
            write_string(out, key);
            out.push_str(": ");
        }
        write_value(out, value, level + 1);
    }
    if !empty {
        indent(out, level);
    }
    out.push(close);
}

/// `json.encoder.py_encode_basestring_ascii`.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layout_like_python() {
        let v = json!({"b": [1, 2.5, {}], "a": {"z": null, "y": []}, "c": "x"});
        assert_eq!(
            dumps(&v),
            "{\n    \"a\": {\n        \"y\": [],\n        \"z\": null\n    },\n    \"b\": [\n        1,\n        2.5,\n        {}\n    ],\n    \"c\": \"x\"\n}"
        );
    }

    #[test]
    fn escapes_like_ensure_ascii() {
        assert_eq!(
            dumps(&json!("é\u{7f}\u{1}\"\\\n😀")),
            r#""\u00e9\u007f\u0001\"\\\n\ud83d\ude00""#
        );
    }

    fn python() -> Option<std::path::PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
        if root.exists() {
            return Some(root);
        }
        which("python3")
    }

    fn which(name: &str) -> Option<std::path::PathBuf> {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.exists())
        })
    }

    /// The same documents through CPython's json module and through
    /// [`dumps`] must give the same bytes.
    #[test]
    fn same_bytes_as_cpython() {
        let Some(python) = python() else {
            eprintln!("no python3: skipped");
            return;
        };
        let docs = [
            json!({"status": "success", "koji_task_id": 42, "image_statuses": [{"status": "success"}], "koji_build_id": 7}),
            json!({"distribution": "fedora-42", "koji": {"name": "n", "release": "1", "server": "https://k/kojihub", "task_id": 1, "version": "1"},
                   "image_requests": [{"architecture": "x86_64", "image_type": "guest-image", "repositories": [{"baseurl": "http://a/x86_64", "rhsm": false, "package_sets": ["os"]}],
                   "ostree": {"parent": "p", "ref": "r"}, "upload_options": {"region": "eu", "share_with_accounts": []}}],
                   "customizations": {"packages": ["ça", "日本", "😀"], "weird": "tab\there \"q\" back\\slash \u{1f}\u{7f}", "nested": {"B": 1, "a": -2, "_": 0.1, "e": 1e-7, "big": 1e22, "f": 3.0}}}),
            json!([]),
            json!({}),
            json!("plain"),
        ];
        for doc in docs {
            let text = serde_json::to_string(&doc).unwrap();
            let out = std::process::Command::new(&python)
                .args(["-c", "import json,sys; sys.stdout.write(json.dumps(json.loads(sys.stdin.read()), indent=4, sort_keys=True))"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut child| {
                    use std::io::Write;
                    child.stdin.take().unwrap().write_all(text.as_bytes())?;
                    child.wait_with_output()
                })
                .unwrap();
            assert!(out.status.success());
            assert_eq!(
                dumps(&doc),
                String::from_utf8(out.stdout).unwrap(),
                "for {text}"
            );
        }
    }
}
