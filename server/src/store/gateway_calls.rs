//! The WeChat gateway's recent calls, per (tenant, account or component): written in batches by
//! `api::call_log`, each batch pruning what it touched to the newest [`GATEWAY_CALLS_KEPT`].

use super::{read, write, Store, StoreError};
use crate::domain::{ApiKeyId, TenantId};

/// Calls kept per (tenant, target).
pub const GATEWAY_CALLS_KEPT: i64 = 100;

/// One finished gateway call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayCallRecord {
    pub tenant: TenantId,
    /// The authorizer appid, or the component appid.
    pub target: String,
    /// `authorizer` or `component`.
    pub target_kind: &'static str,
    pub api_key: Option<ApiKeyId>,
    pub method: String,
    pub path: String,
    pub status: Option<i64>,
    pub errcode: Option<i64>,
    pub outcome: String,
    pub retried: bool,
    pub duration_ms: i64,
    pub called_at: i64,
}

/// A stored call with its key's name.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GatewayCallRow {
    pub id: i64,
    pub method: String,
    pub path: String,
    pub status: Option<i64>,
    pub errcode: Option<i64>,
    pub outcome: String,
    pub retried: bool,
    pub duration_ms: i64,
    pub called_at: i64,
    pub api_key_name: Option<String>,
    pub api_key_prefix: Option<String>,
}

impl Store {
    /// Records calls in one transaction, then prunes each (tenant, target) it touched.
    pub async fn record_gateway_calls(
        &self,
        calls: &[GatewayCallRecord],
    ) -> Result<(), StoreError> {
        if calls.is_empty() {
            return Ok(());
        }
        let mut targets: Vec<(TenantId, &str)> = calls
            .iter()
            .map(|c| (c.tenant, c.target.as_str()))
            .collect();
        targets.sort();
        targets.dedup();
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            for c in calls {
                sqlx::query(
                    "INSERT INTO gateway_calls (tenant_id, target, target_kind, api_key_id, method, path, status, errcode, outcome, retried, duration_ms, called_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(c.tenant.0)
                .bind(&c.target)
                .bind(c.target_kind)
                .bind(c.api_key.map(|k| k.0))
                .bind(&c.method)
                .bind(&c.path)
                .bind(c.status)
                .bind(c.errcode)
                .bind(&c.outcome)
                .bind(c.retried)
                .bind(c.duration_ms)
                .bind(c.called_at)
                .execute(&mut *tx)
                .await?;
            }
            for (tenant, target) in &targets {
                // Everything older than the 100th newest; nothing while there are fewer.
                sqlx::query(
                    "DELETE FROM gateway_calls WHERE tenant_id = $1 AND target = $2 AND id < \
                     (SELECT id FROM gateway_calls WHERE tenant_id = $1 AND target = $2 ORDER BY id DESC LIMIT 1 OFFSET $3)",
                )
                .bind(tenant.0)
                .bind(*target)
                .bind(GATEWAY_CALLS_KEPT - 1)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// The newest calls to `target` made by `tenant`'s keys, newest first.
    pub async fn gateway_calls(
        &self,
        tenant: TenantId,
        target: &str,
    ) -> Result<Vec<GatewayCallRow>, StoreError> {
        let rows: Vec<GatewayCallRow> = read!(self, |pool| {
            sqlx::query_as(
            "SELECT g.id, g.method, g.path, g.status, g.errcode, g.outcome, g.retried, g.duration_ms, g.called_at, \
             k.name AS api_key_name, k.prefix AS api_key_prefix \
             FROM gateway_calls g LEFT JOIN api_keys k ON k.id = g.api_key_id AND k.tenant_id = g.tenant_id \
             WHERE g.tenant_id = $1 AND g.target = $2 ORDER BY g.id DESC LIMIT $3",
        )
        .bind(tenant.0)
        .bind(target)
        .bind(GATEWAY_CALLS_KEPT)
        .fetch_all(pool)
        .await
        })?;
        Ok(rows)
    }
}
