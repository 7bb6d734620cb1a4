//! `sync-to-s3 backfill` (issue 13) through the real binary: a Segment S3 Classic tree made by
//! `scripts/gen_classic.py` (several sources and days, bad lines, one object stored inflated,
//! some uploaded with `Content-Encoding: gzip`, one truncated) in moto and in a local folder,
//! replayed into a moto bucket, every object read back.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use std::time::Duration;

use serde_json::{json, Value};
use support::local_aws::{python, LocalAws};
use support::runtime_api::{Outcome, RuntimeApi};

const BIN: &str = env!("CARGO_BIN_EXE_sync-to-s3");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Runs the binary with the local AWS environment; returns (status, stdout, stderr).
fn run(aws: &LocalAws, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(aws.env())
        .envs(env.iter().copied())
        .output()
        .expect("run sync-to-s3");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The sample configuration (Segment's default columns and the sample mappings), no role.
fn config(bucket: &str) -> String {
    let text = std::fs::read_to_string(format!("{ROOT}/events/config.json")).expect("config");
    let mut c: Value = serde_json::from_str(&text).expect("config JSON");
    let obj = c.as_object_mut().expect("object");
    for k in ["iam_role_arn", "iam_external_id", "write_keys"] {
        obj.remove(k);
    }
    obj.insert("s3_aws_bucket_name".into(), json!(bucket));
    c.to_string()
}

/// Generates the Classic tree into `dir` (and into moto's `bucket` when given).
fn generate(dir: &Path, s3: Option<(&LocalAws, &str)>, extra: &[&str]) -> Value {
    let mut cmd = Command::new(python());
    cmd.arg(format!("{ROOT}/scripts/gen_classic.py"))
        .arg(dir)
        .args(extra);
    if let Some((aws, bucket)) = s3 {
        let endpoint = aws
            .env()
            .into_iter()
            .find(|(k, _)| k == "AWS_ENDPOINT_URL")
            .map(|(_, v)| v)
            .expect("endpoint");
        cmd.arg("--s3").arg(endpoint).arg(bucket);
    }
    let out = cmd.output().expect("gen_classic.py");
    assert!(
        out.status.success(),
        "gen_classic.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected JSON")
}

/// Every data row of every CSV/TXT object: (key, header, rows).
fn tables(objects: &BTreeMap<String, Vec<u8>>) -> Vec<(String, Vec<String>, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    for (key, bytes) in objects {
        let delimiter = if key.ends_with(".txt") { b'|' } else { b',' };
        if !(key.ends_with(".csv") || key.ends_with(".txt")) {
            continue;
        }
        let mut r = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(&bytes[..]);
        let header: Vec<String> = r
            .headers()
            .expect("header")
            .iter()
            .map(str::to_owned)
            .collect();
        let rows = r
            .records()
            .map(|rec| rec.expect("row").iter().map(str::to_owned).collect())
            .collect();
        out.push((key.clone(), header, rows));
    }
    out
}

/// The `message_id` of every row written by the default (Segment columns) mapping, counted.
fn message_ids(objects: &BTreeMap<String, Vec<u8>>) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for (key, header, rows) in tables(objects) {
        if key.starts_with("_errors/") {
            continue;
        }
        let Some(col) = header.iter().position(|h| h == "message_id") else {
            continue;
        };
        for row in rows {
            *seen.entry(row[col].clone()).or_insert(0) += 1;
        }
    }
    seen
}

/// Rejected items in the error objects: (source, index) -> reason.
fn rejected(objects: &BTreeMap<String, Vec<u8>>) -> Vec<Value> {
    objects
        .iter()
        .filter(|(k, _)| k.starts_with("_errors/"))
        .flat_map(|(_, b)| {
            String::from_utf8_lossy(b)
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("NDJSON"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A local AWS with a generated Classic tree in `classic` (and on disk) and an empty
/// destination bucket `dest`.
fn setup(classic: &str, dest: &str, extra: &[&str]) -> (LocalAws, tempfile::TempDir, Value) {
    let aws = LocalAws::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let expected = generate(dir.path(), Some((&aws, classic)), extra);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(aws.s3_client().create_bucket().bucket(dest).send())
        .expect("create bucket");
    (aws, dir, expected)
}

fn s3_objects(aws: &LocalAws, bucket: &str) -> BTreeMap<String, Vec<u8>> {
    aws.bucket_objects(bucket)
        .into_iter()
        .map(|(k, (b, _, _))| (k, b))
        .collect()
}

#[test]
fn a_classic_history_in_s3_lands_once_and_a_rerun_adds_nothing() {
    let (aws, dir, expected) = setup("segment-classic", "exports-history", &[]);
    // Segment's default columns (message_id among them), every event type.
    let cfg = json!({"s3_aws_bucket_name": "exports-history", "subscription": ""}).to_string();
    let env = [("SYNC_CONFIG", cfg.as_str())];
    let state = dir.path().join("state.tsv");
    let state = state.to_str().expect("path");
    let source = "s3://segment-classic/segment-logs/";
    let (code, out, err) = run(&aws, &["backfill", source, "--resume", state], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("12 objects (0 skipped as done, 12 replayed, 1 damaged, 0 not complete)"),
        "{out}"
    );

    let first = s3_objects(&aws, "exports-history");
    let seen = message_ids(&first);
    let errors = rejected(&first);
    let mut truncated_events = 0;
    for (key, meta) in expected.as_object().expect("expected") {
        let name = format!("s3://segment-classic/{key}");
        let good: Vec<&str> = meta["good"]
            .as_array()
            .expect("good")
            .iter()
            .map(|v| v.as_str().expect("id"))
            .collect();
        if meta["truncated"] == true {
            // Every readable event before the damage, in order, once; the damage recorded.
            let landed = good
                .iter()
                .take_while(|id| seen.get(**id) == Some(&1))
                .count();
            assert!(
                landed > 10 && landed < good.len(),
                "{key}: {landed} of {}",
                good.len()
            );
            assert!(good[landed..].iter().all(|id| !seen.contains_key(*id)));
            truncated_events = landed;
            let damage = errors
                .iter()
                .find(|e| e["source"] == name.as_str() && e["index"].is_null())
                .unwrap_or_else(|| panic!("no damage item for {key}: {errors:?}"));
            assert!(
                damage["reason"]
                    .as_str()
                    .unwrap_or("")
                    .contains("damaged after line"),
                "{damage}"
            );
            continue;
        }
        for id in &good {
            assert_eq!(
                seen.get(*id),
                Some(&1),
                "{key}: {id} landed {:?} times",
                seen.get(*id)
            );
        }
        for line in meta["bad_lines"].as_array().expect("bad lines") {
            assert!(
                errors
                    .iter()
                    .any(|e| e["source"] == name.as_str() && e["index"] == *line),
                "{key}: bad line {line} not rejected: {errors:?}"
            );
        }
    }
    let all_good: usize = expected
        .as_object()
        .expect("expected")
        .values()
        .filter(|m| m["truncated"] != true)
        .map(|m| m["good"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(
        seen.len(),
        all_good + truncated_events,
        "nothing else landed"
    );

    // Run again, without --resume: the same keys with the same bytes, no row added.
    let (code, out, err) = run(&aws, &["backfill", source], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        s3_objects(&aws, "exports-history"),
        first,
        "a re-run changed the bucket"
    );
    // With --resume, every object is skipped.
    let (code, out, err) = run(&aws, &["backfill", source, "--resume", state], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("(12 skipped as done, 0 replayed"), "{out}");

    // The Batch Operations manifest of the same selection: bucket,key per object.
    let manifest = dir.path().join("manifest.csv");
    let (code, out, err) = run(
        &aws,
        &[
            "backfill",
            source,
            "--manifest",
            manifest.to_str().expect("path"),
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("aws s3control create-job")
            && out.contains("\"InvocationSchemaVersion\":\"2.0\""),
        "{out}"
    );
    let listed: Vec<String> = std::fs::read_to_string(&manifest)
        .expect("manifest")
        .lines()
        .map(str::to_owned)
        .collect();
    let mut want: Vec<String> = expected
        .as_object()
        .expect("expected")
        .keys()
        .map(|k| format!("segment-classic,{k}"))
        .collect();
    want.sort();
    let mut got = listed.clone();
    got.sort();
    assert_eq!(got, want);

    // Selection: one source, one day.
    let (code, out, err) = run(
        &aws,
        &[
            "backfill",
            source,
            "--source-id",
            "src_b2Kx9",
            "--since",
            "2015-05-28",
            "--until",
            "2015-05-28",
            "--dry-run",
            dir.path().join("one").to_str().expect("path"),
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.starts_with("backfill: 2 objects"), "{out}");
}

#[test]
fn rows_from_a_classic_object_equal_what_the_live_path_writes_for_its_events() {
    let aws = LocalAws::start();
    let dir = tempfile::tempdir().expect("tempdir");
    generate(dir.path(), None, &["--one-object-events", "300"]);
    let cfg = config("exports-live");
    let env = [("SYNC_CONFIG", cfg.as_str())];
    let backfilled = dir.path().join("backfilled");
    let (code, out, err) = run(
        &aws,
        &[
            "backfill",
            dir.path().join("segment-logs").to_str().expect("path"),
            "--dry-run",
            backfilled.to_str().expect("path"),
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    // The same events as one direct invoke (a JSON array), through the live path.
    let file = std::fs::read(
        dir.path()
            .join("segment-logs/src_big/1432684800000/1432729394-0.gz"),
    )
    .expect("object");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&file[..]), &mut text)
        .expect("gunzip");
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("event"))
        .collect();
    let payload = dir.path().join("invoke.json");
    std::fs::write(&payload, Value::Array(events).to_string()).expect("payload");
    let live = dir.path().join("live");
    let (code, out, err) = run(
        &aws,
        &[
            "invoke",
            payload.to_str().expect("path"),
            "--dry-run",
            live.to_str().expect("path"),
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    // Object by object (one per mapping, folder and type): the same bytes, under keys that
    // differ only in their time (the received day against the upload time).
    let bodies = |root: &Path| -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for entry in walk(root) {
            let rel = entry
                .strip_prefix(root)
                .expect("rel")
                .to_string_lossy()
                .into_owned();
            let folder = rel.rsplit_once('/').map_or("", |(f, _)| f).to_owned();
            out.insert(folder, std::fs::read(&entry).expect("read"));
        }
        out
    };
    let (b, l) = (bodies(&backfilled), bodies(&live));
    assert!(b.len() >= 3, "{:?}", b.keys());
    assert_eq!(b.keys().collect::<Vec<_>>(), l.keys().collect::<Vec<_>>());
    for (folder, bytes) in &b {
        assert!(
            bytes == &l[folder],
            "{folder}: the backfill's rows differ from the live path's"
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// An S3 Batch Operations task (invocation schema 2.0) for one object.
fn batch_task(task: &str, bucket: &str, key: &str) -> String {
    json!({
        "invocationSchemaVersion": "2.0",
        "invocationId": format!("inv-{task}"),
        "job": {"id": "job-1", "userArguments": {}},
        "tasks": [{"taskId": task, "s3Key": key, "s3VersionId": null, "s3Bucket": bucket}]
    })
    .to_string()
}

#[test]
fn s3_batch_operations_tasks_answer_succeeded_temporary_or_permanent() {
    let (aws, _dir, expected) = setup("classic-batch", "exports-batch", &[]);
    let keys: Vec<&String> = expected.as_object().expect("expected").keys().collect();
    let truncated = expected
        .as_object()
        .expect("expected")
        .iter()
        .find(|(_, m)| m["truncated"] == true)
        .map(|(k, _)| k.clone())
        .expect("a truncated object");
    let good = keys
        .iter()
        .find(|k| {
            expected[k.as_str()]["bad_lines"]
                .as_array()
                .is_some_and(|b| !b.is_empty())
                && expected[k.as_str()]["truncated"] != true
        })
        .expect("good");
    let flaky = keys
        .iter()
        .find(|k| *k != good && ***k != truncated)
        .expect("flaky");
    // Every GET of this object fails with 503 SlowDown, past the SDK's retries.
    aws.fault(json!({"service": "s3", "method": "GET", "path_regex": flaky.replace('/', "\\/").replace('.', "\\."), "action": "error", "status": 503, "code": "SlowDown", "message": "Please reduce your request rate.", "times": -1}));

    let api = RuntimeApi::start();
    let cfg = json!({"s3_aws_bucket_name": "exports-batch", "subscription": ""}).to_string();
    let log = tempfile::NamedTempFile::new().expect("log");
    let append = || {
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .expect("log")
    };
    let mut child = api
        .function_command(BIN, false)
        .envs(aws.env())
        .env("SYNC_CONFIG", &cfg)
        .env("SYNC_ATTEMPT_TIMEOUT_MS", "5000")
        .stdout(append())
        .stderr(append())
        .spawn()
        .expect("start the function");
    let logs = || std::fs::read_to_string(log.path()).unwrap_or_default();
    let answer = |task: &str, key: &str| -> Value {
        match api.invoke(
            &batch_task(task, "classic-batch", key),
            Duration::from_secs(60),
        ) {
            Some(Outcome::Response(body)) => serde_json::from_str(&body).expect("JSON answer"),
            other => panic!("{task}: expected an answer, got {other:?}\n{}", logs()),
        }
    };
    let ok = answer("t-good", good);
    let missing = answer("t-missing", "segment-logs/src_zz/1432684800000/gone.gz");
    let damaged = answer("t-damaged", &truncated);
    let not_classic = answer("t-other", "exports/readme.txt");
    let transient = answer("t-flaky", flaky);
    let _ = child.kill();
    let _ = child.wait();

    let result = |a: &Value| {
        (
            a["results"][0]["resultCode"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            a["results"][0]["resultString"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };
    assert_eq!(ok["invocationSchemaVersion"], "2.0");
    assert_eq!(ok["invocationId"], "inv-t-good");
    assert_eq!(ok["results"][0]["taskId"], "t-good");
    let (code, text) = result(&ok);
    assert_eq!(code, "Succeeded", "{text}");
    assert!(
        text.starts_with("150 events, 150 rows, 2 rejected;"),
        "{text}"
    );
    let (code, text) = result(&missing);
    assert_eq!(code, "PermanentFailure", "{text}");
    assert!(
        text.contains("gone.gz") && text.contains("NoSuchKey"),
        "{text}"
    );
    let (code, text) = result(&damaged);
    assert_eq!(code, "Succeeded", "{text}");
    assert!(text.contains("damaged"), "{text}");
    let (code, text) = result(&not_classic);
    assert_eq!(code, "PermanentFailure", "{text}");
    assert!(text.contains("not a Segment S3 Classic log key"), "{text}");
    let (code, text) = result(&transient);
    assert_eq!(code, "TemporaryFailure", "{text}");
    assert!(text.contains("SlowDown") || text.contains("503"), "{text}");

    // The good object's events landed, each once.
    let stored = s3_objects(&aws, "exports-batch");
    let seen = message_ids(&stored);
    for id in expected[good.as_str()]["good"].as_array().expect("ids") {
        assert_eq!(seen.get(id.as_str().expect("id")), Some(&1), "{id}");
    }
    let summaries = logs()
        .lines()
        .filter(|l| l.contains("\"source\":\"batch\""))
        .count();
    assert!(summaries >= 5, "{}", logs());
}

/// An `ObjectCreated:Put` notification body as S3 sends it, the key URL-encoded.
fn notification(bucket: &str, key: &str) -> String {
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-12-01T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.9"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "classic",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                          "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": key.replace(' ', "+"), "size": 1024, "eTag": "0123abcd",
                          "sequencer": "0055AED6DCD90281E5"}}}]})
    .to_string()
}

fn sqs_event(bodies: &[(&str, String)]) -> String {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, b)| {
            json!({"eventSource": "aws:sqs", "messageId": id, "body": b,
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:classic-notifications"})
        })
        .collect();
    json!({"Records": records}).to_string()
}

#[test]
fn a_new_classic_object_notified_through_sqs_is_replayed_and_a_test_event_acknowledged() {
    let (aws, _dir, expected) = setup(
        "classic-live",
        "exports-live-side",
        &["--sources", "1", "--days", "1", "--objects", "2"],
    );
    let keys: Vec<String> = expected
        .as_object()
        .expect("expected")
        .keys()
        .cloned()
        .collect();
    let api = RuntimeApi::start();
    let cfg = json!({"s3_aws_bucket_name": "exports-live-side", "subscription": ""}).to_string();
    let mut child = api
        .function_command(BIN, false)
        .envs(aws.env())
        .env("SYNC_CONFIG", &cfg)
        .env("SYNC_ATTEMPT_TIMEOUT_MS", "5000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the function");
    let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-12-01T10:00:00.000Z","Bucket":"classic-live","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw"}"#;
    let invoke = |payload: String| -> Value {
        match api.invoke(&payload, Duration::from_secs(60)) {
            Some(Outcome::Response(body)) => serde_json::from_str(&body).expect("JSON"),
            other => panic!("expected a response, got {other:?}"),
        }
    };
    let first = invoke(sqs_event(&[
        ("m-test", test_event.to_owned()),
        ("m-1", notification("classic-live", &keys[0])),
        ("m-2", notification("classic-live", &keys[1])),
    ]));
    let second = invoke(sqs_event(&[(
        "m-gone",
        notification(
            "classic-live",
            "segment-logs/src_a1Kx9/1432684800000/deleted.gz",
        ),
    )]));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(first, json!({"batchItemFailures": []}));
    assert_eq!(
        second,
        json!({"batchItemFailures": [{"itemIdentifier": "m-gone"}]})
    );
    let seen = message_ids(&s3_objects(&aws, "exports-live-side"));
    for key in &keys {
        for id in expected[key.as_str()]["good"].as_array().expect("ids") {
            assert_eq!(seen.get(id.as_str().expect("id")), Some(&1), "{key}: {id}");
        }
    }
}
