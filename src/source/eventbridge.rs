//! Events that Segment relays through Amazon EventBridge (SPEC 11).
//!
//! Segment's Amazon EventBridge destination publishes each event to a partner event bus; a rule
//! then targets the function's SQS queue or the function itself. The Segment event is the
//! EventBridge event's `detail`. An SQS body or a direct-invoke payload that is a JSON object
//! with `detail-type`, `source` and an object `detail` is recognised here and unwrapped; the
//! detail is then checked like any other event (its rejections name the whole message, `index`
//! null). Receipt fields (SPEC 10.3) do not apply: Segment has already stamped the event.
//!
//! The envelope is read from the borrowed tree rather than as `aws_lambda_events`'
//! `EventBridgeEvent`, which would copy the detail into a `serde_json::Value` and lose the
//! number text and key order that SPEC 1 requires to be kept.
//!
//! See <https://segment.com/docs/connections/destinations/catalog/amazon-eventbridge/> and
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html>.

use crate::json::Value;

/// The `detail` of an EventBridge event, or the document itself back when it is not one.
///
/// # Errors
/// The document, unchanged, when it is not an EventBridge event.
pub fn detail(doc: Value<'_>) -> Result<Value<'_>, Value<'_>> {
    let doc = doc.into_resolved();
    if !is_eventbridge(&doc) {
        return Err(doc);
    }
    let Value::Object(members) = doc else {
        return Err(doc);
    };
    // `is_eventbridge` found an object `detail`; take the last one, as lookups do.
    let mut detail = None;
    for (k, v) in members {
        if k == "detail" {
            detail = Some(v);
        }
    }
    Ok(detail.map_or(Value::Null, Value::into_resolved))
}

/// Whether `doc` is an object with the members `detail-type`, `source` and an object `detail`.
pub fn is_eventbridge(doc: &Value<'_>) -> bool {
    doc.get("detail-type").is_some()
        && doc.get("source").is_some()
        && matches!(
            doc.get("detail").map(Value::resolved),
            Some(Value::Object(_))
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn the_detail_of_an_eventbridge_event_is_the_event() {
        let text = r#"{"version":"0","id":"e","detail-type":"track","source":"aws.partner/segment.com/x","detail":{"type":"track","n":1.50}}"#;
        let d = detail(json::parse_lazy(text).unwrap()).unwrap();
        assert_eq!(json::to_compact(&d), r#"{"type":"track","n":1.50}"#);
    }

    #[test]
    fn other_documents_are_given_back() {
        for text in [
            r#"{"type":"track","detail":{"a":1}}"#,
            r#"{"detail-type":"t","source":"s","detail":"x"}"#,
            r#"{"detail-type":"t","detail":{}}"#,
            r#"[{"detail-type":"t","source":"s","detail":{}}]"#,
        ] {
            let back = detail(json::parse_lazy(text).unwrap()).unwrap_err();
            assert_eq!(json::to_compact(&back), text);
        }
    }
}
