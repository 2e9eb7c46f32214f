//! KQL engine on Apache DataFusion: Kusto types, semantics and function library

pub mod catalog;
pub mod output;
pub mod planner;
pub mod session;
