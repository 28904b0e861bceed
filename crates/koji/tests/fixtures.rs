//! Documents written and read by Koji's real marshaller
//! (tests/fixtures/generate.py): we must read what it writes, write what it
//! writes byte for byte, and what we write must read back in Python as the
//! value we meant.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use koji::Value;
use serde_json::Value as J;

fn expected() -> BTreeMap<String, J> {
    let text =
        std::fs::read_to_string(fixtures_dir().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json is JSON")
}

fn strip_handwritten(mut d: J) -> (J, bool) {
    let hand = d
        .as_object_mut()
        .and_then(|o| o.remove("handwritten"))
        .is_some();
    (d, hand)
}

fn decode_any(doc: &[u8]) -> J {
    if let Ok((method, params)) = koji::decode_call(doc) {
        return describe_call(&method, &params);
    }
    let r = koji::decode_response(doc).unwrap_or_else(|e| panic!("decode failed: {e}"));
    describe_response(&r)
}

#[test]
fn decodes_every_fixture_like_python() {
    let exp = expected();
    assert!(exp.len() >= 60, "fixtures missing: run generate.py");
    for (name, want) in exp {
        let (want, _) = strip_handwritten(want);
        let doc =
            std::fs::read(fixtures_dir().join("xml").join(format!("{name}.xml"))).expect("fixture");
        assert_eq!(decode_any(&doc), want, "fixture {name}");
    }
}

#[test]
fn encodes_byte_for_byte_like_python() {
    for (name, want) in expected() {
        let (want, hand) = strip_handwritten(want);
        if hand {
            continue;
        }
        let doc = std::fs::read_to_string(fixtures_dir().join("xml").join(format!("{name}.xml")))
            .expect("fixture");
        let ours = if let Some(v) = want.get("response") {
            koji::encode_response(&value_from(v))
        } else if let Some(f) = want.get("fault") {
            koji::encode_fault(
                f["code"].as_i64().expect("code"),
                f["message"].as_str().expect("message"),
            )
        } else {
            let call = &want["call"];
            let params: Vec<Value> = call["params"]
                .as_array()
                .expect("params")
                .iter()
                .map(value_from)
                .collect();
            koji::encode_call(call["method"].as_str().expect("method"), &params)
        };
        assert_eq!(ours, doc, "fixture {name}");
    }
}

/// Values whose documents we write; Python must read back the same value.
fn values_for_python() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for (name, want) in expected() {
        if let Some(v) = want.get("response") {
            out.push((name, value_from(v)));
        }
    }
    out.push(("carriage-return".into(), Value::from("line\r\nnext\rend")));
    out.push((
        "i8-edges".into(),
        Value::Array(vec![
            Value::Int(i64::MAX),
            Value::Int(i64::MIN),
            Value::Int(1 << 40),
        ]),
    ));
    out.push((
        "control-free-unicode".into(),
        Value::from("tab\tnl\n€ 𝄞 \u{FEFF}"),
    ));
    out.push((
        "doubles".into(),
        Value::Array(vec![
            Value::Double(0.1 + 0.2),
            Value::Double(-1e-300),
            Value::Double(123456789.125),
            Value::Double(f64::NAN),
        ]),
    ));
    out.push((
        "raw-bytes-long".into(),
        Value::Base64((0..1000u32).map(|i| (i * 7 % 256) as u8).collect()),
    ));
    out
}

#[test]
fn python_reads_back_what_we_write() {
    let Some(py) = python() else {
        eprintln!("SKIPPED: no .venv with the koji package (make one with `python3 -m venv .venv && .venv/bin/pip install koji`)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    let mut want = BTreeMap::new();
    for (name, v) in values_for_python() {
        let resp = dir.path().join(format!("{name}.response.xml"));
        std::fs::write(&resp, koji::encode_response(&v)).expect("write");
        files.push(resp);
        want.insert(
            format!("{name}.response.xml"),
            serde_json::json!({"response": describe(&v)}),
        );

        let params = vec![
            v.clone(),
            Value::from_pairs([("kw", v.clone()), ("__starstar", Value::Bool(true))]),
        ];
        let call = dir.path().join(format!("{name}.call.xml"));
        std::fs::write(&call, koji::encode_call("some.method", &params)).expect("write");
        files.push(call);
        want.insert(
            format!("{name}.call.xml"),
            describe_call("some.method", &params),
        );
    }
    for (code, msg) in [(1, "plain"), (1005, "Compose failed <&>\n"), (99999, "")] {
        let f = dir.path().join(format!("fault-{code}.xml"));
        std::fs::write(&f, koji::encode_fault(code, msg)).expect("write");
        files.push(f);
        want.insert(
            format!("fault-{code}.xml"),
            serde_json::json!({"fault": {"code": code, "message": msg}}),
        );
    }
    let out = Command::new(&py)
        .arg(fixtures_dir().join("check.py"))
        .args(&files)
        .output()
        .expect("run check.py");
    assert!(
        out.status.success(),
        "check.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: BTreeMap<String, J> =
        serde_json::from_slice(&out.stdout).expect("check.py prints JSON");
    assert_eq!(got.len(), want.len());
    for (file, w) in want {
        assert_eq!(got.get(&file), Some(&w), "{file}");
    }
}
