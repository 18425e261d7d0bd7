//! Fast registration (快速注册): an enterprise or personal mini program registered through the
//! platform. WeChat takes the request with the component token; the legal person (or the person)
//! confirms on the phone; `notify_third_fasteregister` ends it. wxhub records the request, matches
//! the push to it by component, name and WeChat id, and gives the new account to the tenant that
//! started it.

use serde_json::{json, Value};

use super::{invalid, label, CodeActor, CodeError};
use crate::domain::{AuditKind, NewAuditEvent, Outcome, TenantId};
use crate::engine::Engine;
use crate::store::{FastRegistration, StoreError};

/// What WeChat said of a waiting registration, as recorded.
struct CheckFound {
    status: &'static str,
    wechat_status: i64,
    message: String,
    appid: Option<String>,
}

impl CheckFound {
    fn from_status(status: i64, appid: Option<String>) -> Self {
        match (status, appid) {
            (0, Some(appid)) => Self {
                status: "succeeded",
                wechat_status: 0,
                message: format!(
                    "WeChat registered it as {appid}; the account arrives with WeChat's push (if it was lost, import the component's existing authorizations) · 微信已注册为 {appid}，账号随微信推送到达（推送丢失时可导入第三方平台的已有授权）"
                ),
                appid: Some(appid),
            },
            (89251, _) => Self::waiting(89251, "waiting for the legal person's face verification · 等待法人人脸核身校验"),
            (89252, _) => Self::waiting(89252, "WeChat is checking the legal person and the enterprise · 法人与企业信息一致性校验中"),
            (other, _) => Self::waiting(other, &format!("WeChat reports status {other} · 微信返回状态 {other}")),
        }
    }

    fn waiting(wechat_status: i64, message: &str) -> Self {
        Self {
            status: "waiting",
            wechat_status,
            message: message.to_owned(),
            appid: None,
        }
    }
}

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

    /// Asks WeChat where a waiting registration stands (`search` for an enterprise, `query` for
    /// a personal one) and records it. A registration that is not waiting is handed back as it
    /// is. WeChat's finished-and-registered answer marks it succeeded with its appid; the account
    /// itself comes with WeChat's push (or an import of the component's existing authorizations,
    /// if that push was lost), which still finds this row. Any other status is recorded and the
    /// registration keeps waiting: only the push says a registration failed, except WeChat's own
    /// "no such task" (89250).
    pub async fn code_fast_register_check(
        &self,
        task: &FastRegistration,
    ) -> Result<FastRegistration, CodeError> {
        if task.status != "waiting" {
            return Ok(task.clone());
        }
        let token = self.library_token(crate::domain::ComponentId(task.component_id))?;
        let answer = match (task.kind.as_str(), task.taskid.as_deref()) {
            ("personal", Some(taskid)) => self.client.fast_register_query(&token, taskid).await,
            ("personal", None) => return Ok(task.clone()),
            _ => {
                self.client
                    .fast_register_search(
                        &token,
                        &task.name,
                        &task.legal_persona_wechat,
                        &task.legal_persona_name,
                    )
                    .await
            }
        };
        let found = match answer {
            Ok(v) => {
                let status = v.get("status").and_then(Value::as_i64).unwrap_or(0);
                let appid = v
                    .get("appid")
                    .and_then(Value::as_str)
                    .filter(|a| crate::domain::AppId::parse("appid", a).is_ok())
                    .map(str::to_owned);
                CheckFound::from_status(status, appid)
            }
            Err(e) => match e.errcode() {
                Some(code @ (89251 | 89252)) => CheckFound::from_status(code, None),
                Some(89250) => CheckFound {
                    status: "failed",
                    wechat_status: 89250,
                    message: "WeChat has no such task (89250) · 微信找不到该任务".into(),
                    appid: None,
                },
                _ => return Err(CodeError::Wechat(e)),
            },
        };
        self.store
            .record_fast_registration_check(
                task.id,
                task.updated_at,
                found.status,
                Some(found.wechat_status),
                Some(&found.message),
                found.appid.as_deref(),
                crate::now_ms(),
            )
            .await?;
        Ok(self
            .store
            .fast_registration(TenantId(task.tenant_id), task.id)
            .await?
            .unwrap_or_else(|| task.clone()))
    }

    /// The health loop's part: asks WeChat about registrations that have waited `quiet_for`
    /// without a word (a lost push would leave them waiting for good), a few at a time. Each row
    /// is written only if unchanged since it was read, so instances checking together record
    /// one answer. Returns how many were asked about.
    pub async fn check_quiet_fast_registrations(
        &self,
        quiet_for: std::time::Duration,
    ) -> Result<usize, CodeError> {
        let quiet_ms = i64::try_from(quiet_for.as_millis()).unwrap_or(i64::MAX);
        let rows = self
            .store
            .quiet_fast_registrations(quiet_ms, crate::now_ms(), 20)
            .await?;
        for task in &rows {
            if let Err(e) = self.code_fast_register_check(task).await {
                tracing::info!(registration = task.id, error = %e, "a fast registration could not be checked");
            }
        }
        Ok(rows.len())
    }

    /// A `notify_third_fasteregister` push: the registration it ends (matched by the WeChat id
    /// and the name in its `info`) is settled, and its tenant is the one the account goes to.
    pub(in crate::engine) async fn settle_fast_registration(
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
