//! Payload decoding, every shape: the first byte picks how the rest is wrapped (direct invoke,
//! SQS bodies, API Gateway v2/v1, base64, gzip, a raw gzip stream), then the handler runs with
//! the sample configuration and an in-memory sink, and the common checks hold.

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

fn http(version: u8, body: &str, base64: bool, gzip: bool) -> String {
    let headers = if gzip {
        json!({"Content-Encoding": "gzip"})
    } else {
        json!({})
    };
    if version == 2 {
        json!({"version": "2.0", "headers": headers, "body": body, "isBase64Encoded": base64,
               "requestContext": {"http": {"method": "POST"}, "requestId": "r"}})
    } else {
        json!({"httpMethod": "POST", "headers": headers, "body": body, "isBase64Encoded": base64,
               "requestContext": {"requestId": "r"}})
    }
    .to_string()
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    let text = std::str::from_utf8(rest).ok();
    let mut bodies: Vec<String> = Vec::new();
    let payload = match shape % 7 {
        0 => match text {
            Some(t) => t.to_owned(),
            None => return,
        },
        1 => {
            let Some(t) = text else { return };
            bodies = t.split('\u{1}').map(str::to_owned).collect();
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
            Some(t) => http(2, t, false, false),
            None => return,
        },
        3 => http(2, &b64(rest), true, false),
        4 => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(rest).expect("gzip");
            http(2, &b64(&gz.finish().expect("gzip")), true, true)
        }
        5 => http(1, &b64(rest), true, true),
        _ => match text {
            Some(t) => http(1, t, false, false),
            None => return,
        },
    };
    let (response, objects) = common::handle(config(), &payload);
    common::check_objects(&objects, "_errors/", b',');
    let Some(response) = response else { return };
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
        Response::Http { status, body, .. } => {
            let v: Value = serde_json::from_str(&body).expect("a JSON body");
            match status {
                200 => assert_eq!(v["ok"], true),
                400 | 413 => {
                    assert_eq!(v["ok"], false);
                    assert!(objects.is_empty(), "a refused request writes nothing");
                }
                other => panic!("status {other}: {body}"),
            }
        }
        Response::Summary(_) => {}
    }
});
