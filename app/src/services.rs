//! What the server functions need from the server, as traits (server side only). The server
//! implements them over its storage; the UI never sees SQL or HTTP clients, and tests can drive the
//! server functions' behaviour through the real implementations.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;

use crate::dto::{
    AccountDetail, AccountPage, AccountQuery, AccountTimeline, ApiKeyView, AuditPage, AuditQuery,
    AuthorizationPage, AuthorizationQuery, AuthorizedAccount, CheckStep, ComponentChoice,
    ComponentForm, ComponentView, CreatedApiKey, Dashboard, DoneOutcome, LinkView, MenuOverview,
    NewLinkForm, NewStaffUserForm, NewTenantForm, NewUserForm, PublicLink, StaffUserView,
    TenantView, UserView,
};
use crate::dto::{
    AssignAccountForm, CreatedWebhookEndpoint, ImportView, MessageView, NewWebhookForm,
    WebhookDeliveryView, WebhookEndpointView,
};
use crate::error::AppError;
use crate::model::SessionUser;

/// The client's address as the server determined it (peer address, or `X-Forwarded-For` when the
/// operator said a proxy is trusted). Inserted into request extensions by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// What a service call knows about the request it serves.
#[derive(Clone)]
pub struct RequestCtx {
    pub session: tower_sessions::Session,
    pub client_ip: Option<IpAddr>,
}

#[async_trait]
pub trait AuthService: Send + Sync + 'static {
    /// Verifies the password, rotates the session id and stores the user in the session.
    async fn sign_in(
        &self,
        ctx: &RequestCtx,
        email: &str,
        password: &str,
    ) -> Result<SessionUser, AppError>;
    /// Ends the session (the record is deleted, the cookie cleared).
    async fn sign_out(&self, ctx: &RequestCtx) -> Result<(), AppError>;
    /// The signed-in user, re-read from storage so a disabled user is signed out at once.
    async fn current_user(&self, ctx: &RequestCtx) -> Result<Option<SessionUser>, AppError>;
}

/// The tenant console: everything a tenant admin or viewer sees and (admins only) changes. Every
/// method finds the tenant from the session; none takes a tenant id from the browser.
#[async_trait]
pub trait ConsoleService: Send + Sync + 'static {
    async fn dashboard(&self, ctx: &RequestCtx) -> Result<Dashboard, AppError>;
    async fn accounts(
        &self,
        ctx: &RequestCtx,
        query: AccountQuery,
    ) -> Result<AccountPage, AppError>;
    async fn account(&self, ctx: &RequestCtx, appid: &str) -> Result<AccountDetail, AppError>;
    /// The newest calls tenants' systems made through the gateway for this account (at most 100).
    async fn account_gateway_calls(
        &self,
        ctx: &RequestCtx,
        appid: &str,
    ) -> Result<Vec<crate::dto::GatewayCallView>, AppError>;
    /// The account's menus: history, original, live, conditional.
    async fn account_menus(&self, ctx: &RequestCtx, appid: &str) -> Result<MenuOverview, AppError>;
    /// Reads the live menu from WeChat now; a new version when it changed. Returns the version.
    async fn read_menu_now(&self, ctx: &RequestCtx, appid: &str) -> Result<i64, AppError>;
    /// Publishes `menu_json` (an API menu) edited from `base_version`. Returns the new version.
    async fn publish_menu(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        menu_json: &str,
        base_version: i64,
    ) -> Result<i64, AppError>;
    /// Publishes an earlier version again (version 1: restore the original).
    async fn roll_back_menu(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        version: i64,
    ) -> Result<i64, AppError>;
    async fn delete_conditional_menu(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        menuid: &str,
    ) -> Result<(), AppError>;
    /// Queues a fresh fetch of the account's menu from WeChat.
    async fn refresh_menu(&self, ctx: &RequestCtx, appid: &str) -> Result<(), AppError>;
    async fn link_components(&self, ctx: &RequestCtx) -> Result<Vec<ComponentChoice>, AppError>;
    async fn links(&self, ctx: &RequestCtx) -> Result<Vec<LinkView>, AppError>;
    async fn create_link(&self, ctx: &RequestCtx, form: NewLinkForm) -> Result<LinkView, AppError>;
    async fn revoke_link(&self, ctx: &RequestCtx, id: i64) -> Result<(), AppError>;
    async fn api_keys(&self, ctx: &RequestCtx) -> Result<Vec<ApiKeyView>, AppError>;
    async fn create_api_key(
        &self,
        ctx: &RequestCtx,
        name: &str,
        scopes: &[String],
    ) -> Result<CreatedApiKey, AppError>;
    async fn set_api_key_scopes(
        &self,
        ctx: &RequestCtx,
        id: i64,
        scopes: &[String],
    ) -> Result<(), AppError>;
    async fn revoke_api_key(&self, ctx: &RequestCtx, id: i64) -> Result<(), AppError>;
    async fn webhook_endpoints(
        &self,
        ctx: &RequestCtx,
    ) -> Result<Vec<WebhookEndpointView>, AppError>;
    async fn create_webhook_endpoint(
        &self,
        ctx: &RequestCtx,
        form: NewWebhookForm,
    ) -> Result<CreatedWebhookEndpoint, AppError>;
    async fn delete_webhook_endpoint(&self, ctx: &RequestCtx, id: &str) -> Result<(), AppError>;
    async fn set_webhook_endpoint_enabled(
        &self,
        ctx: &RequestCtx,
        id: &str,
        enabled: bool,
    ) -> Result<(), AppError>;
    /// Queues a test event; returns its event id.
    async fn send_webhook_test(&self, ctx: &RequestCtx, id: &str) -> Result<String, AppError>;
    /// An endpoint's newest deliveries (of one status, or all).
    async fn webhook_deliveries(
        &self,
        ctx: &RequestCtx,
        id: &str,
        status: Option<String>,
    ) -> Result<Vec<WebhookDeliveryView>, AppError>;
    /// Replays one dead delivery, or all of the endpoint's; returns how many.
    async fn replay_webhook_deliveries(
        &self,
        ctx: &RequestCtx,
        id: &str,
        delivery: Option<i64>,
    ) -> Result<u64, AppError>;
    /// An account's newest messages and events.
    async fn account_messages(
        &self,
        ctx: &RequestCtx,
        appid: &str,
    ) -> Result<Vec<MessageView>, AppError>;
    async fn users(&self, ctx: &RequestCtx) -> Result<Vec<UserView>, AppError>;
    async fn create_user(&self, ctx: &RequestCtx, form: NewUserForm) -> Result<UserView, AppError>;
    async fn set_user_active(
        &self,
        ctx: &RequestCtx,
        id: i64,
        active: bool,
    ) -> Result<(), AppError>;
    async fn set_user_role(&self, ctx: &RequestCtx, id: i64, role: &str) -> Result<(), AppError>;
    async fn components(&self, ctx: &RequestCtx) -> Result<Vec<ComponentView>, AppError>;
    async fn save_component(
        &self,
        ctx: &RequestCtx,
        form: ComponentForm,
    ) -> Result<ComponentView, AppError>;
    /// Is the component talking to WeChat? Ticket, token, and one harmless API call.
    async fn check_component(&self, ctx: &RequestCtx, id: i64) -> Result<Vec<CheckStep>, AppError>;
    /// Starts importing a component's existing authorizations, or returns the running import
    /// (tenant admins for their own components, platform admins for the shared ones).
    async fn start_import(
        &self,
        ctx: &RequestCtx,
        component_id: i64,
    ) -> Result<ImportView, AppError>;
    /// The newest import of a component the user sees.
    async fn component_import(
        &self,
        ctx: &RequestCtx,
        component_id: i64,
    ) -> Result<Option<ImportView>, AppError>;
}

/// The public pages an account owner sees; no session, the link's unguessable id is the key.
#[async_trait]
pub trait AuthorizePageService: Send + Sync + 'static {
    /// The link page: a pre_auth_code that is valid for a while yet, and the URLs and QR code
    /// built from it.
    async fn open_link(&self, public_id: &str) -> Result<PublicLink, AppError>;
    /// The account that authorized through this link since the page that holds `landing_ticket`
    /// was opened, if any.
    async fn link_landed(
        &self,
        public_id: &str,
        landing_ticket: &str,
    ) -> Result<Option<AuthorizedAccount>, AppError>;
    /// WeChat's redirect: exchanges the code (idempotent with the `authorized` push). Limited per
    /// client address and per link.
    async fn complete(
        &self,
        client_ip: Option<IpAddr>,
        public_id: &str,
        auth_code: Option<&str>,
    ) -> Result<DoneOutcome, AppError>;
}

/// Platform staff: admins manage tenants and users of every tenant; admins and auditors read
/// every authorization and the whole audit log. Every method checks the role first; auditors are
/// refused every change.
#[async_trait]
pub trait PlatformService: Send + Sync + 'static {
    async fn tenants(&self, ctx: &RequestCtx) -> Result<Vec<TenantView>, AppError>;
    async fn create_tenant(
        &self,
        ctx: &RequestCtx,
        form: NewTenantForm,
    ) -> Result<TenantView, AppError>;
    /// Suspending a tenant signs its users out and stops its API keys at once.
    async fn set_tenant_suspended(
        &self,
        ctx: &RequestCtx,
        id: i64,
        suspended: bool,
    ) -> Result<(), AppError>;
    async fn all_users(&self, ctx: &RequestCtx) -> Result<Vec<StaffUserView>, AppError>;
    async fn create_any_user(
        &self,
        ctx: &RequestCtx,
        form: NewStaffUserForm,
    ) -> Result<StaffUserView, AppError>;
    async fn set_any_user_active(
        &self,
        ctx: &RequestCtx,
        id: i64,
        active: bool,
    ) -> Result<(), AppError>;
    async fn authorizations(
        &self,
        ctx: &RequestCtx,
        query: AuthorizationQuery,
    ) -> Result<AuthorizationPage, AppError>;
    /// Gives an unassigned account to a tenant (platform admins).
    async fn assign_account(
        &self,
        ctx: &RequestCtx,
        form: AssignAccountForm,
    ) -> Result<(), AppError>;
    async fn audit(&self, ctx: &RequestCtx, query: AuditQuery) -> Result<AuditPage, AppError>;
    /// The platform's health across tenants, with its charts over `range` ("24h" or "30d"; none
    /// is "24h").
    async fn overview(
        &self,
        ctx: &RequestCtx,
        range: Option<String>,
    ) -> Result<crate::dto::PlatformOverview, AppError>;
    /// The newest webhook deliveries of every tenant (of one status, or all).
    async fn all_deliveries(
        &self,
        ctx: &RequestCtx,
        status: Option<String>,
    ) -> Result<Vec<WebhookDeliveryView>, AppError>;
    /// Every event matching the filters (not one page), as CSV.
    async fn audit_csv(&self, ctx: &RequestCtx, query: AuditQuery) -> Result<String, AppError>;
    async fn timeline(
        &self,
        ctx: &RequestCtx,
        component_appid: &str,
        appid: &str,
    ) -> Result<AccountTimeline, AppError>;
}

/// Alert rules, channels and notifications of the signed-in user's audience: platform staff see
/// and (admins) change the platform's, tenant users their tenant's (admins change them). No
/// method takes an audience from the browser.
#[async_trait]
pub trait AlertService: Send + Sync + 'static {
    async fn alerts(&self, ctx: &RequestCtx) -> Result<crate::dto::AlertsView, AppError>;
    async fn set_alert_rule(
        &self,
        ctx: &RequestCtx,
        rule: &str,
        enabled: bool,
        threshold: &str,
        renotify_minutes: &str,
    ) -> Result<(), AppError>;
    async fn create_channel(
        &self,
        ctx: &RequestCtx,
        form: crate::dto::ChannelForm,
    ) -> Result<crate::dto::CreatedChannel, AppError>;
    /// `enable`, `disable` or `delete`.
    async fn change_channel(&self, ctx: &RequestCtx, id: i64, change: &str)
        -> Result<(), AppError>;
    async fn test_channel(
        &self,
        ctx: &RequestCtx,
        id: i64,
    ) -> Result<crate::dto::TestNotification, AppError>;
}

/// Mini-program code management for a tenant's users: a mini program's code page (templates,
/// commit, audit, release, domains, trial QR code, timeline), the template library of each
/// component the tenant uses, and batches. Admins act; viewers read.
#[async_trait]
pub trait CodeService: Send + Sync + 'static {
    async fn code_overview(
        &self,
        ctx: &RequestCtx,
        appid: &str,
    ) -> Result<crate::dto::CodeOverview, AppError>;
    /// The id of the newest timeline row (storage only).
    async fn code_timeline_head(
        &self,
        ctx: &RequestCtx,
        appid: &str,
    ) -> Result<Option<i64>, AppError>;
    async fn code_commit(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        template_id: &str,
        user_version: &str,
        user_desc: &str,
        ext_json: &str,
    ) -> Result<(), AppError>;
    /// Submits for audit with at most one item (a page under a category, titled); answers the
    /// auditid.
    async fn code_submit(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        page: &str,
        category: &str,
        title: &str,
    ) -> Result<i64, AppError>;
    /// `withdraw`, `speedup`, `release` or `revert`.
    async fn code_step(&self, ctx: &RequestCtx, appid: &str, step: &str) -> Result<(), AppError>;
    /// Sets the domains: one per line in each list.
    async fn code_set_domains(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        domains: crate::dto::CodeDomainsView,
    ) -> Result<(), AppError>;
    /// The trial version's QR code as a `data:` URL.
    async fn code_trial_qrcode(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        path: &str,
    ) -> Result<String, AppError>;
    async fn code_releases(
        &self,
        ctx: &RequestCtx,
    ) -> Result<crate::dto::CodeReleasesView, AppError>;
    /// `add` a draft as a template (`id` the draft) or `delete` a template (`id` the template).
    async fn code_library_change(
        &self,
        ctx: &RequestCtx,
        component_appid: &str,
        change: &str,
        id: &str,
    ) -> Result<(), AppError>;
    async fn code_start_batch(
        &self,
        ctx: &RequestCtx,
        form: crate::dto::CodeBatchForm,
    ) -> Result<i64, AppError>;
    /// Starts a fast registration (enterprise or personal) on one of the tenant's components.
    async fn code_fast_register(
        &self,
        ctx: &RequestCtx,
        form: crate::dto::FastRegisterForm,
    ) -> Result<i64, AppError>;
    /// Asks WeChat now where one of the tenant's waiting registrations stands ("Ask WeChat now").
    async fn code_fast_register_check(
        &self,
        ctx: &RequestCtx,
        id: i64,
    ) -> Result<crate::dto::FastRegistrationView, AppError>;
}

/// Every service the UI uses, provided to the Leptos context once at startup.
#[derive(Clone)]
pub struct Services {
    pub alerts: Arc<dyn AlertService>,
    pub auth: Arc<dyn AuthService>,
    pub console: Arc<dyn ConsoleService>,
    pub authorize: Arc<dyn AuthorizePageService>,
    pub platform: Arc<dyn PlatformService>,
    pub code: Arc<dyn CodeService>,
}

/// Pulls the services and the request context out of the Leptos context of a server function.
pub fn context() -> Result<(Services, RequestCtx), AppError> {
    use leptos::prelude::use_context;
    let services = use_context::<Services>().ok_or(AppError::Internal)?;
    let parts = use_context::<http::request::Parts>().ok_or(AppError::Internal)?;
    let session = parts
        .extensions
        .get::<tower_sessions::Session>()
        .cloned()
        .ok_or(AppError::Internal)?;
    let client_ip = parts.extensions.get::<ClientIp>().map(|ip| ip.0);
    Ok((services, RequestCtx { session, client_ip }))
}

/// The services alone, for the public pages that have no session.
pub fn services() -> Result<Services, AppError> {
    leptos::prelude::use_context::<Services>().ok_or(AppError::Internal)
}

/// The client's address, where the server knows it (public pages rate-limit by it).
pub fn client_ip() -> Option<IpAddr> {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientIp>().map(|ip| ip.0))
}

/// True when the request is a plain HTML form post (no JavaScript): the answer must be a redirect.
pub fn is_plain_form_post() -> bool {
    leptos::prelude::use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    })
}

/// Sets the HTTP status of the server function's response to match the error, and passes it on.
pub fn fail(error: AppError) -> AppError {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(error.status()) {
            response.set_status(status);
        }
    }
    error
}
