//! The WeChat gateway for tenants' systems: `ANY /api/v1/authorizers/{appid}/wechat/{path}` calls
//! `{WXHUB_WECHAT_API_BASE}/{path}` with the account's current `access_token`, and
//! `ANY /api/v1/components/{component_appid}/wechat/{path}` calls it with the component's
//! `component_access_token`, for a tenant that owns the component. A tenant never handles a token.
//!
//! The call goes through as it is: method, query (less any token the caller sent), content type and
//! body, streamed (a multipart upload is never held whole in memory). WeChat's answer comes back as
//! it is: status, content type and body. When WeChat answers 40001, 40014 or 42001 (a token it no
//! longer takes; it refuses these before it acts, so a second try is safe), the gateway reports the
//! token like `/access-token/rejected` does, waits for the fresh one, and sends the same bytes again
//! once (`wechat::gateway::Spool` kept them).
//!
//! Every call is counted by account, path and errcode in `/metrics`. Neither bodies nor tokens are
//! logged; the path is checked before anything is sent (`GatewayPath`), so nothing reaches a host
//! other than the API base.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use secrecy::ExposeSecret;

use super::extract::{Allowed, WechatCall};
use super::{ApiError, TenantApi};
use crate::domain::AppId;
use crate::engine::{labels, Rejected};
use crate::wechat::gateway::{forward_query, GatewayPath, Spool, INSPECT_BYTES, MAX_BODY_BYTES};

/// WeChat's answers that mean "not this token" (invalid, invalid, expired).
const TOKEN_REFUSED: [i64; 3] = [40001, 40014, 42001];
/// How long the retry waits for the engine's fresh token.
const FRESH_TOKEN_WAIT: Duration = Duration::from_secs(5);

pub(super) async fn authorizer_call(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path((appid, _)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let appid = AppId::parse("appid", &appid).map_err(|_| ApiError::NotFound)?;
    let path = raw_path(&request, &format!("/api/v1/authorizers/{appid}/wechat/"))?;
    let (served, entry) = api.served_token(&caller, &appid).await?;
    let token = Token {
        name: "access_token",
        value: served.access_token,
    };
    let target = Target {
        tenant: caller.tenant,
        key: caller.key_id,
        name: appid.to_string(),
        kind: "authorizer",
    };
    call(&api, request, &path, token, &target, |api, old| {
        let appid = appid.clone();
        async move {
            let now = crate::now_ms();
            let outcome = api
                .engine
                .token_rejected(entry.component, caller.tenant, &appid, &old, now)
                .await;
            match outcome {
                Ok(Rejected::OverBudget { .. }) | Err(_) => return None,
                Ok(_) => {}
            }
            wait_for(|| {
                api.engine
                    .held_authorizer_token(entry.component, &appid, crate::now_ms())
                    .filter(|t| t.tenant == Some(caller.tenant))
                    .map(|t| t.value.expose_secret().to_owned())
                    .filter(|v| *v != old)
            })
            .await
        }
    })
    .await
}

pub(super) async fn component_call(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path((component_appid, _)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let appid =
        AppId::parse("component_appid", &component_appid).map_err(|_| ApiError::NotFound)?;
    let path = raw_path(&request, &format!("/api/v1/components/{appid}/wechat/"))?;
    // Only the tenant that owns the component: a shared component's token is every tenant's.
    let component = api
        .store
        .component_by_appid(appid.as_str())
        .await
        .map_err(super::error::store_error("looking up a component"))?
        .filter(|c| c.owner.tenant_id() == Some(caller.tenant))
        .ok_or(ApiError::NotFound)?;
    let now = crate::now_ms();
    let current = api
        .engine
        .component_token(component.id, now)
        .ok_or_else(|| ApiError::NotReady {
            message: "no valid component token yet; the engine is refreshing it".into(),
            retry_after_s: 2,
        })?;
    let token = Token {
        name: "component_access_token",
        value: current.value.expose_secret().to_owned(),
    };
    let target = Target {
        tenant: caller.tenant,
        key: caller.key_id,
        name: appid.to_string(),
        kind: "component",
    };
    let component_id = component.id;
    call(&api, request, &path, token, &target, move |api, old| {
        renew_component_token(api, component_id, old)
    })
    .await
}

/// Waits for a component token other than `old`. The component token is refreshed on its
/// schedule; a refused one is replaced by the engine's next refresh, which a retry can only wait
/// for.
pub(super) async fn renew_component_token(
    api: Arc<TenantApi>,
    component: crate::domain::ComponentId,
    old: String,
) -> Option<String> {
    wait_for(|| {
        api.engine
            .component_token(component, crate::now_ms())
            .map(|t| t.value.expose_secret().to_owned())
            .filter(|v| *v != old)
    })
    .await
}

pub(super) struct Token {
    pub(super) name: &'static str,
    pub(super) value: String,
}

/// Whose call to what: for the metric and the console's recent-calls log.
pub(super) struct Target {
    pub(super) tenant: crate::domain::TenantId,
    pub(super) key: crate::domain::ApiKeyId,
    /// The authorizer's or the component's appid (checked to be the caller's).
    pub(super) name: String,
    pub(super) kind: &'static str,
}

/// The path after `prefix`, as the request carried it (percent-encoding intact), checked.
fn raw_path(request: &Request, prefix: &str) -> Result<GatewayPath, ApiError> {
    let raw = request
        .uri()
        .path()
        .strip_prefix(prefix)
        .ok_or_else(|| ApiError::invalid("path", "the WeChat API path is not plain"))?;
    GatewayPath::parse(raw).map_err(|e| ApiError::invalid("path", e.to_string()))
}

/// Polls the engine's memory for a fresh token, at most [`FRESH_TOKEN_WAIT`].
async fn wait_for(fresh: impl Fn() -> Option<String>) -> Option<String> {
    let deadline = tokio::time::Instant::now() + FRESH_TOKEN_WAIT;
    loop {
        if let Some(token) = fresh() {
            return Some(token);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Forwards the call, retrying once with `renew`'s token if WeChat refused the first.
pub(super) async fn call<F, Fut>(
    api: &Arc<TenantApi>,
    request: Request,
    path: &GatewayPath,
    token: Token,
    target: &Target,
    renew: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Arc<TenantApi>, String) -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let (parts, body) = request.into_parts();
    let content_type = header_str(&parts.headers, header::CONTENT_TYPE);
    let content_length =
        header_str(&parts.headers, header::CONTENT_LENGTH).and_then(|n| n.parse::<u64>().ok());
    if content_length.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::TooLarge {
            limit: MAX_BODY_BYTES as usize,
        });
    }
    let has_body = content_length.is_some_and(|n| n > 0)
        || parts.headers.contains_key(header::TRANSFER_ENCODING);
    let spool = Spool::new(content_length);
    let mut first_body = has_body.then(|| spool.tee(body));
    let mut token_value = token.value;
    let mut renew = Some(renew);
    let started = std::time::Instant::now();
    let method = parts.method.clone();
    let mut retried = false;
    let finish =
        |outcome: &str, status: Option<StatusCode>, errcode: Option<i64>, retried: bool| {
            count(api, &target.name, path, outcome);
            api.call_log.record(crate::store::GatewayCallRecord {
                tenant: target.tenant,
                target: target.name.clone(),
                target_kind: target.kind,
                api_key: Some(target.key),
                method: method.to_string(),
                path: path.as_str().to_owned(),
                status: status.map(|s| i64::from(s.as_u16())),
                errcode,
                outcome: outcome.to_owned(),
                retried,
                duration_ms: started.elapsed().as_millis() as i64,
                called_at: crate::now_ms(),
            });
        };
    loop {
        let query = forward_query(parts.uri.query(), token.name, &token_value);
        let body = match first_body.take() {
            Some(b) => Some(b),
            None if has_body => spool.replay().await,
            None => None,
        };
        let sent = api
            .engine
            .client
            .forward(
                parts.method.clone(),
                path,
                &query,
                content_type.as_deref(),
                content_length,
                body,
            )
            .await;
        let answer = match sent {
            Ok(a) => a,
            Err(_) if spool.too_large() => {
                finish("too_large", None, None, retried);
                return Err(ApiError::TooLarge {
                    limit: MAX_BODY_BYTES as usize,
                });
            }
            Err(e) => {
                finish("transport", None, None, retried);
                tracing::warn!(path = path.as_str(), error = %e, "a gateway call did not reach WeChat");
                return Err(ApiError::Upstream(format!("WeChat did not answer: {e}")));
            }
        };
        let answer = Answer::read(answer).await;
        let errcode = answer.errcode();
        let refused = errcode.is_some_and(|c| TOKEN_REFUSED.contains(&c));
        if refused {
            if let Some(renew) = renew.take() {
                if let Some(fresh) = renew(api.clone(), token_value.clone()).await {
                    if !has_body || spool.replay().await.is_some() {
                        // The refused first try is counted; the log keeps the final answer.
                        count(api, &target.name, path, &label_of(errcode, answer.status()));
                        token_value = fresh;
                        retried = true;
                        continue;
                    }
                }
            }
        }
        finish(
            &label_of(errcode, answer.status()),
            Some(answer.status()),
            errcode,
            retried,
        );
        tracing::debug!(
            path = path.as_str(),
            errcode,
            ms = started.elapsed().as_millis() as u64,
            "gateway call"
        );
        return Ok(answer.into_response());
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn label_of(errcode: Option<i64>, status: StatusCode) -> String {
    match errcode {
        Some(code) => code.to_string(),
        None if status.is_success() => "none".into(),
        None => format!("http_{}", status.as_u16()),
    }
}

/// Counts a call. The account label is the appid the caller named, which the gateway has checked
/// is theirs (so bounded by the accounts wxhub holds); the path label is the path for the first
/// [`MAX_PATH_LABELS`] distinct paths this instance has seen and `other` after them, so callers
/// inventing paths cannot grow `/metrics` without end.
fn count(api: &TenantApi, account: &str, path: &GatewayPath, errcode: &str) {
    api.engine
        .metrics
        .gateway_calls
        .get_or_create(&labels(&[
            ("account", account),
            ("path", api.path_labels.label(path.as_str())),
            ("errcode", errcode),
        ]))
        .inc();
}

/// Distinct gateway paths named in `/metrics` at most.
pub(super) const MAX_PATH_LABELS: usize = 256;

/// Label values kept to a bound: the first `cap` distinct values as themselves, then `other`.
#[derive(Debug)]
pub(crate) struct BoundedLabels {
    cap: usize,
    seen: std::sync::RwLock<std::collections::HashSet<String>>,
}

impl BoundedLabels {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            seen: std::sync::RwLock::new(std::collections::HashSet::new()),
        }
    }

    pub(crate) fn label<'a>(&self, value: &'a str) -> &'a str {
        let known = self
            .seen
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(value);
        if known {
            return value;
        }
        let mut seen = self.seen.write().unwrap_or_else(|p| p.into_inner());
        if seen.len() < self.cap || seen.contains(value) {
            seen.insert(value.to_owned());
            value
        } else {
            "other"
        }
    }
}

/// WeChat's answer: read whole when it is JSON or text of modest size (to see its errcode), else
/// left streaming.
enum Answer {
    Read {
        status: StatusCode,
        headers: HeaderMap,
        body: axum::body::Bytes,
    },
    Streaming(reqwest::Response),
}

impl Answer {
    async fn read(response: reqwest::Response) -> Self {
        let textual = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|t| t.contains("json") || t.starts_with("text/"));
        let small = response
            .content_length()
            .is_none_or(|n| n as usize <= INSPECT_BYTES);
        if !(textual && small) {
            return Self::Streaming(response);
        }
        let status = response.status();
        let headers = response.headers().clone();
        // A body that cannot be read whole within the limit is passed on as far as it came.
        let mut response = response;
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            body.extend_from_slice(&chunk);
            if body.len() > INSPECT_BYTES {
                break;
            }
        }
        Self::Read {
            status,
            headers,
            body: body.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Read { status, .. } => *status,
            Self::Streaming(r) => r.status(),
        }
    }

    /// WeChat's errcode, when the answer is a JSON object that has one.
    fn errcode(&self) -> Option<i64> {
        let Self::Read { body, .. } = self else {
            return None;
        };
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()?
            .get("errcode")?
            .as_i64()
    }

    fn into_response(self) -> Response {
        let (status, headers, body) = match self {
            Self::Read {
                status,
                headers,
                body,
            } => (status, headers, Body::from(body)),
            Self::Streaming(r) => {
                let status = r.status();
                let headers = r.headers().clone();
                (status, headers, Body::from_stream(r.bytes_stream()))
            }
        };
        let mut out = Response::new(body);
        *out.status_mut() = status;
        // Only what describes the body: no cookies or connection headers of WeChat's.
        for name in [
            header::CONTENT_TYPE,
            header::CONTENT_DISPOSITION,
            header::CACHE_CONTROL,
        ] {
            if let Some(v) = headers.get(&name) {
                out.headers_mut().insert(name, v.clone());
            }
        }
        out.headers_mut()
            .insert("x-wxhub-gateway", HeaderValue::from_static("1"));
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_labels_are_bounded() {
        let labels = super::BoundedLabels::new(2);
        assert_eq!(labels.label("cgi-bin/a"), "cgi-bin/a");
        assert_eq!(labels.label("cgi-bin/b"), "cgi-bin/b");
        assert_eq!(labels.label("cgi-bin/c"), "other");
        assert_eq!(
            labels.label("cgi-bin/a"),
            "cgi-bin/a",
            "a known path keeps its name"
        );
    }
}
