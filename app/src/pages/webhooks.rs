//! Webhooks: the endpoints that receive the tenant's accounts' messages and events (add one and
//! see its secret once; test, turn off or on, delete), and the selected endpoint's deliveries log
//! (status, attempts, latency, answer) with replay of dead letters. Viewers see it read-only.

use leptos::prelude::*;

use crate::page_data::page_resource;
use leptos_meta::Title;

use crate::api::{
    all_deliveries, webhook_deliveries, webhook_endpoints, ChangeWebhookEndpoint,
    CreateWebhookEndpoint, ReplayWebhookDeliveries, SendWebhookTest,
};
use crate::dto::{NewWebhookForm, WebhookDeliveryView};
use crate::i18n::{format_time, use_lang, Lang};
use crate::model::SessionUser;
use crate::pages::links::copy_to_clipboard;
use crate::pages::FieldError;

fn status_text(lang: Lang, status: &str) -> &'static str {
    match status {
        "pending" => lang.t("Waiting", "等待中"),
        "running" => lang.t("Sending", "发送中"),
        "delivered" => lang.t("Delivered", "已送达"),
        "dead" => lang.t("Dead letter", "死信"),
        _ => lang.t("Unknown", "未知"),
    }
}

#[component]
fn DeliveryLog(endpoint: String, can_write: bool, refresh: ReadSignal<u32>) -> impl IntoView {
    let lang = use_lang();
    let replay = ServerAction::<ReplayWebhookDeliveries>::new();
    let only_dead = RwSignal::new(false);
    let id = endpoint.clone();
    let log = page_resource(
        move || {
            (
                id.clone(),
                only_dead.get(),
                replay.version().get(),
                refresh.get(),
            )
        },
        |(id, dead, _, _)| webhook_deliveries(id, dead.then(|| "dead".to_owned())),
    );
    let replay_all_id = endpoint.clone();
    view! {
        <div class="card-head">
            <h3>{lang.t("Deliveries", "投递记录")}</h3>
            <label class="small"><input type="checkbox" data-test="only-dead" bind:checked=only_dead/>{lang.t(" Dead letters only", " 只看死信")}</label>
            {can_write.then(|| view! {
                <button type="button" class="button ghost small" data-test="replay-all"
                    on:click=move |_| { replay.dispatch(ReplayWebhookDeliveries { id: replay_all_id.clone(), delivery: None }); }>
                    {lang.t("Replay all dead letters", "重投全部死信")}
                </button>
            })}
        </div>
        {move || replay.value().get().map(|r| match r {
            Ok(n) => view! { <p class="notice" role="status" data-test="replayed">{format!("{} {n}", lang.t("Queued again:", "已重新排队："))}</p> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
        })}
        <Transition fallback=crate::pages::loading>
            {move || Suspend::new(async move {
                match log.await {
                    Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! { <p class="muted" data-test="no-deliveries">{lang.t("Nothing delivered yet.", "还没有投递。")}</p> }.into_any(),
                    Ok(rows) => view! {
                        <div class="table-wrap"><table class="table" data-test="deliveries">
                            <thead><tr>
                                <th>{lang.t("Event", "事件")}</th><th>{lang.t("Status", "状态")}</th><th>{lang.t("Attempts", "尝试")}</th>
                                <th>{lang.t("Answer", "响应")}</th><th>{lang.t("Last attempt", "最近尝试")}</th><th></th>
                            </tr></thead>
                            <tbody>{rows.into_iter().map(|d| delivery_row(lang, d, can_write.then_some(replay))).collect_view()}</tbody>
                        </table></div>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// One row of a deliveries table; `replay` is offered on dead letters when given. Staff rows
/// (`d.tenant` set) name the tenant and the endpoint's URL.
fn delivery_row(
    lang: Lang,
    d: WebhookDeliveryView,
    replay: Option<ServerAction<ReplayWebhookDeliveries>>,
) -> impl IntoView {
    let answer = match (d.last_status_code, d.last_latency_ms) {
        (Some(code), Some(ms)) => format!("HTTP {code} · {ms} ms"),
        (None, Some(ms)) => format!("— · {ms} ms"),
        _ => "—".into(),
    };
    let dead = d.status == "dead";
    let endpoint = d.endpoint_id.clone();
    let id = d.id;
    let detail = [d.last_error.clone(), d.last_response_excerpt.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n");
    let staff = d
        .tenant
        .clone()
        .map(|t| view! { <td>{t}<br/><span class="muted small mono">{d.url.clone()}</span></td> });
    view! {
        <tr data-status=d.status.clone()>
            {staff}
            <td><span class="mono small">{d.event_type.clone()}</span><br/><span class="muted small mono">{d.event_id.clone()}</span>
                {d.authorizer_appid.clone().map(|a| view! { <br/><span class="muted small mono">{a}</span> })}</td>
            <td class=format!("delivery-{}", d.status) data-test="delivery-status">{status_text(lang, &d.status)}
                {d.next_attempt_at.map(|at| view! { <br/><span class="muted small">{format!("{} {}", lang.t("next", "下次"), format_time(at))}</span> })}</td>
            <td>{d.attempts}</td>
            <td class="nowrap">{answer}
                {(!detail.is_empty()).then(|| view! { <details><summary class="small">{lang.t("Details", "详情")}</summary><pre class="json small">{detail.clone()}</pre></details> })}</td>
            <td class="nowrap">{d.last_attempt_at.map_or_else(|| "—".into(), format_time)}</td>
            <td>{replay.filter(|_| dead).map(|replay| view! {
                <button type="button" class="button ghost small" data-test="replay-one"
                    on:click=move |_| { replay.dispatch(ReplayWebhookDeliveries { id: endpoint.clone(), delivery: Some(id) }); }>
                    {lang.t("Replay", "重投")}
                </button>
            })}</td>
        </tr>
    }
}

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let lang = use_lang();
    let user = expect_context::<SessionUser>();
    let can_write = user.role.can_write();
    let create = ServerAction::<CreateWebhookEndpoint>::new();
    let change = ServerAction::<ChangeWebhookEndpoint>::new();
    let test = ServerAction::<SendWebhookTest>::new();
    let list = page_resource(
        move || (create.version().get(), change.version().get()),
        |_| webhook_endpoints(),
    );
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let mode = RwSignal::new("async".to_owned());
    let event_types = RwSignal::new(String::new());
    let (problem, set_problem) = signal(None::<(String, String)>);
    let (copied, set_copied) = signal(None::<String>);
    let selected = RwSignal::new(None::<String>);
    // Sending a test refreshes the log a moment later, when it has been delivered.
    let (log_refresh, set_log_refresh) = signal(0u32);
    Effect::new(move |_| {
        if test.value().get().is_some() {
            set_timeout(
                move || set_log_refresh.update(|n| *n += 1),
                std::time::Duration::from_millis(800),
            );
        }
    });
    Effect::new(move |_| match create.value().get() {
        Some(Err(e)) => set_problem.set(Some(crate::pages::form_problem(lang, &e))),
        Some(Ok(_)) => {
            set_problem.set(None);
            url.set(String::new());
            description.set(String::new());
        }
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let u = url.get_untracked();
        let t = u.trim();
        if !(t.starts_with("https://") || t.starts_with("http://")) {
            set_problem.set(Some((
                "url".into(),
                lang.t(
                    "The URL must start with http:// or https://",
                    "URL 必须以 http:// 或 https:// 开头",
                )
                .into(),
            )));
            return;
        }
        set_problem.set(None);
        create.dispatch(CreateWebhookEndpoint {
            form: NewWebhookForm {
                url: t.to_owned(),
                description: description.get_untracked(),
                mode: mode.get_untracked(),
                event_types: event_types.get_untracked(),
            },
        });
    };
    view! {
        <Title text=lang.t("Webhooks", "Webhooks")/>
        <h1>{lang.t("Webhooks", "Webhooks")}</h1>
        <p class="muted">{lang.t(
            "Your systems receive your accounts' messages and events as signed HTTP POSTs (Standard Webhooks: verify them with any standardwebhooks library). Failed deliveries are retried for 24 hours, then kept as dead letters you can replay.",
            "你的系统以签名的 HTTP POST 接收授权账号的消息和事件（Standard Webhooks 标准，可用任意 standardwebhooks 库验签）。失败的投递会在 24 小时内重试，之后成为死信，可重新投递。")}</p>
        {can_write.then(|| view! {
            <section class="card">
                <h2>{lang.t("New endpoint", "新建端点")}</h2>
                <form class="form" on:submit=submit novalidate data-test="new-webhook">
                    <label for="webhook-url">{lang.t("URL", "URL")}</label>
                    <input id="webhook-url" type="url" maxlength="2048" bind:value=url placeholder="https://example.com/wechat-events"/>
                    <FieldError problem=problem field="url"/>
                    <label for="webhook-description">{lang.t("Description", "描述")}</label>
                    <input id="webhook-description" maxlength="200" bind:value=description/>
                    <FieldError problem=problem field="description"/>
                    <label for="webhook-types">{lang.t("Event types (empty: all)", "事件类型（留空：全部）")}</label>
                    <input id="webhook-types" bind:value=event_types placeholder="wechat.message.*, wechat.event.subscribe"/>
                    <FieldError problem=problem field="event_types"/>
                    <label for="webhook-mode">{lang.t("Mode", "模式")}</label>
                    <select id="webhook-mode" bind:value=mode>
                        <option value="async">{lang.t("Async: delivered after WeChat is answered", "异步：回复微信后投递")}</option>
                        <option value="reply">{lang.t("Reply: your answer within 3 s becomes the passive reply", "回复：3 秒内的响应作为被动回复")}</option>
                    </select>
                    <FieldError problem=problem field="mode"/>
                    <button type="submit" class="button primary" data-test="create-webhook" disabled=move || create.pending().get()>{lang.t("Add endpoint", "添加端点")}</button>
                </form>
                {move || create.value().get().and_then(|r| r.ok()).map(|created| {
                    let secret = created.secret.clone();
                    view! {
                        <div class="notice" role="status" data-test="new-webhook-secret">
                            <p><strong>{lang.t("Copy the signing secret now; it will not be shown again.", "请立即复制签名密钥，之后不会再显示。")}</strong></p>
                            <p><code class="secret" data-test="webhook-secret">{created.secret.clone()}</code></p>
                            <button type="button" class="button small" on:click=move |_| copy_to_clipboard(secret.clone(), set_copied)>{lang.t("Copy", "复制")}</button>
                            {move || copied.get().map(|c| view! {
                                <span class="small">{if c.is_empty() { lang.t(" Could not copy; select it by hand.", " 无法复制，请手动选中。") } else { lang.t(" Copied.", " 已复制。") }}</span>
                            })}
                        </div>
                    }
                })}
            </section>
        })}
        {move || [change.value().get().and_then(Result::err), test.value().get().and_then(Result::err)]
            .into_iter().flatten().next()
            .map(|e| view! { <p class="error" role="alert">{e.message(lang)}</p> })}
        {move || test.value().get().and_then(Result::ok).map(|event| view! {
            <p class="notice" role="status" data-test="test-sent">{format!("{} {event}", lang.t("Test event queued:", "测试事件已排队："))}</p>
        })}
        <section class="card">
            <h2>{lang.t("Endpoints", "端点")}</h2>
            <Transition fallback=crate::pages::loading>
                {move || Suspend::new(async move {
                    match list.await {
                        Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                        Ok(endpoints) if endpoints.is_empty() => view! { <p class="muted" data-test="no-webhooks">{lang.t("No endpoints yet.", "还没有端点。")}</p> }.into_any(),
                        Ok(endpoints) => view! {
                            <div class="table-wrap"><table class="table" data-test="webhooks">
                                <thead><tr><th>{lang.t("Endpoint", "端点")}</th><th>{lang.t("Receives", "接收")}</th><th>{lang.t("State", "状态")}</th><th></th></tr></thead>
                                <tbody>
                                    {endpoints.into_iter().map(|e| {
                                        let (id_test, id_toggle, id_delete, id_select) = (e.id.clone(), e.id.clone(), e.id.clone(), e.id.clone());
                                        let toggle_to = if e.enabled { "disable" } else { "enable" };
                                        let enabled = e.enabled;
                                        let receives = e.event_types.clone().map_or_else(|| lang.t("Everything", "全部").to_owned(), |t| t.join(", "));
                                        view! {
                                            <tr data-endpoint=e.id.clone()>
                                                <td><span class="mono small">{e.url.clone()}</span><br/><span class="muted small">{e.description.clone()}</span>
                                                    <br/><span class="muted small mono">{e.id.clone()}</span></td>
                                                <td class="small">{receives}<br/><span class="muted">{if e.mode == "reply" { lang.t("reply mode", "回复模式") } else { lang.t("async", "异步") }}</span></td>
                                                <td data-test="webhook-state" class=if enabled { "ok" } else { "bad" }>
                                                    {if enabled { lang.t("On", "已启用") } else { lang.t("Off", "已停用") }}
                                                    {e.disabled_reason.clone().map(|r| view! { <br/><span class="small">{r}</span> })}
                                                    {(e.consecutive_failures > 0).then(|| view! { <br/><span class="small">{format!("{} {}", e.consecutive_failures, lang.t("failures in a row", "次连续失败"))}</span> })}
                                                </td>
                                                <td class="actions">
                                                    <button type="button" class="button ghost small" data-test="show-deliveries" on:click=move |_| selected.set(Some(id_select.clone()))>{lang.t("Deliveries", "投递记录")}</button>
                                                    {can_write.then(|| view! {
                                                        <button type="button" class="button ghost small" data-test="send-test" on:click=move |_| { test.dispatch(SendWebhookTest { id: id_test.clone() }); }>{lang.t("Send test event", "发送测试事件")}</button>
                                                        <button type="button" class="button ghost small" data-test="toggle-webhook" on:click=move |_| { change.dispatch(ChangeWebhookEndpoint { id: id_toggle.clone(), change: toggle_to.into() }); }>
                                                            {if enabled { lang.t("Turn off", "停用") } else { lang.t("Turn on", "启用") }}</button>
                                                        <button type="button" class="button ghost small danger" data-test="delete-webhook" on:click=move |_| {
                                                            if window().confirm_with_message(lang.t("Delete this endpoint? Undelivered events become dead letters.", "删除此端点？未投递的事件将成为死信。")).unwrap_or(false) {
                                                                change.dispatch(ChangeWebhookEndpoint { id: id_delete.clone(), change: "delete".into() });
                                                            }
                                                        }>{lang.t("Delete", "删除")}</button>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
        {move || selected.get().map(|id| view! {
            <section class="card" data-test="delivery-log">
                <p class="muted small mono">{id.clone()}</p>
                <DeliveryLog endpoint=id.clone() can_write=can_write refresh=log_refresh/>
            </section>
        })}
    }
}

/// Platform staff: the newest deliveries of every tenant, filtered by status, read-only.
#[component]
pub fn PlatformDeliveriesPage() -> impl IntoView {
    let lang = use_lang();
    // The overview links here with `?status=dead` (or pending).
    let initial = leptos_router::hooks::use_query_map().with_untracked(|q| q.get("status"));
    let status = RwSignal::new(initial.unwrap_or_default());
    let (tick, set_tick) = signal(0u32);
    let rows = page_resource(
        move || (status.get(), tick.get()),
        |(s, _)| all_deliveries((!s.is_empty()).then_some(s)),
    );
    view! {
        <Title text=lang.t("Webhook deliveries", "Webhook 投递")/>
        <h1>{lang.t("Webhook deliveries", "Webhook 投递")}</h1>
        <p class="muted">{lang.t("The newest 100 deliveries of every tenant. Tenants replay their own dead letters.",
            "所有租户最新的 100 条投递。死信由租户自行重投。")}</p>
        <section class="card">
            <div class="card-head">
                <label for="delivery-status">{lang.t("Status", "状态")}</label>
                <select id="delivery-status" bind:value=status data-test="delivery-status-filter">
                    <option value="">{lang.t("All", "全部")}</option>
                    <option value="pending">{status_text(lang, "pending")}</option>
                    <option value="running">{status_text(lang, "running")}</option>
                    <option value="delivered">{status_text(lang, "delivered")}</option>
                    <option value="dead">{status_text(lang, "dead")}</option>
                </select>
                <button type="button" class="button ghost small" on:click=move |_| set_tick.update(|n| *n += 1)>{lang.t("Reload", "刷新")}</button>
            </div>
            <Transition fallback=crate::pages::loading>
                {move || Suspend::new(async move {
                    match rows.await {
                        Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="muted" data-test="no-deliveries">{lang.t("No deliveries.", "没有投递。")}</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-wrap"><table class="table" data-test="all-deliveries">
                                <thead><tr>
                                    <th>{lang.t("Tenant", "租户")}</th><th>{lang.t("Event", "事件")}</th><th>{lang.t("Status", "状态")}</th>
                                    <th>{lang.t("Attempts", "尝试")}</th><th>{lang.t("Answer", "响应")}</th><th>{lang.t("Last attempt", "最近尝试")}</th><th></th>
                                </tr></thead>
                                <tbody>{list.into_iter().map(|d| delivery_row(lang, d, None)).collect_view()}</tbody>
                            </table></div>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
