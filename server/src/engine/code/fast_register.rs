//! Fast registration (快速注册): an enterprise or personal mini program registered through the
//! platform. WeChat takes the request with the component token; the legal person (or the person)
//! confirms on the phone; `notify_third_fasteregister` ends it. wxhub records the request, matches
//! the push to it by component, name and WeChat id, and gives the new account to the tenant that
//! started it.

use serde_json::{json, Value};

use super::{invalid, label, CodeActor, CodeError};
use crate::domain::{AuditKind, NewAuditEvent, Outcome, TenantId};
use crate::engine::Engine;
use crate::store::StoreError;

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
