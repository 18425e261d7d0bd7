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

use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::jobs::JobError;
use super::Engine;
use crate::domain::{
    Actor, AuditKind, Authorizer, AuthorizerStatus, NewAuditEvent, Outcome, TenantId,
};
use crate::store::{
    ClaimedJob, CodeEventKind, NewCodeBatch, NewCodeEvent, StoreError, CODE_BATCH_ITEM,
};
use crate::wechat::api::WechatError;
use crate::wechat::code::{AuditQuota, AuditState, Category, Template, TemplateDraft};
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

/// A commit as asked for, checked before WeChat sees it.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub template_id: i64,
    /// A JSON object as text (empty: `{}`).
    pub ext_json: String,
    pub user_version: String,
    pub user_desc: String,
}

impl CommitRequest {
    pub fn check(&self) -> Result<(), CodeError> {
        if self.template_id <= 0 {
            return Err(invalid("template_id", "choose a template", "请选择模板"));
        }
        let ext = self.ext_json.trim();
        if !ext.is_empty() {
            match serde_json::from_str::<Value>(ext) {
                Ok(v) if v.is_object() => {}
                _ => {
                    return Err(invalid(
                        "ext_json",
                        "ext_json must be a JSON object",
                        "ext_json 必须是 JSON 对象",
                    ))
                }
            }
        }
        if ext.len() > 64 * 1024 {
            return Err(invalid(
                "ext_json",
                "ext_json is larger than 64 KB",
                "ext_json 超过 64 KB",
            ));
        }
        let v = self.user_version.trim();
        if v.is_empty() || v.chars().count() > 64 || v.chars().any(char::is_control) {
            return Err(invalid(
                "user_version",
                "the version must be 1 to 64 characters",
                "版本号须为 1 到 64 个字符",
            ));
        }
        if self.user_desc.chars().count() > 500
            || self.user_desc.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(invalid(
                "user_desc",
                "the description must be at most 500 characters",
                "版本描述最多 500 个字符",
            ));
        }
        Ok(())
    }
}

/// Checks an item list for `submit_audit`: an array of at most five objects with the fields
/// WeChat knows. An empty list is allowed (WeChat takes the app's own categories then).
pub fn check_items(items: &Value) -> Result<Value, CodeError> {
    const FIELDS: [&str; 11] = [
        "address",
        "tag",
        "first_class",
        "second_class",
        "third_class",
        "first_id",
        "second_id",
        "third_id",
        "title",
        "feedback_info",
        "feedback_stuff",
    ];
    let list = match items {
        Value::Null => return Ok(json!([])),
        Value::Array(list) => list,
        _ => {
            return Err(invalid(
                "item_list",
                "the item list must be an array",
                "审核项必须是数组",
            ))
        }
    };
    if list.len() > MAX_AUDIT_ITEMS {
        return Err(invalid(
            "item_list",
            format!("at most {MAX_AUDIT_ITEMS} items"),
            format!("审核项最多 {MAX_AUDIT_ITEMS} 个"),
        ));
    }
    for item in list {
        let Some(fields) = item.as_object() else {
            return Err(invalid(
                "item_list",
                "each item must be an object",
                "每个审核项必须是对象",
            ));
        };
        if let Some(k) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(invalid(
                "item_list",
                format!("unknown item field {k:?}"),
                format!("未知的审核项字段 {k:?}"),
            ));
        }
        let too_long = fields.values().any(|v| match v {
            Value::String(s) => s.chars().count() > 256,
            Value::Number(_) => false,
            _ => true,
        });
        if too_long {
            return Err(invalid(
                "item_list",
                "item fields are text of at most 256 characters or numbers",
                "审核项字段须为不超过 256 个字符的文本或数字",
            ));
        }
    }
    Ok(items.clone())
}

/// Checks a domain list: lower-case host names with the given scheme, at most `max`.
pub fn check_domains(
    field: &'static str,
    list: &[String],
    scheme: &str,
    max: usize,
) -> Result<Vec<String>, CodeError> {
    if list.len() > max {
        return Err(invalid(
            field,
            format!("at most {max} domains"),
            format!("最多 {max} 个域名"),
        ));
    }
    list.iter()
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .map(|d| {
            let ok = d.strip_prefix(scheme).is_some_and(|host| {
                !host.is_empty()
                    && host.len() <= 253
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
            });
            if ok {
                Ok(d)
            } else {
                Err(invalid(
                    field,
                    format!("{d:?} is not a {scheme} domain"),
                    format!("{d:?} 不是 {scheme} 域名"),
                ))
            }
        })
        .collect()
}

/// The server domains of a mini program (`modify_domain`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerDomains {
    #[serde(default)]
    pub requestdomain: Vec<String>,
    #[serde(default)]
    pub wsrequestdomain: Vec<String>,
    #[serde(default)]
    pub uploaddomain: Vec<String>,
    #[serde(default)]
    pub downloaddomain: Vec<String>,
}

impl ServerDomains {
    pub fn checked(&self) -> Result<Self, CodeError> {
        Ok(ServerDomains {
            requestdomain: check_domains("requestdomain", &self.requestdomain, "https://", 200)?,
            wsrequestdomain: check_domains(
                "wsrequestdomain",
                &self.wsrequestdomain,
                "wss://",
                200,
            )?,
            uploaddomain: check_domains("uploaddomain", &self.uploaddomain, "https://", 200)?,
            downloaddomain: check_domains("downloaddomain", &self.downloaddomain, "https://", 200)?,
        })
    }

    fn from_answer(v: &Value) -> Self {
        let list = |k: &str| {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        ServerDomains {
            requestdomain: list("requestdomain"),
            wsrequestdomain: list("wsrequestdomain"),
            uploaddomain: list("uploaddomain"),
            downloaddomain: list("downloaddomain"),
        }
    }
}

/// Both kinds of domains as WeChat holds them now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Domains {
    pub server: ServerDomains,
    pub webview: Vec<String>,
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
    fn code_token(&self, account: &Authorizer) -> Result<String, CodeError> {
        self.authorizer_token(
            account.component_id,
            &account.appid,
            crate::now_ms() + 5_000,
        )
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
        let token = self.code_token(account)?;
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
        let token = self.code_token(account)?;
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
        let token = self.code_token(account)?;
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
            None => match self.code_token(account) {
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
        let token = self.code_token(account)?;
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
        let token = self.code_token(account)?;
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
        let token = self.code_token(account)?;
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
        let token = self.code_token(account)?;
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
        let token = self.code_token(account)?;
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
        let token = self.code_token(account)?;
        self.client
            .trial_qrcode(&token, path)
            .await
            .map_err(permission_error)
    }

    /// The component's template library: its drafts and its templates.
    pub async fn code_library(
        &self,
        component: crate::domain::ComponentId,
    ) -> Result<(Vec<TemplateDraft>, Vec<Template>), CodeError> {
        let token = self.library_token(component)?;
        let drafts = self.client.template_drafts(&token).await?;
        let templates = self.client.templates(&token).await?;
        Ok((drafts, templates))
    }

    /// `addtotemplate` / `deletetemplate`, audited against the component.
    pub async fn code_library_change(
        &self,
        component: crate::domain::ComponentId,
        tenant: Option<TenantId>,
        who: &CodeActor,
        change: LibraryChange,
    ) -> Result<(), CodeError> {
        let token = self.library_token(component)?;
        let (sent, kind, summary, detail) = match change {
            LibraryChange::AddDraft {
                draft_id,
                template_type,
            } => {
                if draft_id < 0 || !matches!(template_type, 0 | 1) {
                    return Err(invalid(
                        "draft_id",
                        "choose a draft and a template type (0 or 1)",
                        "请选择草稿和模板类型（0 或 1）",
                    ));
                }
                (
                    self.client
                        .add_to_template(&token, draft_id, template_type)
                        .await,
                    AuditKind::CodeTemplateAdded,
                    format!("{} made draft {draft_id} a template", label(&who.actor)),
                    json!({ "draft_id": draft_id, "template_type": template_type }),
                )
            }
            LibraryChange::Delete { template_id } => {
                if template_id <= 0 {
                    return Err(invalid("template_id", "choose a template", "请选择模板"));
                }
                (
                    self.client.delete_template(&token, template_id).await,
                    AuditKind::CodeTemplateDeleted,
                    format!("{} deleted template {template_id}", label(&who.actor)),
                    json!({ "template_id": template_id }),
                )
            }
        };
        let (outcome, detail, summary) = match &sent {
            Ok(()) => (Outcome::Ok, detail, summary),
            Err(e) => (
                Outcome::Failed,
                json!({ "change": detail, "errcode": e.errcode(), "failure": e.label() }),
                format!("{summary} — refused: {}", e.label()),
            ),
        };
        let audit = NewAuditEvent::new(who.actor.clone(), kind, outcome, summary, crate::now_ms())
            .tenant(tenant)
            .component(component)
            .ip(who.ip)
            .detail(detail);
        self.store.append_audit(&audit).await?;
        sent.map_err(CodeError::Wechat)
    }

    /// Starts a batch over `appids` (each checked to be the tenant's mini program of
    /// `component`): one job per app, in the given order.
    pub async fn code_start_batch(
        &self,
        tenant: TenantId,
        component: crate::domain::ComponentId,
        who: &CodeActor,
        commit: &CommitRequest,
        submit: bool,
        appids: &[String],
    ) -> Result<i64, CodeError> {
        commit.check()?;
        if appids.is_empty() || appids.len() > MAX_BATCH {
            return Err(invalid(
                "appids",
                format!("choose 1 to {MAX_BATCH} mini programs"),
                format!("请选择 1 到 {MAX_BATCH} 个小程序"),
            ));
        }
        let mut unique: Vec<String> = Vec::new();
        for appid in appids {
            let account = self
                .store
                .authorizer(tenant, appid)
                .await?
                .filter(|a| a.component_id == component)
                .ok_or_else(|| {
                    invalid(
                        "appids",
                        format!("{appid} is not a mini program of this component"),
                        format!("{appid} 不是该第三方平台的小程序"),
                    )
                })?;
            check_account(&account)
                .map_err(|e| invalid("appids", format!("{appid}: {e}"), format!("{appid}：{e}")))?;
            if !unique.contains(appid) {
                unique.push(appid.clone());
            }
        }
        let actor = label(&who.actor);
        let ext = if commit.ext_json.trim().is_empty() {
            "{}"
        } else {
            commit.ext_json.trim()
        };
        let new = NewCodeBatch {
            tenant,
            component,
            template_id: commit.template_id,
            user_version: commit.user_version.trim(),
            user_desc: &commit.user_desc,
            ext_json: ext,
            submit,
            started_by: &actor,
            appids: &unique,
        };
        let audit = NewAuditEvent::new(
            who.actor.clone(),
            AuditKind::CodeBatchStarted,
            Outcome::Ok,
            format!(
                "{actor} started a batch: template {} as version {} to {} mini program(s){}",
                commit.template_id,
                commit.user_version.trim(),
                unique.len(),
                if submit { ", submitted for audit" } else { "" }
            ),
            crate::now_ms(),
        )
        .tenant(Some(tenant))
        .component(component)
        .ip(who.ip)
        .detail(
            json!({ "template_id": commit.template_id, "count": unique.len(), "submit": submit }),
        );
        let id = self
            .store
            .create_code_batch(&new, &audit, crate::now_ms())
            .await?;
        self.wake_jobs.notify_one();
        Ok(id)
    }

    /// One item of a batch: commit, then (when asked and the quota has room) submit. The item's
    /// row says what happened; a WeChat refusal is the item's outcome, not the job's failure.
    pub(super) async fn code_batch_item(&self, job: &ClaimedJob) -> Result<(), JobError> {
        let tenant = job
            .tenant_id
            .ok_or_else(|| JobError::Fatal("a batch item without a tenant".into()))?;
        let batch_id = job
            .payload
            .get("batch_id")
            .and_then(Value::as_i64)
            .ok_or_else(|| JobError::Fatal("no batch_id".into()))?;
        let appid = job
            .payload
            .get("authorizer_appid")
            .and_then(Value::as_str)
            .ok_or_else(|| JobError::Fatal("no authorizer_appid".into()))?;
        let batch = self
            .store
            .code_batch(tenant, batch_id)
            .await?
            .ok_or_else(|| JobError::Fatal(format!("batch {batch_id} is gone")))?;
        let items = self.store.code_batch_items(tenant, batch_id).await?;
        let Some(item) = items.iter().find(|i| i.authorizer_appid == appid) else {
            return Err(JobError::Fatal("the item is gone".into()));
        };
        let done = |status: &str| matches!(status, "submitted" | "failed" | "skipped");
        if done(item.status.as_str()) || (item.status == "committed" && batch.submit == 0) {
            return Ok(());
        }
        let now = crate::now_ms;
        let set = |status: &'static str, auditid: Option<i64>, error: Option<String>| {
            let error = error.map(|e| e.chars().take(300).collect::<String>());
            async move {
                self.store
                    .set_code_batch_item(
                        tenant,
                        batch_id,
                        appid,
                        status,
                        auditid,
                        error.as_deref(),
                        now(),
                    )
                    .await
            }
        };
        let account = match self.store.authorizer(tenant, appid).await? {
            Some(a) => a,
            None => {
                set(
                    "failed",
                    None,
                    Some("the mini program is no longer the tenant's".into()),
                )
                .await?;
                return Ok(());
            }
        };
        let who = CodeActor {
            actor: Actor::System,
            ip: None,
        };
        let retryable = |e: &CodeError| match e {
            CodeError::NoToken | CodeError::NoComponentToken | CodeError::Store(_) => true,
            CodeError::Wechat(w) => {
                w.errcode().is_none() || matches!(w.errcode(), Some(-1 | 45009))
            }
            _ => false,
        };
        if item.status == "pending" {
            let commit = CommitRequest {
                template_id: batch.template_id,
                ext_json: batch.ext_json.clone(),
                user_version: batch.user_version.clone(),
                user_desc: batch.user_desc.clone(),
            };
            match self.code_commit(&account, &who, &commit).await {
                Ok(()) => set("committed", None, None).await?,
                Err(e) if retryable(&e) => return Err(JobError::Retry(e.to_string(), 10_000)),
                Err(e) => {
                    set("failed", None, Some(describe(&e))).await?;
                    return Ok(());
                }
            }
            if batch.submit == 0 {
                return Ok(());
            }
        }
        // The quota is the component's: read it right before, so the last ones are skipped
        // rather than refused one by one.
        match self.code_quota(&account).await {
            Ok(q) if q.rest <= 0 => {
                set(
                    "skipped",
                    None,
                    Some(format!("the audit quota is used up ({} a month)", q.limit)),
                )
                .await?;
                return Ok(());
            }
            Ok(_) => {}
            Err(e) if retryable(&e) => return Err(JobError::Retry(e.to_string(), 10_000)),
            Err(e) => {
                set("failed", None, Some(describe(&e))).await?;
                return Ok(());
            }
        }
        match self.code_submit(&account, &who, &Value::Null).await {
            Ok(auditid) => set("submitted", Some(auditid), None).await?,
            Err(CodeError::Wechat(w)) if w.errcode() == Some(85085) => {
                set("skipped", None, Some("the audit quota is used up".into())).await?
            }
            Err(e) if retryable(&e) => return Err(JobError::Retry(e.to_string(), 10_000)),
            Err(e) => set("failed", None, Some(describe(&e))).await?,
        }
        Ok(())
    }
}

/// A change to the template library.
#[derive(Debug, Clone, Copy)]
pub enum LibraryChange {
    AddDraft { draft_id: i64, template_type: i64 },
    Delete { template_id: i64 },
}

/// What a failure says to an operator (no `errmsg`: it can carry the server's address).
pub fn describe(e: &CodeError) -> String {
    match e {
        CodeError::Wechat(w) => w.describe(),
        other => other.to_string(),
    }
}

/// The job kind of a batch item (re-exported for the job dispatcher).
pub const BATCH_ITEM: &str = CODE_BATCH_ITEM;

/// A fast registration as asked for (the console's form or the API).
#[derive(Debug, Clone, Default)]
pub struct FastRegisterRequest {
    /// `enterprise` or `personal`.
    pub kind: String,
    /// The enterprise's name, or the person's (`idname`).
    pub name: String,
    /// The enterprise's code (统一社会信用代码 and the like); enterprise only.
    pub code: String,
    /// 1 统一社会信用代码, 2 组织机构代码, 3 营业执照注册号; enterprise only.
    pub code_type: i64,
    /// The legal person's WeChat id, or the person's (`wxuser`).
    pub wechat: String,
    /// The legal person's name; enterprise only.
    pub legal_persona_name: String,
    pub component_phone: String,
}

fn text_rule(
    field: &'static str,
    value: &str,
    max: usize,
    en: &str,
    zh: &str,
) -> Result<String, CodeError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("{en} (1 to {max} characters)"),
            format!("{zh}（1 到 {max} 个字符）"),
        ));
    }
    Ok(v.to_owned())
}

impl FastRegisterRequest {
    /// The body WeChat takes, after the rules.
    fn checked_body(&self) -> Result<Value, CodeError> {
        let wechat = text_rule(
            "wechat",
            &self.wechat,
            64,
            "the WeChat id is required",
            "微信号必填",
        )?;
        if !wechat
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid(
                "wechat",
                "a WeChat id holds letters, digits, _ and -",
                "微信号只含字母、数字、_ 和 -",
            ));
        }
        let phone = self.component_phone.trim();
        if phone.len() > 20
            || !phone
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == '+')
        {
            return Err(invalid(
                "component_phone",
                "the phone number holds digits only",
                "电话号码只能是数字",
            ));
        }
        match self.kind.as_str() {
            "enterprise" => {
                let code = text_rule(
                    "code",
                    &self.code,
                    64,
                    "the enterprise code is required",
                    "企业代码必填",
                )?;
                if !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(invalid(
                        "code",
                        "the enterprise code holds letters and digits",
                        "企业代码只含字母和数字",
                    ));
                }
                if !(1..=3).contains(&self.code_type) {
                    return Err(invalid(
                        "code_type",
                        "choose the kind of code",
                        "请选择代码类型",
                    ));
                }
                Ok(json!({
                    "name": text_rule("name", &self.name, 100, "the enterprise name is required", "企业名称必填")?,
                    "code": code,
                    "code_type": self.code_type,
                    "legal_persona_wechat": wechat,
                    "legal_persona_name": text_rule("legal_persona_name", &self.legal_persona_name, 32, "the legal person's name is required", "法人姓名必填")?,
                    "component_phone": phone,
                }))
            }
            "personal" => Ok(json!({
                "idname": text_rule("name", &self.name, 32, "the person's name is required", "姓名必填")?,
                "wxuser": wechat,
                "component_phone": phone,
            })),
            _ => Err(invalid(
                "kind",
                "choose enterprise or personal",
                "请选择企业或个人",
            )),
        }
    }
}

impl Engine {
    /// Starts a fast registration on `component` for `tenant`: WeChat takes it, wxhub records it
    /// (the push that ends it finds it by the WeChat id and the name).
    pub async fn code_fast_register(
        &self,
        tenant: TenantId,
        component: crate::domain::ComponentId,
        who: &CodeActor,
        request: &FastRegisterRequest,
    ) -> Result<i64, CodeError> {
        let body = request.checked_body()?;
        let token = self.library_token(component)?;
        let personal = request.kind == "personal";
        let sent = if personal {
            self.client
                .fast_register_personal(&token, body.clone())
                .await
                .map(Some)
        } else {
            self.client
                .fast_register_enterprise(&token, body.clone())
                .await
                .map(|()| None)
        };
        let actor = label(&who.actor);
        let name = body["name"]
            .as_str()
            .or(body["idname"].as_str())
            .unwrap_or("")
            .to_owned();
        let wechat = request.wechat.trim().to_owned();
        let audit = |outcome, summary: String, detail: Value| {
            NewAuditEvent::new(
                who.actor.clone(),
                AuditKind::CodeFastRegisterStarted,
                outcome,
                summary,
                crate::now_ms(),
            )
            .tenant(Some(tenant))
            .component(component)
            .ip(who.ip)
            .detail(detail)
        };
        let task = match sent {
            Ok(task) => task,
            Err(e) => {
                let a = audit(
                    Outcome::Failed,
                    format!(
                        "{actor} could not start a fast registration of {name}: {}",
                        e.label()
                    ),
                    json!({ "kind": request.kind, "errcode": e.errcode(), "failure": e.label() }),
                );
                self.store.append_audit(&a).await?;
                return Err(CodeError::Wechat(e));
            }
        };
        let new = crate::store::NewFastRegistration {
            tenant,
            component,
            kind: if personal { "personal" } else { "enterprise" },
            name: &name,
            legal_persona_wechat: &wechat,
            legal_persona_name: request.legal_persona_name.trim(),
            code: request.code.trim(),
            code_type: (!personal).then_some(request.code_type),
            component_phone: request.component_phone.trim(),
            taskid: task.as_ref().map(|(t, _)| t.as_str()),
            authorize_url: task.as_ref().map(|(_, u)| u.as_str()),
            started_by: &actor,
        };
        let a = audit(
            Outcome::Ok,
            format!(
                "{actor} started a fast registration of the {} mini program {name}",
                new.kind
            ),
            json!({ "kind": new.kind }),
        );
        Ok(self
            .store
            .record_fast_registration(&new, &a, crate::now_ms())
            .await?)
    }

    /// A `notify_third_fasteregister` push: the registration it ends (matched by the WeChat id
    /// and the name in its `info`) is settled, and its tenant is the one the account goes to.
    pub(super) async fn settle_fast_registration(
        &self,
        component: crate::domain::ComponentId,
        root: &crate::wechat::xml::XmlElement,
    ) -> Result<Option<TenantId>, StoreError> {
        let Some(info) = root.child("info") else {
            return Ok(None);
        };
        let name = info
            .child_text("name")
            .or_else(|| info.child_text("idname"))
            .unwrap_or("");
        let wechat = info
            .child_text("legal_persona_wechat")
            .or_else(|| info.child_text("wxuser"))
            .unwrap_or("");
        if name.is_empty() || wechat.is_empty() {
            return Ok(None);
        }
        let Some(task) = self
            .store
            .waiting_fast_registration(component, name, wechat)
            .await?
        else {
            return Ok(None);
        };
        let status: Option<i64> = root
            .child_text("status")
            .and_then(|s| s.trim().parse().ok());
        let appid = root
            .child_text("appid")
            .filter(|a| crate::domain::AppId::parse("appid", a).is_ok());
        let message: Option<String> = root
            .child_text("msg")
            .map(|m| m.chars().take(200).collect());
        let settled = if status == Some(0) && appid.is_some() {
            "succeeded"
        } else {
            "failed"
        };
        self.store
            .settle_fast_registration(
                task.id,
                settled,
                status,
                message.as_deref(),
                appid,
                crate::now_ms(),
            )
            .await?;
        Ok(Some(TenantId(task.tenant_id)))
    }
}
