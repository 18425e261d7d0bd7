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
    /// What the key may do, in `ApiScope::ALL` order.
    pub scopes: Vec<app::model::ApiScope>,
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

/// A link's public id, parsed once where it enters (the public pages' URLs): 1–64 ASCII letters
/// and digits, as `ops::links::create` makes them. Anything else is no link and is never looked
/// up (a NUL byte would make PostgreSQL refuse the query, turning garbage into a 500), so the
/// engine and the store take this type and do not check again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkPublicId(String);

impl LinkPublicId {
    pub fn parse(raw: &str) -> Option<Self> {
        (!raw.is_empty() && raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LinkPublicId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An appid (of a component or an account), parsed once at the edge: `wx` and 16 lower-case
/// letters or digits (`app::validate::appid`, the rule the browser runs too).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AppId(String);

impl AppId {
    /// The appid, or the rule it breaks (naming `field`).
    pub fn parse(field: &str, raw: &str) -> Result<Self, String> {
        app::validate::appid(field, raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<AppId> for String {
    fn from(a: AppId) -> String {
        a.0
    }
}

/// An appid reads as the text it is (store and WeChat calls take `&str`); only making one checks.
impl std::ops::Deref for AppId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AppId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an audit event records. The stored column is text (`as_str`), so the console and staff
/// filters can match prefixes (`token.`); this enum is the one list of what is written, so the
/// same operation writes the same kind whichever edge called it. Rows written by older versions
/// may hold kinds that are no longer here, which is why [`AuditEvent::kind`] stays a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// A sign-in, allowed or refused.
    UserLogin,
    UserLogout,
    UserCreated,
    /// An add-user refused because the email is used elsewhere (kept for staff; the adder sees a neutral answer).
    UserCreateRefused,
    UserEnabled,
    UserDisabled,
    UserRoleChanged,
    TenantCreated,
    TenantSuspended,
    TenantReactivated,
    ComponentCreated,
    ComponentUpdated,
    ApiKeyCreated,
    ApiKeyRevoked,
    LinkCreated,
    LinkRevoked,
    AuthorizerAuthorized,
    AuthorizerAssigned,
    AuthorizersImportStarted,
    AuthorizersImportFinished,
    MenuRefreshRequested,
    RedirectRefused,
    AuthorizationSuperseded,
    ExchangeFailed,
    AuthorizationRecovered,
    AuthorizationLost,
    RefreshTokenRecovered,
    TokenRefreshed,
    TokenRefreshFailed,
    TokenRejectedReported,
    TicketPushRestartRequested,
    PushReceived,
    PushRejected,
    AuditExported,
    WebhookEndpointCreated,
    WebhookEndpointDeleted,
    WebhookSecretRotated,
    WebhookEndpointEnabled,
    WebhookEndpointDisabled,
    WebhookDeliveriesReplayed,
    WebhookTestSent,
    ApiKeyScopesChanged,
    MenuSnapshotTaken,
    MenuDraftSaved,
    MenuPublished,
    MenuPublishFailed,
    MenuConditionalDeleted,
    CodeCommitted,
    CodeSubmitted,
    CodeAuditResult,
    CodeAuditWithdrawn,
    CodeAuditSpedUp,
    CodeReleased,
    CodeReverted,
    CodeDomainsChanged,
    CodeOperationFailed,
    CodeTemplateAdded,
    CodeTemplateDeleted,
    CodeBatchStarted,
    CodeFastRegisterStarted,
    AlertRuleChanged,
    AlertChannelCreated,
    AlertChannelEnabled,
    AlertChannelDisabled,
    AlertChannelDeleted,
    AlertTestSent,
    AlertNotified,
}

impl AuditKind {
    pub const ALL: [AuditKind; 67] = [
        AuditKind::UserLogin,
        AuditKind::UserLogout,
        AuditKind::UserCreated,
        AuditKind::UserCreateRefused,
        AuditKind::UserEnabled,
        AuditKind::UserDisabled,
        AuditKind::UserRoleChanged,
        AuditKind::TenantCreated,
        AuditKind::TenantSuspended,
        AuditKind::TenantReactivated,
        AuditKind::ComponentCreated,
        AuditKind::ComponentUpdated,
        AuditKind::ApiKeyCreated,
        AuditKind::ApiKeyRevoked,
        AuditKind::LinkCreated,
        AuditKind::LinkRevoked,
        AuditKind::AuthorizerAuthorized,
        AuditKind::AuthorizerAssigned,
        AuditKind::AuthorizersImportStarted,
        AuditKind::AuthorizersImportFinished,
        AuditKind::MenuRefreshRequested,
        AuditKind::RedirectRefused,
        AuditKind::AuthorizationSuperseded,
        AuditKind::ExchangeFailed,
        AuditKind::AuthorizationRecovered,
        AuditKind::AuthorizationLost,
        AuditKind::RefreshTokenRecovered,
        AuditKind::TokenRefreshed,
        AuditKind::TokenRefreshFailed,
        AuditKind::TokenRejectedReported,
        AuditKind::TicketPushRestartRequested,
        AuditKind::PushReceived,
        AuditKind::PushRejected,
        AuditKind::AuditExported,
        AuditKind::WebhookEndpointCreated,
        AuditKind::WebhookEndpointDeleted,
        AuditKind::WebhookSecretRotated,
        AuditKind::WebhookEndpointEnabled,
        AuditKind::WebhookEndpointDisabled,
        AuditKind::WebhookDeliveriesReplayed,
        AuditKind::WebhookTestSent,
        AuditKind::ApiKeyScopesChanged,
        AuditKind::MenuSnapshotTaken,
        AuditKind::MenuDraftSaved,
        AuditKind::MenuPublished,
        AuditKind::MenuPublishFailed,
        AuditKind::MenuConditionalDeleted,
        AuditKind::CodeCommitted,
        AuditKind::CodeSubmitted,
        AuditKind::CodeAuditResult,
        AuditKind::CodeAuditWithdrawn,
        AuditKind::CodeAuditSpedUp,
        AuditKind::CodeReleased,
        AuditKind::CodeReverted,
        AuditKind::CodeDomainsChanged,
        AuditKind::CodeOperationFailed,
        AuditKind::CodeTemplateAdded,
        AuditKind::CodeTemplateDeleted,
        AuditKind::CodeBatchStarted,
        AuditKind::CodeFastRegisterStarted,
        AuditKind::AlertRuleChanged,
        AuditKind::AlertChannelCreated,
        AuditKind::AlertChannelEnabled,
        AuditKind::AlertChannelDisabled,
        AuditKind::AlertChannelDeleted,
        AuditKind::AlertTestSent,
        AuditKind::AlertNotified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::UserLogin => "user.login",
            AuditKind::UserLogout => "user.logout",
            AuditKind::UserCreated => "user.created",
            AuditKind::UserCreateRefused => "user.create_refused",
            AuditKind::UserEnabled => "user.enabled",
            AuditKind::UserDisabled => "user.disabled",
            AuditKind::UserRoleChanged => "user.role_changed",
            AuditKind::TenantCreated => "tenant.created",
            AuditKind::TenantSuspended => "tenant.suspended",
            AuditKind::TenantReactivated => "tenant.reactivated",
            AuditKind::ComponentCreated => "component.created",
            AuditKind::ComponentUpdated => "component.updated",
            AuditKind::ApiKeyCreated => "api_key.created",
            AuditKind::ApiKeyRevoked => "api_key.revoked",
            AuditKind::LinkCreated => "link.created",
            AuditKind::LinkRevoked => "link.revoked",
            AuditKind::AuthorizerAuthorized => "authorizer.authorized",
            AuditKind::AuthorizerAssigned => "authorizer.assigned",
            AuditKind::AuthorizersImportStarted => "component.import_started",
            AuditKind::AuthorizersImportFinished => "component.import_finished",
            AuditKind::MenuRefreshRequested => "authorizer.menu_refresh_requested",
            AuditKind::RedirectRefused => "authorization.redirect_refused",
            AuditKind::AuthorizationSuperseded => "authorization.superseded",
            AuditKind::ExchangeFailed => "authorization.exchange_failed",
            AuditKind::AuthorizationRecovered => "authorization.recovered",
            AuditKind::AuthorizationLost => "authorization.lost",
            AuditKind::RefreshTokenRecovered => "refresh_token.recovered",
            AuditKind::TokenRefreshed => "token.refreshed",
            AuditKind::TokenRefreshFailed => "token.refresh_failed",
            AuditKind::TokenRejectedReported => "token.rejected_reported",
            AuditKind::TicketPushRestartRequested => "ticket.push_restart_requested",
            AuditKind::PushReceived => "push.received",
            AuditKind::PushRejected => "push.rejected",
            AuditKind::AuditExported => "audit.exported",
            AuditKind::WebhookEndpointCreated => "webhook.endpoint_created",
            AuditKind::WebhookEndpointDeleted => "webhook.endpoint_deleted",
            AuditKind::WebhookSecretRotated => "webhook.secret_rotated",
            AuditKind::WebhookEndpointEnabled => "webhook.endpoint_enabled",
            AuditKind::WebhookEndpointDisabled => "webhook.endpoint_disabled",
            AuditKind::WebhookDeliveriesReplayed => "webhook.deliveries_replayed",
            AuditKind::WebhookTestSent => "webhook.test_sent",
            AuditKind::ApiKeyScopesChanged => "api_key.scopes_changed",
            AuditKind::MenuSnapshotTaken => "menu.snapshot_taken",
            AuditKind::MenuDraftSaved => "menu.draft_saved",
            AuditKind::MenuPublished => "menu.published",
            AuditKind::MenuPublishFailed => "menu.publish_failed",
            AuditKind::MenuConditionalDeleted => "menu.conditional_deleted",
            AuditKind::CodeCommitted => "code.committed",
            AuditKind::CodeSubmitted => "code.submitted",
            AuditKind::CodeAuditResult => "code.audit_result",
            AuditKind::CodeAuditWithdrawn => "code.audit_withdrawn",
            AuditKind::CodeAuditSpedUp => "code.audit_sped_up",
            AuditKind::CodeReleased => "code.released",
            AuditKind::CodeReverted => "code.reverted",
            AuditKind::CodeDomainsChanged => "code.domains_changed",
            AuditKind::CodeOperationFailed => "code.operation_failed",
            AuditKind::CodeTemplateAdded => "code.template_added",
            AuditKind::CodeTemplateDeleted => "code.template_deleted",
            AuditKind::CodeBatchStarted => "code.batch_started",
            AuditKind::CodeFastRegisterStarted => "code.fast_register_started",
            AuditKind::AlertRuleChanged => "alert.rule_changed",
            AuditKind::AlertChannelCreated => "alert.channel_created",
            AuditKind::AlertChannelEnabled => "alert.channel_enabled",
            AuditKind::AlertChannelDisabled => "alert.channel_disabled",
            AuditKind::AlertChannelDeleted => "alert.channel_deleted",
            AuditKind::AlertTestSent => "alert.test_sent",
            AuditKind::AlertNotified => "alert.notified",
        }
    }
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    pub kind: AuditKind,
    pub outcome: Outcome,
    pub summary: String,
    pub detail: serde_json::Value,
    pub ip: Option<String>,
}

impl NewAuditEvent {
    pub fn new(
        actor: Actor,
        kind: AuditKind,
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
            kind,
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
    /// `None` while the account is unassigned: it authorized the shared component without a
    /// tenant's link (or was imported from it), and waits for platform staff to assign it.
    pub tenant_id: Option<TenantId>,
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

#[cfg(test)]
mod tests {
    use super::{AppId, AuditKind, LinkPublicId};

    #[test]
    fn link_ids_and_appids_parse_once_and_refuse_garbage() {
        assert_eq!(
            LinkPublicId::parse("Ab3xYz0123456789abcdef").map(|l| l.to_string()),
            Some("Ab3xYz0123456789abcdef".to_owned())
        );
        for bad in ["", "a b", "abc\u{0}", "../etc", "ü", &"a".repeat(65)] {
            assert_eq!(LinkPublicId::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            AppId::parse("appid", " wx0123456789abcdef ").map(|a| a.to_string()),
            Ok("wx0123456789abcdef".to_owned())
        );
        for bad in [
            "",
            "wx",
            "WX0123456789abcdef",
            "wx0123456789abcdeF",
            "wx0123456789abcdef0",
        ] {
            let err = AppId::parse("appid", bad).unwrap_err();
            assert!(err.starts_with("appid "), "{err}");
        }
    }

    #[test]
    fn every_audit_kind_is_one_distinct_area_dot_verb() {
        let mut seen = std::collections::HashSet::new();
        for kind in AuditKind::ALL {
            let s = kind.as_str();
            let (area, verb) = s.split_once('.').unwrap_or_default();
            assert!(
                !area.is_empty() && !verb.is_empty() && !verb.contains('.'),
                "{kind:?} is {s:?}"
            );
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.'),
                "{s}"
            );
            assert!(seen.insert(s), "{s} is written by two kinds");
        }
    }
}
