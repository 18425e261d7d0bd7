//! Failed-sign-in counters. A key ('account:…' or 'ip:…') that fails `threshold` times within
//! `window_ms` is locked; each further failure doubles the lock, up to `max_lock_ms`. Attempts are
//! counted before the password is checked (reserved), and a success hands its count back; success
//! on the account clears its counter.

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
    /// Reserves one sign-in attempt on every key at once, before the password is checked: if any
    /// key is locked, nothing is counted and the latest lock is returned; otherwise every key
    /// counts the attempt as a failure (locking the key for the attempts after it once the
    /// threshold is reached), and `None` is returned. A successful attempt hands its reservation
    /// back ([`Store::throttle_release`], [`Store::throttle_clear`]). Reserving first is what makes
    /// the throttle hold against guesses sent in parallel: each one is counted before any is
    /// checked, so no more than the threshold ever reach the password check.
    pub async fn throttle_reserve(
        &self,
        keys: &[(&str, ThrottlePolicy)],
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let select = format!(
            "SELECT failures, window_started_at, locked_until FROM login_throttle WHERE key = $1{}",
            self.dialect.lock_row_suffix
        );
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut rows = Vec::with_capacity(keys.len());
            let mut locked: Option<i64> = None;
            for (key, _) in keys {
                sqlx::query("INSERT INTO login_throttle (key, failures, window_started_at) VALUES ($1, 0, $2) ON CONFLICT (key) DO NOTHING")
                    .bind(*key)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let row: Option<ThrottleRow> = sqlx::query_as(&select)
                    .bind(*key)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(until) = row
                    .as_ref()
                    .and_then(|r| r.locked_until)
                    .filter(|u| *u > now)
                {
                    locked = Some(locked.map_or(until, |l| l.max(until)));
                }
                rows.push(row);
            }
            if locked.is_some() {
                tx.rollback().await?;
                return Ok(locked);
            }
            for ((key, policy), row) in keys.iter().zip(rows) {
                let (failures, window_started_at) = match row {
                    // A window that ended with no lock in force starts over.
                    Some(r) if now - r.window_started_at <= policy.window_ms => {
                        (r.failures + 1, r.window_started_at)
                    }
                    _ => (1, now),
                };
                let locked_until = policy.lock_for(failures).map(|ms| now + ms);
                sqlx::query("UPDATE login_throttle SET failures = $1, window_started_at = $2, locked_until = $3 WHERE key = $4")
                    .bind(failures)
                    .bind(window_started_at)
                    .bind(locked_until)
                    .bind(*key)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(None)
        })
    }

    /// Hands back one reserved attempt on `key` (it succeeded): the count drops by one, and a
    /// lock that the count no longer justifies is lifted.
    pub async fn throttle_release(
        &self,
        key: &str,
        policy: &ThrottlePolicy,
    ) -> Result<(), StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "UPDATE login_throttle SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END, \
                 locked_until = CASE WHEN failures - 1 < $2 THEN NULL ELSE locked_until END WHERE key = $1",
            )
            .bind(key)
            .bind(policy.threshold)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

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
