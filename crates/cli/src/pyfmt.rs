//! Python's `repr()` and `pprint.pformat()` for the values the CLI prints.
//!
//! Upstream's koji plugin prints the osbuildImage opts with `pprint(opts)` and
//! the task result with `print(result)`. Scripts and people read that output,
//! so it is reproduced character for character: CPython 3.11's `repr` of
//! str/int/float/bool/None/list/dict and `pprint.PrettyPrinter` with its
//! defaults (indent 1, width 80, sorted dict keys, not compact). The tests
//! compare against fixtures recorded from the real Python
//! (testdata/pyfmt/generate.py).

mod nonprintable;

use std::fmt::Write as _;

/// A Python value, as far as JSON files and XML-RPC answers can produce one.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<PyValue>),
    /// A dict with string keys, in insertion order (Python dicts keep it).
    Dict(Vec<(String, PyValue)>),
}

impl From<&serde_json::Value> for PyValue {
    /// What Python's `json.load` makes of a JSON document.
    fn from(value: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match value {
            J::Null => PyValue::None,
            J::Bool(b) => PyValue::Bool(*b),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    PyValue::Int(i.into())
                } else if let Some(u) = n.as_u64() {
                    PyValue::Int(u.into())
                } else {
                    PyValue::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            J::String(s) => PyValue::Str(s.clone()),
            J::Array(items) => PyValue::List(items.iter().map(PyValue::from).collect()),
            J::Object(map) => PyValue::Dict(
                map.iter()
                    .map(|(k, v)| (k.clone(), PyValue::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&koji::Value> for PyValue {
    /// What the koji library (Python's xmlrpc.client) makes of an XML-RPC value.
    fn from(value: &koji::Value) -> Self {
        use koji::Value as K;
        match value {
            K::Nil => PyValue::None,
            K::Bool(b) => PyValue::Bool(*b),
            K::Int(i) => PyValue::Int((*i).into()),
            K::Double(d) => PyValue::Float(*d),
            K::String(s) => PyValue::Str(s.clone()),
            // xmlrpc.client.DateTime's repr, without the object address.
            K::DateTime(s) => PyValue::Str(s.clone()),
            K::Base64(b) => PyValue::Bytes(b.clone()),
            K::Array(items) => PyValue::List(items.iter().map(PyValue::from).collect()),
            K::Struct(members) => PyValue::Dict(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), PyValue::from(v)))
                    .collect(),
            ),
        }
    }
}

/// `repr(value)`, dict members in insertion order (what `print(dict)` shows).
pub fn repr(value: &PyValue) -> String {
    let mut out = String::new();
    write_repr(value, false, &mut out);
    out
}

/// `pprint.pformat(value)` with pprint's defaults; `pprint()` adds a newline.
pub fn pformat(value: &PyValue) -> String {
    let mut out = String::new();
    Printer { width: 80 }.format(value, &mut out, 0, 0, 0);
    out
}

fn write_repr(value: &PyValue, sort_dicts: bool, out: &mut String) {
    match value {
        PyValue::None => out.push_str("None"),
        PyValue::Bool(true) => out.push_str("True"),
        PyValue::Bool(false) => out.push_str("False"),
        PyValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        PyValue::Float(f) => out.push_str(&float_repr(*f)),
        PyValue::Str(s) => out.push_str(&str_repr(s)),
        PyValue::Bytes(b) => out.push_str(&bytes_repr(b)),
        PyValue::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(item, sort_dicts, out);
            }
            out.push(']');
        }
        PyValue::Dict(members) => {
            out.push('{');
            for (i, (key, item)) in dict_items(members, sort_dicts).into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&str_repr(key));
                out.push_str(": ");
                write_repr(item, sort_dicts, out);
            }
            out.push('}');
        }
    }
}

fn dict_items(members: &[(String, PyValue)], sorted: bool) -> Vec<(&String, &PyValue)> {
    let mut items: Vec<_> = members.iter().map(|(k, v)| (k, v)).collect();
    if sorted {
        // Python compares str by code point; UTF-8 byte order is the same.
        items.sort_by(|a, b| a.0.cmp(b.0));
    }
    items
}

/// Python's `len()` of a str: code points, not bytes.
fn py_len(s: &str) -> i64 {
    s.chars().count() as i64
}

fn is_printable(c: char) -> bool {
    let cp = c as u32;
    nonprintable::NONPRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_err()
}

/// CPython's `unicode_repr`.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x7f || is_printable(c) => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
    out
}

fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(quote as char);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push(quote as char);
    out
}

/// `repr(float)`: the shortest digits that round-trip (Rust finds the same
/// ones), laid out as Python's `float_repr_style = 'short'` does: positional
/// when the decimal point falls within -4 < exp <= 16, else `d.ddde+XX`.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    // Position of the decimal point relative to the start of `digits`.
    let decpt = exp + 1;
    let ndigits = digits.len() as i32;
    if -4 < decpt && decpt <= 16 {
        let body = if decpt <= 0 {
            format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
        } else if decpt >= ndigits {
            format!("{}{}.0", digits, "0".repeat((decpt - ndigits) as usize))
        } else {
            let (int, frac) = digits.split_at(decpt as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mant = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mant}e{esign}{:02}", exp.abs())
    }
}

/// `str.isspace()`: Unicode White_Space plus the ASCII separators
/// U+001C..U+001F, which Python counts and Rust does not.
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `str.splitlines(keepends=True)`.
fn splitlines_keepends(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let end = match c {
            '\r' => match iter.peek() {
                Some(&(j, '\n')) => {
                    iter.next();
                    j + 1
                }
                _ => i + 1,
            },
            '\n' | '\u{0b}' | '\u{0c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => i + c.len_utf8(),
            _ => continue,
        };
        lines.push(&s[start..end]);
        start = end;
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

/// `re.findall(r'\S*\s*', line)` without the final empty match.
fn space_parts(line: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (i, c) in line.char_indices() {
        let space = py_isspace(c);
        if in_space && !space {
            parts.push(&line[start..i]);
            start = i;
        }
        in_space = space;
    }
    if start < line.len() {
        parts.push(&line[start..]);
    }
    parts
}

/// Port of `pprint.PrettyPrinter` (indent=1, depth=None, compact=False,
/// sort_dicts=True). Widths are signed because pprint lets them go negative.
struct Printer {
    width: i64,
}

impl Printer {
    fn format(&self, value: &PyValue, out: &mut String, indent: i64, allowance: i64, level: u32) {
        let mut rep = String::new();
        write_repr(value, true, &mut rep);
        let max_width = self.width - indent - allowance;
        if py_len(&rep) > max_width {
            match value {
                PyValue::Dict(members) => {
                    return self.pprint_dict(members, out, indent, allowance, level + 1)
                }
                PyValue::List(items) => {
                    return self.pprint_list(items, out, indent, allowance, level + 1)
                }
                PyValue::Str(s) => return self.pprint_str(s, out, indent, allowance, level + 1),
                _ => {}
            }
        }
        out.push_str(&rep);
    }

    fn pprint_dict(
        &self,
        members: &[(String, PyValue)],
        out: &mut String,
        indent: i64,
        allowance: i64,
        level: u32,
    ) {
        out.push('{');
        if !members.is_empty() {
            let items = dict_items(members, true);
            let indent = indent + 1;
            let allowance = allowance + 1;
            let last_index = items.len() - 1;
            for (i, (key, item)) in items.into_iter().enumerate() {
                let last = i == last_index;
                let rep = str_repr(key);
                out.push_str(&rep);
                out.push_str(": ");
                let item_allowance = if last { allowance } else { 1 };
                self.format(item, out, indent + py_len(&rep) + 2, item_allowance, level);
                if !last {
                    out.push_str(",\n");
                    out.push_str(&" ".repeat(indent as usize));
                }
            }
        }
        out.push('}');
    }

    fn pprint_list(
        &self,
        items: &[PyValue],
        out: &mut String,
        indent: i64,
        allowance: i64,
        level: u32,
    ) {
        out.push('[');
        let indent = indent + 1;
        let allowance = allowance + 1;
        for (i, item) in items.iter().enumerate() {
            let last = i + 1 == items.len();
            if i > 0 {
                out.push_str(",\n");
                out.push_str(&" ".repeat(indent as usize));
            }
            self.format(item, out, indent, if last { allowance } else { 1 }, level);
        }
        out.push(']');
    }

    fn pprint_str(&self, s: &str, out: &mut String, indent: i64, allowance: i64, level: u32) {
        if s.is_empty() {
            out.push_str(&str_repr(s));
            return;
        }
        let (mut indent, mut allowance) = (indent, allowance);
        if level == 1 {
            indent += 1;
            allowance += 1;
        }
        let mut chunks: Vec<String> = Vec::new();
        let lines = splitlines_keepends(s);
        let max_width = self.width - indent;
        let mut max_width1 = max_width;
        for (i, line) in lines.iter().enumerate() {
            let rep = str_repr(line);
            let last_line = i + 1 == lines.len();
            if last_line {
                max_width1 -= allowance;
            }
            if py_len(&rep) <= max_width1 {
                chunks.push(rep);
                continue;
            }
            let parts = space_parts(line);
            let mut max_width2 = max_width;
            let mut current = String::new();
            for (j, part) in parts.iter().enumerate() {
                let candidate = format!("{current}{part}");
                if j + 1 == parts.len() && last_line {
                    max_width2 -= allowance;
                }
                if py_len(&str_repr(&candidate)) > max_width2 {
                    if !current.is_empty() {
                        chunks.push(str_repr(&current));
                    }
                    current = part.to_string();
                } else {
                    current = candidate;
                }
            }
            if !current.is_empty() {
                chunks.push(str_repr(&current));
            }
        }
        if chunks.len() == 1 {
            out.push_str(&chunks[0]);
            return;
        }
        if level == 1 {
            out.push('(');
        }
        for (i, rep) in chunks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
                out.push_str(&" ".repeat(indent.max(0) as usize));
            }
            out.push_str(rep);
        }
        if level == 1 {
            out.push(')');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Case {
        input: serde_json::Value,
        repr: String,
        pprint: String,
    }

    #[derive(serde::Deserialize)]
    struct Fixtures {
        cases: Vec<Case>,
    }

    fn fixtures() -> Vec<Case> {
        let text = include_str!("../testdata/pyfmt/cases.json");
        let fixtures: Fixtures = serde_json::from_str(text).expect("fixture file is valid JSON");
        fixtures.cases
    }

    #[test]
    fn repr_matches_python() {
        for case in fixtures() {
            let value = PyValue::from(&case.input);
            assert_eq!(repr(&value), case.repr, "repr of {}", case.input);
        }
    }

    #[test]
    fn pformat_matches_python() {
        for case in fixtures() {
            let value = PyValue::from(&case.input);
            assert_eq!(pformat(&value), case.pprint, "pprint of {}", case.input);
        }
    }

    #[test]
    fn fixtures_cover_wrapping() {
        let cases = fixtures();
        assert!(cases.len() > 50);
        assert!(
            cases.iter().any(|c| c.pprint.starts_with('(')),
            "a wrapped top-level str"
        );
        assert!(cases.iter().filter(|c| c.pprint.contains('\n')).count() > 8);
    }

    #[test]
    fn task_result_keeps_member_order() {
        let result = PyValue::Dict(vec![
            (
                "composer".into(),
                PyValue::Dict(vec![
                    ("server".into(), PyValue::Str("https://composer".into())),
                    ("id".into(), PyValue::Str("abc".into())),
                ]),
            ),
            (
                "koji".into(),
                PyValue::Dict(vec![("build".into(), PyValue::Int(1))]),
            ),
        ]);
        assert_eq!(
            repr(&result),
            "{'composer': {'server': 'https://composer', 'id': 'abc'}, 'koji': {'build': 1}}"
        );
    }

    #[test]
    fn bytes_and_splitlines() {
        assert_eq!(bytes_repr(b"a'\x00"), "b\"a'\\x00\"");
        assert_eq!(
            splitlines_keepends("a\r\nb\rc\n"),
            vec!["a\r\n", "b\r", "c\n"]
        );
        assert_eq!(space_parts("ab  cd e "), vec!["ab  ", "cd ", "e "]);
    }
}
