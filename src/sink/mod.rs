//! Where objects go: the one abstraction over I/O.
//!
//! [`ObjectSink`] is implemented by [`dir::DirSink`] (the `--dry-run` directory) and
//! [`memory::MemorySink`] (tests, able to fail on demand) and [`s3::S3Sink`] (the function).
//! A sink stores one object or says why it could not, classed as transient or permanent so that
//! logs tell a throttle from a misconfiguration.

pub mod dir;
pub mod memory;
#[cfg(feature = "aws")]
pub mod s3;

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedObject {
    /// The object key.
    pub key: String,
    /// The bytes as stored (compressed when configured); cheap to clone for retries.
    pub body: Bytes,
    /// SHA-256 of `body`, sent with the upload so that S3 verifies it.
    pub sha256: [u8; 32],
    /// `Content-Type` to store it with.
    pub content_type: &'static str,
    /// Indices of the messages whose rows or rejected items it holds, ascending.
    pub sources: Vec<u32>,
    /// Data rows in it (rejected items for the error object).
    pub rows: usize,
    /// Set when the object cannot be written at all (its key is too long); it then fails its
    /// messages like a failed upload.
    pub unwritable: Option<String>,
}

/// Whether retrying later may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, 5xx, timeouts, connection errors: a retry may succeed.
    Transient,
    /// Access denied, no such bucket, invalid request: a retry will not help until the
    /// configuration or permissions change.
    Permanent,
}

impl ErrorClass {
    /// `transient` or `permanent`, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
        }
    }
}

/// The error a sink got from below (the SDK's, the file system's), shared so that a
/// [`SinkError`] stays cheap to clone.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// An object that was not stored.
#[derive(Debug, Clone, thiserror::Error)]
#[error("could not write {key} ({}): {message}", class.as_str())]
pub struct SinkError {
    /// The object's key.
    pub key: String,
    /// Transient or permanent.
    pub class: ErrorClass,
    /// What went wrong, on one line (an error code and message; never object content).
    pub message: String,
    /// The error underneath, when there is one.
    #[source]
    pub cause: Option<Cause>,
}

impl SinkError {
    /// A failure with no error underneath (a refused key, a deadline, an injected fault).
    pub fn new(key: &str, class: ErrorClass, message: impl Into<String>) -> SinkError {
        SinkError {
            key: key.to_owned(),
            class,
            message: message.into(),
            cause: None,
        }
    }

    /// The same failure, keeping `cause` as its source.
    #[must_use]
    pub fn caused_by(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> SinkError {
        self.cause = Some(Arc::new(cause));
        self
    }
}

/// Stores objects.
pub trait ObjectSink: Sync {
    /// Stores one object durably, or says why not.
    ///
    /// # Errors
    /// [`SinkError`] when the object was not stored.
    fn put(&self, object: &PlannedObject) -> impl Future<Output = Result<(), SinkError>> + Send;
}
