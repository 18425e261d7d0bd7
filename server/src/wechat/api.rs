//! A typed client for WeChat's component APIs (PROTOCOL.md §5) and the authorizer calls the
//! product needs (menu, JS-SDK ticket, customer-service text).
//!
//! The client makes exactly one HTTP request per call: retries, backoff and token refreshes are the
//! token engine's decisions, which need to see every failure. The base URL comes from settings so
//! that tests and the demo talk to the simulator. Every answer is checked for an errcode first (a
//! number or a numeric string) and then read leniently: WeChat's documentation generations disagree
//! on wrappers and field names, and a tolerated shape difference is cheaper than a lost
//! authorization. Errors never carry the request URL, because the URL carries the token.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use super::errcode::{self, ErrcodeClass, ErrcodeMeaning};

/// Answers larger than this are refused; WeChat's are a few KiB.
pub(super) const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// A credential WeChat handed out: printable only on purpose.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sensitive(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WechatError {
    #[error("WeChat did not answer within {0:?}")]
    Timeout(Duration),
    #[error("WeChat could not be reached: {0}")]
    Transport(String),
    #[error("WeChat answered with HTTP status {0}")]
    HttpStatus(u16),
    #[error("WeChat's answer could not be read: {0}")]
    Malformed(String),
    #[error("WeChat refused the call: errcode {code} ({errmsg})")]
    Api { code: i64, errmsg: String },
}

impl WechatError {
    pub fn errcode(&self) -> Option<i64> {
        match self {
            WechatError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The official meaning, for the UI, when this is a known errcode.
    pub fn meaning(&self) -> Option<ErrcodeMeaning> {
        self.errcode().and_then(errcode::meaning)
    }

    /// Timeouts, unreachable hosts and 5xx are treated like WeChat's own "system busy".
    pub fn class(&self) -> ErrcodeClass {
        match self {
            WechatError::Api { code, .. } => errcode::classify(*code),
            WechatError::Timeout(_) | WechatError::Transport(_) => ErrcodeClass::Throttled,
            WechatError::HttpStatus(s) if *s >= 500 => ErrcodeClass::Throttled,
            WechatError::HttpStatus(_) | WechatError::Malformed(_) => ErrcodeClass::Other,
        }
    }

    /// What went wrong, without WeChat's own `errmsg`: that text can carry the server's egress
    /// address (61004 "… requestIP: x.x.x.x") and a request id, which tenants of a shared
    /// component must not see. The errcode and its documented meaning say the same thing.
    pub fn describe(&self) -> String {
        match self {
            WechatError::Api { code, .. } => match errcode::meaning(*code) {
                Some(m) => format!("WeChat refused the call: errcode {code} ({})", m.en),
                None => format!("WeChat refused the call: errcode {code}"),
            },
            other => other.to_string(),
        }
    }

    /// A short label for metrics and audit events: the errcode, or the failure kind.
    pub fn label(&self) -> String {
        match self {
            WechatError::Api { code, .. } => code.to_string(),
            WechatError::Timeout(_) => "timeout".into(),
            WechatError::Transport(_) => "transport".into(),
            WechatError::HttpStatus(s) => format!("http_{s}"),
            WechatError::Malformed(_) => "malformed".into(),
        }
    }
}

/// Accepts a JSON number or a numeric string (WeChat and its proxies send both).
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| serde::de::Error::custom("not an integer")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom("not an integer")),
        _ => Err(serde::de::Error::custom("expected a number")),
    }
}

fn lenient_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_i64()),
        Value::String(s) => Ok(s.trim().parse().ok()),
        _ => Ok(None),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ComponentToken {
    pub component_access_token: Sensitive,
    #[serde(deserialize_with = "lenient_i64")]
    pub expires_in: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PreAuthCode {
    pub pre_auth_code: Sensitive,
    #[serde(deserialize_with = "lenient_i64")]
    pub expires_in: i64,
}

/// One granted permission set (`func_info[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FuncInfo {
    pub id: i64,
    /// `confirm_info` when present (undocumented; kept as sent).
    pub confirm_info: Option<Value>,
}

fn func_info_list(value: Option<&Value>) -> Vec<FuncInfo> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let id = item.get("funcscope_category")?.get("id")?;
            let id = id
                .as_i64()
                .or_else(|| id.as_str().and_then(|s| s.parse().ok()))?;
            Some(FuncInfo {
                id,
                confirm_info: item.get("confirm_info").cloned(),
            })
        })
        .collect()
}

/// What `api_query_auth` returns: the account, its first token (when it has API permissions), its
/// refresh token and the permission sets it granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationInfo {
    pub authorizer_appid: String,
    pub access_token: Option<Sensitive>,
    pub expires_in: Option<i64>,
    pub refresh_token: Option<Sensitive>,
    pub func_info: Vec<FuncInfo>,
}

impl AuthorizationInfo {
    fn from_value(value: &Value) -> Result<Self, WechatError> {
        // Usually wrapped in `authorization_info`; one endpoint generation answers unwrapped.
        let info = value.get("authorization_info").unwrap_or(value);
        let appid = info
            .get("authorizer_appid")
            .or_else(|| info.get("appid"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| WechatError::Malformed("authorizer_appid is missing".into()))?;
        let text = |name: &str| {
            info.get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(Sensitive::new)
        };
        Ok(Self {
            authorizer_appid: appid.to_owned(),
            access_token: text("authorizer_access_token"),
            expires_in: info.get("expires_in").and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            }),
            refresh_token: text("authorizer_refresh_token"),
            func_info: func_info_list(info.get("func_info")),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthorizerToken {
    pub authorizer_access_token: Sensitive,
    #[serde(deserialize_with = "lenient_i64")]
    pub expires_in: i64,
    /// Normally the refresh token that was sent; persist it whatever it is.
    #[serde(default)]
    pub authorizer_refresh_token: Option<Sensitive>,
}

/// The account profile from `api_get_authorizer_info`; `raw` keeps everything for the UI.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizerProfile {
    pub nick_name: String,
    pub head_img: Option<String>,
    pub service_type: Option<i64>,
    pub verify_type: Option<i64>,
    pub user_name: Option<String>,
    pub principal_name: Option<String>,
    pub alias: Option<String>,
    pub qrcode_url: Option<String>,
    pub signature: Option<String>,
    pub account_status: Option<i64>,
    /// `MiniProgramInfo` is present only for mini programs.
    pub is_mini_program: bool,
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizerDetails {
    pub profile: AuthorizerProfile,
    pub authorization: AuthorizationInfo,
}

impl AuthorizerDetails {
    fn from_value(value: &Value) -> Result<Self, WechatError> {
        let info = value
            .get("authorizer_info")
            .ok_or_else(|| WechatError::Malformed("authorizer_info is missing".into()))?;
        let text = |name: &str| {
            info.get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let id_of = |name: &str| {
            info.get(name).and_then(|o| o.get("id")).and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
        };
        let profile = AuthorizerProfile {
            nick_name: text("nick_name").unwrap_or_default(),
            head_img: text("head_img"),
            service_type: id_of("service_type_info"),
            verify_type: id_of("verify_type_info"),
            user_name: text("user_name"),
            principal_name: text("principal_name"),
            alias: text("alias"),
            // Old answers put qrcode_url at the top level.
            qrcode_url: text("qrcode_url").or_else(|| {
                value
                    .get("qrcode_url")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
            signature: text("signature"),
            account_status: info.get("account_status").and_then(Value::as_i64),
            is_mini_program: info.get("MiniProgramInfo").is_some(),
            raw: info.clone(),
        };
        let authorization = AuthorizationInfo::from_value(value)?;
        Ok(Self {
            profile,
            authorization,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthorizerListItem {
    pub authorizer_appid: String,
    #[serde(default)]
    pub refresh_token: Option<Sensitive>,
    #[serde(default, deserialize_with = "lenient_opt_i64")]
    pub auth_time: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthorizerList {
    #[serde(deserialize_with = "lenient_i64")]
    pub total_count: i64,
    #[serde(default)]
    pub list: Vec<AuthorizerListItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JsapiTicket {
    pub ticket: Sensitive,
    #[serde(deserialize_with = "lenient_i64")]
    pub expires_in: i64,
}

/// `get_current_selfmenu_info`: whether a menu is open, and the menu as WeChat sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct SelfMenu {
    pub is_menu_open: bool,
    pub raw: Value,
}

#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub api_base: url::Url,
    /// The whole request, connect included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

/// The client. Cheap to clone (one connection pool).
#[derive(Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    api_base: String,
    timeout: Duration,
}

impl std::fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatClient")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl ClientSettings {
    /// A client for `api_base` with a deadline per call; connecting gets at most 5 seconds of it.
    pub fn new(api_base: &url::Url, timeout: Duration) -> Self {
        Self {
            api_base: api_base.clone(),
            timeout,
            connect_timeout: timeout.min(Duration::from_secs(5)),
        }
    }
}

impl WechatClient {
    pub fn new(settings: &ClientSettings) -> Result<Self, WechatError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("wxhub/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                WechatError::Transport(crate::report::Chain(&e.without_url()).to_string())
            })?;
        Ok(Self {
            http,
            api_base: settings.api_base.as_str().trim_end_matches('/').to_owned(),
            timeout: settings.timeout,
        })
    }

    /// A tenant's call through the gateway: `path` on the API base with `query` (which carries the
    /// token), the caller's method, content type and body, and WeChat's answer as it comes. The
    /// error names what failed, never the URL (it holds the token).
    pub async fn forward(
        &self,
        method: reqwest::Method,
        path: &super::gateway::GatewayPath,
        query: &str,
        content_type: Option<&str>,
        content_length: Option<u64>,
        body: Option<reqwest::Body>,
    ) -> Result<reqwest::Response, WechatError> {
        let base = url::Url::parse(&self.api_base)
            .map_err(|e| WechatError::Transport(format!("the API base is not a URL: {e}")))?;
        let url = path
            .url_on(&base, query)
            .ok_or_else(|| WechatError::Transport("the path would leave the API base".into()))?;
        let mut request = self
            .http
            .request(method, url)
            .timeout(super::gateway::CALL_TIMEOUT);
        if let Some(t) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, t);
        }
        if let Some(n) = content_length {
            request = request.header(reqwest::header::CONTENT_LENGTH, n);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        request.send().await.map_err(|e| {
            if e.is_timeout() {
                WechatError::Timeout(super::gateway::CALL_TIMEOUT)
            } else {
                WechatError::Transport(crate::report::Chain(&e.without_url()).to_string())
            }
        })
    }

    pub(super) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(super) fn url(&self, path: &str, token: Option<(&str, &str)>) -> String {
        match token {
            None => format!("{}{path}", self.api_base),
            Some((name, value)) => format!(
                "{}{path}?{name}={}",
                self.api_base,
                super::links::encode_uri_component(value)
            ),
        }
    }

    pub(super) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, WechatError> {
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(WechatError::HttpStatus(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n as usize > MAX_RESPONSE_BYTES)
        {
            return Err(WechatError::Malformed("the answer is too large".into()));
        }
        let body = response.bytes().await.map_err(|e| self.transport(e))?;
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(WechatError::Malformed("the answer is too large".into()));
        }
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| WechatError::Malformed(format!("not JSON ({e})")))?;
        if !value.is_object() {
            return Err(WechatError::Malformed("not a JSON object".into()));
        }
        check_errcode(&value)?;
        Ok(value)
    }

    pub(super) fn transport(&self, e: reqwest::Error) -> WechatError {
        if e.is_timeout() {
            WechatError::Timeout(self.timeout)
        } else {
            // The causes say what failed (refused, reset, DNS); the URL, which carries the
            // token, is dropped first.
            WechatError::Transport(crate::report::Chain(&e.without_url()).to_string())
        }
    }

    pub(super) async fn post(
        &self,
        path: &str,
        token: Option<(&str, &str)>,
        body: Value,
    ) -> Result<Value, WechatError> {
        self.send(self.http.post(self.url(path, token)).json(&body))
            .await
    }

    pub(super) async fn get(
        &self,
        path_and_query: &str,
        token: &str,
    ) -> Result<Value, WechatError> {
        let separator = if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!(
            "{}{path_and_query}{separator}access_token={}",
            self.api_base,
            super::links::encode_uri_component(token)
        );
        self.send(self.http.get(url)).await
    }

    /// `api_component_token`: a component token from the secret and the latest ticket.
    pub async fn component_token(
        &self,
        component_appid: &str,
        appsecret: &str,
        ticket: &str,
    ) -> Result<ComponentToken, WechatError> {
        let v = self
            .post(
                "/cgi-bin/component/api_component_token",
                None,
                json!({
                    "component_appid": component_appid,
                    "component_appsecret": appsecret,
                    "component_verify_ticket": ticket,
                }),
            )
            .await?;
        typed(v)
    }

    /// `api_start_push_ticket`: asks WeChat to (re)start pushing tickets. Returns `errmsg`
    /// (`ok` when it was restarted, `in a normal state` when it was running).
    pub async fn start_push_ticket(
        &self,
        component_appid: &str,
        appsecret: &str,
    ) -> Result<String, WechatError> {
        let v = self
            .post(
                "/cgi-bin/component/api_start_push_ticket",
                None,
                json!({ "component_appid": component_appid, "component_secret": appsecret }),
            )
            .await?;
        Ok(v.get("errmsg")
            .and_then(Value::as_str)
            .unwrap_or("ok")
            .to_owned())
    }

    pub async fn create_preauthcode(
        &self,
        component_token: &str,
        component_appid: &str,
    ) -> Result<PreAuthCode, WechatError> {
        let v = self
            .post(
                "/cgi-bin/component/api_create_preauthcode",
                Some(("component_access_token", component_token)),
                json!({ "component_appid": component_appid }),
            )
            .await?;
        typed(v)
    }

    pub async fn query_auth(
        &self,
        component_token: &str,
        component_appid: &str,
        authorization_code: &str,
    ) -> Result<AuthorizationInfo, WechatError> {
        let v = self
            .post(
                "/cgi-bin/component/api_query_auth",
                Some(("component_access_token", component_token)),
                json!({ "component_appid": component_appid, "authorization_code": authorization_code }),
            )
            .await?;
        AuthorizationInfo::from_value(&v)
    }

    pub async fn authorizer_token(
        &self,
        component_token: &str,
        component_appid: &str,
        authorizer_appid: &str,
        refresh_token: &str,
    ) -> Result<AuthorizerToken, WechatError> {
        let v = self
            .post(
                "/cgi-bin/component/api_authorizer_token",
                Some(("component_access_token", component_token)),
                json!({
                    "component_appid": component_appid,
                    "authorizer_appid": authorizer_appid,
                    "authorizer_refresh_token": refresh_token,
                }),
            )
            .await?;
        typed(v)
    }

    pub async fn get_authorizer_info(
        &self,
        component_token: &str,
        component_appid: &str,
        authorizer_appid: &str,
    ) -> Result<AuthorizerDetails, WechatError> {
        let v = self
            .post(
                "/cgi-bin/component/api_get_authorizer_info",
                Some(("component_access_token", component_token)),
                json!({ "component_appid": component_appid, "authorizer_appid": authorizer_appid }),
            )
            .await?;
        AuthorizerDetails::from_value(&v)
    }

    /// One page of the authorizer list; `count` is capped at WeChat's maximum of 500.
    pub async fn get_authorizer_list(
        &self,
        component_token: &str,
        component_appid: &str,
        offset: u32,
        count: u32,
    ) -> Result<AuthorizerList, WechatError> {
        let v = self
            .post(
                "/cgi-bin/component/api_get_authorizer_list",
                Some(("component_access_token", component_token)),
                json!({ "component_appid": component_appid, "offset": offset, "count": count.min(500) }),
            )
            .await?;
        typed(v)
    }

    /// The old-generation option API (component token); returns `option_value`.
    pub async fn get_authorizer_option(
        &self,
        component_token: &str,
        component_appid: &str,
        authorizer_appid: &str,
        option_name: &str,
    ) -> Result<String, WechatError> {
        let v = self
            .post(
                "/cgi-bin/component/api_get_authorizer_option",
                Some(("component_access_token", component_token)),
                json!({
                    "component_appid": component_appid,
                    "authorizer_appid": authorizer_appid,
                    "option_name": option_name,
                }),
            )
            .await?;
        match v.get("option_value") {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(WechatError::Malformed("option_value is missing".into())),
        }
    }

    pub async fn set_authorizer_option(
        &self,
        component_token: &str,
        component_appid: &str,
        authorizer_appid: &str,
        option_name: &str,
        option_value: &str,
    ) -> Result<(), WechatError> {
        self.post(
            "/cgi-bin/component/api_set_authorizer_option",
            Some(("component_access_token", component_token)),
            json!({
                "component_appid": component_appid,
                "authorizer_appid": authorizer_appid,
                "option_name": option_name,
                "option_value": option_value,
            }),
        )
        .await
        .map(drop)
    }

    /// Resets the platform's own API quota (legacy component form).
    pub async fn clear_component_quota(
        &self,
        component_token: &str,
        component_appid: &str,
    ) -> Result<(), WechatError> {
        self.post(
            "/cgi-bin/component/clear_quota",
            Some(("component_access_token", component_token)),
            json!({ "component_appid": component_appid }),
        )
        .await
        .map(drop)
    }

    /// Resets a quota without any token (works when api_component_token itself is over quota):
    /// the platform's, or with `authorizer_appid` an authorized account's.
    pub async fn clear_quota_v2(
        &self,
        component_appid: &str,
        appsecret: &str,
        authorizer_appid: Option<&str>,
    ) -> Result<(), WechatError> {
        let mut body = json!({ "component_appid": component_appid, "appsecret": appsecret });
        if let (Some(appid), Some(map)) = (authorizer_appid, body.as_object_mut()) {
            map.insert("appid".into(), Value::String(appid.to_owned()));
        }
        self.post("/cgi-bin/component/clear_quota/v2", None, body)
            .await
            .map(drop)
    }

    /// The account's current menu (needs permission set 15 on Official Accounts).
    pub async fn get_current_selfmenu_info(
        &self,
        authorizer_token: &str,
    ) -> Result<SelfMenu, WechatError> {
        let v = self
            .get("/cgi-bin/get_current_selfmenu_info", authorizer_token)
            .await?;
        let is_menu_open = v
            .get("is_menu_open")
            .and_then(|o| {
                o.as_i64()
                    .or_else(|| o.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(0)
            == 1;
        Ok(SelfMenu {
            is_menu_open,
            raw: v,
        })
    }

    /// `menu/get`: the API-made menu and its conditional menus; `None` when WeChat says there is
    /// none (46003), as it does for a menu made only in the account's backend.
    pub async fn menu_get(&self, authorizer_token: &str) -> Result<Option<Value>, WechatError> {
        match self.get("/cgi-bin/menu/get", authorizer_token).await {
            Ok(v) => Ok(Some(v)),
            Err(WechatError::Api { code: 46003, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `menu/create`: replaces the account's default menu (conditional menus stay).
    pub async fn menu_create(
        &self,
        authorizer_token: &str,
        menu: Value,
    ) -> Result<(), WechatError> {
        self.post(
            "/cgi-bin/menu/create",
            Some(("access_token", authorizer_token)),
            menu,
        )
        .await
        .map(drop)
    }

    /// `menu/delete`: removes the default menu and every conditional menu.
    pub async fn menu_delete(&self, authorizer_token: &str) -> Result<(), WechatError> {
        self.get("/cgi-bin/menu/delete", authorizer_token)
            .await
            .map(drop)
    }

    /// `menu/delconditional`: removes one conditional menu.
    pub async fn menu_delete_conditional(
        &self,
        authorizer_token: &str,
        menuid: &str,
    ) -> Result<(), WechatError> {
        self.post(
            "/cgi-bin/menu/delconditional",
            Some(("access_token", authorizer_token)),
            json!({ "menuid": menuid }),
        )
        .await
        .map(drop)
    }

    pub async fn get_jsapi_ticket(
        &self,
        authorizer_token: &str,
    ) -> Result<JsapiTicket, WechatError> {
        let v = self
            .get("/cgi-bin/ticket/getticket?type=jsapi", authorizer_token)
            .await?;
        typed(v)
    }

    /// A customer-service text message (OA set 1 or mini-program set 19).
    pub async fn send_custom_text(
        &self,
        authorizer_token: &str,
        touser: &str,
        content: &str,
    ) -> Result<(), WechatError> {
        self.post(
            "/cgi-bin/message/custom/send",
            Some(("access_token", authorizer_token)),
            json!({ "touser": touser, "msgtype": "text", "text": { "content": content } }),
        )
        .await
        .map(drop)
    }
}

/// `errcode` present and not 0 is a failure, whether a number or a numeric string.
pub(super) fn check_errcode(value: &Value) -> Result<(), WechatError> {
    let code = match value.get("errcode") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| WechatError::Malformed("errcode is not an integer".into()))?,
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| WechatError::Malformed("errcode is not a number".into()))?,
        Some(_) => return Err(WechatError::Malformed("errcode is not a number".into())),
    };
    if code == 0 {
        return Ok(());
    }
    let errmsg = value
        .get("errmsg")
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    Err(WechatError::Api { code, errmsg })
}

fn typed<T: DeserializeOwned>(value: Value) -> Result<T, WechatError> {
    serde_json::from_value(value).map_err(|e| WechatError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errcode_number_or_string() {
        assert_eq!(
            check_errcode(&json!({"errcode": 0, "errmsg": "ok"})),
            Ok(())
        );
        assert_eq!(check_errcode(&json!({"x": 1})), Ok(()));
        assert_eq!(
            check_errcode(
                &json!({"errcode": "61023", "errmsg": "refresh_token is invalid rid: 1"})
            ),
            Err(WechatError::Api {
                code: 61023,
                errmsg: "refresh_token is invalid rid: 1".into()
            })
        );
        assert!(matches!(
            check_errcode(&json!({"errcode": "soon"})),
            Err(WechatError::Malformed(_))
        ));
        assert!(matches!(
            check_errcode(&json!({"errcode": [1]})),
            Err(WechatError::Malformed(_))
        ));
    }

    #[test]
    fn query_auth_wrapped_unwrapped_and_confirm_info() {
        let wrapped = json!({"authorization_info": {
            "authorizer_appid": "wxf8b4f85f3a794e77",
            "authorizer_access_token": "QXjUqNqfYVH0yBE1iIFes0qM",
            "expires_in": 7200,
            "authorizer_refresh_token": "dTo-YCXPL4llX-u1W1pPpnp8Hgm4wpJtlR6iV0doKdY",
            "func_info": [{"funcscope_category": {"id": 1}}, {"funcscope_category": {"id": "2"}, "confirm_info": {"need_confirm": 0}}, {"bogus": true}]
        }});
        let a = AuthorizationInfo::from_value(&wrapped).unwrap();
        assert_eq!(a.authorizer_appid, "wxf8b4f85f3a794e77");
        assert_eq!(a.expires_in, Some(7200));
        assert_eq!(
            a.func_info.iter().map(|f| f.id).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(a.func_info[1].confirm_info.is_some());
        let unwrapped = wrapped["authorization_info"].clone();
        assert_eq!(AuthorizationInfo::from_value(&unwrapped).unwrap(), a);
        // An account without API permissions: no token, still an authorization.
        let bare = json!({"authorization_info": {"authorizer_appid": "wx1", "func_info": []}});
        let b = AuthorizationInfo::from_value(&bare).unwrap();
        assert!(b.access_token.is_none() && b.refresh_token.is_none());
        assert!(AuthorizationInfo::from_value(&json!({"authorization_info": {}})).is_err());
        assert_eq!(format!("{:?}", a.access_token), "Some(Sensitive(..))");
    }

    #[test]
    fn authorizer_info_both_generations() {
        let old = json!({
            "authorizer_info": {"nick_name": "n", "service_type_info": {"id": 2}, "verify_type_info": {"id": -1},
                "user_name": "gh_1", "MiniProgramInfo": {"network": {}}},
            "qrcode_url": "http://q",
            "authorization_info": {"appid": "wxold", "func_info": [{"funcscope_category": {"id": 17}}]}
        });
        let d = AuthorizerDetails::from_value(&old).unwrap();
        assert_eq!(d.profile.qrcode_url.as_deref(), Some("http://q"));
        assert!(d.profile.is_mini_program);
        assert_eq!(d.profile.verify_type, Some(-1));
        assert_eq!(d.authorization.authorizer_appid, "wxold");
        assert!(AuthorizerDetails::from_value(&json!({"authorization_info": {}})).is_err());
    }
}
