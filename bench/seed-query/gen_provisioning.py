"""Deterministic AADProvisioningLogs rows for the seed-query benchmark, as ONE Parquet file.

The rows are computed by DuckDB from the row number alone (md5/hash of the row index with a
per-column salt), so the same arguments always give the same file, whatever the thread count.
Batches stream from DuckDB through pyarrow into the Parquet writer: memory stays flat.

Shape (what the seed query is sensitive to):
- TimeGenerated: timestamp[ns, UTC] (the lake's type) holding whole microseconds, increasing
  with the row number, evenly spread over `--days` days ending 12 hours before `--now`, so that
  `ago(30d)` cuts the first half day.
- ~30% failures, spelled "Failure" (90%), "failure" (6%) and "FAILURE" (4%); the rest "Success"
  or "Skipped". The failure rate differs per job (a few broken jobs fail most of the time).
- 200 jobs (`<App>.<32 hex>.<32 hex>`, as Entra ID names them); each job belongs to one of 50
  service principals, stored as JSON text `{"Id":"<guid>","Name":"<App>"}`; 0.2% of rows have
  `{}` (a deleted service principal: SPName "").
- ~100,000 target identities (JSON text, `{"Id":...,"Name":"user@...","identityType":"User"}`);
  each job provisions its own window of 2,000 of them.
- 12 error codes (ResultSignature) with skewed frequencies; ResultDescription is one of 3 fixed
  messages per code, or (30% of failures) a message naming the target, so message sets are
  often larger than make_set's cap of 5.
- OperationName: mostly "Provisioning activity", with 7 rarer operations.
Columns not read by the query (Id, CycleId, ChangeId, ...) are present with realistic text;
ModifiedProperties and ProvisioningSteps (large JSON in real exports) are left out.
"""

import argparse
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

APPS = [
    "ServiceNow", "Salesforce", "Workday", "Slack", "Zoom", "Dropbox Business", "Box",
    "Atlassian Cloud", "GitHub Enterprise Managed User", "AWS IAM Identity Center",
    "Google Cloud / G Suite Connector", "Cisco Webex", "DocuSign", "Adobe Identity Management",
    "SAP Cloud Identity Services", "Zscaler Internet Access", "Tableau Cloud", "Miro", "Asana",
    "monday.com", "Smartsheet", "LinkedIn Learning", "Coupa", "Concur", "BambooHR",
    "SuccessFactors", "Okta Bridge", "Freshservice", "Zendesk", "HubSpot", "Figma", "Notion",
    "Airtable", "Lucid", "LogMeIn", "8x8", "RingCentral", "Jamf Pro", "Palo Alto Prisma Access",
    "Netskope", "Cloudflare Access", "Databricks", "Snowflake", "Splunk Cloud", "PagerDuty",
    "Greenhouse", "Lattice", "Rippling", "Gong", "Envoy",
]
assert len(APPS) == 50

# (code, weight, three fixed messages, message template naming the target)
ERRORS = [
    ("SystemForCrossDomainIdentityManagementBadRequest", 22,
     ["The SCIM endpoint returned 400 Bad Request.",
      "The request to the SCIM endpoint was rejected as malformed.",
      "Bad request: attribute 'emails[type eq \"work\"].value' is required."],
     "The SCIM endpoint rejected user '{upn}' with 400 Bad Request."),
    ("SystemForCrossDomainIdentityManagementServiceIncompatible", 6,
     ["The SCIM endpoint is not compatible with the Azure AD SCIM client.",
      "The response from the application did not contain the expected 'id' attribute.",
      "Unexpected content type in the SCIM response."],
     "The SCIM response for '{upn}' could not be parsed."),
    ("AzureActiveDirectoryCannotUpdateObjectsOriginatedInExternalService", 8,
     ["The object originated in an external service and cannot be updated.",
      "Synchronization cannot update an object mastered on premises.",
      "The target object is read-only in Azure AD."],
     "Cannot update '{upn}': the object originated in an external service."),
    ("DuplicateTargetEntries", 10,
     ["More than one entry in the target system matches the matching attribute.",
      "Duplicate entries found for the matching attribute 'userName'.",
      "The operation failed because the target has duplicate entries."],
     "More than one user in the target matches '{upn}'."),
    ("EntrySynchronizationError", 14,
     ["An error occurred while synchronizing the entry.",
      "The entry could not be exported to the target system.",
      "Export failed: the target system timed out."],
     "Failed to export '{upn}' to the target system."),
    ("HybridSynchronizationActiveDirectoryInsufficientAccessRights", 5,
     ["Insufficient access rights to perform the operation.",
      "The provisioning agent lacks write permission on the OU.",
      "Access is denied."],
     "Insufficient access rights to update '{upn}'."),
    ("AzureActiveDirectoryInvalidEmailAddress", 7,
     ["The email address is not valid.",
      "The mail attribute contains characters that are not allowed.",
      "Email address is required by the target application."],
     "The email address of '{upn}' is not valid."),
    ("UserPrincipalNameConflict", 4,
     ["Another object with the same value for property userPrincipalName already exists.",
      "The userPrincipalName is already in use.",
      "UPN conflict in the target directory."],
     "The userPrincipalName '{upn}' is already in use."),
    ("ScimNotFound", 9,
     ["The user was not found in the target application (404).",
      "The group was not found in the target application (404).",
      "Resource not found."],
     "User '{upn}' was not found in the target application."),
    ("ThrottledByTarget", 6,
     ["The target application throttled the request (429).",
      "Too many requests; retry later.",
      "Rate limit exceeded."],
     "Request for '{upn}' was throttled by the target application."),
    ("InvalidCredentials", 3,
     ["The credentials for the target application are not valid.",
      "The secret token has expired.",
      "Authentication to the target application failed (401)."],
     "Authentication failed while provisioning '{upn}'."),
    ("AzureDirectoryB2BManagementPolicyCheckFailure", 6,
     ["The B2B management policy blocks this operation.",
      "The guest user's domain is not allowed by the cross-tenant access policy.",
      "Invitation blocked by policy."],
     "The B2B management policy blocks provisioning '{upn}'."),
]

OPERATIONS = [
    ("Provisioning activity", 80), ("Create", 6), ("Update", 5), ("Delete", 2), ("Disable", 2),
    ("StagedDelete", 1), ("Export", 2), ("Import", 2),
]


def sql_list(values):
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def weighted_pick(pairs, bucket_expr, total_buckets=1000):
    """A CASE expression picking values[i] with the given integer weights from a bucket
    0..total_buckets-1."""
    weight_sum = sum(w for _, w in pairs)
    parts, acc = [], 0
    for i, (_, w) in enumerate(pairs):
        acc += w
        parts.append(f"WHEN {bucket_expr} < {acc * total_buckets // weight_sum} THEN {i + 1}")
    return f"CASE {' '.join(parts)} ELSE {len(pairs)} END"


def build_sql(rows, days, now):
    # h(salt): a deterministic 0..2^63 integer per row and salt.
    def h(salt):
        return f"((hash(i, {salt}) >> 1)::BIGINT)"

    fixed_msgs = [m for _, _, msgs, _ in ERRORS for m in msgs]
    templates = [t for *_, t in ERRORS]
    err_pick = weighted_pick([(c, w) for c, w, _, _ in ERRORS], f"({h(5)} % 1000)")
    op_pick = weighted_pick(OPERATIONS, f"({h(7)} % 1000)")
    span_ns = days * 86_400 * 1_000_000_000
    return f"""
WITH base AS (
  SELECT i,
         i % 200 AS job,
         -- job -> service principal: 4 jobs per app
         (i % 200) // 4 AS app,
         ({h(1)} % 2000 + (i % 200) * 500) % 100000 AS target,
         {h(2)} % 1000 AS fail_bucket,
         {h(3)} % 100 AS spelling,
         {err_pick} AS err,
         {h(6)} % 10 AS msg_kind,
         {op_pick} AS op,
         {h(8)} % 1000 AS sp_bucket
  FROM range({rows}) t(i)
), shaped AS (
  SELECT *,
         -- per-job failure probability (per mille): jobs 0..9 fail 90%, the rest ~27%
         fail_bucket < CASE WHEN job < 10 THEN 900 ELSE 272 END AS failed
  FROM base
)
SELECT
  -- whole microseconds: DuckDB reads the column as TIMESTAMPTZ (microseconds), so the
  -- three engines see the same instants
  make_timestamp_ns(
      epoch_ns(TIMESTAMPTZ '{now}') - 43200000000000 - {span_ns}
      + ((i * {span_ns // rows}) + ({h(9)} % {span_ns // rows})) // 1000 * 1000) AS TimeGenerated,
  md5('tenant')::UUID::VARCHAR AS TenantId,
  md5('tenant')::UUID::VARCHAR AS AADTenantId,
  'ProvisioningLogs' AS Category,
  'AADProvisioningLogs' AS Type,
  'Azure AD' AS SourceSystem,
  md5('row' || i)::UUID::VARCHAR AS Id,
  md5('change' || i)::UUID::VARCHAR AS ChangeId,
  md5('corr' || (i // 3))::UUID::VARCHAR AS CorrelationId,
  md5('cycle' || job || '.' || (i // 40000))::UUID::VARCHAR AS CycleId,
  {sql_list(APPS)}[app + 1] || '.' || md5('job' || job) || '.' || md5('jobb' || job) AS JobId,
  CASE WHEN sp_bucket < 2 THEN '{{}}'
       ELSE '{{"Id":"' || md5('sp' || app)::UUID::VARCHAR || '","Name":"'
            || {sql_list(APPS)}[app + 1] || '"}}' END AS ServicePrincipal,
  '{{"Id":"' || md5('src' || target)::UUID::VARCHAR || '","Name":"user' || target
      || '@contoso.com","identityType":"User","details":{{}}}}' AS SourceIdentity,
  '{{"Id":"' || md5('tgt' || target)::UUID::VARCHAR || '","Name":"user' || target
      || '@contoso.com","identityType":"User","details":{{}}}}' AS TargetIdentity,
  '{{"Id":"' || md5('sys' || app)::UUID::VARCHAR || '","Name":"'
      || {sql_list(APPS)}[app + 1] || '","details":{{}}}}' AS TargetSystem,
  '{{"Id":"' || md5('init' || app)::UUID::VARCHAR || '","Name":"Azure AD Provisioning Service","details":{{}}}}' AS InitiatedBy,
  {sql_list([o for o, _ in OPERATIONS])}[op] AS OperationName,
  '1.0' AS OperationVersion,
  ['create', 'update', 'update', 'update', 'delete', 'disable', 'other'][(i % 7) + 1] AS ProvisioningAction,
  ['Create', 'Update', 'Update', 'Update', 'Delete', 'Disable', 'Other'][(i % 7) + 1] AS Action,
  CASE WHEN failed THEN
         CASE WHEN spelling < 90 THEN 'Failure' WHEN spelling < 96 THEN 'failure' ELSE 'FAILURE' END
       WHEN spelling < 88 THEN 'Success' ELSE 'Skipped' END AS ResultType,
  CASE WHEN failed THEN {sql_list([c for c, *_ in ERRORS])}[err] ELSE 'None' END AS ResultSignature,
  CASE WHEN NOT failed THEN ''
       WHEN msg_kind < 3 THEN replace({sql_list(templates)}[err], '{{upn}}', 'user' || target || '@contoso.com')
       ELSE {sql_list(fixed_msgs)}[(err - 1) * 3 + (msg_kind % 3) + 1] END AS ResultDescription,
  CASE WHEN failed THEN '{{"status":"failure","errorInformation":{{"errorCode":"'
         || {sql_list([c for c, *_ in ERRORS])}[err] || '"}}}}'
       ELSE '{{"status":"success"}}' END AS ProvisioningStatusInfo,
  CASE WHEN failed THEN 'Failure' ELSE 'Success' END AS StatusInfo,
  (20 + {h(10)} % 4000)::BIGINT AS DurationMs,
  (600 + {h(11)} % 1400)::DOUBLE AS _BilledSize,
  'True' AS _IsBillable
FROM shaped
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--now", default="2026-05-01 00:00:00+00")
    parser.add_argument("--row-group-rows", type=int, default=262_144)
    args = parser.parse_args()

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB keeps the row order of range() (preserve_insertion_order), so no ORDER BY
    # (which would materialise every row) is needed for a deterministic file.
    reader = con.sql(build_sql(args.rows, args.days, args.now)).to_arrow_reader(
        args.row_group_rows
    )
    ts = pa.timestamp("ns", tz="UTC")
    writer = None
    written = 0
    for batch in reader:
        table = pa.Table.from_batches([batch])
        idx = table.schema.get_field_index("TimeGenerated")
        table = table.set_column(idx, pa.field("TimeGenerated", ts), table.column(idx).cast(ts))
        if writer is None:
            writer = pq.ParquetWriter(args.out, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=args.row_group_rows)
        written += table.num_rows
    if writer is not None:
        writer.close()
    print(f"wrote {written} rows to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
