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
    tokens: RwLock<Tokens>,
    cursor: AtomicI64,
}

/// Live tokens, and the versions at which cleared ones were cleared. The tombstones keep a
/// refresh that committed just before a revocation, but reaches the cache just after it, from
/// bringing the dead account's token back. Only revoked accounts have one, so they stay few.
#[derive(Default)]
struct Tokens {
    live: HashMap<CacheKey, CachedToken>,
    cleared: HashMap<CacheKey, i64>,
}

impl Tokens {
    /// The newest version this cache knows for `key`, live or cleared.
    fn version(&self, key: &CacheKey) -> Option<i64> {
        self.live
            .get(key)
            .map(|t| t.version)
            .or_else(|| self.cleared.get(key).copied())
    }

    fn insert(&mut self, key: CacheKey, token: CachedToken) {
        if self.version(&key).is_some_and(|v| v > token.version) {
            return;
        }
        self.cleared.remove(&key);
        self.live.insert(key, token);
    }

    fn clear(&mut self, key: CacheKey, version: i64) {
        if self.version(&key).is_some_and(|v| v > version) {
            return;
        }
        self.live.remove(&key);
        self.cleared.insert(key, version);
    }
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
        tokens
            .live
            .get(&key)
            .filter(|t| t.expires_at > now)
            .cloned()
    }

    pub fn len(&self) -> usize {
        self.tokens.read().map(|t| t.live.len()).unwrap_or(0)
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
            .live
            .remove(&key);
    }

    /// Records a token this instance just stored.
    pub fn put(&self, key: CacheKey, token: CachedToken) {
        self.tokens
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, token);
    }

    fn apply(&self, snapshot: CredentialSnapshot) {
        let key = CacheKey {
            component: snapshot.component_id,
            kind: snapshot.kind,
            subject: snapshot.subject,
        };
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
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
            _ => tokens.clear(key, snapshot.version),
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
        for (k, t) in tokens.live.iter() {
            let ttl = t.expires_at - now;
            out.entry(k.kind)
                .and_modify(|m| *m = (*m).min(ttl))
                .or_insert(ttl);
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CredentialId;

    fn key() -> CacheKey {
        CacheKey {
            component: ComponentId(1),
            kind: CredentialKind::AuthorizerAccessToken,
            subject: "wx0000000000000001".into(),
        }
    }

    fn token(value: &str, version: i64) -> CachedToken {
        CachedToken {
            value: SecretString::from(value.to_owned()),
            expires_at: i64::MAX,
            refresh_at: None,
            tenant: None,
            version,
        }
    }

    fn cleared(version: i64) -> CredentialSnapshot {
        let key = key();
        CredentialSnapshot {
            id: CredentialId(1),
            component_id: key.component,
            tenant_id: None,
            kind: key.kind,
            subject: key.subject,
            value: None,
            expires_at: None,
            refresh_at: None,
            updated_at: 0,
            version,
        }
    }

    fn served(cache: &TokenCache) -> Option<String> {
        let key = key();
        cache
            .get(key.component, key.kind, &key.subject, 0)
            .map(|t| t.value.expose_secret().to_owned())
    }

    #[test]
    fn a_refresh_that_lands_after_a_revocation_does_not_bring_the_token_back() {
        let cache = TokenCache::default();
        cache.put(key(), token("v1", 1));
        // The refresh committed version 2; the revocation then cleared the row at version 3 and
        // the sync applied it before the refresh's own put arrived.
        cache.apply(cleared(3));
        assert_eq!(served(&cache), None);
        cache.put(key(), token("v2", 2));
        assert_eq!(served(&cache), None, "the older refresh stays dead");
        // A later authorization writes a newer version: served again.
        cache.put(key(), token("v4", 4));
        assert_eq!(served(&cache).as_deref(), Some("v4"));
        // An old clearing re-read in the cursor overlap does not remove the newer token.
        cache.apply(cleared(3));
        assert_eq!(served(&cache).as_deref(), Some("v4"));
    }
}
