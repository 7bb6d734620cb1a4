//! What every fuzz target shares: the handler run on a payload with an in-memory sink, and the
//! checks that hold for any input (SPEC 4 and 6): keys without empty, `.` or `..` segments, CSV
//! objects that parse back with one width, error records that are NDJSON with a source, and
//! nothing lost: a message that is not JSON always has an error record.

#![allow(dead_code)] // each target uses a part

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;
use sync_to_s3::config::Config;
use sync_to_s3::handler::{App, Invocation, Response};
use sync_to_s3::sink::memory::MemorySink;

pub type Objects = BTreeMap<String, (Vec<u8>, &'static str)>;

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        // Timers on: an API Gateway request always has a deadline (29 s, SPEC 5.0).
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
    })
}

pub fn invocation() -> Invocation {
    Invocation::starting_now(1_795_478_400_000, None)
}

/// Runs the handler; `None` when it refused the invocation as a whole (an error, as for a direct
/// invoke that is not an event).
pub fn handle(config: Config, payload: &str) -> (Option<Response>, Objects) {
    let app = App::new(config, MemorySink::new());
    let r = runtime().block_on(app.handle(payload, &invocation())).ok();
    (r, app.sink.objects())
}

/// Checks the objects a handler wrote. `error_prefix` objects are NDJSON; Parquet objects (by
/// content type) open with the parquet crate's reader and every row decodes; the rest is CSV/TXT with
/// `delimiter` (gzip objects are skipped).
pub fn check_objects(objects: &Objects, error_prefix: &str, delimiter: u8) {
    for (key, (bytes, content_type)) in objects {
        assert!(key.len() <= 1024, "key longer than S3 allows: {key}");
        // Error objects are told by content type too: an event's folder may itself start
        // with the error prefix (`_errors/…`), putting a data object under it.
        if *content_type == "application/x-ndjson" {
            let rest = key
                .strip_prefix(error_prefix)
                .expect("error objects under the error prefix");
            assert!(!rest.is_empty());
            let text = std::str::from_utf8(bytes).expect("error object is UTF-8");
            for line in text.lines() {
                let record: Value = serde_json::from_str(line).expect("an NDJSON line");
                assert!(record["reason"]
                    .as_str()
                    .is_some_and(|r| !r.is_empty() && !r.contains('\n')));
                assert!(record["source"].is_string());
                assert!(record["body"].is_string());
            }
            continue;
        }
        for segment in key.split('/') {
            assert!(!matches!(segment, "" | "." | ".."), "bad segment in {key}");
        }
        // Told by content type: a fuzzed key template need not end in `{ext}`.
        if *content_type == "application/vnd.apache.parquet" {
            check_parquet(key, bytes);
            continue;
        }
        if key.ends_with(".gz") {
            continue;
        }
        let text = std::str::from_utf8(bytes).expect("objects are UTF-8");
        assert!(text.ends_with('\n'), "every row ends with a newline: {key}");
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .flexible(false)
            .from_reader(bytes.as_slice());
        let width = reader.headers().expect("a header").len();
        let mut rows = 0;
        for row in reader.records() {
            let row = row.expect("a row of the header's width");
            assert_eq!(row.len(), width);
            rows += 1;
        }
        assert!(rows >= 1, "an object holds at least one row: {key}");
    }
}

/// A Parquet object: one row group of at least one row, every column optional, every row decodes.
fn check_parquet(key: &str, bytes: &[u8]) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(bytes::Bytes::copy_from_slice(bytes))
        .unwrap_or_else(|e| panic!("{key} is not a Parquet file: {e}"));
    let meta = reader.metadata();
    assert_eq!(meta.num_row_groups(), 1, "{key}");
    let rows = meta.file_metadata().num_rows();
    assert!(rows >= 1, "an object holds at least one row: {key}");
    let schema = meta.file_metadata().schema_descr();
    for i in 0..schema.num_columns() {
        assert_eq!(
            schema.column(i).max_def_level(),
            1,
            "{key}: every column is optional"
        );
    }
    let decoded = reader
        .get_row_iter(None)
        .expect("rows")
        .map(|r| r.expect("a row decodes"))
        .count();
    assert_eq!(i64::try_from(decoded).ok(), Some(rows), "{key}");
}

/// The error records of one invocation: (source, index).
pub fn error_sources(objects: &Objects, error_prefix: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (key, (bytes, _)) in objects {
        if key.starts_with(error_prefix) {
            for line in std::str::from_utf8(bytes).unwrap_or_default().lines() {
                if let Ok(v) = serde_json::from_str::<Value>(line) {
                    out.push((
                        v["source"].as_str().unwrap_or_default().to_owned(),
                        v["index"].clone(),
                    ));
                }
            }
        }
    }
    out
}

/// Whether `text` is one JSON document by serde_json's grammar (built with
/// `arbitrary_precision`, so that numbers beyond f64 are kept as text, as we keep them). Its
/// recursion limit is not the grammar's and counts as accepted (we check depth per event,
/// SPEC 9). Parsed into `Value`, not `IgnoredAny`: skipping a string does not check that its
/// `\u` escapes pair up.
pub fn serde_accepts(text: &str) -> bool {
    match serde_json::from_str::<Value>(text) {
        Ok(_) => true,
        Err(e) => e.to_string().contains("recursion limit exceeded"),
    }
}
