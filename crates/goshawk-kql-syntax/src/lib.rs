//! KQL (Kusto Query Language) lexer, parser, typed AST with spans, and diagnostics.
//!
//! * [`parse_query`] reads a whole query (`let`/`set`/`declare`/... statements separated by `;`)
//!   into an [`ast::Query`]; [`parse_expression`] reads one scalar expression. Like Kusto's own
//!   parser it accepts any expression as the last statement (or none): call
//!   [`check_query_shape`] for the semantic rule that a query ends with a tabular expression.
//! * Every AST node has a byte [`Span`]; [`line_col`] turns an offset into a 1-based position.
//! * Errors are a single [`Diagnostic`] (the first error) with what was expected and a hint;
//!   [`Diagnostic::render`] prints it with a source snippet.
//! * [`walk`] has a [`walk::Visitor`] and [`walk::summarize_query`] (tables, operators,
//!   functions and columns a query uses).
//!
//! Keywords are contextual (`count`, `kind`, `by`, ... are also column names), and nesting is
//! limited to [`MAX_NESTING_DEPTH`] levels so that any input yields a result or a diagnostic.
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
pub use parser::{MAX_NESTING_DEPTH, check_query_shape, parse_expression, parse_query};
pub use span::{LineCol, Span, line_col};
