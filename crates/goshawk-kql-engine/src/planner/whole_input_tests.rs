//! End-to-end checks of the operators that see their whole input (`make-series`, `mv-apply`,
//! `scan`, the `evaluate` plugins), through the query engine; values from the Kusto docs.

use crate::catalog::MemoryCatalog;
use crate::format::display_at;
use crate::session::QueryEngine;

/// Runs `kql` and renders every row as its cells joined by " | ".
fn rows(kql: &str) -> Vec<String> {
    let catalog = MemoryCatalog::new();
    let engine = QueryEngine::new(&catalog, 0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let result = runtime
        .block_on(engine.query(kql))
        .unwrap_or_else(|e| panic!("{}", e.render(kql, "test")));
    let mut out = Vec::new();
    for batch in &result.batches {
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = result
                .columns
                .iter()
                .enumerate()
                .map(|(c, column)| {
                    display_at(batch.column(c).as_ref(), row, column.ty)
                        .unwrap_or_else(|| "null".into())
                })
                .collect();
            out.push(cells.join(" | "));
        }
    }
    out
}

#[test]
fn make_series_fills_missing_bins_with_the_default() {
    let got = rows(
        "datatable(t:datetime, v:long)[datetime(2025-01-07), 10, datetime(2025-01-16), 20, \
         datetime(2025-02-01), 30]
         | make-series s=sum(v) default=-1 on t from datetime(2025-01-06) to datetime(2025-02-09) step 7d",
    );
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("[10,20,-1,30,-1] | [\"2025-01-06T00:00:00.0000000Z\""),
        "{got:?}"
    );
}

#[test]
fn make_series_by_groups() {
    let mut got = rows(
        "datatable(k:string, t:long)['a', 1, 'a', 3, 'b', 2]
         | make-series c=count() on t from 0 to 4 step 1 by k",
    );
    got.sort();
    assert_eq!(
        got,
        ["a | [0,1,0,1] | [0,1,2,3]", "b | [0,0,1,0] | [0,1,2,3]"]
    );
}

#[test]
fn mv_apply_runs_the_subquery_per_row() {
    let mut got = rows(
        "datatable(i:long, a:dynamic)[0, dynamic([5, 1, 3]), 1, dynamic([4, 10, 8, 7])]
         | mv-apply x=a to typeof(long) on (top 2 by x | summarize top2=make_list(x))",
    );
    got.sort();
    assert_eq!(got, ["0 | [5,1,3] | [5,3]", "1 | [4,10,8,7] | [10,8]"]);
}

#[test]
fn scan_fills_forward_and_numbers_matches() {
    let got = rows(
        "datatable(Ts:long, Event:string)[0, 'A', 1, '', 2, 'B', 3, '']
         | sort by Ts asc
         | scan declare (Filled: string = '') with
           (step s1: true => Filled = iff(isempty(Event), s1.Filled, Event);)",
    );
    assert_eq!(got, ["0 | A | A", "1 |  | A", "2 | B | B", "3 |  | B"]);
    let got = rows(
        "datatable(Ts:long, Event:string)[1, 'Start', 2, 'x', 3, 'Stop', 4, 'y', 8, 'Start', 9, 'Stop']
         | sort by Ts asc
         | scan with_match_id=m with
           (step s1: Event == 'Start'; step s2: Event == 'Stop' and Ts - s1.Ts <= 5;)",
    );
    assert_eq!(
        got,
        [
            "1 | Start | 0",
            "3 | Stop | 0",
            "8 | Start | 1",
            "9 | Stop | 1"
        ]
    );
}

#[test]
fn rows_near_keeps_the_neighbours_of_matching_rows() {
    let got =
        rows("range x from 1 to 10 step 1 | sort by x asc | evaluate rows_near(x == 5, 1, 2)");
    assert_eq!(got, ["4", "5", "6", "7"]);
}

#[test]
fn bag_unpack_makes_a_column_per_property() {
    let got = rows(
        "datatable(d:dynamic)[dynamic({'Name': 'John', 'Age': 20}), dynamic({'Age': 40})]
         | evaluate bag_unpack(d, 'p_')",
    );
    assert_eq!(got, ["John | 20", " | 40"]);
}
