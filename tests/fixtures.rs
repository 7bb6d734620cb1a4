//! Handler tests over the sample payloads in `events/` (the same files users invoke), with the
//! sample configuration and an in-memory sink: what each kind of payload answers and writes.

#[path = "support/inproc.rs"]
mod inproc;

use inproc::{inv, Objects};
use sync_to_s3::handler::{App, Response};
use sync_to_s3::sink::memory::MemorySink;

fn read(name: &str) -> String {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn app(sink: MemorySink) -> App<MemorySink> {
    inproc::app_on(&read("config.json"), sink)
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("UTF-8")
}

fn by_prefix(objects: &Objects, prefix: &str) -> Vec<String> {
    objects
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, (b, _))| text(b).to_owned())
        .collect()
}

#[tokio::test]
async fn sqs_sample_acknowledges_every_message_and_keeps_the_bad_one() {
    let a = app(MemorySink::new());
    let r = a
        .handle(&read("sqs-batch.json"), &inv())
        .await
        .expect("handled");
    // GIVEN ten messages, one of them truncated JSON
    // THEN all are acknowledged: the good ones' rows and the bad one's record are stored
    assert_eq!(r, Response::Sqs(vec![]));
    let objects = a.sink.objects();
    let errors = by_prefix(&objects, "_errors/");
    assert_eq!(errors.len(), 1);
    let lines: Vec<&str> = errors[0].lines().collect();
    assert_eq!(lines.len(), 1);
    let record: serde_json::Value = serde_json::from_str(lines[0]).expect("an NDJSON line");
    assert_eq!(record["source"], "sqs:6d50916d-02e4-459f-bfea-ca13acce1aea");
    assert_eq!(record["index"], serde_json::Value::Null);
    assert_eq!(
        record["body"],
        "{\"type\":\"track\",\"event\":\"Checkout Started\","
    );
    let track = by_prefix(&objects, "track/");
    assert_eq!(track.len(), 1);
    assert_eq!(
        track[0].lines().count(),
        1 + 5,
        "header and five track rows"
    );
    let orders = by_prefix(&objects, "orders/track/");
    assert_eq!(orders.len(), 1);
    assert!(orders[0].starts_with(
        "\"order_id\"|\"revenue\"|\"currency\"|\"user_id\"|\"email_sha256\"|\"batch_size\"\n"
    ));
    assert_eq!(
        objects.iter().filter(|(k, _)| k.ends_with(".txt")).count(),
        1
    );
    for (k, (_, content_type)) in &objects {
        let want = if k.ends_with(".csv") {
            "text/csv"
        } else if k.ends_with(".txt") {
            "text/plain"
        } else {
            "application/x-ndjson"
        };
        assert_eq!(*content_type, want, "{k}");
    }
}

#[tokio::test]
async fn sqs_sample_reports_the_messages_of_a_failed_object() {
    let a = app(MemorySink::failing(|k| k.starts_with("identify/")));
    let r = a
        .handle(&read("sqs-batch.json"), &inv())
        .await
        .expect("handled");
    let Response::Sqs(failed) = r else {
        panic!("{r:?}")
    };
    // The identify object holds the plain identify and the Engage audience identify.
    assert_eq!(failed.len(), 2, "{failed:?}");
}

async fn http(file: &str) -> (u16, serde_json::Value, usize) {
    let a = app(MemorySink::new());
    let r = a.handle(&read(file), &inv()).await.expect("handled");
    let Response::Http { status, body, .. } = r else {
        panic!("{r:?}")
    };
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    (status, body, a.sink.objects().len())
}

#[tokio::test]
async fn api_gateway_v2_sample_answers_200_with_the_summary() {
    let (status, body, stored) = http("apigw-v2-batch.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["events"], 5);
    assert_eq!(body["filtered"], 1);
    assert_eq!(body["objects"].as_array().map(Vec::len), Some(stored));
}

#[tokio::test]
async fn api_gateway_v1_sample_answers_200() {
    let (status, body, stored) = http("apigw-v1-rest.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["events"], 1);
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn api_gateway_sample_without_its_write_key_is_401_and_writes_nothing() {
    let payload =
        read("apigw-v2-batch.json").replace("Basic d2tfc2FtcGxlX2tleTo=", "Basic d3Jvbmc6");
    let a = app(MemorySink::new());
    let r = a.handle(&payload, &inv()).await.expect("handled");
    let Response::Http { status, .. } = r else {
        panic!("{r:?}")
    };
    assert_eq!(status, 401);
    assert!(a.sink.objects().is_empty());
}

#[tokio::test]
async fn direct_invoke_samples_return_the_summary() {
    for (file, events) in [("invoke-batch.json", 3), ("invoke-single.json", 1)] {
        let a = app(MemorySink::new());
        let r = a.handle(&read(file), &inv()).await.expect("handled");
        let Response::Summary(s) = r else {
            panic!("{r:?}")
        };
        assert_eq!(s.events, events, "{file}");
        assert_eq!(s.objects.len(), a.sink.objects().len(), "{file}");
    }
}

#[tokio::test]
async fn merged_batch_context_reaches_the_rows() {
    let a = app(MemorySink::new());
    a.handle(&read("invoke-batch.json"), &inv())
        .await
        .expect("handled");
    let objects = a.sink.objects();
    let track = by_prefix(&objects, "track/");
    let rows: Vec<&str> = track.iter().flat_map(|t| t.lines().skip(1)).collect();
    assert_eq!(rows.len(), 2, "the sample's two tracks: {track:?}");
    for row in rows {
        assert!(
            row.contains("\"\"library\"\""),
            "the batch context is merged into each event: {row}"
        );
    }
}

#[tokio::test]
async fn browser_sample_lands_with_the_fields_segment_adds_on_receipt() {
    // GIVEN what analytics.js sends for analytics.track() (POST /v1/t, text/plain, no type)
    let a = app(MemorySink::new());
    let r = a
        .handle(&read("apigw-v2-browser-track.json"), &inv())
        .await
        .expect("handled");
    let Response::Http { status, body, .. } = r else {
        panic!("{r:?}")
    };
    assert_eq!(status, 200, "{body}");
    // THEN the row has type track from the path, the client's clock corrected with the
    // request's arrival time, the source IP, and no write key.
    let objects = a.sink.objects();
    let rows = by_prefix(&objects, "track/");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = rows[0].lines().nth(1).expect("one data row");
    assert!(row.starts_with("\"Pricing Viewed\",\"track\","), "{row}");
    assert!(row.contains("\"2026-11-24T13:56:32.867Z\""), "{row}");
    assert!(row.contains("\"\"ip\"\":\"\"203.0.113.77\"\""), "{row}");
    assert!(!row.contains("wk_sample_key"), "{row}");
}

#[tokio::test]
async fn eventbridge_sample_lands_as_its_detail() {
    let a = app(MemorySink::new());
    let r = a
        .handle(&read("sqs-eventbridge.json"), &inv())
        .await
        .expect("handled");
    assert_eq!(r, Response::Sqs(vec![]));
    let objects = a.sink.objects();
    let rows = by_prefix(&objects, "identify/");
    assert_eq!(rows.len(), 1, "{:?}", objects.keys());
    assert!(rows[0].contains("\"dana@acme.example\""), "{}", rows[0]);
    assert!(
        rows[0].contains("\"2026-11-24T13:56:41.802Z\""),
        "taken as it is"
    );
}
