//! Starts the project's local AWS (moto behind a fault-injection middleware,
//! `scripts/local_aws/local_aws.py`) on a free 127.0.0.1 port for one test binary, and stops it when
//! dropped (it also exits when our end of its stdin closes, so a crashed test leaves nothing).

#![allow(dead_code)] // each test binary uses a different part of it

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

/// A running local AWS.
pub struct LocalAws {
    child: Child,
    _stdin: ChildStdin,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
}

/// The project's venv Python (`make venv` creates it; `make test` does so first).
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("SYNC_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python"));
    if !p.exists() {
        // One clear line, not a panic in every test: the tests against the local AWS need the
        // project's venv, which `make test` prepares before it runs `cargo test`.
        // Written to stderr itself: the test harness captures eprintln!, and would drop it
        // when the process exits.
        let _ = writeln!(
            std::io::stderr(),
            "error: {} is missing; run `make test` (or `make venv` first), which installs moto \
             for the tests against a local AWS",
            p.display()
        );
        std::process::exit(2);
    }
    p
}

impl LocalAws {
    /// Starts the server and waits until it answers.
    pub fn start() -> LocalAws {
        LocalAws::start_with(&["--keep-alive"])
    }

    /// Starts the server with extra `local_aws.py` arguments (e.g. `--idle-timeout 0.5`).
    pub fn start_with(args: &[&str]) -> LocalAws {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/local_aws/local_aws.py"
        );
        let mut child = Command::new(python())
            .arg(script)
            .arg("--port")
            .arg("0")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start scripts/local_aws/local_aws.py");
        let stdin = child.stdin.take().expect("stdin");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read PORT line");
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("local_aws.py said {line:?}, not PORT <n>"));
        LocalAws {
            child,
            _stdin: stdin,
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
        }
    }

    /// Environment for a process that should talk to this local AWS.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    /// One plain HTTP request to the server; returns (status, body).
    pub fn http(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect local AWS");
        s.set_read_timeout(Some(Duration::from_secs(30))).ok();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .expect("send");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(rest)
        } else {
            rest.to_owned()
        };
        (status, body)
    }

    /// An S3 client for this local AWS (path-style, test credentials), for setting up and
    /// reading back what the function wrote.
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Every object in `bucket` (all pages): key -> (bytes, content type, SSE algorithm).
    pub fn bucket_objects(&self, bucket: &str) -> BTreeMap<String, (Vec<u8>, String, String)> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let s3 = self.s3_client();
            let mut out = BTreeMap::new();
            let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
            while let Some(page) = pages.next().await {
                for o in page.expect("list objects").contents() {
                    let key = o.key().unwrap_or_default().to_owned();
                    let got = s3
                        .get_object()
                        .bucket(bucket)
                        .key(&key)
                        .send()
                        .await
                        .expect("get object");
                    let content_type = got.content_type().unwrap_or_default().to_owned();
                    let sse = got
                        .server_side_encryption()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default();
                    let bytes = got
                        .body
                        .collect()
                        .await
                        .expect("body")
                        .into_bytes()
                        .to_vec();
                    out.insert(key, (bytes, content_type, sse));
                }
            }
            out
        })
    }

    /// Adds a fault rule (see `scripts/local_aws/local_aws.py`); returns its id.
    pub fn fault(&self, rule: serde_json::Value) {
        let (status, body) = self.http("POST", "/_fault/add", &rule.to_string());
        assert_eq!(status, 200, "fault rule refused: {body}");
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.http("POST", "/_fault/clear", "");
    }

    /// The requests seen since start or the last `reset_log`.
    pub fn log(&self) -> Vec<serde_json::Value> {
        let (_, body) = self.http("GET", "/_fault/log", "");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("fault log {body:?}: {e}"))
    }

    /// Forgets the request log.
    pub fn reset_log(&self) {
        self.http("POST", "/_fault/reset-log", "");
    }

    /// moto's recorded state (`/moto-api/data.json`).
    pub fn moto_data(&self) -> serde_json::Value {
        let (_, body) = self.http("GET", "/moto-api/data.json", "");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("moto data {body:?}: {e}"))
    }

    /// The roles assumed so far: (external id, session name) per AssumeRole call.
    pub fn assumed_roles(&self) -> Vec<(String, String)> {
        let data = self.moto_data();
        let roles = &data["sts"]["AssumedRole"];
        roles
            .as_array()
            .map(|rs| {
                rs.iter()
                    .map(|r| {
                        (
                            r["external_id"].as_str().unwrap_or("").to_owned(),
                            r["session_name"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
