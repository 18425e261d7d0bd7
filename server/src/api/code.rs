//! Mini-program code management for tenants' systems, under `/api/v1/authorizers/{appid}/code`:
//! the timeline, the latest audit, the quota, categories and pages, domains, commit, the trial QR
//! code, submit / withdraw / speed up an audit, release and revert; batches under
//! `/api/v1/code-batches`; and a component's template library under
//! `/api/v1/components/{component_appid}/code-templates` (read on any component the tenant uses,
//! changed on its own only: a shared component's library belongs to every tenant on it). Each handler decodes, finds the tenant's account (another tenant's is
//! "not found"), and calls one `Engine::code_*` operation, which audits and records the timeline.
//! The scope is `wechat:call`: a key with it could make the same calls through the gateway.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::extract::{Allowed, ApiJson, WechatCall};
use super::{ApiCaller, ApiError, TenantApi};
use crate::domain::{Actor, AppId, Authorizer, ComponentOwner};
use crate::engine::code::{CodeActor, CodeError, CommitRequest, LibraryChange, ServerDomains};
use crate::store::CodeEvent;

fn actor(caller: &ApiCaller) -> CodeActor {
    CodeActor {
        actor: Actor::ApiKey {
            id: caller.key_id,
            name: caller.key_name.clone(),
        },
        ip: None,
    }
}

async fn account(api: &TenantApi, caller: &ApiCaller, appid: &str) -> Result<Authorizer, ApiError> {
    let appid = AppId::parse("appid", appid).map_err(|_| ApiError::NotFound)?;
    api.store
        .authorizer(caller.tenant, &appid)
        .await
        .map_err(|e| ApiError::internal("reading an account", e))?
        .ok_or(ApiError::NotFound)
}

/// One of the components the caller's tenant uses, by appid.
async fn tenant_component(
    api: &TenantApi,
    caller: &ApiCaller,
    appid: &str,
) -> Result<crate::domain::Component, ApiError> {
    api.store
        .list_components_for_tenant(caller.tenant)
        .await
        .map_err(|e| ApiError::internal("reading components", e))?
        .into_iter()
        .find(|c| c.appid == appid)
        .ok_or_else(|| ApiError::invalid("component_appid", "not a component this tenant uses"))
}

impl From<CodeError> for ApiError {
    fn from(e: CodeError) -> Self {
        match e {
            CodeError::NotMiniProgram => ApiError::invalid("appid", "the account is not a mini program"),
            CodeError::NotAuthorized => ApiError::Revoked("the account is no longer authorized".into()),
            CodeError::NoPermission => ApiError::invalid(
                "appid",
                "the mini program has not granted code management (permission set 18) to this platform",
            ),
            CodeError::NoToken => ApiError::NotReady {
                message: "the account has no access token yet".into(),
                retry_after_s: 5,
            },
            CodeError::NoComponentToken => ApiError::NotReady {
                message: "the component has no token yet (its ticket may not have arrived)".into(),
                retry_after_s: 30,
            },
            CodeError::Invalid { field, en, .. } => ApiError::invalid(field, en),
            CodeError::Wechat(w) => match w.errcode() {
                Some(errcode) => ApiError::WechatRefused {
                    errcode,
                    message: w.describe(),
                },
                None => ApiError::Upstream(w.describe()),
            },
            CodeError::Store(s) => ApiError::internal("code management", s),
        }
    }
}

#[derive(Serialize)]
pub(super) struct TimelineEntry {
    kind: &'static str,
    template_id: Option<i64>,
    user_version: Option<String>,
    user_desc: Option<String>,
    auditid: Option<i64>,
    detail: Value,
    actor: String,
    at: i64,
}

pub(super) fn timeline_entry(e: CodeEvent) -> TimelineEntry {
    TimelineEntry {
        kind: e.kind.as_str(),
        template_id: e.template_id,
        user_version: e.user_version,
        user_desc: e.user_desc,
        auditid: e.auditid,
        detail: e.detail,
        actor: e.actor_label,
        at: e.created_at,
    }
}

/// `GET …/code`: the timeline, newest first.
pub(super) async fn timeline(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = account(&api, &caller, &appid).await?;
    let events = api
        .store
        .code_events(caller.tenant, &a.appid)
        .await
        .map_err(|e| ApiError::internal("reading a timeline", e))?;
    let timeline: Vec<TimelineEntry> = events.into_iter().map(timeline_entry).collect();
    Ok(Json(json!({ "appid": a.appid, "timeline": timeline })))
}

pub(super) async fn latest_audit(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = account(&api, &caller, &appid).await?;
    let state = api.engine.code_latest_audit(&a).await?;
    Ok(Json(json!({ "audit": state })))
}

pub(super) async fn quota(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = account(&api, &caller, &appid).await?;
    Ok(Json(json!(api.engine.code_quota(&a).await?)))
}

pub(super) async fn categories(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = account(&api, &caller, &appid).await?;
    let (categories, pages) = api.engine.code_categories_and_pages(&a).await?;
    Ok(Json(json!({ "categories": categories, "pages": pages })))
}

pub(super) async fn domains(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = account(&api, &caller, &appid).await?;
    Ok(Json(json!(api.engine.code_domains(&a).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DomainsBody {
    server: Option<ServerDomains>,
    webview: Option<Vec<String>>,
}

pub(super) async fn set_domains(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
    ApiJson(body): ApiJson<DomainsBody>,
) -> Result<Json<Value>, ApiError> {
    if body.server.is_none() && body.webview.is_none() {
        return Err(ApiError::invalid(
            "body",
            "send server and/or webview domains",
        ));
    }
    let a = account(&api, &caller, &appid).await?;
    let now = api
        .engine
        .code_set_domains(
            &a,
            &actor(&caller),
            body.server.as_ref(),
            body.webview.as_deref(),
        )
        .await?;
    Ok(Json(json!(now)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CommitBody {
    template_id: i64,
    #[serde(default)]
    ext_json: Option<Value>,
    user_version: String,
    #[serde(default)]
    user_desc: String,
}

/// `ext_json` as WeChat takes it (a string); an object is accepted and serialised.
fn ext_json_text(value: Option<Value>) -> Result<String, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(v @ Value::Object(_)) => Ok(v.to_string()),
        Some(_) => Err(ApiError::invalid(
            "ext_json",
            "ext_json must be a JSON object or a string holding one",
        )),
    }
}

pub(super) async fn commit(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
    ApiJson(body): ApiJson<CommitBody>,
) -> Result<Json<Value>, ApiError> {
    let a = account(&api, &caller, &appid).await?;
    let request = CommitRequest {
        template_id: body.template_id,
        ext_json: ext_json_text(body.ext_json)?,
        user_version: body.user_version,
        user_desc: body.user_desc,
    };
    api.engine
        .code_commit(&a, &actor(&caller), &request)
        .await?;
    Ok(Json(json!({ "committed": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QrQuery {
    path: Option<String>,
}

/// `GET …/code/trial-qrcode?path=`: the trial version's QR code image.
pub(super) async fn trial_qrcode(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
    query: Result<Query<QrQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("query", e.body_text()))?;
    let a = account(&api, &caller, &appid).await?;
    let (bytes, content_type) = api
        .engine
        .code_trial_qrcode(&a, query.path.as_deref())
        .await?;
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SubmitBody {
    #[serde(default)]
    item_list: Value,
}

pub(super) async fn submit_audit(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
    ApiJson(body): ApiJson<SubmitBody>,
) -> Result<Json<Value>, ApiError> {
    let a = account(&api, &caller, &appid).await?;
    let auditid = api
        .engine
        .code_submit(&a, &actor(&caller), &body.item_list)
        .await?;
    Ok(Json(json!({ "auditid": auditid })))
}

pub(super) async fn undo_audit(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = account(&api, &caller, &appid).await?;
    api.engine.code_withdraw(&a, &actor(&caller)).await?;
    Ok(Json(json!({ "withdrawn": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SpeedupBody {
    auditid: i64,
}

pub(super) async fn speedup_audit(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
    ApiJson(body): ApiJson<SpeedupBody>,
) -> Result<Json<Value>, ApiError> {
    let a = account(&api, &caller, &appid).await?;
    api.engine
        .code_speed_up(&a, &actor(&caller), body.auditid)
        .await?;
    Ok(Json(json!({ "sped_up": true })))
}

pub(super) async fn release(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = account(&api, &caller, &appid).await?;
    api.engine.code_release(&a, &actor(&caller)).await?;
    Ok(Json(json!({ "released": true })))
}

pub(super) async fn revert_release(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(appid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = account(&api, &caller, &appid).await?;
    api.engine.code_revert(&a, &actor(&caller)).await?;
    Ok(Json(json!({ "reverted": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchBody {
    component_appid: String,
    template_id: i64,
    #[serde(default)]
    ext_json: Option<Value>,
    user_version: String,
    #[serde(default)]
    user_desc: String,
    #[serde(default)]
    submit: bool,
    appids: Vec<String>,
}

/// `POST /api/v1/code-batches`: one template to many of the tenant's mini programs.
pub(super) async fn start_batch(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    ApiJson(body): ApiJson<BatchBody>,
) -> Result<Response, ApiError> {
    let component = tenant_component(&api, &caller, &body.component_appid).await?;
    let request = CommitRequest {
        template_id: body.template_id,
        ext_json: ext_json_text(body.ext_json)?,
        user_version: body.user_version,
        user_desc: body.user_desc,
    };
    let id = api
        .engine
        .code_start_batch(
            caller.tenant,
            component.id,
            &actor(&caller),
            &request,
            body.submit,
            &body.appids,
        )
        .await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(json!({ "id": id }))).into_response())
}

/// `GET /api/v1/code-batches/{id}`: the batch and each mini program's outcome.
pub(super) async fn batch(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let batch = api
        .store
        .code_batch(caller.tenant, id)
        .await
        .map_err(|e| ApiError::internal("reading a batch", e))?
        .ok_or(ApiError::NotFound)?;
    let items = api
        .store
        .code_batch_items(caller.tenant, id)
        .await
        .map_err(|e| ApiError::internal("reading a batch", e))?;
    let count = |s: &str| items.iter().filter(|i| i.status == s).count();
    let items: Vec<Value> = items
        .iter()
        .map(|i| json!({ "appid": i.authorizer_appid, "status": i.status, "auditid": i.auditid, "error": i.error }))
        .collect();
    Ok(Json(json!({
        "id": batch.id, "template_id": batch.template_id, "user_version": batch.user_version,
        "submit": batch.submit == 1, "started_by": batch.started_by, "created_at": batch.created_at,
        "progress": {
            "total": items.len(), "pending": count("pending"), "committed": count("committed"),
            "submitted": count("submitted"), "failed": count("failed"), "skipped": count("skipped"),
        },
        "items": items,
    })))
}

/// One of the caller's components named in the path: another's is "not found", as an account is.
async fn path_component(
    api: &TenantApi,
    caller: &ApiCaller,
    appid: &str,
) -> Result<crate::domain::Component, ApiError> {
    tenant_component(api, caller, appid)
        .await
        .map_err(|e| match e {
            ApiError::Invalid { .. } => ApiError::NotFound,
            other => other,
        })
}

/// `GET /api/v1/components/{component_appid}/code-templates`: the component's drafts and
/// templates (what `commit` and batches take a `template_id` from), and whether this tenant may
/// change them (its own component; a shared one's library is kept by the platform's staff).
pub(super) async fn library(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(component_appid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let component = path_component(&api, &caller, &component_appid).await?;
    let (drafts, templates) = api.engine.code_library(component.id).await?;
    Ok(Json(json!({
        "component_appid": component.appid,
        "can_change": component.owner == ComponentOwner::Tenant(caller.tenant),
        "drafts": drafts,
        "templates": templates,
    })))
}

/// The tenant's own component, for a library change: a shared component's library belongs to
/// every tenant on it at once, so only the platform's staff change it (in the console).
async fn own_library(
    api: &TenantApi,
    caller: &ApiCaller,
    appid: &str,
) -> Result<crate::domain::Component, ApiError> {
    let component = path_component(api, caller, appid).await?;
    if component.owner != ComponentOwner::Tenant(caller.tenant) {
        return Err(ApiError::invalid(
            "component_appid",
            "a shared component's template library is kept by the platform's staff; a tenant changes only its own component's",
        ));
    }
    Ok(component)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddTemplateBody {
    draft_id: i64,
    #[serde(default)]
    template_type: i64,
}

/// `POST …/code-templates {"draft_id", "template_type"?}`: a draft made a template (`addtotemplate`).
pub(super) async fn add_template(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(component_appid): Path<String>,
    ApiJson(body): ApiJson<AddTemplateBody>,
) -> Result<Response, ApiError> {
    let component = own_library(&api, &caller, &component_appid).await?;
    let change = LibraryChange::AddDraft {
        draft_id: body.draft_id,
        template_type: body.template_type,
    };
    api.engine
        .code_library_change(component.id, Some(caller.tenant), &actor(&caller), change)
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "added": true, "draft_id": body.draft_id })),
    )
        .into_response())
}

/// `DELETE …/code-templates/{template_id}` (`deletetemplate`).
pub(super) async fn delete_template(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path((component_appid, template_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let template_id: i64 = template_id
        .parse()
        .map_err(|_| ApiError::invalid("template_id", "a template id is a number"))?;
    let component = own_library(&api, &caller, &component_appid).await?;
    api.engine
        .code_library_change(
            component.id,
            Some(caller.tenant),
            &actor(&caller),
            LibraryChange::Delete { template_id },
        )
        .await?;
    Ok(Json(json!({ "deleted": true, "template_id": template_id })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FastRegisterBody {
    component_appid: String,
    kind: String,
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    code_type: i64,
    wechat: String,
    #[serde(default)]
    legal_persona_name: String,
    #[serde(default)]
    component_phone: String,
}

/// `POST /api/v1/fast-registrations`: an enterprise or personal mini program registered through
/// the platform; WeChat's push ends it, and the new account is the tenant's.
pub(super) async fn fast_register(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    ApiJson(body): ApiJson<FastRegisterBody>,
) -> Result<Response, ApiError> {
    let component = tenant_component(&api, &caller, &body.component_appid).await?;
    let request = crate::engine::code::FastRegisterRequest {
        kind: body.kind,
        name: body.name,
        code: body.code,
        code_type: body.code_type,
        wechat: body.wechat,
        legal_persona_name: body.legal_persona_name,
        component_phone: body.component_phone,
    };
    let id = api
        .engine
        .code_fast_register(caller.tenant, component.id, &actor(&caller), &request)
        .await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(json!({ "id": id }))).into_response())
}

fn registration_json(f: crate::store::FastRegistration) -> Value {
    json!({
        "id": f.id, "kind": f.kind, "name": f.name, "status": f.status, "wechat_status": f.wechat_status,
        "message": f.message, "appid": f.appid, "authorize_url": f.authorize_url,
        "started_by": f.started_by, "created_at": f.created_at, "updated_at": f.updated_at,
    })
}

/// `POST /api/v1/fast-registrations/{id}/check`: asks WeChat now where a waiting registration
/// stands (wxhub also asks by itself when one has waited 10 minutes without a word).
pub(super) async fn check_fast_registration(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let task = api
        .store
        .fast_registration(caller.tenant, id)
        .await
        .map_err(|e| ApiError::internal("reading a registration", e))?
        .ok_or(ApiError::NotFound)?;
    let now = api.engine.code_fast_register_check(&task).await?;
    Ok(Json(registration_json(now)))
}

/// `GET /api/v1/fast-registrations`: the tenant's newest registrations and where they stand.
pub(super) async fn fast_registrations(
    State(api): State<Arc<TenantApi>>,
    Allowed { caller, .. }: Allowed<WechatCall>,
) -> Result<Json<Value>, ApiError> {
    let rows = api
        .store
        .fast_registrations(caller.tenant, 100)
        .await
        .map_err(|e| ApiError::internal("reading registrations", e))?;
    let rows: Vec<Value> = rows.into_iter().map(registration_json).collect();
    Ok(Json(json!({ "registrations": rows })))
}
