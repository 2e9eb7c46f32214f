//! KQL engine on Apache DataFusion: Kusto types, semantics and function library
