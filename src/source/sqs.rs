//! The SQS door (SPEC 1, 5.1): the records of an SQS event and their bodies, each body one
//! message: an event, a batch object, an array of events, or an EventBridge event (SPEC 11). A
//! message that holds none of these is one rejected item with its raw text, never dropped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};
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
#[derive(Debug, PartialEq)]
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
        // The usual shape in one pass; anything else is read by serde as `SqsEvent` reads it.
        let Some(event) = read_fast(text).or_else(|| serde_json::from_str::<Streamed>(text).ok())
        else {
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
#[derive(Debug, PartialEq)]
struct Streamed {
    records: Vec<SqsRecord>,
    fifo: bool,
    /// Every record's `eventSource` is `aws:sqs`.
    all_sqs: bool,
    /// The first record without a `messageId`.
    missing_id: Option<usize>,
}

impl Streamed {
    fn with_capacity(records: usize) -> Streamed {
        Streamed {
            records: Vec::with_capacity(records),
            fifo: false,
            all_sqs: true,
            missing_id: None,
        }
    }

    /// Takes record `index`, as either reader found its fields.
    fn take(
        &mut self,
        index: usize,
        event_source: Option<&str>,
        event_source_arn: Option<&str>,
        message_id: Option<String>,
        body: Option<String>,
    ) {
        self.all_sqs &= event_source == Some("aws:sqs");
        self.fifo |= event_source_arn.is_some_and(|arn| arn.ends_with(".fifo"));
        match message_id {
            Some(message_id) => self.records.push(SqsRecord {
                message_id,
                // A record without a body is kept as an empty message, which is then rejected
                // and written to the error object rather than dropped.
                body: body.unwrap_or_default(),
            }),
            None => {
                self.missing_id.get_or_insert(index);
            }
        }
    }
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
        let mut out = Streamed::with_capacity(seq.size_hint().unwrap_or(0));
        let mut index = 0;
        while let Some(record) = seq.next_element::<SqsMessage>()? {
            out.take(
                index,
                record.event_source.as_deref(),
                record.event_source_arn.as_deref(),
                record.message_id,
                record.body,
            );
            index += 1;
        }
        Ok(out)
    }
}

/// Reads an SQS event in the shape Lambda sends, by hand and in one pass: each body unescaped
/// as it is scanned, the record fields the pipeline does not use validated without being built
/// (issue 15: reading every record as a typed [`SqsMessage`] through serde was a third of the
/// pipeline, a sixth of it the `attributes` maps alone). What it accepts it reads exactly as the
/// serde path does: field types included, field names unescaped as serde matches them. `None`
/// for anything it does not handle (a record that is not an object, a repeated field, a field
/// of another type, text after the event), which the serde path then reads or refuses. A unit
/// test and the `json` fuzz target check that the two agree. (A record with
/// `messageAttributes` pays one serde parse of that map, to type it as [`SqsMessage`] does.)
fn read_fast(text: &str) -> Option<Streamed> {
    let mut c = json::Cursor::new(text);
    let mut out = None;
    c.object(|c, key| {
        if key != "Records" {
            c.skip_value()?;
        } else if out.replace(read_fast_records(c)?).is_some() {
            return None; // serde refuses a second `Records`
        }
        Some(())
    })?;
    if !c.at_end() {
        return None;
    }
    out
}

fn read_fast_records(c: &mut json::Cursor<'_>) -> Option<Streamed> {
    let mut out = Streamed::with_capacity(0);
    let mut index = 0;
    c.array(|c| {
        let record = read_fast_record(c)?;
        out.take(
            index,
            record.event_source.as_deref(),
            record.event_source_arn.as_deref(),
            record.message_id.map(Cow::into_owned),
            record.body.map(Cow::into_owned),
        );
        index += 1;
        Some(())
    })?;
    Some(out)
}

/// The fields of one record that the pipeline reads.
#[derive(Default)]
struct FastRecord<'a> {
    message_id: Option<Cow<'a, str>>,
    body: Option<Cow<'a, str>>,
    event_source: Option<Cow<'a, str>>,
    event_source_arn: Option<Cow<'a, str>>,
}

fn read_fast_record<'a>(c: &mut json::Cursor<'a>) -> Option<FastRecord<'a>> {
    let mut record = FastRecord::default();
    // Which of [`SqsMessage`]'s fields were seen (numbered below: its eight `Option<String>`
    // fields, then `attributes` and `messageAttributes`): serde refuses a repeated one.
    let mut seen = 0u16;
    c.object(|c, key| {
        let field = match key.as_ref() {
            "messageId" => Some(0),
            "receiptHandle" => Some(1),
            "body" => Some(2),
            "md5OfBody" => Some(3),
            "md5OfMessageAttributes" => Some(4),
            "eventSourceARN" => Some(5),
            "eventSource" => Some(6),
            "awsRegion" => Some(7),
            "attributes" => Some(8),
            "messageAttributes" => Some(9),
            _ => None,
        };
        if let Some(f) = field {
            if seen & (1 << f) != 0 {
                return None;
            }
            seen |= 1 << f;
        }
        match field {
            Some(f @ 0..=7) => {
                let value = if c.eat_null() {
                    None
                } else {
                    Some(c.string()?)
                };
                match f {
                    0 => record.message_id = value,
                    2 => record.body = value,
                    5 => record.event_source_arn = value,
                    6 => record.event_source = value,
                    _ => {}
                }
            }
            // `HashMap<String, String>`, null read as empty.
            Some(8) => {
                if !c.eat_null() {
                    c.object(|c, _| c.string().map(drop))?;
                }
            }
            // `HashMap<String, SqsMessageAttribute>`, null read as empty: an empty map here,
            // anything else checked by serde as that type.
            Some(_) => {
                if !c.eat_null() {
                    let raw = c.skip_value()?;
                    if raw != "{}" {
                        serde_json::from_str::<HashMap<String, SqsMessageAttribute>>(raw).ok()?;
                    }
                }
            }
            None => {
                c.skip_value()?;
            }
        }
        Some(())
    })?;
    Some(record)
}

/// For the fuzz targets: whether the hand-written reader of an SQS event either declines
/// `text` or reads exactly what the serde path reads.
#[doc(hidden)]
pub fn fast_reader_agrees(text: &str) -> bool {
    read_fast(text).is_none_or(|fast| serde_json::from_str::<Streamed>(text).ok() == Some(fast))
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

    /// The hand-written reader either declines or reads exactly what serde reads.
    #[test]
    fn the_fast_reader_agrees_with_serde_or_declines() {
        let good = r#"{"messageId":"m1","receiptHandle":"r","body":"{\"type\":\"track\",\"event\":\"caf\u00e9 \\\"x\\\"\"}","attributes":{"ApproximateReceiveCount":"1"},"messageAttributes":{},"md5OfBody":"","eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:1:q.fifo","awsRegion":"us-east-1"}"#;
        let cases = [
            format!(r#"{{"Records":[{good}]}}"#),
            format!(" {{ \"Records\" : [ {good} , {good} ] , \"x\" : [1, {{\"a\": null}}] }} \n"),
            r#"{"Records":[]}"#.to_owned(),
            r#"{"Records":[{}]}"#.to_owned(),
            r#"{"Records":[{"messageId":null,"body":null,"eventSource":"aws:sqs"}]}"#.to_owned(),
            r#"{"Records":[{"messageId":"a","body":"","eventSource":"aws:sqs","attributes":null,"messageAttributes":null}]}"#.to_owned(),
            // Declined or refused: each is read by serde as it reads it.
            r#"{"Records":[{"messageId":"a","messageId":"b","eventSource":"aws:sqs"}]}"#.to_owned(),
            r#"{"Records":[{"messageId":1,"eventSource":"aws:sqs"}]}"#.to_owned(),
            r#"{"Records":[{"messageId":"a","attributes":{"k":1},"eventSource":"aws:sqs"}]}"#.to_owned(),
            r#"{"Records":[{"messageId":"a","attributes":[],"eventSource":"aws:sqs"}]}"#.to_owned(),
            r#"{"Records":[{"messageId":"a","messageAttributes":{"k":{"stringValue":"v","dataType":"String"}},"eventSource":"aws:sqs"}]}"#.to_owned(),
            r#"{"Records":[{"messageId":"a","messageAttributes":{"k":{"stringValue":5}},"eventSource":"aws:sqs"}]}"#.to_owned(),
            r#"{"Records":[{"mess\u0061geId":"a","eventSource":"aws:sqs"}]}"#.to_owned(),
            r#"{"Records":[["a","r","body"]]}"#.to_owned(),
            r#"{"Records":[{"messageId":"a","body":"\ud800","eventSource":"aws:sqs"}]}"#.to_owned(),
            r#"{"Records":[{"messageId":"a","body":"x"}],"Records":[]}"#.to_owned(),
            r#"{"Records":[{"messageId":"a"}]} x"#.to_owned(),
            r#"{"Records":null}"#.to_owned(),
            r#"{"Records":[{"messageId":"a","extra":[1,2,{"b":tru}]}]}"#.to_owned(),
            r#"{"Records":[{"messageId":"a","body":"line\nnext\t\u0041\/"}]}"#.to_owned(),
        ];
        for text in &cases {
            let slow = serde_json::from_str::<Streamed>(text).ok();
            if let Some(fast) = read_fast(text) {
                assert_eq!(Some(fast), slow, "{text}");
            }
        }
        // The usual shape is read by the fast path, its bodies unescaped.
        let fast = read_fast(&cases[1]).expect("fast path");
        assert_eq!(fast.records.len(), 2);
        assert_eq!(
            fast.records[0].body,
            "{\"type\":\"track\",\"event\":\"caf\u{e9} \\\"x\\\"\"}"
        );
        assert!(fast.fifo && fast.all_sqs);
        assert!(read_fast(&cases[4]).is_some_and(|e| e.missing_id == Some(0)));
        assert!(
            read_fast(&cases[6]).is_none(),
            "a repeated field is left to serde"
        );
        // An escaped field name is matched unescaped, as serde matches it.
        assert!(read_fast(&cases[12]).is_some_and(|e| e.records[0].message_id == "a"));
        // Long bodies with escapes close together, and characters across the eight-byte steps.
        let body = "{\"k\":\"é😀\",\"n\":1}".repeat(50);
        let text = format!(
            r#"{{"Records":[{{"messageId":"a","body":{},"eventSource":"aws:sqs"}}]}}"#,
            serde_json::to_string(&body).unwrap()
        );
        assert_eq!(read_fast(&text).unwrap().records[0].body, body);
        assert_eq!(
            read_fast(&text),
            serde_json::from_str::<Streamed>(&text).ok()
        );
    }

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
