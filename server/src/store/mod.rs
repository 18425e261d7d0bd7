//! Storage: one implementation for SQLite and PostgreSQL.
//!
//! Every query is written once, as a `&str` with `$1…` placeholders (SQLite accepts them too), and
//! run through `read!`/`write!`, which expand the same code for whichever pool is open. What really
//! differs between the two databases is named in one place, [`Dialect`]; database errors are mapped
//! once, in [`StoreError`]'s `From<sqlx::Error>`. Time is passed in (`now`, Unix ms) rather than read
//! here, so tests control it.
//!
//! SQLite runs in WAL mode with a single writer connection (SQLite has one writer anyway; funnelling
//! writes through one connection turns lock contention into queueing) and a pool of readers.
//!
//! Tenant data is only reachable through methods that take a `TenantId`; methods without one serve
//! the platform-staff paths, whose callers check the role first.

mod accounts;
mod alerting;
mod alerts;
mod api_keys;
mod audit;
mod authorizers;
mod code;
mod components;
mod credentials;
mod dialect;
mod error;
pub mod failpoints;
mod gateway_calls;
mod imports;
mod links;
mod menus;
mod messages;
mod meta;
mod overview;
mod platform;
mod pushes;
mod retention;
mod rollups;
mod sessions;
mod tenants;
mod throttle;
mod users;
mod webhooks;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use accounts::{AccountFilter, AccountListRow, TokenState};
pub use alerting::{
    AlertRuleRow, AlertState, ChannelChange, ClaimedNotification, Firing, NewChannel,
    NotificationChannel, NotificationOutcome, NotificationRow, OpenedChannel, Queued,
    PLATFORM_AUDIENCE,
};
pub use alerts::Alert;
pub use api_keys::NewApiKey;
pub use authorizers::{
    AuthorizerProfileUpdate, LossOutcome, NewAuthorization, RecordedAuthorization,
};
pub use code::{
    CodeBatch, CodeBatchItem, CodeEvent, CodeEventKind, FastRegistration, NewCodeBatch,
    NewCodeEvent, NewFastRegistration, CODE_BATCH_ITEM, CODE_TIMELINE_LIMIT,
};
pub use components::ComponentHealthRow;
pub use credentials::{
    ClaimedCredential, CredentialChanges, CredentialHealth, CredentialSnapshot, IssuedCredential,
};
pub use dialect::Dialect;
pub use error::StoreError;
pub use gateway_calls::{GatewayCallRecord, GatewayCallRow, GATEWAY_CALLS_KEPT};
pub use imports::{AssignRefusal, AuthorizerImport, ImportPageCounts};
pub use links::LinkRecord;
pub use menus::{MenuSource, MenuVersion, NewMenuVersion, MENU_HISTORY_LIMIT};
pub use messages::{IncomingMessage, ReleaseTestActivity, SealedMessage, StoredMessage};
pub use overview::{DeliveryTrouble, StatusCount};
pub use platform::{AuditFilter, AuthorizationFilter, PlatformAccountRow, TenantSummary};
pub use pushes::{ClaimedJob, IncomingPush, JobOutcome, JobState, NewJob, PushEffect, PushOutcome};
pub use retention::{Cutoffs, Pruned};
pub use rollups::{CountsOf, HourlyCount, HourlyKey, HOUR_MS, PLATFORM_ROW};
pub use throttle::ThrottlePolicy;
pub use webhooks::{
    AttemptRecord, ClaimedDelivery, DeliveryFilter, DeliveryNext, DeliveryRow, DisablePolicy,
    FinishItem, FinishedDelivery, HandOff, NewDelivery, NewWebhookEndpoint, WebhookEndpoint,
    WebhookMode,
};

use crate::config::{DatabaseKind, DatabaseUrl};
use crate::secrets::Keyring;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Clone)]
enum Pools {
    Sqlite {
        reader: SqlitePool,
        writer: SqlitePool,
    },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to a pool that may serve reads.
macro_rules! read {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pools {
            $crate::store::Pools::Sqlite { reader: $pool, .. } => $body,
            $crate::store::Pools::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the pool that takes writes.
macro_rules! write {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pools {
            $crate::store::Pools::Sqlite { writer: $pool, .. } => $body,
            $crate::store::Pools::Postgres($pool) => $body,
        }
    };
}

pub(crate) use {read, write};

#[derive(Clone)]
pub struct Store {
    pools: Pools,
    dialect: &'static Dialect,
    keyring: Option<Arc<Keyring>>,
    fail_points: failpoints::FailPoints,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.dialect.name)
            .finish_non_exhaustive()
    }
}

/// Whether the schema is in place, for `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    pub applied: Vec<i64>,
    pub expected: Vec<i64>,
}

impl SchemaStatus {
    pub fn is_current(&self) -> bool {
        self.expected.iter().all(|v| self.applied.contains(v))
    }
}

impl Store {
    /// Opens the database (creating the SQLite file and its directory if needed). Does not migrate.
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<Store, StoreError> {
        let pools = match url.kind() {
            DatabaseKind::Sqlite => {
                let options = SqliteConnectOptions::from_str(url.expose())
                    .map_err(|e| StoreError::Unavailable(format!("bad SQLite URL: {e}")))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                let file = options.get_filename().to_owned();
                if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Unavailable(format!(
                            "cannot create the database directory {}: {e}",
                            dir.display()
                        ))
                    })?;
                }
                let writer = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options.clone())
                    .await?;
                let reader = SqlitePoolOptions::new()
                    .max_connections(max_connections.max(2))
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?;
                Pools::Sqlite { reader, writer }
            }
            DatabaseKind::Postgres => {
                // One direct connection first: a pool that cannot connect only reports that it
                // timed out, and the reason (refused, unknown host, bad password) would be lost.
                let unreachable = |why: String| {
                    StoreError::Unavailable(format!(
                        "cannot reach PostgreSQL at {}: {why}",
                        url.redacted()
                    ))
                };
                {
                    use sqlx::Connection as _;
                    match tokio::time::timeout(
                        Duration::from_secs(10),
                        sqlx::PgConnection::connect(url.expose()),
                    )
                    .await
                    {
                        Ok(Ok(probe)) => {
                            let _ = probe.close().await;
                        }
                        Ok(Err(e)) => return Err(unreachable(error::describe_connect(&e))),
                        Err(_) => return Err(unreachable("no answer within 10 s".into())),
                    }
                }
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url.expose())
                    .await
                    .map_err(|e| {
                        StoreError::Unavailable(format!(
                            "cannot reach PostgreSQL at {}: {}",
                            url.redacted(),
                            error::describe_connect(&e)
                        ))
                    })?;
                Pools::Postgres(pool)
            }
        };
        let dialect = match &pools {
            Pools::Sqlite { .. } => &dialect::SQLITE,
            Pools::Postgres(_) => &dialect::POSTGRES,
        };
        Ok(Store {
            pools,
            dialect,
            keyring: None,
            fail_points: failpoints::FailPoints::default(),
        })
    }

    /// Attaches the keyring that seals and opens secrets.
    pub fn with_keyring(mut self, keyring: Keyring) -> Store {
        self.keyring = Some(Arc::new(keyring));
        self
    }

    pub fn dialect(&self) -> &'static Dialect {
        self.dialect
    }

    /// The fail points of this store and every clone of it (tests; inert in release builds).
    pub fn fail_points(&self) -> &failpoints::FailPoints {
        &self.fail_points
    }

    pub(crate) fn keyring(&self) -> Result<&Keyring, StoreError> {
        self.keyring.as_deref().ok_or(StoreError::NoKeyring)
    }

    fn migrator(&self) -> &'static Migrator {
        match self.pools {
            Pools::Sqlite { .. } => &SQLITE_MIGRATIONS,
            Pools::Postgres(_) => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies every embedded migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = self.migrator();
        write!(self, |pool| migrator.run(pool).await).map_err(StoreError::Migration)
    }

    /// Whether `table` exists (used before migrating, to tell a fresh database from an old one).
    pub async fn table_exists(&self, table: &str) -> Result<bool, StoreError> {
        let sql = self.dialect.table_exists;
        let count: i64 = read!(self, |pool| sqlx::query_scalar(sql)
            .bind(table)
            .fetch_one(pool)
            .await)?;
        Ok(count > 0)
    }

    /// The applied migration versions against the embedded ones.
    pub async fn schema_status(&self) -> Result<SchemaStatus, StoreError> {
        let expected: Vec<i64> = self.migrator().iter().map(|m| m.version).collect();
        let applied: Vec<i64> = if self.table_exists("_sqlx_migrations").await? {
            read!(self, |pool| {
                sqlx::query_scalar(
                    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
                )
                .fetch_all(pool)
                .await
            })?
        } else {
            Vec::new()
        };
        Ok(SchemaStatus { applied, expected })
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.fail_points.check(failpoints::FailPoint::Ping)?;
        let one: i64 = read!(self, |pool| sqlx::query_scalar("SELECT CAST(1 AS BIGINT)")
            .fetch_one(pool)
            .await)?;
        if one == 1 {
            Ok(())
        } else {
            Err(StoreError::Corrupt("SELECT 1 did not return 1".into()))
        }
    }

    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { reader, writer } => {
                reader.close().await;
                writer.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

/// Binds the columns of `audit::INSERT` in order; used inside transactions of other writes, so an
/// action and its audit event commit together.
macro_rules! bind_audit {
    ($query:expr, $event:expr) => {{
        let e: &$crate::domain::NewAuditEvent = $event;
        $query
            .bind(e.occurred_at)
            .bind(e.tenant_id.map(|t| t.0))
            .bind(e.component_id.map(|c| c.0))
            .bind(e.authorizer_appid.clone())
            .bind(e.actor.kind())
            .bind(e.actor.id())
            .bind(e.actor.label())
            .bind(e.kind.as_str())
            .bind(e.outcome.as_str())
            .bind(e.summary.clone())
            .bind(e.detail.to_string())
            .bind(e.ip.clone())
    }};
}
pub(crate) use bind_audit;

/// Tells other instances (PostgreSQL NOTIFY, delivered at commit) that live credentials changed.
macro_rules! notify_credentials {
    ($store:expr, $tx:expr) => {
        if !$store.dialect.notify_credentials.is_empty() {
            sqlx::query($store.dialect.notify_credentials)
                .execute(&mut *$tx)
                .await?;
        }
    };
}
pub(crate) use notify_credentials;
