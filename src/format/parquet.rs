//! Parquet objects (issue 14): one file per object, one row group, every column `OPTIONAL`,
//! with the schema a mapping declares ([`crate::mapping::row::Mapping::schema`]), so every file
//! of a mapping has the same schema whatever its rows hold.
//!
//! Written with the `parquet` crate's low-level column writers, not its arrow writer: the cells
//! are already typed here, and the column writers need no arrow arrays in between (BENCHMARKS.md
//! "Parquet" has the two measured side by side). Types:
//!
//! | column type | physical | logical (and converted) type |
//! |---|---|---|
//! | `string` | `BYTE_ARRAY` | `STRING` (`UTF8`) |
//! | `json` | `BYTE_ARRAY` | `JSON` (`JSON`) |
//! | `int64` | `INT64` | none |
//! | `double` | `DOUBLE` | none |
//! | `boolean` | `BOOLEAN` | none |
//! | `timestamp` | `INT64` | `TIMESTAMP(isAdjustedToUTC=true, MILLIS)` (`TIMESTAMP_MILLIS`) |
//!
//! Data pages are format 1.0 (what every reader, Redshift Spectrum included, takes), with
//! dictionary encoding and page statistics, as the crate writes by default. No time or random
//! value goes into the file: equal rows give equal bytes, so `{id}` stays content-addressed.

use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{
    Compression as Codec, ConvertedType, LogicalType, Repetition, TimeUnit, Type as Physical,
    ZstdLevel,
};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use super::EncodeError;
use crate::json;
use crate::mapping::types::{ColumnType, Typed};

/// Content type of a Parquet object (registered with IANA in 2024).
pub const PARQUET_CONTENT_TYPE: &str = "application/vnd.apache.parquet";

/// A Parquet mapping's codec (`parquet_compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParquetCompression {
    /// Snappy (the default): fast, and what every reader takes.
    Snappy,
    /// Zstandard at level 3: smaller files, a little slower to write.
    Zstd,
    /// No compression.
    None,
}

impl ParquetCompression {
    /// The names `parquet_compression` takes, with their codecs.
    pub const NAMES: [(&'static str, ParquetCompression); 3] = [
        ("snappy", ParquetCompression::Snappy),
        ("zstd", ParquetCompression::Zstd),
        ("none", ParquetCompression::None),
    ];

    /// The codec's name as `parquet_compression` spells it.
    pub fn name(self) -> &'static str {
        match self {
            ParquetCompression::Snappy => "snappy",
            ParquetCompression::Zstd => "zstd",
            ParquetCompression::None => "none",
        }
    }

    fn codec(self) -> Result<Codec, ParquetError> {
        Ok(match self {
            ParquetCompression::Snappy => Codec::SNAPPY,
            ParquetCompression::Zstd => Codec::ZSTD(ZstdLevel::try_new(3)?),
            ParquetCompression::None => Codec::UNCOMPRESSED,
        })
    }
}

/// The values of one column, as the column writer takes them.
enum Values {
    /// Text: every value's bytes in one buffer, and where each ends.
    Bytes {
        data: String,
        ends: Vec<usize>,
    },
    Int(Vec<i64>),
    Double(Vec<f64>),
    Bool(Vec<bool>),
}

struct Column {
    name: String,
    ty: ColumnType,
    /// One definition level per row: 1 for a value, 0 for null.
    levels: Vec<i16>,
    values: Values,
}

/// One Parquet object being built, a row at a time.
pub struct ParquetWriter {
    columns: Vec<Column>,
}

impl ParquetWriter {
    /// A writer for `schema`, with room for about `rows` rows.
    pub fn new(schema: &[(&str, ColumnType)], rows: usize) -> ParquetWriter {
        let columns = schema
            .iter()
            .map(|(name, ty)| Column {
                name: (*name).to_owned(),
                ty: *ty,
                levels: Vec::with_capacity(rows),
                values: match ty {
                    ColumnType::String | ColumnType::Json => Values::Bytes {
                        data: String::new(),
                        ends: Vec::with_capacity(rows),
                    },
                    ColumnType::Int64 | ColumnType::Timestamp => {
                        Values::Int(Vec::with_capacity(rows))
                    }
                    ColumnType::Double => Values::Double(Vec::with_capacity(rows)),
                    ColumnType::Boolean => Values::Bool(Vec::with_capacity(rows)),
                },
            })
            .collect();
        ParquetWriter { columns }
    }

    /// Appends one cell to column `index` (cells go in row order, one per column per row).
    ///
    /// # Errors
    /// [`EncodeError`] when the cell does not fit the column's type or there is no such column:
    /// a bug in the caller, reported rather than written wrong.
    pub fn push(&mut self, index: usize, cell: Typed<'_>) -> Result<(), EncodeError> {
        let Some(column) = self.columns.get_mut(index) else {
            return Err(mismatch(format!("no column {index}")));
        };
        let present = match (&mut column.values, cell) {
            (_, Typed::Null) => false,
            (Values::Bytes { data, ends }, Typed::Text(t)) => {
                data.push_str(t);
                ends.push(data.len());
                true
            }
            (Values::Bytes { data, ends }, Typed::JsonString(t)) => {
                json::write_string(t, data);
                ends.push(data.len());
                true
            }
            (Values::Int(v), Typed::Int(n)) => {
                v.push(n);
                true
            }
            (Values::Double(v), Typed::Double(d)) => {
                v.push(d);
                true
            }
            (Values::Bool(v), Typed::Bool(b)) => {
                v.push(b);
                true
            }
            (_, other) => {
                return Err(mismatch(format!(
                    "column {:?} is {} and cannot hold {other:?}",
                    column.name,
                    column.ty.name()
                )))
            }
        };
        column.levels.push(i16::from(present));
        Ok(())
    }

    /// The file's bytes.
    ///
    /// # Errors
    /// [`EncodeError`] when the writer fails (it writes to memory, so only on a bug).
    pub fn finish(self, compression: ParquetCompression) -> Result<Vec<u8>, EncodeError> {
        let fields = self
            .columns
            .iter()
            .map(|c| field(&c.name, c.ty).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        let schema = Type::group_type_builder("schema")
            .with_fields(fields)
            .build()?;
        let props = WriterProperties::builder()
            .set_compression(compression.codec()?)
            .build();
        let rows = self.columns.first().map_or(0, |c| c.levels.len());
        let size: usize = self
            .columns
            .iter()
            .map(|c| match &c.values {
                Values::Bytes { data, .. } => data.len(),
                Values::Int(v) => v.len() * 8,
                Values::Double(v) => v.len() * 8,
                Values::Bool(v) => v.len() / 8,
            })
            .sum();
        let out = Vec::with_capacity(size / 3 + 1024);
        let mut file = SerializedFileWriter::new(out, Arc::new(schema), Arc::new(props))?;
        let mut group = file.next_row_group()?;
        for column in self.columns {
            if column.levels.len() != rows {
                return Err(mismatch(format!(
                    "column {:?} has {} rows, not {rows}",
                    column.name,
                    column.levels.len()
                )));
            }
            let Some(mut writer) = group.next_column()? else {
                return Err(mismatch(format!("no writer for column {:?}", column.name)));
            };
            let levels = Some(column.levels.as_slice());
            match (writer.untyped(), column.values) {
                (ColumnWriter::ByteArrayColumnWriter(w), Values::Bytes { data, ends }) => {
                    let data = Bytes::from(data.into_bytes());
                    let mut start = 0;
                    let values: Vec<ByteArray> = ends
                        .iter()
                        .map(|&end| {
                            let v = ByteArray::from(data.slice(start..end));
                            start = end;
                            v
                        })
                        .collect();
                    w.write_batch(&values, levels, None)?;
                }
                (ColumnWriter::Int64ColumnWriter(w), Values::Int(v)) => {
                    w.write_batch(&v, levels, None)?;
                }
                (ColumnWriter::DoubleColumnWriter(w), Values::Double(v)) => {
                    w.write_batch(&v, levels, None)?;
                }
                (ColumnWriter::BoolColumnWriter(w), Values::Bool(v)) => {
                    w.write_batch(&v, levels, None)?;
                }
                _ => {
                    return Err(mismatch(format!(
                        "the writer for column {:?} is not of its type",
                        column.name
                    )))
                }
            }
            writer.close()?;
        }
        group.close()?;
        Ok(file.into_inner()?)
    }
}

fn mismatch(what: String) -> EncodeError {
    EncodeError::Parquet(ParquetError::General(what))
}

/// One column of the schema.
fn field(name: &str, ty: ColumnType) -> Result<Type, ParquetError> {
    let (physical, logical) = match ty {
        ColumnType::String => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
        ColumnType::Json => (Physical::BYTE_ARRAY, Some(LogicalType::Json)),
        ColumnType::Int64 => (Physical::INT64, None),
        ColumnType::Double => (Physical::DOUBLE, None),
        ColumnType::Boolean => (Physical::BOOLEAN, None),
        ColumnType::Timestamp => (
            Physical::INT64,
            Some(LogicalType::timestamp(true, TimeUnit::MILLIS)),
        ),
    };
    // The converted type too, for readers that predate logical types.
    let converted = ConvertedType::from(logical.clone());
    Type::primitive_type_builder(name, physical)
        .with_repetition(Repetition::OPTIONAL)
        .with_logical_type(logical)
        .with_converted_type(converted)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    fn sample() -> ParquetWriter {
        let mut w = ParquetWriter::new(
            &[
                ("s", ColumnType::String),
                ("j", ColumnType::Json),
                ("n", ColumnType::Int64),
                ("d", ColumnType::Double),
                ("b", ColumnType::Boolean),
                ("t", ColumnType::Timestamp),
            ],
            2,
        );
        for (i, cell) in [
            Typed::Text("é,\"x\""),
            Typed::JsonString("a\"b"),
            Typed::Int(i64::MIN),
            Typed::Double(1.5),
            Typed::Bool(true),
            Typed::Int(1_767_880_370_212),
        ]
        .into_iter()
        .enumerate()
        {
            w.push(i, cell).unwrap();
        }
        for i in 0..6 {
            w.push(i, Typed::Null).unwrap();
        }
        w
    }

    #[test]
    fn writes_typed_optional_columns_and_nulls() {
        let bytes = sample().finish(ParquetCompression::Snappy).unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        let reader = SerializedFileReader::new(Bytes::from(bytes)).unwrap();
        let schema = reader.metadata().file_metadata().schema_descr();
        let types: Vec<String> = (0..schema.num_columns())
            .map(|i| {
                let c = schema.column(i);
                format!(
                    "{} {} {:?} {}",
                    c.name(),
                    c.physical_type(),
                    c.logical_type_ref(),
                    c.converted_type()
                )
            })
            .collect();
        assert_eq!(
            types,
            [
                "s BYTE_ARRAY Some(String) UTF8",
                "j BYTE_ARRAY Some(Json) JSON",
                "n INT64 None NONE",
                "d DOUBLE None NONE",
                "b BOOLEAN None NONE",
                "t INT64 Some(Timestamp(TimestampType { is_adjusted_to_u_t_c: true, unit: MILLIS })) TIMESTAMP_MILLIS",
            ]
        );
        let rows: Vec<Vec<Field>> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| {
                r.unwrap()
                    .into_columns()
                    .into_iter()
                    .map(|(_, f)| f)
                    .collect()
            })
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][0], Field::Str("é,\"x\"".into()));
        assert_eq!(rows[0][1], Field::Str("\"a\\\"b\"".into()));
        assert_eq!(rows[0][2], Field::Long(i64::MIN));
        assert_eq!(rows[0][3], Field::Double(1.5));
        assert_eq!(rows[0][4], Field::Bool(true));
        assert_eq!(rows[0][5], Field::TimestampMillis(1_767_880_370_212));
        assert!(rows[1].iter().all(|f| *f == Field::Null));
    }

    #[test]
    fn equal_rows_give_equal_bytes_in_every_codec() {
        for c in [
            ParquetCompression::Snappy,
            ParquetCompression::Zstd,
            ParquetCompression::None,
        ] {
            assert_eq!(sample().finish(c).unwrap(), sample().finish(c).unwrap());
        }
    }

    #[test]
    fn a_cell_of_the_wrong_type_is_an_error_not_a_wrong_file() {
        let mut w = ParquetWriter::new(&[("n", ColumnType::Int64)], 1);
        assert!(w.push(0, Typed::Text("1")).is_err());
        assert!(w.push(1, Typed::Null).is_err());
    }
}
