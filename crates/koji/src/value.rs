//! The XML-RPC value model, as Koji's marshaller (`koji.xmlrpcplus`) knows it.

use std::fmt;

use base64::Engine as _;
use indexmap::IndexMap;
use serde::de::{Deserialize, Deserializer};
use serde::ser::Serialize;

/// A struct: member names to values, in the order they came on the wire.
///
/// The order matters: Python dicts keep insertion order and the hub writes
/// members in that order, so a CLI that prints a reply Python-style shows
/// them the way `koji call` would.
pub type Struct = IndexMap<String, Value>;

/// One XML-RPC value.
///
/// Koji sends datetimes as plain strings (`"2026-11-24 21:52:05.024026+00:00"`),
/// so `DateTime` only appears when a peer really sends `<dateTime.iso8601>`;
/// its text is kept verbatim (`20250101T10:00:00`) rather than parsed, the
/// same way Python's `xmlrpc.client.DateTime` keeps it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `<nil/>`: Python's `None`.
    Nil,
    /// `<boolean>`.
    Bool(bool),
    /// `<int>`, `<i4>`, `<i8>` (and the rarer `<i1>`, `<i2>`, `<biginteger>`).
    /// Written as `<int>` when it fits 32 bits, else as `<i8>`, like Koji.
    Int(i64),
    /// `<double>`.
    Double(f64),
    /// `<string>` or an untyped `<value>text</value>`.
    String(String),
    /// `<dateTime.iso8601>`, its text verbatim.
    DateTime(String),
    /// `<base64>`: raw bytes.
    Base64(Vec<u8>),
    /// `<array>`.
    Array(Vec<Value>),
    /// `<struct>`, member order preserved.
    Struct(Struct),
}

impl Value {
    /// A short name of the XML-RPC type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "int",
            Value::Double(_) => "double",
            Value::String(_) => "string",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Array(_) => "array",
            Value::Struct(_) => "struct",
        }
    }

    /// `true` for `<nil/>`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The integer, if this is an int.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The text, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The members, if this is a struct.
    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Value::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// A struct member by name (`None` for missing members and non-structs).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_struct().and_then(|s| s.get(key))
    }

    /// Builds a struct from `(name, value)` pairs, keeping their order.
    pub fn from_pairs<K, V, I>(pairs: I) -> Value
    where
        K: Into<String>,
        V: Into<Value>,
        I: IntoIterator<Item = (K, V)>,
    {
        Value::Struct(crate::kwargs(pairs))
    }
}

/// `From` for the types that map to one variant.
macro_rules! from_variant {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v.into())
            }
        }
    )*};
}

from_variant! {
    bool => Bool,
    i32 => Int,
    i64 => Int,
    u32 => Int,
    f64 => Double,
    &str => String,
    String => String,
    &String => String,
    // Bytes become `<base64>`, as Python `bytes` do.
    Vec<u8> => Base64,
    Struct => Struct,
}

impl<T: Into<Value>> From<Vec<T>> for Value
where
    T: NotBytes,
{
    fn from(v: Vec<T>) -> Self {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value> + Clone + NotBytes> From<&[T]> for Value {
    fn from(v: &[T]) -> Self {
        Value::Array(v.iter().cloned().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` becomes `<nil/>`, as Python's `None` does.
    fn from(v: Option<T>) -> Self {
        match v {
            Some(v) => v.into(),
            None => Value::Nil,
        }
    }
}

/// Element types whose `Vec` becomes an array (`Vec<u8>` is base64 instead).
pub trait NotBytes {}
impl NotBytes for Value {}
impl NotBytes for i64 {}
impl NotBytes for String {}
impl NotBytes for &str {}

impl fmt::Display for Value {
    /// Python `repr()` style, as `koji call` prints replies:
    /// `{'id': 1, 'name': 'x', 'perm': None, 'locked': False}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Double(d) => f.write_str(&crate::wire::python_float_repr(*d)),
            Value::String(s) => write_py_str(f, s),
            Value::DateTime(s) => write!(f, "<DateTime '{s}'>"),
            Value::Base64(b) => {
                f.write_str("b'")?;
                for byte in b {
                    match byte {
                        b'\\' => f.write_str("\\\\")?,
                        b'\'' => f.write_str("\\'")?,
                        b'\n' => f.write_str("\\n")?,
                        b'\r' => f.write_str("\\r")?,
                        b'\t' => f.write_str("\\t")?,
                        0x20..=0x7e => write!(f, "{}", *byte as char)?,
                        _ => write!(f, "\\x{byte:02x}")?,
                    }
                }
                f.write_str("'")
            }
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Struct(members) => {
                f.write_str("{")?;
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_py_str(f, k)?;
                    write!(f, ": {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text holds a single quote
/// and no double quote.
fn write_py_str(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    write!(f, "{quote}")?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c == quote => write!(f, "\\{c}")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    write!(f, "{quote}")
}

impl<'de> Deserialize<'de> for Value {
    /// Reads what JSON can hold, mapped as by [`json_to_value`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(|j| json_to_value(&j))
    }
}

/// Converts a value to JSON.
///
/// Lossy points: base64 becomes its standard base64 text, a dateTime its
/// verbatim text, and a double that is not finite (NaN, ±inf) becomes `null`
/// because JSON has no such numbers.
pub fn value_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        Value::String(s) | Value::DateTime(s) => J::String(s.clone()),
        Value::Base64(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Array(items) => J::Array(items.iter().map(value_to_json).collect()),
        Value::Struct(members) => J::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
    }
}

/// Converts JSON to a value. Integers beyond `i64` (only possible for
/// large unsigned numbers) become doubles, as they would in Python after a
/// `float()`; everything else maps one to one.
pub fn json_to_value(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(items) => Value::Array(items.iter().map(json_to_value).collect()),
        J::Object(members) => Value::Struct(
            members
                .iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        ),
    }
}

/// Converts anything serde can serialize into a [`Value`].
///
/// Goes through `serde_json::Value` (with `preserve_order`, so struct field
/// order is kept). Lossy points: bytes become an array of ints (serde_json's
/// choice), `Option::None` and unit become `<nil/>`, and non-finite floats
/// become `<nil/>`. Build a [`Value::Base64`] directly when you mean base64.
pub fn to_value<T: Serialize + ?Sized>(v: &T) -> Result<Value, crate::Error> {
    serde_json::to_value(v)
        .map(|j| json_to_value(&j))
        .map_err(|e| crate::Error::Convert(e.to_string()))
}

/// Converts a [`Value`] into any type serde can deserialize.
///
/// Goes through `serde_json::Value`: base64 arrives as a base64 string and
/// dateTime as its text (see [`value_to_json`]).
pub fn from_value<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, crate::Error> {
    serde_json::from_value(value_to_json(&v)).map_err(|e| crate::Error::Convert(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_python_repr() {
        let v = Value::from_pairs([
            ("id", Value::Int(1)),
            ("name", Value::from("it's")),
            ("perm", Value::Nil),
            ("locked", Value::Bool(false)),
            ("weight", Value::Double(1.0)),
            ("arches", Value::from(vec!["x86_64"])),
        ]);
        assert_eq!(
            v.to_string(),
            r#"{'id': 1, 'name': "it's", 'perm': None, 'locked': False, 'weight': 1.0, 'arches': ['x86_64']}"#
        );
    }

    #[test]
    fn json_round_trip_keeps_order() {
        let v = Value::from_pairs([("z", Value::Int(1)), ("a", Value::Double(0.5))]);
        let j = value_to_json(&v);
        assert_eq!(j.to_string(), r#"{"z":1,"a":0.5}"#);
        assert_eq!(json_to_value(&j), v);
    }

    #[test]
    fn serde_bridge() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Nvr {
            name: String,
            version: String,
            epoch: Option<i64>,
        }
        let nvr = Nvr {
            name: "demo".into(),
            version: "42".into(),
            epoch: None,
        };
        let v = to_value(&nvr).expect("serialize");
        assert_eq!(v.get("epoch"), Some(&Value::Nil));
        let back: Nvr = from_value(v).expect("deserialize");
        assert_eq!(back, nvr);
        let err = from_value::<Nvr>(Value::Int(3)).expect_err("type mismatch");
        assert!(matches!(err, crate::Error::Convert(_)));
    }

    #[test]
    fn value_deserializes_from_json() {
        let v: Value = serde_json::from_str(r#"{"a":[1,2.5,null,"x",true]}"#).expect("json");
        assert_eq!(
            v,
            Value::from_pairs([(
                "a",
                Value::Array(vec![
                    Value::Int(1),
                    Value::Double(2.5),
                    Value::Nil,
                    Value::from("x"),
                    Value::Bool(true)
                ])
            )])
        );
    }
}
