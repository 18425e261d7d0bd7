//! Request middleware: who the client is, the request's id, and refusing cross-origin writes.

use std::net::{IpAddr, SocketAddr};

use app::services::ClientIp;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

pub const REQUEST_ID: &str = "x-request-id";

/// A request id a proxy sent is kept (so one id follows the request through both), but only if it
/// looks like one: anything else (long, odd characters) is dropped, and a fresh one is made, so a
/// client cannot write what it likes into every log line. A plain function for
/// `tower::util::MapRequestLayer`: it runs on every request, the tenant API's hot path included,
/// so it allocates nothing and boxes nothing.
pub fn drop_implausible_request_id<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    let plausible = req.headers().get(REQUEST_ID).is_none_or(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 64
            && b.iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    if !plausible {
        req.headers_mut().remove(REQUEST_ID);
    }
    req
}

/// Fresh request ids: this process's random prefix and a counter (`5f0c2a9e41d7-1b3`), unique
/// across instances without asking the OS for randomness on every request (a UUID v4 per request
/// cost the access-token endpoint a fifth of its throughput).
#[derive(Clone)]
pub struct RequestIds {
    prefix: std::sync::Arc<str>,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl RequestIds {
    pub fn new() -> Self {
        let prefix: u64 = rand::random();
        Self {
            prefix: format!("{:012x}", prefix & 0xffff_ffff_ffff).into(),
            next: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

impl tower_http::request_id::MakeRequestId for RequestIds {
    fn make_request_id<B>(
        &mut self,
        _: &axum::http::Request<B>,
    ) -> Option<tower_http::request_id::RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&format!("{}-{n:x}", self.prefix))
            .ok()
            .map(tower_http::request_id::RequestId::new)
    }
}

/// Puts the client's address into the request extensions. The peer address is used unless the
/// operator declared a trusted proxy (`trust_forwarded_for`): then the right-most
/// `X-Forwarded-For` entry, the one the proxy itself appended, which a client cannot forge.
pub async fn client_ip(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = if state.settings.trust_forwarded_for {
        req.headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .next_back()
    } else {
        None
    };
    if let Some(ip) = forwarded.or(peer) {
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

/// State-changing requests from a browser must come from our own origin. Browsers send `Origin`
/// on every cross-origin POST; a request without it is not a cross-site browser request (and
/// SameSite=Lax already keeps the session cookie off cross-site POSTs).
pub async fn same_origin_writes(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let allowed = match &state.public_origin {
                Some(expected) => origin == &**expected,
                // No public URL configured: same origin means the Origin's authority is the Host
                // the browser addressed (so both 127.0.0.1:3000 and localhost:3000 work locally).
                None => {
                    let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
                    let host = req
                        .headers()
                        .get(header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("");
                    !authority.is_empty() && authority.eq_ignore_ascii_case(host)
                }
            };
            if !allowed {
                tracing::warn!(origin = ?origin, "cross-origin write refused");
                return (StatusCode::FORBIDDEN, "cross-origin request refused").into_response();
            }
        }
    }
    next.run(req).await
}

/// Server functions that fail before our code runs (a malformed body, a missing field) are
/// answered 500 by server_fn. Their body is still our `AppError`, so the status is set from it
/// here, once, for every server function.
pub async fn server_fn_status(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<app::error::AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(error.status()) {
            parts.status = status;
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}
