//! One module per subcommand: its clap arguments and its `run` function.
pub mod check;
pub mod demo;
pub mod generate;
pub mod ingest;
pub mod tables;
pub mod explain;
pub mod query;
