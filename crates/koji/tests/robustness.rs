//! Mangled documents: truncated, bit-flipped, spliced and re-nested
//! versions of every fixture and capture. The decoders must return a value
//! or an error, never panic, and what they read must survive our own
//! write/read round trip. (The cargo-fuzz targets in fuzz/ do the same
//! with coverage guidance; this runs in every `cargo test`.)

mod common;

use std::path::PathBuf;

use koji::Value;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut dirs = vec![
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testing/koji-captures"),
        common::fixtures_dir().join("xml"),
    ];
    let mut out = Vec::new();
    for dir in dirs.drain(..) {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "xml"))
            .collect();
        paths.sort();
        for p in paths {
            out.push(std::fs::read(p).expect("read"));
        }
    }
    out
}

const TOKENS: &[&str] = &[
    "<value>",
    "</value>",
    "<struct>",
    "</struct>",
    "<member>",
    "</member>",
    "<name>",
    "</name>",
    "<array>",
    "</array>",
    "<data>",
    "</data>",
    "<int>",
    "</int>",
    "<i8>",
    "<nil/>",
    "<string>",
    "</string>",
    "<base64>",
    "</base64>",
    "<double>",
    "<boolean>",
    "<dateTime.iso8601>",
    "<fault>",
    "<params>",
    "<param>",
    "&amp;",
    "&#0;",
    "&#xD800;",
    "&#1114112;",
    "&bogus;",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<!DOCTYPE x>",
    "<?pi?>",
    "\u{0}",
    "\u{FFFF}",
    "\r",
    "99999999999999999999",
    "-",
    "nan",
    "1e999",
    "=",
    "\"",
    "'",
    "<",
    ">",
    "&",
];

fn mutate(rng: &mut Rng, doc: &[u8]) -> Vec<u8> {
    let mut d = doc.to_vec();
    for _ in 0..=rng.below(4) {
        let len = d.len();
        match rng.below(7) {
            0 => d.truncate(rng.below(len + 1)),
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let j = (i + rng.below(32)).min(len);
                d.drain(i..j);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let i = rng.below(len + 1);
                d.splice(i..i, t.iter().copied());
            }
            4 if len > 0 => {
                // duplicate a slice somewhere else
                let i = rng.below(len);
                let j = (i + rng.below(200)).min(len);
                let piece = d[i..j].to_vec();
                let k = rng.below(len + 1);
                d.splice(k..k, piece);
            }
            5 if len > 0 => {
                let i = rng.below(len);
                d[i] = rng.next() as u8;
            }
            _ => {
                let i = rng.below(len + 1);
                d.insert(i, b"<>/ \n"[rng.below(5)]);
            }
        }
    }
    d
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Struct(x), Value::Struct(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => a == b,
    }
}

fn check(doc: &[u8]) {
    match koji::decode_response(doc) {
        Ok(Ok(v)) => {
            let again = koji::encode_response(&v);
            match koji::decode_response(again.as_bytes()) {
                Ok(Ok(back)) => assert!(same(&v, &back), "round trip changed {v:?} to {back:?}"),
                other => panic!("cannot re-read our own document {again:?}: {other:?}"),
            }
        }
        Ok(Err(f)) => {
            let again = koji::encode_fault(f.code, &f.message);
            assert_eq!(koji::decode_response(again.as_bytes()), Ok(Err(f)));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    if let Ok((method, params)) = koji::decode_call(doc) {
        let again = koji::encode_call(&method, &params);
        assert!(
            koji::decode_call(again.as_bytes()).is_ok(),
            "cannot re-read {again:?}"
        );
    }
}

#[test]
fn every_truncation_of_every_seed() {
    for seed in seeds() {
        // Every cut of small documents; big ones in steps, to keep debug
        // test runs short.
        let step = if seed.len() < 1500 { 1 } else { 7 };
        for cut in (0..seed.len()).step_by(step) {
            check(&seed[..cut]);
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..15_000 {
        let seed = &seeds[round % seeds.len()];
        let doc = mutate(&mut rng, seed);
        let result = std::panic::catch_unwind(|| check(&doc));
        assert!(
            result.is_ok(),
            "panic on mutated document: {:?}",
            String::from_utf8_lossy(&doc)
        );
    }
}

#[test]
fn deep_nesting_and_huge_numbers_are_errors_not_crashes() {
    let mut doc = String::from("<methodResponse><params><param>");
    doc.push_str(&"<value><array><data>".repeat(100_000));
    check(doc.as_bytes());
    let mut doc = String::from("<methodResponse><params><param>");
    doc.push_str(&"<value><struct><member><name>a</name>".repeat(10_000));
    check(doc.as_bytes());
    check(b"<methodResponse><params><param><value><int>-</int></value></param></params></methodResponse>");
    check(b"<methodResponse><params><param><value><int>+</int></value></param></params></methodResponse>");
    check("<methodResponse><params><param><value><int>-\u{e9}</int></value></param></params></methodResponse>".as_bytes());
}
