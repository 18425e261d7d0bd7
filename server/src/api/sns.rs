//! User logins through the platform, for tenants' systems: a mini program's `wx.login` code
//! exchanged with `sns/component/jscode2session`, and web OAuth on behalf of an Official Account
//! (`sns/oauth2/component/access_token` and `refresh_token`). Each needs the component's token,
//! which on a shared component belongs to every tenant at once, so it is never handed out: the
//! tenant names its own account, wxhub checks the account is the tenant's (another tenant's is
//! "not found") and makes the call with the token of the account's component.
//!
//! The call goes through the gateway's path ([`super::gateway::call`]): the same retry after a
//! refused component token, the same `/metrics` counter and recent-calls log (path only: the code
//! and the refresh token are in the query, which is never kept), and WeChat's answer comes back as
//! it is, errors included.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::Method;
use axum::response::Response;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::extract::{Allowed, ApiJson, WechatCall};
use super::gateway::{call, renew_component_token, Target, Token};
use super::{ApiCaller, ApiError, TenantApi};
use crate::domain::AppId;
use crate::wechat::gateway::GatewayPath;

/// The longest code or refresh token taken (WeChat's are 32 to about 100 characters).
const MAX_CODE: usize = 512;

/// A code or token as WeChat issues them: letters, digits, `-`, `_`, `.`, `=`.
fn opaque(field: &str, value: Option<&str>) -> Result<String, ApiError> {
    let value = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid(field, format!("{field} is required")))?;
    if value.len() > MAX_CODE
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.=".contains(c))
    {
        return Err(ApiError::invalid(
            field,
            format!("{field} is not a code WeChat issues"),
        ));
    }
    Ok(value.to_owned())
}

/// The one query parameter an endpoint takes; anything else is refused.
fn only_param(query: Option<&str>, name: &str) -> Result<Option<String>, ApiError> {
    let mut found = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if key != name {
            return Err(ApiError::invalid(
                &key,
                format!("unknown query parameter; this endpoint takes {name}"),
            ));
        }
        if found.replace(value.into_owned()).is_some() {
            return Err(ApiError::invalid(name, format!("{name} is given twice")));
        }
    }
    Ok(found)
}

pub(super) async fn jscode2session(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let code = opaque(
        "js_code",
        only_param(query.as_deref(), "js_code")?.as_deref(),
    )?;
    component_call(
        &api,
        &caller,
        &appid,
        "sns/component/jscode2session",
        &[("js_code", &code), ("grant_type", "authorization_code")],
    )
    .await
}

pub(super) async fn oauth_access_token(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let code = opaque("code", only_param(query.as_deref(), "code")?.as_deref())?;
    component_call(
        &api,
        &caller,
        &appid,
        "sns/oauth2/component/access_token",
        &[("code", &code), ("grant_type", "authorization_code")],
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RefreshBody {
    refresh_token: String,
}

pub(super) async fn oauth_refresh_token(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Response, ApiError> {
    let refresh = opaque("refresh_token", Some(&body.refresh_token))?;
    component_call(
        &api,
        &caller,
        &appid,
        "sns/oauth2/component/refresh_token",
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await
}

/// Calls `path` for the caller's account `appid` with its component's token.
async fn component_call(
    api: &Arc<TenantApi>,
    caller: &ApiCaller,
    appid: &str,
    path: &str,
    params: &[(&str, &str)],
) -> Result<Response, ApiError> {
    let appid = AppId::parse("appid", appid).map_err(|_| ApiError::NotFound)?;
    let entry = api.usable_account(caller.tenant, appid.as_str()).await?;
    let component = api
        .engine
        .component_by_id(entry.component)
        .await
        .map_err(|e| ApiError::internal("looking up a component", e))?
        .ok_or(ApiError::NotFound)?;
    let current = api
        .engine
        .component_token(entry.component, crate::now_ms())
        .ok_or_else(|| ApiError::NotReady {
            message: "no valid component token yet; the engine is refreshing it".into(),
            retry_after_s: 2,
        })?;
    // Built in a block: the serializer is not Send and must not live across an await.
    let query = {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("appid", appid.as_str());
        for (k, v) in params {
            query.append_pair(k, v);
        }
        query.append_pair("component_appid", &component.component.appid);
        query.finish()
    };
    let request = Request::builder()
        .method(Method::GET)
        .uri(format!("/{path}?{query}"))
        .body(Body::empty())
        .map_err(|e| ApiError::internal("building a WeChat call", e))?;
    let path = GatewayPath::parse(path).map_err(|e| ApiError::internal("a WeChat path", e))?;
    let token = Token {
        name: "component_access_token",
        value: current.value.expose_secret().to_owned(),
    };
    let target = Target {
        tenant: caller.tenant,
        key: caller.key_id,
        name: appid.to_string(),
        kind: "authorizer",
    };
    let component_id = entry.component;
    call(api, request, &path, token, &target, move |api, old| {
        renew_component_token(api, component_id, old)
    })
    .await
}
