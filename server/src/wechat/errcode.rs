//! WeChat's errcodes and what they mean (PROTOCOL.md §10), in Chinese and English for the UI, and
//! the few classes the token engine acts on.

use serde::Serialize;

/// The official meaning of one errcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ErrcodeMeaning {
    pub code: i64,
    pub zh: &'static str,
    pub en: &'static str,
}

/// What the caller should do about an errcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrcodeClass {
    /// The token was wrong, expired or superseded: refresh it and try once more.
    TokenInvalid,
    /// WeChat is busy or the quota is spent: slow down the whole component.
    Throttled,
    /// The authorization is gone (revoked, replaced refresh token): recover or re-authorize.
    AuthorizationLost,
    /// The ticket is stale or wrong: wait for a push or restart pushing.
    TicketProblem,
    /// Configuration on the platform side (IP whitelist, secret, appid).
    Configuration,
    /// Anything else: a bad request or a condition the caller must show to a person.
    Other,
}

macro_rules! table {
    ($( $code:literal => $zh:literal, $en:literal; )*) => {
        const TABLE: &[ErrcodeMeaning] = &[ $( ErrcodeMeaning { code: $code, zh: $zh, en: $en }, )* ];
    };
}

table! {
    -1 => "系统繁忙，请稍后再试", "System busy; try again later";
    -1000 => "系统错误", "System error";
    40001 => "access_token 无效或不是最新的", "The access token is invalid or not the latest";
    40003 => "不合法的 OpenID", "Invalid OpenID";
    40013 => "不合法的 AppID", "Invalid AppID";
    40014 => "不合法的 access_token", "Invalid access token";
    40029 => "不合法的 oauth_code", "Invalid OAuth code";
    40097 => "参数错误", "Invalid arguments";
    40125 => "不合法的 AppSecret", "Invalid AppSecret";
    40164 => "调用接口的 IP 不在白名单中", "Caller IP is not in the whitelist";
    41001 => "缺少 access_token 参数", "The access_token parameter is missing";
    41002 => "缺少 appid 参数", "The appid parameter is missing";
    41004 => "缺少 secret 参数", "The appsecret is missing";
    42001 => "access_token 已过期", "The access token has expired";
    42002 => "refresh_token 已过期", "The refresh token has expired";
    43004 => "需要接收者关注", "The recipient must follow the account";
    45009 => "接口调用超过每日限额", "The daily API quota has been reached";
    45011 => "接口调用太频繁", "API called too often; slow down";
    45015 => "回复时间超过限制", "The reply window has passed";
    45047 => "客服接口下行条数超过上限", "Customer-service message limit reached";
    47001 => "数据格式错误", "Malformed request data";
    48001 => "帐号没有该接口权限", "The account has no permission for this API";
    48004 => "接口被封禁", "This API is banned for the account";
    48006 => "清零次数已达上限", "The monthly quota-reset budget is used up";
    61003 => "该帐号未授权给此第三方平台", "The account has not authorized this platform";
    61004 => "调用方 IP 不在第三方平台白名单中", "Caller IP is not in the platform's IP whitelist";
    61005 => "component_verify_ticket 已过期", "The component verify ticket has expired";
    61006 => "component_verify_ticket 无效", "The component verify ticket is invalid";
    61007 => "第三方平台未获得该接口的权限集", "The platform lacks the permission set for this API";
    61009 => "授权码无效", "The authorization code is invalid or already used";
    61010 => "授权码已过期", "The authorization code has expired";
    61011 => "不是有效的第三方平台", "Not a valid third-party platform";
    61012 => "选项名称无效", "Invalid option name";
    61013 => "选项值无效", "Invalid option value";
    61014 => "必须使用第三方平台令牌调用", "A component token is required for this API";
    61015 => "必须使用授权方令牌调用", "An authorizer token is required for this API";
    61023 => "refresh_token 无效，需要重新授权", "The refresh token is invalid; re-authorization needed";
    61024 => "第三方平台须使用 api_component_token 获取令牌", "Use api_component_token for a component's token";
    61025 => "只读选项", "Read-only option";
    61028 => "第三方平台尚未全网发布", "The platform has not been released";
}

/// The meaning of `code`, if it is one the product knows.
pub fn meaning(code: i64) -> Option<ErrcodeMeaning> {
    TABLE.iter().copied().find(|m| m.code == code)
}

pub fn classify(code: i64) -> ErrcodeClass {
    match code {
        40001 | 40014 | 42001 => ErrcodeClass::TokenInvalid,
        -1 | -1000 | 45009 | 45011 => ErrcodeClass::Throttled,
        61003 | 61023 => ErrcodeClass::AuthorizationLost,
        61005 | 61006 => ErrcodeClass::TicketProblem,
        40013 | 40125 | 40164 | 41004 | 61004 | 61011 | 61024 | 61028 => {
            ErrcodeClass::Configuration
        }
        _ => ErrcodeClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_unique_and_classes_cover_the_engine_codes() {
        let mut codes: Vec<i64> = TABLE.iter().map(|m| m.code).collect();
        codes.sort_unstable();
        let len = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), len, "duplicate errcode in the table");
        assert!(TABLE.iter().all(|m| !m.zh.is_empty() && !m.en.is_empty()));
        assert_eq!(
            meaning(61023).map(|m| m.en),
            Some("The refresh token is invalid; re-authorization needed")
        );
        assert_eq!(meaning(12345), None);
        assert_eq!(classify(40001), ErrcodeClass::TokenInvalid);
        assert_eq!(classify(45009), ErrcodeClass::Throttled);
        assert_eq!(classify(61023), ErrcodeClass::AuthorizationLost);
        assert_eq!(classify(61005), ErrcodeClass::TicketProblem);
        assert_eq!(classify(12345), ErrcodeClass::Other);
    }
}
