//! Components: the tenant's own third-party platforms (add, edit; secrets write-only and shown
//! masked), the shared ones it may use, the exact callback URLs to paste into WeChat's console,
//! and a connectivity check.

use leptos::prelude::*;

use crate::page_data::page_resource;
use leptos_meta::Title;

use crate::api::{component_import, components, CheckComponent, SaveComponent, StartImport};
use crate::dto::{ComponentForm, ComponentView, ImportView};
use crate::error::AppError;
use crate::i18n::{format_duration, format_time, use_lang, Lang};
use crate::model::SessionUser;
use crate::pages::links::copy_to_clipboard;
use crate::pages::FieldError;

const MASK: &str = "••••••••••••";

#[component]
pub fn ComponentsPage() -> impl IntoView {
    let lang = use_lang();
    let user = expect_context::<SessionUser>();
    // Platform staff manage the shared components here (admins edit, auditors read); a tenant's
    // users see their own and the shared ones, and edit only their own.
    let staff = user.tenant.is_none();
    let can_write = if staff {
        user.role == crate::model::Role::PlatformAdmin
    } else {
        user.role.can_write()
    };
    let save = ServerAction::<SaveComponent>::new();
    let check = ServerAction::<CheckComponent>::new();
    let list = page_resource(move || save.version().get(), |_| components());
    // The component being edited (None: the form adds a new one).
    let editing = RwSignal::new(None::<ComponentView>);
    let (copied, set_copied) = signal(None::<String>);
    // The component whose check result is shown.
    let checked = RwSignal::new(None::<i64>);
    view! {
        <Title text=if staff { lang.t("Shared components", "共享第三方平台") } else { lang.t("Components", "第三方平台") }/>
        <h1>{if staff { lang.t("Shared components", "共享第三方平台") } else { lang.t("Components", "第三方平台") }}</h1>
        <p class="muted">{lang.t("A component is a third-party platform registered on WeChat's Open Platform. Paste its two callback URLs into WeChat's console; wxhub does the rest.",
            "第三方平台需在微信开放平台登记。把下面的两个回调 URL 填入微信开放平台，其余交给 wxhub。")}</p>
        <Show when=move || copied.get().is_some()>
            <p class="notice" role="status" data-test="copied">{move || if copied.get().is_some_and(|c| !c.is_empty()) { lang.t("Copied to the clipboard.", "已复制到剪贴板。") } else { lang.t("Could not copy; select it by hand.", "无法复制，请手动选中。") }}</p>
        </Show>
        {can_write.then(|| view! { <ComponentEditor save editing/> })}
        <Suspense fallback=crate::pages::loading>
            {move || Suspend::new(async move {
                let list = match list.await { Ok(l) => l, Err(e) => return view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any() };
                if list.is_empty() {
                    return view! { <section class="card empty"><p class="muted">{lang.t("No component yet.", "还没有第三方平台。")}</p></section> }.into_any();
                }
                list.into_iter().map(|c| {
                    let id = c.id;
                    let for_edit = c.clone();
                    let notify = c.notify_url.clone();
                    let message = c.message_url.clone();
                    let editable = can_write && c.shared == staff;
                    view! {
                        <section class="card component" data-component=c.appid.clone()>
                            <div class="card-head">
                                <h2>
                                    {if c.name.is_empty() { c.appid.clone() } else { c.name.clone() }}
                                    {c.shared.then(|| view! { <span class="badge">{lang.t("shared by the platform", "平台共享")}</span> })}
                                    {(!c.active).then(|| view! { <span class="badge">{lang.t("disabled", "已停用")}</span> })}
                                </h2>
                                <div>
                                    <button type="button" class="button ghost small" data-test="check-component"
                                        on:click=move |_| { checked.set(Some(id)); check.dispatch(CheckComponent { id }); }>
                                        {lang.t("Check connectivity", "检查连通性")}
                                    </button>
                                    {editable.then(|| view! {
                                        <button type="button" class="button ghost small" data-test="edit-component"
                                            on:click=move |_| editing.set(Some(for_edit.clone()))>
                                            {lang.t("Edit", "编辑")}
                                        </button>
                                    })}
                                </div>
                            </div>
                            <dl class="facts">
                                <dt>"AppID"</dt><dd class="mono">{c.appid.clone()}</dd>
                                {(!c.shared).then(|| view! {
                                    <dt>{lang.t("Secrets", "密钥")}</dt>
                                    <dd class="mono muted" data-test="masked">{format!("AppSecret {MASK} · Token {MASK} · EncodingAESKey {MASK}")}</dd>
                                })}
                                <dt>{lang.t("Authorization-event URL", "授权事件接收 URL")}</dt>
                                <dd>
                                    <code data-test="notify-url">{c.notify_url.clone()}</code>
                                    " " <button type="button" class="button ghost small" on:click=move |_| copy_to_clipboard(notify.clone(), set_copied)>{lang.t("Copy", "复制")}</button>
                                </dd>
                                <dt>{lang.t("Message URL", "消息与事件接收 URL")}</dt>
                                <dd>
                                    <code data-test="message-url">{c.message_url.clone()}</code>
                                    " " <button type="button" class="button ghost small" on:click=move |_| copy_to_clipboard(message.clone(), set_copied)>{lang.t("Copy", "复制")}</button>
                                    <div class="muted small">{lang.t("WeChat posts the accounts' messages and events here; wxhub stores them and delivers them to your webhooks.", "微信将授权账号的消息和事件推送到这里；wxhub 保存并投递到你的 Webhook。")}</div>
                                </dd>
                                <dt>{lang.t("Release test (全网发布)", "全网发布检测")}</dt>
                                <dd data-test="release-test" class=match c.release_test_reply.as_deref() { Some("done") => "ok", Some("dead") => "bad", _ => "" }>
                                    {match c.release_test_seen_at {
                                        None => lang.t("no test traffic seen yet", "尚未收到检测消息").to_owned(),
                                        Some(at) => format!("{} {}", lang.t("test accounts last wrote", "检测账号最近发消息于"), format_time(at)),
                                    }}
                                    {c.release_test_reply.clone().map(|status| {
                                        let when = c.release_test_reply_at.map(format_time).unwrap_or_default();
                                        let text = match status.as_str() {
                                            "done" => format!("{} {when}", lang.t("; customer-service reply sent", "；客服消息已发送")),
                                            "dead" => format!("{} {when}: {}", lang.t("; customer-service reply failed", "；客服消息发送失败"), c.release_test_reply_error.clone().unwrap_or_default()),
                                            _ => lang.t("; customer-service reply in progress", "；客服消息发送中").to_owned(),
                                        };
                                        view! { <span>{text}</span> }
                                    })}
                                </dd>
                                <dt>{lang.t("Ticket", "票据")}</dt>
                                <dd class=match c.ticket_age_ms { Some(a) if a <= 20 * 60_000 => "ok", Some(_) => "warn", None => "bad" }>
                                    {c.ticket_age_ms.map_or_else(|| lang.t("none received yet", "尚未收到").to_owned(), |a| format!("{} {}", format_duration(lang, a), lang.t("ago", "前")))}
                                </dd>
                                <dt>{lang.t("Token", "令牌")}</dt>
                                <dd class=match c.token_expires_in_ms { Some(t) if t > 0 => "ok", _ => "bad" }>
                                    {c.token_expires_in_ms.map_or_else(|| lang.t("none yet", "尚未获取").to_owned(), |t| if t > 0 { format!("{} {}", lang.t("valid for", "剩余"), format_duration(lang, t)) } else { lang.t("expired", "已过期").to_owned() })}
                                </dd>
                            </dl>
                            <ImportPanel component_id=id can_import=editable && c.active initial=c.import.clone()/>
                            {move || {
                                if checked.get() != Some(id) {
                                    return None;
                                }
                                if check.pending().get() {
                                    return Some(view! { <p class="muted" data-test="checking">{lang.t("Checking…", "检查中…")}</p> }.into_any());
                                }
                                check.value().get().map(|r| match r {
                                    Ok(steps) => view! {
                                        <ul class="checks" data-test="check-result">
                                            {steps.into_iter().map(|s| view! {
                                                <li class=if s.ok { "ok" } else { "bad" }>
                                                    {if s.ok { "✓ " } else { "✗ " }}
                                                    <strong>{lang.t(&s.en, &s.zh).to_owned()}</strong>
                                                    " — " {lang.t(&s.detail_en, &s.detail_zh).to_owned()}
                                                </li>
                                            }).collect_view()}
                                        </ul>
                                    }.into_any(),
                                    Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                                })
                            }}
                        </section>
                    }
                }).collect_view().into_any()
            })}
        </Suspense>
    }.into_any()
}

#[component]
fn ComponentEditor(
    save: ServerAction<SaveComponent>,
    editing: RwSignal<Option<ComponentView>>,
) -> impl IntoView {
    let lang = use_lang();
    let appid = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let appsecret = RwSignal::new(String::new());
    let aes = RwSignal::new(String::new());
    let (problem, set_problem) = signal(None::<(String, String)>);
    // Editing fills the form with the public parts; secrets stay empty ("keep").
    Effect::new(move |_| {
        let current = editing.get();
        appid.set(
            current
                .as_ref()
                .map(|c| c.appid.clone())
                .unwrap_or_default(),
        );
        name.set(current.as_ref().map(|c| c.name.clone()).unwrap_or_default());
        token.set(String::new());
        appsecret.set(String::new());
        aes.set(String::new());
        set_problem.set(None);
    });
    Effect::new(move |_| match save.value().get() {
        Some(Err(e)) => set_problem.set(Some(match &e {
            AppError::Invalid { field, .. } => (field.clone(), e.message(lang)),
            other => (String::new(), other.message(lang)),
        })),
        Some(Ok(_)) => editing.set(None),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = ComponentForm {
            id: editing
                .get_untracked()
                .map(|c| c.id.to_string())
                .unwrap_or_default(),
            appid: appid.get_untracked(),
            name: name.get_untracked(),
            token: token.get_untracked(),
            appsecret: appsecret.get_untracked(),
            encoding_aes_key: aes.get_untracked(),
        };
        match crate::validate::component_form(&form) {
            Ok(_) => {
                set_problem.set(None);
                save.dispatch(SaveComponent { form });
            }
            Err((field, en, zh)) => {
                set_problem.set(Some((field.to_owned(), lang.t(&en, &zh).to_owned())))
            }
        }
    };
    let keep = move || {
        if editing.get().is_some() {
            format!("{MASK} ({})", lang.t("unchanged", "不修改"))
        } else {
            String::new()
        }
    };
    let is_edit = move || editing.get().is_some();
    view! {
        <section class="card">
            <h2>{move || if is_edit() { lang.t("Edit component", "编辑第三方平台") } else { lang.t("Add your own component", "添加自有第三方平台") }}</h2>
            <form class="form grid" on:submit=submit novalidate data-test="component-form" autocomplete="off">
                <label for="c-appid">"AppID"</label>
                <div><input id="c-appid" maxlength="18" bind:value=appid prop:readonly=is_edit placeholder="wx…"/><FieldError problem field="appid"/></div>
                <label for="c-name">{lang.t("Name", "名称")}</label>
                <div><input id="c-name" maxlength="100" bind:value=name/><FieldError problem field="name"/></div>
                <label for="c-secret">"AppSecret"</label>
                <div><input id="c-secret" type="password" autocomplete="new-password" maxlength="32" bind:value=appsecret placeholder=keep/><FieldError problem field="appsecret"/></div>
                <label for="c-token">{lang.t("Message token", "消息校验 Token")}</label>
                <div><input id="c-token" type="password" autocomplete="new-password" maxlength="32" bind:value=token placeholder=keep/><FieldError problem field="token"/></div>
                <label for="c-aes">"EncodingAESKey"</label>
                <div>
                    <input id="c-aes" type="password" autocomplete="new-password" maxlength="43" bind:value=aes placeholder=keep/><FieldError problem field="encoding_aes_key"/>
                    <div class="muted small">{lang.t("A new key keeps the old one for messages already on their way.", "更换后，旧 Key 仍可解密途中的消息。")}</div>
                </div>
                <div></div>
                <div>
                    <button type="submit" class="button primary" data-test="save-component" disabled=move || save.pending().get()>
                        {move || if is_edit() { lang.t("Save", "保存") } else { lang.t("Add component", "添加") }}
                    </button>
                    <Show when=is_edit>
                        <button type="button" class="button ghost" on:click=move |_| editing.set(None)>{lang.t("Cancel", "取消")}</button>
                    </Show>
                    {move || problem.get().filter(|(f, _)| f.is_empty() || f == "request" || f == "id").map(|(_, m)| view! { <p class="error" role="alert">{m}</p> })}
                </div>
            </form>
            {move || save.value().get().and_then(|r| r.ok()).map(|c| view! {
                <p class="notice" role="status" data-test="component-saved">{match lang { Lang::En => format!("Saved {}.", c.appid), Lang::Zh => format!("已保存 {}。", c.appid) }}</p>
            })}
        </section>
    }
}

/// The import of a component's existing authorizations: a button to start it and its progress,
/// followed every second and a half while it runs (it runs on the server and survives restarts,
/// so leaving the page stops nothing).
#[component]
fn ImportPanel(component_id: i64, can_import: bool, initial: Option<ImportView>) -> impl IntoView {
    let lang = use_lang();
    let state = RwSignal::new(initial);
    let start = ServerAction::<StartImport>::new();
    Effect::new(move |_| {
        if let Some(Ok(import)) = start.value().get() {
            state.set(Some(import));
        }
    });
    // While it runs, read it again shortly after every change.
    Effect::new(move |_| {
        let running = state.with(|s| s.as_ref().is_some_and(|i| i.status == "running"));
        if running {
            set_timeout(
                move || {
                    leptos::task::spawn_local(async move {
                        if let Ok(now) = component_import(component_id).await {
                            state.set(now);
                        }
                    });
                },
                std::time::Duration::from_millis(1500),
            );
        }
    });
    let running = move || state.with(|s| s.as_ref().is_some_and(|i| i.status == "running"));
    view! {
        <div class="import" data-test="import">
            <h3>{lang.t("Existing authorizations", "已有授权")}</h3>
            <p class="muted small">{lang.t(
                "Accounts that authorized this component before wxhub (or outside its links) are read from WeChat's list, with their refresh tokens, and kept fresh from then on. Safe to repeat: accounts wxhub holds already keep their tokens.",
                "在 wxhub 之前（或不经其授权链接）授权本平台的账号，可从微信的授权列表读取（含刷新令牌），此后持续刷新。可重复执行：wxhub 已有的账号保留其令牌。")}</p>
            {move || state.get().map(|i| {
                let total = i.total.map(|t| t.to_string()).unwrap_or_else(|| "…".into());
                let (class, word) = match i.status.as_str() {
                    "running" => ("", lang.t("Importing", "导入中")),
                    "done" => ("ok", lang.t("Imported", "已完成")),
                    _ => ("bad", lang.t("Failed", "失败")),
                };
                let percent = match i.total {
                    Some(t) if t > 0 => (i.read * 100 / t).min(100),
                    Some(_) => 100,
                    None => 0,
                };
                view! {
                    <div class="import-progress" data-test="import-progress" data-status=i.status.clone()>
                        <p><strong class=class>{word}</strong>{format!(" · {} / {total}", i.read)}
                            <span class="muted small">{format!(" · {} {} · {}", lang.t("started by", "发起人"), i.started_by, format_time(i.started_at))}</span></p>
                        <progress max="100" value=percent.to_string()></progress>
                        <p class="small" data-test="import-counts">{match lang {
                            Lang::En => format!("{} new · {} authorized again · {} already held · {} failed", i.imported, i.updated, i.unchanged, i.failed),
                            Lang::Zh => format!("新增 {} · 重新授权 {} · 已有 {} · 失败 {}", i.imported, i.updated, i.unchanged, i.failed),
                        }}</p>
                        {i.last_error.clone().map(|e| view! { <p class="small warn" data-test="import-error">{lang.t("WeChat said: ", "微信返回：")}{e}</p> })}
                    </div>
                }
            })}
            {move || start.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.message(lang)}</p> })}
            {can_import.then(|| view! {
                <button type="button" class="button ghost small" data-test="start-import"
                    disabled=move || running() || start.pending().get()
                    on:click=move |_| { start.dispatch(StartImport { component_id }); }>
                    {move || if state.with(|s| s.is_some()) { lang.t("Import again", "重新导入") } else { lang.t("Import existing authorizations", "导入已有授权") }}
                </button>
            })}
        </div>
    }
}
