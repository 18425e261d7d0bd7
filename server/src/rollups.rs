//! The hourly counts behind the operations charts, counted as events happen.
//!
//! Counting in the event's own transaction would make every refresh, message and API call of a
//! tenant update one hot row, and instances would queue on its lock (500 refreshes a second at a
//! million accounts). Instead each instance adds to a map in memory and writes the sums every
//! [`FLUSH_EVERY`]: one upsert per (series, tenant, hour) per flush, whatever the traffic.
//!
//! The price: a crash loses the last few seconds' counts. The charts are for people looking at
//! trends, and the audit log and the tables themselves remain the record. If the database is
//! down, the sums wait in memory (they are few: one per series, tenant and hour) and go with the
//! next flush.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::domain::TenantId;
use crate::store::{HourlyKey, Store, StoreError, HOUR_MS, PLATFORM_ROW};
use crate::unpoison;

/// How often counts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// Sums kept at most while they cannot be written (the oldest hours go first).
const MAX_PENDING: usize = 50_000;

/// What is counted. Each is one series on the charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counted {
    /// A token or ticket refreshed.
    Refresh,
    /// A refresh that failed; the detail is WeChat's errcode (or the failure's label).
    RefreshFailure,
    /// An account authorized (or authorized again) through the platform.
    Authorization,
    /// An account's authorization withdrawn in WeChat.
    Revocation,
    /// A message or event received at the message URL.
    Message,
    /// A webhook delivery attempt; the detail is `ok`, `failed` or `dead`.
    Delivery,
    /// A tenant API call; the detail is `ok` or `error`.
    ApiCall,
}

impl Counted {
    pub const ALL: [Counted; 7] = [
        Counted::Refresh,
        Counted::RefreshFailure,
        Counted::Authorization,
        Counted::Revocation,
        Counted::Message,
        Counted::Delivery,
        Counted::ApiCall,
    ];

    pub fn metric(self) -> &'static str {
        match self {
            Counted::Refresh => "refreshes",
            Counted::RefreshFailure => "refresh_failures",
            Counted::Authorization => "authorizations",
            Counted::Revocation => "revocations",
            Counted::Message => "messages",
            Counted::Delivery => "deliveries",
            Counted::ApiCall => "api_calls",
        }
    }
}

/// The bucket an event at `at` (ms) falls in.
pub fn hour_of(at: i64) -> i64 {
    at.div_euclid(HOUR_MS) * HOUR_MS
}

pub struct Rollups {
    store: Store,
    pending: Mutex<HashMap<HourlyKey, i64>>,
}

impl std::fmt::Debug for Rollups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rollups").finish_non_exhaustive()
    }
}

impl Rollups {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event of `what` at `at`, for its tenant (when it has one) and the platform.
    pub fn count(&self, what: Counted, tenant: Option<TenantId>, detail: &str, at: i64) {
        let hour_start = hour_of(at);
        let mut pending = unpoison(self.pending.lock());
        let rows = std::iter::once(PLATFORM_ROW).chain(tenant.map(|t| t.0));
        for tenant_row in rows {
            *pending
                .entry(HourlyKey {
                    metric: what.metric(),
                    tenant_row,
                    hour_start,
                    detail: detail.to_owned(),
                })
                .or_insert(0) += 1;
        }
    }

    /// Writes what is pending; on failure adds it back for the next attempt.
    pub async fn flush(&self) -> Result<usize, StoreError> {
        let batch: Vec<(HourlyKey, i64)> = std::mem::take(&mut *unpoison(self.pending.lock()))
            .into_iter()
            .collect();
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        if let Err(e) = self.store.add_hourly_counts(&batch).await {
            let mut pending = unpoison(self.pending.lock());
            for (key, count) in batch {
                *pending.entry(key).or_insert(0) += count;
            }
            if pending.len() > MAX_PENDING {
                let mut hours: Vec<i64> = pending.keys().map(|k| k.hour_start).collect();
                hours.sort_unstable();
                let keep_from = hours[pending.len() - MAX_PENDING];
                pending.retain(|k, _| k.hour_start >= keep_from);
            }
            return Err(e);
        }
        Ok(n)
    }

    /// Flushes every [`FLUSH_EVERY`], and once more at shutdown.
    pub async fn flush_loop(self: std::sync::Arc<Self>, shutdown: CancellationToken) {
        loop {
            let stopping = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = tokio::time::sleep(FLUSH_EVERY) => false,
            };
            if let Err(e) = self.flush().await {
                tracing::warn!(error = %crate::report::Chain(&e), "could not write the hourly counts");
            }
            if stopping {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_fall_in_the_hour_they_happened() {
        assert_eq!(hour_of(0), 0);
        assert_eq!(hour_of(HOUR_MS - 1), 0);
        assert_eq!(hour_of(HOUR_MS), HOUR_MS);
        assert_eq!(hour_of(-1), -HOUR_MS, "never rounds towards zero");
    }
}
