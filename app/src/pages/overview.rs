//! Platform staff's overview: every tenant's health on one screen (accounts by status, components,
//! open alerts, refresh failures by errcode, webhook trouble, the tenants with the most problems)
//! and the charts. The chart range is a plain link (`?range=30d`), so it works without JavaScript.

use leptos::prelude::*;

use crate::page_data::page_resource;
use leptos_router::hooks::use_query_map;

use crate::api::platform_overview;
use crate::dto::{AccountStatus, ChartRange, PlatformOverview};
use crate::i18n::{format_duration, format_time, use_lang, Lang};
use crate::pages::charts::BarChart;

fn status_label(lang: Lang, s: AccountStatus) -> &'static str {
    match s {
        AccountStatus::Pending => lang.t("Pending", "待完成"),
        AccountStatus::Authorized => lang.t("Authorized", "已授权"),
        AccountStatus::Revoked => lang.t("Revoked", "已取消授权"),
        AccountStatus::NeedsReauth => lang.t("Needs re-authorization", "需要重新授权"),
    }
}

fn errcode_label(lang: Lang, code: &str) -> String {
    match code {
        "timeout" => lang.t("timeout", "超时").to_owned(),
        "transport" => lang.t("connection failed", "连接失败").to_owned(),
        "malformed" => lang.t("unreadable answer", "无法解析的应答").to_owned(),
        c if c.starts_with("http_") => format!("HTTP {}", &c[5..]),
        c => format!("errcode {c}"),
    }
}

#[component]
pub fn PlatformOverviewView() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let range = move || query.with(|q| q.get("range"));
    let data = page_resource(range, platform_overview);
    view! {
        <Suspense fallback=crate::pages::loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(o) => view! { <OverviewBody o/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn OverviewBody(o: PlatformOverview) -> impl IntoView {
    let lang = use_lang();
    let range_link = |r: ChartRange, label: &'static str| {
        let class = if o.range == r {
            "button small"
        } else {
            "button ghost small"
        };
        view! { <a class=class href=format!("/?range={}", r.as_str()) aria-current=(o.range == r).then_some("page")>{label}</a> }
    };
    let max_failures = o
        .failures_by_errcode
        .first()
        .map_or(1, |(_, n)| (*n).max(1));
    view! {
        <section class="stats" data-test="platform-stats">
            {o.accounts_by_status.iter().map(|(s, n)| view! {
                <a class="stat" href=format!("/authorizations?status={}", s.as_str()) data-status=s.as_str()>
                    <span class="stat-value">{*n}</span>
                    <span class="stat-label">{status_label(lang, *s)}</span>
                </a>
            }).collect_view()}
            <a class="stat" href=format!("/authorizations?tenant={}", crate::dto::UNASSIGNED_TENANT) data-status="unassigned">
                <span class="stat-value">{o.unassigned}</span>
                <span class="stat-label">{lang.t("Unassigned", "未分配")}</span>
            </a>
            <a class="stat" href="/platform/webhooks?status=pending" data-test="failing-deliveries">
                <span class="stat-value">{o.failing_deliveries}</span>
                <span class="stat-label">{lang.t("Deliveries failing", "投递失败中")}</span>
            </a>
            <a class="stat" href="/platform/webhooks?status=dead" data-test="dead-letters">
                <span class="stat-value">{o.dead_letters}</span>
                <span class="stat-label">{lang.t("Dead letters", "死信")}</span>
            </a>
        </section>
        <p class="muted small">{format!("{} {}", lang.t("Counted at", "统计于"), format_time(o.counted_at))}</p>
        <div class="overview-grid">
            <section class="card" data-test="open-alerts">
                <h2>{lang.t("Open alerts", "未处理告警")}</h2>
                {if o.open_alerts.is_empty() {
                    view! { <p class="muted">{lang.t("None.", "没有。")}</p> }.into_any()
                } else {
                    view! {
                        <ul class="alert-list">
                            {o.open_alerts.iter().map(|a| view! {
                                <li>
                                    <code>{a.kind.clone()}</code>" "
                                    {a.tenant.clone().map(|t| view! { <span class="badge">{t}</span> })}
                                    " "{a.message.clone()}
                                    <br/><span class="muted small">{format!("× {} · {}", a.occurrences, format_time(a.last_seen_at))}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                {(o.open_alert_count > o.open_alerts.len() as i64).then(|| view! {
                    <p class="muted small" data-test="more-alerts">{format!("{} {} {}", lang.t("The newest of", "最新的告警，共"), o.open_alert_count, lang.t("open alerts.", "条。"))}</p>
                })}
                <p class="small"><a href="/alerts" data-test="alerts-link">{lang.t("Alert rules, channels and notifications →", "告警规则、渠道与通知 →")}</a></p>
            </section>
            <section class="card" data-test="failures-by-errcode">
                <h2>{lang.t("Refresh failures, 24 h", "24 小时刷新失败")}</h2>
                {if o.failures_by_errcode.is_empty() {
                    view! { <p class="muted">{lang.t("None.", "没有。")}</p> }.into_any()
                } else {
                    view! {
                        <div class="table-wrap"><table class="table compact">
                            <tbody>
                                {o.failures_by_errcode.iter().map(|(code, n)| {
                                    let width = format!("width: {}%", (*n * 100 / max_failures).max(1));
                                    view! {
                                        <tr>
                                            <td class="nowrap">{errcode_label(lang, code)}</td>
                                            <td class="meter-cell"><span class="meter" style=width></span></td>
                                            <td class="num">{*n}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any()
                }}
            </section>
            <section class="card" data-test="problem-tenants">
                <h2>{lang.t("Tenants with the most problems", "问题最多的租户")}</h2>
                {if o.problem_tenants.is_empty() {
                    view! { <p class="muted">{lang.t("Every tenant is healthy.", "所有租户都正常。")}</p> }.into_any()
                } else {
                    view! {
                        <div class="table-wrap"><table class="table compact">
                            <thead><tr>
                                <th>{lang.t("Tenant", "租户")}</th>
                                <th class="num">{lang.t("Re-auth", "需重新授权")}</th>
                                <th class="num">{lang.t("Alerts", "告警")}</th>
                                <th class="num">{lang.t("Failing", "失败中")}</th>
                                <th class="num">{lang.t("Dead", "死信")}</th>
                            </tr></thead>
                            <tbody>
                                {o.problem_tenants.iter().map(|t| view! {
                                    <tr>
                                        <td><strong>{t.name.clone()}</strong><br/><code class="muted">{t.slug.clone()}</code></td>
                                        <td class="num">{t.needs_reauth}</td>
                                        <td class="num">{t.open_alerts}</td>
                                        <td class="num">{t.failing_deliveries}</td>
                                        <td class="num">{t.dead_letters}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any()
                }}
            </section>
        </div>
        <section class="card">
            <div class="card-head">
                <h2>{lang.t("Traffic", "流量")}</h2>
                <nav class="range-switch" aria-label=lang.t("Chart range", "图表范围")>
                    {range_link(ChartRange::Day, lang.t("24 hours", "24 小时"))}
                    {range_link(ChartRange::Month, lang.t("30 days", "30 天"))}
                </nav>
            </div>
            <div class="charts" data-test="charts">
                {o.charts.iter().cloned().map(|chart| view! { <BarChart chart/> }).collect_view()}
            </div>
        </section>
        <section class="card">
            <h2>{lang.t("Components", "第三方平台")}</h2>
            <ComponentTable components=o.components.clone()/>
        </section>
    }
}

/// Each component's ticket and token health, as a table.
#[component]
pub fn ComponentTable(components: Vec<crate::dto::ComponentHealth>) -> impl IntoView {
    let lang = use_lang();
    view! {
    {if components.is_empty() {
        view! { <p class="muted">{lang.t("No component yet.", "还没有第三方平台。")}</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap"><table class="table wide-table" data-test="component-health">
                <thead><tr>
                    <th>{lang.t("Component", "第三方平台")}</th>
                    <th>{lang.t("Ticket age", "票据时长")}</th>
                    <th>{lang.t("Token expires in", "令牌剩余")}</th>
                    <th>{lang.t("Last push", "最近推送")}</th>
                    <th>{lang.t("Last error", "最近错误")}</th>
                </tr></thead>
                <tbody>
                    {components.iter().map(|c| {
                        let ticket_class = match c.ticket_age_ms { Some(a) if a <= 20 * 60_000 => "ok", Some(_) => "warn", None => "bad" };
                        let token_class = match c.token_expires_in_ms { Some(t) if t > 0 => "ok", _ => "bad" };
                        view! {
                            <tr>
                                <td>
                                    <strong>{if c.name.is_empty() { c.appid.clone() } else { c.name.clone() }}</strong>
                                    {c.shared.then(|| view! { <span class="badge">{lang.t("shared", "共享")}</span> })}
                                    <br/><code class="muted">{c.appid.clone()}</code>
                                </td>
                                <td class=ticket_class>{c.ticket_age_ms.map_or_else(|| lang.t("none yet", "尚未收到").to_owned(), |a| format_duration(lang, a))}</td>
                                <td class=token_class>{c.token_expires_in_ms.map_or_else(|| lang.t("none yet", "尚未获取").to_owned(), |t| if t > 0 { format_duration(lang, t) } else { lang.t("expired", "已过期").to_owned() })}</td>
                                <td>{c.last_push_at.map_or_else(|| lang.t("never", "从未").to_owned(), format_time)}</td>
                                <td class="muted">{c.last_error.clone().unwrap_or_else(|| "—".into())}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
        }.into_any()
    }}

    }
}
