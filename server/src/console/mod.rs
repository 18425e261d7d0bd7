//! The console and the public authorization pages, behind the UI's service traits.
//!
//! Every console method starts from the session: the signed-in user decides the tenant, and every
//! storage call takes that tenant id, so a request can never name another tenant's data. Platform
//! staff have no tenant; their cross-tenant pages are a separate surface. Errors from storage or
//! WeChat are logged here and reach the browser only as `AppError::Internal`.

mod components;
mod platform;
mod public;
mod team;

use crate::domain::AuditKind;
use std::sync::Arc;

use app::dto::{
    AccountDetail, AccountKindLabel, AccountPage, AccountQuery, AccountRow, AccountStatus,
    ApiKeyView, AuthorizedAccount, CheckStep, ComponentChoice, ComponentForm, ComponentHealth,
    ComponentView, CreatedApiKey, Dashboard, EventView, LinkState, LinkView, Menu, MenuButton,
    NewLinkForm, NewUserForm, PermissionChange, TokenHealth, TokenView, UserView,
};
use app::error::AppError;
use app::model::SessionUser;
use app::services::{AuthService, ConsoleService, RequestCtx};
use async_trait::async_trait;
use serde_json::{json, Value};
use url::Url;

use crate::auth::service::internal;
use crate::auth::{AccountService, PasswordHasher};
use crate::domain::{
    Actor, AuditEvent, AuthorizationLink, Authorizer, AuthorizerStatus, ComponentOwner,
    CredentialKind, LinkId, NewAuditEvent, Outcome, TenantId, UserId,
};
use crate::engine::Engine;
use crate::store::{AccountFilter, LinkRecord, Store, TokenState};
use crate::wechat::links::{AuthType, AuthorizationRequest};

pub const ACCOUNTS_PER_PAGE: i64 = 50;

/// Where the pages' absolute URLs point, and where WeChat's pages live.
#[derive(Debug, Clone)]
pub struct PublicUrls {
    /// The externally visible base of this server (`public_url`, else the listen address).
    pub base: Url,
    pub wechat_mp_base: Url,
    pub wechat_open_base: Url,
}

impl PublicUrls {
    fn link_url(&self, public_id: &str) -> String {
        format!(
            "{}/authorize/{public_id}",
            self.base.as_str().trim_end_matches('/')
        )
    }
}

#[derive(Clone)]
pub struct Console {
    store: Store,
    engine: Arc<Engine>,
    /// The tenant API's key cache: a key revoked here stops working at once.
    api_keys: Arc<crate::api::ApiKeys>,
    accounts: AccountService,
    hasher: PasswordHasher,
    urls: PublicUrls,
    public_limits: Arc<public::PublicLimits>,
}

impl Console {
    pub fn new(
        store: Store,
        engine: Arc<Engine>,
        api_keys: Arc<crate::api::ApiKeys>,
        accounts: AccountService,
        hasher: PasswordHasher,
        urls: PublicUrls,
    ) -> Self {
        Self {
            store,
            engine,
            api_keys,
            accounts,
            hasher,
            urls,
            public_limits: Arc::new(public::PublicLimits::default()),
        }
    }

    /// The signed-in tenant user, or why not.
    async fn tenant_user(&self, ctx: &RequestCtx) -> Result<(SessionUser, TenantId), AppError> {
        let user = self
            .accounts
            .current_user(ctx)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let tenant = user
            .tenant
            .as_ref()
            .map(|t| TenantId(t.id))
            .ok_or(AppError::Forbidden)?;
        Ok((user, tenant))
    }

    async fn tenant_admin(&self, ctx: &RequestCtx) -> Result<(SessionUser, TenantId), AppError> {
        let (user, tenant) = self.tenant_user(ctx).await?;
        if !user.role.can_write() {
            return Err(AppError::Forbidden);
        }
        Ok((user, tenant))
    }

    fn link_view(&self, r: LinkRecord, now: i64) -> LinkView {
        let state = if r.link.revoked_at.is_some() {
            LinkState::Revoked
        } else if r.link.expires_at.is_some_and(|at| at <= now) {
            LinkState::Expired
        } else {
            LinkState::Active
        };
        LinkView {
            id: r.link.id.0,
            component_name: if r.component_name.is_empty() {
                r.component_appid.clone()
            } else {
                r.component_name
            },
            url: self.urls.link_url(&r.link.public_id),
            public_id: r.link.public_id,
            component_appid: r.component_appid,
            component_shared: r.component_shared,
            auth_type: r.link.auth_type,
            biz_appid: r.link.biz_appid,
            note: r.link.note,
            created_at: r.link.created_at,
            expires_at: r.link.expires_at,
            revoked_at: r.link.revoked_at,
            state,
            authorizations: r.authorizations,
            last_authorized_at: r.last_authorized_at,
        }
    }
}

fn store_error(context: &str) -> impl Fn(crate::store::StoreError) -> AppError + '_ {
    move |e| internal(context, e)
}

/// A shared validation rule's (field, English, Chinese) as the UI's error.
/// An operation's refusal as the UI's error; a storage failure is logged and becomes `Internal`.
fn op_error(context: &str) -> impl Fn(crate::ops::OpError) -> AppError + '_ {
    move |e| match e {
        crate::ops::OpError::Invalid { field, en, zh }
        | crate::ops::OpError::Conflict { field, en, zh } => {
            AppError::invalid_bilingual(field, en, zh)
        }
        crate::ops::OpError::NotFound => AppError::NotFound,
        crate::ops::OpError::Forbidden => AppError::Forbidden,
        crate::ops::OpError::Store(e) => internal(context, e),
        crate::ops::OpError::Other(e) => internal(context, crate::ops::Boxed(e)),
    }
}

fn bilingual((field, en, zh): (&'static str, String, String)) -> AppError {
    AppError::invalid_bilingual(field, en, zh)
}

fn user_actor(user: &SessionUser) -> Actor {
    Actor::User {
        id: UserId(user.id),
        email: user.email.clone(),
    }
}

pub fn kind_label(a: &Authorizer) -> AccountKindLabel {
    match a.account_kind.as_str() {
        "mini_program" => AccountKindLabel::MiniProgram,
        "official_account" if a.service_type == Some(2) => AccountKindLabel::Service,
        "official_account" => AccountKindLabel::Subscription,
        _ => AccountKindLabel::Unknown,
    }
}

fn permission_change(h: crate::domain::AuthorizerChange) -> PermissionChange {
    PermissionChange {
        change: h.change,
        source: h.source,
        permissions: h.permissions,
        added: h.added,
        removed: h.removed,
        occurred_at: h.occurred_at,
    }
}

fn status_dto(s: AuthorizerStatus) -> AccountStatus {
    AccountStatus::parse(s.as_str()).unwrap_or(AccountStatus::Pending)
}

fn token_view(status: AuthorizerStatus, t: &TokenState, now: i64) -> TokenView {
    let valid = t.expires_at.is_some_and(|at| at > now);
    let health = match (status, t.expires_at) {
        (AuthorizerStatus::Revoked, _) => TokenHealth::None,
        (_, None) => TokenHealth::None,
        _ if !valid => TokenHealth::Expired,
        _ if t.failure_count > 0 => TokenHealth::Failing,
        _ => TokenHealth::Healthy,
    };
    TokenView {
        health,
        expires_at: t.expires_at,
        refreshed_at: t.refreshed_at,
        failure_count: t.failure_count,
        last_error_code: t.last_error_code,
        last_error_at: t.last_error_at,
    }
}

fn account_row(a: &Authorizer, token: &TokenState, now: i64) -> AccountRow {
    AccountRow {
        appid: a.appid.clone(),
        name: a.nick_name.clone(),
        head_img: a.head_img.clone(),
        kind: kind_label(a),
        verified: a.verify_type.map(|v| v >= 0),
        status: status_dto(a.status),
        authorized_at: a.authorized_at,
        permissions: a.func_ids.clone(),
        token: token_view(a.status, token, now),
    }
}

fn event_view(e: AuditEvent) -> EventView {
    EventView {
        occurred_at: e.occurred_at,
        actor: if e.actor_label.is_empty() {
            e.actor_kind
        } else {
            e.actor_label
        },
        kind: e.kind,
        outcome: e.outcome,
        summary: e.summary,
        authorizer_appid: e.authorizer_appid,
    }
}

/// get_current_selfmenu_info as a tree. WeChat nests sub-buttons as `sub_button.list`; anything
/// unexpected is skipped rather than failing the page.
pub fn menu_tree(raw: &Value) -> Option<Menu> {
    fn button(v: &Value) -> Option<MenuButton> {
        let name = v.get("name")?.as_str()?.to_owned();
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let target = ["url", "key", "pagepath", "value", "media_id", "article_id"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .unwrap_or("")
            .to_owned();
        let children = v
            .get("sub_button")
            .and_then(|s| s.get("list").or(Some(s)))
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(button).collect())
            .unwrap_or_default();
        Some(MenuButton {
            name,
            kind,
            target,
            children,
        })
    }
    let buttons = raw
        .get("selfmenu_info")?
        .get("button")?
        .as_array()?
        .iter()
        .filter_map(button)
        .collect();
    Some(Menu {
        is_open: raw.get("is_menu_open").and_then(Value::as_i64) == Some(1),
        buttons,
    })
}

/// The account query from the URL: unknown values are ignored rather than refused, so an old or
/// hand-edited link still shows a page.
fn account_filter(q: &AccountQuery) -> (AccountFilter, i64) {
    let search: String =
        q.q.trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
    let status = AccountStatus::parse(q.status.trim()).map(|s| s.as_str().to_owned());
    let kind = match q.kind.trim() {
        k @ ("service" | "subscription" | "mini_program") => Some(k.to_owned()),
        _ => None,
    };
    let permission = q
        .permission
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=100_000).contains(p));
    let page = q
        .page
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1);
    (
        AccountFilter {
            search,
            status,
            kind,
            permission,
        },
        page,
    )
}

#[async_trait]
impl ConsoleService for Console {
    async fn dashboard(&self, ctx: &RequestCtx) -> Result<Dashboard, AppError> {
        let (_, tenant) = self.tenant_user(ctx).await?;
        let now = crate::now_ms();
        let err = store_error("the dashboard could not be read");
        let mut components = Vec::new();
        for c in self
            .store
            .list_components_for_tenant(tenant)
            .await
            .map_err(&err)?
        {
            let ticket = self
                .store
                .credential_health(c.id, CredentialKind::ComponentVerifyTicket, "")
                .await
                .map_err(&err)?;
            let token = self
                .store
                .credential_health(c.id, CredentialKind::ComponentAccessToken, "")
                .await
                .map_err(&err)?;
            let last_push_at = self.store.last_push_at(c.id).await.map_err(&err)?;
            let shared = c.owner == ComponentOwner::Platform;
            // A shared component's raw error is WeChat's text, which may name the platform's
            // egress address: tenants see the errcode's documented meaning instead.
            let (last_error, last_error_at) = token
                .as_ref()
                .filter(|t| t.failure_count > 0)
                .map(|t| {
                    let text = if shared {
                        t.last_error_code.map(|code| {
                            crate::wechat::errcode::meaning(code).map_or_else(
                                || format!("WeChat refused the call: errcode {code}"),
                                |m| format!("errcode {code}: {} / {}", m.en, m.zh),
                            )
                        })
                    } else {
                        t.last_error.clone()
                    };
                    (text, t.last_error_at)
                })
                .unwrap_or((None, None));
            components.push(ComponentHealth {
                shared,
                appid: c.appid,
                name: c.name,
                ticket_age_ms: ticket.and_then(|t| t.issued_at).map(|at| now - at),
                token_expires_in_ms: token.and_then(|t| t.expires_at).map(|at| at - now),
                last_push_at,
                last_error,
                last_error_at,
            });
        }
        let accounts_by_status = self
            .store
            .account_status_counts(tenant)
            .await
            .map_err(&err)?
            .into_iter()
            .filter_map(|(s, n)| AccountStatus::parse(&s).map(|s| (s, n)))
            .collect();
        let refresh_failures_24h = self
            .store
            .refresh_failures_since(tenant, now - 86_400_000)
            .await
            .map_err(&err)?;
        let recent_events = self
            .store
            .tenant_audit(tenant, 15)
            .await
            .map_err(&err)?
            .into_iter()
            .map(event_view)
            .collect();
        let open_alerts = self
            .store
            .open_alerts_for_tenant(tenant, 50)
            .await
            .map_err(&err)?
            .into_iter()
            .map(|a| a.message)
            .collect();
        Ok(Dashboard {
            components,
            accounts_by_status,
            refresh_failures_24h,
            recent_events,
            open_alerts,
        })
    }

    async fn accounts(
        &self,
        ctx: &RequestCtx,
        query: AccountQuery,
    ) -> Result<AccountPage, AppError> {
        let (_, tenant) = self.tenant_user(ctx).await?;
        let (filter, page) = account_filter(&query);
        let now = crate::now_ms();
        let (rows, total) = self
            .store
            .search_accounts(
                tenant,
                &filter,
                (page - 1) * ACCOUNTS_PER_PAGE,
                ACCOUNTS_PER_PAGE,
            )
            .await
            .map_err(store_error("the accounts could not be read"))?;
        Ok(AccountPage {
            rows: rows
                .iter()
                .map(|r| account_row(&r.authorizer, &r.token, now))
                .collect(),
            total,
            page,
            per_page: ACCOUNTS_PER_PAGE,
            server_now: now,
        })
    }

    async fn account(&self, ctx: &RequestCtx, appid: &str) -> Result<AccountDetail, AppError> {
        let (_, tenant) = self.tenant_user(ctx).await?;
        let appid = app::validate::appid("appid", appid).map_err(|_| AppError::NotFound)?;
        let err = store_error("an account could not be read");
        let a = self
            .store
            .authorizer(tenant, &appid)
            .await
            .map_err(&err)?
            .ok_or(AppError::NotFound)?;
        let now = crate::now_ms();
        let token = self
            .store
            .credential_health(
                a.component_id,
                CredentialKind::AuthorizerAccessToken,
                &a.appid,
            )
            .await
            .map_err(&err)?
            .map(|h| TokenState {
                expires_at: h.expires_at,
                refreshed_at: h.last_refreshed_at,
                failure_count: h.failure_count,
                last_error_code: h.last_error_code,
                last_error_at: None,
            })
            .unwrap_or_default();
        let component_appid = self
            .store
            .component_by_id(a.component_id)
            .await
            .map_err(&err)?
            .map(|c| c.appid)
            .unwrap_or_default();
        let history = self
            .store
            .authorizer_history(tenant, a.id)
            .await
            .map_err(&err)?
            .into_iter()
            .rev()
            .map(permission_change)
            .collect();
        let events = self
            .store
            .account_audit(tenant, &a.appid, 50)
            .await
            .map_err(&err)?;
        let token_events = events
            .iter()
            .filter(|e| {
                e.kind.starts_with("token.")
                    || e.kind.starts_with("refresh_token.")
                    || e.kind == AuditKind::AuthorizerAuthorized.as_str()
                    || e.kind == AuditKind::AuthorizationLost.as_str()
            })
            .cloned()
            .map(event_view)
            .collect();
        let (menu, menu_json) = match a.menu_json.as_deref().map(serde_json::from_str::<Value>) {
            Some(Ok(v)) => (
                menu_tree(&v),
                Some(serde_json::to_string_pretty(&v).unwrap_or_default()),
            ),
            _ => (None, None),
        };
        Ok(AccountDetail {
            row: account_row(&a, &token, now),
            component_appid,
            principal_name: a.principal_name.clone(),
            original_id: a.user_name.clone(),
            alias: a.alias.clone(),
            qrcode_url: a.qrcode_url.clone(),
            info_fetched_at: a.info_fetched_at,
            revoked_at: a.revoked_at,
            history,
            menu_json,
            menu,
            menu_fetched_at: a.menu_fetched_at,
            token_events,
            events: events.into_iter().map(event_view).collect(),
            server_now: now,
        })
    }

    async fn refresh_menu(&self, ctx: &RequestCtx, appid: &str) -> Result<(), AppError> {
        let (user, tenant) = self.tenant_admin(ctx).await?;
        let appid = app::validate::appid("appid", appid).map_err(|_| AppError::NotFound)?;
        let err = store_error("a menu refresh could not be queued");
        let a = self
            .store
            .authorizer(tenant, &appid)
            .await
            .map_err(&err)?
            .ok_or(AppError::NotFound)?;
        if a.status != AuthorizerStatus::Authorized {
            return Err(AppError::invalid_bilingual(
                "appid",
                "the account is no longer authorized",
                "该账号已不再授权",
            ));
        }
        self.engine
            .queue_menu_fetch(tenant, a.component_id, &a.appid)
            .await
            .map_err(|e| internal("a menu refresh could not be queued", e))?;
        let audit = NewAuditEvent::new(
            user_actor(&user),
            AuditKind::MenuRefreshRequested,
            Outcome::Ok,
            format!("{} asked for a fresh menu of {}", user.email, a.appid),
            crate::now_ms(),
        )
        .tenant(Some(tenant))
        .component(a.component_id)
        .authorizer(&a.appid)
        .ip(ctx.client_ip);
        self.store.append_audit(&audit).await.map_err(&err)?;
        Ok(())
    }

    async fn link_components(&self, ctx: &RequestCtx) -> Result<Vec<ComponentChoice>, AppError> {
        let (_, tenant) = self.tenant_user(ctx).await?;
        Ok(self
            .store
            .list_components_for_tenant(tenant)
            .await
            .map_err(store_error("components could not be read"))?
            .into_iter()
            .filter(|c| c.active)
            .map(|c| ComponentChoice {
                id: c.id.0,
                shared: c.owner == ComponentOwner::Platform,
                name: if c.name.is_empty() {
                    c.appid.clone()
                } else {
                    c.name
                },
                appid: c.appid,
            })
            .collect())
    }

    async fn links(&self, ctx: &RequestCtx) -> Result<Vec<LinkView>, AppError> {
        let (_, tenant) = self.tenant_user(ctx).await?;
        let now = crate::now_ms();
        Ok(self
            .store
            .list_links(tenant, 500)
            .await
            .map_err(store_error("links could not be read"))?
            .into_iter()
            .map(|r| self.link_view(r, now))
            .collect())
    }

    async fn create_link(&self, ctx: &RequestCtx, form: NewLinkForm) -> Result<LinkView, AppError> {
        let (user, tenant) = self.tenant_admin(ctx).await?;
        // The form's own rules first (hours, and what the browser checks too), then the operation.
        let valid = app::validate::link_form(&form).map_err(bilingual)?;
        let now = crate::now_ms();
        let who = crate::ops::TenantActor {
            actor: user_actor(&user),
            tenant,
            ip: ctx.client_ip,
        };
        let new = crate::ops::links::NewLink {
            component: crate::ops::links::ComponentRef::Id(crate::domain::ComponentId(
                valid.component_id,
            )),
            auth_type: valid.auth_type,
            biz_appid: valid.biz_appid,
            note: valid.note,
            expires_in_ms: valid.expires_in_hours.map(|h| i64::from(h) * 3_600_000),
        };
        let link = crate::ops::links::create(&self.store, &who, new, now)
            .await
            .map_err(op_error("a link could not be created"))?;
        let record = self
            .store
            .link(tenant, link.id)
            .await
            .map_err(store_error("a link could not be read"))?
            .ok_or(AppError::Internal)?;
        Ok(self.link_view(record, now))
    }

    async fn revoke_link(&self, ctx: &RequestCtx, id: i64) -> Result<(), AppError> {
        let (user, tenant) = self.tenant_admin(ctx).await?;
        let err = store_error("a link could not be revoked");
        let Some(record) = self.store.link(tenant, LinkId(id)).await.map_err(&err)? else {
            return Err(AppError::NotFound);
        };
        let now = crate::now_ms();
        let audit = NewAuditEvent::new(
            user_actor(&user),
            AuditKind::LinkRevoked,
            Outcome::Ok,
            format!(
                "{} revoked the authorization link {}",
                user.email, record.link.public_id
            ),
            now,
        )
        .tenant(Some(tenant))
        .component(record.link.component_id)
        .ip(ctx.client_ip)
        .detail(json!({ "link_id": id }));
        // Revoking twice is not an error: the link is revoked either way.
        self.store
            .revoke_link(tenant, LinkId(id), &audit, now)
            .await
            .map_err(&err)?;
        Ok(())
    }

    async fn api_keys(&self, ctx: &RequestCtx) -> Result<Vec<ApiKeyView>, AppError> {
        self.list_api_keys(ctx).await
    }

    async fn create_api_key(
        &self,
        ctx: &RequestCtx,
        name: &str,
    ) -> Result<CreatedApiKey, AppError> {
        self.mint_api_key(ctx, name).await
    }

    async fn revoke_api_key(&self, ctx: &RequestCtx, id: i64) -> Result<(), AppError> {
        self.withdraw_api_key(ctx, id).await
    }

    async fn users(&self, ctx: &RequestCtx) -> Result<Vec<UserView>, AppError> {
        self.list_users(ctx).await
    }

    async fn create_user(&self, ctx: &RequestCtx, form: NewUserForm) -> Result<UserView, AppError> {
        self.add_user(ctx, form).await
    }

    async fn set_user_active(
        &self,
        ctx: &RequestCtx,
        id: i64,
        active: bool,
    ) -> Result<(), AppError> {
        self.change_user_active(ctx, id, active).await
    }

    async fn set_user_role(&self, ctx: &RequestCtx, id: i64, role: &str) -> Result<(), AppError> {
        self.change_user_role(ctx, id, role).await
    }

    async fn components(&self, ctx: &RequestCtx) -> Result<Vec<ComponentView>, AppError> {
        self.list_components(ctx).await
    }

    async fn save_component(
        &self,
        ctx: &RequestCtx,
        form: ComponentForm,
    ) -> Result<ComponentView, AppError> {
        self.store_component(ctx, form).await
    }

    async fn check_component(&self, ctx: &RequestCtx, id: i64) -> Result<Vec<CheckStep>, AppError> {
        self.run_component_check(ctx, id).await
    }
}

fn authorized_account(a: &Authorizer) -> AuthorizedAccount {
    AuthorizedAccount {
        appid: a.appid.clone(),
        name: a.nick_name.clone(),
        head_img: a.head_img.clone(),
        kind: kind_label(a),
        permissions: a.func_ids.clone(),
        authorized_at: a.authorized_at,
    }
}

/// The PC page and the mobile link for a code, both returning to the link's done page.
pub fn authorization_urls(
    urls: &PublicUrls,
    link: &AuthorizationLink,
    component_appid: &str,
    pre_auth_code: &str,
) -> (String, String) {
    let redirect = format!("{}/done", urls.link_url(&link.public_id));
    let request = AuthorizationRequest {
        component_appid,
        pre_auth_code,
        redirect_uri: &redirect,
        auth_type: AuthType::from_code(link.auth_type),
        biz_appid: link.biz_appid.as_deref(),
    };
    (
        request.pc_url(&urls.wechat_mp_base),
        request.mobile_url(&urls.wechat_open_base),
    )
}

/// The QR code of `text` as an SVG document sized by its viewBox (CSS decides the size).
pub fn qr_svg(text: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .dark_color(qrcode::render::svg::Color("#111827"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menus_read_as_trees_and_garbage_is_no_menu() {
        let raw = json!({"is_menu_open": 1, "selfmenu_info": {"button": [
            {"type": "click", "name": "今日歌曲", "key": "V1001"},
            {"name": "菜单", "sub_button": {"list": [
                {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
                {"type": "miniprogram", "name": "小程序", "pagepath": "pages/index"},
                {"oops": true}
            ]}}
        ]}});
        let menu = menu_tree(&raw).unwrap();
        assert!(menu.is_open);
        assert_eq!(menu.buttons.len(), 2);
        assert_eq!(
            (
                menu.buttons[0].kind.as_str(),
                menu.buttons[0].target.as_str()
            ),
            ("click", "V1001")
        );
        let children = &menu.buttons[1].children;
        assert_eq!(children.len(), 2, "the nameless button is skipped");
        assert_eq!(children[1].target, "pages/index");
        for garbage in [
            json!(null),
            json!([]),
            json!({"selfmenu_info": 3}),
            json!({"selfmenu_info": {"button": "x"}}),
        ] {
            assert_eq!(menu_tree(&garbage), None, "{garbage}");
        }
    }

    #[test]
    fn account_queries_from_the_url_ignore_garbage() {
        let q = |q: &str, status: &str, kind: &str, permission: &str, page: &str| {
            account_filter(&AccountQuery {
                q: q.into(),
                status: status.into(),
                kind: kind.into(),
                permission: permission.into(),
                page: page.into(),
            })
        };
        let (f, page) = q(" 小鹿 ", "needs_reauth", "service", "15", "3");
        assert_eq!(
            (
                f.search.as_str(),
                f.status.as_deref(),
                f.kind.as_deref(),
                f.permission,
                page
            ),
            ("小鹿", Some("needs_reauth"), Some("service"), Some(15), 3)
        );
        let (f, page) = q(&"x".repeat(5000), "'; DROP", "<b>", "-1", "0");
        assert_eq!(
            (
                f.search.chars().count(),
                f.status,
                f.kind,
                f.permission,
                page
            ),
            (100, None, None, None, 1)
        );
        let (_, page) = q("", "", "", "99999999999999999999", "abc");
        assert_eq!(page, 1);
    }

    #[test]
    fn the_qr_code_is_an_svg_of_the_link() {
        let svg = qr_svg("https://open.weixin.qq.com/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1&component_appid=wx0de0c0de0000d001&pre_auth_code=preauthcode%40%40%40abc#wechat_redirect").unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("viewBox"),
            "{}",
            &svg[..200.min(svg.len())]
        );
        assert!(
            qr_svg(&"x".repeat(5000)).is_err(),
            "too long for any QR version"
        );
    }
}
