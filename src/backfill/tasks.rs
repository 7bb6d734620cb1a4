//! The replay as a Lambda event source: S3 Batch Operations tasks and S3 notifications.

use std::sync::Arc;
use std::time::Instant;

use crate::handler::App;
use crate::sink::{ErrorClass, ObjectSink};
use crate::source::batch_operations::{BatchJob, TaskResult};
use crate::source::classic::ClassicPath;
use crate::source::s3_notification::ObjectRef;

use super::*;

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
