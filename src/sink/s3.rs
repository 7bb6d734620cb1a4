//! The S3 sink: one `PutObject` per object (SPEC 4), with its SHA-256 checksum (S3 verifies the
//! bytes), its content type, and the configured server-side encryption and ACL.
//!
//! Failures are classed (SPEC 5): throttling, 5xx, timeouts and connection errors are
//! transient; access denied, a missing bucket and other 4xx answers are permanent.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ObjectCannedAcl, ServerSideEncryption as SdkSse};
use base64::Engine;

use super::PlannedObject;
use super::{ErrorClass, ObjectSink, SinkError};
use crate::config::{Config, ServerSideEncryption};

/// Error codes a retry later may cure.
const TRANSIENT_CODES: [&str; 8] = [
    "SlowDown",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
];

/// Writes objects to one bucket.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: aws_sdk_s3::Client,
    bucket: String,
    sse: Option<ServerSideEncryption>,
    kms_key_id: Option<String>,
    acl: Option<String>,
}

impl S3Sink {
    /// A sink for the configured bucket, SSE and ACL, using `client`.
    pub fn new(client: aws_sdk_s3::Client, config: &Config) -> S3Sink {
        S3Sink {
            client,
            bucket: config.bucket.clone(),
            sse: config.server_side_encryption,
            kms_key_id: config.ssekms_key_id.clone(),
            acl: config.acl.clone(),
        }
    }

    /// The client, for re-use when only the mappings change.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }
}

impl ObjectSink for S3Sink {
    async fn put(&self, object: &PlannedObject) -> Result<(), SinkError> {
        let checksum = base64::engine::general_purpose::STANDARD.encode(object.sha256);
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&object.key)
            .content_type(object.content_type)
            .checksum_sha256(checksum)
            .body(ByteStream::from(object.body.clone()));
        if let Some(sse) = self.sse {
            req = req.server_side_encryption(SdkSse::from(sse.as_str()));
        }
        if let Some(key) = &self.kms_key_id {
            req = req.ssekms_key_id(key);
        }
        if let Some(acl) = &self.acl {
            req = req.acl(ObjectCannedAcl::from(acl.as_str()));
        }
        req.send().await.map(|_| ()).map_err(|e| {
            let failure = classify(&object.key, &e);
            failure.caused_by(e)
        })
    }
}

/// Turns an SDK error into a [`SinkError`] with its class and a one-line message.
fn classify(key: &str, e: &SdkError<PutObjectError>) -> SinkError {
    let (class, message) = match e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = e.code().unwrap_or("");
            let transient = TRANSIENT_CODES.contains(&code) || status >= 500 || status == 429;
            let message = format!(
                "{} (HTTP {status}): {}",
                if code.is_empty() { "error" } else { code },
                e.message().unwrap_or("no message")
            );
            (
                if transient {
                    ErrorClass::Transient
                } else {
                    ErrorClass::Permanent
                },
                message,
            )
        }
        SdkError::TimeoutError(_) => (ErrorClass::Transient, "timed out".to_owned()),
        SdkError::DispatchFailure(df) => {
            let class = if df.is_user() {
                ErrorClass::Permanent
            } else {
                ErrorClass::Transient
            };
            (class, DisplayErrorContext(e).to_string())
        }
        SdkError::ResponseError(_) => (ErrorClass::Transient, DisplayErrorContext(e).to_string()),
        _ => (ErrorClass::Permanent, DisplayErrorContext(e).to_string()),
    };
    SinkError::new(key, class, message)
}
