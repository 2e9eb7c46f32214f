//! The Kusto REST query API's wire format: the request body, v1 and v2 responses and the
//! OneApi error body, shaped as the official client libraries parse them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use goshawk_kql_engine::format::json_at;
use goshawk_kql_engine::session::QueryResult;
use goshawk_kql_engine::time::{format_datetime, parse_datetime, parse_timespan};
use goshawk_types::KustoType;
use serde_json::{Map, Value, json};

/// The body of `POST /v1/rest/query` and `/v2/rest/query`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRequest {
    pub db: Option<String>,
    pub csl: String,
    pub options: RequestOptions,
}

/// The client request properties goshawk honours.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestOptions {
    /// `servertimeout`: lowers (never raises) the server's query timeout.
    pub server_timeout_nanos: Option<i64>,
    /// `query_now`: the instant `now()` and `ago()` use.
    pub query_now_nanos: Option<i64>,
    /// `results_progressive_enabled`: the primary result as TableHeader/TableFragment/
    /// TableCompletion frames instead of one DataTable frame.
    pub progressive: bool,
    /// `x-ms-client-request-id` or `ClientRequestId`, echoed in QueryCompletionInformation.
    pub client_request_id: Option<String>,
}

impl QueryRequest {
    /// Parses a request body; the error says what is wrong with it.
    pub fn parse(body: &[u8]) -> Result<QueryRequest, KustoError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            KustoError::bad_request(
                "BadRequest_InvalidJson",
                format!("the request body is not valid JSON: {e}"),
            )
        })?;
        let Value::Object(object) = value else {
            return Err(KustoError::bad_request(
                "BadRequest_InvalidJson",
                "the request body must be a JSON object with \"csl\" (and \"db\", \"properties\")",
            ));
        };
        let csl = match object.get("csl") {
            Some(Value::String(csl)) if !csl.trim().is_empty() => csl.clone(),
            Some(Value::String(_)) => {
                return Err(KustoError::bad_request(
                    "BadRequest_EmptyQuery",
                    "\"csl\" is empty: there is no query to run",
                ));
            }
            Some(_) => {
                return Err(KustoError::bad_request(
                    "BadRequest_InvalidJson",
                    "\"csl\" must be a string holding the query",
                ));
            }
            None => {
                return Err(KustoError::bad_request(
                    "BadRequest_MissingQuery",
                    "the request body has no \"csl\" field with the query",
                ));
            }
        };
        let db = match object.get("db") {
            Some(Value::String(db)) => Some(db.clone()),
            Some(Value::Null) | None => None,
            Some(_) => {
                return Err(KustoError::bad_request(
                    "BadRequest_InvalidJson",
                    "\"db\" must be a string",
                ));
            }
        };
        let options = match object.get("properties") {
            None | Some(Value::Null) => RequestOptions::default(),
            // The official clients send the properties as a JSON document inside a string.
            Some(Value::String(text)) if text.trim().is_empty() => RequestOptions::default(),
            Some(Value::String(text)) => {
                let parsed: Value = serde_json::from_str(text).map_err(|e| {
                    KustoError::bad_request(
                        "BadRequest_InvalidJson",
                        format!("\"properties\" is not a valid JSON document: {e}"),
                    )
                })?;
                RequestOptions::from_properties(&parsed)?
            }
            Some(value @ Value::Object(_)) => RequestOptions::from_properties(value)?,
            Some(_) => {
                return Err(KustoError::bad_request(
                    "BadRequest_InvalidJson",
                    "\"properties\" must be an object or a string holding one",
                ));
            }
        };
        Ok(QueryRequest { db, csl, options })
    }
}

impl RequestOptions {
    fn from_properties(properties: &Value) -> Result<RequestOptions, KustoError> {
        let mut options = RequestOptions::default();
        let Some(object) = properties.as_object() else {
            return Err(KustoError::bad_request(
                "BadRequest_InvalidJson",
                "\"properties\" must be a JSON object",
            ));
        };
        // Options may sit under "Options" (the clients' layout) or at the top level.
        let mut sources = vec![object];
        if let Some(Value::Object(inner)) = object.get("Options") {
            sources.push(inner);
        }
        for source in sources {
            for (key, value) in source {
                match key.to_ascii_lowercase().as_str() {
                    "servertimeout" => {
                        options.server_timeout_nanos = Some(timespan_option(key, value)?);
                    }
                    "query_now" => {
                        let Some(text) = value.as_str() else {
                            return Err(option_error(key, "a datetime string"));
                        };
                        options.query_now_nanos = Some(
                            parse_datetime(text)
                                .ok_or_else(|| option_error(key, "a datetime string"))?,
                        );
                    }
                    "results_progressive_enabled" => {
                        options.progressive = match value {
                            Value::Bool(b) => *b,
                            Value::String(s) => s.eq_ignore_ascii_case("true"),
                            _ => return Err(option_error(key, "a boolean")),
                        };
                    }
                    "clientrequestid" => {
                        options.client_request_id = value.as_str().map(str::to_string);
                    }
                    _ => {}
                }
            }
        }
        Ok(options)
    }
}

fn timespan_option(key: &str, value: &Value) -> Result<i64, KustoError> {
    let nanos = match value {
        Value::String(text) => parse_timespan(text),
        // A bare number is a count of 100 ns ticks, as .NET's TimeSpan serializes.
        Value::Number(n) => n.as_i64().and_then(|ticks| ticks.checked_mul(100)),
        _ => None,
    };
    match nanos {
        Some(nanos) if nanos > 0 => Ok(nanos),
        _ => Err(option_error(
            key,
            "a positive timespan such as \"00:04:00\"",
        )),
    }
}

fn option_error(key: &str, wanted: &str) -> KustoError {
    KustoError::bad_request(
        "BadRequest_InvalidProperty",
        format!("request property '{key}' must be {wanted}"),
    )
}

/// A failure in the body the Kusto service sends: `{"error": {code, message, @type, @message,
/// @permanent, ...}}`. The Python client shows `@message`.
#[derive(Debug, Clone)]
pub struct KustoError {
    pub status: StatusCode,
    pub code: &'static str,
    pub type_name: &'static str,
    pub message: String,
    pub permanent: bool,
    /// Extra `@`-fields, e.g. `@line`, `@pos`.
    pub extra: Vec<(String, Value)>,
}

impl KustoError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        type_name: &'static str,
        message: impl Into<String>,
    ) -> KustoError {
        KustoError {
            status,
            code,
            type_name,
            message: message.into(),
            permanent: status.is_client_error(),
            extra: Vec::new(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> KustoError {
        KustoError::new(
            StatusCode::BAD_REQUEST,
            code,
            "Kusto.Data.Exceptions.BadRequestException",
            message,
        )
    }

    pub fn with_field(mut self, key: &str, value: impl Into<Value>) -> KustoError {
        self.extra.push((format!("@{key}"), value.into()));
        self
    }

    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), Value::String(self.code.to_string()));
        error.insert(
            "message".into(),
            Value::String(
                self.status
                    .canonical_reason()
                    .unwrap_or("error")
                    .to_string(),
            ),
        );
        error.insert("@type".into(), Value::String(self.type_name.to_string()));
        error.insert("@message".into(), Value::String(self.message.clone()));
        error.insert("@permanent".into(), Value::Bool(self.permanent));
        for (key, value) in &self.extra {
            error.insert(key.clone(), value.clone());
        }
        json!({ "error": Value::Object(error) })
    }
}

impl IntoResponse for KustoError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// The .NET type name the v1 API gives in `DataType`.
fn dotnet_type(ty: KustoType) -> &'static str {
    match ty {
        KustoType::Bool => "Boolean",
        KustoType::Int => "Int32",
        KustoType::Long => "Int64",
        KustoType::Real => "Double",
        KustoType::Decimal => "Decimal",
        KustoType::String => "String",
        KustoType::DateTime => "DateTime",
        KustoType::TimeSpan => "TimeSpan",
        KustoType::Guid => "Guid",
        KustoType::Dynamic => "Object",
    }
}

/// The rows as JSON values the way Kusto writes them: decimals as strings (they would lose
/// digits as JSON numbers) and, in v1, dynamic objects and arrays as JSON text.
fn rows(result: &QueryResult, v1: bool) -> Vec<Value> {
    let mut rows = Vec::with_capacity(result.row_count());
    for batch in &result.batches {
        for row in 0..batch.num_rows() {
            let cells = result
                .columns
                .iter()
                .enumerate()
                .map(|(i, column)| {
                    let value = json_at(batch.column(i).as_ref(), row, column.ty);
                    match (column.ty, value) {
                        (KustoType::Decimal, Value::Number(n)) => Value::String(n.to_string()),
                        (KustoType::Dynamic, v @ (Value::Object(_) | Value::Array(_))) if v1 => {
                            Value::String(v.to_string())
                        }
                        (_, v) => v,
                    }
                })
                .collect();
            rows.push(Value::Array(cells));
        }
    }
    rows
}

fn v2_columns(result: &QueryResult) -> Value {
    Value::Array(
        result
            .columns
            .iter()
            .map(|c| json!({"ColumnName": c.name, "ColumnType": c.ty.name()}))
            .collect(),
    )
}

/// `{"Tables":[{"TableName":"Table_0","Columns":[...],"Rows":[...]}]}`.
pub fn v1_response(result: &QueryResult) -> Value {
    let columns: Vec<Value> = result
        .columns
        .iter()
        .map(|c| {
            json!({
                "ColumnName": c.name,
                "DataType": dotnet_type(c.ty),
                "ColumnType": c.ty.name(),
            })
        })
        .collect();
    json!({
        "Tables": [{
            "TableName": "Table_0",
            "Columns": columns,
            "Rows": rows(result, true),
        }]
    })
}

/// What the v2 response says about the run besides the rows.
pub struct Completion<'a> {
    pub now_nanos: i64,
    pub client_request_id: &'a str,
    pub activity_id: &'a str,
}

/// The v2 data set: DataSetHeader, @ExtendedProperties (when the query renders a chart), the
/// primary result (one DataTable, or TableHeader/TableFragment/TableCompletion when progressive),
/// QueryCompletionInformation and DataSetCompletion.
pub fn v2_response(result: &QueryResult, progressive: bool, completion: &Completion) -> Value {
    let mut frames = vec![json!({
        "FrameType": "DataSetHeader",
        "IsProgressive": progressive,
        "Version": "v2.0",
        "IsFragmented": progressive,
        "ErrorReportingPlacement": "InData",
    })];
    let mut table_id = 0;
    if let Some(render) = &result.render {
        let mut visualization = Map::new();
        visualization.insert(
            "Visualization".into(),
            Value::String(render.visualization.clone()),
        );
        for (key, value) in &render.properties {
            visualization.insert(key.clone(), Value::String(value.clone()));
        }
        frames.push(json!({
            "FrameType": "DataTable",
            "TableId": table_id,
            "TableKind": "QueryProperties",
            "TableName": "@ExtendedProperties",
            "Columns": [
                {"ColumnName": "TableId", "ColumnType": "int"},
                {"ColumnName": "Key", "ColumnType": "string"},
                {"ColumnName": "Value", "ColumnType": "dynamic"},
            ],
            "Rows": [[table_id + 1, "Visualization", Value::Object(visualization).to_string()]],
        }));
        table_id += 1;
    }
    let rows = rows(result, false);
    if progressive {
        let row_count = rows.len();
        frames.push(json!({
            "FrameType": "TableHeader",
            "TableId": table_id,
            "TableKind": "PrimaryResult",
            "TableName": "PrimaryResult",
            "Columns": v2_columns(result),
        }));
        frames.push(json!({
            "FrameType": "TableFragment",
            "TableFragmentType": "DataAppend",
            "TableId": table_id,
            "Rows": rows,
        }));
        frames.push(json!({
            "FrameType": "TableCompletion",
            "TableId": table_id,
            "RowCount": row_count,
        }));
    } else {
        frames.push(json!({
            "FrameType": "DataTable",
            "TableId": table_id,
            "TableKind": "PrimaryResult",
            "TableName": "PrimaryResult",
            "Columns": v2_columns(result),
            "Rows": rows,
        }));
    }
    table_id += 1;
    let payload = json!({"Count": 1, "Text": "Query completed successfully"}).to_string();
    frames.push(json!({
        "FrameType": "DataTable",
        "TableId": table_id,
        "TableKind": "QueryCompletionInformation",
        "TableName": "QueryCompletionInformation",
        "Columns": [
            {"ColumnName": "Timestamp", "ColumnType": "datetime"},
            {"ColumnName": "ClientRequestId", "ColumnType": "string"},
            {"ColumnName": "ActivityId", "ColumnType": "guid"},
            {"ColumnName": "SubActivityId", "ColumnType": "guid"},
            {"ColumnName": "ParentActivityId", "ColumnType": "guid"},
            {"ColumnName": "Level", "ColumnType": "int"},
            {"ColumnName": "LevelName", "ColumnType": "string"},
            {"ColumnName": "StatusCode", "ColumnType": "int"},
            {"ColumnName": "StatusCodeName", "ColumnType": "string"},
            {"ColumnName": "EventType", "ColumnType": "int"},
            {"ColumnName": "EventTypeName", "ColumnType": "string"},
            {"ColumnName": "Payload", "ColumnType": "string"},
        ],
        "Rows": [[
            format_datetime(completion.now_nanos),
            completion.client_request_id,
            completion.activity_id,
            completion.activity_id,
            completion.activity_id,
            4,
            "Info",
            0,
            "S_OK (0)",
            4,
            "QueryInfo",
            payload,
        ]],
    }));
    frames.push(json!({
        "FrameType": "DataSetCompletion",
        "HasErrors": false,
        "Cancelled": false,
    }));
    Value::Array(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_clients_request_is_understood() {
        let body = br#"{"db":"NetDefaultDB","csl":"T | take 1","properties":"{\"Options\":{\"servertimeout\":\"00:00:30\",\"query_now\":\"2026-01-01T00:00:00Z\"},\"Parameters\":{}}"}"#;
        let request = QueryRequest::parse(body).expect("parses");
        assert_eq!(request.db.as_deref(), Some("NetDefaultDB"));
        assert_eq!(request.csl, "T | take 1");
        assert_eq!(request.options.server_timeout_nanos, Some(30_000_000_000));
        assert_eq!(
            request.options.query_now_nanos,
            parse_datetime("2026-01-01T00:00:00Z")
        );
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let cases: [(&[u8], &str); 6] = [
            (b"{\"csl\": ", "not valid JSON"),
            (b"[1]", "must be a JSON object"),
            (b"{\"db\":\"x\"}", "no \"csl\""),
            (b"{\"csl\": 3}", "\"csl\" must be a string"),
            (b"{\"csl\": \"  \"}", "empty"),
            (
                br#"{"csl":"T","properties":{"Options":{"servertimeout":"soon"}}}"#,
                "servertimeout",
            ),
        ];
        for (body, expected) in cases {
            let err = QueryRequest::parse(body).expect_err("bad body");
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
            assert!(
                err.message.contains(expected),
                "{expected:?} not in {:?}",
                err.message
            );
        }
    }

    #[test]
    fn error_bodies_have_the_one_api_shape() {
        let body = KustoError::bad_request("General_BadRequest", "Syntax error")
            .with_field("line", 2)
            .body();
        assert_eq!(body["error"]["code"], "General_BadRequest");
        assert_eq!(body["error"]["message"], "Bad Request");
        assert_eq!(body["error"]["@message"], "Syntax error");
        assert_eq!(body["error"]["@permanent"], true);
        assert_eq!(body["error"]["@line"], 2);
    }
}
