//! Webhook endpoints and the durable outbox of deliveries to them.
//!
//! A delivery row is written in the same transaction as the event it carries (see
//! [`Store::accept_message`]), so nothing is lost between storing and delivering. The worker claims
//! due rows with a lease, like jobs: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets several instances
//! share one outbox, and a delivery whose worker died is claimed again when its lease runs out. The
//! claim also bounds how many deliveries of one endpoint are in flight across all instances, so a
//! slow endpoint cannot take every worker.
//!
//! Signing secrets and payloads are sealed. Every method a tenant can reach takes the tenant id.

use secrecy::SecretString;

use super::{bind_audit, read, write, Store, StoreError};
use crate::domain::{NewAuditEvent, TenantId};

/// How an endpoint takes deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookMode {
    /// Delivered in the background; WeChat has been answered already.
    Async,
    /// Tried at once while WeChat waits; the answer may carry a passive reply.
    Reply,
}

impl WebhookMode {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookMode::Async => "async",
            WebhookMode::Reply => "reply",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "async" => Some(WebhookMode::Async),
            "reply" => Some(WebhookMode::Reply),
            _ => None,
        }
    }
}

/// An endpoint as the console and API show it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: i64,
    pub public_id: String,
    pub tenant_id: TenantId,
    pub url: String,
    pub description: String,
    /// `None`: every account of the tenant.
    pub authorizer_appids: Option<Vec<String>>,
    /// `None`: every event type; otherwise exact types or `prefix.*` patterns.
    pub event_types: Option<Vec<String>>,
    pub mode: WebhookMode,
    pub consecutive_failures: i64,
    pub failing_since: Option<i64>,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
}

impl WebhookEndpoint {
    /// Whether an event of `event_type` about `authorizer_appid` goes to this endpoint.
    pub fn wants(&self, event_type: &str, authorizer_appid: Option<&str>) -> bool {
        let appid_ok = match (&self.authorizer_appids, authorizer_appid) {
            (None, _) => true,
            (Some(list), Some(appid)) => list.iter().any(|a| a == appid),
            (Some(_), None) => true,
        };
        let type_ok = match &self.event_types {
            None => true,
            Some(list) => list.iter().any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => event_type.starts_with(prefix),
                None => pattern == event_type,
            }),
        };
        appid_ok && type_ok
    }
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: i64,
    public_id: String,
    tenant_id: i64,
    url: String,
    description: String,
    authorizer_appids: Option<String>,
    event_types: Option<String>,
    mode: String,
    consecutive_failures: i64,
    failing_since: Option<i64>,
    disabled_at: Option<i64>,
    disabled_reason: Option<String>,
    created_at: i64,
}

const ENDPOINT_COLUMNS: &str =
    "id, public_id, tenant_id, url, description, authorizer_appids, event_types, mode, \
     consecutive_failures, failing_since, disabled_at, disabled_reason, created_at";

fn json_list(text: Option<String>) -> Result<Option<Vec<String>>, StoreError> {
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| StoreError::Corrupt(format!("a webhook endpoint's filter: {e}")))
    })
    .transpose()
}

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = StoreError;
    fn try_from(r: EndpointRow) -> Result<Self, StoreError> {
        Ok(WebhookEndpoint {
            id: r.id,
            public_id: r.public_id,
            tenant_id: TenantId(r.tenant_id),
            url: r.url,
            description: r.description,
            authorizer_appids: json_list(r.authorizer_appids)?,
            event_types: json_list(r.event_types)?,
            mode: WebhookMode::parse(&r.mode)
                .ok_or_else(|| StoreError::Corrupt(format!("webhook mode {:?}", r.mode)))?,
            consecutive_failures: r.consecutive_failures,
            failing_since: r.failing_since,
            disabled_at: r.disabled_at,
            disabled_reason: r.disabled_reason,
            created_at: r.created_at,
        })
    }
}

/// An endpoint to create.
#[derive(Debug)]
pub struct NewWebhookEndpoint<'a> {
    pub tenant: TenantId,
    pub public_id: &'a str,
    pub url: &'a str,
    pub description: &'a str,
    pub authorizer_appids: Option<&'a [String]>,
    pub event_types: Option<&'a [String]>,
    pub mode: WebhookMode,
    pub secret: &'a SecretString,
}

/// A delivery to write with its event.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub tenant: TenantId,
    pub endpoint_id: i64,
    /// The `webhook-id`: one per event, the same for every endpoint and every retry.
    pub event_id: String,
    pub event_type: String,
    pub authorizer_appid: Option<String>,
    /// The JSON body.
    pub payload: SecretString,
    /// When the worker may first take it (later than now for reply-mode endpoints, whose first
    /// attempt is made while WeChat waits).
    pub run_at: i64,
    pub give_up_at: i64,
}

/// A delivery a worker holds.
pub struct ClaimedDelivery {
    pub id: i64,
    pub tenant_id: TenantId,
    pub endpoint_id: i64,
    pub endpoint_public_id: String,
    pub url: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: SecretString,
    /// The current secret, then the previous one while a rotation's overlap lasts.
    pub secrets: Vec<SecretString>,
    pub attempts: i64,
    pub give_up_at: i64,
    pub lease_owner: String,
}

impl std::fmt::Debug for ClaimedDelivery {
    // Not derived: the payload and the signing secrets stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedDelivery")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint_public_id)
            .field("event_id", &self.event_id)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    tenant_id: i64,
    endpoint_id: i64,
    event_id: String,
    event_type: String,
    payload_sealed: String,
    attempts: i64,
    give_up_at: i64,
}

#[derive(sqlx::FromRow)]
struct EndpointSecretsRow {
    public_id: String,
    url: String,
    secret_sealed: String,
    previous_secret_sealed: Option<String>,
    previous_secret_expires_at: Option<i64>,
}

/// What one attempt found.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    /// Why the attempt failed; `None` for a 2xx.
    pub error: Option<String>,
    /// The start of the endpoint's answer (at most 1 KB, text).
    pub response_excerpt: Option<String>,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryNext {
    Delivered,
    RetryAt(i64),
    Dead,
}

/// When an endpoint is disabled for failing.
#[derive(Debug, Clone, Copy)]
pub struct DisablePolicy {
    /// At least this many failed attempts in a row...
    pub failures: i64,
    /// ...and failing for at least this long (ms).
    pub failing_for_ms: i64,
}

/// One attempt to record with [`Store::finish_deliveries`].
#[derive(Debug)]
pub struct FinishItem {
    pub delivery: std::sync::Arc<ClaimedDelivery>,
    pub attempt: AttemptRecord,
    pub next: DeliveryNext,
    /// After a success, take the endpoint's next due delivery (see [`HandOff`]).
    pub hand_off: bool,
}

/// What finishing an attempt changed.
#[derive(Debug, Default)]
pub struct FinishedDelivery {
    /// False when the lease was lost (another worker owns the row now).
    pub recorded: bool,
    /// The endpoint was disabled by this failure.
    pub endpoint_disabled: bool,
    /// The endpoint's next due delivery, claimed in the same transaction (see [`HandOff`]).
    pub next: Option<ClaimedDelivery>,
}

/// After a successful attempt, claim the same endpoint's oldest due delivery in the finishing
/// transaction, under this lease: the freed in-flight slot is the endpoint's own, so its bound
/// holds, and a busy endpoint costs one write per delivery instead of a finish and a claim.
#[derive(Debug, Clone, Copy)]
pub struct HandOff<'a> {
    pub owner: &'a str,
    pub lease_until: i64,
}

/// A delivery as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub tenant_id: i64,
    pub endpoint_public_id: String,
    pub url: String,
    pub event_id: String,
    pub event_type: String,
    pub authorizer_appid: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub run_at: i64,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_response_excerpt: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter<'a> {
    /// `None`: every tenant (platform staff only).
    pub tenant: Option<TenantId>,
    pub endpoint_public_id: Option<&'a str>,
    pub status: Option<&'a str>,
    /// Keyset: rows with a smaller id.
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Ends an endpoint's failure run (a no-op write when there is none). A macro, because the
/// transaction's type is each database's own.
macro_rules! reset_failure_run {
    ($tx:expr, $endpoint:expr) => {
        sqlx::query(
            "UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL WHERE id = $1 AND consecutive_failures > 0",
        )
        .bind($endpoint)
        .execute(&mut *$tx)
        .await?
    };
}

fn secret_purpose(public_id: &str) -> String {
    format!("webhook-secret:{public_id}")
}

fn previous_secret_purpose(public_id: &str) -> String {
    format!("webhook-secret-previous:{public_id}")
}

fn payload_purpose(endpoint_id: i64, event_id: &str) -> String {
    format!("webhook-payload:{endpoint_id}:{event_id}")
}

const DELIVERY_COLUMNS: &str = "d.id, d.tenant_id, e.public_id AS endpoint_public_id, e.url, d.event_id, d.event_type, \
     d.authorizer_appid, d.status, d.attempts, d.run_at, d.last_attempt_at, d.last_status_code, d.last_latency_ms, \
     d.last_error, d.last_response_excerpt, d.created_at, d.finished_at";

/// Inserts `deliveries` inside a transaction (`$tx`), with their sealed payloads in `$sealed`;
/// yields `(endpoint_id, delivery id)` for each row written (an event already queued for an
/// endpoint is skipped).
macro_rules! insert_deliveries {
    ($tx:expr, $deliveries:expr, $sealed:expr, $now:expr) => {{
        let mut written: Vec<(i64, i64)> = Vec::new();
        for (d, sealed) in $deliveries.iter().zip($sealed.iter()) {
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, authorizer_appid, payload_sealed, \
                 status, run_at, give_up_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $9) \
                 ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING id",
            )
            .bind(d.tenant.0)
            .bind(d.endpoint_id)
            .bind(&d.event_id)
            .bind(&d.event_type)
            .bind(d.authorizer_appid.as_deref())
            .bind(sealed)
            .bind(d.run_at)
            .bind(d.give_up_at)
            .bind($now)
            .fetch_optional(&mut *$tx)
            .await?;
            if let Some(id) = id {
                written.push((d.endpoint_id, id));
            }
        }
        Ok::<Vec<(i64, i64)>, sqlx::Error>(written)
    }};
}
pub(crate) use insert_deliveries;

impl Store {
    /// Seals each delivery's payload, in the order given.
    pub(crate) fn seal_deliveries(
        &self,
        deliveries: &[NewDelivery],
    ) -> Result<Vec<String>, StoreError> {
        let keyring = self.keyring()?;
        Ok(deliveries
            .iter()
            .map(|d| keyring.seal_str(&payload_purpose(d.endpoint_id, &d.event_id), &d.payload))
            .collect())
    }

    pub async fn create_webhook_endpoint(
        &self,
        new: &NewWebhookEndpoint<'_>,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<WebhookEndpoint, StoreError> {
        let sealed = self
            .keyring()?
            .seal_str(&secret_purpose(new.public_id), new.secret);
        let appids = new
            .authorizer_appids
            .map(|a| serde_json::Value::from(a.to_vec()).to_string());
        let types = new
            .event_types
            .map(|t| serde_json::Value::from(t.to_vec()).to_string());
        let sql = format!(
            "INSERT INTO webhook_endpoints (tenant_id, public_id, url, description, authorizer_appids, event_types, mode, \
             secret_sealed, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {ENDPOINT_COLUMNS}"
        );
        let row: EndpointRow = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: EndpointRow = sqlx::query_as(&sql)
                .bind(new.tenant.0)
                .bind(new.public_id)
                .bind(new.url)
                .bind(new.description)
                .bind(appids.as_deref())
                .bind(types.as_deref())
                .bind(new.mode.as_str())
                .bind(&sealed)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(row)
        })?;
        row.try_into()
    }

    /// The tenant's endpoints (not deleted), oldest first.
    pub async fn list_webhook_endpoints(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY id"
        );
        let rows: Vec<EndpointRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The tenant's endpoints that take deliveries now (read on every message: one indexed read).
    pub async fn active_webhook_endpoints(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND deleted_at IS NULL \
             AND disabled_at IS NULL ORDER BY id"
        );
        let rows: Vec<EndpointRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub async fn webhook_endpoint(
        &self,
        tenant: TenantId,
        public_id: &str,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND public_id = $2 AND deleted_at IS NULL"
        );
        let row: Option<EndpointRow> = read!(self, |pool| sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(public_id)
            .fetch_optional(pool)
            .await)?;
        row.map(TryInto::try_into).transpose()
    }

    /// Deletes an endpoint; its undelivered deliveries end as dead letters. False when there was
    /// no such endpoint of this tenant.
    pub async fn delete_webhook_endpoint(
        &self,
        tenant: TenantId,
        public_id: &str,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let id: Option<i64> = sqlx::query_scalar(
                "UPDATE webhook_endpoints SET deleted_at = $1, updated_at = $1 \
                 WHERE tenant_id = $2 AND public_id = $3 AND deleted_at IS NULL RETURNING id",
            )
            .bind(now)
            .bind(tenant.0)
            .bind(public_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else {
                tx.rollback().await?;
                return Ok(false);
            };
            sqlx::query(
                "UPDATE webhook_deliveries SET status = 'dead', last_error = 'the endpoint was deleted', \
                 lease_owner = NULL, lease_expires_at = NULL, finished_at = $1, updated_at = $1 \
                 WHERE endpoint_id = $2 AND status IN ('pending', 'running')",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Replaces an endpoint's secret; the old one keeps signing (alongside) until `overlap_until`.
    pub async fn rotate_webhook_secret(
        &self,
        tenant: TenantId,
        public_id: &str,
        secret: &SecretString,
        overlap_until: i64,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        let keyring = self.keyring()?;
        let sealed = keyring.seal_str(&secret_purpose(public_id), secret);
        let current: Option<String> = read!(self, |pool| {
            sqlx::query_scalar(
            "SELECT secret_sealed FROM webhook_endpoints WHERE tenant_id = $1 AND public_id = $2 AND deleted_at IS NULL"
        )
        .bind(tenant.0)
        .bind(public_id)
        .fetch_optional(pool)
        .await
        })?;
        let Some(current) = current else {
            return Ok(false);
        };
        let previous = keyring.seal_str(
            &previous_secret_purpose(public_id),
            &keyring.open_str(&secret_purpose(public_id), &current)?,
        );
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE webhook_endpoints SET secret_sealed = $1, previous_secret_sealed = $2, previous_secret_expires_at = $3, \
                 updated_at = $4 WHERE tenant_id = $5 AND public_id = $6 AND deleted_at IS NULL AND secret_sealed = $7",
            )
            .bind(&sealed)
            .bind(&previous)
            .bind(overlap_until)
            .bind(now)
            .bind(tenant.0)
            .bind(public_id)
            .bind(&current)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Turns an endpoint back on (or off by hand). Turning it on clears its failure run.
    pub async fn set_webhook_endpoint_enabled(
        &self,
        tenant: TenantId,
        public_id: &str,
        enabled: bool,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<bool, StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let n = if enabled {
                sqlx::query(
                    "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL, consecutive_failures = 0, \
                     failing_since = NULL, updated_at = $1 WHERE tenant_id = $2 AND public_id = $3 AND deleted_at IS NULL",
                )
            } else {
                sqlx::query(
                    "UPDATE webhook_endpoints SET disabled_at = COALESCE(disabled_at, $1), disabled_reason = 'disabled by hand', \
                     updated_at = $1 WHERE tenant_id = $2 AND public_id = $3 AND deleted_at IS NULL",
                )
            }
            .bind(now)
            .bind(tenant.0)
            .bind(public_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            bind_audit!(sqlx::query(super::audit::INSERT), audit)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Writes deliveries of an event that has no message row (authorization events, test events).
    /// The same event id for the same endpoint is written once.
    pub async fn enqueue_deliveries(
        &self,
        deliveries: &[NewDelivery],
        now: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let sealed = self.seal_deliveries(deliveries)?;
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let n = insert_deliveries!(tx, deliveries, sealed, now)?;
            tx.commit().await?;
            Ok(n)
        })
    }

    /// Claims due deliveries, at most `per_endpoint` in flight for any endpoint (counting those
    /// other workers hold), and deliveries whose worker's lease ran out.
    ///
    /// The work is bounded by the endpoints, not by the backlog: first the open endpoints with
    /// something due and their in-flight counts (one index probe each), then, for each endpoint
    /// with room, its oldest due rows through `(endpoint_id, status, run_at)`. A backlog of any size
    /// behind a saturated endpoint costs nothing. Endpoints are served from a random starting
    /// point, so one with a backlog does not always come first. Across instances the bound holds
    /// up to a race between two claims that read the same counts.
    pub async fn claim_due_deliveries(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
        per_endpoint: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let per_endpoint_sql = self.claim_for_endpoint_sql();
        let abandoned_sql = self.claim_sql(
            "SELECT d.id FROM webhook_deliveries d WHERE d.status = 'running' AND d.lease_expires_at <= $3 \
             AND d.endpoint_id IN (SELECT id FROM webhook_endpoints WHERE disabled_at IS NULL AND deleted_at IS NULL) \
             ORDER BY d.run_at LIMIT $4",
            "webhook_deliveries.status = 'running' AND webhook_deliveries.lease_expires_at <= $3",
        );
        let rows: Vec<ClaimedRow> = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut rows: Vec<ClaimedRow> = sqlx::query_as(&abandoned_sql)
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            let mut endpoints: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT e.id, (SELECT COUNT(*) FROM webhook_deliveries r WHERE r.endpoint_id = e.id AND r.status = 'running' \
                   AND r.lease_expires_at > $1) AS busy \
                 FROM webhook_endpoints e WHERE e.disabled_at IS NULL AND e.deleted_at IS NULL \
                 AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.run_at <= $1)",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            if !endpoints.is_empty() {
                let start = rand::random::<usize>() % endpoints.len();
                endpoints.rotate_left(start);
            }
            for (endpoint, busy) in endpoints {
                let left = limit - rows.len() as i64;
                let room = (per_endpoint - busy).min(left);
                if left <= 0 {
                    break;
                }
                if room <= 0 {
                    continue;
                }
                let claimed: Vec<ClaimedRow> = sqlx::query_as(&per_endpoint_sql)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now)
                    .bind(endpoint)
                    .bind(room)
                    .fetch_all(&mut *tx)
                    .await?;
                rows.extend(claimed);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(rows)
        })?;
        self.open_claimed(rows, owner, now).await
    }

    /// Claims up to `$5` of endpoint `$4`'s oldest due deliveries for owner `$1` until `$2`, at `$3`,
    /// if the endpoint is still on (not disabled or deleted since it was looked at).
    fn claim_for_endpoint_sql(&self) -> String {
        self.claim_sql(
            "SELECT id FROM webhook_deliveries WHERE endpoint_id = $4 AND status = 'pending' AND run_at <= $3 \
             AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = $4 AND e.disabled_at IS NULL AND e.deleted_at IS NULL) \
             ORDER BY run_at LIMIT $5",
            "webhook_deliveries.status = 'pending'",
        )
    }

    /// A claim of the rows `pick` selects (by `id`), for owner `$1` until `$2`, at `$3`, re-checked
    /// with `still` when updated.
    ///
    /// The pick is a materialized CTE, so it runs once. As a sub-select in `WHERE id IN (…)`,
    /// PostgreSQL may run it again for each row it updates, and with `SKIP LOCKED` each run finds
    /// other rows: one claim took 35 rows for a `LIMIT 1`, and the rows nobody asked for sat
    /// claimed until their lease ran out. The update then goes by id (`FROM due`): with the pick
    /// in `WHERE`, SQLite walked the whole `(status, run_at)` index of pending rows to test each
    /// against it, so every claim cost the size of the backlog. On PostgreSQL `still` drops a row
    /// another instance claimed between the pick and the update.
    fn claim_sql(&self, pick: &str, still: &str) -> String {
        format!(
            "WITH due AS MATERIALIZED ({pick}{suffix}) \
             UPDATE webhook_deliveries SET status = 'running', lease_owner = $1, lease_expires_at = $2, \
             attempts = webhook_deliveries.attempts + 1, updated_at = $3 \
             FROM due WHERE webhook_deliveries.id = due.id AND {still} \
             RETURNING webhook_deliveries.id, webhook_deliveries.tenant_id, webhook_deliveries.endpoint_id, \
               webhook_deliveries.event_id, webhook_deliveries.event_type, webhook_deliveries.payload_sealed, \
               webhook_deliveries.attempts, webhook_deliveries.give_up_at",
            suffix = self.dialect.claim_suffix
        )
    }

    /// Claims one pending delivery by id (the reply-mode attempt made while WeChat waits).
    pub async fn claim_delivery(
        &self,
        id: i64,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<ClaimedDelivery>, StoreError> {
        let rows: Vec<ClaimedRow> = write!(self, |pool| {
            sqlx::query_as(
                "UPDATE webhook_deliveries SET status = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, \
                 updated_at = $3 WHERE id = $4 AND status = 'pending' \
                 RETURNING id, tenant_id, endpoint_id, event_id, event_type, payload_sealed, attempts, give_up_at",
            )
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(id)
            .fetch_all(pool)
            .await
        })?;
        Ok(self
            .open_claimed(rows, owner, now)
            .await?
            .into_iter()
            .next())
    }

    async fn open_claimed(
        &self,
        rows: Vec<ClaimedRow>,
        owner: &str,
        now: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let keyring = self.keyring()?;
        let mut endpoints: std::collections::HashMap<i64, (String, String, Vec<SecretString>)> =
            std::collections::HashMap::new();
        let mut claimed = Vec::with_capacity(rows.len());
        for r in rows {
            if let std::collections::hash_map::Entry::Vacant(slot) = endpoints.entry(r.endpoint_id)
            {
                let e: EndpointSecretsRow = read!(self, |pool| {
                    sqlx::query_as(
                    "SELECT public_id, url, secret_sealed, previous_secret_sealed, previous_secret_expires_at \
                     FROM webhook_endpoints WHERE id = $1"
                )
                .bind(r.endpoint_id)
                .fetch_one(pool)
                .await
                })?;
                let mut secrets =
                    vec![keyring.open_str(&secret_purpose(&e.public_id), &e.secret_sealed)?];
                if let (Some(prev), Some(until)) =
                    (&e.previous_secret_sealed, e.previous_secret_expires_at)
                {
                    if until > now {
                        secrets
                            .push(keyring.open_str(&previous_secret_purpose(&e.public_id), prev)?);
                    }
                }
                slot.insert((e.public_id, e.url, secrets));
            }
            let Some((public_id, url, secrets)) = endpoints.get(&r.endpoint_id) else {
                continue;
            };
            claimed.push(ClaimedDelivery {
                id: r.id,
                tenant_id: TenantId(r.tenant_id),
                endpoint_id: r.endpoint_id,
                endpoint_public_id: public_id.clone(),
                url: url.clone(),
                payload: keyring.open_str(
                    &payload_purpose(r.endpoint_id, &r.event_id),
                    &r.payload_sealed,
                )?,
                event_id: r.event_id,
                event_type: r.event_type,
                secrets: secrets.clone(),
                attempts: r.attempts,
                give_up_at: r.give_up_at,
                lease_owner: owner.to_owned(),
            });
        }
        Ok(claimed)
    }

    /// Records attempts and what follows each, all in one transaction (a group commit: at load the
    /// writer's cost is per transaction and per statement, not per row). Each attempt is fenced by
    /// its lease; one whose lease was lost is not recorded. A failure extends its endpoint's failure
    /// run and disables the endpoint under `policy` (its waiting deliveries then become dead
    /// letters, to replay once it is fixed); a success ends the run. The attempts of one endpoint
    /// count in the order given.
    ///
    /// With `hand_off`, each success that asks for it gets the endpoint's next due delivery,
    /// claimed in the same transaction under that lease (see [`HandOff`]).
    pub async fn finish_deliveries(
        &self,
        items: &[FinishItem],
        policy: DisablePolicy,
        hand_off: Option<HandOff<'_>>,
        now: i64,
    ) -> Result<Vec<FinishedDelivery>, StoreError> {
        let mut results: Vec<FinishedDelivery> =
            items.iter().map(|_| FinishedDelivery::default()).collect();
        if items.is_empty() {
            return Ok(results);
        }
        let hand_off_sql = self.claim_for_endpoint_sql();
        let handed: Vec<(usize, ClaimedRow)> = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (i, item) in items.iter().enumerate() {
                let (status, run_at) = match item.next {
                    DeliveryNext::Delivered => ("delivered", None),
                    DeliveryNext::RetryAt(at) => ("pending", Some(at)),
                    DeliveryNext::Dead => ("dead", None),
                };
                let a = &item.attempt;
                results[i].recorded = sqlx::query(
                    "UPDATE webhook_deliveries SET status = $1, run_at = COALESCE($2, run_at), lease_owner = NULL, lease_expires_at = NULL, \
                     last_attempt_at = $3, last_status_code = $4, last_latency_ms = $5, last_error = $6, last_response_excerpt = $7, \
                     updated_at = $3, finished_at = CASE WHEN $1 IN ('delivered', 'dead') THEN $3 ELSE NULL END \
                     WHERE id = $8 AND lease_owner = $9 AND status = 'running'",
                )
                .bind(status)
                .bind(run_at)
                .bind(now)
                .bind(a.status_code.map(i64::from))
                .bind(a.latency_ms)
                .bind(a.error.as_deref())
                .bind(a.response_excerpt.as_deref())
                .bind(item.delivery.id)
                .bind(&item.delivery.lease_owner)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
            }
            let mut endpoints: Vec<i64> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if results[i].recorded && !endpoints.contains(&item.delivery.endpoint_id) {
                    endpoints.push(item.delivery.endpoint_id);
                }
            }
            let mut handed = Vec::new();
            for &endpoint in &endpoints {
                let mine: Vec<usize> = (0..items.len())
                    .filter(|&i| results[i].recorded && items[i].delivery.endpoint_id == endpoint)
                    .collect();
                // The failure run, attempt by attempt: a success resets it (written only when a
                // failure follows, or at the end), a failure extends it.
                let mut reset_due = false;
                for &i in &mine {
                    let Some(error) = items[i].attempt.error.as_deref() else {
                        reset_due = true;
                        continue;
                    };
                    if std::mem::take(&mut reset_due) {
                        reset_failure_run!(tx, endpoint);
                    }
                    let disabled: Option<i64> = sqlx::query_scalar(
                        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1, \
                         failing_since = COALESCE(failing_since, $1), \
                         disabled_at = CASE WHEN disabled_at IS NULL AND consecutive_failures + 1 >= $2 \
                            AND COALESCE(failing_since, $1) <= $1 - $3 THEN $1 ELSE disabled_at END, \
                         disabled_reason = CASE WHEN disabled_at IS NULL AND consecutive_failures + 1 >= $2 \
                            AND COALESCE(failing_since, $1) <= $1 - $3 THEN $4 ELSE disabled_reason END \
                         WHERE id = $5 RETURNING disabled_at",
                    )
                    .bind(now)
                    .bind(policy.failures)
                    .bind(policy.failing_for_ms)
                    .bind(format!(
                        "disabled after {} failed deliveries in a row: {error}",
                        policy.failures
                    ))
                    .bind(endpoint)
                    .fetch_optional(&mut *tx)
                    .await?
                    .flatten();
                    // Disabled now or before (another worker's failure): nothing of it waits any more.
                    if disabled.is_some() {
                        results[i].endpoint_disabled = disabled == Some(now);
                        sqlx::query(
                            "UPDATE webhook_deliveries SET status = 'dead', last_error = COALESCE(last_error, 'the endpoint was disabled'), \
                             finished_at = $1, updated_at = $1 WHERE endpoint_id = $2 AND status = 'pending'",
                        )
                        .bind(now)
                        .bind(endpoint)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                if reset_due {
                    reset_failure_run!(tx, endpoint);
                }
                let Some(h) = hand_off else { continue };
                let takers: Vec<usize> = mine
                    .into_iter()
                    .filter(|&i| items[i].hand_off && items[i].attempt.error.is_none())
                    .collect();
                if takers.is_empty() {
                    continue;
                }
                let rows: Vec<ClaimedRow> = sqlx::query_as(&hand_off_sql)
                    .bind(h.owner)
                    .bind(h.lease_until)
                    .bind(now)
                    .bind(endpoint)
                    .bind(takers.len() as i64)
                    .fetch_all(&mut *tx)
                    .await?;
                handed.extend(takers.into_iter().zip(rows));
            }
            tx.commit().await?;
            Ok::<_, StoreError>(handed)
        })?;
        if let Some(h) = hand_off {
            for (i, row) in handed {
                results[i].next = Some(self.continue_with(&items[i].delivery, row, h.owner)?);
            }
        }
        Ok(results)
    }

    /// A handed-off delivery of the endpoint `d` belongs to: its address and secrets are `d`'s.
    fn continue_with(
        &self,
        d: &ClaimedDelivery,
        r: ClaimedRow,
        owner: &str,
    ) -> Result<ClaimedDelivery, StoreError> {
        Ok(ClaimedDelivery {
            id: r.id,
            tenant_id: TenantId(r.tenant_id),
            endpoint_id: r.endpoint_id,
            endpoint_public_id: d.endpoint_public_id.clone(),
            url: d.url.clone(),
            payload: self.keyring()?.open_str(
                &payload_purpose(r.endpoint_id, &r.event_id),
                &r.payload_sealed,
            )?,
            event_id: r.event_id,
            event_type: r.event_type,
            secrets: d.secrets.clone(),
            attempts: r.attempts,
            give_up_at: r.give_up_at,
            lease_owner: owner.to_owned(),
        })
    }

    /// Deliveries, newest first.
    pub async fn list_deliveries(
        &self,
        filter: &DeliveryFilter<'_>,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
             WHERE ($1 IS NULL OR d.tenant_id = $1) AND ($2 IS NULL OR e.public_id = $2) AND ($3 IS NULL OR d.status = $3) \
             AND ($4 IS NULL OR d.id < $4) ORDER BY d.id DESC LIMIT $5"
        );
        read!(self, |pool| sqlx::query_as(&sql)
            .bind(filter.tenant.map(|t| t.0))
            .bind(filter.endpoint_public_id)
            .bind(filter.status)
            .bind(filter.before_id)
            .bind(filter.limit.clamp(1, 500))
            .fetch_all(pool)
            .await)
        .map_err(Into::into)
    }

    /// Puts dead letters of one of the tenant's endpoints back in the queue, with a new retry
    /// window: the ones named, or all of them. Counts what was replayed.
    pub async fn replay_dead_deliveries(
        &self,
        tenant: TenantId,
        endpoint_public_id: &str,
        ids: Option<&[i64]>,
        give_up_at: i64,
        audit: &NewAuditEvent,
        now: i64,
    ) -> Result<u64, StoreError> {
        let id_list = ids.map(|ids| serde_json::Value::from(ids.to_vec()).to_string());
        let in_list = match self.dialect.name {
            "postgres" => "d.id IN (SELECT value::bigint FROM json_array_elements_text($5::json))",
            _ => "d.id IN (SELECT value FROM json_each($5))",
        };
        let sql = format!(
            "UPDATE webhook_deliveries SET status = 'pending', run_at = $1, give_up_at = $2, finished_at = NULL, updated_at = $1 \
             WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
               WHERE d.tenant_id = $3 AND e.public_id = $4 AND e.deleted_at IS NULL AND d.status = 'dead' \
               AND ($5 IS NULL OR {in_list}))"
        );
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(&sql)
                .bind(now)
                .bind(give_up_at)
                .bind(tenant.0)
                .bind(endpoint_public_id)
                .bind(id_list.as_deref())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                let mut audit = audit.clone();
                if let Some(obj) = audit.detail.as_object_mut() {
                    obj.insert("replayed".into(), n.into());
                }
                bind_audit!(sqlx::query(super::audit::INSERT), &audit)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(n)
        })
    }

    /// Deliveries waiting or in flight (the outbox's depth).
    pub async fn outbox_depth(&self) -> Result<i64, StoreError> {
        read!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status IN ('pending', 'running')"
        )
        .fetch_one(pool)
        .await)
        .map_err(Into::into)
    }
}

impl Store {
    /// Every tenant's endpoints that wxhub disabled for failing (not the ones turned off by
    /// hand, nor deleted ones): tenant id and public id, oldest first.
    pub async fn endpoints_disabled_for_failing(&self) -> Result<Vec<(i64, String)>, StoreError> {
        read!(self, |pool| sqlx::query_as(
            "SELECT tenant_id, public_id FROM webhook_endpoints WHERE disabled_at IS NOT NULL AND deleted_at IS NULL \
             AND COALESCE(disabled_reason, '') <> 'disabled by hand' ORDER BY tenant_id, disabled_at"
        )
        .fetch_all(pool)
        .await)
        .map_err(Into::into)
    }
}
