//! Test-only: the function exactly as `main` runs it under the Lambda Runtime API, behind a
//! wrapper that panics on a marker payload, so that `tests/aws_moto.rs` can check that a panic
//! fails its invocation only and the same process serves the next one (SPEC 5.0). The trigger
//! lives here, not in the product: the shipped binary has no panic hook of any kind.
//!
//! A payload containing `"__panic__"` panics inside the service future, where a panic in the
//! handler would; any other payload goes to `sync_to_s3::lambda::Function::invoke`.

use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;
use sync_to_s3::lambda::{Function, Lookup};

/// The marker that makes this wrapper panic.
const MARKER: &str = "\"__panic__\"";

fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let lookup: Lookup = Arc::new(|name: &str| std::env::var(name).ok());
        let function = Arc::new(Function::init(lookup).await?);
        lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
            let function = Arc::clone(&function);
            async move {
                if event.payload.get().contains(MARKER) {
                    panic!("panic injected by examples/panicking_function.rs");
                }
                function.invoke(event).await
            }
        }))
        .await
    })
}
