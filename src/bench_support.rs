//! The pure pipeline as one call, for benchmarks: decode → subscription → map → group → encode,
//! with no sink. Kept in the library (not in `benches/`) so that criterion benches and the
//! comparison runner measure exactly the same code.

use crate::config::Config;
use crate::handler::InvokeError;
use crate::input::{self, Envelope, Items, SqsBatch};
use crate::json::{self, Value};
use crate::key::Stamp;
use crate::plan::{self, Plan};

/// Plans the objects for one Lambda payload, as the handler does before writing.
///
/// # Errors
/// [`InvokeError::Payload`] for a payload that cannot be used at all.
pub fn plan_payload(config: &Config, payload: &str, stamp: &Stamp) -> Result<Plan, InvokeError> {
    match Envelope::parse(payload).map_err(|e| InvokeError::Payload(e.0))? {
        Envelope::Sqs(batch) => {
            let items = sqs_items(&batch);
            let name = |i: u32| format!("sqs:{}", batch.records[i as usize].message_id);
            plan_items(config, &items, &name, stamp)
        }
        Envelope::Http(req) => {
            let body = input::decode_http_body(&req)
                .map_err(|e| InvokeError::Payload(format!("{e:?}")))?;
            let doc = json::parse_lazy(&body).map_err(|e| InvokeError::Payload(e.to_string()))?;
            plan_document(config, doc, "apigw", stamp)
        }
        Envelope::Invoke(doc) => plan_document(config, doc, "invoke", stamp),
    }
}

/// Every SQS body of `batch` parsed into events and rejected items, as the handler does.
fn sqs_items<'a>(batch: &'a SqsBatch<'_>) -> Items<'a> {
    let mut items = Items::default();
    for (i, r) in batch.records.iter().enumerate() {
        input::collect_sqs_body(&r.body, u32::try_from(i).unwrap_or(u32::MAX), &mut items);
    }
    items
}

fn plan_document(
    config: &Config,
    doc: Value<'_>,
    source: &str,
    stamp: &Stamp,
) -> Result<Plan, InvokeError> {
    let mut items = Items::default();
    input::collect_document(doc, 0, &mut items).map_err(|u| InvokeError::Payload(u.0))?;
    plan_items(config, &items, &|_| source.to_owned(), stamp)
}

fn plan_items(
    config: &Config,
    items: &Items<'_>,
    source_name: &dyn Fn(u32) -> String,
    stamp: &Stamp,
) -> Result<Plan, InvokeError> {
    plan::plan(config, &items.events, &items.rejected, source_name, stamp)
        .map_err(|e| InvokeError::Payload(e.to_string()))
}

/// The decode step of [`plan_payload`] alone, for the breakdown in BENCHMARKS.md: the envelope
/// and every SQS body parsed into events (lazy tree, validated), nothing mapped or encoded.
/// Returns the number of events and rejected items.
///
/// # Errors
/// [`InvokeError::Payload`] for a payload that is not an SQS batch.
pub fn decode_sqs_payload(payload: &str) -> Result<usize, InvokeError> {
    match Envelope::parse(payload).map_err(|e| InvokeError::Payload(e.0))? {
        Envelope::Sqs(batch) => {
            let items = sqs_items(&batch);
            Ok(items.events.len() + items.rejected.len())
        }
        _ => Err(InvokeError::Payload("not an SQS batch".to_owned())),
    }
}

/// The ceiling the pipeline is compared with: a validating parse of the same SQS payload with
/// serde_json into borrowed structs (each body validated, nothing built). Returns the number of
/// records.
///
/// # Errors
/// serde_json's error when the payload or a body is not JSON.
pub fn validating_borrowed_parse(payload: &str) -> Result<usize, serde_json::Error> {
    use serde::de::IgnoredAny;
    use serde::Deserialize;
    use std::borrow::Cow;

    #[derive(Deserialize)]
    struct Sqs<'a> {
        #[serde(rename = "Records", borrow)]
        records: Vec<Record<'a>>,
    }
    #[derive(Deserialize)]
    struct Record<'a> {
        #[serde(rename = "messageId", borrow)]
        _message_id: Cow<'a, str>,
        #[serde(borrow)]
        body: Cow<'a, str>,
    }
    let sqs: Sqs<'_> = serde_json::from_str(payload)?;
    for r in &sqs.records {
        serde_json::from_str::<IgnoredAny>(&r.body)?;
    }
    Ok(sqs.records.len())
}
