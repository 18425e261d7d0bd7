//! Platform staff's pages: tenants (admins create and suspend), users of every tenant, every
//! authorization across tenants, the audit log (filters in the URL, keyset pages, CSV of the
//! filtered view) and one account's timeline. Auditors see the same pages without any control
//! that changes something; the server refuses them anyway.
//!
//! Filters are plain GET forms and pages are plain links, so every view has a stable address that
//! can be shared and works without JavaScript.

use leptos::prelude::*;

use crate::page_data::page_resource;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{
    all_users, audit, authorizations, tenants, timeline, AssignAccount, CreateAnyUser,
    CreateTenant, SetAnyUserActive, SetTenantSuspended,
};
use crate::dto::{
    AccountStatus, AssignAccountForm, AuditQuery, AuditRowView, AuthorizationQuery, FilterChoice,
    NewStaffUserForm, NewTenantForm, UNASSIGNED_TENANT,
};
use crate::error::AppError;
use crate::i18n::{format_time, use_lang, Lang};
use crate::model::{Role, SessionUser};
use crate::pages::authorize::{kind_text, permission_name};
use crate::pages::console::{role_label, status_text};
use crate::pages::encode_component;
use crate::pages::FieldError;
use crate::permissions::PERMISSION_SETS;

fn loading(lang: Lang) -> impl IntoView {
    view! { <p class="loading">{lang.t("Loading…", "加载中…")}</p> }
}

fn failure(lang: Lang, e: &AppError) -> AnyView {
    view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any()
}

/// A query string from (name, value) pairs, leaving out empty values.
fn query_string(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode_component(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn choice_options(choices: &[FilterChoice], any: &'static str) -> impl IntoView {
    let options = choices
        .iter()
        .map(|(value, label)| view! { <option value=value.clone()>{label.clone()}</option> })
        .collect_view();
    view! { <option value="">{any}</option>{options} }
}

// ---- tenants ----

#[component]
pub fn TenantsPage() -> impl IntoView {
    let lang = use_lang();
    let me = expect_context::<SessionUser>();
    if !me.role.is_platform() {
        return view! { <p class="error" role="alert">{AppError::Forbidden.message(lang)}</p> }
            .into_any();
    }
    let is_admin = me.role == Role::PlatformAdmin;
    let create = ServerAction::<CreateTenant>::new();
    let suspend = ServerAction::<SetTenantSuspended>::new();
    let list = page_resource(
        move || (create.version().get(), suspend.version().get()),
        |_| tenants(),
    );
    let slug = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let (problem, set_problem) = signal(None::<(String, String)>);
    Effect::new(move |_| match create.value().get() {
        Some(Err(e)) => set_problem.set(Some(crate::pages::form_problem(lang, &e))),
        Some(Ok(_)) => {
            slug.set(String::new());
            name.set(String::new());
        }
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = NewTenantForm {
            slug: slug.get_untracked(),
            name: name.get_untracked(),
        };
        match crate::validate::tenant_form(&form) {
            Ok(_) => {
                set_problem.set(None);
                create.dispatch(CreateTenant { form });
            }
            Err((field, en, zh)) => {
                set_problem.set(Some((field.to_owned(), lang.t(&en, &zh).to_owned())))
            }
        }
    };
    view! {
        <Title text=lang.t("Tenants", "租户")/>
        <h1>{lang.t("Tenants", "租户")}</h1>
        {is_admin.then(|| view! {
            <section class="card">
                <h2>{lang.t("New tenant", "新建租户")}</h2>
                <form class="form grid" on:submit=submit novalidate data-test="new-tenant">
                    <label for="tenant-slug">{lang.t("Slug", "标识")}</label>
                    <div><input id="tenant-slug" maxlength="40" bind:value=slug placeholder="acme"/><FieldError problem field="slug"/></div>
                    <label for="tenant-name">{lang.t("Name", "名称")}</label>
                    <div><input id="tenant-name" maxlength="100" bind:value=name placeholder=lang.t("Acme Ltd", "某某有限公司")/><FieldError problem field="name"/></div>
                    <div></div>
                    <div>
                        <button type="submit" class="button primary" data-test="create-tenant" disabled=move || create.pending().get()>{lang.t("Create tenant", "创建租户")}</button>
                        {move || problem.get().filter(|(f, _)| f.is_empty()).map(|(_, m)| view! { <p class="error" role="alert">{m}</p> })}
                    </div>
                </form>
            </section>
        })}
        <section class="card">
            {move || suspend.value().get().and_then(|r| r.err()).map(|e| failure(lang, &e))}
            <Suspense fallback=move || loading(lang)>
                {move || Suspend::new(async move {
                    let list = match list.await { Ok(l) => l, Err(e) => return failure(lang, &e) };
                    if list.is_empty() {
                        return view! { <p class="muted" data-test="no-tenants">{lang.t("No tenants yet.", "还没有租户。")}</p> }.into_any();
                    }
                    view! {
                        <div class="table-wrap"><table class="table" data-test="tenants">
                            <thead><tr>
                                <th>{lang.t("Tenant", "租户")}</th><th>{lang.t("Status", "状态")}</th><th>{lang.t("Users", "用户")}</th>
                                <th>{lang.t("Accounts", "授权账号")}</th><th>{lang.t("API keys", "API 密钥")}</th><th>{lang.t("Created", "创建时间")}</th><th></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|t| {
                                    let id = t.id;
                                    let suspended = t.suspended;
                                    let slug = t.slug.clone();
                                    view! {
                                        <tr data-tenant=t.slug.clone()>
                                            <td><strong>{t.name.clone()}</strong><div class="muted small mono">{t.slug.clone()}</div></td>
                                            <td class=if suspended { "bad" } else { "ok" } data-test="tenant-state">{if suspended { lang.t("Suspended", "已暂停") } else { lang.t("Active", "正常") }}</td>
                                            <td>{t.users}</td>
                                            <td><a href=format!("/authorizations?tenant={}", encode_component(&t.slug))>{t.accounts}</a></td>
                                            <td>{t.api_keys}</td>
                                            <td class="nowrap">{format_time(t.created_at)}</td>
                                            <td class="actions">
                                                <a class="button ghost small" href=format!("/audit?tenant={}", encode_component(&t.slug))>{lang.t("Audit log", "审计日志")}</a>
                                                {is_admin.then(|| view! {
                                                    <button type="button" class=if suspended { "button ghost small" } else { "button ghost small danger" } data-test="toggle-tenant"
                                                        on:click=move |_| {
                                                            let ask = if suspended {
                                                                lang.t("Reactivate this tenant?", "确定恢复该租户？").to_owned()
                                                            } else {
                                                                format!("{} {slug}", lang.t("Suspend the tenant? Its users are signed out and its API keys stop working at once:", "确定暂停该租户？其用户将被登出，API 密钥立即失效："))
                                                            };
                                                            if window().confirm_with_message(&ask).unwrap_or(false) {
                                                                suspend.dispatch(SetTenantSuspended { id, suspended: !suspended });
                                                            }
                                                        }>
                                                        {if suspended { lang.t("Reactivate", "恢复") } else { lang.t("Suspend", "暂停") }}
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

// ---- users of every tenant ----

#[component]
pub fn StaffUsersPage() -> impl IntoView {
    let lang = use_lang();
    let me = expect_context::<SessionUser>();
    let is_admin = me.role == Role::PlatformAdmin;
    let create = ServerAction::<CreateAnyUser>::new();
    let set_active = ServerAction::<SetAnyUserActive>::new();
    let list = page_resource(
        move || (create.version().get(), set_active.version().get()),
        |_| all_users(),
    );
    let tenant_list = page_resource(|| (), |_| tenants());
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("tenant-admin".to_owned());
    let tenant = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let (problem, set_problem) = signal(None::<(String, String)>);
    Effect::new(move |_| match create.value().get() {
        Some(Err(e)) => set_problem.set(Some(crate::pages::form_problem(lang, &e))),
        Some(Ok(_)) => {
            email.set(String::new());
            password.set(String::new());
        }
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = NewStaffUserForm {
            email: email.get_untracked(),
            role: role.get_untracked(),
            tenant: tenant.get_untracked(),
            password: password.get_untracked(),
        };
        match crate::validate::staff_user_form(&form) {
            Ok(_) => {
                set_problem.set(None);
                create.dispatch(CreateAnyUser { form });
            }
            Err((field, en, zh)) => {
                set_problem.set(Some((field.to_owned(), lang.t(&en, &zh).to_owned())))
            }
        }
    };
    view! {
        <Title text=lang.t("Users", "用户")/>
        <h1>{lang.t("Users", "用户")}</h1>
        {is_admin.then(|| view! {
            <section class="card">
                <h2>{lang.t("Add a user", "添加用户")}</h2>
                <form class="form grid" on:submit=submit novalidate data-test="new-staff-user">
                    <label for="su-email">{lang.t("Email", "邮箱")}</label>
                    <div><input id="su-email" type="email" maxlength="254" bind:value=email/><FieldError problem field="email"/></div>
                    <label for="su-role">{lang.t("Role", "角色")}</label>
                    <div>
                        <select id="su-role" bind:value=role>
                            {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str()>{role_label(lang, r)}</option> }).collect_view()}
                        </select>
                        <FieldError problem field="role"/>
                    </div>
                    <label for="su-tenant">{lang.t("Tenant", "租户")}</label>
                    <div>
                        <select id="su-tenant" bind:value=tenant>
                            <option value="">{lang.t("— none (platform staff) —", "— 无（平台人员）—")}</option>
                            <Suspense fallback=|| ()>
                                {move || Suspend::new(async move {
                                    tenant_list.await.unwrap_or_default().into_iter().map(|t| view! { <option value=t.slug.clone()>{format!("{} ({})", t.name, t.slug)}</option> }).collect_view()
                                })}
                            </Suspense>
                        </select>
                        <FieldError problem field="tenant"/>
                    </div>
                    <label for="su-password">{lang.t("Initial password", "初始密码")}</label>
                    <div><input id="su-password" type="password" autocomplete="new-password" maxlength="1024" bind:value=password/><FieldError problem field="password"/></div>
                    <div></div>
                    <div>
                        <button type="submit" class="button primary" data-test="create-staff-user" disabled=move || create.pending().get()>{lang.t("Add user", "添加")}</button>
                        {move || problem.get().filter(|(f, _)| f.is_empty()).map(|(_, m)| view! { <p class="error" role="alert">{m}</p> })}
                    </div>
                </form>
            </section>
        })}
        <section class="card">
            {move || set_active.value().get().and_then(|r| r.err()).map(|e| failure(lang, &e))}
            <Suspense fallback=move || loading(lang)>
                {move || Suspend::new(async move {
                    let list = match list.await { Ok(l) => l, Err(e) => return failure(lang, &e) };
                    view! {
                        <div class="table-wrap"><table class="table" data-test="all-users">
                            <thead><tr>
                                <th>{lang.t("Email", "邮箱")}</th><th>{lang.t("Tenant", "租户")}</th><th>{lang.t("Role", "角色")}</th>
                                <th>{lang.t("Status", "状态")}</th><th>{lang.t("Last sign-in", "最近登录")}</th><th></th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|s| {
                                    let u = s.user;
                                    let id = u.id;
                                    let active = u.active;
                                    view! {
                                        <tr data-user=u.email.clone()>
                                            <td>{u.email.clone()}{u.is_me.then(|| view! { <span class="badge">{lang.t("you", "我")}</span> })}</td>
                                            <td>{s.tenant.map_or_else(|| lang.t("Platform", "平台").to_owned(), |(slug, name)| format!("{name} ({slug})"))}</td>
                                            <td>{role_label(lang, u.role)}</td>
                                            <td class=if active { "ok" } else { "bad" } data-test="user-state">{if active { lang.t("Active", "正常") } else { lang.t("Disabled", "已停用") }}</td>
                                            <td class="nowrap">{u.last_login_at.map_or_else(|| lang.t("never", "从未").to_owned(), format_time)}</td>
                                            <td class="actions">
                                                {(is_admin && !u.is_me).then(|| view! {
                                                    <button type="button" class=if active { "button ghost small danger" } else { "button ghost small" } data-test="toggle-active"
                                                        on:click=move |_| { set_active.dispatch(SetAnyUserActive { id, active: !active }); }>
                                                        {if active { lang.t("Disable", "停用") } else { lang.t("Enable", "启用") }}
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
    }
}

// ---- every authorization ----

#[component]
pub fn AuthorizationsPage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let current = move || {
        query.with(|q| AuthorizationQuery {
            tenant: q.get("tenant").unwrap_or_default(),
            component: q.get("component").unwrap_or_default(),
            status: q.get("status").unwrap_or_default(),
            permission: q.get("permission").unwrap_or_default(),
            from: q.get("from").unwrap_or_default(),
            to: q.get("to").unwrap_or_default(),
            page: q.get("page").unwrap_or_default(),
        })
    };
    let assign = ServerAction::<AssignAccount>::new();
    let data = page_resource(
        move || (current(), assign.version().get()),
        |(q, _)| authorizations(q),
    );
    let href_for_page = move |n: i64| {
        let q = current();
        let page = n.to_string();
        format!(
            "/authorizations{}",
            query_string(&[
                ("tenant", &q.tenant),
                ("component", &q.component),
                ("status", &q.status),
                ("permission", &q.permission),
                ("from", &q.from),
                ("to", &q.to),
                ("page", &page),
            ])
        )
    };
    view! {
        <Title text=lang.t("Authorizations", "授权记录")/>
        <h1>{lang.t("Authorizations", "授权记录")}</h1>
        <Suspense fallback=move || loading(lang)>
            {move || Suspend::new(async move {
                let p = match data.await { Ok(p) => p, Err(e) => return failure(lang, &e) };
                let q = current();
                let pages = ((p.total + p.per_page - 1) / p.per_page).max(1);
                view! {
                    <form class="filters" method="get" action="/authorizations" data-test="authorization-filters">
                        <select name="tenant" aria-label=lang.t("Tenant", "租户") prop:value=q.tenant.clone()>
                            {choice_options(&p.tenants, lang.t("Any tenant", "全部租户"))}
                            <option value=UNASSIGNED_TENANT>{lang.t("Unassigned", "未分配")}</option>
                        </select>
                        <select name="component" aria-label=lang.t("Component", "第三方平台") prop:value=q.component.clone()>{choice_options(&p.components, lang.t("Any component", "全部第三方平台"))}</select>
                        <select name="status" aria-label=lang.t("Status", "状态") prop:value=q.status.clone()>
                            <option value="">{lang.t("Any status", "全部状态")}</option>
                            {AccountStatus::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{status_text(lang, s)}</option> }).collect_view()}
                        </select>
                        <select name="permission" aria-label=lang.t("Permission set", "权限集") prop:value=q.permission.clone()>
                            <option value="">{lang.t("Any permission set", "全部权限集")}</option>
                            {PERMISSION_SETS.iter().map(|s| view! { <option value=s.id.to_string()>{format!("{} ({})", permission_name(lang, s.id), s.id)}</option> }).collect_view()}
                        </select>
                        <label class="inline">{lang.t("From", "自")}<input type="date" name="from" prop:value=q.from.clone()/></label>
                        <label class="inline">{lang.t("to", "至")}<input type="date" name="to" prop:value=q.to.clone()/></label>
                        <button type="submit" class="button">{lang.t("Filter", "筛选")}</button>
                        <a class="button ghost" href="/authorizations">{lang.t("Clear", "清除")}</a>
                    </form>
                    {(p.unassigned > 0 && q.tenant != UNASSIGNED_TENANT).then(|| view! {
                        <p class="callout warn" data-test="unassigned-callout">
                            {match lang {
                                Lang::En if p.unassigned == 1 => "1 account authorized a shared component without a tenant's link (a test account, a fast-registered mini program, an account imported from WeChat). Its tokens are kept fresh; no tenant sees it until it is assigned. ".to_owned(),
                                Lang::En => format!("{} accounts authorized a shared component without a tenant's link (test accounts, fast-registered mini programs, accounts imported from WeChat). Their tokens are kept fresh; no tenant sees them until they are assigned. ", p.unassigned),
                                Lang::Zh => format!("有 {} 个账号未经租户的授权链接授权了共享第三方平台（测试账号、快速注册的小程序、从微信导入的账号）。其令牌持续刷新；分配前任何租户都看不到它们。", p.unassigned),
                            }}
                            <a href=format!("/authorizations?tenant={UNASSIGNED_TENANT}")>{lang.t("Show them", "查看")}</a>
                        </p>
                    })}
                    {move || assign.value().get().and_then(|r| r.err()).map(|e| failure(lang, &e))}
                    <p class="muted" data-test="authorization-count">{match lang { Lang::En => format!("{} authorizations", p.total), Lang::Zh => format!("共 {} 条授权", p.total) }}</p>
                    {if p.rows.is_empty() {
                        view! { <section class="card empty" data-test="no-authorizations"><p>{lang.t("No authorization matches.", "没有符合条件的授权。")}</p></section> }.into_any()
                    } else {
                        view! {
                            <div class="table-wrap"><table class="table" data-test="authorizations">
                                <thead><tr>
                                    <th>{lang.t("Account", "账号")}</th><th>{lang.t("Tenant", "租户")}</th><th>{lang.t("Component", "第三方平台")}</th>
                                    <th>{lang.t("Status", "状态")}</th><th>{lang.t("Permission sets", "权限集")}</th><th>{lang.t("Authorized", "授权时间")}</th>
                                </tr></thead>
                                <tbody>
                                    {p.rows.into_iter().map(|r| {
                                        let tenants = p.tenants.clone();
                                        let can_assign = p.can_assign;
                                        let name = if r.name.is_empty() { r.appid.clone() } else { r.name.clone() };
                                        let names: Vec<String> = r.permissions.iter().map(|id| permission_name(lang, *id)).collect();
                                        view! {
                                            <tr data-appid=r.appid.clone()>
                                                <td>
                                                    <a href=format!("/authorizations/{}/{}", r.component_appid, r.appid) data-test="timeline-link">{name}</a>
                                                    <div class="muted small mono">{r.appid.clone()}{" · "}{kind_text(lang, r.kind)}</div>
                                                </td>
                                                <td>{if r.tenant_slug.is_empty() {
                                                    view! {
                                                        <span class="badge warn" data-test="unassigned">{lang.t("Unassigned", "未分配")}</span>
                                                        {can_assign.then(|| view! { <AssignControl component_appid=r.component_appid.clone() appid=r.appid.clone() tenants assign/> })}
                                                    }.into_any()
                                                } else {
                                                    view! { {r.tenant_name.clone()}<div class="muted small mono">{r.tenant_slug.clone()}</div> }.into_any()
                                                }}</td>
                                                <td class="mono small">{r.component_appid.clone()}</td>
                                                <td class=format!("status-{}", r.status.as_str())>{status_text(lang, r.status)}</td>
                                                <td class="small">{names.join(lang.t(", ", "、"))}</td>
                                                <td class="nowrap">{format_time(r.authorized_at)}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table></div>
                            <nav class="pager" aria-label=lang.t("Pages", "分页")>
                                {(p.page > 1).then(|| view! { <a class="button ghost" rel="prev" href=href_for_page(p.page - 1)>{lang.t("← Previous", "← 上一页")}</a> })}
                                <span class="muted">{format!("{} / {}", p.page, pages)}</span>
                                {(p.page < pages).then(|| view! { <a class="button ghost" rel="next" href=href_for_page(p.page + 1)>{lang.t("Next →", "下一页 →")}</a> })}
                            </nav>
                        }.into_any()
                    }}
                }.into_any()
            })}
        </Suspense>
    }
}

/// Staff give an unassigned account to a tenant: a tenant picker and a button, confirmed first.
#[component]
fn AssignControl(
    component_appid: String,
    appid: String,
    tenants: Vec<FilterChoice>,
    assign: ServerAction<AssignAccount>,
) -> impl IntoView {
    let lang = use_lang();
    let chosen = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let tenant = chosen.get_untracked();
        if tenant.is_empty() {
            return;
        }
        let ask = match lang {
            Lang::En => format!("Assign {appid} to {tenant}? The tenant sees the account, its tokens and its messages from now on."),
            Lang::Zh => format!("确定将 {appid} 分配给 {tenant}？此后该租户可以看到该账号、其令牌与消息。"),
        };
        if window().confirm_with_message(&ask).unwrap_or(false) {
            assign.dispatch(AssignAccount {
                form: AssignAccountForm {
                    component_appid: component_appid.clone(),
                    appid: appid.clone(),
                    tenant,
                },
            });
        }
    };
    view! {
        <form class="inline-form" on:submit=submit data-test="assign-form">
            <select aria-label=lang.t("Assign to tenant", "分配给租户") bind:value=chosen>
                <option value="">{lang.t("Choose a tenant…", "选择租户…")}</option>
                {tenants.into_iter().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
            </select>
            <button type="submit" class="button small" data-test="assign" disabled=move || chosen.get().is_empty() || assign.pending().get()>{lang.t("Assign", "分配")}</button>
        </form>
    }
}

// ---- the audit log ----

fn audit_query_pairs(q: &AuditQuery) -> [(&'static str, String); 8] {
    [
        ("tenant", q.tenant.clone()),
        ("component", q.component.clone()),
        ("account", q.account.clone()),
        ("kind", q.kind.clone()),
        ("actor", q.actor.clone()),
        ("outcome", q.outcome.clone()),
        ("from", q.from.clone()),
        ("to", q.to.clone()),
    ]
}

fn audit_href(base: &str, q: &AuditQuery, before: Option<i64>) -> String {
    let before = before.map(|b| b.to_string()).unwrap_or_default();
    let pairs = audit_query_pairs(q);
    let mut refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    refs.push(("before", &before));
    format!("{base}{}", query_string(&refs))
}

#[component]
fn AuditTable(events: Vec<AuditRowView>, #[prop(optional)] show_account: bool) -> impl IntoView {
    let lang = use_lang();
    view! {
        <div class="table-wrap"><table class="table events" data-test="audit-events">
            <thead><tr>
                <th>{lang.t("When", "时间")}</th><th>{lang.t("Event", "事件")}</th><th>{lang.t("By", "操作者")}</th>
                <th>{lang.t("Where", "范围")}</th><th>{lang.t("What happened", "内容")}</th>
            </tr></thead>
            <tbody>
                {events.into_iter().map(|e| {
                    let scope = [e.tenant_slug.clone(), show_account.then(|| e.authorizer_appid.clone()).flatten()]
                        .into_iter().flatten().collect::<Vec<_>>().join(" · ");
                    view! {
                        <tr class=format!("outcome-{}", e.outcome) data-event=e.id>
                            <td class="nowrap">{format_time(e.occurred_at)}</td>
                            <td><code>{e.kind.clone()}</code>{(e.outcome != "ok").then(|| view! { <span class="badge bad">{e.outcome.clone()}</span> })}</td>
                            <td>{e.actor.clone()}<div class="muted small">{e.actor_kind.clone()}{e.ip.clone().map(|ip| format!(" · {ip}"))}</div></td>
                            <td class="small mono">{scope}</td>
                            <td>{e.summary.clone()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table></div>
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let current = move || {
        query.with(|q| AuditQuery {
            tenant: q.get("tenant").unwrap_or_default(),
            component: q.get("component").unwrap_or_default(),
            account: q.get("account").unwrap_or_default(),
            kind: q.get("kind").unwrap_or_default(),
            actor: q.get("actor").unwrap_or_default(),
            outcome: q.get("outcome").unwrap_or_default(),
            from: q.get("from").unwrap_or_default(),
            to: q.get("to").unwrap_or_default(),
            before: q.get("before").unwrap_or_default(),
        })
    };
    let data = page_resource(current, audit);
    view! {
        <Title text=lang.t("Audit log", "审计日志")/>
        <h1>{lang.t("Audit log", "审计日志")}</h1>
        <Suspense fallback=move || loading(lang)>
            {move || Suspend::new(async move {
                let q = current();
                let p = match data.await { Ok(p) => p, Err(e) => return failure(lang, &e) };
                let csv = audit_href("/platform/audit.csv", &AuditQuery { before: String::new(), ..q.clone() }, None);
                let newest = audit_href("/audit", &q, None);
                let older = p.next_before.map(|b| audit_href("/audit", &q, Some(b)));
                let paged = !q.before.is_empty();
                view! {
                    <form class="filters" method="get" action="/audit" data-test="audit-filters">
                        <select name="tenant" aria-label=lang.t("Tenant", "租户") prop:value=q.tenant.clone()>
                            {choice_options(&p.tenants, lang.t("Any tenant", "全部租户"))}
                            <option value=UNASSIGNED_TENANT>{lang.t("Unassigned", "未分配")}</option>
                        </select>
                        <select name="component" aria-label=lang.t("Component", "第三方平台") prop:value=q.component.clone()>{choice_options(&p.components, lang.t("Any component", "全部第三方平台"))}</select>
                        <input name="account" placeholder=lang.t("Account appid", "账号 appid") prop:value=q.account.clone() aria-label=lang.t("Account", "账号") maxlength="18"/>
                        <input name="kind" placeholder=lang.t("Kind, or family like token.", "类型，或如 token. 的一类") prop:value=q.kind.clone() aria-label=lang.t("Event kind", "事件类型") list="audit-kinds"/>
                        <datalist id="audit-kinds">
                            {["authorizer.", "token.", "token.refreshed", "token.refresh_failed", "token.rejected_reported", "link.", "api_key.", "user.", "tenant.", "component.", "audit.exported"].into_iter().map(|k| view! { <option value=k></option> }).collect_view()}
                        </datalist>
                        <input name="actor" placeholder=lang.t("Actor (email, key, system)", "操作者（邮箱或密钥）") prop:value=q.actor.clone() aria-label=lang.t("Actor", "操作者")/>
                        <select name="outcome" aria-label=lang.t("Outcome", "结果") prop:value=q.outcome.clone()>
                            <option value="">{lang.t("Any outcome", "全部结果")}</option>
                            <option value="ok">"ok"</option><option value="failed">"failed"</option><option value="denied">"denied"</option>
                        </select>
                        <label class="inline">{lang.t("From", "自")}<input type="date" name="from" prop:value=q.from.clone()/></label>
                        <label class="inline">{lang.t("to", "至")}<input type="date" name="to" prop:value=q.to.clone()/></label>
                        <button type="submit" class="button">{lang.t("Filter", "筛选")}</button>
                        <a class="button ghost" href="/audit">{lang.t("Clear", "清除")}</a>
                        <a class="button ghost" href=csv rel="external" download="wxhub-audit.csv" data-test="audit-csv">{lang.t("Export CSV", "导出 CSV")}</a>
                    </form>
                    {if p.events.is_empty() {
                        view! { <section class="card empty" data-test="no-events"><p>{lang.t("No event matches.", "没有符合条件的事件。")}</p></section> }.into_any()
                    } else {
                        view! { <AuditTable events=p.events.clone() show_account=true/> }.into_any()
                    }}
                    <nav class="pager" aria-label=lang.t("Pages", "分页")>
                        {paged.then(|| view! { <a class="button ghost" href=newest.clone()>{lang.t("← Newest", "← 最新")}</a> })}
                        {older.map(|href| view! { <a class="button ghost" rel="next" href=href data-test="older">{lang.t("Older →", "更早 →")}</a> })}
                    </nav>
                }.into_any()
            })}
        </Suspense>
    }
}

// ---- one account's timeline ----

#[component]
pub fn TimelinePage() -> impl IntoView {
    let lang = use_lang();
    let params = use_params_map();
    let key = move || {
        params.with(|p| {
            (
                p.get("component").unwrap_or_default(),
                p.get("appid").unwrap_or_default(),
            )
        })
    };
    let data = page_resource(key, |(component, appid)| timeline(component, appid));
    view! {
        <Suspense fallback=move || loading(lang)>
            {move || Suspend::new(async move {
                let t = match data.await { Ok(t) => t, Err(e) => return failure(lang, &e) };
                let name = if t.name.is_empty() { t.appid.clone() } else { t.name.clone() };
                let names: Vec<String> = t.permissions.iter().map(|id| permission_name(lang, *id)).collect();
                let audit = format!("/audit?account={}&component={}", t.appid, t.component_appid);
                view! {
                    <Title text=name.clone()/>
                    <p><a href="/authorizations">{lang.t("← Authorizations", "← 授权记录")}</a></p>
                    <h1>{name}</h1>
                    <section class="card">
                        <dl class="facts">
                            <dt>{lang.t("Appid", "Appid")}</dt><dd class="mono">{t.appid.clone()}</dd>
                            <dt>{lang.t("Tenant", "租户")}</dt><dd>{if t.tenant_slug.is_empty() {
                                view! { <span class="badge warn" data-test="unassigned">{lang.t("Unassigned", "未分配")}</span>{" "}<a href=format!("/authorizations?tenant={UNASSIGNED_TENANT}")>{lang.t("assign it", "去分配")}</a> }.into_any()
                            } else {
                                format!("{} ({})", t.tenant_name, t.tenant_slug).into_any()
                            }}</dd>
                            <dt>{lang.t("Component", "第三方平台")}</dt><dd class="mono">{t.component_appid.clone()}</dd>
                            <dt>{lang.t("Status", "状态")}</dt><dd class=format!("status-{}", t.status.as_str()) data-test="timeline-status">{status_text(lang, t.status)}</dd>
                            <dt>{lang.t("Permission sets", "权限集")}</dt><dd>{names.join(lang.t(", ", "、"))}</dd>
                        </dl>
                    </section>
                    <section class="card">
                        <h2>{lang.t("Authorization changes", "授权变更")}</h2>
                        <ol class="timeline" data-test="timeline-history">
                            {t.history.iter().map(|h| {
                                let added: Vec<String> = h.added.iter().map(|id| permission_name(lang, *id)).collect();
                                let removed: Vec<String> = h.removed.iter().map(|id| permission_name(lang, *id)).collect();
                                view! {
                                    <li>
                                        <span class="nowrap muted">{format_time(h.occurred_at)}</span>" "
                                        <strong>{h.change.clone()}</strong>
                                        <span class="muted small">{format!(" ({})", h.source)}</span>
                                        {(!added.is_empty()).then(|| view! { <div class="ok small">{format!("+ {}", added.join(", "))}</div> })}
                                        {(!removed.is_empty()).then(|| view! { <div class="bad small">{format!("− {}", removed.join(", "))}</div> })}
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                    </section>
                    <section class="card">
                        <h2>{lang.t("Every event, oldest first", "全部事件（按时间先后）")}</h2>
                        <p><a class="button ghost small" href=audit>{lang.t("Open in the audit log", "在审计日志中查看")}</a></p>
                        <AuditTable events=t.events.clone()/>
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}
