//! Runs the function binary as Lambda would, behind a local Runtime API, on payload files.
//!
//! ```text
//! cargo run --example local_lambda -- target/debug/sync-to-s3 events/sqs-batch.json ...
//! ```
//!
//! The function inherits this process's environment (point `AWS_ENDPOINT_URL` at a local AWS
//! for a demo); its logs go to `$FUNCTION_LOG` (default `out/function.log`). Used by `make run`.

#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use runtime_api::{Outcome, RuntimeApi};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((function, payloads)) = args.split_first() else {
        eprintln!("usage: local_lambda FUNCTION_BINARY PAYLOAD_FILE...");
        return ExitCode::from(2);
    };
    let log_path = std::env::var("FUNCTION_LOG").unwrap_or_else(|_| "out/function.log".into());
    if let Some(dir) = std::path::Path::new(&log_path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let open_log = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
    };
    let (Ok(out), Ok(err)) = (open_log(), open_log()) else {
        eprintln!("cannot open {log_path}");
        return ExitCode::from(2);
    };
    let api = RuntimeApi::start();
    let started = Instant::now();
    let mut child = match api
        .function_command(function, true)
        .stdout(out)
        .stderr(err)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start {function}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut status = ExitCode::SUCCESS;
    for (i, file) in payloads.iter().enumerate() {
        let payload = match std::fs::read_to_string(file) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("cannot read {file}: {e}");
                status = ExitCode::from(2);
                continue;
            }
        };
        println!("── invocation {}: {file}", i + 1);
        let t = Instant::now();
        match api.invoke(&payload, Duration::from_secs(60)) {
            Some(Outcome::Response(body)) => {
                println!(
                    "   response ({} ms): {}",
                    t.elapsed().as_millis(),
                    pretty(&body)
                );
            }
            Some(Outcome::Error(body)) => {
                println!("   invocation error: {body}");
                status = ExitCode::from(1);
            }
            None => {
                let why = api.init_error(Duration::from_millis(10)).map_or_else(
                    || "no answer within 60 s".to_owned(),
                    |e| format!("init failed: {e}"),
                );
                println!("   {why} (see {log_path})");
                status = ExitCode::from(1);
                break;
            }
        }
        if i == 0 {
            if let Some(ready) = api.first_next_at() {
                println!(
                    "   (the function was ready {} ms after it was started)",
                    ready.duration_since(started).as_millis()
                );
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    status
}

/// API Gateway responses carry their body as a JSON string: show it unwrapped.
fn pretty(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(mut v) => {
            if let Some(inner) = v
                .get("body")
                .and_then(|b| b.as_str())
                .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
            {
                v["body"] = inner;
            }
            serde_json::to_string_pretty(&v)
                .unwrap_or_else(|_| body.to_owned())
                .replace('\n', "\n   ")
        }
        Err(_) => body.to_owned(),
    }
}
