//! Session records for tower-sessions (see `auth::session_store`). Keyed by a hash of the session
//! id so a copy of the database does not hand out live cookies. A record is inserted once (at
//! sign-in) and afterwards only updated: nothing re-creates a deleted one.

use super::{read, write, Store, StoreError};

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub data: String,
    pub expires_at: i64,
}

impl Store {
    /// Inserts a new record; false if the id is taken (the caller picks another id).
    pub async fn session_insert(
        &self,
        id_hash: &str,
        user_id: Option<i64>,
        data: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let n = write!(self, |pool| {
            sqlx::query("INSERT INTO sessions (id_hash, user_id, data, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id_hash) DO NOTHING")
                .bind(id_hash)
                .bind(user_id)
                .bind(data)
                .bind(expires_at)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(n == 1)
    }

    /// Updates an existing record; false (and nothing written) when it is gone, because a session
    /// that was deleted (sign-out, a disabled user) must stay deleted even if a request that
    /// loaded it before is still finishing.
    pub async fn session_update(
        &self,
        id_hash: &str,
        user_id: Option<i64>,
        data: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let n = write!(self, |pool| {
            sqlx::query(
                "UPDATE sessions SET user_id = $2, data = $3, expires_at = $4 WHERE id_hash = $1",
            )
            .bind(id_hash)
            .bind(user_id)
            .bind(data)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(n == 1)
    }

    /// The record if it exists and has not expired at `now`.
    pub async fn session_load(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRow>, StoreError> {
        Ok(read!(self, |pool| {
            sqlx::query_as(
                "SELECT data, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2",
            )
            .bind(id_hash)
            .bind(now)
            .fetch_optional(pool)
            .await
        })?)
    }

    pub async fn session_delete(&self, id_hash: &str) -> Result<(), StoreError> {
        write!(self, |pool| sqlx::query(
            "DELETE FROM sessions WHERE id_hash = $1"
        )
        .bind(id_hash)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn sessions_delete_expired(&self, now: i64) -> Result<u64, StoreError> {
        let done = write!(self, |pool| sqlx::query(
            "DELETE FROM sessions WHERE expires_at <= $1"
        )
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    pub async fn sessions_count_for_user(&self, user_id: i64) -> Result<i64, StoreError> {
        Ok(read!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(pool)
                .await
        })?)
    }
}
