//! Concurrent uploads: one invocation writing 7 objects while the local AWS adds 100 ms to
//! every S3 request. For `scripts/bench.py`:
//!
//! ```text
//! upload_latency FUNCTION_BINARY PYTHON LOCAL_AWS_SCRIPT  ->  {"objects": 7, "runs": N, "median_ms": ..}
//! ```
//!
//! Starts `scripts/local_aws.py` (moto with the fault middleware) on 127.0.0.1 and the function
//! behind the local Runtime API; the function is warmed up first, so the figure is one warm
//! invocation: seven PUTs that should overlap, not queue.

#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runtime_api::{Outcome, RuntimeApi};

/// One event of each type and one bad element: six data objects and the error object.
const PAYLOAD: &str = r#"[{"type":"track","event":"A"},{"type":"identify"},{"type":"page"},{"type":"screen"},{"type":"group"},{"type":"alias"},42]"#;

fn http(port: u16, method: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect local AWS");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [function, python, script] = args.as_slice() else {
        panic!("usage: upload_latency FUNCTION_BINARY PYTHON LOCAL_AWS_SCRIPT");
    };
    let mut aws = Command::new(python)
        .arg(script)
        .arg("--port")
        .arg("0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start local AWS");
    let mut line = String::new();
    BufReader::new(aws.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("PORT line");
    let port: u16 = line
        .trim()
        .trim_start_matches("PORT ")
        .parse()
        .expect("port");
    http(port, "PUT", "/bench-uploads", "");
    http(
        port,
        "POST",
        "/_fault/add",
        r#"{"service":"s3","method":"PUT","path_regex":"^/bench-uploads/.","action":"delay","delay_ms":100,"times":-1}"#,
    );
    let config =
        r#"{"s3_aws_bucket_name":"bench-uploads","s3_aws_region":"us-east-1","subscription":""}"#;
    let api = RuntimeApi::start();
    let mut child = Command::new(function)
        .env("AWS_LAMBDA_RUNTIME_API", api.addr())
        .env("AWS_LAMBDA_FUNCTION_NAME", "sync-to-s3")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("SYNC_CONFIG", config)
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
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
    let _ = aws.kill();
    let _ = aws.wait();
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"objects\":7,\"runs\":{runs},\"median_ms\":{:.1},\"min_ms\":{:.1},\"max_ms\":{:.1}}}",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}
