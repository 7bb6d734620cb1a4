//! Rejected items as newline-delimited JSON (SPEC 6): one line per item with its reason, source,
//! index and body.

use crate::json;

/// Appends one rejected item as an NDJSON line (SPEC 6).
pub fn ndjson_line(reason: &str, source: &str, index: Option<usize>, body: &str, out: &mut String) {
    out.push_str("{\"reason\":");
    json::write_string(reason, out);
    out.push_str(",\"source\":");
    json::write_string(source, out);
    out.push_str(",\"index\":");
    match index {
        Some(i) => out.push_str(&i.to_string()),
        None => out.push_str("null"),
    }
    out.push_str(",\"body\":");
    json::write_string(body, out);
    out.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_lines_are_compact_json() {
        let mut s = String::new();
        ndjson_line("bad\ntype", "sqs:m1", Some(2), "{\"a\":\"é\"}", &mut s);
        ndjson_line("x", "invoke", None, "", &mut s);
        assert_eq!(
            s,
            "{\"reason\":\"bad\\ntype\",\"source\":\"sqs:m1\",\"index\":2,\"body\":\"{\\\"a\\\":\\\"é\\\"}\"}\n{\"reason\":\"x\",\"source\":\"invoke\",\"index\":null,\"body\":\"\"}\n"
        );
    }
}
