//! The contract between goshawk's layers: which Kusto type a column has, how that type is held
//! in Arrow (in memory and in the Parquet lake), and the Log Analytics table schemas that
//! ingestion normalises to and the engine plans against.
//!
//! Arrow has no native guid or dynamic type, so both travel as UTF-8 text and the Kusto type is
//! recorded in the field metadata under [`KUSTO_TYPE_METADATA_KEY`]. Readers must use
//! [`KustoType::from_field`], which honours that metadata, rather than guess from the Arrow type.

mod schemas;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, TimeUnit};

pub use schemas::{EXTRA_COLUMN, TableSchema, ingested_tables, table_schema};

/// Field metadata key holding the Kusto type name of a column.
pub const KUSTO_TYPE_METADATA_KEY: &str = "goshawk.kusto_type";

/// Kusto datetimes and timespans count 100-nanosecond ticks; Arrow holds nanoseconds.
pub const NANOS_PER_TICK: i64 = 100;

/// The scalar types of the Kusto query language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KustoType {
    Bool,
    Int,
    Long,
    Real,
    Decimal,
    String,
    DateTime,
    TimeSpan,
    Guid,
    Dynamic,
}

impl KustoType {
    pub const ALL: [KustoType; 10] = [
        KustoType::Bool,
        KustoType::Int,
        KustoType::Long,
        KustoType::Real,
        KustoType::Decimal,
        KustoType::String,
        KustoType::DateTime,
        KustoType::TimeSpan,
        KustoType::Guid,
        KustoType::Dynamic,
    ];

    /// The canonical Kusto name, as `getschema` and the REST API print it.
    pub fn name(self) -> &'static str {
        match self {
            KustoType::Bool => "bool",
            KustoType::Int => "int",
            KustoType::Long => "long",
            KustoType::Real => "real",
            KustoType::Decimal => "decimal",
            KustoType::String => "string",
            KustoType::DateTime => "datetime",
            KustoType::TimeSpan => "timespan",
            KustoType::Guid => "guid",
            KustoType::Dynamic => "dynamic",
        }
    }

    /// The .NET type name the Kusto v1 REST API reports in `DataType`.
    pub fn dotnet_name(self) -> &'static str {
        match self {
            KustoType::Bool => "System.Boolean",
            KustoType::Int => "System.Int32",
            KustoType::Long => "System.Int64",
            KustoType::Real => "System.Double",
            KustoType::Decimal => "System.Data.SqlTypes.SqlDecimal",
            KustoType::String => "System.String",
            KustoType::DateTime => "System.DateTime",
            KustoType::TimeSpan => "System.TimeSpan",
            KustoType::Guid => "System.Guid",
            KustoType::Dynamic => "System.Object",
        }
    }

    /// How values of this type are held in Arrow.
    pub fn arrow_type(self) -> DataType {
        match self {
            KustoType::Bool => DataType::Boolean,
            KustoType::Int => DataType::Int32,
            KustoType::Long => DataType::Int64,
            KustoType::Real => DataType::Float64,
            // .NET decimal has 28-29 significant digits; 38 with scale 18 holds every value a
            // Kusto decimal literal or conversion can produce in practice.
            KustoType::Decimal => DataType::Decimal128(38, 18),
            KustoType::String | KustoType::Guid | KustoType::Dynamic => DataType::Utf8,
            KustoType::DateTime => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            KustoType::TimeSpan => DataType::Duration(TimeUnit::Nanosecond),
        }
    }

    /// An Arrow field of this type; Kusto columns are always nullable (strings hold "" for
    /// null at the KQL level, but the storage stays nullable so that no input is refused).
    pub fn field(self, name: impl Into<String>) -> Field {
        let metadata =
            HashMap::from([(KUSTO_TYPE_METADATA_KEY.to_string(), self.name().to_string())]);
        Field::new(name, self.arrow_type(), true).with_metadata(metadata)
    }

    /// The Kusto type of an Arrow field: the metadata when present, else inferred from the
    /// Arrow data type (for Parquet, CSV and JSON files that goshawk did not write).
    pub fn from_field(field: &Field) -> Option<KustoType> {
        if let Some(Ok(ty)) = field
            .metadata()
            .get(KUSTO_TYPE_METADATA_KEY)
            .map(|d| d.parse())
        {
            return Some(ty);
        }
        KustoType::from_arrow(field.data_type())
    }

    /// The Kusto type that best represents an Arrow data type, if any.
    pub fn from_arrow(data_type: &DataType) -> Option<KustoType> {
        Some(match data_type {
            DataType::Boolean => KustoType::Bool,
            DataType::Int8 | DataType::Int16 | DataType::Int32 => KustoType::Int,
            DataType::UInt8 | DataType::UInt16 => KustoType::Int,
            DataType::Int64 | DataType::UInt32 | DataType::UInt64 => KustoType::Long,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => KustoType::Real,
            DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => KustoType::Decimal,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => KustoType::String,
            DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => KustoType::DateTime,
            DataType::Duration(_) | DataType::Time32(_) | DataType::Time64(_) => {
                KustoType::TimeSpan
            }
            DataType::List(_)
            | DataType::LargeList(_)
            | DataType::ListView(_)
            | DataType::FixedSizeList(..)
            | DataType::Struct(_)
            | DataType::Map(..) => KustoType::Dynamic,
            DataType::FixedSizeBinary(16) => KustoType::Guid,
            _ => return None,
        })
    }
}

impl fmt::Display for KustoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a type name Kusto does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTypeName(pub String);

impl fmt::Display for UnknownTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown type '{}' (expected one of: bool, int, long, real, decimal, string, datetime, timespan, guid, dynamic)",
            self.0
        )
    }
}

impl std::error::Error for UnknownTypeName {}

impl FromStr for KustoType {
    type Err = UnknownTypeName;

    /// Accepts the canonical names and the synonyms Kusto documents (`boolean`, `int32`,
    /// `int64`, `double`, `date`, `time`, `uuid`, `uniqueid`), case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "bool" | "boolean" => KustoType::Bool,
            "int" | "int32" => KustoType::Int,
            "long" | "int64" => KustoType::Long,
            "real" | "double" => KustoType::Real,
            "decimal" => KustoType::Decimal,
            "string" => KustoType::String,
            "datetime" | "date" => KustoType::DateTime,
            "timespan" | "time" => KustoType::TimeSpan,
            "guid" | "uuid" | "uniqueid" => KustoType::Guid,
            "dynamic" => KustoType::Dynamic,
            _ => return Err(UnknownTypeName(s.to_string())),
        })
    }
}

/// Build an Arrow schema from `(name, type)` pairs, with Kusto types in the metadata.
pub fn arrow_schema<'a>(columns: impl IntoIterator<Item = (&'a str, KustoType)>) -> Arc<Schema> {
    Arc::new(Schema::new(
        columns
            .into_iter()
            .map(|(name, ty)| ty.field(name))
            .collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_field() {
        for ty in KustoType::ALL {
            let field = ty.field("c");
            assert_eq!(KustoType::from_field(&field), Some(ty), "{ty}");
            assert_eq!(ty.name().parse::<KustoType>(), Ok(ty));
        }
    }

    #[test]
    fn plain_utf8_without_metadata_is_string() {
        let field = Field::new("c", DataType::Utf8, true);
        assert_eq!(KustoType::from_field(&field), Some(KustoType::String));
    }

    #[test]
    fn synonyms_parse_and_unknown_names_are_rejected() {
        assert_eq!("Int64".parse::<KustoType>(), Ok(KustoType::Long));
        assert_eq!("double".parse::<KustoType>(), Ok(KustoType::Real));
        assert_eq!("uniqueid".parse::<KustoType>(), Ok(KustoType::Guid));
        let err = "float".parse::<KustoType>().unwrap_err();
        assert!(err.to_string().contains("unknown type 'float'"));
    }
}
