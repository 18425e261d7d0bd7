//! The console's components: a tenant's own ("bring your own") third-party platforms, which its
//! admins add and edit, and the platform's shared ones, which tenants may use but not change and
//! which platform admins add and edit (auditors read them). Secrets go
//! in and never come out: the page shows them masked, and an edit that leaves a secret empty keeps
//! the stored one. The callback URLs are the exact strings to paste into WeChat's console.

use app::dto::{CheckStep, ComponentForm, ComponentView, ImportView};
use app::error::AppError;
use app::model::{Role, SessionUser};
use app::services::{AuthService, RequestCtx};
use secrecy::{ExposeSecret, SecretString};

use super::{bilingual, store_error, user_actor, Console};
use crate::domain::{Component, ComponentId, ComponentOwner, CredentialKind, TenantId};

fn step(en: &str, zh: &str, ok: bool, detail_en: String, detail_zh: String) -> CheckStep {
    CheckStep {
        en: en.to_owned(),
        zh: zh.to_owned(),
        ok,
        detail_en,
        detail_zh,
    }
}

async fn component_view(console: &Console, c: Component) -> Result<ComponentView, AppError> {
    let err = store_error("a component could not be read");
    let now = crate::now_ms();
    let ticket = console
        .store
        .credential_health(c.id, CredentialKind::ComponentVerifyTicket, "")
        .await
        .map_err(&err)?;
    let token = console
        .store
        .credential_health(c.id, CredentialKind::ComponentAccessToken, "")
        .await
        .map_err(&err)?;
    let release = console
        .store
        .release_test_activity(c.id, &crate::engine::RELEASE_TEST_ACCOUNTS)
        .await
        .map_err(&err)?;
    let (reply, reply_at, reply_error) = match release.last_reply {
        Some((status, at, error)) => (Some(status), Some(at), error),
        None => (None, None, None),
    };
    let import = console
        .store
        .authorizer_imports(c.id, 1)
        .await
        .map_err(&err)?
        .into_iter()
        .next()
        .map(import_view);
    let base = console.urls.base.as_str().trim_end_matches('/').to_owned();
    Ok(ComponentView {
        import,
        release_test_seen_at: release.last_message_at,
        release_test_reply: reply,
        release_test_reply_at: reply_at,
        release_test_reply_error: reply_error,
        notify_url: format!("{base}/wechat/{}/notify", c.appid),
        message_url: format!("{base}/wechat/{}/message/$APPID$", c.appid),
        shared: c.owner == ComponentOwner::Platform,
        id: c.id.0,
        name: c.name,
        appid: c.appid,
        active: c.active,
        ticket_age_ms: ticket.and_then(|t| t.issued_at).map(|at| now - at),
        token_expires_in_ms: token.and_then(|t| t.expires_at).map(|at| at - now),
        created_at: c.created_at,
    })
}

/// Whose components the signed-in user works with: a tenant user their tenant's (its own and
/// the shared ones, editing only its own), platform staff the shared ones. With `write`, only
/// tenant admins and platform admins pass.
async fn component_scope(
    console: &Console,
    ctx: &RequestCtx,
    write: bool,
) -> Result<(SessionUser, ComponentOwner), AppError> {
    let user = console
        .accounts
        .current_user(ctx)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let scope = match &user.tenant {
        Some(t) => ComponentOwner::Tenant(TenantId(t.id)),
        None if user.role.is_platform() => ComponentOwner::Platform,
        None => return Err(AppError::Forbidden),
    };
    let may_write = match scope {
        ComponentOwner::Tenant(_) => user.role.can_write(),
        ComponentOwner::Platform => user.role == Role::PlatformAdmin,
    };
    if write && !may_write {
        return Err(AppError::Forbidden);
    }
    Ok((user, scope))
}

/// The components a scope sees: a tenant's own and the shared ones, or the shared ones.
async fn scope_components(
    console: &Console,
    scope: ComponentOwner,
) -> Result<Vec<Component>, AppError> {
    let err = store_error("components could not be read");
    Ok(match scope {
        ComponentOwner::Tenant(tenant) => console
            .store
            .list_components_for_tenant(tenant)
            .await
            .map_err(err)?,
        ComponentOwner::Platform => console
            .store
            .list_all_components()
            .await
            .map_err(err)?
            .into_iter()
            .filter(|c| c.owner == ComponentOwner::Platform)
            .collect(),
    })
}

/// One of the components the scope sees.
async fn usable_component(
    console: &Console,
    scope: ComponentOwner,
    id: i64,
) -> Result<Component, AppError> {
    scope_components(console, scope)
        .await?
        .into_iter()
        .find(|c| c.id.0 == id)
        .ok_or(AppError::NotFound)
}

pub(super) async fn components(
    console: &Console,
    ctx: &RequestCtx,
) -> Result<Vec<ComponentView>, AppError> {
    let (_, scope) = component_scope(console, ctx, false).await?;
    let mut views = Vec::new();
    for c in scope_components(console, scope).await? {
        views.push(component_view(console, c).await?);
    }
    Ok(views)
}

pub(super) async fn save_component(
    console: &Console,
    ctx: &RequestCtx,
    form: ComponentForm,
) -> Result<ComponentView, AppError> {
    let (user, scope) = component_scope(console, ctx, true).await?;
    let valid = app::validate::component_form(&form).map_err(bilingual)?;
    let now = crate::now_ms();
    let secret = |v: &Option<String>| v.clone().map(SecretString::from);
    let component = match valid.id {
        Some(id) => {
            let (token, appsecret, aes) = (
                secret(&valid.token),
                secret(&valid.appsecret),
                secret(&valid.encoding_aes_key),
            );
            let change = crate::ops::components::ComponentChange {
                id: ComponentId(id),
                appid: &valid.appid,
                name: &valid.name,
                token: token.as_ref(),
                appsecret: appsecret.as_ref(),
                encoding_aes_key: aes.as_ref(),
            };
            let updated = crate::ops::components::update(
                &console.store,
                &user_actor(&user),
                ctx.client_ip,
                scope,
                change,
                now,
            )
            .await
            .map_err(super::op_error("a component could not be updated"))?;
            console.engine.forget_component(updated.id);
            updated
        }
        None => {
            let (Some(token), Some(appsecret), Some(aes)) = (
                secret(&valid.token),
                secret(&valid.appsecret),
                secret(&valid.encoding_aes_key),
            ) else {
                return Err(AppError::invalid_bilingual(
                    "token",
                    "every secret is required",
                    "所有密钥均为必填",
                ));
            };
            crate::ops::components::create(
                &console.store,
                &user_actor(&user),
                ctx.client_ip,
                scope,
                crate::ops::components::NewComponentInput {
                    appid: &valid.appid,
                    name: &valid.name,
                    token: &token,
                    appsecret: &appsecret,
                    encoding_aes_key: &aes,
                },
                now,
            )
            .await
            .map_err(super::op_error("a component could not be created"))?
        }
    };
    component_view(console, component).await
}

pub(super) fn import_view(i: crate::store::AuthorizerImport) -> ImportView {
    ImportView {
        id: i.id,
        status: i.status,
        total: i.total,
        read: i.next_offset,
        imported: i.imported,
        updated: i.updated,
        unchanged: i.unchanged,
        failed: i.failed,
        last_error: i.last_error,
        started_by: i.started_by,
        started_at: i.started_at,
        finished_at: i.finished_at,
    }
}

/// Starts an import: only on a component the scope owns (a tenant's own, or a shared one for
/// platform admins); a tenant imports nothing from the shared components.
pub(super) async fn start_import(
    console: &Console,
    ctx: &RequestCtx,
    id: i64,
) -> Result<ImportView, AppError> {
    let (user, scope) = component_scope(console, ctx, true).await?;
    let component = usable_component(console, scope, id).await?;
    if component.owner != scope {
        return Err(AppError::Forbidden);
    }
    let (import, _) = console
        .engine
        .start_import(&component, &user_actor(&user), ctx.client_ip)
        .await
        .map_err(super::op_error("an import could not be started"))?;
    Ok(import_view(import))
}

pub(super) async fn component_import(
    console: &Console,
    ctx: &RequestCtx,
    id: i64,
) -> Result<Option<ImportView>, AppError> {
    let (_, scope) = component_scope(console, ctx, false).await?;
    let component = usable_component(console, scope, id).await?;
    Ok(console
        .store
        .authorizer_imports(component.id, 1)
        .await
        .map_err(store_error("an import could not be read"))?
        .into_iter()
        .next()
        .map(import_view))
}

pub(super) async fn check_component(
    console: &Console,
    ctx: &RequestCtx,
    id: i64,
) -> Result<Vec<CheckStep>, AppError> {
    let (_, scope) = component_scope(console, ctx, false).await?;
    let component = usable_component(console, scope, id).await?;
    let err = store_error("a component could not be checked");
    let now = crate::now_ms();
    let mut steps = Vec::new();
    let ticket = console
        .store
        .credential_health(component.id, CredentialKind::ComponentVerifyTicket, "")
        .await
        .map_err(&err)?
        .and_then(|t| t.issued_at);
    let stale = 20 * 60_000;
    steps.push(match ticket {
        Some(at) if now - at <= stale => step(
            "WeChat pushes tickets to the authorization-event URL",
            "微信向授权事件接收 URL 推送票据",
            true,
            format!("last ticket {} s ago", (now - at) / 1000),
            format!("最近一次 {} 秒前", (now - at) / 1000),
        ),
        Some(at) => step(
            "WeChat pushes tickets to the authorization-event URL",
            "微信向授权事件接收 URL 推送票据",
            false,
            format!(
                "no ticket for {} min: check the URL, Token and EncodingAESKey in WeChat's console",
                (now - at) / 60_000
            ),
            format!(
                "已 {} 分钟未收到票据：请检查微信开放平台中的 URL、Token 和消息加解密 Key",
                (now - at) / 60_000
            ),
        ),
        None => step(
            "WeChat pushes tickets to the authorization-event URL",
            "微信向授权事件接收 URL 推送票据",
            false,
            "no ticket yet: WeChat pushes every 10 minutes once the URL is saved in its console"
                .into(),
            "尚未收到票据：在微信开放平台保存 URL 后，微信每 10 分钟推送一次".into(),
        ),
    });
    let token = console.engine.component_token(component.id, now);
    steps.push(match &token {
        Some(t) => step(
            "Component access token",
            "第三方平台 access_token",
            true,
            format!("valid for {} min", (t.expires_at - now) / 60_000),
            format!("剩余 {} 分钟", (t.expires_at - now) / 60_000),
        ),
        None => {
            let health = console
                .store
                .credential_health(component.id, CredentialKind::ComponentAccessToken, "")
                .await
                .map_err(&err)?;
            let why = health
                .and_then(|h| h.last_error_code)
                .and_then(crate::wechat::errcode::meaning);
            step(
                "Component access token",
                "第三方平台 access_token",
                false,
                why.map_or_else(
                    || "none yet (it needs a ticket first)".to_owned(),
                    |m| format!("WeChat refused: {} ({})", m.en, m.code),
                ),
                why.map_or_else(
                    || "尚未获取（需要先收到票据）".to_owned(),
                    |m| format!("微信拒绝：{}（{}）", m.zh, m.code),
                ),
            )
        }
    });
    if let Some(t) = token {
        let call = console
            .engine
            .client
            .get_authorizer_list(t.value.expose_secret(), &component.appid, 0, 1)
            .await;
        // A shared component's count is every tenant's accounts together: a tenant learns only
        // that WeChat answered.
        let own_count = !(component.owner == ComponentOwner::Platform
            && matches!(scope, ComponentOwner::Tenant(_)));
        steps.push(match call {
            Ok(list) if own_count => step(
                "A call to WeChat's API",
                "调用微信 API",
                true,
                format!("{} authorized accounts", list.total_count),
                format!("共 {} 个授权账号", list.total_count),
            ),
            Ok(_) => step(
                "A call to WeChat's API",
                "调用微信 API",
                true,
                "WeChat answered".into(),
                "微信已应答".into(),
            ),
            Err(e) => {
                let m = e.meaning();
                step(
                    "A call to WeChat's API",
                    "调用微信 API",
                    false,
                    m.map_or_else(
                        || format!("failed: {}", e.label()),
                        |m| format!("{} ({})", m.en, m.code),
                    ),
                    m.map_or_else(
                        || format!("失败：{}", e.label()),
                        |m| format!("{}（{}）", m.zh, m.code),
                    ),
                )
            }
        });
    }
    Ok(steps)
}
