//! Planning (SPEC 4 and 6): events to rows, rows to groups, groups to objects with their keys.
//!
//! For each mapping, every event its subscription takes becomes one row; rows are grouped by
//! (mapping, resolved folder, event type) in input order, and each group is cut into objects of
//! at most `batch_size` rows, encoded as delimited text or Parquet. Rejected items, and events
//! with a Parquet cell that did not convert to its column's type, become one NDJSON object. Each
//! object remembers the messages its rows came from, so a failed write fails exactly those
//! messages. Pure: the upload time is passed in, nothing is written.

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::Bytes;

use crate::config::{Compression, Config, Mapping};
use crate::format::parquet::ParquetWriter;
use crate::format::{self, digest, DelimitedWriter, EncodeError, GZIP_CONTENT_TYPE};
use crate::json::{self, Value};
use crate::key::{self, content_id, KeyParts, Stamp, MAX_KEY_BYTES};
use crate::mapping::row::{render_row, FileExtension};
use crate::mapping::types::{convert, CellKind, Typed};
use crate::mapping::Directive;
use crate::source::{Event, Rejected, EVENT_TYPES};

pub use crate::format::NDJSON_CONTENT_TYPE;
pub use crate::sink::PlannedObject;

/// Everything one invocation writes, and its counts.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Objects in the order they were planned: mapping by mapping, groups by first row, the
    /// error object last.
    pub objects: Vec<PlannedObject>,
    /// Rows in all data objects (an event taken by two mappings makes two).
    pub rows: usize,
    /// Events that no mapping took.
    pub filtered: usize,
    /// Rows with a Parquet cell that did not convert (written as null, and recorded in the
    /// error object).
    pub conversion_errors: usize,
}

/// Plans the objects for `events` and `rejected`. `source_name` names a message for the error
/// records (`sqs:<messageId>`, `apigw:<requestId>`, `invoke`). Each event is emptied (its value
/// set to null) once its last row is written: the events die here.
///
/// # Errors
/// [`EncodeError`] if an in-memory encoder fails.
pub fn plan(
    config: &Config,
    events: &mut [Event<'_>],
    rejected: &[Rejected],
    source_name: &dyn Fn(u32) -> String,
    stamp: &Stamp,
) -> Result<Plan, EncodeError> {
    let mut out = Plan::default();
    // Every mapping's groups first, so that each event's last mapping is known.
    let mut last_mapping = vec![None; events.len()];
    let groups: Vec<Vec<Group<'_>>> = config
        .mappings
        .iter()
        .enumerate()
        .map(|(m, mapping)| group(mapping, m, events, &mut last_mapping))
        .collect();
    out.filtered = last_mapping.iter().filter(|m| m.is_none()).count();
    let mut unconverted = Vec::new();
    for (m, (mapping, groups)) in config.mappings.iter().zip(&groups).enumerate() {
        for g in groups {
            out.rows += g.rows.len();
            for chunk in g.rows.chunks(mapping.batch_size.max(1)) {
                out.objects.push(data_object(
                    config,
                    mapping,
                    g,
                    chunk,
                    events,
                    stamp,
                    &mut unconverted,
                )?);
                // An event whose last row this was is freed now, with the levels its rows
                // built, rather than when the whole batch is done (issue 15).
                for &i in chunk {
                    if last_mapping[i as usize] == Some(m) {
                        events[i as usize].value = Value::Null;
                    }
                }
            }
        }
    }
    out.conversion_errors = unconverted.len();
    if !rejected.is_empty() || !unconverted.is_empty() {
        out.objects.push(error_object(
            config,
            rejected.iter().chain(&unconverted),
            source_name,
            stamp,
        ));
    }
    Ok(out)
}

/// One group: a mapping's rows with the same folder and type, in input order.
struct Group<'m> {
    folder: Cow<'m, str>,
    event_type: &'static str,
    rows: Vec<u32>,
}

/// The mapping's groups; marks mapping `index` as the last to take each event it takes.
fn group<'m>(
    mapping: &'m Mapping,
    index: usize,
    events: &[Event<'_>],
    last_mapping: &mut [Option<usize>],
) -> Vec<Group<'m>> {
    let mut groups: Vec<Group<'m>> = Vec::new();
    let static_folder = match &mapping.folder {
        Directive::Literal(Value::String(s)) => Some(s.as_ref()),
        Directive::Literal(Value::Null) => Some(""),
        _ => None,
    };
    // Static folder: at most one group per type. Dynamic: look groups up by (folder, type).
    let mut by_type: [Option<usize>; EVENT_TYPES.len()] = [None; EVENT_TYPES.len()];
    let mut by_folder: HashMap<(String, &'static str), usize> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        if !mapping.subscription.matches(&e.value) {
            continue;
        }
        last_mapping[i] = Some(index);
        let row = u32::try_from(i).unwrap_or(u32::MAX);
        let slot = match static_folder {
            Some(folder) => {
                let t = EVENT_TYPES
                    .iter()
                    .position(|t| *t == e.event_type)
                    .unwrap_or(0);
                *by_type[t].get_or_insert_with(|| {
                    groups.push(Group {
                        folder: Cow::Borrowed(folder),
                        event_type: e.event_type,
                        rows: Vec::new(),
                    });
                    groups.len() - 1
                })
            }
            None => {
                let mut folder = String::new();
                mapping.folder.render(&e.value, &mut folder);
                *by_folder
                    .entry((folder.clone(), e.event_type))
                    .or_insert_with(|| {
                        groups.push(Group {
                            folder: Cow::Owned(folder),
                            event_type: e.event_type,
                            rows: Vec::new(),
                        });
                        groups.len() - 1
                    })
            }
        };
        groups[slot].rows.push(row);
    }
    groups
}

fn data_object(
    config: &Config,
    mapping: &Mapping,
    group: &Group<'_>,
    chunk: &[u32],
    events: &[Event<'_>],
    stamp: &Stamp,
    unconverted: &mut Vec<Rejected>,
) -> Result<PlannedObject, EncodeError> {
    let count = chunk.len().to_string();
    // The top-level `compression` does not wrap Parquet, which compresses its own pages.
    let (body, compression) = match mapping.file_extension {
        FileExtension::Parquet => (
            parquet_body(mapping, chunk, events, &count, unconverted)?,
            Compression::None,
        ),
        FileExtension::Csv | FileExtension::Txt => {
            let body = delimited_body(mapping, chunk, events, &count)?;
            match config.compression {
                Compression::Gzip => (format::gzip(&body)?, Compression::Gzip),
                Compression::None => (body, Compression::None),
            }
        }
    };
    let mut sources: Vec<u32> = chunk.iter().map(|&i| events[i as usize].source).collect();
    sources.sort_unstable();
    sources.dedup();
    let sha256 = digest(&body);
    let id = content_id(&sha256);
    let key = config.key_template.render(&KeyParts {
        folder: &group.folder,
        event_type: group.event_type,
        mapping: &mapping.name,
        prefix: &mapping.filename_prefix,
        stamp,
        id: &id,
        extension: mapping.file_extension.as_str(),
        compression,
    });
    let content_type = match compression {
        Compression::Gzip => GZIP_CONTENT_TYPE,
        Compression::None => mapping.file_extension.content_type(),
    };
    Ok(PlannedObject {
        unwritable: too_long(&key),
        key,
        body: Bytes::from(body),
        sha256,
        content_type,
        sources,
        rows: chunk.len(),
    })
}

/// The delimited text of one object (SPEC 4): the header, then a row per event.
fn delimited_body(
    mapping: &Mapping,
    chunk: &[u32],
    events: &[Event<'_>],
    count: &str,
) -> Result<Vec<u8>, EncodeError> {
    let header = mapping.header();
    // Sized up front from the events (a row of JSON cells is about its event's size, plus the
    // doubled quotes), so that the buffer is not grown and copied (issue 15: the copies' freed
    // pages stayed resident). Room that is never written is never touched, so never resident.
    let estimate: usize = chunk
        .iter()
        .map(|&i| events[i as usize].value.size_hint() * 3 / 2 + 8 * header.len())
        .sum();
    let mut w = DelimitedWriter::new(mapping.delimiter, 256 + estimate);
    w.row(&header)?;
    let mut cells = vec![String::new(); header.len()];
    let mut kinds = vec![CellKind::Null; header.len()];
    for &i in chunk {
        render_row(
            mapping,
            &events[i as usize].value,
            count,
            &mut cells,
            &mut kinds,
        );
        w.row(&cells)?;
    }
    w.finish()
}

/// One Parquet object (issue 14): each cell converted to its column's type; a cell that does not
/// convert is written as null, and its event recorded in `unconverted` with every such column.
fn parquet_body(
    mapping: &Mapping,
    chunk: &[u32],
    events: &[Event<'_>],
    count: &str,
    unconverted: &mut Vec<Rejected>,
) -> Result<Vec<u8>, EncodeError> {
    let schema = mapping.schema();
    let mut w = ParquetWriter::new(&schema, chunk.len());
    let mut cells = vec![String::new(); schema.len()];
    let mut kinds = vec![CellKind::Null; schema.len()];
    let mut reasons: Vec<String> = Vec::new();
    for &i in chunk {
        let e = &events[i as usize];
        render_row(mapping, &e.value, count, &mut cells, &mut kinds);
        for (c, ((name, ty), (text, kind))) in
            schema.iter().zip(cells.iter().zip(&kinds)).enumerate()
        {
            let typed = convert(*ty, *kind, text).unwrap_or_else(|why| {
                reasons.push(format!("column {name:?} ({}): {why}", ty.name()));
                Typed::Null
            });
            w.push(c, typed)?;
        }
        if !reasons.is_empty() {
            unconverted.push(Rejected {
                reason: format!(
                    "mapping {:?}: written with null for what does not convert: {}",
                    mapping.name,
                    reasons.join("; ")
                ),
                source: e.source,
                index: e.index.map(|i| i as usize),
                body: json::to_compact(&e.value),
            });
            reasons.clear();
        }
    }
    w.finish(mapping.parquet_compression)
}

fn error_object<'r>(
    config: &Config,
    rejected: impl Iterator<Item = &'r Rejected>,
    source_name: &dyn Fn(u32) -> String,
    stamp: &Stamp,
) -> PlannedObject {
    let mut text = String::new();
    let mut sources = Vec::new();
    let mut count = 0;
    for r in rejected {
        count += 1;
        let reason = r.reason.replace(['\n', '\r'], " ");
        format::ndjson_line(&reason, &source_name(r.source), r.index, &r.body, &mut text);
        sources.push(r.source);
    }
    sources.sort_unstable();
    sources.dedup();
    let body = text.into_bytes();
    let sha256 = digest(&body);
    let key = key::error_key(&config.error_prefix, stamp, &content_id(&sha256));
    PlannedObject {
        unwritable: too_long(&key),
        key,
        body: Bytes::from(body),
        sha256,
        content_type: NDJSON_CONTENT_TYPE,
        sources,
        rows: count,
    }
}

fn too_long(key: &str) -> Option<String> {
    (key.len() > MAX_KEY_BYTES).then(|| {
        format!(
            "the key is {} bytes, more than S3's {MAX_KEY_BYTES}",
            key.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::source::{collect, Items};

    fn config(doc: &str) -> Config {
        Config::load(Some(doc), "test", &|_| None).unwrap()
    }

    fn run(doc: &str, payload: &str) -> Plan {
        let c = config(doc);
        let mut items = Items::default();
        collect(json::parse(payload).unwrap(), 0, &mut items, None).unwrap();
        plan(
            &c,
            &mut items.events,
            &items.rejected,
            &|_| "invoke".into(),
            &Stamp::from_unix_millis(0),
        )
        .unwrap()
    }

    #[test]
    fn groups_by_type_in_input_order_and_splits_by_batch_size() {
        let p = run(
            r#"{"s3_aws_bucket_name":"b-1","subscription":"","batch_size":2,"columns":{"n":{"@path":"$.n"}},"audience_action_column_name":""}"#,
            r#"[{"type":"track","n":1},{"type":"identify","n":2},{"type":"track","n":3},{"type":"track","n":4}]"#,
        );
        let bodies: Vec<_> = p
            .objects
            .iter()
            .map(|o| String::from_utf8(o.body.to_vec()).unwrap())
            .collect();
        assert_eq!(
            bodies,
            [
                "\"n\",\"batch_size\"\n\"1\",\"2\"\n\"3\",\"2\"\n",
                "\"n\",\"batch_size\"\n\"4\",\"1\"\n",
                "\"n\",\"batch_size\"\n\"2\",\"1\"\n",
            ]
        );
        assert_eq!(p.rows, 4);
        assert_eq!(p.filtered, 0);
        assert!(p.objects[0]
            .key
            .starts_with("track/1970-01-01T00-00-00-000Z_"));
    }

    #[test]
    fn unmatched_events_are_filtered() {
        let p = run(
            r#"{"s3_aws_bucket_name":"b-1"}"#,
            r#"[{"type":"page"},{"type":"track"}]"#,
        );
        assert_eq!((p.rows, p.filtered, p.objects.len()), (1, 1, 1));
    }

    #[test]
    fn the_id_is_the_hash_of_the_stored_bytes() {
        let p = run(
            r#"{"s3_aws_bucket_name":"b-1","compression":"gzip"}"#,
            r#"{"type":"track"}"#,
        );
        let o = &p.objects[0];
        assert!(o
            .key
            .ends_with(&format!("_{}.csv.gz", content_id(&digest(&o.body)))));
        assert_eq!(o.content_type, "application/gzip");
    }

    #[test]
    fn audience_action_reads_the_computation_key() {
        let p = run(
            r#"{"s3_aws_bucket_name":"b-1","columns":{}}"#,
            r#"[{"type":"identify","traits":{"vip":true},"context":{"personas":{"computation_key":"vip"}}},{"type":"track","properties":{"vip":false},"context":{"personas":{"computation_key":"vip"}}}]"#,
        );
        let bodies: Vec<_> = p
            .objects
            .iter()
            .map(|o| String::from_utf8(o.body.to_vec()).unwrap())
            .collect();
        assert_eq!(
            bodies,
            [
                "\"audience_action\",\"batch_size\"\n\"true\",\"1\"\n",
                "\"audience_action\",\"batch_size\"\n\"false\",\"1\"\n"
            ]
        );
    }

    #[test]
    fn a_too_long_key_makes_the_object_unwritable() {
        let folder = "f".repeat(1100);
        let p = run(
            r#"{"s3_aws_bucket_name":"b-1","s3_aws_folder_name":{"@path":"$.f"}}"#,
            &format!(r#"[{{"type":"track","f":"{folder}"}},{{"type":"track","f":"ok"}}]"#),
        );
        assert!(p.objects[0].unwritable.is_some());
        assert!(p.objects[1].unwritable.is_none());
    }

    #[test]
    fn parquet_objects_ignore_gzip_and_record_what_does_not_convert() {
        let p = run(
            r#"{"s3_aws_bucket_name":"b-1","compression":"gzip","file_extension":"parquet","columns":{"n":{"@path":"$.n"}},"column_types":{"n":"int64"}}"#,
            r#"[{"type":"track","n":1},{"type":"track","n":1.5},{"type":"track"}]"#,
        );
        assert_eq!((p.rows, p.conversion_errors, p.objects.len()), (3, 1, 2));
        let data = &p.objects[0];
        assert!(data.key.ends_with(".parquet"), "{}", data.key);
        assert_eq!(data.content_type, "application/vnd.apache.parquet");
        assert_eq!(&data.body[..4], b"PAR1");
        let errors = String::from_utf8(p.objects[1].body.to_vec()).unwrap();
        assert_eq!(
            errors,
            "{\"reason\":\"mapping \\\"default\\\": written with null for what does not convert: column \\\"n\\\" (int64): \\\"1.5\\\" is not a whole number\",\"source\":\"invoke\",\"index\":1,\"body\":\"{\\\"type\\\":\\\"track\\\",\\\"n\\\":1.5}\"}\n"
        );
        assert_eq!(p.objects[1].sources, [0]);
    }
}
