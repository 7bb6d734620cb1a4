//! Column types (issue 14's `column_types`): what a Parquet column holds, and how one rendered
//! cell becomes a value of that type. A cell is converted from its text as the CSV would show it
//! (3.2, after `columns_to_transform`), and from what kind of value it came from, so that a JSON
//! column can tell the string `"1"` from the number `1`.
//!
//! A cell that does not convert is not guessed at: [`convert`] says why, naming the type, and the
//! caller writes a null and records the event. Numbers keep their exact value or are refused:
//! `int64` takes `2`, `2.0` and `2e3` but not `2.5` or anything beyond its range; `double`
//! takes any JSON number a double can hold (rounded to the nearest double). Pure.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::json::{self, Value};

/// A column's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text (the default).
    String,
    /// A signed 64-bit integer.
    Int64,
    /// An IEEE 754 double.
    Double,
    /// `true` or `false`.
    Boolean,
    /// RFC 3339 text as a UTC instant in milliseconds.
    Timestamp,
    /// JSON text, with Parquet's JSON logical type.
    Json,
}

impl ColumnType {
    /// The names `column_types` takes, with their types.
    pub const NAMES: [(&'static str, ColumnType); 6] = [
        ("string", ColumnType::String),
        ("int64", ColumnType::Int64),
        ("double", ColumnType::Double),
        ("boolean", ColumnType::Boolean),
        ("timestamp", ColumnType::Timestamp),
        ("json", ColumnType::Json),
    ];

    /// The type's name as `column_types` spells it.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Int64 => "int64",
            ColumnType::Double => "double",
            ColumnType::Boolean => "boolean",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Json => "json",
        }
    }

    /// The type named `name`, if any.
    pub fn from_name(name: &str) -> Option<ColumnType> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }
}

/// What kind of value a cell's text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// Missing or null: the cell is empty.
    Null,
    /// A string (or a template's text, or a hashed cell): the text is the string itself.
    Text,
    /// A number, boolean, object or array: the text is its JSON.
    Json,
}

impl CellKind {
    /// The kind of a resolved value.
    pub fn of(v: &Value<'_>) -> CellKind {
        match v {
            Value::Null => CellKind::Null,
            Value::String(_) => CellKind::Text,
            _ => CellKind::Json,
        }
    }
}

/// One cell, converted to its column's type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Typed<'t> {
    /// No value.
    Null,
    /// Text stored as it is (`string`, and `json` cells that hold JSON).
    Text(&'t str),
    /// Text stored as a JSON string literal (a `json` cell that came from a string).
    JsonString(&'t str),
    /// `int64`, and `timestamp` in milliseconds since the epoch.
    Int(i64),
    /// `double`.
    Double(f64),
    /// `boolean`.
    Bool(bool),
}

/// Converts one cell (`text`, from a value of `kind`) to `ty`.
///
/// A null cell is null in every type; so is an empty cell in a type other than `string` and
/// `json` (the CSV would show the same empty cell: nothing is lost).
///
/// # Errors
/// Why the text is not a value of `ty`, for the error record (the caller adds the column).
pub fn convert<'t>(ty: ColumnType, kind: CellKind, text: &'t str) -> Result<Typed<'t>, String> {
    if kind == CellKind::Null {
        return Ok(Typed::Null);
    }
    match ty {
        ColumnType::String => return Ok(Typed::Text(text)),
        ColumnType::Json => {
            return Ok(match kind {
                CellKind::Json => Typed::Text(text),
                _ => Typed::JsonString(text),
            })
        }
        _ if text.is_empty() => return Ok(Typed::Null),
        _ => {}
    }
    let refused = |why: &str| Err(format!("{} {why}", quoted(text)));
    match ty {
        ColumnType::Int64 => match exact_integer(text) {
            Ok(n) => Ok(Typed::Int(n)),
            Err(why) => refused(why),
        },
        ColumnType::Double => {
            if !is_json_number(text) {
                return refused("is not a number");
            }
            match text.parse::<f64>() {
                Ok(d) if d.is_finite() => Ok(Typed::Double(d)),
                _ => refused("is beyond a double's range"),
            }
        }
        ColumnType::Boolean => match text {
            "true" => Ok(Typed::Bool(true)),
            "false" => Ok(Typed::Bool(false)),
            _ => refused("is not true or false"),
        },
        ColumnType::Timestamp => match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(t) => {
                let millis = t.unix_timestamp_nanos().div_euclid(1_000_000);
                match i64::try_from(millis) {
                    Ok(ms) => Ok(Typed::Int(ms)),
                    Err(_) => refused("is beyond the timestamp range"),
                }
            }
            Err(_) => refused("is not an RFC 3339 timestamp like 2026-01-08T13:52:50.212Z"),
        },
        ColumnType::String | ColumnType::Json => Ok(Typed::Text(text)),
    }
}

/// The cell quoted for an error record, cut to 80 characters.
fn quoted(text: &str) -> String {
    const MAX: usize = 80;
    let mut out = String::new();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => {
            json::write_string(&text[..cut], &mut out);
            out.push('…');
        }
        None => json::write_string(text, &mut out),
    }
    out
}

fn is_json_number(text: &str) -> bool {
    json::scan_number(text.as_bytes()).is_ok_and(|n| n.len == text.len())
}

/// The exact integer value of a JSON number's text, when it has one that fits in an `i64`.
fn exact_integer(text: &str) -> Result<i64, &'static str> {
    let n = match json::scan_number(text.as_bytes()) {
        Ok(n) if n.len == text.len() => n,
        _ => return Err("is not a number"),
    };
    if n.frac.is_empty() && n.exp.is_empty() {
        // Plain digits, the common case: no copy.
        return text.parse().map_err(|_| "is beyond int64's range");
    }
    // The significant digits, and the power of ten they are multiplied by.
    let mut digits: Vec<u8> = n.int.iter().chain(n.frac).copied().collect();
    let exp: i64 = if n.exp.is_empty() {
        0
    } else {
        // More than 19 exponent digits means a value far beyond or below any i64.
        match std::str::from_utf8(n.exp)
            .ok()
            .and_then(|e| e.parse::<i64>().ok())
        {
            Some(e) if n.exp_negative => -e,
            Some(e) => e,
            None if n.exp_negative => i64::MIN / 2,
            None => i64::MAX / 2,
        }
    };
    let frac_len = i64::try_from(n.frac.len()).unwrap_or(i64::MAX / 2);
    let mut scale = exp.saturating_sub(frac_len);
    let first = digits
        .iter()
        .position(|d| *d != b'0')
        .unwrap_or(digits.len());
    digits.drain(..first);
    if digits.is_empty() {
        return Ok(0);
    }
    while scale < 0 {
        match digits.last() {
            Some(b'0') => {
                digits.pop();
                scale += 1;
            }
            _ => return Err("is not a whole number"),
        }
    }
    // i64 has at most 19 digits.
    let width = i64::try_from(digits.len())
        .unwrap_or(i64::MAX)
        .saturating_add(scale);
    if width > 19 {
        return Err("is beyond int64's range");
    }
    let mut magnitude: i128 = 0;
    for d in digits {
        magnitude = magnitude * 10 + i128::from(d - b'0');
    }
    for _ in 0..scale {
        magnitude *= 10;
    }
    let value = if n.negative { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| "is beyond int64's range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(text: &str) -> Result<Typed<'_>, String> {
        convert(ColumnType::Int64, CellKind::Json, text)
    }

    #[test]
    fn int64_takes_exact_whole_numbers_only() {
        for (text, want) in [
            ("0", 0),
            ("-0", 0),
            ("42", 42),
            ("-7", -7),
            ("2.0", 2),
            ("2.500e1", 25),
            ("1e3", 1000),
            ("1200e-2", 12),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
            ("0.0000e99999999999999999999", 0),
        ] {
            assert_eq!(int(text), Ok(Typed::Int(want)), "{text}");
        }
        for (text, why) in [
            ("1.5", "is not a whole number"),
            ("1e-1", "is not a whole number"),
            ("9223372036854775808", "is beyond int64's range"),
            ("-9223372036854775809", "is beyond int64's range"),
            ("12345678901234567890", "is beyond int64's range"),
            ("1e19", "is beyond int64's range"),
            ("1e99999999999999999999", "is beyond int64's range"),
            ("1e-99999999999999999999", "is not a whole number"),
            ("abc", "is not a number"),
            ("+1", "is not a number"),
            (" 1", "is not a number"),
            ("01", "is not a number"),
            ("true", "is not a number"),
        ] {
            let err = int(text).unwrap_err();
            assert!(err.ends_with(why), "{text}: {err}");
        }
    }

    #[test]
    fn a_string_holding_a_number_converts_like_the_number() {
        assert_eq!(
            convert(ColumnType::Int64, CellKind::Text, "42"),
            Ok(Typed::Int(42))
        );
        assert_eq!(
            convert(ColumnType::Double, CellKind::Text, "4.5"),
            Ok(Typed::Double(4.5))
        );
    }

    #[test]
    fn double_takes_what_a_double_can_hold() {
        let d = |t| convert(ColumnType::Double, CellKind::Json, t);
        assert_eq!(d("1.5"), Ok(Typed::Double(1.5)));
        assert_eq!(d("-2e-3"), Ok(Typed::Double(-0.002)));
        assert_eq!(
            d("12345678901234567890"),
            Ok(Typed::Double(12_345_678_901_234_567_890.0))
        );
        assert!(d("1e400").unwrap_err().ends_with("beyond a double's range"));
        assert!(d("NaN").unwrap_err().ends_with("is not a number"));
        assert!(d("1.").is_err());
    }

    #[test]
    fn timestamps_honour_offsets_and_keep_milliseconds() {
        let t = |text| convert(ColumnType::Timestamp, CellKind::Text, text);
        assert_eq!(t("1970-01-01T00:00:00Z"), Ok(Typed::Int(0)));
        assert_eq!(
            t("2026-01-08T13:52:50.212Z"),
            Ok(Typed::Int(1_767_880_370_212))
        );
        assert_eq!(
            t("2026-01-08T15:52:50.212+02:00"),
            Ok(Typed::Int(1_767_880_370_212))
        );
        // Sub-millisecond digits are cut, towards the past, also before 1970.
        assert_eq!(
            t("2026-01-08T13:52:50.2129999Z"),
            Ok(Typed::Int(1_767_880_370_212))
        );
        assert_eq!(t("1969-12-31T23:59:59.9995Z"), Ok(Typed::Int(-1)));
        for bad in [
            "2026-01-08",
            "2026-13-01T00:00:00Z",
            "1767880370212",
            "yesterday",
        ] {
            assert!(
                t(bad).unwrap_err().contains("not an RFC 3339 timestamp"),
                "{bad}"
            );
        }
    }

    #[test]
    fn booleans_nulls_and_empty_cells() {
        let b = |kind, text| convert(ColumnType::Boolean, kind, text);
        assert_eq!(b(CellKind::Json, "true"), Ok(Typed::Bool(true)));
        assert_eq!(b(CellKind::Text, "false"), Ok(Typed::Bool(false)));
        assert!(b(CellKind::Json, "1").is_err());
        assert_eq!(b(CellKind::Null, ""), Ok(Typed::Null));
        assert_eq!(b(CellKind::Text, ""), Ok(Typed::Null));
        assert_eq!(
            convert(ColumnType::String, CellKind::Text, ""),
            Ok(Typed::Text(""))
        );
        assert_eq!(
            convert(ColumnType::String, CellKind::Null, ""),
            Ok(Typed::Null)
        );
    }

    #[test]
    fn json_columns_keep_strings_apart_from_json() {
        let j = |kind, text| convert(ColumnType::Json, kind, text);
        assert_eq!(j(CellKind::Json, "{\"a\":1}"), Ok(Typed::Text("{\"a\":1}")));
        assert_eq!(j(CellKind::Json, "1"), Ok(Typed::Text("1")));
        assert_eq!(j(CellKind::Text, "1"), Ok(Typed::JsonString("1")));
        assert_eq!(j(CellKind::Text, ""), Ok(Typed::JsonString("")));
        assert_eq!(j(CellKind::Null, ""), Ok(Typed::Null));
    }

    #[test]
    fn reasons_quote_the_cell_and_cut_long_ones() {
        let long = "x".repeat(200);
        let err = convert(ColumnType::Int64, CellKind::Text, &long).unwrap_err();
        assert!(
            err.starts_with(&format!("\"{}\"…", "x".repeat(80))),
            "{err}"
        );
        let err = convert(ColumnType::Boolean, CellKind::Text, "é\"").unwrap_err();
        assert_eq!(err, "\"é\\\"\" is not true or false");
    }
}
