//! The handler: [`pipeline::plan_payload`] → write → respond (SPEC 5 and 6).
//!
//! [`App`] holds what is built once (configuration and sink) and lends it to every invocation.
//! [`App::handle`] takes the raw Lambda payload, plans it with the one pure pipeline, writes the
//! objects concurrently within the deadline, and returns the [`Response`] for its door: the SQS
//! batch response, an API Gateway proxy response, or the direct-invoke summary. A message is
//! reported failed if, and only if, an object holding something from it was not stored.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use crate::config::Config;
use crate::pipeline::{self, Door, Early, Planned};
use crate::plan::{Plan, PlannedObject};
pub use crate::response::{InvokeError, Response, Summary};
use crate::sink::{ErrorClass, ObjectSink, SinkError};

/// Most uploads in flight at once within one invocation.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Time kept free before the invocation deadline: no upload starts later than this, and one
/// still running then is abandoned and counted as failed.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

/// How long API Gateway waits for its integration, less a second: API Gateway gives up at 30 s
/// and a client that got its timeout retries a request whose objects may be written (SPEC 5.0).
pub const API_GATEWAY_LIMIT: Duration = Duration::from_secs(29);

/// Per-invocation facts: the clock and the deadline, passed in so the handler stays testable.
#[derive(Debug, Clone, Copy)]
pub struct Invocation {
    /// The upload time, in milliseconds since the Unix epoch.
    pub now_unix_ms: i64,
    /// When the invocation began (API Gateway requests must answer within 29 s of it).
    pub started: Instant,
    /// When the invocation must have answered; `None` for no limit (command line).
    pub deadline: Option<Instant>,
}

impl Invocation {
    /// An invocation that begins now, at `now_unix_ms`, with Lambda's `deadline` if any.
    pub fn starting_now(now_unix_ms: i64, deadline: Option<Instant>) -> Invocation {
        Invocation {
            now_unix_ms,
            started: Instant::now(),
            deadline,
        }
    }

    /// The deadline for an API Gateway request: Lambda's, or 29 s after the start if earlier.
    pub fn http_deadline(&self) -> Instant {
        let gateway = self.started + API_GATEWAY_LIMIT;
        self.deadline.map_or(gateway, |d| d.min(gateway))
    }
}

/// The figures of one invocation, for the summary log line and the metrics (SPEC 8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// `sqs`, `apigw` or `invoke`.
    pub source: &'static str,
    /// SQS records, or 1.
    pub messages: usize,
    /// Valid events.
    pub events: usize,
    /// Rows planned.
    pub rows: usize,
    /// Events no mapping took.
    pub filtered: usize,
    /// Rejected items.
    pub rejected: usize,
    /// Rows with a Parquet cell that did not convert.
    pub conversion_errors: usize,
    /// Objects planned.
    pub objects: usize,
    /// Bytes stored.
    pub bytes: u64,
    /// Objects not stored.
    pub failures: usize,
    /// SQS messages reported failed.
    pub failed_messages: usize,
    /// The HTTP status, for API Gateway.
    pub status: Option<u16>,
}

impl Stats {
    fn record(&mut self, planned: &Planned, written: &Written) {
        let plan = &planned.plan;
        self.events += planned.events;
        self.rejected += planned.rejected;
        self.rows += plan.rows;
        self.filtered += plan.filtered;
        self.conversion_errors += plan.conversion_errors;
        self.objects += plan.objects.len();
        for (o, e) in plan.objects.iter().zip(&written.errors) {
            match e {
                None => self.bytes += o.body.len() as u64,
                Some(_) => self.failures += 1,
            }
        }
    }
}

/// What the uploads of one invocation came to.
struct Written {
    /// Per planned object: the error, if it was not stored.
    errors: Vec<Option<SinkError>>,
}

impl Written {
    fn failed(&self) -> impl Iterator<Item = &SinkError> {
        self.errors.iter().flatten()
    }

    /// A one-line account of the failures, or `None` when everything was stored.
    fn describe(&self) -> Option<String> {
        let failed: Vec<&SinkError> = self.failed().collect();
        let first = failed.first()?;
        Some(format!(
            "{} of {} objects were not written; first: {first}",
            failed.len(),
            self.errors.len()
        ))
    }
}

/// The function: configuration and sink, built once, lent to every invocation.
pub struct App<S> {
    /// The validated configuration.
    pub config: Config,
    /// Where objects go.
    pub sink: S,
    /// Most uploads in flight at once.
    pub concurrency: usize,
}

impl<S: ObjectSink> App<S> {
    /// An app with the default upload concurrency.
    pub fn new(config: Config, sink: S) -> App<S> {
        App {
            config,
            sink,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// Handles one Lambda payload.
    ///
    /// # Errors
    /// [`InvokeError`] when the invocation fails as a whole: a payload that is not JSON, an
    /// unusable direct-invoke payload, or a failed write on a direct invoke.
    pub async fn handle(
        &self,
        payload: impl Into<Cow<'_, str>>,
        inv: &Invocation,
    ) -> Result<Response, InvokeError> {
        self.handle_reporting(payload, inv, &mut Stats::default())
            .await
    }

    /// [`App::handle`], also filling in the invocation's [`Stats`]. An owned payload is freed as
    /// soon as the pipeline no longer needs it ([`pipeline::plan_payload`]).
    ///
    /// # Errors
    /// As [`App::handle`].
    pub async fn handle_reporting(
        &self,
        payload: impl Into<Cow<'_, str>>,
        inv: &Invocation,
        stats: &mut Stats,
    ) -> Result<Response, InvokeError> {
        stats.messages = 1;
        let planned = match pipeline::plan_payload(&self.config, payload, inv.now_unix_ms) {
            Ok(planned) => planned,
            Err(Early::Answer(response)) => {
                stats.source = "apigw";
                if let Response::Http { status, .. } = &response {
                    stats.status = Some(*status);
                }
                return Ok(response);
            }
            Err(Early::Failed { source, error }) => {
                stats.source = source;
                return Err(error);
            }
        };
        stats.source = planned.door.name();
        let deadline = match planned.door {
            Door::Http { .. } => Some(inv.http_deadline()),
            _ => inv.deadline,
        };
        let written = self.write(&planned.plan, deadline).await;
        stats.record(&planned, &written);
        self.log_failures(&written);
        let summary = Summary {
            events: planned.events,
            rows: planned.plan.rows,
            filtered: planned.plan.filtered,
            rejected: planned.rejected,
            conversion_errors: planned.plan.conversion_errors,
            objects: planned.plan.objects.iter().map(|o| o.key.clone()).collect(),
        };
        match planned.door {
            Door::Sqs { message_ids, fifo } => {
                stats.messages = message_ids.len();
                let failed = failed_messages(&planned.plan, &written, message_ids.len(), fifo);
                stats.failed_messages = failed.iter().filter(|f| **f).count();
                Ok(Response::Sqs(
                    message_ids
                        .into_iter()
                        .zip(&failed)
                        .filter(|(_, f)| **f)
                        .map(|(id, _)| id)
                        .collect(),
                ))
            }
            Door::Http { version } => {
                let response = match written.describe() {
                    Some(why) => Response::refusal(version, 503, &why),
                    None => Response::http(version, 200, summary.to_json()),
                };
                if let Response::Http { status, .. } = &response {
                    stats.status = Some(*status);
                }
                Ok(response)
            }
            Door::Invoke => match written.describe() {
                Some(why) => Err(InvokeError::Write(why)),
                None => Ok(Response::Summary(summary)),
            },
        }
    }

    /// Logs each object that was not stored, with its class (never its content).
    fn log_failures(&self, written: &Written) {
        for e in written.failed() {
            tracing::warn!(key = %e.key, class = e.class.as_str(), error = %e.message, "object not written");
        }
    }

    /// Writes every planned object as the handler does (at most `concurrency` at once, none
    /// started that cannot finish before `deadline`); per object, the error if it was not
    /// stored. For the doors planned outside [`App::handle`] (the Classic backfill).
    pub async fn store(&self, plan: &Plan, deadline: Option<Instant>) -> Vec<Option<SinkError>> {
        let written = self.write(plan, deadline).await;
        self.log_failures(&written);
        written.errors
    }

    /// Writes every planned object, at most `concurrency` at once, starting none that cannot
    /// finish before the deadline.
    async fn write(&self, plan: &Plan, deadline: Option<Instant>) -> Written {
        let cutoff = deadline.map(|d| d.checked_sub(DEADLINE_MARGIN).unwrap_or(d));
        let results: Vec<(usize, Result<(), SinkError>)> =
            stream::iter(plan.objects.iter().enumerate())
                .map(|(i, o)| async move { (i, self.put_one(o, cutoff).await) })
                .buffer_unordered(self.concurrency.max(1))
                .collect()
                .await;
        let mut errors = vec![None; plan.objects.len()];
        for (i, r) in results {
            errors[i] = r.err();
        }
        Written { errors }
    }

    async fn put_one(&self, o: &PlannedObject, cutoff: Option<Instant>) -> Result<(), SinkError> {
        if let Some(why) = &o.unwritable {
            return Err(SinkError::new(&o.key, ErrorClass::Permanent, why.clone()));
        }
        let Some(cutoff) = cutoff else {
            return self.sink.put(o).await;
        };
        let late = |what: &str| {
            SinkError::new(
                &o.key,
                ErrorClass::Transient,
                format!("{what}: the invocation deadline is too near"),
            )
        };
        let left = cutoff.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(late("not started"));
        }
        match tokio::time::timeout(left, self.sink.put(o)).await {
            Ok(r) => r,
            Err(elapsed) => Err(late("abandoned").caused_by(elapsed)),
        }
    }
}

/// Which SQS messages to report (SPEC 5.1): those with something in an object that was not
/// stored; on a FIFO queue, also every message after the first such one, so that SQS redelivers
/// them in order.
fn failed_messages(plan: &Plan, written: &Written, messages: usize, fifo: bool) -> Vec<bool> {
    let mut failed = vec![false; messages];
    for (o, e) in plan.objects.iter().zip(&written.errors) {
        if e.is_some() {
            for &s in &o.sources {
                if let Some(f) = failed.get_mut(s as usize) {
                    *f = true;
                }
            }
        }
    }
    if fifo {
        if let Some(first) = failed.iter().position(|f| *f) {
            failed[first..].iter_mut().for_each(|f| *f = true);
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::sink::memory::MemorySink;
    use base64::Engine;

    fn app(doc: &str, sink: MemorySink) -> App<MemorySink> {
        App::new(Config::load(Some(doc), "test", &|_| None).unwrap(), sink)
    }

    fn inv() -> Invocation {
        Invocation::starting_now(0, None)
    }

    fn sqs(bodies: &[&str], arn: &str) -> String {
        let records: Vec<String> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let mut body = String::new();
                json::write_string(b, &mut body);
                format!(r#"{{"messageId":"m{i}","body":{body},"eventSource":"aws:sqs","eventSourceARN":"{arn}"}}"#)
            })
            .collect();
        format!(r#"{{"Records":[{}]}}"#, records.join(","))
    }

    #[tokio::test]
    async fn a_failed_object_fails_exactly_its_messages() {
        let a = app(
            r#"{"s3_aws_bucket_name":"b-1"}"#,
            MemorySink::failing(|k| k.starts_with("identify/")),
        );
        let payload = sqs(
            &[
                r#"{"type":"track"}"#,
                r#"{"type":"identify"}"#,
                r#"{"type":"track"}"#,
                "not json",
            ],
            "arn:aws:sqs:us-east-1:1:q",
        );
        let r = a.handle(&payload, &inv()).await.unwrap();
        assert_eq!(r, Response::Sqs(vec!["m1".into()]));
        let stored = a.sink.objects();
        assert_eq!(stored.len(), 2); // track + error object
    }

    #[tokio::test]
    async fn a_failed_error_object_fails_the_rejected_messages() {
        let a = app(
            r#"{"s3_aws_bucket_name":"b-1"}"#,
            MemorySink::failing(|k| k.starts_with("_errors/")),
        );
        let payload = sqs(
            &[r#"{"type":"track"}"#, "oops"],
            "arn:aws:sqs:us-east-1:1:q",
        );
        let r = a.handle(&payload, &inv()).await.unwrap();
        assert_eq!(r, Response::Sqs(vec!["m1".into()]));
    }

    #[tokio::test]
    async fn fifo_reports_every_message_after_the_first_failure() {
        let a = app(
            r#"{"s3_aws_bucket_name":"b-1"}"#,
            MemorySink::failing(|k| k.starts_with("identify/")),
        );
        let payload = sqs(
            &[
                r#"{"type":"track"}"#,
                r#"{"type":"identify"}"#,
                r#"{"type":"track"}"#,
            ],
            "arn:aws:sqs:us-east-1:1:q.fifo",
        );
        let r = a.handle(&payload, &inv()).await.unwrap();
        assert_eq!(r, Response::Sqs(vec!["m1".into(), "m2".into()]));
    }

    fn http(method: &str, body: &str, headers: &str) -> String {
        http_at("/v1/batch", method, body, headers)
    }

    fn http_at(path: &str, method: &str, body: &str, headers: &str) -> String {
        let mut b = String::new();
        json::write_string(body, &mut b);
        format!(
            r#"{{"version":"2.0","rawPath":"{path}","requestContext":{{"http":{{"method":"{method}","sourceIp":"192.0.2.1"}},"requestId":"rq","timeEpoch":1795514400000}},"headers":{{{headers}}},"body":{b},"isBase64Encoded":false}}"#
        )
    }

    fn headers_of(r: &Response) -> Vec<(&'static str, String)> {
        match r {
            Response::Http { headers, .. } => headers.clone(),
            other => panic!("{other:?}"),
        }
    }

    async fn status(a: &App<MemorySink>, payload: &str) -> (u16, String) {
        match a.handle(payload, &inv()).await.unwrap() {
            Response::Http { status, body, .. } => (status, body),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn http_statuses_follow_the_spec_order() {
        let a = app(
            r#"{"s3_aws_bucket_name":"b-1","write_keys":["wk"]}"#,
            MemorySink::new(),
        );
        let basic = format!(
            r#""authorization":"Basic {}""#,
            base64::engine::general_purpose::STANDARD.encode("wk:")
        );
        // Each refusal writes nothing; each acceptance writes its own object (the events differ,
        // so their content-addressed keys do too).
        let refused = [
            (http("GET", "{}", ""), 405),
            (http("POST", "nope", ""), 400),
            (http("POST", r#"{"type":"track","userId":"a"}"#, ""), 401),
            (http("POST", "\"str\"", &basic), 400),
            (
                http(
                    "POST",
                    r#"{"batch":[{"type":"track","userId":"b"}],"writeKey":"wx"}"#,
                    "",
                ),
                401,
            ),
        ];
        for (payload, want) in &refused {
            assert_eq!(status(&a, payload).await.0, *want, "{payload}");
            assert!(a.sink.objects().is_empty(), "a {want} wrote something");
        }
        let (code, body) = status(
            &a,
            &http("POST", r#"{"type":"track","userId":"c"}"#, &basic),
        )
        .await;
        assert_eq!(code, 200, "{body}");
        let (code, body) = status(
            &a,
            &http(
                "POST",
                r#"{"type":"track","userId":"d","writeKey":"wk"}"#,
                "",
            ),
        )
        .await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(a.sink.objects().len(), 2, "{:?}", a.sink.objects().keys());
    }

    #[tokio::test]
    async fn http_write_failure_is_503() {
        let a = app(
            r#"{"s3_aws_bucket_name":"b-1"}"#,
            MemorySink::failing(|_| true),
        );
        let (code, body) = status(&a, &http("POST", r#"{"type":"track"}"#, "")).await;
        assert_eq!(code, 503);
        assert!(body.starts_with("{\"ok\":false,\"error\":"), "{body}");
    }

    #[tokio::test]
    async fn invoke_failures_are_errors() {
        let a = app(
            r#"{"s3_aws_bucket_name":"b-1"}"#,
            MemorySink::failing(|_| true),
        );
        assert!(matches!(
            a.handle(r#"{"type":"track"}"#, &inv()).await,
            Err(InvokeError::Write(_))
        ));
        assert!(matches!(
            a.handle("42", &inv()).await,
            Err(InvokeError::Payload(_))
        ));
        assert!(matches!(
            a.handle("{", &inv()).await,
            Err(InvokeError::Payload(_))
        ));
    }

    #[tokio::test]
    async fn a_passed_deadline_starts_no_upload() {
        let a = app(r#"{"s3_aws_bucket_name":"b-1"}"#, MemorySink::new());
        let late = Invocation::starting_now(0, Some(Instant::now()));
        let payload = sqs(&[r#"{"type":"track"}"#], "arn:aws:sqs:us-east-1:1:q");
        let r = a.handle(&payload, &late).await.unwrap();
        assert_eq!(r, Response::Sqs(vec!["m0".into()]));
        assert!(a.sink.objects().is_empty());
    }

    #[tokio::test]
    async fn every_http_response_allows_any_origin() {
        let a = app(
            r#"{"s3_aws_bucket_name":"b-1","write_keys":["wk"]}"#,
            MemorySink::new(),
        );
        for payload in [
            http("GET", "{}", ""),
            http_at("/v1/nope", "POST", "{}", ""),
            http("POST", "nope", ""),
            http("POST", r#"{"type":"track"}"#, ""),
            http("POST", r#"{"type":"track","writeKey":"wk"}"#, ""),
        ] {
            let r = a.handle(&payload, &inv()).await.unwrap();
            assert_eq!(
                headers_of(&r),
                vec![("Access-Control-Allow-Origin", "*".to_owned())]
            );
            let doc: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
            assert_eq!(doc["headers"]["content-type"], "application/json");
            assert_eq!(doc["headers"]["access-control-allow-origin"], "*");
        }
    }

    #[tokio::test]
    async fn a_preflight_is_204_without_a_key_and_writes_nothing() {
        let a = app(
            r#"{"s3_aws_bucket_name":"b-1","write_keys":["wk"]}"#,
            MemorySink::new(),
        );
        let payload = http_at(
            "/anything/at/all",
            "OPTIONS",
            "",
            r#""Access-Control-Request-Headers":"authorization,content-type""#,
        );
        let r = a.handle(&payload, &inv()).await.unwrap();
        let doc: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(doc["statusCode"], 204);
        assert!(doc.get("body").is_none(), "{doc}");
        assert!(doc["headers"].get("content-type").is_none());
        assert_eq!(
            doc["headers"]["access-control-allow-headers"],
            "authorization,content-type"
        );
        assert_eq!(
            doc["headers"]["access-control-allow-methods"],
            "POST, OPTIONS"
        );
        assert!(a.sink.objects().is_empty());
    }

    #[tokio::test]
    async fn an_unknown_path_is_404_naming_the_accepted_ones_before_the_body_is_read() {
        let a = app(r#"{"s3_aws_bucket_name":"b-1"}"#, MemorySink::new());
        for path in ["/v1/unknown", "/", "/v1/batch//"] {
            let (code, body) = status(&a, &http_at(path, "POST", "not even json", "")).await;
            assert_eq!(code, 404, "{path}");
            assert!(
                body.contains("/v1/batch") && body.contains("/v1/t"),
                "{body}"
            );
        }
        let no_path =
            http("POST", r#"{"type":"track"}"#, "").replace(r#""rawPath":"/v1/batch","#, "");
        assert_eq!(status(&a, &no_path).await.0, 404);
        assert!(a.sink.objects().is_empty());
    }

    #[tokio::test]
    async fn a_single_event_endpoint_takes_one_object_and_sets_its_type() {
        let a = app(
            r#"{"s3_aws_bucket_name":"b-1","write_keys":["wk"],"columns":{"t":{"@path":"$.type"},"all":{"@path":"$"}},"subscription":""}"#,
            MemorySink::new(),
        );
        for body in [r#"[{"type":"track"}]"#, "\"x\"", "3"] {
            let (code, _) = status(
                &a,
                &http_at("/v1/t", "POST", body, r#""authorization":"Basic d2s=""#),
            )
            .await;
            assert_eq!(code, 400, "{body}");
        }
        // A batch-shaped object posted to a single-event endpoint is one event.
        let (code, body) = status(
            &a,
            &http_at(
                "/v1/p",
                "POST",
                r#"{"batch":[{"type":"track"}],"writeKey":"wk"}"#,
                "",
            ),
        )
        .await;
        assert_eq!(code, 200, "{body}");
        let objects = a.sink.objects();
        let (key, (bytes, _)) = objects.iter().next().unwrap();
        assert!(key.starts_with("page/"), "{key}");
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains(r#"""batch"":[{""type"":""track""}],""type"":""page"""#),
            "{text}"
        );
        assert!(
            !text.contains("writeKey"),
            "the write key is removed: {text}"
        );
    }

    #[tokio::test]
    async fn receipt_fields_can_be_turned_off() {
        for (flag, stamped) in [("true", true), ("false", false)] {
            let a = app(
                &format!(
                    r#"{{"s3_aws_bucket_name":"b-1","receipt_fields":{flag},"columns":{{"all":{{"@path":"$"}}}}}}"#
                ),
                MemorySink::new(),
            );
            let (code, _) =
                status(&a, &http_at("/v1/track", "POST", r#"{"userId":"u"}"#, "")).await;
            assert_eq!(code, 200);
            let objects = a.sink.objects();
            let text = String::from_utf8(objects.values().next().unwrap().0.clone()).unwrap();
            assert_eq!(text.contains("receivedAt"), stamped, "{text}");
            assert_eq!(text.contains("192.0.2.1"), stamped, "{text}");
            assert!(text.contains(r#"""type"":""track"""#), "{text}");
        }
    }

    #[tokio::test]
    async fn an_http_request_answers_503_within_29_seconds_of_its_start() {
        let a = app(r#"{"s3_aws_bucket_name":"b-1"}"#, MemorySink::new());
        // Lambda would allow minutes more, but the request began 28 s ago: API Gateway's
        // 29 s leave no time to start an upload, so the client is told to retry.
        let inv = Invocation {
            now_unix_ms: 0,
            started: Instant::now() - Duration::from_secs(28),
            deadline: Some(Instant::now() + Duration::from_secs(600)),
        };
        let r = a
            .handle(&http("POST", r#"{"type":"track"}"#, ""), &inv)
            .await
            .unwrap();
        let Response::Http { status, body, .. } = r else {
            panic!("{r:?}")
        };
        assert_eq!(status, 503, "{body}");
        assert!(a.sink.objects().is_empty());
        // The same payload through SQS keeps Lambda's own deadline.
        let payload = sqs(&[r#"{"type":"track"}"#], "arn:aws:sqs:us-east-1:1:q");
        assert_eq!(
            a.handle(&payload, &inv).await.unwrap(),
            Response::Sqs(vec![])
        );
    }

    #[tokio::test]
    async fn eventbridge_events_are_unwrapped_for_sqs_and_direct_invokes() {
        let a = app(r#"{"s3_aws_bucket_name":"b-1"}"#, MemorySink::new());
        let eb = r#"{"detail-type":"track","source":"aws.partner/segment.com/x","detail":{"type":"track","userId":"u"}}"#;
        let bad = r#"{"detail-type":"track","source":"s","detail":{"userId":"u"}}"#;
        let r = a
            .handle(&sqs(&[eb, bad], "arn:aws:sqs:us-east-1:1:q"), &inv())
            .await
            .unwrap();
        assert_eq!(r, Response::Sqs(vec![]));
        let objects = a.sink.objects();
        assert_eq!(objects.len(), 2, "{:?}", objects.keys());
        let errors = objects
            .iter()
            .find(|(k, _)| k.starts_with("_errors/"))
            .unwrap();
        let line: serde_json::Value = serde_json::from_slice(&errors.1 .0).unwrap();
        assert_eq!(line["body"], bad);
        assert!(line["index"].is_null());
        assert!(line["reason"]
            .as_str()
            .unwrap()
            .starts_with("EventBridge detail"));
        assert!(matches!(a.handle(eb, &inv()).await, Ok(Response::Summary(s)) if s.rows == 1));
        assert!(matches!(
            a.handle(bad, &inv()).await,
            Err(InvokeError::Payload(_))
        ));
    }
}
