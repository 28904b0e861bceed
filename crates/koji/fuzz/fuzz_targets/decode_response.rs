//! The response decoder must never panic, and whatever it reads must
//! survive a write/read round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match koji::decode_response(data) {
        Ok(Ok(value)) => {
            let again = koji::encode_response(&value);
            match koji::decode_response(again.as_bytes()) {
                Ok(Ok(back)) => assert!(same(&value, &back), "round trip changed {value:?} into {back:?}"),
                other => panic!("re-reading our own document failed: {other:?}"),
            }
        }
        Ok(Err(fault)) => {
            let again = koji::encode_fault(fault.code, &fault.message);
            assert_eq!(koji::decode_response(again.as_bytes()), Ok(Err(fault)));
        }
        Err(_) => {}
    }
});

/// Equality where NaN equals NaN.
fn same(a: &koji::Value, b: &koji::Value) -> bool {
    use koji::Value::*;
    match (a, b) {
        (Double(x), Double(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Struct(x), Struct(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => a == b,
    }
}
