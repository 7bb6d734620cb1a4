//! Payload decoding, every shape: the first byte picks how the rest is wrapped (direct invoke,
//! SQS bodies, API Gateway v2/v1, base64, gzip, a raw gzip stream, EventBridge events) and, for
//! API Gateway, which Segment endpoint path and method (SPEC 10), then the handler runs with the
//! sample configuration and an in-memory sink, and the common checks hold.

#![no_main]

#[path = "common.rs"]
mod common;

use std::io::Write;

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use sync_to_s3::config::Config;
use sync_to_s3::handler::Response;

fn config() -> Config {
    let mut doc: Value =
        serde_json::from_str(include_str!("../../events/config.json")).expect("sample config");
    if let Some(obj) = doc.as_object_mut() {
        obj.remove("write_keys"); // reach the shape checks instead of stopping at 401
    }
    Config::load(Some(&doc.to_string()), "fuzz", &|_| None).expect("valid")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Paths the API Gateway shapes are sent to: every kind of endpoint, a stage prefix, a trailing
/// slash, and paths that are none (404).
const PATHS: [&str; 9] = [
    "/v1/batch",
    "/v1/t",
    "/v1/identify",
    "/prod/v1/b",
    "/v1/import/",
    "/v1/a",
    "/v1/unknown",
    "/v1/batch//",
    "",
];

fn http(version: u8, route: u8, body: &str, base64: bool, gzip: bool) -> String {
    let headers = if gzip {
        json!({"Content-Encoding": "gzip"})
    } else {
        json!({})
    };
    let path = PATHS[usize::from(route) % PATHS.len()];
    let method = if route >= 0xf0 { "OPTIONS" } else { "POST" };
    if version == 2 {
        json!({"version": "2.0", "rawPath": path, "headers": headers, "body": body,
               "isBase64Encoded": base64,
               "requestContext": {"http": {"method": method, "sourceIp": "192.0.2.9"},
                                  "requestId": "r", "timeEpoch": 1_795_478_400_000_i64}})
    } else {
        json!({"httpMethod": method, "path": path, "headers": headers, "body": body,
               "isBase64Encoded": base64,
               "requestContext": {"requestId": "r", "requestTimeEpoch": 1_795_478_400_000_i64,
                                  "identity": {"sourceIp": "192.0.2.9"}}})
    }
    .to_string()
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    let Some((&route, rest)) = rest.split_first() else {
        return;
    };
    let text = std::str::from_utf8(rest).ok();
    let mut bodies: Vec<String> = Vec::new();
    let payload = match shape % 9 {
        0 => match text {
            Some(t) => t.to_owned(),
            None => return,
        },
        1 | 7 => {
            let Some(t) = text else { return };
            bodies = t.split('\u{1}').map(str::to_owned).collect();
            if shape % 9 == 7 {
                // EventBridge events from Segment's destination, the fuzzed text as detail
                // where it is JSON, else as it is (SPEC 11).
                bodies = bodies
                    .into_iter()
                    .map(|b| {
                        let detail: Value = serde_json::from_str(&b).unwrap_or(Value::String(b));
                        json!({"version": "0", "detail-type": "track", "source": "aws.partner/segment.com/x",
                               "detail": detail}).to_string()
                    })
                    .collect();
            }
            let records: Vec<Value> = bodies
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    json!({"messageId": format!("m{i}"), "body": b, "eventSource": "aws:sqs",
                                     "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"})
                })
                .collect();
            json!({ "Records": records }).to_string()
        }
        2 => match text {
            Some(t) => http(2, route, t, false, false),
            None => return,
        },
        3 => http(2, route, &b64(rest), true, false),
        4 => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(rest).expect("gzip");
            http(2, route, &b64(&gz.finish().expect("gzip")), true, true)
        }
        5 => http(1, route, &b64(rest), true, true),
        8 => match text {
            Some(t) => json!({"detail-type": "identify", "source": "aws.partner/segment.com/x",
                              "detail": serde_json::from_str::<Value>(t).unwrap_or(json!({}))})
            .to_string(),
            None => return,
        },
        _ => match text {
            Some(t) => http(1, route, t, false, false),
            None => return,
        },
    };
    let (response, objects) = common::handle(config(), &payload);
    common::check_objects(&objects, "_errors/", b',');
    let Some(response) = response else { return };
    // Every answer encodes through aws_lambda_events' response types, as JSON.
    let encoded = response.to_json().expect("the response encodes");
    serde_json::from_str::<Value>(&encoded).expect("the response is JSON");
    match response {
        Response::Sqs(failed) => {
            // The memory sink never fails and the sample's keys are short: nothing to report.
            assert!(failed.is_empty() || !bodies.is_empty() && failed.len() <= bodies.len());
            let errors = common::error_sources(&objects, "_errors/");
            for (i, body) in bodies.iter().enumerate() {
                // Nothing lost: a message serde_json refuses has an error record.
                if !common::serde_accepts(body) {
                    let source = format!("sqs:m{i}");
                    assert!(
                        errors.iter().any(|(s, _)| *s == source),
                        "message {i} is not JSON and has no error record"
                    );
                }
            }
        }
        Response::Http {
            status,
            body,
            headers,
            ..
        } => {
            assert!(headers.contains(&("Access-Control-Allow-Origin", "*".to_owned())));
            if status == 204 {
                assert!(route >= 0xf0, "a preflight answers 204, nothing else");
                assert!(body.is_empty() && objects.is_empty());
                return;
            }
            let v: Value = serde_json::from_str(&body).expect("a JSON body");
            match status {
                200 => assert_eq!(v["ok"], true),
                400 | 413 | 404 => {
                    assert_eq!(v["ok"], false);
                    assert!(objects.is_empty(), "a refused request writes nothing");
                    let path = PATHS[usize::from(route) % PATHS.len()];
                    let known =
                        sync_to_s3::source::tracking_api::Endpoint::from_path(path).is_some();
                    assert_eq!(
                        status == 404,
                        !known,
                        "404 exactly for unknown paths: {path}"
                    );
                }
                other => panic!("status {other}: {body}"),
            }
        }
        Response::Summary(_) => {}
    }
});
