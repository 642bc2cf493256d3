//! The gateway's direct protobuf-to-JSON writer against the dynamic message it stands in
//! for: for any bytes, as a `fuzz.Kinds` (a field of every kind, nested and recursive), the
//! writer either declines or writes exactly the JSON of the decoded dynamic message.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use wirecall::fuzzing::JsonTranscoder;

thread_local! {
    static KINDS: RefCell<Option<JsonTranscoder>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    KINDS.with(|kinds| {
        let mut kinds = kinds.borrow_mut();
        let kinds = kinds.get_or_insert_with(|| {
            JsonTranscoder::new(wirecall::include_file_descriptor_set!(), "fuzz.Kinds")
                .expect("fuzz.Kinds is described")
        });
        kinds.check(data);
    });
});
