//! KQL engine on Apache DataFusion: Kusto types, semantics and function library.
//!
//! * [`time`]: datetime/timespan parsing and printing, Kusto's real formatting.
//! * [`format`]: `tostring()` and JSON rendering of values of every Kusto type.
//! * [`dynamic`]: the `dynamic` representation (compact JSON text) and its accessors.
//! * [`scalar`]: Kusto scalar functions and string operators as DataFusion UDFs.
//! * [`aggregate`]: Kusto aggregation functions as DataFusion UDAFs.
//! * [`registry`]: name lookup, argument-count checks, return types and default column names.

pub mod aggregate;
pub mod dynamic;
pub mod error;
pub mod format;
pub mod registry;
pub mod scalar;
pub mod time;

pub use error::{EngineError, EngineResult};

pub mod catalog;
pub mod output;
pub mod planner;
pub mod session;
