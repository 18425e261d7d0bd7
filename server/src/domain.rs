//! The server's domain types: ids, rows as the services see them, actors for the audit log.
//! Storage maps database rows into these; secrets are `SecretString` and never `Debug`-printed.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

pub use app::model::Role;

macro_rules! id_type {
    ($name:ident) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
id_type!(TenantId);
id_type!(UserId);
id_type!(ComponentId);
id_type!(ApiKeyId);
id_type!(AuthorizerId);
id_type!(LinkId);
id_type!(CredentialId);
id_type!(JobId);

/// The credentials the engine keeps (one row each in `credentials`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    ComponentVerifyTicket,
    ComponentAccessToken,
    AuthorizerAccessToken,
    AuthorizerRefreshToken,
    JsapiTicket,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ComponentVerifyTicket => "component_verify_ticket",
            Self::ComponentAccessToken => "component_access_token",
            Self::AuthorizerAccessToken => "authorizer_access_token",
            Self::AuthorizerRefreshToken => "authorizer_refresh_token",
            Self::JsapiTicket => "jsapi_ticket",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "component_verify_ticket" => Self::ComponentVerifyTicket,
            "component_access_token" => Self::ComponentAccessToken,
            "authorizer_access_token" => Self::AuthorizerAccessToken,
            "authorizer_refresh_token" => Self::AuthorizerRefreshToken,
            "jsapi_ticket" => Self::JsapiTicket,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizerStatus {
    /// Known from a push, not exchanged yet.
    Pending,
    Authorized,
    Revoked,
    /// WeChat no longer accepts the refresh token and it could not be recovered.
    NeedsReauth,
}

impl AuthorizerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Authorized => "authorized",
            Self::Revoked => "revoked",
            Self::NeedsReauth => "needs_reauth",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "authorized" => Self::Authorized,
            "revoked" => Self::Revoked,
            "needs_reauth" => Self::NeedsReauth,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub tenant_id: Option<TenantId>,
    pub status: UserStatus,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub tenant_id: Option<TenantId>,
}

/// Who owns a component: one tenant ("bring your own") or the platform ("shared").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentOwner {
    Tenant(TenantId),
    Platform,
}

impl ComponentOwner {
    pub fn tenant_id(self) -> Option<TenantId> {
        match self {
            ComponentOwner::Tenant(t) => Some(t),
            ComponentOwner::Platform => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub id: ComponentId,
    pub appid: String,
    pub owner: ComponentOwner,
    pub name: String,
    pub active: bool,
    pub created_at: i64,
}

/// A component's secrets, opened. `Debug` is redacted by `SecretString`.
#[derive(Debug, Clone)]
pub struct ComponentSecrets {
    pub message_token: SecretString,
    pub appsecret: SecretString,
    pub encoding_aes_key: SecretString,
    pub previous_encoding_aes_key: Option<SecretString>,
}

pub struct NewComponent {
    pub appid: String,
    pub owner: ComponentOwner,
    pub name: String,
    pub secrets: ComponentSecrets,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: String,
    /// The first characters of the key, safe to show ("wxh_AbCd1234…").
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Who did something, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User { id: UserId, email: String },
    ApiKey { id: ApiKeyId, name: String },
    System,
    Wechat,
    Cli,
    Anonymous,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User { .. } => "user",
            Actor::ApiKey { .. } => "api_key",
            Actor::System => "system",
            Actor::Wechat => "wechat",
            Actor::Cli => "cli",
            Actor::Anonymous => "anonymous",
        }
    }
    pub fn id(&self) -> Option<i64> {
        match self {
            Actor::User { id, .. } => Some(id.0),
            Actor::ApiKey { id, .. } => Some(id.0),
            _ => None,
        }
    }
    pub fn label(&self) -> String {
        match self {
            Actor::User { email, .. } => email.clone(),
            Actor::ApiKey { name, .. } => name.clone(),
            other => other.kind().to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Denied => "denied",
        }
    }
}

/// An audit event to record. `detail` is JSON and must never hold a secret.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub occurred_at: i64,
    pub tenant_id: Option<TenantId>,
    pub component_id: Option<ComponentId>,
    pub authorizer_appid: Option<String>,
    pub actor: Actor,
    pub kind: String,
    pub outcome: Outcome,
    pub summary: String,
    pub detail: serde_json::Value,
    pub ip: Option<String>,
}

impl NewAuditEvent {
    pub fn new(
        actor: Actor,
        kind: &str,
        outcome: Outcome,
        summary: impl Into<String>,
        now: i64,
    ) -> Self {
        Self {
            occurred_at: now,
            tenant_id: None,
            component_id: None,
            authorizer_appid: None,
            actor,
            kind: kind.to_owned(),
            outcome,
            summary: summary.into(),
            detail: serde_json::Value::Object(Default::default()),
            ip: None,
        }
    }
    pub fn tenant(mut self, tenant: Option<TenantId>) -> Self {
        self.tenant_id = tenant;
        self
    }
    pub fn component(mut self, component: ComponentId) -> Self {
        self.component_id = Some(component);
        self
    }
    pub fn authorizer(mut self, appid: &str) -> Self {
        self.authorizer_appid = Some(appid.to_owned());
        self
    }
    pub fn ip(mut self, ip: Option<std::net::IpAddr>) -> Self {
        self.ip = ip.map(|i| i.to_string());
        self
    }
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: i64,
    pub tenant_id: Option<TenantId>,
    pub component_id: Option<ComponentId>,
    pub authorizer_appid: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub actor_label: String,
    pub kind: String,
    pub outcome: String,
    pub summary: String,
    pub detail: String,
    pub ip: Option<String>,
}

/// An account that authorized a component, as the console and the engine see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorizer {
    pub id: AuthorizerId,
    pub tenant_id: TenantId,
    pub component_id: ComponentId,
    pub appid: String,
    pub account_kind: String,
    pub nick_name: String,
    pub head_img: String,
    pub user_name: String,
    pub principal_name: String,
    pub alias: String,
    pub qrcode_url: String,
    pub service_type: Option<i64>,
    pub verify_type: Option<i64>,
    pub account_status: Option<i64>,
    pub func_ids: Vec<i64>,
    pub menu_json: Option<String>,
    pub menu_fetched_at: Option<i64>,
    pub info_fetched_at: Option<i64>,
    pub status: AuthorizerStatus,
    pub link_id: Option<LinkId>,
    pub authorized_at: i64,
    pub revoked_at: Option<i64>,
    pub updated_at: i64,
}

/// One entry of an authorization's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerChange {
    pub change: String,
    pub source: String,
    pub permissions: Vec<i64>,
    pub added: Vec<i64>,
    pub removed: Vec<i64>,
    pub occurred_at: i64,
}

/// An authorization link: the page an account owner is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationLink {
    pub id: LinkId,
    pub public_id: String,
    pub tenant_id: TenantId,
    pub component_id: ComponentId,
    pub auth_type: u8,
    pub biz_appid: Option<String>,
    pub note: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}
