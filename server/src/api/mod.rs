//! The tenant API (`/api/v1`): what a tenant's own systems call with an API key — the account
//! list, an account's current access token (from memory), a report that WeChat rejected a token,
//! a JS-SDK signature, and new authorization links.
//!
//! Shaped for the access-token endpoint, which tenants call on every request of their own: the key
//! is checked from memory (`keys`), the account's component and status come from a short-lived
//! directory, and the token from the engine's cache, so a hit touches no database. Every answer
//! that is not a success is one [`ApiError`] with one JSON shape. A key only ever sees its own
//! tenant: every lookup is by (tenant, appid), and another tenant's account is "not found".
//!
//! The directory may be up to a minute old, so it is never the last word on ownership: every token
//! and ticket the engine holds carries the tenant its account belongs to, and one that names
//! another tenant sends the request back to the database. An account that moved to another tenant
//! (re-authorized through that tenant's link) is therefore not found for its old tenant from the
//! moment the move reaches this instance's cache: at once on the instance that recorded it, and on
//! the others with the change notification (PostgreSQL NOTIFY, within the 1-second poll at worst).

mod error;
pub mod keys;

use crate::domain::AuditKind;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::distributions::{Alphanumeric, DistString};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use error::ApiError;
pub use keys::{ApiCaller, ApiKeys, RateLimit};

use crate::domain::{
    Actor, AuthorizerId, AuthorizerStatus, ComponentId, NewAuditEvent, Outcome, TenantId,
};
use crate::engine::{Engine, Rejected};
use crate::store::Store;

/// Largest request body the API reads (its bodies are a URL or a note).
pub const BODY_LIMIT: usize = 16 * 1024;
/// How long an account's component and status are trusted without reading them again. Long
/// enough to keep reads off the database under load; a revocation does not wait for it (the
/// token leaves the engine's cache at once, and a missing token forces a fresh read).
const DIRECTORY_TTL: Duration = Duration::from_secs(30);
/// A token is served only with at least this much life left; a caller needs time to use it.
const MIN_TOKEN_LIFE_MS: i64 = 5_000;
/// How long a first JS-SDK request waits for WeChat to issue the ticket.
const JSAPI_WAIT: Duration = Duration::from_secs(5);
const OPENAPI: &str = include_str!("openapi.json");

#[derive(Clone, Copy)]
struct AccountEntry {
    component: ComponentId,
    authorizer: AuthorizerId,
    status: AuthorizerStatus,
    checked_at: Instant,
}

/// The API's state: the keys, a directory of accounts, and the engine that holds the tokens.
pub struct TenantApi {
    store: Store,
    engine: Arc<Engine>,
    pub keys: Arc<ApiKeys>,
    public_base: url::Url,
    directory: Arc<RwLock<Directory>>,
}

type Directory = HashMap<(TenantId, String), AccountEntry>;

impl std::fmt::Debug for TenantApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantApi").finish_non_exhaustive()
    }
}

fn unpoison<T>(r: std::sync::LockResult<T>) -> T {
    r.unwrap_or_else(|p| p.into_inner())
}

fn store_error(context: &'static str) -> impl Fn(crate::store::StoreError) -> ApiError {
    move |e| ApiError::internal(context, e)
}

/// Unix milliseconds as RFC 3339 (UTC).
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// An appid from the URL: one that cannot exist is simply not found.
fn path_appid(raw: &str) -> Result<String, ApiError> {
    app::validate::appid("appid", raw).map_err(|_| ApiError::NotFound)
}

impl TenantApi {
    pub fn new(
        store: Store,
        engine: Arc<Engine>,
        keys: Arc<ApiKeys>,
        public_base: url::Url,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            engine,
            keys,
            public_base,
            directory: Arc::new(RwLock::new(HashMap::new())),
        })
    }

    /// The tenant's account `appid` (`fresh` forces a read). Not found covers "another
    /// tenant's".
    ///
    /// An entry checked within [`DIRECTORY_TTL`] is used as is. An older one is still answered at
    /// once while a background read replaces it (stale-while-revalidate): the busiest endpoint
    /// never waits on the database for an account it has seen. A revoked account is caught
    /// sooner anyway: its token leaves the engine's cache, and a missing token forces a read.
    async fn account(
        &self,
        tenant: TenantId,
        appid: &str,
        fresh: bool,
    ) -> Result<AccountEntry, ApiError> {
        let key = (tenant, appid.to_owned());
        if !fresh {
            let known = unpoison(self.directory.read()).get(&key).copied();
            if let Some(entry) = known {
                if entry.checked_at.elapsed() >= DIRECTORY_TTL {
                    self.revalidate(key);
                }
                return Ok(entry);
            }
        }
        let found = self
            .store
            .authorizer(tenant, appid)
            .await
            .map_err(store_error("reading an account"))?;
        match Self::remember(&self.directory, key, found) {
            Some(entry) => Ok(entry),
            None => Err(ApiError::NotFound),
        }
    }

    /// Re-reads a stale directory entry in the background (once: the entry counts as checked
    /// from now, so requests meanwhile do not start more reads).
    fn revalidate(&self, key: (TenantId, String)) {
        if let Some(e) = unpoison(self.directory.write()).get_mut(&key) {
            if e.checked_at.elapsed() < DIRECTORY_TTL {
                return;
            }
            e.checked_at = Instant::now();
        }
        let store = self.store.clone();
        let directory = self.directory.clone();
        tokio::spawn(async move {
            match store.authorizer(key.0, &key.1).await {
                Ok(found) => {
                    Self::remember(&directory, key, found);
                }
                Err(e) => {
                    tracing::warn!(error = %crate::report::Chain(&e), "could not re-read an account for the API")
                }
            }
        });
    }

    /// Records what storage said about an account; `None` when it does not exist.
    fn remember(
        directory: &RwLock<Directory>,
        key: (TenantId, String),
        found: Option<crate::domain::Authorizer>,
    ) -> Option<AccountEntry> {
        let mut directory = unpoison(directory.write());
        let Some(a) = found else {
            directory.remove(&key);
            return None;
        };
        let entry = AccountEntry {
            component: a.component_id,
            authorizer: a.id,
            status: a.status,
            checked_at: Instant::now(),
        };
        if directory.len() > 200_000 {
            directory.retain(|_, e| e.checked_at.elapsed() < DIRECTORY_TTL);
        }
        directory.insert(key, entry);
        Some(entry)
    }

    /// Refuses accounts that cannot have a token.
    fn usable(entry: &AccountEntry) -> Result<(), ApiError> {
        match entry.status {
            AuthorizerStatus::Authorized => Ok(()),
            AuthorizerStatus::Revoked => Err(ApiError::Revoked(
                "the account revoked its authorization".into(),
            )),
            AuthorizerStatus::NeedsReauth => Err(ApiError::Revoked(
                "WeChat no longer accepts this account's refresh token; its owner must authorize again".into(),
            )),
            AuthorizerStatus::Pending => Err(ApiError::NotReady {
                message: "the authorization is still being completed".into(),
                retry_after_s: 2,
            }),
        }
    }

    /// The account, if it can have a token now. A refusal is never made from the directory alone:
    /// the account may have been revoked or authorized again since, so its status is read first.
    async fn usable_account(
        &self,
        tenant: TenantId,
        appid: &str,
    ) -> Result<AccountEntry, ApiError> {
        let entry = self.account(tenant, appid, false).await?;
        if entry.status == AuthorizerStatus::Authorized {
            return Ok(entry);
        }
        let entry = self.account(tenant, appid, true).await?;
        Self::usable(&entry)?;
        Ok(entry)
    }

    /// Whether a token the engine holds may go to `caller`: it names the caller's tenant, or the
    /// database (read now, not the directory) says the account is the caller's.
    async fn owned(
        &self,
        caller: &ApiCaller,
        appid: &str,
        token_tenant: Option<TenantId>,
    ) -> Result<AccountEntry, ApiError> {
        let entry = self
            .account(caller.tenant, appid, token_tenant != Some(caller.tenant))
            .await?;
        Ok(entry)
    }

    async fn access_token(&self, caller: &ApiCaller, appid: &str) -> Result<AccessToken, ApiError> {
        let now = crate::now_ms();
        let mut entry = self.usable_account(caller.tenant, appid).await?;
        for attempt in 0..2 {
            if let Some(token) =
                self.engine
                    .authorizer_token(entry.component, appid, now + MIN_TOKEN_LIFE_MS)
            {
                if token.tenant != Some(caller.tenant) {
                    // Moved to another tenant (or the cache has not heard yet that it moved here).
                    let checked = self.owned(caller, appid, token.tenant).await?;
                    Self::usable(&checked)?;
                    if checked.component != entry.component {
                        entry = checked;
                        continue;
                    }
                }
                return Ok(AccessToken {
                    authorizer_appid: appid.to_owned(),
                    access_token: token.value.expose_secret().to_owned(),
                    expires_at: rfc3339(token.expires_at),
                    expires_in: (token.expires_at - now) / 1000,
                });
            }
            // No token in memory: the account may have just been revoked; read its status once.
            if attempt == 0 {
                entry = self.account(caller.tenant, appid, true).await?;
                Self::usable(&entry)?;
            }
        }
        Err(ApiError::NotReady {
            message: "no valid access token yet; the engine is refreshing it".into(),
            retry_after_s: 2,
        })
    }
}

/// Authenticates (and rate-limits) every API request.
impl<S> FromRequestParts<S> for ApiCaller
where
    S: Send + Sync,
    Arc<TenantApi>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let api = Arc::<TenantApi>::from_ref(state);
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        api.keys.authenticate(header).await
    }
}

/// A JSON body whose every failure is an [`ApiError`]: malformed JSON, wrong types and unknown
/// fields are 422 with serde's description, a body over the limit is 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::invalid("body", e.body_text())),
            Err(JsonRejection::JsonSyntaxError(_)) => {
                Err(ApiError::invalid("body", "the body is not valid JSON"))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::invalid(
                "content-type",
                "send the body as application/json",
            )),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::TooLarge { limit: BODY_LIMIT })
            }
            Err(e) => Err(ApiError::invalid("body", e.body_text())),
        }
    }
}

#[derive(Serialize)]
struct AccessToken {
    authorizer_appid: String,
    access_token: String,
    expires_at: String,
    expires_in: i64,
}

#[derive(Serialize)]
struct AuthorizerSummary {
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
struct Permission {
    id: i64,
    name: String,
    name_zh: String,
    /// Only one third-party platform may hold it at a time.
    exclusive: bool,
}

#[derive(Serialize)]
struct AuthorizerDetail {
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
struct RejectedToken {
    access_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JssdkRequest {
    url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JssdkConfig {
    app_id: String,
    timestamp: i64,
    nonce_str: String,
    signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLink {
    component_appid: Option<String>,
    auth_type: Option<u8>,
    biz_appid: Option<String>,
    note: Option<String>,
    /// Seconds until the link expires; absent or null: it does not expire.
    expires_in: Option<i64>,
}

#[derive(Serialize)]
struct CreatedLink {
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
        authorized_at: rfc3339(a.authorized_at),
    }
}

async fn component_appids(
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
struct ListQuery {
    status: Option<String>,
}

async fn list_authorizers(
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

async fn get_authorizer(
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
        revoked_at: a.revoked_at.map(rfc3339),
        permissions,
    }))
}

async fn access_token(
    State(api): State<Arc<TenantApi>>,
    caller: ApiCaller,
    Path(appid): Path<String>,
) -> Result<Json<AccessToken>, ApiError> {
    let appid = path_appid(&appid)?;
    api.access_token(&caller, &appid).await.map(Json)
}

async fn token_rejected(
    State(api): State<Arc<TenantApi>>,
    caller: ApiCaller,
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

async fn jssdk_config(
    State(api): State<Arc<TenantApi>>,
    caller: ApiCaller,
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
        app_id: appid,
        timestamp,
        nonce_str,
        signature,
    }))
}

async fn create_link(
    State(api): State<Arc<TenantApi>>,
    caller: ApiCaller,
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
            expires_at: link.expires_at.map(rfc3339),
        }),
    )
        .into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn no_route() -> ApiError {
    ApiError::NoRoute
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The routes under `/api/v1`.
/// The routes under `/api/v1`, for any application state that can hand out the API's own.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<TenantApi>: FromRef<S>,
{
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/authorizers", get(list_authorizers))
        .route("/api/v1/authorizers/{appid}", get(get_authorizer))
        .route(
            "/api/v1/authorizers/{appid}/access-token",
            get(access_token),
        )
        .route(
            "/api/v1/authorizers/{appid}/access-token/rejected",
            post(token_rejected),
        )
        .route(
            "/api/v1/authorizers/{appid}/jssdk-config",
            post(jssdk_config),
        )
        .route("/api/v1/authorization-links", post(create_link))
        .route("/api/v1", axum::routing::any(no_route))
        .route("/api/v1/{*rest}", axum::routing::any(no_route))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
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
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
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
        ] {
            assert!(paths.contains_key(path), "openapi.json lacks {path}");
        }
    }
}
