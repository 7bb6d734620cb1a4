//! The function against a local AWS over real HTTP (moto behind a fault-injecting middleware,
//! started and stopped by each test): S3 objects, STS AssumeRole with the External ID, SSM
//! configuration, the Lambda Runtime API path, and S3/STS/SSM faults as SPEC 5 describes them.
//!
//! Every test runs the real binary, as Lambda or as the command line would.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use serde_json::{json, Value};
use support::local_aws::LocalAws;
use support::runtime_api::{Outcome, RuntimeApi};

const BIN: &str = env!("CARGO_BIN_EXE_sync-to-s3");
const EXTERNAL_ID: &str = "ext-moto-SECRET-7f3a";
const WRITE_KEY: &str = "wk_sample_key";

fn events(name: &str) -> String {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The sample configuration, pointed at `bucket`, with the test's external id.
fn config(bucket: &str, extra: Value) -> String {
    let mut c: Value = serde_json::from_str(&events("config.json")).expect("events/config.json");
    c["s3_aws_bucket_name"] = json!(bucket);
    c["iam_external_id"] = json!(EXTERNAL_ID);
    c["iam_role_session_name"] = json!("sync-to-s3-test");
    if let (Some(obj), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    c.to_string()
}

fn ssm(aws: &LocalAws) -> aws_sdk_ssm::Client {
    let conf = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&aws.endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    aws_sdk_ssm::Client::from_conf(conf)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn create_bucket(aws: &LocalAws, bucket: &str) {
    rt().block_on(aws.s3_client().create_bucket().bucket(bucket).send())
        .expect("create bucket");
}

/// Runs the command line with the local AWS environment; returns (status, stdout, stderr).
fn cli(aws: &LocalAws, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(aws.env())
        .envs(env.iter().copied())
        .env("SYNC_ATTEMPT_TIMEOUT_MS", "5000")
        .output()
        .expect("run sync-to-s3");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn payload_file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write payload");
    p.to_string_lossy().into_owned()
}

/// The function as Lambda runs it: the binary serving a local Runtime API.
struct Lambda {
    api: RuntimeApi,
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Lambda {
    fn start(aws: &LocalAws, env: &[(&str, &str)]) -> Lambda {
        Lambda::start_binary(Path::new(BIN), aws, env)
    }

    fn start_binary(binary: &Path, aws: &LocalAws, env: &[(&str, &str)]) -> Lambda {
        let api = RuntimeApi::start();
        let log = tempfile::NamedTempFile::new().expect("log file");
        // Both streams append to one file, as Lambda gathers them into one log stream.
        let append = || {
            std::fs::OpenOptions::new()
                .append(true)
                .open(log.path())
                .expect("log")
        };
        let child = api
            .function_command(binary, false)
            .envs(aws.env())
            .env("SYNC_ATTEMPT_TIMEOUT_MS", "5000")
            .envs(env.iter().copied())
            .stdout(append())
            .stderr(append())
            .spawn()
            .expect("start the function");
        Lambda { api, child, log }
    }

    fn invoke(&self, payload: &str) -> Value {
        match self.api.invoke(payload, Duration::from_secs(60)) {
            Some(Outcome::Response(body)) => serde_json::from_str(&body).expect("JSON response"),
            other => panic!("expected a response, got {other:?}\nlog:\n{}", self.logs()),
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Lambda {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .expect("an SQS batch response")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn message_ids_with(payload: &str, needle: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(payload).expect("json");
    v["Records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["body"].as_str().unwrap_or_default().contains(needle))
        .map(|r| r["messageId"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Asserts that the SQS response reports exactly the messages whose bodies hold one of
/// `needles` (in any order), and at least one.
fn assert_reported_exactly(response: &Value, payload: &str, needles: &[&str]) {
    let mut want: Vec<String> = needles
        .iter()
        .flat_map(|n| message_ids_with(payload, n))
        .collect();
    want.sort();
    want.dedup();
    let mut got = failures(response);
    got.sort();
    assert!(!want.is_empty());
    assert_eq!(got, want, "{response}");
}

#[test]
fn objects_in_s3_equal_the_dry_run_output() {
    // GIVEN content-addressed keys, so that two runs of the same input give the same keys
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-1");
    let cfg = config(
        "exports-1",
        json!({"key_template": "{folder}{type}/{id}.{ext}", "server_side_encryption": "AES256"}),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let payload = payload_file(dir.path(), "sqs.json", &events("sqs-batch.json"));
    let dry = dir.path().join("dry");
    // WHEN the same payload is run dry and for real
    let (code, out, err) = cli(
        &aws,
        &["invoke", &payload, "--dry-run", dry.to_str().unwrap()],
        &[("SYNC_CONFIG", &cfg)],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cli(&aws, &["invoke", &payload], &[("SYNC_CONFIG", &cfg)]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), r#"{"batchItemFailures":[]}"#);
    // THEN the bucket holds exactly the dry run's files, byte for byte (the error object's
    // key always carries the upload time, so its time is left out of the comparison)
    let untimed = |k: &str| -> String {
        match k.rsplit_once('_') {
            Some((_, id)) if k.starts_with("_errors/") => format!("_errors/{id}"),
            _ => k.to_owned(),
        }
    };
    let stored: BTreeMap<String, _> = aws
        .bucket_objects("exports-1")
        .into_iter()
        .map(|(k, v)| (untimed(&k), v))
        .collect();
    let mut expected = BTreeMap::new();
    for entry in walk(&dry) {
        let key = entry
            .strip_prefix(&dry)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        expected.insert(untimed(&key), std::fs::read(&entry).unwrap());
    }
    assert_eq!(
        stored.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (key, (bytes, content_type, sse)) in &stored {
        assert_eq!(bytes, &expected[key], "{key}");
        let want = if key.ends_with(".csv") {
            "text/csv"
        } else if key.ends_with(".txt") {
            "text/plain"
        } else {
            "application/x-ndjson"
        };
        assert_eq!(content_type, want, "{key}");
        assert_eq!(sse, "AES256", "{key}");
    }
    // AND the role was assumed with the External ID and session name
    assert_eq!(
        aws.assumed_roles(),
        [(EXTERNAL_ID.to_owned(), "sync-to-s3-test".to_owned())]
    );
    assert!(!err.contains(EXTERNAL_ID));
}

#[test]
fn parquet_objects_reach_s3_through_the_lambda_runtime_path() {
    // GIVEN a Parquet mapping, with the top-level gzip that must not wrap it
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-pq");
    let cfg = config(
        "exports-pq",
        json!({
            "compression": "gzip",
            "mappings": [{
                "name": "typed",
                "subscription": "",
                "file_extension": "parquet",
                "parquet_compression": "zstd",
                "columns": {
                    "message_id": {"@path": "$.messageId"},
                    "at": {"@path": "$.timestamp"},
                    "properties": {"@path": "$.properties"}
                },
                "column_types": {"at": "timestamp", "properties": "json"}
            }]
        }),
    );
    let lambda = Lambda::start(&aws, &[("SYNC_CONFIG", &cfg)]);
    // WHEN an SQS batch arrives through the Lambda Runtime API
    let response = lambda.invoke(&events("sqs-batch.json"));
    // THEN every message is acknowledged and every data object is Parquet, with its content type
    assert!(
        failures(&response).is_empty(),
        "{response}\n{}",
        lambda.logs()
    );
    let stored = aws.bucket_objects("exports-pq");
    let data: Vec<_> = stored
        .iter()
        .filter(|(k, _)| !k.starts_with("_errors/"))
        .collect();
    assert!(!data.is_empty(), "{:?}", stored.keys().collect::<Vec<_>>());
    for (key, (bytes, content_type, _)) in data {
        assert!(key.ends_with(".parquet"), "{key}");
        assert_eq!(content_type, "application/vnd.apache.parquet", "{key}");
        assert_eq!(&bytes[..4], b"PAR1", "{key}");
        assert_eq!(&bytes[bytes.len() - 4..], b"PAR1", "{key}");
    }
    // AND the summary line counts what did not convert (a Segment timestamp always converts)
    assert!(
        lambda.logs().contains("\"conversion_errors\":0"),
        "{}",
        lambda.logs()
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_lambda_runtime_path_serves_every_payload_and_assumes_the_role_once() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-2");
    let cfg = config("exports-2", json!({}));
    let f = Lambda::start(&aws, &[("SYNC_CONFIG", &cfg)]);
    // SQS: every message acknowledged (the bad one is in the error object)
    for _ in 0..3 {
        let r = f.invoke(&events("sqs-batch.json"));
        assert_eq!(failures(&r), Vec::<String>::new(), "{r}");
    }
    // API Gateway v2 and v1: 200 with the summary, JSON content type
    for file in ["apigw-v2-batch.json", "apigw-v1-rest.json"] {
        let r = f.invoke(&events(file));
        assert_eq!(r["statusCode"], 200, "{file}: {r}");
        assert_eq!(r["headers"]["content-type"], "application/json");
        let body: Value =
            serde_json::from_str(r["body"].as_str().expect("body string")).expect("JSON body");
        assert_eq!(body["ok"], true);
    }
    // Direct invoke: the summary
    let r = f.invoke(&events("invoke-batch.json"));
    assert_eq!(r["ok"], true, "{r}");
    let stored = aws.bucket_objects("exports-2");
    let summary_keys: Vec<String> = serde_json::from_value(r["objects"].clone()).expect("keys");
    for k in &summary_keys {
        assert!(stored.contains_key(k), "{k} not in the bucket");
    }
    // One AssumeRole for six invocations: the credentials are cached.
    assert_eq!(
        aws.assumed_roles(),
        [(EXTERNAL_ID.to_owned(), "sync-to-s3-test".to_owned())]
    );
    // Logs are JSON lines with a summary and an EMF line per invocation, and no secret.
    let logs = f.logs();
    assert!(
        !logs.contains(EXTERNAL_ID) && !logs.contains(WRITE_KEY),
        "a secret was logged"
    );
    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line: {l}: {e}"))
        })
        .collect();
    let summaries = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "invocation")
        .count();
    let emf = lines
        .iter()
        .filter(|l| l["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SyncToS3")
        .count();
    assert_eq!((summaries, emf), (6, 6), "{logs}");
}

#[test]
fn cargo_lambdas_emulator_deadline_is_not_trusted_and_the_objects_are_written() {
    // cargo lambda 1.9.2's emulator sends `Lambda-Runtime-Deadline-Ms: 600000`, a duration:
    // taken as an epoch time, every upload would be abandoned as past its 1970 deadline.
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-emulator");
    let cfg = config("exports-emulator", json!({}));
    let f = Lambda::start(&aws, &[("SYNC_CONFIG", &cfg)]);
    for _ in 0..2 {
        let id = f
            .api
            .enqueue_with_deadline_header(&events("sqs-batch.json"), 600_000);
        match f.api.outcome(&id, Duration::from_secs(60)) {
            Some(Outcome::Response(body)) => {
                let r: Value = serde_json::from_str(&body).expect("JSON response");
                assert!(failures(&r).is_empty(), "{r}\n{}", f.logs());
            }
            other => panic!("expected a response, got {other:?}\n{}", f.logs()),
        }
    }
    assert!(!aws.bucket_objects("exports-emulator").is_empty());
    let warnings = f
        .logs()
        .lines()
        .filter(|l| l.contains("Lambda-Runtime-Deadline-Ms is not an epoch time"))
        .count();
    assert_eq!(warnings, 1, "logged once\n{}", f.logs());
}

/// An API Gateway 2.0 request to /v1/batch (the sample), with Basic auth for `key` if given.
fn apigw_request(key: Option<&str>) -> String {
    use base64::Engine;
    let mut request: Value = serde_json::from_str(&events("apigw-v2-batch.json")).expect("sample");
    let headers = request["headers"].as_object_mut().expect("headers");
    headers.retain(|k, _| !k.eq_ignore_ascii_case("authorization"));
    if let Some(key) = key {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
        headers.insert(
            "authorization".into(),
            Value::String(format!("Basic {basic}")),
        );
    }
    request.to_string()
}

#[test]
fn secrets_stored_by_the_cli_as_a_secure_string_are_what_the_function_checks() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-secrets");
    let param = "/sync-to-s3/test-secrets";
    let (code, out, err) = cli(
        &aws,
        &[
            "secrets",
            "--parameter",
            param,
            "--write-key",
            "wk-live-1",
            "--write-key",
            "wk-live-2",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        format!("stored SecureString {param}: write_keys (2 keys), iam_external_id (not set)")
    );
    assert!(
        !out.contains("wk-live") && !err.contains("wk-live"),
        "{out}{err}"
    );
    // Stored encrypted, as the function's role reads it (GetParameter with decryption).
    let stored = rt()
        .block_on(
            ssm(&aws)
                .get_parameter()
                .name(param)
                .with_decryption(true)
                .send(),
        )
        .expect("get parameter");
    let p = stored.parameter.expect("parameter");
    assert_eq!(
        p.r#type,
        Some(aws_sdk_ssm::types::ParameterType::SecureString)
    );
    // A second call keeps the keys and adds the External ID.
    let (code, out, err) = cli(
        &aws,
        &["secrets", "--parameter", param, "--external-id", "ext-9876"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("write_keys (2 keys), iam_external_id (set)"),
        "{out}"
    );

    // The function as deployed: no key in its environment, anonymous requests not allowed.
    let doc: Value = serde_json::from_str(&config("exports-secrets", json!({}))).expect("config");
    let mut doc = doc.as_object().expect("object").clone();
    doc.remove("write_keys");
    doc.remove("iam_external_id");
    doc.remove("iam_role_arn");
    let cfg = Value::Object(doc).to_string();
    let env = [
        ("SYNC_CONFIG", cfg.as_str()),
        ("SYNC_SECRETS_PARAMETER", param),
        ("ALLOW_ANONYMOUS", "false"),
    ];
    let f = Lambda::start(&aws, &env);
    let r = f.invoke(&apigw_request(None));
    assert_eq!(r["statusCode"], 401, "{r}");
    let r = f.invoke(&apigw_request(Some("wk-live-2")));
    assert_eq!(r["statusCode"], 200, "{r}\n{}", f.logs());
    assert!(!aws.bucket_objects("exports-secrets").is_empty());
    assert!(!f.logs().contains("wk-live") && !f.logs().contains("ext-9876"));
    let (code, out, err) = cli(&aws, &["config"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"allow_anonymous\": false") && !out.contains("wk-live"),
        "{out}"
    );

    // A secrets parameter that does not exist yet: init fails saying what to do.
    let env = [
        ("SYNC_CONFIG", cfg.as_str()),
        ("SYNC_SECRETS_PARAMETER", "/sync-to-s3/not-created"),
        ("ALLOW_ANONYMOUS", "false"),
    ];
    let f = Lambda::start(&aws, &env);
    let init = f
        .api
        .init_error(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no init error; log:\n{}", f.logs()));
    assert!(
        init.contains("write_keys")
            && init.contains("/sync-to-s3/not-created")
            && init.contains("sync-to-s3 secrets"),
        "{init}"
    );
}

#[test]
fn an_ssm_secure_string_configuration_is_used() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-3");
    let cfg = config(
        "exports-3",
        json!({"mappings": [{"name": "from-ssm", "s3_aws_folder_name": "from-ssm"}]}),
    );
    rt().block_on(
        ssm(&aws)
            .put_parameter()
            .name("/sync-to-s3/config")
            .value(&cfg)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send(),
    )
    .expect("put parameter");
    let env = [("SYNC_CONFIG_PARAMETER", "/sync-to-s3/config")];
    let (code, out, err) = cli(&aws, &["config"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"exports-3\"") && out.contains("\"***\""),
        "{out}"
    );
    for secret in [EXTERNAL_ID, WRITE_KEY] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{secret} shown"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let payload = payload_file(dir.path(), "one.json", &events("invoke-single.json"));
    let (code, out, err) = cli(&aws, &["invoke", &payload], &env);
    assert_eq!(code, 0, "{out}{err}");
    let stored = aws.bucket_objects("exports-3");
    assert!(
        !stored.is_empty() && stored.keys().all(|k| k.starts_with("from-ssm/track/")),
        "{stored:?}"
    );
}

#[test]
fn a_missing_parameter_fails_init_naming_it() {
    let aws = LocalAws::start();
    let env = [("SYNC_CONFIG_PARAMETER", "/sync-to-s3/missing")];
    let (code, _, err) = cli(&aws, &["config"], &env);
    assert_eq!(code, 2);
    assert!(
        err.contains("/sync-to-s3/missing") && err.contains("ParameterNotFound"),
        "{err}"
    );
    // As Lambda: the init error is reported and no event is consumed.
    let f = Lambda::start(&aws, &env);
    let init = f
        .api
        .init_error(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no init error; log:\n{}", f.logs()));
    assert!(init.contains("ParameterNotFound"), "{init}");
    assert!(init.contains("/sync-to-s3/missing"), "{init}");
    assert_eq!(
        f.api.next_calls(),
        0,
        "no event is consumed after a failed init"
    );
}

#[test]
fn a_missing_bucket_fails_every_message_and_answers_503() {
    let aws = LocalAws::start();
    let cfg = config("no-such-bucket-4", json!({}));
    let f = Lambda::start(&aws, &[("SYNC_CONFIG", &cfg)]);
    let payload = events("sqs-batch.json");
    let r = f.invoke(&payload);
    // Every message with something to store fails; the ones whose only event no mapping
    // takes (page, screen, group, alias here) had nothing to write and are acknowledged.
    let filtered: Vec<String> = ["page", "screen", "group", "alias"]
        .iter()
        .flat_map(|t| message_ids_with(&payload, &format!(r#""type":"{t}""#)))
        .collect();
    let want: Vec<String> = serde_json::from_str::<Value>(&payload).unwrap()["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["messageId"].as_str().unwrap().to_owned())
        .filter(|id| !filtered.contains(id))
        .collect();
    assert_eq!(filtered.len(), 4);
    assert_eq!(failures(&r), want);
    let r = f.invoke(&events("apigw-v2-batch.json"));
    assert_eq!(r["statusCode"], 503, "{r}");
    assert!(
        r["body"]
            .as_str()
            .unwrap_or_default()
            .contains("NoSuchBucket"),
        "{r}"
    );
    assert!(
        f.logs().contains("permanent"),
        "the failure class is logged"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let one = payload_file(dir.path(), "one.json", &events("invoke-single.json"));
    let (code, _, err) = cli(&aws, &["invoke", &one], &[("SYNC_CONFIG", &cfg)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("NoSuchBucket"), "{err}");
}

#[test]
fn a_malformed_role_arn_is_a_configuration_error() {
    let aws = LocalAws::start();
    let cfg = config("exports-5", json!({"iam_role_arn": "arn:aws:iam::12:role"}));
    let (code, _, err) = cli(&aws, &["config"], &[("SYNC_CONFIG", &cfg)]);
    assert_eq!(code, 2);
    assert!(err.contains("iam_role_arn"), "{err}");
}

#[test]
fn sts_access_denied_fails_the_writes_and_the_function_keeps_serving() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-6");
    aws.fault(json!({"service": "sts", "target": "AssumeRole", "action": "error", "status": 403, "code": "AccessDenied", "message": "not authorized to perform sts:AssumeRole", "times": -1}));
    let f = Lambda::start(&aws, &[("SYNC_CONFIG", &config("exports-6", json!({})))]);
    let r = f.invoke(&events("apigw-v1-rest.json"));
    assert_eq!(r["statusCode"], 503, "{r}");
    let payload = events("sqs-batch.json");
    let r = f.invoke(&payload);
    assert_reported_exactly(&r, &payload, &[r#""type":"track""#, r#""type":"identify""#]);
    aws.clear_faults();
    let r = f.invoke(&events("apigw-v1-rest.json"));
    assert_eq!(
        r["statusCode"], 200,
        "the next invocation assumes the role again: {r}"
    );
}

#[test]
fn slow_down_twice_then_success_after_retries() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-7");
    aws.fault(json!({"service": "s3", "method": "PUT", "path_regex": "/exports-7/track/", "action": "error", "status": 503, "code": "SlowDown", "message": "Please reduce your request rate.", "times": 2}));
    let f = Lambda::start(&aws, &[("SYNC_CONFIG", &config("exports-7", json!({})))]);
    let r = f.invoke(&events("sqs-batch.json"));
    assert_eq!(failures(&r), Vec::<String>::new(), "{r}");
    let puts: Vec<Value> = aws
        .log()
        .into_iter()
        .filter(|e| {
            e["method"] == "PUT"
                && e["path"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("/exports-7/track/")
        })
        .collect();
    assert_eq!(
        puts.len(),
        3,
        "two SlowDown answers, then the stored one: {puts:?}"
    );
    assert!(!f.logs().contains("object not written"), "{}", f.logs());
    assert_eq!(
        aws.bucket_objects("exports-7")
            .keys()
            .filter(|k| k.starts_with("track/"))
            .count(),
        1
    );
    let r = f.invoke(&events("apigw-v1-rest.json"));
    assert_eq!(r["statusCode"], 200, "still serving: {r}");
}

#[test]
fn a_server_error_forever_fails_exactly_the_messages_of_that_object() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-8");
    aws.fault(json!({"service": "s3", "method": "PUT", "path_regex": "/exports-8/identify/", "action": "error", "status": 500, "code": "InternalError", "message": "We encountered an internal error.", "times": -1}));
    let f = Lambda::start(&aws, &[("SYNC_CONFIG", &config("exports-8", json!({})))]);
    let payload = events("sqs-batch.json");
    let r = f.invoke(&payload);
    assert_reported_exactly(&r, &payload, &[r#""type":"identify""#]);
    // The other objects are stored.
    let stored = aws.bucket_objects("exports-8");
    assert!(stored.keys().any(|k| k.starts_with("track/")));
    assert!(!stored.keys().any(|k| k.starts_with("identify/")));
    // API Gateway: 503 so that the client retries.
    let r = f.invoke(&events("apigw-v2-batch.json"));
    assert_eq!(r["statusCode"], 503, "{r}");
    let body: Value = serde_json::from_str(r["body"].as_str().unwrap_or_default()).expect("JSON");
    assert_eq!(body["ok"], false, "{body}");
    let logs = f.logs();
    assert!(
        logs.contains("transient") && logs.contains("InternalError"),
        "{logs}"
    );
    // Error lines carry the code and the key, never a secret.
    assert!(
        !logs.contains(EXTERNAL_ID) && !logs.contains(WRITE_KEY),
        "{logs}"
    );
}

#[test]
fn an_ssm_configuration_is_read_again_after_its_ttl() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-9");
    let put = |folder: &str, overwrite: bool| {
        let cfg = config(
            "exports-9",
            json!({"config_ttl_seconds": 1, "mappings": [{"s3_aws_folder_name": folder}]}),
        );
        rt().block_on(
            ssm(&aws)
                .put_parameter()
                .name("/sync-to-s3/ttl")
                .value(cfg)
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .overwrite(overwrite)
                .send(),
        )
        .expect("put parameter");
    };
    put("first", false);
    let f = Lambda::start(&aws, &[("SYNC_CONFIG_PARAMETER", "/sync-to-s3/ttl")]);
    assert_eq!(f.invoke(&events("invoke-single.json"))["ok"], true);
    // GIVEN a new document in the parameter, and then one that does not validate
    put("second", true);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(f.invoke(&events("invoke-single.json"))["ok"], true);
    rt().block_on(
        ssm(&aws)
            .put_parameter()
            .name("/sync-to-s3/ttl")
            .value(r#"{"s3_aws_bucket_name": "exports-9", "compresion": "gzip"}"#)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send(),
    )
    .expect("put parameter");
    std::thread::sleep(Duration::from_millis(1100));
    let r = f.invoke(&events("invoke-single.json"));
    // THEN the second document took effect without a restart, and the invalid one was refused
    // (logged, naming the key) while the function went on with the last good one
    assert_eq!(r["ok"], true, "{r}");
    let stored = aws.bucket_objects("exports-9");
    let folders: std::collections::BTreeSet<&str> =
        stored.keys().filter_map(|k| k.split('/').next()).collect();
    assert_eq!(folders, ["first", "second"].into_iter().collect());
    assert_eq!(
        stored.keys().filter(|k| k.starts_with("second/")).count(),
        2
    );
    assert!(f.logs().contains("compresion"), "{}", f.logs());
}

/// `examples/panicking_function.rs` as a plain binary. `cargo test` builds examples only in test
/// mode, so it is built here when missing, with the cargo and profile this test was built with.
fn panicking_function() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let path = profile_dir.join("examples").join("panicking_function");
    if !path.is_file() {
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "--quiet", "--example", "panicking_function"])
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(
            status.success(),
            "cargo build --example panicking_function failed"
        );
    }
    assert!(
        path.is_file(),
        "{} is missing after the build",
        path.display()
    );
    path
}

#[test]
fn a_panic_fails_its_invocation_only_and_the_runtime_serves_the_next() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-10");
    let f = Lambda::start_binary(
        &panicking_function(),
        &aws,
        &[("SYNC_CONFIG", &config("exports-10", json!({})))],
    );
    // GIVEN a payload that makes the service panic (the test binary's trigger)
    let outcome = f
        .api
        .invoke(r#"{"__panic__": true}"#, Duration::from_secs(30));
    // THEN that invocation fails with an error...
    assert!(
        matches!(outcome, Some(Outcome::Error(_))),
        "{outcome:?}\n{}",
        f.logs()
    );
    // ...AND the same process serves the next one
    let r = f.invoke(&events("invoke-single.json"));
    assert_eq!(r["ok"], true, "{r}");
    assert!(f.logs().contains("panic"), "the panic is logged");
}

#[test]
fn the_configured_acl_is_sent_with_every_object() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-11");
    let cfg = config("exports-11", json!({"acl": "public-read"}));
    let dir = tempfile::tempdir().expect("tempdir");
    let one = payload_file(dir.path(), "one.json", &events("invoke-single.json"));
    let (code, out, err) = cli(&aws, &["invoke", &one], &[("SYNC_CONFIG", &cfg)]);
    assert_eq!(code, 0, "{out}{err}");
    let keys: Vec<String> = aws.bucket_objects("exports-11").into_keys().collect();
    assert!(!keys.is_empty());
    for key in keys {
        let acl = rt()
            .block_on(
                aws.s3_client()
                    .get_object_acl()
                    .bucket("exports-11")
                    .key(&key)
                    .send(),
            )
            .expect("get ACL");
        let public_read = acl.grants().iter().any(|g| {
            g.permission().map(|p| p.as_str()) == Some("READ")
                && g.grantee()
                    .and_then(|e| e.uri())
                    .is_some_and(|u| u.ends_with("/AllUsers"))
        });
        assert!(public_read, "{key}: {:?}", acl.grants());
    }
}

/// Issue 6: the faults AWS really produces, one per test, each followed by a clean invocation
/// on the same process to show that it is still serving.
fn puts_to(aws: &LocalAws, prefix: &str) -> usize {
    aws.log()
        .iter()
        .filter(|e| e["method"] == "PUT" && e["path"].as_str().unwrap_or_default().contains(prefix))
        .count()
}

#[test]
fn s3_service_unavailable_and_a_connection_reset_are_retried() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-12");
    aws.fault(json!({"service": "s3", "method": "PUT", "path_regex": "/exports-12/track/", "action": "error", "status": 503, "code": "ServiceUnavailable", "message": "Service is unable to handle request.", "times": 1}));
    aws.fault(json!({"service": "s3", "method": "PUT", "path_regex": "/exports-12/identify/", "action": "reset", "times": 1}));
    let f = Lambda::start(&aws, &[("SYNC_CONFIG", &config("exports-12", json!({})))]);
    let r = f.invoke(&events("sqs-batch.json"));
    assert_eq!(failures(&r), Vec::<String>::new(), "{r}\n{}", f.logs());
    assert_eq!(puts_to(&aws, "/exports-12/track/"), 2);
    assert_eq!(puts_to(&aws, "/exports-12/identify/"), 2);
    assert!(!f.logs().contains("object not written"), "{}", f.logs());
    let stored = aws.bucket_objects("exports-12");
    assert_eq!(stored.keys().filter(|k| k.starts_with("track/")).count(), 1);
    assert_eq!(
        stored.keys().filter(|k| k.starts_with("identify/")).count(),
        1
    );
    let r = f.invoke(&events("apigw-v1-rest.json"));
    assert_eq!(r["statusCode"], 200, "still serving: {r}");
}

#[test]
fn a_stalled_upload_times_out_fails_its_messages_and_the_function_serves_on() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-13");
    aws.fault(json!({"service": "s3", "method": "PUT", "path_regex": "/exports-13/identify/", "action": "stall", "delay_ms": 60000, "status": 500, "code": "InternalError", "times": -1}));
    let f = Lambda::start(
        &aws,
        &[
            ("SYNC_CONFIG", &config("exports-13", json!({}))),
            ("SYNC_OPERATION_TIMEOUT_MS", "2500"),
        ],
    );
    let payload = events("sqs-batch.json");
    let started = std::time::Instant::now();
    let r = f.invoke(&payload);
    let took = started.elapsed();
    assert_reported_exactly(&r, &payload, &[r#""type":"identify""#]);
    // The operation timeout, not the 60 s stall, bounds the invocation.
    assert!(took < Duration::from_secs(20), "{took:?}");
    let logs = f.logs();
    assert!(
        logs.contains("timeout") || logs.contains("timed out"),
        "{logs}"
    );
    assert!(logs.contains("transient"), "{logs}");
    let r = f.invoke(&events("apigw-v2-batch.json"));
    assert_eq!(r["statusCode"], 503, "the stall still holds: {r}");
    aws.clear_faults();
    let r = f.invoke(&payload);
    assert_eq!(failures(&r), Vec::<String>::new(), "{r}");
}

#[test]
fn s3_access_denied_is_permanent_not_retried_and_named_in_the_logs() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-14");
    aws.fault(json!({"service": "s3", "method": "PUT", "path_regex": "/exports-14/", "action": "error", "status": 403, "code": "AccessDenied", "message": "Access Denied", "times": -1}));
    let f = Lambda::start(&aws, &[("SYNC_CONFIG", &config("exports-14", json!({})))]);
    let payload = events("sqs-batch.json");
    let r = f.invoke(&payload);
    // Every message that had a row or an error record to store; the page, screen, group and
    // alias events are taken by no mapping of the sample configuration (nothing to write).
    assert_reported_exactly(&r, &payload, &[r#""type":"track""#, r#""type":"identify""#]);
    let objects = f.logs().matches("AccessDenied").count();
    assert!(objects >= 1, "{}", f.logs());
    assert!(f.logs().contains("permanent"), "{}", f.logs());
    // One PUT per object: AccessDenied is not retried.
    let puts = puts_to(&aws, "/exports-14/");
    let distinct: std::collections::BTreeSet<String> = aws
        .log()
        .iter()
        .filter(|e| e["method"] == "PUT")
        .filter_map(|e| e["path"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(puts, distinct.len(), "no retries of AccessDenied");
    let r = f.invoke(&events("apigw-v1-rest.json"));
    assert_eq!(r["statusCode"], 503, "{r}");
}

#[test]
fn sts_throttling_is_retried() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-15");
    aws.fault(json!({"service": "sts", "target": "AssumeRole", "action": "error", "status": 400, "code": "Throttling", "message": "Rate exceeded", "times": 1}));
    let f = Lambda::start(&aws, &[("SYNC_CONFIG", &config("exports-15", json!({})))]);
    let r = f.invoke(&events("apigw-v1-rest.json"));
    assert_eq!(r["statusCode"], 200, "{r}\n{}", f.logs());
    let calls = aws
        .log()
        .iter()
        .filter(|e| e["target"] == "AssumeRole")
        .count();
    assert_eq!(calls, 2, "one throttled, one answered");
}

#[test]
fn ssm_throttling_at_init_is_retried_and_on_a_later_read_keeps_the_last_good_config() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-16");
    let cfg = config(
        "exports-16",
        json!({"config_ttl_seconds": 1, "mappings": [{"s3_aws_folder_name": "ssm"}]}),
    );
    rt().block_on(
        ssm(&aws)
            .put_parameter()
            .name("/sync-to-s3/throttled")
            .value(cfg)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send(),
    )
    .expect("put parameter");
    let throttle = |times: i64| {
        aws.fault(json!({"service": "ssm", "target": "AmazonSSM.GetParameter", "action": "error", "status": 400, "code": "ThrottlingException", "message": "Rate exceeded", "times": times}));
    };
    throttle(1);
    let f = Lambda::start(&aws, &[("SYNC_CONFIG_PARAMETER", "/sync-to-s3/throttled")]);
    assert_eq!(
        f.invoke(&events("invoke-single.json"))["ok"],
        true,
        "{}",
        f.logs()
    );
    // GIVEN SSM throttling every read once the TTL has passed
    throttle(-1);
    std::thread::sleep(Duration::from_millis(1100));
    let r = f.invoke(&events("invoke-single.json"));
    // THEN the invocation goes on with the configuration it has, and says why in the logs
    assert_eq!(r["ok"], true, "{r}");
    let logs = f.logs();
    assert!(logs.contains("ThrottlingException"), "{logs}");
    assert!(logs.contains("keeping the previous one"), "{logs}");
    let stored = aws.bucket_objects("exports-16");
    assert_eq!(stored.keys().filter(|k| k.starts_with("ssm/")).count(), 2);
}

#[test]
fn an_idle_connection_closed_by_s3_between_invocations_is_not_an_error() {
    // GIVEN a server that keeps connections alive and closes them after 1 s idle (S3: ~20 s)
    let aws = LocalAws::start_with(&["--idle-timeout", "1.0"]);
    create_bucket(&aws, "exports-17");
    let f = Lambda::start(&aws, &[("SYNC_CONFIG", &config("exports-17", json!({})))]);
    let s3_ports = |aws: &LocalAws| -> std::collections::BTreeSet<u64> {
        let ports = aws
            .log()
            .iter()
            .filter(|e| e["service"] == "s3")
            .filter_map(|e| {
                let p = &e["client_port"];
                p.as_u64()
                    .or_else(|| p.as_str().and_then(|p| p.parse().ok()))
            })
            .collect();
        aws.reset_log();
        ports
    };
    let invoke = || {
        let r = f.invoke(&events("apigw-v2-batch.json"));
        assert_eq!(r["statusCode"], 200, "{r}\n{}", f.logs());
    };
    invoke();
    let first = s3_ports(&aws);
    // WHEN the next invocation comes at once, and the one after that once the server has
    // closed the idle connections
    std::thread::sleep(Duration::from_millis(200));
    invoke();
    let second = s3_ports(&aws);
    std::thread::sleep(Duration::from_millis(2500));
    invoke();
    let third = s3_ports(&aws);
    // THEN every invocation succeeded (above); the second reused a kept-alive connection and
    // the third, finding them closed, opened new ones without an error
    assert!(
        !first.is_disjoint(&second),
        "no reuse: {first:?} then {second:?}"
    );
    assert!(
        second.is_disjoint(&third),
        "reused a closed connection: {second:?} then {third:?}"
    );
    assert!(aws.bucket_objects("exports-17").len() >= 3);
}

#[test]
fn with_s3_too_slow_for_the_deadline_the_unwritten_messages_are_reported_in_time() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-18");
    // Identify objects take 20 s to store; the invocation has 4 s.
    aws.fault(json!({"service": "s3", "method": "PUT", "path_regex": "/exports-18/identify/", "action": "delay", "delay_ms": 20000, "times": 1}));
    let f = Lambda::start(&aws, &[("SYNC_CONFIG", &config("exports-18", json!({})))]);
    let payload = events("sqs-batch.json");
    let started = std::time::Instant::now();
    let outcome = f.api.invoke(&payload, Duration::from_secs(4));
    let took = started.elapsed();
    let Some(Outcome::Response(body)) = outcome else {
        panic!(
            "expected a response before the deadline, got {outcome:?}\n{}",
            f.logs()
        );
    };
    assert!(
        took < Duration::from_secs(4),
        "answered after the deadline: {took:?}"
    );
    let r: Value = serde_json::from_str(&body).expect("JSON");
    assert_reported_exactly(&r, &payload, &[r#""type":"identify""#]);
    assert!(
        f.logs()
            .contains("abandoned: the invocation deadline is too near"),
        "{}",
        f.logs()
    );
    // The rest is stored, and the process serves the next invocation.
    assert!(aws
        .bucket_objects("exports-18")
        .keys()
        .any(|k| k.starts_with("track/")));
    let r = f.invoke(&events("invoke-single.json"));
    assert_eq!(r["ok"], true, "{r}");
}

#[test]
fn sse_kms_sends_the_algorithm_and_the_key_id_with_every_object() {
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-19");
    let key_id = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let cfg = config(
        "exports-19",
        json!({"server_side_encryption": "aws:kms", "ssekms_key_id": key_id}),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let one = payload_file(dir.path(), "batch.json", &events("invoke-batch.json"));
    let (code, out, err) = cli(&aws, &["invoke", &one], &[("SYNC_CONFIG", &cfg)]);
    assert_eq!(code, 0, "{out}{err}");
    let objects = aws.bucket_objects("exports-19");
    assert!(!objects.is_empty());
    for key in objects.keys() {
        let head = rt()
            .block_on(
                aws.s3_client()
                    .head_object()
                    .bucket("exports-19")
                    .key(key)
                    .send(),
            )
            .expect("head object");
        assert_eq!(
            head.server_side_encryption().map(|s| s.as_str()),
            Some("aws:kms"),
            "{key}"
        );
        assert_eq!(head.ssekms_key_id(), Some(key_id), "{key}");
    }
}

#[test]
fn an_api_gateway_request_whose_upload_hangs_gets_503_before_api_gateway_gives_up() {
    // GIVEN S3 that holds every PUT for 45 s, SDK timeouts longer than that, and Lambda's own
    // deadline 60 s away: only API Gateway's 29 s limit (SPEC 5.0) can cut the request short.
    let aws = LocalAws::start();
    create_bucket(&aws, "exports-20");
    aws.fault(json!({"service": "s3", "method": "PUT", "path_regex": "/exports-20/", "action": "stall", "delay_ms": 45000, "times": -1}));
    let f = Lambda::start(
        &aws,
        &[
            ("SYNC_CONFIG", &config("exports-20", json!({}))),
            ("SYNC_OPERATION_TIMEOUT_MS", "120000"),
            ("SYNC_ATTEMPT_TIMEOUT_MS", "100000"),
        ],
    );
    let started = std::time::Instant::now();
    let outcome = f
        .api
        .invoke(&events("apigw-v2-batch.json"), Duration::from_secs(60));
    let took = started.elapsed();
    // THEN the client gets a 503 (so it retries) before API Gateway's 30 s, and nothing is
    // acknowledged as written.
    let Some(Outcome::Response(body)) = outcome else {
        panic!("expected a response, got {outcome:?}\n{}", f.logs());
    };
    assert!(
        took < Duration::from_secs(29),
        "answered after 29 s: {took:?}"
    );
    let r: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(r["statusCode"], 503, "{r}");
    assert_eq!(r["headers"]["access-control-allow-origin"], "*", "{r}");
    let answer: Value = serde_json::from_str(r["body"].as_str().expect("body")).expect("JSON body");
    assert_eq!(answer["ok"], false, "{answer}");
    assert!(
        f.logs()
            .contains("abandoned: the invocation deadline is too near"),
        "{}",
        f.logs()
    );
    assert!(aws.bucket_objects("exports-20").is_empty());
}
