//! The WeChat-facing routes and the ops metrics: thin adapters over the engine.
//!
//! - `POST /wechat/{component_appid}/notify` — the authorization-event URL. WeChat posts from its
//!   own servers, so these routes have no session, no origin check, and a small body limit; every
//!   refusal is a short plain-text 4xx (WeChat only reads the status) and an audit event.
//! - `GET /metrics` — Prometheus (OpenMetrics text).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::engine::{NotifyError, NotifyQuery};
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
        Ok(_) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            "success",
        )
            .into_response(),
        Err(e) => {
            let status = match &e {
                NotifyError::UnknownComponent => StatusCode::NOT_FOUND,
                NotifyError::BadSignature => StatusCode::UNAUTHORIZED,
                NotifyError::Internal(inner) => {
                    tracing::error!(error = %inner, "a push could not be stored");
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
    }
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

pub async fn metrics(State(state): State<AppState>) -> Response {
    if let Err(e) = state.engine.update_gauges().await {
        tracing::warn!(error = %e, "metrics gauges could not be updated");
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.engine.metrics.render(),
    )
        .into_response()
}
