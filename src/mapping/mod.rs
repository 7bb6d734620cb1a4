//! Column mappings: value directives, cell rendering and column transforms (SPEC 3).
//!
//! A [`Directive`] is compiled once from the configuration and evaluated against each event;
//! [`render_cell`] turns what it resolves to into the text of one cell (3.2), and [`Transform`]
//! applies `columns_to_transform` (normalise, then SHA-256). Everything here is pure: no I/O, no
//! clock, no environment. Subscriptions (the FQL subset) live in [`subscription`].

pub mod row;
pub mod subscription;
pub mod types;

use sha2::{Digest, Sha256};

use crate::json::{self, Value};
use types::CellKind;

/// Why a directive in the configuration cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DirectiveError(pub String);

fn derr<T>(msg: impl Into<String>) -> Result<T, DirectiveError> {
    Err(DirectiveError(msg.into()))
}

/// A path into an event: `$` is the event, each step a member name (or an array index when the
/// step is a number and the value is an array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    name: String,
    index: Option<usize>,
}

impl Path {
    /// Parses `$`, `$.a.b` or (with `allow_bare`, as inside `{{ }}`) `a.b`.
    ///
    /// # Errors
    /// A message when the path is not of that form or has an empty step.
    pub fn parse(text: &str, allow_bare: bool) -> Result<Path, DirectiveError> {
        let rest = if text == "$" {
            return Ok(Path { steps: Vec::new() });
        } else if let Some(rest) = text.strip_prefix("$.") {
            rest
        } else if allow_bare && !text.is_empty() && !text.starts_with('$') {
            text
        } else {
            return derr(format!("path {text:?} must be \"$\" or start with \"$.\""));
        };
        let mut steps = Vec::new();
        for name in rest.split('.') {
            if name.is_empty() {
                return derr(format!("path {text:?} has an empty step"));
            }
            let index = if name.bytes().all(|b| b.is_ascii_digit()) {
                name.parse().ok()
            } else {
                None
            };
            steps.push(Step {
                name: name.to_owned(),
                index,
            });
        }
        Ok(Path { steps })
    }

    /// The value at this path in `root`, or `None` when a step is missing.
    pub fn lookup<'v, 'a>(&self, root: &'v Value<'a>) -> Option<&'v Value<'a>> {
        let mut v = root;
        for step in &self.steps {
            v = match v.resolved() {
                o @ Value::Object(_) => o.get(&step.name)?,
                Value::Array(items) => items.get(step.index?)?,
                _ => return None,
            };
        }
        Some(v)
    }
}

/// One compiled value directive (SPEC 3.1).
#[derive(Debug, Clone, PartialEq)]
pub enum Directive {
    /// A literal value: a plain string, number, boolean or null, or `{"@literal": V}`.
    Literal(Value<'static>),
    /// `{"@path": "$.a.b"}`.
    Path(Path),
    /// `{"@if": {"exists": D, "then": D1, "else": D2}}`.
    If {
        /// The tested directive.
        exists: Box<Directive>,
        /// Used when `exists` resolves to something other than missing or null.
        then: Box<Directive>,
        /// Used otherwise; `None` gives missing.
        otherwise: Option<Box<Directive>>,
    },
    /// `{"@template": "text {{a.b}}"}`.
    Template(Vec<TemplatePart>),
}

/// A piece of a `@template`.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// A `{{path}}` placeholder.
    Path(Path),
}

/// What a directive resolves to for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved<'v, 'a> {
    /// Nothing there.
    Missing,
    /// A value from the event.
    Value(&'v Value<'a>),
    /// A literal from the configuration.
    Literal(&'v Value<'static>),
    /// Text made by a template.
    Text(String),
}

impl Resolved<'_, '_> {
    /// Whether `@if` counts this as existing: anything but missing and null.
    fn exists(&self) -> bool {
        !matches!(
            self,
            Resolved::Missing | Resolved::Value(Value::Null) | Resolved::Literal(Value::Null)
        )
    }
}

impl Directive {
    /// Compiles a directive from its JSON form.
    ///
    /// # Errors
    /// A message naming what is wrong: a plain object or array (write `{"@literal": ...}`), an
    /// unknown `@` operator, more than one key, or a malformed path, `@if` or template.
    pub fn compile(v: &Value<'_>) -> Result<Directive, DirectiveError> {
        let members =
            match v {
                Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
                    return Ok(Directive::Literal(v.clone().into_owned()))
                }
                Value::Array(_) | Value::TooDeep(_) | Value::Lazy(_) => return derr(
                    "an array is not a directive; write {\"@literal\": [...]} for a literal array",
                ),
                Value::Object(members) => members,
            };
        let [(op, arg)] = members.as_slice() else {
            return derr(if members.is_empty() {
                "an empty object is not a directive; write {\"@literal\": {}} for a literal object"
                    .to_owned()
            } else if members.iter().any(|(k, _)| k.starts_with('@')) {
                format!(
                    "a directive object must have exactly one key, found {}",
                    members.len()
                )
            } else {
                "a plain object is not a directive; write {\"@literal\": {...}} for a literal object"
                    .to_owned()
            });
        };
        match op.as_ref() {
            "@literal" => Ok(Directive::Literal(arg.clone().into_owned())),
            "@path" => match arg {
                Value::String(p) => Ok(Directive::Path(Path::parse(p, false)?)),
                _ => derr(format!("@path takes a string, found {}", arg.type_name())),
            },
            "@template" => match arg {
                Value::String(t) => Ok(Directive::Template(compile_template(t)?)),
                _ => derr(format!("@template takes a string, found {}", arg.type_name())),
            },
            "@if" => compile_if(arg),
            other if other.starts_with('@') => derr(format!(
                "unknown directive {other:?} (known: @path, @if, @template, @literal)"
            )),
            _ => derr(
                "a plain object is not a directive; write {\"@literal\": {...}} for a literal object",
            ),
        }
    }

    /// Resolves this directive against `event`.
    pub fn resolve<'v, 'a>(&'v self, event: &'v Value<'a>) -> Resolved<'v, 'a> {
        match self {
            Directive::Literal(v) => Resolved::Literal(v),
            Directive::Path(p) => p.lookup(event).map_or(Resolved::Missing, Resolved::Value),
            Directive::If {
                exists,
                then,
                otherwise,
            } => {
                if exists.resolve(event).exists() {
                    then.resolve(event)
                } else {
                    otherwise
                        .as_ref()
                        .map_or(Resolved::Missing, |d| d.resolve(event))
                }
            }
            Directive::Template(parts) => {
                let mut s = String::new();
                for part in parts {
                    match part {
                        TemplatePart::Text(t) => s.push_str(t),
                        TemplatePart::Path(p) => {
                            if let Some(v) = p.lookup(event) {
                                render_value(v, &mut s);
                            }
                        }
                    }
                }
                Resolved::Text(s)
            }
        }
    }

    /// Resolves this directive and appends the cell text (3.2) to `out`.
    pub fn render(&self, event: &Value<'_>, out: &mut String) {
        let _ = self.render_kind(event, out);
    }

    /// [`Directive::render`], also saying what kind of value the text came from (for typed
    /// columns: a JSON column tells the string `"1"` from the number `1`).
    pub fn render_kind(&self, event: &Value<'_>, out: &mut String) -> CellKind {
        match self {
            // The common case, without building a `Resolved`.
            Directive::Path(p) => match p.lookup(event) {
                Some(v) => {
                    render_value(v, out);
                    CellKind::of(v)
                }
                None => CellKind::Null,
            },
            _ => {
                let r = self.resolve(event);
                render_cell(&r, out);
                match r {
                    Resolved::Missing => CellKind::Null,
                    Resolved::Value(v) => CellKind::of(v),
                    Resolved::Literal(v) => CellKind::of(v),
                    Resolved::Text(_) => CellKind::Text,
                }
            }
        }
    }
}

fn compile_if(arg: &Value<'_>) -> Result<Directive, DirectiveError> {
    let Value::Object(members) = arg else {
        return derr(format!(
            "@if takes an object with \"exists\", \"then\" and \"else\", found {}",
            arg.type_name()
        ));
    };
    let (mut exists, mut then, mut otherwise) = (None, None, None);
    for (k, v) in members {
        let slot = match k.as_ref() {
            "exists" => &mut exists,
            "then" => &mut then,
            "else" => &mut otherwise,
            other => {
                return derr(format!(
                    "@if has an unknown key {other:?} (known: exists, then, else)"
                ))
            }
        };
        if slot.is_some() {
            return derr(format!("@if has the key {k:?} twice"));
        }
        let d = Directive::compile(v).map_err(|e| DirectiveError(format!("@if.{k}: {e}")))?;
        *slot = Some(Box::new(d));
    }
    let Some(exists) = exists else {
        return derr("@if needs an \"exists\" directive");
    };
    let Some(then) = then else {
        return derr("@if needs a \"then\" directive");
    };
    Ok(Directive::If {
        exists,
        then,
        otherwise,
    })
}

fn compile_template(t: &str) -> Result<Vec<TemplatePart>, DirectiveError> {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(TemplatePart::Text(rest[..open].to_owned()));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return derr(format!("@template {t:?} has a \"{{{{\" without \"}}}}\""));
        };
        let inner = after[..close].trim();
        if inner.is_empty() {
            return derr(format!("@template {t:?} has an empty {{{{ }}}}"));
        }
        let path = Path::parse(inner, true)
            .map_err(|e| DirectiveError(format!("@template {t:?}: {e}")))?;
        parts.push(TemplatePart::Path(path));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest.to_owned()));
    }
    Ok(parts)
}

/// Appends the cell text of a resolved value (3.2): missing and null give nothing, a string
/// itself, a number its input text, a boolean `true`/`false`, an object or array compact JSON.
pub fn render_cell(r: &Resolved<'_, '_>, out: &mut String) {
    match r {
        Resolved::Missing => {}
        Resolved::Value(v) => render_value(v, out),
        Resolved::Literal(v) => render_value(v, out),
        Resolved::Text(t) => out.push_str(t),
    }
}

/// Appends the cell text of one value (3.2).
pub fn render_value(v: &Value<'_>, out: &mut String) {
    match v {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Number(n) => out.push_str(n),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Array(_) | Value::Object(_) | Value::TooDeep(_) | Value::Lazy(_) => {
            json::write_compact(v, out)
        }
    }
}

/// How `columns_to_transform` normalises a cell before hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalize {
    /// Leave the text as it is.
    None,
    /// Full Unicode lower-casing.
    Lowercase,
    /// Remove leading and trailing Unicode white space.
    Trim,
    /// Trim, then lower-case.
    LowercaseTrim,
}

impl Normalize {
    /// The configuration spelling of each variant.
    pub const NAMES: [(&'static str, Normalize); 4] = [
        ("none", Normalize::None),
        ("lowercase", Normalize::Lowercase),
        ("trim", Normalize::Trim),
        ("lowercase_trim", Normalize::LowercaseTrim),
    ];
}

/// One compiled `columns_to_transform` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transform {
    /// Normalisation, applied first.
    pub normalize: Normalize,
    /// Whether the (normalised) text is replaced by its SHA-256.
    pub sha256: bool,
}

impl Transform {
    /// Applies the transform to a cell's text in place; an empty cell stays empty.
    pub fn apply(&self, cell: &mut String) {
        if cell.is_empty() {
            return;
        }
        match self.normalize {
            Normalize::None => {}
            Normalize::Lowercase => *cell = cell.to_lowercase(),
            Normalize::Trim => *cell = cell.trim().to_owned(),
            Normalize::LowercaseTrim => *cell = cell.trim().to_lowercase(),
        }
        if self.sha256 && !is_sha256_hex(cell) {
            let digest = Sha256::digest(cell.as_bytes());
            cell.clear();
            push_hex(&digest, cell);
        }
    }
}

/// Whether `s` already is 64 lower-case hex characters (a SHA-256 in hex).
fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Appends `bytes` as lower-case hex.
pub fn push_hex(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xf) as usize] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn directive(text: &str) -> Directive {
        Directive::compile(&parse(text).unwrap()).unwrap()
    }

    fn cell(d: &str, event: &str) -> String {
        let mut out = String::new();
        directive(d).render(&parse(event).unwrap(), &mut out);
        out
    }

    #[test]
    fn path_steps_into_objects_and_arrays() {
        let e = r#"{"a":{"b":[10,{"c":"x"}]},"0":{"1":"obj"}}"#;
        assert_eq!(cell(r#"{"@path":"$.a.b.1.c"}"#, e), "x");
        assert_eq!(cell(r#"{"@path":"$.a.b.0"}"#, e), "10");
        assert_eq!(cell(r#"{"@path":"$.0.1"}"#, e), "obj");
        assert_eq!(cell(r#"{"@path":"$.a.b.9"}"#, e), "");
        assert_eq!(cell(r#"{"@path":"$.a.nope.x"}"#, e), "");
    }

    #[test]
    fn whole_event_path_renders_compact_json() {
        assert_eq!(cell(r#"{"@path":"$"}"#, r#"{ "a" : 1 }"#), r#"{"a":1}"#);
    }

    #[test]
    fn literals_render_as_cells() {
        assert_eq!(cell("\"text\"", "{}"), "text");
        assert_eq!(cell("1.0E+2", "{}"), "1.0E+2");
        assert_eq!(cell("true", "{}"), "true");
        assert_eq!(cell("null", "{}"), "");
        assert_eq!(
            cell(r#"{"@literal":{"a":[1,2.50,null],"b":"x"}}"#, "{}"),
            r#"{"a":[1,2.50,null],"b":"x"}"#
        );
    }

    #[test]
    fn if_treats_null_as_absent_and_empty_string_as_present() {
        let d = r#"{"@if":{"exists":{"@path":"$.a"},"then":"yes","else":"no"}}"#;
        assert_eq!(cell(d, r#"{"a":""}"#), "yes");
        assert_eq!(cell(d, r#"{"a":null}"#), "no");
        assert_eq!(cell(d, r#"{}"#), "no");
        let no_else = r#"{"@if":{"exists":{"@path":"$.a"},"then":{"@path":"$.a"}}}"#;
        assert_eq!(cell(no_else, r#"{}"#), "");
    }

    #[test]
    fn template_renders_values_as_cells() {
        let d = r#"{"@template":"{{ $.a }}-{{b}}-[{{c}}]-{{d.0}}"}"#;
        assert_eq!(
            cell(d, r#"{"a":"x","b":{"k":1.50},"d":[true]}"#),
            "x-{\"k\":1.50}-[]-true"
        );
    }

    #[test]
    fn bad_directives_are_refused_with_a_reason() {
        for (text, fragment) in [
            (r#"{"a":1}"#, "@literal"),
            ("[1]", "@literal"),
            ("{}", "@literal"),
            (r#"{"@path":"a.b"}"#, "must be"),
            (r#"{"@path":"$.a..b"}"#, "empty step"),
            (r#"{"@path":1}"#, "takes a string"),
            (r#"{"@nope":"x"}"#, "unknown directive"),
            (r#"{"@path":"$.a","@literal":1}"#, "exactly one key"),
            (r#"{"@if":{"then":1}}"#, "exists"),
            (r#"{"@if":{"exists":1,"then":1,"other":1}}"#, "unknown key"),
            (r#"{"@template":"{{a"}"#, "without"),
            (r#"{"@template":"{{ }}"}"#, "empty"),
        ] {
            let err = Directive::compile(&parse(text).unwrap()).unwrap_err();
            assert!(err.0.contains(fragment), "{text}: {err}");
        }
    }

    #[test]
    fn transform_normalizes_then_hashes() {
        let t = Transform {
            normalize: Normalize::LowercaseTrim,
            sha256: true,
        };
        let mut c = "  Ada@Example.COM ".to_owned();
        t.apply(&mut c);
        // sha256("ada@example.com"), written out independently
        let want: String = Sha256::digest(b"ada@example.com")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(c, want);
    }

    #[test]
    fn transform_keeps_an_existing_hash_and_empty_cells() {
        let t = Transform {
            normalize: Normalize::None,
            sha256: true,
        };
        let hashed = "a".repeat(64);
        let mut c = hashed.clone();
        t.apply(&mut c);
        assert_eq!(c, hashed);
        let mut empty = String::new();
        t.apply(&mut empty);
        assert_eq!(empty, "");
        let mut upper = "A".repeat(64);
        t.apply(&mut upper);
        assert_ne!(upper, "A".repeat(64));
    }

    #[test]
    fn unicode_normalization_is_full() {
        let t = Transform {
            normalize: Normalize::LowercaseTrim,
            sha256: false,
        };
        let mut c = "\u{3000}ÀÉÎ\u{a0}".to_owned();
        t.apply(&mut c);
        assert_eq!(c, "àéî");
    }
}
