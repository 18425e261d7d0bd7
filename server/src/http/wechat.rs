//! The WeChat-facing routes and the ops metrics: thin adapters over the engine.
//!
//! - `POST /wechat/{component_appid}/notify` — the authorization-event URL. WeChat posts from its
//!   own servers, so these routes have no session, no origin check, and a small body limit; every
//!   refusal is a short plain-text 4xx (WeChat only reads the status) and an audit event.
//! - `GET /authorize/{link}/done` — where WeChat sends the account owner back with `auth_code`.
//! - `GET /metrics` — Prometheus (OpenMetrics text).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::collections::HashMap;
use std::time::Duration;

use super::AppState;
use crate::engine::{NotifyError, NotifyQuery, RedirectOutcome};
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

/// The outcome page after WeChat's redirect. A plain page for now; the console's styled, bilingual
/// version replaces it with the authorization pages.
pub async fn authorization_done(
    State(state): State<AppState>,
    Path(link): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let outcome = state
        .engine
        .complete_redirect(
            &link,
            query.get("auth_code").map(String::as_str),
            Duration::from_secs(8),
        )
        .await;
    let (status, title, text) = match outcome {
        Ok(RedirectOutcome::Authorized { appid, func_ids }) => (
            StatusCode::OK,
            "授权成功 · Authorized",
            format!("账号 {appid} 已授权，权限集 {func_ids:?}。 The account {appid} is authorized with permission sets {func_ids:?}."),
        ),
        Ok(RedirectOutcome::Pending) => (
            StatusCode::ACCEPTED,
            "处理中 · Almost there",
            "授权已收到，正在处理，请稍后刷新。 The authorization arrived and is being processed; refresh in a moment.".to_owned(),
        ),
        Ok(RedirectOutcome::Failed(reason)) => (
            StatusCode::BAD_GATEWAY,
            "授权未完成 · Not completed",
            format!("微信未确认此次授权，请重新扫码。 WeChat did not confirm this authorization; please scan again. ({reason})"),
        ),
        Ok(RedirectOutcome::MissingCode) => (
            StatusCode::BAD_REQUEST,
            "缺少授权码 · No authorization code",
            "链接中没有授权码，请从授权页面重新开始。 The address has no authorization code; start again from the authorization page.".to_owned(),
        ),
        Ok(RedirectOutcome::UnknownLink) => (
            StatusCode::NOT_FOUND,
            "链接不存在 · Unknown link",
            "这个授权链接不存在。 This authorization link does not exist.".to_owned(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "the authorization redirect failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "出错了 · Something went wrong",
                "请稍后再试。 Please try again shortly.".to_owned(),
            )
        }
    };
    let body = format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{title}</title></head><body><main><h1>{title}</h1><p id=\"outcome\">{}</p></main></body></html>",
        escape(&text)
    );
    (status, Html(body)).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
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
