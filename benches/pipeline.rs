//! Criterion benches of the pure pipeline (decode → subscription → map → group → encode) on the
//! generated inputs of issue 5, next to its ceiling: a validating borrowed serde_json parse of
//! the same payload. Inputs come from `../shared/bench/gen_events.py` (default seed), generated
//! into `target/bench-data/` on first use. `scripts/bench.py` gives the side-by-side ratios.

use std::path::PathBuf;
use std::process::Command;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// The allocator the function ships with (src/main.rs), so that the figures are the function's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
#[path = "support/ceiling.rs"]
mod ceiling;

use ceiling::validating_borrowed_parse;
use sync_to_s3::bench_support::plan_payload;
use sync_to_s3::config::Config;
use sync_to_s3::key::Stamp;

/// The payload `gen_events.py MODE N`, cached under target/bench-data.
fn input(mode: &str, n: usize) -> String {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-data"));
    let path = dir.join(format!("{mode}-{n}.json"));
    if !path.exists() {
        std::fs::create_dir_all(&dir).expect("bench-data dir");
        let out = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/bench/gen_events.py"
            ))
            .arg(mode)
            .arg(n.to_string())
            .output()
            .expect("run gen_events.py");
        assert!(out.status.success(), "gen_events.py failed");
        std::fs::write(&path, out.stdout).expect("write input");
    }
    std::fs::read_to_string(&path).expect("read input")
}

fn benches(c: &mut Criterion) {
    let config = Config::load(None, "bench", &|k| {
        (k == "S3_AWS_BUCKET_NAME").then(|| "bench-bucket".to_owned())
    })
    .expect("config");
    let stamp = Stamp::from_unix_millis(1_795_478_400_000);
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(20);
    for (mode, n) in [("sqs", 4250), ("sqs", 1000), ("apigw", 4250)] {
        let payload = input(mode, n);
        g.throughput(Throughput::Bytes(payload.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("default_mapping", format!("{mode}-{n}")),
            &payload,
            |b, p| b.iter(|| plan_payload(&config, p, &stamp).expect("plan")),
        );
        if mode == "sqs" {
            g.bench_with_input(
                BenchmarkId::new("ceiling_validating_borrowed_parse", format!("{mode}-{n}")),
                &payload,
                |b, p| b.iter(|| validating_borrowed_parse(p).expect("parse")),
            );
        }
    }
    g.finish();
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
