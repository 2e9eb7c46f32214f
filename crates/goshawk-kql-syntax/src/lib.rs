//! KQL (Kusto Query Language) lexer, parser, typed AST with spans, and diagnostics.
//!
//! ```
//! let query = goshawk_kql_syntax::parse_query("SigninLogs | where ResultType == 0 | count").unwrap();
//! assert_eq!(query.statements.len(), 1);
//! ```

pub mod ast;
mod diagnostic;
mod lexer;
mod parser;
mod span;
mod token;
pub mod walk;

pub use diagnostic::{Diagnostic, RenderOptions};
pub use parser::{MAX_NESTING_DEPTH, parse_expression, parse_query};
pub use span::{LineCol, Span, line_col};
