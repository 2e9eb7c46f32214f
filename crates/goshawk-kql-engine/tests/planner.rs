//! Planning without I/O (in-memory catalog): logical plan snapshots for the main operators,
//! semantic error snapshots rendered with a caret, and small end-to-end results.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use goshawk_kql_engine::catalog::MemoryCatalog;
use goshawk_kql_engine::output::write_csv;
use goshawk_kql_engine::planner::Planner;
use goshawk_kql_engine::session::QueryEngine;
use goshawk_kql_syntax::RenderOptions;
use goshawk_types::{KustoType, arrow_schema};

fn ts(text: &str) -> i64 {
    goshawk_kql_engine::time::parse_datetime(text).unwrap_or_default()
}

fn catalog() -> MemoryCatalog {
    let schema = arrow_schema([
        ("TimeGenerated", KustoType::DateTime),
        ("UserPrincipalName", KustoType::String),
        ("ResultType", KustoType::String),
        ("Attempts", KustoType::Long),
        ("Props", KustoType::Dynamic),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampNanosecondArray::from(vec![
                ts("2026-11-20T10:00:00Z"),
                ts("2026-11-20T11:30:00Z"),
                ts("2026-11-21T09:00:00Z"),
                ts("2026-11-21T09:15:00Z"),
            ])
            .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from(vec![
            Some("alice"),
            Some("bob"),
            None,
            Some("alice"),
        ])),
        Arc::new(StringArray::from(vec!["0", "50126", "50126", "0"])),
        Arc::new(Int64Array::from(vec![Some(1), Some(3), None, Some(2)])),
        Arc::new(StringArray::from(vec![
            Some(r#"{"ip":"10.0.0.1","tags":["a","b"]}"#),
            Some(r#"{"ip":"10.0.0.2","tags":[]}"#),
            None,
            Some(r#"{"ip":"10.0.0.1"}"#),
        ])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
    let mut catalog = MemoryCatalog::new();
    catalog
        .add_batches("Signins", schema, vec![batch])
        .expect("table");
    catalog
}

const NOW: &str = "2026-11-22T00:00:00Z";

fn plan(kql: &str) -> String {
    let catalog = catalog();
    let planner = Planner::new(&catalog, ts(NOW));
    match planner.plan_text(kql) {
        Ok(planned) => {
            let columns: Vec<String> = planned
                .columns
                .iter()
                .map(|c| format!("{}:{}", c.name, c.ty))
                .collect();
            format!(
                "columns: {}\n{}",
                columns.join(", "),
                planned.plan.display_indent()
            )
        }
        Err(diagnostic) => panic!("{}", diagnostic.render(kql, &RenderOptions::default())),
    }
}

fn plan_error(kql: &str) -> String {
    let catalog = catalog();
    let planner = Planner::new(&catalog, ts(NOW));
    match planner.plan_text(kql) {
        Ok(_) => panic!("expected an error for {kql}"),
        Err(diagnostic) => diagnostic.render(kql, &RenderOptions::default()),
    }
}

async fn run(kql: &str) -> String {
    let catalog = catalog();
    let engine = QueryEngine::new(&catalog, ts(NOW));
    let result = match engine.query(kql).await {
        Ok(result) => result,
        Err(err) => panic!("{}", err.render(kql, "test")),
    };
    let mut out = Vec::new();
    write_csv(&result, &mut out).expect("csv");
    String::from_utf8(out).expect("utf8")
}

#[test]
fn plans_of_the_main_operators() {
    let queries = [
        "Signins | where ResultType == '50126' and TimeGenerated > ago(2d)",
        "Signins | extend ResultType = toint(ResultType), Ip = tostring(Props.ip)",
        "Signins | project User = UserPrincipalName, Attempts, Props.ip",
        "Signins | project-away Props, Res* | project-rename Who = UserPrincipalName",
        "Signins | summarize count(), make_set(UserPrincipalName), max(TimeGenerated) by bin(TimeGenerated, 1d)",
        "Signins | count",
        "Signins | distinct UserPrincipalName",
        "Signins | top 2 by Attempts",
        "Signins | sort by UserPrincipalName asc, Attempts | take 3",
        "Signins | join kind=leftouter (Signins | project UserPrincipalName, Attempts) on UserPrincipalName",
        "Signins | join (Signins | summarize c = count() by UserPrincipalName) on UserPrincipalName",
        "union Signins, (print x = 1)",
        "Signins | mv-expand with_itemindex=i Tag = Props.tags to typeof(string)",
        "let threshold = 2; let f = (n:long) { n * 10 }; Signins | where Attempts >= threshold | extend Big = f(Attempts)",
        "print a = 1, 'two', now()",
        "datatable(a:long, b:string)[1, 'x', 2, 'y'] | parse b with * 'x' rest",
    ];
    let mut snapshot = String::new();
    for query in queries {
        snapshot.push_str(&format!("=== {query}\n{}\n\n", plan(query)));
    }
    insta::assert_snapshot!(snapshot);
}

#[test]
fn semantic_errors_point_at_the_source() {
    let queries = [
        "Signins | where UserPrincipalNam == 'alice'",
        "Signin | take 1",
        "Signins | extend x = tostrin(Attempts)",
        "Signins | extend x = strlen()",
        "Signins | where Attempts",
        "Signins | scan with (step s: Nope == 1;)",
        "Signins | summarize avg(UserPrincipalName)",
        "Signins | extend d = TimeGenerated + 'x'",
        "Signins | where count() > 1",
        "Signins | join (Signins) on Nope",
        "Signins | take Attempts",
    ];
    let mut snapshot = String::new();
    for query in queries {
        snapshot.push_str(&format!("=== {query}\n{}\n", plan_error(query)));
    }
    insta::assert_snapshot!(snapshot);
}

/// Queries the real engine rejects although each part looks plausible (oracle KustoError cases).
#[test]
fn kusto_rejections_point_at_the_source() {
    let queries = [
        "Signins | extend first = Attempts",
        "print asc = 1",
        "datatable(from:string)['a']",
        "Signins | parse UserPrincipalName with to:string '@' rest:string",
        "Signins | extend a = Attempts * 2, b = a + 1",
        "Signins | extend n = row_number()",
        "Signins | summarize by UserPrincipalName | extend p = prev(UserPrincipalName)",
        "print d = dynamic([1,2]) | extend same = d == dynamic([1,2])",
        "print x = iff(true, 1, 2.5)",
        "print x = coalesce(toint(1), 'a')",
        "print x = extract_all('a', 'aaa')",
    ];
    let mut snapshot = String::new();
    for query in queries {
        snapshot.push_str(&format!("=== {query}\n{}\n", plan_error(query)));
    }
    insta::assert_snapshot!(snapshot);
}

#[tokio::test]
async fn accepted_forms_of_the_rejected_queries() {
    let csv = run("print ['first'] = 1, ['asc'] = 2").await;
    assert_eq!(csv, "first,asc\n1,2\n");
    let csv = run("print x = 1 | extend a = x * 2 | extend b = a + 1").await;
    assert_eq!(csv, "x,a,b\n1,2,3\n");
    let csv = run(
        "Signins | project Attempts | serialize | extend n = row_number() | where n == 2 | project n",
    )
    .await;
    assert_eq!(csv, "n\n2\n");
    let csv = run("print x = iff(true, 1, long(2)), y = coalesce(int(null), 5)").await;
    assert_eq!(csv, "x,y\n1,5\n");
}

#[tokio::test]
async fn null_strings_from_files_read_as_empty_and_group_together() {
    let csv = run("Signins | summarize n = count() by UserPrincipalName | order by n desc, UserPrincipalName asc").await;
    assert_eq!(csv, "UserPrincipalName,n\nalice,2\n,1\nbob,1\n");
}

#[tokio::test]
async fn sort_puts_nulls_last_descending_and_first_ascending() {
    let desc = run("Signins | project Attempts | sort by Attempts").await;
    assert_eq!(desc, "Attempts\n3\n2\n1\n\n");
    let asc = run("Signins | project Attempts | sort by Attempts asc").await;
    assert_eq!(asc, "Attempts\n\n1\n2\n3\n");
}

#[tokio::test]
async fn extend_replaces_a_column_in_place() {
    let csv = run("Signins | take 1 | extend ResultType = 7, New = 1 | project-away Props").await;
    assert_eq!(
        csv,
        "TimeGenerated,UserPrincipalName,ResultType,Attempts,New\n2026-11-20T10:00:00.0000000Z,alice,7,1,1\n"
    );
}

#[tokio::test]
async fn join_renames_clashing_right_columns_and_dedups_the_left_side() {
    let csv = run("datatable(k:long, v:string)[1,'a', 1,'b', 2,'c'] \
         | join (datatable(k:long, v:string)[1,'x', 1,'y']) on k \
         | summarize n = count(), rights = dcount(v1) by k")
    .await;
    // innerunique keeps one left row for k=1, which meets both right rows.
    assert_eq!(csv, "k,n,rights\n1,2,2\n");
}

#[tokio::test]
async fn summarize_default_names_and_empty_input() {
    let csv = run("Signins | where Attempts > 100 | summarize count(), sum(Attempts), avg(Attempts), dcount(UserPrincipalName)").await;
    assert_eq!(
        csv,
        "count_,sum_Attempts,avg_Attempts,dcount_UserPrincipalName\n0,0,NaN,0\n"
    );
}

#[tokio::test]
async fn mv_expand_expands_arrays_and_drops_empty_ones() {
    let csv = run(
        "Signins | mv-expand Tag = Props.tags to typeof(string) | project UserPrincipalName, Tag",
    )
    .await;
    // Row 2 has an empty array (no rows), row 3 a null Props (one row, empty tag).
    assert_eq!(csv, "UserPrincipalName,Tag\nalice,a\nalice,b\n,\nalice,\n");
}

#[tokio::test]
async fn print_range_and_toscalar() {
    assert_eq!(run("print 1 + 1, s = 'x'").await, "print_0,s\n2,x\n");
    assert_eq!(run("range i from 1 to 7 step 3").await, "i\n1\n4\n7\n");
    let csv = run("let most = toscalar(Signins | summarize max(Attempts)); Signins | where Attempts == most | project UserPrincipalName").await;
    assert_eq!(csv, "UserPrincipalName\nbob\n");
}

#[tokio::test]
async fn arg_max_returns_the_row_of_the_maximum() {
    let csv = run(
        "datatable(g:string, a:long, b:long)[\"x\",1,100, \"x\",2,50, \"y\",3,300] \
                   | summarize arg_max(a, b), arg_min(a, *) by g | order by g asc",
    )
    .await;
    assert_eq!(csv, "g,a,b,a1,b1\nx,2,50,1,100\ny,3,300,3,300\n");
}

#[tokio::test]
async fn window_functions_follow_the_sorted_order() {
    let csv = run("range x from 1 to 4 step 1 | sort by x desc \
                   | extend rn = row_number(), p = prev(x), c = row_cumsum(x)")
    .await;
    assert_eq!(csv, "x,rn,p,c\n4,1,,4\n3,2,4,7\n2,3,3,9\n1,4,2,10\n");
}

#[tokio::test]
async fn top_nested_keeps_the_top_children_of_the_top_parents() {
    let csv = run("datatable(cat:string, sub:string, v:long)[\"a\",\"x\",10, \"a\",\"y\",20, \
                   \"b\",\"x\",30, \"b\",\"z\",5, \"c\",\"w\",1] \
                   | top-nested 2 of cat by sum(v), top-nested 1 of sub by sum(v) | order by cat asc")
        .await;
    assert_eq!(
        csv,
        "cat,aggregated_cat,sub,aggregated_sub\na,30,y,20\nb,35,x,30\n"
    );
}

#[tokio::test]
async fn search_matches_terms_in_any_column() {
    let csv = run("Signins | search \"alice\" and Attempts > 1 | project $table, Attempts").await;
    assert_eq!(csv, "$table,Attempts\nsearch_arg0,2\n");
}

#[tokio::test]
async fn union_withsource_and_lookup() {
    let csv = run(
        "let A = datatable(x:long)[1, 2]; union withsource=src A, (print x = 3) \
                   | order by x asc",
    )
    .await;
    assert_eq!(csv, "src,x\nunion_arg0,1\nunion_arg0,2\nunion_arg1,3\n");
    let csv = run("datatable(k:long, l:string)[1,'a', 2,'b'] \
                   | lookup (datatable(k:long, r:string)[1,'x']) on k | order by k asc")
    .await;
    assert_eq!(csv, "k,l,r\n1,a,x\n2,b,\n");
}

#[tokio::test]
async fn parse_extracts_typed_captures() {
    let csv = run("datatable(s:string)['user=bob id=42 rest', 'nothing'] \
                   | parse s with 'user=' user ' id=' id:long ' ' tail")
    .await;
    assert_eq!(
        csv,
        "s,user,id,tail\nuser=bob id=42 rest,bob,42,rest\nnothing,,,\n"
    );
}

#[tokio::test]
async fn summarize_expressions_over_aggregates_keep_their_place() {
    let csv = run(
        "datatable(k:string, ok:bool)[\"a\",true, \"a\",false, \"b\",true] \
                   | summarize n = count(), pct = 100.0 * countif(ok) / count(), m = max(k) by k \
                   | order by k asc",
    )
    .await;
    assert_eq!(csv, "k,n,pct,m\na,2,50,a\nb,1,100,b\n");
}

#[tokio::test]
async fn parse_kv_reads_the_first_value_of_each_key() {
    let csv = run("datatable(s:string)[' kv1 = 11 ; kv2 = x y ; kv1 = 3', 'none'] \
                   | parse-kv s as (kv1:int, kv2:string) with (pair_delimiter=';', kv_delimiter='=') \
                   | project kv1, kv2")
        .await;
    assert_eq!(csv, "kv1,kv2\n11,x y\n,\n");
}

#[tokio::test]
async fn strings_compare_with_numbers_and_bools_by_conversion() {
    // Sentinel's `SigninLogs | where ResultType == 0` on a string column.
    let csv = run("Signins | where ResultType == 0 | count").await;
    assert_eq!(csv, "Count\n2\n");
    let csv = run("Signins | where ResultType > 100 | count").await;
    assert_eq!(csv, "Count\n2\n");
    let csv = run("print a = 'x' == 1, b = 'true' == true, c = true == 1, d = '2.5' < 3.0").await;
    assert_eq!(csv, "a,b,c,d\nFalse,True,True,True\n");
}

#[tokio::test]
async fn column_ifexists_ingestion_time_and_deprecated_aliases() {
    let csv = run(
        "Signins | take 1 | project a = column_ifexists('Attempts', 0), \
         b = columnifexists('Missing', 'none'), t = isnull(ingestion_time()), \
         l = arraylength(parsejson('[1,2]')), e = notempty('x')",
    )
    .await;
    assert_eq!(csv, "a,b,t,l,e\n1,none,True,2,True\n");
    let error = plan_error("Signins | extend a = column_ifexists(UserPrincipalName, 1)");
    assert!(error.contains("must be a constant string"), "{error}");
}

#[tokio::test]
async fn list_operators_take_a_tabular_sub_query_and_let_takes_a_parenthesised_table() {
    let csv = run("let Parts = datatable(p:string)['ALICE', 'nobody']; \
         let Names = datatable(n:string)['BOB']; \
         let Recent = (Signins | where Attempts > 1); \
         Recent | project UserPrincipalName, \
         any = UserPrincipalName has_any (Parts), \
         all = UserPrincipalName has_all (Parts), \
         ci = UserPrincipalName in~ (Names), nci = UserPrincipalName !in~ (Names) \
         | order by UserPrincipalName asc")
    .await;
    assert_eq!(
        csv,
        "UserPrincipalName,any,all,ci,nci\nalice,True,False,False,True\nbob,False,False,True,False\n"
    );
}

#[tokio::test]
async fn mv_expand_zips_several_columns_and_names_conversions_after_their_column() {
    let csv = run("print a = dynamic([1, 2, 3]), b = dynamic(['x', 'y']) \
         | mv-expand a to typeof(long), b to typeof(string)")
    .await;
    assert_eq!(csv, "a,b\n1,x\n2,y\n3,\n");
    let csv = run(
        "print Entities = '[{\"Type\":\"ip\"},{\"Type\":\"host\"}]' \
         | mv-expand todynamic(Entities) | project t = tostring(Entities.Type)",
    )
    .await;
    assert_eq!(csv, "t\nip\nhost\n");
}

#[tokio::test]
async fn externaldata_plans_with_its_schema_and_fails_to_run_offline() {
    let kql = "externaldata(ip:string, score:long)['https://example.com/ips.csv'] with (format='csv') \
               | where score > 1";
    let planned = plan(kql);
    assert!(
        planned.starts_with("columns: ip:string, score:long"),
        "{planned}"
    );
    let catalog = catalog();
    let engine = QueryEngine::new(&catalog, ts(NOW));
    let message = match engine.query(kql).await {
        Ok(_) => panic!("externaldata must not return rows offline"),
        Err(err) => err.render(kql, "test"),
    };
    assert!(
        message.contains("does not fetch 'https://example.com/ips.csv'"),
        "{message}"
    );
}

#[tokio::test]
async fn table_of_a_function_parameter_and_capitalised_bool_literals() {
    let csv = run(
        "let f = (tableName:string) { table(tableName) | where Attempts > 2 | project Attempts }; \
         f('Signins') | extend t = True, u = FALSE",
    )
    .await;
    assert_eq!(csv, "Attempts,t,u\n3,True,False\n");
}

#[tokio::test]
async fn extract_and_extractjson_convert_to_a_requested_type() {
    let csv = run(
        "print a = extract('n=([0-9]+)', 1, 'n=42', typeof(long)) + 1, \
         b = extract('n=([0-9]+)', 1, 'none', typeof(long)), \
         c = extractjson('$.x', '{\"x\":\"2020-01-02\"}', typeof(datetime))",
    )
    .await;
    assert_eq!(csv, "a,b,c\n43,,2020-01-02T00:00:00.0000000Z\n");
}

#[tokio::test]
async fn distinct_computes_expressions_first() {
    let csv = run(
        "Signins | distinct UserPrincipalName, tostring(Props.ip), n = Attempts > 1 \
         | order by UserPrincipalName asc, n asc",
    )
    .await;
    assert_eq!(
        csv,
        "UserPrincipalName,Column1,n\n,,\nalice,10.0.0.1,False\nalice,10.0.0.1,True\nbob,10.0.0.2,True\n"
    );
}

#[tokio::test]
async fn ipv4_lookup_joins_on_the_containing_network() {
    let kql = "let Ranges = datatable(network:string, site:string)['10.0.0.0/31', 'lab', '192.168.0.0/16', 'home']; \
               Signins | extend ip = tostring(Props.ip) | project UserPrincipalName, ip \
               | evaluate ipv4_lookup(Ranges, ip, network{}) | order by UserPrincipalName asc, ip asc";
    let matched = run(&kql.replace("{}", "")).await;
    assert_eq!(
        matched,
        "UserPrincipalName,ip,network,site\nalice,10.0.0.1,10.0.0.0/31,lab\nalice,10.0.0.1,10.0.0.0/31,lab\n"
    );
    let all = run(&kql.replace("{}", ", return_unmatched = true")).await;
    assert_eq!(
        all,
        "UserPrincipalName,ip,network,site\n,,,\nalice,10.0.0.1,10.0.0.0/31,lab\nalice,10.0.0.1,10.0.0.0/31,lab\nbob,10.0.0.2,,\n"
    );
}

#[tokio::test]
async fn a_function_body_may_end_with_the_name_of_a_tabular_let() {
    let csv = run(
        "let f = (tableName:string) { let rows = table(tableName) | where Attempts > 2; rows }; \
         f('Signins') | project Attempts",
    )
    .await;
    assert_eq!(csv, "Attempts\n3\n");
}

#[tokio::test]
async fn take_anyif_takes_a_value_where_the_predicate_holds() {
    let csv = run("Signins | summarize take_anyif(UserPrincipalName, Attempts == 3), n = anyif(Attempts, UserPrincipalName == 'bob')").await;
    assert_eq!(csv, "UserPrincipalName,n\nbob,3\n");
}
