//! `make soak`: the long soak. Sends EVENTS sequence-numbered events (default 50,000) through the
//! SQS path of the function binary given, with random S3 faults, re-delivering reported messages
//! as SQS does, then reads every object back and checks that nothing was lost
//! (`tests/support/soak.rs` says what is checked). Prints the figures as a Markdown table;
//! exits 1 when an invariant does not hold.
//!
//! ```text
//! soak FUNCTION_BINARY [EVENTS] [SEED]
//! ```

#[path = "../tests/support/local_aws.rs"]
mod local_aws;
#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;
#[path = "../tests/support/soak.rs"]
mod soak;

use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(binary) = args.first() else {
        eprintln!("usage: soak FUNCTION_BINARY [EVENTS] [SEED]");
        std::process::exit(2);
    };
    let events = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let seed = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(6);
    let params = soak::Params {
        binary: PathBuf::from(binary),
        events,
        batch: 100,
        fault_rate: 0.3,
        bad_every: 499,
        poison_every: 997,
        max_receive: 5,
        seed,
    };
    eprintln!("soak: {params:?}");
    let report = soak::run(&params);
    println!("{}", report.table());
    let violations = report.violations();
    if violations.is_empty() {
        println!("soak: every invariant holds");
    } else {
        for v in &violations {
            println!("soak: VIOLATED: {v}");
        }
        std::process::exit(1);
    }
}
