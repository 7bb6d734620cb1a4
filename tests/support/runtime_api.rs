//! A small local Lambda Runtime API (the interface `lambda_runtime` polls), for tests, the
//! `make run` demo and cold-start measurements: it hands out invocations on
//! `GET /2018-06-01/runtime/invocation/next` and collects what the function posts back.
//!
//! It binds 127.0.0.1 on a free port, speaks just enough HTTP/1.1 (keep-alive, Content-Length
//! bodies) and stops with the process that started it.

#![allow(dead_code)] // each test binary uses a different part of it

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the function answered for one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST .../response` with this body.
    Response(String),
    /// `POST .../error` with this body (a JSON `{errorType, errorMessage}`).
    Error(String),
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String, u64)>,
    outcomes: HashMap<String, Outcome>,
    init_error: Option<String>,
    next_calls: usize,
    first_next_at: Option<Instant>,
}

/// A running Runtime API.
pub struct RuntimeApi {
    addr: String,
    shared: Arc<(Mutex<State>, Condvar)>,
    counter: Mutex<u64>,
}

impl RuntimeApi {
    /// Starts serving on 127.0.0.1 (a free port).
    pub fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr").to_string();
        let shared: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let s = Arc::clone(&shared);
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = Arc::clone(&s);
                thread::spawn(move || serve(conn, &s));
            }
        });
        RuntimeApi {
            addr,
            shared,
            counter: Mutex::new(0),
        }
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The function binary as Lambda starts it against this Runtime API (the variables
    /// `lambda_runtime` requires); with `inherit` false it starts from an empty environment.
    /// The caller adds its own variables and spawns it.
    pub fn function_command(&self, binary: impl AsRef<std::ffi::OsStr>, inherit: bool) -> Command {
        let mut c = Command::new(binary);
        if !inherit {
            c.env_clear();
        }
        c.env("AWS_LAMBDA_RUNTIME_API", self.addr())
            .env("AWS_LAMBDA_FUNCTION_NAME", "sync-to-s3")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
        c
    }

    /// Queues an invocation with `timeout` to its deadline; returns its request id.
    pub fn enqueue(&self, payload: &str, timeout: Duration) -> String {
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64
            + timeout.as_millis() as u64;
        self.enqueue_with_deadline_header(payload, deadline)
    }

    /// Queues an invocation whose `Lambda-Runtime-Deadline-Ms` header is `deadline_ms` as given
    /// (cargo lambda's emulator sends its timeout, `600000`, there); returns its request id.
    pub fn enqueue_with_deadline_header(&self, payload: &str, deadline: u64) -> String {
        let mut n = self.counter.lock().expect("counter");
        *n += 1;
        let id = format!("req-{n:06}");
        let (lock, cv) = &*self.shared;
        lock.lock()
            .expect("state")
            .queue
            .push_back((id.clone(), payload.to_owned(), deadline));
        cv.notify_all();
        id
    }

    /// Waits up to `wait` for the outcome of request `id`.
    pub fn outcome(&self, id: &str, wait: Duration) -> Option<Outcome> {
        let (lock, cv) = &*self.shared;
        let end = Instant::now() + wait;
        let mut st = lock.lock().expect("state");
        loop {
            if let Some(o) = st.outcomes.get(id) {
                return Some(o.clone());
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            st = cv.wait_timeout(st, left).expect("state").0;
        }
    }

    /// Queues an invocation and waits for its outcome.
    pub fn invoke(&self, payload: &str, timeout: Duration) -> Option<Outcome> {
        let id = self.enqueue(payload, timeout);
        self.outcome(&id, timeout + Duration::from_secs(5))
    }

    /// The init error the function reported, waiting up to `wait` for one.
    pub fn init_error(&self, wait: Duration) -> Option<String> {
        let (lock, cv) = &*self.shared;
        let end = Instant::now() + wait;
        let mut st = lock.lock().expect("state");
        loop {
            if st.init_error.is_some() {
                return st.init_error.clone();
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            st = cv.wait_timeout(st, left).expect("state").0;
        }
    }

    /// How many times the function asked for the next invocation.
    pub fn next_calls(&self) -> usize {
        self.shared.0.lock().expect("state").next_calls
    }

    /// When the function first asked for an invocation (its init was done).
    pub fn first_next_at(&self) -> Option<Instant> {
        self.shared.0.lock().expect("state").first_next_at
    }
}

fn serve(conn: TcpStream, shared: &(Mutex<State>, Condvar)) {
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let (lock, cv) = shared;
        let reply = if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let mut st = lock.lock().expect("state");
            st.next_calls += 1;
            st.first_next_at.get_or_insert_with(Instant::now);
            cv.notify_all();
            loop {
                if let Some((id, payload, deadline)) = st.queue.pop_front() {
                    break format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:sync-to-s3\r\nLambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\nContent-Length: {}\r\n\r\n{payload}",
                        payload.len()
                    );
                }
                st = cv.wait(st).expect("state");
            }
        } else {
            let mut st = lock.lock().expect("state");
            let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            match segs.as_slice() {
                [_, "runtime", "invocation", id, "response"] => {
                    st.outcomes
                        .insert((*id).to_owned(), Outcome::Response(body));
                }
                [_, "runtime", "invocation", id, "error"] => {
                    st.outcomes.insert((*id).to_owned(), Outcome::Error(body));
                }
                [_, "runtime", "init", "error"] => st.init_error = Some(body),
                _ => {}
            }
            cv.notify_all();
            "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"
                .to_owned()
        };
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
