//! Authorization links: create (admins), list, copy, open, revoke. The form is checked in the
//! browser with the same rules the server applies again (`validate::link_form`).

use leptos::prelude::*;

use crate::page_data::page_resource;
use leptos_meta::Title;

use crate::api::{link_components, links, CreateLink, RevokeLink};
use crate::dto::{LinkState, LinkView, NewLinkForm};
use crate::error::AppError;
use crate::i18n::{format_time, use_lang, Lang};
use crate::model::SessionUser;
use crate::pages::FieldError;

pub fn auth_type_label(lang: Lang, t: u8) -> &'static str {
    match t {
        1 => lang.t("Official Account", "公众号"),
        2 => lang.t("Mini Program", "小程序"),
        _ => lang.t("Both", "公众号和小程序"),
    }
}

/// Puts text on the clipboard (browser only); says whether it worked.
pub fn copy_to_clipboard(text: String, done: WriteSignal<Option<String>>) {
    #[cfg(feature = "hydrate")]
    {
        let promise = window().navigator().clipboard().write_text(&text);
        leptos::task::spawn_local(async move {
            let ok = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
            done.set(Some(if ok { text } else { String::new() }));
        });
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (text, done);
    }
}

#[component]
pub fn LinksPage() -> impl IntoView {
    let lang = use_lang();
    let user = expect_context::<SessionUser>();
    let can_write = user.role.can_write();
    let create = ServerAction::<CreateLink>::new();
    let revoke = ServerAction::<RevokeLink>::new();
    let list = page_resource(
        move || (create.version().get(), revoke.version().get()),
        |_| links(),
    );
    let (copied, set_copied) = signal(None::<String>);

    view! {
        <Title text=lang.t("Authorization links", "授权链接")/>
        <h1>{lang.t("Authorization links", "授权链接")}</h1>
        <p class="muted">{lang.t("Share a link with an account owner. They open it, scan the QR code with WeChat (or click through on a computer) and confirm; the account then appears under Accounts.",
            "把链接发给账号管理员：打开后用微信扫码（或在电脑上点击跳转）并确认，账号随即出现在“授权账号”中。")}</p>
        {can_write.then(|| view! { <NewLink create/> })}
        <section class="card">
            <h2>{lang.t("Links", "链接")}</h2>
            <Show when=move || copied.get().is_some()>
                <p class="notice" role="status" data-test="copied">
                    {move || if copied.get().is_some_and(|c| !c.is_empty()) { lang.t("Copied to the clipboard.", "已复制到剪贴板。") } else { lang.t("Could not copy; select the address and copy it by hand.", "无法复制，请手动选中地址复制。") }}
                </p>
            </Show>
            {move || revoke.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.message(lang)}</p> })}
            <Suspense fallback=crate::pages::loading>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(rows) if rows.is_empty() => view! {
                            <p class="muted empty" data-test="no-links">{lang.t("No links yet.", "还没有授权链接。")}</p>
                        }.into_any(),
                        Ok(rows) => view! { <LinkTable rows can_write revoke set_copied/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn LinkTable(
    rows: Vec<LinkView>,
    can_write: bool,
    revoke: ServerAction<RevokeLink>,
    set_copied: WriteSignal<Option<String>>,
) -> impl IntoView {
    let lang = use_lang();
    view! {
        <div class="table-wrap">
        <table class="table" data-test="links">
            <thead><tr>
                <th>{lang.t("Link", "链接")}</th>
                <th>{lang.t("Component", "第三方平台")}</th>
                <th>{lang.t("Accounts", "账号类型")}</th>
                <th>{lang.t("Status", "状态")}</th>
                <th>{lang.t("Authorizations", "授权次数")}</th>
                <th></th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|l| {
                    let (state_class, state_text) = match l.state {
                        LinkState::Active => ("ok", lang.t("Active", "有效")),
                        LinkState::Expired => ("muted", lang.t("Expired", "已过期")),
                        LinkState::Revoked => ("bad", lang.t("Revoked", "已停用")),
                    };
                    let active = l.state == LinkState::Active;
                    let url = l.url.clone();
                    let id = l.id;
                    view! {
                        <tr data-link=l.public_id.clone() data-state=format!("{:?}", l.state).to_lowercase()>
                            <td>
                                <div>{if l.note.is_empty() { lang.t("(no note)", "（无备注）").to_owned() } else { l.note.clone() }}</div>
                                <a class="small mono" href=l.url.clone() target="_blank" rel="noopener" data-test="link-url">{l.url.clone()}</a>
                                <div class="muted small">
                                    {format!("{} {}", lang.t("Created", "创建于"), format_time(l.created_at))}
                                    {l.expires_at.map(|at| format!(" · {} {}", lang.t("expires", "过期于"), format_time(at)))}
                                    {l.biz_appid.clone().map(|b| format!(" · {} {b}", lang.t("only", "仅限")))}
                                </div>
                            </td>
                            <td>
                                {l.component_name.clone()}
                                {l.component_shared.then(|| view! { <span class="badge">{lang.t("shared", "共享")}</span> })}
                            </td>
                            <td>{auth_type_label(lang, l.auth_type)}</td>
                            <td class=state_class data-test="link-state">{state_text}</td>
                            <td>
                                {l.authorizations}
                                {l.last_authorized_at.map(|at| view! { <div class="muted small">{format_time(at)}</div> })}
                            </td>
                            <td class="actions">
                                <button type="button" class="button ghost small" data-test="copy-link"
                                    on:click=move |_| copy_to_clipboard(url.clone(), set_copied)>
                                    {lang.t("Copy", "复制")}
                                </button>
                                {(can_write && active).then(|| view! {
                                    <button type="button" class="button ghost small danger" data-test="revoke-link"
                                        on:click=move |_| {
                                            let sure = window().confirm_with_message(lang.t("Revoke this link? Pages already open stop working.", "确定停用此链接？已打开的页面也将失效。")).unwrap_or(false);
                                            if sure { revoke.dispatch(RevokeLink { id }); }
                                        }>
                                        {lang.t("Revoke", "停用")}
                                    </button>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
}

#[component]
fn NewLink(create: ServerAction<CreateLink>) -> impl IntoView {
    let lang = use_lang();
    let components = page_resource(|| (), |_| link_components());
    let component_id = RwSignal::new(String::new());
    let auth_type = RwSignal::new("3".to_owned());
    let biz_appid = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let expires = RwSignal::new(String::new());
    // (field, message) of the first problem, from the browser's check or the server's.
    let (problem, set_problem) = signal(None::<(String, String)>);
    Effect::new(move |_| {
        if let Some(Err(AppError::Invalid {
            field,
            message,
            message_zh,
        })) = create.value().get()
        {
            set_problem.set(Some((
                field,
                if lang == Lang::Zh {
                    message_zh
                } else {
                    message
                },
            )));
        } else if let Some(Err(e)) = create.value().get() {
            set_problem.set(Some((String::new(), e.message(lang))));
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = NewLinkForm {
            component_id: component_id.get_untracked(),
            auth_type: auth_type.get_untracked(),
            biz_appid: biz_appid.get_untracked(),
            note: note.get_untracked(),
            expires_in_hours: expires.get_untracked(),
        };
        match crate::validate::link_form(&form) {
            Ok(_) => {
                set_problem.set(None);
                create.dispatch(CreateLink { form });
            }
            Err((field, en, zh)) => {
                set_problem.set(Some((field.to_owned(), lang.t(&en, &zh).to_owned())))
            }
        }
    };
    let created = move || create.value().get().and_then(|r| r.ok());
    view! {
        <section class="card">
            <h2>{lang.t("New link", "新建链接")}</h2>
            <form class="form grid" on:submit=submit novalidate data-test="new-link">
                <label for="component_id">{lang.t("Component", "第三方平台")}</label>
                <div>
                    <Suspense fallback=|| view! { <select disabled><option>"…"</option></select> }>
                        {move || Suspend::new(async move {
                            let list = components.await.unwrap_or_default();
                            if component_id.get_untracked().is_empty() {
                                if let Some(first) = list.first() { component_id.set(first.id.to_string()); }
                            }
                            view! {
                                <select id="component_id" name="component_id" bind:value=component_id>
                                    {list.into_iter().map(|c| {
                                        let label = if c.shared { format!("{} ({}) · {}", c.name, c.appid, lang.t("shared", "共享")) } else { format!("{} ({})", c.name, c.appid) };
                                        view! { <option value=c.id.to_string()>{label}</option> }
                                    }).collect_view()}
                                </select>
                            }
                        })}
                    </Suspense>
                    <FieldError problem field="component_id"/>
                </div>
                <label for="auth_type">{lang.t("Account types", "可授权账号")}</label>
                <div>
                    <select id="auth_type" name="auth_type" bind:value=auth_type>
                        <option value="3">{auth_type_label(lang, 3)}</option>
                        <option value="1">{auth_type_label(lang, 1)}</option>
                        <option value="2">{auth_type_label(lang, 2)}</option>
                    </select>
                    <FieldError problem field="auth_type"/>
                </div>
                <label for="biz_appid">{lang.t("Only this account (optional)", "仅限此账号（可选）")}</label>
                <div>
                    <input id="biz_appid" name="biz_appid" placeholder="wx…" maxlength="18" bind:value=biz_appid/>
                    <FieldError problem field="biz_appid"/>
                </div>
                <label for="note">{lang.t("Note", "备注")}</label>
                <div>
                    <input id="note" name="note" maxlength="200" bind:value=note placeholder=lang.t("Who is this for?", "发给谁？")/>
                    <FieldError problem field="note"/>
                </div>
                <label for="expires_in_hours">{lang.t("Expires after (hours, empty = never)", "有效期（小时，留空为永久）")}</label>
                <div>
                    <input id="expires_in_hours" name="expires_in_hours" inputmode="numeric" bind:value=expires/>
                    <FieldError problem field="expires_in_hours"/>
                </div>
                <div></div>
                <div>
                    <button type="submit" class="button primary" data-test="create-link" disabled=move || create.pending().get()>
                        {lang.t("Create link", "创建链接")}
                    </button>
                    {move || problem.get().filter(|(f, _)| f.is_empty() || f == "request").map(|(_, m)| view! { <p class="error" role="alert">{m}</p> })}
                </div>
            </form>
            {move || created().map(|l| view! {
                <p class="notice" role="status" data-test="created-link">
                    {lang.t("Link created: ", "链接已创建：")}<a href=l.url.clone() target="_blank" rel="noopener">{l.url.clone()}</a>
                </p>
            })}
        </section>
    }
}
