//! The fields Segment's HTTP Tracking API adds to an event when it receives it (SPEC 10.3):
//! `receivedAt`, a copied `sentAt`, the clock-skew corrected `timestamp` with the client's
//! `originalTimestamp`, a `timestamp` when there is none, a deterministic `messageId` and
//! `context.ip`.
//!
//! Pure: the arrival time, the request id and the source IP are passed in as a [`Receipt`]; the
//! rules edit one event object in place. Members a rule adds go after the event's own members,
//! in the order of the rules; a member a rule replaces keeps its place. An event that already has
//! `receivedAt` was stamped by a collector before and is left exactly as it is.
//!
//! Times are parsed as RFC 3339 with the `time` crate (offsets and any number of fractional
//! digits), truncated to milliseconds; computed times are written in UTC with exactly three
//! fractional digits. A time that does not parse never fails an event: its rule is skipped.

use std::borrow::Cow;

use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::json::Value;

/// What API Gateway tells about one request, for the receipt fields.
#[derive(Debug, Clone, Copy)]
pub struct Receipt<'r> {
    /// When the request arrived, in milliseconds since the Unix epoch (`requestContext.timeEpoch`
    /// or `requestTimeEpoch`, else the invocation's clock).
    pub received_ms: i64,
    /// `requestContext.requestId`, the seed of generated message ids.
    pub request_id: &'r str,
    /// The client's IP (`requestContext.http.sourceIp` or `requestContext.identity.sourceIp`).
    pub source_ip: Option<&'r str>,
}

impl Receipt<'_> {
    /// Applies the rules of SPEC 10.3 to one event object, in their order. `batch_sent_at` is
    /// the batch object's `sentAt`, if any; `index` is the event's position in its batch (0 for a
    /// single-event body). Anything but an object is left alone.
    pub fn apply<'a>(
        &self,
        event: &mut Value<'a>,
        batch_sent_at: Option<&Value<'a>>,
        index: usize,
    ) {
        let Value::Object(members) = event else {
            return;
        };
        if find(members, "receivedAt").is_some() {
            return;
        }
        // 1. receivedAt: the request's arrival time.
        let received_text = format_utc_millis(self.received_ms).unwrap_or_default();
        members.push((
            Cow::Borrowed("receivedAt"),
            Value::String(Cow::Owned(received_text.clone())),
        ));

        // 2. sentAt: the batch's, when the event has none.
        if let (None, Some(sent_at)) = (find(members, "sentAt"), batch_sent_at) {
            members.push((Cow::Borrowed("sentAt"), sent_at.clone()));
        }

        // 3. Clock skew: timestamp := receivedAt - (sentAt - client time).
        let client = find(members, "originalTimestamp").or_else(|| find(members, "timestamp"));
        let client_text = client.and_then(|i| members[i].1.as_str());
        let sent_text = find(members, "sentAt").and_then(|i| members[i].1.as_str());
        if let (Some(client_text), Some(sent_text)) = (client_text, sent_text) {
            let corrected = match (parse_millis(client_text), parse_millis(sent_text)) {
                (Some(client_ms), Some(sent_ms)) => sent_ms
                    .checked_sub(client_ms)
                    .and_then(|skew| self.received_ms.checked_sub(skew))
                    .and_then(format_utc_millis),
                _ => None,
            };
            if let Some(corrected) = corrected {
                let client_text = client_text.to_owned();
                if find(members, "originalTimestamp").is_none() {
                    members.push((
                        Cow::Borrowed("originalTimestamp"),
                        Value::String(Cow::Owned(client_text)),
                    ));
                }
                set(members, "timestamp", Value::String(Cow::Owned(corrected)));
            }
        }

        // 4. timestamp: receivedAt, when the event still has none.
        if find(members, "timestamp").is_none() {
            members.push((
                Cow::Borrowed("timestamp"),
                Value::String(Cow::Owned(received_text)),
            ));
        }

        // 5. messageId: derived from the request id and the index, so a replay yields the same.
        let missing_id = find(members, "messageId").is_none_or(|i| match &members[i].1 {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            _ => false,
        });
        if missing_id {
            let id = message_id(self.request_id, index);
            set(members, "messageId", Value::String(Cow::Owned(id)));
        }

        // 6. context.ip: the source IP, when the context has none.
        if let Some(ip) = self.source_ip {
            let ip_value = || Value::String(Cow::Owned(ip.to_owned()));
            match find(members, "context") {
                None => members.push((
                    Cow::Borrowed("context"),
                    Value::Object(vec![(Cow::Borrowed("ip"), ip_value())]),
                )),
                Some(i) => {
                    if let Value::Object(context) = members[i].1.resolve_in_place() {
                        if find(context, "ip").is_none() {
                            context.push((Cow::Borrowed("ip"), ip_value()));
                        }
                    }
                }
            }
        }
    }
}

/// `"api-"` and the first 32 hex digits of the SHA-256 of `"<requestId>:<index>"`.
pub fn message_id(request_id: &str, index: usize) -> String {
    let digest = Sha256::digest(format!("{request_id}:{index}").as_bytes());
    let mut id = String::with_capacity(36);
    id.push_str("api-");
    for byte in &digest[..16] {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    id
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Where the member `key` is (the last one when the key repeats, as lookups read it).
fn find(members: &[(Cow<'_, str>, Value<'_>)], key: &str) -> Option<usize> {
    members.iter().rposition(|(k, _)| k == key)
}

/// Replaces the member `key` in place, or adds it after the others.
fn set<'a>(members: &mut Vec<(Cow<'a, str>, Value<'a>)>, key: &'static str, value: Value<'a>) {
    match find(members, key) {
        Some(i) => members[i].1 = value,
        None => members.push((Cow::Borrowed(key), value)),
    }
}

/// An RFC 3339 date-time (`Z` or a numeric offset, fractional seconds optional) as milliseconds
/// since the Unix epoch, the fraction truncated; `None` when it does not parse.
pub fn parse_millis(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

/// Milliseconds since the Unix epoch as `2026-11-24T10:00:00.000Z`; `None` outside years
/// 0000–9999, which RFC 3339 cannot write.
pub fn format_utc_millis(ms: i64) -> Option<String> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    if !(0..=9999).contains(&t.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    const RECEIVED: i64 = 1_795_514_400_000; // 2026-11-24T10:00:00.000Z

    fn receipt() -> Receipt<'static> {
        Receipt {
            received_ms: RECEIVED,
            request_id: "req-1",
            source_ip: Some("198.51.100.7"),
        }
    }

    fn stamp(event: &str, batch_sent_at: Option<&str>, index: usize) -> String {
        let mut v = json::parse(event).unwrap();
        let sent = batch_sent_at.map(|s| json::parse(s).unwrap());
        receipt().apply(&mut v, sent.as_ref(), index);
        json::to_compact(&v)
    }

    #[test]
    fn times_parse_with_offsets_and_fractions_truncated_to_milliseconds() {
        assert_eq!(parse_millis("2026-11-24T10:00:00Z"), Some(RECEIVED));
        assert_eq!(
            parse_millis("2026-11-24T10:00:00.9999Z"),
            Some(RECEIVED + 999)
        );
        assert_eq!(
            parse_millis("2026-11-24T12:00:00.123789+02:00"),
            Some(RECEIVED + 123)
        );
        assert_eq!(
            parse_millis("2026-11-24T09:30:00.5-00:30"),
            Some(RECEIVED + 500)
        );
        assert_eq!(parse_millis("1969-12-31T23:59:59.9995Z"), Some(-1));
        // RFC 3339 lets applications use a space for the T; the parser takes it.
        assert_eq!(parse_millis("2026-11-24 10:00:00Z"), Some(RECEIVED));
        for bad in [
            "2026-11-24",
            "2026-11-24T10:00:00",
            "2026-13-24T10:00:00Z",
            "yesterday",
            "",
        ] {
            assert_eq!(parse_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn computed_times_are_utc_with_three_fraction_digits() {
        assert_eq!(
            format_utc_millis(RECEIVED + 5).as_deref(),
            Some("2026-11-24T10:00:00.005Z")
        );
        assert_eq!(
            format_utc_millis(-1).as_deref(),
            Some("1969-12-31T23:59:59.999Z")
        );
        assert_eq!(format_utc_millis(i64::MAX), None);
        assert_eq!(format_utc_millis(-62_167_219_200_001), None); // before year 0
    }

    #[test]
    fn rule_1_received_at_is_the_arrival_time_and_an_event_that_has_one_is_untouched() {
        let out = stamp(r#"{"type":"track","messageId":"m"}"#, None, 0);
        assert!(
            out.contains(r#""receivedAt":"2026-11-24T10:00:00.000Z""#),
            "{out}"
        );
        let relayed = r#"{"type":"track","receivedAt":null,"timestamp":"x"}"#;
        assert_eq!(
            stamp(relayed, Some(r#""2026-11-24T10:00:00Z""#), 0),
            relayed
        );
    }

    #[test]
    fn rule_2_the_batch_sent_at_is_copied_only_where_the_event_has_none() {
        let out = stamp(r#"{"type":"track","messageId":"m"}"#, Some("\"s\""), 0);
        assert!(out.contains(r#""sentAt":"s""#), "{out}");
        let own = stamp(
            r#"{"type":"track","messageId":"m","sentAt":"mine"}"#,
            Some("\"s\""),
            0,
        );
        assert!(
            own.contains(r#""sentAt":"mine""#) && !own.contains(r#""s""#),
            "{own}"
        );
    }

    #[test]
    fn rule_3_corrects_the_clock_skew_with_segments_formula() {
        // The client is 1 h 0.25 s slow: it sent 0.25 s after its event, by its clock.
        let out = stamp(
            r#"{"type":"track","messageId":"m","timestamp":"2026-11-24T09:00:00.000Z","sentAt":"2026-11-24T09:00:00.250+00:00"}"#,
            None,
            0,
        );
        assert_eq!(
            out,
            r#"{"type":"track","messageId":"m","timestamp":"2026-11-24T09:59:59.750Z","sentAt":"2026-11-24T09:00:00.250+00:00","receivedAt":"2026-11-24T10:00:00.000Z","originalTimestamp":"2026-11-24T09:00:00.000Z","context":{"ip":"198.51.100.7"}}"#
        );
    }

    #[test]
    fn rule_3_prefers_original_timestamp_as_the_client_time() {
        let out = stamp(
            r#"{"type":"track","messageId":"m","originalTimestamp":"2026-11-24T09:59:58Z","timestamp":"2000-01-01T00:00:00Z","sentAt":"2026-11-24T09:59:59Z"}"#,
            None,
            0,
        );
        assert!(
            out.contains(r#""originalTimestamp":"2026-11-24T09:59:58Z""#),
            "{out}"
        );
        assert!(
            out.contains(r#""timestamp":"2026-11-24T09:59:59.000Z""#),
            "{out}"
        );
    }

    #[test]
    fn rule_3_is_skipped_when_a_time_does_not_parse() {
        for event in [
            r#"{"type":"track","messageId":"m","timestamp":"soon","sentAt":"2026-11-24T09:59:59Z"}"#,
            r#"{"type":"track","messageId":"m","timestamp":"2026-11-24T09:59:59Z","sentAt":12}"#,
            r#"{"type":"track","messageId":"m","timestamp":"2026-11-24T09:59:59Z"}"#,
            r#"{"type":"track","messageId":"m","originalTimestamp":"bad","timestamp":"2026-11-24T09:59:59Z","sentAt":"2026-11-24T09:59:59Z"}"#,
        ] {
            let out = stamp(event, None, 0);
            let v = json::parse(&out).unwrap();
            let original = json::parse(event).unwrap();
            assert_eq!(v.get("timestamp"), original.get("timestamp"), "{out}");
            assert_eq!(
                v.get("originalTimestamp"),
                original.get("originalTimestamp"),
                "{out}"
            );
        }
    }

    #[test]
    fn rule_4_a_missing_timestamp_is_the_received_time() {
        let out = stamp(r#"{"type":"track","messageId":"m"}"#, None, 0);
        assert!(out.ends_with(
            r#""receivedAt":"2026-11-24T10:00:00.000Z","timestamp":"2026-11-24T10:00:00.000Z","context":{"ip":"198.51.100.7"}}"#
        ), "{out}");
    }

    #[test]
    fn rule_5_message_ids_are_derived_from_request_and_index() {
        let id = message_id("req-855e1573-9626", 0);
        assert_eq!(id, "api-e8109cabefede5346c06ea2a573531db");
        for missing in [r#""messageId":null,"#, r#""messageId":"","#, ""] {
            let out = stamp(&format!(r#"{{{missing}"type":"track"}}"#), None, 3);
            let v = json::parse(&out).unwrap();
            assert_eq!(
                v.get("messageId").and_then(Value::as_str),
                Some(message_id("req-1", 3).as_str())
            );
            if !missing.is_empty() {
                assert!(out.starts_with(r#"{"messageId":"api-"#), "in place: {out}");
            }
        }
        let kept = stamp(r#"{"type":"track","messageId":7}"#, None, 0);
        assert!(kept.contains(r#""messageId":7"#), "{kept}");
    }

    #[test]
    fn rule_6_context_ip_is_added_only_where_there_is_room() {
        let out = stamp(
            r#"{"type":"track","messageId":"m","context":{"a":1}}"#,
            None,
            0,
        );
        assert!(
            out.contains(r#""context":{"a":1,"ip":"198.51.100.7"}"#),
            "{out}"
        );
        let own = stamp(
            r#"{"type":"track","messageId":"m","context":{"ip":null}}"#,
            None,
            0,
        );
        assert!(own.contains(r#""context":{"ip":null}"#), "{own}");
        let odd = stamp(
            r#"{"type":"track","messageId":"m","context":"n/a"}"#,
            None,
            0,
        );
        assert!(odd.contains(r#""context":"n/a""#), "{odd}");
        let lazy = {
            let text = r#"{"type":"track","messageId":"m","context":{"library":{"name":"x"}}}"#;
            let mut v = json::parse_lazy(text).unwrap().into_resolved();
            receipt().apply(&mut v, None, 0);
            json::to_compact(&v)
        };
        assert!(
            lazy.contains(r#""context":{"library":{"name":"x"},"ip":"198.51.100.7"}"#),
            "{lazy}"
        );
        let no_ip = {
            let mut v = json::parse(r#"{"type":"track","messageId":"m"}"#).unwrap();
            Receipt {
                source_ip: None,
                ..receipt()
            }
            .apply(&mut v, None, 0);
            json::to_compact(&v)
        };
        assert!(!no_ip.contains("context"), "{no_ip}");
    }

    #[test]
    fn added_members_follow_the_rules_order() {
        let out = stamp(
            r#"{"type":"alias","messageId":null,"timestamp":"2026-11-24T09:58:00Z"}"#,
            Some(r#""2026-11-24T09:58:00.250Z""#),
            0,
        );
        assert_eq!(
            out,
            r#"{"type":"alias","messageId":"api-ab7c3f7a0b0c1ba10bc2b7ac7ab7d4d9","timestamp":"2026-11-24T09:59:59.750Z","receivedAt":"2026-11-24T10:00:00.000Z","sentAt":"2026-11-24T09:58:00.250Z","originalTimestamp":"2026-11-24T09:58:00Z","context":{"ip":"198.51.100.7"}}"#
                .replace("api-ab7c3f7a0b0c1ba10bc2b7ac7ab7d4d9", &message_id("req-1", 0))
        );
    }
}
