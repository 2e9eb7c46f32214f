//! One module per subcommand: its clap arguments and its `run` function.
pub mod check;
#[cfg(feature = "distributed")]
pub mod cluster;
pub mod compact;
pub mod demo;
pub mod explain;
pub mod generate;
pub mod hunt;
pub mod ingest;
pub mod ml;
pub mod query;
pub mod rules;
pub mod rules_lint;
pub mod rules_show;
pub mod serve;
pub mod tables;
