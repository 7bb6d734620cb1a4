//! The ceiling the pipeline is compared with (BENCHMARKS.md): a validating parse of the same SQS
//! payload with serde_json into borrowed structs, each body validated, nothing built. Shared by
//! the criterion bench and `examples/bench_pipeline.rs` with `#[path]`; not part of the library.

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
