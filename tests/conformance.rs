//! Conformance runner: runs the real `sync-to-s3` binary on every case of the shared conformance set
//! (`../shared/conformance`, or the folder named by `SYNC_CONFORMANCE_DIR`) as a user would,
//! `sync-to-s3 invoke <case>/event.json --dry-run <fresh dir>`, with nothing in the environment but
//! `PATH`, `SYNC_CONFIG` (the case's `config.json`, verbatim) and `AWS_REGION=us-east-1`, and checks
//! what the case's `expected.json` asks (see the folder's README.md): the exit status; for a
//! configuration error, that nothing was written and the output names the offending keys; otherwise
//! the response printed as the last JSON document on stdout (SQS batch failures, the invoke summary,
//! or the API Gateway response with its JSON body) and every file under the dry-run directory, none
//! more: its key against an anchored regex, `{id}` against the SHA-256 of the stored bytes, gzip or
//! not, and its content (rows byte for byte, rejected items as NDJSON lines in any order). In every
//! case the configuration's secrets must not appear on stdout or stderr. Each case is one test, named
//! after its directory; to run one case, or a few, filter by a substring of the name:
//! `cargo test --test conformance -- 26-batch` (or `SYNC_CONFORMANCE_ONLY=26-batch`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;
use regex::Regex;
use serde_json::Value;
use sha2::{Digest, Sha256};

const BINARY: &str = env!("CARGO_BIN_EXE_sync-to-s3");
const DEFAULT_CONFORMANCE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance");
/// A run taking longer than this is killed and fails its case, so that a hang cannot stall CI.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
const CONFIG_ERROR_EXIT_STATUS: i32 = 2;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The summary fields compared by value; `objects` is compared as a multiset of key regexes.
const SUMMARY_FIELDS: [&str; 5] = ["ok", "events", "rows", "filtered", "rejected"];
/// The keys of an NDJSON rejected-item line, sorted.
const ERROR_LINE_KEYS: [&str; 4] = ["body", "index", "reason", "source"];
/// A write key shorter than this may occur in output by chance, so it is not looked for.
const MIN_DISTINCTIVE_SECRET_CHARS: usize = 8;
/// How much of stdout and stderr a failure message quotes.
const OUTPUT_EXCERPT_CHARS: usize = 1500;
/// How much of a long line a failure message quotes.
const QUOTE_CHARS: usize = 200;
/// How many bytes of content a difference shows on each side of the first differing byte.
const DIFF_CONTEXT_BYTES: usize = 60;

/// One test per case (libtest-mimic), named after its directory, so that `cargo test` counts
/// and names each failing case; `cargo test --test conformance -- 26-batch` runs the cases whose
/// name contains `26-batch`.
fn main() -> std::process::ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let root = conformance_dir();
    let cases = case_dirs(&root);
    if cases.is_empty() {
        eprintln!(
            "no conformance case directory under {} (SYNC_CONFORMANCE_ONLY={:?})",
            root.display(),
            std::env::var("SYNC_CONFORMANCE_ONLY").ok(),
        );
        return std::process::ExitCode::FAILURE;
    }
    let trials = cases
        .into_iter()
        .map(|case| {
            libtest_mimic::Trial::test(case_name(&case), move || {
                let problems = run_case(&case);
                if problems.is_empty() {
                    return Ok(());
                }
                let mut report = format!("binary {BINARY}, case {}:\n", case.display());
                for problem in &problems {
                    let _ = writeln!(report, "  - {}", problem.replace('\n', "\n    "));
                }
                Err(report.into())
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// What one run of the binary produced.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    timed_out: bool,
}

/// Why an actual object does not fit an expected one; the closest candidate is the one reported.
struct Mismatch {
    /// Higher is closer: a right content with a wrong `{id}` beats a content differing late, which
    /// beats one differing early, which beats a gzip problem.
    closeness: usize,
    message: String,
}

impl Mismatch {
    fn new(closeness: usize, message: impl Into<String>) -> Self {
        Self {
            closeness,
            message: message.into(),
        }
    }
}

fn conformance_dir() -> PathBuf {
    let dir = std::env::var_os("SYNC_CONFORMANCE_DIR")
        .map_or_else(|| PathBuf::from(DEFAULT_CONFORMANCE_DIR), PathBuf::from);
    assert!(
        dir.is_dir(),
        "conformance folder {} not found; set SYNC_CONFORMANCE_DIR to the folder holding the case \
         directories",
        dir.display(),
    );
    dir
}

/// The case directories under `root`, sorted, kept by `SYNC_CONFORMANCE_ONLY` when it is set.
fn case_dirs(root: &Path) -> Vec<PathBuf> {
    let only = std::env::var("SYNC_CONFORMANCE_ONLY")
        .ok()
        .filter(|filter| !filter.is_empty());
    let entries = fs::read_dir(root).unwrap_or_else(|error| {
        panic!("cannot list conformance folder {}: {error}", root.display())
    });
    let mut cases: Vec<PathBuf> = entries
        .map(|entry| {
            entry
                .unwrap_or_else(|error| panic!("cannot list {}: {error}", root.display()))
                .path()
        })
        .filter(|path| path.is_dir() && !case_name(path).starts_with('.'))
        .filter(|path| {
            only.as_deref()
                .is_none_or(|filter| case_name(path).contains(filter))
        })
        .collect();
    cases.sort();
    cases
}

fn case_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// Runs one case and returns its problems, empty when it passes.
fn run_case(dir: &Path) -> Vec<String> {
    let config_text = match fs::read_to_string(dir.join("config.json")) {
        Ok(text) => text,
        Err(error) => return vec![format!("cannot read config.json: {error}")],
    };
    let expected: Value = match fs::read_to_string(dir.join("expected.json"))
        .map_err(|error| error.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|error| error.to_string()))
    {
        Ok(expected) => expected,
        Err(error) => return vec![format!("cannot read expected.json: {error}")],
    };
    let event = dir.join("event.json");
    if !event.is_file() {
        return vec![format!("no event.json in {}", dir.display())];
    }

    let dry_run = tempfile::tempdir().expect("create a temporary dry-run directory");
    let run = run_binary(&event, dry_run.path(), &config_text);
    if run.timed_out {
        // Whatever else it left behind would only repeat that it did not finish.
        return vec![format!(
            "the binary did not finish within {} s and was killed\n{}",
            RUN_TIMEOUT.as_secs(),
            output_excerpt(&run)
        )];
    }
    let mut problems = Vec::new();
    check_secrets(&config_text, &run, &mut problems);
    let files = match list_files(dry_run.path()) {
        Ok(files) => files,
        Err(error) => {
            problems.push(error);
            return problems;
        }
    };

    if expected["config_error"] == Value::Bool(true) {
        check_config_error(&expected, &run, &files, &mut problems);
    } else {
        match expected["exit_status"].as_i64() {
            Some(status) => check_exit_status(status, &run, &mut problems),
            None => problems.push("expected.json has no integer exit_status".to_owned()),
        }
        check_response(&expected, &run, &files, &mut problems);
        check_objects(&expected["objects"], dry_run.path(), &files, &mut problems);
    }
    problems
}

/// Runs `sync-to-s3 invoke EVENT --dry-run DIR` with a minimal environment, killing it after
/// [`RUN_TIMEOUT`].
fn run_binary(event: &Path, dry_run_dir: &Path, config_text: &str) -> Run {
    let mut command = Command::new(BINARY);
    command
        .arg("invoke")
        .arg(event)
        .arg("--dry-run")
        .arg(dry_run_dir)
        .env_clear()
        .env("SYNC_CONFIG", config_text)
        .env("AWS_REGION", "us-east-1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start the binary {BINARY}: {error}"));
    // Both pipes are drained while the child runs, so that a full pipe cannot block it.
    let stdout = drain(child.stdout.take().expect("the child's stdout is piped"));
    let stderr = drain(child.stderr.take().expect("the child's stderr is piped"));

    let deadline = Instant::now() + RUN_TIMEOUT;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                // It may have exited in the meantime; `wait` below settles it either way.
                let _ = child.kill();
                break child
                    .wait()
                    .unwrap_or_else(|error| panic!("cannot wait for {BINARY}: {error}"));
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(error) => panic!("cannot wait for {BINARY}: {error}"),
        }
    };
    Run {
        status,
        stdout: collect(stdout, "stdout"),
        stderr: collect(stderr, "stderr"),
        timed_out,
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        // A read error only shortens the captured output, which the checks then report.
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

fn collect(reader: JoinHandle<Vec<u8>>, stream: &str) -> String {
    let bytes = reader
        .join()
        .unwrap_or_else(|_| panic!("the thread reading the binary's {stream} panicked"));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Every regular file under `root`, as its path relative to `root` with `/` separators, sorted.
fn list_files(root: &Path) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir)
            .map_err(|error| format!("cannot list dry-run directory {}: {error}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|error| format!("cannot list {}: {error}", dir.display()))?;
            let kind = entry
                .file_type()
                .map_err(|error| format!("cannot stat {}: {error}", entry.path().display()))?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                keys.push(relative_key(root, &entry.path()));
            } else {
                return Err(format!(
                    "dry-run output {} is neither a regular file nor a directory",
                    relative_key(root, &entry.path())
                ));
            }
        }
    }
    keys.sort();
    Ok(keys)
}

fn relative_key(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// SPEC 2.1: `iam_external_id` and the distinctive `write_keys` never reach the output.
fn check_secrets(config_text: &str, run: &Run, problems: &mut Vec<String>) {
    // A case whose config.json is not JSON carries no secret to look for.
    let Ok(config) = serde_json::from_str::<Value>(config_text) else {
        return;
    };
    let external_id = config
        .get("iam_external_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(|id| ("the iam_external_id", id));
    let write_keys = config
        .get("write_keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|key| key.chars().count() >= MIN_DISTINCTIVE_SECRET_CHARS)
        .map(|key| ("a write_keys entry", key));
    for (setting, secret) in external_id.into_iter().chain(write_keys) {
        for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            if text.contains(secret) {
                problems.push(format!(
                    "secret leak: {setting} ({secret:?}) appears on {stream}"
                ));
            }
        }
    }
}

fn check_exit_status(expected: i64, run: &Run, problems: &mut Vec<String>) {
    if run.status.code().map(i64::from) != Some(expected) {
        problems.push(format!(
            "exit status: expected {expected}, got {}\n{}",
            describe_status(run.status),
            output_excerpt(run)
        ));
    }
}

/// A configuration error: exit status 2, nothing written, every `error_mentions` entry named.
fn check_config_error(expected: &Value, run: &Run, files: &[String], problems: &mut Vec<String>) {
    check_exit_status(CONFIG_ERROR_EXIT_STATUS.into(), run, problems);
    if !files.is_empty() {
        problems.push(format!(
            "a configuration error must write nothing, but the dry-run directory holds {files:?}"
        ));
    }
    let Some(mentions) = expected["error_mentions"].as_array() else {
        problems.push("expected.json has no error_mentions list".to_owned());
        return;
    };
    let output = format!("{}\n{}", run.stdout, run.stderr);
    for mention in mentions {
        let named = match mention {
            Value::String(word) => output.contains(word.as_str()),
            Value::Array(words) => words
                .iter()
                .any(|word| word.as_str().is_some_and(|word| output.contains(word))),
            other => {
                problems.push(format!("expected.json: bad error_mentions entry {other}"));
                continue;
            }
        };
        if !named {
            problems.push(format!(
                "the configuration error does not mention {mention}\n{}",
                output_excerpt(run)
            ));
        }
    }
}

fn check_response(expected: &Value, run: &Run, files: &[String], problems: &mut Vec<String>) {
    let Some(actual) = last_json_document(&run.stdout) else {
        problems.push(format!(
            "no JSON document (the response) on stdout\n{}",
            output_excerpt(run)
        ));
        return;
    };
    let wanted = &expected["response"];
    match expected["response_kind"].as_str() {
        Some("sqs") => {
            if actual != *wanted {
                problems.push(format!("SQS response: expected {wanted}, got {actual}"));
            }
        }
        Some("invoke") => check_summary("summary", wanted, &actual, files, problems),
        Some("apigw") => check_apigw_response(wanted, &actual, files, problems),
        other => problems.push(format!("expected.json: unknown response_kind {other:?}")),
    }
}

/// The last JSON document on stdout, whether documents are compact or pretty-printed, and whether
/// or not other text precedes them.
fn last_json_document(stdout: &str) -> Option<Value> {
    last_of_json_stream(stdout).or_else(|| {
        // Other text precedes the response: take the shortest suffix, starting at a line, that is
        // nothing but JSON documents.
        let line_starts =
            std::iter::once(0).chain(stdout.match_indices('\n').map(|(at, _)| at + 1));
        line_starts
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .find_map(|start| last_of_json_stream(&stdout[start..]))
    })
}

/// The last document of `text` when `text` is a stream of JSON documents and nothing else.
fn last_of_json_stream(text: &str) -> Option<Value> {
    let mut last = None;
    for document in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        last = Some(document.ok()?);
    }
    last
}

/// An API Gateway response: status, the expected headers, a JSON `Content-Type`, and a body
/// that is JSON text (a 204 has no body and needs no `Content-Type`).
fn check_apigw_response(
    wanted: &Value,
    actual: &Value,
    files: &[String],
    problems: &mut Vec<String>,
) {
    if actual.get("statusCode") != Some(&wanted["statusCode"]) {
        problems.push(format!(
            "API Gateway statusCode: expected {}, got {}",
            wanted["statusCode"],
            describe(actual.get("statusCode"))
        ));
    }
    check_headers(&wanted["headers"], actual, problems);
    let status = wanted["statusCode"].as_u64().unwrap_or(0);
    if status == 204 {
        match actual.get("body") {
            None | Some(Value::Null) => {}
            Some(Value::String(body)) if body.is_empty() => {}
            other => problems.push(format!(
                "API Gateway 204 must have no body (absent, null or \"\"), got {}",
                describe(other)
            )),
        }
        if !files.is_empty() {
            problems.push(format!(
                "API Gateway 204 must write nothing, but the dry-run directory holds {files:?}"
            ));
        }
        return;
    }
    if !has_json_content_type(actual) {
        problems.push(format!(
            "API Gateway response has no Content-Type header starting with application/json \
             (headers: {}, multiValueHeaders: {})",
            describe(actual.get("headers")),
            describe(actual.get("multiValueHeaders"))
        ));
    }
    let body = match actual.get("body") {
        Some(Value::String(body)) => body,
        other => {
            problems.push(format!(
                "API Gateway body must be a JSON string holding JSON text, got {}",
                describe(other)
            ));
            return;
        }
    };
    let body: Value = match serde_json::from_str(body) {
        Ok(body) => body,
        Err(error) => {
            let encoded = if actual.get("isBase64Encoded") == Some(&Value::Bool(true)) {
                " (isBase64Encoded is true; the body must be plain JSON text)"
            } else {
                ""
            };
            problems.push(format!(
                "API Gateway body is not JSON{encoded}: {error}: {body:?}"
            ));
            return;
        }
    };
    if wanted["body"].is_null() {
        if status >= 400 && !files.is_empty() {
            problems.push(format!(
                "API Gateway {status} must write nothing, but the dry-run directory holds {files:?}"
            ));
        }
    } else {
        check_summary("body", &wanted["body"], &body, files, problems);
    }
}

/// Every header of `wanted` (name case-insensitive, value exact but for surrounding white
/// space) must be in the response's `headers` or `multiValueHeaders`.
fn check_headers(wanted: &Value, response: &Value, problems: &mut Vec<String>) {
    let Some(wanted) = wanted.as_object() else {
        return;
    };
    for (name, value) in wanted {
        let want = value.as_str().unwrap_or_default().trim();
        let single = response
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| v.as_str());
        let multi = response
            .get("multiValueHeaders")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| v.as_array())
            .flatten()
            .filter_map(Value::as_str);
        let found: Vec<&str> = single.chain(multi).collect();
        if !found.iter().any(|v| v.trim() == want) {
            problems.push(format!(
                "API Gateway response header {name}: expected {want:?}, got {found:?}"
            ));
        }
    }
}

fn has_json_content_type(response: &Value) -> bool {
    let is_json = |value: &Value| {
        value.as_str().is_some_and(|text| {
            text.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
    };
    let headers_named = |field: &str| {
        response
            .get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, value)| value)
            .collect::<Vec<_>>()
    };
    headers_named("headers").into_iter().any(is_json)
        || headers_named("multiValueHeaders")
            .into_iter()
            .filter_map(Value::as_array)
            .flatten()
            .any(is_json)
}

/// A summary (`invoke` response or 200 body): the counts by value, `objects` as keys matching the
/// expected regexes one to one, in any order, each naming a file that was written.
fn check_summary(
    context: &str,
    wanted: &Value,
    actual: &Value,
    files: &[String],
    problems: &mut Vec<String>,
) {
    let Some(actual) = actual.as_object() else {
        problems.push(format!("{context}: expected a JSON object, got {actual}"));
        return;
    };
    for field in SUMMARY_FIELDS {
        if actual.get(field) != Some(&wanted[field]) {
            problems.push(format!(
                "{context}.{field}: expected {}, got {}",
                wanted[field],
                describe(actual.get(field))
            ));
        }
    }

    let Some(patterns) = wanted["objects"].as_array() else {
        problems.push(format!("expected.json: {context}.objects is not a list"));
        return;
    };
    let patterns: Vec<Regex> = match patterns.iter().map(compile_key_regex).collect() {
        Ok(patterns) => patterns,
        Err(error) => {
            problems.push(error);
            return;
        }
    };
    let keys = actual
        .get("objects")
        .and_then(Value::as_array)
        .and_then(|keys| {
            keys.iter()
                .map(Value::as_str)
                .collect::<Option<Vec<&str>>>()
        });
    let Some(keys) = keys else {
        problems.push(format!(
            "{context}.objects: expected a list of keys, got {}",
            describe(actual.get("objects"))
        ));
        return;
    };

    if keys.len() != patterns.len() {
        problems.push(format!(
            "{context}.objects: expected {} keys, got {}: {keys:?}",
            patterns.len(),
            keys.len()
        ));
    }
    let fits: Vec<Vec<bool>> = patterns
        .iter()
        .map(|pattern| keys.iter().map(|key| pattern.is_match(key)).collect())
        .collect();
    let assignment = max_matching(&fits, keys.len());
    let mut used = vec![false; keys.len()];
    for (pattern, key) in patterns.iter().zip(&assignment) {
        match key {
            Some(key) => used[*key] = true,
            None => problems.push(format!(
                "{context}.objects: no key left to match {pattern} (keys: {keys:?})"
            )),
        }
    }
    for (key, used) in keys.iter().zip(used) {
        if !used {
            problems.push(format!(
                "{context}.objects: key {key:?} matches no expected regex left"
            ));
        }
    }
    for key in &keys {
        if !files.iter().any(|file| file == key) {
            problems.push(format!(
                "{context}.objects lists {key:?}, but no such file was written (files: {files:?})"
            ));
        }
    }
}

/// The files under the dry-run directory against `expected.objects`: one to one, in any order,
/// each expected object fitting a distinct file by key and content.
fn check_objects(wanted: &Value, root: &Path, files: &[String], problems: &mut Vec<String>) {
    let Some(wanted) = wanted.as_array() else {
        problems.push("expected.json: objects is not a list".to_owned());
        return;
    };
    let patterns: Vec<Regex> = match wanted
        .iter()
        .map(|object| compile_key_regex(&object["key_regex"]))
        .collect()
    {
        Ok(patterns) => patterns,
        Err(error) => {
            problems.push(error);
            return;
        }
    };
    let mut stored = Vec::with_capacity(files.len());
    for key in files {
        match fs::read(root.join(key)) {
            Ok(bytes) => stored.push(bytes),
            Err(error) => {
                problems.push(format!("cannot read written file {key}: {error}"));
                return;
            }
        }
    }

    // verdicts[i][j]: None when file j's key does not match object i's regex, else whether it fits.
    let verdicts: Vec<Vec<Option<Result<(), Mismatch>>>> = wanted
        .iter()
        .zip(&patterns)
        .map(|(object, pattern)| {
            files
                .iter()
                .zip(&stored)
                .map(|(key, bytes)| {
                    pattern
                        .is_match(key)
                        .then(|| check_object(object, pattern, key, bytes))
                })
                .collect()
        })
        .collect();
    let fits: Vec<Vec<bool>> = verdicts
        .iter()
        .map(|row| {
            row.iter()
                .map(|verdict| matches!(verdict, Some(Ok(()))))
                .collect()
        })
        .collect();
    let assignment = max_matching(&fits, files.len());

    if wanted.len() != files.len() {
        problems.push(format!(
            "objects: expected {} file(s), the dry-run directory holds {}: {files:?}",
            wanted.len(),
            files.len()
        ));
    }
    let mut accounted = vec![false; files.len()];
    for file in assignment.iter().flatten() {
        accounted[*file] = true;
    }
    for (number, (row, pattern)) in verdicts.iter().zip(&patterns).enumerate() {
        if assignment[number].is_some() {
            continue;
        }
        let label = format!("object #{number} ({pattern})");
        let closest = row
            .iter()
            .enumerate()
            .filter_map(|(file, verdict)| match verdict {
                Some(Err(mismatch)) => Some((file, mismatch)),
                _ => None,
            })
            .max_by_key(|(_, mismatch)| mismatch.closeness);
        if let Some((file, mismatch)) = closest {
            accounted[file] = true;
            problems.push(format!(
                "{label}: closest file {}: {}",
                files[file], mismatch.message
            ));
        } else if row.iter().any(Option::is_some) {
            problems.push(format!(
                "{label}: the files that fit it already fit other expected objects: one is missing"
            ));
        } else {
            problems.push(format!("{label}: no file's key matches (files: {files:?})"));
        }
    }
    for (key, accounted) in files.iter().zip(accounted) {
        if !accounted {
            problems.push(format!(
                "unexpected file {key} (matches no expected object)"
            ));
        }
    }
}

/// Compiles an expected key regex as given (the cases anchor them with `^...$`).
fn compile_key_regex(pattern: &Value) -> Result<Regex, String> {
    let text = pattern
        .as_str()
        .ok_or_else(|| format!("expected.json: key regex {pattern} is not a string"))?;
    Regex::new(text).map_err(|error| format!("expected.json: bad key regex {text:?}: {error}"))
}

/// Whether the stored `bytes` of the file at `key` fit the expected `object`.
fn check_object(object: &Value, pattern: &Regex, key: &str, bytes: &[u8]) -> Result<(), Mismatch> {
    let gzip = object["gzip"]
        .as_bool()
        .ok_or_else(|| Mismatch::new(0, "expected.json: object without a boolean gzip"))?;
    let content = decoded_content(bytes, gzip).map_err(|message| Mismatch::new(0, message))?;
    match object["kind"].as_str() {
        Some("rows") => {
            let wanted = object["content"]
                .as_str()
                .ok_or_else(|| Mismatch::new(0, "expected.json: rows object without content"))?;
            compare_rows(wanted, &content)?;
        }
        Some("errors") => compare_error_lines(&object["lines"], &content)?,
        other => {
            return Err(Mismatch::new(
                0,
                format!("expected.json: unknown object kind {other:?}"),
            ))
        }
    }
    check_key_id(pattern, key, bytes).map_err(|message| Mismatch::new(usize::MAX, message))
}

/// The content of a file: gunzipped when it must be gzip, refused when it is gzip but must not be.
fn decoded_content(bytes: &[u8], gzip: bool) -> Result<Vec<u8>, String> {
    let is_gzip = bytes.starts_with(&GZIP_MAGIC);
    if gzip && !is_gzip {
        return Err(format!(
            "expected gzip (starting 1f 8b), the file starts {}",
            hex_prefix(bytes)
        ));
    }
    if !gzip {
        return if is_gzip {
            Err("the file is gzip-compressed, expected plain bytes".to_owned())
        } else {
            Ok(bytes.to_vec())
        };
    }
    let mut content = Vec::new();
    GzDecoder::new(bytes)
        .read_to_end(&mut content)
        .map_err(|error| format!("the file is not valid gzip: {error}"))?;
    Ok(content)
}

/// `kind: rows`: the content must equal the expected text byte for byte.
fn compare_rows(wanted: &str, actual: &[u8]) -> Result<(), Mismatch> {
    let wanted = wanted.as_bytes();
    if wanted == actual {
        return Ok(());
    }
    let offset = wanted
        .iter()
        .zip(actual)
        .position(|(want, got)| want != got)
        .unwrap_or_else(|| wanted.len().min(actual.len()));
    Err(Mismatch::new(
        1 + offset,
        describe_difference(wanted, actual, offset),
    ))
}

/// Where two byte strings first differ, with the text around that place in each.
fn describe_difference(wanted: &[u8], actual: &[u8], offset: usize) -> String {
    let line = 1 + wanted[..offset]
        .iter()
        .filter(|byte| **byte == b'\n')
        .count();
    let line_start = wanted[..offset]
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |newline| newline + 1);
    let start = line_start.max(offset.saturating_sub(DIFF_CONTEXT_BYTES));
    format!(
        "content differs at byte {offset} (line {line}, column {}); expected {} bytes, got {}\n\
         expected: {:?}\n\
         got:      {:?}",
        1 + offset - line_start,
        wanted.len(),
        actual.len(),
        excerpt(wanted, start, offset + DIFF_CONTEXT_BYTES),
        excerpt(actual, start, offset + DIFF_CONTEXT_BYTES),
    )
}

/// `bytes[start..end]`, clamped and widened to whole UTF-8 characters, as text.
fn excerpt(bytes: &[u8], start: usize, end: usize) -> String {
    let is_continuation = |at: usize| bytes.get(at).is_some_and(|byte| byte & 0xc0 == 0x80);
    let mut start = start.min(bytes.len());
    let mut end = end.min(bytes.len());
    while start > 0 && is_continuation(start) {
        start -= 1;
    }
    while end < bytes.len() && is_continuation(end) {
        end += 1;
    }
    String::from_utf8_lossy(&bytes[start..end]).into_owned()
}

/// `kind: errors`: NDJSON lines, each `{reason, source, index, body}` with a one-line reason; the
/// multiset of `(source, index, body)` must equal the expected lines.
fn compare_error_lines(wanted: &Value, actual: &[u8]) -> Result<(), Mismatch> {
    let wanted = wanted
        .as_array()
        .ok_or_else(|| Mismatch::new(0, "expected.json: errors object without lines"))?;
    let text = std::str::from_utf8(actual)
        .map_err(|error| Mismatch::new(1, format!("the error object is not UTF-8: {error}")))?;
    let body = text.strip_suffix('\n').ok_or_else(|| {
        Mismatch::new(
            1,
            format!("the error object does not end with a newline: {text:?}"),
        )
    })?;

    let mut bad_lines = Vec::new();
    let mut got = Vec::new();
    for (number, line) in body.split('\n').enumerate() {
        match parse_error_line(line) {
            Ok(identity) => got.push(identity),
            Err(problem) => bad_lines.push(format!(
                "line {}: {problem}: {:?}",
                number + 1,
                shorten(line)
            )),
        }
    }
    if !bad_lines.is_empty() {
        return Err(Mismatch::new(1, bad_lines.join("\n")));
    }

    let mut balance: BTreeMap<String, i64> = BTreeMap::new();
    for line in wanted {
        let identity = error_line_identity(&line["source"], &line["index"], &line["body"]);
        *balance.entry(identity).or_default() += 1;
    }
    for identity in got {
        *balance.entry(identity).or_default() -= 1;
    }
    let missing: Vec<&String> = balance
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(line, _)| line)
        .collect();
    let unexpected: Vec<&String> = balance
        .iter()
        .filter(|(_, n)| **n < 0)
        .map(|(line, _)| line)
        .collect();
    if missing.is_empty() && unexpected.is_empty() {
        return Ok(());
    }
    let mut message = String::from("rejected-item lines differ, as [source, index, body]:");
    for line in &missing {
        let _ = write!(message, "\nmissing:    {line}");
    }
    for line in &unexpected {
        let _ = write!(message, "\nunexpected: {line}");
    }
    Err(Mismatch::new(
        1 + wanted.len().saturating_sub(missing.len()),
        message,
    ))
}

/// One NDJSON rejected-item line, checked for shape, as its `(source, index, body)` identity.
fn parse_error_line(line: &str) -> Result<String, String> {
    if line.is_empty() {
        return Err("empty line".to_owned());
    }
    let value: Value = serde_json::from_str(line).map_err(|error| format!("not JSON ({error})"))?;
    let object = value.as_object().ok_or("not a JSON object")?;
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ERROR_LINE_KEYS {
        return Err(format!(
            "keys {keys:?}, expected exactly {ERROR_LINE_KEYS:?}"
        ));
    }
    match object["reason"].as_str() {
        Some(reason) if !reason.trim().is_empty() && !reason.contains(['\n', '\r']) => {}
        _ => {
            return Err(format!(
                "reason must be a non-empty one-line string, got {}",
                object["reason"]
            ))
        }
    }
    Ok(error_line_identity(
        &object["source"],
        &object["index"],
        &object["body"],
    ))
}

fn error_line_identity(source: &Value, index: &Value, body: &Value) -> String {
    Value::Array(vec![source.clone(), index.clone(), body.clone()]).to_string()
}

/// The `{id}` captured from `key`, if its regex has one, must be the first 16 hex digits of the
/// SHA-256 of the stored (possibly compressed) bytes.
fn check_key_id(pattern: &Regex, key: &str, stored: &[u8]) -> Result<(), String> {
    let Some(id) = pattern
        .captures(key)
        .and_then(|captures| captures.name("id"))
    else {
        return Ok(());
    };
    let digest = short_sha256_hex(stored);
    if id.as_str() == digest {
        Ok(())
    } else {
        Err(format!(
            "the content is right, but {{id}} is {}, while SHA-256 of the stored bytes starts {digest}",
            id.as_str()
        ))
    }
}

fn short_sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .fold(String::with_capacity(16), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// A maximum one-to-one assignment of rows (expected items) to columns (actual items) where
/// `fits[row][column]`: for each row, its column if it got one (Kuhn's augmenting paths).
fn max_matching(fits: &[Vec<bool>], columns: usize) -> Vec<Option<usize>> {
    let mut owner: Vec<Option<usize>> = vec![None; columns];
    for row in 0..fits.len() {
        let mut visited = vec![false; columns];
        assign(row, fits, &mut visited, &mut owner);
    }
    let mut assignment = vec![None; fits.len()];
    for (column, row) in owner.iter().enumerate() {
        if let Some(row) = row {
            assignment[*row] = Some(column);
        }
    }
    assignment
}

/// Finds `row` a column, moving earlier rows to other columns if need be.
fn assign(
    row: usize,
    fits: &[Vec<bool>],
    visited: &mut [bool],
    owner: &mut [Option<usize>],
) -> bool {
    for column in 0..owner.len() {
        if !fits[row][column] || visited[column] {
            continue;
        }
        visited[column] = true;
        let holder = owner[column];
        if holder.is_none_or(|other| assign(other, fits, visited, owner)) {
            owner[column] = Some(row);
            return true;
        }
    }
    false
}

fn describe_status(status: ExitStatus) -> String {
    status
        .code()
        .map_or_else(|| status.to_string(), |code| code.to_string())
}

/// The first bytes of `bytes`, in hex.
fn hex_prefix(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes
        .iter()
        .take(4)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if shown.is_empty() {
        "(the file is empty)".to_owned()
    } else {
        shown.join(" ")
    }
}

/// `text` cut to at most [`QUOTE_CHARS`] characters, for quoting a long line.
fn shorten(text: &str) -> String {
    if text.chars().count() <= QUOTE_CHARS {
        return text.to_owned();
    }
    let kept: String = text.chars().take(QUOTE_CHARS).collect();
    format!("{kept}...")
}

fn describe(value: Option<&Value>) -> String {
    value.map_or_else(|| "nothing".to_owned(), Value::to_string)
}

/// The end of stdout and stderr, for messages about a run.
fn output_excerpt(run: &Run) -> String {
    format!(
        "stdout (end): {}\nstderr (end): {}",
        tail(&run.stdout),
        tail(&run.stderr)
    )
}

fn tail(text: &str) -> String {
    let chars = text.chars().count();
    if chars <= OUTPUT_EXCERPT_CHARS {
        return format!("{text:?}");
    }
    let kept: String = text.chars().skip(chars - OUTPUT_EXCERPT_CHARS).collect();
    format!("...{kept:?}")
}
