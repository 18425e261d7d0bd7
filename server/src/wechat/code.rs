//! The mini-program code-management calls (代小程序实现业务 · 代码管理): the component's template
//! library (with the component token, given as `access_token`), and per mini program, with its
//! authorizer token, domains, commit, the trial QR code, categories and pages, audit, release and
//! the audit quota. Answers are checked for `errcode` like every call; what the product reads of
//! them is typed here, the rest stays WeChat's JSON for the timeline and the tenant API.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::api::{check_errcode, WechatClient, WechatError, MAX_RESPONSE_BYTES};

/// A draft in the component's draft box (uploaded from the developer tools).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TemplateDraft {
    pub draft_id: i64,
    #[serde(default)]
    pub user_version: String,
    #[serde(default)]
    pub user_desc: String,
    #[serde(default)]
    pub create_time: i64,
}

/// A template of the component's library.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Template {
    pub template_id: i64,
    #[serde(default)]
    pub template_type: i64,
    #[serde(default)]
    pub user_version: String,
    #[serde(default)]
    pub user_desc: String,
    #[serde(default)]
    pub create_time: i64,
}

/// `queryquota`: the component's monthly audit quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct AuditQuota {
    pub rest: i64,
    pub limit: i64,
    #[serde(default)]
    pub speedup_rest: i64,
    #[serde(default)]
    pub speedup_limit: i64,
}

/// An audit's state as `get_auditstatus` / `get_latest_auditstatus` say it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditState {
    pub auditid: Option<i64>,
    /// 0 passed, 1 rejected, 2 auditing, 3 withdrawn, 4 delayed.
    pub status: i64,
    pub reason: String,
    pub screenshot: String,
    pub user_version: Option<String>,
}

impl AuditState {
    fn from_value(v: &Value) -> Result<Self, WechatError> {
        let status = v
            .get("status")
            .and_then(|s| s.as_i64().or_else(|| s.as_str()?.parse().ok()))
            .ok_or_else(|| WechatError::Malformed("the audit status has no status".into()))?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        Ok(AuditState {
            auditid: v
                .get("auditid")
                .and_then(|a| a.as_i64().or_else(|| a.as_str()?.parse().ok())),
            status,
            reason: text("reason"),
            screenshot: if text("ScreenShot").is_empty() {
                text("screenshot")
            } else {
                text("ScreenShot")
            },
            user_version: v
                .get("user_version")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

/// A category the mini program may submit pages under (`get_category`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Category {
    #[serde(default)]
    pub first_class: String,
    #[serde(default)]
    pub second_class: String,
    #[serde(default)]
    pub third_class: Option<String>,
    pub first_id: i64,
    pub second_id: i64,
    #[serde(default)]
    pub third_id: Option<i64>,
}

fn list<T: serde::de::DeserializeOwned>(v: &Value, name: &str) -> Result<Vec<T>, WechatError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(items) => serde_json::from_value(items.clone())
            .map_err(|e| WechatError::Malformed(format!("{name}: {e}"))),
    }
}

impl WechatClient {
    async fn component_get(&self, path: &str, token: &str) -> Result<Value, WechatError> {
        self.get(path, token).await
    }

    pub async fn template_drafts(
        &self,
        component_token: &str,
    ) -> Result<Vec<TemplateDraft>, WechatError> {
        let v = self
            .component_get("/wxa/gettemplatedraftlist", component_token)
            .await?;
        list(&v, "draft_list")
    }

    pub async fn templates(&self, component_token: &str) -> Result<Vec<Template>, WechatError> {
        let v = self
            .component_get("/wxa/gettemplatelist", component_token)
            .await?;
        list(&v, "template_list")
    }

    /// `addtotemplate`: a draft becomes a template (type 0 normal, 1 standard).
    pub async fn add_to_template(
        &self,
        component_token: &str,
        draft_id: i64,
        template_type: i64,
    ) -> Result<(), WechatError> {
        self.post(
            "/wxa/addtotemplate",
            Some(("access_token", component_token)),
            json!({ "draft_id": draft_id, "template_type": template_type }),
        )
        .await
        .map(drop)
    }

    pub async fn delete_template(
        &self,
        component_token: &str,
        template_id: i64,
    ) -> Result<(), WechatError> {
        self.post(
            "/wxa/deletetemplate",
            Some(("access_token", component_token)),
            json!({ "template_id": template_id }),
        )
        .await
        .map(drop)
    }

    /// `modify_domain` with `body` as sent (action and lists); answers the domains now set.
    pub async fn modify_domain(&self, token: &str, body: Value) -> Result<Value, WechatError> {
        self.post("/wxa/modify_domain", Some(("access_token", token)), body)
            .await
    }

    /// `setwebviewdomain` with `body` as sent; answers the webview domains now set.
    pub async fn set_webview_domain(&self, token: &str, body: Value) -> Result<Value, WechatError> {
        self.post("/wxa/setwebviewdomain", Some(("access_token", token)), body)
            .await
    }

    /// `commit`: uploads the template's code as the trial version.
    pub async fn commit(
        &self,
        token: &str,
        template_id: i64,
        ext_json: &str,
        user_version: &str,
        user_desc: &str,
    ) -> Result<(), WechatError> {
        self.post(
            "/wxa/commit",
            Some(("access_token", token)),
            json!({
                "template_id": template_id,
                "ext_json": ext_json,
                "user_version": user_version,
                "user_desc": user_desc,
            }),
        )
        .await
        .map(drop)
    }

    /// `get_qrcode`: the trial version's QR code image (bytes and content type).
    pub async fn trial_qrcode(
        &self,
        token: &str,
        path: Option<&str>,
    ) -> Result<(Vec<u8>, String), WechatError> {
        let mut url = self.url("/wxa/get_qrcode", Some(("access_token", token)));
        if let Some(p) = path.filter(|p| !p.is_empty()) {
            url.push_str("&path=");
            url.push_str(&super::links::encode_uri_component(p));
        }
        let response = self
            .http()
            .get(url)
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(WechatError::HttpStatus(status.as_u16()));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response.bytes().await.map_err(|e| self.transport(e))?;
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(WechatError::Malformed("the answer is too large".into()));
        }
        if content_type.starts_with("image/") {
            return Ok((body.to_vec(), content_type));
        }
        // WeChat answers errors as JSON (sometimes labelled text/plain).
        let value: Value = serde_json::from_slice(&body)
            .map_err(|_| WechatError::Malformed("neither an image nor JSON".into()))?;
        check_errcode(&value)?;
        Err(WechatError::Malformed("JSON without an image".into()))
    }

    pub async fn categories(&self, token: &str) -> Result<Vec<Category>, WechatError> {
        let v = self.get("/wxa/get_category", token).await?;
        list(&v, "category_list")
    }

    pub async fn pages(&self, token: &str) -> Result<Vec<String>, WechatError> {
        let v = self.get("/wxa/get_page", token).await?;
        list(&v, "page_list")
    }

    /// `submit_audit` with the item list (and whatever else the caller adds); answers the auditid.
    pub async fn submit_audit(&self, token: &str, body: Value) -> Result<i64, WechatError> {
        let v = self
            .post("/wxa/submit_audit", Some(("access_token", token)), body)
            .await?;
        v.get("auditid")
            .and_then(|a| a.as_i64().or_else(|| a.as_str()?.parse().ok()))
            .ok_or_else(|| WechatError::Malformed("submit_audit answered no auditid".into()))
    }

    pub async fn audit_status(&self, token: &str, auditid: i64) -> Result<AuditState, WechatError> {
        let v = self
            .post(
                "/wxa/get_auditstatus",
                Some(("access_token", token)),
                json!({ "auditid": auditid }),
            )
            .await?;
        let mut state = AuditState::from_value(&v)?;
        state.auditid.get_or_insert(auditid);
        Ok(state)
    }

    pub async fn latest_audit_status(&self, token: &str) -> Result<AuditState, WechatError> {
        let v = self.get("/wxa/get_latest_auditstatus", token).await?;
        AuditState::from_value(&v)
    }

    pub async fn undo_audit(&self, token: &str) -> Result<(), WechatError> {
        self.get("/wxa/undocodeaudit", token).await.map(drop)
    }

    pub async fn speedup_audit(&self, token: &str, auditid: i64) -> Result<(), WechatError> {
        self.post(
            "/wxa/speedupaudit",
            Some(("access_token", token)),
            json!({ "auditid": auditid }),
        )
        .await
        .map(drop)
    }

    pub async fn release(&self, token: &str) -> Result<(), WechatError> {
        self.post("/wxa/release", Some(("access_token", token)), json!({}))
            .await
            .map(drop)
    }

    pub async fn revert_release(&self, token: &str) -> Result<(), WechatError> {
        self.get("/wxa/revertcoderelease", token).await.map(drop)
    }

    pub async fn audit_quota(&self, token: &str) -> Result<AuditQuota, WechatError> {
        let v = self.get("/wxa/queryquota", token).await?;
        serde_json::from_value(v).map_err(|e| WechatError::Malformed(format!("queryquota: {e}")))
    }
}

impl WechatClient {
    async fn fast_register_call(
        &self,
        path: &str,
        action: &str,
        component_token: &str,
        body: Value,
    ) -> Result<Value, WechatError> {
        let mut url = self.url(path, Some(("component_access_token", component_token)));
        url.push_str("&action=");
        url.push_str(action);
        self.send(self.http().post(url).json(&body)).await
    }

    /// `fastregisterweapp?action=create`: an enterprise mini program, confirmed by the legal
    /// person on the phone; WeChat pushes `notify_third_fasteregister` when done.
    pub async fn fast_register_enterprise(
        &self,
        component_token: &str,
        body: Value,
    ) -> Result<(), WechatError> {
        self.fast_register_call(
            "/cgi-bin/component/fastregisterweapp",
            "create",
            component_token,
            body,
        )
        .await
        .map(drop)
    }

    /// `fastregisterweapp?action=search`: where an enterprise registration stands, found by the
    /// enterprise's name and the legal person's WeChat id and name. WeChat answers a task still
    /// waiting with an errcode (89251, 89252), a finished one with `status` (0) and its `appid`.
    pub async fn fast_register_search(
        &self,
        component_token: &str,
        name: &str,
        legal_persona_wechat: &str,
        legal_persona_name: &str,
    ) -> Result<Value, WechatError> {
        self.fast_register_call(
            "/cgi-bin/component/fastregisterweapp",
            "search",
            component_token,
            serde_json::json!({
                "name": name,
                "legal_persona_wechat": legal_persona_wechat,
                "legal_persona_name": legal_persona_name,
            }),
        )
        .await
    }

    /// `fastregisterpersonalweapp?action=query`: where a personal registration stands, by its
    /// task id (`status`, and the `appid` once registered).
    pub async fn fast_register_query(
        &self,
        component_token: &str,
        taskid: &str,
    ) -> Result<Value, WechatError> {
        self.fast_register_call(
            "/wxa/component/fastregisterpersonalweapp",
            "query",
            component_token,
            serde_json::json!({ "taskid": taskid }),
        )
        .await
    }

    /// `fastregisterpersonalweapp?action=create`: answers (taskid, authorize_url).
    pub async fn fast_register_personal(
        &self,
        component_token: &str,
        body: Value,
    ) -> Result<(String, String), WechatError> {
        let v = self
            .fast_register_call(
                "/wxa/component/fastregisterpersonalweapp",
                "create",
                component_token,
                body,
            )
            .await?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        match (text("taskid"), text("authorize_url")) {
            (Some(t), Some(u)) => Ok((t, u)),
            _ => Err(WechatError::Malformed("no taskid or authorize_url".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_state_reads_both_shapes_and_refuses_garbage() {
        let latest = json!({"errcode": 0, "auditid": "42", "status": 1, "reason": "r", "ScreenShot": "a|b", "user_version": "1.0"});
        let s = AuditState::from_value(&latest).unwrap();
        assert_eq!(
            (s.auditid, s.status, s.screenshot.as_str()),
            (Some(42), 1, "a|b")
        );
        let by_id = json!({"status": "2", "screenshot": "x"});
        let s = AuditState::from_value(&by_id).unwrap();
        assert_eq!((s.auditid, s.status, s.screenshot.as_str()), (None, 2, "x"));
        assert!(AuditState::from_value(&json!({"reason": "no status"})).is_err());
        assert!(list::<Category>(
            &json!({"category_list": [{"first_id": "x"}]}),
            "category_list"
        )
        .is_err());
        assert!(list::<String>(&json!({}), "page_list").unwrap().is_empty());
    }
}
