//! The call decoder (the builder reads task requests with it) must never
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((method, params)) = koji::decode_call(data) {
        let again = koji::encode_call(&method, &params);
        assert!(koji::decode_call(again.as_bytes()).is_ok(), "re-reading our own call failed");
        let _ = koji::split_kwargs(params);
    }
});
