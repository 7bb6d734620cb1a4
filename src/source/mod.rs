//! The doors (SPEC 1): a Lambda payload told apart by shape, and the events inside it. One file
//! per door, each small: [`sqs`] (SQS records and their bodies), [`http`] (the API Gateway
//! request, its body and its checks, SPEC 5.2), [`eventbridge`] (events relayed by Segment's
//! EventBridge destination, SPEC 11); with the API Gateway door, [`tracking_api`] (Segment's
//! endpoints and CORS, SPEC 10) and [`receipt`] (the fields added on receipt, SPEC 10.3). A direct
//! invoke is the payload itself ([`collect_document`]). [`classic`] reads Segment's S3 Classic
//! logs (issue 13), line by line.
//!
//! Here, what every door shares: [`Envelope::parse`] recognises the shape; [`collect`] turns one
//! JSON document (an event, a `{"batch": [...]}` object or an array) into [`Event`]s and
//! [`Rejected`] items, with the batch-level `context`/`integrations` merge and, for API Gateway,
//! the receipt fields. Events borrow the payload's text rather than copying it. Nothing here does
//! I/O or knows about AWS clients.

pub mod batch_operations;
pub mod classic;
pub mod eventbridge;
pub mod http;
pub mod receipt;
pub mod s3_notification;
pub mod sqs;
pub mod tracking_api;

use std::borrow::Cow;

use crate::json::{self, Value};
pub use http::{HttpRequest, HttpVersion, MAX_BODY_BYTES};
pub use receipt::Receipt;
pub use sqs::{collect_sqs_body, SqsBatch, SqsRecord};

/// The deepest an event may nest (SPEC 9): the event object is depth 1.
pub const MAX_EVENT_DEPTH: usize = 128;

/// Segment's event types.
pub const EVENT_TYPES: [&str; 6] = ["identify", "track", "page", "screen", "group", "alias"];

/// A Lambda payload, recognised by shape.
#[derive(Debug)]
pub enum Envelope<'p> {
    /// An SQS event.
    Sqs(SqsBatch),
    /// An API Gateway proxy request.
    Http(HttpRequest<'p>),
    /// A direct invoke: the payload is the document.
    Invoke(Value<'p>),
}

/// Why a payload cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

impl<'p> Envelope<'p> {
    /// Parses a Lambda payload and recognises its shape (SPEC 1 and 9).
    ///
    /// # Errors
    /// [`PayloadError`] when the payload is not JSON, or is an SQS event with a record that has
    /// no message id or a field of the wrong type.
    ///
    /// An SQS event is read as `aws_lambda_events`' typed `SqsEvent` (no slower than the lazy
    /// tree: BENCHMARKS.md); an API Gateway request from the lazy tree, which tolerates what
    /// the typed requests refuse as a whole (README, "Code map").
    pub fn parse(text: &'p str) -> Result<Envelope<'p>, PayloadError> {
        if let Some(batch) = SqsBatch::parse(text)? {
            return Ok(Envelope::Sqs(batch));
        }
        let doc = json::parse_envelope(text)
            .map_err(|e| PayloadError(format!("the payload is not JSON: {e}")))?;
        let Value::Object(members) = doc else {
            return Ok(Envelope::Invoke(doc));
        };
        let get = |members: &[(Cow<'p, str>, Value<'p>)], key: &str| {
            members.iter().rposition(|(k, _)| k == key)
        };
        if let Some(i) = get(&members, "Records") {
            let is_sqs = matches!(members[i].1.resolved(), Value::Array(records)
                if !records.is_empty()
                    && records
                        .iter()
                        .all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs")));
            if is_sqs {
                // Shaped as an SQS event, yet not one `SqsEvent` reads (a field of the wrong type).
                return Err(SqsBatch::unreadable(text));
            }
        }
        let value = |key: &str| get(&members, key).map(|i| &members[i].1);
        let http_v2 = matches!(value("version").and_then(Value::as_str), Some("2.0"))
            && value("requestContext")
                .and_then(|c| c.get("http"))
                .is_some();
        let http_v1 = value("httpMethod").is_some() && value("requestContext").is_some();
        if http_v2 || http_v1 {
            let version = if http_v2 {
                HttpVersion::V2
            } else {
                HttpVersion::V1
            };
            return Ok(Envelope::Http(HttpRequest::from_members(members, version)));
        }
        Ok(Envelope::Invoke(Value::Object(members)))
    }
}

/// One valid event and the message it came from.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// The event object, after the batch merge.
    pub value: Value<'a>,
    /// Its `type`, one of [`EVENT_TYPES`].
    pub event_type: &'static str,
    /// Index of the message (SQS record) it came from; 0 for API Gateway and direct invokes.
    pub source: u32,
    /// Its position in its batch or array; `None` for a single event (for error records about
    /// it, SPEC 6).
    pub index: Option<u32>,
}

/// An item that is not an event, kept for the error object (SPEC 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Why, on one line.
    pub reason: String,
    /// Index of the message it came from.
    pub source: u32,
    /// Position in its batch or array; `None` for a whole message.
    pub index: Option<usize>,
    /// The raw message text, or the element's compact JSON.
    pub body: String,
}

/// What one payload holds.
#[derive(Debug, Default)]
pub struct Items<'a> {
    /// Valid events, in input order.
    pub events: Vec<Event<'a>>,
    /// Rejected items, in input order.
    pub rejected: Vec<Rejected>,
}

/// Why a whole document is unusable (API Gateway 400, direct invoke failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unusable(pub String);

/// Collects the events of one document (an event, a batch object or an array) into `items`.
///
/// When the document as a whole is not usable, returns its reason and adds nothing; the caller
/// decides whether that is a rejected message (SQS) or a refused request. With a `receipt`
/// (API Gateway requests), each valid event gets the fields added on receipt (SPEC 10.3) after
/// the batch merge.
///
/// # Errors
/// [`Unusable`] when the document is neither an event, a batch object nor an array.
pub fn collect<'a>(
    doc: Value<'a>,
    source: u32,
    items: &mut Items<'a>,
    receipt: Option<&Receipt<'_>>,
) -> Result<(), Unusable> {
    match doc.into_resolved() {
        Value::Array(elements) => {
            collect_elements(elements, &BatchMerge::default(), source, items, receipt);
            Ok(())
        }
        Value::Object(members) => {
            if is_batch_object(&members) {
                let mut elements = Vec::new();
                let mut merge = BatchMerge::default();
                for (k, v) in members {
                    match (k.as_ref(), v.into_resolved()) {
                        ("batch", Value::Array(e)) => elements = e,
                        ("context", v @ Value::Object(_)) => merge.context = Some(v),
                        ("integrations", v @ Value::Object(_)) => merge.integrations = Some(v),
                        ("sentAt", v) => merge.sent_at = Some(v),
                        _ => {}
                    }
                }
                collect_elements(elements, &merge, source, items, receipt);
                Ok(())
            } else {
                collect_event(Value::Object(members), source, items, receipt)
            }
        }
        other => Err(Unusable(format!(
            "expected an event object, a {{\"batch\": [...]}} object or an array of events, found {}",
            other.type_name()
        ))),
    }
}

/// Whether an object is a batch object: its `batch` member is an array (SPEC 9).
pub fn is_batch_object(members: &[(Cow<'_, str>, Value<'_>)]) -> bool {
    matches!(
        members
            .iter()
            .rev()
            .find(|(k, _)| k == "batch")
            .map(|(_, v)| v.resolved()),
        Some(Value::Array(_))
    )
}

/// Collects one document that must be a single event (a single-event endpoint's body, an
/// EventBridge event's detail), whatever members it has.
///
/// # Errors
/// [`Unusable`] when it is not an event.
pub fn collect_event<'a>(
    value: Value<'a>,
    source: u32,
    items: &mut Items<'a>,
    receipt: Option<&Receipt<'_>>,
) -> Result<(), Unusable> {
    let mut value = value.into_resolved();
    let event_type = check_event(&value).map_err(Unusable)?;
    if let Some(receipt) = receipt {
        receipt.apply(&mut value, None, 0);
    }
    items.events.push(Event {
        value,
        event_type,
        source,
        index: None,
    });
    Ok(())
}

/// A batch object's top-level `context` and `integrations`, merged under each event's own, and
/// its `sentAt`, copied into events that have none when receipt fields are added.
#[derive(Default)]
struct BatchMerge<'a> {
    context: Option<Value<'a>>,
    integrations: Option<Value<'a>>,
    sent_at: Option<Value<'a>>,
}

impl<'a> BatchMerge<'a> {
    /// `{...batch.x, ...event.x}` for `x` in context, integrations: the batch's keys first in
    /// their order, the event's value replacing a key in place, the event's other keys after.
    fn apply(&self, event: &mut Value<'a>) {
        let Value::Object(members) = event else {
            return;
        };
        for (name, batch_value) in [
            ("context", &self.context),
            ("integrations", &self.integrations),
        ] {
            let Some(Value::Object(batch_members)) = batch_value else {
                continue;
            };
            let own = members
                .iter_mut()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.resolve_in_place());
            match own {
                Some(Value::Object(own)) => {
                    let mut merged = batch_members.clone();
                    for (k, v) in own.drain(..) {
                        match merged.iter_mut().find(|(mk, _)| *mk == k) {
                            Some(slot) => slot.1 = v,
                            None => merged.push((k, v)),
                        }
                    }
                    *own = merged;
                }
                Some(slot @ Value::Null) => *slot = Value::Object(batch_members.clone()),
                Some(_) => {} // not an object: the event's own value stands
                None => members.push((Cow::Borrowed(name), Value::Object(batch_members.clone()))),
            }
        }
    }
}

fn collect_elements<'a>(
    elements: Vec<Value<'a>>,
    merge: &BatchMerge<'a>,
    source: u32,
    items: &mut Items<'a>,
    receipt: Option<&Receipt<'_>>,
) {
    items.events.reserve(elements.len());
    for (index, value) in elements.into_iter().enumerate() {
        let mut value = value.into_resolved();
        // The same check as a single event; the batch's context is merged only into elements
        // that pass, so a rejected element keeps its body as received.
        let checked = check_event(&value);
        if checked.is_ok() {
            merge.apply(&mut value);
            if let Some(receipt) = receipt {
                receipt.apply(&mut value, merge.sent_at.as_ref(), index);
            }
        }
        match checked {
            Ok(event_type) => items.events.push(Event {
                value,
                event_type,
                source,
                index: u32::try_from(index).ok(),
            }),
            Err(reason) => items.rejected.push(Rejected {
                reason,
                source,
                index: Some(index),
                body: json::to_compact(&value),
            }),
        }
    }
}

/// Checks that `v` is an event: an object with a known `type`, nested at most 128 deep.
///
/// # Errors
/// A one-line reason.
pub fn check_event(v: &Value<'_>) -> Result<&'static str, String> {
    let t = check_type(v)?;
    check_depth(v)?;
    Ok(t)
}

fn check_type(v: &Value<'_>) -> Result<&'static str, String> {
    if !matches!(v, Value::Object(_)) {
        return Err(format!(
            "not an event: expected an object, found {}",
            v.type_name()
        ));
    }
    match v.get("type") {
        None => Err("not an event: no \"type\"".to_owned()),
        Some(Value::String(t)) => EVENT_TYPES
            .iter()
            .find(|known| **known == t.as_ref())
            .copied()
            .ok_or_else(|| {
                format!(
                    "not an event: \"type\" is {}, not one of {}",
                    json::to_compact(&Value::String(t.clone())),
                    EVENT_TYPES.join(", ")
                )
            }),
        Some(other) => Err(format!(
            "not an event: \"type\" is {}, not a string",
            other.type_name()
        )),
    }
}

fn check_depth(v: &Value<'_>) -> Result<(), String> {
    if v.deeper_than(MAX_EVENT_DEPTH) {
        Err(too_deep())
    } else {
        Ok(())
    }
}

fn too_deep() -> String {
    format!("not an event: nested deeper than {MAX_EVENT_DEPTH} levels")
}

/// Collects an SQS body or a direct-invoke payload: an EventBridge event's detail (SPEC 11),
/// else an event, a batch object or an array (no receipt fields: those are API Gateway's).
///
/// # Errors
/// [`Unusable`] when the document holds no usable event, batch or array.
pub fn collect_document<'a>(
    doc: Value<'a>,
    source: u32,
    items: &mut Items<'a>,
) -> Result<(), Unusable> {
    match eventbridge::detail(doc) {
        Ok(detail) => collect_event(detail, source, items, None)
            .map_err(|u| Unusable(format!("EventBridge detail: {}", u.0))),
        Err(doc) => collect(doc, source, items, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items_of(body: &str) -> (Vec<String>, Vec<Rejected>) {
        let mut items = Items::default();
        collect_sqs_body(body, 0, &mut items);
        (
            items
                .events
                .iter()
                .map(|e| json::to_compact(&e.value))
                .collect(),
            items.rejected,
        )
    }

    #[test]
    fn recognises_payload_shapes() {
        let sqs = r#"{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":"{}","eventSourceARN":"arn:aws:sqs:us-east-1:1:q.fifo"}]}"#;
        match Envelope::parse(sqs).unwrap() {
            Envelope::Sqs(b) => {
                assert!(b.fifo);
                assert_eq!(b.records[0].message_id, "m1");
            }
            other => panic!("{other:?}"),
        }
        let v2 = r#"{"version":"2.0","requestContext":{"http":{"method":"POST"},"requestId":"r"},"headers":{"Content-Encoding":"gzip"},"body":"x"}"#;
        match Envelope::parse(v2).unwrap() {
            Envelope::Http(r) => {
                assert_eq!(r.version, HttpVersion::V2);
                assert_eq!(r.method, "POST");
                assert_eq!(r.header("content-encoding"), Some("gzip"));
                assert_eq!(r.request_id, "r");
            }
            other => panic!("{other:?}"),
        }
        let v1 = r#"{"httpMethod":"GET","requestContext":{"requestId":"r1"},"multiValueHeaders":{"X":["a","b"]}}"#;
        match Envelope::parse(v1).unwrap() {
            Envelope::Http(r) => {
                assert_eq!(r.version, HttpVersion::V1);
                assert_eq!(r.method, "GET");
                assert_eq!(r.header("x"), Some("a"));
            }
            other => panic!("{other:?}"),
        }
        for invoke in [
            r#"{"type":"track"}"#,
            r#"{"Records":[]}"#,
            r#"{"Records":[{"eventSource":"aws:sns"}]}"#,
            "[1]",
        ] {
            assert!(
                matches!(Envelope::parse(invoke).unwrap(), Envelope::Invoke(_)),
                "{invoke}"
            );
        }
        let no_id = r#"{"Records":[{"eventSource":"aws:sqs","body":"{}"}]}"#;
        assert_eq!(
            Envelope::parse(no_id).unwrap_err().0,
            "SQS record 0 has no messageId"
        );
        let bad_body = r#"{"Records":[{"eventSource":"aws:sqs","messageId":"m","body":5}]}"#;
        let e = Envelope::parse(bad_body).unwrap_err().0;
        assert!(
            e.starts_with("the SQS event does not read as one: invalid type: integer `5`"),
            "{e}"
        );
    }

    #[test]
    fn whole_message_rejections_keep_raw_text() {
        for body in [
            "{\"type\":",
            "{\"event\":\"x\"}",
            "{\"type\":\"Track\"}",
            "\"s\"",
            "42",
            "",
        ] {
            let (events, rejected) = items_of(body);
            assert!(events.is_empty());
            assert_eq!(rejected.len(), 1, "{body}");
            assert_eq!(rejected[0].body, body);
            assert_eq!(rejected[0].index, None);
            assert!(!rejected[0].reason.contains('\n'));
        }
    }

    #[test]
    fn batch_elements_are_rejected_one_by_one() {
        let (events, rejected) =
            items_of(r#"{"batch":[{"type":"track"},42,{"type":"x"}, {"a" : "é\n"}]}"#);
        assert_eq!(events.len(), 1);
        let bodies: Vec<_> = rejected
            .iter()
            .map(|r| (r.index, r.body.as_str()))
            .collect();
        assert_eq!(
            bodies,
            [
                (Some(1), "42"),
                (Some(2), r#"{"type":"x"}"#),
                (Some(3), "{\"a\":\"é\\n\"}")
            ]
        );
    }

    #[test]
    fn batch_context_merges_shallowly_in_javascript_order() {
        let (events, _) = items_of(
            r#"{"batch":[{"type":"track","context":{"ip":"1","locale":"x"}},{"type":"page"}],"context":{"library":{"name":"l"},"ip":"0"},"integrations":{"All":true},"writeKey":"k"}"#,
        );
        assert_eq!(
            events[0],
            r#"{"type":"track","context":{"library":{"name":"l"},"ip":"1","locale":"x"},"integrations":{"All":true}}"#
        );
        assert_eq!(
            events[1],
            r#"{"type":"page","context":{"library":{"name":"l"},"ip":"0"},"integrations":{"All":true}}"#
        );
    }

    #[test]
    fn an_event_deeper_than_128_is_rejected_alone() {
        let deep = |n: usize| format!("{}1{}", "[".repeat(n - 1), "]".repeat(n - 1));
        let ok = format!(r#"{{"type":"track","p":{}}}"#, deep(128));
        let bad = format!(r#"{{"type":"track","p":{}}}"#, deep(129));
        let (events, rejected) = items_of(&format!("[{ok},{bad},{ok}]"));
        assert_eq!(events.len(), 2);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].index, Some(1));
        assert_eq!(rejected[0].body, bad);
        let deep_event = format!(r#"{{"type":"track","p":{}}}"#, deep(400));
        let (events, rejected) = items_of(&format!(r#"{{"batch":[{deep_event}]}}"#));
        assert!(events.is_empty());
        assert_eq!(rejected.len(), 1);
    }
}
