//! XML-RPC documents byte for byte as `koji.xmlrpcplus` writes them, and a
//! reader for everything Python's `xmlrpc.client` parser accepts from Koji.
//!
//! Writing follows `xmlrpc.client.Marshaller` with Koji's `ExtendedMarshaller`
//! (`allow_none`, `<i8>` for ints beyond 32 bits): the same newlines, the same
//! escaping of `&`, `<`, `>` only, `repr()` for doubles and 76-column base64
//! lines. The one deliberate difference: a carriage return in a string is
//! written as `&#13;`. Python writes it raw and every XML parser (Python's
//! included) turns it into `\n`; the character reference survives the trip.
//!
//! Reading accepts what Python's `Unmarshaller` accepts from a sane peer:
//! `int`/`i4`/`i8`/`i1`/`i2`/`biginteger`, `double`/`float`, untyped
//! `<value>text</value>` strings, namespaced tags such as `<ex:nil/>`, CDATA,
//! character references. It refuses DTDs and custom entities, like
//! `defusedxml` does on Koji's side, and nesting deeper than [`MAX_DEPTH`].

use std::fmt::Write as _;

use base64::Engine as _;
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::error::DecodeError;
use crate::fault::Fault;
use crate::value::{Struct, Value};

/// How deep arrays and structs may nest in a document we read. Koji's
/// values are a few levels deep; the limit keeps a hostile document from
/// exhausting the stack.
pub const MAX_DEPTH: usize = 128;

const XML_HEADER: &str = "<?xml version='1.0'?>\n";

/// A decoded `methodResponse`: the result, or the fault the hub raised.
pub type Response = Result<Value, Fault>;

/// Writes a `methodCall` document, as `xmlrpcplus.dumps(params, name)`.
pub fn encode_call(method: &str, params: &[Value]) -> String {
    let mut out = String::from(XML_HEADER);
    out.push_str("<methodCall>\n<methodName>");
    escape_into(&mut out, method);
    out.push_str("</methodName>\n");
    encode_params(&mut out, params);
    out.push_str("</methodCall>\n");
    out
}

/// Writes a `methodResponse` holding one value, as
/// `xmlrpcplus.dumps((value,), methodresponse=1)`. This is what a builder
/// hands to `host.closeTask`.
pub fn encode_response(value: &Value) -> String {
    let mut out = String::from(XML_HEADER);
    out.push_str("<methodResponse>\n");
    encode_params(&mut out, std::slice::from_ref(value));
    out.push_str("</methodResponse>\n");
    out
}

/// Writes a fault `methodResponse`, as `xmlrpcplus.dumps(Fault(code, msg))`.
/// This is what a builder hands to `host.failTask`.
pub fn encode_fault(code: i64, message: &str) -> String {
    let mut out = String::from(XML_HEADER);
    out.push_str("<methodResponse>\n<fault>\n");
    encode_value(&mut out, &Fault::new(code, message).to_value());
    out.push_str("</fault>\n</methodResponse>\n");
    out
}

fn encode_params(out: &mut String, params: &[Value]) {
    out.push_str("<params>\n");
    for p in params {
        out.push_str("<param>\n");
        encode_value(out, p);
        out.push_str("</param>\n");
    }
    out.push_str("</params>\n");
}

/// Writes one `<value>` element the way Python's marshaller does.
pub fn encode_value(out: &mut String, value: &Value) {
    match value {
        // No newline after nil: that is Python's dump_nil, see the
        // `<value><nil/></value></param>` lines in testing/koji-captures.
        Value::Nil => out.push_str("<value><nil/></value>"),
        Value::Bool(b) => {
            out.push_str(if *b {
                "<value><boolean>1</boolean></value>\n"
            } else {
                "<value><boolean>0</boolean></value>\n"
            });
        }
        Value::Int(i) => {
            // Koji's ExtendedMarshaller.dump_int: <i8> beyond 32 bits.
            if i32::try_from(*i).is_ok() {
                let _ = writeln!(out, "<value><int>{i}</int></value>");
            } else {
                let _ = writeln!(out, "<value><i8>{i}</i8></value>");
            }
        }
        Value::Double(d) => {
            let _ = writeln!(
                out,
                "<value><double>{}</double></value>",
                python_float_repr(*d)
            );
        }
        Value::String(s) => {
            out.push_str("<value><string>");
            escape_into(out, s);
            out.push_str("</string></value>\n");
        }
        Value::DateTime(s) => {
            out.push_str("<value><dateTime.iso8601>");
            escape_into(out, s);
            out.push_str("</dateTime.iso8601></value>\n");
        }
        Value::Base64(bytes) => {
            out.push_str("<value><base64>\n");
            encode_base64_lines(out, bytes);
            out.push_str("</base64></value>\n");
        }
        Value::Array(items) => {
            out.push_str("<value><array><data>\n");
            for v in items {
                encode_value(out, v);
            }
            out.push_str("</data></array></value>\n");
        }
        Value::Struct(members) => {
            out.push_str("<value><struct>\n");
            for (k, v) in members {
                out.push_str("<member>\n<name>");
                escape_into(out, k);
                out.push_str("</name>\n");
                encode_value(out, v);
                out.push_str("</member>\n");
            }
            out.push_str("</struct></value>\n");
        }
    }
}

/// `xml.sax.saxutils.escape` as xmlrpc.client uses it (`&`, `<`, `>`), plus
/// `\r` as a character reference (see the module docs).
fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// `base64.encodebytes`: lines of at most 76 characters, each ending in
/// `\n` (nothing at all for empty input).
fn encode_base64_lines(out: &mut String, bytes: &[u8]) {
    // 57 input bytes make one 76-character line.
    for chunk in bytes.chunks(57) {
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(chunk));
        out.push('\n');
    }
}

/// Python's `repr(float)`: shortest round-trip digits, `1.0` not `1`,
/// exponent form below 1e-4 and from 1e16 on written as `1e+16` / `1e-05`.
pub fn python_float_repr(d: f64) -> String {
    if d.is_nan() {
        return "nan".to_owned();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's Debug uses the same shortest digits and the same thresholds
    // for switching to exponent form; only the exponent spelling differs.
    let s = format!("{d:?}");
    match s.split_once('e') {
        None => s,
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
    }
}

// ---------------------------------------------------------------------------
// Reading

/// Reads a `methodResponse`: `Ok(Ok(value))` for a result, `Ok(Err(fault))`
/// for a fault, `Err` for a document that is not a valid response.
///
/// Like Koji's ClientSession, a response with several params gives them as
/// an array and one with none gives an empty array; the hub always sends one.
pub fn decode_response(body: &[u8]) -> Result<Response, DecodeError> {
    let mut p = Parser::new(body)?;
    p.expect_start("methodResponse")?;
    let tag = p.next_start_or_end()?;
    let result = match tag {
        Tag::Start(name) if name == "params" => {
            let mut params = p.read_params_body()?;
            Ok(if params.len() == 1 {
                params.pop().unwrap_or(Value::Nil)
            } else {
                Value::Array(params)
            })
        }
        Tag::Start(name) if name == "fault" => {
            let v = p.read_value_element(0)?;
            p.expect_end("fault")?;
            Err(Fault::from_value(&v).ok_or_else(|| {
                DecodeError::new(
                    "a fault must be a struct with an int faultCode and a string faultString",
                )
            })?)
        }
        Tag::Empty(name) if name == "params" => Ok(Value::Array(Vec::new())),
        other => {
            return Err(DecodeError::new(format!(
                "expected <params> or <fault> in <methodResponse>, found {}",
                other.describe()
            )))
        }
    };
    p.expect_end("methodResponse")?;
    p.expect_eof()?;
    Ok(result)
}

/// Reads a `methodCall`: the method name and its params. Keyword arguments
/// stay in the trailing `__starstar` struct; see [`split_kwargs`].
///
/// The builder needs this for `request`, the `methodCall` document that
/// `host.openTask` returns as a string.
pub fn decode_call(body: &[u8]) -> Result<(String, Vec<Value>), DecodeError> {
    let mut p = Parser::new(body)?;
    p.expect_start("methodCall")?;
    p.expect_start("methodName")?;
    let name = p.read_text("methodName")?;
    let name = name.trim().to_owned();
    if name.is_empty() {
        return Err(DecodeError::new("empty <methodName>"));
    }
    let params = match p.next_start_or_end()? {
        Tag::Start(t) if t == "params" => p.read_params_body()?,
        Tag::Empty(t) if t == "params" => Vec::new(),
        // A methodCall without <params> is allowed by the spec.
        Tag::End(t) if t == "methodCall" => {
            p.expect_eof()?;
            return Ok((name, Vec::new()));
        }
        other => {
            return Err(DecodeError::new(format!(
                "expected <params> in <methodCall>, found {}",
                other.describe()
            )))
        }
    };
    p.expect_end("methodCall")?;
    p.expect_eof()?;
    Ok((name, params))
}

/// Splits Koji's keyword-argument convention off a param list, like
/// `koji.decode_args`: a trailing struct with a true `__starstar` member
/// holds the keyword arguments.
pub fn split_kwargs(mut params: Vec<Value>) -> (Vec<Value>, Struct) {
    match params.pop() {
        Some(Value::Struct(mut kwargs))
            if kwargs.get(crate::KWARGS_MARKER).is_some_and(python_truthy) =>
        {
            kwargs.shift_remove(crate::KWARGS_MARKER);
            (params, kwargs)
        }
        last => {
            params.extend(last);
            (params, Struct::new())
        }
    }
}

/// Python's truth value of a decoded XML-RPC value.
fn python_truthy(v: &Value) -> bool {
    match v {
        Value::Nil => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Double(d) => *d != 0.0,
        Value::String(s) | Value::DateTime(s) => !s.is_empty(),
        Value::Base64(b) => !b.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Struct(s) => !s.is_empty(),
    }
}

#[derive(Debug)]
enum Tag {
    Start(String),
    Empty(String),
    End(String),
    Eof,
}

impl Tag {
    fn describe(&self) -> String {
        match self {
            Tag::Start(n) => format!("<{n}>"),
            Tag::Empty(n) => format!("<{n}/>"),
            Tag::End(n) => format!("</{n}>"),
            Tag::Eof => "the end of the document".to_owned(),
        }
    }
}

/// A pull parser over quick-xml events, with text gathered up.
struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    /// A start/empty/end tag read ahead while collecting text.
    peeked: Option<Tag>,
}

/// One piece of the document between tags.
enum Piece {
    Tag(Tag),
    Text(String),
}

impl<'a> Parser<'a> {
    fn new(body: &'a [u8]) -> Result<Self, DecodeError> {
        if std::str::from_utf8(body).is_err() {
            return Err(DecodeError::new("the document is not valid UTF-8"));
        }
        let mut reader = Reader::from_reader(body);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        Ok(Parser {
            reader,
            peeked: None,
        })
    }

    fn position(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn err(&self, msg: impl Into<String>) -> DecodeError {
        DecodeError::at(msg, self.position())
    }

    /// The next tag or piece of text; comments, processing instructions and
    /// the XML declaration are skipped.
    fn next_piece(&mut self) -> Result<Piece, DecodeError> {
        if let Some(t) = self.peeked.take() {
            return Ok(Piece::Tag(t));
        }
        loop {
            let ev = self.reader.read_event().map_err(|e| {
                DecodeError::at(format!("malformed XML: {e}"), self.reader.error_position())
            })?;
            // Tag names as Python's parser sees them: the part after a
            // namespace prefix (`ex:nil` → `nil`).
            return Ok(match ev {
                Event::Start(e) => Piece::Tag(Tag::Start(e.local_name().into_inner().into())),
                Event::Empty(e) => Piece::Tag(Tag::Empty(e.local_name().into_inner().into())),
                Event::End(e) => Piece::Tag(Tag::End(e.local_name().into_inner().into())),
                Event::Text(t) => Piece::Text(t.xml10_content().into_owned()),
                Event::CData(c) => Piece::Text(c.into_inner().into_owned()),
                Event::GeneralRef(r) => {
                    let text = match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        Ok(None) => match r.as_ref() {
                            "amp" => "&".to_owned(),
                            "lt" => "<".to_owned(),
                            "gt" => ">".to_owned(),
                            "quot" => "\"".to_owned(),
                            "apos" => "'".to_owned(),
                            other => {
                                return Err(self.err(format!("unknown entity &{other};")));
                            }
                        },
                        Err(e) => return Err(self.err(format!("bad character reference: {e}"))),
                    };
                    Piece::Text(text)
                }
                Event::DocType(_) => {
                    return Err(self.err("DTDs are not allowed in XML-RPC documents"));
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => continue,
                Event::Eof => Piece::Tag(Tag::Eof),
            });
        }
    }

    /// The next tag, skipping whitespace; other text is an error.
    fn next_start_or_end(&mut self) -> Result<Tag, DecodeError> {
        loop {
            match self.next_piece()? {
                Piece::Tag(t) => return Ok(t),
                Piece::Text(t) if t.trim().is_empty() => continue,
                Piece::Text(t) => {
                    return Err(self.err(format!("unexpected text {:?}", shorten(&t))));
                }
            }
        }
    }

    /// "expected …, found <tag>", at the current position.
    fn unexpected(&self, expected: &str, found: &Tag) -> DecodeError {
        self.err(format!("expected {expected}, found {}", found.describe()))
    }

    fn expect_start(&mut self, name: &str) -> Result<(), DecodeError> {
        match self.next_start_or_end()? {
            Tag::Start(n) if n == name => Ok(()),
            other => Err(self.unexpected(&format!("<{name}>"), &other)),
        }
    }

    fn expect_end(&mut self, name: &str) -> Result<(), DecodeError> {
        match self.next_start_or_end()? {
            Tag::End(n) if n == name => Ok(()),
            other => Err(self.unexpected(&format!("</{name}>"), &other)),
        }
    }

    fn expect_eof(&mut self) -> Result<(), DecodeError> {
        match self.next_start_or_end()? {
            Tag::Eof => Ok(()),
            other => Err(self.unexpected("the end of the document", &other)),
        }
    }

    /// Text up to the end tag `name`; nested elements are an error.
    fn read_text(&mut self, name: &str) -> Result<String, DecodeError> {
        let mut text = String::new();
        loop {
            match self.next_piece()? {
                Piece::Text(t) => text.push_str(&t),
                Piece::Tag(Tag::End(n)) if n == name => return Ok(text),
                Piece::Tag(other) => {
                    return Err(self.unexpected(&format!("text and </{name}>"), &other));
                }
            }
        }
    }

    /// The inside of `<params>` up to `</params>`.
    fn read_params_body(&mut self) -> Result<Vec<Value>, DecodeError> {
        let mut params = Vec::new();
        loop {
            match self.next_start_or_end()? {
                Tag::Start(n) if n == "param" => {
                    params.push(self.read_value_element(0)?);
                    self.expect_end("param")?;
                }
                Tag::End(n) if n == "params" => return Ok(params),
                other => return Err(self.unexpected("<param> or </params>", &other)),
            }
        }
    }

    /// A whole `<value>…</value>` element.
    fn read_value_element(&mut self, depth: usize) -> Result<Value, DecodeError> {
        match self.next_start_or_end()? {
            Tag::Start(n) if n == "value" => self.read_value_body(depth),
            // `<value/>`: an empty untyped string, as Python reads it.
            Tag::Empty(n) if n == "value" => Ok(Value::String(String::new())),
            other => Err(self.unexpected("<value>", &other)),
        }
    }

    /// The inside of `<value>` up to `</value>`.
    fn read_value_body(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("values nest deeper than {MAX_DEPTH} levels")));
        }
        let mut untyped = String::new();
        let value = loop {
            match self.next_piece()? {
                Piece::Text(t) => untyped.push_str(&t),
                // Untyped `<value>text</value>` is a string, kept verbatim.
                Piece::Tag(Tag::End(n)) if n == "value" => return Ok(Value::String(untyped)),
                Piece::Tag(tag @ (Tag::Start(_) | Tag::Empty(_))) if !untyped.trim().is_empty() => {
                    let text = shorten(&untyped);
                    let msg = format!("text {text:?} before {} in <value>", tag.describe());
                    return Err(self.err(msg));
                }
                Piece::Tag(Tag::Start(ty)) => break self.read_typed(&ty, depth)?,
                Piece::Tag(Tag::Empty(ty)) => break self.empty_typed(&ty)?,
                Piece::Tag(other) => {
                    return Err(self.err(format!("unexpected {} inside <value>", other.describe())));
                }
            }
        };
        self.expect_end("value")?;
        Ok(value)
    }

    /// A typed value written as an empty element (`<nil/>`, `<string/>`, …).
    fn empty_typed(&self, ty: &str) -> Result<Value, DecodeError> {
        Ok(match ty {
            "nil" => Value::Nil,
            "string" => Value::String(String::new()),
            "base64" => Value::Base64(Vec::new()),
            "array" => Value::Array(Vec::new()),
            "struct" => Value::Struct(Struct::new()),
            "boolean" | "int" | "i1" | "i2" | "i4" | "i8" | "biginteger" | "double" | "float"
            | "bigdecimal" => {
                return Err(self.err(format!("empty <{ty}/> has no value")));
            }
            other => return Err(self.err(format!("unknown XML-RPC type <{other}/>"))),
        })
    }

    /// The element `<ty>…</ty>` whose start tag was just read.
    fn read_typed(&mut self, ty: &str, depth: usize) -> Result<Value, DecodeError> {
        match ty {
            "nil" => {
                let t = self.read_text(ty)?;
                if !t.trim().is_empty() {
                    return Err(self.err("<nil> must be empty"));
                }
                Ok(Value::Nil)
            }
            "boolean" => match self.read_text(ty)?.as_str() {
                "0" => Ok(Value::Bool(false)),
                "1" => Ok(Value::Bool(true)),
                other => Err(self.err(format!(
                    "bad boolean value {:?} (must be 0 or 1)",
                    shorten(other)
                ))),
            },
            "int" | "i1" | "i2" | "i4" | "i8" | "biginteger" => {
                let t = self.read_text(ty)?;
                parse_python_int(&t)
                    .map(Value::Int)
                    .ok_or_else(|| self.err(format!("bad <{ty}> value {:?}", shorten(&t))))
            }
            "double" | "float" | "bigdecimal" => {
                let t = self.read_text(ty)?;
                parse_python_float(&t)
                    .map(Value::Double)
                    .ok_or_else(|| self.err(format!("bad <{ty}> value {:?}", shorten(&t))))
            }
            "string" => Ok(Value::String(self.read_text(ty)?)),
            "dateTime.iso8601" => Ok(Value::DateTime(self.read_text(ty)?.trim().to_owned())),
            "base64" => {
                let t = self.read_text(ty)?;
                decode_base64_lenient(&t)
                    .map(Value::Base64)
                    .ok_or_else(|| self.err(format!("bad base64 data {:?}", shorten(&t))))
            }
            "array" => self.read_array(depth),
            "struct" => self.read_struct(depth),
            other => Err(self.err(format!("unknown XML-RPC type <{other}>"))),
        }
    }

    fn read_array(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let mut items = Vec::new();
        match self.next_start_or_end()? {
            Tag::Start(n) if n == "data" => loop {
                match self.next_start_or_end()? {
                    Tag::Start(n) if n == "value" => items.push(self.read_value_body(depth + 1)?),
                    Tag::Empty(n) if n == "value" => items.push(Value::String(String::new())),
                    Tag::End(n) if n == "data" => break,
                    other => return Err(self.unexpected("<value> or </data> in <array>", &other)),
                }
            },
            Tag::Empty(n) if n == "data" => {}
            other => return Err(self.unexpected("<data> in <array>", &other)),
        }
        self.expect_end("array")?;
        Ok(Value::Array(items))
    }

    fn read_struct(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let mut members = Struct::new();
        loop {
            match self.next_start_or_end()? {
                Tag::Start(n) if n == "member" => {
                    let name = match self.next_start_or_end()? {
                        Tag::Start(n) if n == "name" => self.read_text("name")?,
                        Tag::Empty(n) if n == "name" => String::new(),
                        other => return Err(self.unexpected("<name> in <member>", &other)),
                    };
                    let value = self.read_value_element(depth + 1)?;
                    self.expect_end("member")?;
                    // A repeated name keeps its first position and the last
                    // value, as a Python dict built from the pairs does.
                    members.insert(name, value);
                }
                Tag::End(n) if n == "struct" => return Ok(Value::Struct(members)),
                other => return Err(self.unexpected("<member> or </struct>", &other)),
            }
        }
    }
}

/// Python's `int(text)` for the forms that fit in 64 bits: surrounding
/// whitespace, an optional sign, digits with single underscores between.
fn parse_python_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let magnitude: i128 = clean.parse().ok()?;
    let v = if neg { -magnitude } else { magnitude };
    i64::try_from(v).ok()
}

/// Python's `float(text)`, which also takes `inf`, `nan`, `infinity`.
fn parse_python_float(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() || t.contains("__") || t.starts_with('_') || t.ends_with('_') {
        return None;
    }
    let clean: String = t.chars().filter(|c| *c != '_').collect();
    clean.parse::<f64>().ok()
}

/// `base64.decodebytes`: whitespace and line breaks anywhere are ignored.
fn decode_base64_lenient(text: &str) -> Option<Vec<u8>> {
    let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    engine.decode(clean.as_bytes()).ok()
}

fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_ok(xml: &str) -> Value {
        match decode_response(xml.as_bytes()) {
            Ok(Ok(v)) => v,
            other => panic!("expected a value, got {other:?}"),
        }
    }

    fn resp(value_xml: &str) -> String {
        format!("<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n{value_xml}</param>\n</params>\n</methodResponse>\n")
    }

    #[test]
    fn floats_like_python_repr() {
        for (f, s) in [
            (1.0, "1.0"),
            (0.2, "0.2"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1795554445.4560938, "1795554445.4560938"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (1e300, "1e+300"),
        ] {
            assert_eq!(python_float_repr(f), s, "{f}");
        }
    }

    #[test]
    fn ints_switch_to_i8_beyond_32_bits() {
        let mut out = String::new();
        encode_value(&mut out, &Value::Int(2147483647));
        encode_value(&mut out, &Value::Int(2147483648));
        encode_value(&mut out, &Value::Int(-2147483649));
        assert_eq!(
            out,
            "<value><int>2147483647</int></value>\n<value><i8>2147483648</i8></value>\n<value><i8>-2147483649</i8></value>\n"
        );
    }

    #[test]
    fn call_document_matches_capture() {
        let xml = encode_call("getBuildTarget", &[Value::from("fedora42-candidate")]);
        let capture = "<?xml version='1.0'?>\n<methodCall>\n<methodName>getBuildTarget</methodName>\n<params>\n<param>\n<value><string>fedora42-candidate</string></value>\n</param>\n</params>\n</methodCall>\n";
        assert_eq!(xml, capture);
        let (name, params) = decode_call(xml.as_bytes()).expect("decode");
        assert_eq!(name, "getBuildTarget");
        assert_eq!(params, vec![Value::from("fedora42-candidate")]);
    }

    #[test]
    fn nil_response_matches_capture() {
        assert_eq!(
            encode_response(&Value::Nil),
            "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><nil/></value></param>\n</params>\n</methodResponse>\n"
        );
    }

    #[test]
    fn fault_document() {
        let xml = encode_fault(1005, "Compose failed (id: abc)");
        match decode_response(xml.as_bytes()) {
            Ok(Err(f)) => {
                assert_eq!(f.code, 1005);
                assert_eq!(f.message, "Compose failed (id: abc)");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn untyped_and_odd_forms() {
        assert_eq!(
            decode_ok(&resp("<value>plain &amp; simple</value>\n")),
            Value::from("plain & simple")
        );
        assert_eq!(decode_ok(&resp("<value></value>\n")), Value::from(""));
        assert_eq!(decode_ok(&resp("<value/>\n")), Value::from(""));
        assert_eq!(
            decode_ok(&resp("<value><string/></value>\n")),
            Value::from("")
        );
        assert_eq!(decode_ok(&resp("<value><ex:nil/></value>\n")), Value::Nil);
        assert_eq!(
            decode_ok(&resp("<value><i4> 42 </i4></value>\n")),
            Value::Int(42)
        );
        assert_eq!(
            decode_ok(&resp("<value><i8>-9223372036854775808</i8></value>\n")),
            Value::Int(i64::MIN)
        );
        assert_eq!(
            decode_ok(&resp("<value><string><![CDATA[<x>]]></string></value>\n")),
            Value::from("<x>")
        );
        assert_eq!(
            decode_ok(&resp("<value><string>a&#13;b&#x263A;</string></value>\n")),
            Value::from("a\rb☺")
        );
        assert_eq!(
            decode_ok(&resp("<value><string>a\r\nb</string></value>\n")),
            Value::from("a\nb")
        );
        assert_eq!(
            decode_ok(&resp("<value><base64>\naGVs\nbG8=\n</base64></value>\n")),
            Value::Base64(b"hello".to_vec())
        );
        assert_eq!(
            decode_ok(&resp("<value>\n  <struct><member><name>a</name><value><int>1</int></value></member><member><name>a</name><value><int>2</int></value></member></struct>\n</value>\n")),
            Value::from_pairs([("a", Value::Int(2))])
        );
    }

    #[test]
    fn malformed_documents_say_what_is_wrong() {
        for (xml, needle) in [
            ("", "expected <methodResponse>"),
            ("<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>", "bad <int> value"),
            ("<methodResponse><params><param><value><boolean>2</boolean></value></param></params></methodResponse>", "bad boolean"),
            ("<methodResponse><params><param><value><int>1</value></param></params></methodResponse>", "malformed XML"),
            ("<methodResponse><params><param><value><foo>1</foo></value></param></params></methodResponse>", "unknown XML-RPC type"),
            ("<!DOCTYPE x [<!ENTITY a 'b'>]><methodResponse/>", "DTD"),
            ("<methodResponse><params><param><value><string>&bogus;</string></value></param></params></methodResponse>", "unknown entity"),
            ("<methodResponse><fault><value><int>1</int></value></fault></methodResponse>", "faultCode"),
            ("<methodResponse><params><param><value><i8>99999999999999999999</i8></value></param></params></methodResponse>", "bad <i8>"),
            ("<methodResponse><params></params></methodResponse>trailing", "unexpected text"),
        ] {
            let err = decode_response(xml.as_bytes()).expect_err(xml);
            assert!(err.to_string().contains(needle), "{xml}: {err}");
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let depth = MAX_DEPTH + 10;
        let mut xml = String::from("<methodResponse><params><param>");
        for _ in 0..depth {
            xml.push_str("<value><array><data>");
        }
        for _ in 0..depth {
            xml.push_str("</data></array></value>");
        }
        xml.push_str("</param></params></methodResponse>");
        let err = decode_response(xml.as_bytes()).expect_err("too deep");
        assert!(err.to_string().contains("nest deeper"), "{err}");
    }

    #[test]
    fn kwargs_split() {
        let params = vec![
            Value::from("x"),
            Value::from_pairs([
                ("strict", Value::Bool(true)),
                ("__starstar", Value::Bool(true)),
            ]),
        ];
        let (args, kwargs) = split_kwargs(params);
        assert_eq!(args, vec![Value::from("x")]);
        assert_eq!(
            kwargs,
            Value::from_pairs([("strict", true)])
                .as_struct()
                .cloned()
                .unwrap_or_default()
        );
        let (args, kwargs) = split_kwargs(vec![Value::from_pairs([("__starstar", false)])]);
        assert_eq!(args.len(), 1);
        assert!(kwargs.is_empty());
    }

    #[test]
    fn base64_lines_like_encodebytes() {
        let mut out = String::new();
        encode_base64_lines(&mut out, &[0u8; 58]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 76);
        assert_eq!(lines[1], "AA==");
    }
}
