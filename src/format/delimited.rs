//! Delimited text (SPEC 4): every cell quoted (`"` doubled inside), nothing else escaped, and
//! `\n` after every row including the last, byte for byte what the `csv` crate's writer
//! writes with those settings.

use super::EncodeError;

/// Writes rows of cells as the spec's delimited text: each cell between quotes with its quotes
/// doubled, the delimiter between cells, `\n` after every row. Exactly what the `csv` crate's
/// writer writes with `QuoteStyle::Always`, `double_quote` and a `\n` terminator (a unit test
/// compares the two on random rows); written here because that writer looks for quotes one
/// `memchr` call at a time and copies through its own buffer, which JSON cells (a quote every
/// few bytes) made a sixth of the pipeline (issue 15).
pub struct DelimitedWriter {
    out: Vec<u8>,
    delimiter: u8,
}

impl DelimitedWriter {
    /// A writer for `delimiter` with room for about `capacity` bytes.
    pub fn new(delimiter: u8, capacity: usize) -> DelimitedWriter {
        DelimitedWriter {
            out: Vec::with_capacity(capacity),
            delimiter,
        }
    }

    /// Writes one row (a row without cells is one empty cell, as the `csv` crate writes it).
    ///
    /// # Errors
    /// None today; the signature leaves room for a writer that can fail.
    pub fn row<I, T>(&mut self, cells: I) -> Result<(), EncodeError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut first = true;
        for cell in cells {
            if !first {
                self.out.push(self.delimiter);
            }
            first = false;
            self.out.push(b'"');
            quote_into(cell.as_ref(), &mut self.out);
            self.out.push(b'"');
        }
        if first {
            self.out.extend_from_slice(b"\"\"");
        }
        self.out.push(b'\n');
        Ok(())
    }

    /// The bytes written.
    ///
    /// # Errors
    /// None today; see [`DelimitedWriter::row`].
    pub fn finish(self) -> Result<Vec<u8>, EncodeError> {
        Ok(self.out)
    }
}

/// Appends `cell` with every quote doubled, eight bytes per step: each word is appended whole
/// and, when it holds a quote, cut back after it and the quote written again.
fn quote_into(cell: &[u8], out: &mut Vec<u8>) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut pos = 0;
    while let Some(word) = cell.get(pos..pos + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        out.extend_from_slice(&bytes);
        let x = u64::from_le_bytes(bytes) ^ (ONES * u64::from(b'"'));
        let quotes = x.wrapping_sub(ONES) & !x & HIGH;
        if quotes == 0 {
            pos += 8;
        } else {
            // The lowest flagged byte is exact (the has-zero-byte trick): keep up to it.
            let k = (quotes.trailing_zeros() / 8) as usize;
            out.truncate(out.len() - 7 + k);
            out.push(b'"');
            pos += k + 1;
        }
    }
    for &c in &cell[pos..] {
        out.push(c);
        if c == b'"' {
            out.push(b'"');
        }
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

    /// The `csv` crate's writer with the settings the spec's format amounts to.
    fn with_csv(delimiter: u8, rows: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .quote_style(csv::QuoteStyle::Always)
            .double_quote(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .flexible(true)
            .from_writer(Vec::new());
        for r in rows {
            w.write_record(r).unwrap();
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn writes_what_the_csv_crate_writes() {
        // A small deterministic generator: cells of quotes, delimiters, line ends, non-ASCII
        // and plain bytes, of every length around the eight-byte steps.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet: [&[u8]; 9] = [
            b"\"",
            b",",
            b"\t",
            b"\n",
            b"\r",
            b"a",
            b"Z",
            "é".as_bytes(),
            b"\"\"",
        ];
        for delimiter in [b',', b'\t', b'|', b';', b':'] {
            let rows: Vec<Vec<Vec<u8>>> = (0..300)
                .map(|_| {
                    (0..next() % 5)
                        .map(|_| {
                            let len = next() % 40;
                            (0..len)
                                .flat_map(|_| alphabet[(next() % 9) as usize].iter().copied())
                                .collect()
                        })
                        .collect()
                })
                .collect();
            let mut ours = DelimitedWriter::new(delimiter, 0);
            for r in &rows {
                ours.row(r).unwrap();
            }
            assert_eq!(ours.finish().unwrap(), with_csv(delimiter, &rows));
        }
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
