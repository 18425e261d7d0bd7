//! The console's accounts: the tenant dashboard, the account list and an account's page (its
//! permission sets, menu, token health and history), and asking for a fresh menu. Read-only but
//! for the menu request; what the pages show is mapped here from the store's rows to the UI's DTOs.

use app::dto::{
    AccountDetail, AccountKindLabel, AccountPage, AccountQuery, AccountRow, AccountStatus,
    Dashboard, EventView, Menu, MenuButton, PermissionChange, TokenHealth, TokenView,
};
use app::error::AppError;
use app::services::RequestCtx;
use serde_json::Value;

use super::{store_error, user_actor, Console};
use crate::auth::service::internal;
use crate::domain::{
    AuditEvent, AuditKind, Authorizer, AuthorizerStatus, CredentialKind, NewAuditEvent, Outcome,
};
use crate::store::{AccountFilter, TokenState};

pub const ACCOUNTS_PER_PAGE: i64 = 50;

pub(super) fn kind_label(a: &Authorizer) -> AccountKindLabel {
    match a.account_kind.as_str() {
        "mini_program" => AccountKindLabel::MiniProgram,
        "official_account" if a.service_type == Some(2) => AccountKindLabel::Service,
        "official_account" => AccountKindLabel::Subscription,
        _ => AccountKindLabel::Unknown,
    }
}

pub(super) fn permission_change(h: crate::domain::AuthorizerChange) -> PermissionChange {
    PermissionChange {
        change: h.change,
        source: h.source,
        permissions: h.permissions,
        added: h.added,
        removed: h.removed,
        occurred_at: h.occurred_at,
    }
}

pub(super) fn status_dto(s: AuthorizerStatus) -> AccountStatus {
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
pub(super) fn menu_tree(raw: &Value) -> Option<Menu> {
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

pub(super) async fn dashboard(console: &Console, ctx: &RequestCtx) -> Result<Dashboard, AppError> {
    let (_, tenant) = console.tenant_user(ctx).await?;
    let now = crate::now_ms();
    let err = store_error("the dashboard could not be read");
    let components = console
        .store
        .component_health_for_tenant(tenant)
        .await
        .map_err(&err)?
        .into_iter()
        .map(|h| super::overview::component_health_view(h, now))
        .collect();
    let accounts_by_status = console
        .store
        .account_status_counts(tenant)
        .await
        .map_err(&err)?
        .into_iter()
        .filter_map(|(s, n)| AccountStatus::parse(&s).map(|s| (s, n)))
        .collect();
    let refresh_failures_24h = console
        .store
        .refresh_failures_since(tenant, now - 86_400_000)
        .await
        .map_err(&err)?;
    let recent_events = console
        .store
        .tenant_audit(tenant, 15)
        .await
        .map_err(&err)?
        .into_iter()
        .map(event_view)
        .collect();
    let open_alerts = console
        .store
        .open_alerts_for_tenant(tenant, 50)
        .await
        .map_err(&err)?
        .into_iter()
        .map(|a| a.message)
        .collect();
    let charts = super::overview::charts(
        &console.store,
        crate::store::CountsOf::Tenant(tenant),
        app::dto::ChartRange::Day,
        now,
    )
    .await
    .map_err(&err)?;
    Ok(Dashboard {
        components,
        accounts_by_status,
        refresh_failures_24h,
        recent_events,
        open_alerts,
        charts,
    })
}

pub(super) async fn accounts(
    console: &Console,
    ctx: &RequestCtx,
    query: AccountQuery,
) -> Result<AccountPage, AppError> {
    let (_, tenant) = console.tenant_user(ctx).await?;
    let (filter, page) = account_filter(&query);
    let now = crate::now_ms();
    let (rows, total) = console
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

/// One of the tenant's accounts, by the appid in the URL: one that cannot exist, or that is
/// another tenant's, is not found.
async fn tenant_account(
    console: &Console,
    tenant: crate::domain::TenantId,
    appid: &str,
    err: &impl Fn(crate::store::StoreError) -> AppError,
) -> Result<Authorizer, AppError> {
    let appid = crate::domain::AppId::parse("appid", appid).map_err(|_| AppError::NotFound)?;
    console
        .store
        .authorizer(tenant, &appid)
        .await
        .map_err(err)?
        .ok_or(AppError::NotFound)
}

pub(super) async fn account(
    console: &Console,
    ctx: &RequestCtx,
    appid: &str,
) -> Result<AccountDetail, AppError> {
    let (_, tenant) = console.tenant_user(ctx).await?;
    let err = store_error("an account could not be read");
    let a = tenant_account(console, tenant, appid, &err).await?;
    let now = crate::now_ms();
    let token = console
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
    let component_appid = console
        .store
        .component_by_id(a.component_id)
        .await
        .map_err(&err)?
        .map(|c| c.appid)
        .unwrap_or_default();
    let history = console
        .store
        .authorizer_history(tenant, a.id)
        .await
        .map_err(&err)?
        .into_iter()
        .rev()
        .map(permission_change)
        .collect();
    let events = console
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

pub(super) async fn gateway_calls(
    console: &Console,
    ctx: &RequestCtx,
    appid: &str,
) -> Result<Vec<app::dto::GatewayCallView>, AppError> {
    let (_, tenant) = console.tenant_user(ctx).await?;
    let err = store_error("gateway calls could not be read");
    let a = tenant_account(console, tenant, appid, &err).await?;
    Ok(console
        .store
        .gateway_calls(tenant, &a.appid)
        .await
        .map_err(err)?
        .into_iter()
        .map(|c| app::dto::GatewayCallView {
            called_at: c.called_at,
            method: c.method,
            path: c.path,
            status: c.status,
            errcode: c.errcode,
            outcome: c.outcome,
            retried: c.retried,
            duration_ms: c.duration_ms,
            key: c
                .api_key_name
                .map(|name| format!("{name} ({})", c.api_key_prefix.unwrap_or_default())),
        })
        .collect())
}

pub(super) async fn refresh_menu(
    console: &Console,
    ctx: &RequestCtx,
    appid: &str,
) -> Result<(), AppError> {
    let (user, tenant) = console.tenant_admin(ctx).await?;
    let err = store_error("a menu refresh could not be queued");
    let a = tenant_account(console, tenant, appid, &err).await?;
    if a.status != AuthorizerStatus::Authorized {
        return Err(AppError::invalid_bilingual(
            "appid",
            "the account is no longer authorized",
            "该账号已不再授权",
        ));
    }
    console
        .engine
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
    console.store.append_audit(&audit).await.map_err(&err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
