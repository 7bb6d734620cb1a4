//! The command line (SPEC 7): `sync-to-s3 invoke EVENT_FILE [--dry-run DIR]` and
//! `sync-to-s3 config`.
//!
//! Exit status 0 when the handler produced a response (API Gateway 4xx included), 1 when the
//! invocation failed (a failed write, an unusable direct-invoke payload), 2 for bad usage or
//! configuration. The response is printed as one JSON document on stdout; reasons go to stderr.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::aws;
use crate::config::{Config, Source};
use crate::handler::{App, Invocation, Response};
use crate::sink::dir::DirSink;
use crate::sink::s3::S3Sink;
use crate::sink::ObjectSink;

/// Exit status: success.
pub const EXIT_OK: i32 = 0;
/// Exit status: the invocation failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit status: bad usage or configuration.
pub const EXIT_USAGE: i32 = 2;

const USAGE: &str = "\
usage:
  sync-to-s3 invoke EVENT_FILE [--dry-run DIR]
      Run the handler once on a Lambda payload (SQS, API Gateway or direct invoke) and print
      its response. With --dry-run, objects are written to DIR/<key> instead of S3.
  sync-to-s3 config
      Load and validate the configuration as the function would and print it (secrets as ***).

Configuration comes from SYNC_CONFIG (the JSON document), SYNC_CONFIG_PARAMETER (an SSM
parameter name) or the built-in defaults, then upper-case environment overrides
(S3_AWS_BUCKET_NAME, COMPRESSION, ...). Without AWS_LAMBDA_RUNTIME_API the binary runs as this
command-line tool; with it, as the Lambda function.";

/// Runs the command line with `args` (without the program name); returns the exit status.
pub fn run(
    args: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (file, dry_run) = match args.as_slice() {
        ["config"] => {
            return match runtime(err) {
                Some(rt) => rt.block_on(config_command(lookup, out, err)),
                None => EXIT_FAILED,
            }
        }
        ["invoke", file] => (*file, None),
        ["invoke", file, "--dry-run", dir] | ["invoke", "--dry-run", dir, file] => {
            (*file, Some(*dir))
        }
        ["--help"] | ["-h"] | ["help"] => {
            let _ = writeln!(out, "{USAGE}");
            return EXIT_OK;
        }
        ["--version"] | ["-V"] => {
            let _ = writeln!(out, "sync-to-s3 {}", env!("CARGO_PKG_VERSION"));
            return EXIT_OK;
        }
        _ => {
            let _ = writeln!(err, "{USAGE}");
            return EXIT_USAGE;
        }
    };
    match runtime(err) {
        Some(rt) => rt.block_on(invoke_command(file, dry_run, lookup, out, err)),
        None => EXIT_FAILED,
    }
}

/// A single-threaded runtime (uploads are I/O-bound; one thread serves them).
fn runtime(err: &mut dyn Write) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            let _ = writeln!(err, "error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Loads the configuration as the function does at init (reading SSM when
/// `SYNC_CONFIG_PARAMETER` is the source).
///
/// # Errors
/// A message: the configuration error, or the SSM parameter and why it could not be read.
pub async fn load_config(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
    let source = Source::from_lookup(lookup);
    let origin = source.describe();
    match source {
        Source::Inline(doc) => Config::load(Some(&doc), &origin, lookup),
        Source::Defaults => Config::load(None, &origin, lookup),
        Source::Parameter(name) => {
            let sdk = aws::base_config(lookup).await;
            let doc = aws::read_parameter(&sdk, &name)
                .await
                .map_err(|e| e.to_string())?;
            Config::load(Some(&doc), &origin, lookup)
        }
    }
    .map_err(|e| e.to_string())
}

async fn config_command(
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    match load_config(lookup).await {
        Ok(c) => {
            let _ = writeln!(out, "{}", c.to_display_json());
            EXIT_OK
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            EXIT_USAGE
        }
    }
}

async fn invoke_command(
    file: &str,
    dry_run: Option<&str>,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let config = match load_config(lookup).await {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return EXIT_USAGE;
        }
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            let _ = writeln!(err, "error: cannot read {file}: {e}");
            return EXIT_USAGE;
        }
    };
    let Ok(payload) = String::from_utf8(bytes) else {
        let _ = writeln!(err, "error: invocation failed: {file} is not UTF-8");
        return EXIT_FAILED;
    };
    let result = match dry_run {
        Some(dir) => invoke_with(App::new(config, DirSink::new(dir)), &payload).await,
        None => {
            let sdk = aws::base_config(lookup).await;
            let client = aws::s3_client(&sdk, &config, lookup).await;
            let sink = S3Sink::new(client, &config);
            invoke_with(App::new(config, sink), &payload).await
        }
    };
    match result {
        Ok(response) => {
            let _ = writeln!(out, "{}", response.to_json());
            EXIT_OK
        }
        Err(e) => {
            let _ = writeln!(err, "error: invocation failed: {e}");
            EXIT_FAILED
        }
    }
}

async fn invoke_with<S: ObjectSink>(
    app: App<S>,
    payload: &str,
) -> Result<Response, crate::handler::InvokeError> {
    let inv = Invocation::starting_now(now_unix_ms(), None);
    app.handle(payload, &inv).await
}

/// Milliseconds since the Unix epoch, now.
pub fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
