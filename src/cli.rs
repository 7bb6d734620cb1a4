//! The command line (SPEC 7): `sync-to-s3 invoke EVENT_FILE [--dry-run DIR]` and
//! `sync-to-s3 config`.
//!
//! Exit status 0 when the handler produced a response (API Gateway 4xx included), 1 when the
//! invocation failed (a failed write, an unusable direct-invoke payload), 2 for bad usage or
//! configuration. The response is printed as one JSON document on stdout; reasons go to stderr.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{Config, ConfigError, Source};
use crate::handler::{App, Invocation};
use crate::sink::dir::DirSink;

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
    match args.as_slice() {
        ["config"] => config_command(lookup, out, err),
        ["invoke", file] => invoke_command(file, None, lookup, out, err),
        ["invoke", file, "--dry-run", dir] | ["invoke", "--dry-run", dir, file] => {
            invoke_command(file, Some(dir), lookup, out, err)
        }
        ["--help"] | ["-h"] | ["help"] => {
            let _ = writeln!(out, "{USAGE}");
            EXIT_OK
        }
        ["--version"] | ["-V"] => {
            let _ = writeln!(out, "sync-to-s3 {}", env!("CARGO_PKG_VERSION"));
            EXIT_OK
        }
        _ => {
            let _ = writeln!(err, "{USAGE}");
            EXIT_USAGE
        }
    }
}

/// Loads the configuration as the function does at init, for the command line.
///
/// # Errors
/// A message: the configuration error, or that an SSM parameter needs AWS.
pub fn load_config(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
    let source = Source::from_lookup(lookup);
    let origin = source.describe();
    match source {
        Source::Inline(doc) => Config::load(Some(&doc), &origin, lookup),
        Source::Defaults => Config::load(None, &origin, lookup),
        Source::Parameter(name) => Err(ConfigError::new(
            "SYNC_CONFIG_PARAMETER",
            format!("reading the SSM parameter {name} needs the AWS layer, which this build does not have yet; set SYNC_CONFIG for now"),
        )),
    }
    .map_err(|e| e.to_string())
}

fn config_command(
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    match load_config(lookup) {
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

fn invoke_command(
    file: &str,
    dry_run: Option<&str>,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let config = match load_config(lookup) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return EXIT_USAGE;
        }
    };
    let Some(dir) = dry_run else {
        let _ = writeln!(
            err,
            "error: writing to S3 from the command line arrives with the AWS layer; use --dry-run DIR"
        );
        return EXIT_USAGE;
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
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "error: cannot start the async runtime: {e}");
            return EXIT_FAILED;
        }
    };
    let app = App::new(config, DirSink::new(dir));
    let inv = Invocation {
        now_unix_ms: now_unix_ms(),
        deadline: None,
    };
    match runtime.block_on(app.handle(&payload, &inv)) {
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

/// Milliseconds since the Unix epoch, now.
pub fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
