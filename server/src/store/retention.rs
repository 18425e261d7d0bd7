//! Pruning by age: audit events, received pushes, the accounts' messages, finished webhook deliveries
//! (delivered or dead, kept as long as messages), finished jobs, idle sign-in throttle rows and
//! expired sessions. Each delete takes at most `batch` rows, oldest first, so a backlog is worked
//! off in short transactions that never hold SQLite's single writer for long.

use super::{write, Store, StoreError};

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub audit_events: u64,
    pub received_pushes: u64,
    pub messages: u64,
    pub webhook_deliveries: u64,
    pub jobs: u64,
    pub throttle_rows: u64,
    pub sessions: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.audit_events
            + self.received_pushes
            + self.messages
            + self.webhook_deliveries
            + self.jobs
            + self.throttle_rows
            + self.sessions
    }
}

/// The cut-off times of one pass (Unix ms): rows older than these go.
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs {
    pub audit_before: i64,
    pub pushes_before: i64,
    pub messages_before: i64,
    pub jobs_before: i64,
    /// Throttle rows whose window began before this and hold no lock any more.
    pub throttle_before: i64,
    pub now: i64,
}

impl Store {
    /// Deletes up to `batch` rows of each kind past its cut-off.
    pub async fn prune(&self, cut: &Cutoffs, batch: i64) -> Result<Pruned, StoreError> {
        let run = |sql: &'static str, at: i64| async move {
            write!(self, |pool| {
                sqlx::query(sql)
                    .bind(at)
                    .bind(batch)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected())
            })
            .map_err(StoreError::from)
        };
        Ok(Pruned {
            audit_events: run(
                "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE occurred_at < $1 ORDER BY occurred_at LIMIT $2)",
                cut.audit_before,
            )
            .await?,
            received_pushes: self
                .prune_per_component("received_pushes", cut.pushes_before, batch)
                .await?,
            messages: self
                .prune_per_component("messages", cut.messages_before, batch)
                .await?,
            webhook_deliveries: run(
                "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE finished_at < $1 \
                 AND status IN ('delivered', 'dead') ORDER BY finished_at LIMIT $2)",
                cut.messages_before,
            )
            .await?,
            jobs: run(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at < $1 AND status IN ('done', 'dead') ORDER BY finished_at LIMIT $2)",
                cut.jobs_before,
            )
            .await?,
            throttle_rows: write!(self, |pool| {
                sqlx::query(
                    "DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle WHERE window_started_at < $1 \
                     AND (locked_until IS NULL OR locked_until <= $2) ORDER BY window_started_at LIMIT $3)",
                )
                .bind(cut.throttle_before)
                .bind(cut.now)
                .bind(batch)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
            })?,
            sessions: run(
                "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)",
                cut.now,
            )
            .await?,
        })
    }

    /// Received pushes and messages go component by component, along their
    /// `(component_id, received_at)` index: an index on the time alone would cost every push and
    /// every message, the busiest inserts there are, one more B-tree. `table` is one of those two.
    async fn prune_per_component(
        &self,
        table: &'static str,
        before: i64,
        batch: i64,
    ) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} \
             WHERE component_id = $1 AND received_at < $2 ORDER BY received_at LIMIT $3)"
        );
        let components: Vec<i64> = super::read!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM components")
                .fetch_all(pool)
                .await
        })?;
        let mut pruned = 0;
        for component in components {
            pruned += write!(self, |pool| {
                sqlx::query(&sql)
                    .bind(component)
                    .bind(before)
                    .bind(batch)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected())
            })?;
        }
        Ok(pruned)
    }

    /// Row counts of the tables that grow with traffic (tests and the abuse benchmark).
    pub async fn growth_counts(&self) -> Result<[(&'static str, i64); 7], StoreError> {
        let mut out = [
            ("audit_events", 0),
            ("received_pushes", 0),
            ("messages", 0),
            ("webhook_deliveries", 0),
            ("jobs", 0),
            ("login_throttle", 0),
            ("sessions", 0),
        ];
        for (table, count) in out.iter_mut() {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            *count = super::read!(self, |pool| sqlx::query_scalar(&sql).fetch_one(pool).await)?;
        }
        Ok(out)
    }
}
