//! The S3 event notification door (issue 13): `ObjectCreated` notifications of new Segment S3
//! Classic objects, delivered through SQS, so that each new Classic object is replayed as it
//! lands while Classic and this function run side by side. Each SQS message body is an S3
//! event (`aws_lambda_events`' `S3Event`) or S3's `s3:TestEvent`, which is acknowledged and
//! ignored. Pure: which objects each message names; the replay is the backfill's.

use aws_lambda_events::event::s3::S3Event;

use super::SqsBatch;

/// One object a notification names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// The bucket.
    pub bucket: String,
    /// The key, URL-decoded (notifications carry it URL-encoded, `+` for a space).
    pub key: String,
    /// Its size, when given.
    pub size: u64,
    /// Its ETag, when given.
    pub etag: String,
}

/// What one SQS message of a notification queue holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// S3's `s3:TestEvent`, sent when the notification is configured: nothing to do.
    Test,
    /// The created objects.
    Objects(Vec<ObjectRef>),
}

/// The batch as S3 notifications, one per record, if every record is one (an `S3Event` with
/// `aws:s3` records, or `s3:TestEvent`); `None` otherwise, and the batch goes through the
/// events door. A queue should carry one or the other (README).
pub fn parse(batch: &SqsBatch) -> Option<Vec<Notification>> {
    batch.records.iter().map(|r| parse_body(&r.body)).collect()
}

/// Whether a payload may hold S3 notifications at all: a scan for `aws:s3` or `s3:TestEvent`,
/// so that the events door's batches are not read twice.
pub fn may_hold_notifications(payload: &str) -> bool {
    let b = payload.as_bytes();
    memchr::memmem::find(b, b"aws:s3\\\"").is_some()
        || memchr::memmem::find(b, b"s3:TestEvent").is_some()
}

/// S3's test message: `{"Service": "Amazon S3", "Event": "s3:TestEvent", ...}`.
#[derive(serde::Deserialize)]
struct TestEvent {
    #[serde(rename = "Service")]
    service: String,
    #[serde(rename = "Event")]
    event: String,
}

fn parse_body(body: &str) -> Option<Notification> {
    if let Ok(t) = serde_json::from_str::<TestEvent>(body) {
        return (t.service == "Amazon S3" && t.event == "s3:TestEvent")
            .then_some(Notification::Test);
    }
    let event: S3Event = serde_json::from_str(body).ok()?;
    if event.records.is_empty() {
        return None;
    }
    let mut objects = Vec::with_capacity(event.records.len());
    for r in event.records {
        if r.event_source.as_deref() != Some("aws:s3") {
            return None;
        }
        if !r
            .event_name
            .as_deref()
            .unwrap_or("")
            .starts_with("ObjectCreated:")
        {
            // Removals and other events name nothing to replay.
            continue;
        }
        let bucket = r.s3.bucket.name?;
        let key = url_decode(&r.s3.object.key?);
        objects.push(ObjectRef {
            bucket,
            key,
            size: r
                .s3
                .object
                .size
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
            etag: r.s3.object.e_tag.unwrap_or_default(),
        });
    }
    Some(Notification::Objects(objects))
}

/// Decodes a key as S3 sends it in notifications and Batch Operations tasks: `+` is a space,
/// `%XX` a byte.
pub(crate) fn url_decode(key: &str) -> String {
    let b = key.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Envelope;

    /// An `ObjectCreated:Put` notification as S3 sends it (AWS's documented example).
    pub(crate) fn notification(bucket: &str, key: &str) -> String {
        serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-12-01T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "203.0.113.9"},
            "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "classic",
                   "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                              "arn": format!("arn:aws:s3:::{bucket}")},
                   "object": {"key": key, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                              "sequencer": "0055AED6DCD90281E5"}}}]})
        .to_string()
    }

    fn sqs(bodies: &[String]) -> String {
        let records: Vec<serde_json::Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| serde_json::json!({"eventSource": "aws:sqs", "messageId": format!("m{i}"), "body": b}))
            .collect();
        serde_json::json!({"Records": records}).to_string()
    }

    #[test]
    fn notifications_and_test_events_are_recognised() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-12-01T10:00:00.000Z","Bucket":"classic","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"#;
        let payload = sqs(&[
            notification("classic", "segment-logs/src+1/1432684800000/a%2Bb.gz"),
            test.to_owned(),
        ]);
        assert!(may_hold_notifications(&payload));
        let Envelope::Sqs(batch) = Envelope::parse(&payload).unwrap() else {
            panic!("sqs")
        };
        let n = parse(&batch).expect("notifications");
        assert_eq!(n[1], Notification::Test);
        let Notification::Objects(objects) = &n[0] else {
            panic!("{n:?}")
        };
        assert_eq!(objects[0].bucket, "classic");
        assert_eq!(objects[0].key, "segment-logs/src 1/1432684800000/a+b.gz");
        assert_eq!(objects[0].size, 1024);
    }

    #[test]
    fn an_events_batch_is_not_taken_for_notifications() {
        let payload = sqs(&[r#"{"type":"track","event":"A"}"#.to_owned()]);
        assert!(!may_hold_notifications(&payload));
        let Envelope::Sqs(batch) = Envelope::parse(&payload).unwrap() else {
            panic!("sqs")
        };
        assert_eq!(parse(&batch), None);
        // A mixed batch goes to the events door too (the notification becomes a rejected item).
        let mixed = sqs(&[
            notification("classic", "k/1432684800000/f"),
            r#"{"type":"track"}"#.to_owned(),
        ]);
        let Envelope::Sqs(batch) = Envelope::parse(&mixed).unwrap() else {
            panic!("sqs")
        };
        assert_eq!(parse(&batch), None);
        // A test event from something that is not S3 is not taken for one.
        assert_eq!(
            parse_body(r#"{"Service":"Other","Event":"s3:TestEvent"}"#),
            None
        );
    }

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(url_decode("a+b%20c%2Fd%zz%"), "a b c/d%zz%");
    }
}
