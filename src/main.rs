//! Entry point: the command line (the Lambda runtime arrives with the AWS layer).

use std::process::ExitCode;

fn main() -> ExitCode {
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
