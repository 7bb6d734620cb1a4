//! The configuration document (SPEC 2): where it comes from, its defaults, environment
//! overrides and validation.
//!
//! Loading is split so that the I/O stays outside: [`Source::from_lookup`] decides where the
//! document comes from (inline, an SSM parameter, or built-in defaults); the caller fetches the
//! text (the AWS layer reads SSM); [`Config::load`] parses, applies the upper-case environment
//! overrides and validates. Environment access goes through a lookup function so tests pass a
//! map. Every error names the offending key; no error message or display ever shows a secret.

pub mod mapping;
mod settings;

use std::borrow::Cow;
use std::fmt;

pub use mapping::{Column, FileExtension, Mapping};

pub use crate::format::Compression;
use crate::json::{self, Value};
use crate::key::KeyTemplate;
pub use crate::key::DEFAULT_KEY_TEMPLATE;

/// An invalid configuration: which key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration{origin}: {key}: {reason}")]
pub struct ConfigError {
    /// The offending key, as a path (`mappings[0].delimiter`) or an environment variable.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
    /// Where the document came from (` in SYNC_CONFIG`), filled in by [`Config::load`].
    origin: String,
}

impl ConfigError {
    /// An error about `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            reason: reason.into(),
            origin: String::new(),
        }
    }

    /// The same error, saying where the document came from.
    pub fn with_origin(mut self, origin: &str) -> ConfigError {
        self.origin = format!(" in {origin}");
        self
    }
}

/// A secret setting: compared and used, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret text, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Server-side encryption for PutObject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerSideEncryption {
    /// `AES256` (SSE-S3).
    Aes256,
    /// `aws:kms` (SSE-KMS).
    Kms,
}

impl ServerSideEncryption {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerSideEncryption::Aes256 => "AES256",
            ServerSideEncryption::Kms => "aws:kms",
        }
    }
}

/// Where the configuration document comes from (SPEC 2.1), in order of precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `SYNC_CONFIG`: the document itself.
    Inline(String),
    /// `SYNC_CONFIG_PARAMETER`: the name of an SSM parameter holding it.
    Parameter(String),
    /// Neither: the built-in defaults.
    Defaults,
}

impl Source {
    /// Reads `SYNC_CONFIG` and `SYNC_CONFIG_PARAMETER` through `lookup`; an empty value counts as
    /// unset.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Source {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(doc) = set("SYNC_CONFIG") {
            Source::Inline(doc)
        } else if let Some(name) = set("SYNC_CONFIG_PARAMETER") {
            Source::Parameter(name.trim().to_owned())
        } else {
            Source::Defaults
        }
    }

    /// How errors name this source.
    pub fn describe(&self) -> String {
        match self {
            Source::Inline(_) => "SYNC_CONFIG".to_owned(),
            Source::Parameter(name) => format!("SSM parameter {name}"),
            Source::Defaults => "the built-in defaults and environment".to_owned(),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bucket name.
    pub bucket: String,
    /// The bucket's region, if known (`s3_aws_region`, else `AWS_REGION`).
    pub region: Option<String>,
    /// Role to assume.
    pub role_arn: Option<String>,
    /// External ID for AssumeRole.
    pub external_id: Option<Secret>,
    /// AssumeRole session name.
    pub session_name: String,
    /// Accepted write keys; empty means no check.
    pub write_keys: Vec<Secret>,
    /// Whether an empty `write_keys` may leave the HTTP endpoint open (default `true`, as SPEC
    /// 5.2 reads; the template sets it `false` unless the deployer opts in).
    pub allow_anonymous: bool,
    /// The object key layout.
    pub key_template: KeyTemplate,
    /// Where rejected items go.
    pub error_prefix: String,
    /// Object compression.
    pub compression: Compression,
    /// SSE for PutObject.
    pub server_side_encryption: Option<ServerSideEncryption>,
    /// KMS key for SSE-KMS.
    pub ssekms_key_id: Option<String>,
    /// Canned ACL for PutObject.
    pub acl: Option<String>,
    /// How long an SSM-sourced document is used before it is read again; 0 means forever.
    pub config_ttl_seconds: u64,
    /// Whether events that arrive through API Gateway get the fields Segment's API adds on
    /// receipt (SPEC 10.3).
    pub receipt_fields: bool,
    /// The mappings, in order.
    pub mappings: Vec<Mapping>,
}

impl Config {
    /// Parses `document` (or the built-in defaults when `None`), applies the environment
    /// overrides read through `lookup`, and validates. `origin` names the document in errors.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first offending key.
    pub fn load(
        document: Option<&str>,
        origin: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Self::load_inner(document, None, lookup).map_err(|e| e.with_origin(origin))
    }

    /// [`Config::load`] with a secrets document (the SecureString named by
    /// `SYNC_SECRETS_PARAMETER`) whose members override the document's: a JSON object holding
    /// only [`SECRET_SETTINGS`]. Environment variables still override both.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first offending key.
    pub fn load_with_secrets(
        document: Option<&str>,
        secrets: Option<&str>,
        origin: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Self::load_inner(document, secrets, lookup).map_err(|e| e.with_origin(origin))
    }

    fn load_inner(
        document: Option<&str>,
        secrets: Option<&str>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let secrets = secrets.map(parse_secrets).transpose()?;
        let doc = match document {
            Some(text) => json::parse(text)
                .map_err(|e| ConfigError::new("(document)", format!("not valid JSON: {e}")))?,
            None => Value::Object(Vec::new()),
        };
        let Value::Object(members) = doc else {
            return Err(ConfigError::new(
                "(document)",
                format!("must be a JSON object, found {}", doc.type_name()),
            ));
        };
        check_unique_keys(&members, "")?;

        let mut settings: Vec<(&str, Setting<'_>)> = Vec::new();
        let mut mappings_value = None;
        let mut flat = Vec::new();
        for (k, v) in &members {
            if let Some(spec) = settings::spec(k) {
                settings.push((spec.name, Setting::Doc(v)));
            } else if k == "mappings" {
                mappings_value = Some(v);
            } else if mapping::MAPPING_KEYS.contains(&k.as_ref()) {
                flat.push((k.clone(), v.clone()));
            } else {
                let mut known: Vec<&str> = settings::SETTINGS.iter().map(|s| s.name).collect();
                known.push("mappings");
                known.extend(mapping::MAPPING_KEYS);
                return Err(ConfigError::new(
                    k.as_ref(),
                    format!("unknown key{}", suggest(k, &known)),
                ));
            }
        }
        for (k, v) in secrets.iter().flatten() {
            settings.retain(|(n, _)| n != k);
            if let Some(spec) = settings::spec(k) {
                settings.push((spec.name, Setting::Doc(v)));
            }
        }
        for name in settings::SETTINGS.iter().map(|s| s.name) {
            let env = name.to_ascii_uppercase();
            if let Some(text) = lookup(&env) {
                settings.retain(|(n, _)| *n != name);
                settings.push((name, Setting::Env(env, text)));
            }
        }
        let get = |name: &str| settings.iter().find(|(n, _)| *n == name).map(|(_, s)| s);

        let mut config = Config::defaults()?;
        for spec in &settings::SETTINGS {
            (spec.load)(get(spec.name), &mut config, lookup)?;
        }

        let mappings = match mappings_value {
            Some(_) if !flat.is_empty() => {
                return Err(ConfigError::new(
                    flat[0].0.as_ref(),
                    "is a mapping key at top level, but the document also has \"mappings\": move it into a mapping",
                ))
            }
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut mappings = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let at = format!("mappings[{i}]");
                    let Value::Object(members) = item else {
                        return Err(ConfigError::new(
                            at,
                            format!("must be an object, found {}", item.type_name()),
                        ));
                    };
                    mappings.push(Mapping::compile(members, &at)?);
                }
                mappings
            }
            Some(Value::Array(_)) => {
                return Err(ConfigError::new("mappings", "must not be empty"));
            }
            Some(v) => {
                return Err(ConfigError::new(
                    "mappings",
                    format!("must be a list of mappings, found {}", v.type_name()),
                ))
            }
            None => vec![Mapping::compile(&flat, "")?],
        };
        config
            .key_template
            .check_static_length()
            .map_err(|r| ConfigError::new(key_of(get("key_template"), "key_template"), r))?;
        config.mappings = mappings;
        Ok(config)
    }

    /// Every setting at its default (the bucket empty: its loader requires one), no mapping.
    fn defaults() -> Result<Config, ConfigError> {
        Ok(Config {
            bucket: String::new(),
            region: None,
            role_arn: None,
            external_id: None,
            session_name: settings::DEFAULT_SESSION_NAME.to_owned(),
            write_keys: Vec::new(),
            allow_anonymous: true,
            key_template: KeyTemplate::parse(DEFAULT_KEY_TEMPLATE)
                .map_err(|r| ConfigError::new("key_template", r))?,
            error_prefix: settings::DEFAULT_ERROR_PREFIX.to_owned(),
            compression: Compression::None,
            server_side_encryption: None,
            ssekms_key_id: None,
            acl: None,
            config_ttl_seconds: settings::DEFAULT_CONFIG_TTL_SECONDS,
            receipt_fields: true,
            mappings: Vec::new(),
        })
    }

    /// The effective configuration as pretty JSON, secrets replaced by `"***"`: every setting in
    /// the table's order, then the mappings.
    pub fn to_display_json(&self) -> String {
        let mut members: Vec<(Cow<'static, str>, Value<'static>)> = settings::SETTINGS
            .iter()
            .map(|spec| (Cow::Borrowed(spec.name), (spec.show)(self)))
            .collect();
        members.push((
            "mappings".into(),
            Value::Array(self.mappings.iter().map(|m| m.display.clone()).collect()),
        ));
        json::to_pretty(&Value::Object(members))
    }
}

/// The settings a secrets document may hold: the credentials, nothing that shapes the output.
pub const SECRET_SETTINGS: [&str; 2] = ["write_keys", "iam_external_id"];

/// Parses a secrets document: a JSON object whose keys are all [`SECRET_SETTINGS`], each once.
///
/// # Errors
/// A [`ConfigError`] naming the offending key (values are never shown).
pub fn parse_secrets(text: &str) -> Result<Vec<(Cow<'_, str>, Value<'_>)>, ConfigError> {
    let at = "(secrets document)";
    let doc =
        json::parse(text).map_err(|e| ConfigError::new(at, format!("not valid JSON: {e}")))?;
    let Value::Object(members) = doc else {
        return Err(ConfigError::new(
            at,
            format!("must be a JSON object, found {}", doc.type_name()),
        ));
    };
    check_unique_keys(&members, "")?;
    if let Some((k, _)) = members
        .iter()
        .find(|(k, _)| !SECRET_SETTINGS.contains(&k.as_ref()))
    {
        return Err(ConfigError::new(
            format!("{k} (secrets document)"),
            "is not a secret: the secrets parameter holds only write_keys and iam_external_id; \
             put other settings in the configuration document",
        ));
    }
    Ok(members)
}

/// A top-level setting's value, from the document or from an environment variable.
enum Setting<'d> {
    Doc(&'d Value<'d>),
    Env(String, String),
}

impl Setting<'_> {
    fn key(&self, name: &str) -> String {
        match self {
            Setting::Doc(_) => name.to_owned(),
            Setting::Env(var, _) => format!("{var} (environment variable)"),
        }
    }

    /// The setting as a string; `None` for null.
    fn string(&self, name: &str) -> Result<Option<String>, ConfigError> {
        match self {
            Setting::Env(_, text) => Ok(Some(text.trim().to_owned())),
            Setting::Doc(Value::String(s)) => Ok(Some(s.to_string())),
            Setting::Doc(Value::Null) => Ok(None),
            Setting::Doc(v) => Err(ConfigError::new(
                self.key(name),
                format!("must be a string, found {}", v.type_name()),
            )),
        }
    }

    /// The setting as a boolean: JSON `true`/`false`, or `true`/`false` in the environment.
    fn boolean(&self, name: &str) -> Result<bool, ConfigError> {
        let b = match self {
            Setting::Env(_, text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            Setting::Doc(Value::Bool(b)) => Some(*b),
            Setting::Doc(_) => None,
        };
        b.ok_or_else(|| ConfigError::new(self.key(name), "must be true or false"))
    }

    fn integer(&self, name: &str) -> Result<u64, ConfigError> {
        let n = match self {
            Setting::Env(_, text) => text.trim().parse::<u64>().ok(),
            Setting::Doc(v) => as_integer(v),
        };
        n.ok_or_else(|| ConfigError::new(self.key(name), "must be a whole number of 0 or more"))
    }
}

/// How an error names a top-level setting: its key, or its environment variable.
fn key_of(setting: Option<&Setting<'_>>, name: &str) -> String {
    setting.map_or_else(|| name.to_owned(), |s| s.key(name))
}

/// A JSON number that is a non-negative whole number written without fraction or exponent.
pub(crate) fn as_integer(v: &Value<'_>) -> Option<u64> {
    match v {
        Value::Number(n) => n.parse().ok(),
        _ => None,
    }
}

/// Refuses an object that repeats a key (a typo or a merge accident must not silently win).
pub(crate) fn check_unique_keys(
    members: &[(Cow<'_, str>, Value<'_>)],
    at: &str,
) -> Result<(), ConfigError> {
    for (i, (k, _)) in members.iter().enumerate() {
        if members[..i].iter().any(|(other, _)| other == k) {
            let key = if at.is_empty() {
                k.to_string()
            } else {
                format!("{at}.{k}")
            };
            return Err(ConfigError::new(key, "appears twice"));
        }
    }
    Ok(())
}

/// ` (did you mean "x"?)` when a known key is one or two edits away from `unknown`.
pub(crate) fn suggest(unknown: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (edit_distance(unknown, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!(" (did you mean {k:?}?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// S3's bucket naming rules (general purpose buckets).
fn check_bucket_name(b: &str) -> Result<(), String> {
    if b.contains("://") || b.starts_with("arn:") {
        return Err(format!("{b:?} must be a bucket name, not a URI or ARN"));
    }
    let ok_chars = b
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
    let ends_ok = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ip_like = b.split('.').count() == 4 && b.split('.').all(|p| p.parse::<u8>().is_ok());
    if !(3..=63).contains(&b.len())
        || !ok_chars
        || !ends_ok(b.bytes().next())
        || !ends_ok(b.bytes().last())
        || b.contains("..")
        || ip_like
        || b.starts_with("xn--")
        || b.starts_with("sthree-")
        || b.ends_with("-s3alias")
        || b.ends_with("--ol-s3")
    {
        return Err(format!(
            "{b:?} is not a valid S3 bucket name (3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit)"
        ));
    }
    Ok(())
}

/// `arn:<partition>:iam::<12 digits>:role/<name>`.
fn check_role_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{arn:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load_with(doc: Option<&str>, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load(doc, "SYNC_CONFIG", &|k| env.get(k).cloned())
    }

    const MIN: &str = r#"{"s3_aws_bucket_name":"my-bucket"}"#;

    #[test]
    fn the_secrets_document_overrides_the_document_and_the_environment_overrides_both() {
        let doc = r#"{"s3_aws_bucket_name":"my-bucket","write_keys":["doc"],"iam_role_arn":"arn:aws:iam::123456789012:role/w"}"#;
        let secrets = r#"{"write_keys":["wk-1","wk-2"],"iam_external_id":"ext-123"}"#;
        let none = |_: &str| None;
        let c = Config::load_with_secrets(Some(doc), Some(secrets), "here", &none).unwrap();
        let keys: Vec<&str> = c.write_keys.iter().map(Secret::expose).collect();
        assert_eq!(keys, ["wk-1", "wk-2"]);
        assert_eq!(c.external_id.as_ref().map(Secret::expose), Some("ext-123"));
        let display = c.to_display_json();
        assert!(
            !display.contains("wk-1") && !display.contains("ext-123"),
            "{display}"
        );
        let env = |k: &str| (k == "WRITE_KEYS").then(|| "from-env".to_owned());
        let c = Config::load_with_secrets(Some(doc), Some(secrets), "here", &env).unwrap();
        assert_eq!(c.write_keys[0].expose(), "from-env");
    }

    #[test]
    fn the_secrets_document_holds_only_secrets() {
        let none = |_: &str| None;
        for (secrets, key) in [
            (
                r#"{"s3_aws_bucket_name":"other"}"#,
                "s3_aws_bucket_name (secrets document)",
            ),
            (r#"["wk"]"#, "(secrets document)"),
            ("{", "(secrets document)"),
            (r#"{"write_keys":"wk"}"#, "write_keys"),
        ] {
            let e = Config::load_with_secrets(Some(MIN), Some(secrets), "here", &none).unwrap_err();
            assert_eq!(e.key, key, "{secrets}: {e}");
            assert!(!e.to_string().contains("\"wk\""), "{e}");
        }
    }

    #[test]
    fn no_write_keys_is_refused_unless_anonymous_requests_are_allowed() {
        // SPEC 5.2's default: no keys, no check.
        assert!(load_with(Some(MIN), &[]).unwrap().allow_anonymous);
        let e = load_with(Some(MIN), &[("ALLOW_ANONYMOUS", "false")]).unwrap_err();
        assert_eq!(e.key, "write_keys");
        assert!(e.reason.contains("AllowAnonymous"), "{e}");
        let c = load_with(
            Some(MIN),
            &[("ALLOW_ANONYMOUS", "false"), ("WRITE_KEYS", "wk")],
        )
        .unwrap();
        assert!(!c.allow_anonymous && c.write_keys.len() == 1);
        assert!(load_with(Some(MIN), &[("ALLOW_ANONYMOUS", "true")]).is_ok());
        let e = load_with(Some(MIN), &[("ALLOW_ANONYMOUS", "no")]).unwrap_err();
        assert_eq!(e.key, "ALLOW_ANONYMOUS (environment variable)");
    }

    #[test]
    fn defaults_apply() {
        let c = load_with(Some(MIN), &[("AWS_REGION", "eu-west-1")]).unwrap();
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.session_name, "sync-to-s3");
        assert_eq!(c.error_prefix, "_errors/");
        assert_eq!(c.compression, Compression::None);
        assert_eq!(c.config_ttl_seconds, 300);
        assert_eq!(c.mappings.len(), 1);
        assert_eq!(c.key_template.text(), DEFAULT_KEY_TEMPLATE);
    }

    #[test]
    fn environment_overrides_the_document() {
        let c = load_with(
            Some(MIN),
            &[
                ("S3_AWS_BUCKET_NAME", "other-bucket"),
                ("WRITE_KEYS", "a, b,,c"),
                ("CONFIG_TTL_SECONDS", "0"),
                ("COMPRESSION", "gzip"),
            ],
        )
        .unwrap();
        assert_eq!(c.bucket, "other-bucket");
        assert_eq!(c.write_keys.len(), 3);
        assert_eq!(c.write_keys[1].expose(), "b");
        assert_eq!(c.config_ttl_seconds, 0);
        assert_eq!(c.compression, Compression::Gzip);
    }

    #[test]
    fn receipt_fields_default_on_and_the_environment_overrides_the_document() {
        assert!(load_with(Some(MIN), &[]).unwrap().receipt_fields);
        let off = r#"{"s3_aws_bucket_name":"b-1","receipt_fields":false}"#;
        assert!(!load_with(Some(off), &[]).unwrap().receipt_fields);
        let c = load_with(Some(off), &[("RECEIPT_FIELDS", "True")]).unwrap();
        assert!(c.receipt_fields);
        let e = load_with(Some(MIN), &[("RECEIPT_FIELDS", "yes")]).unwrap_err();
        assert!(e.key.contains("RECEIPT_FIELDS"), "{e}");
        let e = load_with(
            Some(r#"{"s3_aws_bucket_name":"b-1","receipt_fields":"no"}"#),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "receipt_fields");
        assert!(
            c.to_display_json().contains("\"receipt_fields\": true"),
            "{}",
            c.to_display_json()
        );
    }

    #[test]
    fn no_document_uses_defaults_and_environment() {
        let c = load_with(None, &[("S3_AWS_BUCKET_NAME", "env-bucket")]).unwrap();
        assert_eq!(c.bucket, "env-bucket");
        assert_eq!(c.mappings[0].columns.len(), 14);
    }

    #[test]
    fn errors_name_the_key() {
        for (doc, env, key) in [
            (
                r#"{"compresion":"gzip","s3_aws_bucket_name":"b-1"}"#,
                vec![],
                "compresion",
            ),
            ("{}", vec![], "s3_aws_bucket_name"),
            (
                r#"{"s3_aws_bucket_name":"s3://x"}"#,
                vec![],
                "s3_aws_bucket_name",
            ),
            (
                r#"{"s3_aws_bucket_name":"Bad_Bucket"}"#,
                vec![],
                "s3_aws_bucket_name",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1","iam_role_arn":"arn:aws:iam::1:role/x","iam_external_id":"abc"}"#,
                vec![],
                "iam_role_arn",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1","iam_role_arn":"arn:aws:iam::123456789012:role/x"}"#,
                vec![],
                "iam_external_id",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1","compression":"zip"}"#,
                vec![],
                "compression",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1"}"#,
                vec![("COMPRESSION", "zip")],
                "COMPRESSION (environment variable)",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1","acl":"open"}"#,
                vec![],
                "acl",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1","key_template":"{type}/{time}.{ext}"}"#,
                vec![],
                "key_template",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1","key_template":"{id}{nope}"}"#,
                vec![],
                "key_template",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1","error_prefix":"../x/"}"#,
                vec![],
                "error_prefix",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1","mappings":[]}"#,
                vec![],
                "mappings",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1","mappings":[{}],"columns":{}}"#,
                vec![],
                "columns",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1","config_ttl_seconds":-1}"#,
                vec![],
                "config_ttl_seconds",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1","ssekms_key_id":"k"}"#,
                vec![],
                "ssekms_key_id",
            ),
            (
                r#"{"s3_aws_bucket_name":"b-1","write_keys":[""]}"#,
                vec![],
                "write_keys[0]",
            ),
        ] {
            let err = load_with(Some(doc), &env).unwrap_err();
            assert_eq!(err.key, key, "{doc}: {err}");
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn secrets_never_show() {
        let c = load_with(
            Some(r#"{"s3_aws_bucket_name":"b-1","iam_role_arn":"arn:aws:iam::123456789012:role/r","iam_external_id":"ext-SECRET-1","write_keys":["wk_SECRET_2"]}"#),
            &[],
        )
        .unwrap();
        let shown = format!("{} {:?}", c.to_display_json(), c);
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("***"));
        let err = load_with(
            Some(r#"{"s3_aws_bucket_name":"b-1","iam_role_arn":"arn:aws:iam::123456789012:role/r","iam_external_id":"bad secret!"}"#),
            &[],
        )
        .unwrap_err();
        assert!(!err.to_string().contains("bad secret"), "{err}");
    }

    #[test]
    fn display_is_json_that_loads_again() {
        let c = load_with(Some(MIN), &[]).unwrap();
        let shown = c.to_display_json();
        let again = load_with(Some(&shown), &[]).unwrap();
        assert_eq!(again.to_display_json(), shown);
    }

    #[test]
    fn source_precedence() {
        let src = |env: &[(&str, &str)]| {
            let env: HashMap<&str, &str> = env.iter().copied().collect();
            Source::from_lookup(&|k| env.get(k).map(|v| (*v).to_owned()))
        };
        assert_eq!(
            src(&[("SYNC_CONFIG", "{}"), ("SYNC_CONFIG_PARAMETER", "/p")]),
            Source::Inline("{}".into())
        );
        assert_eq!(
            src(&[("SYNC_CONFIG", " "), ("SYNC_CONFIG_PARAMETER", "/p")]),
            Source::Parameter("/p".into())
        );
        assert_eq!(src(&[]), Source::Defaults);
    }
}
