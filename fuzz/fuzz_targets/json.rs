//! The JSON parser against serde_json: the eager and lazy trees accept exactly what serde_json
//! accepts (for documents within serde_json's recursion limit), render identically, and the
//! compact rendering re-parses to the same document. The hand-written SQS event reader either
//! declines a text or reads what the serde path reads.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use sync_to_s3::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let eager = json::parse(text);
    let lazy = json::parse_lazy(text);
    assert_eq!(
        eager.is_ok(),
        lazy.is_ok(),
        "eager and lazy parses agree on {text:?}"
    );
    let nesting = text.bytes().filter(|&b| b == b'[' || b == b'{').count();
    if nesting < 100 {
        assert_eq!(
            eager.is_ok(),
            common::serde_accepts(text),
            "serde_json and ours disagree on {text:?}"
        );
    }
    assert!(
        sync_to_s3::source::sqs::fast_reader_agrees(text),
        "the SQS event readers disagree on {text:?}"
    );
    if let (Ok(e), Ok(l)) = (eager, lazy) {
        let compact = json::to_compact(&e);
        assert_eq!(compact, json::to_compact(&l));
        // Every lazy level built (nested containers of checked text skipped unchecked).
        assert_eq!(compact, json::to_compact(&l.clone().into_owned()));
        let again = json::parse(&compact).expect("compact output parses");
        assert_eq!(
            json::to_compact(&again),
            compact,
            "compact rendering is stable"
        );
        if nesting < 100 {
            if let Ok(theirs) = serde_json::from_str::<serde_json::Value>(text) {
                let ours: serde_json::Value =
                    serde_json::from_str(&compact).expect("serde reads our compact text");
                assert_eq!(ours, theirs);
            }
        }
    }
});
