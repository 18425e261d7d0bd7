//! The console's mini-program code management: a mini program's code page, the releases page
//! (template libraries and batches). Thin: each method finds the user and the tenant's account,
//! decodes the form, and calls one `Engine::code_*` operation; the page's state comes from the
//! timeline wxhub keeps, and what only WeChat knows (quota, templates, pages, categories,
//! domains) is read live, each failure a note on the page rather than a failed page.

use app::dto::{
    CodeAuditView, CodeBatchForm, CodeBatchItemView, CodeBatchView, CodeCategoryView,
    CodeDomainsView, CodeDraftView, CodeEventView, CodeLibraryView, CodeOverview, CodeQuotaView,
    CodeReleasesView, CodeTemplateView, CodeVersionView, FastRegisterForm, FastRegistrationView,
};
use app::error::AppError;
use app::services::{CodeService, RequestCtx};
use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{json, Value};

use super::{internal, store_error, user_actor, Console};
use crate::domain::{AppId, Authorizer, ComponentOwner, TenantId};
use crate::engine::code::{
    check_account, CodeActor, CodeError, CommitRequest, FastRegisterRequest, LibraryChange,
    ServerDomains,
};
use crate::store::{CodeEvent, CodeEventKind, FastRegistration};
use crate::wechat::code::Template;

fn registration_view(f: FastRegistration) -> FastRegistrationView {
    FastRegistrationView {
        id: f.id,
        kind: f.kind,
        name: f.name,
        status: f.status,
        wechat_status: f.wechat_status,
        message: f.message,
        appid: f.appid,
        authorize_url: f.authorize_url,
        started_by: f.started_by,
        created_at: f.created_at,
        updated_at: f.updated_at,
    }
}

fn code_error(context: &'static str) -> impl Fn(CodeError) -> AppError {
    move |e| {
        match e {
        CodeError::NotMiniProgram => AppError::invalid_bilingual("appid", "the account is not a mini program", "该账号不是小程序"),
        CodeError::NotAuthorized => AppError::invalid_bilingual("appid", "the account is no longer authorized", "该账号已不再授权"),
        CodeError::NoPermission => AppError::invalid_bilingual(
            "appid",
            "the mini program has not granted code management (permission set 18) to this platform",
            "该小程序未向本平台授权开发管理权限（权限集 18）",
        ),
        CodeError::NoToken => AppError::invalid_bilingual(
            "appid",
            "the account has no access token yet; try again in a minute",
            "该账号暂无 access_token，请稍后再试",
        ),
        CodeError::NoComponentToken => AppError::invalid_bilingual(
            "component_appid",
            "the component has no token yet (its ticket may not have arrived); try again in a few minutes",
            "第三方平台暂无 component_access_token（票据可能尚未推送），请几分钟后再试",
        ),
        CodeError::Invalid { field, en, zh } => AppError::invalid_bilingual(field, en, zh),
        CodeError::Wechat(w) => match (w.errcode(), w.meaning()) {
            (Some(code), Some(m)) => AppError::invalid_bilingual(
                "wechat",
                format!("WeChat refused: {code} {}", m.en),
                format!("微信拒绝：{code} {}", m.zh),
            ),
            (Some(code), None) => AppError::invalid_bilingual(
                "wechat",
                format!("WeChat refused: errcode {code}"),
                format!("微信拒绝：错误码 {code}"),
            ),
            (None, _) => AppError::invalid_bilingual(
                "wechat",
                "WeChat could not be reached; nothing was changed. Try again.",
                "无法连接微信，未做任何更改，请重试。",
            ),
        },
        CodeError::Store(s) => internal(context, s),
    }
    }
}

/// Why code cannot be managed for this account now, if it cannot.
fn unavailable(a: &Authorizer) -> Option<(String, String)> {
    match check_account(a) {
        Ok(_) => None,
        Err(CodeError::NotMiniProgram) => Some((
            "Official Accounts have no code to manage.".into(),
            "公众号没有可管理的代码。".into(),
        )),
        Err(CodeError::NoPermission) => Some((
            "The mini program has not granted code management (permission set 18) to this platform.".into(),
            "该小程序未向本平台授权开发管理权限（权限集 18）。".into(),
        )),
        Err(_) => Some((
            "The account is no longer authorized; its timeline is kept.".into(),
            "该账号已不再授权；时间线仍保留。".into(),
        )),
    }
}

fn problem(what_en: &str, what_zh: &str, e: &CodeError) -> (String, String) {
    let detail = match e {
        CodeError::Wechat(w) => w.label(),
        CodeError::NoToken => "no access token yet".into(),
        CodeError::NoComponentToken => "no component token yet".into(),
        other => other.to_string(),
    };
    (
        format!("{what_en} could not be read from WeChat ({detail})."),
        format!("无法从微信读取{what_zh}（{detail}）。"),
    )
}

fn event_view(e: &CodeEvent) -> CodeEventView {
    let note = match e.kind {
        CodeEventKind::AuditFailed | CodeEventKind::AuditDelayed => {
            e.detail["reason"].as_str().unwrap_or("").to_owned()
        }
        CodeEventKind::Submitted => e.detail["item_list"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["address"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        CodeEventKind::Domains => {
            let count = |v: &Value| v.as_array().map_or(0, Vec::len);
            let server = &e.detail["server"];
            format!(
                "{} request · {} socket · {} upload · {} download · {} webview",
                count(&server["requestdomain"]),
                count(&server["wsrequestdomain"]),
                count(&server["uploaddomain"]),
                count(&server["downloaddomain"]),
                count(&e.detail["webview"])
            )
        }
        CodeEventKind::Committed => e.user_desc.clone().unwrap_or_default(),
        _ => String::new(),
    };
    CodeEventView {
        id: e.id,
        kind: e.kind.as_str().to_owned(),
        user_version: e.user_version.clone(),
        template_id: e.template_id,
        auditid: e.auditid,
        note,
        actor: e.actor_label.clone(),
        at: e.created_at,
    }
}

/// Where the code stands, from the timeline (newest first): the trial version, the latest audit,
/// the live version.
fn state_of(
    events: &[CodeEvent],
) -> (
    Option<CodeVersionView>,
    Option<CodeAuditView>,
    Option<CodeVersionView>,
) {
    let version = |e: &CodeEvent| CodeVersionView {
        user_version: e.user_version.clone().unwrap_or_default(),
        user_desc: e.user_desc.clone().unwrap_or_default(),
        template_id: e.template_id,
        at: e.created_at,
    };
    let trial = events
        .iter()
        .find(|e| e.kind == CodeEventKind::Committed)
        .map(version);
    let audit = events
        .iter()
        .find(|e| e.kind == CodeEventKind::Submitted)
        .map(|s| {
            let auditid = s.auditid.unwrap_or(0);
            // What happened to this audit since, newest first.
            let later = events.iter().take_while(|e| e.id != s.id);
            let mut status = "auditing";
            let mut reason = String::new();
            let mut screenshots = Vec::new();
            for e in later.collect::<Vec<_>>().into_iter().rev() {
                match e.kind {
                    CodeEventKind::AuditPassed => status = "passed",
                    CodeEventKind::AuditFailed => {
                        status = "rejected";
                        reason = e.detail["reason"].as_str().unwrap_or("").to_owned();
                        screenshots = e.detail["screenshots"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_owned)
                                    .collect()
                            })
                            .unwrap_or_default();
                    }
                    CodeEventKind::AuditDelayed => {
                        status = "delayed";
                        reason = e.detail["reason"].as_str().unwrap_or("").to_owned();
                    }
                    CodeEventKind::AuditWithdrawn => status = "withdrawn",
                    CodeEventKind::Released if status == "passed" => status = "released",
                    _ => {}
                }
            }
            CodeAuditView {
                auditid,
                status: status.to_owned(),
                user_version: s.user_version.clone().unwrap_or_default(),
                reason,
                screenshots,
                submitted_at: s.created_at,
            }
        });
    // The live version: the newest release, or what a revert brought back.
    let released = events
        .iter()
        .find(|e| matches!(e.kind, CodeEventKind::Released | CodeEventKind::Reverted))
        .map(version);
    (trial, audit, released)
}

fn template_view(t: &Template) -> CodeTemplateView {
    CodeTemplateView {
        template_id: t.template_id,
        user_version: t.user_version.clone(),
        user_desc: t.user_desc.clone(),
        template_type: t.template_type,
        created_at: t.create_time * 1000,
    }
}

/// A list typed one per line (or separated by commas or spaces).
fn lines(text: &str) -> Vec<String> {
    text.split(|c: char| c == '\n' || c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Console {
    /// One of the components the tenant uses, by appid (its own, or the shared one).
    async fn tenant_component(
        &self,
        tenant: TenantId,
        appid: &str,
    ) -> Result<crate::domain::Component, AppError> {
        self.store
            .list_components_for_tenant(tenant)
            .await
            .map_err(store_error("components could not be read"))?
            .into_iter()
            .find(|c| c.appid == appid)
            .ok_or_else(|| {
                AppError::invalid_bilingual(
                    "component_appid",
                    "choose a component",
                    "请选择第三方平台",
                )
            })
    }

    async fn code_account(&self, tenant: TenantId, appid: &str) -> Result<Authorizer, AppError> {
        let appid = AppId::parse("appid", appid).map_err(|_| AppError::NotFound)?;
        self.store
            .authorizer(tenant, &appid)
            .await
            .map_err(store_error("an account could not be read"))?
            .ok_or(AppError::NotFound)
    }

    async fn code_admin(
        &self,
        ctx: &RequestCtx,
        appid: &str,
    ) -> Result<(CodeActor, Authorizer), AppError> {
        let (user, tenant) = self.tenant_admin(ctx).await?;
        let account = self.code_account(tenant, appid).await?;
        Ok((
            CodeActor {
                actor: user_actor(&user),
                ip: ctx.client_ip,
            },
            account,
        ))
    }

    async fn library(
        &self,
        component: &crate::domain::Component,
        can_write: bool,
    ) -> CodeLibraryView {
        let (drafts, templates, problem) = match self.engine.code_library(component.id).await {
            Ok((d, t)) => (d, t, None),
            Err(e) => (
                Vec::new(),
                Vec::new(),
                Some(problem("The template library", "模板库", &e)),
            ),
        };
        let shared = component.owner == ComponentOwner::Platform;
        CodeLibraryView {
            component_appid: component.appid.clone(),
            component_name: component.name.clone(),
            shared,
            can_write: can_write && !shared,
            drafts: drafts
                .iter()
                .map(|d| CodeDraftView {
                    draft_id: d.draft_id,
                    user_version: d.user_version.clone(),
                    user_desc: d.user_desc.clone(),
                    created_at: d.create_time * 1000,
                })
                .collect(),
            templates: templates.iter().map(template_view).collect(),
            problem,
        }
    }
}

#[async_trait]
impl CodeService for Console {
    async fn code_overview(&self, ctx: &RequestCtx, appid: &str) -> Result<CodeOverview, AppError> {
        let (user, tenant) = self.tenant_user(ctx).await?;
        let account = self.code_account(tenant, appid).await?;
        let events = self
            .store
            .code_events(tenant, &account.appid)
            .await
            .map_err(store_error("a timeline could not be read"))?;
        let (trial, audit, released) = state_of(&events);
        let component = self
            .store
            .component_by_id(account.component_id)
            .await
            .map_err(store_error("a component could not be read"))?;
        let unavailable = unavailable(&account);
        let mut read_problems = Vec::new();
        let (mut quota, mut templates, mut pages, mut categories, mut domains) =
            (None, Vec::new(), Vec::new(), Vec::new(), None);
        if unavailable.is_none() {
            let engine = &self.engine;
            let (q, lib, cp, d) = tokio::join!(
                engine.code_quota(&account),
                engine.code_library(account.component_id),
                engine.code_categories_and_pages(&account),
                engine.code_domains(&account),
            );
            match q {
                Ok(q) => {
                    quota = Some(CodeQuotaView {
                        rest: q.rest,
                        limit: q.limit,
                        speedup_rest: q.speedup_rest,
                        speedup_limit: q.speedup_limit,
                    })
                }
                Err(e) => read_problems.push(problem("The audit quota", "提审额度", &e)),
            }
            match lib {
                Ok((_, t)) => templates = t.iter().map(template_view).collect(),
                Err(e) => read_problems.push(problem("The templates", "模板", &e)),
            }
            match cp {
                Ok((c, p)) => {
                    categories = c
                        .iter()
                        .map(|c| CodeCategoryView {
                            value: format!("{}:{}", c.first_id, c.second_id),
                            label: format!("{} › {}", c.first_class, c.second_class),
                        })
                        .collect();
                    pages = p;
                }
                Err(e) => read_problems.push(problem("Categories and pages", "类目和页面", &e)),
            }
            match d {
                Ok(d) => {
                    domains = Some(CodeDomainsView {
                        request: d.server.requestdomain,
                        socket: d.server.wsrequestdomain,
                        upload: d.server.uploaddomain,
                        download: d.server.downloaddomain,
                        webview: d.webview,
                    })
                }
                Err(e) => read_problems.push(problem("The domains", "域名", &e)),
            }
        }
        Ok(CodeOverview {
            appid: account.appid.clone(),
            name: account.nick_name.clone(),
            component_appid: component.map(|c| c.appid).unwrap_or_default(),
            can_write: user.role.can_write() && unavailable.is_none(),
            unavailable,
            trial,
            audit,
            released,
            quota,
            templates,
            pages,
            categories,
            domains,
            timeline: events.iter().map(event_view).collect(),
            read_problems,
        })
    }

    async fn code_timeline_head(
        &self,
        ctx: &RequestCtx,
        appid: &str,
    ) -> Result<Option<i64>, AppError> {
        let (_, tenant) = self.tenant_user(ctx).await?;
        let account = self.code_account(tenant, appid).await?;
        Ok(self
            .store
            .code_events(tenant, &account.appid)
            .await
            .map_err(store_error("a timeline could not be read"))?
            .first()
            .map(|e| e.id))
    }

    async fn code_commit(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        template_id: &str,
        user_version: &str,
        user_desc: &str,
        ext_json: &str,
    ) -> Result<(), AppError> {
        let (who, account) = self.code_admin(ctx, appid).await?;
        let template_id = template_id.trim().parse::<i64>().map_err(|_| {
            AppError::invalid_bilingual("template_id", "choose a template", "请选择模板")
        })?;
        let request = CommitRequest {
            template_id,
            ext_json: ext_json.to_owned(),
            user_version: user_version.to_owned(),
            user_desc: user_desc.to_owned(),
        };
        self.engine
            .code_commit(&account, &who, &request)
            .await
            .map_err(code_error("a commit failed"))
    }

    async fn code_submit(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        page: &str,
        category: &str,
        title: &str,
    ) -> Result<i64, AppError> {
        let (who, account) = self.code_admin(ctx, appid).await?;
        let items = if page.trim().is_empty() {
            json!([])
        } else {
            let mut item = json!({ "address": page.trim(), "title": title.trim() });
            if !category.trim().is_empty() {
                let (first, second) = category
                    .split_once(':')
                    .and_then(|(f, s)| {
                        Some((f.trim().parse::<i64>().ok()?, s.trim().parse::<i64>().ok()?))
                    })
                    .ok_or_else(|| {
                        AppError::invalid_bilingual("category", "choose a category", "请选择类目")
                    })?;
                item["first_id"] = json!(first);
                item["second_id"] = json!(second);
            }
            json!([item])
        };
        self.engine
            .code_submit(&account, &who, &items)
            .await
            .map_err(code_error("a submission failed"))
    }

    async fn code_step(&self, ctx: &RequestCtx, appid: &str, step: &str) -> Result<(), AppError> {
        let (who, account) = self.code_admin(ctx, appid).await?;
        let result = match step {
            "withdraw" => self.engine.code_withdraw(&account, &who).await,
            "speedup" => {
                let (_, tenant) = self.tenant_user(ctx).await?;
                let events = self
                    .store
                    .code_events(tenant, &account.appid)
                    .await
                    .map_err(store_error("a timeline could not be read"))?;
                let auditid = events
                    .iter()
                    .find(|e| e.kind == CodeEventKind::Submitted)
                    .and_then(|e| e.auditid)
                    .unwrap_or(0);
                self.engine.code_speed_up(&account, &who, auditid).await
            }
            "release" => self.engine.code_release(&account, &who).await,
            "revert" => self.engine.code_revert(&account, &who).await,
            _ => {
                return Err(AppError::invalid_bilingual(
                    "step",
                    "unknown step",
                    "未知操作",
                ))
            }
        };
        result.map_err(code_error("a code step failed"))
    }

    async fn code_set_domains(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        d: CodeDomainsView,
    ) -> Result<(), AppError> {
        let (who, account) = self.code_admin(ctx, appid).await?;
        let split = |list: &[String]| list.iter().flat_map(|l| lines(l)).collect::<Vec<_>>();
        let server = ServerDomains {
            requestdomain: split(&d.request),
            wsrequestdomain: split(&d.socket),
            uploaddomain: split(&d.upload),
            downloaddomain: split(&d.download),
        };
        let webview = split(&d.webview);
        self.engine
            .code_set_domains(&account, &who, Some(&server), Some(&webview))
            .await
            .map(drop)
            .map_err(code_error("setting domains failed"))
    }

    async fn code_trial_qrcode(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        path: &str,
    ) -> Result<String, AppError> {
        let (_, tenant) = self.tenant_user(ctx).await?;
        let account = self.code_account(tenant, appid).await?;
        let path = path.trim();
        let (bytes, content_type) = self
            .engine
            .code_trial_qrcode(&account, (!path.is_empty()).then_some(path))
            .await
            .map_err(code_error("a trial QR code failed"))?;
        let content_type = if content_type.starts_with("image/") {
            content_type
        } else {
            "image/jpeg".into()
        };
        Ok(format!(
            "data:{};base64,{}",
            content_type.split(';').next().unwrap_or("image/jpeg"),
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ))
    }

    async fn code_releases(&self, ctx: &RequestCtx) -> Result<CodeReleasesView, AppError> {
        // Platform staff keep the shared components' libraries (admins change them, auditors read).
        if let Ok(staff) = self.staff(ctx).await {
            let can_write = staff.role == app::model::Role::PlatformAdmin;
            let mut libraries = Vec::new();
            for c in self
                .store
                .list_all_components()
                .await
                .map_err(store_error("components could not be read"))?
                .iter()
                .filter(|c| c.owner == ComponentOwner::Platform)
            {
                let mut library = self.library(c, false).await;
                library.can_write = can_write;
                libraries.push(library);
            }
            return Ok(CodeReleasesView {
                staff: true,
                registrations: Vec::new(),
                libraries,
                mini_programs: Vec::new(),
                batches: Vec::new(),
                can_write: false,
            });
        }
        let (user, tenant) = self.tenant_user(ctx).await?;
        let can_write = user.role.can_write();
        let components = self
            .store
            .list_components_for_tenant(tenant)
            .await
            .map_err(store_error("components could not be read"))?;
        let mut libraries = Vec::new();
        for c in &components {
            libraries.push(self.library(c, can_write).await);
        }
        let accounts = self
            .store
            .list_authorizers(tenant)
            .await
            .map_err(store_error("accounts could not be read"))?;
        let mini_programs = accounts
            .iter()
            .filter(|a| check_account(a).is_ok())
            .filter_map(|a| {
                let component = components.iter().find(|c| c.id == a.component_id)?;
                Some((
                    a.appid.clone(),
                    a.nick_name.clone(),
                    component.appid.clone(),
                ))
            })
            .collect::<Vec<_>>();
        let names: std::collections::HashMap<&str, &str> = accounts
            .iter()
            .map(|a| (a.appid.as_str(), a.nick_name.as_str()))
            .collect();
        let mut batches = Vec::new();
        for b in self
            .store
            .code_batches(tenant, 20)
            .await
            .map_err(store_error("batches could not be read"))?
        {
            let items = self
                .store
                .code_batch_items(tenant, b.id)
                .await
                .map_err(store_error("batches could not be read"))?;
            batches.push(CodeBatchView {
                id: b.id,
                template_id: b.template_id,
                user_version: b.user_version,
                submit: b.submit == 1,
                started_by: b.started_by,
                created_at: b.created_at,
                items: items
                    .into_iter()
                    .map(|i| CodeBatchItemView {
                        name: names
                            .get(i.authorizer_appid.as_str())
                            .map(|n| (*n).to_owned())
                            .unwrap_or_default(),
                        appid: i.authorizer_appid,
                        status: i.status,
                        auditid: i.auditid,
                        error: i.error,
                    })
                    .collect(),
            });
        }
        let registrations = self
            .store
            .fast_registrations(tenant, 50)
            .await
            .map_err(store_error("registrations could not be read"))?
            .into_iter()
            .map(registration_view)
            .collect();
        Ok(CodeReleasesView {
            staff: false,
            registrations,
            libraries,
            mini_programs,
            batches,
            can_write,
        })
    }

    async fn code_library_change(
        &self,
        ctx: &RequestCtx,
        component_appid: &str,
        change: &str,
        id: &str,
    ) -> Result<(), AppError> {
        let (user, tenant, component) = match self.staff(ctx).await {
            // Staff: the shared components' libraries, admins only.
            Ok(_) => {
                let user = self.platform_admin(ctx).await?;
                let component = self
                    .store
                    .component_by_appid(component_appid)
                    .await
                    .map_err(store_error("a component could not be read"))?
                    .filter(|c| c.owner == ComponentOwner::Platform)
                    .ok_or(AppError::NotFound)?;
                (user, None, component)
            }
            Err(_) => {
                let (user, tenant) = self.tenant_admin(ctx).await?;
                let component = self
                    .tenant_component(tenant, component_appid)
                    .await
                    .map_err(|_| AppError::NotFound)?;
                if component.owner == ComponentOwner::Platform {
                    // The shared library belongs to every tenant at once: platform staff keep it.
                    return Err(AppError::Forbidden);
                }
                (user, Some(tenant), component)
            }
        };
        let id: i64 = id.trim().parse().map_err(|_| {
            AppError::invalid_bilingual("id", "choose a draft or a template", "请选择草稿或模板")
        })?;
        let change = match change {
            "add" => LibraryChange::AddDraft {
                draft_id: id,
                template_type: 0,
            },
            "delete" => LibraryChange::Delete { template_id: id },
            _ => {
                return Err(AppError::invalid_bilingual(
                    "change",
                    "unknown change",
                    "未知操作",
                ))
            }
        };
        let who = CodeActor {
            actor: user_actor(&user),
            ip: ctx.client_ip,
        };
        self.engine
            .code_library_change(component.id, tenant, &who, change)
            .await
            .map_err(code_error("a template change failed"))
    }

    async fn code_start_batch(
        &self,
        ctx: &RequestCtx,
        form: CodeBatchForm,
    ) -> Result<i64, AppError> {
        let (user, tenant) = self.tenant_admin(ctx).await?;
        let component = self.tenant_component(tenant, &form.component_appid).await?;
        let template_id = form.template_id.trim().parse::<i64>().map_err(|_| {
            AppError::invalid_bilingual("template_id", "choose a template", "请选择模板")
        })?;
        let request = CommitRequest {
            template_id,
            ext_json: form.ext_json.clone(),
            user_version: form.user_version.clone(),
            user_desc: form.user_desc.clone(),
        };
        let who = CodeActor {
            actor: user_actor(&user),
            ip: ctx.client_ip,
        };
        let submit = form
            .submit
            .as_deref()
            .is_some_and(|v| v == "on" || v == "true");
        self.engine
            .code_start_batch(
                tenant,
                component.id,
                &who,
                &request,
                submit,
                &lines(&form.appids),
            )
            .await
            .map_err(code_error("a batch could not start"))
    }

    async fn code_fast_register(
        &self,
        ctx: &RequestCtx,
        form: FastRegisterForm,
    ) -> Result<i64, AppError> {
        let (user, tenant) = self.tenant_admin(ctx).await?;
        let component = self.tenant_component(tenant, &form.component_appid).await?;
        let code_type = if form.kind == "enterprise" {
            form.code_type.trim().parse::<i64>().map_err(|_| {
                AppError::invalid_bilingual(
                    "code_type",
                    "choose the kind of code",
                    "请选择代码类型",
                )
            })?
        } else {
            0
        };
        let request = FastRegisterRequest {
            kind: form.kind.clone(),
            name: form.name.clone(),
            code: form.code.clone(),
            code_type,
            wechat: form.wechat.clone(),
            legal_persona_name: form.legal_persona_name.clone(),
            component_phone: form.component_phone.clone(),
        };
        let who = CodeActor {
            actor: user_actor(&user),
            ip: ctx.client_ip,
        };
        self.engine
            .code_fast_register(tenant, component.id, &who, &request)
            .await
            .map_err(code_error("a fast registration could not start"))
    }

    async fn code_fast_register_check(
        &self,
        ctx: &RequestCtx,
        id: i64,
    ) -> Result<FastRegistrationView, AppError> {
        let (_, tenant) = self.tenant_admin(ctx).await?;
        let task = self
            .store
            .fast_registration(tenant, id)
            .await
            .map_err(store_error("a registration could not be read"))?
            .ok_or(AppError::NotFound)?;
        let now = self
            .engine
            .code_fast_register_check(&task)
            .await
            .map_err(code_error("WeChat could not be asked about a registration"))?;
        Ok(registration_view(now))
    }
}
