//! Concurrent uploads: one invocation writing 7 objects while the local AWS adds 100 ms to
//! every S3 request. For `scripts/bench.py`:
//!
//! ```text
//! upload_latency FUNCTION_BINARY  ->  {"objects": 7, "runs": N, "median_ms": ..}
//! ```
//!
//! Starts `scripts/local_aws/local_aws.py` (moto with the fault middleware) on 127.0.0.1 and the function
//! behind the local Runtime API; the function is warmed up first, so the figure is one warm
//! invocation: seven PUTs that should overlap, not queue.

#[path = "../tests/support/local_aws.rs"]
mod local_aws;
#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::process::Stdio;
use std::time::{Duration, Instant};

use local_aws::LocalAws;
use runtime_api::{Outcome, RuntimeApi};

/// One event of each type and one bad element: six data objects and the error object.
const PAYLOAD: &str = r#"[{"type":"track","event":"A"},{"type":"identify"},{"type":"page"},{"type":"screen"},{"type":"group"},{"type":"alias"},42]"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let function = args.first().expect("usage: upload_latency FUNCTION_BINARY");
    let aws = LocalAws::start();
    aws.http("PUT", "/bench-uploads", "");
    aws.fault(serde_json::json!({"service": "s3", "method": "PUT", "path_regex": "^/bench-uploads/.", "action": "delay", "delay_ms": 100, "times": -1}));
    let config =
        r#"{"s3_aws_bucket_name":"bench-uploads","s3_aws_region":"us-east-1","subscription":""}"#;
    let api = RuntimeApi::start();
    let mut child = api
        .function_command(function, false)
        .envs(aws.env())
        .env("SYNC_CONFIG", config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the function");
    let runs = 7;
    let mut times = Vec::new();
    for i in 0..=runs {
        let t = Instant::now();
        match api.invoke(PAYLOAD, Duration::from_secs(60)) {
            Some(Outcome::Response(body)) => {
                let objects = body.matches("\",\"").count() + 1;
                assert!(body.contains("\"ok\":true") && objects == 7, "{body}");
            }
            other => panic!("expected a response, got {other:?}"),
        }
        if i > 0 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(aws);
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"objects\":7,\"runs\":{runs},\"median_ms\":{:.1},\"min_ms\":{:.1},\"max_ms\":{:.1}}}",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}
