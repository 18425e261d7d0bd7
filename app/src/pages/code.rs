//! Mini-program code: a mini program's page (where its code stands: trial version, audit, live
//! version, quota; commit a template, submit for audit, withdraw, speed up, release, revert; the
//! domains; the trial QR code; the timeline version → commit → audit → released or rejected), and
//! the releases page (each component's template library, a batch over many mini programs, and the
//! batches so far). Admins act; viewers read.

use leptos::prelude::*;

use crate::page_data::page_resource;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::{
    code_overview, code_releases, CodeCommit, CodeFastRegister, CodeFastRegisterCheck,
    CodeLibraryChange, CodeSetDomains, CodeStartBatch, CodeStep, CodeSubmit, CodeTrialQrcode,
};
use crate::dto::{
    CodeAuditView, CodeBatchView, CodeEventView, CodeLibraryView, CodeOverview,
    FastRegistrationView,
};
use crate::error::AppError;
use crate::i18n::{format_time, use_lang, Lang};

fn event_text(lang: Lang, kind: &str) -> &'static str {
    match kind {
        "committed" => lang.t("Committed", "已上传代码"),
        "submitted" => lang.t("Submitted for audit", "已提交审核"),
        "audit_passed" => lang.t("Audit passed", "审核通过"),
        "audit_failed" => lang.t("Audit rejected", "审核被拒"),
        "audit_delayed" => lang.t("Audit delayed", "审核延后"),
        "audit_withdrawn" => lang.t("Audit withdrawn", "已撤回审核"),
        "speedup" => lang.t("Audit sped up", "已加急审核"),
        "released" => lang.t("Released", "已发布"),
        "reverted" => lang.t("Release reverted", "已回退版本"),
        "domains" => lang.t("Domains set", "已设置域名"),
        _ => lang.t("Unknown", "未知"),
    }
}

fn audit_text(lang: Lang, status: &str) -> &'static str {
    match status {
        "auditing" => lang.t("Under audit", "审核中"),
        "passed" => lang.t("Passed, not released", "已通过，待发布"),
        "rejected" => lang.t("Rejected", "审核被拒"),
        "delayed" => lang.t("Delayed by WeChat", "微信延后审核"),
        "withdrawn" => lang.t("Withdrawn", "已撤回"),
        "released" => lang.t("Released", "已发布"),
        _ => lang.t("Unknown", "未知"),
    }
}

fn event_class(kind: &str) -> &'static str {
    match kind {
        "audit_passed" | "released" => "tl-ok",
        "audit_failed" => "tl-bad",
        "audit_delayed" | "audit_withdrawn" | "reverted" => "tl-warn",
        _ => "",
    }
}

/// The outcome of the last action: an error, or a note of what happened.
fn outcome_view<T: Clone + Send + Sync + 'static>(
    lang: Lang,
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
    done_en: &'static str,
    done_zh: &'static str,
) -> impl IntoView {
    move || {
        value.get().map(|r| match r {
            Ok(_) => view! { <p class="notice" role="status" data-test="code-done">{lang.t(done_en, done_zh)}</p> }.into_any(),
            Err(e) => view! { <p class="error" role="alert" data-test="code-error">{e.message(lang)}</p> }.into_any(),
        })
    }
}

#[component]
fn Timeline(events: Vec<CodeEventView>) -> impl IntoView {
    let lang = use_lang();
    if events.is_empty() {
        return view! { <p class="muted" data-test="no-code-events">{lang.t("Nothing yet: commit a template to start.", "暂无记录：上传模板代码开始。")}</p> }.into_any();
    }
    view! {
        <ol class="timeline" data-test="code-timeline">
            {events.into_iter().map(|e| {
                let detail = [
                    e.user_version.clone().map(|v| format!("{} {v}", lang.t("version", "版本"))),
                    e.template_id.map(|t| format!("{} {t}", lang.t("template", "模板"))),
                    e.auditid.filter(|a| *a > 0).map(|a| format!("{} {a}", lang.t("audit", "审核单"))),
                ].into_iter().flatten().collect::<Vec<_>>().join(" · ");
                view! {
                    <li class=format!("timeline-item {}", event_class(&e.kind)) data-kind=e.kind.clone()>
                        <span class="timeline-time small muted">{format_time(e.at)}</span>
                        <strong>{event_text(lang, &e.kind)}</strong>
                        <span class="small">{detail}</span>
                        <span class="small muted">{format!("· {}", e.actor)}</span>
                        {(!e.note.is_empty()).then(|| view! { <p class="small timeline-note" data-test="code-note">{e.note.clone()}</p> })}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
    .into_any()
}

#[component]
fn AuditCard(audit: Option<CodeAuditView>) -> impl IntoView {
    let lang = use_lang();
    match audit {
        None => view! { <p class="muted">{lang.t("Never submitted.", "尚未提交审核。")}</p> }.into_any(),
        Some(a) => view! {
            <p data-test="audit-status" data-status=a.status.clone()>
                <strong class=format!("audit-{}", a.status)>{audit_text(lang, &a.status)}</strong>
                <span class="small muted">{format!(" · {} {} · {} {}", lang.t("version", "版本"), a.user_version, lang.t("audit", "审核单"), a.auditid)}</span>
            </p>
            <p class="small muted">{format!("{} {}", lang.t("Submitted", "提交于"), format_time(a.submitted_at))}</p>
            {(!a.reason.is_empty()).then(|| view! { <p class="error small" data-test="audit-reason">{a.reason.clone()}</p> })}
            {(!a.screenshots.is_empty()).then(|| view! {
                <p class="small muted">{format!("{}: {}", lang.t("Screenshots (media ids)", "截图（media_id）"), a.screenshots.join(", "))}</p>
            })}
        }.into_any(),
    }
}

#[component]
pub fn CodePage() -> impl IntoView {
    let lang = use_lang();
    let params = use_params_map();
    let appid = move || params.with(|p| p.get("appid").unwrap_or_default());
    let commit = ServerAction::<CodeCommit>::new();
    let submit = ServerAction::<CodeSubmit>::new();
    let step = ServerAction::<CodeStep>::new();
    let domains = ServerAction::<CodeSetDomains>::new();
    let qrcode = ServerAction::<CodeTrialQrcode>::new();
    // WeChat pushes the audit's result; the page looks again every few seconds while one runs.
    let tick = RwSignal::new(0u32);
    let overview = page_resource(
        move || {
            (
                appid(),
                commit.version().get(),
                submit.version().get(),
                step.version().get(),
                domains.version().get(),
                tick.get(),
            )
        },
        |(a, ..)| code_overview(a),
    );
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                let shown = overview.get_untracked().and_then(|o| o.ok());
                let auditing = shown
                    .as_ref()
                    .and_then(|o| o.audit.as_ref())
                    .is_some_and(|a| a.status == "auditing" || a.status == "delayed");
                if auditing {
                    // Only the timeline's head is asked for; the page (with its reads from
                    // WeChat, which count against the account's API quota) reloads when it moved.
                    let newest = shown.and_then(|o| o.timeline.first().map(|e| e.id));
                    let appid = appid();
                    leptos::task::spawn_local(async move {
                        if let Ok(head) = crate::api::code_timeline_head(appid).await {
                            if head != newest {
                                tick.update(|t| *t += 1);
                            }
                        }
                    });
                }
            },
            std::time::Duration::from_secs(3),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <Transition fallback=crate::pages::loading>
            {move || Suspend::new(async move {
                match overview.await {
                    Err(e) => view! {
                        <Title text=lang.t("Code", "代码管理")/>
                        <section class="card narrow"><h1>{lang.t("Code", "代码管理")}</h1><p class="error" role="alert">{e.message(lang)}</p>
                        <a class="button" href="/accounts">{lang.t("Back to accounts", "返回账号列表")}</a></section>
                    }.into_any(),
                    Ok(o) => code_view(lang, o, commit, submit, step, domains, qrcode).into_any(),
                }
            })}
        </Transition>
    }
}

fn code_view(
    lang: Lang,
    o: CodeOverview,
    commit: ServerAction<CodeCommit>,
    submit: ServerAction<CodeSubmit>,
    step: ServerAction<CodeStep>,
    domains: ServerAction<CodeSetDomains>,
    qrcode: ServerAction<CodeTrialQrcode>,
) -> impl IntoView {
    let name = if o.name.is_empty() {
        o.appid.clone()
    } else {
        o.name.clone()
    };
    let appid = o.appid.clone();
    let can_write = o.can_write;
    let audit_status = o
        .audit
        .as_ref()
        .map(|a| a.status.clone())
        .unwrap_or_default();
    let in_progress = matches!(audit_status.as_str(), "auditing" | "delayed");
    let passed = audit_status == "passed";
    let has_trial = o.trial.is_some();
    let step_button = move |name: &'static str,
                            en: &'static str,
                            zh: &'static str,
                            enabled: bool,
                            appid: String| {
        view! {
            <ActionForm action=step attr:class="inline-form">
                <input type="hidden" name="appid" value=appid/>
                <input type="hidden" name="step" value=name/>
                <button type="submit" class="button ghost small" data-test=format!("code-{name}") disabled=!enabled>{lang.t(en, zh)}</button>
            </ActionForm>
        }
    };
    let d = o.domains.clone().unwrap_or_default();
    let steps = [
        step_button(
            "withdraw",
            "Withdraw the audit",
            "撤回审核",
            in_progress,
            appid.clone(),
        )
        .into_any(),
        step_button(
            "speedup",
            "Speed the audit up",
            "加急审核",
            in_progress,
            appid.clone(),
        )
        .into_any(),
        step_button("release", "Release", "发布", passed, appid.clone()).into_any(),
        step_button(
            "revert",
            "Revert to the previous release",
            "回退到上一版本",
            o.released.is_some(),
            appid.clone(),
        )
        .into_any(),
    ];
    let (appid_commit, appid_submit) = (appid.clone(), appid.clone());
    let ext_placeholder = format!("{{\"extAppid\": \"{}\"}}", o.appid);
    let (templates, pages, categories) =
        (o.templates.clone(), o.pages.clone(), o.categories.clone());
    let writer = can_write.then(move || view! {
            <section class="card">
                <h2>{lang.t("Steps", "操作")}</h2>
                {outcome_view(lang, step.value(), "Done.", "已完成。")}
                <div class="button-row">{steps}</div>
            </section>
            <div class="grid-2">
                <section class="card">
                    <h2>{lang.t("Commit a template", "上传模板代码")}</h2>
                    {outcome_view(lang, commit.value(), "Committed: it is the trial version now.", "已上传，现为体验版。")}
                    <ActionForm action=commit attr:class="stack" attr:data-test="commit-form">
                        <input type="hidden" name="appid" value=appid_commit/>
                        <label>{lang.t("Template", "模板")}
                            <select name="template_id" data-test="commit-template" required>
                                {templates.iter().map(|t| view! {
                                    <option value=t.template_id.to_string()>{format!("#{} · {} · {}", t.template_id, t.user_version, t.user_desc)}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        <label>{lang.t("Version", "版本号")}<input name="user_version" data-test="commit-version" required maxlength="64" placeholder="1.0.0"/></label>
                        <label>{lang.t("Description", "版本描述")}<input name="user_desc" data-test="commit-desc" maxlength="500"/></label>
                        <label>{lang.t("ext_json (the app's own configuration)", "ext_json（该小程序的自定义配置）")}
                            <textarea name="ext_json" rows="3" class="mono small" data-test="commit-ext" placeholder=ext_placeholder></textarea></label>
                        <button type="submit" class="button" data-test="commit-submit">{lang.t("Commit", "上传代码")}</button>
                    </ActionForm>
                </section>
                <section class="card">
                    <h2>{lang.t("Submit for audit", "提交审核")}</h2>
                    {outcome_view(lang, submit.value(), "Submitted: WeChat will tell the result.", "已提交，微信会推送审核结果。")}
                    <ActionForm action=submit attr:class="stack" attr:data-test="submit-form">
                        <input type="hidden" name="appid" value=appid_submit/>
                        <label>{lang.t("Page", "页面")}
                            <select name="page" data-test="submit-page">
                                <option value="">{lang.t("(none: WeChat uses the app's categories)", "（不指定：使用小程序类目）")}</option>
                                {pages.iter().map(|p| view! { <option value=p.clone()>{p.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>{lang.t("Category", "类目")}
                            <select name="category" data-test="submit-category">
                                <option value="">"—"</option>
                                {categories.iter().map(|c| view! { <option value=c.value.clone()>{c.label.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>{lang.t("Title", "标题")}<input name="title" maxlength="32"/></label>
                        <button type="submit" class="button" data-test="submit-audit" disabled=!has_trial || in_progress>{lang.t("Submit for audit", "提交审核")}</button>
                    </ActionForm>
                </section>
            </div>
        });
    let (appid_qr, appid_domains) = (appid.clone(), appid.clone());
    view! {
        <Title text=format!("{name} · {}", lang.t("Code", "代码管理"))/>
        <p class="small"><a href=format!("/accounts/{}", o.appid)>{format!("← {name}")}</a></p>
        <h1 data-test="code-title">{format!("{} · {name}", lang.t("Code and releases", "代码与发布"))}</h1>
        {o.unavailable.clone().map(|(en, zh)| view! { <p class="notice" data-test="code-unavailable">{lang.t(&en, &zh).to_owned()}</p> })}
        {o.read_problems.iter().map(|(en, zh)| view! { <p class="error small" role="alert">{lang.t(en, zh).to_owned()}</p> }).collect_view()}
        <div class="grid-4 code-state">
            <section class="card">
                <h2>{lang.t("Trial version", "体验版")}</h2>
                {match o.trial.clone() {
                    Some(v) => view! { <p data-test="trial-version"><strong>{v.user_version.clone()}</strong></p>
                        <p class="small muted">{format!("{} {} · {}", lang.t("template", "模板"), v.template_id.unwrap_or(0), format_time(v.at))}</p> }.into_any(),
                    None => view! { <p class="muted">{lang.t("Nothing committed.", "尚未上传代码。")}</p> }.into_any(),
                }}
            </section>
            <section class="card">
                <h2>{lang.t("Audit", "审核")}</h2>
                <AuditCard audit=o.audit.clone()/>
            </section>
            <section class="card">
                <h2>{lang.t("Live version", "线上版本")}</h2>
                {match o.released.clone() {
                    Some(v) => view! { <p data-test="live-version"><strong>{v.user_version.clone()}</strong></p>
                        <p class="small muted">{format_time(v.at)}</p> }.into_any(),
                    None => view! { <p class="muted">{lang.t("Nothing released through wxhub.", "尚未经 wxhub 发布。")}</p> }.into_any(),
                }}
            </section>
            <section class="card">
                <h2>{lang.t("Audit quota", "提审额度")}</h2>
                {match o.quota {
                    Some(q) => view! { <p data-test="quota"><strong>{format!("{} / {}", q.rest, q.limit)}</strong>{lang.t(" left this month", " 本月剩余")}</p>
                        <p class="small muted">{format!("{} {} / {}", lang.t("speed-ups", "加急"), q.speedup_rest, q.speedup_limit)}</p> }.into_any(),
                    None => view! { <p class="muted">"—"</p> }.into_any(),
                }}
            </section>
        </div>
        {writer}
        <div class="grid-2">
            <section class="card">
                <h2>{lang.t("Trial QR code", "体验版二维码")}</h2>
                <ActionForm action=qrcode attr:class="inline-form">
                    <input type="hidden" name="appid" value=appid_qr/>
                    <input name="path" placeholder="pages/index/index" class="small"/>
                    <button type="submit" class="button ghost small" data-test="show-qrcode" disabled=!has_trial>{lang.t("Show", "显示")}</button>
                </ActionForm>
                {move || qrcode.value().get().map(|r| match r {
                    Ok(src) => view! { <img class="trial-qr" data-test="trial-qrcode" src=src alt=lang.t("Trial version QR code", "体验版二维码")/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                })}
            </section>
            <section class="card">
                <h2>{lang.t("Domains", "域名")}</h2>
                {outcome_view(lang, domains.value(), "Domains set.", "域名已设置。")}
                <ActionForm action=domains attr:class="stack small" attr:data-test="domains-form">
                    <input type="hidden" name="appid" value=appid_domains/>
                    <label>{lang.t("request (https://)", "request 合法域名（https://）")}<textarea name="request" rows="2" class="mono small" disabled=!can_write>{d.request.join("\n")}</textarea></label>
                    <label>{lang.t("socket (wss://)", "socket 合法域名（wss://）")}<textarea name="socket" rows="1" class="mono small" disabled=!can_write>{d.socket.join("\n")}</textarea></label>
                    <label>{lang.t("uploadFile (https://)", "uploadFile 合法域名")}<textarea name="upload" rows="1" class="mono small" disabled=!can_write>{d.upload.join("\n")}</textarea></label>
                    <label>{lang.t("downloadFile (https://)", "downloadFile 合法域名")}<textarea name="download" rows="1" class="mono small" disabled=!can_write>{d.download.join("\n")}</textarea></label>
                    <label>{lang.t("web-view (business domains)", "业务域名（web-view）")}<textarea name="webview" rows="1" class="mono small" disabled=!can_write>{d.webview.join("\n")}</textarea></label>
                    {can_write.then(|| view! { <button type="submit" class="button ghost small" data-test="domains-submit">{lang.t("Set domains", "设置域名")}</button> })}
                </ActionForm>
            </section>
        </div>
        <section class="card">
            <h2>{lang.t("Timeline", "时间线")}</h2>
            <Timeline events=o.timeline.clone()/>
        </section>
    }
}

#[component]
fn Library(lib: CodeLibraryView, change: ServerAction<CodeLibraryChange>) -> impl IntoView {
    let lang = use_lang();
    let component = lib.component_appid.clone();
    let can_write = lib.can_write;
    view! {
        <section class="card" data-test="library" data-component=lib.component_appid.clone()>
            <h2>{format!("{} · {}", lang.t("Template library", "模板库"), lib.component_name)}</h2>
            {(lib.shared && !lib.can_write).then(|| view! { <p class="muted small">{lang.t("The platform's shared library: platform staff keep it.", "平台共享模板库，由平台人员维护。")}</p> })}
            {lib.problem.clone().map(|(en, zh)| view! { <p class="error small">{lang.t(&en, &zh).to_owned()}</p> })}
            <h3>{lang.t("Templates", "模板")}</h3>
            <div class="table-wrap"><table class="table small" data-test="templates">
                <thead><tr><th>"ID"</th><th>{lang.t("Version", "版本")}</th><th>{lang.t("Description", "描述")}</th><th>{lang.t("Added", "添加于")}</th><th></th></tr></thead>
                <tbody>{lib.templates.clone().into_iter().map(|t| {
                    let component = component.clone();
                    view! { <tr>
                        <td class="mono">{t.template_id}</td><td>{t.user_version.clone()}</td><td>{t.user_desc.clone()}</td><td class="nowrap">{format_time(t.created_at)}</td>
                        <td>{can_write.then(move || view! {
                            <ActionForm action=change attr:class="inline-form">
                                <input type="hidden" name="component_appid" value=component.clone()/>
                                <input type="hidden" name="change" value="delete"/>
                                <input type="hidden" name="id" value=t.template_id.to_string()/>
                                <button type="submit" class="button ghost small danger">{lang.t("Delete", "删除")}</button>
                            </ActionForm>
                        })}</td>
                    </tr> }
                }).collect_view()}</tbody>
            </table></div>
            <h3>{lang.t("Drafts (from the developer tools)", "草稿（开发者工具上传）")}</h3>
            {if lib.drafts.is_empty() {
                view! { <p class="muted small">{lang.t("No drafts.", "没有草稿。")}</p> }.into_any()
            } else {
                view! { <div class="table-wrap"><table class="table small" data-test="drafts">
                    <tbody>{lib.drafts.clone().into_iter().map(|d| {
                        let component = component.clone();
                        view! { <tr>
                            <td class="mono">{d.draft_id}</td><td>{d.user_version.clone()}</td><td>{d.user_desc.clone()}</td><td class="nowrap">{format_time(d.created_at)}</td>
                            <td>{can_write.then(move || view! {
                                <ActionForm action=change attr:class="inline-form">
                                    <input type="hidden" name="component_appid" value=component.clone()/>
                                    <input type="hidden" name="change" value="add"/>
                                    <input type="hidden" name="id" value=d.draft_id.to_string()/>
                                    <button type="submit" class="button ghost small" data-test="add-template">{lang.t("Make a template", "添加为模板")}</button>
                                </ActionForm>
                            })}</td>
                        </tr> }
                    }).collect_view()}</tbody>
                </table></div> }.into_any()
            }}
        </section>
    }
}

#[component]
fn Batch(batch: CodeBatchView) -> impl IntoView {
    let lang = use_lang();
    let count = |s: &str| batch.items.iter().filter(|i| i.status == s).count();
    let summary = format!(
        "{} {} · {} {} · {} {} · {} {} · {} {}",
        count("pending"),
        lang.t("waiting", "等待"),
        count("committed"),
        lang.t("committed", "已上传"),
        count("submitted"),
        lang.t("submitted", "已提审"),
        count("skipped"),
        lang.t("skipped (quota)", "跳过（额度）"),
        count("failed"),
        lang.t("failed", "失败"),
    );
    view! {
        <details class="batch" data-test="batch" open=batch.items.iter().any(|i| i.status == "pending")>
            <summary>{format!("#{} · {} {} · {} {} · {}", batch.id, lang.t("template", "模板"), batch.template_id, lang.t("version", "版本"), batch.user_version, format_time(batch.created_at))}
                <span class="small muted" data-test="batch-summary">{format!(" — {summary}")}</span></summary>
            <div class="table-wrap"><table class="table small">
                <tbody>{batch.items.iter().map(|i| view! { <tr data-status=i.status.clone()>
                    <td><a href=format!("/accounts/{}/code", i.appid)>{if i.name.is_empty() { i.appid.clone() } else { i.name.clone() }}</a></td>
                    <td>{i.status.clone()}</td>
                    <td class="mono">{i.auditid.map(|a| a.to_string()).unwrap_or_default()}</td>
                    <td class="small">{i.error.clone().unwrap_or_default()}</td>
                </tr> }).collect_view()}</tbody>
            </table></div>
        </details>
    }
}

fn registration_text(lang: Lang, status: &str) -> &'static str {
    match status {
        "waiting" => lang.t("Waiting for the legal person to confirm", "等待法人确认"),
        "succeeded" => lang.t("Registered", "注册成功"),
        "failed" => lang.t("Failed", "失败"),
        _ => lang.t("Unknown", "未知"),
    }
}

#[component]
fn Registrations(
    rows: Vec<FastRegistrationView>,
    /// Offered on waiting rows to those who may change things.
    check: Option<ServerAction<CodeFastRegisterCheck>>,
) -> impl IntoView {
    let lang = use_lang();
    if rows.is_empty() {
        return view! { <p class="muted small">{lang.t("No registration yet.", "还没有快速注册。")}</p> }.into_any();
    }
    view! {
        <div class="table-wrap"><table class="table small" data-test="registrations">
            <thead><tr><th>{lang.t("Name", "名称")}</th><th>{lang.t("Kind", "类型")}</th><th>{lang.t("State", "状态")}</th><th>{lang.t("Mini program", "小程序")}</th><th>{lang.t("Started", "发起于")}</th></tr></thead>
            <tbody>{rows.into_iter().map(|r| view! {
                <tr data-status=r.status.clone()>
                    <td>{r.name.clone()}<br/><span class="muted small">{r.started_by.clone()}</span></td>
                    <td>{if r.kind == "personal" { lang.t("Personal", "个人") } else { lang.t("Enterprise", "企业") }}</td>
                    <td data-test="registration-status">{registration_text(lang, &r.status)}
                        {r.message.clone().filter(|_| r.status != "succeeded").map(|m| view! { <br/><span class=if r.status == "failed" { "small bad" } else { "small muted" }>{format!("{} · {m}", r.wechat_status.unwrap_or(0))}</span> })}
                        {r.authorize_url.clone().filter(|_| r.status == "waiting").map(|u| view! { <br/><a class="small" href=u target="_blank" rel="noopener noreferrer">{lang.t("Confirmation page", "确认页面")}</a> })}
                        {check.filter(|_| r.status == "waiting").map(|check| view! {
                            <br/><button type="button" class="button ghost small" data-test="registration-check" disabled=move || check.pending().get()
                                on:click=move |_| { check.dispatch(CodeFastRegisterCheck { id: r.id }); }>{lang.t("Ask WeChat now", "立即查询")}</button>
                        })}</td>
                    <td class="mono">{r.appid.clone().map(|a| view! { <a href=format!("/accounts/{a}")>{a.clone()}</a> })}</td>
                    <td class="nowrap">{format_time(r.created_at)}</td>
                </tr>
            }).collect_view()}</tbody>
        </table></div>
    }.into_any()
}

#[component]
pub fn ReleasesPage() -> impl IntoView {
    let lang = use_lang();
    let change = ServerAction::<CodeLibraryChange>::new();
    let start = ServerAction::<CodeStartBatch>::new();
    let register = ServerAction::<CodeFastRegister>::new();
    let check = ServerAction::<CodeFastRegisterCheck>::new();
    let tick = RwSignal::new(0u32);
    let view_data = page_resource(
        move || {
            (
                change.version().get(),
                start.version().get(),
                register.version().get(),
                check.version().get(),
                tick.get(),
            )
        },
        |_| code_releases(),
    );
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || {
                let running = view_data
                    .get_untracked()
                    .and_then(|v| v.ok())
                    .is_some_and(|v| {
                        v.registrations.iter().any(|r| r.status == "waiting")
                            || v.batches.iter().any(|b| {
                                b.items.iter().any(|i| {
                                    i.status == "pending" || (i.status == "committed" && b.submit)
                                })
                            })
                    });
                if running {
                    tick.update(|t| *t += 1);
                }
            },
            std::time::Duration::from_secs(2),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    }
    view! {
        <Title text=lang.t("Releases", "版本发布")/>
        <h1>{lang.t("Mini-program releases", "小程序版本发布")}</h1>
        {outcome_view(lang, change.value(), "The library changed.", "模板库已更新。")}
        <Transition fallback=crate::pages::loading>
            {move || Suspend::new(async move {
                match view_data.await {
                    Err(e) => view! { <p class="error" role="alert">{e.message(lang)}</p> }.into_any(),
                    Ok(v) => {
                        let appids = v.mini_programs.iter().map(|(a, _, _)| a.clone()).collect::<Vec<_>>().join("\n");
                        let components: Vec<String> = v.libraries.iter().map(|l| l.component_appid.clone()).collect();
                        let registrations = v.registrations.clone();
                        let templates: Vec<(String, i64, String)> = v.libraries.iter().flat_map(|l| l.templates.iter().map(move |t| (l.component_appid.clone(), t.template_id, format!("{} · #{} · {} · {}", l.component_name, t.template_id, t.user_version, t.user_desc)))).collect();
                        view! {
                            {v.libraries.into_iter().map(|lib| view! { <Library lib=lib change=change/> }).collect_view()}
                            {v.can_write.then(|| view! {
                                <section class="card">
                                    <h2>{lang.t("Commit one template to many mini programs", "批量上传模板代码")}</h2>
                                    <p class="muted small">{lang.t("Each mini program gets the template as its trial version; with “submit”, each is then submitted for audit while the month's quota lasts (the rest are skipped, not refused one by one).", "每个小程序上传该模板为体验版；勾选“提交审核”后，在本月额度内逐个提审（额度用尽后其余跳过）。")}</p>
                                    {outcome_view(lang, start.value(), "Started: progress below.", "已开始，进度见下方。")}
                                    <ActionForm action=start attr:class="stack" attr:data-test="batch-form">
                                        <label>{lang.t("Component", "第三方平台")}
                                            <select name="form[component_appid]">
                                                {templates.iter().map(|(c, _, _)| c.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().map(|c| view! { <option value=c.clone()>{c.clone()}</option> }).collect_view()}
                                            </select></label>
                                        <label>{lang.t("Template (of the component chosen above)", "模板（须属于上面选择的第三方平台）")}
                                            <select name="form[template_id]" data-test="batch-template" required>
                                                {templates.iter().map(|(_, id, label)| view! { <option value=id.to_string()>{label.clone()}</option> }).collect_view()}
                                            </select></label>
                                        <label>{lang.t("Version", "版本号")}<input name="form[user_version]" required maxlength="64"/></label>
                                        <label>{lang.t("Description", "版本描述")}<input name="form[user_desc]" maxlength="500"/></label>
                                        <input type="hidden" name="form[ext_json]" value=""/>
                                        <label>{lang.t("Mini programs (one appid per line)", "小程序（每行一个 appid）")}<textarea name="form[appids]" rows="4" class="mono small">{appids}</textarea></label>
                                        <label class="small"><input type="checkbox" name="form[submit]"/>{lang.t(" Also submit each for audit", " 同时提交审核")}</label>
                                        <button type="submit" class="button" data-test="batch-start">{lang.t("Start", "开始")}</button>
                                    </ActionForm>
                                </section>
                            })}
                            {(!v.staff).then(|| view! {
                            <section class="card">
                                <h2>{lang.t("Register a new mini program", "快速注册小程序")}</h2>
                                <p class="muted small">{lang.t("WeChat sends the legal person (or, for a personal one, the person) a message to confirm; once confirmed, the new mini program is authorized to the platform and appears among your accounts.", "微信会向法人（个人小程序则为本人）发送确认消息；确认后，新小程序自动授权本平台并出现在账号列表中。")}</p>
                                {v.can_write.then(|| view! {
                                    {outcome_view(lang, register.value(), "Started: WeChat will tell the result.", "已发起，微信会推送结果。")}
                                    <ActionForm action=register attr:class="stack" attr:data-test="register-form">
                                        <label>{lang.t("Component", "第三方平台")}
                                            <select name="form[component_appid]">{components.iter().map(|c| view! { <option value=c.clone()>{c.clone()}</option> }).collect_view()}</select></label>
                                        <label>{lang.t("Kind", "类型")}
                                            <select name="form[kind]" data-test="register-kind">
                                                <option value="enterprise">{lang.t("Enterprise", "企业")}</option>
                                                <option value="personal">{lang.t("Personal", "个人")}</option>
                                            </select></label>
                                        <label>{lang.t("Enterprise name (or the person's name)", "企业名称（个人则为姓名）")}<input name="form[name]" data-test="register-name" required maxlength="100"/></label>
                                        <label>{lang.t("Enterprise code (enterprise only)", "企业代码（仅企业）")}<input name="form[code]" data-test="register-code" maxlength="64"/></label>
                                        <label>{lang.t("Kind of code (enterprise only)", "企业代码类型（仅企业）")}
                                            <select name="form[code_type]">
                                                <option value="1">{lang.t("Unified social credit code", "统一社会信用代码")}</option>
                                                <option value="2">{lang.t("Organization code", "组织机构代码")}</option>
                                                <option value="3">{lang.t("Business licence number", "营业执照注册号")}</option>
                                            </select></label>
                                        <label>{lang.t("Legal person's WeChat id (or the person's)", "法人微信号（个人则为本人微信号）")}<input name="form[wechat]" data-test="register-wechat" required maxlength="64"/></label>
                                        <label>{lang.t("Legal person's name (enterprise only)", "法人姓名（仅企业）")}<input name="form[legal_persona_name]" data-test="register-legal" maxlength="32"/></label>
                                        <label>{lang.t("Contact phone", "联系电话")}<input name="form[component_phone]" maxlength="20" inputmode="tel"/></label>
                                        <button type="submit" class="button" data-test="register-start">{lang.t("Register", "发起注册")}</button>
                                    </ActionForm>
                                })}
                                {move || check.value().get().and_then(Result::err).map(|e| view! { <p class="error" role="alert" data-test="registration-check-error">{e.message(lang)}</p> })}
                                <Registrations rows=registrations check=v.can_write.then_some(check)/>
                            </section>
                            <section class="card">
                                <h2>{lang.t("Batches", "批量任务")}</h2>
                                {if v.batches.is_empty() {
                                    view! { <p class="muted">{lang.t("No batch yet.", "还没有批量任务。")}</p> }.into_any()
                                } else {
                                    v.batches.into_iter().map(|b| view! { <Batch batch=b/> }).collect_view().into_any()
                                }}
                            </section>
                            })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
