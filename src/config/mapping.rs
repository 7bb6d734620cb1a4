//! One mapping (Segment's "Sync to S3" action, SPEC 2.3): its keys, defaults and validation.
//!
//! Compiles the JSON form into a [`Mapping`] whose directives, subscription and transforms are
//! ready to evaluate. Every error names the key (and the column for a bad directive).

use std::borrow::Cow;

use super::{check_unique_keys, suggest, ConfigError};
pub use crate::format::parquet::ParquetCompression;
use crate::json::{self, Value};
pub use crate::mapping::row::{Column, FileExtension, Mapping};
use crate::mapping::subscription::Subscription;
pub use crate::mapping::types::ColumnType;
use crate::mapping::{Directive, Normalize, Transform};

/// The mapping keys, in the order `sync-to-s3 config` prints them.
pub const MAPPING_KEYS: [&str; 15] = [
    "name",
    "subscription",
    "columns",
    "audience_action_column_name",
    "batch_size_column_name",
    "traits_or_props",
    "computation_key",
    "batch_size",
    "s3_aws_folder_name",
    "filename_prefix",
    "delimiter",
    "file_extension",
    "columns_to_transform",
    "column_types",
    "parquet_compression",
];

/// The default subscription: Segment's default for the action.
pub const DEFAULT_SUBSCRIPTION: &str = "type = \"identify\" or type = \"track\"";

/// Segment's 14 default columns, in order (SPEC 2.3).
const DEFAULT_COLUMNS: &str = r#"{
  "event_name": {"@path": "$.event"},
  "event_type": {"@path": "$.type"},
  "user_id": {"@path": "$.userId"},
  "anonymous_id": {"@path": "$.anonymousId"},
  "email": {"@if": {"exists": {"@path": "$.traits.email"}, "then": {"@path": "$.traits.email"}, "else": {"@path": "$.context.traits.email"}}},
  "properties": {"@path": "$.properties"},
  "traits": {"@if": {"exists": {"@path": "$.traits"}, "then": {"@path": "$.traits"}, "else": {"@path": "$.context.traits"}}},
  "context": {"@path": "$.context"},
  "timestamp": {"@path": "$.timestamp"},
  "message_id": {"@path": "$.messageId"},
  "integrations": {"@path": "$.integrations"},
  "audience_name": {"@path": "$.context.personas.computation_key"},
  "audience_id": {"@path": "$.context.personas.computation_id"},
  "audience_space_id": {"@path": "$.context.personas.space_id"}
}"#;

const DEFAULT_TRAITS_OR_PROPS: &str = r#"{"@if": {"exists": {"@path": "$.properties"}, "then": {"@path": "$.properties"}, "else": {"@path": "$.traits"}}}"#;
const DEFAULT_COMPUTATION_KEY: &str = r#"{"@path": "$.context.personas.computation_key"}"#;
const DEFAULT_BATCH_SIZE: u64 = 100_000;
const DELIMITERS: [(&str, u8); 5] = [
    (",", b','),
    ("|", b'|'),
    ("tab", b'\t'),
    (";", b';'),
    (":", b':'),
];

impl Mapping {
    /// Compiles a mapping from its members. `at` is how errors name it (`mappings[0]`, or an
    /// empty string for a flat document).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad key.
    pub fn compile(
        members: &[(Cow<'_, str>, Value<'_>)],
        at: &str,
    ) -> Result<Mapping, ConfigError> {
        let key = |k: &str| {
            if at.is_empty() {
                k.to_owned()
            } else {
                format!("{at}.{k}")
            }
        };
        check_unique_keys(members, at)?;
        for (k, _) in members {
            if !MAPPING_KEYS.contains(&k.as_ref()) {
                return Err(ConfigError::new(
                    key(k),
                    format!("unknown mapping key{}", suggest(k, &MAPPING_KEYS)),
                ));
            }
        }
        let get = |k: &str| members.iter().find(|(m, _)| m == k).map(|(_, v)| v);
        let string = |k: &str, default: &str| -> Result<String, ConfigError> {
            match get(k) {
                None => Ok(default.to_owned()),
                Some(Value::String(s)) => Ok(s.to_string()),
                Some(v) => Err(ConfigError::new(
                    key(k),
                    format!("must be a string, found {}", v.type_name()),
                )),
            }
        };
        let directive =
            |k: &str, default: &str| -> Result<(Directive, Value<'static>), ConfigError> {
                let v = match get(k) {
                    Some(v) => v.clone().into_owned(),
                    None => parse_builtin(default)?,
                };
                let d = Directive::compile(&v).map_err(|e| ConfigError::new(key(k), e.0))?;
                Ok((d, v))
            };

        let name = string("name", "default")?;
        let subscription_text = string("subscription", DEFAULT_SUBSCRIPTION)?;
        let subscription = Subscription::parse(&subscription_text)
            .map_err(|e| ConfigError::new(key("subscription"), e.to_string()))?;

        let column_members: Vec<(Cow<'static, str>, Value<'static>)> = match get("columns") {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| (Cow::Owned(k.to_string()), v.clone().into_owned()))
                .collect(),
            Some(v) => {
                return Err(ConfigError::new(
                    key("columns"),
                    format!(
                        "must be an object of column name to directive, found {}",
                        v.type_name()
                    ),
                ))
            }
            None => match parse_builtin(DEFAULT_COLUMNS)? {
                Value::Object(m) => m,
                _ => Vec::new(),
            },
        };
        let columns_value = Value::Object(column_members.clone());
        check_unique_keys(&column_members, &key("columns"))?;
        let mut columns = Vec::new();
        for (name, v) in &column_members {
            if matches!(v, Value::String(s) if s.is_empty()) {
                continue; // "" drops the column
            }
            let directive = Directive::compile(v).map_err(|e| {
                ConfigError::new(
                    format!(
                        "{}[{}]",
                        key("columns"),
                        json::to_compact(&Value::String(name.clone()))
                    ),
                    e.0,
                )
            })?;
            columns.push(Column {
                name: name.to_string(),
                directive,
                transform: None,
                ty: ColumnType::String,
            });
        }

        let optional_name = |k: &str, default: &str| -> Result<Option<String>, ConfigError> {
            let s = string(k, default)?;
            Ok((!s.is_empty()).then_some(s))
        };
        let audience_action_column =
            optional_name("audience_action_column_name", "audience_action")?;
        let batch_size_column = optional_name("batch_size_column_name", "batch_size")?;
        let (traits_or_props, traits_or_props_v) =
            directive("traits_or_props", DEFAULT_TRAITS_OR_PROPS)?;
        let (computation_key, computation_key_v) =
            directive("computation_key", DEFAULT_COMPUTATION_KEY)?;
        let (folder, folder_v) = directive("s3_aws_folder_name", "\"\"")?;

        let batch_size = match get("batch_size") {
            None => DEFAULT_BATCH_SIZE,
            Some(v) => match super::as_integer(v) {
                Some(n) if (1..=u64::from(u32::MAX)).contains(&n) => n,
                _ => {
                    return Err(ConfigError::new(
                        key("batch_size"),
                        format!(
                            "must be a whole number from 1 to {}, found {}",
                            u32::MAX,
                            json::to_compact(v)
                        ),
                    ))
                }
            },
        };
        let filename_prefix = string("filename_prefix", "")?;
        let delimiter_text = string("delimiter", ",")?;
        let Some(&(_, delimiter)) = DELIMITERS.iter().find(|(n, _)| *n == delimiter_text) else {
            return Err(ConfigError::new(
                key("delimiter"),
                format!(
                    "{} is not one of \",\", \"|\", \"tab\", \";\", \":\"",
                    json::to_compact(&Value::String(delimiter_text.as_str().into()))
                ),
            ));
        };
        let file_extension = match string("file_extension", "csv")?.as_str() {
            "csv" => FileExtension::Csv,
            "txt" => FileExtension::Txt,
            "parquet" => FileExtension::Parquet,
            other => {
                return Err(ConfigError::new(
                    key("file_extension"),
                    format!("{other:?} is not \"csv\", \"txt\" or \"parquet\""),
                ))
            }
        };
        let parquet = file_extension == FileExtension::Parquet;
        for k in ["column_types", "parquet_compression"] {
            if !parquet && get(k).is_some() {
                return Err(ConfigError::new(
                    key(k),
                    "applies to Parquet objects only: set \"file_extension\": \"parquet\"",
                ));
            }
        }
        let compression_text = string("parquet_compression", "snappy")?;
        let Some(&(_, parquet_compression)) = ParquetCompression::NAMES
            .iter()
            .find(|(n, _)| *n == compression_text)
        else {
            return Err(ConfigError::new(
                key("parquet_compression"),
                format!("{compression_text:?} is not \"snappy\", \"zstd\" or \"none\""),
            ));
        };

        let transforms_value = get("columns_to_transform")
            .cloned()
            .map(Value::into_owned)
            .unwrap_or(Value::Array(Vec::new()));
        compile_transforms(
            &transforms_value,
            &mut columns,
            &key("columns_to_transform"),
        )?;
        let types_value = get("column_types")
            .cloned()
            .map(Value::into_owned)
            .unwrap_or(Value::Object(Vec::new()));
        let extra = [
            (
                audience_action_column.as_deref(),
                ColumnType::Boolean,
                "audience action",
            ),
            (
                batch_size_column.as_deref(),
                ColumnType::Int64,
                "batch size",
            ),
        ];
        compile_types(&types_value, &mut columns, &extra, &key("column_types"))?;
        if parquet {
            check_parquet_names(&columns, &extra, &key)?;
        }

        let mut display = vec![
            ("name".into(), Value::String(name.clone().into())),
            (
                "subscription".into(),
                Value::String(subscription_text.into()),
            ),
            ("columns".into(), columns_value.clone()),
            (
                "audience_action_column_name".into(),
                Value::String(audience_action_column.clone().unwrap_or_default().into()),
            ),
            (
                "batch_size_column_name".into(),
                Value::String(batch_size_column.clone().unwrap_or_default().into()),
            ),
            ("traits_or_props".into(), traits_or_props_v),
            ("computation_key".into(), computation_key_v),
            (
                "batch_size".into(),
                Value::Number(batch_size.to_string().into()),
            ),
            ("s3_aws_folder_name".into(), folder_v),
            (
                "filename_prefix".into(),
                Value::String(filename_prefix.clone().into()),
            ),
            ("delimiter".into(), Value::String(delimiter_text.into())),
            (
                "file_extension".into(),
                Value::String(file_extension.as_str().into()),
            ),
            ("columns_to_transform".into(), transforms_value),
        ];
        if parquet {
            display.push(("column_types".into(), types_value));
            display.push((
                "parquet_compression".into(),
                Value::String(parquet_compression.name().into()),
            ));
        }

        Ok(Mapping {
            name,
            subscription,
            columns,
            audience_action_column,
            batch_size_column,
            traits_or_props,
            computation_key,
            batch_size: usize::try_from(batch_size).unwrap_or(usize::MAX),
            folder,
            filename_prefix,
            delimiter,
            file_extension,
            parquet_compression,
            display: Value::Object(display),
        })
    }
}

/// Parses one of this file's built-in JSON texts (constants the tests check).
fn parse_builtin(text: &str) -> Result<Value<'static>, ConfigError> {
    json::parse(text)
        .map(Value::into_owned)
        .map_err(|e| ConfigError::new("(built-in default)", e.to_string()))
}

fn compile_transforms(v: &Value<'_>, columns: &mut [Column], at: &str) -> Result<(), ConfigError> {
    let Value::Array(entries) = v else {
        return Err(ConfigError::new(
            at,
            format!("must be a list of transforms, found {}", v.type_name()),
        ));
    };
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Value::Object(members) = entry else {
            return Err(ConfigError::new(
                &at,
                format!(
                    "must be an object with column_name, hash_algorithm and normalize, found {}",
                    entry.type_name()
                ),
            ));
        };
        check_unique_keys(members, &at)?;
        const KEYS: [&str; 3] = ["column_name", "hash_algorithm", "normalize"];
        let (mut column_name, mut hash, mut normalize) = (None, "none", "none");
        for (k, v) in members {
            let Value::String(s) = v else {
                return Err(ConfigError::new(
                    format!("{at}.{k}"),
                    format!("must be a string, found {}", v.type_name()),
                ));
            };
            match k.as_ref() {
                "column_name" => column_name = Some(s.as_ref()),
                "hash_algorithm" => hash = s,
                "normalize" => normalize = s,
                other => {
                    return Err(ConfigError::new(
                        format!("{at}.{other}"),
                        format!("unknown transform key{}", suggest(other, &KEYS)),
                    ))
                }
            }
        }
        let Some(column_name) = column_name else {
            return Err(ConfigError::new(format!("{at}.column_name"), "is required"));
        };
        let sha256 = match hash {
            "none" => false,
            "sha256" => true,
            other => {
                return Err(ConfigError::new(
                    format!("{at}.hash_algorithm"),
                    format!("{other:?} is not \"none\" or \"sha256\""),
                ))
            }
        };
        let Some(&(_, normalize)) = Normalize::NAMES.iter().find(|(n, _)| *n == normalize) else {
            return Err(ConfigError::new(
                format!("{at}.normalize"),
                format!(
                    "{normalize:?} is not one of \"none\", \"lowercase\", \"trim\", \"lowercase_trim\""
                ),
            ));
        };
        let Some(column) = columns.iter_mut().find(|c| c.name == column_name) else {
            return Err(ConfigError::new(
                format!("{at}.column_name"),
                format!("columns_to_transform names the column {column_name:?}, which is not among the mapping's columns"),
            ));
        };
        if column.transform.is_some() {
            return Err(ConfigError::new(
                format!("{at}.column_name"),
                format!("the column {column_name:?} is transformed twice"),
            ));
        }
        column.transform = Some(Transform { normalize, sha256 });
    }
    Ok(())
}

/// The audience action and batch size columns: name (unless dropped), fixed type, what to call
/// them in errors.
type ExtraColumns<'n> = [(Option<&'n str>, ColumnType, &'static str); 2];

/// `column_types`: column name to type name, for the mapping's own columns; the two extra
/// columns may be named only with their fixed types.
fn compile_types(
    v: &Value<'_>,
    columns: &mut [Column],
    extra: &ExtraColumns<'_>,
    at: &str,
) -> Result<(), ConfigError> {
    let Value::Object(members) = v else {
        return Err(ConfigError::new(
            at,
            format!(
                "must be an object of column name to type, found {}",
                v.type_name()
            ),
        ));
    };
    check_unique_keys(members, at)?;
    let names: Vec<&str> = ColumnType::NAMES.iter().map(|(n, _)| *n).collect();
    for (name, t) in members {
        let at = format!("{at}[{}]", json::to_compact(&Value::String(name.clone())));
        let ty = match t {
            Value::String(s) => ColumnType::from_name(s).ok_or_else(|| {
                ConfigError::new(
                    &at,
                    format!(
                        "{s:?} is not a column type (one of {}){}",
                        names.join(", "),
                        suggest(s, &names)
                    ),
                )
            })?,
            other => {
                return Err(ConfigError::new(
                    &at,
                    format!("must be a type name, found {}", other.type_name()),
                ))
            }
        };
        if let Some(column) = columns.iter_mut().find(|c| c.name == *name) {
            if column.transform.is_some_and(|t| t.sha256)
                && !matches!(ty, ColumnType::String | ColumnType::Json)
            {
                return Err(ConfigError::new(
                    &at,
                    format!(
                        "the column {name:?} is hashed (columns_to_transform, sha256), so it is text: type it string"
                    ),
                ));
            }
            column.ty = ty;
        } else if let Some((_, fixed, what)) = extra.iter().find(|(n, _, _)| *n == Some(name)) {
            if ty != *fixed {
                return Err(ConfigError::new(
                    &at,
                    format!(
                        "{name:?} is the {what} column, which is always {}",
                        fixed.name()
                    ),
                ));
            }
        } else {
            return Err(ConfigError::new(
                &at,
                format!("column_types names the column {name:?}, which is not among the mapping's columns"),
            ));
        }
    }
    Ok(())
}

/// A Parquet schema needs at least one column, and names that are neither empty nor repeated.
fn check_parquet_names(
    columns: &[Column],
    extra: &ExtraColumns<'_>,
    key: &dyn Fn(&str) -> String,
) -> Result<(), ConfigError> {
    let names = columns.iter().map(|c| (c.name.as_str(), "columns")).chain(
        extra
            .iter()
            .zip(["audience_action_column_name", "batch_size_column_name"])
            .filter_map(|((n, _, _), k)| n.map(|n| (n, k))),
    );
    let mut seen: Vec<&str> = Vec::new();
    for (name, k) in names {
        if name.is_empty() {
            return Err(ConfigError::new(
                key(k),
                "a Parquet column needs a name: the empty name is not allowed",
            ));
        }
        if seen.contains(&name) {
            return Err(ConfigError::new(
                key(k),
                format!("the column name {name:?} is used twice: a Parquet schema needs each once"),
            ));
        }
        seen.push(name);
    }
    if seen.is_empty() {
        return Err(ConfigError::new(
            key("columns"),
            "a Parquet object needs at least one column",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> Result<Mapping, ConfigError> {
        let v = json::parse(text).unwrap();
        let Value::Object(members) = v else { panic!() };
        Mapping::compile(&members, "mappings[0]")
    }

    #[test]
    fn defaults_are_segments() {
        let m = compile("{}").unwrap();
        assert_eq!(m.name, "default");
        assert_eq!(m.columns.len(), 14);
        assert_eq!(m.header().len(), 16);
        assert_eq!(m.header()[14..], ["audience_action", "batch_size"]);
        assert_eq!(m.batch_size, 100_000);
        assert_eq!(m.delimiter, b',');
    }

    #[test]
    fn empty_directive_drops_a_column() {
        let m = compile(
            r#"{"columns":{"a":"","b":{"@literal":""},"c":null},"batch_size_column_name":""}"#,
        )
        .unwrap();
        assert_eq!(m.header(), ["b", "c", "audience_action"]);
    }

    #[test]
    fn errors_name_the_key() {
        for (text, key) in [
            (r#"{"delimiter":"||"}"#, "mappings[0].delimiter"),
            (r#"{"subscription":"type ="}"#, "mappings[0].subscription"),
            (r#"{"colums":{}}"#, "mappings[0].colums"),
            (r#"{"columns":{"x":{"a":1}}}"#, "mappings[0].columns[\"x\"]"),
            (r#"{"batch_size":0}"#, "mappings[0].batch_size"),
            (r#"{"batch_size":1.5}"#, "mappings[0].batch_size"),
            (r#"{"file_extension":"tsv"}"#, "mappings[0].file_extension"),
            (
                r#"{"columns_to_transform":[{"column_name":"emial"}]}"#,
                "mappings[0].columns_to_transform[0].column_name",
            ),
            (
                r#"{"columns_to_transform":[{"column_name":"email","hash":"sha256"}]}"#,
                "mappings[0].columns_to_transform[0].hash",
            ),
            (
                r#"{"columns_to_transform":[{"column_name":"email","normalize":"upper"}]}"#,
                "mappings[0].columns_to_transform[0].normalize",
            ),
            (r#"{"name":"a","name":"b"}"#, "mappings[0].name"),
            (
                r#"{"column_types":{"email":"string"}}"#,
                "mappings[0].column_types",
            ),
            (
                r#"{"parquet_compression":"zstd"}"#,
                "mappings[0].parquet_compression",
            ),
            (
                r#"{"file_extension":"parquet","parquet_compression":"gzip"}"#,
                "mappings[0].parquet_compression",
            ),
            (
                r#"{"file_extension":"parquet","column_types":{"email":"text"}}"#,
                "mappings[0].column_types[\"email\"]",
            ),
            (
                r#"{"file_extension":"parquet","column_types":{"emial":"string"}}"#,
                "mappings[0].column_types[\"emial\"]",
            ),
            (
                r#"{"file_extension":"parquet","columns":{"a":"","b":{"@path":"$.b"}},"column_types":{"a":"int64"}}"#,
                "mappings[0].column_types[\"a\"]",
            ),
            (
                r#"{"file_extension":"parquet","column_types":{"batch_size":"string"}}"#,
                "mappings[0].column_types[\"batch_size\"]",
            ),
            (
                r#"{"file_extension":"parquet","column_types":["email"]}"#,
                "mappings[0].column_types",
            ),
            (
                r#"{"file_extension":"parquet","columns_to_transform":[{"column_name":"user_id","hash_algorithm":"sha256"}],"column_types":{"user_id":"int64"}}"#,
                "mappings[0].column_types[\"user_id\"]",
            ),
            (
                r#"{"file_extension":"parquet","columns":{"batch_size":{"@path":"$.n"}}}"#,
                "mappings[0].batch_size_column_name",
            ),
            (
                r#"{"file_extension":"parquet","columns":{"":{"@path":"$.n"}}}"#,
                "mappings[0].columns",
            ),
            (
                r#"{"file_extension":"parquet","columns":{},"audience_action_column_name":"","batch_size_column_name":""}"#,
                "mappings[0].columns",
            ),
        ] {
            let err = compile(text).unwrap_err();
            assert_eq!(err.key, key, "{text}: {err}");
        }
    }

    #[test]
    fn unknown_key_suggests_the_near_one() {
        let err = compile(r#"{"delimeter":","}"#).unwrap_err();
        assert!(err.reason.contains("did you mean \"delimiter\""), "{err}");
    }

    #[test]
    fn column_types_declare_the_parquet_schema() {
        let m = compile(
            r#"{"file_extension":"parquet","columns":{"n":{"@path":"$.n"},"at":{"@path":"$.t"},"p":{"@path":"$.p"}},
                "column_types":{"n":"int64","at":"timestamp","p":"json","audience_action":"boolean","batch_size":"int64"},
                "parquet_compression":"zstd"}"#,
        )
        .unwrap();
        assert_eq!(
            m.schema(),
            [
                ("n", ColumnType::Int64),
                ("at", ColumnType::Timestamp),
                ("p", ColumnType::Json),
                ("audience_action", ColumnType::Boolean),
                ("batch_size", ColumnType::Int64),
            ]
        );
        assert_eq!(m.parquet_compression, ParquetCompression::Zstd);
        assert_eq!(
            m.file_extension.content_type(),
            "application/vnd.apache.parquet"
        );
        let err =
            compile(r#"{"file_extension":"parquet","column_types":{"email":"int"}}"#).unwrap_err();
        assert!(err.reason.contains("did you mean \"int64\""), "{err}");
    }
}
