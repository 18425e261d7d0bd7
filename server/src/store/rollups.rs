//! Hourly counts behind the operations charts: what `crate::rollups` counted in memory is added
//! here in one transaction per flush, and the charts read one row per hour and series.
//!
//! Rows are added to, never rewritten from scratch, so several instances flushing the same hour
//! add up. Each flush writes its keys in one order, so two instances' flushes never deadlock.

use super::{read, write, Store, StoreError};
use crate::domain::TenantId;

/// The length of one bucket.
pub const HOUR_MS: i64 = 3_600_000;
/// The `tenant_id` of the platform-wide rows.
pub const PLATFORM_ROW: i64 = 0;

/// One count to add: `n` events of `metric` (split by `detail`) in the hour starting at
/// `hour_start`, for one tenant's rows or the platform's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HourlyKey {
    pub metric: &'static str,
    pub tenant_row: i64,
    pub hour_start: i64,
    pub detail: String,
}

/// One stored bucket.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HourlyCount {
    pub hour_start: i64,
    pub detail: String,
    pub count: i64,
}

/// Whose rows a chart reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountsOf {
    Platform,
    Tenant(TenantId),
}

impl CountsOf {
    fn row(self) -> i64 {
        match self {
            CountsOf::Platform => PLATFORM_ROW,
            CountsOf::Tenant(t) => t.0,
        }
    }
}

impl Store {
    /// Adds counts to their hours (creating the rows that are missing), all in one transaction.
    pub async fn add_hourly_counts(&self, counts: &[(HourlyKey, i64)]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut sorted: Vec<&(HourlyKey, i64)> = counts.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (key, n) in &sorted {
                sqlx::query(
                    "INSERT INTO hourly_counts (metric, detail, tenant_id, hour_start, count) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (metric, tenant_id, hour_start, detail) DO UPDATE SET count = hourly_counts.count + excluded.count",
                )
                .bind(key.metric)
                .bind(&key.detail)
                .bind(key.tenant_row)
                .bind(key.hour_start)
                .bind(*n)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Every tenant's total of `metric` from the hour starting at `from` on (the platform row
    /// included, as tenant 0): what the refresh-failure rule weighs.
    pub async fn totals_by_tenant_since(
        &self,
        metric: &str,
        from: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        read!(self, |pool| {
            sqlx::query_as(
                "SELECT tenant_id, CAST(SUM(count) AS BIGINT) FROM hourly_counts \
                 WHERE metric = $1 AND hour_start >= $2 GROUP BY tenant_id ORDER BY tenant_id",
            )
            .bind(metric)
            .bind(from)
            .fetch_all(pool)
            .await
        })
        .map_err(Into::into)
    }

    /// The same, summed into buckets of `bucket_ms` aligned on the epoch (a chart's days), so a
    /// 30-day chart reads 30 rows per detail rather than 720.
    pub async fn bucketed_counts(
        &self,
        of: CountsOf,
        metric: &str,
        from: i64,
        to: i64,
        bucket_ms: i64,
    ) -> Result<Vec<HourlyCount>, StoreError> {
        read!(self, |pool| {
            sqlx::query_as(
                "SELECT hour_start - (hour_start % $5) AS hour_start, detail, CAST(SUM(count) AS BIGINT) AS count \
                 FROM hourly_counts WHERE metric = $1 AND tenant_id = $2 AND hour_start >= $3 AND hour_start < $4 \
                 GROUP BY 1, detail ORDER BY 1, detail",
            )
            .bind(metric)
            .bind(of.row())
            .bind(from)
            .bind(to)
            .bind(bucket_ms.max(1))
            .fetch_all(pool)
            .await
        })
        .map_err(Into::into)
    }

    /// One series' buckets from `from` (inclusive) to `to` (exclusive), oldest first, every detail.
    /// Hours with nothing counted have no row.
    pub async fn hourly_counts(
        &self,
        of: CountsOf,
        metric: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<HourlyCount>, StoreError> {
        read!(self, |pool| {
            sqlx::query_as(
                "SELECT hour_start, detail, count FROM hourly_counts \
                 WHERE metric = $1 AND tenant_id = $2 AND hour_start >= $3 AND hour_start < $4 \
                 ORDER BY hour_start, detail",
            )
            .bind(metric)
            .bind(of.row())
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
        })
        .map_err(Into::into)
    }

    /// Drops buckets older than `before` (retention; it runs every few minutes, so each run
    /// meets an hour's rows or so).
    pub async fn prune_hourly_counts(&self, before: i64) -> Result<u64, StoreError> {
        write!(self, |pool| {
            sqlx::query("DELETE FROM hourly_counts WHERE hour_start < $1")
                .bind(before)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(Into::into)
    }
}
