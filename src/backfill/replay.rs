//! One Classic object replayed: opened (a file or a GetObject stream), read line by line in a
//! reader thread, planned chunk by chunk, written through the App; what it came to.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::handler::{App, DEADLINE_MARGIN};
use crate::key::Stamp;
use crate::pipeline::{self, PlannedChunk};
use crate::response::error_chain;
use crate::sink::{ErrorClass, ObjectSink};
use crate::source::classic::{Chunker, LineReader};

use super::*;
use crate::aws::sdk_reason;

/// Why one source object could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFailure {
    /// Whether a retry may succeed (throttling, 5xx, timeouts) or not (missing, denied).
    pub class: ErrorClass,
    /// One line: the key and the reason.
    pub reason: String,
}

/// What replaying one source object did.
#[derive(Debug, Clone, Default)]
pub struct ObjectResult {
    /// Lines that were events.
    pub events: u64,
    /// Rows planned.
    pub rows: u64,
    /// Rejected items, the damage item included.
    pub rejected: u64,
    /// Rows with a Parquet cell that did not convert.
    pub conversion_errors: u64,
    /// Objects planned.
    pub planned: u64,
    /// Objects stored.
    pub written: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Objects not stored: the first error, and their number.
    pub failed: Option<(String, ErrorClass)>,
    /// Objects not stored.
    pub failures: u64,
    /// The stream broke before its end: where and why (kept as a rejected item too).
    pub damage: Option<String>,
    /// The object could not be read at all.
    pub unreadable: Option<ReadFailure>,
}

impl ObjectResult {
    /// Whether everything the object holds is stored (damage included, as a rejected item).
    pub fn complete(&self) -> bool {
        self.failures == 0 && self.unreadable.is_none()
    }

    fn unreadable(class: ErrorClass, reason: String) -> ObjectResult {
        ObjectResult {
            unreadable: Some(ReadFailure { class, reason }),
            ..ObjectResult::default()
        }
    }
}

/// A byte stream fed by the async side, read by the reader thread.
struct ChannelReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Err(e)) => return Err(e),
                Some(Ok(b)) => self.current = b,
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Counters shared with the progress reporter.
#[derive(Debug, Default)]
pub struct Progress {
    /// Source objects finished.
    pub objects: AtomicU64,
    /// Stored bytes read so far (a finished object counts whole).
    pub source_bytes: Arc<AtomicU64>,
    /// Events so far.
    pub events: AtomicU64,
}

/// Replays one object: opens it (a file, or a GetObject stream), then reads, plans and writes
/// it chunk by chunk.
pub async fn replay_object<S>(
    app: &Arc<App<S>>,
    object: &SourceObject,
    reader: Option<&aws_sdk_s3::Client>,
    origin: &Origin,
    progress: &Progress,
    deadline: Option<Instant>,
) -> ObjectResult
where
    S: ObjectSink + Send + Sync + 'static,
{
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
    let source: Box<dyn Read + Send> = match origin {
        Origin::Local(_) => match std::fs::File::open(&object.location) {
            Ok(f) => Box::new(f),
            Err(e) => {
                let class = match e.kind() {
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                        ErrorClass::Permanent
                    }
                    _ => ErrorClass::Transient,
                };
                return ObjectResult::unreadable(class, format!("{}: {e}", object.name));
            }
        },
        Origin::S3 { bucket, .. } => {
            let Some(client) = reader else {
                return ObjectResult::unreadable(
                    ErrorClass::Permanent,
                    format!("{}: no S3 client", object.name),
                );
            };
            let got = client
                .get_object()
                .bucket(bucket)
                .key(&object.location)
                .set_version_id(object.version_id.clone())
                .send()
                .await;
            let mut body = match got {
                Ok(out) => out.body,
                Err(e) => {
                    return ObjectResult::unreadable(
                        get_class(&e),
                        format!("{}: {}", object.name, sdk_reason(&e)),
                    )
                }
            };
            tokio::spawn(async move {
                loop {
                    match body.try_next().await {
                        Ok(Some(bytes)) => {
                            if tx.send(Ok(bytes)).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => return,
                        Err(e) => {
                            let _ = tx.send(Err(std::io::Error::other(e))).await;
                            return;
                        }
                    }
                }
            });
            Box::new(ChannelReader {
                rx,
                current: Bytes::new(),
            })
        }
    };
    replay_stream(app, object, source, progress, deadline).await
}

/// How GetObject's failure is classed: missing or denied objects are permanent.
fn get_class(
    e: &aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::get_object::GetObjectError,
        aws_sdk_s3::config::http::HttpResponse,
    >,
) -> ErrorClass {
    use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
    match e {
        SdkError::ServiceError(s) => match s.err().code() {
            Some("NoSuchKey" | "AccessDenied" | "NoSuchBucket" | "InvalidObjectState") => {
                ErrorClass::Permanent
            }
            _ if s.raw().status().as_u16() >= 500 || s.raw().status().as_u16() == 429 => {
                ErrorClass::Transient
            }
            Some("SlowDown" | "RequestTimeout" | "Throttling") => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        },
        _ => ErrorClass::Transient,
    }
}

/// Reads, plans and writes one object's stream.
async fn replay_stream<S>(
    app: &Arc<App<S>>,
    object: &SourceObject,
    source: Box<dyn Read + Send>,
    progress: &Progress,
    deadline: Option<Instant>,
) -> ObjectResult
where
    S: ObjectSink + Send + Sync + 'static,
{
    // One chunk planned while the one before is written, never more: the reader waits for a
    // written chunk before it plans a third, so memory stays at two chunks' worth.
    let (tx, mut rx) = mpsc::channel::<Result<PlannedChunk, String>>(1);
    let (written_tx, written_rx) = std::sync::mpsc::channel::<()>();
    let total = Arc::clone(&progress.source_bytes);
    let planner = Arc::clone(app);
    let name = object.name.clone();
    let stamp = Stamp::from_unix_millis(object.path.received_day_ms);
    let reading = tokio::task::spawn_blocking(move || {
        let config = &planner.config;
        let mut in_flight = 0;
        let mut send = |lines: &[_], damage: Option<&str>| {
            if in_flight == 2 {
                if written_rx.recv().is_err() {
                    return false;
                }
                in_flight -= 1;
            }
            let planned = pipeline::plan_lines(config, lines, damage, &name, &stamp)
                .map_err(|e| format!("{name}: {}", error_chain(&e)));
            in_flight += 1;
            tx.blocking_send(planned).is_ok()
        };
        let mut reader = LineReader::with_total(source, Some(total));
        let mut chunker = Chunker::default();
        while let Some(line) = reader.next_line() {
            if let Some(chunk) = chunker.push(line) {
                if !send(&chunk, None) {
                    return {
                        let read = reader.bytes_read();
                        (reader.damage, reader.unreadable, read)
                    };
                }
            }
        }
        // A stream cut short by its source leaves a partial chunk that a complete read would
        // cut elsewhere: it is not written (the object fails and is read again), so that every
        // chunk written is one the complete read writes under the same key.
        let last = chunker.finish().unwrap_or_default();
        if reader.unreadable.is_none() && (!last.is_empty() || reader.damage.is_some()) {
            send(&last, reader.damage.as_deref());
        }
        {
            let read = reader.bytes_read();
            (reader.damage, reader.unreadable, read)
        }
    });
    let mut result = ObjectResult::default();
    while let Some(planned) = rx.recv().await {
        let chunk = match planned {
            Ok(chunk) => chunk,
            Err(reason) => {
                let _ = written_tx.send(());
                result.failures += 1;
                result.failed.get_or_insert((reason, ErrorClass::Permanent));
                continue;
            }
        };
        result.events += chunk.events as u64;
        result.rejected += chunk.rejected as u64;
        result.rows += chunk.plan.rows as u64;
        result.conversion_errors += chunk.plan.conversion_errors as u64;
        result.planned += chunk.plan.objects.len() as u64;
        progress
            .events
            .fetch_add(chunk.events as u64, Ordering::Relaxed);
        let errors = app.store(&chunk.plan, deadline).await;
        let objects = chunk.plan.objects;
        // Written (or failed): the reader may plan the next chunk.
        let _ = written_tx.send(());
        let mut failed_here = false;
        for (o, e) in objects.iter().zip(errors) {
            match e {
                None => {
                    result.written += 1;
                    result.bytes += o.body.len() as u64;
                }
                Some(e) => {
                    failed_here = true;
                    result.failures += 1;
                    result.failed.get_or_insert((e.to_string(), e.class));
                }
            }
        }
        // Past the deadline nothing more can be stored: stop reading and planning now, so the
        // invocation answers in time instead of timing out.
        if failed_here && deadline.is_some_and(|d| Instant::now() + DEADLINE_MARGIN >= d) {
            break;
        }
    }
    // Closing both channels stops a reader still reading (after a break above).
    drop(rx);
    drop(written_tx);
    let mut read = 0;
    match reading.await {
        Ok((damage, unreadable, bytes)) => {
            read = bytes;
            result.damage = damage;
            if let Some(why) = unreadable {
                result.unreadable = Some(ReadFailure {
                    class: ErrorClass::Transient,
                    reason: format!("{}: {why}", object.name),
                });
            }
        }
        Err(e) => {
            result.failures += 1;
            result.failed.get_or_insert((
                format!("{}: the reader stopped: {e}", object.name),
                ErrorClass::Transient,
            ));
        }
    }
    progress.objects.fetch_add(1, Ordering::Relaxed);
    // An object read only in part still counts whole once finished.
    let unread = object.size.saturating_sub(read);
    progress.source_bytes.fetch_add(unread, Ordering::Relaxed);
    result
}
