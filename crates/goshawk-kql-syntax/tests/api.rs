//! Literal decoding, spans, the walker, and the Sentinel syntax the corpus README calls out.

use goshawk_kql_syntax::ast::*;
use goshawk_kql_syntax::walk::summarize_query;
use goshawk_kql_syntax::{LineCol, Span, line_col, parse_expression, parse_query};

fn literal(source: &str) -> LiteralKind {
    match parse_expression(source) {
        Ok(Expr {
            kind: ExprKind::Literal(literal),
            ..
        }) => literal.kind,
        other => panic!("{source}: expected a literal, got {other:?}"),
    }
}

#[test]
fn timespans_are_ticks() {
    assert_eq!(literal("1d"), LiteralKind::Timespan(864_000_000_000));
    assert_eq!(literal("1.5h"), LiteralKind::Timespan(54_000_000_000));
    assert_eq!(literal("30m"), LiteralKind::Timespan(18_000_000_000));
    assert_eq!(literal("100ms"), LiteralKind::Timespan(1_000_000));
    assert_eq!(literal("0.1s"), LiteralKind::Timespan(1_000_000));
    assert_eq!(literal("5microsecond"), LiteralKind::Timespan(50));
    assert_eq!(literal("3tick"), LiteralKind::Timespan(3));
    assert_eq!(
        literal("time(-1.00:00:00)"),
        LiteralKind::Timespan(-864_000_000_000)
    );
    assert_eq!(
        literal("timespan(null)"),
        LiteralKind::TypedNull(ScalarType::Timespan)
    );
}

#[test]
fn numbers_and_typed_literals() {
    assert_eq!(literal("0x1F"), LiteralKind::Long(31));
    assert_eq!(literal("-9223372036854775808"), LiteralKind::Long(i64::MIN));
    assert_eq!(literal("int(0xFFFFFFFF)"), LiteralKind::Int(-1));
    assert_eq!(literal("long(-5)"), LiteralKind::Long(-5));
    assert_eq!(
        literal("decimal(1.10)"),
        LiteralKind::Decimal("1.10".into())
    );
    assert!(matches!(literal("real(nan)"), LiteralKind::Real(v) if v.is_nan()));
    assert_eq!(literal("real(-inf)"), LiteralKind::Real(f64::NEG_INFINITY));
    assert_eq!(
        literal("bool(null)"),
        LiteralKind::TypedNull(ScalarType::Bool)
    );
    assert_eq!(
        literal("datetime( 2020-01-01 10:00 )"),
        LiteralKind::DateTime("2020-01-01 10:00".into())
    );
    assert_eq!(
        literal("guid(null)"),
        LiteralKind::TypedNull(ScalarType::Guid)
    );
    let overflow = parse_expression("99999999999999999999").expect_err("overflow");
    assert_eq!((overflow.span.start, overflow.span.end), (0, 20));
}

#[test]
fn strings_are_decoded() {
    assert_eq!(
        literal(r#""a\"b\\c\u0041""#),
        LiteralKind::String("a\"b\\cA".into())
    );
    assert_eq!(
        literal(r#"@"C:\temp\""#),
        LiteralKind::String(r"C:\temp\".into())
    );
    assert_eq!(
        literal(r#"@"say ""hi""""#),
        LiteralKind::String(r#"say "hi""#.into())
    );
    assert_eq!(literal(r#"h@'C:\x'"#), LiteralKind::String(r"C:\x".into()));
    assert_eq!(
        literal("'a' // comment\n 'b'"),
        LiteralKind::String("ab".into())
    );
    assert_eq!(
        literal("```\nline1\nline2```"),
        LiteralKind::String("\nline1\nline2".into())
    );
    assert_eq!(
        literal(r#"dynamic({"k": [1, "v", null]})"#),
        LiteralKind::Dynamic(DynamicValue::Object(vec![(
            "k".into(),
            DynamicValue::Array(vec![
                DynamicValue::Long(1),
                DynamicValue::String("v".into()),
                DynamicValue::Null
            ])
        )]))
    );
}

#[test]
fn spans_recover_the_original_text() {
    let source = "T | where Name == @\"x\\y\" and Age > 1.5d";
    let query = parse_query(source).expect("valid query");
    let StatementKind::Tabular(tabular) = &query.statements[0].kind else {
        panic!("tabular")
    };
    let OperatorKind::Where { predicate } = &tabular.operators[0].kind else {
        panic!("where")
    };
    assert_eq!(
        predicate.span.text(source),
        "Name == @\"x\\y\" and Age > 1.5d"
    );
    let ExprKind::Binary { left, .. } = &predicate.kind else {
        panic!("and")
    };
    let ExprKind::Binary { right, .. } = &left.kind else {
        panic!("==")
    };
    assert_eq!(right.span.text(source), "@\"x\\y\"");
    assert_eq!(
        tabular.operators[0].span.text(source),
        "where Name == @\"x\\y\" and Age > 1.5d"
    );
}

#[test]
fn line_col_counts_characters() {
    let source = "ab\nçé|x";
    assert_eq!(line_col(source, 0), LineCol { line: 1, column: 1 });
    assert_eq!(line_col(source, 3), LineCol { line: 2, column: 1 });
    // 'ç' and 'é' are two bytes each; byte 7 is '|', the third character of line 2.
    assert_eq!(line_col(source, 7), LineCol { line: 2, column: 3 });
    // Offsets inside a character or past the end are clamped.
    assert_eq!(line_col(source, 4), LineCol { line: 2, column: 1 });
    assert_eq!(line_col(source, 999), LineCol { line: 2, column: 5 });
    assert_eq!(Span::new(3, 5).text(source), "ç");
}

#[test]
fn summary_lists_tables_operators_functions_columns() {
    let query = parse_query(
        "let window = 1d;\n\
         let Failed = SigninLogs | where TimeGenerated > ago(window) and ResultType != 0;\n\
         Failed\n\
         | join kind=inner (AuditLogs | project Caller) on $left.UserPrincipalName == $right.Caller\n\
         | union Sec*, table('CommonSecurityLog'), _GetWatchlist('VIP')\n\
         | summarize n = count() by bin(TimeGenerated, 1h), IPAddress\n\
         | evaluate bag_unpack(Details)\n\
         | project-away Extra",
    )
    .expect("valid query");
    let summary = summarize_query(&query);
    assert_eq!(
        summary.tables,
        [
            "SigninLogs",
            "AuditLogs",
            "Sec*",
            "CommonSecurityLog",
            "_GetWatchlist"
        ]
    );
    assert_eq!(
        summary.operators,
        [
            "where",
            "join",
            "project",
            "union",
            "summarize",
            "evaluate",
            "project-away"
        ]
    );
    assert_eq!(
        summary.functions,
        [
            "ago",
            "table",
            "_GetWatchlist",
            "count",
            "bin",
            "bag_unpack"
        ]
    );
    assert_eq!(
        summary.columns,
        [
            "TimeGenerated",
            "ResultType",
            "Caller",
            "UserPrincipalName",
            "IPAddress",
            "Details",
            "Extra"
        ]
    );
}

fn parses(query: &str) {
    if let Err(diagnostic) = parse_query(query) {
        panic!("{}", diagnostic.render(query, &Default::default()));
    }
}

#[test]
fn sentinel_readme_syntax() {
    parses("AuditLogs | extend n = tostring(TargetResources.[0].displayName)");
    parses(r#"T | where CommandLine has @"C:\Windows\" and Path !has h"secret""#);
    parses(r#"T | where a !in~ ("x", "y") and b in~ ("z")"#);
    parses("T | join (U) on $left.X == $right.Y");
    parses("let f = (p:string = \"x\", n:long = 5) { T | where A == p | take n }; f()");
    parses("let v = view () { T | take 1 }; v");
    parses("let d = datatable(a:string, b:long)[\n \"x\", 1,\n \"y\", 2,\n];\nd");
    parses(
        "T | mvexpand x | summarize makeset(a), makelist(b) by c | extend y = columnifexists('z', '') | extend j = extractjson('$.a', s)",
    );
    parses("T | join U on Key");
}

#[test]
fn hyphenated_operators_are_not_subtraction() {
    let query = parse_query("T | extend a = b - c | project-away b").expect("valid query");
    let StatementKind::Tabular(tabular) = &query.statements[0].kind else {
        panic!("tabular")
    };
    assert!(matches!(
        tabular.operators[1].kind,
        OperatorKind::ProjectAway { .. }
    ));
    let OperatorKind::Extend { columns } = &tabular.operators[0].kind else {
        panic!("extend")
    };
    assert!(matches!(
        columns[0].expr.kind,
        ExprKind::Binary {
            op: Spanned {
                value: BinaryOp::Sub,
                ..
            },
            ..
        }
    ));
}

#[test]
fn operator_words_as_arguments_are_names() {
    let expr = parse_expression("f(print, union, search)").expect("valid call");
    let ExprKind::Call(call) = expr.kind else {
        panic!("call")
    };
    assert!(
        call.args
            .iter()
            .all(|arg| matches!(arg.value.kind, ExprKind::Name(_)))
    );
}

#[test]
fn keywords_are_valid_column_names() {
    parses(
        "T | project Type, count, kind, title, step, from, to, on, by | where kind == 1 and by > 2",
    );
    parses("T | summarize count() by Type | sort by count_ desc");
}

fn name_of(source: &str) -> Option<String> {
    match parse_expression(source) {
        Ok(Expr {
            kind: ExprKind::Name(ident),
            ..
        }) => Some(ident.name),
        _ => None,
    }
}

#[test]
fn digit_leading_words_are_names_unless_they_are_literals() {
    assert_eq!(name_of("5Minutebin").as_deref(), Some("5Minutebin"));
    assert_eq!(
        name_of("90th_Percentile").as_deref(),
        Some("90th_Percentile")
    );
    assert_eq!(name_of("4xx").as_deref(), Some("4xx"));
    let query = parse_query("let 5MinuteBins = 3;\nT | extend b = 5MinuteBins")
        .unwrap_or_else(|d| panic!("{}", d.message));
    let Some(StatementKind::Let(statement)) = query.statements.first().map(|s| &s.kind) else {
        panic!("expected a let statement: {query:?}");
    };
    assert_eq!(statement.name.name, "5MinuteBins");
    assert_eq!(literal("5min"), LiteralKind::Timespan(3_000_000_000));
    assert_eq!(literal("2days"), LiteralKind::Timespan(1_728_000_000_000));
    // A '.' cannot be part of a name, and a timespan out of range is still a timespan.
    for malformed in ["1.5x", "99999999999999999999d"] {
        assert!(parse_expression(malformed).is_err(), "{malformed}");
    }
}

#[test]
fn macro_expand_is_a_source_only() {
    let query = parse_query("macro-expand G as X (X.T | take 1) | count").unwrap_or_else(|d| {
        panic!("{}", d.message);
    });
    let Some(StatementKind::Tabular(tabular)) = query.statements.first().map(|s| &s.kind) else {
        panic!("expected a tabular statement: {query:?}");
    };
    let Some(SourceKind::Operator(operator)) = tabular.source.as_deref().map(|s| &s.kind) else {
        panic!("expected an operator source: {tabular:?}");
    };
    assert_eq!(operator.kind.name(), "macro-expand");
    assert_eq!(tabular.operators.len(), 1);

    let diagnostic = parse_query("T | macro-expand G as X (X.T)").expect_err("not after '|'");
    assert_eq!(
        diagnostic.message,
        "'macro-expand' starts a query; it cannot follow '|'"
    );
    // With spaces it is a subtraction of two columns.
    let query = parse_query("T | extend d = macro - expand").unwrap_or_else(|d| {
        panic!("{}", d.message);
    });
    assert_eq!(query.statements.len(), 1);
}

#[test]
fn new_operators_are_walked() {
    let query = parse_query(
        "macro-expand G as X (X.Logs | project-by-names \"A\", cols) | make-graph S --> D \
         partitioned-by P (graph-match (a)-->(b) project x = f(a.Id))",
    )
    .unwrap_or_else(|d| panic!("{}", d.message));
    let summary = summarize_query(&query);
    for operator in [
        "macro-expand",
        "project-by-names",
        "make-graph",
        "graph-match",
    ] {
        assert!(
            summary.operators.iter().any(|o| o == operator),
            "{operator}: {summary:?}"
        );
    }
    assert!(summary.functions.iter().any(|f| f == "f"), "{summary:?}");
    assert!(summary.columns.iter().any(|c| c == "P"), "{summary:?}");
}
