//! Failed-sign-in counters. A key ('account:…' or 'ip:…') that fails `threshold` times within
//! `window_ms` is locked; each further failure doubles the lock, up to `max_lock_ms`. Success on
//! the account clears its counter.

use super::{read, write, Store, StoreError};

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub threshold: i64,
    pub window_ms: i64,
    pub base_lock_ms: i64,
    pub max_lock_ms: i64,
}

impl ThrottlePolicy {
    fn lock_for(&self, failures: i64) -> Option<i64> {
        if failures < self.threshold {
            return None;
        }
        let doublings = (failures - self.threshold).min(20) as u32;
        Some(
            self.base_lock_ms
                .saturating_mul(1_i64 << doublings)
                .min(self.max_lock_ms),
        )
    }
}

#[derive(sqlx::FromRow)]
struct ThrottleRow {
    failures: i64,
    window_started_at: i64,
    locked_until: Option<i64>,
}

impl Store {
    /// The latest `locked_until` among `keys` that is still in the future at `now`.
    pub async fn throttle_locked_until(
        &self,
        keys: &[&str],
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut latest: Option<i64> = None;
        for key in keys {
            let until: Option<Option<i64>> = read!(self, |pool| {
                sqlx::query_scalar("SELECT locked_until FROM login_throttle WHERE key = $1")
                    .bind(*key)
                    .fetch_optional(pool)
                    .await
            })?;
            if let Some(Some(until)) = until {
                if until > now {
                    latest = Some(latest.map_or(until, |l| l.max(until)));
                }
            }
        }
        Ok(latest)
    }

    /// Counts one failure for `key`; returns the lock that now applies, if any.
    pub async fn throttle_record_failure(
        &self,
        key: &str,
        policy: &ThrottlePolicy,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        // Make sure the row exists, then lock it: concurrent failures for one key must all count.
        let select = format!(
            "SELECT failures, window_started_at, locked_until FROM login_throttle WHERE key = $1{}",
            self.dialect.lock_row_suffix
        );
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO login_throttle (key, failures, window_started_at) VALUES ($1, 0, $2) ON CONFLICT (key) DO NOTHING")
                .bind(key)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let row: Option<ThrottleRow> = sqlx::query_as(&select)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            let (failures, window_started_at) = match row {
                // A window that ended with no lock in force starts over.
                Some(r)
                    if now - r.window_started_at <= policy.window_ms
                        || r.locked_until.is_some_and(|u| u > now) =>
                {
                    (r.failures + 1, r.window_started_at)
                }
                _ => (1, now),
            };
            let locked_until = policy.lock_for(failures).map(|ms| now + ms);
            sqlx::query("UPDATE login_throttle SET failures = $1, window_started_at = $2, locked_until = $3 WHERE key = $4")
                .bind(failures)
                .bind(window_started_at)
                .bind(locked_until)
                .bind(key)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(locked_until)
        })
    }

    pub async fn throttle_clear(&self, key: &str) -> Result<(), StoreError> {
        write!(self, |pool| sqlx::query(
            "DELETE FROM login_throttle WHERE key = $1"
        )
        .bind(key)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
