//! The WeChat-facing routes and the ops metrics: thin adapters over the engine.
//!
//! - `POST /wechat/{component_appid}/notify` — the authorization-event URL. WeChat posts from its
//!   own servers, so these routes have no session, no origin check, and a small body limit; every
//!   refusal is a short plain-text 4xx (WeChat only reads the status) and an audit event.
//! - `POST /wechat/{component_appid}/message/{authorizer_appid}` — the message URL (WeChat's
//!   `$APPID$`): the same rules, and the answer may be an encrypted passive reply.
//! - `GET /metrics` — Prometheus (OpenMetrics text), on the public listener only to the bearer of
//!   `WXHUB_METRICS_TOKEN`; without a token on the private `WXHUB_METRICS_LISTEN` (loopback).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::engine::{MessageAnswer, NotifyError, NotifyQuery};
use app::services::ClientIp;

/// WeChat's pushes are a few hundred bytes.
pub const NOTIFY_BODY_LIMIT: usize = 64 * 1024;

pub async fn notify(
    State(state): State<AppState>,
    Path(component_appid): Path<String>,
    extensions: axum::http::Extensions,
    uri: axum::http::Uri,
    body: Bytes,
) -> Response {
    let query = notify_query(&uri);
    let ip = extensions.get::<ClientIp>().map(|c| c.0);
    match state
        .engine
        .accept_notify(&component_appid, &query, &body, ip)
        .await
    {
        Ok(_) => success(),
        Err(e) => refusal(e),
    }
}

/// WeChat's "received, nothing to add".
fn success() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain")],
        "success",
    )
        .into_response()
}

pub async fn message(
    State(state): State<AppState>,
    Path((component_appid, authorizer_appid)): Path<(String, String)>,
    extensions: axum::http::Extensions,
    uri: axum::http::Uri,
    body: Bytes,
) -> Response {
    let query = notify_query(&uri);
    let ip = extensions.get::<ClientIp>().map(|c| c.0);
    match state
        .engine
        .accept_message(&component_appid, &authorizer_appid, &query, &body, ip)
        .await
    {
        Ok(MessageAnswer::Success) => success(),
        Ok(MessageAnswer::Empty) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], "").into_response()
        }
        Ok(MessageAnswer::Reply(xml)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            xml,
        )
            .into_response(),
        Err(e) => refusal(e),
    }
}

/// A refused post: a short plain-text 4xx naming the reason (WeChat reads only the status), or a
/// logged 500 that names nothing.
fn refusal(e: NotifyError) -> Response {
    let status = match &e {
        NotifyError::UnknownComponent | NotifyError::UnknownAccount => StatusCode::NOT_FOUND,
        NotifyError::BadSignature => StatusCode::UNAUTHORIZED,
        NotifyError::Internal(inner) => {
            tracing::error!(error = %crate::report::Chain(inner), "a post from WeChat could not be stored");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    let text = match &e {
        NotifyError::Internal(_) => "internal error".to_owned(),
        other => other.code().to_owned(),
    };
    (status, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

/// The query is read leniently: a missing or garbled parameter becomes `None` and is refused by
/// the engine with a reason, rather than by the extractor with a generic 400.
fn notify_query(uri: &axum::http::Uri) -> NotifyQuery {
    let mut q = NotifyQuery::default();
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        let v = Some(v.into_owned());
        match k.as_ref() {
            "timestamp" => q.timestamp = v,
            "nonce" => q.nonce = v,
            "msg_signature" => q.msg_signature = v,
            "signature" => q.signature = v,
            "encrypt_type" => q.encrypt_type = v,
            _ => {}
        }
    }
    q
}

/// `/metrics` on the public listener: only with `WXHUB_METRICS_TOKEN`, and only to its bearer.
/// (The private listener, `WXHUB_METRICS_LISTEN`, serves [`render_metrics`] without a token.)
pub async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    use secrecy::ExposeSecret;
    use subtle::ConstantTimeEq;
    let Some(expected) = &state.settings.metrics_token else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok: bool = presented
        .as_bytes()
        .ct_eq(expected.expose_secret().as_bytes())
        .into();
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
            "a metrics token is required",
        )
            .into_response();
    }
    render_metrics(&state.engine)
}

/// The metrics as OpenMetrics text, from memory (the engine's health loop keeps the gauges).
pub fn render_metrics(engine: &crate::engine::Engine) -> Response {
    engine.update_memory_gauges();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        engine.metrics.render(),
    )
        .into_response()
}
