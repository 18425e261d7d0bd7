//! The handlers of `/api/v1` and the JSON they answer with. Each decodes its input, asks
//! [`TenantApi`] or an operation, and answers a DTO or an [`ApiError`]; none reads the store for
//! another tenant (every lookup is by the caller's tenant).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::distributions::{Alphanumeric, DistString};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::{
    Actor, AppId, AuditKind, AuthorizerStatus, ComponentId, NewAuditEvent, Outcome, TenantId,
};
use crate::engine::Rejected;
use crate::store::Store;

use super::directory::{AccessToken, TenantApi};
use super::error::store_error;
use super::error::ApiError;
use super::extract::{Allowed, ApiJson, LinksWrite, TokensRead};
use super::keys::ApiCaller;

/// How long a first JS-SDK request waits for WeChat to issue the ticket.
const JSAPI_WAIT: Duration = Duration::from_secs(5);

const OPENAPI: &str = include_str!("openapi.json");

/// An appid from the URL: one that cannot exist is simply not found.
fn path_appid(raw: &str) -> Result<AppId, ApiError> {
    AppId::parse("appid", raw).map_err(|_| ApiError::NotFound)
}

#[derive(Serialize)]
pub(super) struct AuthorizerSummary {
    appid: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    status: &'static str,
    component_appid: String,
    permission_ids: Vec<i64>,
    authorized_at: String,
}

#[derive(Serialize)]
pub(super) struct Permission {
    id: i64,
    name: String,
    name_zh: String,
    /// Only one third-party platform may hold it at a time.
    exclusive: bool,
}

#[derive(Serialize)]
pub(super) struct AuthorizerDetail {
    #[serde(flatten)]
    summary: AuthorizerSummary,
    principal_name: String,
    user_name: String,
    alias: String,
    head_img: String,
    revoked_at: Option<String>,
    permissions: Vec<Permission>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RejectedToken {
    access_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct JssdkRequest {
    url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JssdkConfig {
    app_id: String,
    timestamp: i64,
    nonce_str: String,
    signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewLink {
    component_appid: Option<String>,
    auth_type: Option<u8>,
    biz_appid: Option<String>,
    note: Option<String>,
    /// Seconds until the link expires; absent or null: it does not expire.
    expires_in: Option<i64>,
}

#[derive(Serialize)]
pub(super) struct CreatedLink {
    id: String,
    url: String,
    expires_at: Option<String>,
}

fn summary(a: &crate::domain::Authorizer, component_appid: String) -> AuthorizerSummary {
    AuthorizerSummary {
        appid: a.appid.clone(),
        name: a.nick_name.clone(),
        kind: a.account_kind.clone(),
        status: a.status.as_str(),
        component_appid,
        permission_ids: a.func_ids.clone(),
        authorized_at: crate::rfc3339(a.authorized_at),
    }
}

pub(super) async fn component_appids(
    store: &Store,
    tenant: TenantId,
) -> Result<HashMap<ComponentId, String>, ApiError> {
    Ok(store
        .list_components_for_tenant(tenant)
        .await
        .map_err(store_error("reading components"))?
        .into_iter()
        .map(|c| (c.id, c.appid))
        .collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    status: Option<String>,
}

pub(super) async fn list_authorizers(
    State(api): State<Arc<TenantApi>>,
    caller: ApiCaller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Ok(Query(query)) = query else {
        return Err(ApiError::invalid("query", "the only parameter is status"));
    };
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(AuthorizerStatus::parse(s).ok_or_else(|| {
            ApiError::invalid("status", "pending, authorized, revoked or needs_reauth")
        })?),
    };
    let accounts = api
        .store
        .list_authorizers(caller.tenant)
        .await
        .map_err(store_error("listing accounts"))?;
    let components = component_appids(&api.store, caller.tenant).await?;
    let list: Vec<AuthorizerSummary> = accounts
        .iter()
        .filter(|a| status.is_none_or(|s| a.status == s))
        .map(|a| {
            summary(
                a,
                components.get(&a.component_id).cloned().unwrap_or_default(),
            )
        })
        .collect();
    Ok(Json(json!({ "authorizers": list })))
}

pub(super) async fn get_authorizer(
    State(api): State<Arc<TenantApi>>,
    caller: ApiCaller,
    Path(appid): Path<String>,
) -> Result<Json<AuthorizerDetail>, ApiError> {
    let appid = path_appid(&appid)?;
    let a = api
        .store
        .authorizer(caller.tenant, &appid)
        .await
        .map_err(store_error("reading an account"))?
        .ok_or(ApiError::NotFound)?;
    let components = component_appids(&api.store, caller.tenant).await?;
    let permissions = a
        .func_ids
        .iter()
        .map(|&id| Permission {
            id,
            name: app::permissions::name_en(id),
            name_zh: app::permissions::name_zh(id),
            exclusive: app::permissions::permission_set(id).is_some_and(|p| p.exclusive),
        })
        .collect();
    Ok(Json(AuthorizerDetail {
        summary: summary(
            &a,
            components.get(&a.component_id).cloned().unwrap_or_default(),
        ),
        principal_name: a.principal_name.clone(),
        user_name: a.user_name.clone(),
        alias: a.alias.clone(),
        head_img: a.head_img.clone(),
        revoked_at: a.revoked_at.map(crate::rfc3339),
        permissions,
    }))
}

pub(super) async fn access_token(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<TokensRead>,
    Path(appid): Path<String>,
) -> Result<Json<AccessToken>, ApiError> {
    let appid = path_appid(&appid)?;
    api.access_token(&caller, &appid).await.map(Json)
}

pub(super) async fn token_rejected(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<TokensRead>,
    Path(appid): Path<String>,
    ApiJson(body): ApiJson<RejectedToken>,
) -> Result<Response, ApiError> {
    let appid = path_appid(&appid)?;
    let token = body.access_token.trim();
    if token.is_empty() || token.len() > 1024 || token.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid(
            "access_token",
            "the rejected access token, as it was served (1 to 1024 characters)",
        ));
    }
    let entry = api.usable_account(caller.tenant, &appid).await?;
    let token_tenant = api
        .engine
        .authorizer_token(entry.component, &appid, 0)
        .await
        .map_err(store_error("reading an access token"))?
        .and_then(|t| t.tenant);
    if token_tenant.is_some() && token_tenant != Some(caller.tenant) {
        api.owned(&caller, &appid, token_tenant).await?;
    }
    let now = crate::now_ms();
    let outcome = api
        .engine
        .token_rejected(entry.component, caller.tenant, &appid, token, now)
        .await
        .map_err(|e| ApiError::internal("forcing a refresh", e))?;
    let refreshing = match outcome {
        Rejected::Refreshing => true,
        Rejected::NotCurrent | Rejected::AlreadyHandled => false,
        Rejected::OverBudget { retry_after_s } => {
            return Err(ApiError::RateLimited { retry_after_s })
        }
    };
    if refreshing {
        let audit = NewAuditEvent::new(
            Actor::ApiKey {
                id: caller.key_id,
                name: caller.key_name.clone(),
            },
            AuditKind::TokenRejectedReported,
            Outcome::Ok,
            format!(
                "API key {:?} reported that WeChat rejected the access token of {appid}; refreshing now",
                caller.key_name
            ),
            now,
        )
        .tenant(Some(caller.tenant))
        .component(entry.component)
        .authorizer(&appid);
        if let Err(e) = api.store.append_audit(&audit).await {
            tracing::warn!(error = %crate::report::Chain(&e), "could not audit a rejected-token report");
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "refreshing": refreshing })),
    )
        .into_response())
}

fn valid_page_url(raw: &str) -> Result<String, ApiError> {
    let raw = raw.trim();
    let rule = "the page's full http(s) URL, at most 2048 characters";
    if raw.is_empty() || raw.len() > 2048 || raw.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid("url", rule));
    }
    let parsed = url::Url::parse(raw).map_err(|_| ApiError::invalid("url", rule))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ApiError::invalid("url", rule));
    }
    // WeChat signs the URL as the page sees it (without the fragment), not a normalised form.
    Ok(raw.split('#').next().unwrap_or(raw).to_owned())
}

pub(super) async fn jssdk_config(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<TokensRead>,
    Path(appid): Path<String>,
    ApiJson(body): ApiJson<JssdkRequest>,
) -> Result<Json<JssdkConfig>, ApiError> {
    let appid = path_appid(&appid)?;
    let url = valid_page_url(&body.url)?;
    let entry = api.usable_account(caller.tenant, &appid).await?;
    let ticket = api
        .engine
        .jsapi_ticket(
            entry.component,
            entry.authorizer,
            caller.tenant,
            &appid,
            JSAPI_WAIT,
        )
        .await
        .map_err(|e| ApiError::internal("getting a JS-SDK ticket", e))?
        .ok_or(ApiError::NotReady {
            message: "WeChat has not issued this account's JS-SDK ticket yet".into(),
            retry_after_s: 2,
        })?;
    if ticket.tenant != Some(caller.tenant) {
        let checked = api.owned(&caller, &appid, ticket.tenant).await?;
        TenantApi::usable(&checked)?;
    }
    let timestamp = crate::now_ms() / 1000;
    let nonce_str = Alphanumeric.sample_string(&mut rand::thread_rng(), 16);
    let signature = crate::wechat::links::jssdk_signature(
        ticket.value.expose_secret(),
        &nonce_str,
        timestamp,
        &url,
    );
    Ok(Json(JssdkConfig {
        app_id: appid.into(),
        timestamp,
        nonce_str,
        signature,
    }))
}

pub(super) async fn create_link(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<LinksWrite>,
    ApiJson(body): ApiJson<NewLink>,
) -> Result<Response, ApiError> {
    use crate::ops::links::{self, ComponentRef};
    let now = crate::now_ms();
    let who = crate::ops::TenantActor {
        actor: Actor::ApiKey {
            id: caller.key_id,
            name: caller.key_name.clone(),
        },
        tenant: caller.tenant,
        ip: None,
    };
    let new = links::NewLink {
        component: match body.component_appid {
            Some(appid) => ComponentRef::Appid(appid.trim().to_owned()),
            None => ComponentRef::TheOnlyOne,
        },
        auth_type: body.auth_type.unwrap_or(3),
        biz_appid: body.biz_appid,
        note: body.note.unwrap_or_default(),
        expires_in_ms: body.expires_in.map(|s| s.saturating_mul(1000)),
    };
    let link = links::create(&api.store, &who, new, now)
        .await
        .map_err(|e| match e {
            crate::ops::OpError::Invalid { field, en, .. }
            | crate::ops::OpError::Conflict { field, en, .. } => ApiError::invalid(field, en),
            crate::ops::OpError::NotFound => ApiError::NotFound,
            crate::ops::OpError::Forbidden => ApiError::Unauthorized,
            e @ (crate::ops::OpError::Store(_) | crate::ops::OpError::Other(_)) => {
                ApiError::internal("creating a link", e)
            }
        })?;
    let url = api
        .public_base
        .join(&format!("authorize/{}", link.public_id))
        .map_err(|e| ApiError::internal("building a link URL", e))?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedLink {
            id: link.public_id,
            url: url.to_string(),
            expires_at: link.expires_at.map(crate::rfc3339),
        }),
    )
        .into_response())
}

pub(super) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub(super) async fn no_route() -> ApiError {
    ApiError::NoRoute
}

pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_urls_are_checked_and_lose_their_fragment() {
        assert_eq!(
            valid_page_url("https://shop.example.com/a?b=1#frag")
                .ok()
                .as_deref(),
            Some("https://shop.example.com/a?b=1")
        );
        for bad in [
            "",
            "not a url",
            "ftp://example.com/",
            "javascript:alert(1)",
            "https://exa mple.com/",
            "https://example.com/\u{0}",
            &format!("https://example.com/{}", "a".repeat(3000)),
        ] {
            assert!(valid_page_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(crate::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            crate::rfc3339(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
    }

    #[test]
    fn the_openapi_document_is_json_and_names_every_route() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        let paths = doc["paths"].as_object().expect("paths");
        for path in [
            "/authorizers",
            "/authorizers/{appid}",
            "/authorizers/{appid}/access-token",
            "/authorizers/{appid}/access-token/rejected",
            "/authorizers/{appid}/jssdk-config",
            "/authorization-links",
            "/webhook-endpoints",
            "/webhook-endpoints/{id}",
            "/webhook-endpoints/{id}/rotate-secret",
            "/webhook-endpoints/{id}/deliveries",
            "/webhook-endpoints/{id}/replay",
            "/webhook-endpoints/{id}/test",
            "/authorizers/{appid}/wechat/{path}",
            "/components/{component_appid}/wechat/{path}",
            "/authorizers/{appid}/jscode2session",
            "/authorizers/{appid}/oauth2/access-token",
            "/authorizers/{appid}/oauth2/refresh-token",
            "/authorizers/{appid}/code",
            "/authorizers/{appid}/code/audit",
            "/authorizers/{appid}/code/quota",
            "/authorizers/{appid}/code/categories",
            "/authorizers/{appid}/code/domains",
            "/authorizers/{appid}/code/commit",
            "/authorizers/{appid}/code/trial-qrcode",
            "/authorizers/{appid}/code/submit-audit",
            "/authorizers/{appid}/code/undo-audit",
            "/authorizers/{appid}/code/speedup-audit",
            "/authorizers/{appid}/code/release",
            "/authorizers/{appid}/code/revert-release",
            "/code-batches",
            "/code-batches/{id}",
            "/fast-registrations",
            "/fast-registrations/{id}/check",
            "/components/{component_appid}/code-templates",
            "/components/{component_appid}/code-templates/{template_id}",
        ] {
            assert!(paths.contains_key(path), "openapi.json lacks {path}");
        }
        // Every operation that needs a scope says so and documents the 403.
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                if method == "parameters" {
                    continue;
                }
                if let Some(scope) = op.get("x-required-scope").and_then(|s| s.as_str()) {
                    assert!(
                        app::model::ApiScope::parse(scope).is_some(),
                        "{path}: {scope}"
                    );
                    assert!(
                        op["responses"].get("403").is_some(),
                        "{method} {path} lacks its 403"
                    );
                } else {
                    assert!(
                        path == "/authorizers" || path == "/authorizers/{appid}",
                        "{method} {path} names no scope"
                    );
                }
            }
        }
    }
}
