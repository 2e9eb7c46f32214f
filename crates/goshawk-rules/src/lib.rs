//! Detection content: Microsoft Sentinel YAML (hunting queries, analytic rules) and Elastic
//! detection-rule TOML, anomaly-detection job and datafeed JSON, loaded with every field kept;
//! and the query of a rule file with enough position information to point a KQL diagnostic at
//! the right line of that file.

pub mod anomaly;
pub mod elastic;
mod embedded;
pub mod explain;
pub mod findings;
mod html_text;
pub mod hunt;
pub mod lint;
mod load;
pub mod page;
pub mod report;
pub mod sentinel;

pub use embedded::{EmbeddedQuery, QueryLocation, RuleFileError, RuleFormat, extract_query};
pub use load::{LoadedRule, RuleDocument, RuleLoadError, load_file, load_paths, load_str};
pub use page::{RulePage, rule_page, rule_page_html};

pub mod builtin;
