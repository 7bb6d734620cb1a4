//! The SQS door (SPEC 1, 5.1): the records of an SQS event and their bodies, each body one
//! message: an event, a batch object, an array of events, or an EventBridge event (SPEC 11). A
//! message that holds none of these is one rejected item with its raw text, never dropped.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};

use super::{collect_document, Items, PayloadError, Rejected};
use crate::json;

/// The records of an SQS event, read as `aws_lambda_events`' typed [`SqsEvent`].
#[derive(Debug)]
pub struct SqsBatch {
    /// Records in delivery order.
    pub records: Vec<SqsRecord>,
    /// Whether the queue is FIFO (`eventSourceARN` ends in `.fifo`).
    pub fifo: bool,
}

/// One SQS message.
#[derive(Debug)]
pub struct SqsRecord {
    /// The message id, reported back in `batchItemFailures`.
    pub message_id: String,
    /// The message body, unescaped.
    pub body: String,
}

impl SqsBatch {
    /// Every message's events and rejected items, in record order; each remembers its record's
    /// index, which names the message in failures and rejected items.
    pub fn items(&self) -> Items<'_> {
        let mut items = Items::default();
        for (i, r) in self.records.iter().enumerate() {
            collect_sqs_body(&r.body, u32::try_from(i).unwrap_or(u32::MAX), &mut items);
        }
        items
    }

    /// The payload as an SQS event, if it is one: a `Records` array, not empty, every record's
    /// `eventSource` `aws:sqs`. `None` for any other payload (and for a payload that does not
    /// read as an [`SqsEvent`]; [`super::Envelope::parse`] tells those apart).
    ///
    /// # Errors
    /// [`PayloadError`] for a record without a `messageId`: SQS could not have sent it, and
    /// without the id no failure could be reported for it.
    pub(super) fn parse(text: &str) -> Result<Option<SqsBatch>, PayloadError> {
        // Only a payload that names `aws:sqs` can be one; the others are not read twice.
        if memchr::memmem::find(text.as_bytes(), b"\"aws:sqs\"").is_none() {
            return Ok(None);
        }
        let Ok(event) = serde_json::from_str::<SqsEvent>(text) else {
            return Ok(None);
        };
        let is_sqs = !event.records.is_empty()
            && event
                .records
                .iter()
                .all(|r| r.event_source.as_deref() == Some("aws:sqs"));
        if !is_sqs {
            return Ok(None);
        }
        SqsBatch::from_records(event.records).map(Some)
    }

    /// Why a payload shaped as an SQS event does not read as an [`SqsEvent`].
    pub(super) fn unreadable(text: &str) -> PayloadError {
        let why = serde_json::from_str::<SqsEvent>(text)
            .err()
            .map_or_else(|| "unknown".to_owned(), |e| e.to_string());
        PayloadError(format!("the SQS event does not read as one: {why}"))
    }

    fn from_records(records: Vec<SqsMessage>) -> Result<SqsBatch, PayloadError> {
        let mut fifo = false;
        let mut out = Vec::with_capacity(records.len());
        for (i, record) in records.into_iter().enumerate() {
            fifo |= record
                .event_source_arn
                .as_deref()
                .is_some_and(|arn| arn.ends_with(".fifo"));
            let Some(message_id) = record.message_id else {
                return Err(PayloadError(format!("SQS record {i} has no messageId")));
            };
            out.push(SqsRecord {
                message_id,
                // A record without a body is kept as an empty message, which is then rejected
                // and written to the error object rather than dropped.
                body: record.body.unwrap_or_default(),
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
