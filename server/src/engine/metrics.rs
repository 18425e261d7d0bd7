//! Prometheus metrics for `/metrics`: refreshes and failures (counters, updated as they happen)
//! and the state gauges (ticket age, token time-to-expiry, queue depth, refresh backlog), computed
//! at scrape time so they are never stale. One registry per engine, nothing global, so tests can
//! run several servers in one process.

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

pub struct Metrics {
    registry: Mutex<Registry>,
    pub refreshes: Family<Labels, Counter>,
    pub failures: Family<Labels, Counter>,
    pub refresh_outcomes: Family<Labels, Counter>,
    pub pushes: Family<Labels, Counter>,
    pub ticket_age_seconds: Family<Labels, Gauge>,
    pub token_ttl_seconds: Family<Labels, Gauge>,
    pub queue_depth: Gauge,
    pub due_credentials: Gauge,
    pub cached_tokens: Gauge,
    pub messages: Family<Labels, Counter>,
    pub webhook_attempts: Family<Labels, Counter>,
    pub outbox_depth: Gauge,
    pub gateway_calls: Family<Labels, Counter>,
    /// Gateway calls dropped from the console's recent-calls log (the database was down).
    pub gateway_calls_unlogged: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("wxhub");
        let refreshes = Family::<Labels, Counter>::default();
        let failures = Family::<Labels, Counter>::default();
        let refresh_outcomes = Family::<Labels, Counter>::default();
        let pushes = Family::<Labels, Counter>::default();
        let ticket_age_seconds = Family::<Labels, Gauge>::default();
        let token_ttl_seconds = Family::<Labels, Gauge>::default();
        let queue_depth = Gauge::default();
        let due_credentials = Gauge::default();
        let cached_tokens = Gauge::default();
        let messages = Family::<Labels, Counter>::default();
        let webhook_attempts = Family::<Labels, Counter>::default();
        let outbox_depth = Gauge::default();
        let gateway_calls = Family::<Labels, Counter>::default();
        let gateway_calls_unlogged = Counter::default();
        registry.register(
            "gateway_calls_unlogged",
            "Gateway calls left out of the console's recent-calls log because it could not be written",
            gateway_calls_unlogged.clone(),
        );
        registry.register(
            "gateway_calls",
            "Tenants' calls through the WeChat gateway, by account, path and WeChat's errcode (or http_N, transport)",
            gateway_calls.clone(),
        );
        registry.register(
            "refreshes",
            "Credentials refreshed, by kind",
            refreshes.clone(),
        );
        registry.register(
            "refresh_failures",
            "Failed refreshes, by kind and errcode (or timeout, transport, http_N)",
            failures.clone(),
        );
        registry.register(
            "refresh_outcomes",
            "How each claimed refresh ended: refreshed, postponed, no_component_token, failed, authorization_lost, internal, lease_lost",
            refresh_outcomes.clone(),
        );
        registry.register(
            "pushes",
            "WeChat pushes, by info type and outcome",
            pushes.clone(),
        );
        registry.register(
            "ticket_age_seconds",
            "Age of the newest component_verify_ticket, by component",
            ticket_age_seconds.clone(),
        );
        registry.register(
            "token_ttl_seconds",
            "Time to expiry of the soonest-expiring cached token, by kind",
            token_ttl_seconds.clone(),
        );
        registry.register("queue_depth", "Jobs queued or running", queue_depth.clone());
        registry.register(
            "due_credentials",
            "Credentials due for refresh now (the backlog), counted up to 10,000",
            due_credentials.clone(),
        );
        registry.register(
            "cached_tokens",
            "Tokens held in memory",
            cached_tokens.clone(),
        );
        registry.register(
            "messages",
            "Posts to the message URL, by outcome (stored, duplicate, or the refusal's reason)",
            messages.clone(),
        );
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts, by outcome (delivered, retry, dead)",
            webhook_attempts.clone(),
        );
        registry.register(
            "webhook_outbox_depth",
            "Webhook deliveries waiting or in flight",
            outbox_depth.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            refreshes,
            failures,
            refresh_outcomes,
            pushes,
            ticket_age_seconds,
            token_ttl_seconds,
            queue_depth,
            due_credentials,
            cached_tokens,
            messages,
            webhook_attempts,
            outbox_depth,
            gateway_calls,
            gateway_calls_unlogged,
        }
    }
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Metrics {
    /// How many claimed refreshes ended with `outcome` (tests and the soak harness read this).
    pub fn refresh_outcome_count(&self, outcome: &str) -> u64 {
        self.refresh_outcomes
            .get_or_create(&labels(&[("outcome", outcome)]))
            .get()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }
}
