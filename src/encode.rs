//! Object bytes (SPEC 4 and 6): delimited text, gzip, and the rejected items' NDJSON.
//!
//! The delimited format is the `csv` crate's writer with every cell quoted (`"` doubled inside),
//! nothing else escaped, and `\n` after every row including the last. Pure: bytes in, bytes out.

use std::io::Write;

use csv::{QuoteStyle, Terminator, WriterBuilder};

use crate::json;

/// Why an object's bytes could not be made (only an I/O error of an in-memory writer, which
/// does not happen in practice; kept as an error rather than a panic).
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The csv writer failed.
    #[error("could not encode an object as delimited text")]
    Csv(#[from] csv::Error),
    /// The gzip encoder (or the csv writer's final flush) failed.
    #[error("could not encode an object")]
    Io(#[from] std::io::Error),
}

/// Writes rows of cells as the spec's delimited text.
pub struct DelimitedWriter {
    inner: csv::Writer<Vec<u8>>,
}

impl DelimitedWriter {
    /// A writer for `delimiter` with room for about `capacity` bytes.
    pub fn new(delimiter: u8, capacity: usize) -> DelimitedWriter {
        let inner = WriterBuilder::new()
            .delimiter(delimiter)
            .quote_style(QuoteStyle::Always)
            .double_quote(true)
            .terminator(Terminator::Any(b'\n'))
            .flexible(true)
            .from_writer(Vec::with_capacity(capacity));
        DelimitedWriter { inner }
    }

    /// Writes one row.
    ///
    /// # Errors
    /// [`EncodeError`] if the writer fails.
    pub fn row<I, T>(&mut self, cells: I) -> Result<(), EncodeError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.inner.write_record(cells).map_err(EncodeError::from)
    }

    /// The bytes written.
    ///
    /// # Errors
    /// [`EncodeError`] if the final flush fails.
    pub fn finish(self) -> Result<Vec<u8>, EncodeError> {
        self.inner
            .into_inner()
            .map_err(|e| EncodeError::Io(e.into_error()))
    }
}

/// gzip-compresses `bytes` (no file name, modification time 0, so equal input gives equal
/// output and content-addressed keys stay stable).
///
/// # Errors
/// [`EncodeError`] if the encoder fails.
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut e = flate2::GzBuilder::new().write(
        Vec::with_capacity(bytes.len() / 4 + 64),
        flate2::Compression::default(),
    );
    e.write_all(bytes)?;
    Ok(e.finish()?)
}

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

    fn encode(delimiter: u8, rows: &[&[&str]]) -> String {
        let mut w = DelimitedWriter::new(delimiter, 0);
        for r in rows {
            w.row(r.iter()).unwrap();
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn every_cell_is_quoted_and_every_row_ends_in_newline() {
        assert_eq!(
            encode(b',', &[&["a", ""], &["x,y", "say \"hi\"\r\n"]]),
            "\"a\",\"\"\n\"x,y\",\"say \"\"hi\"\"\r\n\"\n"
        );
    }

    #[test]
    fn delimiter_and_single_empty_cell() {
        assert_eq!(
            encode(b'\t', &[&["a\tb", "c"], &[""]]),
            "\"a\tb\"\t\"c\"\n\"\"\n"
        );
    }

    #[test]
    fn gzip_is_deterministic_and_round_trips() {
        use std::io::Read;
        let a = gzip(b"hello").unwrap();
        assert_eq!(a, gzip(b"hello").unwrap());
        let mut out = String::new();
        flate2::read::GzDecoder::new(&a[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello");
    }

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
