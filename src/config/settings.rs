//! The top-level settings (SPEC 2.2), one declaration each: its name (the document key, and in
//! upper case the environment variable that overrides it), how it is read, defaulted and
//! validated into the [`Config`], and how `sync-to-s3 config` shows it (secrets as `"***"`).
//! Loading, the environment overrides, the unknown-key check and the display all walk this one
//! table, in its order, so they cannot disagree.

use std::borrow::Cow;

use super::{
    check_bucket_name, check_role_arn, key_of, Compression, Config, ConfigError, Secret,
    ServerSideEncryption, Setting,
};
use crate::json::Value;
use crate::key::{KeyTemplate, DEFAULT_KEY_TEMPLATE};

/// `iam_role_session_name` when none is set.
pub(super) const DEFAULT_SESSION_NAME: &str = "sync-to-s3";
/// `error_prefix` when none is set.
pub(super) const DEFAULT_ERROR_PREFIX: &str = "_errors/";
/// `config_ttl_seconds` when none is set.
pub(super) const DEFAULT_CONFIG_TTL_SECONDS: u64 = 300;

/// S3's canned ACLs.
const CANNED_ACLS: [&str; 7] = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

/// An environment lookup (`std::env::var` in production, a map in tests).
type Lookup<'l> = dyn Fn(&str) -> Option<String> + 'l;

/// One top-level setting.
pub(super) struct SettingSpec {
    /// The document key; upper-cased, the environment variable.
    pub name: &'static str,
    /// Reads the setting into the configuration: `None` when neither the document nor the
    /// environment sets it (the default then applies, or the error for a required setting).
    pub load: fn(Option<&Setting<'_>>, &mut Config, &Lookup<'_>) -> Result<(), ConfigError>,
    /// Its effective value, as `sync-to-s3 config` prints it.
    pub show: fn(&Config) -> Value<'static>,
}

/// Every top-level setting but `mappings`, in the order `sync-to-s3 config` prints them. A
/// setting may check one declared before it (`iam_external_id` reads `iam_role_arn`).
pub(super) const SETTINGS: [SettingSpec; 15] = [
    SettingSpec {
        name: "s3_aws_bucket_name",
        load: load_bucket,
        show: |c| text(&c.bucket),
    },
    SettingSpec {
        name: "s3_aws_region",
        load: load_region,
        show: |c| optional_text(c.region.as_deref()),
    },
    SettingSpec {
        name: "iam_role_arn",
        load: load_role_arn,
        show: |c| optional_text(c.role_arn.as_deref()),
    },
    SettingSpec {
        name: "iam_external_id",
        load: load_external_id,
        show: |c| {
            if c.external_id.is_some() {
                hidden()
            } else {
                Value::Null
            }
        },
    },
    SettingSpec {
        name: "iam_role_session_name",
        load: load_session_name,
        show: |c| text(&c.session_name),
    },
    SettingSpec {
        name: "write_keys",
        load: load_write_keys,
        show: |c| Value::Array(c.write_keys.iter().map(|_| hidden()).collect()),
    },
    SettingSpec {
        name: "allow_anonymous",
        load: load_allow_anonymous,
        show: |c| Value::Bool(c.allow_anonymous),
    },
    SettingSpec {
        name: "key_template",
        load: load_key_template,
        show: |c| text(c.key_template.text()),
    },
    SettingSpec {
        name: "error_prefix",
        load: load_error_prefix,
        show: |c| text(&c.error_prefix),
    },
    SettingSpec {
        name: "compression",
        load: load_compression,
        show: |c| {
            text(match c.compression {
                Compression::None => "none",
                Compression::Gzip => "gzip",
            })
        },
    },
    SettingSpec {
        name: "server_side_encryption",
        load: load_server_side_encryption,
        show: |c| optional_text(c.server_side_encryption.map(ServerSideEncryption::as_str)),
    },
    SettingSpec {
        name: "ssekms_key_id",
        load: load_ssekms_key_id,
        show: |c| optional_text(c.ssekms_key_id.as_deref()),
    },
    SettingSpec {
        name: "acl",
        load: load_acl,
        show: |c| optional_text(c.acl.as_deref()),
    },
    SettingSpec {
        name: "config_ttl_seconds",
        load: |s, c, _| {
            if let Some(s) = s {
                c.config_ttl_seconds = s.integer("config_ttl_seconds")?;
            }
            Ok(())
        },
        show: |c| Value::Number(Cow::Owned(c.config_ttl_seconds.to_string())),
    },
    SettingSpec {
        name: "receipt_fields",
        load: |s, c, _| {
            if let Some(s) = s {
                c.receipt_fields = s.boolean("receipt_fields")?;
            }
            Ok(())
        },
        show: |c| Value::Bool(c.receipt_fields),
    },
];

/// Whether `key` is a top-level setting (not `mappings`).
pub(super) fn spec(key: &str) -> Option<&'static SettingSpec> {
    SETTINGS.iter().find(|s| s.name == key)
}

fn text(v: &str) -> Value<'static> {
    Value::String(Cow::Owned(v.to_owned()))
}

fn optional_text(v: Option<&str>) -> Value<'static> {
    v.map_or(Value::Null, text)
}

fn hidden() -> Value<'static> {
    Value::String(Cow::Borrowed("***"))
}

/// The setting as a non-empty string; `None` when absent, null or empty.
fn optional(setting: Option<&Setting<'_>>, name: &str) -> Result<Option<String>, ConfigError> {
    Ok(setting
        .map(|s| s.string(name))
        .transpose()?
        .flatten()
        .filter(|s| !s.is_empty()))
}

fn load_bucket(s: Option<&Setting<'_>>, c: &mut Config, _: &Lookup<'_>) -> Result<(), ConfigError> {
    let name = "s3_aws_bucket_name";
    match s.map(|s| s.string(name)).transpose()? {
        Some(Some(b)) if !b.is_empty() => c.bucket = b,
        _ => {
            return Err(ConfigError::new(
                name,
                "is required: set it in the document or as S3_AWS_BUCKET_NAME",
            ))
        }
    }
    check_bucket_name(&c.bucket).map_err(|r| ConfigError::new(key_of(s, name), r))
}

fn load_region(
    s: Option<&Setting<'_>>,
    c: &mut Config,
    lookup: &Lookup<'_>,
) -> Result<(), ConfigError> {
    let name = "s3_aws_region";
    c.region = optional(s, name)?
        .or_else(|| lookup("AWS_REGION").filter(|r| !r.is_empty()))
        .or_else(|| lookup("AWS_DEFAULT_REGION").filter(|r| !r.is_empty()));
    if let Some(r) = &c.region {
        if r.is_empty()
            || r.len() > 32
            || !r
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ConfigError::new(
                key_of(s, name),
                format!("{r:?} is not an AWS region name"),
            ));
        }
    }
    Ok(())
}

fn load_role_arn(
    s: Option<&Setting<'_>>,
    c: &mut Config,
    _: &Lookup<'_>,
) -> Result<(), ConfigError> {
    let name = "iam_role_arn";
    c.role_arn = optional(s, name)?;
    if let Some(arn) = &c.role_arn {
        check_role_arn(arn).map_err(|r| ConfigError::new(key_of(s, name), r))?;
    }
    Ok(())
}

fn load_external_id(
    s: Option<&Setting<'_>>,
    c: &mut Config,
    _: &Lookup<'_>,
) -> Result<(), ConfigError> {
    let name = "iam_external_id";
    let external_id = optional(s, name)?;
    if let Some(id) = &external_id {
        // Never echo the value: it is a secret.
        let ok = (2..=1224).contains(&id.chars().count())
            && id
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_+=,.@:/-".contains(ch));
        if !ok {
            return Err(ConfigError::new(
                key_of(s, name),
                "must be 2 to 1224 characters of letters, digits and _+=,.@:/- (value not shown: it is a secret)",
            ));
        }
    }
    if c.role_arn.is_some() && external_id.is_none() {
        return Err(ConfigError::new(
            name,
            "is required when iam_role_arn is set (the External ID the role's trust policy expects)",
        ));
    }
    c.external_id = external_id.map(Secret);
    Ok(())
}

fn load_session_name(
    s: Option<&Setting<'_>>,
    c: &mut Config,
    _: &Lookup<'_>,
) -> Result<(), ConfigError> {
    let name = "iam_role_session_name";
    if let Some(session_name) = optional(s, name)? {
        c.session_name = session_name;
    }
    let session_name = &c.session_name;
    if !(2..=64).contains(&session_name.len())
        || !session_name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "_+=,.@-".contains(ch))
    {
        return Err(ConfigError::new(
            key_of(s, name),
            format!("{session_name:?} must be 2 to 64 characters of letters, digits and _+=,.@-"),
        ));
    }
    Ok(())
}

fn load_write_keys(
    s: Option<&Setting<'_>>,
    c: &mut Config,
    _: &Lookup<'_>,
) -> Result<(), ConfigError> {
    c.write_keys = match s {
        None => Vec::new(),
        Some(Setting::Env(_, text)) => text
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| Secret(k.to_owned()))
            .collect(),
        Some(Setting::Doc(Value::Array(items))) => {
            let mut keys = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) if !s.is_empty() => keys.push(Secret(s.to_string())),
                    _ => {
                        return Err(ConfigError::new(
                            format!("write_keys[{i}]"),
                            "must be a non-empty string",
                        ))
                    }
                }
            }
            keys
        }
        Some(Setting::Doc(v)) => {
            return Err(ConfigError::new(
                "write_keys",
                format!("must be a list of strings, found {}", v.type_name()),
            ))
        }
    };
    Ok(())
}

/// `allow_anonymous`: `true` by default (SPEC 5.2: no write keys, no check); the template sets
/// it `false` unless the deployer opts in, so that an empty `write_keys` cannot open the
/// endpoint by accident.
fn load_allow_anonymous(
    s: Option<&Setting<'_>>,
    c: &mut Config,
    _: &Lookup<'_>,
) -> Result<(), ConfigError> {
    let name = "allow_anonymous";
    c.allow_anonymous = match s {
        Some(s) => s.boolean(name)?,
        None => true,
    };
    if !c.allow_anonymous && c.write_keys.is_empty() {
        return Err(ConfigError::new(
            "write_keys",
            "is empty while allow_anonymous is false: the HTTP endpoint would take events from \
             anyone. Store the write keys of your Segment sources in the secrets parameter \
             (sync-to-s3 secrets --parameter NAME --write-key KEY, or make secrets), or set \
             allow_anonymous to true (template parameter AllowAnonymous) to accept requests \
             without a key on purpose",
        ));
    }
    Ok(())
}

fn load_key_template(
    s: Option<&Setting<'_>>,
    c: &mut Config,
    _: &Lookup<'_>,
) -> Result<(), ConfigError> {
    let name = "key_template";
    let template_text = optional(s, name)?.unwrap_or_else(|| DEFAULT_KEY_TEMPLATE.to_owned());
    c.key_template =
        KeyTemplate::parse(&template_text).map_err(|r| ConfigError::new(key_of(s, name), r))?;
    Ok(())
}

fn load_error_prefix(
    s: Option<&Setting<'_>>,
    c: &mut Config,
    _: &Lookup<'_>,
) -> Result<(), ConfigError> {
    let name = "error_prefix";
    if let Some(setting) = s {
        c.error_prefix = setting.string(name)?.unwrap_or_default();
    }
    let error_prefix = &c.error_prefix;
    if error_prefix.split('/').any(|seg| seg == "." || seg == "..")
        || error_prefix.chars().any(char::is_control)
        || error_prefix.len() > 512
    {
        return Err(ConfigError::new(
            key_of(s, name),
            format!("{error_prefix:?} must not hold \".\" or \"..\" segments or control characters, or pass 512 bytes"),
        ));
    }
    Ok(())
}

fn load_compression(
    s: Option<&Setting<'_>>,
    c: &mut Config,
    _: &Lookup<'_>,
) -> Result<(), ConfigError> {
    let name = "compression";
    c.compression = match optional(s, name)?.as_deref() {
        None | Some("none") => Compression::None,
        Some("gzip") => Compression::Gzip,
        Some(other) => {
            return Err(ConfigError::new(
                key_of(s, name),
                format!("{other:?} is not \"none\" or \"gzip\""),
            ))
        }
    };
    Ok(())
}

fn load_server_side_encryption(
    s: Option<&Setting<'_>>,
    c: &mut Config,
    _: &Lookup<'_>,
) -> Result<(), ConfigError> {
    let name = "server_side_encryption";
    c.server_side_encryption = match optional(s, name)?.as_deref() {
        None => None,
        Some("AES256") => Some(ServerSideEncryption::Aes256),
        Some("aws:kms") => Some(ServerSideEncryption::Kms),
        Some(other) => {
            return Err(ConfigError::new(
                key_of(s, name),
                format!("{other:?} is not \"AES256\" or \"aws:kms\" (or null)"),
            ))
        }
    };
    Ok(())
}

fn load_ssekms_key_id(
    s: Option<&Setting<'_>>,
    c: &mut Config,
    _: &Lookup<'_>,
) -> Result<(), ConfigError> {
    let name = "ssekms_key_id";
    c.ssekms_key_id = optional(s, name)?;
    if c.ssekms_key_id.is_some() && c.server_side_encryption != Some(ServerSideEncryption::Kms) {
        return Err(ConfigError::new(
            key_of(s, name),
            "is only used with server_side_encryption \"aws:kms\"",
        ));
    }
    Ok(())
}

fn load_acl(s: Option<&Setting<'_>>, c: &mut Config, _: &Lookup<'_>) -> Result<(), ConfigError> {
    let name = "acl";
    c.acl = optional(s, name)?;
    if let Some(a) = &c.acl {
        if !CANNED_ACLS.contains(&a.as_str()) {
            return Err(ConfigError::new(
                key_of(s, name),
                format!("{a:?} is not a canned ACL ({})", CANNED_ACLS.join(", ")),
            ));
        }
    }
    Ok(())
}
