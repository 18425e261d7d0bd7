//! The token engine: keeps every credential fresh in the background and turns WeChat's pushes
//! into stored state (DESIGN.md, "Credential lifecycle").
//!
//! Everything it needs to resume is in the database: due credentials are claimed with leases
//! (`store::credentials`), work that follows a push sits in the durable job queue
//! (`store::pushes`), and the in-memory [`TokenCache`] is only a copy. So any number of instances
//! can run against one PostgreSQL database, and any of them can be killed at any moment.
//!
//! - `refresh` — claims due credentials and refreshes them with bounded concurrency (global and
//!   per component); failures back off with jitter; "busy" and "over quota" pause the component;
//!   61023 is recovered from the authorizer list before an account is declared lost.
//! - `jobs` — the exchange of authorization codes, then profile and menu fetches.
//! - `notify` — the authorization-event URL's work: verify, decrypt, parse, accept (de-duplicated),
//!   and the redirect that races the push.
//! - the health loop — ticket age (restarting pushes after 20 silent minutes) and cache sync.

pub mod cache;
pub mod code;
mod group_commit;
mod imports;
mod jobs;
mod links;
mod messages;
mod metrics;
mod notify;
mod refresh;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rand::Rng;
use secrecy::ExposeSecret;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use cache::{CacheKey, CachedToken, TokenCache};
pub use imports::{IMPORT_PAGE, IMPORT_PAGE_SIZE};
pub use links::LinkOpening;
pub use messages::{MessageAnswer, RELEASE_TEST_ACCOUNTS};
pub use metrics::{labels, Metrics};
pub use notify::{NotifyError, NotifyQuery, RedirectOutcome};

use crate::domain::{Component, ComponentId, ComponentSecrets, CredentialKind};
use crate::store::{Store, StoreError};
use crate::unpoison;
use crate::wechat::api::WechatClient;
use crate::wechat::crypto::MsgCrypt;

#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// This instance's name on leases.
    pub instance: String,
    /// Refreshes in flight at once, all components together.
    pub concurrency: usize,
    /// Refreshes in flight at once for one component.
    pub per_component: usize,
    /// How long a claimed credential or job is ours.
    pub lease: Duration,
    /// How often an idle worker looks for due work (pushes and redirects wake it at once).
    pub idle_poll: Duration,
    /// How long WeChat honours a ticket.
    pub ticket_lifetime: Duration,
    /// No ticket for this long: ask WeChat to restart pushing, and raise an alert.
    pub ticket_stale_after: Duration,
    pub health_interval: Duration,
    pub cache_sync_interval: Duration,
    /// How many authorizer tokens and tickets the cache holds (the least recently used leave).
    pub token_cache_capacity: usize,
    /// A push whose CreateTime is older than this is refused (replays of pruned pushes).
    pub push_max_age: Duration,
    /// Refusals of one kind from one source are audited once per this window, then counted.
    pub refusal_window: Duration,
    /// A reported rejection forces a refresh of one account at most this often...
    pub forced_refresh_interval: Duration,
    /// ...and each tenant at most this many times per hour.
    pub forced_refreshes_per_hour: u32,
    /// A fast registration waiting this long without a word is asked about (its push may be
    /// lost), and again after each such quiet spell.
    pub fast_register_quiet_after: Duration,
    /// The webhook outbox's worker.
    pub webhooks: webhooks::WebhookSettings,
    /// The alert rules' evaluation and notifications.
    pub alerts: crate::alerting::AlertSettings,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            instance: instance_name(),
            concurrency: 64,
            per_component: 16,
            lease: Duration::from_secs(60),
            idle_poll: Duration::from_millis(500),
            ticket_lifetime: Duration::from_secs(12 * 3600),
            ticket_stale_after: Duration::from_secs(20 * 60),
            health_interval: Duration::from_secs(30),
            cache_sync_interval: Duration::from_secs(1),
            token_cache_capacity: cache::DEFAULT_CAPACITY,
            push_max_age: Duration::from_secs(1800),
            refusal_window: Duration::from_secs(60),
            forced_refresh_interval: Duration::from_secs(30),
            forced_refreshes_per_hour: 600,
            fast_register_quiet_after: Duration::from_secs(600),
            webhooks: webhooks::WebhookSettings::default(),
            alerts: crate::alerting::AlertSettings::default(),
        }
    }
}

impl EngineSettings {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        let stale = Duration::from_secs(settings.ticket_stale_seconds);
        Self {
            concurrency: settings.refresh_concurrency,
            per_component: settings.refresh_concurrency_per_component,
            ticket_stale_after: stale,
            // A refresh makes at most a few WeChat calls (recovery pages through the list), each
            // bounded by the client's timeout; a lease outlives that, and no more, so a killed
            // instance's work is taken over quickly.
            lease: (Duration::from_secs(settings.wechat_timeout_seconds) * 3)
                .max(Duration::from_secs(5)),
            // Look often enough to notice staleness within a quarter of the period.
            health_interval: (stale / 4).clamp(Duration::from_millis(250), Duration::from_secs(30)),
            push_max_age: Duration::from_secs(settings.push_max_age_seconds),
            forced_refresh_interval: Duration::from_secs(settings.forced_refresh_interval_seconds),
            forced_refreshes_per_hour: settings.forced_refreshes_per_hour,
            token_cache_capacity: settings.token_cache_capacity,
            webhooks: webhooks::WebhookSettings::from_settings(settings),
            alerts: crate::alerting::AlertSettings::from_settings(settings),
            ..Self::default()
        }
    }
}

/// `host-pid-random`: unique per process, readable in the database.
pub fn instance_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "wxhub".into());
    let tag: u16 = rand::thread_rng().gen();
    format!("{host}-{}-{tag:04x}", std::process::id())
}

/// What a report of a rejected token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// The token was current: it is being refreshed now.
    Refreshing,
    /// The token was already replaced (or there is none): nothing to do.
    NotCurrent,
    /// A refresh is under way already, or one ran within the interval: nothing more to do.
    AlreadyHandled,
    /// The tenant has used its forced refreshes for now.
    OverBudget { retry_after_s: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("component {0}: its stored EncodingAESKey is unusable: {1}")]
    BadComponentKey(String, String),
    #[error("no such component")]
    UnknownComponent,
}

/// A component with its secrets opened and its message crypto ready.
pub struct ComponentEntry {
    pub component: Component,
    pub secrets: ComponentSecrets,
    pub crypto: MsgCrypt,
    /// The previous EncodingAESKey, tried when the current one does not decrypt (rotation).
    pub previous_crypto: Option<MsgCrypt>,
    loaded_at: tokio::time::Instant,
}

const COMPONENT_TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
struct ComponentDirectory {
    by_appid: RwLock<HashMap<String, Arc<ComponentEntry>>>,
    appid_of: RwLock<HashMap<ComponentId, String>>,
}

pub struct Engine {
    pub store: Store,
    pub client: WechatClient,
    pub cache: TokenCache,
    pub metrics: Metrics,
    /// The hourly counts behind the operations charts.
    pub rollups: Arc<crate::rollups::Rollups>,
    pub settings: EngineSettings,
    /// Audit events of refusals (forged pushes, refused redirects, locked sign-ins), bounded.
    pub refusals: Arc<crate::refusals::RefusalLog>,
    /// Sends webhook deliveries (the SSRF-guarded client).
    pub webhook_sender: crate::webhooks::Sender,
    /// Alert rules and notifications (`crate::alerting`).
    pub alerting: Arc<crate::alerting::worker::Alerting>,
    components: ComponentDirectory,
    wake_webhooks: Notify,
    /// Delivery attempts finishing at once, recorded together.
    attempt_records: webhooks::AttemptRecords,
    /// Messages arriving at once, stored together.
    message_records: group_commit::GroupCommit<crate::store::SealedMessage, messages::StoredOrNot>,
    wake_jobs: Notify,
    wake_refresh: Notify,
    /// Told whenever a job ends on this instance (the redirect page waits on it).
    job_finished: Notify,
    global: Arc<Semaphore>,
    per_component: Mutex<HashMap<ComponentId, Arc<Semaphore>>>,
    start_push_requested: Mutex<HashMap<ComponentId, i64>>,
    /// The latest refresh answers of each component, busy or not: one busy answer is WeChat's
    /// hiccup; many in a row mean back off the whole component (see `refresh_failed`).
    busy_answers: Mutex<HashMap<ComponentId, refresh::BusyWindow>>,
    /// The newest ticket's time per component appid, for the ticket-age gauge.
    ticket_issued_at: Mutex<HashMap<String, i64>>,
    /// Forced refreshes left per tenant (see [`Engine::token_rejected`]).
    forced_budget: governor::DefaultKeyedRateLimiter<i64>,
    /// The latest scan of each component's authorizer list, shared by concurrent recoveries.
    list_scans: Mutex<HashMap<ComponentId, Arc<tokio::sync::Mutex<Option<ListScan>>>>>,
}

type ListScan = (tokio::time::Instant, Arc<HashMap<String, String>>);

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("instance", &self.settings.instance)
            .finish_non_exhaustive()
    }
}

/// When to refresh a credential WeChat gave `lifetime_s` seconds: a jittered moment in the last
/// 15–25 % of its life (7200 s → 18–30 minutes early).
pub fn refresh_point(issued_at: i64, lifetime_s: i64) -> i64 {
    let lifetime_ms = lifetime_s.max(1) * 1000;
    let early: f64 = rand::thread_rng().gen_range(0.15..=0.25);
    issued_at + lifetime_ms - (lifetime_ms as f64 * early) as i64
}

/// Exponential backoff with jitter: 5 s, 10 s, 20 s … capped at 10 minutes, times 0.5–1.0.
pub fn backoff_ms(failures: i64) -> i64 {
    let exp = failures.clamp(1, 8) - 1;
    let base = (5_000i64 << exp).min(600_000);
    let factor: f64 = rand::thread_rng().gen_range(0.5..=1.0);
    (base as f64 * factor) as i64
}

impl Engine {
    pub fn new(
        store: Store,
        client: WechatClient,
        webhook_sender: crate::webhooks::Sender,
        settings: EngineSettings,
    ) -> Arc<Self> {
        let forced_budget = governor::RateLimiter::keyed(governor::Quota::per_hour(
            std::num::NonZeroU32::new(settings.forced_refreshes_per_hour)
                .unwrap_or(std::num::NonZeroU32::MIN),
        ));
        let rollups = Arc::new(crate::rollups::Rollups::new(store.clone()));
        let alerting = Arc::new(crate::alerting::worker::Alerting::new(
            store.clone(),
            webhook_sender.clone(),
            settings.alerts.clone(),
            settings.instance.clone(),
        ));
        Arc::new(Self {
            alerting,
            refusals: Arc::new(crate::refusals::RefusalLog::new(
                store.clone(),
                settings.refusal_window,
            )),
            store,
            client,
            webhook_sender,
            wake_webhooks: Notify::new(),
            attempt_records: Default::default(),
            message_records: Default::default(),
            cache: TokenCache::new(settings.token_cache_capacity),
            metrics: Metrics::default(),
            rollups,
            global: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings,
            components: ComponentDirectory::default(),
            wake_jobs: Notify::new(),
            wake_refresh: Notify::new(),
            job_finished: Notify::new(),
            per_component: Mutex::new(HashMap::new()),
            start_push_requested: Mutex::new(HashMap::new()),
            list_scans: Mutex::new(HashMap::new()),
            ticket_issued_at: Mutex::new(HashMap::new()),
            busy_answers: Mutex::new(HashMap::new()),
            forced_budget,
        })
    }

    /// Loads the cache, then runs the workers until `shutdown`.
    pub async fn start(
        self: &Arc<Self>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<(), EngineError> {
        let loaded = self.cache.load(&self.store).await?;
        tracing::info!(instance = %self.settings.instance, tokens = loaded, "token engine started");
        tracker.spawn(self.clone().refresh_loop(tracker.clone(), shutdown.clone()));
        tracker.spawn(self.clone().job_loop(tracker.clone(), shutdown.clone()));
        tracker.spawn(self.clone().webhook_loop(tracker.clone(), shutdown.clone()));
        tracker.spawn(self.clone().health_loop(shutdown.clone()));
        tracker.spawn(self.refusals.clone().flush_loop(shutdown.clone()));
        tracker.spawn(self.rollups.clone().flush_loop(shutdown.clone()));
        tracker.spawn(self.alerting.clone().run(shutdown.clone()));
        tracker.spawn(self.clone().cache_loop(shutdown));
        Ok(())
    }

    fn component_semaphore(&self, component: ComponentId) -> Arc<Semaphore> {
        let mut map = unpoison(self.per_component.lock());
        map.entry(component)
            .or_insert_with(|| Arc::new(Semaphore::new(self.settings.per_component.max(1))))
            .clone()
    }

    async fn load_component(
        &self,
        component: Component,
    ) -> Result<Arc<ComponentEntry>, EngineError> {
        let secrets = self.store.component_secrets(&component).await?;
        let crypto = MsgCrypt::new(
            secrets.message_token.expose_secret(),
            secrets.encoding_aes_key.expose_secret(),
            &component.appid,
        )
        .map_err(|e| EngineError::BadComponentKey(component.appid.clone(), e.to_string()))?;
        let previous_crypto = secrets.previous_encoding_aes_key.as_ref().and_then(|k| {
            MsgCrypt::new(
                secrets.message_token.expose_secret(),
                k.expose_secret(),
                &component.appid,
            )
            .ok()
        });
        let entry = Arc::new(ComponentEntry {
            component,
            secrets,
            crypto,
            previous_crypto,
            loaded_at: tokio::time::Instant::now(),
        });
        unpoison(self.components.appid_of.write())
            .insert(entry.component.id, entry.component.appid.clone());
        unpoison(self.components.by_appid.write())
            .insert(entry.component.appid.clone(), entry.clone());
        Ok(entry)
    }

    /// A component by appid, from memory when loaded in the last minute.
    pub async fn component_by_appid(
        &self,
        appid: &str,
    ) -> Result<Option<Arc<ComponentEntry>>, EngineError> {
        // Appids come from URLs; one that cannot exist never reaches the database (PostgreSQL
        // refuses NUL bytes in text with an error, which would turn garbage into a 500).
        if appid.is_empty() || appid.len() > 32 || !appid.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Ok(None);
        }
        if let Some(entry) = unpoison(self.components.by_appid.read()).get(appid) {
            if entry.loaded_at.elapsed() < COMPONENT_TTL {
                return Ok(Some(entry.clone()));
            }
        }
        match self.store.component_by_appid(appid).await? {
            Some(c) => Ok(Some(self.load_component(c).await?)),
            None => Ok(None),
        }
    }

    pub async fn component_by_id(
        &self,
        id: ComponentId,
    ) -> Result<Option<Arc<ComponentEntry>>, EngineError> {
        let appid = unpoison(self.components.appid_of.read()).get(&id).cloned();
        if let Some(appid) = appid {
            return self.component_by_appid(&appid).await;
        }
        match self.store.component_by_id(id).await? {
            Some(c) => Ok(Some(self.load_component(c).await?)),
            None => Ok(None),
        }
    }

    /// Drops a component's loaded secrets, so the next use reads them again (after an edit).
    pub fn forget_component(&self, id: ComponentId) {
        let appid = unpoison(self.components.appid_of.write()).remove(&id);
        if let Some(appid) = appid {
            unpoison(self.components.by_appid.write()).remove(&appid);
        }
    }

    /// The component's current token from memory, if it has time left.
    pub fn component_token(&self, component: ComponentId, now: i64) -> Option<CachedToken> {
        self.cache
            .get(component, CredentialKind::ComponentAccessToken, "", now)
    }

    /// An authorizer's current access token, if it has time left at `now`: from memory, or read
    /// from the database (and kept in memory from then on) when this instance does not hold it.
    pub async fn authorizer_token(
        &self,
        component: ComponentId,
        appid: &str,
        now: i64,
    ) -> Result<Option<CachedToken>, StoreError> {
        self.cache
            .get_or_load(
                &self.store,
                component,
                CredentialKind::AuthorizerAccessToken,
                appid,
                now,
            )
            .await
    }

    /// An authorizer's access token as this instance holds it now (no database read): for
    /// waiting on a change to a token that was just served.
    pub fn held_authorizer_token(
        &self,
        component: ComponentId,
        appid: &str,
        now: i64,
    ) -> Option<CachedToken> {
        self.cache
            .get(component, CredentialKind::AuthorizerAccessToken, appid, now)
    }

    /// A tenant's system says WeChat refused `presented` as the account's access token. If it is
    /// still the current token, the credential becomes due now; a report about a token that was
    /// already replaced, or a second report while the refresh is under way, changes nothing (no
    /// stampede). A forced refresh costs the component's WeChat quota, which on a shared component
    /// is every tenant's, so it is rationed: at most one per account per
    /// `forced_refresh_interval` (across instances: the rule is in the database), and at most
    /// `forced_refreshes_per_hour` per tenant (per instance).
    pub async fn token_rejected(
        &self,
        component: ComponentId,
        tenant: crate::domain::TenantId,
        appid: &str,
        presented: &str,
        now: i64,
    ) -> Result<Rejected, EngineError> {
        use subtle::ConstantTimeEq;
        let Some(current) = self.authorizer_token(component, appid, 0).await? else {
            return Ok(Rejected::NotCurrent);
        };
        let same: bool = current
            .value
            .expose_secret()
            .as_bytes()
            .ct_eq(presented.as_bytes())
            .into();
        if !same {
            return Ok(Rejected::NotCurrent);
        }
        let forced_before = now - self.settings.forced_refresh_interval.as_millis() as i64;
        let fingerprint = current.fingerprint();
        // Only a report that would force a refresh spends the tenant's budget.
        if !self
            .store
            .may_force_refresh(
                component,
                CredentialKind::AuthorizerAccessToken,
                appid,
                &fingerprint,
                now,
                forced_before,
            )
            .await?
        {
            return Ok(Rejected::AlreadyHandled);
        }
        if let Err(not_until) = self.forced_budget.check_key(&tenant.0) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            return Ok(Rejected::OverBudget {
                retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
            });
        }
        let forced = self
            .store
            .refresh_now_if_current(
                component,
                CredentialKind::AuthorizerAccessToken,
                appid,
                &fingerprint,
                now,
                Some(forced_before),
            )
            .await?;
        if forced {
            self.wake_refresh.notify_one();
            Ok(Rejected::Refreshing)
        } else {
            Ok(Rejected::AlreadyHandled)
        }
    }

    /// The account's JS-SDK ticket. The first request for an account starts keeping one (from
    /// then on it is refreshed like a token) and waits up to `wait` for WeChat's answer.
    pub async fn jsapi_ticket(
        &self,
        component: ComponentId,
        authorizer: crate::domain::AuthorizerId,
        tenant: crate::domain::TenantId,
        appid: &str,
        wait: Duration,
    ) -> Result<Option<CachedToken>, EngineError> {
        let kind = CredentialKind::JsapiTicket;
        let ticket = |now| {
            self.cache
                .get_or_load(&self.store, component, kind, appid, now)
        };
        if let Some(ticket) = ticket(crate::now_ms()).await? {
            return Ok(Some(ticket));
        }
        if self
            .store
            .ensure_jsapi_ticket(component, authorizer, tenant, appid, crate::now_ms())
            .await?
        {
            self.wake_refresh.notify_one();
        }
        let deadline = tokio::time::Instant::now() + wait;
        // The refresh that fetches it may run on another instance: look in the database.
        loop {
            if let Some(ticket) = ticket(crate::now_ms()).await? {
                return Ok(Some(ticket));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wakes the workers (tests, and a fresh ticket or code).
    pub fn wake(&self) {
        self.wake_jobs.notify_one();
        self.wake_refresh.notify_one();
    }

    async fn idle(&self, notify: &Notify, shutdown: &CancellationToken, for_: Duration) -> bool {
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = notify.notified() => true,
            _ = tokio::time::sleep(for_) => true,
        }
    }

    /// Keeps the cache in step with other instances: at once when PostgreSQL says something
    /// changed, and every `cache_sync_interval` in any case (that also catches what a dropped
    /// listener connection missed).
    async fn cache_loop(self: Arc<Self>, shutdown: CancellationToken) {
        let mut changes = match self.store.credential_changes().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %crate::report::Chain(&e), "no change notifications; the token cache polls only");
                None
            }
        };
        loop {
            let notified = async {
                match changes.as_mut() {
                    Some(c) => c.next().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            let heard = tokio::select! {
                _ = shutdown.cancelled() => return,
                ok = notified => Some(ok),
                _ = tokio::time::sleep(self.settings.cache_sync_interval) => None,
            };
            if heard == Some(true) {
                // Let a burst of commits land, then sync once for all of them.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if heard == Some(false) {
                // The listener connection broke; fall back to polling rather than spin.
                tracing::warn!("change notifications stopped; the token cache polls only");
                changes = None;
            }
            if let Err(e) = self.cache.sync(&self.store).await {
                tracing::warn!(error = %crate::report::Chain(&e), "token cache sync failed");
            }
        }
    }

    async fn health_loop(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.check_tickets().await {
                tracing::warn!(error = %crate::report::Chain(&e), "ticket health check failed");
            }
            if let Err(e) = self.update_stored_gauges().await {
                tracing::warn!(error = %crate::report::Chain(&e), "metrics gauges could not be updated");
            }
            self.forget_stale_list_scans();
            if let Err(e) = self
                .check_quiet_fast_registrations(self.settings.fast_register_quiet_after)
                .await
            {
                tracing::warn!(error = %crate::report::Chain(&e), "quiet fast registrations could not be checked");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.settings.health_interval) => {}
            }
        }
    }

    /// Refreshes the gauges that need the database (two counts). Run by the health loop, never by
    /// `/metrics`: a scrape costs the database nothing.
    pub async fn update_stored_gauges(&self) -> Result<(), EngineError> {
        let now = crate::now_ms();
        self.metrics
            .queue_depth
            .set(self.store.queue_depth().await?);
        self.metrics
            .due_credentials
            .set(self.store.due_credentials(now).await?);
        self.metrics
            .outbox_depth
            .set(self.store.outbox_depth().await?);
        Ok(())
    }

    /// Sets the gauges that memory knows (ticket ages, cached tokens and their time left); called
    /// by `/metrics` just before rendering.
    pub fn update_memory_gauges(&self) {
        let now = crate::now_ms();
        self.metrics.cached_tokens.set(self.cache.len() as i64);
        for (kind, ttl) in self.cache.min_ttl_by_kind(now) {
            self.metrics
                .token_ttl_seconds
                .get_or_create(&metrics::labels(&[("kind", kind.as_str())]))
                .set(ttl / 1000);
        }
        let tickets: Vec<(String, i64)> = unpoison(self.ticket_issued_at.lock())
            .iter()
            .map(|(appid, at)| (appid.clone(), *at))
            .collect();
        for (appid, at) in tickets {
            self.metrics
                .ticket_age_seconds
                .get_or_create(&metrics::labels(&[("component", &appid)]))
                .set((now - at) / 1000);
        }
    }

    /// Remembers the newest ticket's time of a component (for the ticket-age gauge).
    pub(crate) fn note_ticket(&self, component_appid: &str, issued_at: i64) {
        let mut tickets = unpoison(self.ticket_issued_at.lock());
        let entry = tickets
            .entry(component_appid.to_owned())
            .or_insert(issued_at);
        *entry = (*entry).max(issued_at);
    }
}
