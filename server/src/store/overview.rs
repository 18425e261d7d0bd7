//! The reads behind the operations overview that are not hourly counts: how many accounts stand in
//! each status for each tenant, and each tenant's webhook deliveries in trouble. Each is one
//! grouped read; the console keeps the answer for a short while (`console::overview`), because
//! counting a million accounts' statuses is not a per-page-view cost.

use super::{read, Store, StoreError};

/// How many of one tenant's accounts are in one status (`tenant_id` `None`: no tenant holds them).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StatusCount {
    pub tenant_id: Option<i64>,
    pub status: String,
    pub count: i64,
}

/// One tenant's webhook deliveries in trouble: failing (not delivered yet, tried at least once)
/// and dead letters (given up on, still kept).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryTrouble {
    pub tenant_id: i64,
    pub failing: i64,
    pub dead: i64,
}

impl Store {
    /// Every tenant's accounts counted by status, in one grouped read.
    pub async fn account_status_by_tenant(&self) -> Result<Vec<StatusCount>, StoreError> {
        read!(self, |pool| {
            sqlx::query_as(
                "SELECT tenant_id, status, COUNT(*) AS count FROM authorizers GROUP BY tenant_id, status \
                 ORDER BY tenant_id, status",
            )
            .fetch_all(pool)
            .await
        })
        .map_err(Into::into)
    }

    /// The tenants with deliveries failing or dead, from the pending and dead rows only (the
    /// delivered ones, nearly all of them, are never read).
    pub async fn delivery_trouble_by_tenant(&self) -> Result<Vec<DeliveryTrouble>, StoreError> {
        read!(self, |pool| {
            sqlx::query_as(
                "SELECT tenant_id, COUNT(CASE WHEN status <> 'dead' AND attempts > 0 THEN 1 END) AS failing, \
                 COUNT(CASE WHEN status = 'dead' THEN 1 END) AS dead \
                 FROM webhook_deliveries WHERE status IN ('pending', 'running', 'dead') \
                 GROUP BY tenant_id ORDER BY tenant_id",
            )
            .fetch_all(pool)
            .await
        })
        .map_err(Into::into)
    }
}
