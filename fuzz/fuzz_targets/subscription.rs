//! The subscription (FQL) parser: any text either parses or gives an error with a position, and
//! a parsed subscription evaluates against events of every shape without panicking. The number
//! comparison is fuzzed on its own too (text before and after the first NUL).

#![no_main]

use libfuzzer_sys::fuzz_target;
use sync_to_s3::json;
use sync_to_s3::mapping::subscription::{compare_numbers, Subscription};

const EVENTS: &[&str] = &[
    r#"{"type":"track","event":"Order Completed","properties":{"revenue":12.50,"plan":"pro","n":1e400,"tags":["a","b"],"nested":{"x":null,"y":true}},"context":{"library":{"name":"analytics.js"}}}"#,
    r#"{"type":"identify","userId":"u1","traits":{"email":"A@B.C","age":-0.0e-5}}"#,
    r#"{"type":"page","name":"é😀","properties":{"count":123456789012345678901234567890}}"#,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((a, b)) = text.split_once('\0') {
        let ab = compare_numbers(a, b);
        let ba = compare_numbers(b, a);
        assert_eq!(
            ab.map(std::cmp::Ordering::reverse),
            ba,
            "antisymmetric: {a:?} {b:?}"
        );
        if ab.is_some() {
            assert_eq!(compare_numbers(a, a), Some(std::cmp::Ordering::Equal));
        }
    }
    match Subscription::parse(text) {
        Ok(sub) => {
            for e in EVENTS {
                let event = json::parse(e).expect("valid event");
                let _ = sub.matches(&event);
                let lazy = json::parse_lazy(e).expect("valid event");
                assert_eq!(
                    sub.matches(&event),
                    sub.matches(&lazy),
                    "lazy and eager trees agree"
                );
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
