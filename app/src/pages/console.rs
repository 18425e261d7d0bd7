use leptos::prelude::*;

use crate::page_data::page_resource;
use leptos_meta::Title;
use leptos_router::components::{Outlet, Redirect, A};

use crate::api::dashboard;
use crate::dto::{AccountStatus, EventView};
use crate::i18n::{format_time, use_lang, Lang};
use crate::model::{Role, SessionUser};
use crate::pages::charts::BarChart;
use crate::pages::overview::{ComponentTable, PlatformOverviewView};
use crate::pages::LangSwitch;
use crate::Auth;

/// The signed-in frame. Anonymous visitors are redirected to /login (a real 302 on first load:
/// console routes render in `SsrMode::Async`).
#[component]
pub fn Console() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let lang = use_lang();
    view! {
        <Suspense fallback=crate::pages::loading>
            {move || Suspend::new(async move {
                match auth.user.await {
                    Ok(Some(user)) => view! { <Frame user/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(e) => view! {
                        <main class="centered"><div class="card narrow"><p class="error" role="alert">{e.message(lang)}</p></div></main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

pub fn role_label(lang: Lang, role: Role) -> &'static str {
    match role {
        Role::PlatformAdmin => lang.t("Platform admin", "平台管理员"),
        Role::PlatformAuditor => lang.t("Platform auditor", "平台审计员"),
        Role::TenantAdmin => lang.t("Tenant admin", "租户管理员"),
        Role::TenantViewer => lang.t("Tenant viewer", "租户只读成员"),
    }
}

#[component]
fn Frame(user: SessionUser) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let lang = use_lang();
    let context_label = match &user.tenant {
        Some(t) => t.name.clone(),
        None => lang.t("Platform", "平台").to_owned(),
    };
    let nav: Vec<(&str, &str)> = if user.role.is_platform() {
        vec![
            ("/", lang.t("Overview", "概览")),
            ("/tenants", lang.t("Tenants", "租户")),
            ("/authorizations", lang.t("Authorizations", "授权记录")),
            ("/audit", lang.t("Audit log", "审计日志")),
            ("/components", lang.t("Shared components", "共享第三方平台")),
            ("/releases", lang.t("Template library", "模板库")),
            ("/platform/users", lang.t("Users", "用户")),
            (
                "/platform/webhooks",
                lang.t("Webhook deliveries", "Webhook 投递"),
            ),
            ("/alerts", lang.t("Alerts", "告警")),
        ]
    } else {
        vec![
            ("/", lang.t("Dashboard", "总览")),
            ("/accounts", lang.t("Accounts", "授权账号")),
            ("/links", lang.t("Authorization links", "授权链接")),
            ("/releases", lang.t("Releases", "版本发布")),
            ("/components", lang.t("Components", "第三方平台")),
            ("/api-keys", lang.t("API keys", "API 密钥")),
            ("/webhooks", lang.t("Webhooks", "Webhooks")),
            ("/alerts", lang.t("Alerts", "告警")),
            ("/users", lang.t("Users", "用户")),
        ]
    };
    provide_context(user.clone());
    view! {
        <div class="frame">
            <header class="topbar">
                <a class="brand" href="/">"wxhub"</a>
                <span class="context" data-test="context">{context_label}</span>
                <span class="spacer"></span>
                <LangSwitch/>
                <span class="who" data-test="who">{user.email.clone()}</span>
                <span class="badge">{role_label(lang, user.role)}</span>
                <ActionForm action=auth.logout attr:class="inline">
                    <button type="submit" class="button ghost" data-test="logout">{lang.t("Sign out", "退出")}</button>
                </ActionForm>
            </header>
            <nav class="sidebar" aria-label=lang.t("Main", "主导航")>
                {nav.into_iter().map(|(href, label)| view! { <A href=href exact=href == "/">{label}</A> }).collect_view()}
            </nav>
            <main class="content">
                <Outlet/>
            </main>
        </div>
    }
}

pub fn status_text(lang: Lang, s: AccountStatus) -> &'static str {
    match s {
        AccountStatus::Authorized => lang.t("Authorized", "已授权"),
        AccountStatus::NeedsReauth => lang.t("Needs re-authorization", "需重新授权"),
        AccountStatus::Revoked => lang.t("Revoked", "已取消授权"),
        AccountStatus::Pending => lang.t("Pending", "处理中"),
    }
}

/// A list of audit events, newest first.
#[component]
pub fn EventList(events: Vec<EventView>) -> impl IntoView {
    let lang = use_lang();
    if events.is_empty() {
        return view! { <p class="muted" data-test="no-events">{lang.t("No events yet.", "暂无事件。")}</p> }.into_any();
    }
    view! {
        <table class="table events">
            <thead><tr>
                <th>{lang.t("When", "时间")}</th><th>{lang.t("Event", "事件")}</th><th>{lang.t("By", "操作者")}</th><th>{lang.t("What happened", "内容")}</th>
            </tr></thead>
            <tbody>
                {events.into_iter().map(|e| {
                    let class = format!("outcome-{}", e.outcome);
                    view! {
                        <tr class=class>
                            <td class="nowrap">{format_time(e.occurred_at)}</td>
                            <td><code>{e.kind}</code></td>
                            <td>{e.actor}</td>
                            <td>{e.summary}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }.into_any()
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let user = expect_context::<SessionUser>();
    let lang = use_lang();
    if user.tenant.is_none() {
        let scope = if user.role == Role::PlatformAdmin {
            lang.t(
                "You administer the whole platform: tenants, users and shared components.",
                "你管理整个平台：租户、用户和共享第三方平台。",
            )
        } else {
            lang.t(
                "You can read everything on this platform and change nothing.",
                "你可以查看平台上的所有内容，但不能修改。",
            )
        };
        return view! {
            <Title text=lang.t("Overview", "概览")/>
            <h1>{lang.t("Overview", "概览")}</h1>
            <p class="muted" data-test="welcome">{format!("{} · {}", user.email, role_label(lang, user.role))}</p>
            <p class="muted">{scope}</p>
            <PlatformOverviewView/>
        }.into_any();
    }
    let data = page_resource(|| (), |_| dashboard());
    view! {
        <Title text=lang.t("Dashboard", "总览")/>
        <h1>{lang.t("Dashboard", "总览")}</h1>
        <p class="muted" data-test="welcome">{format!("{} · {}", user.email, role_label(lang, user.role))}</p>
        <Suspense fallback=crate::pages::loading>
            {move || Suspend::new(async move {
                let d = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                };
                let count = |s: AccountStatus| d.accounts_by_status.iter().find(|(x, _)| *x == s).map_or(0, |(_, n)| *n);
                view! {
                    {(!d.open_alerts.is_empty()).then(|| view! {
                        <section class="card alert" role="alert" data-test="alerts">
                            <h2>{lang.t("Needs attention", "需要处理")}</h2>
                            <ul>{d.open_alerts.iter().map(|a| view! { <li>{a.clone()}</li> }).collect_view()}</ul>
                        </section>
                    })}
                    <section class="stats" data-test="account-stats">
                        {AccountStatus::ALL.into_iter().map(|s| view! {
                            <a class="stat" href=format!("/accounts?status={}", s.as_str())>
                                <span class="stat-value">{count(s)}</span>
                                <span class="stat-label">{status_text(lang, s)}</span>
                            </a>
                        }).collect_view()}
                        <div class="stat">
                            <span class="stat-value" data-test="failures-24h">{d.refresh_failures_24h}</span>
                            <span class="stat-label">{lang.t("Refresh failures, 24 h", "24 小时刷新失败")}</span>
                        </div>
                    </section>
                    <section class="charts" data-test="charts">
                        {d.charts.iter().cloned().map(|chart| view! { <BarChart chart/> }).collect_view()}
                    </section>
                    <section class="card">
                        <h2>{lang.t("Components", "第三方平台")}</h2>
                        <ComponentTable components=d.components.clone()/>
                    </section>
                    <section class="card">
                        <h2>{lang.t("Recent events", "最近事件")}</h2>
                        <EventList events=d.recent_events.clone()/>
                    </section>
                }.into_any()
            })}
        </Suspense>
    }.into_any()
}
