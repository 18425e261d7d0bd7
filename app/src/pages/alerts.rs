//! Alerts: what is firing now, the channels that carry notices (a WeCom group robot, a signed
//! webhook, e-mail) with a test button each, the rules with their thresholds, and the newest
//! notifications. Staff see the platform's (every tenant's conditions); tenant users see their
//! tenant's. Admins change rules and channels; auditors and viewers read.

use leptos::prelude::*;

use crate::page_data::{page_resource, PageResource};
use leptos_meta::Title;

use crate::api::{
    alerts, ChangeNotificationChannel, CreateNotificationChannel, SetAlertRule,
    TestNotificationChannel,
};
use crate::dto::{AlertRuleView, AlertsView, ChannelForm, NotificationChannelView};
use crate::error::AppError;
use crate::i18n::{format_time, use_lang, Lang};
use crate::pages::links::copy_to_clipboard;
use crate::pages::FieldError;

fn kind_label(lang: Lang, kind: &str) -> &'static str {
    match kind {
        "wecom_robot" => lang.t("WeCom group robot", "企业微信群机器人"),
        "webhook" => lang.t("Webhook (signed JSON)", "Webhook（签名 JSON）"),
        "email" => lang.t("E-mail", "电子邮件"),
        _ => lang.t("Unknown", "未知"),
    }
}

fn event_label(lang: Lang, event: &str) -> &'static str {
    match event {
        "firing" => lang.t("Firing", "告警"),
        "reminder" => lang.t("Still firing", "持续告警"),
        "resolved" => lang.t("Resolved", "已恢复"),
        _ => lang.t("Test", "测试"),
    }
}

fn status_label(lang: Lang, status: &str) -> &'static str {
    match status {
        "pending" => lang.t("Sending", "发送中"),
        "sent" => lang.t("Sent", "已发送"),
        "failed" => lang.t("Failed", "失败"),
        _ => lang.t("Unknown", "未知"),
    }
}

#[component]
fn RuleRow(rule: AlertRuleView, can_edit: bool, save: ServerAction<SetAlertRule>) -> impl IntoView {
    let lang = use_lang();
    let enabled = RwSignal::new(rule.enabled);
    let threshold = RwSignal::new(rule.threshold.to_string());
    let renotify = RwSignal::new(rule.renotify_minutes.to_string());
    let name = rule.rule.clone();
    let unit = lang.t(rule.unit.as_str(), rule.unit_zh.as_str()).to_owned();
    let title = lang
        .t(rule.title.as_str(), rule.title_zh.as_str())
        .to_owned();
    let range = format!(
        "{} {}–{} · {} {}",
        lang.t("from", "范围"),
        rule.min,
        rule.max,
        lang.t("default", "默认"),
        rule.default_threshold
    );
    let id = format!("rule-{}", rule.rule);
    view! {
        <tr data-rule=rule.rule.clone()>
            <td><strong>{title}</strong>
                {rule.customized.then(|| view! { <span class="badge small">{lang.t("changed", "已修改")}</span> })}
                <br/><span class="muted small mono">{rule.rule.clone()}</span></td>
            <td>{if can_edit {
                view! { <label class="small"><input type="checkbox" data-test="rule-enabled" bind:checked=enabled/>{lang.t(" On", " 启用")}</label> }.into_any()
            } else {
                view! { <span class=if rule.enabled { "ok" } else { "muted" }>{if rule.enabled { lang.t("On", "启用") } else { lang.t("Off", "停用") }}</span> }.into_any()
            }}</td>
            <td class="nowrap" data-label=lang.t("Threshold", "阈值")>{if can_edit {
                view! { <input id=id.clone() class="narrow-input" inputmode="numeric" data-test="rule-threshold" aria-label=lang.t("Threshold", "阈值") bind:value=threshold/> }.into_any()
            } else {
                view! { <span>{rule.threshold}</span> }.into_any()
            }}
                " " <span class="small">{unit}</span><br/><span class="muted small">{range}</span></td>
            <td class="nowrap" data-label=lang.t("Remind after", "重复提醒")>{if can_edit {
                view! { <input class="narrow-input" inputmode="numeric" data-test="rule-renotify" aria-label=lang.t("Remind after (minutes)", "重复提醒（分钟）") bind:value=renotify/> }.into_any()
            } else {
                view! { <span>{rule.renotify_minutes}</span> }.into_any()
            }}
                " " <span class="small">{lang.t("min", "分钟")}</span></td>
            <td>{can_edit.then(|| view! {
                <button type="button" class="button ghost small" data-test="save-rule" disabled=move || save.pending().get()
                    on:click=move |_| { save.dispatch(SetAlertRule {
                        rule: name.clone(),
                        enabled: enabled.get_untracked(),
                        threshold: threshold.get_untracked(),
                        renotify_minutes: renotify.get_untracked(),
                    }); }>{lang.t("Save", "保存")}</button>
            })}</td>
        </tr>
    }
}

#[component]
fn ChannelRow(
    channel: NotificationChannelView,
    can_edit: bool,
    change: ServerAction<ChangeNotificationChannel>,
    test: ServerAction<TestNotificationChannel>,
) -> impl IntoView {
    let lang = use_lang();
    let id = channel.id;
    let enabled = channel.enabled;
    let state = match (&channel.last_error, channel.last_error_at, channel.last_sent_at) {
        (Some(e), Some(at), sent) if sent.is_none_or(|s| s < at) => view! {
            <span class="bad small">{format!("{} {}: {e}", lang.t("Failed", "失败"), format_time(at))}</span>
        }.into_any(),
        (_, _, Some(at)) => view! { <span class="ok small">{format!("{} {}", lang.t("Last sent", "最近发送"), format_time(at))}</span> }.into_any(),
        _ => view! { <span class="muted small">{lang.t("Nothing sent yet", "尚未发送")}</span> }.into_any(),
    };
    view! {
        <tr data-channel=channel.name.clone()>
            <td><strong>{channel.name.clone()}</strong><br/><span class="muted small">{kind_label(lang, &channel.kind)}</span>
                <br/><span class="mono small wrap">{channel.summary.clone()}</span></td>
            <td data-test="channel-state"><span class=if enabled { "ok" } else { "bad" }>{if enabled { lang.t("On", "已启用") } else { lang.t("Off", "已停用") }}</span><br/>{state}</td>
            <td class="actions">{can_edit.then(|| view! {
                <button type="button" class="button ghost small" data-test="test-channel" disabled=move || test.pending().get()
                    on:click=move |_| { test.dispatch(TestNotificationChannel { id }); }>{lang.t("Send test notification", "发送测试通知")}</button>
                <button type="button" class="button ghost small" data-test="toggle-channel"
                    on:click=move |_| { change.dispatch(ChangeNotificationChannel { id, change: if enabled { "disable" } else { "enable" }.into() }); }>
                    {if enabled { lang.t("Turn off", "停用") } else { lang.t("Turn on", "启用") }}</button>
                <button type="button" class="button ghost small danger" data-test="delete-channel" on:click=move |_| {
                    if window().confirm_with_message(lang.t("Delete this channel? Notices not sent yet are dropped.", "删除此渠道？尚未发送的通知将被放弃。")).unwrap_or(false) {
                        change.dispatch(ChangeNotificationChannel { id, change: "delete".into() });
                    }
                }>{lang.t("Delete", "删除")}</button>
            })}</td>
        </tr>
    }
}

#[component]
fn NewChannel(create: ServerAction<CreateNotificationChannel>) -> impl IntoView {
    let lang = use_lang();
    let kind = RwSignal::new("wecom_robot".to_owned());
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let host = RwSignal::new(String::new());
    let port = RwSignal::new(String::new());
    let security = RwSignal::new("starttls".to_owned());
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let (problem, set_problem) = signal(None::<(String, String)>);
    let (copied, set_copied) = signal(None::<String>);
    Effect::new(move |_| match create.value().get() {
        Some(Err(e)) => set_problem.set(Some(crate::pages::form_problem(lang, &e))),
        Some(Ok(_)) => {
            set_problem.set(None);
            for s in [name, url, host, port, username, password, from, to] {
                s.set(String::new());
            }
        }
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if name.get_untracked().trim().is_empty() {
            set_problem.set(Some((
                "name".into(),
                lang.t("Give the channel a name.", "请填写渠道名称。")
                    .into(),
            )));
            return;
        }
        set_problem.set(None);
        create.dispatch(CreateNotificationChannel {
            form: ChannelForm {
                kind: kind.get_untracked(),
                name: name.get_untracked(),
                url: url.get_untracked(),
                host: host.get_untracked(),
                port: port.get_untracked(),
                security: security.get_untracked(),
                username: username.get_untracked(),
                password: password.get_untracked(),
                from: from.get_untracked(),
                to: to.get_untracked(),
            },
        });
    };
    view! {
        <section class="card">
            <h2>{lang.t("Add a channel", "添加通知渠道")}</h2>
            <form class="form" on:submit=submit novalidate data-test="new-channel">
                <label for="channel-kind">{lang.t("Kind", "类型")}</label>
                <select id="channel-kind" bind:value=kind data-test="channel-kind">
                    <option value="wecom_robot">{kind_label(lang, "wecom_robot")}</option>
                    <option value="webhook">{kind_label(lang, "webhook")}</option>
                    <option value="email">{kind_label(lang, "email")}</option>
                </select>
                <FieldError problem=problem field="kind"/>
                <label for="channel-name">{lang.t("Name", "名称")}</label>
                <input id="channel-name" maxlength="80" bind:value=name placeholder=lang.t("On-call group", "值班群")/>
                <FieldError problem=problem field="name"/>
                // One closure for both sets of fields (a `Show` each cost the page more code); what
                // is typed stays in the signals when the kind changes.
                {move || if kind.get() == "email" {
                    view! {
                        <label for="channel-host">{lang.t("SMTP host", "SMTP 主机")}</label>
                        <input id="channel-host" bind:value=host placeholder="smtp.example.com"/>
                        <FieldError problem=problem field="host"/>
                        <label for="channel-security">{lang.t("Security", "加密方式")}</label>
                        <select id="channel-security" bind:value=security>
                            <option value="starttls">"STARTTLS (587)"</option>
                            <option value="tls">"TLS (465)"</option>
                            <option value="none">{lang.t("None (a relay on your network)", "无（内网中继）")}</option>
                        </select>
                        <FieldError problem=problem field="security"/>
                        <label for="channel-port">{lang.t("Port (empty: the usual one)", "端口（留空：默认）")}</label>
                        <input id="channel-port" inputmode="numeric" bind:value=port/>
                        <FieldError problem=problem field="port"/>
                        <label for="channel-username">{lang.t("User name (optional)", "用户名（可选）")}</label>
                        <input id="channel-username" autocomplete="off" bind:value=username/>
                        <FieldError problem=problem field="username"/>
                        <label for="channel-password">{lang.t("Password", "密码")}</label>
                        <input id="channel-password" type="password" autocomplete="new-password" bind:value=password/>
                        <FieldError problem=problem field="password"/>
                        <label for="channel-from">{lang.t("From", "发件人")}</label>
                        <input id="channel-from" bind:value=from placeholder="wxhub <alerts@example.com>"/>
                        <FieldError problem=problem field="from"/>
                        <label for="channel-to">{lang.t("To (up to 10, separated by commas)", "收件人（最多 10 个，逗号分隔）")}</label>
                        <input id="channel-to" bind:value=to placeholder="oncall@example.com"/>
                        <FieldError problem=problem field="to"/>
                    }.into_any()
                } else {
                    view! {
                        <label for="channel-url">{move || if kind.get() == "wecom_robot" { lang.t("Robot webhook URL", "机器人 Webhook 地址") } else { lang.t("URL", "URL") }}</label>
                        <input id="channel-url" type="url" maxlength="2048" bind:value=url
                            placeholder=move || if kind.get() == "wecom_robot" { "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…" } else { "https://example.com/wxhub-alerts" }/>
                        <FieldError problem=problem field="url"/>
                    }.into_any()
                }}
                <FieldError problem=problem field=""/>
                <button type="submit" class="button primary" data-test="create-channel" disabled=move || create.pending().get()>{lang.t("Add channel", "添加渠道")}</button>
            </form>
            {move || create.value().get().and_then(|r| r.ok()).and_then(|c| c.secret).map(|secret| {
                let copy = secret.clone();
                view! {
                    <div class="notice" role="status" data-test="channel-secret">
                        <p><strong>{lang.t("Copy the signing secret now; it will not be shown again. Verify each notice's webhook-signature with it (Standard Webhooks).", "请立即复制签名密钥，之后不会再显示。用它校验每条通知的 webhook-signature（Standard Webhooks）。")}</strong></p>
                        <p><code class="secret">{secret}</code></p>
                        <button type="button" class="button small" on:click=move |_| copy_to_clipboard(copy.clone(), set_copied)>{lang.t("Copy", "复制")}</button>
                        {move || copied.get().map(|c| view! {
                            <span class="small">{if c.is_empty() { lang.t(" Could not copy; select it by hand.", " 无法复制，请手动选中。") } else { lang.t(" Copied.", " 已复制。") }}</span>
                        })}
                    </div>
                }
            })}
        </section>
    }
}

/// The two halves of the page around the new-channel form.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Half {
    /// What fires, the outcome of the last action, the channels.
    Top,
    /// The rules and the newest notifications.
    Bottom,
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let lang = use_lang();
    let actions = AlertActions {
        save: ServerAction::new(),
        create: ServerAction::new(),
        change: ServerAction::new(),
        test: ServerAction::new(),
    };
    let can_write = expect_context::<crate::model::SessionUser>()
        .role
        .can_write();
    let page = page_resource(
        move || {
            (
                actions.save.version().get(),
                actions.create.version().get(),
                actions.change.version().get(),
                actions.test.version().get(),
            )
        },
        |_| alerts(),
    );
    view! {
        <Title text=lang.t("Alerts", "告警")/>
        <h1>{lang.t("Alerts", "告警")}</h1>
        {half(page, actions, Half::Top)}
        // The form lives outside the page's data, so a change elsewhere (a rule saved, a channel
        // tested) re-reads the data without clearing what is half typed here.
        {can_write.then(|| view! { <NewChannel create=actions.create/> })}
        {half(page, actions, Half::Bottom)}
    }
}

/// What the page's buttons do.
#[derive(Clone, Copy)]
struct AlertActions {
    save: ServerAction<SetAlertRule>,
    create: ServerAction<CreateNotificationChannel>,
    change: ServerAction<ChangeNotificationChannel>,
    test: ServerAction<TestNotificationChannel>,
}

/// One half of the page's data. Both halves are this one function (one `Transition` type rather
/// than two), which keeps the page's wasm smaller.
fn half(
    page: PageResource<Result<AlertsView, AppError>>,
    actions: AlertActions,
    half: Half,
) -> impl IntoView {
    let lang = use_lang();
    let AlertActions {
        save, change, test, ..
    } = actions;
    view! {
        <Transition fallback=crate::pages::loading>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                    Ok(v) if half == Half::Top => {
                        let can_edit = v.can_edit;
                        let intro = if v.platform {
                            lang.t("The platform's alerts: every tenant's conditions and the platform's own (tickets, component tokens, the database), under the thresholds below. Tenants set their own for what they are told.",
                                "平台告警：覆盖所有租户的情况以及平台自身（ticket、第三方平台令牌、数据库），按下方阈值判断。租户可为自己接收的告警另设阈值。")
                        } else {
                            lang.t("Your tenant's alerts: conditions of your accounts, components and webhooks, under your own thresholds, sent to your own channels.",
                                "本租户的告警：你的账号、第三方平台和 Webhook 的情况，按你自己的阈值判断，发送到你自己的渠道。")
                        };
                        view! {
                            <p class="muted">{intro}</p>
                            <section class="card" data-test="firing">
                                <h2>{lang.t("Firing now", "正在告警")}</h2>
                                {if v.firing.is_empty() {
                                    view! { <p class="muted" data-test="nothing-firing">{lang.t("Nothing is firing.", "当前没有告警。")}</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="alert-list">
                                            {v.firing.into_iter().map(|f| view! {
                                                <li data-rule=f.rule.clone()>
                                                    <strong>{lang.t(f.title.as_str(), f.title_zh.as_str()).to_owned()}</strong>
                                                    " · " <span class="muted small">{format!("{} {}", lang.t("since", "开始于"), format_time(f.firing_since))}</span>
                                                    <br/>{lang.t(f.message.as_str(), f.message_zh.as_str()).to_owned()}
                                                </li>
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            </section>
                            {move || test.value().get().map(|r| match r {
                                Ok(t) if t.sent => view! { <p class="notice" role="status" data-test="test-result">{lang.t("Test notification sent.", "测试通知已发送。")}</p> }.into_any(),
                                Ok(t) => view! { <p class="error" role="alert" data-test="test-result">{format!("{} {}", lang.t("The test notification failed:", "测试通知发送失败："), t.error.unwrap_or_default())}</p> }.into_any(),
                                Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                            })}
                            {move || [change.value().get().and_then(Result::err), save.value().get().and_then(Result::err)]
                                .into_iter().flatten().next()
                                .map(|e| view! { <p class="error" role="alert" data-test="alerts-error">{e.message(lang)}</p> })}
                            <section class="card">
                                <h2>{lang.t("Channels", "通知渠道")}</h2>
                                {if v.channels.is_empty() {
                                    view! { <p class="muted" data-test="no-channels">{lang.t("No channels yet: nobody is told when something fires.", "还没有渠道：告警时不会通知任何人。")}</p> }.into_any()
                                } else {
                                    view! {
                                        <div class="table-wrap"><table class="table wide-table stack-table" data-test="channels">
                                            <thead><tr><th>{lang.t("Channel", "渠道")}</th><th>{lang.t("State", "状态")}</th><th></th></tr></thead>
                                            <tbody>{v.channels.into_iter().map(|c| view! { <ChannelRow channel=c can_edit=can_edit change=change test=test/> }).collect_view()}</tbody>
                                        </table></div>
                                    }.into_any()
                                }}
                            </section>
                        }.into_any()
                    }
                    Ok(v) => {
                        let can_edit = v.can_edit;
                        view! {
                            <section class="card">
                                <h2>{lang.t("Rules", "规则")}</h2>
                                <p class="muted small">{lang.t("A condition is announced when it starts, again after the quiet period while it lasts (0: never), and when it ends.",
                                    "情况出现时通知一次，持续期间每隔“重复提醒”分钟再次通知（0 表示不再提醒），恢复时也会通知。")}</p>
                                {move || save.value().get().and_then(Result::ok).map(|_| view! { <p class="notice" role="status" data-test="rule-saved">{lang.t("Saved.", "已保存。")}</p> })}
                                <div class="table-wrap"><table class="table wide-table stack-table" data-test="rules">
                                    <thead><tr><th>{lang.t("Rule", "规则")}</th><th>{lang.t("On", "启用")}</th><th>{lang.t("Threshold", "阈值")}</th><th>{lang.t("Remind after", "重复提醒")}</th><th></th></tr></thead>
                                    <tbody>{v.rules.into_iter().map(|r| view! { <RuleRow rule=r can_edit=can_edit save=save/> }).collect_view()}</tbody>
                                </table></div>
                            </section>
                            <section class="card">
                                <h2>{lang.t("Recent notifications", "最近的通知")}</h2>
                                {if v.notifications.is_empty() {
                                    view! { <p class="muted" data-test="no-notifications">{lang.t("None yet.", "还没有通知。")}</p> }.into_any()
                                } else {
                                    view! {
                                        <div class="table-wrap"><table class="table wide-table stack-table" data-test="notifications">
                                            <thead><tr><th>{lang.t("When", "时间")}</th><th>{lang.t("Alert", "告警")}</th><th>{lang.t("Channel", "渠道")}</th><th>{lang.t("Status", "状态")}</th></tr></thead>
                                            <tbody>{v.notifications.into_iter().map(|n| view! {
                                                <tr data-status=n.status.clone()>
                                                    <td class="nowrap">{format_time(n.created_at)}</td>
                                                    <td>{event_label(lang, &n.event)} " · " {lang.t(n.title.as_str(), n.title_zh.as_str()).to_owned()}<br/><span class="muted small mono">{n.subject.clone()}</span></td>
                                                    <td>{n.channel_name.clone()}</td>
                                                    <td class=format!("notification-{}", n.status)>{status_label(lang, &n.status)}
                                                        <span class="muted small">{format!(" · {} {}", n.attempts, lang.t("attempts", "次尝试"))}</span>
                                                        {n.last_error.clone().map(|e| view! { <br/><span class="small">{e}</span> })}</td>
                                                </tr>
                                            }).collect_view()}</tbody>
                                        </table></div>
                                    }.into_any()
                                }}
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
