//! In-process timing of the pure pipeline and of its ceiling (a validating borrowed serde_json
//! parse of the same payload), interleaved, for `scripts/bench.py`:
//!
//! ```text
//! bench_pipeline FILE [REPS]   ->  one JSON line {"pipeline_ms": median, "ceiling_ms": median, ...}
//! ```
//!
//! Default configuration (Segment's default mapping), or the document in `SYNC_CONFIG` when set
//! (the Parquet figures), inline, no I/O besides reading FILE.
//!
//! For SQS payloads it also times the decode step alone (`decode_ms`: the envelope read as
//! `aws_lambda_events`' typed `SqsEvent`, every body parsed into events). With
//! `BENCH_PIPELINE_ONLY` set it times the pipeline alone, for `perf record`.

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../benches/support/ceiling.rs"]
mod ceiling;

use ceiling::validating_borrowed_parse;
use sync_to_s3::bench_support::{decode_sqs_payload, plan_payload};
use sync_to_s3::config::Config;
use sync_to_s3::key::Stamp;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = args.first().expect("usage: bench_pipeline FILE [REPS]");
    let reps: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(21);
    let payload = std::fs::read_to_string(file).expect("read payload");
    let document = std::env::var("SYNC_CONFIG").ok();
    let config = Config::load(document.as_deref(), "bench", &|k| {
        (k == "S3_AWS_BUCKET_NAME").then(|| "bench-bucket".to_owned())
    })
    .expect("config");
    let stamp = Stamp::from_unix_millis(1_795_478_400_000);
    let is_sqs = payload.trim_start().starts_with("{\"Records\"");
    // `BENCH_PIPELINE_ONLY=1`: time the pipeline alone (for `perf record` of it).
    let pipeline_only = std::env::var_os("BENCH_PIPELINE_ONLY").is_some();
    // Warm-up, and a check that the work is real.
    let plan = plan_payload(&config, &payload, &stamp).expect("plan");
    let bytes: usize = plan.objects.iter().map(|o| o.body.len()).sum();
    let (mut pipeline, mut ceiling, mut decode) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        let t = Instant::now();
        let p = plan_payload(&config, &payload, &stamp).expect("plan");
        pipeline.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(p);
        if is_sqs && !pipeline_only {
            let t = Instant::now();
            std::hint::black_box(validating_borrowed_parse(&payload).expect("parse"));
            ceiling.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            std::hint::black_box(decode_sqs_payload(&payload).expect("decode"));
            decode.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let opt_median = |v: Vec<f64>| {
        if v.is_empty() {
            "null".to_owned()
        } else {
            format!("{:.3}", median(v))
        }
    };
    println!(
        "{{\"file\":{:?},\"input_bytes\":{},\"rows\":{},\"objects\":{},\"conversion_errors\":{},\"output_bytes\":{bytes},\"reps\":{reps},\"pipeline_ms\":{:.3},\"ceiling_ms\":{},\"decode_ms\":{}}}",
        file,
        payload.len(),
        plan.rows,
        plan.objects.len(),
        plan.conversion_errors,
        median(pipeline),
        opt_median(ceiling),
        opt_median(decode),
    );
}
