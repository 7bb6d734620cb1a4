//! Directives, key templates and folder values: the input is split at NUL bytes into a column
//! directive (JSON, else a plain string literal), a key template and a folder value taken from
//! the event. A configuration either loads or is refused with a message; a loaded one runs over
//! sample events and every key and object passes the common checks. A second mapping writes the
//! same directive as Parquet, typed by the input's length (string, int64, double, boolean,
//! timestamp, json): whatever the cell, the file reads back, and a cell that does not convert
//! leaves an error record.

#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use sync_to_s3::bench_support::plan_payload;
use sync_to_s3::config::Config;
use sync_to_s3::handler::Response;
use sync_to_s3::key::Stamp;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(4, '\0');
    let directive = parts.next().unwrap_or_default();
    let template = parts.next();
    let folder = parts.next().unwrap_or("f");
    let prefix = parts.next();
    let directive: Value =
        serde_json::from_str(directive).unwrap_or_else(|_| Value::String(directive.to_owned()));
    let mut mapping = json!({
        "subscription": "",
        "s3_aws_folder_name": {"@path": "$.properties.folder"},
        "columns": {"c": directive, "folder": {"@path": "$.properties.folder"}},
        "columns_to_transform": [{"column_name": "c", "normalize": "lowercase_trim", "hash_algorithm": "none"}]
    });
    if let Some(p) = prefix {
        mapping["filename_prefix"] = json!(p);
    }
    let types = ["string", "int64", "double", "boolean", "timestamp", "json"];
    let typed = json!({
        "name": "typed",
        "subscription": "",
        "file_extension": "parquet",
        "columns": {"c": directive, "n": {"@path": "$.properties.n"}},
        // A directive of "" drops the column, and a type for a dropped column is refused.
        "column_types": if directive == json!("") {
            json!({"n": "double"})
        } else {
            json!({"c": types[data.len() % types.len()], "n": "double"})
        },
        "columns_to_transform": [{"column_name": "c", "normalize": "trim", "hash_algorithm": "none"}]
    });
    let mut doc = json!({"s3_aws_bucket_name": "fuzz-bucket", "mappings": [mapping, typed]});
    if let Some(t) = template {
        doc["key_template"] = json!(t);
    }
    let config = match Config::load(Some(&doc.to_string()), "fuzz", &|_| None) {
        Ok(c) => c,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let events: Vec<Value> = ["track", "identify", "page", "screen", "group", "alias"]
        .iter()
        .map(|t| json!({"type": t, "event": "E", "userId": "u", "properties": {"folder": folder, "n": 1.50},
                        "traits": {"email": " A@B.C "}, "context": {"k": [1, {"x": "y"}]}}))
        .collect();
    let body = json!({ "batch": events }).to_string();
    let payload = json!({"Records": [{"messageId": "m0", "body": body, "eventSource": "aws:sqs"}]})
        .to_string();
    // The plan first: every event is one row, and two different objects never share a key
    // (an identical object may: it overwrites itself with the same bytes, SPEC 4).
    let stamp = Stamp::from_unix_millis(1_795_478_400_000);
    let plan = plan_payload(&config, &payload, &stamp).expect("an SQS payload plans");
    assert_eq!(plan.rows, 12, "six events, each taken by both mappings");
    let mut by_key: HashMap<&str, &[u8]> = HashMap::new();
    for o in &plan.objects {
        if let Some(earlier) = by_key.insert(&o.key, &o.body) {
            assert_eq!(
                earlier,
                &o.body[..],
                "two different objects under {}",
                o.key
            );
        }
    }
    let unwritable = plan.objects.iter().any(|o| o.unwritable.is_some());
    let (response, objects) = common::handle(config, &payload);
    common::check_objects(&objects, "_errors/", b',');
    match response {
        Some(Response::Sqs(failed)) => {
            // A group fails only when its key is longer than S3 allows (SPEC 4), and then its
            // message is reported, never dropped.
            if unwritable {
                assert_eq!(failed, ["m0"]);
            } else {
                assert!(failed.is_empty(), "{failed:?}");
                assert_eq!(objects.len(), by_key.len(), "every key stored");
            }
        }
        other => panic!("an SQS payload gets an SQS answer: {other:?}"),
    }
});
