//! The soak (issue 6): sequence-numbered events through the SQS path of the real function
//! (the binary serving a local Lambda Runtime API), with random S3 faults on the wire,
//! re-delivering every reported message as SQS does (up to `max_receive`, then a DLQ list), and
//! then every object read back from the local S3 and checked:
//!
//! - every event is in S3 at least once, or its message is in the DLQ; nothing else is allowed;
//! - every bad message has an error record, or is in the DLQ;
//! - every object is in the spec's format, byte for byte (re-encoded with every cell quoted);
//! - duplicates (an event stored more than once, after a partial failure) are counted;
//! - the function's resident memory is sampled after each invocation;
//! - AssumeRole calls are counted (one per credential lifetime: one in a run this short).
//!
//! Used by `tests/soak.rs` (a short run in `make test`) and `examples/soak.rs` (`make soak`).

#![allow(dead_code)] // each user takes a part

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::local_aws::LocalAws;
use super::runtime_api::{Outcome, RuntimeApi};

/// What to run.
#[derive(Debug, Clone)]
pub struct Params {
    /// The function binary.
    pub binary: PathBuf,
    /// Events to send (each with its own sequence number).
    pub events: usize,
    /// Messages per invocation, at most (SQS batch size).
    pub batch: usize,
    /// Chance, per invocation, that a fault rule is armed before it.
    pub fault_rate: f64,
    /// One message in this many is not JSON (0: none).
    pub bad_every: usize,
    /// One message in this many holds a poison event: its folder makes a key longer than S3
    /// allows, so its group fails on every delivery and the message ends in the DLQ (0: none).
    pub poison_every: usize,
    /// Deliveries of a message before it goes to the DLQ (the template's maxReceiveCount).
    pub max_receive: u32,
    /// Seed of the event mix and the fault schedule.
    pub seed: u64,
}

/// What came out.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub events: usize,
    pub messages: usize,
    pub bad_messages: usize,
    pub invocations: usize,
    pub failed_invocations: usize,
    pub deliveries: usize,
    pub redeliveries: usize,
    pub faults_armed: BTreeMap<&'static str, usize>,
    pub dlq_messages: usize,
    pub dlq_events: usize,
    pub objects: usize,
    pub error_objects: usize,
    pub rows: usize,
    pub events_stored: usize,
    pub duplicate_rows: usize,
    pub missing: Vec<u64>,
    pub bad_without_record: Vec<String>,
    pub format_errors: Vec<String>,
    pub assume_role_calls: usize,
    pub rss_kib: Vec<u64>,
    pub elapsed: Duration,
}

impl Report {
    /// The invariants; an empty list means they all hold.
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        if !self.missing.is_empty() {
            v.push(format!(
                "{} events neither in S3 nor in the DLQ: {:?}",
                self.missing.len(),
                &self.missing[..self.missing.len().min(20)]
            ));
        }
        if !self.bad_without_record.is_empty() {
            v.push(format!(
                "bad messages without an error record: {:?}",
                self.bad_without_record
            ));
        }
        if !self.format_errors.is_empty() {
            v.push(format!(
                "objects not in the spec's format: {:?}",
                self.format_errors
            ));
        }
        if self.assume_role_calls != 1 {
            v.push(format!(
                "{} AssumeRole calls, want 1 per credential lifetime",
                self.assume_role_calls
            ));
        }
        if let Some(growth) = self.rss_growth_kib() {
            // Flat: the second half of the run peaks no higher than the first half's peak
            // plus 16 MiB (allocator slack, the largest batch's buffers).
            if growth > 16 * 1024 {
                v.push(format!("resident memory grew by {growth} KiB"));
            }
        }
        v
    }

    /// Peak of the second half of the samples minus the peak of the first half.
    pub fn rss_growth_kib(&self) -> Option<i64> {
        if self.rss_kib.len() < 4 {
            return None;
        }
        let (first, second) = self.rss_kib.split_at(self.rss_kib.len() / 2);
        let peak = |s: &[u64]| s.iter().copied().max().unwrap_or(0) as i64;
        Some(peak(second) - peak(first))
    }

    /// The figures, as a Markdown table.
    pub fn table(&self) -> String {
        let rss = |f: fn(&[u64]) -> u64| {
            if self.rss_kib.is_empty() {
                "–".to_owned()
            } else {
                format!("{:.1} MiB", f(&self.rss_kib) as f64 / 1024.0)
            }
        };
        let faults: Vec<String> = self
            .faults_armed
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let rows = [
            ("events sent (sequence-numbered)", self.events.to_string()),
            (
                "SQS messages (of them not JSON)",
                format!("{} ({})", self.messages, self.bad_messages),
            ),
            (
                "invocations (of them failed as a whole)",
                format!("{} ({})", self.invocations, self.failed_invocations),
            ),
            (
                "deliveries (re-deliveries of reported messages)",
                format!("{} ({})", self.deliveries, self.redeliveries),
            ),
            ("fault rules armed", faults.join(", ")),
            (
                "messages in the DLQ (their events)",
                format!("{} ({})", self.dlq_messages, self.dlq_events),
            ),
            (
                "objects read back (error objects)",
                format!("{} ({})", self.objects, self.error_objects),
            ),
            ("data rows read back", self.rows.to_string()),
            ("events found in S3", self.events_stored.to_string()),
            ("duplicate rows", self.duplicate_rows.to_string()),
            (
                "events in neither S3 nor the DLQ",
                self.missing.len().to_string(),
            ),
            (
                "objects not in the spec's format",
                self.format_errors.len().to_string(),
            ),
            ("AssumeRole calls", self.assume_role_calls.to_string()),
            (
                "function RSS: first / peak / last sample",
                format!(
                    "{} / {} / {}",
                    rss(|s| s[0]),
                    rss(|s| s.iter().copied().max().unwrap_or(0)),
                    rss(|s| s[s.len() - 1])
                ),
            ),
            (
                "RSS growth, second half's peak over first half's",
                self.rss_growth_kib()
                    .map_or("–".to_owned(), |g| format!("{g} KiB")),
            ),
            ("wall time", format!("{:.1} s", self.elapsed.as_secs_f64())),
        ];
        let mut out = String::from("| figure | value |\n|---|---:|\n");
        for (k, v) in rows {
            out.push_str(&format!("| {k} | {v} |\n"));
        }
        out
    }
}

/// splitmix64: enough randomness for a schedule, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

struct Message {
    id: String,
    body: String,
    seqs: Vec<u64>,
    bad: bool,
    received: u32,
}

const BUCKET: &str = "soak-bucket";
const TYPES: [&str; 6] = ["track", "identify", "page", "screen", "group", "alias"];

fn event(seq: u64, rng: &mut Rng) -> Value {
    let t = TYPES[rng.below(TYPES.len())];
    json!({
        "type": t,
        "event": if t == "track" { json!(["Order Completed", "Signed Up", "Viewed"][rng.below(3)]) } else { Value::Null },
        "userId": format!("user-{}", rng.below(500)),
        "messageId": format!("msg-{seq}"),
        "timestamp": "2026-11-25T12:00:00.000Z",
        "properties": {"seq": seq, "revenue": 12.50, "note": "quotes \" and, commas\nand lines"},
        "traits": {"email": format!("User{}@Example.com", rng.below(500))},
        "context": {"library": {"name": "analytics-node", "version": "7.0.1"}}
    })
}

fn messages(p: &Params, rng: &mut Rng) -> (Vec<Message>, usize) {
    let mut out = Vec::new();
    let mut seq = 0u64;
    let mut bad = 0;
    while (seq as usize) < p.events {
        let n = out.len();
        if p.bad_every > 0 && n % p.bad_every == p.bad_every - 1 {
            out.push(Message {
                id: format!("soak-{n:07}"),
                body: format!("{{\"type\":\"track\",\"event\":\"truncated {n}"),
                seqs: Vec::new(),
                bad: true,
                received: 0,
            });
            bad += 1;
            continue;
        }
        let k = (1 + rng.below(5)).min(p.events - seq as usize);
        let mut events: Vec<Value> = (0..k).map(|i| event(seq + i as u64, rng)).collect();
        if p.poison_every > 0 && n % p.poison_every == p.poison_every / 2 {
            events[0]["properties"]["shard"] = json!("x".repeat(1_100));
        }
        let seqs: Vec<u64> = (seq..seq + k as u64).collect();
        seq += k as u64;
        let body = match (k, rng.below(3)) {
            (1, _) => events[0].to_string(),
            (_, 0) => Value::Array(events).to_string(),
            _ => json!({"batch": events, "context": {"ip": "192.0.2.1"}}).to_string(),
        };
        out.push(Message {
            id: format!("soak-{n:07}"),
            body,
            seqs,
            bad: false,
            received: 0,
        });
    }
    (out, bad)
}

fn sqs_payload(batch: &[&Message]) -> String {
    let records: Vec<Value> = batch
        .iter()
        .map(|m| {
            json!({
                "messageId": m.id,
                "receiptHandle": format!("rh-{}-{}", m.id, m.received),
                "body": m.body,
                "attributes": {"ApproximateReceiveCount": m.received.to_string()},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:sync-to-s3-events",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records }).to_string()
}

/// Arms one random S3 fault for the next invocation; returns its name.
fn arm_fault(aws: &LocalAws, rng: &mut Rng) -> &'static str {
    let times = 1 + rng.below(3);
    let put = "^/soak-bucket/.";
    let (name, rule) = match rng.below(7) {
        0 => (
            "500 InternalError",
            json!({"status": 500, "code": "InternalError", "message": "We encountered an internal error."}),
        ),
        1 => (
            "503 SlowDown",
            json!({"status": 503, "code": "SlowDown", "message": "Please reduce your request rate."}),
        ),
        2 => (
            "503 ServiceUnavailable",
            json!({"status": 503, "code": "ServiceUnavailable", "message": "Service is unable to handle request."}),
        ),
        3 => ("connection reset", json!({"action": "reset"})),
        4 => (
            "403 AccessDenied",
            json!({"status": 403, "code": "AccessDenied", "message": "Access Denied", "times": 1}),
        ),
        5 => ("200 ms delay", json!({"action": "delay", "delay_ms": 200})),
        _ => (
            "stall past the attempt timeout",
            json!({"action": "stall", "delay_ms": 1500, "status": 500, "code": "InternalError"}),
        ),
    };
    let mut full = json!({"service": "s3", "method": "PUT", "path_regex": put, "action": "error", "times": times});
    if let (Some(f), Some(r)) = (full.as_object_mut(), rule.as_object()) {
        for (k, v) in r {
            f.insert(k.clone(), v.clone());
        }
    }
    aws.fault(full);
    name
}

fn rss_kib(child: &Child) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn config() -> String {
    json!({
        "s3_aws_bucket_name": BUCKET,
        "s3_aws_region": "us-east-1",
        "iam_role_arn": "arn:aws:iam::123456789012:role/sync-to-s3-writer",
        "iam_external_id": "soak-external-id",
        "mappings": [
            {
                "name": "all",
                "subscription": "",
                "s3_aws_folder_name": {"@if": {"exists": {"@path": "$.properties.shard"},
                    "then": {"@path": "$.properties.shard"}, "else": {"@literal": "all"}}},
                "columns": {
                    "seq": {"@path": "$.properties.seq"},
                    "type": {"@path": "$.type"},
                    "event": {"@path": "$.event"},
                    "user_id": {"@path": "$.userId"},
                    "properties": {"@path": "$.properties"},
                    "context": {"@path": "$.context"}
                }
            },
            {
                "name": "orders",
                "subscription": "type = \"track\" and event = \"Order Completed\"",
                "s3_aws_folder_name": "orders",
                "delimiter": "|",
                "file_extension": "txt",
                "columns": {
                    "seq": {"@path": "$.properties.seq"},
                    "revenue": {"@path": "$.properties.revenue"},
                    "email": {"@path": "$.traits.email"}
                },
                "columns_to_transform": [{"column_name": "email", "hash_algorithm": "sha256", "normalize": "lowercase_trim"}],
                "batch_size": 50
            }
        ]
    })
    .to_string()
}

/// Runs the soak and returns its figures (check `violations()`).
pub fn run(p: &Params) -> Report {
    let started = Instant::now();
    let mut rng = Rng(p.seed);
    let mut report = Report::default();
    let aws = LocalAws::start();
    let (status, body) = aws.http("PUT", &format!("/{BUCKET}"), "");
    assert_eq!(status, 200, "create bucket: {body}");
    let api = RuntimeApi::start();
    let mut child = api
        .function_command(&p.binary, false)
        .envs(aws.env())
        .env("SYNC_CONFIG", config())
        .env("SYNC_ATTEMPT_TIMEOUT_MS", "1000")
        .env("SYNC_OPERATION_TIMEOUT_MS", "4000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the function");

    let (all, bad) = messages(p, &mut rng);
    report.events = p.events;
    report.messages = all.len();
    report.bad_messages = bad;
    let mut queue: VecDeque<Message> = all.into_iter().collect();
    let mut dlq: Vec<Message> = Vec::new();
    let mut bad_ids: BTreeSet<String> = BTreeSet::new();
    while !queue.is_empty() {
        let n = queue.len().min(p.batch);
        let mut batch: Vec<Message> = queue.drain(..n).collect();
        for m in &mut batch {
            m.received += 1;
            report.deliveries += 1;
            if m.received > 1 {
                report.redeliveries += 1;
            }
            if m.bad {
                bad_ids.insert(m.id.clone());
            }
        }
        aws.clear_faults();
        if rng.chance(p.fault_rate) {
            *report
                .faults_armed
                .entry(arm_fault(&aws, &mut rng))
                .or_default() += 1;
        }
        let payload = sqs_payload(&batch.iter().collect::<Vec<_>>());
        report.invocations += 1;
        let failed: BTreeSet<String> = match api.invoke(&payload, Duration::from_secs(30)) {
            Some(Outcome::Response(body)) => {
                let v: Value = serde_json::from_str(&body).expect("an SQS batch response");
                v["batchItemFailures"]
                    .as_array()
                    .expect("batchItemFailures")
                    .iter()
                    .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                    .collect()
            }
            // The whole batch comes back, as SQS does when the invocation fails.
            _ => {
                report.failed_invocations += 1;
                batch.iter().map(|m| m.id.clone()).collect()
            }
        };
        if let Some(kib) = rss_kib(&child) {
            report.rss_kib.push(kib);
        }
        for m in batch {
            if failed.contains(&m.id) {
                if m.received >= p.max_receive {
                    dlq.push(m);
                } else {
                    queue.push_back(m);
                }
            }
        }
    }
    aws.clear_faults();
    report.assume_role_calls = aws
        .log()
        .iter()
        .filter(|e| e["target"] == "AssumeRole" && e["status"] == 200)
        .count();
    let _ = child.kill();
    let _ = child.wait();

    report.dlq_messages = dlq.len();
    report.dlq_events = dlq.iter().map(|m| m.seqs.len()).sum();
    let in_dlq: BTreeSet<u64> = dlq.iter().flat_map(|m| m.seqs.iter().copied()).collect();
    let dlq_ids: BTreeSet<&str> = dlq.iter().map(|m| m.id.as_str()).collect();

    // Read everything back.
    let objects: BTreeMap<String, Vec<u8>> = aws
        .bucket_objects(BUCKET)
        .into_iter()
        .map(|(k, (bytes, _, _))| (k, bytes))
        .collect();
    report.objects = objects.len();
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    let mut recorded: BTreeSet<String> = BTreeSet::new();
    for (key, bytes) in &objects {
        if key.starts_with("_errors/") {
            report.error_objects += 1;
            for line in String::from_utf8_lossy(bytes).lines() {
                match serde_json::from_str::<Value>(line) {
                    Ok(v) => {
                        if let Some(s) = v["source"].as_str().and_then(|s| s.strip_prefix("sqs:")) {
                            recorded.insert(s.to_owned());
                        }
                    }
                    Err(e) => report.format_errors.push(format!("{key}: {e}")),
                }
            }
            continue;
        }
        let delimiter = if key.ends_with(".txt") { b'|' } else { b',' };
        match check_format(bytes, delimiter) {
            Ok(rows) => {
                if key.starts_with("all/") {
                    for row in rows {
                        report.rows += 1;
                        if let Ok(seq) = row[0].parse::<u64>() {
                            *counts.entry(seq).or_default() += 1;
                        }
                    }
                }
            }
            Err(e) => report.format_errors.push(format!("{key}: {e}")),
        }
    }
    report.events_stored = counts.len();
    report.duplicate_rows = counts.values().map(|c| c - 1).sum();
    report.missing = (0..p.events as u64)
        .filter(|s| !counts.contains_key(s) && !in_dlq.contains(s))
        .collect();
    report.bad_without_record = bad_ids
        .into_iter()
        .filter(|id| !recorded.contains(id) && !dlq_ids.contains(id.as_str()))
        .collect();
    report.elapsed = started.elapsed();
    report
}

/// Parses an object as the spec's format: a header, then rows, every cell quoted, `\n` after
/// each row; checked byte for byte by writing the parsed rows again with every cell quoted.
/// Returns the data rows.
fn check_format(bytes: &[u8], delimiter: u8) -> Result<Vec<Vec<String>>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .from_reader(bytes);
    let mut rows = Vec::new();
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for row in reader.records() {
        let row = row.map_err(|e| e.to_string())?;
        writer.write_record(&row).map_err(|e| e.to_string())?;
        rows.push(row.iter().map(str::to_owned).collect::<Vec<String>>());
    }
    let again = writer.into_inner().map_err(|e| e.to_string())?;
    if again != bytes {
        return Err("not byte-identical to its re-encoding".to_owned());
    }
    if rows.len() < 2 {
        return Err("no data row".to_owned());
    }
    rows.remove(0);
    Ok(rows)
}
