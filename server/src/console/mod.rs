//! The console and the public authorization pages, behind the UI's service traits.
//!
//! Every console method starts from the session: the signed-in user decides the tenant, and every
//! storage call takes that tenant id, so a request can never name another tenant's data. Platform
//! staff have no tenant; their cross-tenant pages are a separate surface. Errors from storage or
//! WeChat are logged here and reach the browser only as `AppError::Internal`.
//!
//! One file per part of the console: `accounts` (dashboard, accounts, menus), `links`, `team`
//! (API keys and users), `components`, `platform` (staff pages) and `public` (the pages account
//! owners see, without signing in). The `ConsoleService` impl below is their table of contents:
//! each method hands over to the function of the same name in its file. Writes go through the
//! operations in `crate::ops`; what is left here is the session, DTO mapping, and the caches this
//! instance holds.

mod accounts;
mod alerts;
mod code;
mod components;
mod links;
mod menus;
mod overview;
mod platform;
mod public;
mod team;
mod webhooks;

use std::sync::Arc;

use app::dto::{
    AccountDetail, AccountPage, AccountQuery, ApiKeyView, CheckStep, ComponentChoice,
    ComponentForm, ComponentView, CreatedApiKey, Dashboard, ImportView, LinkView, NewLinkForm,
    NewUserForm, UserView,
};
use app::error::AppError;
use app::model::SessionUser;
use app::services::{AuthService, ConsoleService, RequestCtx};
use async_trait::async_trait;
use url::Url;

use crate::auth::api_keys::KeyRevocations;
use crate::auth::service::internal;
use crate::auth::{AccountService, PasswordHasher};
use crate::domain::{Actor, TenantId, UserId};
use crate::engine::Engine;
use crate::store::Store;

/// Where the pages' absolute URLs point, and where WeChat's pages live.
#[derive(Debug, Clone)]
pub struct PublicUrls {
    /// The externally visible base of this server (`public_url`, else the listen address).
    pub base: Url,
    pub wechat_mp_base: Url,
    pub wechat_open_base: Url,
}

impl PublicUrls {
    fn link_url(&self, public_id: &str) -> String {
        format!(
            "{}/authorize/{public_id}",
            self.base.as_str().trim_end_matches('/')
        )
    }
}

#[derive(Clone)]
pub struct Console {
    store: Store,
    engine: Arc<Engine>,
    /// The tenant API's key cache: a key revoked here stops working at once.
    api_keys: Arc<dyn KeyRevocations>,
    accounts: AccountService,
    hasher: PasswordHasher,
    urls: PublicUrls,
    public_limits: Arc<public::PublicLimits>,
    /// The overview's account counts, reused for a few seconds.
    overview_counts: Arc<overview::CountsCache>,
}

impl Console {
    pub fn new(
        store: Store,
        engine: Arc<Engine>,
        api_keys: Arc<dyn KeyRevocations>,
        accounts: AccountService,
        hasher: PasswordHasher,
        urls: PublicUrls,
    ) -> Self {
        Self {
            store,
            engine,
            api_keys,
            accounts,
            hasher,
            urls,
            public_limits: Arc::new(public::PublicLimits::default()),
            overview_counts: Arc::default(),
        }
    }

    /// The signed-in tenant user, or why not.
    async fn tenant_user(&self, ctx: &RequestCtx) -> Result<(SessionUser, TenantId), AppError> {
        let user = self
            .accounts
            .current_user(ctx)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let tenant = user
            .tenant
            .as_ref()
            .map(|t| TenantId(t.id))
            .ok_or(AppError::Forbidden)?;
        Ok((user, tenant))
    }

    /// The signed-in tenant admin, and the same as the actor of an operation.
    async fn tenant_admin_actor(
        &self,
        ctx: &RequestCtx,
    ) -> Result<(SessionUser, crate::ops::TenantActor), AppError> {
        let (user, tenant) = self.tenant_admin(ctx).await?;
        let who = crate::ops::TenantActor {
            actor: user_actor(&user),
            tenant,
            ip: ctx.client_ip,
        };
        Ok((user, who))
    }

    async fn tenant_admin(&self, ctx: &RequestCtx) -> Result<(SessionUser, TenantId), AppError> {
        let (user, tenant) = self.tenant_user(ctx).await?;
        if !user.role.can_write() {
            return Err(AppError::Forbidden);
        }
        Ok((user, tenant))
    }
}

fn store_error(context: &str) -> impl Fn(crate::store::StoreError) -> AppError + '_ {
    move |e| internal(context, e)
}

/// A shared validation rule's (field, English, Chinese) as the UI's error.
/// An operation's refusal as the UI's error; a storage failure is logged and becomes `Internal`.
fn op_error(context: &str) -> impl Fn(crate::ops::OpError) -> AppError + '_ {
    move |e| match e {
        crate::ops::OpError::Invalid { field, en, zh }
        | crate::ops::OpError::Conflict { field, en, zh } => {
            AppError::invalid_bilingual(field, en, zh)
        }
        crate::ops::OpError::NotFound => AppError::NotFound,
        crate::ops::OpError::Forbidden => AppError::Forbidden,
        crate::ops::OpError::Store(e) => internal(context, e),
        crate::ops::OpError::Other(e) => internal(context, crate::ops::Boxed(e)),
    }
}

fn bilingual((field, en, zh): (&'static str, String, String)) -> AppError {
    AppError::invalid_bilingual(field, en, zh)
}

fn user_actor(user: &SessionUser) -> Actor {
    Actor::User {
        id: UserId(user.id),
        email: user.email.clone(),
    }
}

#[async_trait]
impl ConsoleService for Console {
    async fn dashboard(&self, ctx: &RequestCtx) -> Result<Dashboard, AppError> {
        accounts::dashboard(self, ctx).await
    }

    async fn accounts(
        &self,
        ctx: &RequestCtx,
        query: AccountQuery,
    ) -> Result<AccountPage, AppError> {
        accounts::accounts(self, ctx, query).await
    }

    async fn account(&self, ctx: &RequestCtx, appid: &str) -> Result<AccountDetail, AppError> {
        accounts::account(self, ctx, appid).await
    }

    async fn refresh_menu(&self, ctx: &RequestCtx, appid: &str) -> Result<(), AppError> {
        accounts::refresh_menu(self, ctx, appid).await
    }

    async fn account_gateway_calls(
        &self,
        ctx: &RequestCtx,
        appid: &str,
    ) -> Result<Vec<app::dto::GatewayCallView>, AppError> {
        accounts::gateway_calls(self, ctx, appid).await
    }

    async fn account_menus(
        &self,
        ctx: &RequestCtx,
        appid: &str,
    ) -> Result<app::dto::MenuOverview, AppError> {
        menus::account_menus(self, ctx, appid).await
    }

    async fn read_menu_now(&self, ctx: &RequestCtx, appid: &str) -> Result<i64, AppError> {
        menus::read_menu_now(self, ctx, appid).await
    }

    async fn publish_menu(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        menu_json: &str,
        base_version: i64,
    ) -> Result<i64, AppError> {
        menus::publish_menu(self, ctx, appid, menu_json, base_version).await
    }

    async fn roll_back_menu(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        version: i64,
    ) -> Result<i64, AppError> {
        menus::roll_back_menu(self, ctx, appid, version).await
    }

    async fn delete_conditional_menu(
        &self,
        ctx: &RequestCtx,
        appid: &str,
        menuid: &str,
    ) -> Result<(), AppError> {
        menus::delete_conditional_menu(self, ctx, appid, menuid).await
    }

    async fn link_components(&self, ctx: &RequestCtx) -> Result<Vec<ComponentChoice>, AppError> {
        links::link_components(self, ctx).await
    }

    async fn links(&self, ctx: &RequestCtx) -> Result<Vec<LinkView>, AppError> {
        links::links(self, ctx).await
    }

    async fn create_link(&self, ctx: &RequestCtx, form: NewLinkForm) -> Result<LinkView, AppError> {
        links::create_link(self, ctx, form).await
    }

    async fn revoke_link(&self, ctx: &RequestCtx, id: i64) -> Result<(), AppError> {
        links::revoke_link(self, ctx, id).await
    }

    async fn api_keys(&self, ctx: &RequestCtx) -> Result<Vec<ApiKeyView>, AppError> {
        team::api_keys(self, ctx).await
    }

    async fn create_api_key(
        &self,
        ctx: &RequestCtx,
        name: &str,
        scopes: &[String],
    ) -> Result<CreatedApiKey, AppError> {
        team::create_api_key(self, ctx, name, scopes).await
    }

    async fn set_api_key_scopes(
        &self,
        ctx: &RequestCtx,
        id: i64,
        scopes: &[String],
    ) -> Result<(), AppError> {
        team::set_api_key_scopes(self, ctx, id, scopes).await
    }

    async fn revoke_api_key(&self, ctx: &RequestCtx, id: i64) -> Result<(), AppError> {
        team::revoke_api_key(self, ctx, id).await
    }

    async fn webhook_endpoints(
        &self,
        ctx: &RequestCtx,
    ) -> Result<Vec<app::dto::WebhookEndpointView>, AppError> {
        webhooks::endpoints(self, ctx).await
    }

    async fn create_webhook_endpoint(
        &self,
        ctx: &RequestCtx,
        form: app::dto::NewWebhookForm,
    ) -> Result<app::dto::CreatedWebhookEndpoint, AppError> {
        webhooks::create(self, ctx, form).await
    }

    async fn delete_webhook_endpoint(&self, ctx: &RequestCtx, id: &str) -> Result<(), AppError> {
        webhooks::delete(self, ctx, id).await
    }

    async fn set_webhook_endpoint_enabled(
        &self,
        ctx: &RequestCtx,
        id: &str,
        enabled: bool,
    ) -> Result<(), AppError> {
        webhooks::set_enabled(self, ctx, id, enabled).await
    }

    async fn send_webhook_test(&self, ctx: &RequestCtx, id: &str) -> Result<String, AppError> {
        webhooks::send_test(self, ctx, id).await
    }

    async fn webhook_deliveries(
        &self,
        ctx: &RequestCtx,
        id: &str,
        status: Option<String>,
    ) -> Result<Vec<app::dto::WebhookDeliveryView>, AppError> {
        webhooks::deliveries(self, ctx, id, status).await
    }

    async fn replay_webhook_deliveries(
        &self,
        ctx: &RequestCtx,
        id: &str,
        delivery: Option<i64>,
    ) -> Result<u64, AppError> {
        webhooks::replay(self, ctx, id, delivery).await
    }

    async fn account_messages(
        &self,
        ctx: &RequestCtx,
        appid: &str,
    ) -> Result<Vec<app::dto::MessageView>, AppError> {
        webhooks::account_messages(self, ctx, appid).await
    }

    async fn users(&self, ctx: &RequestCtx) -> Result<Vec<UserView>, AppError> {
        team::users(self, ctx).await
    }

    async fn create_user(&self, ctx: &RequestCtx, form: NewUserForm) -> Result<UserView, AppError> {
        team::create_user(self, ctx, form).await
    }

    async fn set_user_active(
        &self,
        ctx: &RequestCtx,
        id: i64,
        active: bool,
    ) -> Result<(), AppError> {
        team::set_user_active(self, ctx, id, active).await
    }

    async fn set_user_role(&self, ctx: &RequestCtx, id: i64, role: &str) -> Result<(), AppError> {
        team::set_user_role(self, ctx, id, role).await
    }

    async fn components(&self, ctx: &RequestCtx) -> Result<Vec<ComponentView>, AppError> {
        components::components(self, ctx).await
    }

    async fn save_component(
        &self,
        ctx: &RequestCtx,
        form: ComponentForm,
    ) -> Result<ComponentView, AppError> {
        components::save_component(self, ctx, form).await
    }

    async fn check_component(&self, ctx: &RequestCtx, id: i64) -> Result<Vec<CheckStep>, AppError> {
        components::check_component(self, ctx, id).await
    }

    async fn start_import(
        &self,
        ctx: &RequestCtx,
        component_id: i64,
    ) -> Result<ImportView, AppError> {
        components::start_import(self, ctx, component_id).await
    }

    async fn component_import(
        &self,
        ctx: &RequestCtx,
        component_id: i64,
    ) -> Result<Option<ImportView>, AppError> {
        components::component_import(self, ctx, component_id).await
    }
}
