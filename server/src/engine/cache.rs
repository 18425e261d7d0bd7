//! The in-memory token cache: the tokens this instance serves, so a read seldom waits on the
//! database and never on WeChat.
//!
//! The database stays the truth. Component tokens are few and every instance needs them: they are
//! loaded at start and always kept. Authorizer tokens and JS-SDK tickets are many (a million
//! accounts would take about a gigabyte in every instance), and an instance needs only those its
//! callers ask for: they enter on first use (read through from the database) and the least
//! recently used leave once more than `capacity` are held. A restarted instance reads no
//! authorizer rows at all before serving.
//!
//! Held tokens follow other instances' changes by polling rows changed since a cursor
//! (`credentials.updated_at`, indexed): at once when PostgreSQL notifies a change, and every
//! second in any case. A change to a token not held is skipped, except a cleared one (a revoked
//! account), whose version is remembered: versions keep an older read, or a refresh that lands
//! late, from bringing back a token that was cleared or replaced.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

use secrecy::{ExposeSecret, SecretString};

use crate::domain::{ComponentId, CredentialKind, TenantId};
use crate::store::{CredentialSnapshot, Store, StoreError};

/// How many authorizer tokens and tickets an instance holds unless configured otherwise (about
/// 35 MB; `token_cache_capacity`).
pub const DEFAULT_CAPACITY: usize = 100_000;

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

pub struct TokenCache {
    tokens: RwLock<Tokens>,
    cursor: AtomicI64,
    capacity: usize,
    /// Counts reads and writes: the order of use that eviction goes by.
    uses: AtomicI64,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

/// A held token and when it was last used (a tick of `TokenCache::uses`; updated under the
/// read lock).
struct Held {
    token: CachedToken,
    used: AtomicI64,
}

/// Held tokens, and the versions at which cleared ones were cleared. The tombstones keep a
/// refresh that committed just before a revocation, but reaches the cache just after it, from
/// bringing the dead account's token back. Only revoked accounts have one, so they stay few.
#[derive(Default)]
struct Tokens {
    live: HashMap<CacheKey, Held>,
    cleared: HashMap<CacheKey, i64>,
    /// How many of `live` are authorizer-scoped (the ones `capacity` bounds).
    scoped: usize,
}

/// Component tokens are kept whatever the capacity.
fn always_kept(kind: CredentialKind) -> bool {
    kind == CredentialKind::ComponentAccessToken
}

impl Tokens {
    /// The newest version this cache knows for `key`, live or cleared.
    fn version(&self, key: &CacheKey) -> Option<i64> {
        self.live
            .get(key)
            .map(|t| t.token.version)
            .or_else(|| self.cleared.get(key).copied())
    }

    fn insert(&mut self, key: CacheKey, token: CachedToken, tick: i64) {
        if self.version(&key).is_some_and(|v| v > token.version) {
            return;
        }
        self.cleared.remove(&key);
        let scoped = !always_kept(key.kind);
        let held = Held {
            token,
            used: AtomicI64::new(tick),
        };
        if self.live.insert(key, held).is_none() && scoped {
            self.scoped += 1;
        }
    }

    fn clear(&mut self, key: CacheKey, version: i64) {
        if self.version(&key).is_some_and(|v| v > version) {
            return;
        }
        if self.live.remove(&key).is_some() && !always_kept(key.kind) {
            self.scoped -= 1;
        }
        self.cleared.insert(key, version);
    }

    /// Over capacity: drops the least recently used eighth of the authorizer-scoped tokens (one
    /// pass over the map now and then, rather than a list touched on every read).
    fn shrink(&mut self, capacity: usize) {
        if self.scoped <= capacity {
            return;
        }
        let target = capacity - capacity / 8;
        let mut uses: Vec<i64> = self
            .live
            .iter()
            .filter(|(k, _)| !always_kept(k.kind))
            .map(|(_, h)| h.used.load(Ordering::Relaxed))
            .collect();
        let drop = uses.len().saturating_sub(target);
        if drop == 0 {
            return;
        }
        let (_, cutoff, _) = uses.select_nth_unstable(drop - 1);
        let cutoff = *cutoff;
        let mut dropped = 0;
        self.live.retain(|k, h| {
            if dropped < drop && !always_kept(k.kind) && h.used.load(Ordering::Relaxed) <= cutoff {
                dropped += 1;
                false
            } else {
                true
            }
        });
        self.scoped -= dropped;
    }
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache holding at most `capacity` authorizer tokens and tickets (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            tokens: RwLock::new(Tokens::default()),
            cursor: AtomicI64::new(0),
            capacity: capacity.max(1),
            uses: AtomicI64::new(0),
        }
    }

    fn tick(&self) -> i64 {
        self.uses.fetch_add(1, Ordering::Relaxed)
    }

    /// A held token with time left at `now`, if there is one (no database read).
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
        let held = tokens.live.get(&key)?;
        held.used.store(self.tick(), Ordering::Relaxed);
        Some(held.token.clone()).filter(|t| t.expires_at > now)
    }

    /// The token for `key`: held, or read from the database and held from now on. `None` when
    /// the database has none (revoked, never issued) or it has no time left at `now`.
    pub async fn get_or_load(
        &self,
        store: &Store,
        component: ComponentId,
        kind: CredentialKind,
        subject: &str,
        now: i64,
    ) -> Result<Option<CachedToken>, StoreError> {
        // A held token past `now` is read again: another instance may have refreshed it a moment
        // ago and the sync not yet brought it.
        if let Some(held) = self.get(component, kind, subject, now) {
            return Ok(Some(held));
        }
        let Some(snapshot) = store.credential_snapshot(component, kind, subject).await? else {
            return Ok(None);
        };
        self.apply(snapshot, true);
        Ok(self.get(component, kind, subject, now))
    }

    /// Tokens held (component tokens included).
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
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        if tokens.live.remove(&key).is_some() && !always_kept(kind) {
            tokens.scoped -= 1;
        }
    }

    /// Records a token this instance just stored: always a component token; an authorizer's only
    /// when it is held already (a refresh does not make a token wanted).
    pub fn put(&self, key: CacheKey, token: CachedToken) {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        if always_kept(key.kind) || tokens.live.contains_key(&key) {
            tokens.insert(key, token, self.tick());
        }
    }

    /// Applies a row read from the database. `wanted`: it was asked for (a read-through), so it is
    /// held from now on; otherwise only a held token or a component token is updated. A cleared
    /// row is remembered either way.
    fn apply(&self, snapshot: CredentialSnapshot, wanted: bool) {
        let key = CacheKey {
            component: snapshot.component_id,
            kind: snapshot.kind,
            subject: snapshot.subject,
        };
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        match (snapshot.value, snapshot.expires_at) {
            (Some(value), Some(expires_at)) => {
                if !(wanted || always_kept(key.kind) || tokens.live.contains_key(&key)) {
                    return;
                }
                tokens.insert(
                    key,
                    CachedToken {
                        value,
                        expires_at,
                        refresh_at: snapshot.refresh_at,
                        tenant: snapshot.tenant_id,
                        version: snapshot.version,
                    },
                    self.tick(),
                );
                tokens.shrink(self.capacity);
            }
            _ => tokens.clear(key, snapshot.version),
        }
    }

    /// First load of a starting instance: the component tokens, and the cursor set to the newest
    /// change (authorizer rows are read when asked for, not now). Returns how many were loaded.
    pub async fn load(&self, store: &Store) -> Result<usize, StoreError> {
        let newest = store.credentials_newest_update().await?;
        let rows = store
            .credentials_of_kind(CredentialKind::ComponentAccessToken)
            .await?;
        let n = rows.len();
        for row in rows {
            self.apply(row, true);
        }
        self.cursor.fetch_max(newest, Ordering::Relaxed);
        Ok(n)
    }

    /// Applies every change since the cursor (re-reading a short overlap) to what is held;
    /// returns how many rows were read.
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
                self.apply(row, false);
            }
            total += n;
            if (n as i64) < BATCH {
                break;
            }
        }
        self.cursor.fetch_max(position.0, Ordering::Relaxed);
        Ok(total)
    }

    /// Time to expiry of the soonest-expiring held token of each kind, in ms (a metric: for
    /// authorizer kinds, of the tokens this instance serves).
    pub fn min_ttl_by_kind(&self, now: i64) -> Vec<(CredentialKind, i64)> {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        let mut out: HashMap<CredentialKind, i64> = HashMap::new();
        for (k, h) in tokens.live.iter() {
            let ttl = h.token.expires_at - now;
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

    fn key(subject: &str) -> CacheKey {
        CacheKey {
            component: ComponentId(1),
            kind: CredentialKind::AuthorizerAccessToken,
            subject: subject.into(),
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

    fn row(
        kind: CredentialKind,
        subject: &str,
        value: Option<&str>,
        version: i64,
    ) -> CredentialSnapshot {
        CredentialSnapshot {
            id: CredentialId(1),
            component_id: ComponentId(1),
            tenant_id: None,
            kind,
            subject: subject.into(),
            value: value.map(|v| SecretString::from(v.to_owned())),
            expires_at: value.map(|_| i64::MAX),
            refresh_at: None,
            updated_at: 0,
            version,
        }
    }

    fn account(subject: &str, value: Option<&str>, version: i64) -> CredentialSnapshot {
        row(
            CredentialKind::AuthorizerAccessToken,
            subject,
            value,
            version,
        )
    }

    fn served(cache: &TokenCache, subject: &str) -> Option<String> {
        let key = key(subject);
        cache
            .get(key.component, key.kind, &key.subject, 0)
            .map(|t| t.value.expose_secret().to_owned())
    }

    const A: &str = "wx0000000000000001";

    #[test]
    fn a_refresh_that_lands_after_a_revocation_does_not_bring_the_token_back() {
        let cache = TokenCache::new(10);
        cache.apply(account(A, Some("v1"), 1), true);
        // The refresh committed version 2; the revocation then cleared the row at version 3 and
        // the sync applied it before the refresh's own put arrived.
        cache.apply(account(A, None, 3), false);
        assert_eq!(served(&cache, A), None);
        cache.put(key(A), token("v2", 2));
        assert_eq!(served(&cache, A), None, "the older refresh stays dead");
        // A later authorization, read through when asked for: served again.
        cache.apply(account(A, Some("v4"), 4), true);
        assert_eq!(served(&cache, A).as_deref(), Some("v4"));
        // An old clearing re-read in the cursor overlap does not remove the newer token.
        cache.apply(account(A, None, 3), false);
        assert_eq!(served(&cache, A).as_deref(), Some("v4"));
    }

    #[test]
    fn only_asked_for_tokens_are_held_and_changes_follow_them() {
        let cache = TokenCache::new(10);
        // Another instance's refresh of an account nobody here asked for: not held.
        cache.apply(account(A, Some("v1"), 1), false);
        cache.put(key(A), token("v1", 1));
        assert_eq!(served(&cache, A), None);
        assert_eq!(cache.len(), 0);
        // Component tokens are held however they arrive.
        cache.apply(
            row(CredentialKind::ComponentAccessToken, "", Some("c1"), 1),
            false,
        );
        assert_eq!(cache.len(), 1);
        // Once asked for, later changes follow it; an older one does not overwrite.
        cache.apply(account(A, Some("v2"), 2), true);
        cache.apply(account(A, Some("v3"), 3), false);
        cache.apply(account(A, Some("v2"), 2), false);
        assert_eq!(served(&cache, A).as_deref(), Some("v3"));
        cache.put(key(A), token("v4", 4));
        assert_eq!(served(&cache, A).as_deref(), Some("v4"));
    }

    #[test]
    fn the_least_recently_used_leave_at_capacity_and_component_tokens_stay() {
        let cache = TokenCache::new(16);
        cache.apply(
            row(CredentialKind::ComponentAccessToken, "", Some("c1"), 1),
            true,
        );
        let subject = |i: usize| format!("wx{i:016}");
        for i in 0..16 {
            cache.apply(account(&subject(i), Some("v"), 1), true);
        }
        // Account 0 is a busy one: read between every new arrival.
        for i in 16..40 {
            assert!(
                served(&cache, &subject(0)).is_some(),
                "the busy account left at {i}"
            );
            cache.apply(account(&subject(i), Some("v"), 1), true);
        }
        let held = cache.len() - 1;
        assert!(held <= 16, "{held} held over a capacity of 16");
        assert!(
            held >= 14,
            "eviction takes an eighth, not everything: {held}"
        );
        assert!(
            served(&cache, &subject(0)).is_some(),
            "the recently read stays"
        );
        assert!(
            served(&cache, &subject(1)).is_none(),
            "an old, unread one left"
        );
        assert!(served(&cache, &subject(39)).is_some(), "the newest stays");
        let component = cache.get(ComponentId(1), CredentialKind::ComponentAccessToken, "", 0);
        assert!(component.is_some(), "component tokens are not evicted");
    }
}
