//! The Lambda function: init once, then serve the Runtime API (SPEC 2.1, 5, 8).
//!
//! Init loads the configuration (inline or from SSM), builds the SDK configuration and the S3
//! client (with its AssumeRole credentials) and then serves invocations with `lambda_runtime`,
//! which also turns a panic into a failed invocation while the process goes on serving. A
//! configuration from SSM is read again when older than `config_ttl_seconds`; a new document
//! that does not validate is logged and the previous one kept.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::value::RawValue;

use crate::aws;
use crate::backfill;
use crate::cli::now_unix_ms;
use crate::config::Source;
use crate::handler::{App, Invocation, InvokeError, Stats};
use crate::response::error_chain;
use crate::response::Response;
use crate::sink::s3::S3Sink;
use crate::source::batch_operations::{self, BatchJob, TaskResult};
use crate::source::s3_notification::{self, Notification};
use crate::source::{Envelope, SqsBatch};

/// An environment lookup that can be shared with the runtime's tasks.
pub type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Why the function could not start: the configuration, or reading it from SSM.
pub use crate::aws::LoadError as InitError;

impl From<InvokeError> for Diagnostic {
    fn from(e: InvokeError) -> Diagnostic {
        let error_type = match e {
            InvokeError::Payload(_) => "SyncToS3.UnusablePayload",
            InvokeError::Write(_) => "SyncToS3.WriteFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// What the function holds between invocations.
pub struct Function {
    base: SdkConfig,
    /// Reads source objects for S3 Batch Operations tasks, with the function's own role.
    reader: aws_sdk_s3::Client,
    source: Source,
    lookup: Lookup,
    live: RwLock<Arc<Live>>,
}

/// The app in use and when its configuration was read.
struct Live {
    app: Arc<App<S3Sink>>,
    loaded: Instant,
}

impl Function {
    /// Loads the configuration and builds the clients.
    ///
    /// # Errors
    /// [`InitError`] naming the offending key, or the SSM parameter and the reason.
    pub async fn init(lookup: Lookup) -> Result<Function, InitError> {
        let source = Source::from_lookup(&*lookup);
        let base = aws::base_config(&*lookup).await;
        let config = aws::load_config(&base, &source, &*lookup).await?;
        let sink = S3Sink::new(aws::s3_client(&base, &config, &*lookup).await, &config);
        let reader = aws::s3_reader(&base, &*lookup);
        tracing::info!(
            source = %source.describe(),
            bucket = %config.bucket,
            mappings = config.mappings.len(),
            assume_role = config.role_arn.is_some(),
            "configuration loaded"
        );
        Ok(Function {
            base,
            source,
            lookup,
            reader,
            live: RwLock::new(Arc::new(Live {
                app: Arc::new(App::new(config, sink)),
                loaded: Instant::now(),
            })),
        })
    }

    /// The app to serve this invocation with, reading SSM again when the TTL has passed.
    async fn current(&self) -> Arc<Live> {
        let live = self
            .live
            .read()
            .map(|l| Arc::clone(&l))
            .unwrap_or_else(|p| Arc::clone(&p.into_inner()));
        let ttl = live.app.config.config_ttl_seconds;
        if !matches!(self.source, Source::Parameter(_))
            || ttl == 0
            || live.loaded.elapsed() < Duration::from_secs(ttl)
        {
            return live;
        }
        let next = match aws::load_config(&self.base, &self.source, &*self.lookup).await {
            Ok(config) => {
                let sink = if aws::same_client(&live.app.config, &config) {
                    S3Sink::new(live.app.sink.client().clone(), &config)
                } else {
                    S3Sink::new(
                        aws::s3_client(&self.base, &config, &*self.lookup).await,
                        &config,
                    )
                };
                tracing::info!(source = %self.source.describe(), "configuration re-read");
                App::new(config, sink)
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration not re-read; keeping the previous one");
                App::new(live.app.config.clone(), live.app.sink.clone())
            }
        };
        let fresh = Arc::new(Live {
            app: Arc::new(next),
            loaded: Instant::now(),
        });
        if let Ok(mut slot) = self.live.write() {
            *slot = Arc::clone(&fresh);
        }
        fresh
    }

    /// Serves one invocation.
    ///
    /// # Errors
    /// [`InvokeError`] when the invocation fails as a whole.
    pub async fn invoke(
        &self,
        event: LambdaEvent<Box<RawValue>>,
    ) -> Result<Box<RawValue>, InvokeError> {
        let started = Instant::now();
        let live = self.current().await;
        let now_ms = now_unix_ms();
        let deadline_ms = plausible_deadline(event.context.deadline, now_ms).unwrap_or_else(|| {
            if !IMPLAUSIBLE_DEADLINE_LOGGED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    deadline_ms = event.context.deadline,
                    "Lambda-Runtime-Deadline-Ms is not an epoch time within Lambda's 15-minute \
                     limit (cargo lambda's emulator sends its timeout there); using 15 minutes \
                     from the start of each such invocation. Logged once."
                );
            }
            now_ms.saturating_add(LONGEST_TIMEOUT_MS)
        });
        let left = u64::try_from(deadline_ms.saturating_sub(now_ms)).unwrap_or(0);
        let inv = Invocation {
            now_unix_ms: now_ms,
            started,
            deadline: Some(started + Duration::from_millis(left)),
        };
        if let Some(job) = BatchJob::parse(event.payload.get()) {
            return self.batch_job(&live, &job, &inv).await;
        }
        if s3_notification::may_hold_notifications(event.payload.get()) {
            if let Ok(Envelope::Sqs(batch)) = Envelope::parse(event.payload.get()) {
                if let Some(notes) = s3_notification::parse(&batch) {
                    return self.notifications(&live, &batch, &notes, &inv).await;
                }
            }
        }
        let mut stats = Stats::default();
        // The payload by value, so that the pipeline frees it once read (issue 15).
        let payload = String::from(Box::<str>::from(event.payload));
        let result = live.app.handle_reporting(payload, &inv, &mut stats).await;
        let duration_ms = started.elapsed().as_millis();
        log_summary(&stats, duration_ms, result.as_ref().err());
        raw(&result?)
    }

    /// An S3 Batch Operations invocation (issue 13): each task's Classic object replayed, and
    /// the answer per task. Logged as one summary line with source `batch`.
    async fn batch_job(
        &self,
        live: &Live,
        job: &BatchJob,
        inv: &Invocation,
    ) -> Result<Box<RawValue>, InvokeError> {
        let (results, totals) =
            backfill::batch_job(&live.app, &self.reader, job, inv.deadline).await;
        let failed = results
            .iter()
            .filter(|(_, r)| !matches!(r, TaskResult::Succeeded(_)))
            .count();
        let stats = totals.stats("batch", job.tasks.len(), failed);
        log_summary(&stats, inv.started.elapsed().as_millis(), None);
        serde_json::value::to_raw_value(&batch_operations::response(job, &results))
            .map_err(|e| InvokeError::Write(format!("could not encode the response: {e}")))
    }

    /// An SQS batch of S3 notifications (issue 13): each new Classic object replayed; a
    /// message is reported failed when an object it names was not read or stored. Logged and
    /// counted as `sqs`, so that the FailedMessages alarm covers it.
    async fn notifications(
        &self,
        live: &Live,
        batch: &SqsBatch,
        notes: &[Notification],
        inv: &Invocation,
    ) -> Result<Box<RawValue>, InvokeError> {
        let mut totals = backfill::Totals::default();
        let mut failed = Vec::new();
        for (record, note) in batch.records.iter().zip(notes) {
            let Notification::Objects(objects) = note else {
                continue;
            };
            let done = backfill::notified_objects(
                &live.app,
                &self.reader,
                objects,
                inv.deadline,
                &mut totals,
            )
            .await;
            if !done {
                failed.push(record.message_id.clone());
            }
        }
        let stats = totals.stats("sqs", batch.records.len(), failed.len());
        log_summary(&stats, inv.started.elapsed().as_millis(), None);
        raw(&Response::Sqs(failed))
    }
}

/// A response as the JSON document the runtime sends back.
fn raw(response: &Response) -> Result<Box<RawValue>, InvokeError> {
    let json = response
        .to_json()
        .map_err(|e| InvokeError::Write(error_chain(&e)))?;
    RawValue::from_string(json)
        .map_err(|e| InvokeError::Write(format!("could not encode the response: {e}")))
}

/// Lambda's longest function timeout, in milliseconds.
pub const LONGEST_TIMEOUT_MS: i64 = 15 * 60 * 1000;

/// Whether the implausible-deadline warning was logged (once per process).
static IMPLAUSIBLE_DEADLINE_LOGGED: AtomicBool = AtomicBool::new(false);

/// The invocation's deadline from `Lambda-Runtime-Deadline-Ms`, if it is plausible: an epoch
/// time in milliseconds after 2001 and at most Lambda's longest timeout (plus a minute of clock
/// slack) ahead of `now_ms`. A deadline already passed is plausible (the invocation then fails
/// its writes as too late); `600000`, which cargo lambda's emulator sends, is not.
pub fn plausible_deadline(header_ms: u64, now_ms: i64) -> Option<i64> {
    const AFTER_2001_MS: i64 = 1_000_000_000_000;
    let deadline = i64::try_from(header_ms).ok()?;
    let latest = now_ms.saturating_add(LONGEST_TIMEOUT_MS + 60_000);
    (AFTER_2001_MS..=latest)
        .contains(&deadline)
        .then_some(deadline)
}

/// The log filter: `AWS_LAMBDA_LOG_LEVEL` (set by Lambda from the function's
/// `LoggingConfig.ApplicationLogLevel`) when it names a level, else `RUST_LOG`, else `fallback`.
pub fn log_filter(lookup: &dyn Fn(&str) -> Option<String>, fallback: &str) -> String {
    let platform = lookup("AWS_LAMBDA_LOG_LEVEL").and_then(|level| {
        Some(match level.trim().to_ascii_uppercase().as_str() {
            "TRACE" => "trace",
            "DEBUG" => "debug",
            "INFO" => "info",
            "WARN" => "warn",
            "ERROR" | "FATAL" => "error",
            _ => return None,
        })
    });
    match platform {
        Some(level) => level.to_owned(),
        None => lookup("RUST_LOG")
            .filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| fallback.to_owned()),
    }
}

/// One summary line per invocation, and the same figures as a CloudWatch Embedded Metric
/// Format line in namespace `SyncToS3`. Counts only: no cell value, no secret.
fn log_summary(s: &Stats, duration_ms: u128, error: Option<&InvokeError>) {
    tracing::info!(
        source = s.source,
        messages = s.messages,
        events = s.events,
        rows = s.rows,
        filtered = s.filtered,
        rejected = s.rejected,
        conversion_errors = s.conversion_errors,
        objects = s.objects,
        bytes = s.bytes,
        failures = s.failures,
        failed_messages = s.failed_messages,
        status = s.status,
        duration_ms = u64::try_from(duration_ms).unwrap_or(u64::MAX),
        error = error.map(ToString::to_string),
        "invocation"
    );
    println!("{}", emf_line(s, duration_ms, now_unix_ms()));
}

/// The EMF document for one invocation: the metric definitions and their values, built from
/// one table so that the two cannot drift apart.
pub fn emf_line(s: &Stats, duration_ms: u128, timestamp_ms: i64) -> String {
    let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let mut metrics: Vec<(&str, &str, u64)> = vec![
        ("Events", "Count", count(s.events)),
        ("Rows", "Count", count(s.rows)),
        ("Filtered", "Count", count(s.filtered)),
        ("Rejected", "Count", count(s.rejected)),
        ("Objects", "Count", count(s.objects)),
        ("Bytes", "Bytes", s.bytes),
        ("Failures", "Count", count(s.failures)),
        ("FailedMessages", "Count", count(s.failed_messages)),
        (
            "Duration",
            "Milliseconds",
            u64::try_from(duration_ms).unwrap_or(u64::MAX),
        ),
    ];
    // Only when there are some: a custom metric is billed once it exists, and CSV-only
    // configurations never have any.
    if s.conversion_errors > 0 {
        metrics.push(("ConversionErrors", "Count", count(s.conversion_errors)));
    }
    let definitions: Vec<String> = metrics
        .iter()
        .map(|(name, unit, _)| format!("{{\"Name\":\"{name}\",\"Unit\":\"{unit}\"}}"))
        .collect();
    let values: String = metrics
        .iter()
        .map(|(name, _, value)| format!(",\"{name}\":{value}"))
        .collect();
    format!(
        "{{\"_aws\":{{\"Timestamp\":{timestamp_ms},\"CloudWatchMetrics\":[{{\"Namespace\":\"SyncToS3\",\"Dimensions\":[[\"Source\"]],\"Metrics\":[{}]}}]}},\"Source\":\"{}\"{values}}}",
        definitions.join(","),
        s.source
    )
}

/// Runs the function against the Lambda Runtime API until the process is stopped.
///
/// # Errors
/// The init error (so that Lambda reports an init failure and consumes no event), or a
/// runtime error.
pub async fn run(lookup: Lookup) -> Result<(), lambda_runtime::Error> {
    let function = match Function::init(Arc::clone(&lookup)).await {
        Ok(f) => Arc::new(f),
        Err(e) => {
            tracing::error!(error = %e, "init failed");
            if let Some(api) = lookup("AWS_LAMBDA_RUNTIME_API") {
                report_init_error(&api, &e.to_string());
            }
            return Err(e.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let function = Arc::clone(&function);
        async move { function.invoke(event).await }
    }))
    .await
}

/// Tells the Runtime API that init failed (`POST /2018-06-01/runtime/init/error`), so that
/// Lambda shows the reason instead of a bare exit. Best effort: the process exits either way.
fn report_init_error(api: &str, message: &str) {
    use std::io::{Read, Write};
    let mut body = String::from("{\"errorType\":\"SyncToS3.InitError\",\"errorMessage\":");
    crate::json::write_string(message, &mut body);
    body.push_str(",\"stackTrace\":[]}");
    let sent = std::net::TcpStream::connect(api).and_then(|mut s| {
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        write!(
            s,
            "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\nLambda-Runtime-Function-Error-Type: SyncToS3.InitError\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut reply = [0u8; 64];
        let _ = s.read(&mut reply)?;
        Ok(())
    });
    if let Err(e) = sent {
        tracing::warn!(error = %e, "could not report the init error to the Runtime API");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_implausible_deadline_is_not_trusted() {
        let now = 1_795_478_400_000;
        assert_eq!(
            plausible_deadline(600_000, now),
            None,
            "cargo lambda's emulator"
        );
        assert_eq!(plausible_deadline(0, now), None);
        assert_eq!(plausible_deadline(u64::MAX, now), None);
        assert_eq!(
            plausible_deadline(now as u64 + 3_600_000, now),
            None,
            "an hour ahead"
        );
        for ok in [now + 60_000, now + LONGEST_TIMEOUT_MS, now - 5] {
            assert_eq!(plausible_deadline(ok as u64, now), Some(ok));
        }
    }

    #[test]
    fn lambdas_log_level_wins_over_rust_log() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let both = env(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "warn")]);
        assert_eq!(log_filter(&both, "info"), "debug");
        assert_eq!(
            log_filter(&env(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]), "info"),
            "error"
        );
        let odd = env(&[
            ("AWS_LAMBDA_LOG_LEVEL", "loud"),
            ("RUST_LOG", "sync_to_s3=trace"),
        ]);
        assert_eq!(log_filter(&odd, "info"), "sync_to_s3=trace");
        assert_eq!(log_filter(&env(&[]), "warn"), "warn");
    }

    #[test]
    fn emf_line_is_json_with_the_namespace() {
        let s = Stats {
            source: "sqs",
            events: 3,
            bytes: 10,
            ..Stats::default()
        };
        let line = emf_line(&s, 12, 1_700_000_000_000);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "SyncToS3");
        assert_eq!(v["Events"], 3);
        assert_eq!(v["Duration"], 12);
        assert_eq!(v["Source"], "sqs");
    }
}
