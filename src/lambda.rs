//! The Lambda function: init once, then serve the Runtime API (SPEC 2.1, 5, 8).
//!
//! Init loads the configuration (inline or from SSM), builds the SDK configuration and the S3
//! client (with its AssumeRole credentials) and then serves invocations with `lambda_runtime`,
//! which also turns a panic into a failed invocation while the process goes on serving. A
//! configuration from SSM is read again when older than `config_ttl_seconds`; a new document
//! that does not validate is logged and the previous one kept.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::value::RawValue;

use crate::aws;
use crate::cli::now_unix_ms;
use crate::config::{Config, Source};
use crate::handler::{App, Invocation, InvokeError, Stats};
use crate::response::error_chain;
use crate::sink::s3::S3Sink;

/// An environment lookup that can be shared with the runtime's tasks.
pub type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Why the function could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// SSM or the AWS layer failed.
    #[error(transparent)]
    Aws(#[from] aws::AwsError),
}

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
    source: Source,
    lookup: Lookup,
    live: RwLock<Arc<Live>>,
}

/// The app in use and when its configuration was read.
struct Live {
    app: App<S3Sink>,
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
        let config = load(&base, &source, &*lookup).await?;
        let sink = S3Sink::new(aws::s3_client(&base, &config, &*lookup).await, &config);
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
            live: RwLock::new(Arc::new(Live {
                app: App::new(config, sink),
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
        let next = match load(&self.base, &self.source, &*self.lookup).await {
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
            app: next,
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
        let deadline_ms = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
        let left = u64::try_from(deadline_ms.saturating_sub(now_ms)).unwrap_or(0);
        let inv = Invocation {
            now_unix_ms: now_ms,
            started,
            deadline: (event.context.deadline > 0).then(|| started + Duration::from_millis(left)),
        };
        let mut stats = Stats::default();
        let result = live
            .app
            .handle_reporting(event.payload.get(), &inv, &mut stats)
            .await;
        let duration_ms = started.elapsed().as_millis();
        log_summary(&stats, duration_ms, result.as_ref().err());
        let response = result?;
        let json = response
            .to_json()
            .map_err(|e| InvokeError::Write(error_chain(&e)))?;
        RawValue::from_string(json)
            .map_err(|e| InvokeError::Write(format!("could not encode the response: {e}")))
    }
}

/// Reads and validates the configuration from its source.
async fn load(
    base: &SdkConfig,
    source: &Source,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, InitError> {
    let origin = source.describe();
    Ok(match source {
        Source::Inline(doc) => Config::load(Some(doc), &origin, lookup)?,
        Source::Defaults => Config::load(None, &origin, lookup)?,
        Source::Parameter(name) => {
            let doc = aws::read_parameter(base, name).await?;
            Config::load(Some(&doc), &origin, lookup)?
        }
    })
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
    let metrics: [(&str, &str, u64); 9] = [
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
