//! What the benchmarks time, in the library so that criterion benches and the comparison runner
//! measure exactly the code the handler runs: [`plan_payload`] is [`pipeline::plan_payload`]
//! (decode → subscription → map → group → encode, no sink), and [`decode_sqs_payload`] its decode
//! step alone. The serde_json ceiling they are compared with is in `benches/support/ceiling.rs`.

use crate::config::Config;
use crate::key::Stamp;
use crate::pipeline::{self, Early};
use crate::plan::Plan;
use crate::response::InvokeError;
use crate::source::Envelope;

/// Plans the objects for one Lambda payload with the handler's own pipeline
/// ([`pipeline::plan_payload`]), at the stamp's time.
///
/// # Errors
/// [`InvokeError::Payload`] for a payload answered before anything is planned (a refused
/// request included, described by its response).
pub fn plan_payload(config: &Config, payload: &str, stamp: &Stamp) -> Result<Plan, InvokeError> {
    match pipeline::plan_payload(config, payload, stamp.unix_millis()) {
        Ok(planned) => Ok(planned.plan),
        Err(Early::Failed { error, .. }) => Err(error),
        Err(Early::Answer(response)) => Err(InvokeError::Payload(
            response
                .to_json()
                .unwrap_or_else(|e| crate::response::error_chain(&e)),
        )),
    }
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
            let items = batch.items();
            Ok(items.events.len() + items.rejected.len())
        }
        _ => Err(InvokeError::Payload("not an SQS batch".to_owned())),
    }
}
