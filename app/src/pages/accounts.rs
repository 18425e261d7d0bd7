//! The tenant's accounts: a searchable, filterable, paginated list (the filter lives in the URL, so
//! a filtered page can be bookmarked and works without JavaScript: the filter form is a plain GET),
//! and one account's detail: profile, permission sets and their changes, menu, token timeline and
//! events.

use leptos::prelude::*;

use crate::page_data::page_resource;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{account, account_gateway_calls, account_messages, accounts, RefreshMenu};
use crate::dto::{AccountQuery, AccountRow, AccountStatus, MenuButton, TokenHealth, TokenView};
use crate::i18n::{format_duration, format_time, use_lang, Lang};
use crate::model::SessionUser;
use crate::pages::authorize::{kind_text, permission_name};
use crate::pages::console::{status_text, EventList};
use crate::pages::encode_component;
use crate::permissions::PERMISSION_SETS;

fn token_text(lang: Lang, t: &TokenView, now: i64) -> (String, &'static str) {
    match t.health {
        TokenHealth::Healthy => (
            format!(
                "{} {}",
                lang.t("valid for", "剩余"),
                format_duration(lang, t.expires_at.unwrap_or(now) - now)
            ),
            "ok",
        ),
        TokenHealth::Failing => (
            format!(
                "{} · {} {}",
                lang.t("refresh failing", "刷新失败"),
                t.failure_count,
                lang.t("failures", "次")
            ),
            "warn",
        ),
        TokenHealth::Expired => (lang.t("expired", "已过期").to_owned(), "bad"),
        TokenHealth::None => (lang.t("none", "无").to_owned(), "muted"),
    }
}

#[component]
pub fn AccountsPage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let current = move || {
        query.with(|q| AccountQuery {
            q: q.get("q").unwrap_or_default(),
            status: q.get("status").unwrap_or_default(),
            kind: q.get("kind").unwrap_or_default(),
            permission: q.get("permission").unwrap_or_default(),
            page: q.get("page").unwrap_or_default(),
        })
    };
    let page = page_resource(current, accounts);
    let href_for_page = move |n: i64| {
        let q = current();
        format!(
            "/accounts?q={}&status={}&kind={}&permission={}&page={n}",
            encode_component(&q.q),
            encode_component(&q.status),
            encode_component(&q.kind),
            encode_component(&q.permission)
        )
    };
    view! {
        <Title text=lang.t("Accounts", "授权账号")/>
        <h1>{lang.t("Accounts", "授权账号")}</h1>
        <form class="filters" method="get" action="/accounts" data-test="account-filters">
            <input type="search" name="q" placeholder=lang.t("Name, appid, original id…", "名称、appid、原始 ID…") prop:value=move || current().q aria-label=lang.t("Search", "搜索")/>
            <select name="status" aria-label=lang.t("Status", "状态") prop:value=move || current().status>
                <option value="">{lang.t("Any status", "全部状态")}</option>
                {AccountStatus::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{status_text(lang, s)}</option> }).collect_view()}
            </select>
            <select name="kind" aria-label=lang.t("Type", "类型") prop:value=move || current().kind>
                <option value="">{lang.t("Any type", "全部类型")}</option>
                <option value="service">{lang.t("Service account", "服务号")}</option>
                <option value="subscription">{lang.t("Subscription account", "订阅号")}</option>
                <option value="mini_program">{lang.t("Mini Program", "小程序")}</option>
            </select>
            <select name="permission" aria-label=lang.t("Permission set", "权限集") prop:value=move || current().permission>
                <option value="">{lang.t("Any permission set", "全部权限集")}</option>
                {PERMISSION_SETS.iter().map(|p| view! { <option value=p.id.to_string()>{format!("{} ({})", permission_name(lang, p.id), p.id)}</option> }).collect_view()}
            </select>
            <button type="submit" class="button">{lang.t("Filter", "筛选")}</button>
            <a class="button ghost" href="/accounts">{lang.t("Clear", "清除")}</a>
        </form>
        <Suspense fallback=crate::pages::loading>
            {move || Suspend::new(async move {
                let p = match page.await {
                    Ok(p) => p,
                    Err(e) => return view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                };
                if p.rows.is_empty() {
                    return view! {
                        <section class="card empty" data-test="no-accounts">
                            <p>{lang.t("No accounts match.", "没有符合条件的账号。")}</p>
                            <p class="muted">{lang.t("Accounts appear here when their owners authorize through one of your links.", "账号管理员通过你的授权链接完成授权后，账号会出现在这里。")}</p>
                            <a class="button" href="/links">{lang.t("Authorization links", "授权链接")}</a>
                        </section>
                    }.into_any();
                }
                let pages = (p.total + p.per_page - 1) / p.per_page;
                let first = (p.page - 1) * p.per_page + 1;
                let last = first + p.rows.len() as i64 - 1;
                let now = p.server_now;
                view! {
                    <p class="muted" data-test="account-count">{match lang {
                        Lang::En => format!("{first}–{last} of {}", p.total),
                        Lang::Zh => format!("第 {first}–{last} 个，共 {} 个", p.total),
                    }}</p>
                    <div class="table-wrap">
                    <table class="table accounts" data-test="accounts">
                        <thead><tr>
                            <th>{lang.t("Account", "账号")}</th>
                            <th>{lang.t("Type", "类型")}</th>
                            <th>{lang.t("Verified", "认证")}</th>
                            <th>{lang.t("Status", "状态")}</th>
                            <th>{lang.t("Authorized", "授权时间")}</th>
                            <th>{lang.t("Token", "令牌")}</th>
                        </tr></thead>
                        <tbody>
                            {p.rows.into_iter().map(|r| view! { <AccountLine r now/> }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                    <nav class="pager" aria-label=lang.t("Pages", "分页")>
                        {(p.page > 1).then(|| view! { <a class="button ghost" rel="prev" href=href_for_page(p.page - 1)>{lang.t("← Previous", "← 上一页")}</a> })}
                        <span class="muted">{format!("{} / {}", p.page, pages.max(1))}</span>
                        {(p.page < pages).then(|| view! { <a class="button ghost" rel="next" href=href_for_page(p.page + 1)>{lang.t("Next →", "下一页 →")}</a> })}
                    </nav>
                }.into_any()
            })}
        </Suspense>
    }
}

/// The account's head image over its initial: WeChat's image hosts are often unreachable from
/// where the console is read, and a broken image then hides itself (it stays in the DOM, which
/// hydration expects) and leaves the initial.
#[component]
fn Avatar(src: String, name: String) -> impl IntoView {
    let initial: String = name
        .chars()
        .next()
        .map(|c| c.to_string())
        .unwrap_or_else(|| "?".into());
    let image = (src.starts_with("https://") || src.starts_with("http://")).then(|| {
        view! { <img src=src alt="" loading="lazy" referrerpolicy="no-referrer" onerror="this.style.visibility='hidden'"/> }
    });
    view! { <span class="avatar initial" aria-hidden="true">{initial}{image}</span> }
}

#[component]
fn AccountLine(r: AccountRow, now: i64) -> impl IntoView {
    let lang = use_lang();
    let (token, token_class) = token_text(lang, &r.token, now);
    let name = if r.name.is_empty() {
        r.appid.clone()
    } else {
        r.name.clone()
    };
    view! {
        <tr data-appid=r.appid.clone()>
            <td class="account-cell">
                <Avatar src=r.head_img.clone() name=name.clone()/>
                <div>
                    <a href=format!("/accounts/{}", r.appid) data-test="account-link">{name}</a>
                    <div class="muted small mono">{r.appid.clone()}</div>
                </div>
            </td>
            <td>{kind_text(lang, r.kind)}</td>
            <td>{match r.verified { Some(true) => lang.t("Yes", "已认证"), Some(false) => lang.t("No", "未认证"), None => "—" }}</td>
            <td class=format!("status-{}", r.status.as_str())>{status_text(lang, r.status)}</td>
            <td class="nowrap">{format_time(r.authorized_at)}</td>
            <td class=token_class data-test="token-health">{token}</td>
        </tr>
    }
}

fn menu_items(buttons: Vec<MenuButton>) -> impl IntoView {
    view! {
        <ul class="menu-tree">
            {buttons.into_iter().map(|b| {
                let children = b.children;
                let detail = if b.kind.is_empty() { String::new() } else { format!(" · {} {}", b.kind, b.target) };
                view! {
                    <li>
                        <strong>{b.name}</strong><span class="muted small">{detail}</span>
                        {(!children.is_empty()).then(|| menu_items(children).into_any())}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// The account's newest messages and events, as WeChat posted them to the message URL. The page
/// loads them with its own resources (no nested Suspense: its content must be there when the
/// page hydrates).
#[component]
fn RecentMessages(
    list: Result<Vec<crate::dto::MessageView>, crate::error::AppError>,
) -> impl IntoView {
    let lang = use_lang();
    view! {
        <section class="card" data-test="recent-messages">
            <h2>{lang.t("Recent messages and events", "最近的消息和事件")}</h2>
            {match list {
                Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                Ok(list) if list.is_empty() => view! { <p class="muted">{lang.t("None yet. Messages appear here once WeChat posts them to the message URL.", "暂无。微信将消息推送到消息与事件接收 URL 后会显示在这里。")}</p> }.into_any(),
                Ok(list) => view! {
                    <div class="table-wrap"><table class="table">
                        <thead><tr><th>{lang.t("Received", "接收时间")}</th><th>{lang.t("Type", "类型")}</th><th>{lang.t("From", "发送者")}</th><th>{lang.t("Content", "内容")}</th></tr></thead>
                        <tbody>{list.into_iter().map(|m| view! {
                            <tr>
                                <td class="nowrap">{format_time(m.received_at)}</td>
                                <td class="mono small">{m.event.clone().map_or_else(|| m.msg_type.clone(), |e| format!("event · {e}"))}</td>
                                <td class="mono small">{m.from_user.clone()}</td>
                                <td>{m.summary.clone()}<details><summary class="small">"XML"</summary><pre class="json small">{m.xml.clone()}</pre></details></td>
                            </tr>
                        }).collect_view()}</tbody>
                    </table></div>
                }.into_any(),
            }}
        </section>
    }
}

/// The newest calls tenants' systems made through the WeChat gateway for this account.
#[component]
fn GatewayCalls(
    list: Result<Vec<crate::dto::GatewayCallView>, crate::error::AppError>,
) -> impl IntoView {
    let lang = use_lang();
    view! {
        <section class="card" data-test="gateway-calls">
            <h2>{lang.t("WeChat gateway calls", "微信接口网关调用")}</h2>
            <p class="muted small">{lang.t(
                "The last 100 calls your systems made through /api/v1/authorizers/{appid}/wechat/… for this account. Bodies and tokens are never kept.",
                "你的系统通过 /api/v1/authorizers/{appid}/wechat/… 为该账号发起的最近 100 次调用。不保存请求体与令牌。")}</p>
            {match list {
                Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                Ok(list) if list.is_empty() => view! { <p class="muted" data-test="no-gateway-calls">{lang.t("No calls yet.", "暂无调用。")}</p> }.into_any(),
                Ok(list) => view! {
                    <div class="table-wrap"><table class="table">
                        <thead><tr>
                            <th>{lang.t("When", "时间")}</th><th>{lang.t("Call", "接口")}</th><th>"errcode"</th>
                            <th>{lang.t("Duration", "耗时")}</th><th>{lang.t("API key", "API 密钥")}</th>
                        </tr></thead>
                        <tbody>{list.into_iter().map(|c| {
                            let ok = c.errcode.is_none_or(|e| e == 0) && c.status.is_some_and(|s| s < 400);
                            view! {
                                <tr data-test="gateway-call">
                                    <td class="nowrap">{format_time(c.called_at)}</td>
                                    <td class="mono small">{format!("{} /{}", c.method, c.path)}</td>
                                    <td class=if ok { "ok mono" } else { "bad mono" }>
                                        <span>{c.errcode.map_or_else(|| c.outcome.clone(), |e| e.to_string())}</span>
                                        <span class="muted small">{if c.retried { lang.t(" · retried with a fresh token", " · 已换新令牌重试") } else { "" }}</span>
                                    </td>
                                    <td class="nowrap">{format!("{} ms", c.duration_ms)}</td>
                                    <td class="small">{c.key.clone().unwrap_or_else(|| "—".to_owned())}</td>
                                </tr>
                            }
                        }).collect_view()}</tbody>
                    </table></div>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let lang = use_lang();
    let user = expect_context::<SessionUser>();
    let params = use_params_map();
    let appid = move || params.with(|p| p.get("appid").unwrap_or_default());
    let refresh = ServerAction::<RefreshMenu>::new();
    let detail = page_resource(
        move || (appid(), refresh.version().get()),
        |(a, _)| account(a),
    );
    let can_write = user.role.can_write();
    let messages = page_resource(appid, account_messages);
    let calls = page_resource(appid, account_gateway_calls);
    view! {
        <Transition fallback=crate::pages::loading>
            {move || Suspend::new(async move {
                let recent = messages.await;
                let gateway = calls.await;
                let d = match detail.await {
                    Ok(d) => d,
                    Err(e) => {
                        #[cfg(feature = "ssr")]
                        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                            if let Ok(s) = http::StatusCode::from_u16(e.status()) { response.set_status(s); }
                        }
                        return view! {
                            <Title text=lang.t("Account", "账号")/>
                            <section class="card narrow"><h1>{lang.t("Account", "账号")}</h1><p class="error" role="alert">{e.message(lang)}</p>
                            <a class="button" href="/accounts">{lang.t("Back to accounts", "返回账号列表")}</a></section>
                        }.into_any();
                    }
                };
                let r = d.row.clone();
                let name = if r.name.is_empty() { r.appid.clone() } else { r.name.clone() };
                let (token, token_class) = token_text(lang, &r.token, d.server_now);
                let appid_for_refresh = r.appid.clone();
                view! {
                    <Title text=name.clone()/>
                    <div class="account-head">
                        <Avatar src=r.head_img.clone() name=name.clone()/>
                        <div>
                            <h1 data-test="account-name">{name.clone()}</h1>
                            <p class="muted">{kind_text(lang, r.kind)} " · " <code>{r.appid.clone()}</code> " · " <span class=format!("status-{}", r.status.as_str())>{status_text(lang, r.status)}</span></p>
                            {(r.kind == crate::dto::AccountKindLabel::MiniProgram).then(|| view! {
                                <p><a class="button ghost small" data-test="code-link" href=format!("/accounts/{}/code", r.appid)>{lang.t("Code and releases", "代码与发布")}</a></p>
                            })}
                        </div>
                    </div>
                    <div class="grid-2">
                        <section class="card">
                            <h2>{lang.t("Profile", "账号信息")}</h2>
                            <dl class="facts">
                                <dt>{lang.t("Principal", "主体")}</dt><dd>{if d.principal_name.is_empty() { "—".into() } else { d.principal_name.clone() }}</dd>
                                <dt>{lang.t("Original id", "原始 ID")}</dt><dd class="mono">{if d.original_id.is_empty() { "—".into() } else { d.original_id.clone() }}</dd>
                                <dt>{lang.t("Alias", "微信号")}</dt><dd>{if d.alias.is_empty() { "—".into() } else { d.alias.clone() }}</dd>
                                <dt>{lang.t("Verified", "认证")}</dt><dd>{match r.verified { Some(true) => lang.t("Yes", "已认证"), Some(false) => lang.t("No", "未认证"), None => "—" }}</dd>
                                <dt>{lang.t("Component", "第三方平台")}</dt><dd class="mono">{d.component_appid.clone()}</dd>
                                <dt>{lang.t("Authorized", "授权时间")}</dt><dd>{format_time(r.authorized_at)}</dd>
                                {d.revoked_at.map(|at| view! { <dt>{lang.t("Revoked", "取消授权")}</dt><dd>{format_time(at)}</dd> })}
                                <dt>{lang.t("QR code", "二维码")}</dt><dd>{if d.qrcode_url.starts_with("http") { view! { <a href=d.qrcode_url.clone() target="_blank" rel="noopener noreferrer">{lang.t("Open", "打开")}</a> }.into_any() } else { "—".into_any() }}</dd>
                            </dl>
                        </section>
                        <section class="card">
                            <h2>{lang.t("Access token", "访问令牌")}</h2>
                            <p class=token_class data-test="token-health">{token}</p>
                            <dl class="facts">
                                <dt>{lang.t("Expires", "过期时间")}</dt><dd>{r.token.expires_at.map_or_else(|| "—".into(), format_time)}</dd>
                                <dt>{lang.t("Last refreshed", "最近刷新")}</dt><dd>{r.token.refreshed_at.map_or_else(|| "—".into(), format_time)}</dd>
                                <dt>{lang.t("Failures in a row", "连续失败")}</dt><dd>{r.token.failure_count}</dd>
                                {r.token.last_error_code.map(|c| view! { <dt>{lang.t("Last errcode", "最近错误码")}</dt><dd class="mono">{c}</dd> })}
                            </dl>
                        </section>
                    </div>
                    <section class="card">
                        <h2>{lang.t("Permission sets", "权限集")}</h2>
                        <ul class="chips" data-test="permissions">
                            {r.permissions.iter().map(|id| view! { <li class="chip" data-permission=id.to_string()>{permission_name(lang, *id)}<span class="muted small">{format!(" #{id}")}</span></li> }).collect_view()}
                        </ul>
                        <h3>{lang.t("Changes", "变更记录")}</h3>
                        <table class="table" data-test="permission-history">
                            <thead><tr><th>{lang.t("When", "时间")}</th><th>{lang.t("Change", "变更")}</th><th>{lang.t("Added", "新增")}</th><th>{lang.t("Removed", "移除")}</th></tr></thead>
                            <tbody>
                                {d.history.iter().map(|h| view! {
                                    <tr>
                                        <td class="nowrap">{format_time(h.occurred_at)}</td>
                                        <td>{h.change.clone()}<span class="muted small">{format!(" ({})", h.source)}</span></td>
                                        <td>{h.added.iter().map(|id| permission_name(lang, *id)).collect::<Vec<_>>().join(lang.t(", ", "、"))}</td>
                                        <td>{h.removed.iter().map(|id| permission_name(lang, *id)).collect::<Vec<_>>().join(lang.t(", ", "、"))}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </section>
                    <section class="card" data-test="menu">
                        <div class="card-head">
                            <h2>{lang.t("Menu as WeChat last sent it", "微信最近返回的菜单")}</h2>
                            <div class="button-row">
                                {(can_write && r.status == AccountStatus::Authorized).then(|| view! {
                                    <button type="button" class="button ghost small" data-test="refresh-menu"
                                        on:click=move |_| { refresh.dispatch(RefreshMenu { appid: appid_for_refresh.clone() }); }>
                                        {lang.t("Fetch again", "重新获取")}
                                    </button>
                                })}
                                {(r.kind != crate::dto::AccountKindLabel::MiniProgram).then(|| view! {
                                    <a class="button small" data-test="menu-page-link" href=format!("/accounts/{}/menu", r.appid)>{lang.t("Takeover, editor and versions", "接管、编辑与版本")}</a>
                                })}
                            </div>
                        </div>
                        {move || refresh.value().get().map(|r| match r {
                            Ok(()) => view! { <p class="notice" role="status">{lang.t("Queued; the menu updates in a few seconds (reload).", "已排队，几秒后刷新页面即可看到。")}</p> }.into_any(),
                            Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                        })}
                        {match (d.menu.clone(), d.menu_json.clone()) {
                            (Some(menu), Some(raw)) => view! {
                                <p class="muted small">
                                    {if menu.is_open { lang.t("Menu is on", "菜单已开启") } else { lang.t("Menu is off", "菜单未开启") }}
                                    {d.menu_fetched_at.map(|at| format!(" · {} {}", lang.t("fetched", "获取于"), format_time(at)))}
                                </p>
                                {if menu.buttons.is_empty() { view! { <p class="muted">{lang.t("No buttons.", "没有菜单项。")}</p> }.into_any() } else { menu_items(menu.buttons).into_any() }}
                                <details><summary>{lang.t("Raw JSON", "原始 JSON")}</summary><pre class="json" data-test="menu-json">{raw}</pre></details>
                            }.into_any(),
                            _ => view! { <p class="muted">{lang.t("Not fetched yet.", "尚未获取。")}</p> }.into_any(),
                        }}
                    </section>
                    <RecentMessages list=recent/>
                    <GatewayCalls list=gateway/>
                    <section class="card">
                        <h2>{lang.t("Token timeline", "令牌时间线")}</h2>
                        <EventList events=d.token_events.clone()/>
                    </section>
                    <section class="card">
                        <h2>{lang.t("Events", "事件")}</h2>
                        <EventList events=d.events.clone()/>
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}
