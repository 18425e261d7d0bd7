//! Server functions: thin adapters (decode → session → one service call → DTO). Their URLs are
//! fixed (`/ui/…`) so tests and the docs can name them.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::SessionUser;

#[server(prefix = "/ui", endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<SessionUser, AppError> {
    use crate::services::{context, fail, is_plain_form_post};
    let (services, ctx) = context().map_err(fail)?;
    match services.auth.sign_in(&ctx, &email, &password).await {
        Ok(user) => {
            leptos_axum::redirect("/");
            Ok(user)
        }
        // Without JavaScript the browser shows whatever the redirect leads to, so the error
        // travels in the URL.
        Err(e) if is_plain_form_post() => {
            leptos_axum::redirect(&format!("/login?error={}", e.to_query_code()));
            Err(e)
        }
        Err(e) => Err(fail(e)),
    }
}

#[server(prefix = "/ui", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.auth.sign_out(&ctx).await.map_err(fail)?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(prefix = "/ui", endpoint = "me")]
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.auth.current_user(&ctx).await.map_err(fail)
}

// ---- the tenant console ----

#[server(prefix = "/ui", endpoint = "dashboard")]
pub async fn dashboard() -> Result<crate::dto::Dashboard, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.console.dashboard(&ctx).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "accounts")]
pub async fn accounts(
    query: crate::dto::AccountQuery,
) -> Result<crate::dto::AccountPage, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.console.accounts(&ctx, query).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "account")]
pub async fn account(appid: String) -> Result<crate::dto::AccountDetail, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.console.account(&ctx, &appid).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "refresh-menu")]
pub async fn refresh_menu(appid: String) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .refresh_menu(&ctx, &appid)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "account-gateway-calls")]
pub async fn account_gateway_calls(
    appid: String,
) -> Result<Vec<crate::dto::GatewayCallView>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .account_gateway_calls(&ctx, &appid)
        .await
        .map_err(fail)
}

// ---- Menus (tenant admins publish, viewers read) ----

#[server(prefix = "/ui", endpoint = "account-menus")]
pub async fn account_menus(appid: String) -> Result<crate::dto::MenuOverview, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .account_menus(&ctx, &appid)
        .await
        .map_err(fail)
}

/// The menu editor's starting point: [`account_menus`] without the history and the takeover.
#[server(prefix = "/ui", endpoint = "menu-draft-base")]
pub async fn menu_draft_base(appid: String) -> Result<crate::dto::MenuDraftBase, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    let overview = services
        .console
        .account_menus(&ctx, &appid)
        .await
        .map_err(fail)?;
    Ok(crate::dto::MenuDraftBase {
        appid: overview.appid,
        name: overview.name,
        can_publish: overview.can_publish,
        live: overview.live.map(|live| crate::dto::LiveMenu {
            version: live.version,
            menu: live.menu,
        }),
    })
}

#[server(prefix = "/ui", endpoint = "read-menu-now")]
pub async fn read_menu_now(appid: String) -> Result<i64, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .read_menu_now(&ctx, &appid)
        .await
        .map_err(fail)
}

/// `menu_json`: the menu as `menu/create` takes it (`{"button":[…]}`).
#[server(prefix = "/ui", endpoint = "publish-menu")]
pub async fn publish_menu(
    appid: String,
    menu_json: String,
    base_version: i64,
) -> Result<i64, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .publish_menu(&ctx, &appid, &menu_json, base_version)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "roll-back-menu")]
pub async fn roll_back_menu(appid: String, version: i64) -> Result<i64, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .roll_back_menu(&ctx, &appid, version)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "delete-conditional-menu")]
pub async fn delete_conditional_menu(appid: String, menuid: String) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .delete_conditional_menu(&ctx, &appid, &menuid)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "link-components")]
pub async fn link_components() -> Result<Vec<crate::dto::ComponentChoice>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.console.link_components(&ctx).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "links")]
pub async fn links() -> Result<Vec<crate::dto::LinkView>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.console.links(&ctx).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "create-link")]
pub async fn create_link(form: crate::dto::NewLinkForm) -> Result<crate::dto::LinkView, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.console.create_link(&ctx, form).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "revoke-link")]
pub async fn revoke_link(id: i64) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.console.revoke_link(&ctx, id).await.map_err(fail)
}

// ---- the public authorization pages (no session) ----

#[server(prefix = "/ui", endpoint = "public-link")]
pub async fn public_link(public_id: String) -> Result<crate::dto::PublicLink, AppError> {
    use crate::services::{fail, services};
    let services = services().map_err(fail)?;
    services.authorize.open_link(&public_id).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "public-link-landed")]
pub async fn public_link_landed(
    public_id: String,
    ticket: String,
) -> Result<Option<crate::dto::AuthorizedAccount>, AppError> {
    use crate::services::{fail, services};
    let services = services().map_err(fail)?;
    services
        .authorize
        .link_landed(&public_id, &ticket)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "authorization-done")]
pub async fn authorization_done(
    public_id: String,
    auth_code: Option<String>,
) -> Result<crate::dto::DoneOutcome, AppError> {
    use crate::services::{client_ip, fail, services};
    let services = services().map_err(fail)?;
    services
        .authorize
        .complete(client_ip(), &public_id, auth_code.as_deref())
        .await
        .map_err(fail)
}

// ---- Webhooks and messages (tenant admins change, viewers read) ----

#[server(prefix = "/ui", endpoint = "webhook-endpoints")]
pub async fn webhook_endpoints() -> Result<Vec<crate::dto::WebhookEndpointView>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.console.webhook_endpoints(&ctx).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "create-webhook-endpoint")]
pub async fn create_webhook_endpoint(
    form: crate::dto::NewWebhookForm,
) -> Result<crate::dto::CreatedWebhookEndpoint, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .create_webhook_endpoint(&ctx, form)
        .await
        .map_err(fail)
}

/// Turns an endpoint on or off, or deletes it: `change` is `enable`, `disable` or `delete`. One
/// server function for the three, so the webhooks page carries one action's code, not two.
#[server(prefix = "/ui", endpoint = "change-webhook-endpoint")]
pub async fn change_webhook_endpoint(id: String, change: String) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    let console = &services.console;
    match change.as_str() {
        "enable" | "disable" => console
            .set_webhook_endpoint_enabled(&ctx, &id, change == "enable")
            .await
            .map_err(fail),
        "delete" => console
            .delete_webhook_endpoint(&ctx, &id)
            .await
            .map_err(fail),
        _ => Err(AppError::invalid_bilingual(
            "change",
            "the change must be enable, disable or delete",
            "变更只能是 enable、disable 或 delete",
        )),
    }
}

#[server(prefix = "/ui", endpoint = "send-webhook-test")]
pub async fn send_webhook_test(id: String) -> Result<String, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .send_webhook_test(&ctx, &id)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "webhook-deliveries")]
pub async fn webhook_deliveries(
    id: String,
    status: Option<String>,
) -> Result<Vec<crate::dto::WebhookDeliveryView>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .webhook_deliveries(&ctx, &id, status)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "replay-webhook-deliveries")]
pub async fn replay_webhook_deliveries(id: String, delivery: Option<i64>) -> Result<u64, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .replay_webhook_deliveries(&ctx, &id, delivery)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "account-messages")]
pub async fn account_messages(appid: String) -> Result<Vec<crate::dto::MessageView>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .account_messages(&ctx, &appid)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "platform-overview")]
pub async fn platform_overview(
    range: Option<String>,
) -> Result<crate::dto::PlatformOverview, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.platform.overview(&ctx, range).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "all-deliveries")]
pub async fn all_deliveries(
    status: Option<String>,
) -> Result<Vec<crate::dto::WebhookDeliveryView>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .platform
        .all_deliveries(&ctx, status)
        .await
        .map_err(fail)
}

// ---- API keys and users (tenant admins change, viewers read) ----

#[server(prefix = "/ui", endpoint = "api-keys")]
pub async fn api_keys() -> Result<Vec<crate::dto::ApiKeyView>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.console.api_keys(&ctx).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "create-api-key")]
/// `scopes`: scope names separated by spaces (at least one).
pub async fn create_api_key(
    name: String,
    scopes: String,
) -> Result<crate::dto::CreatedApiKey, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    let scopes: Vec<String> = scopes.split_whitespace().map(str::to_owned).collect();
    services
        .console
        .create_api_key(&ctx, &name, &scopes)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "set-api-key-scopes")]
/// `scopes`: scope names separated by spaces.
pub async fn set_api_key_scopes(id: i64, scopes: String) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    let scopes: Vec<String> = scopes.split_whitespace().map(str::to_owned).collect();
    services
        .console
        .set_api_key_scopes(&ctx, id, &scopes)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "revoke-api-key")]
pub async fn revoke_api_key(id: i64) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .revoke_api_key(&ctx, id)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "users")]
pub async fn users() -> Result<Vec<crate::dto::UserView>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.console.users(&ctx).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "create-user")]
pub async fn create_user(form: crate::dto::NewUserForm) -> Result<crate::dto::UserView, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.console.create_user(&ctx, form).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "set-user-active")]
pub async fn set_user_active(id: i64, active: bool) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .set_user_active(&ctx, id, active)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "set-user-role")]
pub async fn set_user_role(id: i64, role: String) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .set_user_role(&ctx, id, &role)
        .await
        .map_err(fail)
}

// ---- components ----

#[server(prefix = "/ui", endpoint = "components")]
pub async fn components() -> Result<Vec<crate::dto::ComponentView>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.console.components(&ctx).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "save-component")]
pub async fn save_component(
    form: crate::dto::ComponentForm,
) -> Result<crate::dto::ComponentView, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .save_component(&ctx, form)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "check-component")]
pub async fn check_component(id: i64) -> Result<Vec<crate::dto::CheckStep>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .check_component(&ctx, id)
        .await
        .map_err(fail)
}

// ---- platform staff ----

#[server(prefix = "/ui", endpoint = "tenants")]
pub async fn tenants() -> Result<Vec<crate::dto::TenantView>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.platform.tenants(&ctx).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "create-tenant")]
pub async fn create_tenant(
    form: crate::dto::NewTenantForm,
) -> Result<crate::dto::TenantView, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .platform
        .create_tenant(&ctx, form)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "set-tenant-suspended")]
pub async fn set_tenant_suspended(id: i64, suspended: bool) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .platform
        .set_tenant_suspended(&ctx, id, suspended)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "all-users")]
pub async fn all_users() -> Result<Vec<crate::dto::StaffUserView>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.platform.all_users(&ctx).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "create-any-user")]
pub async fn create_any_user(
    form: crate::dto::NewStaffUserForm,
) -> Result<crate::dto::StaffUserView, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .platform
        .create_any_user(&ctx, form)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "set-any-user-active")]
pub async fn set_any_user_active(id: i64, active: bool) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .platform
        .set_any_user_active(&ctx, id, active)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "authorizations")]
pub async fn authorizations(
    query: crate::dto::AuthorizationQuery,
) -> Result<crate::dto::AuthorizationPage, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .platform
        .authorizations(&ctx, query)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "start-import")]
pub async fn start_import(component_id: i64) -> Result<crate::dto::ImportView, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .start_import(&ctx, component_id)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "component-import")]
pub async fn component_import(
    component_id: i64,
) -> Result<Option<crate::dto::ImportView>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .console
        .component_import(&ctx, component_id)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "assign-account")]
pub async fn assign_account(form: crate::dto::AssignAccountForm) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .platform
        .assign_account(&ctx, form)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "audit")]
pub async fn audit(query: crate::dto::AuditQuery) -> Result<crate::dto::AuditPage, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.platform.audit(&ctx, query).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "timeline")]
pub async fn timeline(
    component: String,
    appid: String,
) -> Result<crate::dto::AccountTimeline, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .platform
        .timeline(&ctx, &component, &appid)
        .await
        .map_err(fail)
}

// ---- mini-program code management ----

#[server(prefix = "/ui", endpoint = "code-overview")]
pub async fn code_overview(appid: String) -> Result<crate::dto::CodeOverview, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .code
        .code_overview(&ctx, &appid)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "code-commit")]
pub async fn code_commit(
    appid: String,
    template_id: String,
    user_version: String,
    user_desc: String,
    ext_json: String,
) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .code
        .code_commit(
            &ctx,
            &appid,
            &template_id,
            &user_version,
            &user_desc,
            &ext_json,
        )
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "code-submit")]
pub async fn code_submit(
    appid: String,
    page: String,
    category: String,
    title: String,
) -> Result<i64, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .code
        .code_submit(&ctx, &appid, &page, &category, &title)
        .await
        .map_err(fail)
}

/// `step`: `withdraw`, `speedup`, `release` or `revert`.
#[server(prefix = "/ui", endpoint = "code-step")]
pub async fn code_step(appid: String, step: String) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .code
        .code_step(&ctx, &appid, &step)
        .await
        .map_err(fail)
}

/// Each list one domain per line.
#[server(prefix = "/ui", endpoint = "code-set-domains")]
pub async fn code_set_domains(
    appid: String,
    request: String,
    socket: String,
    upload: String,
    download: String,
    webview: String,
) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    let domains = crate::dto::CodeDomainsView {
        request: vec![request],
        socket: vec![socket],
        upload: vec![upload],
        download: vec![download],
        webview: vec![webview],
    };
    services
        .code
        .code_set_domains(&ctx, &appid, domains)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "code-trial-qrcode")]
pub async fn code_trial_qrcode(appid: String, path: String) -> Result<String, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .code
        .code_trial_qrcode(&ctx, &appid, &path)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "code-releases")]
pub async fn code_releases() -> Result<crate::dto::CodeReleasesView, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.code.code_releases(&ctx).await.map_err(fail)
}

/// `change`: `add` (a draft, by its id) or `delete` (a template, by its id).
#[server(prefix = "/ui", endpoint = "code-library-change")]
pub async fn code_library_change(
    component_appid: String,
    change: String,
    id: String,
) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .code
        .code_library_change(&ctx, &component_appid, &change, &id)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "code-start-batch")]
pub async fn code_start_batch(form: crate::dto::CodeBatchForm) -> Result<i64, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .code
        .code_start_batch(&ctx, form)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "code-fast-register")]
pub async fn code_fast_register(form: crate::dto::FastRegisterForm) -> Result<i64, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .code
        .code_fast_register(&ctx, form)
        .await
        .map_err(fail)
}

/// Asks WeChat now where a waiting fast registration stands (the releases page's "Ask WeChat now").
#[server(prefix = "/ui", endpoint = "code-fast-register-check")]
pub async fn code_fast_register_check(
    id: i64,
) -> Result<crate::dto::FastRegistrationView, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .code
        .code_fast_register_check(&ctx, id)
        .await
        .map_err(fail)
}

/// The id of the newest row of a mini program's timeline (what the code page polls while an
/// audit runs; no call to WeChat).
#[server(prefix = "/ui", endpoint = "code-timeline-head")]
pub async fn code_timeline_head(appid: String) -> Result<Option<i64>, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .code
        .code_timeline_head(&ctx, &appid)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "alerts")]
pub async fn alerts() -> Result<crate::dto::AlertsView, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.alerts.alerts(&ctx).await.map_err(fail)
}

#[server(prefix = "/ui", endpoint = "set-alert-rule")]
pub async fn set_alert_rule(
    rule: String,
    enabled: bool,
    threshold: String,
    renotify_minutes: String,
) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .alerts
        .set_alert_rule(&ctx, &rule, enabled, &threshold, &renotify_minutes)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "create-notification-channel")]
pub async fn create_notification_channel(
    form: crate::dto::ChannelForm,
) -> Result<crate::dto::CreatedChannel, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .alerts
        .create_channel(&ctx, form)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "change-notification-channel")]
pub async fn change_notification_channel(id: i64, change: String) -> Result<(), AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services
        .alerts
        .change_channel(&ctx, id, &change)
        .await
        .map_err(fail)
}

#[server(prefix = "/ui", endpoint = "test-notification-channel")]
pub async fn test_notification_channel(id: i64) -> Result<crate::dto::TestNotification, AppError> {
    use crate::services::{context, fail};
    let (services, ctx) = context().map_err(fail)?;
    services.alerts.test_channel(&ctx, id).await.map_err(fail)
}
