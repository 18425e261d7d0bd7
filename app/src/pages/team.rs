//! API keys (create: the key is shown once; list with last use; revoke) and the tenant's users
//! (add, disable or enable, change role). Viewers see both read-only.

use leptos::prelude::*;

use crate::page_data::page_resource;
use leptos_meta::Title;

use crate::api::{
    api_keys, users, CreateApiKey, CreateUser, RevokeApiKey, SetApiKeyScopes, SetUserActive,
    SetUserRole,
};
use crate::dto::NewUserForm;
use crate::i18n::{format_time, use_lang};
use crate::model::{ApiScope, Role, SessionUser};
use crate::pages::console::role_label;
use crate::pages::links::copy_to_clipboard;
use crate::pages::FieldError;

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let lang = use_lang();
    let user = expect_context::<SessionUser>();
    let can_write = user.role.can_write();
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let set_scopes = ServerAction::<SetApiKeyScopes>::new();
    let list = page_resource(
        move || {
            (
                create.version().get(),
                revoke.version().get(),
                set_scopes.version().get(),
            )
        },
        |_| api_keys(),
    );
    let name = RwSignal::new(String::new());
    let new_scopes = RwSignal::new(ApiScope::ALL.to_vec());
    let (problem, set_problem) = signal(None::<String>);
    let (copied, set_copied) = signal(None::<String>);
    Effect::new(move |_| {
        if let Some(Err(e)) = create.value().get() {
            set_problem.set(Some(crate::pages::form_problem(lang, &e).1));
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let scopes = new_scopes.get_untracked();
        let names: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
        match crate::validate::api_key_name(&name.get_untracked())
            .and_then(|valid| crate::validate::api_key_scopes(&names).map(|_| valid))
        {
            Ok(valid) => {
                set_problem.set(None);
                create.dispatch(CreateApiKey {
                    name: valid,
                    scopes: ApiScope::join(&scopes),
                });
            }
            Err((_, en, zh)) => set_problem.set(Some(lang.t(&en, &zh).to_owned())),
        }
    };
    view! {
        <Title text=lang.t("API keys", "API 密钥")/>
        <h1>{lang.t("API keys", "API 密钥")}</h1>
        <p class="muted">{lang.t("Your own systems use a key to fetch tokens from the tenant API (Authorization: Bearer <key>).",
            "你的业务系统使用 API 密钥从租户 API 获取令牌（Authorization: Bearer <密钥>）。")}</p>
        {can_write.then(|| view! {
            <section class="card">
                <h2>{lang.t("New key", "新建密钥")}</h2>
                <form class="form inline-form" on:submit=submit novalidate data-test="new-key">
                    <label for="key-name">{lang.t("Name", "名称")}</label>
                    <input id="key-name" maxlength="100" bind:value=name placeholder=lang.t("e.g. billing service", "例如：订单系统")/>
                    <button type="submit" class="button primary" data-test="create-key" disabled=move || create.pending().get()>{lang.t("Create key", "创建密钥")}</button>
                    <ScopeChoices chosen=new_scopes prefix="new"/>
                </form>
                {move || problem.get().map(|m| view! { <p class="field-error" role="alert" data-field="name">{m}</p> })}
                {move || create.value().get().and_then(|r| r.ok()).map(|created| {
                    let secret = created.secret.clone();
                    view! {
                        <div class="notice" role="status" data-test="new-key-secret">
                            <p><strong>{lang.t("Copy this key now; it will not be shown again.", "请立即复制此密钥，之后不会再显示。")}</strong></p>
                            <p><code class="secret" data-test="secret">{created.secret.clone()}</code></p>
                            <button type="button" class="button small" on:click=move |_| copy_to_clipboard(secret.clone(), set_copied)>{lang.t("Copy", "复制")}</button>
                            <Show when=move || copied.get().is_some()>
                                <span class="small">{move || if copied.get().is_some_and(|c| !c.is_empty()) { lang.t(" Copied.", " 已复制。") } else { lang.t(" Could not copy; select it by hand.", " 无法复制，请手动选中。") }}</span>
                            </Show>
                        </div>
                    }
                })}
            </section>
        })}
        <section class="card">
            <h2>{lang.t("Keys", "密钥")}</h2>
            {move || revoke.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.message(lang)}</p> })}
            {move || set_scopes.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert" data-test="scopes-error">{e.message(lang)}</p> })}
            <Suspense fallback=crate::pages::loading>
                {move || Suspend::new(async move {
                    match list.await {
                        Ok(keys) if keys.is_empty() => view! { <p class="muted" data-test="no-keys">{lang.t("No keys yet.", "还没有密钥。")}</p> }.into_any(),
                        Ok(keys) => view! {
                            <div class="table-wrap"><table class="table" data-test="keys">
                                <thead><tr>
                                    <th>{lang.t("Name", "名称")}</th><th>{lang.t("Key", "密钥")}</th><th>{lang.t("Scopes", "权限范围")}</th><th>{lang.t("Created", "创建时间")}</th>
                                    <th>{lang.t("Last used", "最近使用")}</th><th>{lang.t("Status", "状态")}</th><th></th>
                                </tr></thead>
                                <tbody>
                                    {keys.into_iter().map(|k| {
                                        let id = k.id;
                                        let live = k.revoked_at.is_none();
                                        let chosen = RwSignal::new(k.scopes.clone());
                                        let shown = k.scopes.clone();
                                        view! {
                                            <tr data-key=k.prefix.clone()>
                                                <td>{k.name.clone()}</td>
                                                <td><code>{format!("{}…", k.prefix)}</code></td>
                                                <td data-test="key-scopes">
                                                    {if can_write && live {
                                                        view! {
                                                            <details class="scope-edit">
                                                                <summary>{scope_summary(&shown)}</summary>
                                                                <ScopeChoices chosen=chosen prefix=format!("key-{id}")/>
                                                                <button type="button" class="button small" data-test="save-scopes"
                                                                    disabled=move || set_scopes.pending().get() || chosen.get().is_empty()
                                                                    on:click=move |_| { set_scopes.dispatch(SetApiKeyScopes { id, scopes: ApiScope::join(&chosen.get_untracked()) }); }>
                                                                    {lang.t("Save scopes", "保存权限范围")}
                                                                </button>
                                                            </details>
                                                        }.into_any()
                                                    } else {
                                                        view! { <span>{scope_summary(&shown)}</span> }.into_any()
                                                    }}
                                                </td>
                                                <td class="nowrap">{format_time(k.created_at)}</td>
                                                <td class="nowrap">{k.last_used_at.map_or_else(|| lang.t("never", "从未").to_owned(), format_time)}</td>
                                                <td class=if live { "ok" } else { "bad" } data-test="key-state">{if live { lang.t("Active", "有效") } else { lang.t("Revoked", "已撤销") }}</td>
                                                <td class="actions">
                                                    {(can_write && live).then(|| view! {
                                                        <button type="button" class="button ghost small danger" data-test="revoke-key" on:click=move |_| {
                                                            if window().confirm_with_message(lang.t("Revoke this key? Systems using it stop working at once.", "确定撤销此密钥？使用它的系统将立即无法访问。")).unwrap_or(false) {
                                                                revoke.dispatch(RevokeApiKey { id });
                                                            }
                                                        }>{lang.t("Revoke", "撤销")}</button>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                        }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// A key's scopes in a cell: "all", or their names.
fn scope_summary(scopes: &[ApiScope]) -> String {
    if scopes.len() == ApiScope::ALL.len() {
        "all · 全部".to_owned()
    } else {
        ApiScope::join(scopes).replace(' ', ", ")
    }
}

/// One checkbox per scope, with what it allows.
#[component]
fn ScopeChoices(chosen: RwSignal<Vec<ApiScope>>, #[prop(into)] prefix: String) -> impl IntoView {
    let lang = use_lang();
    view! {
        <fieldset class="scope-choices" data-test="scopes">
            <legend>{lang.t("Scopes", "权限范围")}</legend>
            {ApiScope::ALL.into_iter().map(|scope| {
                let id = format!("{prefix}-{}", scope.as_str().replace(':', "-"));
                let label_for = id.clone();
                let (en, zh) = scope.describe();
                view! {
                    <label for=label_for class="check">
                        <input type="checkbox" id=id value=scope.as_str()
                            prop:checked=move || chosen.get().contains(&scope)
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                chosen.update(|list| {
                                    list.retain(|s| *s != scope);
                                    if on { list.push(scope); list.sort(); }
                                });
                            }/>
                        <code>{scope.as_str()}</code>" "<span class="muted small">{lang.t(en, zh)}</span>
                    </label>
                }
            }).collect_view()}
        </fieldset>
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let lang = use_lang();
    let me = expect_context::<SessionUser>();
    if me.tenant.is_none() {
        // Staff manage every tenant's users on their own page (its own chunk of the bundle).
        return view! { <leptos_router::components::Redirect path="/platform/users"/> }.into_any();
    }
    let can_write = me.role.can_write();
    let create = ServerAction::<CreateUser>::new();
    let set_active = ServerAction::<SetUserActive>::new();
    let set_role = ServerAction::<SetUserRole>::new();
    let list = page_resource(
        move || {
            (
                create.version().get(),
                set_active.version().get(),
                set_role.version().get(),
            )
        },
        |_| users(),
    );
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("tenant-viewer".to_owned());
    let password = RwSignal::new(String::new());
    let (problem, set_problem) = signal(None::<(String, String)>);
    Effect::new(move |_| {
        if let Some(Err(e)) = create.value().get() {
            set_problem.set(Some(crate::pages::form_problem(lang, &e)));
        } else if let Some(Ok(_)) = create.value().get() {
            email.set(String::new());
            password.set(String::new());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = NewUserForm {
            email: email.get_untracked(),
            role: role.get_untracked(),
            password: password.get_untracked(),
        };
        match crate::validate::user_form(&form) {
            Ok(_) => {
                set_problem.set(None);
                create.dispatch(CreateUser { form });
            }
            Err((field, en, zh)) => {
                set_problem.set(Some((field.to_owned(), lang.t(&en, &zh).to_owned())))
            }
        }
    };
    let change_error = move || {
        set_active
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| set_role.value().get().and_then(|r| r.err()))
            .map(|e| view! { <p class="error" role="alert">{e.message(lang)}</p> })
    };
    view! {
        <Title text=lang.t("Users", "用户")/>
        <h1>{lang.t("Users", "用户")}</h1>
        {can_write.then(|| view! {
            <section class="card">
                <h2>{lang.t("Add a user", "添加用户")}</h2>
                <form class="form grid" on:submit=submit novalidate data-test="new-user">
                    <label for="user-email">{lang.t("Email", "邮箱")}</label>
                    <div><input id="user-email" type="email" maxlength="254" bind:value=email/><FieldError problem field="email"/></div>
                    <label for="user-role">{lang.t("Role", "角色")}</label>
                    <div>
                        <select id="user-role" bind:value=role>
                            <option value="tenant-viewer">{role_label(lang, Role::TenantViewer)}</option>
                            <option value="tenant-admin">{role_label(lang, Role::TenantAdmin)}</option>
                        </select>
                        <FieldError problem field="role"/>
                    </div>
                    <label for="user-password">{lang.t("Initial password", "初始密码")}</label>
                    <div><input id="user-password" type="password" autocomplete="new-password" maxlength="1024" bind:value=password/><FieldError problem field="password"/></div>
                    <div></div>
                    <div>
                        <button type="submit" class="button primary" data-test="create-user" disabled=move || create.pending().get()>{lang.t("Add user", "添加")}</button>
                        {move || problem.get().filter(|(f, _)| f.is_empty() || f == "request").map(|(_, m)| view! { <p class="error" role="alert">{m}</p> })}
                    </div>
                </form>
            </section>
        })}
        <section class="card">
            <h2>{lang.t("People", "成员")}</h2>
            {change_error}
            <Suspense fallback=crate::pages::loading>
                {move || Suspend::new(async move {
                    let list = match list.await { Ok(l) => l, Err(e) => return view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any() };
                    view! {
                        <div class="table-wrap"><table class="table" data-test="users">
                            <thead><tr>
                                <th>{lang.t("Email", "邮箱")}</th><th>{lang.t("Role", "角色")}</th><th>{lang.t("Status", "状态")}</th>
                                <th>{lang.t("Last sign-in", "最近登录")}</th><th></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|u| {
                                    let id = u.id;
                                    let other_role = if u.role == Role::TenantAdmin { Role::TenantViewer } else { Role::TenantAdmin };
                                    let editable = can_write && !u.is_me;
                                    view! {
                                        <tr data-user=u.email.clone()>
                                            <td>{u.email.clone()}{u.is_me.then(|| view! { <span class="badge">{lang.t("you", "我")}</span> })}</td>
                                            <td data-test="user-role">{role_label(lang, u.role)}</td>
                                            <td class=if u.active { "ok" } else { "bad" } data-test="user-state">{if u.active { lang.t("Active", "正常") } else { lang.t("Disabled", "已停用") }}</td>
                                            <td class="nowrap">{u.last_login_at.map_or_else(|| lang.t("never", "从未").to_owned(), format_time)}</td>
                                            <td class="actions">
                                                {editable.then(|| view! {
                                                    <button type="button" class="button ghost small" data-test="toggle-role"
                                                        on:click=move |_| { set_role.dispatch(SetUserRole { id, role: other_role.as_str().to_owned() }); }>
                                                        {match other_role { Role::TenantAdmin => lang.t("Make admin", "设为管理员"), _ => lang.t("Make viewer", "设为只读") }}
                                                    </button>
                                                    <button type="button" class=if u.active { "button ghost small danger" } else { "button ghost small" } data-test="toggle-active"
                                                        on:click=move |_| { set_active.dispatch(SetUserActive { id, active: !u.active }); }>
                                                        {if u.active { lang.t("Disable", "停用") } else { lang.t("Enable", "启用") }}
                                                    </button>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table></div>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }.into_any()
}
