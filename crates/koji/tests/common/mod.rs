//! Helpers shared by the integration tests: the typed JSON description of
//! values that tests/fixtures/generate.py and check.py write.
#![allow(dead_code)]

pub mod hub;

use std::path::PathBuf;

use base64::Engine as _;
use koji::{Fault, Value};
use serde_json::{json, Value as J};

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The venv with the real koji package, if it is there.
pub fn python() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    p.exists().then_some(p)
}

pub fn describe(v: &Value) -> J {
    match v {
        Value::Nil => json!({"nil": null}),
        Value::Bool(b) => json!({"bool": b}),
        Value::Int(i) => json!({"int": i}),
        Value::Double(d) => json!({"double": koji::wire::python_float_repr(*d)}),
        Value::String(s) => json!({"string": s}),
        Value::DateTime(s) => json!({"datetime": s}),
        Value::Base64(b) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(b)}),
        Value::Array(a) => json!({"array": a.iter().map(describe).collect::<Vec<_>>()}),
        Value::Struct(s) => {
            json!({"struct": s.iter().map(|(k, v)| json!([k, describe(v)])).collect::<Vec<_>>()})
        }
    }
}

pub fn describe_response(r: &Result<Value, Fault>) -> J {
    match r {
        Ok(v) => json!({"response": describe(v)}),
        Err(f) => json!({"fault": {"code": f.code, "message": f.message}}),
    }
}

pub fn describe_call(method: &str, params: &[Value]) -> J {
    json!({"call": {"method": method, "params": params.iter().map(describe).collect::<Vec<_>>()}})
}

pub fn value_from(d: &J) -> Value {
    let obj = d.as_object().expect("typed value is an object");
    let (ty, v) = obj.iter().next().expect("one key");
    match ty.as_str() {
        "nil" => Value::Nil,
        "bool" => Value::Bool(v.as_bool().expect("bool")),
        "int" => Value::Int(v.as_i64().expect("int")),
        "double" => Value::Double(v.as_str().expect("repr").parse().expect("float")),
        "string" => Value::String(v.as_str().expect("str").to_owned()),
        "datetime" => Value::DateTime(v.as_str().expect("str").to_owned()),
        "base64" => Value::Base64(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().expect("str"))
                .expect("b64"),
        ),
        "array" => Value::Array(
            v.as_array()
                .expect("array")
                .iter()
                .map(value_from)
                .collect(),
        ),
        "struct" => Value::Struct(
            v.as_array()
                .expect("pairs")
                .iter()
                .map(|p| {
                    let p = p.as_array().expect("pair");
                    (p[0].as_str().expect("name").to_owned(), value_from(&p[1]))
                })
                .collect(),
        ),
        other => panic!("unknown type {other}"),
    }
}
