//! Entry point: the Lambda function when `AWS_LAMBDA_RUNTIME_API` is set, else the command line
//! (SPEC 7). Logs are JSON lines on stderr.

use std::process::ExitCode;
use std::sync::Arc;

use tracing_subscriber::EnvFilter;

/// mimalloc: the pipeline allocates and frees many small nodes per event; with it the in-process
/// pipeline runs about 1.6x faster than with glibc's malloc (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let default_level = if lambda { "info" } else { "warn" };
    let env = |name: &str| std::env::var(name).ok();
    let filter = sync_to_s3::lambda::log_filter(&env, default_level);
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .init();

    if lambda {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("cannot start the async runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        let lookup: sync_to_s3::lambda::Lookup = Arc::new(|name: &str| std::env::var(name).ok());
        return match runtime.block_on(sync_to_s3::lambda::run(lookup)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }

    let args: Vec<String> = std::env::args().skip(1).collect();
    let lookup = |name: &str| std::env::var(name).ok();
    let status = sync_to_s3::cli::run(
        &args,
        &lookup,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}
