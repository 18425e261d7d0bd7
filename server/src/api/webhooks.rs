//! `/api/v1/webhook-endpoints`: a tenant's systems register, list, delete and re-key the endpoints
//! that receive its accounts' messages and events, read their deliveries, replay dead letters and
//! send a test event. Each handler decodes, calls the operation in `ops::webhooks` (the console
//! calls the same ones), and answers a DTO.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::directory::TenantApi;
use super::error::{store_error, ApiError};
use super::extract::{Allowed, ApiJson, WebhooksManage};
use super::keys::ApiCaller;
use crate::domain::Actor;
use crate::ops::webhooks::{self, EndpointRequest};
use crate::ops::{OpError, TenantActor};
use crate::store::{DeliveryFilter, DeliveryRow, WebhookEndpoint};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewEndpoint {
    url: String,
    description: Option<String>,
    authorizer_appids: Option<Vec<String>>,
    event_types: Option<Vec<String>>,
    mode: Option<String>,
}

#[derive(Serialize)]
pub(super) struct CreatedEndpoint {
    id: String,
    url: String,
    /// Shown once.
    secret: String,
}

#[derive(Serialize)]
pub(super) struct EndpointDto {
    id: String,
    url: String,
    description: String,
    authorizer_appids: Option<Vec<String>>,
    event_types: Option<Vec<String>>,
    mode: &'static str,
    enabled: bool,
    disabled_reason: Option<String>,
    consecutive_failures: i64,
    created_at: String,
}

impl From<WebhookEndpoint> for EndpointDto {
    fn from(e: WebhookEndpoint) -> Self {
        Self {
            id: e.public_id,
            url: e.url,
            description: e.description,
            authorizer_appids: e.authorizer_appids,
            event_types: e.event_types,
            mode: e.mode.as_str(),
            enabled: e.disabled_at.is_none(),
            disabled_reason: e.disabled_reason,
            consecutive_failures: e.consecutive_failures,
            created_at: crate::rfc3339(e.created_at),
        }
    }
}

#[derive(Serialize)]
pub(super) struct DeliveryDto {
    id: i64,
    event_id: String,
    event_type: String,
    authorizer_appid: Option<String>,
    status: String,
    attempts: i64,
    next_attempt_at: Option<String>,
    last_attempt_at: Option<String>,
    last_status_code: Option<i64>,
    last_latency_ms: Option<i64>,
    last_error: Option<String>,
    last_response_excerpt: Option<String>,
    created_at: String,
}

impl From<DeliveryRow> for DeliveryDto {
    fn from(d: DeliveryRow) -> Self {
        Self {
            next_attempt_at: (d.status == "pending").then(|| crate::rfc3339(d.run_at)),
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            authorizer_appid: d.authorizer_appid,
            status: d.status,
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at.map(crate::rfc3339),
            last_status_code: d.last_status_code,
            last_latency_ms: d.last_latency_ms,
            last_error: d.last_error,
            last_response_excerpt: d.last_response_excerpt,
            created_at: crate::rfc3339(d.created_at),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeliveryQuery {
    status: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplayRequest {
    /// Absent: every dead letter of the endpoint.
    delivery_ids: Option<Vec<i64>>,
}

fn who(caller: &ApiCaller) -> TenantActor {
    TenantActor {
        actor: Actor::ApiKey {
            id: caller.key_id,
            name: caller.key_name.clone(),
        },
        tenant: caller.tenant,
        ip: None,
    }
}

fn op_error(context: &'static str) -> impl Fn(OpError) -> ApiError {
    move |e| match e {
        OpError::Invalid { field, en, .. } | OpError::Conflict { field, en, .. } => {
            ApiError::invalid(field, en)
        }
        OpError::NotFound => ApiError::NoSuchWebhookEndpoint,
        OpError::Forbidden => ApiError::Unauthorized,
        e @ (OpError::Store(_) | OpError::Other(_)) => ApiError::internal(context, e),
    }
}

pub(super) async fn create(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WebhooksManage>,
    ApiJson(body): ApiJson<NewEndpoint>,
) -> Result<Response, ApiError> {
    let req = EndpointRequest {
        url: body.url,
        description: body.description,
        authorizer_appids: body.authorizer_appids,
        event_types: body.event_types,
        mode: body.mode,
    };
    let (endpoint, secret) = webhooks::create(
        &api.store,
        &who(&caller),
        &req,
        api.engine.webhook_sender.allow_private(),
        crate::now_ms(),
    )
    .await
    .map_err(op_error("creating a webhook endpoint"))?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpoint {
            id: endpoint.public_id,
            url: endpoint.url,
            secret: secret.expose_secret().to_owned(),
        }),
    )
        .into_response())
}

pub(super) async fn list(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WebhooksManage>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let endpoints = api
        .store
        .list_webhook_endpoints(caller.tenant)
        .await
        .map_err(store_error("listing webhook endpoints"))?;
    let data: Vec<EndpointDto> = endpoints.into_iter().map(Into::into).collect();
    Ok(Json(serde_json::json!({ "data": data })))
}

pub(super) async fn delete(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WebhooksManage>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    webhooks::delete(&api.store, &who(&caller), &id, crate::now_ms())
        .await
        .map_err(op_error("deleting a webhook endpoint"))?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn rotate_secret(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WebhooksManage>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let secret = webhooks::rotate_secret(&api.store, &who(&caller), &id, crate::now_ms())
        .await
        .map_err(op_error("rotating a webhook secret"))?;
    Ok(Json(serde_json::json!({
        "id": id,
        "secret": secret.expose_secret(),
        "previous_secret_valid_for_seconds": webhooks::SECRET_OVERLAP.as_secs(),
    })))
}

pub(super) async fn deliveries(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WebhooksManage>,
    Path(id): Path<String>,
    query: Result<Query<DeliveryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    if !webhooks::endpoint_id_ok(&id)
        || api
            .store
            .webhook_endpoint(caller.tenant, &id)
            .await
            .map_err(store_error("reading a webhook endpoint"))?
            .is_none()
    {
        return Err(ApiError::NoSuchWebhookEndpoint);
    }
    let status = match q.status.as_deref() {
        None => None,
        Some(s @ ("pending" | "running" | "delivered" | "dead")) => Some(s),
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "status must be pending, running, delivered or dead",
            ))
        }
    };
    let rows = api
        .store
        .list_deliveries(&DeliveryFilter {
            tenant: Some(caller.tenant),
            endpoint_public_id: Some(&id),
            status,
            before_id: q.before,
            limit: q.limit.unwrap_or(50).clamp(1, 200),
        })
        .await
        .map_err(store_error("listing deliveries"))?;
    let next = rows.last().map(|r| r.id);
    let data: Vec<DeliveryDto> = rows.into_iter().map(Into::into).collect();
    Ok(Json(
        serde_json::json!({ "data": data, "next_before": next }),
    ))
}

pub(super) async fn replay(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WebhooksManage>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReplayRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if req
        .delivery_ids
        .as_ref()
        .is_some_and(|ids| ids.len() > 1000)
    {
        return Err(ApiError::invalid("delivery_ids", "at most 1000 at once"));
    }
    let n = webhooks::replay(
        &api.engine,
        &who(&caller),
        &id,
        req.delivery_ids.as_deref(),
        crate::now_ms(),
    )
    .await
    .map_err(op_error("replaying deliveries"))?;
    Ok(Json(serde_json::json!({ "replayed": n })))
}

pub(super) async fn send_test(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WebhooksManage>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let event_id = webhooks::send_test(&api.engine, &who(&caller), &id, crate::now_ms())
        .await
        .map_err(op_error("sending a test event"))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "event_id": event_id })),
    )
        .into_response())
}
