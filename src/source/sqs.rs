//! The SQS door (SPEC 1, 5.1): the records of an SQS event and their bodies, each body one
//! message: an event, a batch object, an array of events, or an EventBridge event (SPEC 11). A
//! message that holds none of these is one rejected item with its raw text, never dropped.

use std::borrow::Cow;

use super::{collect_document, Items, PayloadError, Rejected};
use crate::json::{self, Value};

/// The records of an SQS event.
#[derive(Debug)]
pub struct SqsBatch<'p> {
    /// Records in delivery order.
    pub records: Vec<SqsRecord<'p>>,
    /// Whether the queue is FIFO (`eventSourceARN` ends in `.fifo`).
    pub fifo: bool,
}

/// One SQS message.
#[derive(Debug)]
pub struct SqsRecord<'p> {
    /// The message id, reported back in `batchItemFailures`.
    pub message_id: Cow<'p, str>,
    /// The message body, unescaped.
    pub body: Cow<'p, str>,
}

impl<'p> SqsBatch<'p> {
    /// Every message's events and rejected items, in record order; each remembers its record's
    /// index, which names the message in failures and rejected items.
    pub fn items(&self) -> Items<'_> {
        let mut items = Items::default();
        for (i, r) in self.records.iter().enumerate() {
            collect_sqs_body(&r.body, u32::try_from(i).unwrap_or(u32::MAX), &mut items);
        }
        items
    }

    /// The records of an SQS event, in delivery order.
    ///
    /// # Errors
    /// [`PayloadError`] for a record that is not an object or has no `messageId`: SQS could not
    /// have sent it, and without the id no failure could be reported for it.
    pub(super) fn from_records(records: Vec<Value<'p>>) -> Result<SqsBatch<'p>, PayloadError> {
        let mut fifo = false;
        let mut out = Vec::with_capacity(records.len());
        for (i, record) in records.into_iter().enumerate() {
            let Value::Object(fields) = record.into_resolved() else {
                return Err(PayloadError(format!("SQS record {i} is not an object")));
            };
            let (mut message_id, mut body) = (None, None);
            for (k, v) in fields {
                match (k.as_ref(), v) {
                    ("messageId", Value::String(s)) => message_id = Some(s),
                    ("body", Value::String(s)) => body = Some(s),
                    ("eventSourceARN", Value::String(s)) => fifo |= s.ends_with(".fifo"),
                    _ => {}
                }
            }
            let Some(message_id) = message_id else {
                return Err(PayloadError(format!("SQS record {i} has no messageId")));
            };
            out.push(SqsRecord {
                message_id,
                // A record without a body is kept as an empty message, which is then rejected
                // and written to the error object rather than dropped.
                body: body.unwrap_or_default(),
            });
        }
        Ok(SqsBatch { records: out, fifo })
    }
}

/// Collects one SQS message: a message that is not JSON, or not an event, batch, array or
/// EventBridge event holding an event (SPEC 11), is one rejected item holding the raw text.
pub fn collect_sqs_body<'a>(body: &'a str, source: u32, items: &mut Items<'a>) {
    let result = match json::parse_lazy(body) {
        Ok(doc) => collect_document(doc, source, items).map_err(|u| u.0),
        Err(e) => Err(format!("not JSON: {e}")),
    };
    if let Err(reason) = result {
        items.rejected.push(Rejected {
            reason,
            source,
            index: None,
            body: body.to_owned(),
        });
    }
}
