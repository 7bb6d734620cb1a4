//! The command line (SPEC 7): `sync-to-s3 invoke EVENT_FILE [--dry-run DIR]` and
//! `sync-to-s3 config`.
//!
//! Exit status 0 when the handler produced a response (API Gateway 4xx included), 1 when the
//! invocation failed (a failed write, an unusable direct-invoke payload), 2 for bad usage or
//! configuration. The response is printed as one JSON document on stdout; reasons go to stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::error::ErrorKind;
use clap::Parser;

use crate::aws;
use crate::config::{Config, Source};
use crate::handler::{App, Invocation, Response, Stats};
use crate::response::error_chain;
use crate::sink::dir::DirSink;
use crate::sink::s3::S3Sink;
use crate::sink::ObjectSink;

/// Exit status: success.
pub const EXIT_OK: i32 = 0;
/// Exit status: the invocation failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit status: bad usage or configuration.
pub const EXIT_USAGE: i32 = 2;

/// How configuration reaches the command line, shown under `--help`.
const CONFIGURATION_HELP: &str = "\
Configuration comes from SYNC_CONFIG (the JSON document), SYNC_CONFIG_PARAMETER (an SSM
parameter name) or the built-in defaults, then upper-case environment overrides
(S3_AWS_BUCKET_NAME, COMPRESSION, ...). Without AWS_LAMBDA_RUNTIME_API the binary runs as this
command-line tool; with it, as the Lambda function.

Exit status: 0 when the handler produced a response (API Gateway 4xx included), 1 when the
invocation failed, 2 for bad usage or configuration.";

/// sync-to-s3: lands Segment-spec events in S3, as Segment's AWS S3 (Actions) destination does.
#[derive(Debug, Parser)]
#[command(name = "sync-to-s3", version, after_help = CONFIGURATION_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Subcommand,
}

#[derive(Debug, clap::Subcommand)]
enum Subcommand {
    /// Run the handler once on a Lambda payload (SQS, API Gateway, EventBridge or direct invoke)
    /// and print its response.
    #[command(after_help = CONFIGURATION_HELP)]
    Invoke {
        /// The Lambda payload, a JSON file (see events/ for samples).
        event_file: PathBuf,
        /// Write each object to DIR/<key> instead of S3; nothing is sent to AWS.
        #[arg(long, value_name = "DIR")]
        dry_run: Option<PathBuf>,
    },
    /// Load and validate the configuration as the function would and print it (secrets as ***).
    #[command(after_help = CONFIGURATION_HELP)]
    Config,
}

/// Runs the command line with `args` (without the program name); returns the exit status.
pub fn run(
    args: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let cli = match Cli::try_parse_from(
        std::iter::once("sync-to-s3").chain(args.iter().map(String::as_str)),
    ) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are answers, on stdout; anything else is bad usage, on
            // stderr, naming the argument clap could not take.
            let text = e.render().to_string();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = write!(out, "{text}");
                    EXIT_OK
                }
                _ => {
                    let _ = write!(err, "{text}");
                    EXIT_USAGE
                }
            };
        }
    };
    let Some(rt) = runtime(err) else {
        return EXIT_FAILED;
    };
    match cli.command {
        Subcommand::Config => rt.block_on(config_command(lookup, out, err)),
        Subcommand::Invoke {
            event_file,
            dry_run,
        } => rt.block_on(invoke_command(
            &event_file,
            dry_run.as_deref(),
            lookup,
            out,
            err,
        )),
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
    file: &Path,
    dry_run: Option<&Path>,
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
            let _ = writeln!(err, "error: cannot read {}: {e}", file.display());
            return EXIT_USAGE;
        }
    };
    let Ok(payload) = String::from_utf8(bytes) else {
        let _ = writeln!(
            err,
            "error: invocation failed: {} is not UTF-8",
            file.display()
        );
        return EXIT_FAILED;
    };
    let mut stats = Stats::default();
    let result = match dry_run {
        Some(dir) => invoke_with(App::new(config, DirSink::new(dir)), &payload, &mut stats).await,
        None => {
            let sdk = aws::base_config(lookup).await;
            let client = aws::s3_client(&sdk, &config, lookup).await;
            let sink = S3Sink::new(client, &config);
            invoke_with(App::new(config, sink), &payload, &mut stats).await
        }
    };
    match result.as_ref().map(Response::to_json) {
        Ok(Ok(json)) => {
            // The SQS response names only failed messages: say on stderr what was done, as the
            // API Gateway and direct-invoke summaries do on stdout.
            if matches!(result, Ok(Response::Sqs(_))) {
                let _ = writeln!(err, "{}", sqs_summary(&stats, dry_run));
            }
            let _ = writeln!(out, "{json}");
            EXIT_OK
        }
        Ok(Err(e)) => {
            let _ = writeln!(err, "error: {}", error_chain(&e));
            EXIT_FAILED
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
    stats: &mut Stats,
) -> Result<Response, crate::handler::InvokeError> {
    let inv = Invocation::starting_now(now_unix_ms(), None);
    app.handle_reporting(payload, &inv, stats).await
}

/// One line on what an SQS invocation did, for stderr.
fn sqs_summary(s: &Stats, dry_run: Option<&Path>) -> String {
    let stored = s.objects - s.failures;
    let to = dry_run.map_or_else(|| "S3".to_owned(), |d| d.display().to_string());
    format!(
        "sqs: {} messages, {} events, {} rows, {} filtered, {} rejected; {stored} of {} objects \
         written to {to} ({} bytes); {} messages reported failed",
        s.messages, s.events, s.rows, s.filtered, s.rejected, s.objects, s.bytes, s.failed_messages
    )
}

/// Milliseconds since the Unix epoch, now.
pub fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_cli(args: &[&str]) -> (i32, String, String) {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let lookup = |name: &str| {
            (name == "SYNC_CONFIG").then(|| r#"{"s3_aws_bucket_name":"b-1"}"#.to_owned())
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(&args, &lookup, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn every_subcommand_has_help_on_stdout() {
        for args in [
            &["--help"][..],
            &["invoke", "--help"],
            &["config", "--help"],
            &["help", "invoke"],
        ] {
            let (code, out, err) = run_cli(args);
            assert_eq!(code, EXIT_OK, "{args:?}: {err}");
            assert!(out.contains("Usage: sync-to-s3"), "{args:?}: {out}");
            assert!(out.contains("SYNC_CONFIG"), "{args:?}: {out}");
        }
        let (code, out, _) = run_cli(&["invoke", "--help"]);
        assert_eq!(code, EXIT_OK);
        assert!(out.contains("--dry-run <DIR>"), "{out}");
        let (code, out, _) = run_cli(&["--version"]);
        assert_eq!(
            (code, out.trim()),
            (EXIT_OK, concat!("sync-to-s3 ", env!("CARGO_PKG_VERSION")))
        );
    }

    #[test]
    fn dry_run_takes_both_spellings_and_either_order() {
        let dir = tempfile::tempdir().unwrap();
        let payload = dir.path().join("event.json");
        std::fs::write(&payload, r#"{"type":"track","userId":"u"}"#).unwrap();
        let file = payload.to_str().unwrap();
        for (i, form) in ["space", "equals", "first"].iter().enumerate() {
            let out_dir = dir.path().join(format!("out{i}"));
            let out_dir = out_dir.to_str().unwrap();
            let with_equals = format!("--dry-run={out_dir}");
            let args: Vec<&str> = match *form {
                "space" => vec!["invoke", file, "--dry-run", out_dir],
                "equals" => vec!["invoke", file, &with_equals],
                _ => vec!["invoke", "--dry-run", out_dir, file],
            };
            let (code, out, err) = run_cli(&args);
            assert_eq!(code, EXIT_OK, "{form}: {err}");
            assert!(out.contains("\"ok\":true"), "{form}: {out}");
            assert!(
                std::fs::read_dir(out_dir).unwrap().next().is_some(),
                "{form}"
            );
        }
    }

    #[test]
    fn an_sqs_invoke_says_on_stderr_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let payload = dir.path().join("sqs.json");
        let body = |b: &str| serde_json::to_string(b).unwrap();
        std::fs::write(
            &payload,
            format!(
                r#"{{"Records":[{{"eventSource":"aws:sqs","messageId":"m1","body":{}}},{{"eventSource":"aws:sqs","messageId":"m2","body":{}}}]}}"#,
                body(r#"[{"type":"track","event":"A"},{"type":"identify","userId":"u"}]"#),
                body("not json")
            ),
        )
        .unwrap();
        let out_dir = dir.path().join("out");
        let (code, out, err) = run_cli(&[
            "invoke",
            payload.to_str().unwrap(),
            "--dry-run",
            out_dir.to_str().unwrap(),
        ]);
        assert_eq!(code, EXIT_OK, "{err}");
        assert_eq!(out.trim(), r#"{"batchItemFailures":[]}"#);
        let want = format!(
            "sqs: 2 messages, 2 events, 2 rows, 0 filtered, 1 rejected; 3 of 3 objects written to {}",
            out_dir.display()
        );
        assert!(err.starts_with(&want), "{err}");
        assert!(
            err.trim_end().ends_with("; 0 messages reported failed"),
            "{err}"
        );
    }

    #[test]
    fn bad_usage_is_exit_2_naming_the_argument() {
        let (code, _, err) = run_cli(&["invoke", "x.json", "--bogus"]);
        assert_eq!(code, EXIT_USAGE);
        assert!(err.contains("--bogus"), "{err}");
        let (code, _, err) = run_cli(&["frobnicate"]);
        assert_eq!(code, EXIT_USAGE);
        assert!(err.contains("frobnicate"), "{err}");
        let (code, _, err) = run_cli(&["invoke"]);
        assert_eq!(code, EXIT_USAGE);
        assert!(err.contains("EVENT_FILE"), "{err}");
        assert_eq!(run_cli(&[]).0, EXIT_USAGE);
        let (code, _, err) = run_cli(&["invoke", "/nonexistent/event.json"]);
        assert_eq!(code, EXIT_USAGE);
        assert!(err.contains("/nonexistent/event.json"), "{err}");
    }
}
