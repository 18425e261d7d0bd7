//! What the console's and the public pages' server functions return and take. Plain data: no
//! secrets (tokens never leave the server; only their health does), no storage types.

use serde::{Deserialize, Serialize};

/// A component a link can be created for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentChoice {
    pub id: i64,
    pub appid: String,
    pub name: String,
    /// The platform's shared component rather than the tenant's own.
    pub shared: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkState {
    Active,
    Expired,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    pub id: i64,
    pub public_id: String,
    /// The absolute address to share.
    pub url: String,
    pub component_appid: String,
    pub component_name: String,
    pub component_shared: bool,
    pub auth_type: u8,
    pub biz_appid: Option<String>,
    pub note: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub state: LinkState,
    pub authorizations: i64,
    pub last_authorized_at: Option<i64>,
}

/// The create-link form. Validated by `validate::link_form` in the browser and on the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewLinkForm {
    pub component_id: String,
    pub auth_type: String,
    pub biz_appid: String,
    pub note: String,
    /// Hours until the link expires; empty or 0 means it does not expire.
    pub expires_in_hours: String,
}

/// An account that has just authorized, as the link and done pages announce it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizedAccount {
    pub appid: String,
    pub name: String,
    pub head_img: String,
    pub kind: AccountKindLabel,
    pub permissions: Vec<i64>,
    pub authorized_at: i64,
}

/// What the public link page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PublicLink {
    Ready(ReadyLink),
    Expired,
    Revoked,
    Unknown,
    /// WeChat could not be asked for a pre-auth code right now (no ticket yet, WeChat busy).
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyLink {
    pub public_id: String,
    pub platform_name: String,
    pub auth_type: u8,
    pub pc_url: String,
    pub mobile_url: String,
    /// The QR code of `mobile_url`, an SVG document made on the server.
    pub qr_svg: String,
    pub code_expires_at: i64,
    /// When the page should fetch a fresh code (a minute or more before it expires).
    pub renew_at: i64,
    /// The server's clock when this was made, so the browser can correct for its own.
    pub server_now: i64,
    /// Sealed by the server: "this page was opened at …". The page sends it back to ask whether an
    /// account has authorized since; nobody can ask about earlier ones.
    pub landing_ticket: String,
}

/// The redirect target's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DoneOutcome {
    Authorized(AuthorizedAccount),
    /// The code arrived and is still being exchanged.
    Pending,
    /// WeChat did not accept the code (used, expired, wrong); the owner should start again.
    Failed,
    MissingCode,
    UnknownLink,
    /// The link was withdrawn (or has expired) before the owner came back: nothing was done.
    LinkRevoked,
    LinkExpired,
}

/// Service account, subscription account or mini program, from WeChat's account info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountKindLabel {
    Service,
    Subscription,
    MiniProgram,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountStatus {
    Pending,
    Authorized,
    Revoked,
    NeedsReauth,
}

impl AccountStatus {
    pub const ALL: [AccountStatus; 4] = [
        AccountStatus::Authorized,
        AccountStatus::NeedsReauth,
        AccountStatus::Revoked,
        AccountStatus::Pending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Authorized => "authorized",
            AccountStatus::Revoked => "revoked",
            AccountStatus::NeedsReauth => "needs_reauth",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The access token's health as the console shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenHealth {
    /// Valid, and the last refresh (if any) succeeded.
    Healthy,
    /// Still valid, but refreshing has been failing.
    Failing,
    /// No valid token (expired, never issued, or the account is no longer authorized).
    Expired,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub health: TokenHealth,
    pub expires_at: Option<i64>,
    pub refreshed_at: Option<i64>,
    pub failure_count: i64,
    pub last_error_code: Option<i64>,
    pub last_error_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRow {
    pub appid: String,
    pub name: String,
    pub head_img: String,
    pub kind: AccountKindLabel,
    pub verified: Option<bool>,
    pub status: AccountStatus,
    pub authorized_at: i64,
    pub permissions: Vec<i64>,
    pub token: TokenView,
}

/// The accounts page's query, carried in the URL so a filtered page can be linked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountQuery {
    pub q: String,
    pub status: String,
    pub kind: String,
    pub permission: String,
    pub page: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountPage {
    pub rows: Vec<AccountRow>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub server_now: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionChange {
    pub change: String,
    pub source: String,
    pub permissions: Vec<i64>,
    pub added: Vec<i64>,
    pub removed: Vec<i64>,
    pub occurred_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub occurred_at: i64,
    pub kind: String,
    pub outcome: String,
    pub actor: String,
    pub summary: String,
    pub authorizer_appid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDetail {
    pub row: AccountRow,
    pub component_appid: String,
    pub principal_name: String,
    pub original_id: String,
    pub alias: String,
    pub qrcode_url: String,
    pub info_fetched_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub history: Vec<PermissionChange>,
    /// The menu as WeChat returned it (pretty-printed), if fetched.
    pub menu_json: Option<String>,
    pub menu: Option<Menu>,
    pub menu_fetched_at: Option<i64>,
    pub token_events: Vec<EventView>,
    pub events: Vec<EventView>,
    pub server_now: i64,
}

/// A menu as a tree, read from get_current_selfmenu_info.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Menu {
    pub is_open: bool,
    pub buttons: Vec<MenuButton>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuButton {
    pub name: String,
    /// `click`, `view`, `miniprogram`, … or empty for a parent.
    pub kind: String,
    /// The key, URL or mini-program page the button leads to.
    pub target: String,
    pub children: Vec<MenuButton>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentHealth {
    pub appid: String,
    pub name: String,
    pub shared: bool,
    pub ticket_age_ms: Option<i64>,
    pub token_expires_in_ms: Option<i64>,
    pub last_push_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    pub components: Vec<ComponentHealth>,
    pub accounts_by_status: Vec<(AccountStatus, i64)>,
    pub refresh_failures_24h: i64,
    pub recent_events: Vec<EventView>,
    pub open_alerts: Vec<String>,
    /// The tenant's traffic over the last 24 hours (or 30 days), and its authorizations and
    /// revocations per day.
    pub charts: Vec<Chart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    /// The key's first characters, to recognise it ("wxh_AbCd1234").
    pub prefix: String,
    pub scopes: Vec<crate::model::ApiScope>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A new key and, this once, the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub key: ApiKeyView,
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub role: crate::model::Role,
    pub active: bool,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    /// The signed-in user (who may not disable or demote themselves).
    pub is_me: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewUserForm {
    pub email: String,
    /// `tenant-admin` or `tenant-viewer`.
    pub role: String,
    pub password: String,
}

/// A component as its tenant sees it. Secrets never leave the server: `secrets` only says they are
/// set, and the page shows them masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentView {
    pub id: i64,
    pub appid: String,
    pub name: String,
    /// The platform's shared component: usable, not editable by a tenant.
    pub shared: bool,
    pub active: bool,
    /// The authorization-event URL (授权事件接收URL) to paste into WeChat's console.
    pub notify_url: String,
    /// The message URL (消息与事件接收URL), with WeChat's `$APPID$` placeholder.
    pub message_url: String,
    pub ticket_age_ms: Option<i64>,
    pub token_expires_in_ms: Option<i64>,
    pub created_at: i64,
    /// When one of WeChat's release-test (全网发布) accounts last wrote to this component.
    pub release_test_seen_at: Option<i64>,
    /// The last release-test customer-service reply: `done`, `dead`, `queued` or `running`.
    pub release_test_reply: Option<String>,
    pub release_test_reply_at: Option<i64>,
    pub release_test_reply_error: Option<String>,
    /// The newest import of the component's existing authorizations, if any.
    pub import: Option<ImportView>,
}

/// An import of a component's existing authorizations (`api_get_authorizer_list`), as it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportView {
    pub id: i64,
    /// `running`, `done` or `failed`.
    pub status: String,
    /// How many accounts WeChat lists (known once the first page was read).
    pub total: Option<i64>,
    /// Accounts read so far.
    pub read: i64,
    /// New to wxhub.
    pub imported: i64,
    /// Held as revoked or lost, authorized again from the list.
    pub updated: i64,
    /// Held already; their refresh tokens were kept.
    pub unchanged: i64,
    pub failed: i64,
    /// The last error WeChat gave (a running import retries it).
    pub last_error: Option<String>,
    pub started_by: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
}

/// Add (empty `id`) or edit a tenant's own component. On edit, an empty secret keeps the stored
/// one; the appid cannot change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ComponentForm {
    pub id: String,
    pub appid: String,
    pub name: String,
    pub token: String,
    pub appsecret: String,
    pub encoding_aes_key: String,
}

/// One step of a component's connectivity check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckStep {
    pub en: String,
    pub zh: String,
    pub ok: bool,
    pub detail_en: String,
    pub detail_zh: String,
}

// ---- Platform staff (cross-tenant) ----

/// A tenant on the platform's tenants page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantView {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub suspended: bool,
    pub created_at: i64,
    pub users: i64,
    pub accounts: i64,
    pub api_keys: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewTenantForm {
    pub slug: String,
    pub name: String,
}

/// Any user of the platform, as platform staff see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffUserView {
    pub user: UserView,
    /// The tenant's slug and name; `None` for platform staff.
    pub tenant: Option<(String, String)>,
}

/// A user created by a platform admin: in any tenant (tenant roles) or on the platform (staff roles).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewStaffUserForm {
    pub email: String,
    /// Any role; tenant roles need `tenant`.
    pub role: String,
    /// A tenant's slug; empty for platform roles.
    pub tenant: String,
    pub password: String,
}

/// The tenant filter's value for accounts no tenant holds yet (no slug can start with `_`).
pub const UNASSIGNED_TENANT: &str = "_unassigned";

/// The filters of the cross-tenant authorizations page, carried in the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthorizationQuery {
    /// A tenant's slug, or [`UNASSIGNED_TENANT`].
    pub tenant: String,
    /// A component's appid.
    pub component: String,
    pub status: String,
    pub permission: String,
    /// Authorized on or after this day (YYYY-MM-DD, UTC).
    pub from: String,
    /// Authorized on or before this day (YYYY-MM-DD, UTC).
    pub to: String,
    pub page: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRowView {
    /// Empty while the account is unassigned.
    pub tenant_slug: String,
    pub tenant_name: String,
    pub component_appid: String,
    pub appid: String,
    pub name: String,
    pub kind: AccountKindLabel,
    pub status: AccountStatus,
    pub permissions: Vec<i64>,
    pub authorized_at: i64,
    pub revoked_at: Option<i64>,
}

/// A tenant or component to choose in a filter: (value in the URL, label).
pub type FilterChoice = (String, String);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationPage {
    pub rows: Vec<AuthorizationRowView>,
    pub total: i64,
    /// Authorized accounts no tenant holds yet, across the platform (whatever the filters).
    pub unassigned: i64,
    /// Whether the viewer may assign them (platform admins; auditors only look).
    pub can_assign: bool,
    pub page: i64,
    pub per_page: i64,
    pub tenants: Vec<FilterChoice>,
    pub components: Vec<FilterChoice>,
}

/// Platform staff give an unassigned account to a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AssignAccountForm {
    pub component_appid: String,
    pub appid: String,
    /// The tenant's slug.
    pub tenant: String,
}

/// The audit log's filters, carried in the URL (and in the CSV export's link).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// A tenant's slug.
    pub tenant: String,
    /// A component's appid.
    pub component: String,
    /// An authorizer's appid.
    pub account: String,
    /// An exact kind (`token.refreshed`) or a family ending in a dot (`token.`).
    pub kind: String,
    /// Part of who acted: an email, an API key's name, `system`, `wechat`.
    pub actor: String,
    /// `ok`, `failed` or `denied`.
    pub outcome: String,
    /// From this day (YYYY-MM-DD, UTC), inclusive.
    pub from: String,
    /// To this day (YYYY-MM-DD, UTC), inclusive.
    pub to: String,
    /// Events older than this event id (the next page's cursor).
    pub before: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRowView {
    pub id: i64,
    pub occurred_at: i64,
    pub tenant_slug: Option<String>,
    pub component_appid: Option<String>,
    pub authorizer_appid: Option<String>,
    pub actor_kind: String,
    pub actor: String,
    pub kind: String,
    pub outcome: String,
    pub summary: String,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditRowView>,
    /// The cursor of the next (older) page, when there is one.
    pub next_before: Option<i64>,
    pub per_page: i64,
    pub tenants: Vec<FilterChoice>,
    pub components: Vec<FilterChoice>,
}

/// One account's whole history on one component, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountTimeline {
    pub appid: String,
    pub name: String,
    pub component_appid: String,
    /// Empty while the account is unassigned.
    pub tenant_slug: String,
    pub tenant_name: String,
    pub status: AccountStatus,
    pub permissions: Vec<i64>,
    pub history: Vec<PermissionChange>,
    pub events: Vec<AuditRowView>,
}

/// A webhook endpoint as the console shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpointView {
    pub id: String,
    pub url: String,
    pub description: String,
    /// `async` or `reply`.
    pub mode: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i64,
    /// `None`: every event type.
    pub event_types: Option<Vec<String>>,
    /// `None`: every account.
    pub authorizer_appids: Option<Vec<String>>,
    pub created_at: i64,
}

/// A new endpoint and, this once, its signing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedWebhookEndpoint {
    pub endpoint: WebhookEndpointView,
    pub secret: String,
}

/// The console's new-endpoint form; `event_types` is a list separated by commas or spaces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhookForm {
    pub url: String,
    pub description: String,
    pub mode: String,
    pub event_types: String,
}

/// One delivery in an endpoint's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDeliveryView {
    pub id: i64,
    pub tenant: Option<String>,
    pub endpoint_id: String,
    pub url: String,
    pub event_id: String,
    pub event_type: String,
    pub authorizer_appid: Option<String>,
    /// pending, running, delivered or dead.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_response_excerpt: Option<String>,
    pub created_at: i64,
}

/// One stored message or event of an account, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: i64,
    pub msg_type: String,
    pub event: Option<String>,
    pub from_user: String,
    /// The text of a text message, or the event key of an event, when there is one.
    pub summary: String,
    pub received_at: i64,
    pub xml: String,
}

/// What the menu editor starts from: the live menu as wxhub knows it and whether the signed-in
/// user may publish. The editor's own, smaller than [`MenuOverview`], so its page does not carry
/// the code that reads the history, the backend menu and the click maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuDraftBase {
    pub appid: String,
    /// The account's name (its nickname), empty until WeChat has told it.
    pub name: String,
    pub can_publish: bool,
    /// The newest version's menu; none until the menu has been read once.
    pub live: Option<LiveMenu>,
}

/// A version's menu as the API publishes it, and the version's number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveMenu {
    pub version: i64,
    pub menu: crate::menu::ApiMenu,
}

/// An account's menus: its history, the original and the live one, its conditional menus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuOverview {
    pub appid: String,
    /// The account's name (its nickname), empty until WeChat has told it.
    pub name: String,
    /// Why nothing can be shown or published (English, Chinese): no permission set 15, a mini
    /// program, no longer authorized. The history stays readable.
    pub unavailable: Option<(String, String)>,
    /// May the signed-in user publish (a tenant admin, the account authorized with set 15)?
    pub can_publish: bool,
    /// Newest first.
    pub versions: Vec<MenuVersionView>,
    /// Version 1: the menu as it was when wxhub first saw it.
    pub original: Option<MenuVersionDetail>,
    /// The newest version: what is live as far as wxhub knows.
    pub live: Option<MenuVersionDetail>,
    pub conditional: Vec<ConditionalMenuView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuVersionView {
    pub version: i64,
    /// `fetched`, `published` or `deleted`.
    pub source: String,
    pub actor: String,
    pub note: String,
    pub created_at: i64,
    pub based_on_version: Option<i64>,
    pub items: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuVersionDetail {
    pub version: i64,
    pub source: String,
    pub actor: String,
    pub created_at: i64,
    /// The menu as the account's backend made it (read versions only), with its own item types.
    pub backend: Option<crate::menu::SelfMenu>,
    /// The menu the API publishes: the mapped one of a read version, the sent one of a publish.
    pub menu: crate::menu::ApiMenu,
    pub click_map: crate::menu::ClickMap,
    /// Items of the backend menu that could not be kept: (name, English, Chinese).
    pub dropped: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionalMenuView {
    pub menuid: String,
    /// The match rule as `field=value` pairs.
    pub rule: String,
    pub lines: Vec<crate::menu::MenuLine>,
}

/// One call a tenant's system made through the WeChat gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayCallView {
    pub called_at: i64,
    pub method: String,
    pub path: String,
    pub status: Option<i64>,
    pub errcode: Option<i64>,
    /// WeChat's errcode, `none`, `http_N`, `transport` or `too_large`.
    pub outcome: String,
    /// A refused token was replaced and the call sent again.
    pub retried: bool,
    pub duration_ms: i64,
    /// The key's name and prefix ("orders (wxh_AbCd1234)"), if it still exists.
    pub key: Option<String>,
}

// ---- mini-program code management ----

/// A version of a mini program's code: committed (the trial version) or released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeVersionView {
    pub user_version: String,
    pub user_desc: String,
    pub template_id: Option<i64>,
    pub at: i64,
}

/// The latest audit: its id, where it stands and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeAuditView {
    pub auditid: i64,
    /// `auditing`, `passed`, `rejected`, `delayed`, `withdrawn` or `released`.
    pub status: String,
    pub user_version: String,
    pub reason: String,
    /// WeChat's media ids of the rejection's screenshots.
    pub screenshots: Vec<String>,
    pub submitted_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeQuotaView {
    pub rest: i64,
    pub limit: i64,
    pub speedup_rest: i64,
    pub speedup_limit: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeTemplateView {
    pub template_id: i64,
    pub user_version: String,
    pub user_desc: String,
    /// 0 normal, 1 standard.
    pub template_type: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeDraftView {
    pub draft_id: i64,
    pub user_version: String,
    pub user_desc: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeCategoryView {
    /// `first_id:second_id`, as the submit form sends it back.
    pub value: String,
    pub label: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeDomainsView {
    pub request: Vec<String>,
    pub socket: Vec<String>,
    pub upload: Vec<String>,
    pub download: Vec<String>,
    pub webview: Vec<String>,
}

/// One row of a mini program's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeEventView {
    pub id: i64,
    /// `committed`, `submitted`, `audit_passed`, `audit_failed`, `audit_delayed`,
    /// `audit_withdrawn`, `speedup`, `released`, `reverted` or `domains`.
    pub kind: String,
    pub user_version: Option<String>,
    pub template_id: Option<i64>,
    pub auditid: Option<i64>,
    /// The rejection's reason, the submitted pages, the domains set.
    pub note: String,
    pub actor: String,
    pub at: i64,
}

/// A mini program's code page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeOverview {
    pub appid: String,
    pub name: String,
    pub component_appid: String,
    /// Why code cannot be managed now (English, Chinese), if it cannot.
    pub unavailable: Option<(String, String)>,
    pub can_write: bool,
    pub trial: Option<CodeVersionView>,
    pub audit: Option<CodeAuditView>,
    pub released: Option<CodeVersionView>,
    pub quota: Option<CodeQuotaView>,
    pub templates: Vec<CodeTemplateView>,
    pub pages: Vec<String>,
    pub categories: Vec<CodeCategoryView>,
    pub domains: Option<CodeDomainsView>,
    pub timeline: Vec<CodeEventView>,
    /// Reads from WeChat that failed (English, Chinese); the page shows what it has.
    pub read_problems: Vec<(String, String)>,
}

/// A component's template library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeLibraryView {
    pub component_appid: String,
    pub component_name: String,
    pub shared: bool,
    /// The signed-in user may add and delete templates here.
    pub can_write: bool,
    pub drafts: Vec<CodeDraftView>,
    pub templates: Vec<CodeTemplateView>,
    pub problem: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeBatchItemView {
    pub appid: String,
    pub name: String,
    /// `pending`, `committed`, `submitted`, `failed` or `skipped`.
    pub status: String,
    pub auditid: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeBatchView {
    pub id: i64,
    pub template_id: i64,
    pub user_version: String,
    pub submit: bool,
    pub started_by: String,
    pub created_at: i64,
    pub items: Vec<CodeBatchItemView>,
}

/// A fast registration and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FastRegistrationView {
    pub id: i64,
    /// `enterprise` or `personal`.
    pub kind: String,
    pub name: String,
    /// `waiting`, `succeeded` or `failed`.
    pub status: String,
    /// WeChat's status code and message when it ended.
    pub wechat_status: Option<i64>,
    pub message: Option<String>,
    /// The new mini program, once registered.
    pub appid: Option<String>,
    /// Where the person confirms (personal registrations).
    pub authorize_url: Option<String>,
    pub started_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The form that starts a fast registration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FastRegisterForm {
    pub component_appid: String,
    /// `enterprise` or `personal`.
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub code_type: String,
    pub wechat: String,
    #[serde(default)]
    pub legal_persona_name: String,
    #[serde(default)]
    pub component_phone: String,
}

/// The releases page: each component's library, the mini programs a batch can go to, and the
/// tenant's batches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeReleasesView {
    /// Platform staff: only the shared components' libraries.
    pub staff: bool,
    pub registrations: Vec<FastRegistrationView>,
    pub libraries: Vec<CodeLibraryView>,
    /// (appid, name, component appid) of each mini program that granted code management.
    pub mini_programs: Vec<(String, String, String)>,
    pub batches: Vec<CodeBatchView>,
    pub can_write: bool,
}

/// The form that starts a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeBatchForm {
    pub component_appid: String,
    pub template_id: String,
    pub user_version: String,
    #[serde(default)]
    pub user_desc: String,
    #[serde(default)]
    pub ext_json: String,
    /// One appid per line (or separated by commas or spaces).
    pub appids: String,
    /// "on" when the batch also submits for audit.
    #[serde(default)]
    pub submit: Option<String>,
}

/// What a chart counts. Its title is the page's business, in the reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChartKind {
    Refreshes,
    RefreshFailures,
    Authorizations,
    Revocations,
    Messages,
    Deliveries,
    ApiCalls,
}

/// How long one bar of a chart is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChartBucket {
    Hour,
    Day,
}

/// One chart: bars over time, each bar the stack of its series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chart {
    pub kind: ChartKind,
    pub bucket: ChartBucket,
    /// Each bar's start (Unix ms, UTC), oldest first.
    pub starts: Vec<i64>,
    /// The series stacked in each bar, biggest first; each has a value per bar.
    pub series: Vec<ChartSeries>,
}

/// One part of a chart's bars: `name` is what splits the count (an errcode, a delivery's outcome),
/// empty when nothing does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartSeries {
    pub name: String,
    pub values: Vec<i64>,
}

impl Chart {
    /// The bar's total (every series).
    pub fn total_at(&self, bar: usize) -> i64 {
        self.series
            .iter()
            .map(|s| s.values.get(bar).copied().unwrap_or(0))
            .sum()
    }

    /// Every bar's total together.
    pub fn total(&self) -> i64 {
        (0..self.starts.len()).map(|i| self.total_at(i)).sum()
    }
}

/// The window of the overview's traffic charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ChartRange {
    /// Per hour over the last 24 hours.
    #[default]
    Day,
    /// Per day over the last 30 days.
    Month,
}

impl ChartRange {
    pub fn parse(s: &str) -> Option<ChartRange> {
        match s {
            "24h" => Some(ChartRange::Day),
            "30d" => Some(ChartRange::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChartRange::Day => "24h",
            ChartRange::Month => "30d",
        }
    }
}

/// An open alert as platform staff see it: whose it is and how often it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformAlertView {
    pub kind: String,
    pub message: String,
    /// The tenant's slug, when the alert is one tenant's.
    pub tenant: Option<String>,
    pub occurrences: i64,
    pub raised_at: i64,
    pub last_seen_at: i64,
}

/// A tenant with something wrong, for the overview's "most problems" list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantTrouble {
    pub slug: String,
    pub name: String,
    pub needs_reauth: i64,
    pub open_alerts: i64,
    pub failing_deliveries: i64,
    pub dead_letters: i64,
}

impl TenantTrouble {
    /// How the list is ordered: accounts to re-authorize weigh most (a person has to act).
    pub fn weight(&self) -> i64 {
        self.needs_reauth * 10 + self.open_alerts * 5 + self.dead_letters + self.failing_deliveries
    }
}

/// Platform staff's overview: the health of every tenant in one screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformOverview {
    /// When the account counts were taken (they are kept for up to 30 seconds).
    pub counted_at: i64,
    pub accounts_by_status: Vec<(AccountStatus, i64)>,
    /// Accounts no tenant holds (authorized through a shared component, waiting to be assigned).
    pub unassigned: i64,
    pub components: Vec<ComponentHealth>,
    /// The newest open alerts (at most [`OPEN_ALERTS_SHOWN`]) …
    pub open_alerts: Vec<PlatformAlertView>,
    /// … of this many.
    pub open_alert_count: i64,
    /// Refresh failures of the last 24 hours by errcode (or failure kind), most first.
    pub failures_by_errcode: Vec<(String, i64)>,
    pub failing_deliveries: i64,
    pub dead_letters: i64,
    /// The tenants with the most problems, worst first (at most ten).
    pub problem_tenants: Vec<TenantTrouble>,
    pub range: ChartRange,
    pub charts: Vec<Chart>,
}

/// One alert rule as an audience has it set (its own settings, or the defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRuleView {
    pub rule: String,
    pub title: String,
    pub title_zh: String,
    pub unit: String,
    pub unit_zh: String,
    pub enabled: bool,
    pub threshold: i64,
    pub renotify_minutes: i64,
    pub min: i64,
    pub max: i64,
    pub default_threshold: i64,
    /// Whether the audience changed it from the defaults.
    pub customized: bool,
}

/// A notification channel, as it may be shown (never its key, secret or password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationChannelView {
    pub id: i64,
    /// `wecom_robot`, `webhook` or `email`.
    pub kind: String,
    pub name: String,
    pub summary: String,
    pub enabled: bool,
    pub last_sent_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub created_at: i64,
}

/// A condition firing now for the audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiringAlertView {
    pub rule: String,
    pub title: String,
    pub title_zh: String,
    pub subject: String,
    pub message: String,
    pub message_zh: String,
    pub firing_since: i64,
    pub last_notified_at: i64,
}

/// One notification sent (or being sent, or given up) on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationView {
    pub id: i64,
    pub channel_name: String,
    pub rule: String,
    pub title: String,
    pub title_zh: String,
    pub subject: String,
    /// firing, reminder, resolved or test.
    pub event: String,
    /// pending, sent or failed.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// The alerts page: the platform's (staff) or one tenant's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsView {
    /// The platform's audience (staff) rather than a tenant's.
    pub platform: bool,
    /// Whether the user may change rules and channels (admins).
    pub can_edit: bool,
    pub rules: Vec<AlertRuleView>,
    pub channels: Vec<NotificationChannelView>,
    pub firing: Vec<FiringAlertView>,
    pub notifications: Vec<NotificationView>,
}

/// The new-channel form: which fields matter depends on `kind`, so the others may be left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelForm {
    pub kind: String,
    pub name: String,
    pub url: String,
    pub host: String,
    pub port: String,
    pub security: String,
    pub username: String,
    pub password: String,
    pub from: String,
    pub to: String,
}

/// A channel just added, with the signing secret of a webhook channel (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedChannel {
    pub channel: NotificationChannelView,
    pub secret: Option<String>,
}

/// What a test notification came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestNotification {
    pub sent: bool,
    /// Why not, when not.
    pub error: Option<String>,
}

/// Open alerts the overview lists (the rest are counted, and on the alerts page).
pub const OPEN_ALERTS_SHOWN: usize = 20;
