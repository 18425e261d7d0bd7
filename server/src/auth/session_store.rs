//! tower-sessions' `SessionStore` over our own storage, so sessions live in the same database as
//! everything else: they survive restarts and are shared by every instance. The record is stored
//! under SHA-256 of its id; the signed-in user's id is copied into a column so that disabling a
//! user can end their sessions.
//!
//! The layer saves a session only when it changed (no `always_save`): a random cookie writes
//! nothing, and `save` never inserts, so a deleted session stays deleted. Sign-in inserts
//! (`create`); `AccountService` marks the session changed every few minutes of activity so that
//! its idle expiry slides, and ends it at its absolute lifetime.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Error as SessionError, Result as SessionResult};
use tower_sessions::SessionStore;

use super::SESSION_USER_ID;
use crate::secrets::fingerprint;
use crate::store::Store;

#[derive(Clone, Debug)]
pub struct SqlSessionStore {
    store: Store,
}

impl SqlSessionStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn key(id: &Id) -> String {
    fingerprint(&id.to_string())
}

fn expiry_ms(record: &Record) -> i64 {
    (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64
}

fn encode(record: &Record) -> SessionResult<(Option<i64>, String)> {
    let user_id = record.data.get(SESSION_USER_ID).and_then(|v| v.as_i64());
    let data =
        serde_json::to_string(&record.data).map_err(|e| SessionError::Encode(e.to_string()))?;
    Ok((user_id, data))
}

fn backend(e: crate::store::StoreError) -> SessionError {
    SessionError::Backend(e.to_string())
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn create(&self, record: &mut Record) -> SessionResult<()> {
        let (user_id, data) = encode(record)?;
        // A collision of 128-bit random ids is next to impossible; still, never overwrite.
        while !self
            .store
            .session_insert(&key(&record.id), user_id, &data, expiry_ms(record))
            .await
            .map_err(backend)?
        {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> SessionResult<()> {
        let (user_id, data) = encode(record)?;
        // Only an existing record is updated: a session deleted meanwhile (signed out in another
        // tab, the user disabled) is not brought back by a request that loaded it earlier.
        let updated = self
            .store
            .session_update(&key(&record.id), user_id, &data, expiry_ms(record))
            .await
            .map_err(backend)?;
        if !updated {
            tracing::debug!("a session deleted meanwhile was not saved again");
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> SessionResult<Option<Record>> {
        let Some(row) = self
            .store
            .session_load(&key(id), crate::now_ms())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let decoded = serde_json::from_str(&row.data)
            .map_err(|e| e.to_string())
            .and_then(|data| {
                time::OffsetDateTime::from_unix_timestamp_nanos(
                    i128::from(row.expires_at) * 1_000_000,
                )
                .map(|expiry_date| (data, expiry_date))
                .map_err(|e| e.to_string())
            });
        match decoded {
            Ok((data, expiry_date)) => Ok(Some(Record {
                id: *id,
                data,
                expiry_date,
            })),
            // An unreadable record would otherwise fail every request that carries its cookie;
            // it is dropped and the visitor is simply signed out.
            Err(e) => {
                tracing::warn!(error = %e, "unreadable session record dropped");
                self.store.session_delete(&key(id)).await.map_err(backend)?;
                Ok(None)
            }
        }
    }

    async fn delete(&self, id: &Id) -> SessionResult<()> {
        self.store.session_delete(&key(id)).await.map_err(backend)
    }
}
