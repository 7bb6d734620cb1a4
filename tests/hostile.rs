//! Hostile input (issue 6): each input a user's producers, a broken client or an attacker could
//! send, run through the handler as the function runs it (parse, map, plan, write to a sink), with
//! what must come out. RELIABILITY.md lists these with their outcomes.
//!
//! The in-memory sink stands in for S3 here: this file is about input, `aws_moto.rs` about the wire.

#[path = "support/inproc.rs"]
mod inproc;

use std::io::Write;

use base64::Engine;
use inproc::{inv, Objects};
use serde_json::{json, Value};
use sync_to_s3::config::Config;
use sync_to_s3::handler::{App, Response};
use sync_to_s3::sink::memory::MemorySink;
use sync_to_s3::source::MAX_BODY_BYTES;

fn app(config: Value) -> App<MemorySink> {
    let mut config = config;
    config["s3_aws_bucket_name"] = json!("hostile-bucket");
    inproc::app(&config.to_string())
}

/// Every event taken, four columns, the folder from the event.
fn plain() -> Value {
    json!({
        "mappings": [{
            "subscription": "",
            "s3_aws_folder_name": {"@path": "$.properties.folder"},
            "columns": {
                "event": {"@path": "$.event"},
                "seq": {"@path": "$.properties.seq"},
                "note": {"@path": "$.properties.note"},
                "properties": {"@path": "$.properties"}
            },
            "audience_action_column_name": "",
            "batch_size_column_name": ""
        }]
    })
}

fn sqs(bodies: &[String]) -> String {
    inproc::sqs_payload(bodies)
}

fn http(body: &str, base64: bool, headers: Value) -> String {
    inproc::http_payload("/v1/batch", body, base64, headers)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

fn track(seq: usize, props: Value) -> Value {
    let mut props = props;
    props["seq"] = json!(seq);
    json!({"type": "track", "event": "Hostile", "userId": "u", "properties": props})
}

async fn run(a: &App<MemorySink>, payload: &str) -> Response {
    a.handle(payload, &inv())
        .await
        .expect("the handler answers")
}

fn http_status(r: &Response) -> (u16, Value) {
    let Response::Http { status, body, .. } = r else {
        panic!("not an HTTP response: {r:?}")
    };
    (*status, serde_json::from_str(body).expect("a JSON body"))
}

/// Data rows of every CSV object, parsed back with the `csv` crate (header skipped).
fn rows(objects: &Objects) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (key, (bytes, _)) in objects {
        if key.starts_with("_errors/") {
            continue;
        }
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes.as_slice());
        for row in r.records() {
            out.push(row.expect("a CSV row").iter().map(str::to_owned).collect());
        }
    }
    out
}

fn error_records(objects: &Objects) -> Vec<Value> {
    objects
        .iter()
        .filter(|(k, _)| k.starts_with("_errors/"))
        .flat_map(|(_, (b, _))| {
            std::str::from_utf8(b)
                .expect("UTF-8")
                .lines()
                .map(|l| serde_json::from_str(l).expect("an NDJSON line"))
                .collect::<Vec<Value>>()
        })
        .collect()
}

#[tokio::test]
async fn invalid_utf8_in_a_base64_body_is_400_and_writes_nothing() {
    let a = app(plain());
    let mut body = br#"{"type":"track","event":"caf"#.to_vec();
    body.extend_from_slice(&[0xe9, 0xff, 0xfe]);
    body.extend_from_slice(br#""}"#);
    let (status, body) = http_status(&run(&a, &http(&b64(&body), true, json!({}))).await);
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("UTF-8")),
        "{body}"
    );
    assert!(a.sink.objects().is_empty());
}

#[tokio::test]
async fn lone_surrogates_reject_their_message_only_and_pairs_are_decoded() {
    let a = app(plain());
    let bodies = vec![
        track(0, json!({})).to_string(),
        r#"{"type":"track","event":"\ud800","properties":{"seq":1}}"#.to_owned(),
        r#"{"type":"track","event":"x","properties":{"seq":2,"note":"\udc00\ud800"}}"#.to_owned(),
        r#"{"type":"track","event":"\ud83d\ude00","properties":{"seq":3}}"#.to_owned(),
    ];
    let r = run(&a, &sqs(&bodies)).await;
    assert_eq!(
        r,
        Response::Sqs(vec![]),
        "rejected items are stored, so acknowledged"
    );
    let objects = a.sink.objects();
    let rows = rows(&objects);
    let events: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(events, ["Hostile", "😀"]);
    let errors = error_records(&objects);
    assert_eq!(errors.len(), 2);
    for (e, (id, body)) in errors
        .iter()
        .zip([("sqs:m1", &bodies[1]), ("sqs:m2", &bodies[2])])
    {
        assert_eq!(e["source"], id);
        assert_eq!(
            e["body"].as_str(),
            Some(body.as_str()),
            "the raw text, as received"
        );
        assert!(
            e["reason"]
                .as_str()
                .is_some_and(|r| r.contains("surrogate")),
            "{e}"
        );
    }
}

fn nested(depth: usize) -> Value {
    // The event is depth 1, `properties` depth 2, then `depth - 2` more arrays.
    let mut inner = json!(1);
    for _ in 0..depth.saturating_sub(2) {
        inner = json!([inner]);
    }
    inner
}

#[tokio::test]
async fn nesting_beyond_the_limit_rejects_that_element_only() {
    let a = app(plain());
    let at_limit = track(0, json!({ "deep": nested(128) }));
    let over = track(1, json!({ "deep": nested(129) }));
    // 100,000 levels: would overflow a recursive parser's stack; text built by hand.
    let very_deep = format!(
        r#"{{"type":"track","event":"Hostile","properties":{{"seq":2,"deep":{}1{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let good = track(3, json!({}));
    let batch = format!(r#"{{"batch":[{at_limit},{over},{very_deep},{good}]}}"#);
    let r = run(&a, &sqs(&[batch])).await;
    assert_eq!(r, Response::Sqs(vec![]));
    let objects = a.sink.objects();
    let seqs: Vec<String> = rows(&objects).into_iter().map(|r| r[1].clone()).collect();
    assert_eq!(seqs, ["0", "3"]);
    let errors = error_records(&objects);
    let indexes: Vec<&Value> = errors.iter().map(|e| &e["index"]).collect();
    assert_eq!(indexes, [&json!(1), &json!(2)]);
    assert!(errors
        .iter()
        .all(|e| e["reason"].as_str().is_some_and(|r| r.contains("128"))));
    assert!(
        errors[1]["body"]
            .as_str()
            .is_some_and(|b| b.len() > 200_000),
        "the element is kept whole"
    );
}

#[tokio::test]
async fn huge_and_long_numbers_are_kept_as_written_and_compare_exactly() {
    let mut config = plain();
    config["mappings"][0]["subscription"] =
        json!("properties.big > 123456789012345678901234567889 and properties.huge >= 1e400");
    let a = app(config);
    let props = r#"{"seq":0,"note":1e400,"big":123456789012345678901234567890,"huge":1e400,"tiny":-1e-999999999999999999999,"frac":0.10000000000000000000000000001}"#;
    let body = format!(r#"{{"type":"track","event":"Hostile","properties":{props}}}"#);
    let smaller = body.replace("567890,", "567888,");
    let r = run(&a, &sqs(&[body, smaller])).await;
    assert_eq!(r, Response::Sqs(vec![]));
    let rows = rows(&a.sink.objects());
    assert_eq!(rows.len(), 1, "the 30-digit comparison is exact: {rows:?}");
    assert_eq!(rows[0][2], "1e400");
    assert_eq!(rows[0][3], props, "numbers are copied as written");
}

#[tokio::test]
async fn a_one_mebibyte_string_is_one_cell_byte_for_byte() {
    let a = app(plain());
    let chunk = "a,b;c|d\t\"quoted\"\r\n=1+1 é 😀 ";
    let mut note = String::new();
    while note.len() < (1 << 20) {
        note.push_str(chunk);
    }
    let r = run(&a, &sqs(&[track(0, json!({ "note": note })).to_string()])).await;
    assert_eq!(r, Response::Sqs(vec![]));
    let rows = rows(&a.sink.objects());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][2], note);
}

#[tokio::test]
async fn ten_thousand_events_in_one_message_are_all_written_in_order() {
    let a = app(plain());
    let events: Vec<Value> = (0..10_000).map(|i| track(i, json!({}))).collect();
    let body = json!({ "batch": events }).to_string();
    let r = run(&a, &sqs(&[body])).await;
    assert_eq!(r, Response::Sqs(vec![]));
    let seqs: Vec<String> = rows(&a.sink.objects())
        .into_iter()
        .map(|r| r[1].clone())
        .collect();
    let want: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
    assert_eq!(seqs, want);
}

#[tokio::test]
async fn hostile_folder_values_make_safe_keys_and_an_overlong_one_fails_its_message_only() {
    let a = app(plain());
    let folders = [
        "../../etc/passwd",
        "a//b///c",
        "/./..//.",
        "tab\there\u{0}nul\nnewline\u{1f}",
        "emoji😀/é",
        "COM1:<>|?*\\",
    ];
    let mut bodies: Vec<String> = folders
        .iter()
        .enumerate()
        .map(|(i, f)| track(i, json!({ "folder": f })).to_string())
        .collect();
    let long = "x".repeat(2_000);
    bodies.push(track(folders.len(), json!({ "folder": long })).to_string());
    let r = run(&a, &sqs(&bodies)).await;
    // The 2,000-character folder makes a key over S3's 1,024 bytes: that group fails like an
    // upload (SPEC 4), so its message is retried and ends in the DLQ, never silently dropped.
    assert_eq!(r, Response::Sqs(vec![format!("m{}", folders.len())]));
    let objects = a.sink.objects();
    assert_eq!(objects.len(), folders.len());
    for key in objects.keys() {
        assert!(key.len() <= 1024, "{key}");
        for segment in key.split('/') {
            assert!(!matches!(segment, "" | "." | ".."), "{key}");
        }
        assert!(
            key.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!-_.*'()/".contains(c)),
            "{key}"
        );
    }
    let keys: Vec<&str> = objects.keys().map(String::as_str).collect();
    for want in [
        "_/_/etc/passwd/track/",
        "a/b/c/track/",
        "_/_/_/track/",
        "tab_here_nul_newline_/track/",
        "emoji_/_/track/",
        "COM1_____*_/track/",
    ] {
        assert!(
            keys.iter().any(|k| k.starts_with(want)),
            "{want} in {keys:?}"
        );
    }
}

#[tokio::test]
async fn a_gzip_bomb_is_413_without_inflating_it_and_writes_nothing() {
    let a = app(plain());
    // 256 MiB of zeros compresses to about 256 KiB: 1,000 to 1.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        gz.write_all(&zeros).expect("gzip");
    }
    let bomb = gz.finish().expect("gzip");
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    let payload = http(&b64(&bomb), true, json!({"content-encoding": "gzip"}));
    let (status, body) = http_status(&run(&a, &payload).await);
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["ok"], false);
    assert!(a.sink.objects().is_empty());
}

#[tokio::test]
async fn invalid_base64_and_invalid_gzip_are_400() {
    let a = app(plain());
    for payload in [
        http("eyJ0eXBlIjoidHJhY2sifQ=!", true, json!({})),
        http("not base64 at all", true, json!({})),
        http(&b64(b"not gzip"), true, json!({"Content-Encoding": "gzip"})),
    ] {
        let (status, body) = http_status(&run(&a, &payload).await);
        assert_eq!(status, 400, "{body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    assert!(a.sink.objects().is_empty());
}

/// One track event padded with spaces to exactly `len` bytes.
fn event_of_len(len: usize) -> String {
    let e = track(0, json!({})).to_string();
    format!("{e}{}", " ".repeat(len - e.len()))
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_taken_and_one_byte_more_is_413() {
    let a = app(plain());
    let exact = event_of_len(MAX_BODY_BYTES);
    let (status, body) = http_status(&run(&a, &http(&exact, false, json!({}))).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"], 1);
    let gz = b64(&gzip(exact.as_bytes()));
    let (status, _) =
        http_status(&run(&a, &http(&gz, true, json!({"Content-Encoding": "gzip"}))).await);
    assert_eq!(status, 200, "the limit applies after gunzip, inclusive");

    let b = app(plain());
    let over = event_of_len(MAX_BODY_BYTES + 1);
    let (status, _) = http_status(&run(&b, &http(&over, false, json!({}))).await);
    assert_eq!(status, 413);
    let gz = b64(&gzip(over.as_bytes()));
    let (status, _) =
        http_status(&run(&b, &http(&gz, true, json!({"Content-Encoding": "gzip"}))).await);
    assert_eq!(status, 413);
    assert!(b.sink.objects().is_empty());
}

#[tokio::test]
async fn header_names_lose_the_delimiter_and_formula_payloads_are_written_byte_exactly() {
    for (delimiter, sep) in [(",", ","), ("|", "|"), ("tab", "\t"), (";", ";")] {
        let a = app(json!({
            "subscription": "",
            "delimiter": delimiter,
            "columns": {
                "a,b|c\td;e": {"@path": "$.event"},
                "\"q\"": {"@path": "$.properties.note"}
            },
            "audience_action_column_name": "",
            "batch_size_column_name": ""
        }));
        let formulas = [
            "=cmd|' /C calc'!A0",
            "+1+1",
            "-2+3",
            "@SUM(A1:A2)",
            "\t=1",
            "\r=1",
        ];
        let bodies: Vec<String> = formulas
            .iter()
            .enumerate()
            .map(|(i, f)| {
                json!({"type": "track", "event": f, "properties": {"seq": i, "note": "x\"y"}})
                    .to_string()
            })
            .collect();
        let r = run(&a, &sqs(&bodies)).await;
        assert_eq!(r, Response::Sqs(vec![]));
        let objects = a.sink.objects();
        assert_eq!(objects.len(), 1);
        let (bytes, _) = objects.values().next().expect("one object");
        let text = std::str::from_utf8(bytes).expect("UTF-8");
        let header = "a,b|c\td;e".replace(sep, "");
        let mut want = format!("\"{header}\"{sep}\"\"\"q\"\"\"\n");
        for f in formulas {
            want.push_str(&format!("\"{f}\"{sep}\"x\"\"y\"\n"));
        }
        assert_eq!(text, want, "delimiter {delimiter}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_an_event_at_all_is_kept_raw() {
    let a = app(plain());
    let bodies = vec![
        String::new(),
        "null".to_owned(),
        "[]".to_owned(),
        "\u{feff}{\"type\":\"track\"}".to_owned(),
        "{\"type\":\"track\"} trailing".to_owned(),
        "{\"type\":\"TRACK\"}".to_owned(),
        "{\"type\":\"track\",\"type\":\"identify\"}".to_owned(),
        "x".repeat(100_000),
    ];
    let r = run(&a, &sqs(&bodies)).await;
    assert_eq!(r, Response::Sqs(vec![]));
    let objects = a.sink.objects();
    let errors = error_records(&objects);
    // An empty array holds no events and is nothing to reject; the repeated `type` takes the
    // last value, as JavaScript does, and is an identify event.
    let sources: Vec<&str> = errors.iter().filter_map(|e| e["source"].as_str()).collect();
    assert_eq!(
        sources,
        ["sqs:m0", "sqs:m1", "sqs:m3", "sqs:m4", "sqs:m5", "sqs:m7"]
    );
    for e in &errors {
        let i: usize = e["source"].as_str().expect("source")[5..]
            .parse()
            .expect("index");
        assert_eq!(e["body"].as_str(), Some(bodies[i].as_str()));
    }
    assert_eq!(rows(&objects).len(), 1);
}

#[tokio::test]
async fn a_lone_surrogate_in_an_api_gateway_body_is_400_and_writes_nothing() {
    let a = app(plain());
    for body in [
        r#"{"type":"track","event":"\ud800"}"#,
        r#"{"batch":[{"type":"track","event":"\udfff"}]}"#,
    ] {
        let (status, v) = http_status(&run(&a, &http(body, false, json!({}))).await);
        assert_eq!(status, 400, "{v}");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains("surrogate")),
            "{v}"
        );
    }
    assert!(a.sink.objects().is_empty());
}

/// Found by the `mapping` fuzz target: a key template without `{type}` or `{folder}` and a
/// literal column make the six type groups byte-identical objects under one key. SPEC 4 allows
/// exactly that (an identical object overwrites itself); different objects must never share one.
#[tokio::test]
async fn objects_share_a_key_only_when_their_bytes_are_equal() {
    let plan_for = |column: Value| {
        let a = app(json!({
            "key_template": "uy/{id}.{ext}sf",
            "subscription": "",
            "columns": {"c": column},
            "audience_action_column_name": "",
            "batch_size_column_name": ""
        }));
        let events: Vec<Value> = ["track", "identify", "page", "screen", "group", "alias"]
            .iter()
            .map(|t| json!({"type": t, "event": "E"}))
            .collect();
        let payload = sqs(&[json!({ "batch": events }).to_string()]);
        let stamp = sync_to_s3::key::Stamp::from_unix_millis(1_795_478_400_000);
        sync_to_s3::bench_support::plan_payload(&a.config, &payload, &stamp).expect("plan")
    };
    // Identical rows: one key for all six objects, which are byte-identical.
    let same = plan_for(json!("{\"@path\":\"$.x\"}{etp"));
    assert_eq!(same.objects.len(), 6);
    assert!(same.objects.iter().all(|o| o.key == same.objects[0].key));
    assert!(same.objects.iter().all(|o| o.body == same.objects[0].body));
    // Rows that differ by type: six keys.
    let differ = plan_for(json!({"@path": "$.type"}));
    let keys: std::collections::BTreeSet<&str> =
        differ.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys.len(), 6);
}

/// Key templates are configuration, not event data, but a typo or a pasted value must not make
/// keys that escape their prefix or that S3 cannot take: each is refused at init, naming the key.
#[test]
fn hostile_key_templates_are_refused_at_init() {
    let long = format!("{}/{{id}}.{{ext}}", "x".repeat(2_000));
    for template in [
        "../{type}/{id}.{ext}",
        "a/./{id}.{ext}",
        "a//{id}.{ext}",
        "/{type}/{id}.{ext}",
        "a/\u{0}/{id}.{ext}",
        "a/\n{id}.{ext}",
        long.as_str(),
        "{type}/{time}.{ext}",
        "{type}/{id}.{ext}{nope}",
    ] {
        let doc = json!({"s3_aws_bucket_name": "hostile-bucket", "key_template": template});
        let err = Config::load(Some(&doc.to_string()), "test", &|_| None)
            .err()
            .unwrap_or_else(|| panic!("{template:?} was accepted"));
        assert!(
            err.to_string().contains("key_template"),
            "{template:?}: {err}"
        );
    }
    // Emoji and other non-ASCII text in the template's own literal text are used as written.
    let doc =
        json!({"s3_aws_bucket_name": "hostile-bucket", "key_template": "😀/{type}/{id}.{ext}"});
    assert!(Config::load(Some(&doc.to_string()), "test", &|_| None).is_ok());
}
