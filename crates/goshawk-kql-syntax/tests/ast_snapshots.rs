//! AST snapshots for every operator and expression form. Each case is a small query; its
//! snapshot (tests/snapshots/) records the full tree with spans. Review changes by reading the
//! `.snap` files (`INSTA_UPDATE=always cargo test -p goshawk-kql-syntax --test ast_snapshots`).

use goshawk_kql_syntax::{parse_expression, parse_query};

const QUERIES: &[(&str, &str)] = &[
    // statements
    ("let_scalar", "let threshold = 5; T | where x > threshold"),
    (
        "let_tabular",
        "let Failures = SigninLogs | where ResultType != 0; Failures | count",
    ),
    (
        "let_function",
        "let f = (a:long, b:string = \"x\") { a * 2 }; print f(1)",
    ),
    (
        "let_tabular_params",
        "let f = (T:(*), U:(a:string, b:long), V:(c:int, *)) { T | union U }; f(A, B, C)",
    ),
    (
        "let_function_tabular_body",
        "let f = (n:long) { let x = n; T | take x }; f(3)",
    ),
    (
        "let_materialize",
        "let M = materialize(T | summarize count() by A); M | join M on A",
    ),
    ("let_view", "let V = view () { T | where x == 1 }; V"),
    (
        "let_bracket_name",
        "let ['my table'] = T; ['my table'] | take 1",
    ),
    (
        "declare_query_parameters",
        "declare query_parameters(start:datetime = datetime(2020-01-01), n:long); T | take n",
    ),
    (
        "set_statements",
        "set query_results_cache_max_age = time(5m); set notruncation; T",
    ),
    (
        "alias_database",
        "alias database db = cluster('https://c.kusto.windows.net').database('d'); db.T | count",
    ),
    (
        "declare_pattern",
        "declare pattern app = (applicationId:string)[eventType:string] { (\"a1\").[\"click\"] = { T | where x == 1 }; }; app(\"a1\").[\"click\"] | count",
    ),
    ("declare_pattern_bare", "declare pattern P; T"),
    (
        "restrict_access",
        "restrict access to (T1, database('d').T2); T1 | count",
    ),
    (
        "several_statements_trailing_semicolon",
        "let a = 1;\nlet b = 2;\nprint c = a + b;",
    ),
    (
        "comments_everywhere",
        "// leading\nT // after source\n| where x == 1 // trailing\n// between\n| count",
    ),
    // sources
    ("source_table_function", "table('SigninLogs') | take 1"),
    (
        "source_cluster_database",
        "cluster('c').database('d').T | take 1",
    ),
    ("source_database", "database('d').T | count"),
    ("source_external_table", "external_table('x') | take 1"),
    (
        "source_materialized_view",
        "materialized_view('mv') | take 1",
    ),
    (
        "source_watchlist",
        "_GetWatchlist('HighValueAssets') | project SearchKey",
    ),
    (
        "source_parser_function",
        "imAuthentication(starttime=ago(1d), eventresult='Failure') | count",
    ),
    ("source_parenthesized", "(T | where x == 1) | count"),
    (
        "datatable_trailing_comma",
        "datatable(a:long, b:string)[1, \"x\", 2, \"y\",]",
    ),
    (
        "externaldata",
        "externaldata(a:string, b:long) [\"https://x/y.csv\", h\"https://secret\"] with (format=\"csv\", ignoreFirstRecord=true)",
    ),
    (
        "external_data_alias",
        "external_data(a:string) ['https://x/a.csv']",
    ),
    (
        "inline_external_table",
        "inline_external_table(T:datetime, P:string) kind=storage dataformat=csv (h@\"https://a/b.csv\", \"https://a/c.csv\") with (includeHeaders='All')",
    ),
    (
        "inline_external_table_delta",
        "inline_external_table kind=delta (h@'abfss://x/y') | take 1",
    ),
    ("print", "print x = 1, y = \"a\", 2"),
    ("print_empty", "print"),
    ("range", "range x from 1 to 10 step 2"),
    // filtering and projection
    ("where", "T | where A == 1 and B != 'x' or not(C)"),
    ("filter", "T | filter A > 0"),
    ("extend", "T | extend a = 1, b = x * 2, x + 1"),
    ("extend_tuple", "T | extend (a, b) = f(x)"),
    ("project", "T | project A, B = C, D = strcat(E, F)"),
    ("project_away", "T | project-away A, B*, ['c d']"),
    ("project_keep", "T | project-keep A*, B"),
    (
        "project_rename",
        "T | project-rename NewA = A, ['new b'] = B",
    ),
    (
        "project_reorder",
        "T | project-reorder B asc, A*, C granny-desc",
    ),
    // aggregation
    (
        "summarize",
        "T | summarize count(), c = dcount(U), arg_max(TimeGenerated, *) by bin(TimeGenerated, 1h), A",
    ),
    ("summarize_by_only", "T | summarize by A, B"),
    (
        "summarize_hints",
        "T | summarize hint.strategy=shuffle hint.shufflekey=A count() by A",
    ),
    ("count", "T | count"),
    ("distinct", "T | distinct A, B"),
    ("distinct_star", "T | distinct *"),
    ("take_limit", "T | take 10 | limit 5"),
    ("top", "T | top 5 by A desc nulls last"),
    (
        "top_nested",
        "T | top-nested 3 of State by sum(x) desc, top-nested 2 of City with others = \"Other\" by Total = count()",
    ),
    ("top_hitters", "T | top-hitters 5 of A by B"),
    ("sort", "T | sort by A asc nulls first, B desc"),
    ("order", "T | order by A"),
    (
        "make_series",
        "T | make-series Count = count() default = 0, avg(x) on TimeGenerated from ago(1d) to now() step 1h by A",
    ),
    (
        "make_series_in_range",
        "T | make-series kind=nonempty count() on Timestamp in range(datetime(2020-01-01), datetime(2020-01-02), 1h)",
    ),
    // joins and unions
    ("join_default", "T | join (U) on A"),
    (
        "join_kind_and_keys",
        "T | join kind=leftouter hint.strategy=broadcast (U | where x == 1) on $left.A == $right.B, C",
    ),
    ("join_bare_table", "T | join kind=inner U on A"),
    (
        "join_all_kinds",
        "T | join kind=leftanti U on A | join kind=rightsemi V on B | join kind=fullouter W on C | join kind=innerunique X on D",
    ),
    ("lookup", "T | lookup kind=leftouter (U) on A"),
    (
        "union",
        "union withsource=TableName kind=outer isfuzzy=true T1, (T2 | where x == 1), Sec*",
    ),
    ("union_after_pipe", "T | union U, V"),
    (
        "union_scoped_patterns",
        "union withsource=T *, database('d').*, cluster('c').database('e*').T*, K*",
    ),
    // expansion and parsing
    (
        "mv_expand",
        "T | mv-expand bagexpansion=array with_itemindex=i x, y to typeof(long) limit 10",
    ),
    ("mvexpand_old", "T | mvexpand x"),
    (
        "mv_apply",
        "T | mv-apply x to typeof(long) on (summarize s = sum(x) | where s > 0)",
    ),
    (
        "parse_simple",
        "T | parse Msg with \"id=\" Id:long \", user=\" User \" \" *",
    ),
    (
        "parse_regex",
        "T | parse kind=regex flags=Ui Msg with * \"a(b)\" Cap:string",
    ),
    ("parse_relaxed", "T | parse kind=relaxed Msg with \"x\" A"),
    ("parse_where", "T | parse-where Msg with \"a\" B:int"),
    (
        "parse_kv",
        "T | parse-kv Text as (a:string, b:long) with (pair_delimiter=',', kv_delimiter='=', quote='\"', escape='\\\\', greedy=true)",
    ),
    (
        "parse_kv_regex",
        "T | parse-kv Text as (a:string) with (regex=@\"(\\w+)=(\\w+)\")",
    ),
    // plugins, rendering, search
    ("evaluate_bag_unpack", "T | evaluate bag_unpack(x)"),
    ("evaluate_pivot", "T | evaluate pivot(A, sum(B), C)"),
    (
        "evaluate_named_args",
        "T | evaluate hint.distribution=per_node autocluster(0.6, columnsConflict='replace_source')",
    ),
    (
        "evaluate_python_schema",
        "T | evaluate python(typeof(*, fx:double), 'result = df')",
    ),
    (
        "evaluate_source",
        "evaluate sql_request('conn', 'select 1') : (x:long)",
    ),
    (
        "render",
        "T | render timechart with (title=\"Sign-ins\", kind=stacked, ysplit=panels, ycolumns=a, b)",
    ),
    ("render_plain", "T | render piechart"),
    (
        "search",
        "search kind=case_sensitive in (T1, Sec*) \"foo\" and Col:\"x\"",
    ),
    ("search_after_pipe", "T | search \"err*\""),
    (
        "find",
        "find withsource=Src in (T1, T2) where x == 1 project a, b",
    ),
    ("find_project_smart", "find where x has \"y\" project-smart"),
    ("facet", "T | facet by A, B with (where x > 1 | take 5)"),
    ("facet_with_operator", "T | facet by A with top 3 by B"),
    (
        "fork",
        "T | fork (where x == 1) named = (summarize count()) (take 2 | as hint.materialized=true Z)",
    ),
    (
        "partition",
        "T | partition hint.strategy=native by A (top 1 by B)",
    ),
    ("partition_braces", "T | partition by A { U | take 1 }"),
    (
        "scan",
        "T | scan with_match_id=id declare (s:string = \"\") with (step s1 output=all: Event == \"Start\" => s = Event; step s2: Event == \"Stop\" and s1.s != \"\";)",
    ),
    ("as_materialized", "T | as hint.materialized=true X | count"),
    ("invoke", "T | invoke f(1)"),
    ("serialize", "T | serialize rn = row_number()"),
    ("serialize_bare", "T | serialize"),
    ("sample", "T | sample 10"),
    ("sample_distinct", "T | sample-distinct 5 of A"),
    ("getschema", "T | getschema"),
    ("consume", "T | consume decodeblocks=true"),
    (
        "reduce",
        "T | reduce by Msg with threshold=0.1, characters=\".\"",
    ),
    // graph operators
    ("make_graph", "E | make-graph Src --> Dst with N on Id"),
    (
        "make_graph_undirected",
        "E | make-graph Src -- Dst with_node_id=Id",
    ),
    (
        "graph_match",
        "G | graph-match cycles=none (a)-[e*1..3]->(b)<-[f]-(c), (c)--(d) where a.x == 1 project a.name, b",
    ),
    (
        "graph_shortest_paths",
        "G | graph-shortest-paths output=all (a)-[e*1..5]->(b) where a.x == 1 project b",
    ),
    (
        "graph_mark_components",
        "G | graph-mark-components kind=weak with_component_id=cid",
    ),
    (
        "graph_to_table",
        "G | graph-to-table nodes as N with_node_id=Id, edges as E",
    ),
    ("graph_merge", "G1 | graph-merge G2"),
    (
        "make_graph_partitioned",
        "E | make-graph Src --> Dst with N on Id partitioned-by Tenant (graph-match (a)-[e]->(b) project a.Id, b.Id)",
    ),
    // macro-expand and project-by-names
    (
        "macro_expand_inline_group",
        "macro-expand kind=inner entity_group [cluster('C1').database('D'), database('E')] as X (X.Logs | extend db = X.$current_database) | count",
    ),
    (
        "macro_expand_nested",
        "macro-expand G1 as X (macro-expand G2 as Y (X.T | join (Y.T) on Id))",
    ),
    (
        "project_by_names",
        "T | project-by-names \"Name\", column_names_of(U), extra_columns",
    ),
    (
        "find_typed_project",
        "find in (T1, T2) where ProcessId == 1001 project Level, ProcessId:string",
    ),
    // statements that parse but fail `check_query_shape`
    ("scalar_statement", "let x = 2;\nx * 3"),
    ("let_only_block", "let x = 2;\nlet y = x;"),
    // names that start with digits
    (
        "digit_leading_names",
        "T | summarize 90th_Percentile = percentile(x, 90) by 5Minutebin = bin(t, 5m) | where 5Minutebin > ago(1d) | project-away 90th_Percentile",
    ),
    // scalar forms inside queries
    ("tabular_in_operand", "T | where A in (U | project A)"),
    (
        "toscalar_tabular",
        "let m = toscalar(T | summarize max(x)); T | where x == m",
    ),
    (
        "index_after_dot",
        "AuditLogs | extend n = TargetResources.[0].displayName, m = P['a'][0]",
    ),
    (
        "dollar_sides",
        "T | join U on $left.A == $right.B and $left.C == $right.D",
    ),
    ("management_like_dot_member", "T | extend x = a.b.c"),
];

const EXPRESSIONS: &[(&str, &str)] = &[
    ("precedence", "-a * b + c % d > e and f or g"),
    (
        "comparisons",
        "a == 1 and b != 2 and c < 3 and d <= 4 and e > 5 and f >= 6 and g <> 7",
    ),
    ("case_insensitive_equality", "a =~ \"X\" and b !~ \"y\""),
    (
        "has_family",
        "a has \"x\" and a !has \"x\" and a has_cs \"x\" and a !has_cs \"x\"",
    ),
    (
        "hasprefix_family",
        "a hasprefix \"x\" and a !hasprefix \"x\" and a hasprefix_cs \"x\" and a !hasprefix_cs \"x\"",
    ),
    (
        "hassuffix_family",
        "a hassuffix \"x\" and a !hassuffix \"x\" and a hassuffix_cs \"x\" and a !hassuffix_cs \"x\"",
    ),
    (
        "contains_family",
        "a contains \"x\" and a !contains \"x\" and a contains_cs \"x\" and a !contains_cs \"x\"",
    ),
    (
        "startswith_family",
        "a startswith \"x\" and a !startswith \"x\" and a startswith_cs \"x\" and a !startswith_cs \"x\"",
    ),
    (
        "endswith_family",
        "a endswith \"x\" and a !endswith \"x\" and a endswith_cs \"x\" and a !endswith_cs \"x\"",
    ),
    ("matches_regex", "a matches regex @\"^\\d+$\""),
    (
        "in_family",
        "a in (1, 2) and b !in (3) and c in~ (\"x\") and d !in~ (\"y\", \"z\")",
    ),
    (
        "has_any_all",
        "a has_any (\"x\", \"y\") and b has_all (list)",
    ),
    (
        "between",
        "a between (1 .. 10) and b !between (datetime(2020-01-01) .. now())",
    ),
    ("not_function", "not(a == 1)"),
    ("member_and_index", "a.b[\"c\"].d['e'][0][-1].[1]"),
    ("bracket_identifiers", "['column name'] + [\"other one\"]"),
    (
        "call_named_args",
        "bin_at(x, 1h, start) + strcat_array(a, \",\") + countif(x > 1)",
    ),
    ("count_star_args", "arg_max(TimeGenerated, *)"),
    ("unary_chain", "- - + 1"),
    ("parenthesized", "(a + b) * c"),
    (
        "dynamic_literals",
        "dynamic({\"a\": [1, -2.5, null, true, \"s\", {\"b\": {}}], \"c\": []})",
    ),
    ("dynamic_null", "dynamic(null)"),
    (
        "datetime_forms",
        "datetime(2020-01-01) + datetime(2020-01-01 10:00:00.123) + datetime(2020-01-01T10:00:00Z) + datetime(null) + datetime(\"2021-02-03\")",
    ),
    (
        "timespan_literals",
        "1d + 2h + 30m + 10s + 100ms + 5microsecond + 3tick + 1.5d + 2days",
    ),
    (
        "timespan_functions",
        "time(1.02:03:04) + timespan(1d) + time(null) + time(15 seconds) + time(2) + time(00:00:01.5)",
    ),
    (
        "guid",
        "guid(74be27de-1e4e-49d9-b579-fe0b331d3642) == guid(null)",
    ),
    (
        "typed_literals",
        "int(5) + long(-1) + real(2.5) + bool(true) + decimal(1.25) + int(null) + real(null)",
    ),
    ("real_special_values", "real(nan) + real(+inf) + real(-inf)"),
    (
        "numbers",
        "1 + 1.5 + 1e3 + 2.5E-2 + 0x1F + -9223372036854775808",
    ),
    (
        "string_forms",
        "'single' + \"double\" + \"esc\\t\\n\\\\\\\"q\" + @\"C:\\path\" + @'it''s' + ```multi\nline```",
    ),
    ("obfuscated_strings", "h\"secret\" + h'x' + H@\"C:\\y\""),
    ("adjacent_strings", "\"a\" \"b\" 'c'"),
    ("bool_literals", "true and false"),
    ("typeof", "extract(\"(\\\\d+)\", 1, s, typeof(long))"),
];

#[test]
fn query_snapshots() {
    for (name, query) in QUERIES {
        let ast = parse_query(query).unwrap_or_else(|diagnostic| {
            panic!(
                "{name}: {query}\n{}",
                diagnostic.render(query, &Default::default())
            )
        });
        insta::with_settings!({ description => *query, omit_expression => true }, {
            insta::assert_debug_snapshot!(format!("query_{name}"), ast);
        });
    }
}

#[test]
fn expression_snapshots() {
    for (name, source) in EXPRESSIONS {
        let expr = parse_expression(source).unwrap_or_else(|diagnostic| {
            panic!(
                "{name}: {source}\n{}",
                diagnostic.render(source, &Default::default())
            )
        });
        insta::with_settings!({ description => *source, omit_expression => true }, {
            insta::assert_debug_snapshot!(format!("expr_{name}"), expr);
        });
    }
}
