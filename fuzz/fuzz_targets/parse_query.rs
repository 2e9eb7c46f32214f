//! Feeds arbitrary text to the KQL parser: any input must give an AST or a diagnostic, never a
//! panic, a stack overflow or a hang, and a diagnostic must render for the same input.
#![no_main]

use goshawk_kql_syntax::{RenderOptions, parse_query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(diagnostic) = parse_query(source) {
        let options = RenderOptions {
            origin: "fuzz.kql",
            line_offset: 0,
            column_offset: 0,
        };
        let _ = diagnostic.render(source, &options);
        let _ = diagnostic.line_col(source);
    }
});
