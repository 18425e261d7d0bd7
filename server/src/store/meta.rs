//! Small facts about the database itself. The key canary: a value sealed under the master key the
//! first time a key is used with this database, so a later start with another key is refused before
//! it changes anything.

use super::{read, write, Store, StoreError};
use crate::secrets::{Keyring, SecretError};

const CANARY_KEY: &str = "master_key_canary";
const CANARY_PURPOSE: &str = "meta:master_key_canary";
const CANARY_TEXT: &[u8] = b"wxhub master key canary";

impl Store {
    pub async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(read!(self, |pool| {
            sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
        })?)
    }

    pub async fn meta_set(&self, key: &str, value: &str, now: i64) -> Result<(), StoreError> {
        write!(self, |pool| {
            sqlx::query(
                "INSERT INTO meta (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Checks the keyring against the canary of an existing database. Reads only; call it before
    /// migrating so a wrong key changes nothing. `Ok(false)` means there is no canary yet.
    pub async fn verify_key_canary(&self, keyring: &Keyring) -> Result<bool, StoreError> {
        if !self.table_exists("meta").await? {
            return Ok(false);
        }
        let Some(sealed) = self.meta_get(CANARY_KEY).await? else {
            return Ok(false);
        };
        match keyring.open(CANARY_PURPOSE, &sealed) {
            Ok(text) if text == CANARY_TEXT => Ok(true),
            Ok(_) => Err(StoreError::Corrupt("the master key canary holds an unexpected value".into())),
            Err(SecretError::UnknownKey(id)) | Err(SecretError::Rejected(id)) => Err(StoreError::KeyMismatch(format!(
                "WXHUB_MASTER_KEY is not the key this database was set up with: its secrets are sealed with key id {id}, \
                 the configured key has id {}. Set the right key (or list the old one in WXHUB_PREVIOUS_MASTER_KEYS to rotate).",
                keyring.current_key_id()
            ))),
            Err(SecretError::Malformed) => Err(StoreError::Corrupt("the master key canary is malformed".into())),
        }
    }

    /// Writes the canary if there is none (after migrations), then checks it: two instances
    /// starting together with different keys cannot both win.
    pub async fn ensure_key_canary(&self, keyring: &Keyring, now: i64) -> Result<(), StoreError> {
        let sealed = keyring.seal(CANARY_PURPOSE, CANARY_TEXT);
        write!(self, |pool| {
            sqlx::query("INSERT INTO meta (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING")
                .bind(CANARY_KEY)
                .bind(&sealed)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        self.verify_key_canary(keyring).await.map(|_| ())
    }
}
