//! Detection content: reading the query out of Microsoft Sentinel YAML and Elastic detection-rule
//! TOML files, with enough position information to point a KQL diagnostic at the right line of
//! the rule file.

mod embedded;

pub use embedded::{EmbeddedQuery, QueryLocation, RuleFileError, RuleFormat, extract_query};

pub mod builtin;
