//! An in-memory sink for tests of the pure logic: it keeps what it is given and can be told to
//! fail the objects whose key matches a predicate.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::PlannedObject;
use super::{ErrorClass, ObjectSink, SinkError};

type FailWhen = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// Keeps objects in a map; fails on demand.
#[derive(Default)]
pub struct MemorySink {
    objects: Mutex<BTreeMap<String, (Vec<u8>, &'static str)>>,
    fail_when: Option<FailWhen>,
}

impl MemorySink {
    /// A sink that stores everything.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// A sink that fails (transiently) every object whose key satisfies `fail_when`.
    pub fn failing(fail_when: impl Fn(&str) -> bool + Send + Sync + 'static) -> MemorySink {
        MemorySink {
            objects: Mutex::default(),
            fail_when: Some(Box::new(fail_when)),
        }
    }

    /// The stored objects: key to (bytes, content type).
    pub fn objects(&self) -> BTreeMap<String, (Vec<u8>, &'static str)> {
        self.objects
            .lock()
            .map(|m| m.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }
}

impl ObjectSink for MemorySink {
    async fn put(&self, object: &PlannedObject) -> Result<(), SinkError> {
        if self.fail_when.as_ref().is_some_and(|f| f(&object.key)) {
            return Err(SinkError::new(
                &object.key,
                ErrorClass::Transient,
                "injected failure",
            ));
        }
        let mut map = self
            .objects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.insert(
            object.key.clone(),
            (object.body.to_vec(), object.content_type),
        );
        Ok(())
    }
}
