//! Output formats (SPEC 4 and 6): the bytes of each object, one file per format beside its
//! siblings: [`delimited`] text (CSV/TXT) and [`parquet`] (issue 14) for data objects, and
//! [`ndjson`] for rejected items; here,
//! what they share: compression, content types and the SHA-256 of the bytes as stored. Pure:
//! bytes in, bytes out.

pub mod delimited;
pub mod ndjson;
pub mod parquet;

use std::io::Write;

use sha2::{Digest, Sha256};

pub use delimited::DelimitedWriter;
pub use ndjson::ndjson_line;

/// Object compression (`compression` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    None,
    /// gzip; keys end in `.gz`.
    Gzip,
}

/// Content type of the rejected-items object.
pub const NDJSON_CONTENT_TYPE: &str = "application/x-ndjson";

/// Content type of a gzip-compressed object: stored as the `.gz` file it is, with no
/// `Content-Encoding`, so that clients download it as it is.
pub const GZIP_CONTENT_TYPE: &str = "application/gzip";

/// Why an object's bytes could not be made (only an I/O error of an in-memory writer, which
/// does not happen in practice; kept as an error rather than a panic).
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The gzip encoder failed.
    #[error("could not encode an object")]
    Io(#[from] std::io::Error),
    /// The Parquet writer failed.
    #[error("could not encode an object as Parquet")]
    Parquet(#[from] ::parquet::errors::ParquetError),
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

/// The SHA-256 of `body`: the upload checksum, and the source of the key's `{id}`.
pub fn digest(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
