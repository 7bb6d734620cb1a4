//! `sync-to-s3 backfill` (issue 13): Segment S3 Classic logs replayed through the same mappings
//! into the same bucket, from a local folder or an S3 prefix.
//!
//! Each source object is streamed: a reader thread decompresses it line by line
//! ([`LineReader`]), cuts the lines into bounded chunks ([`Chunker`]) and plans each chunk with
//! the one pure pipeline ([`pipeline::plan_lines`]); the async side writes each chunk's objects
//! through the same [`App`] as the function before the next chunk is planned. Memory is bounded
//! by one chunk being planned, one being written and the stream's buffers, whatever the object's
//! size.
//!
//! Keys are deterministic: every chunk is stamped with the object's received day, and `{id}` is
//! a hash of the object's bytes, so replaying an object again (an interrupted run, a retried
//! task) rewrites the same keys with the same bytes instead of adding rows. `--resume FILE`
//! also skips the objects a previous run completed.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use tokio::sync::mpsc;

use crate::handler::{App, DEADLINE_MARGIN};
use crate::key::Stamp;
use crate::pipeline::{self, PlannedChunk};
use crate::response::error_chain;
use crate::sink::{ErrorClass, ObjectSink};
use crate::source::batch_operations::{BatchJob, TaskResult};
use crate::source::classic::{Chunker, ClassicPath, LineReader};
use crate::source::s3_notification::ObjectRef;

/// Why a backfill cannot start or a source object cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// Bad usage: the source, a date.
    #[error("{0}")]
    Usage(String),
    /// The local folder cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: String,
        /// The error underneath.
        #[source]
        source: std::io::Error,
    },
    /// S3 refused the listing.
    #[error("cannot list s3://{bucket}/{prefix}: {reason}")]
    List {
        /// The bucket.
        bucket: String,
        /// The prefix.
        prefix: String,
        /// The error code and message.
        reason: String,
    },
    /// The resume file cannot be read or written.
    #[error("the resume file {path} cannot be used")]
    Resume {
        /// The path.
        path: String,
        /// The error underneath.
        #[source]
        source: std::io::Error,
    },
}

/// Where the Classic logs are: a local folder, or an S3 bucket and prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A folder laid out as the bucket is (`.../<source-id>/<received-day>/<file>`).
    Local(PathBuf),
    /// `s3://bucket/prefix`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix (may be empty).
        prefix: String,
    },
}

impl Origin {
    /// `s3://bucket/prefix` or a local path.
    ///
    /// # Errors
    /// [`BackfillError::Usage`] for `s3://` without a bucket.
    pub fn parse(text: &str) -> Result<Origin, BackfillError> {
        match text.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(BackfillError::Usage(format!(
                        "{text}: an S3 source is s3://BUCKET/PREFIX"
                    )));
                }
                Ok(Origin::S3 {
                    bucket: bucket.to_owned(),
                    prefix: prefix.to_owned(),
                })
            }
            None => Ok(Origin::Local(PathBuf::from(text))),
        }
    }
}

/// Which objects to replay.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only this Segment source.
    pub source_id: Option<String>,
    /// Only received days on or after this UTC midnight (ms).
    pub since_ms: Option<i64>,
    /// Only received days on or before this UTC midnight (ms).
    pub until_ms: Option<i64>,
}

impl Selection {
    fn takes(&self, p: &ClassicPath) -> bool {
        self.source_id.as_ref().is_none_or(|s| *s == p.source_id)
            && self.since_ms.is_none_or(|d| p.received_day_ms >= d)
            && self.until_ms.is_none_or(|d| p.received_day_ms <= d)
    }
}

/// `YYYY-MM-DD` as the UTC midnight in ms since the epoch.
///
/// # Errors
/// [`BackfillError::Usage`] for anything else.
pub fn parse_day(text: &str) -> Result<i64, BackfillError> {
    let bad = || BackfillError::Usage(format!("{text:?} is not a date (YYYY-MM-DD)"));
    let mut parts = text.trim().splitn(3, '-');
    let mut next = |len: usize| {
        parts
            .next()
            .filter(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<i64>().ok())
    };
    let (Some(y), Some(m), Some(d)) = (next(4), next(2), next(2)) else {
        return Err(bad());
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok((era * 146_097 + doe - 719_468) * 86_400_000)
}

/// One Classic object to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceObject {
    /// How rejected items and the resume file name it: `s3://bucket/key` or the local path.
    pub name: String,
    /// The S3 key, or the local path.
    pub location: String,
    /// Its place in Classic's layout.
    pub path: ClassicPath,
    /// Its size in bytes as stored.
    pub size: u64,
    /// Its ETag (S3) or modification time (local), to tell a changed object in `--resume`.
    pub version: String,
    /// The S3 version to read (a Batch Operations manifest may name one); the latest if none.
    pub version_id: Option<String>,
}

/// The objects under `origin` that have Classic's layout and that `selection` takes, sorted by
/// received day, source and name; and how many objects did not have the layout.
///
/// # Errors
/// [`BackfillError`] when the folder or the bucket cannot be listed.
pub async fn list(
    origin: &Origin,
    reader: Option<&aws_sdk_s3::Client>,
    selection: &Selection,
) -> Result<(Vec<SourceObject>, usize), BackfillError> {
    let mut found = Vec::new();
    let mut other = 0;
    match origin {
        Origin::Local(root) => {
            let mut files = Vec::new();
            walk(root, &mut files)?;
            for (path, size, modified) in files {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let rel = rel.to_string_lossy().replace('\\', "/");
                match ClassicPath::parse(&rel) {
                    Some(p) => found.push(SourceObject {
                        name: path.to_string_lossy().into_owned(),
                        location: path.to_string_lossy().into_owned(),
                        path: p,
                        size,
                        version: modified,
                        version_id: None,
                    }),
                    None => other += 1,
                }
            }
        }
        Origin::S3 { bucket, prefix } => {
            let Some(client) = reader else {
                return Err(BackfillError::Usage("an S3 source needs AWS".to_owned()));
            };
            let mut pages = client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| BackfillError::List {
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                    reason: sdk_reason(&e),
                })?;
                for o in page.contents() {
                    let Some(key) = o.key() else { continue };
                    match ClassicPath::parse(key) {
                        Some(p) => found.push(SourceObject {
                            name: format!("s3://{bucket}/{key}"),
                            location: key.to_owned(),
                            path: p,
                            size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                            version: o.e_tag().unwrap_or_default().to_owned(),
                            version_id: None,
                        }),
                        None => other += 1,
                    }
                }
            }
        }
    }
    found.retain(|o| selection.takes(&o.path));
    found.sort_by(|a, b| {
        (a.path.received_day_ms, &a.path.source_id, &a.name).cmp(&(
            b.path.received_day_ms,
            &b.path.source_id,
            &b.name,
        ))
    });
    Ok((found, other))
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64, String)>) -> Result<(), BackfillError> {
    let io = |source| BackfillError::Io {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let meta = entry.metadata().map_err(io)?;
        let path = entry.path();
        if meta.is_dir() {
            walk(&path, out)?;
        } else if meta.is_file() {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or_else(String::new, |d| d.as_millis().to_string());
            out.push((path, meta.len(), modified));
        }
    }
    Ok(())
}

/// An SDK error as one line: its code and message, or the whole chain.
fn sdk_reason<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_s3::error::ProvideErrorMetadata;
    match e.code() {
        Some(code) => format!("{code}: {}", e.message().unwrap_or("no message")),
        None => error_chain(e),
    }
}

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

/// Counts the stored bytes as the reader thread reads them, for the progress bar.
struct Counted {
    inner: Box<dyn Read + Send>,
    total: Arc<AtomicU64>,
    this: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total.fetch_add(n as u64, Ordering::Relaxed);
        self.this.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
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
    let read_here = Arc::new(AtomicU64::new(0));
    let source: Box<dyn Read + Send> = Box::new(Counted {
        inner: source,
        total: Arc::clone(&progress.source_bytes),
        this: Arc::clone(&read_here),
    });
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
        let mut reader = LineReader::new(source);
        let mut chunker = Chunker::default();
        while let Some(line) = reader.next_line() {
            if let Some(chunk) = chunker.push(line) {
                if !send(&chunk, None) {
                    return (reader.damage, reader.unreadable);
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
        (reader.damage, reader.unreadable)
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
    match reading.await {
        Ok((damage, unreadable)) => {
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
    let unread = object
        .size
        .saturating_sub(read_here.load(Ordering::Relaxed));
    progress.source_bytes.fetch_add(unread, Ordering::Relaxed);
    result
}

/// The objects a previous run completed (`--resume FILE`): one line each, `name\tsize\tversion`.
pub struct ResumeFile {
    path: PathBuf,
    done: HashSet<String>,
    out: Mutex<std::fs::File>,
}

impl ResumeFile {
    /// Opens (or creates) the file and reads what it lists.
    ///
    /// # Errors
    /// [`BackfillError::Resume`] when it cannot be read or opened for appending.
    pub fn open(path: &Path) -> Result<ResumeFile, BackfillError> {
        let fail = |source| BackfillError::Resume {
            path: path.display().to_string(),
            source,
        };
        let done = match std::fs::read_to_string(path) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
            Err(e) => return Err(fail(e)),
        };
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(fail)?;
        Ok(ResumeFile {
            path: path.to_owned(),
            done,
            out: Mutex::new(out),
        })
    }

    fn line(o: &SourceObject) -> String {
        format!("{}\t{}\t{}", o.name, o.size, o.version)
    }

    /// Whether a previous run completed this object, unchanged since.
    pub fn is_done(&self, o: &SourceObject) -> bool {
        self.done.contains(&Self::line(o))
    }

    /// Records a completed object (flushed at once, so an interrupted run loses none).
    ///
    /// # Errors
    /// [`BackfillError::Resume`] when the line cannot be written.
    pub fn record(&self, o: &SourceObject) -> Result<(), BackfillError> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| BackfillError::Usage("the resume file's lock is poisoned".to_owned()))?;
        writeln!(out, "{}", Self::line(o))
            .and_then(|()| out.flush())
            .map_err(|source| BackfillError::Resume {
                path: self.path.display().to_string(),
                source,
            })
    }
}

/// The figures of a whole backfill.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Source objects selected.
    pub selected: u64,
    /// Skipped as completed by a previous run (`--resume`).
    pub skipped: u64,
    /// Source objects replayed completely.
    pub complete: u64,
    /// Source objects with damage (kept as rejected items).
    pub damaged: u64,
    /// Source objects not replayed completely (unreadable, or objects not stored).
    pub incomplete: u64,
    /// Events.
    pub events: u64,
    /// Rows.
    pub rows: u64,
    /// Rejected items.
    pub rejected: u64,
    /// Objects stored.
    pub written: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Objects not stored.
    pub failures: u64,
    /// One line per incomplete source object.
    pub problems: Vec<String>,
}

impl Totals {
    fn add(&mut self, o: &SourceObject, r: &ObjectResult) {
        self.events += r.events;
        self.rows += r.rows;
        self.rejected += r.rejected;
        self.written += r.written;
        self.bytes += r.bytes;
        self.failures += r.failures;
        self.damaged += u64::from(r.damage.is_some());
        if r.complete() {
            self.complete += 1;
        } else {
            self.incomplete += 1;
            let why = r
                .unreadable
                .as_ref()
                .map(|u| u.reason.clone())
                .or_else(|| r.failed.as_ref().map(|(m, _)| m.clone()))
                .unwrap_or_default();
            self.problems.push(format!("{}: {why}", o.name));
        }
    }
}

/// What [`run`] replays, and how.
pub struct Job<'a> {
    /// The selected objects.
    pub objects: Vec<SourceObject>,
    /// Where they are.
    pub origin: &'a Origin,
    /// The S3 client to read them with (an S3 origin).
    pub reader: Option<&'a aws_sdk_s3::Client>,
    /// Source objects at once.
    pub concurrency: usize,
    /// The resume file, if any.
    pub resume: Option<&'a ResumeFile>,
    /// Counters for the progress display.
    pub progress: &'a Progress,
}

/// Replays `objects`, `concurrency` at a time, recording each completed one in `resume`;
/// `progress` is updated as objects finish.
pub async fn run<S>(app: Arc<App<S>>, job: Job<'_>) -> Result<Totals, BackfillError>
where
    S: ObjectSink + Send + Sync + 'static,
{
    let Job {
        objects,
        origin,
        reader,
        concurrency,
        resume,
        progress,
    } = job;
    let mut totals = Totals {
        selected: objects.len() as u64,
        ..Totals::default()
    };
    let todo: Vec<SourceObject> = objects
        .into_iter()
        .filter(|o| {
            let done = resume.is_some_and(|r| r.is_done(o));
            totals.skipped += u64::from(done);
            !done
        })
        .collect();
    let app = &app;
    let mut results = stream::iter(todo.iter())
        .map(|o| async move {
            let r = replay_object(app, o, reader, origin, progress, None).await;
            (o, r)
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((o, r)) = results.next().await {
        if let (true, Some(resume)) = (r.complete(), resume) {
            resume.record(o)?;
        }
        totals.add(o, &r);
    }
    Ok(totals)
}

/// Runs an S3 Batch Operations invocation: each task's object replayed as `backfill` does,
/// within `deadline`, and the answer per task: `Succeeded` when everything in the object is
/// stored (bad lines and damage as rejected items, which the result string counts),
/// `TemporaryFailure` for what a retry may fix (throttling, 5xx, timeouts, the deadline),
/// `PermanentFailure` for what it will not (missing, access denied, not a Classic key).
pub async fn batch_job<S>(
    app: &Arc<App<S>>,
    reader: &aws_sdk_s3::Client,
    job: &BatchJob,
    deadline: Option<Instant>,
) -> (Vec<(String, TaskResult)>, Totals)
where
    S: ObjectSink + Send + Sync + 'static,
{
    let progress = Progress::default();
    let mut totals = Totals::default();
    let mut results = Vec::with_capacity(job.tasks.len());
    for task in &job.tasks {
        let Some(bucket) = task.bucket() else {
            results.push((
                task.task_id.clone(),
                TaskResult::PermanentFailure(format!("task {} names no bucket", task.task_id)),
            ));
            continue;
        };
        let key = task.key();
        let name = format!("s3://{bucket}/{key}");
        let Some(path) = ClassicPath::parse(&key) else {
            results.push((
                task.task_id.clone(),
                TaskResult::PermanentFailure(format!(
                    "{name} is not a Segment S3 Classic log key (<source-id>/<received-day in ms>/<file>)"
                )),
            ));
            continue;
        };
        let object = SourceObject {
            name: name.clone(),
            location: key.clone(),
            path,
            size: 0,
            version: task.s3_version_id.clone().unwrap_or_default(),
            version_id: task.s3_version_id.clone().filter(|v| !v.is_empty()),
        };
        let origin = Origin::S3 {
            bucket: bucket.to_owned(),
            prefix: String::new(),
        };
        let r = replay_object(app, &object, Some(reader), &origin, &progress, deadline).await;
        totals.add(&object, &r);
        let counts = format!(
            "{} events, {} rows, {} rejected; {} of {} objects written",
            r.events, r.rows, r.rejected, r.written, r.planned
        );
        let result = if let Some(u) = &r.unreadable {
            match u.class {
                ErrorClass::Transient => TaskResult::TemporaryFailure(u.reason.clone()),
                ErrorClass::Permanent => TaskResult::PermanentFailure(u.reason.clone()),
            }
        } else if let Some((why, class)) = &r.failed {
            let text = format!("{counts}; {} not stored, first: {why}", r.failures);
            match class {
                ErrorClass::Transient => TaskResult::TemporaryFailure(text),
                ErrorClass::Permanent => TaskResult::PermanentFailure(text),
            }
        } else if let Some(damage) = &r.damage {
            TaskResult::Succeeded(format!(
                "{counts}; damaged, kept as a rejected item: {damage}"
            ))
        } else {
            TaskResult::Succeeded(counts)
        };
        results.push((task.task_id.clone(), result));
    }
    (results, totals)
}

/// Replays the objects S3 notifications name (the live side-by-side migration): `true` when
/// every one is stored. A key outside Classic's layout is logged and left alone (it holds no
/// Classic events); an object that cannot be read or stored makes the message fail, so that
/// SQS delivers it again.
pub async fn notified_objects<S>(
    app: &Arc<App<S>>,
    reader: &aws_sdk_s3::Client,
    objects: &[ObjectRef],
    deadline: Option<Instant>,
    totals: &mut Totals,
) -> bool
where
    S: ObjectSink + Send + Sync + 'static,
{
    let progress = Progress::default();
    let mut all = true;
    for o in objects {
        let name = format!("s3://{}/{}", o.bucket, o.key);
        let Some(path) = ClassicPath::parse(&o.key) else {
            tracing::warn!(object = %name, "not a Segment S3 Classic log key (<source-id>/<received-day>/<file>): left alone");
            continue;
        };
        let object = SourceObject {
            name,
            location: o.key.clone(),
            path,
            size: o.size,
            version: o.etag.clone(),
            version_id: None,
        };
        let origin = Origin::S3 {
            bucket: o.bucket.clone(),
            prefix: String::new(),
        };
        let r = replay_object(app, &object, Some(reader), &origin, &progress, deadline).await;
        if let Some(u) = &r.unreadable {
            tracing::warn!(object = %object.name, class = u.class.as_str(), error = %u.reason, "Classic object not read");
        }
        all &= r.complete();
        totals.add(&object, &r);
    }
    all
}

/// Progress on a terminal: an `indicatif` bar over the bytes of the selected objects, with the
/// objects done, the events and the rate, redrawn until `stop` is set; it is cleared at the end
/// (the summary follows). Elsewhere (a log, CI), plain lines every `every`
/// ([`report_progress`]).
pub async fn show_progress_bar(
    progress: Arc<Progress>,
    total_objects: u64,
    total_bytes: u64,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let bar = indicatif::ProgressBar::new(total_bytes);
    let style = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {msg} ETA {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let events = progress.events.load(Ordering::Relaxed);
        bar.set_position(progress.source_bytes.load(Ordering::Relaxed));
        bar.set_message(format!(
            "objects {}/{total_objects}, {events} events, {:.0} events/s",
            progress.objects.load(Ordering::Relaxed),
            events as f64 / started.elapsed().as_secs_f64().max(0.001)
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bar.finish_and_clear();
}

/// Progress on stderr every `every` until `stop` is set: objects, events, bytes read, the rate
/// and, from the bytes left, the time left.
pub async fn report_progress(
    progress: Arc<Progress>,
    total_objects: u64,
    total_bytes: u64,
    every: Duration,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(every).await;
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let done_bytes = progress.source_bytes.load(Ordering::Relaxed);
        let events = progress.events.load(Ordering::Relaxed);
        let eta = if done_bytes == 0 {
            "?".to_owned()
        } else {
            let left = total_bytes.saturating_sub(done_bytes) as f64 * secs / done_bytes as f64;
            format!("{left:.0} s")
        };
        eprintln!(
            "backfill: {}/{total_objects} objects, {events} events, {:.1}/{:.1} MB read, {:.0} events/s, ETA {eta}",
            progress.objects.load(Ordering::Relaxed),
            done_bytes as f64 / 1e6,
            total_bytes as f64 / 1e6,
            events as f64 / secs,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_origins() {
        assert_eq!(parse_day("2015-05-27").unwrap(), 1_432_684_800_000);
        assert_eq!(parse_day("1970-01-01").unwrap(), 0);
        assert_eq!(parse_day("2024-02-29").unwrap(), 1_709_164_800_000);
        for bad in ["2015-5-27", "27-05-2015", "2015-13-01", "yesterday"] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Origin::parse("s3://logs/segment-logs/").unwrap(),
            Origin::S3 {
                bucket: "logs".into(),
                prefix: "segment-logs/".into()
            }
        );
        assert!(Origin::parse("s3:///x").is_err());
        assert_eq!(
            Origin::parse("./history").unwrap(),
            Origin::Local(PathBuf::from("./history"))
        );
    }

    #[test]
    fn selection_by_source_and_day() {
        let p = ClassicPath::parse("src_a/1432684800000/f.gz").unwrap();
        let day = 1_432_684_800_000;
        let sel = |s: Option<&str>, since: Option<i64>, until: Option<i64>| Selection {
            source_id: s.map(str::to_owned),
            since_ms: since,
            until_ms: until,
        };
        assert!(sel(None, None, None).takes(&p));
        assert!(sel(Some("src_a"), Some(day), Some(day)).takes(&p));
        assert!(!sel(Some("src_b"), None, None).takes(&p));
        assert!(!sel(None, Some(day + 86_400_000), None).takes(&p));
        assert!(!sel(None, None, Some(day - 86_400_000)).takes(&p));
    }
}
