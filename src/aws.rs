//! The AWS layer: SDK configuration, the S3 client (with STS AssumeRole and an External ID),
//! and the SSM parameter holding the configuration document. The only place that knows about
//! endpoints, credentials and timeouts.
//!
//! Built once per execution environment (SPEC 2.1, 2.2, 5.0): the S3 client's credentials come
//! from [`AssumeRoleProvider`] behind the SDK's identity cache, so the role is assumed once and
//! refreshed before it expires — never once per object. Every call has an operation and an
//! attempt timeout (the SDK sets none by default) and the SDK's standard retries.

use std::time::Duration;

use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata};

use crate::config::{Config, ConfigError, Source};

/// Default operation timeout: a whole call, retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(25);
/// Default attempt timeout: one try of a call.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connect timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// Why the AWS layer could not be set up or the configuration read.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The SSM parameter could not be read.
    #[error("cannot read SSM parameter {name}: {reason}")]
    Parameter {
        /// The parameter's name.
        name: String,
        /// Why (an error code and message; never the value).
        reason: String,
    },
    /// A setting the AWS layer needs is missing.
    #[error("{0}")]
    Setup(String),
}

/// Timeouts read from the environment (`SYNC_OPERATION_TIMEOUT_MS`, `SYNC_ATTEMPT_TIMEOUT_MS`),
/// falling back to the defaults above.
pub fn timeouts(lookup: &dyn Fn(&str) -> Option<String>) -> TimeoutConfig {
    let ms = |name: &str, default: Duration| {
        lookup(name)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|n| *n > 0)
            .map_or(default, Duration::from_millis)
    };
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_timeout(ms("SYNC_OPERATION_TIMEOUT_MS", OPERATION_TIMEOUT))
        .operation_attempt_timeout(ms("SYNC_ATTEMPT_TIMEOUT_MS", ATTEMPT_TIMEOUT))
        .build()
}

/// The SDK configuration of the function itself: region, credentials chain, endpoint
/// (`AWS_ENDPOINT_URL` points it at a local AWS) and retries (standard mode, 3 attempts, or
/// `AWS_MAX_ATTEMPTS`/`AWS_RETRY_MODE`) from the environment, plus the timeouts above.
pub async fn base_config(lookup: &dyn Fn(&str) -> Option<String>) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts(lookup))
        .load()
        .await
}

/// Reads the configuration document from an SSM parameter (`String` or `SecureString`, with
/// decryption). The value is returned, never logged.
///
/// # Errors
/// [`AwsError::Parameter`] naming the parameter and the reason (e.g. `ParameterNotFound`).
pub async fn read_parameter(sdk: &SdkConfig, name: &str) -> Result<String, AwsError> {
    read(sdk, name, false).await.and_then(|v| {
        v.ok_or_else(|| AwsError::Parameter {
            name: name.to_owned(),
            reason: "ParameterNotFound".to_owned(),
        })
    })
}

/// [`read_parameter`] for a parameter that may not exist yet (the secrets parameter): `None`
/// when SSM answers `ParameterNotFound`.
///
/// # Errors
/// [`AwsError::Parameter`] for any other failure.
pub async fn read_optional_parameter(
    sdk: &SdkConfig,
    name: &str,
) -> Result<Option<String>, AwsError> {
    read(sdk, name, true).await
}

async fn read(sdk: &SdkConfig, name: &str, optional: bool) -> Result<Option<String>, AwsError> {
    let client = aws_sdk_ssm::Client::new(sdk);
    let fail = |reason: String| AwsError::Parameter {
        name: name.to_owned(),
        reason,
    };
    let sent = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await;
    let out = match sent {
        Ok(out) => out,
        Err(e) if optional && e.code() == Some("ParameterNotFound") => return Ok(None),
        Err(e) => return Err(fail(sdk_reason(&e))),
    };
    out.parameter
        .and_then(|p| p.value)
        .map(Some)
        .ok_or_else(|| fail("the parameter has no value".to_owned()))
}

/// Writes `value` to an SSM `SecureString` parameter, replacing any value it had; with
/// `kms_key_id`, encrypted with that key instead of `alias/aws/ssm`. The value is never logged.
///
/// # Errors
/// [`AwsError::Parameter`] naming the parameter and the reason (e.g. `AccessDeniedException`).
pub async fn write_secure_string(
    sdk: &SdkConfig,
    name: &str,
    value: &str,
    kms_key_id: Option<&str>,
) -> Result<(), AwsError> {
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .set_key_id(kms_key_id.map(str::to_owned))
        .overwrite(true)
        .description("sync-to-s3 secrets: write_keys and iam_external_id (sync-to-s3 secrets)")
        .send()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::Parameter {
            name: name.to_owned(),
            reason: sdk_reason(&e),
        })
}

/// The secrets parameter's name, from `SYNC_SECRETS_PARAMETER` (empty counts as unset).
pub fn secrets_parameter(lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    lookup("SYNC_SECRETS_PARAMETER")
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
}

/// Loads the configuration as the function does at init: the document from its source (SSM
/// read with decryption), the secrets parameter's members over it when one is named (a
/// missing secrets parameter counts as empty: the validation then says what is missing), then
/// the environment overrides, then validation.
///
/// # Errors
/// [`LoadError`]: the SSM read or the configuration error.
pub async fn load_config(
    sdk: &SdkConfig,
    source: &Source,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, LoadError> {
    let document = match source {
        Source::Inline(doc) => Some(doc.clone()),
        Source::Defaults => None,
        Source::Parameter(name) => Some(read_parameter(sdk, name).await?),
    };
    let secrets_name = secrets_parameter(lookup);
    let (secrets, origin) = match &secrets_name {
        Some(name) => (
            read_optional_parameter(sdk, name).await?,
            format!(
                "{} with secrets from SSM parameter {name}",
                source.describe()
            ),
        ),
        None => (None, source.describe()),
    };
    Ok(Config::load_with_secrets(
        document.as_deref(),
        secrets.as_deref(),
        &origin,
        lookup,
    )?)
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// SSM could not be read.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// An SDK error on one line, for answers and logs: the service's error code and message when
/// it sent one, else the whole error chain (a timeout, a connection error).
pub fn sdk_reason<E, R>(e: &aws_sdk_ssm::error::SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.code() {
        Some(code) => format!("{code}: {}", e.message().unwrap_or("no message")),
        None => DisplayErrorContext(e).to_string(),
    }
}

/// Whether S3 must be addressed path-style: when an endpoint override is set (a local AWS such
/// as moto answers `http://host/bucket/key`, not `http://bucket.host/key`).
fn path_style(lookup: &dyn Fn(&str) -> Option<String>) -> bool {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| lookup(v).is_some_and(|u| !u.trim().is_empty()))
}

/// The S3 client for the configured bucket: its region, and — when `iam_role_arn` is set —
/// credentials from AssumeRole with the External ID and session name, cached and refreshed by
/// the SDK's identity cache.
pub async fn s3_client(
    sdk: &SdkConfig,
    config: &Config,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(sdk);
    if let Some(region) = &config.region {
        builder = builder.region(Region::new(region.clone()));
    }
    if path_style(lookup) {
        builder = builder.force_path_style(true);
    }
    if let Some(role) = &config.role_arn {
        let mut provider = AssumeRoleProvider::builder(role.clone())
            .session_name(config.session_name.clone())
            .configure(sdk);
        if let Some(id) = &config.external_id {
            provider = provider.external_id(id.expose());
        }
        builder = builder.credentials_provider(provider.build().await);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// An S3 client with the caller's own credentials, no role assumed: what `backfill` reads the
/// Classic logs with.
pub fn s3_reader(sdk: &SdkConfig, lookup: &dyn Fn(&str) -> Option<String>) -> aws_sdk_s3::Client {
    let builder = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style(lookup));
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// Whether two configurations need different S3 clients.
pub fn same_client(a: &Config, b: &Config) -> bool {
    a.region == b.region
        && a.role_arn == b.role_arn
        && a.external_id == b.external_id
        && a.session_name == b.session_name
}
