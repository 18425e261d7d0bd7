//! The URLs an account owner is sent to (PROTOCOL.md §6) and the JS-SDK signature (§11).
//!
//! Both authorization URLs carry a `redirect_uri` that must survive as one query value, so every
//! value is percent-encoded like JavaScript's `encodeURIComponent` (WeChat's own samples use it);
//! `+` for spaces would be read back as a plus by WeChat.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::{Digest, Sha1};
use url::Url;

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` is escaped.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

pub fn encode_uri_component(value: &str) -> String {
    utf8_percent_encode(value, URI_COMPONENT).to_string()
}

/// Which account types the owner may pick (`auth_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    OfficialAccount,
    MiniProgram,
    Both,
}

impl AuthType {
    pub fn code(self) -> u8 {
        match self {
            AuthType::OfficialAccount => 1,
            AuthType::MiniProgram => 2,
            AuthType::Both => 3,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::OfficialAccount),
            2 => Some(Self::MiniProgram),
            3 => Some(Self::Both),
            _ => None,
        }
    }
}

/// What goes into either authorization URL.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    pub component_appid: &'a str,
    pub pre_auth_code: &'a str,
    pub redirect_uri: &'a str,
    pub auth_type: Option<AuthType>,
    pub biz_appid: Option<&'a str>,
}

impl AuthorizationRequest<'_> {
    fn query(&self, leading: &[(&str, &str)]) -> String {
        let auth_type = self.auth_type.map(|t| t.code().to_string());
        let mut pairs: Vec<(&str, &str)> = leading.to_vec();
        pairs.push(("component_appid", self.component_appid));
        pairs.push(("pre_auth_code", self.pre_auth_code));
        pairs.push(("redirect_uri", self.redirect_uri));
        if let Some(t) = auth_type.as_deref() {
            pairs.push(("auth_type", t));
        }
        if let Some(b) = self.biz_appid {
            pairs.push(("biz_appid", b));
        }
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_uri_component(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The PC page (`componentloginpage` on the MP host), which WeChat only honours when opened
    /// from the platform's authorization-initiation domain.
    pub fn pc_url(&self, mp_base: &Url) -> String {
        format!(
            "{}/cgi-bin/componentloginpage?{}",
            mp_base.as_str().trim_end_matches('/'),
            self.query(&[])
        )
    }

    /// The mobile link to open inside WeChat (the current `wxaopen/safe/bindcomponent` form).
    pub fn mobile_url(&self, open_base: &Url) -> String {
        format!(
            "{}/wxaopen/safe/bindcomponent?{}#wechat_redirect",
            open_base.as_str().trim_end_matches('/'),
            self.query(&[("action", "bindcomponent"), ("no_scan", "1")])
        )
    }
}

/// The JS-SDK `wx.config` signature: sha1 of `jsapi_ticket=…&noncestr=…&timestamp=…&url=…` with
/// raw values and the URL cut at `#`.
pub fn jssdk_signature(jsapi_ticket: &str, noncestr: &str, timestamp: i64, url: &str) -> String {
    let url = url.split('#').next().unwrap_or(url);
    let plain =
        format!("jsapi_ticket={jsapi_ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}");
    hex::encode(Sha1::digest(plain.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(redirect: &str) -> AuthorizationRequest<'_> {
        AuthorizationRequest {
            component_appid: "wxcomp",
            pre_auth_code: "preauthcode@@@a+b/c=",
            redirect_uri: redirect,
            auth_type: Some(AuthType::MiniProgram),
            biz_appid: Some("wxbiz"),
        }
    }

    #[test]
    fn pc_and_mobile_urls_encode_every_value_once() {
        let redirect = "https://hub.example.com/authorize/abc/done?x=1&y=a b#frag";
        let mp = Url::parse("https://mp.weixin.qq.com").unwrap();
        let pc = request(redirect).pc_url(&mp);
        assert_eq!(
            pc,
            "https://mp.weixin.qq.com/cgi-bin/componentloginpage?component_appid=wxcomp&pre_auth_code=preauthcode%40%40%40a%2Bb%2Fc%3D&redirect_uri=https%3A%2F%2Fhub.example.com%2Fauthorize%2Fabc%2Fdone%3Fx%3D1%26y%3Da%20b%23frag&auth_type=2&biz_appid=wxbiz"
        );
        // Parsing it back gives exactly the inputs.
        let parsed = Url::parse(&pc).unwrap();
        let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q["redirect_uri"], redirect);
        assert_eq!(q["pre_auth_code"], "preauthcode@@@a+b/c=");
        let open = Url::parse("https://open.weixin.qq.com/").unwrap();
        let mobile = request(redirect).mobile_url(&open);
        assert!(mobile.starts_with("https://open.weixin.qq.com/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1&component_appid=wxcomp&"));
        assert!(mobile.ends_with("&auth_type=2&biz_appid=wxbiz#wechat_redirect"));
        assert_eq!(mobile.matches("auth_type=").count(), 1);
        let plain = AuthorizationRequest {
            auth_type: None,
            biz_appid: None,
            ..request("https://h/d")
        };
        assert!(!plain.pc_url(&mp).contains("auth_type"));
        assert!(!plain.pc_url(&mp).contains("biz_appid"));
    }

    #[test]
    fn jssdk_cuts_the_fragment() {
        let a = jssdk_signature("t", "n", 1, "https://a.example/p?q=1#x");
        let b = jssdk_signature("t", "n", 1, "https://a.example/p?q=1");
        assert_eq!(a, b);
        assert_eq!(AuthType::from_code(3), Some(AuthType::Both));
        assert_eq!(AuthType::from_code(4), None);
    }
}
