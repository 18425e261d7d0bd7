//! Settings, layered: built-in defaults → optional TOML file (`--config`) → environment
//! (`LEPTOS_SITE_ADDR`, then `WXHUB_*`) → command-line flags. Later layers win.
//!
//! Everything is validated here, once, into typed values (`Settings`), so the rest of the server
//! never sees a half-parsed string. Secrets (master key, database password) are redacted in
//! `Debug`, which is what the logs print.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::secrets::{KeyError, Keyring, MasterKey};

/// Every key a `WXHUB_*` variable or the TOML file may set (lower-case, without the prefix).
pub const KEYS: &[&str] = &[
    "database_url",
    "database_max_connections",
    "data_dir",
    "public_url",
    "listen",
    "master_key",
    "master_key_file",
    "previous_master_keys",
    "wechat_api_base",
    "wechat_mp_base",
    "wechat_open_base",
    "wechat_timeout_seconds",
    "refresh_concurrency",
    "refresh_concurrency_per_component",
    "token_cache_capacity",
    "ticket_stale_seconds",
    "log_format",
    "log",
    "site_root",
    "session_idle_minutes",
    "trust_forwarded_for",
    "shutdown_grace_seconds",
    "api_rate_per_second",
    "api_rate_burst",
    "push_max_age_seconds",
    "audit_retention_days",
    "push_retention_days",
    "job_retention_days",
    "message_retention_days",
    "webhook_allow_private_networks",
    "webhook_timeout_seconds",
    "webhook_retry_hours",
    "webhook_retry_base_ms",
    "webhook_concurrency",
    "webhook_concurrency_per_endpoint",
    "webhook_disable_after_failures",
    "webhook_disable_after_minutes",
    "alert_interval_seconds",
    "alert_retry_base_ms",
    "session_max_hours",
    "forced_refresh_interval_seconds",
    "forced_refreshes_per_hour",
    "metrics_listen",
    "metrics_token",
];

/// The keys whose environment values are numbers or booleans.
const TYPED_KEYS: &[&str] = &[
    "database_max_connections",
    "wechat_timeout_seconds",
    "refresh_concurrency",
    "refresh_concurrency_per_component",
    "token_cache_capacity",
    "ticket_stale_seconds",
    "session_idle_minutes",
    "trust_forwarded_for",
    "shutdown_grace_seconds",
    "api_rate_per_second",
    "api_rate_burst",
    "push_max_age_seconds",
    "audit_retention_days",
    "push_retention_days",
    "job_retention_days",
    "message_retention_days",
    "webhook_allow_private_networks",
    "webhook_timeout_seconds",
    "webhook_retry_hours",
    "webhook_retry_base_ms",
    "webhook_concurrency",
    "webhook_concurrency_per_endpoint",
    "webhook_disable_after_failures",
    "webhook_disable_after_minutes",
    "alert_interval_seconds",
    "alert_retry_base_ms",
    "session_max_hours",
    "forced_refresh_interval_seconds",
    "forced_refreshes_per_hour",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration: cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    MasterKey(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// What the raw layers deserialize into, before validation. Unknown keys in the TOML file are an
/// error (a typo must not silently fall back to a default).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    database_url: Option<String>,
    database_max_connections: u32,
    data_dir: PathBuf,
    public_url: Option<String>,
    listen: String,
    master_key: Option<String>,
    master_key_file: Option<PathBuf>,
    previous_master_keys: Option<String>,
    wechat_api_base: String,
    wechat_mp_base: String,
    wechat_open_base: String,
    wechat_timeout_seconds: u64,
    refresh_concurrency: usize,
    refresh_concurrency_per_component: usize,
    token_cache_capacity: usize,
    ticket_stale_seconds: u64,
    log_format: LogFormat,
    log: String,
    site_root: PathBuf,
    session_idle_minutes: u64,
    trust_forwarded_for: bool,
    shutdown_grace_seconds: u64,
    api_rate_per_second: u32,
    api_rate_burst: u32,
    push_max_age_seconds: u64,
    audit_retention_days: u64,
    push_retention_days: u64,
    job_retention_days: u64,
    message_retention_days: u64,
    webhook_allow_private_networks: bool,
    webhook_timeout_seconds: u64,
    webhook_retry_hours: u64,
    webhook_retry_base_ms: u64,
    alert_interval_seconds: u64,
    alert_retry_base_ms: u64,
    webhook_concurrency: usize,
    webhook_concurrency_per_endpoint: usize,
    webhook_disable_after_failures: u64,
    webhook_disable_after_minutes: u64,
    session_max_hours: u64,
    forced_refresh_interval_seconds: u64,
    forced_refreshes_per_hour: u32,
    metrics_listen: String,
    metrics_token: Option<String>,
}

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            database_url: None,
            database_max_connections: 10,
            data_dir: PathBuf::from("data"),
            public_url: None,
            listen: "127.0.0.1:3000".into(),
            master_key: None,
            master_key_file: None,
            previous_master_keys: None,
            wechat_api_base: "https://api.weixin.qq.com".into(),
            wechat_mp_base: "https://mp.weixin.qq.com".into(),
            wechat_open_base: "https://open.weixin.qq.com".into(),
            wechat_timeout_seconds: 10,
            refresh_concurrency: 64,
            refresh_concurrency_per_component: 16,
            token_cache_capacity: crate::engine::cache::DEFAULT_CAPACITY,
            ticket_stale_seconds: 20 * 60,
            log_format: LogFormat::Human,
            log: "info".into(),
            site_root: PathBuf::from("target/site"),
            session_idle_minutes: 12 * 60,
            trust_forwarded_for: false,
            shutdown_grace_seconds: 10,
            api_rate_per_second: 200,
            api_rate_burst: 400,
            push_max_age_seconds: 1800,
            audit_retention_days: 400,
            push_retention_days: 7,
            job_retention_days: 7,
            message_retention_days: 7,
            webhook_allow_private_networks: false,
            webhook_timeout_seconds: 10,
            webhook_retry_hours: 24,
            webhook_retry_base_ms: 5_000,
            alert_interval_seconds: 30,
            alert_retry_base_ms: 30_000,
            webhook_concurrency: 256,
            webhook_concurrency_per_endpoint: 16,
            webhook_disable_after_failures: 20,
            webhook_disable_after_minutes: 24 * 60,
            session_max_hours: 7 * 24,
            forced_refresh_interval_seconds: 30,
            forced_refreshes_per_hour: 600,
            metrics_listen: "127.0.0.1:9464".into(),
            metrics_token: None,
        }
    }
}

/// Flags that override every other layer. `None` leaves the lower layers alone.
#[derive(Debug, Clone, Default, Serialize, clap::Args)]
pub struct Overrides {
    /// Database URL: `sqlite://PATH` or `postgres://…` [env: WXHUB_DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Directory for the default SQLite database and demo files [env: WXHUB_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Externally visible base URL, e.g. https://wx.example.com [env: WXHUB_PUBLIC_URL]
    #[arg(long, global = true, value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Address to listen on, e.g. 0.0.0.0:3000 [env: WXHUB_LISTEN or LEPTOS_SITE_ADDR]
    #[arg(long, global = true, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Log format [env: WXHUB_LOG_FORMAT]
    #[arg(long, global = true, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// Directory of the built site (wasm, CSS, assets) [env: WXHUB_SITE_ROOT]
    #[arg(long, global = true, value_name = "DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_root: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// A database URL that may carry a password; `Debug` and `redacted()` never show it.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let kind = Self::kind_of(text).ok_or_else(|| {
            ConfigError::Invalid(format!(
                "database_url must start with sqlite: or postgres:// (got {:?})",
                redact_url(text)
            ))
        })?;
        if kind == DatabaseKind::Postgres {
            Url::parse(text).map_err(|e| {
                ConfigError::Invalid(format!("database_url is not a valid URL: {e}"))
            })?;
        }
        Ok(Self(SecretString::from(text.to_owned())))
    }
    fn kind_of(text: &str) -> Option<DatabaseKind> {
        if text.starts_with("sqlite:") {
            Some(DatabaseKind::Sqlite)
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Some(DatabaseKind::Postgres)
        } else {
            None
        }
    }
    pub fn kind(&self) -> DatabaseKind {
        Self::kind_of(self.0.expose_secret()).unwrap_or(DatabaseKind::Sqlite)
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
    pub fn redacted(&self) -> String {
        redact_url(self.0.expose_secret())
    }
    pub fn sqlite_file(path: &Path) -> Self {
        Self(SecretString::from(format!(
            "sqlite://{}?mode=rwc",
            path.display()
        )))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

fn redact_url(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("*****"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => text.split('@').next_back().unwrap_or("").to_owned(),
    }
}

/// Where the master key comes from.
#[derive(Clone)]
pub enum MasterKeySource {
    Missing,
    Inline(SecretString),
    File(PathBuf),
}

impl std::fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("Missing"),
            Self::Inline(_) => f.write_str("Inline([redacted])"),
            Self::File(p) => write!(f, "File({})", p.display()),
        }
    }
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    /// False when `database_url` is the built-in default (demo mode then uses its own file).
    pub database_url_configured: bool,
    pub database_max_connections: u32,
    pub data_dir: PathBuf,
    /// `None` means "derive from the bound address" (useful with port 0).
    pub public_url: Option<Url>,
    pub listen: SocketAddr,
    pub master_key: MasterKeySource,
    pub previous_master_keys: Option<SecretString>,
    pub wechat_api_base: Url,
    pub wechat_mp_base: Url,
    pub wechat_open_base: Url,
    /// The whole-request deadline for every call to WeChat.
    pub wechat_timeout_seconds: u64,
    /// Refreshes in flight at once, and per component.
    pub refresh_concurrency: usize,
    pub refresh_concurrency_per_component: usize,
    /// How many authorizer tokens and JS-SDK tickets an instance keeps in memory.
    pub token_cache_capacity: usize,
    /// No ticket for this long: ask WeChat to restart pushing and raise an alert.
    pub ticket_stale_seconds: u64,
    pub log_format: LogFormat,
    pub log: String,
    pub site_root: PathBuf,
    pub session_idle_minutes: u64,
    pub trust_forwarded_for: bool,
    /// Tenant API requests each key may make per second, and in a burst.
    pub api_rate_per_second: u32,
    pub api_rate_burst: u32,
    pub shutdown_grace_seconds: u64,
    /// A push whose CreateTime is older than this is refused (replay protection that outlives the
    /// de-duplication rows).
    pub push_max_age_seconds: u64,
    /// How long audit events, received pushes and finished jobs are kept.
    pub audit_retention_days: u64,
    pub push_retention_days: u64,
    pub job_retention_days: u64,
    /// How long the accounts' messages and events are kept.
    pub message_retention_days: u64,
    /// Webhook endpoints may be on loopback and private networks (on-premise use, tests).
    pub webhook_allow_private_networks: bool,
    /// One delivery attempt's deadline.
    pub webhook_timeout_seconds: u64,
    /// A delivery is retried for this long, then it is a dead letter.
    pub webhook_retry_hours: u64,
    /// The first retry's delay; each next one doubles (with jitter), up to an hour.
    pub webhook_retry_base_ms: u64,
    /// How often the alert rules are evaluated.
    pub alert_interval_seconds: u64,
    /// A failed notification's first retry delay; each next one doubles, up to 30 minutes.
    pub alert_retry_base_ms: u64,
    /// Deliveries in flight on this instance, and per endpoint across all instances.
    pub webhook_concurrency: usize,
    pub webhook_concurrency_per_endpoint: usize,
    /// An endpoint is disabled after this many failed attempts in a row, failing for this long.
    pub webhook_disable_after_failures: u64,
    pub webhook_disable_after_minutes: u64,
    /// A session ends this long after sign-in, however active.
    pub session_max_hours: u64,
    /// A tenant's report of a rejected token forces a refresh at most this often per account...
    pub forced_refresh_interval_seconds: u64,
    /// ...and at most this many per hour per tenant.
    pub forced_refreshes_per_hour: u32,
    /// Where `/metrics` is served on its own (default loopback); `None`: not on its own listener.
    pub metrics_listen: Option<SocketAddr>,
    /// With a token, `/metrics` is also served on the public listener to bearers of it.
    pub metrics_token: Option<SecretString>,
}

impl Settings {
    /// Loads every layer from the real environment.
    pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_from(config_file, overrides, std::env::vars())
    }

    /// Loads with an explicit environment, so tests need not touch the process environment.
    pub fn load_from(
        config_file: Option<&Path>,
        overrides: &Overrides,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawSettings::default()));
        if let Some(path) = config_file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            figment = figment.merge(Toml::string(&text));
        }
        // Environment: LEPTOS_SITE_ADDR is accepted for the listen address (cargo-leptos sets it),
        // WXHUB_* win over it. Only known keys are read: WXHUB_TEST_* and friends are not settings.
        let env: Vec<(String, String)> = env.into_iter().collect();
        let mut from_env = figment::value::Dict::new();
        for (name, value) in &env {
            if name == "LEPTOS_SITE_ADDR" && !value.is_empty() {
                from_env.insert("listen".into(), value.clone().into());
            }
        }
        for (name, value) in &env {
            if let Some(key) = name.strip_prefix("WXHUB_") {
                let key = key.to_ascii_lowercase();
                if KEYS.contains(&key.as_str()) && !value.is_empty() {
                    // Numbers and booleans are parsed for the keys that are numbers or booleans
                    // only: a hex master key is all digits but must stay a string.
                    let typed = if TYPED_KEYS.contains(&key.as_str()) {
                        value
                            .parse::<figment::value::Value>()
                            .unwrap_or_else(|never| match never {})
                    } else {
                        value.clone().into()
                    };
                    from_env.insert(key, typed);
                }
            }
        }
        figment = figment.merge(Serialized::defaults(from_env));
        figment = figment.merge(Serialized::defaults(overrides));
        let raw: RawSettings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(describe(e)))?;
        Self::validate(raw)
    }

    fn validate(raw: RawSettings) -> Result<Self, ConfigError> {
        let configured_url = raw
            .database_url
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let database_url_configured = configured_url.is_some();
        let database_url = match configured_url {
            Some(text) => DatabaseUrl::parse(text)?,
            None => DatabaseUrl::sqlite_file(&raw.data_dir.join("wxhub.db")),
        };
        if !(1..=500).contains(&raw.database_max_connections) {
            return Err(ConfigError::Invalid(
                "database_max_connections must be between 1 and 500".into(),
            ));
        }
        let public_url = match raw
            .public_url
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(text) => Some(parse_base_url("public_url", text)?),
            None => None,
        };
        let listen: SocketAddr = raw.listen.trim().parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "listen must be an address like 127.0.0.1:3000 or [::]:3000 (got {:?})",
                raw.listen
            ))
        })?;
        let master_key = match (
            raw.master_key.filter(|k| !k.trim().is_empty()),
            raw.master_key_file,
        ) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid(
                    "set master_key or master_key_file, not both".into(),
                ))
            }
            (Some(k), None) => MasterKeySource::Inline(SecretString::from(k)),
            (None, Some(p)) => MasterKeySource::File(p),
            (None, None) => MasterKeySource::Missing,
        };
        if raw.session_idle_minutes == 0 || raw.session_idle_minutes > 60 * 24 * 90 {
            return Err(ConfigError::Invalid(
                "session_idle_minutes must be between 1 and 129600".into(),
            ));
        }
        if raw.wechat_timeout_seconds == 0 || raw.wechat_timeout_seconds > 120 {
            return Err(ConfigError::Invalid(
                "wechat_timeout_seconds must be between 1 and 120".into(),
            ));
        }
        if !(1..=1024).contains(&raw.refresh_concurrency) {
            return Err(ConfigError::Invalid(
                "refresh_concurrency must be between 1 and 1024".into(),
            ));
        }
        if !(1..=1024).contains(&raw.refresh_concurrency_per_component) {
            return Err(ConfigError::Invalid(
                "refresh_concurrency_per_component must be between 1 and 1024".into(),
            ));
        }
        if !(1_000..=50_000_000).contains(&raw.token_cache_capacity) {
            return Err(ConfigError::Invalid(
                "token_cache_capacity must be between 1000 and 50000000".into(),
            ));
        }
        if !(1..=86_400).contains(&raw.ticket_stale_seconds) {
            return Err(ConfigError::Invalid(
                "ticket_stale_seconds must be between 1 and 86400".into(),
            ));
        }
        if !(1..=1_000_000).contains(&raw.api_rate_per_second) {
            return Err(ConfigError::Invalid(
                "api_rate_per_second must be between 1 and 1000000".into(),
            ));
        }
        if !(1..=1_000_000).contains(&raw.api_rate_burst) {
            return Err(ConfigError::Invalid(
                "api_rate_burst must be between 1 and 1000000".into(),
            ));
        }
        let range = |key: &str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(value)
            } else {
                Err(ConfigError::Invalid(format!(
                    "{key} must be between {min} and {max} (got {value})"
                )))
            }
        };
        range("push_max_age_seconds", raw.push_max_age_seconds, 60, 86_400)?;
        range("audit_retention_days", raw.audit_retention_days, 1, 36_500)?;
        range("job_retention_days", raw.job_retention_days, 1, 3_650)?;
        range(
            "message_retention_days",
            raw.message_retention_days,
            1,
            3_650,
        )?;
        range("session_max_hours", raw.session_max_hours, 1, 24 * 365)?;
        range(
            "webhook_timeout_seconds",
            raw.webhook_timeout_seconds,
            1,
            60,
        )?;
        range("webhook_retry_hours", raw.webhook_retry_hours, 1, 24 * 7)?;
        range(
            "webhook_retry_base_ms",
            raw.webhook_retry_base_ms,
            10,
            600_000,
        )?;
        range(
            "alert_interval_seconds",
            raw.alert_interval_seconds,
            1,
            3_600,
        )?;
        range("alert_retry_base_ms", raw.alert_retry_base_ms, 10, 600_000)?;
        range(
            "webhook_concurrency",
            raw.webhook_concurrency as u64,
            1,
            4_096,
        )?;
        range(
            "webhook_concurrency_per_endpoint",
            raw.webhook_concurrency_per_endpoint as u64,
            1,
            256,
        )?;
        range(
            "webhook_disable_after_failures",
            raw.webhook_disable_after_failures,
            1,
            1_000_000,
        )?;
        range(
            "webhook_disable_after_minutes",
            raw.webhook_disable_after_minutes,
            0,
            60 * 24 * 30,
        )?;
        range(
            "forced_refresh_interval_seconds",
            raw.forced_refresh_interval_seconds,
            1,
            3_600,
        )?;
        range(
            "forced_refreshes_per_hour",
            u64::from(raw.forced_refreshes_per_hour),
            1,
            1_000_000,
        )?;
        // Received pushes are the replay window's memory: they must outlive it.
        let push_retention = range("push_retention_days", raw.push_retention_days, 1, 3_650)?;
        if push_retention * 86_400 <= raw.push_max_age_seconds {
            return Err(ConfigError::Invalid(
                "push_retention_days must be longer than push_max_age_seconds".into(),
            ));
        }
        let metrics_listen = match raw.metrics_listen.trim() {
            "off" | "" => None,
            text => Some(text.parse::<SocketAddr>().map_err(|_| {
                ConfigError::Invalid(format!(
                    "metrics_listen must be an address like 127.0.0.1:9464, or off (got {:?})",
                    raw.metrics_listen
                ))
            })?),
        };
        let metrics_token = match raw.metrics_token.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t)
                if t.len() >= 16 && t.len() <= 256 && t.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Some(SecretString::from(t.to_owned()))
            }
            Some(_) => {
                return Err(ConfigError::Invalid(
                    "metrics_token must be 16 to 256 printable characters without spaces".into(),
                ))
            }
        };
        if raw.shutdown_grace_seconds > 3600 {
            return Err(ConfigError::Invalid(
                "shutdown_grace_seconds must be at most 3600".into(),
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&raw.log).map_err(|e| {
            ConfigError::Invalid(format!("log is not a valid filter ({:?}): {e}", raw.log))
        })?;
        Ok(Self {
            database_url,
            database_url_configured,
            database_max_connections: raw.database_max_connections,
            data_dir: raw.data_dir,
            public_url,
            listen,
            master_key,
            previous_master_keys: raw.previous_master_keys.map(SecretString::from),
            wechat_api_base: parse_base_url("wechat_api_base", &raw.wechat_api_base)?,
            wechat_mp_base: parse_base_url("wechat_mp_base", &raw.wechat_mp_base)?,
            wechat_open_base: parse_base_url("wechat_open_base", &raw.wechat_open_base)?,
            wechat_timeout_seconds: raw.wechat_timeout_seconds,
            refresh_concurrency: raw.refresh_concurrency,
            refresh_concurrency_per_component: raw.refresh_concurrency_per_component,
            token_cache_capacity: raw.token_cache_capacity,
            ticket_stale_seconds: raw.ticket_stale_seconds,
            log_format: raw.log_format,
            log: raw.log,
            site_root: raw.site_root,
            session_idle_minutes: raw.session_idle_minutes,
            trust_forwarded_for: raw.trust_forwarded_for,
            shutdown_grace_seconds: raw.shutdown_grace_seconds,
            api_rate_per_second: raw.api_rate_per_second,
            api_rate_burst: raw.api_rate_burst,
            push_max_age_seconds: raw.push_max_age_seconds,
            audit_retention_days: raw.audit_retention_days,
            push_retention_days: raw.push_retention_days,
            job_retention_days: raw.job_retention_days,
            message_retention_days: raw.message_retention_days,
            webhook_allow_private_networks: raw.webhook_allow_private_networks,
            webhook_timeout_seconds: raw.webhook_timeout_seconds,
            webhook_retry_hours: raw.webhook_retry_hours,
            webhook_retry_base_ms: raw.webhook_retry_base_ms,
            alert_interval_seconds: raw.alert_interval_seconds,
            alert_retry_base_ms: raw.alert_retry_base_ms,
            webhook_concurrency: raw.webhook_concurrency,
            webhook_concurrency_per_endpoint: raw.webhook_concurrency_per_endpoint,
            webhook_disable_after_failures: raw.webhook_disable_after_failures,
            webhook_disable_after_minutes: raw.webhook_disable_after_minutes,
            session_max_hours: raw.session_max_hours,
            forced_refresh_interval_seconds: raw.forced_refresh_interval_seconds,
            forced_refreshes_per_hour: raw.forced_refreshes_per_hour,
            metrics_listen,
            metrics_token,
        })
    }

    /// Builds the keyring from the configured key; `Ok(None)` when no key is configured.
    pub fn keyring(&self) -> Result<Option<Keyring>, ConfigError> {
        let text = match &self.master_key {
            MasterKeySource::Missing => return Ok(None),
            MasterKeySource::Inline(k) => k.clone(),
            MasterKeySource::File(path) => {
                SecretString::from(std::fs::read_to_string(path).map_err(|source| {
                    ConfigError::Read {
                        path: path.clone(),
                        source,
                    }
                })?)
            }
        };
        let current = MasterKey::parse(text.expose_secret()).map_err(|e: KeyError| {
            ConfigError::MasterKey(format!("WXHUB_MASTER_KEY is unusable: {e}"))
        })?;
        let mut previous = Vec::new();
        if let Some(list) = &self.previous_master_keys {
            for (i, item) in list
                .expose_secret()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .enumerate()
            {
                previous.push(MasterKey::parse(item).map_err(|e| {
                    ConfigError::MasterKey(format!(
                        "WXHUB_PREVIOUS_MASTER_KEYS entry {} is unusable: {e}",
                        i + 1
                    ))
                })?);
            }
        }
        Ok(Some(Keyring::new(current, previous)))
    }

    /// True when cookies must carry `Secure`.
    pub fn public_url_is_https(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https")
    }
}

fn parse_base_url(key: &str, text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim())
        .map_err(|e| ConfigError::Invalid(format!("{key} is not a valid URL ({text:?}): {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::Invalid(format!(
            "{key} must be an http:// or https:// URL (got {text:?})"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::Invalid(format!(
            "{key} must not have a query or fragment (got {text:?})"
        )));
    }
    Ok(url)
}

fn describe(error: figment::Error) -> String {
    let mut parts = Vec::new();
    for e in error {
        let key = e.path.join(".");
        let kind = match &e.kind {
            figment::error::Kind::UnknownField(field, _) => format!("unknown setting {field:?}"),
            other => other.to_string(),
        };
        if key.is_empty() {
            parts.push(kind);
        } else {
            parts.push(format!("{key}: {kind}"));
        }
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_use_sqlite_under_data_and_real_wechat_hosts() {
        let s = Settings::load_from(None, &Overrides::default(), env(&[])).unwrap();
        assert_eq!(s.database_url.kind(), DatabaseKind::Sqlite);
        assert!(
            s.database_url.expose().contains("data/wxhub.db"),
            "{:?}",
            s.database_url
        );
        assert_eq!(s.wechat_api_base.as_str(), "https://api.weixin.qq.com/");
        assert_eq!(s.listen.to_string(), "127.0.0.1:3000");
        assert!(matches!(s.master_key, MasterKeySource::Missing));
    }

    #[test]
    fn layers_apply_in_order_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("wxhub.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:4000\"\npublic_url = \"https://file.example\"\nlog = \"debug\"\n",
        )
        .unwrap();
        let only_file = Settings::load_from(Some(&file), &Overrides::default(), env(&[])).unwrap();
        assert_eq!(only_file.listen.port(), 4000);
        assert_eq!(only_file.log, "debug");

        let e = env(&[
            ("LEPTOS_SITE_ADDR", "127.0.0.1:5000"),
            ("WXHUB_PUBLIC_URL", "https://env.example"),
        ]);
        let with_env = Settings::load_from(Some(&file), &Overrides::default(), e.clone()).unwrap();
        assert_eq!(with_env.listen.port(), 5000);
        assert_eq!(
            with_env.public_url.unwrap().as_str(),
            "https://env.example/"
        );

        let e2 = [e.clone(), env(&[("WXHUB_LISTEN", "127.0.0.1:6000")])].concat();
        assert_eq!(
            Settings::load_from(Some(&file), &Overrides::default(), e2.clone())
                .unwrap()
                .listen
                .port(),
            6000
        );

        let flags = Overrides {
            listen: Some("127.0.0.1:7000".into()),
            ..Default::default()
        };
        let all = Settings::load_from(Some(&file), &flags, e2).unwrap();
        assert_eq!(all.listen.port(), 7000);
        assert_eq!(all.log, "debug", "untouched keys keep the file's value");
    }

    #[test]
    fn numeric_and_boolean_env_values_are_converted() {
        let s = Settings::load_from(
            None,
            &Overrides::default(),
            env(&[
                ("WXHUB_DATABASE_MAX_CONNECTIONS", "3"),
                ("WXHUB_TRUST_FORWARDED_FOR", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(s.database_max_connections, 3);
        assert!(s.trust_forwarded_for);
    }

    #[test]
    fn metrics_are_private_by_default_and_the_token_is_a_secret() {
        let s = Settings::load_from(None, &Overrides::default(), env(&[])).unwrap();
        assert_eq!(
            s.metrics_listen.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:9464")
        );
        assert!(s.metrics_token.is_none());
        let s = Settings::load_from(
            None,
            &Overrides::default(),
            env(&[
                ("WXHUB_METRICS_LISTEN", "off"),
                ("WXHUB_METRICS_TOKEN", "scrape-me-please-0123"),
            ]),
        )
        .unwrap();
        assert!(s.metrics_listen.is_none());
        assert!(!format!("{s:?}").contains("scrape-me-please"));
    }

    #[test]
    fn unrelated_wxhub_variables_are_ignored() {
        let s = Settings::load_from(
            None,
            &Overrides::default(),
            env(&[("WXHUB_TEST_POSTGRES_URL", "x")]),
        );
        assert!(s.is_ok());
    }

    #[test]
    fn garbage_values_give_one_clear_error_each() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("WXHUB_LISTEN", "not an address")], "listen"),
            (&[("WXHUB_PUBLIC_URL", "ftp://x")], "public_url"),
            (&[("WXHUB_PUBLIC_URL", "https://x/?a=b")], "public_url"),
            (&[("WXHUB_WECHAT_API_BASE", "::::")], "wechat_api_base"),
            (
                &[("WXHUB_DATABASE_URL", "mysql://u:hunter2@h/db")],
                "database_url",
            ),
            (
                &[("WXHUB_DATABASE_MAX_CONNECTIONS", "many")],
                "database_max_connections",
            ),
            (
                &[("WXHUB_DATABASE_MAX_CONNECTIONS", "0")],
                "database_max_connections",
            ),
            (&[("WXHUB_LOG_FORMAT", "xml")], "log_format"),
            (
                &[("WXHUB_WECHAT_TIMEOUT_SECONDS", "0")],
                "wechat_timeout_seconds",
            ),
            (&[("WXHUB_REFRESH_CONCURRENCY", "0")], "refresh_concurrency"),
            (
                &[("WXHUB_REFRESH_CONCURRENCY_PER_COMPONENT", "lots")],
                "refresh_concurrency_per_component",
            ),
            (
                &[("WXHUB_TOKEN_CACHE_CAPACITY", "10")],
                "token_cache_capacity",
            ),
            (
                &[("WXHUB_TOKEN_CACHE_CAPACITY", "-1")],
                "token_cache_capacity",
            ),
            (
                &[("WXHUB_TOKEN_CACHE_CAPACITY", "lots")],
                "token_cache_capacity",
            ),
            (
                &[("WXHUB_WECHAT_TIMEOUT_SECONDS", "soon")],
                "wechat_timeout_seconds",
            ),
            (&[("WXHUB_LOG", "[[[")], "log"),
            (&[("WXHUB_API_RATE_PER_SECOND", "0")], "api_rate_per_second"),
            (&[("WXHUB_API_RATE_BURST", "many")], "api_rate_burst"),
            (
                &[("WXHUB_SESSION_IDLE_MINUTES", "-5")],
                "session_idle_minutes",
            ),
            (
                &[("WXHUB_MASTER_KEY", "k"), ("WXHUB_MASTER_KEY_FILE", "/k")],
                "master_key",
            ),
            (
                &[("WXHUB_PUSH_MAX_AGE_SECONDS", "5")],
                "push_max_age_seconds",
            ),
            (
                &[("WXHUB_PUSH_MAX_AGE_SECONDS", "forever")],
                "push_max_age_seconds",
            ),
            (
                &[("WXHUB_AUDIT_RETENTION_DAYS", "0")],
                "audit_retention_days",
            ),
            (
                &[("WXHUB_PUSH_RETENTION_DAYS", "-1")],
                "push_retention_days",
            ),
            (
                &[
                    ("WXHUB_PUSH_RETENTION_DAYS", "1"),
                    ("WXHUB_PUSH_MAX_AGE_SECONDS", "86400"),
                ],
                "push_retention_days",
            ),
            (&[("WXHUB_JOB_RETENTION_DAYS", "x")], "job_retention_days"),
            (
                &[("WXHUB_MESSAGE_RETENTION_DAYS", "0")],
                "message_retention_days",
            ),
            (&[("WXHUB_SESSION_MAX_HOURS", "0")], "session_max_hours"),
            (
                &[("WXHUB_FORCED_REFRESH_INTERVAL_SECONDS", "0")],
                "forced_refresh_interval_seconds",
            ),
            (
                &[("WXHUB_FORCED_REFRESHES_PER_HOUR", "-3")],
                "forced_refreshes_per_hour",
            ),
            (&[("WXHUB_METRICS_LISTEN", "loopback")], "metrics_listen"),
            (
                &[("WXHUB_WEBHOOK_ALLOW_PRIVATE_NETWORKS", "sometimes")],
                "webhook_allow_private_networks",
            ),
            (
                &[("WXHUB_WEBHOOK_TIMEOUT_SECONDS", "0")],
                "webhook_timeout_seconds",
            ),
            (
                &[("WXHUB_WEBHOOK_RETRY_HOURS", "1000")],
                "webhook_retry_hours",
            ),
            (
                &[("WXHUB_WEBHOOK_RETRY_BASE_MS", "1")],
                "webhook_retry_base_ms",
            ),
            (&[("WXHUB_WEBHOOK_CONCURRENCY", "0")], "webhook_concurrency"),
            (
                &[("WXHUB_ALERT_INTERVAL_SECONDS", "0")],
                "alert_interval_seconds",
            ),
            (
                &[("WXHUB_ALERT_INTERVAL_SECONDS", "soon")],
                "alert_interval_seconds",
            ),
            (
                &[("WXHUB_ALERT_RETRY_BASE_MS", "-5")],
                "alert_retry_base_ms",
            ),
            (
                &[("WXHUB_WEBHOOK_CONCURRENCY_PER_ENDPOINT", "x")],
                "webhook_concurrency_per_endpoint",
            ),
            (
                &[("WXHUB_WEBHOOK_DISABLE_AFTER_FAILURES", "0")],
                "webhook_disable_after_failures",
            ),
            (
                &[("WXHUB_WEBHOOK_DISABLE_AFTER_MINUTES", "-1")],
                "webhook_disable_after_minutes",
            ),
            (&[("WXHUB_METRICS_TOKEN", "short")], "metrics_token"),
            (
                &[("WXHUB_METRICS_TOKEN", "has a space in it somewhere")],
                "metrics_token",
            ),
        ];
        for (vars, key) in cases {
            let err = Settings::load_from(None, &Overrides::default(), env(vars))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(key),
                "error for {vars:?} should name {key}: {err}"
            );
            assert!(!err.contains("hunter2"), "error leaks a password: {err}");
        }
    }

    #[test]
    fn unknown_keys_in_the_file_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("wxhub.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:1\"\n").unwrap();
        let err = Settings::load_from(Some(&file), &Overrides::default(), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
        std::fs::write(&file, "this is [not toml").unwrap();
        assert!(Settings::load_from(Some(&file), &Overrides::default(), env(&[])).is_err());
        let missing = dir.path().join("nope.toml");
        let err = Settings::load_from(Some(&missing), &Overrides::default(), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.toml"), "{err}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = Settings::load_from(
            None,
            &Overrides::default(),
            env(&[
                (
                    "WXHUB_DATABASE_URL",
                    "postgres://wx:hunter2@db.internal/wxhub",
                ),
                ("WXHUB_MASTER_KEY", &"ab".repeat(32)),
            ]),
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("abababab"), "{shown}");
        assert!(shown.contains("db.internal"), "{shown}");
    }

    #[test]
    fn master_key_is_parsed_into_a_keyring_or_a_clear_error() {
        let ok = Settings::load_from(
            None,
            &Overrides::default(),
            env(&[("WXHUB_MASTER_KEY", &"01".repeat(32))]),
        )
        .unwrap();
        assert!(ok.keyring().unwrap().is_some());
        let bad = Settings::load_from(
            None,
            &Overrides::default(),
            env(&[("WXHUB_MASTER_KEY", "hunter2")]),
        )
        .unwrap();
        let err = bad.keyring().unwrap_err().to_string();
        assert!(
            err.contains("WXHUB_MASTER_KEY") && !err.contains("hunter2"),
            "{err}"
        );
        let none = Settings::load_from(None, &Overrides::default(), env(&[])).unwrap();
        assert!(none.keyring().unwrap().is_none());
    }
}
