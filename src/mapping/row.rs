//! A compiled mapping and its rows (SPEC 2.3, 3.2): the columns and their header, and one row
//! rendered against one event: each column's directive, its transform, then the audience action
//! cell and the batch-size cell, in header order. `config::mapping` compiles a [`Mapping`] from
//! the configuration document; this is what it compiles to.

use super::subscription::Subscription;
use super::types::{CellKind, ColumnType};
use super::{render_value, Directive, Resolved, Transform};
use crate::format::parquet::ParquetCompression;
use crate::json::Value;

/// The file extension of a mapping's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileExtension {
    /// `csv`, content type `text/csv`.
    Csv,
    /// `txt`, content type `text/plain`.
    Txt,
    /// `parquet`, content type `application/vnd.apache.parquet` (issue 14).
    Parquet,
}

impl FileExtension {
    /// The extension text.
    pub fn as_str(self) -> &'static str {
        match self {
            FileExtension::Csv => "csv",
            FileExtension::Txt => "txt",
            FileExtension::Parquet => "parquet",
        }
    }

    /// The object's content type when not compressed.
    pub fn content_type(self) -> &'static str {
        match self {
            FileExtension::Csv => "text/csv",
            FileExtension::Txt => "text/plain",
            FileExtension::Parquet => crate::format::parquet::PARQUET_CONTENT_TYPE,
        }
    }
}

/// One output column.
#[derive(Debug, Clone)]
pub struct Column {
    /// The column name as configured.
    pub name: String,
    /// Where its value comes from.
    pub directive: Directive,
    /// Its `columns_to_transform` entry, if any.
    pub transform: Option<Transform>,
    /// Its `column_types` entry (`string` by default); only Parquet objects use it.
    pub ty: ColumnType,
}

/// A compiled mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Label used in logs and in the `{mapping}` key token.
    pub name: String,
    /// Which events this mapping takes.
    pub subscription: Subscription,
    /// The configured columns that are kept, in order.
    pub columns: Vec<Column>,
    /// The audience action column's name, unless dropped.
    pub audience_action_column: Option<String>,
    /// The batch size column's name, unless dropped.
    pub batch_size_column: Option<String>,
    /// Source object of the audience action.
    pub traits_or_props: Directive,
    /// Key looked up in `traits_or_props`.
    pub computation_key: Directive,
    /// Most rows in one object.
    pub batch_size: usize,
    /// The folder directive.
    pub folder: Directive,
    /// File name prefix as configured.
    pub filename_prefix: String,
    /// The delimiter byte.
    pub delimiter: u8,
    /// `csv`, `txt` or `parquet`.
    pub file_extension: FileExtension,
    /// The codec of Parquet objects.
    pub parquet_compression: ParquetCompression,
    /// The effective mapping as JSON, for `sync-to-s3 config`.
    pub(crate) display: Value<'static>,
}

impl Mapping {
    /// Header cell texts: every column name with each occurrence of the delimiter removed.
    pub fn header(&self) -> Vec<String> {
        let d = self.delimiter as char;
        self.columns
            .iter()
            .map(|c| c.name.as_str())
            .chain(self.audience_action_column.as_deref())
            .chain(self.batch_size_column.as_deref())
            .map(|name| name.replace(d, ""))
            .collect()
    }

    /// The Parquet schema: every output column's name and type, in header order. The audience
    /// action column is `boolean` and the batch size column `int64`.
    pub fn schema(&self) -> Vec<(&str, ColumnType)> {
        self.columns
            .iter()
            .map(|c| (c.name.as_str(), c.ty))
            .chain(
                self.audience_action_column
                    .as_deref()
                    .map(|n| (n, ColumnType::Boolean)),
            )
            .chain(
                self.batch_size_column
                    .as_deref()
                    .map(|n| (n, ColumnType::Int64)),
            )
            .collect()
    }
}

/// Renders one row's cells into `cells` (one buffer per header cell, reused across rows), and
/// into `kinds` the kind of value each cell's text came from (what typed columns convert from;
/// delimited text uses the text alone).
pub fn render_row(
    mapping: &Mapping,
    event: &Value<'_>,
    batch_size: &str,
    cells: &mut [String],
    kinds: &mut [CellKind],
) {
    for c in cells.iter_mut() {
        c.clear();
    }
    let mut slots = cells.iter_mut().zip(kinds.iter_mut());
    for column in &mapping.columns {
        let Some((cell, kind)) = slots.next() else {
            return;
        };
        *kind = column.directive.render_kind(event, cell);
        if let Some(t) = &column.transform {
            t.apply(cell);
            // A hash is text, whatever it was made from.
            if t.sha256 && *kind == CellKind::Json {
                *kind = CellKind::Text;
            }
        }
    }
    if mapping.audience_action_column.is_some() {
        if let Some((cell, kind)) = slots.next() {
            *kind = audience_action(mapping, event, cell);
        }
    }
    if mapping.batch_size_column.is_some() {
        if let Some((cell, kind)) = slots.next() {
            cell.push_str(batch_size);
            *kind = CellKind::Json;
        }
    }
}

/// `traits_or_props[computation_key]` as a cell; empty when either is missing. Returns the
/// kind of value it came from.
fn audience_action(mapping: &Mapping, event: &Value<'_>, out: &mut String) -> CellKind {
    // The key first: it is usually missing (no `context.personas`), and then the traits or
    // properties object is never built (issue 15: building it for every row was 6% of the
    // pipeline).
    let mut key = String::new();
    mapping.computation_key.render(event, &mut key);
    if key.is_empty() {
        return CellKind::Null;
    }
    let found = |v: &Value<'_>, out: &mut String| match v.get(&key) {
        Some(v) => {
            render_value(v, out);
            CellKind::of(v)
        }
        _ => CellKind::Null,
    };
    match mapping.traits_or_props.resolve(event) {
        Resolved::Value(v) if v.is_object() => found(v, out),
        Resolved::Literal(v) if v.is_object() => found(v, out),
        _ => CellKind::Null,
    }
}
