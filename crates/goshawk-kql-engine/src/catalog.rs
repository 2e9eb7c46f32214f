//! Where KQL table names resolve to data: in-memory tables (tests, `datatable`), explicit files
//! (`--table NAME=FILE`) and the Parquet lake `DIR/<Table>/day=YYYY-MM-DD/*.parquet`.
//!
//! Planning only needs a [`TableRef`] (a DataFusion provider plus the Kusto schema), so the
//! planner can be tested without touching the file system.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampNanosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::scalar::ScalarValue;
use goshawk_types::{EXTRA_COLUMN, KustoType};

/// A column name with its Kusto type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KustoColumn {
    pub name: String,
    pub ty: KustoType,
}

impl KustoColumn {
    pub fn new(name: impl Into<String>, ty: KustoType) -> KustoColumn {
        KustoColumn {
            name: name.into(),
            ty,
        }
    }
}

/// A table the planner can scan: its provider and its Kusto schema (in the provider's column
/// order).
#[derive(Clone)]
pub struct TableRef {
    pub name: String,
    pub provider: Arc<dyn TableProvider>,
    pub columns: Vec<KustoColumn>,
}

impl fmt::Debug for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableRef")
            .field("name", &self.name)
            .field("columns", &self.columns)
            .finish()
    }
}

impl TableRef {
    /// A table whose Kusto schema is read from the provider's Arrow schema (field metadata
    /// first, then the Arrow type). Columns Kusto cannot represent are reported by name.
    pub fn from_provider(
        name: impl Into<String>,
        provider: Arc<dyn TableProvider>,
    ) -> Result<TableRef, CatalogError> {
        let name = name.into();
        let columns = kusto_columns(&name, &provider.schema())?;
        Ok(TableRef {
            name,
            provider,
            columns,
        })
    }
}

fn kusto_columns(table: &str, schema: &Schema) -> Result<Vec<KustoColumn>, CatalogError> {
    schema
        .fields()
        .iter()
        .map(|field| {
            KustoType::from_field(field)
                .map(|ty| KustoColumn::new(field.name(), ty))
                .ok_or_else(|| CatalogError::UnsupportedColumn {
                    table: table.to_string(),
                    column: field.name().clone(),
                    data_type: field.data_type().to_string(),
                })
        })
        .collect()
}

/// Resolves table names. Kusto table names are case-sensitive.
pub trait Catalog: Send + Sync {
    fn table(&self, name: &str) -> Option<TableRef>;
    fn table_names(&self) -> Vec<String>;
}

/// Errors while registering or loading tables.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    BadRecord {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error(
        "table '{table}': column '{column}' has Arrow type {data_type}, which has no Kusto type"
    )]
    UnsupportedColumn {
        table: String,
        column: String,
        data_type: String,
    },
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

/// Tables held in memory, e.g. for tests.
#[derive(Default, Clone)]
pub struct MemoryCatalog {
    tables: BTreeMap<String, TableRef>,
}

impl MemoryCatalog {
    pub fn new() -> MemoryCatalog {
        MemoryCatalog::default()
    }

    pub fn insert(&mut self, table: TableRef) {
        self.tables.insert(table.name.clone(), table);
    }

    /// Registers record batches under `name`; `schema` should carry the Kusto types in its
    /// field metadata (see [`goshawk_types::arrow_schema`]).
    pub fn add_batches(
        &mut self,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<(), CatalogError> {
        let provider = Arc::new(MemTable::try_new(schema, vec![batches])?);
        self.insert(TableRef::from_provider(name, provider)?);
        Ok(())
    }
}

impl Catalog for MemoryCatalog {
    fn table(&self, name: &str) -> Option<TableRef> {
        self.tables.get(name).cloned()
    }

    fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }
}

/// Several catalogs searched in order: the first that knows a name wins.
#[derive(Default)]
pub struct LayeredCatalog {
    layers: Vec<Box<dyn Catalog>>,
}

impl LayeredCatalog {
    pub fn new() -> LayeredCatalog {
        LayeredCatalog::default()
    }

    pub fn push(&mut self, catalog: Box<dyn Catalog>) {
        self.layers.push(catalog);
    }
}

impl Catalog for LayeredCatalog {
    fn table(&self, name: &str) -> Option<TableRef> {
        self.layers.iter().find_map(|layer| layer.table(name))
    }

    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.layers.iter().flat_map(|l| l.table_names()).collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Loads a file as a table, choosing the reader by extension: `.parquet`, `.csv`, `.json` /
/// `.jsonl` / `.ndjson` (one JSON object per line).
pub fn load_table_file(name: &str, path: &Path) -> Result<TableRef, CatalogError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "parquet" => parquet_file_table(name, path),
        "csv" => csv_file_table(name, path),
        "json" | "jsonl" | "ndjson" => json_lines_table(name, path),
        _ => Err(CatalogError::BadFile {
            path: path.to_path_buf(),
            message: "unknown file type (expected .parquet, .csv, .json, .jsonl or .ndjson)"
                .to_string(),
        }),
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CatalogError + '_ {
    move |source| CatalogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn parquet_file_schema(path: &Path) -> Result<SchemaRef, CatalogError> {
    let file = File::open(path).map_err(io_error(path))?;
    let builder =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|err| CatalogError::BadFile {
                path: path.to_path_buf(),
                message: err.to_string(),
            })?;
    Ok(builder.schema().clone())
}

fn parquet_listing(
    urls: Vec<ListingTableUrl>,
    schema: SchemaRef,
) -> Result<ListingTable, CatalogError> {
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(ListingTable::try_new(config)?)
}

fn file_url(path: &Path) -> Result<ListingTableUrl, CatalogError> {
    let absolute = std::path::absolute(path).map_err(io_error(path))?;
    Ok(ListingTableUrl::parse(absolute.to_string_lossy())?)
}

fn parquet_file_table(name: &str, path: &Path) -> Result<TableRef, CatalogError> {
    let schema = parquet_file_schema(path)?;
    let listing = parquet_listing(vec![file_url(path)?], schema)?;
    TableRef::from_provider(name, Arc::new(listing))
}

/// The Kusto schema to read a file with: the Log Analytics schema when the name is a known
/// table, else `None` (infer from the data).
fn known_columns(name: &str) -> Option<Vec<KustoColumn>> {
    goshawk_types::table_schema(name).map(|schema| {
        schema
            .lake_columns()
            .map(|(n, ty)| KustoColumn::new(n, ty))
            .collect()
    })
}

/// A cell read from a text file before it is typed.
enum RawValue {
    Json(serde_json::Value),
}

fn csv_file_table(name: &str, path: &Path) -> Result<TableRef, CatalogError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Err(CatalogError::BadFile {
            path: path.to_path_buf(),
            message: "empty CSV file (no header)".into(),
        });
    };
    let headers = split_csv_record(header);
    let mut rows = Vec::new();
    for (index, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        let cells = split_csv_record(line);
        if cells.len() != headers.len() {
            return Err(CatalogError::BadRecord {
                path: path.to_path_buf(),
                line: index + 2,
                message: format!("{} fields, the header has {}", cells.len(), headers.len()),
            });
        }
        rows.push(
            headers
                .iter()
                .cloned()
                .zip(
                    cells
                        .into_iter()
                        .map(|c| RawValue::Json(serde_json::Value::String(c))),
                )
                .collect::<BTreeMap<_, _>>(),
        );
    }
    let columns = known_columns(name).unwrap_or_else(|| {
        headers
            .iter()
            .map(|h| KustoColumn::new(h, KustoType::String))
            .collect()
    });
    rows_to_table(name, path, &columns, rows)
}

/// RFC 4180 fields of one line (quotes may wrap commas; `""` is a quote). Fields spanning
/// several lines are not supported.
fn split_csv_record(line: &str) -> Vec<String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    fields.push(current);
    fields
}

fn json_lines_table(name: &str, path: &Path) -> Result<TableRef, CatalogError> {
    let file = File::open(path).map_err(io_error(path))?;
    let mut rows = Vec::new();
    let mut seen_columns: Vec<String> = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_error(path))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(&line).map_err(|err| CatalogError::BadRecord {
                path: path.to_path_buf(),
                line: index + 1,
                message: format!("invalid JSON: {err}"),
            })?;
        let serde_json::Value::Object(object) = value else {
            return Err(CatalogError::BadRecord {
                path: path.to_path_buf(),
                line: index + 1,
                message: "expected a JSON object".into(),
            });
        };
        let mut row = BTreeMap::new();
        for (key, value) in object {
            if !seen_columns.contains(&key) {
                seen_columns.push(key.clone());
            }
            row.insert(key, RawValue::Json(value));
        }
        rows.push(row);
    }
    let columns = match known_columns(name) {
        Some(columns) => columns,
        None => seen_columns
            .iter()
            .map(|column| KustoColumn::new(column, infer_json_type(&rows, column)))
            .collect(),
    };
    rows_to_table(name, path, &columns, rows)
}

fn infer_json_type(rows: &[BTreeMap<String, RawValue>], column: &str) -> KustoType {
    let mut ty: Option<KustoType> = None;
    for row in rows {
        let Some(RawValue::Json(value)) = row.get(column) else {
            continue;
        };
        let value_ty = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::Bool(_) => KustoType::Bool,
            serde_json::Value::Number(n) if n.is_i64() => KustoType::Long,
            serde_json::Value::Number(_) => KustoType::Real,
            serde_json::Value::String(_) => KustoType::String,
            _ => KustoType::Dynamic,
        };
        ty = Some(match (ty, value_ty) {
            (None, t) => t,
            (Some(a), b) if a == b => a,
            (Some(KustoType::Long), KustoType::Real) | (Some(KustoType::Real), KustoType::Long) => {
                KustoType::Real
            }
            _ => KustoType::Dynamic,
        });
    }
    ty.unwrap_or(KustoType::String)
}

fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Builds one typed column from raw cells; `extra` receives the fields the schema lacks.
fn rows_to_table(
    name: &str,
    path: &Path,
    columns: &[KustoColumn],
    mut rows: Vec<BTreeMap<String, RawValue>>,
) -> Result<TableRef, CatalogError> {
    let has_extra_column = columns.iter().any(|c| c.name == EXTRA_COLUMN);
    if has_extra_column {
        for row in &mut rows {
            let extra: serde_json::Map<String, serde_json::Value> = row
                .iter()
                .filter(|(key, _)| !columns.iter().any(|c| &c.name == *key))
                .map(|(key, RawValue::Json(v))| (key.clone(), v.clone()))
                .collect();
            if !extra.is_empty() {
                row.insert(
                    EXTRA_COLUMN.to_string(),
                    RawValue::Json(serde_json::Value::Object(extra)),
                );
            }
        }
    }
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for column in columns {
        let cell = |row: &BTreeMap<String, RawValue>| match row.get(&column.name) {
            Some(RawValue::Json(serde_json::Value::Null)) | None => None,
            Some(RawValue::Json(value)) => Some(value.clone()),
        };
        let bad = |line: usize, message: String| CatalogError::BadRecord {
            path: path.to_path_buf(),
            line: line + 1,
            message: format!("column '{}': {message}", column.name),
        };
        let array: ArrayRef = match column.ty {
            KustoType::String | KustoType::Guid | KustoType::Dynamic => {
                let mut builder = StringBuilder::new();
                for row in &rows {
                    match cell(row) {
                        None => builder.append_null(),
                        Some(value) if column.ty == KustoType::Dynamic => {
                            builder.append_value(value.to_string())
                        }
                        Some(value) => builder.append_value(json_text(&value)),
                    }
                }
                Arc::new(builder.finish())
            }
            KustoType::Bool => {
                let mut builder = BooleanBuilder::new();
                for (i, row) in rows.iter().enumerate() {
                    match cell(row) {
                        None => builder.append_null(),
                        Some(serde_json::Value::Bool(b)) => builder.append_value(b),
                        Some(serde_json::Value::String(s)) => {
                            match s.to_ascii_lowercase().as_str() {
                                "true" | "1" => builder.append_value(true),
                                "false" | "0" => builder.append_value(false),
                                "" => builder.append_null(),
                                _ => return Err(bad(i, format!("'{s}' is not a bool"))),
                            }
                        }
                        Some(other) => return Err(bad(i, format!("{other} is not a bool"))),
                    }
                }
                Arc::new(builder.finish())
            }
            KustoType::Int | KustoType::Long => {
                let mut values = Vec::with_capacity(rows.len());
                for (i, row) in rows.iter().enumerate() {
                    values.push(match cell(row) {
                        None => None,
                        Some(serde_json::Value::Number(n)) => match n.as_i64() {
                            Some(v) => Some(v),
                            None => return Err(bad(i, format!("{n} is not an integer"))),
                        },
                        Some(serde_json::Value::String(s)) if s.is_empty() => None,
                        Some(serde_json::Value::String(s)) => match s.trim().parse::<i64>() {
                            Ok(v) => Some(v),
                            Err(_) => return Err(bad(i, format!("'{s}' is not an integer"))),
                        },
                        Some(other) => return Err(bad(i, format!("{other} is not an integer"))),
                    });
                }
                if column.ty == KustoType::Int {
                    let mut builder = Int32Builder::new();
                    for (i, v) in values.into_iter().enumerate() {
                        match v.map(i32::try_from) {
                            None => builder.append_null(),
                            Some(Ok(v)) => builder.append_value(v),
                            Some(Err(_)) => return Err(bad(i, "out of range for int".into())),
                        }
                    }
                    Arc::new(builder.finish())
                } else {
                    let mut builder = Int64Builder::new();
                    builder.extend(values);
                    Arc::new(builder.finish())
                }
            }
            KustoType::Real | KustoType::Decimal => {
                let mut builder = Float64Builder::new();
                for (i, row) in rows.iter().enumerate() {
                    match cell(row) {
                        None => builder.append_null(),
                        Some(serde_json::Value::Number(n)) => {
                            builder.append_option(n.as_f64());
                        }
                        Some(serde_json::Value::String(s)) if s.is_empty() => builder.append_null(),
                        Some(serde_json::Value::String(s)) => match s.trim().parse::<f64>() {
                            Ok(v) => builder.append_value(v),
                            Err(_) => return Err(bad(i, format!("'{s}' is not a number"))),
                        },
                        Some(other) => return Err(bad(i, format!("{other} is not a number"))),
                    }
                }
                Arc::new(builder.finish())
            }
            KustoType::DateTime => {
                let mut builder = TimestampNanosecondBuilder::new().with_timezone("UTC");
                for (i, row) in rows.iter().enumerate() {
                    match cell(row) {
                        None => builder.append_null(),
                        Some(serde_json::Value::String(s)) if s.is_empty() => builder.append_null(),
                        Some(serde_json::Value::String(s)) => {
                            match crate::planner::literal::parse_datetime_text(&s) {
                                Some(nanos) => builder.append_value(nanos),
                                None => return Err(bad(i, format!("'{s}' is not a datetime"))),
                            }
                        }
                        Some(other) => return Err(bad(i, format!("{other} is not a datetime"))),
                    }
                }
                Arc::new(builder.finish())
            }
            KustoType::TimeSpan => {
                let mut builder = arrow::array::DurationNanosecondBuilder::new();
                for (i, row) in rows.iter().enumerate() {
                    match cell(row) {
                        None => builder.append_null(),
                        Some(serde_json::Value::String(s)) if s.is_empty() => builder.append_null(),
                        Some(serde_json::Value::String(s)) => {
                            match crate::planner::literal::parse_timespan_text(&s) {
                                Some(nanos) => builder.append_value(nanos),
                                None => return Err(bad(i, format!("'{s}' is not a timespan"))),
                            }
                        }
                        Some(other) => return Err(bad(i, format!("{other} is not a timespan"))),
                    }
                }
                Arc::new(builder.finish())
            }
        };
        arrays.push(array);
    }
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| {
                // Decimal cells are read as real: the file formats carry no exact decimals.
                let ty = if c.ty == KustoType::Decimal {
                    KustoType::Real
                } else {
                    c.ty
                };
                ty.field(&c.name)
            })
            .collect::<Vec<Field>>(),
    ));
    let batch = if columns.is_empty() {
        RecordBatch::new_empty(schema.clone())
    } else {
        RecordBatch::try_new(schema.clone(), arrays).map_err(|err| CatalogError::BadFile {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?
    };
    let provider = Arc::new(MemTable::try_new(schema, vec![vec![batch]])?);
    TableRef::from_provider(name, provider)
}

/// Tables given one file each on the command line.
#[derive(Default)]
pub struct FileCatalog {
    inner: MemoryCatalog,
}

impl FileCatalog {
    pub fn new() -> FileCatalog {
        FileCatalog::default()
    }

    pub fn add_file(&mut self, name: &str, path: &Path) -> Result<(), CatalogError> {
        let table = load_table_file(name, path)?;
        self.inner.insert(table);
        Ok(())
    }
}

impl Catalog for FileCatalog {
    fn table(&self, name: &str) -> Option<TableRef> {
        self.inner.table(name)
    }

    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }
}

/// The Parquet lake: `ROOT/<Table>/day=YYYY-MM-DD/*.parquet`.
pub struct LakeCatalog {
    lake: goshawk_ingest::Lake,
}

impl LakeCatalog {
    /// Opens a lake written by `goshawk ingest`. Only files of sources recorded in the lake's
    /// manifest are read, so the leftovers of an ingest that was killed part way (removed by the
    /// next ingest) never show up in a query.
    pub fn open(root: impl Into<PathBuf>) -> Result<LakeCatalog, CatalogError> {
        let root = root.into();
        let lake = goshawk_ingest::Lake::open(&root).map_err(|err| CatalogError::BadFile {
            path: root.clone(),
            message: err.to_string(),
        })?;
        Ok(LakeCatalog { lake })
    }
}

impl Catalog for LakeCatalog {
    fn table(&self, name: &str) -> Option<TableRef> {
        // Kusto table names are case-sensitive; the lake matches them case-insensitively.
        let table = self
            .lake
            .table(name)
            .ok()
            .flatten()
            .filter(|t| t.name() == name)?;
        let files = table.files.iter().map(|file| {
            let location = std::path::absolute(&file.path)
                .unwrap_or_else(|_| file.path.clone())
                .to_string_lossy()
                .into_owned();
            (file.day, location)
        });
        let provider = Arc::new(LakeTable::new(files, table.schema.lake_arrow_schema()));
        TableRef::from_provider(name, provider).ok()
    }

    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = match self.lake.tables() {
            Ok(tables) => tables.iter().map(|t| t.name().to_string()).collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }
}

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// A lake table: prunes `day=` partitions by the `TimeGenerated` bounds among the pushed-down
/// filters, then lets DataFusion's Parquet scan use the same filters on row groups and pages.
///
/// Files are named by location: an absolute path, or an object store URL (`az://`, `s3://`,
/// `file://`) that the session's object store registry resolves, so the same table can be
/// read by the executors of a cluster.
#[derive(Debug, Clone)]
pub struct LakeTable {
    /// Start of each day partition (ns) and its committed files, ordered by day.
    days: Vec<(i64, Vec<String>)>,
    schema: SchemaRef,
}

impl LakeTable {
    /// A table of the given files, each with the UTC day all its rows' `TimeGenerated` lie in.
    pub fn new(
        files: impl IntoIterator<Item = (chrono::NaiveDate, String)>,
        schema: SchemaRef,
    ) -> LakeTable {
        let mut days: Vec<(i64, Vec<String>)> = Vec::new();
        for (day, location) in files {
            let start = day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp() * 1_000_000_000;
            match days.iter_mut().find(|(known, _)| *known == start) {
                Some((_, files)) => files.push(location),
                None => days.push((start, vec![location])),
            }
        }
        days.sort();
        LakeTable { days, schema }
    }

    /// The same table from its parts, as [`LakeTable::days`] gives them.
    pub fn from_days(days: Vec<(i64, Vec<String>)>, schema: SchemaRef) -> LakeTable {
        LakeTable { days, schema }
    }

    /// Start of each day partition (nanoseconds since the epoch) and the locations of its files.
    pub fn days(&self) -> &[(i64, Vec<String>)] {
        &self.days
    }

    pub fn arrow_schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// The `[low, high]` nanosecond bounds a filter puts on `TimeGenerated`, if any.
fn time_bounds(filter: &Expr, bounds: &mut (i64, i64)) {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = filter else {
        return;
    };
    if *op == Operator::And {
        time_bounds(left, bounds);
        time_bounds(right, bounds);
        return;
    }
    let (op, value) = match (left.as_ref(), right.as_ref()) {
        (Expr::Column(c), Expr::Literal(v, _)) if c.name == "TimeGenerated" => (*op, v),
        (Expr::Literal(v, _), Expr::Column(c)) if c.name == "TimeGenerated" => {
            let Some(swapped) = op.swap() else { return };
            (swapped, v)
        }
        _ => return,
    };
    let ScalarValue::TimestampNanosecond(Some(nanos), _) = value else {
        return;
    };
    match op {
        Operator::Gt | Operator::GtEq => bounds.0 = bounds.0.max(*nanos),
        Operator::Lt | Operator::LtEq => bounds.1 = bounds.1.min(*nanos),
        Operator::Eq => {
            bounds.0 = bounds.0.max(*nanos);
            bounds.1 = bounds.1.min(*nanos);
        }
        _ => {}
    }
}

#[async_trait]
impl TableProvider for LakeTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Inexact: partition and row-group pruning skip data, the filter still runs above.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let mut bounds = (i64::MIN, i64::MAX);
        for filter in filters {
            time_bounds(filter, &mut bounds);
        }
        let mut urls = Vec::new();
        for (day_start, files) in &self.days {
            let day_end = day_start.saturating_add(NANOS_PER_DAY);
            if day_end <= bounds.0 || *day_start > bounds.1 {
                continue;
            }
            for file in files {
                urls.push(ListingTableUrl::parse(file)?);
            }
        }
        if urls.is_empty() {
            let projected = match projection {
                Some(indices) => Arc::new(self.schema.project(indices)?),
                None => self.schema.clone(),
            };
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let listing = parquet_listing(urls, self.schema.clone())
            .map_err(|err| datafusion::error::DataFusionError::External(err.into()))?;
        listing.scan(state, projection, filters, limit).await
    }
}

/// Arrow type check used by the planner: a column read as `Utf8View`/`LargeUtf8` still counts
/// as a string.
pub fn is_utf8(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// The Arrow datetime type goshawk uses.
pub fn datetime_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}
