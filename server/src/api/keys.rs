//! Who is calling: API keys checked from memory, per-key rate limits, and last-used times.
//!
//! The access-token endpoint is called on every request of a tenant's own systems, so a key must
//! not cost a database read each time. A verified key is kept for [`KEY_TTL`]; a revocation made on
//! this instance drops it at once ([`ApiKeys::forget`]), one made on another instance takes effect
//! within the TTL. Unknown keys are not remembered (a stream of random keys cannot fill memory);
//! they cost one indexed read each and are answered 401.
//!
//! A key of a suspended tenant is refused like a revoked one. A key's scopes come with it, so a
//! change of scopes takes effect within the same TTL (at once on the instance that made it).
//!
//! Last-used times are kept in memory and written in batches by [`ApiKeys::flush_loop`]: a write
//! per request would make the busiest endpoint the busiest writer.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use app::model::ApiScope;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use crate::domain::{ApiKeyId, TenantId};
use crate::store::Store;
use crate::unpoison;

/// How long a verified key is trusted without asking the database again.
pub const KEY_TTL: Duration = Duration::from_secs(5);
/// How often last-used times are written.
const FLUSH_EVERY: Duration = Duration::from_secs(30);
/// Keys kept at most; beyond this the oldest checks are dropped first (they are re-read on use).
const MAX_CACHED_KEYS: usize = 100_000;

/// An authenticated caller of the tenant API.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key_id: ApiKeyId,
    pub tenant: TenantId,
    /// The key's name, for audit events.
    pub key_name: String,
    /// What the key may do.
    pub scopes: Vec<ApiScope>,
}

impl ApiCaller {
    /// Refuses (403 `insufficient_scope`) a call the key has no scope for.
    pub fn require(&self, scope: ApiScope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden { scope })
        }
    }
}

struct CachedKey {
    caller: ApiCaller,
    checked_at: Instant,
    last_used: AtomicI64,
    flushed: AtomicI64,
}

/// Per-key request budget.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

pub struct ApiKeys {
    store: Store,
    cache: RwLock<HashMap<String, Arc<CachedKey>>>,
    /// Last uses of keys dropped from the cache before their time was written.
    unflushed: std::sync::Mutex<HashMap<ApiKeyId, i64>>,
    limiter: DefaultKeyedRateLimiter<i64>,
    per_second: u32,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("per_second", &self.per_second)
            .finish_non_exhaustive()
    }
}

impl ApiKeys {
    pub fn new(store: Store, limit: RateLimit) -> Arc<Self> {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        Arc::new(Self {
            store,
            cache: RwLock::new(HashMap::new()),
            unflushed: std::sync::Mutex::new(HashMap::new()),
            limiter: RateLimiter::keyed(quota),
            per_second: limit.per_second.get(),
        })
    }

    /// The caller behind an `Authorization` header value, within its rate limit.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<ApiCaller, ApiError> {
        let presented = header
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .ok_or(ApiError::Unauthorized)?;
        let hash =
            crate::auth::api_keys::hash_presented(presented).ok_or(ApiError::Unauthorized)?;
        let now = crate::now_ms();
        let cached = unpoison(self.cache.read())
            .get(&hash)
            .filter(|k| k.checked_at.elapsed() < KEY_TTL)
            .cloned();
        let key = match cached {
            Some(key) => key,
            None => self.load(hash).await?,
        };
        key.last_used.fetch_max(now, Ordering::Relaxed);
        if let Err(not_until) = self.limiter.check_key(&key.caller.key_id.0) {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            return Err(ApiError::RateLimited {
                retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
            });
        }
        Ok(key.caller.clone())
    }

    async fn load(&self, hash: String) -> Result<Arc<CachedKey>, ApiError> {
        let key = self
            .store
            .api_key_by_hash(&hash)
            .await
            .map_err(|e| ApiError::internal("reading an API key", e))?;
        let Some(key) = key.filter(|k| k.revoked_at.is_none()) else {
            unpoison(self.cache.write()).remove(&hash);
            return Err(ApiError::Unauthorized);
        };
        // A suspended tenant's keys stop working with the tenant.
        let tenant = self
            .store
            .tenant(key.tenant_id)
            .await
            .map_err(|e| ApiError::internal("reading a tenant", e))?;
        if !tenant.is_some_and(|t| t.status == crate::domain::TenantStatus::Active) {
            unpoison(self.cache.write()).remove(&hash);
            return Err(ApiError::Unauthorized);
        }
        let mut cache = unpoison(self.cache.write());
        // Keep what is known of the last use across re-checks.
        let previous = cache.get(&hash).map(|k| {
            (
                k.last_used.load(Ordering::Relaxed),
                k.flushed.load(Ordering::Relaxed),
            )
        });
        let (last_used, flushed) =
            previous.unwrap_or((key.last_used_at.unwrap_or(0), key.last_used_at.unwrap_or(0)));
        if cache.len() >= MAX_CACHED_KEYS {
            cache.retain(|_, k| k.checked_at.elapsed() < KEY_TTL);
        }
        let entry = Arc::new(CachedKey {
            caller: ApiCaller {
                key_id: key.id,
                tenant: key.tenant_id,
                key_name: key.name,
                scopes: key.scopes,
            },
            checked_at: Instant::now(),
            last_used: AtomicI64::new(last_used),
            flushed: AtomicI64::new(flushed),
        });
        cache.insert(hash, entry.clone());
        Ok(entry)
    }

    /// Forgets a key at once (it was revoked on this instance).
    pub fn forget(&self, id: ApiKeyId) {
        self.forget_where(|k| k.caller.key_id == id);
    }

    /// Forgets every key of a tenant at once (it was suspended on this instance).
    pub fn forget_tenant(&self, tenant: TenantId) {
        self.forget_where(|k| k.caller.tenant == tenant);
    }

    /// Drops matching keys, keeping their last use for the next flush.
    fn forget_where(&self, matches: impl Fn(&CachedKey) -> bool) {
        let mut unflushed = unpoison(self.unflushed.lock());
        unpoison(self.cache.write()).retain(|_, k| {
            if !matches(k) {
                return true;
            }
            let used = k.last_used.load(Ordering::Relaxed);
            if used > k.flushed.load(Ordering::Relaxed) {
                let at = unflushed.entry(k.caller.key_id).or_insert(used);
                *at = (*at).max(used);
            }
            false
        });
    }

    /// Writes the last-used times that changed since the previous flush.
    pub async fn flush_last_used(&self) -> Result<usize, crate::store::StoreError> {
        let pending: Vec<(Arc<CachedKey>, i64)> = unpoison(self.cache.read())
            .values()
            .filter_map(|k| {
                let used = k.last_used.load(Ordering::Relaxed);
                (used > k.flushed.load(Ordering::Relaxed)).then(|| (k.clone(), used))
            })
            .collect();
        let dropped: Vec<(ApiKeyId, i64)> = unpoison(self.unflushed.lock()).drain().collect();
        let batch: Vec<(ApiKeyId, i64)> = pending
            .iter()
            .map(|(k, at)| (k.caller.key_id, *at))
            .chain(dropped.iter().copied())
            .collect();
        if let Err(e) = self.store.touch_api_keys(&batch).await {
            // Keep the dropped keys' times for the next attempt.
            let mut unflushed = unpoison(self.unflushed.lock());
            for (id, at) in dropped {
                let slot = unflushed.entry(id).or_insert(at);
                *slot = (*slot).max(at);
            }
            return Err(e);
        }
        for (k, at) in &pending {
            k.flushed.fetch_max(*at, Ordering::Relaxed);
        }
        Ok(batch.len())
    }

    /// Flushes last-used times every [`FLUSH_EVERY`], and once more at shutdown.
    pub async fn flush_loop(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let stopping = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = tokio::time::sleep(FLUSH_EVERY) => false,
            };
            if let Err(e) = self.flush_last_used().await {
                tracing::warn!(error = %crate::report::Chain(&e), "could not record API key use");
            }
            if stopping {
                return;
            }
        }
    }
}

impl crate::auth::api_keys::KeyRevocations for ApiKeys {
    fn forget(&self, id: ApiKeyId) {
        ApiKeys::forget(self, id);
    }

    fn forget_tenant(&self, tenant: TenantId) {
        ApiKeys::forget_tenant(self, tenant);
    }
}
