//! The in-memory token cache: every live token (component tokens, authorizer tokens, JS-SDK
//! tickets), so reads never wait on the database or on WeChat.
//!
//! The database stays the truth. The cache loads everything at start, is updated by this
//! instance's refreshes directly, and follows other instances' changes by polling rows changed
//! since its cursor (`credentials.updated_at`, indexed): at once when PostgreSQL notifies a change,
//! and every second in any case. A row whose value was cleared
//! (a revoked account) is dropped. Versions keep an older read from overwriting a newer write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

use secrecy::{ExposeSecret, SecretString};

use crate::domain::{ComponentId, CredentialKind, TenantId};
use crate::store::{CredentialSnapshot, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub component: ComponentId,
    pub kind: CredentialKind,
    pub subject: String,
}

#[derive(Debug, Clone)]
pub struct CachedToken {
    pub value: SecretString,
    pub expires_at: i64,
    pub refresh_at: Option<i64>,
    pub tenant: Option<TenantId>,
    pub version: i64,
}

impl CachedToken {
    pub fn fingerprint(&self) -> String {
        crate::secrets::fingerprint(self.value.expose_secret())
    }
}

/// Re-read this much before the cursor: two instances may commit rows with the same timestamp
/// out of order.
const CURSOR_OVERLAP_MS: i64 = 2_000;
const BATCH: i64 = 5_000;

#[derive(Default)]
pub struct TokenCache {
    tokens: RwLock<HashMap<CacheKey, CachedToken>>,
    cursor: AtomicI64,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A token with time left at `now`, if there is one.
    pub fn get(
        &self,
        component: ComponentId,
        kind: CredentialKind,
        subject: &str,
        now: i64,
    ) -> Option<CachedToken> {
        let key = CacheKey {
            component,
            kind,
            subject: subject.to_owned(),
        };
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        tokens.get(&key).filter(|t| t.expires_at > now).cloned()
    }

    pub fn len(&self) -> usize {
        self.tokens.read().map(|t| t.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets a token at once (a revoked account), before the next sync would.
    pub fn remove(&self, component: ComponentId, kind: CredentialKind, subject: &str) {
        let key = CacheKey {
            component,
            kind,
            subject: subject.to_owned(),
        };
        self.tokens
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
    }

    /// Records a token this instance just stored.
    pub fn put(&self, key: CacheKey, token: CachedToken) {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        match tokens.get(&key) {
            Some(existing) if existing.version > token.version => {}
            _ => {
                tokens.insert(key, token);
            }
        }
    }

    fn apply(&self, snapshot: CredentialSnapshot) {
        let key = CacheKey {
            component: snapshot.component_id,
            kind: snapshot.kind,
            subject: snapshot.subject,
        };
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        if tokens
            .get(&key)
            .is_some_and(|t| t.version > snapshot.version)
        {
            return;
        }
        match (snapshot.value, snapshot.expires_at) {
            (Some(value), Some(expires_at)) => {
                tokens.insert(
                    key,
                    CachedToken {
                        value,
                        expires_at,
                        refresh_at: snapshot.refresh_at,
                        tenant: snapshot.tenant_id,
                        version: snapshot.version,
                    },
                );
            }
            _ => {
                tokens.remove(&key);
            }
        }
    }

    /// Applies every change since the cursor (re-reading a short overlap); returns how many rows
    /// were read.
    pub async fn sync(&self, store: &Store) -> Result<usize, StoreError> {
        let mut total = 0;
        let mut position = (
            (self.cursor.load(Ordering::Relaxed) - CURSOR_OVERLAP_MS).max(0),
            0,
        );
        loop {
            let rows = store
                .credentials_changed_after(position.0, position.1, BATCH)
                .await?;
            let n = rows.len();
            if let Some(last) = rows.last() {
                position = (last.updated_at, last.id.0);
            }
            for row in rows {
                self.apply(row);
            }
            total += n;
            if (n as i64) < BATCH {
                break;
            }
        }
        self.cursor.fetch_max(position.0, Ordering::Relaxed);
        Ok(total)
    }

    /// Time to expiry of the soonest-expiring token of each kind, in ms (a metric).
    pub fn min_ttl_by_kind(&self, now: i64) -> Vec<(CredentialKind, i64)> {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let mut out: HashMap<CredentialKind, i64> = HashMap::new();
        for (k, t) in tokens.iter() {
            let ttl = t.expires_at - now;
            out.entry(k.kind)
                .and_modify(|m| *m = (*m).min(ttl))
                .or_insert(ttl);
        }
        out.into_iter().collect()
    }
}
