//! The SQS door (SPEC 1, 5.1): the records of an SQS event and their bodies, each body one
//! message: an event, a batch object, an array of events, or an EventBridge event (SPEC 11). A
//! message that holds none of these is one rejected item with its raw text, never dropped.

use std::fmt;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

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
        let Ok(event) = serde_json::from_str::<Streamed>(text) else {
            return Ok(None);
        };
        if event.records.is_empty() && event.missing_id.is_none() || !event.all_sqs {
            return Ok(None);
        }
        if let Some(i) = event.missing_id {
            return Err(PayloadError(format!("SQS record {i} has no messageId")));
        }
        Ok(Some(SqsBatch {
            records: event.records,
            fifo: event.fifo,
        }))
    }

    /// Why a payload shaped as an SQS event does not read as an [`SqsEvent`].
    pub(super) fn unreadable(text: &str) -> PayloadError {
        let why = serde_json::from_str::<SqsEvent>(text)
            .err()
            .map_or_else(|| "unknown".to_owned(), |e| e.to_string());
        PayloadError(format!("the SQS event does not read as one: {why}"))
    }
}

/// An SQS event read a record at a time: each record is `aws_lambda_events`' typed
/// [`SqsMessage`], kept only as the id and body the pipeline needs, so that the records'
/// attributes are never all held at once (issue 15: reading the whole [`SqsEvent`] first made a
/// third of the parse's peak heap). Reads what [`SqsEvent`] reads: `Records` required and once,
/// other members ignored.
struct Streamed {
    records: Vec<SqsRecord>,
    fifo: bool,
    /// Every record's `eventSource` is `aws:sqs`.
    all_sqs: bool,
    /// The first record without a `messageId`.
    missing_id: Option<usize>,
}

impl<'de> Deserialize<'de> for Streamed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Streamed, D::Error> {
        d.deserialize_map(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Streamed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an SQS event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Streamed, A::Error> {
        let mut out = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "Records" {
                if out.is_some() {
                    return Err(de::Error::duplicate_field("Records"));
                }
                out = Some(map.next_value_seed(RecordsSeed)?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        out.ok_or_else(|| de::Error::missing_field("Records"))
    }
}

struct RecordsSeed;

impl<'de> DeserializeSeed<'de> for RecordsSeed {
    type Value = Streamed;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Streamed, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed {
    type Value = Streamed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of SQS records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Streamed, A::Error> {
        let mut out = Streamed {
            records: Vec::with_capacity(seq.size_hint().unwrap_or(0)),
            fifo: false,
            all_sqs: true,
            missing_id: None,
        };
        let mut index = 0;
        while let Some(record) = seq.next_element::<SqsMessage>()? {
            out.all_sqs &= record.event_source.as_deref() == Some("aws:sqs");
            out.fifo |= record
                .event_source_arn
                .as_deref()
                .is_some_and(|arn| arn.ends_with(".fifo"));
            match record.message_id {
                Some(message_id) => out.records.push(SqsRecord {
                    message_id,
                    // A record without a body is kept as an empty message, which is then
                    // rejected and written to the error object rather than dropped.
                    body: record.body.unwrap_or_default(),
                }),
                None => {
                    out.missing_id.get_or_insert(index);
                }
            }
            index += 1;
        }
        Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read_one_at_a_time_as_sqs_event_reads_them() {
        let rec = |id: &str, source: &str, arn: &str| {
            format!(
                r#"{{"messageId":"{id}","body":"b-{id}","eventSource":"{source}","eventSourceARN":"{arn}","attributes":{{"ApproximateReceiveCount":"1"}},"messageAttributes":{{}}}}"#
            )
        };
        let q = "arn:aws:sqs:us-east-1:1:q";
        let two = format!(
            r#"{{"Records":[{},{}],"extra":[1]}}"#,
            rec("a", "aws:sqs", q),
            rec("b", "aws:sqs", &format!("{q}.fifo"))
        );
        let batch = SqsBatch::parse(&two).unwrap().unwrap();
        let ids: Vec<_> = batch
            .records
            .iter()
            .map(|r| (r.message_id.as_str(), r.body.as_str()))
            .collect();
        assert_eq!(ids, [("a", "b-a"), ("b", "b-b")]);
        assert!(batch.fifo);
        // Not an SQS event: another source, no records, no or two Records members.
        let other = format!(r#"{{"Records":[{}]}}"#, rec("a", "aws:s3", q));
        let twice = format!(
            r#"{{"Records":[{0}],"Records":[{0}]}}"#,
            rec("a", "aws:sqs", q)
        );
        for text in [
            other.as_str(),
            r#"{"Records":[],"x":"aws:sqs"}"#,
            r#"{"x":"aws:sqs"}"#,
            &twice,
        ] {
            assert!(SqsBatch::parse(text).unwrap().is_none(), "{text}");
            assert!(serde_json::from_str::<SqsEvent>(text)
                .map(|e| e
                    .records
                    .iter()
                    .all(|r| r.event_source.as_deref() != Some("aws:sqs")))
                .unwrap_or(true));
        }
        let no_id = r#"{"Records":[{"body":"x","eventSource":"aws:sqs"}]}"#;
        assert_eq!(
            SqsBatch::parse(no_id).unwrap_err().0,
            "SQS record 0 has no messageId"
        );
    }
}
