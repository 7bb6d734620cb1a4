//! The one pipeline (SPEC 1–6), pure: a Lambda payload, recognised by shape; its door's checks
//! (the SQS records, the API Gateway request's method, path, body, key and shape, a direct
//! invoke's document); the events and rejected items in it; the objects they make, encoded and
//! keyed. The handler writes what this plans; the benches, the fuzz targets and the hostile-input
//! tests call it as it is, so that what they measure and check is what runs in Lambda.
//!
//! No I/O and no clock: the arrival time comes in. The events borrow the payload and die here;
//! what comes out ([`Planned`]) owns its bytes.

use std::borrow::Cow;

use crate::config::Config;
use crate::key::Stamp;
use crate::plan::{self, Plan};
use crate::response::{InvokeError, Response};
use crate::source::classic::{self, Line};
use crate::source::http::Refusal;
use crate::source::{self, Envelope, HttpVersion, Items};

/// The objects one payload makes, and what the handler needs to answer for it.
#[derive(Debug)]
pub struct Planned {
    /// The objects, in planned order.
    pub plan: Plan,
    /// Valid events.
    pub events: usize,
    /// Rejected items.
    pub rejected: usize,
    /// Which door the payload came through.
    pub door: Door,
}

/// Which door a payload came through, with what its answer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Door {
    /// An SQS batch: the message ids in record order, and whether the queue is FIFO.
    Sqs {
        /// `messageId` of each record.
        message_ids: Vec<String>,
        /// `eventSourceARN` ends in `.fifo`.
        fifo: bool,
    },
    /// An API Gateway request.
    Http {
        /// Its payload format.
        version: HttpVersion,
    },
    /// A direct invoke.
    Invoke,
}

impl Door {
    /// `sqs`, `apigw` or `invoke`, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Door::Sqs { .. } => "sqs",
            Door::Http { .. } => "apigw",
            Door::Invoke => "invoke",
        }
    }
}

/// A payload answered before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Early {
    /// An API Gateway answer: a CORS preflight or a refusal (SPEC 5.2, 9, 10).
    Answer(Response),
    /// The invocation fails as a whole (SPEC 5.1, 5.3).
    Failed {
        /// The door, as [`Door::name`] says it (`invoke` when the payload is not even JSON).
        source: &'static str,
        /// Why.
        error: InvokeError,
    },
}

/// Plans the objects for one Lambda payload, at `now_unix_ms` (the upload time in keys, and the
/// arrival time of an API Gateway request that carries none).
///
/// An owned payload (`String`) is freed as soon as it is no longer needed: an SQS event's bodies
/// are read into copies, so its text goes before the events are planned (issue 15: it was a
/// quarter of the peak heap). A borrowed one (`&str`) is left to its owner.
///
/// # Errors
/// [`Early`] when the payload is answered before anything is planned.
pub fn plan_payload<'p>(
    config: &Config,
    payload: impl Into<Cow<'p, str>>,
    now_unix_ms: i64,
) -> Result<Planned, Early> {
    let payload = payload.into();
    let stamp = Stamp::from_unix_millis(now_unix_ms);
    let envelope = Envelope::parse(&payload).map_err(|e| Early::Failed {
        source: "invoke",
        error: InvokeError::Payload(e.0),
    })?;
    match envelope {
        Envelope::Sqs(batch) => {
            if let Cow::Owned(text) = payload {
                drop(text);
                crate::memory::release_freed();
            }
            let mut items = batch.items();
            let name = |i: u32| format!("sqs:{}", batch.records[i as usize].message_id);
            let door = Door::Sqs {
                message_ids: batch
                    .records
                    .iter()
                    .map(|r| r.message_id.to_string())
                    .collect(),
                fifo: batch.fifo,
            };
            finish(config, &mut items, &name, &stamp, door)
        }
        Envelope::Http(req) => {
            let mut items = Items::default();
            let refuse = |refusal: Refusal| {
                Early::Answer(match refusal {
                    Refusal::Preflight(headers) => Response::Http {
                        version: req.version,
                        status: 204,
                        body: String::new(),
                        headers,
                    },
                    Refusal::Status(status, why) => Response::refusal(req.version, status, &why),
                })
            };
            let accepted = req.accept().map_err(refuse)?;
            req.collect(&accepted, config, now_unix_ms, &mut items)
                .map_err(refuse)?;
            let name = |_| format!("apigw:{}", req.request_id);
            let door = Door::Http {
                version: req.version,
            };
            finish(config, &mut items, &name, &stamp, door).map_err(|early| match early {
                Early::Failed { error, .. } => {
                    Early::Answer(Response::refusal(req.version, 503, &error.to_string()))
                }
                answer => answer,
            })
        }
        Envelope::Invoke(doc) => {
            let mut items = Items::default();
            source::collect_document(doc, 0, &mut items).map_err(|u| Early::Failed {
                source: "invoke",
                error: InvokeError::Payload(u.0),
            })?;
            finish(
                config,
                &mut items,
                &|_| "invoke".to_owned(),
                &stamp,
                Door::Invoke,
            )
        }
    }
}

/// One chunk of a Segment S3 Classic object, planned (issue 13).
#[derive(Debug)]
pub struct PlannedChunk {
    /// The objects, in planned order.
    pub plan: Plan,
    /// Valid events.
    pub events: usize,
    /// Rejected items (the damage item included).
    pub rejected: usize,
}

/// Plans one chunk of a Segment S3 Classic object: each line an event or a rejected item, and
/// `damage` (a stream that broke before its end) one more rejected item; every item names
/// `source` (`s3://bucket/key`). The stamp is the object's received day, so that the same
/// object and configuration always give the same objects and keys.
///
/// # Errors
/// [`crate::format::EncodeError`] when an object cannot be encoded.
pub fn plan_lines(
    config: &Config,
    lines: &[Line],
    damage: Option<&str>,
    source: &str,
    stamp: &Stamp,
) -> Result<PlannedChunk, crate::format::EncodeError> {
    let mut items = Items::default();
    classic::collect_lines(lines, &mut items);
    items.rejected.extend(damage.map(classic::damage_item));
    let plan = plan::plan(
        config,
        &mut items.events,
        &items.rejected,
        &|_| source.to_owned(),
        stamp,
    )?;
    Ok(PlannedChunk {
        plan,
        events: items.events.len(),
        rejected: items.rejected.len(),
    })
}

fn finish(
    config: &Config,
    items: &mut Items<'_>,
    source_name: &dyn Fn(u32) -> String,
    stamp: &Stamp,
    door: Door,
) -> Result<Planned, Early> {
    match plan::plan(
        config,
        &mut items.events,
        &items.rejected,
        source_name,
        stamp,
    ) {
        Ok(plan) => Ok(Planned {
            plan,
            events: items.events.len(),
            rejected: items.rejected.len(),
            door,
        }),
        Err(e) => Err(Early::Failed {
            source: door.name(),
            error: InvokeError::Write(crate::response::error_chain(&e)),
        }),
    }
}
