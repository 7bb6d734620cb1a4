//! Property tests over the pure pipeline (SPEC 3 and 4):
//! - any JSON event yields rows that the `csv` crate parses back to the header's number of cells;
//! - no key ever holds an empty, `.` or `..` segment, whatever the folder, mapping name or prefix;
//! - the JSON tree's compact form of any document is serde_json's compact form of it.

use proptest::prelude::*;
use serde_json::Value as J;

use sync_to_s3::config::Config;
use sync_to_s3::json;
use sync_to_s3::key::Stamp;
use sync_to_s3::plan::plan;
use sync_to_s3::source::{collect, Items};

/// Any JSON value, with strings drawn from all of Unicode (control characters included).
fn any_json() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(J::Null, J::Number)),
        any::<String>().prop_map(J::String),
        "[\\x00-\\x1f\"\\\\,;:|\t\r\n a]{0,8}".prop_map(J::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(J::Array),
            prop::collection::vec((any::<String>(), inner), 0..5)
                .prop_map(|kv| J::Object(kv.into_iter().collect())),
        ]
    })
}

fn any_event() -> impl Strategy<Value = J> {
    (
        prop::sample::select(vec![
            "identify", "track", "page", "screen", "group", "alias",
        ]),
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "event",
                    "userId",
                    "anonymousId",
                    "traits",
                    "properties",
                    "context",
                    "timestamp",
                    "messageId",
                    "integrations",
                    "other",
                ]),
                any_json(),
            ),
            0..8,
        ),
    )
        .prop_map(|(t, members)| {
            let mut m: serde_json::Map<String, J> = members
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            m.insert("type".to_owned(), J::String(t.to_owned()));
            J::Object(m)
        })
}

fn config(delimiter: &str, folder: &J, name: &str, prefix: &str) -> Config {
    let doc = serde_json::json!({
        "s3_aws_bucket_name": "prop-bucket",
        "key_template": "{mapping}/{folder}{type}/{prefix_}{date}/{hour}/{time}_{id}.{ext}",
        "mappings": [{
            "name": name,
            "subscription": "",
            "delimiter": delimiter,
            "filename_prefix": prefix,
            "s3_aws_folder_name": folder,
            "batch_size": 3,
        }]
    });
    Config::load(Some(&doc.to_string()), "test", &|_| None).expect("valid config")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn rows_parse_back_to_the_header_width(
        events in prop::collection::vec(any_event(), 1..12),
        delimiter in prop::sample::select(vec![",", "|", "tab", ";", ":"]),
    ) {
        let c = config(delimiter, &J::String("f".into()), "m", "");
        let text = J::Array(events.clone()).to_string();
        let mut items = Items::default();
        collect(json::parse_lazy(&text).expect("serde_json wrote JSON"), 0, &mut items, None).expect("an array");
        prop_assert_eq!(items.events.len(), events.len());
        let p = plan(&c, &mut items.events, &items.rejected, &|_| "invoke".into(), &Stamp::from_unix_millis(0))
            .expect("plan");
        let width = c.mappings[0].header().len();
        let mut rows = 0;
        for o in &p.objects {
            let d = c.mappings[0].delimiter;
            let mut r = csv::ReaderBuilder::new().delimiter(d).has_headers(false).from_reader(&o.body[..]);
            let records: Vec<csv::ByteRecord> = r.byte_records().collect::<Result<_, _>>().expect("csv parses");
            prop_assert!(records.len() >= 2);
            for rec in &records {
                prop_assert_eq!(rec.len(), width);
            }
            rows += records.len() - 1;
            prop_assert!(o.body.ends_with(b"\n"));
        }
        prop_assert_eq!(rows, events.len());
    }

    #[test]
    fn keys_never_hold_empty_or_dot_segments(
        folder in "[./a-zé😀 _\\\\:]{0,12}",
        name in "[./a-z _]{0,6}",
        prefix in "[./a-z _]{0,6}(\\.csv|\\.txt)?",
    ) {
        let c = config(",", &serde_json::json!({"@path": "$.properties.folder"}), &name, &prefix);
        let text = serde_json::json!({"type": "track", "properties": {"folder": folder}}).to_string();
        let mut items = Items::default();
        collect(json::parse(&text).expect("json"), 0, &mut items, None).expect("an event");
        let p = plan(&c, &mut items.events, &items.rejected, &|_| "invoke".into(), &Stamp::from_unix_millis(1_767_880_370_212))
            .expect("plan");
        for o in &p.objects {
            prop_assert!(!o.key.starts_with('/'), "{}", o.key);
            for seg in o.key.split('/') {
                prop_assert!(!seg.is_empty() && seg != "." && seg != "..", "{}", o.key);
            }
            prop_assert!(o.key.bytes().all(|b| b.is_ascii_alphanumeric() || b"!-_.*'()/".contains(&b)), "{}", o.key);
        }
    }

    #[test]
    fn compact_json_reads_back_as_the_same_value(v in any_json()) {
        let text = serde_json::to_string_pretty(&v).expect("serialise");
        let compact = json::to_compact(&json::parse(&text).expect("parse"));
        let lazy = json::to_compact(&json::parse_lazy(&text).expect("parse"));
        prop_assert_eq!(&lazy, &compact);
        // serde_json's compact form follows the same rules as SPEC 3.2 (only `"`, `\\` and
        // controls escaped, lower-case hex), and number text passes through unchanged.
        prop_assert_eq!(compact, serde_json::to_string(&v).expect("serialise"));
    }
}
