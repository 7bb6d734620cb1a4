//! The short soak in `make test` (the long one is `make soak`): a few thousand sequence-numbered
//! events through the SQS path of the real function with random S3 faults, re-delivered as SQS
//! does, then every object read back. See `support/soak.rs` for what is checked.

mod support;

use std::path::PathBuf;

use support::soak::{run, Params};

#[test]
fn short_soak_loses_nothing_and_stays_flat() {
    let report = run(&Params {
        binary: PathBuf::from(env!("CARGO_BIN_EXE_sync-to-s3")),
        events: 3_000,
        batch: 40,
        fault_rate: 0.5,
        bad_every: 97,
        poison_every: 211,
        max_receive: 5,
        seed: 6,
    });
    println!("{}", report.table());
    let violations = report.violations();
    assert!(violations.is_empty(), "{violations:#?}\n{}", report.table());
    assert_eq!(report.events, 3_000);
    assert!(
        report.faults_armed.values().sum::<usize>() > 0,
        "faults were injected"
    );
    assert!(
        report.redeliveries > 0,
        "some messages were reported and re-delivered"
    );
    assert!(report.dlq_messages > 0, "poison messages end in the DLQ");
}
