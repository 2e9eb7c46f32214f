//! Errors of the engine's function library.

use datafusion::error::DataFusionError;

/// An error raised while typing or evaluating a Kusto function.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The query named a function the library does not know.
    #[error("unknown function '{name}'")]
    UnknownFunction {
        /// The name as written in the query.
        name: String,
    },
    /// The function was called with too few or too many arguments.
    #[error("{name} expects {expected} argument{plural}, got {got}", plural = if *.expected == "1" { "" } else { "s" })]
    ArgumentCount {
        /// The function's Kusto name.
        name: String,
        /// The accepted counts in words, e.g. `1 or 2`, `at least 2`.
        expected: String,
        /// How many arguments the call had.
        got: usize,
    },
    /// An argument has a type the function does not accept.
    #[error("{name}: argument {position} has type {got}, expected {expected}")]
    ArgumentType {
        /// The function's Kusto name.
        name: String,
        /// 1-based argument position.
        position: usize,
        /// What the function accepts there.
        expected: String,
        /// The Kusto type that was passed.
        got: String,
    },
    /// An argument that must be a constant (a regex, a max size, an accuracy level) was not,
    /// or its value is out of range.
    #[error("{name}: {message}")]
    InvalidArgument {
        /// The function's Kusto name.
        name: String,
        /// What is wrong with the argument.
        message: String,
    },
    /// An error from DataFusion or Arrow.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

impl From<EngineError> for DataFusionError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::DataFusion(inner) => inner,
            other => DataFusionError::Execution(other.to_string()),
        }
    }
}

impl From<arrow::error::ArrowError> for EngineError {
    fn from(err: arrow::error::ArrowError) -> Self {
        EngineError::DataFusion(err.into())
    }
}

/// Result alias for engine operations.
pub type EngineResult<T> = Result<T, EngineError>;
