//! The HTTP API: the Kusto REST query endpoints, alerts, rules, health and metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use datafusion::error::DataFusionError;
use goshawk_kql_engine::session::{QueryEngine, QueryError, QueryResult};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::AuthCheck;
use crate::kusto::{Completion, KustoError, QueryRequest, v1_response, v2_response};
use crate::metrics::Metrics;
use crate::store::{AlertFilter, AlertStatus};

/// The most alerts one `GET /api/alerts` page holds.
pub const MAX_PAGE: u32 = 1000;

pub fn router(state: Arc<AppState>) -> Router {
    let protected = Router::new()
        .route("/v1/rest/query", post(query_v1))
        .route("/v2/rest/query", post(query_v2))
        .route("/v1/rest/mgmt", post(mgmt))
        .route("/metrics", get(metrics))
        .route("/api/rules", get(rules))
        .route("/api/alerts", get(alerts))
        .route("/api/alerts/{id}/status", post(set_alert_status))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(protected)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .with_state(state)
}

async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let message = match state.token.check(header) {
        AuthCheck::Ok => return next.run(request).await,
        AuthCheck::Missing => format!(
            "no bearer token: send 'Authorization: Bearer <token>' (the token is in {})",
            state.token_location
        ),
        AuthCheck::NotBearer => "the Authorization header must be 'Bearer <token>'".to_string(),
        AuthCheck::Wrong => "the bearer token is not valid".to_string(),
    };
    Metrics::add(&state.metrics.requests_unauthorized, 1);
    KustoError::new(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "goshawk.Unauthorized",
        message,
    )
    .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn not_found(request: Request) -> Response {
    KustoError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        "goshawk.NotFound",
        format!(
            "no endpoint {} {}: see /v1/rest/query, /v2/rest/query, /api/alerts, /api/rules, \
             /metrics, /healthz",
            request.method(),
            request.uri().path()
        ),
    )
    .into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn mgmt() -> KustoError {
    KustoError::bad_request(
        "BadRequest_NotSupported",
        "management commands (.show, .create, ...) are not supported by goshawk; send queries \
         to /v2/rest/query",
    )
}

fn body_error(rejection: BytesRejection) -> KustoError {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        KustoError::new(
            status,
            "BadRequest_BodyTooLarge",
            "goshawk.PayloadTooLarge",
            format!("the request body is larger than the server's limit: {rejection}"),
        )
    } else {
        KustoError::new(
            status,
            "BadRequest_Body",
            "goshawk.BadRequest",
            format!("cannot read the request body: {rejection}"),
        )
    }
}

struct Executed {
    result: QueryResult,
    request: QueryRequest,
    now_nanos: i64,
}

async fn query_v1(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match execute(&state, body).await {
        Ok(done) => axum::Json(v1_response(&done.result)).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn query_v2(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match execute(&state, body).await {
        Ok(done) => {
            let client_request_id = done
                .request
                .options
                .client_request_id
                .clone()
                .or_else(|| header_text(&headers, "x-ms-client-request-id"))
                .unwrap_or_default();
            let activity_id = activity_id(&state);
            let body = v2_response(
                &done.result,
                done.request.options.progressive,
                &Completion {
                    now_nanos: done.now_nanos,
                    client_request_id: &client_request_id,
                    activity_id: &activity_id,
                },
            );
            axum::Json(body).into_response()
        }
        Err(err) => err.into_response(),
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A GUID-shaped id per request, as Kusto's ActivityId column expects.
fn activity_id(state: &AppState) -> String {
    let n = state
        .request_counter
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let started = state.started_nanos as u64;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (started >> 32) as u32,
        (started >> 16) as u16,
        (started & 0xfff) as u16,
        (n >> 48) as u16 & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

async fn execute(
    state: &AppState,
    body: Result<Bytes, BytesRejection>,
) -> Result<Executed, KustoError> {
    let body = body.map_err(body_error)?;
    let request = QueryRequest::parse(&body)?;
    let now_nanos = request
        .options
        .query_now_nanos
        .unwrap_or_else(crate::now_nanos);
    let mut timeout = state.limits.query_timeout;
    if let Some(nanos) = request.options.server_timeout_nanos {
        timeout = timeout.min(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)));
    }
    let _reading = state.lake_readers.read().await;
    let catalog = state.catalog();
    let engine = QueryEngine::new(catalog.as_ref(), now_nanos)
        .with_memory_limit(state.limits.query_memory_bytes)
        .map_err(|err| {
            KustoError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal_Error",
                "goshawk.InternalError",
                format!("cannot set up the query engine: {err}"),
            )
        })?;
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, engine.query(&request.csl)).await;
    state.metrics.observe_query(started.elapsed());
    let failure = match outcome {
        Ok(Ok(result)) => {
            return Ok(Executed {
                result,
                request,
                now_nanos,
            });
        }
        Err(_) => {
            Metrics::add(&state.metrics.queries_timed_out, 1);
            KustoError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "LimitsExceeded_Timeout",
                "goshawk.QueryTimeout",
                format!(
                    "the query ran longer than the {} timeout and was stopped",
                    describe_duration(timeout)
                ),
            )
        }
        Ok(Err(QueryError::Plan(diagnostic))) => {
            let position = diagnostic.line_col(&request.csl);
            let kind = if goshawk_kql_syntax::parse_query(&request.csl).is_err() {
                ("Syntax error", "Kusto.Data.Exceptions.SyntaxException")
            } else {
                ("Semantic error", "Kusto.Data.Exceptions.SemanticException")
            };
            KustoError::new(
                StatusCode::BAD_REQUEST,
                "General_BadRequest",
                kind.1,
                format!(
                    "{}: line {}, column {}: {}",
                    kind.0, position.line, position.column, diagnostic.message
                ),
            )
            .with_field("line", position.line)
            .with_field("pos", position.column)
            .with_field("errorMessage", diagnostic.message.clone())
            .with_field(
                "text",
                diagnostic.render(&request.csl, &goshawk_kql_syntax::RenderOptions::default()),
            )
        }
        Ok(Err(QueryError::Execution(err))) => {
            if matches!(err.find_root(), DataFusionError::ResourcesExhausted(_)) {
                KustoError::new(
                    StatusCode::BAD_REQUEST,
                    "LimitsExceeded_Memory",
                    "goshawk.QueryMemoryLimit",
                    format!(
                        "the query needs more than the {} MiB memory limit of one query: {}",
                        state.limits.query_memory_bytes >> 20,
                        err.strip_backtrace()
                    ),
                )
            } else {
                KustoError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal_QueryFailed",
                    "goshawk.QueryFailed",
                    format!("the query failed while running: {}", err.strip_backtrace()),
                )
            }
        }
    };
    Metrics::add(&state.metrics.queries_failed, 1);
    Err(failure)
}

fn describe_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{} s", millis / 1000)
    } else {
        format!("{millis} ms")
    }
}

async fn rules(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(json!({
        "rules": state.rules,
        "errors": state.rule_errors,
    }))
    .into_response()
}

fn store_error(err: impl std::fmt::Display) -> KustoError {
    KustoError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal_Store",
        "goshawk.StoreError",
        err.to_string(),
    )
}

fn parse_filter(params: &HashMap<String, String>) -> Result<AlertFilter, KustoError> {
    let bad = |message: String| KustoError::bad_request("BadRequest_Parameter", message);
    let mut filter = AlertFilter {
        limit: 100,
        ..AlertFilter::default()
    };
    for (key, value) in params {
        match key.as_str() {
            "status" => filter.status = Some(value.parse().map_err(bad)?),
            "rule_id" | "rule" => filter.rule_id = Some(value.clone()),
            "severity" => filter.severity = Some(value.clone()),
            "entity" => filter.entity = Some(value.clone()),
            "since" => {
                filter.since = Some(goshawk_kql_engine::time::parse_datetime(value).ok_or_else(
                    || {
                        bad(format!(
                            "since: '{value}' is not a datetime (ISO 8601, UTC)"
                        ))
                    },
                )?);
            }
            "limit" => {
                filter.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| {
                        bad(format!(
                            "limit: '{value}' is not a number from 1 to {MAX_PAGE}"
                        ))
                    })?;
            }
            "offset" => {
                filter.offset = value
                    .parse()
                    .map_err(|_| bad(format!("offset: '{value}' is not a non-negative number")))?;
            }
            other => {
                return Err(bad(format!(
                    "unknown parameter '{other}' (status, rule_id, severity, entity, since, \
                     limit, offset)"
                )));
            }
        }
    }
    Ok(filter)
}

async fn alerts(
    State(state): State<Arc<AppState>>,
    params: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, KustoError> {
    let Query(params) =
        params.map_err(|e| KustoError::bad_request("BadRequest_Parameter", e.body_text()))?;
    let filter = parse_filter(&params)?;
    let (alerts, total) = state.store().list_alerts(&filter).map_err(store_error)?;
    Ok(axum::Json(json!({
        "total": total,
        "offset": filter.offset,
        "limit": filter.limit,
        "alerts": alerts,
    }))
    .into_response())
}

async fn set_alert_status(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, KustoError> {
    let id: i64 = id.parse().map_err(|_| {
        KustoError::bad_request(
            "BadRequest_Parameter",
            format!("'{id}' is not an alert id (a number)"),
        )
    })?;
    let body = body.map_err(body_error)?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        KustoError::bad_request(
            "BadRequest_InvalidJson",
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    let status: AlertStatus = value
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            KustoError::bad_request(
                "BadRequest_InvalidJson",
                "the body must be {\"status\": \"new\" | \"acknowledged\" | \"closed\"}",
            )
        })?
        .parse()
        .map_err(|m: String| KustoError::bad_request("BadRequest_InvalidJson", m))?;
    let alert = state
        .store()
        .set_status(id, status, crate::now_nanos())
        .map_err(store_error)?;
    match alert {
        Some(alert) => Ok(axum::Json(alert).into_response()),
        None => Err(KustoError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "goshawk.NotFound",
            format!("there is no alert {id}"),
        )),
    }
}
