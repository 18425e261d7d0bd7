//! The tenant API (`/api/v1`): what a tenant's own systems call with an API key — the account
//! list, an account's current access token (from memory), a report that WeChat rejected a token,
//! a JS-SDK signature, new authorization links, and the webhook endpoints that receive the accounts'
//! messages and events.
//!
//! Shaped for the access-token endpoint, which tenants call on every request of their own: the key
//! is checked from memory (`keys`), the account's component and status come from a short-lived
//! directory, and the token from the engine's cache, so a hit touches no database. Every answer
//! that is not a success is one [`ApiError`] with one JSON shape. A key only ever sees its own
//! tenant: every lookup is by (tenant, appid), and another tenant's account is "not found".
//!
//! The directory may be up to a minute old, so it is never the last word on ownership: every token
//! and ticket the engine holds carries the tenant its account belongs to, and one that names
//! another tenant sends the request back to the database. An account that moved to another tenant
//! (re-authorized through that tenant's link) is therefore not found for its old tenant from the
//! moment the move reaches this instance's cache: at once on the instance that recorded it, and on
//! the others with the change notification (PostgreSQL NOTIFY, within the 1-second poll at worst).

pub mod call_log;
mod code;
mod directory;
mod error;
mod extract;
mod gateway;
mod handlers;
pub mod keys;
mod sns;
mod webhooks;

use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;
use handlers::*;
use std::sync::Arc;

pub use directory::TenantApi;
pub use error::ApiError;
pub use extract::ApiJson;
pub use keys::{ApiCaller, ApiKeys, RateLimit};

/// Largest request body the API reads (its bodies are a URL or a note).
pub const BODY_LIMIT: usize = 16 * 1024;

/// The routes under `/api/v1`, for any application state that can hand out the API's own.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<TenantApi>: FromRef<S>,
{
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/authorizers", get(list_authorizers))
        .route("/api/v1/authorizers/{appid}", get(get_authorizer))
        .route(
            "/api/v1/authorizers/{appid}/access-token",
            get(access_token),
        )
        .route(
            "/api/v1/authorizers/{appid}/access-token/rejected",
            post(token_rejected),
        )
        .route(
            "/api/v1/authorizers/{appid}/jssdk-config",
            post(jssdk_config),
        )
        .route(
            "/api/v1/authorizers/{appid}/jscode2session",
            get(sns::jscode2session),
        )
        .route(
            "/api/v1/authorizers/{appid}/oauth2/access-token",
            get(sns::oauth_access_token),
        )
        .route(
            "/api/v1/authorizers/{appid}/oauth2/refresh-token",
            post(sns::oauth_refresh_token),
        )
        .route("/api/v1/authorizers/{appid}/code", get(code::timeline))
        .route(
            "/api/v1/authorizers/{appid}/code/audit",
            get(code::latest_audit),
        )
        .route("/api/v1/authorizers/{appid}/code/quota", get(code::quota))
        .route(
            "/api/v1/authorizers/{appid}/code/categories",
            get(code::categories),
        )
        .route(
            "/api/v1/authorizers/{appid}/code/domains",
            get(code::domains).put(code::set_domains),
        )
        .route(
            "/api/v1/authorizers/{appid}/code/commit",
            post(code::commit),
        )
        .route(
            "/api/v1/authorizers/{appid}/code/trial-qrcode",
            get(code::trial_qrcode),
        )
        .route(
            "/api/v1/authorizers/{appid}/code/submit-audit",
            post(code::submit_audit),
        )
        .route(
            "/api/v1/authorizers/{appid}/code/undo-audit",
            post(code::undo_audit),
        )
        .route(
            "/api/v1/authorizers/{appid}/code/speedup-audit",
            post(code::speedup_audit),
        )
        .route(
            "/api/v1/authorizers/{appid}/code/release",
            post(code::release),
        )
        .route(
            "/api/v1/authorizers/{appid}/code/revert-release",
            post(code::revert_release),
        )
        .route(
            "/api/v1/components/{component_appid}/code-templates",
            get(code::library).post(code::add_template),
        )
        .route(
            "/api/v1/components/{component_appid}/code-templates/{template_id}",
            axum::routing::delete(code::delete_template),
        )
        .route("/api/v1/code-batches", post(code::start_batch))
        .route("/api/v1/code-batches/{id}", get(code::batch))
        .route(
            "/api/v1/fast-registrations",
            get(code::fast_registrations).post(code::fast_register),
        )
        .route(
            "/api/v1/fast-registrations/{id}/check",
            post(code::check_fast_registration),
        )
        .route("/api/v1/authorization-links", post(create_link))
        .route(
            "/api/v1/webhook-endpoints",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/v1/webhook-endpoints/{id}",
            axum::routing::delete(webhooks::delete),
        )
        .route(
            "/api/v1/webhook-endpoints/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route(
            "/api/v1/webhook-endpoints/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/api/v1/webhook-endpoints/{id}/replay",
            post(webhooks::replay),
        )
        .route(
            "/api/v1/webhook-endpoints/{id}/test",
            post(webhooks::send_test),
        )
        .route(
            "/api/v1/authorizers/{appid}/wechat/{*path}",
            axum::routing::any(gateway::authorizer_call),
        )
        .route(
            "/api/v1/components/{component_appid}/wechat/{*path}",
            axum::routing::any(gateway::component_call),
        )
        .route("/api/v1", axum::routing::any(no_route))
        .route("/api/v1/{*rest}", axum::routing::any(no_route))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
}
