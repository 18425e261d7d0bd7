//! Startup as a library function: `Application::build` opens and migrates the database, binds the
//! listener (port 0 works; ask `local_addr`), starts the HTTP server and the background tasks, and
//! hands back a handle that can be stopped. `main` and the tests drive exactly this.
//!
//! Stopping (SIGTERM, or `stop()` in tests) stops accepting connections, lets in-flight requests
//! finish within `shutdown_grace_seconds`, stops background tasks at their next checkpoint and
//! closes the database.

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use url::Url;

use crate::auth::service::{SessionPolicy, ThrottleSettings};
use crate::auth::{AccountService, PasswordHasher};
use crate::config::{ConfigError, Settings};
use crate::engine::{Engine, EngineSettings};
use crate::http::{self, AppState};
use crate::secrets::Keyring;
use crate::store::{Store, StoreError};
use crate::wechat::api::{ClientSettings, WechatClient};

/// The name cargo-leptos gives the wasm, JS and CSS files (`name` in the workspace metadata).
pub const SITE_OUTPUT_NAME: &str = "wxhub";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    MissingKey(String),
    #[error("{0}")]
    Io(String),
    #[error("the WeChat client cannot start: {0}")]
    Wechat(#[from] crate::wechat::api::WechatError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

/// The message when `serve` has no master key.
pub const MISSING_KEY: &str = "WXHUB_MASTER_KEY is not set. wxhub encrypts appsecrets, EncodingAESKeys and every token at rest \
and will not start without a key. Create one with `server keygen`, keep it safe, and pass it as WXHUB_MASTER_KEY (or \
WXHUB_MASTER_KEY_FILE). Nothing was changed.";

/// Opens the database and brings it to the current schema. With a keyring, the key is checked
/// against the database's canary before anything is written.
pub async fn open_store(
    settings: &Settings,
    keyring: Option<Keyring>,
) -> Result<Store, StartupError> {
    let store = Store::connect(&settings.database_url, settings.database_max_connections).await?;
    if let Some(keyring) = &keyring {
        store.verify_key_canary(keyring).await?;
    }
    store.migrate().await?;
    Ok(match keyring {
        Some(keyring) => {
            store.ensure_key_canary(&keyring, crate::now_ms()).await?;
            store.with_keyring(keyring)
        }
        None => store,
    })
}

pub struct Application {
    engine: Arc<Engine>,
    api: Arc<crate::api::TenantApi>,
    local_addr: SocketAddr,
    /// Where the private metrics listener is bound, if it is on.
    metrics_addr: Option<SocketAddr>,
    base_url: Url,
    store: Store,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    background: TaskTracker,
    grace: Duration,
}

impl Application {
    pub async fn build(settings: Settings, keyring: Keyring) -> Result<Application, StartupError> {
        let store = open_store(&settings, Some(keyring)).await?;
        Self::build_with_store(settings, store).await
    }

    /// Starts on an already opened and migrated store (the demo seeds it first).
    pub async fn build_with_store(
        settings: Settings,
        store: Store,
    ) -> Result<Application, StartupError> {
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: settings.listen,
                    source,
                })?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| StartupError::Io(e.to_string()))?;
        let base_url = match &settings.public_url {
            Some(url) => url.clone(),
            None => Url::parse(&format!("http://{local_addr}"))
                .map_err(|e| StartupError::Io(e.to_string()))?,
        };
        let public_origin = settings
            .public_url
            .as_ref()
            .map(|u| Arc::<str>::from(u.origin().ascii_serialization()));

        let leptos_options = LeptosOptions::builder()
            .output_name(SITE_OUTPUT_NAME)
            .site_root(settings.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(local_addr)
            .build();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hasher = PasswordHasher::new(cores * 2);
        let grace = Duration::from_secs(settings.shutdown_grace_seconds);
        let client = WechatClient::new(&ClientSettings::new(
            &settings.wechat_api_base,
            std::time::Duration::from_secs(settings.wechat_timeout_seconds),
        ))?;
        let webhook_sender = crate::webhooks::Sender::new(settings.webhook_allow_private_networks)
            .map_err(|e| StartupError::Io(format!("the webhook client: {e}")))?;
        let engine = Engine::new(
            store.clone(),
            client,
            webhook_sender,
            EngineSettings::from_settings(&settings),
        );
        let accounts = AccountService::new(
            store.clone(),
            hasher.clone(),
            ThrottleSettings::default(),
            SessionPolicy {
                idle_ms: settings.session_idle_minutes as i64 * 60_000,
                max_ms: settings.session_max_hours as i64 * 3_600_000,
            },
            engine.refusals.clone(),
        );
        let api_keys = crate::api::ApiKeys::new(
            store.clone(),
            crate::api::RateLimit {
                per_second: std::num::NonZeroU32::new(settings.api_rate_per_second)
                    .unwrap_or(std::num::NonZeroU32::MIN),
                burst: std::num::NonZeroU32::new(settings.api_rate_burst)
                    .unwrap_or(std::num::NonZeroU32::MIN),
            },
        );
        let api = crate::api::TenantApi::new(
            store.clone(),
            engine.clone(),
            api_keys.clone(),
            base_url.clone(),
        );
        let console = Arc::new(crate::console::Console::new(
            store.clone(),
            engine.clone(),
            api_keys.clone(),
            accounts.clone(),
            hasher,
            crate::console::PublicUrls {
                base: base_url.clone(),
                wechat_mp_base: settings.wechat_mp_base.clone(),
                wechat_open_base: settings.wechat_open_base.clone(),
            },
        ));
        let services = app::services::Services {
            alerts: console.clone(),
            auth: Arc::new(accounts),
            console: console.clone(),
            platform: console.clone(),
            code: console.clone(),
            authorize: console,
        };
        let settings_metrics_listen = settings.metrics_listen;
        let state = AppState {
            leptos_options,
            store: store.clone(),
            services,
            settings: Arc::new(settings),
            public_origin,
            engine: engine.clone(),
            api: api.clone(),
        };

        let shutdown = CancellationToken::new();
        let background = TaskTracker::new();
        background.spawn(crate::retention::retention_loop(
            store.clone(),
            crate::retention::RetentionSettings::from_settings(&state.settings),
            shutdown.clone(),
        ));
        background.spawn(api_keys.flush_loop(shutdown.clone()));
        background.spawn(api.call_log.clone().flush_loop(shutdown.clone()));
        engine.start(&background, shutdown.clone()).await?;

        let metrics_addr = match settings_metrics_listen {
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?;
                let bound = listener
                    .local_addr()
                    .map_err(|e| StartupError::Io(e.to_string()))?;
                let router = http::metrics_router(engine.clone());
                let stop = shutdown.clone();
                background.spawn(async move {
                    let served = axum::serve(listener, router)
                        .with_graceful_shutdown(stop.cancelled_owned())
                        .await;
                    if let Err(e) = served {
                        tracing::warn!(error = %crate::report::Chain(&e), "the metrics listener stopped");
                    }
                });
                tracing::info!(%bound, "metrics are served on their own listener");
                Some(bound)
            }
            None => None,
        };

        let router = http::router(state);
        let server = tokio::spawn(
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future(),
        );
        tracing::info!(%local_addr, database = store.dialect().name, "wxhub is listening");
        Ok(Application {
            engine,
            api,
            local_addr,
            metrics_addr,
            base_url,
            store,
            shutdown,
            server,
            background,
            grace,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The externally visible base URL (the public URL, or the bound address).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The tenant API's state (its key cache, for tests that flush last-used times).
    pub fn api(&self) -> &Arc<crate::api::TenantApi> {
        &self.api
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A token that, when cancelled, stops the application (what SIGTERM does).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs until the shutdown token is cancelled or the server fails, then stops cleanly.
    pub async fn run_until_stopped(mut self) -> Result<(), StartupError> {
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => {}
            result = &mut self.server => {
                if self.shutdown.is_cancelled() {
                    // Shutdown was requested and the server already finished draining.
                    self.finish_background().await;
                    return Ok(());
                }
                let message = match result {
                    Ok(Ok(())) => "server stopped".to_owned(),
                    Ok(Err(e)) => format!("server failed: {e}"),
                    Err(e) => format!("server task failed: {e}"),
                };
                tracing::error!("{message}");
                self.shutdown.cancel();
                self.finish_background().await;
                return Err(StartupError::Io(message));
            }
        }
        self.stop().await
    }

    /// Stops accepting, drains in-flight requests (up to the grace period), stops background
    /// work and closes the database.
    pub async fn stop(mut self) -> Result<(), StartupError> {
        self.shutdown.cancel();
        match tokio::time::timeout(self.grace, &mut self.server).await {
            Ok(_) => tracing::info!("HTTP server drained"),
            Err(_) => {
                tracing::warn!(
                    grace_seconds = self.grace.as_secs(),
                    "requests still running after the grace period; aborting them"
                );
                self.server.abort();
            }
        }
        self.finish_background().await;
        Ok(())
    }

    async fn finish_background(&self) {
        self.background.close();
        if tokio::time::timeout(self.grace, self.background.wait())
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not stop within the grace period");
        }
        self.store.close().await;
        tracing::info!("stopped");
    }
}
