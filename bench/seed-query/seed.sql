-- The seed query (seed.kql) as hand-written DuckDB SQL. {file} is the Parquet file.
-- dcount -> exact count(DISTINCT ...); make_set(x, n) -> the first n items of the group's
-- distinct list; startofday -> date_trunc('day', ...) in UTC; =~ -> lower(a) = lower(b);
-- tostring(parse_json(sp).Name) -> json_extract_string, "" when missing or not JSON.
-- DuckDB 2.0 cannot compare or date_trunc its TIMESTAMPTZ_NS type, so TimeGenerated is read
-- as TIMESTAMPTZ (microseconds; the generated instants are whole microseconds).
SELECT JobId, SPName, ResultSignature,
       count(*) AS Failures,
       count(DISTINCT TargetIdentity) AS AffectedTargets,
       list_slice(list(DISTINCT ResultDescription), 1, 5) AS ErrorMessages,
       list_slice(list(DISTINCT OperationName), 1, 10) AS Operations,
       count(DISTINCT date_trunc('day', TimeGenerated)) AS DistinctDays,
       min(TimeGenerated) AS FirstSeen,
       max(TimeGenerated) AS LastSeen,
       count(DISTINCT date_trunc('day', TimeGenerated)) >= 3 AS Sustained
FROM (
    SELECT JobId, ResultSignature, TargetIdentity, ResultDescription, OperationName,
           CAST(TimeGenerated AS TIMESTAMPTZ) AS TimeGenerated,
           coalesce(json_extract_string(TRY_CAST(ServicePrincipal AS JSON), '$.Name'), '') AS SPName
    FROM read_parquet('{file}')
    WHERE CAST(TimeGenerated AS TIMESTAMPTZ) > TIMESTAMPTZ '{now}' - INTERVAL 30 DAY
      AND lower(ResultType) = lower('Failure')
)
GROUP BY JobId, SPName, ResultSignature
HAVING count(*) >= 10
ORDER BY Failures DESC
