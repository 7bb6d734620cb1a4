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
    /// Replay Segment S3 Classic logs through the configured mappings into the configured bucket.
    #[command(after_help = BACKFILL_HELP)]
    Backfill(BackfillArgs),
    /// Store write keys and the External ID in an SSM SecureString, the secrets parameter the
    /// function reads at init (SYNC_SECRETS_PARAMETER), with your own AWS credentials. Keys not
    /// given keep their stored value; values are never printed.
    #[command(after_help = SECRETS_HELP)]
    Secrets {
        /// The SSM parameter (the template's SecretsParameterName).
        #[arg(long, value_name = "NAME", default_value = DEFAULT_SECRETS_PARAMETER)]
        parameter: String,
        /// A write key the HTTP endpoint accepts (repeat for several sources); replaces the
        /// stored list.
        #[arg(long = "write-key", value_name = "KEY")]
        write_keys: Vec<String>,
        /// The External ID the writer role's trust policy expects.
        #[arg(long, value_name = "ID")]
        external_id: Option<String>,
        /// Encrypt with this KMS key instead of the account's default SSM key (alias/aws/ssm).
        #[arg(long, value_name = "KEY")]
        kms_key_id: Option<String>,
    },
}

/// What `backfill --help` adds.
const BACKFILL_HELP: &str = "\
SOURCE holds Segment's S3 Classic layout: <source-id>/<received-day>/<file>, the day being the
UTC midnight the events were received, in milliseconds (segment-logs/ in the Classic bucket).
Each object (gzip-compressed or not, told by its bytes) is newline-delimited JSON, one event a
line; it is streamed, cut into chunks of 5,000 lines, mapped with the configured mappings and
written with the configured bucket, role and key template. Keys are stamped with the received
day and end in a hash of the bytes: run it again and it rewrites the same keys, never adding
rows. --resume FILE also skips the objects a previous run completed.

The configuration is the function's: SYNC_CONFIG or SYNC_CONFIG_PARAMETER (and
SYNC_SECRETS_PARAMETER), then the upper-case environment overrides (S3_AWS_BUCKET_NAME, ...).

Exit status: 0 when every selected object was replayed and stored, 1 when some were not (each
named on stderr; run again), 2 for bad usage or configuration.";

/// The template's default secrets parameter.
pub const DEFAULT_SECRETS_PARAMETER: &str = "/sync-to-s3/secrets";

/// What `secrets --help` adds.
const SECRETS_HELP: &str = "\
Uses the AWS credentials and region of your environment (AWS_PROFILE, AWS_REGION, SSO). The
values pass through the command line: prefer a shell that does not keep them in its history
(e.g. a leading space in bash with HISTCONTROL=ignorespace), or `make secrets`, which asks.

Exit status: 0 when stored, 1 when SSM refused, 2 for bad usage or a bad value.";

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
        Subcommand::Backfill(args) => rt.block_on(backfill_command(args, lookup, out, err)),
        Subcommand::Secrets {
            parameter,
            write_keys,
            external_id,
            kms_key_id,
        } => rt.block_on(secrets_command(
            &parameter,
            &write_keys,
            external_id.as_deref(),
            kms_key_id.as_deref(),
            lookup,
            out,
            err,
        )),
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
/// `SYNC_CONFIG_PARAMETER` is the source, and the secrets parameter when one is named).
///
/// # Errors
/// A message: the configuration error, or the SSM parameter and why it could not be read.
pub async fn load_config(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
    let source = Source::from_lookup(lookup);
    let needs_aws =
        matches!(source, Source::Parameter(_)) || aws::secrets_parameter(lookup).is_some();
    let result = if needs_aws {
        let sdk = aws::base_config(lookup).await;
        aws::load_config(&sdk, &source, lookup).await
    } else {
        let origin = source.describe();
        let document = match &source {
            Source::Inline(doc) => Some(doc.as_str()),
            _ => None,
        };
        Config::load(document, &origin, lookup).map_err(aws::LoadError::from)
    };
    result.map_err(|e| e.to_string())
}

/// The `backfill` subcommand's arguments.
#[derive(Debug, clap::Args)]
struct BackfillArgs {
    /// s3://BUCKET/PREFIX (read with your own credentials) or a local folder laid out the same way.
    source: String,
    /// Only this Segment source (the folder under the prefix).
    #[arg(long, value_name = "ID")]
    source_id: Option<String>,
    /// Only days received on or after this one (UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    since: Option<String>,
    /// Only days received on or before this one (UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    until: Option<String>,
    /// Write the objects to DIR/<key> instead of the bucket.
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    dry_run: Option<PathBuf>,
    /// Source objects replayed at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    concurrency: usize,
    /// Record each completed source object in FILE, and skip the ones it lists.
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// Replay nothing: write the S3 Batch Operations manifest (CSV bucket,key) of the
    /// selected objects to FILE and print the commands that run the job.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["dry_run", "resume"])]
    manifest: Option<PathBuf>,
}

/// `sync-to-s3 backfill`: lists the selected Classic objects, replays them and prints a summary.
async fn backfill_command(
    args: BackfillArgs,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    use crate::backfill::{self, Origin, Selection};
    let usage = |err: &mut dyn Write, e: &dyn std::fmt::Display| {
        let _ = writeln!(err, "error: {e}");
        EXIT_USAGE
    };
    let origin = match Origin::parse(&args.source) {
        Ok(o) => o,
        Err(e) => return usage(err, &e),
    };
    let day = |d: &Option<String>| d.as_deref().map(backfill::parse_day).transpose();
    let selection = match (day(&args.since), day(&args.until)) {
        (Ok(since_ms), Ok(until_ms)) => Selection {
            source_id: args.source_id.clone(),
            since_ms,
            until_ms,
        },
        (Err(e), _) | (_, Err(e)) => return usage(err, &e),
    };
    let config = match load_config(lookup).await {
        Ok(c) => c,
        Err(e) => return usage(err, &e),
    };
    let resume = match args
        .resume
        .as_deref()
        .map(backfill::ResumeFile::open)
        .transpose()
    {
        Ok(r) => r,
        Err(e) => return usage(err, &error_chain(&e)),
    };
    let sdk = if matches!(origin, Origin::S3 { .. }) {
        Some(aws::base_config(lookup).await)
    } else {
        None
    };
    let reader = match (&origin, &sdk) {
        (Origin::S3 { .. }, Some(sdk)) => Some(aws::s3_reader(sdk, lookup)),
        _ => None,
    };
    let (objects, other) = match backfill::list(&origin, reader.as_ref(), &selection).await {
        Ok(found) => found,
        Err(e) => {
            let _ = writeln!(err, "error: {}", error_chain(&e));
            return EXIT_FAILED;
        }
    };
    let total_bytes: u64 = objects.iter().map(|o| o.size).sum();
    if let Some(path) = &args.manifest {
        return write_manifest(path, &origin, &objects, total_bytes, out, err);
    }
    let _ = writeln!(
        err,
        "backfill: {} objects selected ({:.1} MB){}",
        objects.len(),
        total_bytes as f64 / 1e6,
        if other > 0 {
            format!("; {other} objects not in Classic's <source-id>/<received-day>/<file> layout ignored")
        } else {
            String::new()
        }
    );
    let started = std::time::Instant::now();
    let progress = std::sync::Arc::new(backfill::Progress::default());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reporter = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        tokio::spawn(backfill::show_progress_bar(
            std::sync::Arc::clone(&progress),
            objects.len() as u64,
            total_bytes,
            std::sync::Arc::clone(&stop),
        ))
    } else {
        tokio::spawn(backfill::report_progress(
            std::sync::Arc::clone(&progress),
            objects.len() as u64,
            total_bytes,
            std::time::Duration::from_secs(5),
            std::sync::Arc::clone(&stop),
        ))
    };
    let job = backfill::Job {
        objects,
        origin: &origin,
        reader: reader.as_ref(),
        concurrency: args.concurrency,
        resume: resume.as_ref(),
        progress: &progress,
    };
    let result = match &args.dry_run {
        Some(dir) => {
            let app = std::sync::Arc::new(App::new(config, DirSink::new(dir)));
            backfill::run(app, job).await
        }
        None => {
            let sdk = match &sdk {
                Some(sdk) => sdk.clone(),
                None => aws::base_config(lookup).await,
            };
            let client = aws::s3_client(&sdk, &config, lookup).await;
            let sink = S3Sink::new(client, &config);
            let app = std::sync::Arc::new(App::new(config, sink));
            backfill::run(app, job).await
        }
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    // The bar clears itself once it sees `stop`; the plain reporter just ends.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), reporter).await;
    let totals = match result {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(err, "error: {}", error_chain(&e));
            return EXIT_FAILED;
        }
    };
    for p in &totals.problems {
        let _ = writeln!(err, "not complete: {p}");
    }
    let _ = writeln!(
        out,
        "backfill: {} objects ({} skipped as done, {} replayed, {} damaged, {} not complete); {} events, {} rows, {} rejected{}; {} objects written ({} bytes, {} failed) in {:.1} s",
        totals.selected,
        totals.skipped,
        totals.complete,
        totals.damaged,
        totals.incomplete,
        totals.events,
        totals.rows,
        totals.rejected,
        unconverted(totals.conversion_errors),
        totals.written,
        totals.bytes,
        totals.failures,
        started.elapsed().as_secs_f64()
    );
    if totals.incomplete == 0 {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// `backfill --manifest`: the CSV manifest S3 Batch Operations reads (`bucket,key`, keys
/// URL-encoded as it requires) and the commands that run the job with the template's role.
fn write_manifest(
    path: &Path,
    origin: &crate::backfill::Origin,
    objects: &[crate::backfill::SourceObject],
    total_bytes: u64,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let crate::backfill::Origin::S3 { bucket, .. } = origin else {
        let _ = writeln!(err, "error: --manifest needs an s3://BUCKET/PREFIX source");
        return EXIT_USAGE;
    };
    let mut csv = String::new();
    for o in objects {
        csv.push_str(bucket);
        csv.push(',');
        csv.push_str(&url_encode_key(&o.location));
        csv.push('\n');
    }
    if let Err(e) = std::fs::write(path, csv) {
        let _ = writeln!(err, "error: cannot write {}: {e}", path.display());
        return EXIT_FAILED;
    }
    let name = path
        .file_name()
        .map_or_else(|| "manifest.csv".into(), |n| n.to_string_lossy());
    let _ = writeln!(
        out,
        "wrote {} ({} objects, {:.1} MB of Classic logs). Run the job with the stack's outputs \
         FunctionArn and BatchOperationsRoleArn (deploy with ClassicBucket={bucket}):\n\n\
         aws s3 cp {} s3://{bucket}/sync-to-s3-batch/{name}\n\
         ETAG=$(aws s3api head-object --bucket {bucket} --key sync-to-s3-batch/{name} --query ETag --output text)\n\
         aws s3control create-job --account-id \"$ACCOUNT_ID\" --no-confirmation-required --priority 10 \\\n  \
         --role-arn \"$BATCH_OPERATIONS_ROLE_ARN\" \\\n  \
         --operation '{{\"LambdaInvoke\":{{\"FunctionArn\":\"'\"$FUNCTION_ARN\"'\",\"InvocationSchemaVersion\":\"2.0\"}}}}' \\\n  \
         --manifest '{{\"Spec\":{{\"Format\":\"S3BatchOperations_CSV_20180820\",\"Fields\":[\"Bucket\",\"Key\"]}},\"Location\":{{\"ObjectArn\":\"arn:aws:s3:::{bucket}/sync-to-s3-batch/{name}\",\"ETag\":'\"$ETAG\"'}}}}' \\\n  \
         --report '{{\"Bucket\":\"arn:aws:s3:::{bucket}\",\"Prefix\":\"sync-to-s3-batch/reports\",\"Format\":\"Report_CSV_20180820\",\"Enabled\":true,\"ReportScope\":\"FailedTasksOnly\"}}'",
        path.display(),
        objects.len(),
        total_bytes as f64 / 1e6,
        path.display(),
    );
    EXIT_OK
}

/// A key as S3 Batch Operations' CSV manifests need it: URL-encoded, `/` kept.
fn url_encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `sync-to-s3 secrets`: reads the stored secrets (if any), replaces the ones given, checks
/// the result as the function's loader will, and writes it back as a SecureString.
async fn secrets_command(
    parameter: &str,
    write_keys: &[String],
    external_id: Option<&str>,
    kms_key_id: Option<&str>,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    if write_keys.is_empty() && external_id.is_none() {
        let _ = writeln!(
            err,
            "error: nothing to store: give --write-key KEY (repeatable) and/or --external-id ID"
        );
        return EXIT_USAGE;
    }
    let sdk = aws::base_config(lookup).await;
    let stored = match aws::read_optional_parameter(&sdk, parameter).await {
        Ok(v) => v,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return EXIT_FAILED;
        }
    };
    let document = match secrets_document(stored.as_deref(), write_keys, external_id) {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return EXIT_USAGE;
        }
    };
    if let Err(e) = aws::write_secure_string(&sdk, parameter, &document.text, kms_key_id).await {
        let _ = writeln!(err, "error: {e}");
        return EXIT_FAILED;
    }
    let _ = writeln!(
        out,
        "stored SecureString {parameter}: write_keys ({} keys), iam_external_id ({})",
        document.write_keys,
        if document.external_id {
            "set"
        } else {
            "not set"
        }
    );
    EXIT_OK
}

/// A secrets document ready to store, and what it holds (counts only).
struct SecretsDocument {
    text: String,
    write_keys: usize,
    external_id: bool,
}

/// `stored` (if any) with `write_keys` (when given) and `external_id` (when given) replaced,
/// checked by the loader the function uses.
fn secrets_document(
    stored: Option<&str>,
    write_keys: &[String],
    external_id: Option<&str>,
) -> Result<SecretsDocument, crate::config::ConfigError> {
    use crate::json::{self, Value};
    use std::borrow::Cow;
    let mut members = match stored {
        Some(text) => crate::config::parse_secrets(text)
            .map_err(|e| e.with_origin("the stored secrets parameter"))?,
        None => Vec::new(),
    };
    if !write_keys.is_empty() {
        let keys = write_keys
            .iter()
            .map(|k| Value::String(Cow::Owned(k.trim().to_owned())))
            .collect();
        members.retain(|(k, _)| k != "write_keys");
        members.push((Cow::Borrowed("write_keys"), Value::Array(keys)));
    }
    if let Some(id) = external_id {
        members.retain(|(k, _)| k != "iam_external_id");
        let id = Value::String(Cow::Owned(id.trim().to_owned()));
        members.push((Cow::Borrowed("iam_external_id"), id));
    }
    let text = json::to_compact(&Value::Object(members));
    // The loader's own checks (non-empty keys, the External ID's characters), without a role
    // or bucket: only the secrets are judged here.
    let probe = r#"{"s3_aws_bucket_name":"check-only"}"#;
    let config = Config::load_with_secrets(Some(probe), Some(&text), "the secrets", &|_| None)?;
    Ok(SecretsDocument {
        text,
        write_keys: config.write_keys.len(),
        external_id: config.external_id.is_some(),
    })
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
        Some(dir) => invoke_with(App::new(config, DirSink::new(dir)), payload, &mut stats).await,
        None => {
            let sdk = aws::base_config(lookup).await;
            let client = aws::s3_client(&sdk, &config, lookup).await;
            let sink = S3Sink::new(client, &config);
            invoke_with(App::new(config, sink), payload, &mut stats).await
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
    payload: String,
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
        "sqs: {} messages, {} events, {} rows, {} filtered, {} rejected{}; {stored} of {} objects \
         written to {to} ({} bytes); {} messages reported failed",
        s.messages,
        s.events,
        s.rows,
        s.filtered,
        s.rejected,
        unconverted(s.conversion_errors as u64),
        s.objects,
        s.bytes,
        s.failed_messages
    )
}

/// `, N rows with cells written as null` when a Parquet cell did not convert; nothing otherwise.
fn unconverted(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} rows with cells written as null (see the error object)")
    }
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
            &["secrets", "--help"],
            &["backfill", "--help"],
            &["help", "invoke"],
        ] {
            let (code, out, err) = run_cli(args);
            assert_eq!(code, EXIT_OK, "{args:?}: {err}");
            assert!(out.contains("Usage: sync-to-s3"), "{args:?}: {out}");
            let names = if args[0] == "secrets" {
                "SYNC_SECRETS_PARAMETER"
            } else {
                "SYNC_CONFIG"
            };
            assert!(out.contains(names), "{args:?}: {out}");
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
    fn a_secrets_document_keeps_what_was_not_given_and_is_checked() {
        let stored = r#"{"write_keys":["old"],"iam_external_id":"ext-old"}"#;
        let d = secrets_document(Some(stored), &["k1".into(), "k2".into()], None).unwrap();
        assert_eq!(
            d.text,
            r#"{"iam_external_id":"ext-old","write_keys":["k1","k2"]}"#
        );
        assert_eq!((d.write_keys, d.external_id), (2, true));
        let d = secrets_document(None, &[], Some("ext-new")).unwrap();
        assert_eq!(d.text, r#"{"iam_external_id":"ext-new"}"#);
        let e = secrets_document(None, &[], Some("has space"))
            .err()
            .expect("refused");
        assert_eq!(e.key, "iam_external_id");
        assert!(!e.to_string().contains("has space"), "{e}");
        let e = secrets_document(None, &[" ".into()], None)
            .err()
            .expect("refused");
        assert_eq!(e.key, "write_keys[0]");
        let e = secrets_document(Some(r#"{"acl":"private"}"#), &["k".into()], None)
            .err()
            .expect("refused");
        assert!(e.to_string().contains("stored secrets parameter"), "{e}");
    }

    #[test]
    fn manifest_keys_are_url_encoded() {
        assert_eq!(
            url_encode_key("segment-logs/src 1/1432684800000/a+b,c.gz"),
            "segment-logs/src%201/1432684800000/a%2Bb%2Cc.gz"
        );
    }

    #[test]
    fn secrets_needs_something_to_store() {
        let (code, _, err) = run_cli(&["secrets"]);
        assert_eq!(code, EXIT_USAGE);
        assert!(err.contains("--write-key"), "{err}");
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
