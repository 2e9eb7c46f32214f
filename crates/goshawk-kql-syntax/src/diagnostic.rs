//! Parse errors with a location, what was expected, an optional hint, and a plain-text renderer.

use std::fmt::Write as _;

use crate::span::{LineCol, Span, line_col};

/// The first error found in a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Diagnostic {
    pub message: String,
    pub span: Span,
    /// What the parser would have accepted at `span`, e.g. `["')'", "','"]`.
    pub expected: Vec<String>,
    pub hint: Option<String>,
}

/// Where the query came from, for the ` --> origin:line:column` line of a rendered diagnostic.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions<'a> {
    /// A file name or other label; may be empty.
    pub origin: &'a str,
    /// Added to the reported line (the query starts this many lines into `origin`).
    pub line_offset: usize,
    /// Added to every reported column (the query is indented by this many characters in `origin`).
    pub column_offset: usize,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span,
            expected: Vec::new(),
            hint: None,
        }
    }

    pub fn with_expected(mut self, expected: Vec<String>) -> Diagnostic {
        self.expected = expected;
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn line_col(&self, source: &str) -> LineCol {
        line_col(source, self.span.start as usize)
    }

    /// Renders the diagnostic as plain text in the style of rustc:
    ///
    /// ```text
    /// error: expected an expression after '=='
    ///  --> rules/hunt01.kql:3:17
    ///   |
    /// 3 | | where ResultType ==
    ///   |                    ^ expected an expression
    ///   = hint: ...
    /// ```
    pub fn render(&self, source: &str, opts: &RenderOptions) -> String {
        let position = self.line_col(source);
        let reported_line = position.line + opts.line_offset;
        let reported_column = position.column + opts.column_offset;
        let line_text = source.split('\n').nth(position.line - 1).unwrap_or("");
        let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
        let gutter = reported_line.to_string();
        let pad = " ".repeat(gutter.len());

        let mut out = String::new();
        let _ = writeln!(out, "error: {}", self.message);
        let origin = if opts.origin.is_empty() {
            "<query>"
        } else {
            opts.origin
        };
        let _ = writeln!(out, "{pad}--> {origin}:{reported_line}:{reported_column}");
        let _ = writeln!(out, "{pad} |");
        let line_chars: Vec<char> = line_text.chars().collect();
        let caret_column = (position.column - 1).min(line_chars.len());
        let span_chars = self
            .span
            .text(source)
            .chars()
            .take_while(|&ch| ch != '\n')
            .count();
        let window = SnippetWindow::around(line_chars.len(), caret_column);
        let shown: String = line_chars[window.start..window.end].iter().collect();
        let before = if window.start > 0 { "…" } else { "" };
        let after = if window.end < line_chars.len() {
            "…"
        } else {
            ""
        };
        let _ = writeln!(out, "{gutter} | {before}{shown}{after}");

        // Keep tabs so the caret lines up with the snippet however the terminal expands them.
        let indent: String = before
            .chars()
            .map(|_| ' ')
            .chain(
                line_chars[window.start..caret_column.max(window.start)]
                    .iter()
                    .map(|&ch| if ch == '\t' { '\t' } else { ' ' }),
            )
            .collect();
        let carets = span_chars
            .min(window.end.saturating_sub(caret_column))
            .max(1);
        let _ = writeln!(
            out,
            "{pad} | {indent}{} {}",
            "^".repeat(carets),
            self.label()
        );
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{pad} = hint: {hint}");
        }
        out
    }

    fn label(&self) -> String {
        match self.expected.as_slice() {
            [] => "here".to_string(),
            [only] => format!("expected {only}"),
            [init @ .., last] => format!("expected {} or {last}", init.join(", ")),
        }
    }
}

/// Lines longer than this are shown as a window around the error, so that one 400-character line
/// does not flood the terminal.
const MAX_SNIPPET_CHARS: usize = 120;
/// How much of a long line the window shows before the caret.
const CONTEXT_BEFORE_CARET: usize = 40;

/// The character range of the offending line that a rendered diagnostic shows.
struct SnippetWindow {
    start: usize,
    end: usize,
}

impl SnippetWindow {
    fn around(line_len: usize, caret_column: usize) -> SnippetWindow {
        if line_len <= MAX_SNIPPET_CHARS {
            return SnippetWindow {
                start: 0,
                end: line_len,
            };
        }
        // Room for the two `…` marks.
        let width = MAX_SNIPPET_CHARS - 2;
        let mut start = caret_column.saturating_sub(CONTEXT_BEFORE_CARET);
        let end = (start + width).min(line_len);
        // Near the end of the line, show more of what comes before.
        if end - start < width {
            start = end.saturating_sub(width);
        }
        SnippetWindow { start, end }
    }
}
