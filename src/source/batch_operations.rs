//! The S3 Batch Operations door (issue 13): an "Invoke AWS Lambda function" job's event, one
//! task per source object (schema 2.0, and 1.0's bucket ARN), and the answer per task.
//!
//! The event is read with a type of its own: `aws_lambda_events`' `S3BatchJobTask` has 1.0's
//! `s3BucketArn` but not 2.0's `s3Bucket`, which would be dropped. The answer is its
//! `S3BatchJobResponse`. Pure: the replay of each task is the backfill's (`crate::backfill`).

use aws_lambda_events::event::s3::batch_job::{S3BatchJobResponse, S3BatchJobResult};
use serde::Deserialize;

/// The largest payload taken for a Batch Operations event: one task (a key of at most 1 KB and
/// a few ids) with room to spare.
const MAX_JOB_BYTES: usize = 64 * 1024;

/// An S3 Batch Operations invocation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchJob {
    /// `1.0` or `2.0`, echoed in the answer.
    pub invocation_schema_version: String,
    /// Echoed in the answer.
    pub invocation_id: String,
    /// The tasks, one per object (Batch Operations sends one at a time).
    pub tasks: Vec<Task>,
}

/// One object to process.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    /// Echoed in the answer.
    pub task_id: String,
    /// The object's key, URL-encoded as in the manifest ([`Task::key`] decodes it).
    pub s3_key: String,
    /// The version, when the manifest names one.
    #[serde(default)]
    pub s3_version_id: Option<String>,
    /// Schema 2.0: the bucket name.
    #[serde(default)]
    pub s3_bucket: Option<String>,
    /// Schema 1.0: the bucket ARN.
    #[serde(default)]
    pub s3_bucket_arn: Option<String>,
}

impl Task {
    /// The object's key: `s3Key` URL-decoded (`+` a space), as AWS's own examples of Lambda
    /// functions for Batch Operations do.
    pub fn key(&self) -> String {
        super::s3_notification::url_decode(&self.s3_key)
    }

    /// The bucket name, from 2.0's `s3Bucket` or 1.0's `arn:aws:s3:::name`.
    pub fn bucket(&self) -> Option<&str> {
        self.s3_bucket.as_deref().or_else(|| {
            self.s3_bucket_arn
                .as_deref()
                .and_then(|arn| arn.rsplit(':').next())
                .filter(|b| !b.is_empty())
        })
    }
}

impl BatchJob {
    /// The payload as a Batch Operations invocation, if it is one (it has
    /// `invocationSchemaVersion`, `invocationId`, `job` and `tasks`).
    pub fn parse(payload: &str) -> Option<BatchJob> {
        // Cheap look first, so that the events doors' payloads (up to 6 MB) are not scanned on
        // every invocation: a Batch Operations event holds one task, well under this size.
        if payload.len() > MAX_JOB_BYTES
            || !payload.contains("\"invocationSchemaVersion\"")
            || !payload.contains("\"tasks\"")
        {
            return None;
        }
        serde_json::from_str::<BatchJob>(payload).ok()
    }
}

/// What one task came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskResult {
    /// Everything in the object is stored (rows, or rejected items).
    Succeeded(String),
    /// A retry may succeed: throttling, 5xx, timeouts, the deadline.
    TemporaryFailure(String),
    /// A retry will not help: missing, access denied, not a Classic key.
    PermanentFailure(String),
}

/// The answer Batch Operations reads: one result per task, in task order.
pub fn response(job: &BatchJob, results: &[(String, TaskResult)]) -> S3BatchJobResponse {
    let mut r = S3BatchJobResponse::default();
    r.invocation_schema_version = Some(job.invocation_schema_version.clone());
    r.treat_missing_keys_as = Some("PermanentFailure".to_owned());
    r.invocation_id = Some(job.invocation_id.clone());
    r.results = results
        .iter()
        .map(|(task_id, result)| {
            let (code, text) = match result {
                TaskResult::Succeeded(t) => ("Succeeded", t),
                TaskResult::TemporaryFailure(t) => ("TemporaryFailure", t),
                TaskResult::PermanentFailure(t) => ("PermanentFailure", t),
            };
            let mut one = S3BatchJobResult::default();
            one.task_id = Some(task_id.clone());
            one.result_code = Some(code.to_owned());
            one.result_string = Some(one_line(text));
            one
        })
        .collect();
    r
}

/// Batch Operations keeps result strings short in its report: one line, at most 1,024 bytes.
fn one_line(text: &str) -> String {
    let mut line: String = text.replace(['\n', '\r'], " ");
    if line.len() > 1024 {
        let mut cut = 1021;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str("...");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = r#"{"invocationSchemaVersion":"2.0","invocationId":"inv-1","job":{"id":"job-1","userArguments":{"k":"v"}},"tasks":[{"taskId":"t-1","s3Key":"segment-logs/src/1432684800000/a.gz","s3VersionId":null,"s3Bucket":"classic"}]}"#;
    const V1: &str = r#"{"invocationSchemaVersion":"1.0","invocationId":"inv-2","job":{"id":"job-2"},"tasks":[{"taskId":"t-2","s3Key":"k","s3VersionId":"v1","s3BucketArn":"arn:aws:s3:::classic-1"}]}"#;

    #[test]
    fn both_schemas_are_read() {
        let j = BatchJob::parse(V2).unwrap();
        assert_eq!(
            (j.invocation_id.as_str(), j.tasks[0].bucket()),
            ("inv-1", Some("classic"))
        );
        let j = BatchJob::parse(V1).unwrap();
        assert_eq!(j.tasks[0].bucket(), Some("classic-1"));
        assert_eq!(j.tasks[0].s3_version_id.as_deref(), Some("v1"));
        assert_eq!(BatchJob::parse(r#"{"type":"track","tasks":[]}"#), None);
        assert_eq!(BatchJob::parse(r#"{"Records":[]}"#), None);
        // A large payload (an SQS or API Gateway batch) is not even scanned.
        let padded = V2.replace(
            "\"job\"",
            &format!("\"pad\":\"{}\",\"job\"", "x".repeat(MAX_JOB_BYTES)),
        );
        assert_eq!(BatchJob::parse(&padded), None);
    }

    #[test]
    fn the_answer_has_one_result_per_task() {
        let j = BatchJob::parse(V2).unwrap();
        let r = response(
            &j,
            &[(
                "t-1".into(),
                TaskResult::PermanentFailure("NoSuchKey:\nthe key".into()),
            )],
        );
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["invocationSchemaVersion"], "2.0");
        assert_eq!(v["invocationId"], "inv-1");
        assert_eq!(v["treatMissingKeysAs"], "PermanentFailure");
        assert_eq!(v["results"][0]["taskId"], "t-1");
        assert_eq!(v["results"][0]["resultCode"], "PermanentFailure");
        assert_eq!(v["results"][0]["resultString"], "NoSuchKey: the key");
    }
}
