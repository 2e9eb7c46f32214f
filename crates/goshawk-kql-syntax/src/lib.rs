//! KQL lexer, parser, AST with spans and diagnostics (no DataFusion dependency)
