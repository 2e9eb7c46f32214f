use super::*;

fn steps(kql: &str) -> Vec<String> {
    let analysis = analyze_kql(kql).unwrap();
    analysis
        .explanation
        .to_text()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn time_frames_read_as_words() {
    assert_eq!(
        steps("T | where TimeGenerated > ago(30d)"),
        [
            "1. Data source: the T table",
            "2. Time frame: the last 30 days (by time generated)"
        ]
    );
    let text = steps(
        "let lookback = 14d; T | where TimeGenerated between (ago(lookback) .. now()) and ago(1h) > TimeGenerated",
    );
    assert_eq!(text[0], "1. Definition: lookback is 14 days");
    assert_eq!(
        text[2],
        "3. Time frame: the last 14 days (lookback) (by time generated) and before 1 hour ago (by time generated)"
    );
}

#[test]
fn filters_say_when_case_is_ignored() {
    let text = steps(
        r#"SigninLogs | where ResultType =~ "Failure" and AppDisplayName has_cs "Portal" or UserType in ("Guest", "Member")"#,
    );
    assert_eq!(
        text[1],
        "2. Filter: keep the rows where result type equals Failure, ignoring case and app display name has the term Portal (case-sensitive) or user type is one of (Guest, Member)"
    );
    let text = steps(r#"T | where A !contains "x y" and isnotempty(B) and C !in~ ("a")"#);
    assert_eq!(
        text[1],
        r#"2. Filter: keep the rows where A does not contain "x y", ignoring case, B is not empty and C is none of (a), ignoring case"#
    );
}

#[test]
fn thresholds_apply_to_aggregates_and_flags_to_booleans() {
    let text = steps(
        "T | summarize N = count(), Seen = max(TimeGenerated) by bin(TimeGenerated, 1h), User | where N > 5 and User != 'x' | extend Many = N > 100, Label = strcat(User, '!') | top 3 by N",
    );
    assert_eq!(
        text,
        [
            "1. Data source: the T table",
            "2. Aggregate: group the rows by time generated in periods of 1 hour and user and compute, for each group:",
            "   - N: the number of rows",
            "   - Seen: the latest time generated (last seen)",
            "3. Threshold: keep only the groups where N is greater than 5",
            "4. Filter: keep the rows where user does not equal x",
            "5. Derived flag: Many is true when N is greater than 100",
            "6. Compute: Label = the text user + \"!\" joined together",
            "7. Limit: keep the top 3 rows, sorted by N, highest first",
        ]
    );
}

#[test]
fn nested_queries_become_substeps_and_unknown_operators_are_quoted() {
    let text = steps(
        "let Admins = IdentityInfo | where IsAdmin; SigninLogs | join kind=leftanti (Admins | project UserId) on UserId | union AuditLogs, (AzureActivity | take 5) | evaluate autocluster() | reduce by Name",
    );
    assert_eq!(
        text,
        [
            "1. Definition: Admins is the result of these steps",
            "   1.1. Data source: the IdentityInfo table (user identity information from Microsoft Entra ID)",
            "   1.2. Filter: keep the rows where IsAdmin is true",
            "2. Data source: the SigninLogs table (Microsoft Entra ID interactive user sign-ins)",
            "3. Join: keep only the rows with no match in the following (left anti join), matching on UserId",
            "   3.1. Data source: Admins (defined above)",
            "   3.2. Columns: keep only the columns UserId",
            "4. Union: combine the rows with those of the AuditLogs table (Microsoft Entra ID audit logs: changes to users, groups, applications and roles) and sub-query 1",
            "   4.1. Data source: sub-query 1",
            "        4.1.1. Data source: the AzureActivity table (Azure Activity logs: control-plane operations on Azure subscriptions and resources)",
            "        4.1.2. Limit: keep at most 5 rows (any rows)",
            "5. Operator: run the autocluster plugin: `autocluster()`",
            "6. Operator: the reduce operator: `reduce by Name`",
        ]
    );
}

#[test]
fn operators_list_groups_aggregates_after_their_operator() {
    let source = "let f = (x:long) { x }; T | where f(1) > 0 and tolower(A) == 'a' | summarize round(avg(B), 2), dcount(bin(C, 1h)) by D | sort by D asc | take 1 | evaluate bag_unpack(E)";
    let query = parse_query(source).unwrap();
    assert_eq!(
        operators(source, &query),
        [
            "where",
            "summarize",
            "avg",
            "dcount",
            "by",
            "sort by",
            "take",
            "evaluate",
            "bag_unpack",
            "tolower",
            "round",
            "bin"
        ]
    );
}

#[test]
fn keywords_are_the_columns_read_from_sources() {
    let query = parse_query(
        "T | extend X = tostring(P.Name) | summarize N = count() by X, Y | where N > 1 | project-away Z",
    )
    .unwrap();
    assert_eq!(source_columns(&query), ["P", "Y", "Z"]);
    assert_eq!(tables(&query), ["T"]);
}

#[test]
fn an_empty_query_still_has_a_step() {
    assert_eq!(
        steps("// nothing"),
        ["1. Operator: the query has no statements (it is empty or only comments)"]
    );
}

#[test]
fn deep_nesting_is_quoted_not_recursed() {
    let kql = format!("print x = {}1{}", "(".repeat(150), ")".repeat(150));
    let text = analyze_kql(&kql).unwrap().explanation.to_text();
    assert!(
        text.starts_with("1. Data source: a single row with x = "),
        "{text}"
    );
}

#[test]
fn constants_show_their_value_and_parameters_keep_their_names() {
    let text = steps(
        "let limit = 60; let f = (v_IP:string) { T | where Ip == v_IP }; T | where tostring(parse_json(tostring(P.q)).r) == 'x' and delta <= limit | summarize by A | project-rename B = A | where B > 1",
    );
    assert_eq!(text[0], "1. Definition: limit is 60");
    assert_eq!(
        text[3],
        "   2.2. Filter: keep the rows where ip equals v_IP"
    );
    assert_eq!(
        text[5],
        "4. Filter: keep the rows where the r field of the JSON in the q field of P, as text equals x and delta is at most limit (60)"
    );
    assert_eq!(
        text[6],
        "5. Distinct: keep one row per distinct combination of A"
    );
    assert_eq!(
        text[8],
        "7. Filter: keep the rows where B is greater than 1"
    );
}
