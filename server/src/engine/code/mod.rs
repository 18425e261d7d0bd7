//! Mini-program code management: the operations the console and the tenant API share (commit,
//! submit for audit, withdraw, speed up, release, revert, domains, the template library, batches),
//! the reads (latest audit, quota, categories and pages, the trial QR code), and what the message
//! URL's `weapp_audit_*` events do (the timeline, an alert on a rejection).
//!
//! Each write calls WeChat once and, when WeChat took it, writes the timeline row and its audit
//! event in one transaction (`Store::record_code_event`); a refusal is audited as
//! `code.operation_failed` with the errcode and changes nothing else. An audit result is keyed by
//! (account, auditid, result), so the pushed event and a later read of the same result are one row.
//!
//! They live on the engine, not in `ops`, because the batch worker (a job) runs them too, and the
//! engine cannot call up into `ops`.
//!
//! One file per part: this one holds the errors, the per-account operations and the audit events;
//! `checks` the input rules, `library` the template library, `batch` batches, `fast_register`
//! fast registration.

mod batch;
mod checks;
mod fast_register;
mod library;

pub use batch::BATCH_ITEM;
pub use checks::{check_domains, check_items, CommitRequest, Domains, ServerDomains};
pub use fast_register::FastRegisterRequest;
pub use library::LibraryChange;

use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::Engine;
use crate::domain::{
    Actor, AuditKind, Authorizer, AuthorizerStatus, NewAuditEvent, Outcome, TenantId,
};
use crate::store::{CodeEventKind, NewCodeEvent, StoreError};
use crate::wechat::api::WechatError;
use crate::wechat::code::{AuditQuota, AuditState, Category};
use crate::wechat::xml::AccountMessage;

/// Mini-program development and data analysis (PROTOCOL.md §8.2).
pub const CODE_PERMISSION: i64 = 18;
/// The alert a rejected audit raises (resolved by the next pass).
pub const AUDIT_FAILED_ALERT: &str = "code_audit_failed";
/// Items an audit submission holds at most (WeChat's limit).
pub const MAX_AUDIT_ITEMS: usize = 5;
/// Mini programs one batch covers at most.
pub const MAX_BATCH: usize = 500;

/// Who acts, from where.
#[derive(Debug, Clone)]
pub struct CodeActor {
    pub actor: Actor,
    pub ip: Option<std::net::IpAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("the account is not a mini program")]
    NotMiniProgram,
    #[error("the account is no longer authorized")]
    NotAuthorized,
    #[error("the mini program has not granted code management (permission set 18)")]
    NoPermission,
    #[error("no access token yet")]
    NoToken,
    #[error("the component has no token yet (its ticket may not have arrived)")]
    NoComponentToken,
    #[error("{field}: {en}")]
    Invalid {
        field: &'static str,
        en: String,
        zh: String,
    },
    #[error(transparent)]
    Wechat(#[from] WechatError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, en: impl Into<String>, zh: impl Into<String>) -> CodeError {
    CodeError::Invalid {
        field,
        en: en.into(),
        zh: zh.into(),
    }
}

/// Checks that `account` is a mini program of its tenant that can manage code now.
pub fn check_account(account: &Authorizer) -> Result<TenantId, CodeError> {
    if account.status != AuthorizerStatus::Authorized {
        return Err(CodeError::NotAuthorized);
    }
    if account.account_kind != "mini_program" {
        return Err(CodeError::NotMiniProgram);
    }
    if !account.func_ids.contains(&CODE_PERMISSION) {
        return Err(CodeError::NoPermission);
    }
    account.tenant_id.ok_or(CodeError::NotAuthorized)
}

fn label(actor: &Actor) -> String {
    match actor {
        Actor::ApiKey { name, .. } => format!("API key {name:?}"),
        other => other.label(),
    }
}

/// The WeChat answers that mean "this account did not grant what the call needs".
fn permission_error(e: WechatError) -> CodeError {
    match e.errcode() {
        Some(48001 | 61007 | 86000) => CodeError::NoPermission,
        _ => CodeError::Wechat(e),
    }
}

impl Engine {
    async fn code_token(&self, account: &Authorizer) -> Result<String, CodeError> {
        self.authorizer_token(
            account.component_id,
            &account.appid,
            crate::now_ms() + 5_000,
        )
        .await
        .map_err(CodeError::from)?
        .map(|t| t.value.expose_secret().to_owned())
        .ok_or(CodeError::NoToken)
    }

    fn library_token(&self, component: crate::domain::ComponentId) -> Result<String, CodeError> {
        self.component_token(component, crate::now_ms() + 5_000)
            .map(|t| t.value.expose_secret().to_owned())
            .ok_or(CodeError::NoComponentToken)
    }

    fn code_audit(
        &self,
        who: &CodeActor,
        account: &Authorizer,
        kind: AuditKind,
        outcome: Outcome,
        summary: String,
        detail: Value,
    ) -> NewAuditEvent {
        NewAuditEvent::new(who.actor.clone(), kind, outcome, summary, crate::now_ms())
            .tenant(account.tenant_id)
            .component(account.component_id)
            .authorizer(&account.appid)
            .ip(who.ip)
            .detail(detail)
    }

    /// Audits a refused or failed call and hands the error back.
    async fn code_failed(
        &self,
        who: &CodeActor,
        account: &Authorizer,
        operation: &str,
        e: WechatError,
    ) -> CodeError {
        let audit = self.code_audit(
            who,
            account,
            AuditKind::CodeOperationFailed,
            Outcome::Failed,
            format!(
                "{} could not {operation} for {}: {}",
                label(&who.actor),
                account.appid,
                e.label()
            ),
            json!({ "operation": operation, "errcode": e.errcode(), "failure": e.label() }),
        );
        if let Err(s) = self.store.append_audit(&audit).await {
            return CodeError::Store(s);
        }
        permission_error(e)
    }

    #[allow(clippy::too_many_arguments)]
    async fn code_record(
        &self,
        who: &CodeActor,
        account: &Authorizer,
        event: NewCodeEvent<'_>,
        kind: AuditKind,
        summary: String,
    ) -> Result<(), CodeError> {
        let detail = json!({
            "template_id": event.template_id, "user_version": event.user_version,
            "auditid": event.auditid, "timeline": event.kind.as_str(),
        });
        let audit = self.code_audit(who, account, kind, Outcome::Ok, summary, detail);
        self.store
            .record_code_event(&event, Some(&audit), crate::now_ms())
            .await?;
        Ok(())
    }

    fn event<'a>(
        &self,
        account: &'a Authorizer,
        tenant: TenantId,
        kind: CodeEventKind,
        actor: &'a str,
    ) -> NewCodeEvent<'a> {
        NewCodeEvent {
            tenant,
            component: account.component_id,
            appid: &account.appid,
            kind,
            template_id: None,
            user_version: None,
            user_desc: None,
            auditid: None,
            detail: json!({}),
            actor_label: actor,
            dedupe_key: None,
        }
    }

    /// `commit`: the template's code becomes the mini program's trial version.
    pub async fn code_commit(
        &self,
        account: &Authorizer,
        who: &CodeActor,
        c: &CommitRequest,
    ) -> Result<(), CodeError> {
        let tenant = check_account(account)?;
        c.check()?;
        let token = self.code_token(account).await?;
        let ext = if c.ext_json.trim().is_empty() {
            "{}"
        } else {
            c.ext_json.trim()
        };
        if let Err(e) = self
            .client
            .commit(
                &token,
                c.template_id,
                ext,
                c.user_version.trim(),
                &c.user_desc,
            )
            .await
        {
            return Err(self.code_failed(who, account, "commit", e).await);
        }
        let actor = label(&who.actor);
        let mut event = self.event(account, tenant, CodeEventKind::Committed, &actor);
        event.template_id = Some(c.template_id);
        event.user_version = Some(c.user_version.trim());
        event.user_desc = Some(&c.user_desc);
        let summary = format!(
            "{actor} committed template {} as version {} of {}",
            c.template_id,
            c.user_version.trim(),
            account.appid
        );
        self.code_record(who, account, event, AuditKind::CodeCommitted, summary)
            .await
    }

    /// The version last committed (from the timeline), for what a submission sends for audit.
    async fn last_commit(
        &self,
        tenant: TenantId,
        appid: &str,
    ) -> Result<Option<(Option<i64>, Option<String>, Option<String>)>, CodeError> {
        Ok(self
            .store
            .code_events(tenant, appid)
            .await?
            .into_iter()
            .find(|e| e.kind == CodeEventKind::Committed)
            .map(|e| (e.template_id, e.user_version, e.user_desc)))
    }

    /// `submit_audit` with the item list; answers the auditid.
    pub async fn code_submit(
        &self,
        account: &Authorizer,
        who: &CodeActor,
        items: &Value,
    ) -> Result<i64, CodeError> {
        let tenant = check_account(account)?;
        let items = check_items(items)?;
        let token = self.code_token(account).await?;
        let auditid = match self
            .client
            .submit_audit(&token, json!({ "item_list": items }))
            .await
        {
            Ok(id) => id,
            Err(e) => return Err(self.code_failed(who, account, "submit for audit", e).await),
        };
        let (template_id, version, desc) = self
            .last_commit(tenant, &account.appid)
            .await?
            .unwrap_or((None, None, None));
        let actor = label(&who.actor);
        let mut event = self.event(account, tenant, CodeEventKind::Submitted, &actor);
        event.auditid = Some(auditid);
        event.template_id = template_id;
        event.user_version = version.as_deref();
        event.user_desc = desc.as_deref();
        event.detail = json!({ "item_list": items });
        let summary = format!(
            "{actor} submitted version {} of {} for audit (audit {auditid})",
            version.as_deref().unwrap_or("?"),
            account.appid
        );
        self.code_record(who, account, event, AuditKind::CodeSubmitted, summary)
            .await?;
        Ok(auditid)
    }

    /// The audit in progress or last decided, as WeChat says now. A result the timeline lacks (a
    /// push that never came) is recorded as if pushed.
    pub async fn code_latest_audit(
        &self,
        account: &Authorizer,
    ) -> Result<Option<AuditState>, CodeError> {
        let tenant = check_account(account)?;
        let token = self.code_token(account).await?;
        let state = match self.client.latest_audit_status(&token).await {
            Ok(s) => s,
            // Never submitted.
            Err(WechatError::Api {
                code: 85012 | 85019,
                ..
            }) => return Ok(None),
            Err(e) => return Err(permission_error(e)),
        };
        if let Some(auditid) = state.auditid {
            let kind = match state.status {
                0 => Some(CodeEventKind::AuditPassed),
                1 => Some(CodeEventKind::AuditFailed),
                4 => Some(CodeEventKind::AuditDelayed),
                _ => None,
            };
            if let Some(kind) = kind {
                self.record_audit_result(
                    account,
                    tenant,
                    auditid,
                    kind,
                    &state.reason,
                    &state.screenshot,
                    None,
                )
                .await?;
            }
        }
        Ok(Some(state))
    }

    /// Writes an audit result once per (account, audit, result); raises or resolves the alert.
    #[allow(clippy::too_many_arguments)]
    async fn record_audit_result(
        &self,
        account: &Authorizer,
        tenant: TenantId,
        auditid: i64,
        kind: CodeEventKind,
        reason: &str,
        screenshot: &str,
        at: Option<i64>,
    ) -> Result<bool, CodeError> {
        let key = format!(
            "audit:{}:{}:{auditid}:{}",
            account.component_id.0,
            account.appid,
            kind.as_str()
        );
        let screenshots: Vec<&str> = screenshot.split('|').filter(|s| !s.is_empty()).collect();
        let mut event = self.event(account, tenant, kind, "WeChat");
        event.auditid = Some(auditid);
        event.detail = json!({ "reason": reason, "screenshots": screenshots, "wechat_time": at });
        event.dedupe_key = Some(&key);
        let (outcome, summary) = match kind {
            CodeEventKind::AuditPassed => (
                Outcome::Ok,
                format!("WeChat passed audit {auditid} of {}", account.appid),
            ),
            CodeEventKind::AuditFailed => (
                Outcome::Failed,
                format!(
                    "WeChat rejected audit {auditid} of {}: {}",
                    account.appid,
                    reason.chars().take(200).collect::<String>()
                ),
            ),
            _ => (
                Outcome::Ok,
                format!("WeChat delayed audit {auditid} of {}", account.appid),
            ),
        };
        let who = CodeActor {
            actor: Actor::Wechat,
            ip: None,
        };
        let audit = self.code_audit(
            &who,
            account,
            AuditKind::CodeAuditResult,
            outcome,
            summary.clone(),
            json!({
                "auditid": auditid, "timeline": kind.as_str(), "reason": reason,
            }),
        );
        let now = crate::now_ms();
        let new = self
            .store
            .record_code_event(&event, Some(&audit), now)
            .await?;
        if new {
            match kind {
                CodeEventKind::AuditFailed => {
                    self.store
                        .raise_alert(
                            Some(tenant),
                            Some(account.component_id),
                            Some(account.id),
                            AUDIT_FAILED_ALERT,
                            &summary,
                            now,
                        )
                        .await?;
                }
                CodeEventKind::AuditPassed => {
                    self.store
                        .resolve_authorizer_alerts(account.id, AUDIT_FAILED_ALERT, now)
                        .await?;
                }
                _ => {}
            }
        }
        Ok(new)
    }

    /// A `weapp_audit_success` / `_fail` / `_delay` event from the message URL (already stored
    /// and relayed to the tenant's webhooks): the timeline row, and the alert on a rejection. The
    /// event names no audit; it is the account's latest submission.
    pub(super) async fn code_audit_event(
        &self,
        account: &Authorizer,
        message: &AccountMessage,
    ) -> Result<(), CodeError> {
        let Some(tenant) = account.tenant_id else {
            return Ok(());
        };
        let kind = match message.event.as_deref() {
            Some("weapp_audit_success") => CodeEventKind::AuditPassed,
            Some("weapp_audit_fail") => CodeEventKind::AuditFailed,
            Some("weapp_audit_delay") => CodeEventKind::AuditDelayed,
            _ => return Ok(()),
        };
        let submitted = self
            .store
            .code_events(tenant, &account.appid)
            .await?
            .into_iter()
            .find(|e| e.kind == CodeEventKind::Submitted && e.component_id == account.component_id)
            .and_then(|e| e.auditid);
        // A submission made outside wxhub: the result still belongs on the timeline, under
        // the audit WeChat reports as latest when it can be read.
        let auditid = match submitted {
            Some(id) => id,
            None => match self.code_token(account).await {
                Ok(token) => match self.client.latest_audit_status(&token).await {
                    Ok(AuditState {
                        auditid: Some(id), ..
                    }) => id,
                    _ => 0,
                },
                Err(_) => 0,
            },
        };
        let text = |k: &str| message.root.child_text(k).unwrap_or_default().to_owned();
        let at = ["SuccTime", "FailTime", "DelayTime"].iter().find_map(|k| {
            message
                .root
                .child_text(k)
                .and_then(|t| t.trim().parse::<i64>().ok())
        });
        self.record_audit_result(
            account,
            tenant,
            auditid,
            kind,
            &text("Reason"),
            &text("ScreenShot"),
            at,
        )
        .await
        .map(drop)
    }

    /// `undocodeaudit`.
    pub async fn code_withdraw(
        &self,
        account: &Authorizer,
        who: &CodeActor,
    ) -> Result<(), CodeError> {
        self.code_simple(
            account,
            who,
            "withdraw the audit",
            CodeEventKind::AuditWithdrawn,
            AuditKind::CodeAuditWithdrawn,
            None,
        )
        .await
    }

    /// `speedupaudit` for the audit in progress.
    pub async fn code_speed_up(
        &self,
        account: &Authorizer,
        who: &CodeActor,
        auditid: i64,
    ) -> Result<(), CodeError> {
        if auditid <= 0 {
            return Err(invalid(
                "auditid",
                "no audit to speed up",
                "没有可加急的审核",
            ));
        }
        self.code_simple(
            account,
            who,
            "speed up the audit",
            CodeEventKind::Speedup,
            AuditKind::CodeAuditSpedUp,
            Some(auditid),
        )
        .await
    }

    /// `release`: the passed version goes live.
    pub async fn code_release(
        &self,
        account: &Authorizer,
        who: &CodeActor,
    ) -> Result<(), CodeError> {
        self.code_simple(
            account,
            who,
            "release",
            CodeEventKind::Released,
            AuditKind::CodeReleased,
            None,
        )
        .await
    }

    /// `revertcoderelease`: the version before goes live again.
    pub async fn code_revert(
        &self,
        account: &Authorizer,
        who: &CodeActor,
    ) -> Result<(), CodeError> {
        self.code_simple(
            account,
            who,
            "revert the release",
            CodeEventKind::Reverted,
            AuditKind::CodeReverted,
            None,
        )
        .await
    }

    async fn code_simple(
        &self,
        account: &Authorizer,
        who: &CodeActor,
        operation: &str,
        kind: CodeEventKind,
        audit_kind: AuditKind,
        auditid: Option<i64>,
    ) -> Result<(), CodeError> {
        let tenant = check_account(account)?;
        let token = self.code_token(account).await?;
        let sent = match kind {
            CodeEventKind::AuditWithdrawn => self.client.undo_audit(&token).await,
            CodeEventKind::Speedup => {
                self.client
                    .speedup_audit(&token, auditid.unwrap_or(0))
                    .await
            }
            CodeEventKind::Released => self.client.release(&token).await,
            _ => self.client.revert_release(&token).await,
        };
        if let Err(e) = sent {
            return Err(self.code_failed(who, account, operation, e).await);
        }
        let events = self.store.code_events(tenant, &account.appid).await?;
        // What the step concerns: the audit it acted on, the version it made live.
        let submitted = events.iter().find(|e| e.kind == CodeEventKind::Submitted);
        let version = match kind {
            CodeEventKind::Reverted => events
                .iter()
                .filter(|e| e.kind == CodeEventKind::Released)
                .nth(1)
                .and_then(|e| e.user_version.clone()),
            _ => submitted.and_then(|e| e.user_version.clone()),
        };
        let actor = label(&who.actor);
        let mut event = self.event(account, tenant, kind, &actor);
        event.auditid = auditid.or_else(|| submitted.and_then(|e| e.auditid));
        event.template_id = submitted.and_then(|e| e.template_id);
        event.user_version = version.as_deref();
        let summary = format!("{actor} did {operation} for {}", account.appid);
        self.code_record(who, account, event, audit_kind, summary)
            .await
    }

    /// Both kinds of domains as WeChat holds them.
    pub async fn code_domains(&self, account: &Authorizer) -> Result<Domains, CodeError> {
        check_account(account)?;
        let token = self.code_token(account).await?;
        let server = self
            .client
            .modify_domain(&token, json!({ "action": "get" }))
            .await
            .map_err(permission_error)?;
        let webview = self
            .client
            .set_webview_domain(&token, json!({ "action": "get" }))
            .await
            .map_err(permission_error)?;
        Ok(Domains {
            server: ServerDomains::from_answer(&server),
            webview: webview
                .get("webviewdomain")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Sets the server domains and/or the webview domains (`action: set`); answers what is set.
    pub async fn code_set_domains(
        &self,
        account: &Authorizer,
        who: &CodeActor,
        server: Option<&ServerDomains>,
        webview: Option<&[String]>,
    ) -> Result<Domains, CodeError> {
        let tenant = check_account(account)?;
        let server = server.map(ServerDomains::checked).transpose()?;
        let webview = webview
            .map(|w| check_domains("webviewdomain", w, "https://", 100))
            .transpose()?;
        let token = self.code_token(account).await?;
        if let Some(server) = &server {
            let mut body = serde_json::to_value(server)
                .map_err(|e| invalid("domains", e.to_string(), e.to_string()))?;
            body["action"] = json!("set");
            if let Err(e) = self.client.modify_domain(&token, body).await {
                return Err(self
                    .code_failed(who, account, "set the server domains", e)
                    .await);
            }
        }
        if let Some(webview) = &webview {
            match self
                .client
                .set_webview_domain(&token, json!({ "action": "set", "webviewdomain": webview }))
                .await
            {
                // "Unchanged" is not a failure of the operator's wish.
                Ok(_) | Err(WechatError::Api { code: 89019, .. }) => {}
                Err(e) => {
                    return Err(self
                        .code_failed(who, account, "set the webview domains", e)
                        .await)
                }
            }
        }
        let now = self.code_domains(account).await?;
        let actor = label(&who.actor);
        let mut event = self.event(account, tenant, CodeEventKind::Domains, &actor);
        event.detail = json!({ "server": now.server, "webview": now.webview });
        let summary = format!("{actor} set the domains of {}", account.appid);
        self.code_record(who, account, event, AuditKind::CodeDomainsChanged, summary)
            .await?;
        Ok(now)
    }

    pub async fn code_quota(&self, account: &Authorizer) -> Result<AuditQuota, CodeError> {
        check_account(account)?;
        let token = self.code_token(account).await?;
        self.client
            .audit_quota(&token)
            .await
            .map_err(permission_error)
    }

    /// Categories and, once code is committed, its pages (none before).
    pub async fn code_categories_and_pages(
        &self,
        account: &Authorizer,
    ) -> Result<(Vec<Category>, Vec<String>), CodeError> {
        check_account(account)?;
        let token = self.code_token(account).await?;
        let categories = self
            .client
            .categories(&token)
            .await
            .map_err(permission_error)?;
        let pages = match self.client.pages(&token).await {
            Ok(p) => p,
            Err(WechatError::Api {
                code: 86001 | 85086,
                ..
            }) => Vec::new(),
            Err(e) => return Err(permission_error(e)),
        };
        Ok((categories, pages))
    }

    /// The trial version's QR code (image bytes, content type).
    pub async fn code_trial_qrcode(
        &self,
        account: &Authorizer,
        path: Option<&str>,
    ) -> Result<(Vec<u8>, String), CodeError> {
        check_account(account)?;
        if let Some(p) = path {
            if p.len() > 512 || p.chars().any(char::is_control) {
                return Err(invalid(
                    "path",
                    "the page path is not valid",
                    "页面路径无效",
                ));
            }
        }
        let token = self.code_token(account).await?;
        self.client
            .trial_qrcode(&token, path)
            .await
            .map_err(permission_error)
    }
}

/// What a failure says to an operator (no `errmsg`: it can carry the server's address).
pub fn describe(e: &CodeError) -> String {
    match e {
        CodeError::Wechat(w) => w.describe(),
        other => other.to_string(),
    }
}
