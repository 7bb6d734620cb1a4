//! Delimited text (SPEC 4): the `csv` crate's writer with every cell quoted (`"` doubled
//! inside), nothing else escaped, and `\n` after every row including the last.

use csv::{QuoteStyle, Terminator, WriterBuilder};

use super::EncodeError;

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
}
