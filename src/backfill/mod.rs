//! `sync-to-s3 backfill` (issue 13): Segment S3 Classic logs replayed through the same mappings
//! into the same bucket, from a local folder or an S3 prefix.
//!
//! Each source object is streamed: a reader thread decompresses it line by line
//! ([`crate::source::classic::LineReader`]), cuts the lines into bounded chunks
//! ([`crate::source::classic::Chunker`]) and plans each chunk with the one pure pipeline
//! ([`crate::pipeline::plan_lines`]); the async side writes each chunk's objects through the
//! same [`crate::handler::App`] as the function before the next chunk is planned. Memory is bounded
//! by one chunk being planned, one being written and the stream's buffers, whatever the object's
//! size.
//!
//! Keys are deterministic: every chunk is stamped with the object's received day, and `{id}` is
//! a hash of the object's bytes, so replaying an object again (an interrupted run, a retried
//! task) rewrites the same keys with the same bytes instead of adding rows. `--resume FILE`
//! also skips the objects a previous run completed.
//!
//! One file per stage: `list` (where the objects are, which are selected), `replay` (one
//! object streamed, planned and written), `resume` (the objects done), `progress` (the bar
//! and the plain lines), `tasks` (the same replay for S3 Batch Operations and S3
//! notifications); here, the run over a selection and its totals.

mod list;
mod progress;
mod replay;
mod resume;
mod tasks;

pub use list::{list, parse_day, Origin, Selection, SourceObject};
pub use progress::{report_progress, show_progress_bar};
pub use replay::{replay_object, ObjectResult, Progress, ReadFailure};
pub use resume::ResumeFile;
pub use tasks::{batch_job, notified_objects};

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};

use crate::handler::App;
use crate::sink::ObjectSink;

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
    /// Rows with a Parquet cell that did not convert.
    pub conversion_errors: u64,
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
    /// The invocation's figures for the summary log line and the EMF metrics (the Lambda doors
    /// that replay Classic objects): `messages` tasks or SQS messages, `failed_messages` of them
    /// reported failed.
    pub fn stats(
        &self,
        source: &'static str,
        messages: usize,
        failed_messages: usize,
    ) -> crate::handler::Stats {
        let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        crate::handler::Stats {
            source,
            messages,
            events: count(self.events),
            rows: count(self.rows),
            rejected: count(self.rejected),
            conversion_errors: count(self.conversion_errors),
            objects: count(self.written + self.failures),
            bytes: self.bytes,
            failures: count(self.failures),
            failed_messages,
            ..crate::handler::Stats::default()
        }
    }

    fn add(&mut self, o: &SourceObject, r: &ObjectResult) {
        self.events += r.events;
        self.rows += r.rows;
        self.rejected += r.rejected;
        self.conversion_errors += r.conversion_errors;
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
