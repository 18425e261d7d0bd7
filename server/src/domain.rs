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
