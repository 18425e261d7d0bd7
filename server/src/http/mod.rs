//! The HTTP edge: one axum router for the Leptos pages and server functions, the ops endpoints,
//! the WeChat callbacks and the tenant API.
//!
//! Sessions are layered onto the UI routes only: static files, health checks and machine APIs
//! never touch the session store.

mod error;
mod export;
mod health;
mod lang;
mod middleware;
mod wechat;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::LeptosOptions;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

pub use error::HttpError;

/// The private metrics listener's router: `/metrics` without a token (bind it to loopback or a
/// private network), nothing else.
pub fn metrics_router(engine: Arc<crate::engine::Engine>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let engine = engine.clone();
            async move { wechat::render_metrics(&engine) }
        }),
    )
}

use crate::auth::SqlSessionStore;
use crate::config::Settings;
use crate::store::Store;

pub const SESSION_COOKIE: &str = "wxhub_session";

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub services: app::services::Services,
    pub settings: Arc<Settings>,
    /// The origin browsers must send on state-changing requests (scheme://host[:port]); `None`
    /// when no public URL is configured, and then the request's Host is the reference.
    pub public_origin: Option<Arc<str>>,
    pub engine: Arc<crate::engine::Engine>,
    pub api: Arc<crate::api::TenantApi>,
}

impl FromRef<AppState> for Arc<crate::api::TenantApi> {
    fn from_ref(state: &AppState) -> Self {
        state.api.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let services = state.services.clone();
    let session_layer = SessionManagerLayer::new(SqlSessionStore::new(state.store.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.settings.public_url_is_https())
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
            state.settings.session_idle_minutes as i64,
        )));

    let ui = Router::<AppState>::new()
        .route("/platform/audit.csv", get(export::audit_csv))
        .leptos_routes_with_context(
            &state,
            routes,
            move || leptos::prelude::provide_context(services.clone()),
            {
                let options = state.leptos_options.clone();
                move || app::shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(axum::middleware::from_fn(middleware::server_fn_status))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::same_origin_writes,
        ))
        .layer(session_layer)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024));

    let pkg_dir = format!(
        "{}/{}",
        state.leptos_options.site_root, state.leptos_options.site_pkg_dir
    );
    let statics = Router::<AppState>::new().nest_service(
        &format!("/{}", state.leptos_options.site_pkg_dir),
        ServeDir::new(pkg_dir)
            .precompressed_gzip()
            .precompressed_br(),
    );

    // WeChat's servers and monitoring: no session, no origin check.
    let machines = Router::<AppState>::new()
        .route("/wechat/{component_appid}/notify", post(wechat::notify))
        .route(
            "/wechat/{component_appid}/message/{authorizer_appid}",
            post(wechat::message),
        )
        .route("/metrics", get(wechat::metrics))
        .layer(axum::extract::DefaultBodyLimit::max(
            wechat::NOTIFY_BODY_LIMIT,
        ));

    let app = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/lang/{code}", get(lang::switch))
        .merge(machines)
        .merge(crate::api::router())
        .merge(statics)
        .merge(ui)
        .with_state(state.clone());

    // What every request passes through, applied once around the whole router rather than with
    // `Router::layer`, which wraps each route on its own: every such layer then costs a boxed
    // clone of the route per request, and three of them cost the access-token endpoint a fifth of
    // its throughput (docs/benchmarks.md). Outermost first.
    let every_request = tower::ServiceBuilder::new()
        .layer(tower::util::MapRequestLayer::new(
            middleware::drop_implausible_request_id::<axum::body::Body>,
        ))
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            middleware::RequestIds::new(),
        ))
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                // Paths only: query strings can carry authorization codes. The request id ties
                // every line a request logs together, and is in the `x-request-id` answer.
                .make_span_with(|req: &axum::http::Request<_>| {
                    let request_id = req
                        .headers()
                        .get(middleware::REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id)
                })
                .on_request(())
                .on_response(
                    tower_http::trace::DefaultOnResponse::new()
                        .level(tracing::Level::DEBUG)
                        .latency_unit(tower_http::LatencyUnit::Millis),
                ),
        )
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state,
            middleware::client_ip,
        ))
        .service(app);
    Router::new().fallback_service(every_request)
}
