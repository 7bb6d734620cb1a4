//! Cold start: process start to first response through the local Runtime API harness, for a
//! 1-event direct invoke with an inline configuration. For `scripts/bench.py`:
//!
//! ```text
//! cold_start FUNCTION_BINARY [RUNS]  ->  {"runs": N, "median_ms": .., "min_ms": .., "max_ms": ..}
//! ```
//!
//! The function inherits this process's environment (set `SSL_CERT_FILE` as Lambda has it).

#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::process::Stdio;
use std::time::{Duration, Instant};

use runtime_api::{Outcome, RuntimeApi};

/// A page event: the default mapping (identify and track) filters it, so the first response
/// measures start-up and handling, not an S3 round trip.
const EVENT: &str = r#"{"type":"page","name":"Pricing","userId":"u1","messageId":"m1","properties":{"path":"/pricing"}}"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let function = args
        .first()
        .expect("usage: cold_start FUNCTION_BINARY [RUNS]");
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(25);
    let config = r#"{"s3_aws_bucket_name":"bench-bucket","s3_aws_region":"us-east-1","mappings":[{"name":"default"}]}"#;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let api = RuntimeApi::start();
        let id = api.enqueue(EVENT, Duration::from_secs(30));
        let started = Instant::now();
        let mut child = api
            .function_command(function, true)
            .env("SYNC_CONFIG", config)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the function");
        let outcome = api.outcome(&id, Duration::from_secs(30));
        let elapsed = started.elapsed().as_secs_f64() * 1e3;
        let _ = child.kill();
        let _ = child.wait();
        match outcome {
            Some(Outcome::Response(_)) => times.push(elapsed),
            other => panic!("expected a response, got {other:?}"),
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"runs\":{runs},\"median_ms\":{:.2},\"min_ms\":{:.2},\"max_ms\":{:.2}}}",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}
