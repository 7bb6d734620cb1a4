//! In-process helpers shared by the handler tests (`fixtures.rs`, `hostile.rs`): the app on an
//! in-memory sink, an invocation at a fixed time, and Lambda payloads built as SQS and API
//! Gateway build them. Included with `#[path]` so that a test takes only this part of support.

#![allow(dead_code)] // each test binary uses a different part of it

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sync_to_s3::config::Config;
use sync_to_s3::handler::{App, Invocation};
use sync_to_s3::sink::memory::MemorySink;

/// What a memory sink holds: key to (bytes, content type).
pub type Objects = BTreeMap<String, (Vec<u8>, &'static str)>;

/// The invocations' clock: 2026-11-24T00:00:00Z.
pub const NOW_MS: i64 = 1_795_478_400_000;

/// An invocation at [`NOW_MS`] with no deadline (as the command line runs one).
pub fn inv() -> Invocation {
    Invocation::starting_now(NOW_MS, None)
}

/// The app for a configuration document, on `sink`.
pub fn app_on(config_doc: &str, sink: MemorySink) -> App<MemorySink> {
    let config = Config::load(Some(config_doc), "test", &|_| None).expect("a valid configuration");
    App::new(config, sink)
}

/// The app for a configuration document, on an empty in-memory sink.
pub fn app(config_doc: &str) -> App<MemorySink> {
    app_on(config_doc, MemorySink::new())
}

/// An SQS event with one record per body, message ids `m0`, `m1`, ...
pub fn sqs_payload(bodies: &[impl AsRef<str>]) -> String {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({
                "messageId": format!("m{i}"),
                "receiptHandle": "h",
                "body": body.as_ref(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "0",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:events",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// An API Gateway HTTP API request (payload format 2.0): `POST path` with `body`.
pub fn http_payload(path: &str, body: &str, base64: bool, headers: Value) -> String {
    json!({
        "version": "2.0",
        "routeKey": "POST /v1/{proxy+}",
        "rawPath": path,
        "headers": headers,
        "requestContext": {
            "http": {"method": "POST", "path": path, "sourceIp": "192.0.2.1"},
            "requestId": "r1",
            "timeEpoch": NOW_MS
        },
        "body": body,
        "isBase64Encoded": base64
    })
    .to_string()
}
