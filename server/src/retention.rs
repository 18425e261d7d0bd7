//! Background pruning: the tables that grow with traffic are kept to their configured age
//! (`WXHUB_AUDIT_RETENTION_DAYS`, `WXHUB_PUSH_RETENTION_DAYS`, `WXHUB_JOB_RETENTION_DAYS`), idle
//! sign-in throttle rows and expired sessions go as soon as they mean nothing. Every instance may
//! run it; the deletes are idempotent and small.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::store::{Cutoffs, Store};

const DAY_MS: i64 = 86_400_000;
/// How long the charts' hourly counts are kept: twice the longest chart (30 days), so a month
/// can be compared with the one before in the database, if not yet on the page.
pub const HOURLY_COUNT_DAYS: i64 = 60;
/// Sent and failed notifications are kept this long.
pub const NOTIFICATION_DAYS: i64 = 30;
/// Rows deleted per table per statement.
const BATCH: i64 = 5_000;

#[derive(Debug, Clone, Copy)]
pub struct RetentionSettings {
    pub audit_days: i64,
    pub push_days: i64,
    pub job_days: i64,
    pub message_days: i64,
    /// Throttle rows older than this (and holding no lock) are forgotten: longer than any window.
    pub throttle_idle: Duration,
    pub interval: Duration,
}

impl RetentionSettings {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            audit_days: s.audit_retention_days as i64,
            push_days: s.push_retention_days as i64,
            job_days: s.job_retention_days as i64,
            message_days: s.message_retention_days as i64,
            throttle_idle: Duration::from_secs(24 * 3600),
            interval: Duration::from_secs(600),
        }
    }

    pub fn cutoffs(&self, now: i64) -> Cutoffs {
        Cutoffs {
            audit_before: now - self.audit_days * DAY_MS,
            pushes_before: now - self.push_days * DAY_MS,
            jobs_before: now - self.job_days * DAY_MS,
            messages_before: now - self.message_days * DAY_MS,
            throttle_before: now - self.throttle_idle.as_millis() as i64,
            now,
        }
    }
}

/// One pass: prunes in batches until nothing past its age is left (or shutdown).
pub async fn prune_once(store: &Store, settings: &RetentionSettings, shutdown: &CancellationToken) {
    loop {
        let cut = settings.cutoffs(crate::now_ms());
        match store.prune(&cut, BATCH).await {
            Ok(done) if done.total() == 0 => return,
            Ok(done) => {
                tracing::debug!(?done, "retention: pruned old rows");
                let more = [
                    done.audit_events,
                    done.received_pushes,
                    done.jobs,
                    done.throttle_rows,
                    done.sessions,
                ]
                .iter()
                .any(|n| *n as i64 >= BATCH);
                if !more || shutdown.is_cancelled() {
                    return;
                }
                // Let other writers in between batches.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => {
                tracing::warn!(error = %crate::report::Chain(&e), "retention: pruning failed");
                return;
            }
        }
    }
}

/// Prunes every `interval` until shutdown.
pub async fn retention_loop(
    store: Store,
    settings: RetentionSettings,
    shutdown: CancellationToken,
) {
    loop {
        prune_once(&store, &settings, &shutdown).await;
        let before = crate::now_ms() - HOURLY_COUNT_DAYS * DAY_MS;
        if let Err(e) = store.prune_hourly_counts(before).await {
            tracing::warn!(error = %crate::report::Chain(&e), "retention: pruning hourly counts failed");
        }
        // Every notification's outcome is in the audit log; the rows are for the console's list.
        let before = crate::now_ms() - NOTIFICATION_DAYS * DAY_MS;
        if let Err(e) = store.prune_notifications(before).await {
            tracing::warn!(error = %crate::report::Chain(&e), "retention: pruning notifications failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(settings.interval) => {}
        }
    }
}
