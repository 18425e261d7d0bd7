//! Alerts: conditions someone should look at (ticket pushes stopped, a refresh token lost, a push
//! that could not be attributed). One open alert per (component, authorizer, kind); repeats count.

use super::{read, write, Store, StoreError};
use crate::domain::{AuthorizerId, ComponentId, TenantId};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Alert {
    pub id: i64,
    pub tenant_id: Option<i64>,
    pub component_id: Option<i64>,
    pub authorizer_id: Option<i64>,
    pub kind: String,
    pub message: String,
    pub occurrences: i64,
    pub raised_at: i64,
    pub last_seen_at: i64,
}

impl Store {
    /// Raises an alert, or counts one more occurrence of the open one.
    pub async fn raise_alert(
        &self,
        tenant: Option<TenantId>,
        component: Option<ComponentId>,
        authorizer: Option<AuthorizerId>,
        kind: &str,
        message: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let bumped = sqlx::query(
                "UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = $1, message = $2 \
                 WHERE resolved_at IS NULL AND kind = $3 AND component_id IS NOT DISTINCT FROM $4 AND authorizer_id IS NOT DISTINCT FROM $5",
            )
            .bind(now)
            .bind(message)
            .bind(kind)
            .bind(component.map(|c| c.0))
            .bind(authorizer.map(|a| a.0))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if bumped == 0 {
                sqlx::query(
                    "INSERT INTO alerts (tenant_id, component_id, authorizer_id, kind, message, raised_at, last_seen_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(tenant.map(|t| t.0))
                .bind(component.map(|c| c.0))
                .bind(authorizer.map(|a| a.0))
                .bind(kind)
                .bind(message)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn resolve_alerts(
        &self,
        component: ComponentId,
        kind: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE alerts SET resolved_at = $1 WHERE resolved_at IS NULL AND component_id = $2 AND kind = $3",
            )
            .bind(now)
            .bind(component.0)
            .bind(kind)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(Into::into)
    }

    /// Resolves one account's open alerts of `kind` (its audit passed after one failed).
    pub async fn resolve_authorizer_alerts(
        &self,
        authorizer: AuthorizerId,
        kind: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE alerts SET resolved_at = $1 WHERE resolved_at IS NULL AND authorizer_id = $2 AND kind = $3",
            )
            .bind(now)
            .bind(authorizer.0)
            .bind(kind)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(Into::into)
    }

    /// One tenant's open alerts, newest first (the tenant dashboard).
    pub async fn open_alerts_for_tenant(
        &self,
        tenant: crate::domain::TenantId,
        limit: i64,
    ) -> Result<Vec<Alert>, StoreError> {
        read!(self, |pool| {
            sqlx::query_as(
                "SELECT id, tenant_id, component_id, authorizer_id, kind, message, occurrences, raised_at, last_seen_at \
                 FROM alerts WHERE resolved_at IS NULL AND tenant_id = $1 ORDER BY raised_at DESC LIMIT $2",
            )
            .bind(tenant.0)
            .bind(limit)
            .fetch_all(pool)
            .await
        })
        .map_err(Into::into)
    }

    /// Open alerts (platform staff; tests).
    pub async fn open_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        read!(self, |pool| {
            sqlx::query_as(
                "SELECT id, tenant_id, component_id, authorizer_id, kind, message, occurrences, raised_at, last_seen_at \
                 FROM alerts WHERE resolved_at IS NULL ORDER BY raised_at",
            )
            .fetch_all(pool)
            .await
        })
        .map_err(Into::into)
    }
}
