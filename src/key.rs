//! Object keys (SPEC 4): the `key_template`, its tokens, and token sanitising.
//!
//! [`KeyTemplate::render`] is the one function that builds a data object's key and
//! [`error_key`] the one for the rejected-items object. Values that come from configuration or
//! events (`{folder}`, `{type}`, `{mapping}`, `{prefix_}`) are sanitised so they cannot escape
//! their place: only `[A-Za-z0-9!-_.*'()/]` survive, empty segments go, `.` and `..` become `_`.
//! Pure: the time is passed in as a [`Stamp`].

use crate::format::Compression;
use crate::mapping::push_hex;

/// The default object key layout (SPEC 2.2).
pub const DEFAULT_KEY_TEMPLATE: &str = "{folder}{type}/{prefix_}{time}_{id}.{ext}";

/// `{id}`: the first 16 lower-case hex digits of the SHA-256 of the bytes as stored.
pub fn content_id(sha256: &[u8; 32]) -> String {
    let mut id = String::with_capacity(16);
    push_hex(&sha256[..8], &mut id);
    id
}

/// Keys longer than this are refused by S3.
pub const MAX_KEY_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Folder,
    Type,
    Mapping,
    Prefix,
    Time,
    Date,
    Hour,
    Id,
    Ext,
}

const TOKENS: [(&str, Part); 9] = [
    ("folder", Part::Folder),
    ("type", Part::Type),
    ("mapping", Part::Mapping),
    ("prefix_", Part::Prefix),
    ("time", Part::Time),
    ("date", Part::Date),
    ("hour", Part::Hour),
    ("id", Part::Id),
    ("ext", Part::Ext),
];

/// A parsed `key_template`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    text: String,
    parts: Vec<Part>,
}

/// The upload time, rendered once per invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// `2026-01-08T13-52-50-212Z`.
    pub time: String,
    /// `2026-01-08`.
    pub date: String,
    /// `13`.
    pub hour: String,
    /// The time itself, in milliseconds since the Unix epoch.
    pub unix_ms: i64,
}

impl Stamp {
    /// The stamp of a time given as milliseconds since the Unix epoch (UTC).
    pub fn from_unix_millis(ms: i64) -> Stamp {
        let secs = ms.div_euclid(1000);
        let millis = ms.rem_euclid(1000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
        Stamp {
            time: format!("{y:04}-{m:02}-{d:02}T{hh:02}-{mm:02}-{ss:02}-{millis:03}Z"),
            date: format!("{y:04}-{m:02}-{d:02}"),
            hour: format!("{hh:02}"),
            unix_ms: ms,
        }
    }

    /// The time, in milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        self.unix_ms
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// What one data object's key is made of.
#[derive(Debug, Clone, Copy)]
pub struct KeyParts<'a> {
    /// The folder as resolved from the mapping, before sanitising.
    pub folder: &'a str,
    /// The event type.
    pub event_type: &'a str,
    /// The mapping's name.
    pub mapping: &'a str,
    /// The mapping's `filename_prefix`, as configured.
    pub prefix: &'a str,
    /// The upload time.
    pub stamp: &'a Stamp,
    /// The content id: 16 hex digits.
    pub id: &'a str,
    /// `csv` or `txt`.
    pub extension: &'a str,
    /// Whether the object is gzip-compressed (`.gz` is appended to `{ext}`).
    pub compression: Compression,
}

impl KeyTemplate {
    /// Parses a template.
    ///
    /// # Errors
    /// A message when a `{token}` is unknown, a brace is unbalanced, `{id}` is absent, or the
    /// literal text holds an empty, `.` or `..` segment.
    pub fn parse(text: &str) -> Result<KeyTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                Some(i) if rest.as_bytes()[i] == b'}' => {
                    return Err(format!("{text:?} has a \"}}\" without \"{{\""));
                }
                Some(i) => {
                    if i > 0 {
                        parts.push(Part::Text(rest[..i].to_owned()));
                    }
                    let Some(close) = rest[i..].find('}') else {
                        return Err(format!("{text:?} has a \"{{\" without \"}}\""));
                    };
                    let name = &rest[i + 1..i + close];
                    let Some((_, part)) = TOKENS.iter().find(|(n, _)| *n == name) else {
                        return Err(format!(
                            "unknown token {{{name}}} (known: {})",
                            TOKENS.map(|(n, _)| format!("{{{n}}}")).join(" ")
                        ));
                    };
                    parts.push(part.clone());
                    rest = &rest[i + close + 1..];
                }
                None => {
                    parts.push(Part::Text(rest.to_owned()));
                    rest = "";
                }
            }
        }
        if !parts.contains(&Part::Id) {
            return Err(format!(
                "{text:?} must contain {{id}}, so that two different objects never get the same key"
            ));
        }
        let literal: String = parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                _ => "x",
            })
            .collect();
        if literal.starts_with('/')
            || literal
                .split('/')
                .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return Err(format!(
                "{text:?} must not start with \"/\" or hold an empty, \".\" or \"..\" segment"
            ));
        }
        if literal.chars().any(char::is_control) {
            return Err(format!("{text:?} must not hold control characters"));
        }
        Ok(KeyTemplate {
            text: text.to_owned(),
            parts,
        })
    }

    /// The template as configured.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether keys carry the upload time (without it they are content-addressed).
    pub fn has_time(&self) -> bool {
        self.parts.contains(&Part::Time)
    }

    /// Refuses a template whose literal text alone makes keys longer than S3 allows.
    ///
    /// # Errors
    /// A message with the length.
    pub fn check_static_length(&self) -> Result<(), String> {
        let fixed: usize = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.len(),
                Part::Id => 16,
                Part::Time => 24,
                Part::Date => 10,
                Part::Hour => 2,
                _ => 0,
            })
            .sum();
        if fixed > MAX_KEY_BYTES {
            return Err(format!(
                "keys would be at least {fixed} bytes; S3 allows {MAX_KEY_BYTES}"
            ));
        }
        Ok(())
    }

    /// The key of one data object. Empty segments made by empty tokens are removed, so the key
    /// never holds an empty, `.` or `..` segment.
    pub fn render(&self, k: &KeyParts<'_>) -> String {
        let mut key = String::with_capacity(96);
        for part in &self.parts {
            match part {
                Part::Text(t) => key.push_str(t),
                Part::Folder => key.push_str(&folder_token(k.folder)),
                Part::Type => key.push_str(&sanitize(k.event_type)),
                Part::Mapping => key.push_str(&sanitize(k.mapping)),
                Part::Prefix => key.push_str(&prefix_token(k.prefix)),
                Part::Time => key.push_str(&k.stamp.time),
                Part::Date => key.push_str(&k.stamp.date),
                Part::Hour => key.push_str(&k.stamp.hour),
                Part::Id => key.push_str(k.id),
                Part::Ext => {
                    key.push_str(k.extension);
                    if k.compression == Compression::Gzip {
                        key.push_str(".gz");
                    }
                }
            }
        }
        normalize_segments(&key)
    }
}

/// The rejected-items object's key: `{error_prefix}{date}/{time}_{id}.ndjson`, the prefix as
/// written.
pub fn error_key(error_prefix: &str, stamp: &Stamp, id: &str) -> String {
    format!("{error_prefix}{}/{}_{id}.ndjson", stamp.date, stamp.time)
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!-_.*'()/".contains(c)
}

/// Sanitises a token from configuration or an event: each character outside
/// `[A-Za-z0-9!-_.*'()/]` becomes `_`, empty segments go, `.` and `..` segments become `_`.
pub fn sanitize(raw: &str) -> String {
    let replaced: String = raw
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    normalize_segments(&replaced)
}

/// Removes empty segments and turns `.` and `..` segments into `_`.
fn normalize_segments(s: &str) -> String {
    if !s.contains("//") && !s.starts_with('/') && !s.ends_with('/') && !s.contains('.') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for seg in s.split('/').filter(|seg| !seg.is_empty()) {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(if seg == "." || seg == ".." { "_" } else { seg });
    }
    out
}

/// `{folder}`: sanitised segment by segment, then one `/` appended when anything is left.
pub fn folder_token(raw: &str) -> String {
    let mut f = sanitize(raw);
    if !f.is_empty() {
        f.push('/');
    }
    f
}

/// `{prefix_}`: a trailing `.csv`/`.txt` dropped, `_` appended, then sanitised; empty for no
/// prefix.
pub fn prefix_token(raw: &str) -> String {
    if raw.is_empty() {
        return String::new();
    }
    let base = raw
        .strip_suffix(".csv")
        .or_else(|| raw.strip_suffix(".txt"))
        .unwrap_or(raw);
    sanitize(&format!("{base}_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp::from_unix_millis(1_767_880_370_212) // 2026-01-08T13:52:50.212Z
    }

    fn parts<'a>(folder: &'a str, st: &'a Stamp) -> KeyParts<'a> {
        KeyParts {
            folder,
            event_type: "track",
            mapping: "Web Events",
            prefix: "",
            stamp: st,
            id: "0123456789abcdef",
            extension: "csv",
            compression: Compression::None,
        }
    }

    #[test]
    fn stamp_formats_utc_milliseconds() {
        let s = stamp();
        assert_eq!(s.time, "2026-01-08T13-52-50-212Z");
        assert_eq!(s.date, "2026-01-08");
        assert_eq!(s.hour, "13");
        assert_eq!(Stamp::from_unix_millis(0).time, "1970-01-01T00-00-00-000Z");
        assert_eq!(Stamp::from_unix_millis(951_782_400_000).date, "2000-02-29");
    }

    #[test]
    fn default_template_renders() {
        let t = KeyTemplate::parse(DEFAULT_KEY_TEMPLATE).unwrap();
        let st = stamp();
        assert_eq!(
            t.render(&parts("", &st)),
            "track/2026-01-08T13-52-50-212Z_0123456789abcdef.csv"
        );
        let mut p = parts("/reports/2026 Q1/", &st);
        p.prefix = "daily export.csv";
        p.compression = Compression::Gzip;
        assert_eq!(
            t.render(&p),
            "reports/2026_Q1/track/daily_export_2026-01-08T13-52-50-212Z_0123456789abcdef.csv.gz"
        );
    }

    #[test]
    fn folder_is_sanitised_per_character_and_segment() {
        assert_eq!(folder_token("../../etc/passwd"), "_/_/etc/passwd/");
        assert_eq!(folder_token("données/été"), "donn_es/_t_/");
        assert_eq!(folder_token("a//b///c/"), "a/b/c/");
        assert_eq!(folder_token("/"), "");
        assert_eq!(folder_token("*star*(paren)!'"), "*star*(paren)!'/");
        assert_eq!(folder_token("😀"), "_/");
    }

    #[test]
    fn template_errors() {
        for bad in [
            "{type}/{time}.{ext}",
            "{id}{nope}",
            "{id}{",
            "{id}}",
            "/{id}",
            "a//{id}",
            "../{id}",
        ] {
            assert!(KeyTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_tokens_leave_no_empty_segment() {
        let t = KeyTemplate::parse("{mapping}/{folder}{type}/{id}").unwrap();
        let st = stamp();
        let mut p = parts("", &st);
        p.mapping = "";
        assert_eq!(t.render(&p), "track/0123456789abcdef");
    }

    #[test]
    fn error_key_uses_the_prefix_as_written() {
        assert_eq!(
            error_key("_errors/", &stamp(), "0123456789abcdef"),
            "_errors/2026-01-08/2026-01-08T13-52-50-212Z_0123456789abcdef.ndjson"
        );
    }
}
