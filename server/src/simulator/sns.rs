//! Users logging in through the platform, as WeChat plays it: a mini program's `wx.login` gives a
//! one-shot `js_code` that `sns/component/jscode2session` exchanges (with the component's token)
//! for the user's openid and session key; web OAuth on behalf of an Official Account gives a
//! one-shot `code` that `sns/oauth2/component/access_token` exchanges for a user access token and a
//! refresh token, which `sns/oauth2/component/refresh_token` renews. Tests and people mint codes
//! with `POST /sim/control/sns-codes` (as if a user had just opened the mini program or page).
//!
//! Rules: the code is for one account under one component, used once (40163 the second time),
//! lives 5 minutes (40029 after, as for an unknown code); the account must still be authorized to
//! the component (61003); a mini program's code cannot be used for web OAuth and the other way round
//! (40029).

use std::collections::HashMap;

use serde_json::{json, Value};

use app::permissions::AccountKind;

use super::state::{SimState, WxErr};

/// How long a code lives.
const CODE_LIFETIME_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeKind {
    /// A mini program's `wx.login` code.
    JsCode,
    /// Web OAuth on behalf of an Official Account.
    OAuth,
}

#[derive(Debug, Clone)]
struct SnsCode {
    kind: CodeKind,
    component: String,
    appid: String,
    openid: String,
    expires_at: i64,
    used: bool,
}

#[derive(Debug, Clone)]
struct SnsRefresh {
    component: String,
    appid: String,
    openid: String,
}

#[derive(Debug, Clone, Default)]
pub struct SnsState {
    codes: HashMap<String, SnsCode>,
    refresh_tokens: HashMap<String, SnsRefresh>,
}

fn random(len: usize) -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

impl SimState {
    /// A fresh code for a user of `appid` (authorized to `component`). `openid` defaults to one
    /// derived from the account.
    pub fn mint_sns_code(
        &mut self,
        component: &str,
        appid: &str,
        kind: CodeKind,
        openid: Option<&str>,
        now: i64,
    ) -> Result<String, String> {
        let account = self
            .accounts
            .get(appid)
            .ok_or_else(|| format!("no account {appid}"))?;
        let wanted = match kind {
            CodeKind::JsCode => AccountKind::MiniProgram,
            CodeKind::OAuth => AccountKind::OfficialAccount,
        };
        if account.kind != wanted {
            return Err(format!("{appid} is not a {wanted:?}"));
        }
        if !self.is_authorized(component, appid) {
            return Err(format!("{appid} has not authorized {component}"));
        }
        let code = random(32);
        let openid = openid
            .map(str::to_owned)
            .unwrap_or_else(|| format!("o{}_user", &appid[appid.len().saturating_sub(6)..]));
        self.sns.codes.insert(
            code.clone(),
            SnsCode {
                kind,
                component: component.to_owned(),
                appid: appid.to_owned(),
                openid,
                expires_at: now + CODE_LIFETIME_MS,
                used: false,
            },
        );
        Ok(code)
    }

    fn is_authorized(&self, component: &str, appid: &str) -> bool {
        self.components
            .get(component)
            .and_then(|c| c.authorizations.get(appid))
            .is_some_and(|a| !a.revoked)
    }

    /// What every `sns/…` call checks first: the component token with its component's appid, the
    /// account's appid, and the grant type. Returns (component, account).
    fn check_sns_call(
        &self,
        token: Option<&str>,
        query: &HashMap<String, String>,
        grant_type: &str,
        now: i64,
    ) -> Result<(String, String), WxErr> {
        let component = self.check_component_token_for(
            token,
            query.get("component_appid").map(String::as_str),
            now,
        )?;
        let appid = query
            .get("appid")
            .filter(|a| !a.is_empty())
            .ok_or(WxErr(41002))?;
        if query.get("grant_type").map(String::as_str) != Some(grant_type) {
            return Err(WxErr(40097));
        }
        Ok((component, appid.clone()))
    }

    /// Takes a code once: checks the token, the account, the kind and the code.
    fn take_code(
        &mut self,
        token: Option<&str>,
        query: &HashMap<String, String>,
        kind: CodeKind,
        code_param: &str,
        now: i64,
    ) -> Result<SnsCode, WxErr> {
        let (component, appid) = self.check_sns_call(token, query, "authorization_code", now)?;
        let appid = &appid;
        if !self.is_authorized(&component, appid) {
            return Err(WxErr(61003));
        }
        let code = query
            .get(code_param)
            .filter(|c| !c.is_empty())
            .ok_or(WxErr(41008))?;
        let found = self.sns.codes.get_mut(code.as_str()).ok_or(WxErr(40029))?;
        if found.kind != kind
            || found.appid != *appid
            || found.component != component
            || now >= found.expires_at
        {
            return Err(WxErr(40029));
        }
        if found.used {
            return Err(WxErr(40163));
        }
        found.used = true;
        Ok(found.clone())
    }

    /// `sns/component/jscode2session`.
    pub fn api_jscode2session(
        &mut self,
        token: Option<&str>,
        query: &HashMap<String, String>,
        now: i64,
    ) -> Result<Value, WxErr> {
        let code = self.take_code(token, query, CodeKind::JsCode, "js_code", now)?;
        Ok(json!({
            "openid": code.openid,
            "session_key": format!("{}==", random(22)),
        }))
    }

    /// `sns/oauth2/component/access_token`.
    pub fn api_oauth_access_token(
        &mut self,
        token: Option<&str>,
        query: &HashMap<String, String>,
        now: i64,
    ) -> Result<Value, WxErr> {
        let code = self.take_code(token, query, CodeKind::OAuth, "code", now)?;
        let refresh = random(40);
        self.sns.refresh_tokens.insert(
            refresh.clone(),
            SnsRefresh {
                component: code.component,
                appid: code.appid,
                openid: code.openid.clone(),
            },
        );
        Ok(json!({
            "access_token": random(64),
            "expires_in": 7200,
            "refresh_token": refresh,
            "openid": code.openid,
            "scope": "snsapi_base",
        }))
    }

    /// `sns/oauth2/component/refresh_token`.
    pub fn api_oauth_refresh_token(
        &mut self,
        token: Option<&str>,
        query: &HashMap<String, String>,
        now: i64,
    ) -> Result<Value, WxErr> {
        let (component, appid) = self.check_sns_call(token, query, "refresh_token", now)?;
        let appid = &appid;
        let refresh = query
            .get("refresh_token")
            .filter(|r| !r.is_empty())
            .ok_or(WxErr(40030))?;
        let known = self
            .sns
            .refresh_tokens
            .get(refresh.as_str())
            .filter(|r| r.component == component && r.appid == *appid)
            .ok_or(WxErr(40030))?;
        Ok(json!({
            "access_token": random(64),
            "expires_in": 7200,
            "refresh_token": refresh,
            "openid": known.openid,
            "scope": "snsapi_base",
        }))
    }
}
