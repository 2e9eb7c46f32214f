//! Rendered diagnostics for typical mistakes, snapshotted together so the wording and caret
//! positions can be reviewed in one file (tests/snapshots/diagnostics__rendered.snap).

use goshawk_kql_syntax::{RenderOptions, check_query_shape, parse_expression, parse_query};

const CASES: &[(&str, &str)] = &[
    ("unterminated string", "T\n| where Name == \"abc\n| count"),
    ("unterminated verbatim string", "T | where Path == @'C:\\x"),
    ("unterminated multi-line string", "print ```abc"),
    (
        "missing closing parenthesis",
        "T\n| where strlen(Name > 3\n| count",
    ),
    ("missing closing bracket of index", "T | extend x = a[0"),
    (
        "unknown operator with hint",
        "SigninLogs\n| summerize count() by UserPrincipalName",
    ),
    ("unknown operator without hint", "T | frobnicate"),
    ("SQL operator", "T | select A, B"),
    ("SQL statement", "SELECT * FROM SigninLogs"),
    ("assignment used as comparison", "T\n| where ResultType = 0"),
    ("empty pipe", "T |"),
    ("pipe followed by pipe", "T | | count"),
    ("trailing garbage", "T | take 5 foo"),
    ("missing operand after ==", "T\n| where ResultType ==\n"),
    ("missing operand after and", "T | where a == 1 and"),
    ("management command", ".show tables"),
    ("too deep nesting", "PLACEHOLDER_DEEP"),
    ("bad timespan unit", "T | where TimeGenerated > ago(1.5x)"),
    (
        "timespan literal out of range",
        "T | where TimeGenerated > ago(99999999999999999999d)",
    ),
    ("int literal overflow", "print 9223372036854775808"),
    ("int() out of range", "print int(3000000000)"),
    ("invalid escape sequence", "print \"C:\\q\""),
    ("unknown type", "let f = (x:integer) { x }; print f(1)"),
    ("unknown join kind", "T | join kind=leftoutr (U) on A"),
    ("join without on", "T | join (U)"),
    ("sort without by", "T | sort A"),
    ("missing let value", "let x = ;\nT"),
    ("unexpected character", "T | where a == 1 # comment"),
    ("malformed guid", "print guid(not-a-guid)"),
    ("unclosed dynamic", "print dynamic({\"a\": 1)"),
    ("unclosed function body", "let f = () { T | take 1 ; f()"),
    ("between without range", "T | where x between (1, 2)"),
    ("missing semicolon after let", "let x = 1\nT | take x"),
    ("hyphenated operator without operand", "T | mv-expand"),
    ("dot without member", "T | extend x = a."),
    ("case-sensitive operator name", "T | Where x == 1"),
    ("error in a long line", "PLACEHOLDER_LONG"),
    (
        "GQL instead of KQL",
        "match (a)-[e]->(b) return a.name, b.name",
    ),
];

/// Queries that parse (as in Kusto's parser) but break the semantic rule on a query's shape,
/// reported by `check_query_shape`.
const SHAPE_CASES: &[(&str, &str)] = &[
    ("query without tabular result", "let x = 1;"),
    ("scalar expression as query", "1 + 2"),
    (
        "scalar statement before the result",
        "let x = 1;\nx * 2;\nT",
    ),
    ("empty query", "// only a comment\n"),
];

/// A 400-character line with the error in the middle: the snippet shows a window around it.
fn long_line_query() -> String {
    let conditions: Vec<String> = (0..14)
        .map(|i| format!("Field{i:02} == \"v{i}\""))
        .collect();
    let (head, tail) = conditions.split_at(7);
    format!(
        "SigninLogs\n| where {} and Field99 === 1 and {}\n| count",
        head.join(" and "),
        tail.join(" and ")
    )
}

fn deep_query() -> String {
    format!("print {}1{}", "(".repeat(300), ")".repeat(300))
}

#[test]
fn rendered() {
    let mut out = String::new();
    for (name, query) in CASES {
        let query = match *query {
            "PLACEHOLDER_DEEP" => deep_query(),
            "PLACEHOLDER_LONG" => long_line_query(),
            _ => (*query).to_string(),
        };
        let Err(diagnostic) = parse_query(&query) else {
            panic!("{name}: expected an error for {query:?}");
        };
        let origin = format!("rules/{}.kql", name.replace(' ', "_"));
        let opts = RenderOptions {
            origin: &origin,
            line_offset: 0,
            column_offset: 0,
        };
        out.push_str(&format!("### {name}\n"));
        out.push_str(&diagnostic.render(&query, &opts));
        out.push('\n');
    }
    for (name, query) in SHAPE_CASES {
        let parsed = parse_query(query)
            .unwrap_or_else(|diagnostic| panic!("{name}: must parse: {}", diagnostic.message));
        let Err(diagnostic) = check_query_shape(&parsed) else {
            panic!("{name}: expected a shape error for {query:?}");
        };
        let origin = format!("rules/{}.kql", name.replace(' ', "_"));
        let opts = RenderOptions {
            origin: &origin,
            line_offset: 0,
            column_offset: 0,
        };
        out.push_str(&format!("### shape: {name}\n"));
        out.push_str(&diagnostic.render(query, &opts));
        out.push('\n');
    }
    insta::assert_snapshot!("rendered", out);
}

#[test]
fn well_shaped_queries_pass_the_shape_check() {
    for query in [
        "T | take 1",
        "let x = 1;\nprint x",
        "let f = () { 1 };\nT;\nU | count",
    ] {
        let parsed = parse_query(query).unwrap_or_else(|d| panic!("{query}: {}", d.message));
        assert_eq!(check_query_shape(&parsed), Ok(()), "{query}");
    }
}

#[test]
fn long_lines_show_a_window_with_exact_columns() {
    let query = long_line_query();
    let error_line = query.lines().nth(1).unwrap_or_default();
    assert!(error_line.chars().count() > 200, "{error_line}");
    let diagnostic = parse_query(&query).expect_err("'===' must fail");
    let rendered = diagnostic.render(&query, &RenderOptions::default());
    // The third '=' of '===' is the unexpected token.
    let column = error_line.find("===").map_or(0, |byte| byte + 3);
    assert!(
        rendered.contains(&format!(" --> <query>:2:{column}")),
        "{rendered}"
    );
    let lines: Vec<&str> = rendered.lines().collect();
    let snippet_index = lines
        .iter()
        .position(|line| line.starts_with("2 | "))
        .unwrap_or_else(|| panic!("no snippet line in\n{rendered}"));
    let snippet: Vec<char> = lines[snippet_index].chars().collect();
    let caret_line: Vec<char> = lines[snippet_index + 1].chars().collect();
    assert!(
        snippet[4] == '…' && snippet.last() == Some(&'…'),
        "{rendered}"
    );
    assert!(snippet.len() < 140, "{rendered}");
    let caret = caret_line.iter().position(|&c| c == '^');
    assert_eq!(
        caret.map(|at| &snippet[at - 2..=at]),
        Some(&['=', '=', '='][..]),
        "{rendered}"
    );
}

#[test]
fn render_shifts_only_the_reported_location() {
    let query = "T\n| where ResultType ==";
    let diagnostic = parse_query(query).expect_err("incomplete comparison must fail");
    let opts = RenderOptions {
        origin: "rules/hunt01.yaml",
        line_offset: 10,
        column_offset: 4,
    };
    let rendered = diagnostic.render(query, &opts);
    assert!(
        rendered.contains(" --> rules/hunt01.yaml:12:26"),
        "{rendered}"
    );
    assert!(
        rendered.contains("12 | | where ResultType =="),
        "{rendered}"
    );
    let position = diagnostic.line_col(query);
    assert_eq!((position.line, position.column), (2, 22));
}

#[test]
fn misspelled_operator_suggests_the_right_one() {
    let diagnostic = parse_query("T | summerize count()").expect_err("typo must fail");
    assert_eq!(
        diagnostic.message,
        "unknown operator 'summerize'; did you mean 'summarize'?"
    );
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("did you mean 'summarize'?")
    );
    assert_eq!(diagnostic.span.start, 4);
    assert_eq!(diagnostic.span.end, 13);
}

#[test]
fn unterminated_string_points_at_its_start() {
    let query = "T | where a == 'abc";
    let diagnostic = parse_query(query).expect_err("unterminated string must fail");
    assert_eq!(diagnostic.message, "unterminated string literal");
    assert_eq!((diagnostic.span.start, diagnostic.span.end), (15, 16));
}

#[test]
fn missing_parenthesis_names_where_it_was_opened() {
    let query = "T\n| where f(a, b";
    let diagnostic = parse_query(query).expect_err("unclosed call must fail");
    assert_eq!(
        diagnostic.message,
        "expected ')' to close the argument list opened at 2:10, found end of query"
    );
}

#[test]
fn expression_api_rejects_trailing_tokens() {
    let diagnostic = parse_expression("a + b c").expect_err("trailing name must fail");
    assert!(diagnostic.message.contains("'c'"), "{}", diagnostic.message);
}
