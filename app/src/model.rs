//! Types shared by the UI and the server: roles and the DTOs server functions return.
//! Nothing here is secret; nothing here touches storage.

use serde::{Deserialize, Serialize};

/// Who a user is in wxhub. Platform roles see across tenants; tenant roles see one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    PlatformAdmin,
    PlatformAuditor,
    TenantAdmin,
    TenantViewer,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::PlatformAdmin,
        Role::PlatformAuditor,
        Role::TenantAdmin,
        Role::TenantViewer,
    ];

    /// The stable name used in the database, the CLI and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform-admin",
            Role::PlatformAuditor => "platform-auditor",
            Role::TenantAdmin => "tenant-admin",
            Role::TenantViewer => "tenant-viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Platform staff belong to no tenant; tenant users belong to exactly one.
    pub fn is_platform(self) -> bool {
        matches!(self, Role::PlatformAdmin | Role::PlatformAuditor)
    }

    /// May this role change anything?
    pub fn can_write(self) -> bool {
        matches!(self, Role::PlatformAdmin | Role::TenantAdmin)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "Platform admin",
            Role::PlatformAuditor => "Platform auditor",
            Role::TenantAdmin => "Tenant admin",
            Role::TenantViewer => "Tenant viewer",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an API key may do. A key holds a set of these; keys made before scopes existed hold all
/// of them, so nothing that worked stops working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ApiScope {
    /// Read accounts, their access tokens and JS-SDK signatures; report a rejected token.
    #[serde(rename = "tokens:read")]
    TokensRead,
    /// Call WeChat through the gateway with the account's (or component's) token.
    #[serde(rename = "wechat:call")]
    WechatCall,
    /// Create authorization links.
    #[serde(rename = "links:write")]
    LinksWrite,
    /// Register, change and replay webhook endpoints.
    #[serde(rename = "webhooks:manage")]
    WebhooksManage,
}

impl ApiScope {
    pub const ALL: [ApiScope; 4] = [
        ApiScope::TokensRead,
        ApiScope::WechatCall,
        ApiScope::LinksWrite,
        ApiScope::WebhooksManage,
    ];

    /// The stable name used in the database, the CLI, the API and its 403 answers.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::TokensRead => "tokens:read",
            ApiScope::WechatCall => "wechat:call",
            ApiScope::LinksWrite => "links:write",
            ApiScope::WebhooksManage => "webhooks:manage",
        }
    }

    pub fn parse(text: &str) -> Option<ApiScope> {
        ApiScope::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// What the scope allows, in (English, Chinese).
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            ApiScope::TokensRead => (
                "Read access tokens and JS-SDK signatures",
                "读取 access_token 与 JS-SDK 签名",
            ),
            ApiScope::WechatCall => ("Call WeChat through the gateway", "通过网关调用微信接口"),
            ApiScope::LinksWrite => ("Create authorization links", "创建授权链接"),
            ApiScope::WebhooksManage => ("Manage webhook endpoints", "管理 Webhook 端点"),
        }
    }

    /// A stored scope list (names separated by spaces), in [`ApiScope::ALL`] order. Unknown names
    /// are dropped: a key never gains a right from a word it does not understand.
    pub fn parse_list(text: &str) -> Vec<ApiScope> {
        let named: Vec<ApiScope> = text
            .split_whitespace()
            .filter_map(ApiScope::parse)
            .collect();
        ApiScope::ALL
            .into_iter()
            .filter(|s| named.contains(s))
            .collect()
    }

    /// The stored form of a scope list.
    pub fn join(scopes: &[ApiScope]) -> String {
        ApiScope::ALL
            .into_iter()
            .filter(|s| scopes.contains(s))
            .map(ApiScope::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl std::fmt::Display for ApiScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSummary {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

/// The signed-in user, as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub tenant: Option<TenantSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip_and_garbage_is_none() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        for bad in [
            "",
            "admin",
            "Platform-Admin",
            "tenant_admin",
            "platform-admin ",
        ] {
            assert_eq!(Role::parse(bad), None, "{bad:?}");
        }
        assert!(Role::PlatformAuditor.is_platform() && !Role::PlatformAuditor.can_write());
        assert!(!Role::TenantViewer.can_write() && Role::TenantAdmin.can_write());
    }
}
